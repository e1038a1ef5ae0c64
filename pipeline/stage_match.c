/* stage_match.c — `match: {selector, stages, action, pipeline_name,
 * drop_counter_reason}`: entries whose labels (and line, with line filters)
 * match the LogQL selector run through the nested `stages` (action keep,
 * the default) or are dropped (action drop; counted with
 * drop_counter_reason, default "match_stage"). Others continue unchanged.
 * As in Promtail, the nested pipeline starts by copying the labels into the
 * extracted map. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/selector.h"
#include "stage.h"

struct match_stage {
	struct lf_selector *sel;
	bool drop;
	char *reason;
	struct lf_stage_list sub;
	struct lf_pipe_shared *sh;
};

static const char *const match_keys[] = {
        "selector", "stages", "action", "pipeline_name", "drop_counter_reason", NULL};

static void match_free(void *state)
{
	struct match_stage *s = state;
	lf_selector_free(s->sel);
	free(s->reason);
	lf_stage_list_free(&s->sub);
	free(s);
}

static int match_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                        struct lf_error *err)
{
	if (!cfg || cfg->kind == LF_Y_NULL)
		return lf_y_err(err, cfg, ctx->path, "match stage config cannot be empty");
	if (lf_ymap_check(cfg, ctx->path, match_keys, err) < 0)
		return -1;
	struct match_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->sh = ctx->sh;
	char *selector = NULL, *action = NULL, *pname = NULL;
	if (lf_ymap_str(cfg, ctx->path, "selector", &selector, err) < 0 ||
	    lf_ymap_str(cfg, ctx->path, "action", &action, err) < 0 ||
	    lf_ymap_str(cfg, ctx->path, "pipeline_name", &pname, err) < 0 ||
	    lf_ymap_str(cfg, ctx->path, "drop_counter_reason", &s->reason, err) < 0)
		goto fail;
	if (pname && !*pname) {
		lf_y_err(err, lf_ymap_get(cfg, "pipeline_name"), ctx->path,
		         "match stage pipeline name can be omitted but cannot be an empty string");
		goto fail;
	}
	if (!selector || !*selector) {
		lf_y_err(err, cfg, ctx->path, "selector statement required for match stage");
		goto fail;
	}
	if (!action || !*action || strcmp(action, "keep") == 0) {
		s->drop = false;
	} else if (strcmp(action, "drop") == 0) {
		s->drop = true;
	} else {
		lf_y_err(err, lf_ymap_get(cfg, "action"), ctx->path,
		         "match stage action should be 'keep' or 'drop'");
		goto fail;
	}
	const struct lf_ynode *stages = lf_ymap_get(cfg, "stages");
	size_t nst = stages && stages->kind == LF_Y_SEQ ? stages->n : 0;
	if (!s->drop && nst == 0) {
		lf_y_err(err, cfg, ctx->path,
		         "match stage requires at least one additional stage to be defined in "
		         "'- stages'");
		goto fail;
	}
	if (s->drop && nst != 0) {
		lf_y_err(err, stages, ctx->path,
		         "match stage configured to drop entries cannot contains stages");
		goto fail;
	}
	struct lf_error serr;
	if (lf_selector_parse(selector, strlen(selector), 0, &s->sel, &serr) < 0) {
		lf_y_err(err, lf_ymap_get(cfg, "selector"), ctx->path,
		         "invalid selector syntax for match stage: %s", serr.msg);
		goto fail;
	}
	if (!s->drop) {
		char sub[600];
		snprintf(sub, sizeof sub, "%s.stages", ctx->path);
		if (lf_stage_list_build(stages, sub, ctx->sh, &s->sub, err) < 0)
			goto fail;
	}
	if (!s->reason || !*s->reason) {
		free(s->reason);
		s->reason = strdup("match_stage");
	}
	free(selector);
	free(action);
	free(pname);
	*state = s;
	return 0;
fail:
	free(selector);
	free(action);
	free(pname);
	match_free(s);
	return -1;
}

static enum lf_pipe_result match_process(void *state, struct lf_entry *e,
                                         const struct lf_chain *rest)
{
	struct match_stage *s = state;
	if (!lf_selector_match_labels(s->sel, &e->labels) ||
	    !lf_selector_match_line(s->sel, e->line.data ? e->line.data : "", e->line.len))
		return LF_PIPE_EMITTED;
	if (s->drop) {
		lf_stage_count_drop(s->sh, s->reason);
		return LF_PIPE_DROPPED;
	}
	return lf_stage_run_nested(&s->sub, e, rest);
}

static void match_tick(void *state, int64_t now_ns, const struct lf_chain *rest)
{
	struct match_stage *s = state;
	struct lf_chain c = {.list = &s->sub, .from = 0, .parent = rest};
	lf_stage_list_tick(&s->sub, now_ns, &c);
}

static void match_flush(void *state, const struct lf_chain *rest)
{
	struct match_stage *s = state;
	struct lf_chain c = {.list = &s->sub, .from = 0, .parent = rest};
	lf_stage_list_flush(&s->sub, &c);
}

static void match_reads(void *state, struct lf_keyset *ks)
{
	struct match_stage *s = state;
	if (!s->drop)
		lf_stage_list_reads(&s->sub, ks);
}

const struct lf_stage_ops lf_stage_match = {
        .kind = "match",
        .create = match_create,
        .process = match_process,
        .tick = match_tick,
        .flush = match_flush,
        .free = match_free,
        .reads = match_reads,
};
