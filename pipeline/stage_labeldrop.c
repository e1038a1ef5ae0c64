/* stage_labeldrop.c — `labeldrop: [names]`: removes those labels. */
#include <stdio.h>
#include <stdlib.h>

#include "stage.h"

struct labeldrop_stage {
	char **names;
	size_t n;
};

static int labeldrop_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                            struct lf_error *err)
{
	struct labeldrop_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	if (!cfg || cfg->kind == LF_Y_NULL) {
		free(s);
		return lf_y_err(err, cfg, ctx->path, "labeldrop stage config cannot be empty");
	}
	if (lf_y_strlist(cfg, ctx->path, &s->names, &s->n, err) < 0) {
		free(s);
		return -1;
	}
	*state = s;
	return 0;
}

static enum lf_pipe_result labeldrop_process(void *state, struct lf_entry *e,
                                             const struct lf_chain *rest)
{
	(void)rest;
	struct labeldrop_stage *s = state;
	for (size_t i = 0; i < s->n; i++)
		lf_labels_del(&e->labels, s->names[i]);
	return LF_PIPE_EMITTED;
}

static void labeldrop_free(void *state)
{
	struct labeldrop_stage *s = state;
	lf_strv_free(s->names);
	free(s);
}

static void reads_nothing(void *state, struct lf_keyset *ks)
{
	(void)state;
	(void)ks;
}

const struct lf_stage_ops lf_stage_labeldrop = {
        .kind = "labeldrop",
        .create = labeldrop_create,
        .process = labeldrop_process,
        .reads = reads_nothing,
        .free = labeldrop_free,
};
