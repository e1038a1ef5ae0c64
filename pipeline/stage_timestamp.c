/* stage_timestamp.c — `timestamp: {source, format, fallback_formats,
 * location, action_on_failure}`: sets the entry time from an extracted
 * value, parsed with a Go layout / named format / Unix* (common/gotime.h),
 * trying fallback_formats in order. On failure (missing value or no format
 * parses): `fudge` (default) sets the last good timestamp of the same label
 * set + 1ns when there is one (10000 label sets remembered, LRU); `skip`
 * keeps the read time. Failures are counted as runtime errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/gotime.h"
#include "../common/timeutil.h"
#include "stage.h"

struct ts_stage {
	char *source;
	size_t source_len; /* strlen(source), looked up on every line */
	size_t hint;       /* source's index in the extracted map on the last line */
	struct lf_gotime_layout **layouts; /* format, then fallbacks */
	size_t nlayouts;
	const struct lf_tz *loc; /* NULL = UTC */
	bool fudge;
	bool needs_now; /* a layout without a year takes it from "now" */
	bool rfc3339;   /* format RFC3339/RFC3339Nano: try the fast parser first */
	struct lf_ts_fudge cache;
	struct lf_rfc3339_cache tcache;
	struct lf_pipe_shared *sh;
};

static const char *const ts_keys[] = {
        "source", "format", "fallback_formats", "location", "action_on_failure", NULL};

static void ts_free(void *state)
{
	struct ts_stage *s = state;
	free(s->source);
	for (size_t i = 0; i < s->nlayouts; i++)
		lf_gotime_layout_free(s->layouts[i]);
	free(s->layouts);
	lf_ts_fudge_free(&s->cache);
	free(s);
}

static int add_layout(struct ts_stage *s, const char *text, const struct lf_ynode *n,
                      const char *path, struct lf_error *err)
{
	struct lf_gotime_layout **v = realloc(s->layouts, (s->nlayouts + 1) * sizeof *v);
	if (!v)
		return lf_err(err, "out of memory");
	s->layouts = v;
	struct lf_error lerr;
	if (lf_gotime_layout_new(text, &s->layouts[s->nlayouts], &lerr) < 0)
		return lf_y_err(err, n, path, "%s", lerr.msg);
	/* Promtail's rule: a custom layout without "06" has no year */
	const char *go = lf_gotime_layout_go(s->layouts[s->nlayouts]);
	if (go && !strstr(go, "06") && strncmp(go, "Unix", 4) != 0)
		s->needs_now = true;
	s->nlayouts++;
	return 0;
}

static int ts_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                     struct lf_error *err)
{
	if (!cfg || cfg->kind == LF_Y_NULL)
		return lf_y_err(err, cfg, ctx->path, "timestamp stage config cannot be empty");
	if (lf_ymap_check(cfg, ctx->path, ts_keys, err) < 0)
		return -1;
	struct ts_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->sh = ctx->sh;
	s->fudge = true;
	lf_ts_fudge_init(&s->cache);
	char *format = NULL, *loc = NULL, *action = NULL, **fallbacks = NULL;
	size_t nfb = 0;
	if (lf_ymap_str(cfg, ctx->path, "source", &s->source, err) < 0 ||
	    lf_ymap_str(cfg, ctx->path, "format", &format, err) < 0 ||
	    lf_ymap_str(cfg, ctx->path, "location", &loc, err) < 0 ||
	    lf_ymap_str(cfg, ctx->path, "action_on_failure", &action, err) < 0 ||
	    lf_ymap_strlist(cfg, ctx->path, "fallback_formats", &fallbacks, &nfb, err) < 0)
		goto fail;
	if (!s->source || !*s->source) {
		lf_y_err(err, cfg, ctx->path,
		         "timestamp source value is required if timestamp is specified");
		goto fail;
	}
	s->source_len = strlen(s->source);
	if (!format || !*format) {
		lf_y_err(err, cfg, ctx->path, "timestamp format is required");
		goto fail;
	}
	if (loc) {
		struct lf_error lerr;
		if (lf_tz_load(loc, &s->loc, &lerr) < 0) {
			lf_y_err(err, lf_ymap_get(cfg, "location"), ctx->path,
			         "invalid location specified: %s", lerr.msg);
			goto fail;
		}
	}
	if (action) {
		if (strcmp(action, "skip") == 0) {
			s->fudge = false;
		} else if (strcmp(action, "fudge") != 0) {
			lf_y_err(err, lf_ymap_get(cfg, "action_on_failure"), ctx->path,
			         "invalid action on failure (supported values are [skip fudge])");
			goto fail;
		}
	}
	s->rfc3339 = strcmp(format, "RFC3339") == 0 || strcmp(format, "RFC3339Nano") == 0;
	if (add_layout(s, format, lf_ymap_get(cfg, "format"), ctx->path, err) < 0)
		goto fail;
	for (size_t i = 0; i < nfb; i++)
		if (add_layout(s, fallbacks[i], lf_ymap_get(cfg, "fallback_formats"), ctx->path,
		               err) < 0)
			goto fail;
	free(format);
	free(loc);
	free(action);
	lf_strv_free(fallbacks);
	*state = s;
	return 0;
fail:
	free(format);
	free(loc);
	free(action);
	lf_strv_free(fallbacks);
	ts_free(s);
	return -1;
}

static enum lf_pipe_result ts_process(void *state, struct lf_entry *e, const struct lf_chain *rest)
{
	(void)rest;
	struct ts_stage *s = state;
	/* the extracted map mostly has the same shape line after line: try
	 * where the source was last time before scanning */
	const struct lf_label *l =
	        lf_small_find_hinted(&e->extracted, s->source, s->source_len, &s->hint);
	if (l) {
		const char *v = l->value;
		size_t n = l->value_len; /* labels keep it equal to strlen */
		int64_t now = s->needs_now ? lf_now_ns() : 0;
		for (size_t i = 0; i < s->nlayouts; i++) {
			int64_t ts;
			if ((i == 0 && s->rfc3339 &&
			     lf_parse_rfc3339_fast(&s->tcache, v, n, &ts) == 0) ||
			    lf_gotime_parse(s->layouts[i], v, n, s->loc, now, &ts, NULL) == 0) {
				e->ts_ns = ts;
				if (s->fudge)
					lf_ts_fudge_good(&s->cache, &e->labels, ts);
				return LF_PIPE_EMITTED;
			}
		}
		lf_stage_count_error(s->sh, "timestamp", "bad_timestamp");
	} else {
		lf_stage_count_error(s->sh, "timestamp", "missing_source");
	}
	if (s->fudge)
		lf_ts_fudge_fail(&s->cache, &e->labels, &e->ts_ns);
	return LF_PIPE_EMITTED;
}

static void ts_reads(void *state, struct lf_keyset *ks)
{
	struct ts_stage *s = state;
	lf_keyset_add(ks, s->source);
}

const struct lf_stage_ops lf_stage_timestamp = {
        .kind = "timestamp",
        .create = ts_create,
        .process = ts_process,
        .free = ts_free,
        .reads = ts_reads,
};
