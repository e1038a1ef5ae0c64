/* stage_replace.c — `replace: {expression, source, replace}`: replaces the
 * capture groups of every match of expression in the line (or an extracted
 * value) with the rendered `replace` template, where .Value is the
 * captured text and the extracted values are available by name. Named
 * groups also set extracted values (to their replacement), as Promtail
 * does. This reproduces Promtail's algorithm (including how overlapping
 * groups are spliced). The template is parsed at load time (Promtail
 * parses it per line and silently skips lines when it is invalid). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/regex.h"
#include "../common/template.h"
#include "stage.h"

struct capture {
	size_t s, e;      /* captured range in the input */
	size_t out, olen; /* its replacement in s->reps */
};

struct replace_stage {
	struct lf_regex *re;
	char *source;
	struct lf_template *t;
	struct lf_regex_match m;
	struct lf_buf in, result, reps, one;
	struct capture *caps;
	size_t ncaps, capcap;
	size_t *first; /* ovector of the first match (2 per group) */
	struct lf_pipe_shared *sh;
};

struct rctx {
	const struct lf_entry *e;
	const char *value;
	size_t value_len;
};

static const char *const replace_keys[] = {"expression", "source", "replace", NULL};

static bool lookup(void *ctx, const char *name, size_t name_len, const char **val, size_t *len)
{
	struct rctx *c = ctx;
	if (name_len == 5 && memcmp(name, "Value", 5) == 0) {
		*val = c->value;
		*len = c->value_len;
		return true;
	}
	const char *v = lf_labels_getn(&c->e->extracted, name, name_len);
	if (!v)
		return false;
	*val = v;
	*len = strlen(v);
	return true;
}

static void replace_free(void *state)
{
	struct replace_stage *s = state;
	lf_regex_free(s->re);
	free(s->source);
	lf_template_free(s->t);
	lf_regex_match_free(&s->m);
	lf_buf_free(&s->in);
	lf_buf_free(&s->result);
	lf_buf_free(&s->reps);
	lf_buf_free(&s->one);
	free(s->caps);
	free(s->first);
	free(s);
}

static int replace_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                          struct lf_error *err)
{
	if (!cfg || cfg->kind == LF_Y_NULL)
		return lf_y_err(err, cfg, ctx->path, "empty replace stage configuration");
	if (lf_ymap_check(cfg, ctx->path, replace_keys, err) < 0)
		return -1;
	const struct lf_ynode *ex = lf_ymap_get(cfg, "expression");
	if (!ex || ex->kind != LF_Y_SCALAR || !ex->str_len)
		return lf_y_err(err, ex ? ex : cfg, ctx->path, "expression is required");
	struct replace_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->sh = ctx->sh;
	char *text = NULL;
	if (lf_stage_compile_regex(cfg, ctx, "expression", 0, &s->re, err) < 0 ||
	    lf_stage_source(cfg, ctx, &s->source, err) < 0 ||
	    lf_ymap_str(cfg, ctx->path, "replace", &text, err) < 0)
		goto fail;
	struct lf_error terr;
	if (lf_template_new("pipeline_template", text ? text : "", 0, &s->t, &terr) < 0) {
		const struct lf_ynode *tn = lf_ymap_get(cfg, "replace");
		lf_y_err(err, tn ? tn : cfg, ctx->path, "%s", terr.msg);
		goto fail;
	}
	s->first = calloc(2 * ((size_t)lf_regex_ngroups(s->re) + 1), sizeof *s->first);
	if (!s->first) {
		lf_err(err, "out of memory");
		goto fail;
	}
	free(text);
	*state = s;
	return 0;
fail:
	free(text);
	replace_free(s);
	return -1;
}

static int push_cap(struct replace_stage *s, struct capture c)
{
	if (s->ncaps == s->capcap) {
		size_t n = s->capcap ? s->capcap * 2 : 16;
		struct capture *v = realloc(s->caps, n * sizeof *v);
		if (!v)
			return -1;
		s->caps = v;
		s->capcap = n;
	}
	s->caps[s->ncaps++] = c;
	return 0;
}

/* Length of the UTF-8 sequence at p (1 for invalid bytes), Go's rune step. */
static size_t rune_len(const char *p, size_t n)
{
	unsigned char c = (unsigned char)p[0];
	size_t l = c < 0x80             ? 1
	           : (c & 0xe0) == 0xc0 ? 2
	           : (c & 0xf0) == 0xe0 ? 3
	           : (c & 0xf8) == 0xf0 ? 4
	                                : 1;
	if (l > n || !lf_utf8_valid(p, l))
		return 1;
	return l;
}

static enum lf_pipe_result replace_process(void *state, struct lf_entry *e,
                                           const struct lf_chain *rest)
{
	(void)rest;
	struct replace_stage *s = state;
	lf_buf_reset(&s->in);
	if (s->source) {
		const char *v = lf_extracted_get(e, s->source);
		if (!v) {
			lf_stage_count_error(s->sh, "replace", "missing_source");
			return LF_PIPE_EMITTED;
		}
		lf_buf_appends(&s->in, v);
	} else {
		lf_buf_append(&s->in, e->line.data ? e->line.data : "", e->line.len);
	}
	const char *in = s->in.data ? s->in.data : "";
	size_t n = s->in.len;
	int ng = lf_regex_ngroups(s->re);

	lf_buf_reset(&s->result);
	lf_buf_reset(&s->reps);
	s->ncaps = 0;
	size_t prev_end = 0;
	size_t pos = 0;
	long prev_match_end = -1;
	bool any = false;
	struct rctx c = {.e = e};
	/* Go's FindAllStringSubmatchIndex loop. */
	while (pos <= n) {
		if (lf_regex_exec(s->re, in, n, pos, &s->m, NULL) != 1)
			break;
		size_t ms = s->m.ov[0], me = s->m.ov[1];
		bool accept = true;
		if (me == pos) {
			if ((long)ms == prev_match_end)
				accept = false;
			pos += pos < n ? rune_len(in + pos, n - pos) : 1;
		} else {
			pos = me;
		}
		prev_match_end = (long)me;
		if (!accept)
			continue;
		if (!any)
			for (int i = 0; i <= ng; i++) {
				s->first[2 * i] = s->m.ov[2 * i];
				s->first[2 * i + 1] = s->m.ov[2 * i + 1];
			}
		any = true;
		for (int i = 1; i <= ng; i++) {
			size_t gs = s->m.ov[2 * i], ge = s->m.ov[2 * i + 1];
			if (gs == SIZE_MAX)
				continue;
			c.value = in + gs;
			c.value_len = ge - gs;
			lf_buf_reset(&s->one);
			if (lf_template_exec(s->t, lookup, &c, &s->one, NULL) < 0) {
				lf_stage_count_error(s->sh, "replace", "template_exec");
				return LF_PIPE_EMITTED;
			}
			if (prev_end == 0 || prev_end < gs) {
				lf_buf_append(&s->result, in + prev_end, gs - prev_end);
				lf_buf_append(&s->result, s->one.data ? s->one.data : "",
				              s->one.len);
				prev_end = ge;
			}
			struct capture cp = {
			        .s = gs, .e = ge, .out = s->reps.len, .olen = s->one.len};
			lf_buf_append(&s->reps, s->one.data ? s->one.data : "", s->one.len);
			push_cap(s, cp);
		}
	}
	if (!any)
		return LF_PIPE_EMITTED;
	if (prev_end < n)
		lf_buf_append(&s->result, in + prev_end, n - prev_end);

	const char *res = s->result.data ? s->result.data : "";
	if (s->source)
		lf_labels_setn(&e->extracted, s->source, strlen(s->source), res, s->result.len);
	else {
		lf_buf_reset(&e->line);
		lf_buf_append(&e->line, res, s->result.len);
	}
	/* Named groups: the replacement of the first match's captured text
	 * (looked up by text, the last capture with that text wins). */
	for (int i = 1; i <= ng; i++) {
		const char *name = lf_regex_group_name(s->re, i);
		if (!name)
			continue;
		size_t gs = s->first[2 * i], ge = s->first[2 * i + 1];
		const char *txt = gs == SIZE_MAX ? "" : in + gs;
		size_t tl = gs == SIZE_MAX ? 0 : ge - gs;
		for (size_t k = s->ncaps; k-- > 0;) {
			struct capture *cp = &s->caps[k];
			if (cp->e - cp->s == tl && memcmp(in + cp->s, txt, tl) == 0) {
				lf_labels_setn(&e->extracted, name, strlen(name),
				               s->reps.data ? s->reps.data + cp->out : "",
				               cp->olen);
				break;
			}
		}
	}
	return LF_PIPE_EMITTED;
}

const struct lf_stage_ops lf_stage_replace = {
        .kind = "replace",
        .create = replace_create,
        .process = replace_process,
        .free = replace_free,
};
