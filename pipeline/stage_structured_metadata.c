/* stage_structured_metadata.c — `structured_metadata` (old name
 * `non_indexed_labels`): like `labels`, but the values go to the entry's
 * structured metadata. As in Promtail, a *stream label* named by a source
 * is also moved into structured metadata (and removed from the labels). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"

struct sm_stage {
	struct lf_strmap m; /* name -> source */
};

static int sm_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                     struct lf_error *err)
{
	struct sm_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	if (lf_labels_cfg_read(cfg, ctx, &s->m, err) < 0) {
		free(s);
		return -1;
	}
	*state = s;
	return 0;
}

static enum lf_pipe_result sm_process(void *state, struct lf_entry *e, const struct lf_chain *rest)
{
	(void)rest;
	struct sm_stage *s = state;
	for (size_t i = 0; i < s->m.n; i++) {
		const char *v = lf_extracted_get(e, s->m.vals[i]);
		if (!v)
			continue;
		size_t n = strlen(v);
		if (!lf_utf8_valid(v, n))
			continue;
		lf_labels_setn(&e->sm, s->m.keys[i], strlen(s->m.keys[i]), v, n);
	}
	/* stream labels named by a source move to structured metadata */
	for (size_t i = 0; i < s->m.n; i++) {
		const char *v = lf_small_get(&e->labels, s->m.vals[i], strlen(s->m.vals[i]));
		if (!v)
			continue;
		lf_labels_set(&e->sm, s->m.keys[i], v);
	}
	for (size_t i = 0; i < s->m.n; i++)
		if (lf_small_get(&e->labels, s->m.vals[i], strlen(s->m.vals[i])))
			lf_labels_del(&e->labels, s->m.vals[i]);
	return LF_PIPE_EMITTED;
}

static void sm_free(void *state)
{
	struct sm_stage *s = state;
	lf_strmap_free(&s->m);
	free(s);
}

static void sm_reads(void *state, struct lf_keyset *ks)
{
	struct sm_stage *s = state;
	for (size_t i = 0; i < s->m.n; i++)
		lf_keyset_add(ks, s->m.vals[i]);
}

const struct lf_stage_ops lf_stage_structured_metadata = {
        .kind = "structured_metadata",
        .create = sm_create,
        .process = sm_process,
        .free = sm_free,
        .reads = sm_reads,
};
