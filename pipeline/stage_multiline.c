/* stage_multiline.c — `multiline: {firstline, max_wait_time, max_lines}`:
 * joins lines into blocks per stream (label set), as Promtail does:
 *   - until a stream's first `firstline` match, its lines pass through;
 *   - a firstline match releases the pending block and starts a new one
 *     whose labels, timestamp and extracted map are the firstline entry's;
 *   - other lines are appended with "\n"; at max_lines (128) the block is
 *     released (later lines keep the old first entry's metadata until the
 *     next firstline, as in Promtail);
 *   - a block waits at most max_wait_time (3s) after its last line: the
 *     agent's lf_pipeline_tick() releases it.
 * Released blocks carry no structured metadata (Promtail builds a new entry).
 * A stream whose block is empty and that saw no line for 10 x max_wait_time
 * is forgotten to bound memory (its next non-firstline line passes through,
 * where Promtail would start a block with the old first entry).
 * Memory guard (not in Promtail, where max_lines: 0 means no limit): a
 * block is released before it grows past 4 MiB. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/regex.h"
#include "../common/timeutil.h"
#include "stage.h"

#define ML_HARD_MAX (4u << 20)

struct ml_stream {
	struct lf_entry start; /* firstline entry (labels, ts, extracted) */
	struct lf_buf block;
	uint64_t lines;
	int64_t last_ns;
	void *origin;
	uint64_t seq_first, seq_last;
};

struct ml_stage {
	struct lf_regex *re;
	int64_t max_wait;
	uint64_t max_lines;
	struct lf_smap streams;
	struct lf_entry out; /* scratch for released blocks */
	struct lf_pipe_shared *sh;
};

static const char *const ml_keys[] = {"firstline", "max_wait_time", "max_lines", NULL};

static void stream_free(void *p)
{
	struct ml_stream *st = p;
	lf_entry_free(&st->start);
	lf_buf_free(&st->block);
	free(st);
}

static void ml_free(void *state)
{
	struct ml_stage *s = state;
	lf_regex_free(s->re);
	lf_smap_free(&s->streams);
	lf_entry_free(&s->out);
	free(s);
}

static int ml_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                     struct lf_error *err)
{
	if (lf_ymap_check(cfg, ctx->path, ml_keys, err) < 0)
		return -1;
	if (!lf_ymap_get(cfg, "firstline"))
		return lf_y_err(
		        err, cfg, ctx->path,
		        "multiline stage config must define `firstline` regular expression");
	struct ml_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->sh = ctx->sh;
	s->max_wait = 3 * LF_NS_PER_SEC;
	int64_t ml = 128;
	lf_smap_init(&s->streams, 0, stream_free);
	lf_entry_init(&s->out);
	if (lf_stage_compile_regex(cfg, ctx, "firstline", 0, &s->re, err) < 0 ||
	    lf_ymap_duration(cfg, ctx->path, "max_wait_time", &s->max_wait, err) < 0 ||
	    lf_ymap_int(cfg, ctx->path, "max_lines", &ml, err) < 0) {
		ml_free(s);
		return -1;
	}
	if (ml < 0) {
		ml_free(s);
		return lf_y_err(err, lf_ymap_get(cfg, "max_lines"), ctx->path,
		                "max_lines must not be negative");
	}
	s->max_lines = (uint64_t)ml;
	*state = s;
	return 0;
}

/* now - last without overflow (a max_wait_time near the int64 limit, a tick
 * far in the future; issue 17): saturates */
static int64_t idle_for(int64_t now, int64_t last)
{
	int64_t d;
	if (__builtin_sub_overflow(now, last, &d))
		return last < 0 ? INT64_MAX : INT64_MIN;
	return d;
}

/* Builds the collapsed entry of st into dst and empties the block. */
static void collapse(struct ml_stream *st, struct lf_entry *dst)
{
	lf_labels_copy(&dst->labels, &st->start.labels);
	lf_labels_copy(&dst->extracted, &st->start.extracted);
	lf_labels_clear(&dst->sm);
	dst->ts_ns = st->start.ts_ns;
	lf_buf_reset(&dst->line);
	lf_buf_append(&dst->line, st->block.data ? st->block.data : "", st->block.len);
	dst->origin = st->origin;
	dst->seq_first = st->seq_first;
	dst->seq_last = st->seq_last;
	lf_buf_reset(&st->block);
	st->lines = 0;
}

static void release(struct ml_stage *s, struct ml_stream *st, const struct lf_chain *rest)
{
	if (!st->block.len && !st->lines)
		return;
	collapse(st, &s->out);
	lf_chain_run(rest, &s->out);
}

static enum lf_pipe_result ml_process(void *state, struct lf_entry *e, const struct lf_chain *rest)
{
	struct ml_stage *s = state;
	const char *line = e->line.data ? e->line.data : "";
	bool first = lf_regex_test(s->re, line, e->line.len);
	uint64_t h = lf_labels_hash(&e->labels);
	struct lf_smap_slot *slot = lf_smap_get(&s->streams, &e->labels, h);
	struct ml_stream *st;
	if (!slot) {
		if (!first)
			return LF_PIPE_EMITTED;
		bool created;
		slot = lf_smap_put(&s->streams, &e->labels, h, &created);
		if (!slot)
			return LF_PIPE_EMITTED;
		st = calloc(1, sizeof *st);
		if (!st) {
			lf_smap_del(&s->streams, slot);
			return LF_PIPE_EMITTED;
		}
		lf_entry_init(&st->start);
		slot->val = st;
	}
	st = slot->val;
	st->last_ns = s->sh->clock();
	if (first) {
		release(s, st, rest);
		lf_entry_copy(&st->start, e);
	}
	if (st->lines == 0) {
		st->origin = e->origin;
		st->seq_first = e->seq_first;
	}
	if (st->lines && st->block.len + e->line.len > ML_HARD_MAX) {
		lf_stage_count_error(s->sh, "multiline", "block_too_long");
		release(s, st, rest);
		st->origin = e->origin;
		st->seq_first = e->seq_first;
	} else if (st->lines) {
		lf_buf_putc(&st->block, '\n');
	}
	st->seq_last = e->seq_last;
	lf_buf_append(&st->block, line, e->line.len);
	st->lines++;
	if (st->lines == s->max_lines) {
		collapse(st, e);
		return LF_PIPE_EMITTED;
	}
	return LF_PIPE_HELD;
}

static void ml_tick(void *state, int64_t now_ns, const struct lf_chain *rest)
{
	struct ml_stage *s = state;
	size_t n;
	struct lf_smap_slot **v = lf_smap_ordered(&s->streams, &n);
	if (!v)
		return;
	/* Collect the streams first: releasing runs later stages, which never
	 * touch this map, but deleting slots moves them. */
	struct ml_stream **due = malloc((n ? n : 1) * sizeof *due);
	struct lf_labels *gone = calloc(n ? n : 1, sizeof *gone);
	size_t nd = 0, ng = 0;
	for (size_t i = 0; due && gone && i < n; i++) {
		struct ml_stream *st = v[i]->val;
		if (idle_for(now_ns, st->last_ns) < s->max_wait)
			continue;
		if (st->lines)
			due[nd++] = st;
		else if (idle_for(now_ns, st->last_ns) / 10 >= s->max_wait)
			lf_labels_copy(&gone[ng++], &v[i]->key);
	}
	free(v);
	for (size_t i = 0; i < nd; i++)
		release(s, due[i], rest);
	for (size_t i = 0; i < ng; i++) {
		struct lf_smap_slot *slot =
		        lf_smap_get(&s->streams, &gone[i], lf_labels_hash(&gone[i]));
		if (slot)
			lf_smap_del(&s->streams, slot);
		lf_labels_free(&gone[i]);
	}
	free(due);
	free(gone);
}

static void ml_flush(void *state, const struct lf_chain *rest)
{
	struct ml_stage *s = state;
	size_t n;
	struct lf_smap_slot **v = lf_smap_ordered(&s->streams, &n);
	if (!v)
		return;
	struct ml_stream **all = malloc((n ? n : 1) * sizeof *all);
	for (size_t i = 0; all && i < n; i++)
		all[i] = v[i]->val;
	free(v);
	for (size_t i = 0; all && i < n; i++)
		release(s, all[i], rest);
	free(all);
}

static void reads_nothing(void *state, struct lf_keyset *ks)
{
	(void)state;
	(void)ks;
}

const struct lf_stage_ops lf_stage_multiline = {
        .kind = "multiline",
        .create = ml_create,
        .process = ml_process,
        .tick = ml_tick,
        .flush = ml_flush,
        .reads = reads_nothing,
        .free = ml_free,
};
