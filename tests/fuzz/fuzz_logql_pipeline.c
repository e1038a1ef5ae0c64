/* fuzz_logql_pipeline.c — the LogQL log pipeline (store/logql/pipeline.c):
 * the text after a stream selector of every log query the store answers.
 *
 * Input: pipeline text, optionally followed by a NUL byte and a log line
 * that is run through the parsed pipeline. Properties:
 *   - parse succeeds, or fails with a message and no pipeline (in both the
 *     log and the metric mode; the metric mode accepts a superset);
 *   - render -> parse -> render is a fixed point, and a clone renders the
 *     same text (clones are made from the rendering);
 *   - processing the line twice, and through the clone, gives the same
 *     keep/drop, output line and output labels (buffers reused across calls
 *     must not leak state); output labels are sorted with unique names;
 *   - a pipeline of line filters only never changes the labels or the line.
 */
#include "fuzz.h"

#include "pipeline.h"

static void check_out(const struct lf_labels *ls)
{
	for (size_t i = 1; i < ls->n; i++)
		FUZZ_CHECK(strcmp(ls->v[i - 1].name, ls->v[i].name) < 0, "labels not sorted: %s %s",
		           ls->v[i - 1].name, ls->v[i].name);
}

struct snap {
	int keep;
	struct lf_buf line, labels;
	bool has_value;
	double value;
};

static void run(struct lf_lq_pipeline *p, const char *line, size_t n, const struct lf_labels *st,
                struct snap *s)
{
	struct lf_lq_out o;
	s->keep = lf_lq_pipeline_process(p, 1700000000000000000, line, n, st, &o);
	FUZZ_CHECK(s->keep == 0 || s->keep == 1, "process returned %d", s->keep);
	lf_buf_reset(&s->line);
	lf_buf_reset(&s->labels);
	if (s->keep != 1)
		return;
	check_out(o.labels);
	lf_buf_append(&s->line, o.line, o.len);
	lf_labels_render(o.labels, &s->labels);
	s->has_value = o.has_value;
	s->value = o.value;
}

static void same(const struct snap *a, const struct snap *b, const char *what)
{
	FUZZ_CHECK(a->keep == b->keep, "%s: keep %d vs %d", what, a->keep, b->keep);
	FUZZ_CHECK(a->line.len == b->line.len &&
	                   (!a->line.len || !memcmp(a->line.data, b->line.data, a->line.len)),
	           "%s: lines differ", what);
	FUZZ_CHECK(a->labels.len == b->labels.len &&
	                   (!a->labels.len || !memcmp(a->labels.data, b->labels.data, a->labels.len)),
	           "%s: labels differ: %s vs %s", what, a->labels.data, b->labels.data);
	FUZZ_CHECK(a->has_value == b->has_value, "%s: has_value differs", what);
}

static void one(const char *q, size_t qn, const char *line, size_t ln, unsigned flags,
                bool *parsed)
{
	struct lf_lq_pipeline *p = NULL;
	struct lf_error err = {{0}};
	*parsed = false;
	if (lf_lq_pipeline_parse_str(q, qn, flags, &p, &err) < 0) {
		FUZZ_CHECK(p == NULL, "failed parse returned a pipeline");
		FUZZ_CHECK(err.msg[0], "parse failed without a message");
		return;
	}
	*parsed = true;
	struct lf_buf r1 = LF_BUF_INIT, r2 = LF_BUF_INIT;
	FUZZ_CHECK(lf_lq_pipeline_render(p, &r1) == 0, "render failed");
	struct lf_lq_pipeline *p2 = NULL;
	FUZZ_CHECK(lf_lq_pipeline_parse_str(r1.data ? r1.data : "", r1.len, flags, &p2, &err) == 0,
	           "rendering `%s` does not parse: %s", r1.data, err.msg);
	lf_lq_pipeline_render(p2, &r2);
	FUZZ_CHECK(r1.len == r2.len && (!r1.len || !strcmp(r1.data, r2.data)),
	           "render not a fixed point: `%s` -> `%s`", r1.data, r2.data);
	struct lf_lq_pipeline *c = lf_lq_pipeline_clone(p);
	FUZZ_CHECK(c != NULL, "clone failed");

	struct lf_labels st = LF_LABELS_INIT;
	lf_labels_set(&st, "app", "fuzz");
	lf_labels_set(&st, "level", "info");
	struct snap a = {0}, b = {0}, d = {0};
	run(p, line, ln, &st, &a);
	run(p, "other", 5, &st, &b);
	run(p, line, ln, &st, &b);
	same(&a, &b, "second run");
	run(c, line, ln, &st, &d);
	same(&a, &d, "clone");
	if (lf_lq_pipeline_is_filter_only(p) && a.keep == 1) {
		FUZZ_CHECK(a.line.len == ln && (!ln || !memcmp(a.line.data, line, ln)),
		           "filter-only pipeline changed the line");
		FUZZ_CHECK(!strcmp(a.labels.data, "{app=\"fuzz\", level=\"info\"}"),
		           "filter-only pipeline changed labels: %s", a.labels.data);
	}
	lf_buf_free(&a.line);
	lf_buf_free(&a.labels);
	lf_buf_free(&b.line);
	lf_buf_free(&b.labels);
	lf_buf_free(&d.line);
	lf_buf_free(&d.labels);
	lf_labels_free(&st);
	lf_buf_free(&r1);
	lf_buf_free(&r2);
	lf_lq_pipeline_free(c);
	lf_lq_pipeline_free(p2);
	lf_lq_pipeline_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nul = memchr(s, '\0', size);
	size_t qn = nul ? (size_t)(nul - s) : size;
	const char *line = nul ? nul + 1 : "";
	size_t ln = nul ? size - qn - 1 : 0;
	if (qn > 4096)
		return 0;
	bool log_ok, metric_ok;
	one(s, qn, line, ln, 0, &log_ok);
	one(s, qn, line, ln, LF_LQ_PIPE_METRIC, &metric_ok);
	FUZZ_CHECK(!log_ok || metric_ok, "accepted as a log pipeline but not as a metric one");
	return 0;
}
