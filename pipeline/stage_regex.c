/* stage_regex.c — `regex: {expression, source}`: every named group of the
 * first match (Go RE2 semantics, unanchored) becomes an extracted value; a
 * group that did not participate gives "" (Go's FindStringSubmatch). No
 * match or a missing source leaves the entry unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/regex.h"
#include "stage.h"

struct regex_stage {
	struct lf_regex *re;
	char *source;
	struct lf_regex_match m;
	struct lf_buf tmp; /* copy of the source value (extracted may change) */
	bool *live;        /* per group (1-based): may a later stage read it? */
	bool any_live;
	struct lf_pipe_shared *sh;
};

static const char *const regex_keys[] = {"expression", "source", NULL};

static void regex_free(void *state)
{
	struct regex_stage *s = state;
	lf_regex_free(s->re);
	free(s->source);
	lf_regex_match_free(&s->m);
	lf_buf_free(&s->tmp);
	free(s->live);
	free(s);
}

int lf_stage_source(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, char **out,
                    struct lf_error *err)
{
	*out = NULL;
	if (lf_ymap_str(cfg, ctx->path, "source", out, err) < 0)
		return -1;
	if (*out && !**out) {
		free(*out);
		*out = NULL;
		return lf_y_err(err, lf_ymap_get(cfg, "source"), ctx->path, "empty source");
	}
	return 0;
}

static int regex_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                        struct lf_error *err)
{
	if (!cfg || cfg->kind == LF_Y_NULL)
		return lf_y_err(err, cfg, ctx->path, "empty regex stage configuration");
	if (lf_ymap_check(cfg, ctx->path, regex_keys, err) < 0)
		return -1;
	struct regex_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->sh = ctx->sh;
	const struct lf_ynode *ex = lf_ymap_get(cfg, "expression");
	if (!ex || ex->kind != LF_Y_SCALAR || !ex->str_len) {
		regex_free(s);
		return lf_y_err(err, ex ? ex : cfg, ctx->path, "expression is required");
	}
	if (lf_stage_compile_regex(cfg, ctx, "expression", 0, &s->re, err) < 0 ||
	    lf_stage_source(cfg, ctx, &s->source, err) < 0) {
		regex_free(s);
		return -1;
	}
	int ng = lf_regex_ngroups(s->re);
	s->live = malloc(((size_t)ng + 1) * sizeof *s->live);
	if (!s->live) {
		regex_free(s);
		return lf_err(err, "out of memory");
	}
	for (int i = 0; i <= ng; i++)
		s->live[i] = true;
	s->any_live = true;
	*state = s;
	return 0;
}

static enum lf_pipe_result regex_process(void *state, struct lf_entry *e,
                                         const struct lf_chain *rest)
{
	(void)rest;
	struct regex_stage *s = state;
	const char *subj;
	size_t n;
	if (!s->any_live)
		return LF_PIPE_EMITTED; /* nothing it sets is ever read */
	if (!lf_stage_input(s->sh, "regex", s->source, e, &s->tmp, &subj, &n))
		return LF_PIPE_EMITTED;
	if (lf_regex_exec(s->re, subj, n, 0, &s->m, NULL) != 1)
		return LF_PIPE_EMITTED;
	int ng = lf_regex_ngroups(s->re);
	for (int i = 1; i <= ng; i++) {
		const char *name = lf_regex_group_name(s->re, i);
		if (!name || !s->live[i])
			continue;
		const char *p;
		size_t l;
		if (!lf_regex_group(&s->m, i, &p, &l)) {
			p = "";
			l = 0;
		}
		lf_labels_setn(&e->extracted, name, strlen(name), p, l);
	}
	return LF_PIPE_EMITTED;
}

static void regex_reads(void *state, struct lf_keyset *ks)
{
	struct regex_stage *s = state;
	lf_keyset_add(ks, s->source);
}

static void regex_set_live(void *state, const struct lf_keyset *live)
{
	struct regex_stage *s = state;
	s->any_live = false;
	for (int i = 1; i <= lf_regex_ngroups(s->re); i++) {
		const char *name = lf_regex_group_name(s->re, i);
		s->live[i] = name && lf_keyset_has(live, name);
		s->any_live |= s->live[i];
	}
}

const struct lf_stage_ops lf_stage_regex = {
        .kind = "regex",
        .create = regex_create,
        .process = regex_process,
        .free = regex_free,
        .reads = regex_reads,
        .set_live = regex_set_live,
};
