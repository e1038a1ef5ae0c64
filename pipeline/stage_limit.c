/* stage_limit.c — `limit`: a token bucket (Go's rate.Limiter: starts full
 * with `burst` tokens, refills `rate` per second). With `drop: true` an
 * entry without a token is dropped (reason "ratelimit_drop_stage"); with
 * `drop: false` (default) the caller waits for a token, which blocks the
 * reading thread: that is the back-pressure Promtail gives too.
 * `by_label_name`: one bucket per value of that label (entries without the
 * label pass), requires drop; at most max_distinct_labels (>= 10000)
 * buckets, all forgotten when that many exist (Promtail's generational map
 * forgets the older half; this is the simpler bound). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/timeutil.h"
#include "stage.h"

struct bucket {
	double tokens;
	int64_t last_ns;
};

struct limit_stage {
	double rate;
	double burst;
	bool drop;
	char *by_label;
	int64_t max_distinct;
	struct bucket global;
	struct lf_smap per_value; /* key: {value=...} label set */
	struct lf_labels key;
	struct lf_pipe_shared *sh;
	struct lf_metric_family *by_label_drops;
};

static const char *const limit_keys[] = {
        "rate", "burst", "drop", "by_label_name", "max_distinct_labels", NULL};

static void limit_free(void *state)
{
	struct limit_stage *s = state;
	free(s->by_label);
	lf_smap_free(&s->per_value);
	lf_labels_free(&s->key);
	free(s);
}

static int limit_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                        struct lf_error *err)
{
	if (lf_ymap_check(cfg, ctx->path, limit_keys, err) < 0)
		return -1;
	struct limit_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->sh = ctx->sh;
	int64_t burst = 0;
	if (lf_ymap_double(cfg, ctx->path, "rate", &s->rate, err) < 0 ||
	    lf_ymap_int(cfg, ctx->path, "burst", &burst, err) < 0 ||
	    lf_ymap_bool(cfg, ctx->path, "drop", &s->drop, err) < 0 ||
	    lf_ymap_str(cfg, ctx->path, "by_label_name", &s->by_label, err) < 0 ||
	    lf_ymap_int(cfg, ctx->path, "max_distinct_labels", &s->max_distinct, err) < 0) {
		limit_free(s);
		return -1;
	}
	if (s->rate <= 0 || burst <= 0) {
		limit_free(s);
		return lf_y_err(err, cfg, ctx->path, "limit stage failed to parse rate or burst");
	}
	s->burst = (double)burst;
	if (s->by_label && *s->by_label && !s->drop) {
		limit_free(s);
		return lf_y_err(err, cfg, ctx->path,
		                "When ratelimiting by label, drop must be true");
	}
	if (s->by_label && !*s->by_label) {
		free(s->by_label);
		s->by_label = NULL;
	}
	if (s->max_distinct < 10000)
		s->max_distinct = 10000;
	lf_smap_init(&s->per_value, 0, free);
	s->global.tokens = s->burst;
	s->global.last_ns = lf_monotonic_ns();
	if (s->by_label && ctx->sh->metrics) {
		static const char *const names[] = {"label_name", "label_value", NULL};
		s->by_label_drops = lf_metrics_family(
		        ctx->sh->metrics, LF_METRIC_COUNTER,
		        "logentry_dropped_lines_by_label_total",
		        "Lines dropped by a pipeline stage, by reason", names,
		        NULL, 0);
	}
	*state = s;
	return 0;
}

static void refill(struct limit_stage *s, struct bucket *b, int64_t now)
{
	double add = (double)(now - b->last_ns) / 1e9 * s->rate;
	b->last_ns = now;
	b->tokens += add;
	if (b->tokens > s->burst)
		b->tokens = s->burst;
}

static bool take(struct limit_stage *s, struct bucket *b)
{
	refill(s, b, lf_monotonic_ns());
	if (b->tokens >= 1) {
		b->tokens -= 1;
		return true;
	}
	return false;
}

static enum lf_pipe_result limit_process(void *state, struct lf_entry *e,
                                         const struct lf_chain *rest)
{
	(void)rest;
	struct limit_stage *s = state;
	if (s->by_label) {
		const char *v = lf_labels_get(&e->labels, s->by_label);
		if (!v)
			return LF_PIPE_EMITTED;
		lf_labels_clear(&s->key);
		lf_labels_set(&s->key, "v", v);
		uint64_t h = lf_labels_hash(&s->key);
		struct lf_smap_slot *slot = lf_smap_get(&s->per_value, &s->key, h);
		if (!slot) {
			if ((int64_t)s->per_value.n >= s->max_distinct) {
				lf_smap_free(&s->per_value);
				lf_smap_init(&s->per_value, 0, free);
			}
			bool created;
			slot = lf_smap_put(&s->per_value, &s->key, h, &created);
			if (!slot)
				return LF_PIPE_EMITTED;
			struct bucket *b = malloc(sizeof *b);
			if (!b) {
				lf_smap_del(&s->per_value, slot);
				return LF_PIPE_EMITTED;
			}
			b->tokens = s->burst;
			b->last_ns = lf_monotonic_ns();
			slot->val = b;
		}
		if (take(s, slot->val))
			return LF_PIPE_EMITTED;
		lf_stage_count_drop(s->sh, "ratelimit_drop_stage");
		if (s->by_label_drops) {
			const char *lv[] = {s->by_label, v};
			lf_metric_inc(s->by_label_drops, lv);
		}
		return LF_PIPE_DROPPED;
	}
	if (take(s, &s->global))
		return LF_PIPE_EMITTED;
	if (s->drop) {
		lf_stage_count_drop(s->sh, "ratelimit_drop_stage");
		return LF_PIPE_DROPPED;
	}
	/* Wait for the next token (Limiter.Wait). This blocks the agent's
	 * event loop, i.e. throttles every file, not just this stream: the
	 * single-threaded design's form of Promtail's blocking. The wait is
	 * capped at 60 s so an absurd rate (1e-12) cannot overflow the
	 * conversion or hang the agent for ever. */
	double need = 1 - s->global.tokens;
	double wait = need / s->rate * 1e9;
	if (!(wait < 60e9))
		wait = 60e9;
	int64_t wait_ns = (int64_t)wait + 1;
	struct timespec ts = {wait_ns / 1000000000, wait_ns % 1000000000};
	nanosleep(&ts, NULL);
	refill(s, &s->global, lf_monotonic_ns());
	s->global.tokens -= 1;
	return LF_PIPE_EMITTED;
}

static void reads_nothing(void *state, struct lf_keyset *ks)
{
	(void)state;
	(void)ks;
}

const struct lf_stage_ops lf_stage_limit = {
        .kind = "limit",
        .create = limit_create,
        .process = limit_process,
        .reads = reads_nothing,
        .free = limit_free,
};
