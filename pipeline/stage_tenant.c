/* stage_tenant.c — `tenant`: sets the reserved label __tenant_id__ from
 * exactly one of `label`, `source` (extracted) or `value`. An empty result
 * leaves the tenant unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"

struct tenant_stage {
	char *label, *source, *value;
};

static const char *const tenant_keys[] = {"label", "source", "value", NULL};

static void tenant_free(void *state)
{
	struct tenant_stage *s = state;
	free(s->label);
	free(s->source);
	free(s->value);
	free(s);
}

static int tenant_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                         struct lf_error *err)
{
	if (lf_ymap_check(cfg, ctx->path, tenant_keys, err) < 0)
		return -1;
	struct tenant_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	if (lf_ymap_str(cfg, ctx->path, "label", &s->label, err) < 0 ||
	    lf_ymap_str(cfg, ctx->path, "source", &s->source, err) < 0 ||
	    lf_ymap_str(cfg, ctx->path, "value", &s->value, err) < 0) {
		tenant_free(s);
		return -1;
	}
	int set = (s->label && *s->label) + (s->source && *s->source) + (s->value && *s->value);
	if (set == 0) {
		tenant_free(s);
		return lf_y_err(err, cfg, ctx->path, "label, source or value config are required");
	}
	if (set > 1) {
		tenant_free(s);
		return lf_y_err(err, cfg, ctx->path,
		                "label, source and value are mutually exclusive: you should set "
		                "source, value or label but not all");
	}
	*state = s;
	return 0;
}

static enum lf_pipe_result tenant_process(void *state, struct lf_entry *e,
                                          const struct lf_chain *rest)
{
	(void)rest;
	struct tenant_stage *s = state;
	const char *id;
	if (s->source && *s->source)
		id = lf_extracted_get(e, s->source);
	else if (s->label && *s->label)
		id = lf_labels_get(&e->labels, s->label);
	else
		id = s->value;
	if (id && *id)
		lf_labels_set(&e->labels, LF_TENANT_LABEL, id);
	return LF_PIPE_EMITTED;
}

static void tenant_reads(void *state, struct lf_keyset *ks)
{
	struct tenant_stage *s = state;
	if (s->source && *s->source)
		lf_keyset_add(ks, s->source);
}

const struct lf_stage_ops lf_stage_tenant = {
        .kind = "tenant",
        .create = tenant_create,
        .process = tenant_process,
        .free = tenant_free,
        .reads = tenant_reads,
};
