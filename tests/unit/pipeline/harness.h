/* harness.h — helpers for the pipeline unit tests: build a pipeline from
 * YAML text, push lines with a label set, collect what comes out. */
#ifndef LF_TEST_PIPELINE_HARNESS_H
#define LF_TEST_PIPELINE_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../common/metrics.h"
#include "../../../common/yamlcfg.h"
#include "entry.h"
#include "pipeline.h"

#define MAX_OUT 256

struct h {
	struct lf_ydoc *doc;
	struct lf_pipeline *p;
	struct lf_metrics *reg;
	struct lf_entry out[MAX_OUT];
	size_t n;
	struct lf_entry in;
	uint64_t seq;
};

static __attribute__((unused)) void h_emit(void *ctx, struct lf_entry *e)
{
	struct h *h = ctx;
	assert_true(h->n < MAX_OUT);
	lf_entry_init(&h->out[h->n]);
	assert_int_equal(lf_entry_copy(&h->out[h->n], e), 0);
	h->n++;
}

/* Builds; on failure returns -1 with the message in err. */
static __attribute__((unused)) int h_try(struct h *h, const char *yaml, struct lf_error *err)
{
	memset(h, 0, sizeof *h);
	lf_entry_init(&h->in);
	h->reg = lf_metrics_new();
	if (lf_ydoc_load_string(yaml, strlen(yaml), "test.yaml", false, &h->doc, err) < 0)
		return -1;
	struct lf_pipeline_env env = {.metrics = h->reg, .job_name = "testjob"};
	return lf_pipeline_new(lf_ydoc_root(h->doc), &env, &h->p, err);
}

/* Builds yaml as is. */
static __attribute__((unused)) void h_new_raw(struct h *h, const char *yaml)
{
	struct lf_error err = {{0}};
	if (h_try(h, yaml, &err) < 0)
		fail_msg("pipeline build failed: %s", err.msg);
}

/* Builds yaml plus a final stage that reads every extracted value (a
 * template), so that tests can inspect the whole extracted map: stages skip
 * values no later stage reads. */
static __attribute__((unused)) void h_new(struct h *h, const char *yaml)
{
	size_t n = strlen(yaml);
	char *full = malloc(n + 128);
	assert_non_null(full);
	snprintf(full, n + 128, "%s%s- template: {source: __h, template: ''}\n", yaml,
	         n && yaml[n - 1] != '\n' ? "\n" : "");
	h_new_raw(h, full);
	free(full);
}

static __attribute__((unused)) void h_clear_out(struct h *h)
{
	for (size_t i = 0; i < h->n; i++)
		lf_entry_free(&h->out[i]);
	h->n = 0;
}

static __attribute__((unused)) void h_free(struct h *h)
{
	h_clear_out(h);
	lf_pipeline_free(h->p);
	lf_ydoc_free(h->doc);
	lf_entry_free(&h->in);
	lf_metrics_free(h->reg);
}

/* Pushes one line with labels (text form, e.g. `{job="x"}`) at time ts. */
static __attribute__((unused)) enum lf_pipe_result h_push_ts(struct h *h, const char *labels,
                                                             const char *line, int64_t ts)
{
	struct lf_error err;
	lf_entry_reset(&h->in);
	if (lf_labels_parse(labels, strlen(labels), &h->in.labels, &err) < 0)
		fail_msg("labels %s: %s", labels, err.msg);
	lf_buf_append(&h->in.line, line, strlen(line));
	h->in.ts_ns = ts;
	h->seq++;
	h->in.origin = (void *)(uintptr_t)h->seq;
	h->in.seq_first = h->in.seq_last = h->seq;
	return lf_pipeline_process(h->p, &h->in, h_emit, h);
}

#define TS0 INT64_C(1000000000000000000) /* a "read time" for tests */

static __attribute__((unused)) enum lf_pipe_result h_push(struct h *h, const char *labels,
                                                          const char *line)
{
	return h_push_ts(h, labels, line, TS0);
}

static __attribute__((unused)) void h_flush(struct h *h)
{
	lf_pipeline_flush(h->p, h_emit, h);
}

/* Rendered labels of output i. */
static __attribute__((unused)) const char *h_labels(struct h *h, size_t i)
{
	static char buf[4096];
	struct lf_buf b = LF_BUF_INIT;
	lf_labels_render(&h->out[i].labels, &b);
	snprintf(buf, sizeof buf, "%s", b.data ? b.data : "");
	lf_buf_free(&b);
	return buf;
}

static __attribute__((unused)) const char *h_sm(struct h *h, size_t i)
{
	static char buf[4096];
	struct lf_buf b = LF_BUF_INIT;
	lf_labels_render(&h->out[i].sm, &b);
	snprintf(buf, sizeof buf, "%s", b.data ? b.data : "");
	lf_buf_free(&b);
	return buf;
}

static __attribute__((unused)) const char *h_line(struct h *h, size_t i)
{
	return h->out[i].line.data ? h->out[i].line.data : "";
}

static __attribute__((unused)) const char *h_ex(struct h *h, size_t i, const char *key)
{
	return lf_labels_get(&h->out[i].extracted, key);
}

static __attribute__((unused)) double h_drops(struct h *h, const char *reason)
{
	struct lf_metric_family *f = lf_metrics_family(
	        h->reg, LF_METRIC_COUNTER, "logentry_dropped_lines_total",
	        "Lines dropped by a pipeline stage, by reason",
	        (const char *const[]){"reason", NULL}, NULL, 0);
	return lf_metric_value(f, (const char *const[]){reason});
}

static __attribute__((unused)) char *h_render_metrics(struct h *h)
{
	struct lf_buf b = LF_BUF_INIT;
	lf_metrics_render(h->reg, &b);
	return b.data ? b.data : strdup("");
}

#endif
