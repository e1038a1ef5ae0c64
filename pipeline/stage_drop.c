/* stage_drop.c — `drop`: drops entries when every configured condition
 * holds (AND): longer_than (bytes), older_than (duration), source present /
 * equal to value / matching expression (sources joined by separator), or
 * expression on the line. Drops count as
 * logentry_dropped_lines_total{reason=drop_counter_reason|"drop_stage"}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/regex.h"
#include "../common/timeutil.h"
#include "stage.h"

struct drop_stage {
	char **sources; /* NULL when no source */
	size_t nsources;
	char *separator;
	char *value;
	struct lf_regex *re;
	bool has_older, has_longer;
	int64_t older_ns, longer;
	char *reason;
	struct lf_pipe_shared *sh;
	struct lf_buf joined;
	struct lf_regex_match m;
};

static const char *const drop_keys[] = {"source",     "separator",   "expression",          "value",
                                        "older_than", "longer_than", "drop_counter_reason", NULL};

static void drop_free(void *state)
{
	struct drop_stage *s = state;
	lf_strv_free(s->sources);
	free(s->separator);
	free(s->value);
	free(s->reason);
	lf_regex_free(s->re);
	lf_buf_free(&s->joined);
	lf_regex_match_free(&s->m);
	free(s);
}

static int drop_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                       struct lf_error *err)
{
	if (lf_ymap_check(cfg, ctx->path, drop_keys, err) < 0)
		return -1;
	struct drop_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->sh = ctx->sh;
	char *expr = NULL;
	if (lf_ymap_strlist(cfg, ctx->path, "source", &s->sources, &s->nsources, err) < 0 ||
	    lf_ymap_str(cfg, ctx->path, "separator", &s->separator, err) < 0 ||
	    lf_ymap_str(cfg, ctx->path, "value", &s->value, err) < 0 ||
	    lf_ymap_str(cfg, ctx->path, "expression", &expr, err) < 0 ||
	    lf_ymap_str(cfg, ctx->path, "drop_counter_reason", &s->reason, err) < 0)
		goto fail;
	if (!s->nsources && !expr && !lf_ymap_get(cfg, "older_than") &&
	    !lf_ymap_get(cfg, "longer_than")) {
		lf_y_err(err, cfg, ctx->path,
		         "drop stage config must contain at least one of `source`, `expression`, "
		         "`older_than` or `longer_than`");
		goto fail;
	}
	if (s->value && expr) {
		lf_y_err(err, cfg, ctx->path,
		         "drop stage config error, `value` and `expression` cannot both be defined "
		         "at the same time.");
		goto fail;
	}
	if (lf_ymap_get(cfg, "older_than")) {
		s->has_older = true;
		if (lf_ymap_duration(cfg, ctx->path, "older_than", &s->older_ns, err) < 0)
			goto fail;
	}
	if (lf_ymap_get(cfg, "longer_than")) {
		s->has_longer = true;
		if (lf_ymap_size(cfg, ctx->path, "longer_than", &s->longer, err) < 0)
			goto fail;
	}
	if (lf_stage_compile_regex(cfg, ctx, "expression", 0, &s->re, err) < 0)
		goto fail;
	if (!s->separator) {
		s->separator = strdup(";");
		if (!s->separator)
			goto oom;
	}
	if (!s->reason || !*s->reason) {
		free(s->reason);
		s->reason = strdup("drop_stage");
		if (!s->reason)
			goto oom;
	}
	free(expr);
	*state = s;
	return 0;
oom:
	lf_err(err, "out of memory");
fail:
	free(expr);
	drop_free(s);
	return -1;
}

/* Joins the source values; false when one is missing. */
static bool join_sources(struct drop_stage *s, const struct lf_entry *e)
{
	lf_buf_reset(&s->joined);
	for (size_t i = 0; i < s->nsources; i++) {
		const char *v = lf_extracted_get(e, s->sources[i]);
		if (!v)
			return false;
		if (i)
			lf_buf_appends(&s->joined, s->separator);
		lf_buf_appends(&s->joined, v);
	}
	return true;
}

static bool should_drop(struct drop_stage *s, const struct lf_entry *e)
{
	if (s->has_longer && !((int64_t)e->line.len > s->longer))
		return false;
	if (s->has_older && !(e->ts_ns < lf_now_ns() - s->older_ns))
		return false;
	if (s->nsources && !s->re) {
		if (!join_sources(s, e))
			return false;
		if (s->value && strcmp(s->value, s->joined.data ? s->joined.data : "") != 0)
			return false;
	}
	if (s->re) {
		const char *subj;
		size_t n;
		if (s->nsources) {
			if (!join_sources(s, e))
				return false;
			subj = s->joined.data ? s->joined.data : "";
			n = s->joined.len;
		} else {
			subj = e->line.data ? e->line.data : "";
			n = e->line.len;
		}
		if (lf_regex_exec(s->re, subj, n, 0, &s->m, NULL) != 1)
			return false;
	}
	return true;
}

static enum lf_pipe_result drop_process(void *state, struct lf_entry *e,
                                        const struct lf_chain *rest)
{
	(void)rest;
	struct drop_stage *s = state;
	if (!should_drop(s, e))
		return LF_PIPE_EMITTED;
	lf_stage_count_drop(s->sh, s->reason);
	return LF_PIPE_DROPPED;
}

static void drop_reads(void *state, struct lf_keyset *ks)
{
	struct drop_stage *s = state;
	for (size_t i = 0; i < s->nsources; i++)
		lf_keyset_add(ks, s->sources[i]);
}

const struct lf_stage_ops lf_stage_drop = {
        .kind = "drop",
        .create = drop_create,
        .process = drop_process,
        .free = drop_free,
        .reads = drop_reads,
};
