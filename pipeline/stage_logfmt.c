/* stage_logfmt.c — `logfmt: {mapping, source}`: extracts the mapped keys of
 * a logfmt line (mapping {extracted_name: logfmt_key}; an empty key means
 * the same name). The scanner follows go-logfmt's decoder, which Promtail
 * uses (the scanner is common/logfmt.c, shared with LogQL): a syntax error (e.g. `=` or `"` inside
 * a bare value, an unterminated quote) stops the scan; values found before it are kept. A key
 * without
 * `=` yields "". Quoted values are unquoted with JSON-style escapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/logfmt.h"
#include "stage.h"

struct logfmt_stage {
	struct lf_strmap map; /* extracted name -> logfmt key */
	char *source;
	struct lf_buf src, val;
	struct lf_pipe_shared *sh;
	bool *live; /* per mapping entry: may a later stage read it? */
	bool any_live;
};

struct logfmt_pair_ctx {
	struct logfmt_stage *s;
	struct lf_entry *e;
};

static const char *const logfmt_keys[] = {"mapping", "source", NULL};

static void logfmt_free(void *state)
{
	struct logfmt_stage *s = state;
	lf_strmap_free(&s->map);
	free(s->source);
	lf_buf_free(&s->src);
	lf_buf_free(&s->val);
	free(s->live);
	free(s);
}

static int logfmt_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                         struct lf_error *err)
{
	if (!cfg || cfg->kind == LF_Y_NULL)
		return lf_y_err(err, cfg, ctx->path, "empty logfmt stage configuration");
	if (lf_ymap_check(cfg, ctx->path, logfmt_keys, err) < 0)
		return -1;
	struct logfmt_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->sh = ctx->sh;
	char mpath[600];
	snprintf(mpath, sizeof mpath, "%s.mapping", ctx->path);
	if (lf_strmap_read(lf_ymap_get(cfg, "mapping"), mpath, &s->map, err) < 0 ||
	    lf_stage_source(cfg, ctx, &s->source, err) < 0) {
		logfmt_free(s);
		return -1;
	}
	if (!s->map.n) {
		logfmt_free(s);
		return lf_y_err(err, cfg, ctx->path, "logfmt mapping is required");
	}
	for (size_t i = 0; i < s->map.n; i++) {
		if (!s->map.vals[i] || !*s->map.vals[i]) {
			free(s->map.vals[i]);
			s->map.vals[i] = strdup(s->map.keys[i]);
			if (!s->map.vals[i]) {
				logfmt_free(s);
				return lf_err(err, "out of memory");
			}
		}
	}
	s->live = malloc(s->map.n * sizeof *s->live);
	if (!s->live) {
		logfmt_free(s);
		return lf_err(err, "out of memory");
	}
	for (size_t i = 0; i < s->map.n; i++)
		s->live[i] = true;
	s->any_live = true;
	*state = s;
	return 0;
}

/* Looks key up in the mapping and stores value for each name mapped to it. */
static void store(struct logfmt_stage *s, struct lf_entry *e, const char *k, size_t kl,
                  const char *v, size_t vl)
{
	for (size_t i = 0; i < s->map.n; i++) {
		if (!s->live[i])
			continue;
		const char *want = s->map.vals[i];
		if (strlen(want) == kl && memcmp(want, k, kl) == 0)
			lf_labels_setn(&e->extracted, s->map.keys[i], strlen(s->map.keys[i]), v,
			               vl);
	}
}

/* lf_logfmt_scan callback: stores each mapped key. */
static int on_pair(void *ctx, const char *k, size_t kl, const char *v, size_t vl, bool quoted)
{
	(void)quoted;
	struct logfmt_pair_ctx *pc = ctx;
	store(pc->s, pc->e, k, kl, v, vl);
	return 0;
}

/* Scans one record (a line without '\n'); false on a syntax error. */
static bool scan_record(struct logfmt_stage *s, struct lf_entry *e, const char *line, size_t n)
{
	struct logfmt_pair_ctx pc = {s, e};
	struct lf_logfmt_error le;
	return lf_logfmt_scan(line, n, &s->val, on_pair, &pc, &le) == 0;
}

static enum lf_pipe_result logfmt_process(void *state, struct lf_entry *e,
                                          const struct lf_chain *rest)
{
	(void)rest;
	struct logfmt_stage *s = state;
	const char *in;
	size_t n;
	if (!s->any_live)
		return LF_PIPE_EMITTED; /* nothing it sets is ever read */
	if (!lf_stage_input(s->sh, "logfmt", s->source, e, &s->src, &in, &n))
		return LF_PIPE_EMITTED;
	/* go-logfmt reads records line by line. */
	size_t start = 0;
	while (start <= n) {
		const char *nl = memchr(in + start, '\n', n - start);
		size_t end = nl ? (size_t)(nl - in) : n;
		if (!scan_record(s, e, in + start, end - start)) {
			lf_stage_count_error(s->sh, "logfmt", "logfmt_syntax");
			break;
		}
		if (!nl)
			break;
		start = end + 1;
	}
	return LF_PIPE_EMITTED;
}

static void logfmt_reads(void *state, struct lf_keyset *ks)
{
	struct logfmt_stage *s = state;
	lf_keyset_add(ks, s->source);
}

static void logfmt_set_live(void *state, const struct lf_keyset *live)
{
	struct logfmt_stage *s = state;
	s->any_live = false;
	for (size_t i = 0; i < s->map.n; i++) {
		s->live[i] = lf_keyset_has(live, s->map.keys[i]);
		s->any_live |= s->live[i];
	}
}

const struct lf_stage_ops lf_stage_logfmt = {
        .kind = "logfmt",
        .create = logfmt_create,
        .process = logfmt_process,
        .free = logfmt_free,
        .reads = logfmt_reads,
        .set_live = logfmt_set_live,
};
