/* stage_static_labels.c — `static_labels`: adds fixed labels. Empty/null
 * values are ignored, as in Promtail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"

struct static_stage {
	struct lf_strmap m;
};

static int static_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                         struct lf_error *err)
{
	if (!cfg || cfg->kind == LF_Y_NULL)
		return lf_y_err(err, cfg, ctx->path, "static_labels stage config cannot be empty");
	struct static_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	if (lf_strmap_read(cfg, ctx->path, &s->m, err) < 0) {
		free(s);
		return -1;
	}
	for (size_t i = 0; i < s->m.n; i++) {
		if (!lf_label_name_valid(s->m.keys[i], strlen(s->m.keys[i]))) {
			lf_y_err(err, cfg->pairs[i].key, ctx->path, "invalid label name: %s",
			         s->m.keys[i]);
			lf_strmap_free(&s->m);
			free(s);
			return -1;
		}
	}
	*state = s;
	return 0;
}

static enum lf_pipe_result static_process(void *state, struct lf_entry *e,
                                          const struct lf_chain *rest)
{
	(void)rest;
	struct static_stage *s = state;
	for (size_t i = 0; i < s->m.n; i++) {
		const char *v = s->m.vals[i];
		if (!v || !*v || !lf_utf8_valid(v, strlen(v)))
			continue;
		lf_labels_set(&e->labels, s->m.keys[i], v);
	}
	return LF_PIPE_EMITTED;
}

static void static_free(void *state)
{
	struct static_stage *s = state;
	lf_strmap_free(&s->m);
	free(s);
}

static void reads_nothing(void *state, struct lf_keyset *ks)
{
	(void)state;
	(void)ks;
}

const struct lf_stage_ops lf_stage_static_labels = {
        .kind = "static_labels",
        .create = static_create,
        .process = static_process,
        .reads = reads_nothing,
        .free = static_free,
};
