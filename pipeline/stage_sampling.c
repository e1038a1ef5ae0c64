/* stage_sampling.c — `sampling: {rate, drop_counter_reason}`: keeps a
 * random fraction `rate` of the entries (Promtail's probabilistic sampler:
 * keep when a random 63-bit number <= rate * 2^63-1).
 *
 * The random generator is per stage (xorshift64*, seeded from the clock),
 * not global, so pipelines do not share state. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/timeutil.h"
#include "stage.h"

struct sampling_stage {
	uint64_t boundary;
	uint64_t rng;
	char *reason;
	struct lf_pipe_shared *sh;
};

static const char *const sampling_keys[] = {"rate", "drop_counter_reason", NULL};

static int sampling_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                           struct lf_error *err)
{
	if (lf_ymap_check(cfg, ctx->path, sampling_keys, err) < 0)
		return -1;
	double rate = 0;
	if (lf_ymap_double(cfg, ctx->path, "rate", &rate, err) < 0)
		return -1;
	/* NaN is refused too (its conversion to the integer boundary below
	 * would be undefined; issue 17) and printed as Go prints it */
	if (!(rate >= 0.0 && rate <= 1.0)) {
		if (isnan(rate))
			return lf_y_err(err, lf_ymap_get(cfg, "rate"), ctx->path,
			                "sampling stage failed to parse rate,Sampling Rate must be "
			                "between 0.0 and 1.0, received NaN");
		return lf_y_err(err, lf_ymap_get(cfg, "rate"), ctx->path,
		                "sampling stage failed to parse rate,Sampling Rate must be between "
		                "0.0 and 1.0, received %f",
		                rate);
	}
	struct sampling_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->sh = ctx->sh;
	if (lf_ymap_str(cfg, ctx->path, "drop_counter_reason", &s->reason, err) < 0) {
		free(s);
		return -1;
	}
	if (!s->reason || !*s->reason) {
		free(s->reason);
		s->reason = strdup("sampling_stage");
	}
	s->boundary = (uint64_t)((double)INT64_MAX * rate);
	s->rng = (uint64_t)lf_now_ns() ^ (uint64_t)(uintptr_t)s ^ 0x9e3779b97f4a7c15ULL;
	if (!s->rng)
		s->rng = 1;
	*state = s;
	return 0;
}

static uint64_t next_rand63(struct sampling_stage *s)
{
	uint64_t v;
	do {
		s->rng ^= s->rng >> 12;
		s->rng ^= s->rng << 25;
		s->rng ^= s->rng >> 27;
		v = (s->rng * 0x2545F4914F6CDD1DULL) >> 1;
	} while (v == 0);
	return v;
}

static enum lf_pipe_result sampling_process(void *state, struct lf_entry *e,
                                            const struct lf_chain *rest)
{
	(void)rest;
	(void)e;
	struct sampling_stage *s = state;
	if (s->boundary >= next_rand63(s))
		return LF_PIPE_EMITTED;
	lf_stage_count_drop(s->sh, s->reason);
	return LF_PIPE_DROPPED;
}

static void sampling_free(void *state)
{
	struct sampling_stage *s = state;
	free(s->reason);
	free(s);
}

static void reads_nothing(void *state, struct lf_keyset *ks)
{
	(void)state;
	(void)ks;
}

const struct lf_stage_ops lf_stage_sampling = {
        .kind = "sampling",
        .create = sampling_create,
        .process = sampling_process,
        .reads = reads_nothing,
        .free = sampling_free,
};
