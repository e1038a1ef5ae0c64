/* stage_labelallow.c — `labelallow: [names]`: keeps only those labels.
 * The reserved tenant label is a label like any other here, as in Promtail
 * (allow it explicitly to keep a tenant chosen earlier). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"

struct labelallow_stage {
	char **names;
	size_t n;
};

static int labelallow_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                             struct lf_error *err)
{
	struct labelallow_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	if (!cfg || cfg->kind == LF_Y_NULL) {
		free(s);
		return lf_y_err(err, cfg, ctx->path, "labelallow stage config cannot be empty");
	}
	if (lf_y_strlist(cfg, ctx->path, &s->names, &s->n, err) < 0) {
		free(s);
		return -1;
	}
	*state = s;
	return 0;
}

static enum lf_pipe_result labelallow_process(void *state, struct lf_entry *e,
                                              const struct lf_chain *rest)
{
	(void)rest;
	struct labelallow_stage *s = state;
	for (size_t i = 0; i < e->labels.n;) {
		bool keep = false;
		for (size_t j = 0; j < s->n && !keep; j++)
			keep = strcmp(e->labels.v[i].name, s->names[j]) == 0;
		if (keep) {
			i++;
			continue;
		}
		/* lf_labels_del needs a stable name: the slot is moved, so copy. */
		char name[256];
		size_t l = strlen(e->labels.v[i].name);
		if (l >= sizeof name) {
			char *dup = strdup(e->labels.v[i].name);
			if (!dup)
				return LF_PIPE_EMITTED;
			lf_labels_del(&e->labels, dup);
			free(dup);
		} else {
			memcpy(name, e->labels.v[i].name, l + 1);
			lf_labels_del(&e->labels, name);
		}
	}
	return LF_PIPE_EMITTED;
}

static void labelallow_free(void *state)
{
	struct labelallow_stage *s = state;
	lf_strv_free(s->names);
	free(s);
}

static void reads_nothing(void *state, struct lf_keyset *ks)
{
	(void)state;
	(void)ks;
}

const struct lf_stage_ops lf_stage_labelallow = {
        .kind = "labelallow",
        .create = labelallow_create,
        .process = labelallow_process,
        .reads = reads_nothing,
        .free = labelallow_free,
};
