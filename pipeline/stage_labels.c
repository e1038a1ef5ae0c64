/* stage_labels.c — `labels`: sets stream labels from extracted values.
 * `{label: source}`; an empty source means the label's own name. Values
 * that are not valid UTF-8 are skipped, as Promtail does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"

struct labels_stage {
	struct lf_strmap m; /* label -> source (never NULL after create) */
};

int lf_labels_cfg_read(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, struct lf_strmap *m,
                       struct lf_error *err)
{
	if (!cfg || cfg->kind == LF_Y_NULL)
		return lf_y_err(err, cfg, ctx->path, "label stage config cannot be empty");
	if (lf_strmap_read(cfg, ctx->path, m, err) < 0)
		return -1;
	for (size_t i = 0; i < m->n; i++) {
		if (!lf_label_name_valid(m->keys[i], strlen(m->keys[i]))) {
			lf_y_err(err, cfg->pairs[i].key, ctx->path, "invalid label name: %s",
			         m->keys[i]);
			lf_strmap_free(m);
			return -1;
		}
		if (!m->vals[i] || !*m->vals[i]) {
			free(m->vals[i]);
			m->vals[i] = strdup(m->keys[i]);
			if (!m->vals[i]) {
				lf_strmap_free(m);
				return lf_err(err, "out of memory");
			}
		}
	}
	return 0;
}

static int labels_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                         struct lf_error *err)
{
	struct labels_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	if (lf_labels_cfg_read(cfg, ctx, &s->m, err) < 0) {
		free(s);
		return -1;
	}
	*state = s;
	return 0;
}

static enum lf_pipe_result labels_process(void *state, struct lf_entry *e,
                                          const struct lf_chain *rest)
{
	(void)rest;
	struct labels_stage *s = state;
	for (size_t i = 0; i < s->m.n; i++) {
		const char *v = lf_extracted_get(e, s->m.vals[i]);
		if (!v)
			continue;
		size_t n = strlen(v);
		if (!lf_utf8_valid(v, n))
			continue;
		lf_labels_setn(&e->labels, s->m.keys[i], strlen(s->m.keys[i]), v, n);
	}
	return LF_PIPE_EMITTED;
}

static void labels_free(void *state)
{
	struct labels_stage *s = state;
	lf_strmap_free(&s->m);
	free(s);
}

static void labels_reads(void *state, struct lf_keyset *ks)
{
	struct labels_stage *s = state;
	for (size_t i = 0; i < s->m.n; i++)
		lf_keyset_add(ks, s->m.vals[i]);
}

const struct lf_stage_ops lf_stage_labels = {
        .kind = "labels",
        .create = labels_create,
        .process = labels_process,
        .free = labels_free,
        .reads = labels_reads,
};
