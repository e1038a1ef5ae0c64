/* stage_output.c — `output: {source}`: the line becomes an extracted value.
 * A missing value leaves the line unchanged (counted as a runtime error). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"

struct output_stage {
	char *source;
	struct lf_pipe_shared *sh;
};

static const char *const output_keys[] = {"source", NULL};

static int output_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                         struct lf_error *err)
{
	if (lf_ymap_check(cfg, ctx->path, output_keys, err) < 0)
		return -1;
	struct output_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->sh = ctx->sh;
	if (lf_ymap_str(cfg, ctx->path, "source", &s->source, err) < 0)
		goto fail;
	if (!s->source || !*s->source) {
		lf_y_err(err, cfg, ctx->path, "output source value is required");
		goto fail;
	}
	*state = s;
	return 0;
fail:
	free(s->source);
	free(s);
	return -1;
}

static enum lf_pipe_result output_process(void *state, struct lf_entry *e,
                                          const struct lf_chain *rest)
{
	(void)rest;
	struct output_stage *s = state;
	const char *v = lf_extracted_get(e, s->source);
	if (!v) {
		lf_stage_count_error(s->sh, "output", "missing_source");
		return LF_PIPE_EMITTED;
	}
	lf_buf_reset(&e->line);
	lf_buf_append(&e->line, v, strlen(v));
	return LF_PIPE_EMITTED;
}

static void output_free(void *state)
{
	struct output_stage *s = state;
	free(s->source);
	free(s);
}

static void output_reads(void *state, struct lf_keyset *ks)
{
	struct output_stage *s = state;
	lf_keyset_add(ks, s->source);
}

const struct lf_stage_ops lf_stage_output = {
        .kind = "output",
        .create = output_create,
        .process = output_process,
        .free = output_free,
        .reads = output_reads,
};
