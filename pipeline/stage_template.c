/* stage_template.c — `template: {source, template}`: renders a Go
 * text/template (common/template.h, with Promtail's functions) over the
 * extracted map plus .Value (the source's value) and .Entry (the line), and
 * stores the result in extracted[source]; an empty result removes the key.
 * An execution error leaves the value unchanged (counted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/template.h"
#include "stage.h"

struct template_stage {
	char *source;
	struct lf_template *t;
	struct lf_buf out;
	struct lf_pipe_shared *sh;
};

struct tmpl_ctx {
	const struct lf_entry *e;
	const char *value; /* extracted[source] or NULL */
};

static const char *const template_keys[] = {"source", "template", NULL};

static bool lookup(void *ctx, const char *name, size_t name_len, const char **val, size_t *len)
{
	struct tmpl_ctx *c = ctx;
	if (name_len == 5 && memcmp(name, "Entry", 5) == 0) {
		*val = c->e->line.data ? c->e->line.data : "";
		*len = c->e->line.len;
		return true;
	}
	if (name_len == 5 && memcmp(name, "Value", 5) == 0 && c->value) {
		*val = c->value;
		*len = strlen(c->value);
		return true;
	}
	const char *v = lf_labels_getn(&c->e->extracted, name, name_len);
	if (!v)
		return false;
	*val = v;
	*len = strlen(v);
	return true;
}

static void template_free(void *state)
{
	struct template_stage *s = state;
	free(s->source);
	lf_template_free(s->t);
	lf_buf_free(&s->out);
	free(s);
}

static int template_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                           struct lf_error *err)
{
	if (!cfg || cfg->kind == LF_Y_NULL)
		return lf_y_err(err, cfg, ctx->path, "template stage config cannot be empty");
	if (lf_ymap_check(cfg, ctx->path, template_keys, err) < 0)
		return -1;
	struct template_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->sh = ctx->sh;
	char *text = NULL;
	if (lf_ymap_str(cfg, ctx->path, "source", &s->source, err) < 0 ||
	    lf_ymap_str(cfg, ctx->path, "template", &text, err) < 0)
		goto fail;
	if (!s->source || !*s->source) {
		lf_y_err(err, cfg, ctx->path, "template source value is required");
		goto fail;
	}
	struct lf_error terr;
	if (lf_template_new("pipeline_template", text ? text : "", 0, &s->t, &terr) < 0) {
		const struct lf_ynode *tn = lf_ymap_get(cfg, "template");
		lf_y_err(err, tn ? tn : cfg, ctx->path, "%s", terr.msg);
		goto fail;
	}
	free(text);
	*state = s;
	return 0;
fail:
	free(text);
	template_free(s);
	return -1;
}

static enum lf_pipe_result template_process(void *state, struct lf_entry *e,
                                            const struct lf_chain *rest)
{
	(void)rest;
	struct template_stage *s = state;
	struct tmpl_ctx c = {.e = e, .value = lf_extracted_get(e, s->source)};
	lf_buf_reset(&s->out);
	if (lf_template_exec(s->t, lookup, &c, &s->out, NULL) < 0) {
		lf_stage_count_error(s->sh, "template", "template_exec");
		return LF_PIPE_EMITTED;
	}
	if (s->out.len == 0)
		lf_labels_del(&e->extracted, s->source);
	else
		lf_labels_setn(&e->extracted, s->source, strlen(s->source), s->out.data,
		               s->out.len);
	return LF_PIPE_EMITTED;
}

const struct lf_stage_ops lf_stage_template = {
        .kind = "template",
        .create = template_create,
        .process = template_process,
        .free = template_free,
};
