/* test_metric.c — golden tests of LogQL metric queries (store/logql/meval.h
 * over an in-memory source): each case is a query, its HTTP parameters and
 * the exact `"resultType":...,"result":...` JSON expected from Loki 2.8,
 * worked out by hand from the semantics in the reference (3.2-3.8). Also
 * Go float formatting, parse/validation errors and limits. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "meval.h"
#include "mparse.h"
#include "timeutil.h"

/* T = 1700000040 s: a multiple of 60 s, 20 min past a 30 min boundary
 * (1699999200), so 1-minute grids in [T, T+600] are not split. */
#define T  INT64_C(1700000040)
#define NS LF_NS_PER_SEC

struct ent {
	int64_t off_s; /* seconds after T */
	const char *line;
};
struct mstream {
	const char *labels;
	struct ent e[8];
};

static const struct mstream data[] = {
        {"{app=\"a\", job=\"j\"}",
         {{10, "info x"}, {20, "error y"}, {30, "error zz"}, {70, "info"}, {0, NULL}}},
        {"{app=\"b\", job=\"j\"}", {{15, "error b"}, {65, "warn"}, {0, NULL}}},
        {"{job=\"edge\"}", {{60, "at 60"}, {120, "at 120"}, {0, NULL}}},
        {"{job=\"u\", v=\"2.5\"}", {{10, "x"}, {20, "y"}, {0, NULL}}},
        {"{job=\"u\", v=\"4\"}", {{30, "z"}, {0, NULL}}},
        {"{job=\"bad\", v=\"abc\"}", {{10, "x"}, {0, NULL}}},
        {"{job=\"big\"}", {{1, "x"}, {0, NULL}}},
        /* out of order, and two samples at the same time (arrival order kept) */
        {"{job=\"ooo\"}",
         {{30, "v=3"}, {10, "v=1"}, {40, "v=5"}, {20, "v=2"}, {40, "v=6"}, {0, NULL}}},
        {"{job=\"lf\"}", {{5, "level=error dur=1.5s"}, {6, "level=info dur=500ms"}, {0, NULL}}},
};

static int mem_scan(void *ctx, const struct lf_selector *sel, const struct lf_line_filter *lfs,
                    size_t nlf, int64_t from, int64_t to, lf_mq_entry_fn fn, void *fctx,
                    struct lf_query_stats *st, struct lf_error *err)
{
	(void)ctx;
	(void)lfs;
	(void)nlf;
	(void)err;
	int rc = 0;
	for (size_t i = 0; i < sizeof(data) / sizeof(data[0]) && rc == 0; i++) {
		struct lf_labels ls = LF_LABELS_INIT;
		struct lf_error perr;
		assert_int_equal(
		        lf_labels_parse(data[i].labels, strlen(data[i].labels), &ls, &perr), 0);
		if (lf_selector_match_labels(sel, &ls)) {
			for (const struct ent *e = data[i].e; e->line && rc == 0; e++) {
				int64_t ts = (T + e->off_s) * NS;
				if (ts < from || ts >= to)
					continue;
				st->head_lines++;
				rc = fn(fctx, (uint32_t)i, &ls, ts, e->line, strlen(e->line));
			}
		}
		lf_labels_free(&ls);
	}
	return rc;
}

static const struct lf_mq_source mem = {mem_scan, NULL};

struct gcase {
	const char *q;
	bool range;
	int64_t start, end; /* seconds after T (instant: start) */
	const char *step;
	const char *want; /* `"resultType":...,"result":[...]`, or an error prefix */
	int status;       /* 200, or the error status */
};

#define TS(x) #x
static const struct gcase cases[] = {
        /* range aggregations, step alignment, end-exclusive last step */
        {"count_over_time({job=\"j\"}[1m])", true, 60, 120, "60",
         "\"resultType\":\"matrix\",\"result\":["
         "{\"metric\":{\"app\":\"a\",\"job\":\"j\"},\"values\":[[1700000100,\"3\"],[1700000160,"
         "\"1\"]]},"
         "{\"metric\":{\"app\":\"b\",\"job\":\"j\"},\"values\":[[1700000100,\"1\"],[1700000160,"
         "\"1\"]]}]",
         200},
        /* the frontend floors start / ceils end to the step: 61..119 → 60..120 */
        {"count_over_time({job=\"j\"}[1m])", true, 61, 119, "1m",
         "\"resultType\":\"matrix\",\"result\":["
         "{\"metric\":{\"app\":\"a\",\"job\":\"j\"},\"values\":[[1700000100,\"3\"],[1700000160,"
         "\"1\"]]},"
         "{\"metric\":{\"app\":\"b\",\"job\":\"j\"},\"values\":[[1700000100,\"1\"],[1700000160,"
         "\"1\"]]}]",
         200},
        {"rate({job=\"j\"}[1m])", true, 60, 120, "60",
         "\"resultType\":\"matrix\",\"result\":["
         "{\"metric\":{\"app\":\"a\",\"job\":\"j\"},\"values\":[[1700000100,\"0.05\"],"
         "[1700000160,\"0.016666666666666666\"]]},"
         "{\"metric\":{\"app\":\"b\",\"job\":\"j\"},\"values\":[[1700000100,"
         "\"0.016666666666666666\"],[1700000160,\"0.016666666666666666\"]]}]",
         200},
        {"bytes_over_time({app=\"a\"}[1m])", true, 60, 120, "60",
         "\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"values\":[[1700000100,\"21\"],[1700000160,\"4\"]]}]",
         200},
        {"bytes_rate({app=\"a\"}[1m])", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"0.35\"]}]",
         200},
        /* a sample exactly at a step: counted there, except at the last
         * (end-exclusive) step; empty windows give no point */
        {"count_over_time({job=\"edge\"}[1m])", true, 60, 120, "60",
         "\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"job\":\"edge\"},\"values\":[["
         "1700000100,\"1\"]]}]",
         200},
        {"count_over_time({job=\"edge\"}[1m])", false, 120, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[]", 200},
        {"count_over_time({job=\"edge\"}[1m])", false, 121, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"edge\"},\"value\":["
         "1700000161,\"1\"]}]",
         200},
        /* offset: window (t-1m-1m, t-1m) */
        {"count_over_time({job=\"edge\"}[1m] offset 1m)", false, 121, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"edge\"},\"value\":["
         "1700000161,\"1\"]}]",
         200},
        /* a step of 30s over a 1m range: overlapping windows */
        {"count_over_time({app=\"a\"}[1m])", true, 30, 90, "30s",
         "\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"values\":[[1700000070,\"3\"],[1700000100,\"3\"],[1700000130,\"1\"]]}]",
         200},
        /* line filters after the range (Loki's `selector RANGE pipelineExpr`) */
        {"count_over_time({job=\"j\"}[1m] |= \"error\")", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"2\"]},{\"metric\":{\"app\":\"b\",\"job\":\"j\"},\"value\":["
         "1700000101,\"1\"]}]",
         200},
        /* line filter */
        {"count_over_time({job=\"j\"} |= \"error\" [1m])", true, 60, 120, "60",
         "\"resultType\":\"matrix\",\"result\":["
         "{\"metric\":{\"app\":\"a\",\"job\":\"j\"},\"values\":[[1700000100,\"2\"]]},"
         "{\"metric\":{\"app\":\"b\",\"job\":\"j\"},\"values\":[[1700000100,\"1\"]]}]",
         200},
        /* vector aggregations, by / without before or after */
        {"sum by (job) (count_over_time({job=\"j\"}[1m]))", true, 60, 120, "60",
         "\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"job\":\"j\"},\"values\":[["
         "1700000100,\"4\"],[1700000160,\"2\"]]}]",
         200},
        /* not fused with the range: a sum of per-series rates */
        {"sum by (job) (rate({job=\"j\"}[1m]))", true, 60, 120, "60",
         "\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"job\":\"j\"},\"values\":[["
         "1700000100,\"0.06666666666666667\"],[1700000160,\"0.03333333333333333\"]]}]",
         200},
        /* fused with the range: a high-cardinality parser label is summed away */
        {"sum by (level) (bytes_over_time({job=\"lf\"} | logfmt [1m]))", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"level\":\"error\"},\"value\":["
         "1700000101,\"20\"]},{\"metric\":{\"level\":\"info\"},\"value\":[1700000101,\"20\"]}]",
         200},
        {"sum(count_over_time({job=\"j\"}[1m])) without (app)", true, 60, 120, "60",
         "\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"job\":\"j\"},\"values\":[["
         "1700000100,\"4\"],[1700000160,\"2\"]]}]",
         200},
        {"sum(count_over_time({job=\"j\"}[1m]))", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1700000101,\"4\"]}]",
         200},
        {"avg(count_over_time({job=\"j\"}[1m]))", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1700000101,\"2\"]}]",
         200},
        {"count by (job) (count_over_time({job=\"j\"}[1m]))", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"j\"},\"value\":["
         "1700000101,\"2\"]}]",
         200},
        {"max(count_over_time({job=\"j\"}[1m]))", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1700000101,\"3\"]}]",
         200},
        {"stddev(count_over_time({job=\"j\"}[1m]))", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1700000101,\"1\"]}]",
         200},
        {"stdvar(count_over_time({job=\"j\"}[1m]))", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1700000101,\"1\"]}]",
         200},
        {"topk(1, count_over_time({job=\"j\"}[1m]))", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"3\"]}]",
         200},
        {"bottomk(1, count_over_time({job=\"j\"}[1m]))", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"b\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"1\"]}]",
         200},
        /* bottomk over a range: each step keeps its own series (a tie, 1
         * and 1 at the second step, goes to the smaller label set: Loki's
         * tie order is undefined) */
        {"bottomk(1, count_over_time({job=\"j\"}[1m]))", true, 60, 120, "60",
         "\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"values\":[[1700000160,\"1\"]]},"
         "{\"metric\":{\"app\":\"b\",\"job\":\"j\"},\"values\":[[1700000100,\"1\"]]}]",
         200},
        /* sort_desc keeps value order in an instant vector; sort ascending */
        {"sort(count_over_time({job=\"j\"}[1m]))", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"b\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"1\"]},{\"metric\":{\"app\":\"a\",\"job\":\"j\"},\"value\":["
         "1700000101,\"3\"]}]",
         200},
        {"sort_desc(count_over_time({job=\"j\"}[1m]))", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"3\"]},{\"metric\":{\"app\":\"b\",\"job\":\"j\"},\"value\":["
         "1700000101,\"1\"]}]",
         200},
        /* binary operators */
        {"sum by (job) (count_over_time({app=\"a\"}[1m])) / sum by (job) "
         "(count_over_time({app=\"b\"}[1m]))",
         true, 60, 120, "60",
         "\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"job\":\"j\"},\"values\":[["
         "1700000100,\"3\"],[1700000160,\"1\"]]}]",
         200},
        {"count_over_time({app=\"a\"}[1m]) - ignoring(app) count_over_time({app=\"b\"}[1m])", false,
         61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"j\"},\"value\":["
         "1700000101,\"2\"]}]",
         200},
        {"count_over_time({app=\"a\"}[1m]) - on(job) count_over_time({app=\"b\"}[1m])", false, 61,
         0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"j\"},\"value\":["
         "1700000101,\"2\"]}]",
         200},
        {"count_over_time({job=\"j\"}[1m]) * on(job) group_left sum by (job) "
         "(count_over_time({job=\"j\"}[1m]))",
         false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"12\"]},{\"metric\":{\"app\":\"b\",\"job\":\"j\"},\"value\":"
         "[1700000101,\"4\"]}]",
         200},
        /* group_left(team) copies team from the one side */
        {"count_over_time({job=\"j\"}[1m]) / on(job) group_left(team) label_replace(sum by (job) "
         "(count_over_time({job=\"j\"}[1m])), \"team\", \"t1\", \"job\", \".*\")",
         false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\","
         "\"team\":\"t1\"},\"value\":[1700000101,\"0.75\"]},{\"metric\":{\"app\":\"b\","
         "\"job\":\"j\",\"team\":\"t1\"},\"value\":[1700000101,\"0.25\"]}]",
         200},
        /* group_right: the right side is the "many" side; values stay lhs op rhs */
        {"sum by (job) (count_over_time({job=\"j\"}[1m])) / on(job) group_right "
         "count_over_time({job=\"j\"}[1m])",
         false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"1.3333333333333333\"]},{\"metric\":{\"app\":\"b\","
         "\"job\":\"j\"},\"value\":[1700000101,\"4\"]}]",
         200},
        {"count_over_time({job=\"j\"}[1m]) unless on(job) vector(1)", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"3\"]},{\"metric\":{\"app\":\"b\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"1\"]}]",
         200},
        {"count_over_time({job=\"j\"}[1m]) and on() vector(1)", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"3\"]},{\"metric\":{\"app\":\"b\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"1\"]}]",
         200},
        {"count_over_time({job=\"j\"}[1m]) * on(job) group_left count_over_time({job=\"j\"}[1m])",
         false, 61, 0, NULL,
         "found duplicate series on the right hand-side;many-to-many matching not allowed", 500},
        {"count_over_time({job=\"j\"}[1m]) > 1", true, 60, 120, "60",
         "\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"values\":[[1700000100,\"3\"]]}]",
         200},
        {"count_over_time({job=\"j\"}[1m]) > bool 1", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"1\"]},{\"metric\":{\"app\":\"b\",\"job\":\"j\"},\"value\":["
         "1700000101,\"0\"]}]",
         200},
        /* literal on the left of a filter: the literal's value (3.5) */
        {"2 < count_over_time({job=\"j\"}[1m])", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"2\"]}]",
         200},
        {"count_over_time({job=\"j\"}[1m]) and count_over_time({app=\"a\"}[1m])", false, 61, 0,
         NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"3\"]}]",
         200},
        {"count_over_time({job=\"j\"}[1m]) unless count_over_time({app=\"a\"}[1m])", false, 61, 0,
         NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"b\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"1\"]}]",
         200},
        {"count_over_time({app=\"a\"}[1m]) or count_over_time({job=\"edge\"}[1m])", false, 121, 0,
         NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"value\":[1700000161,\"1\"]},{\"metric\":{\"job\":\"edge\"},\"value\":[1700000161,"
         "\"1\"]}]",
         200},
        /* precedence: * before +, ^ right-associative, literals folded */
        {"count_over_time({app=\"a\"}[1m]) + 2 * 3 ^ 2 ^ 0", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"9\"]}]",
         200},
        /* Go float formatting: NaN (x/0), tiny, huge */
        {"count_over_time({app=\"a\"}[1m]) / 0", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"NaN\"]}]",
         200},
        {"count_over_time({app=\"a\"}[1m]) * 1e21", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"3000000000000000000000\"]}]",
         200},
        {"count_over_time({app=\"a\"}[1m]) / 1e7", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\"},"
         "\"value\":[1700000101,\"0.0000003\"]}]",
         200},
        /* absent_over_time: 1 with the `=` labels where there is no sample */
        {"absent_over_time({job=\"nope\", x=~\"y\"}[1m])", true, 60, 120, "60",
         "\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"job\":\"nope\"},\"values\":[["
         "1700000100,\"1\"],[1700000160,\"1\"]]}]",
         200},
        {"absent_over_time({job=\"edge\"}[1m])", true, 60, 120, "60",
         "\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"job\":\"edge\"},\"values\":[["
         "1700000160,\"1\"]]}]",
         200},
        /* vector(), literals, label_replace */
        {"vector(1)+vector(1)", false, 0, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1700000040,\"2\"]}]",
         200},
        {"vector(1)+vector(1)", true, 60, 120, "60",
         "\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":[[1700000100,\"2\"],["
         "1700000160,\"2\"]]}]",
         200},
        {"2 * (3 + 4) - 2 ^ 3 / 4", false, 0, 0, NULL,
         "\"resultType\":\"scalar\",\"result\":[1700000040,\"12\"]", 200},
        {"0.1", false, 0, 0, NULL, "\"resultType\":\"scalar\",\"result\":[1700000040,\"0.1\"]",
         200},
        {"vector(1) +", false, 0, 0, NULL,
         "parse error at line 1, col 12: syntax error: "
         "unexpected $end",
         400},
        {"1 > 2", false, 0, 0, NULL, "\"resultType\":\"scalar\",\"result\":[1700000040,\"0\"]",
         200},
        {"label_replace(count_over_time({app=\"a\"}[1m]), \"x\", \"v-$1\", \"app\", \"(.*)\")",
         false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"app\":\"a\",\"job\":\"j\",\"x\":"
         "\"v-a\"},\"value\":[1700000101,\"3\"]}]",
         200},
        /* unwrap: the unwrapped label leaves the series (streams merge);
         * `by` groups the samples before aggregating */
        {"sum_over_time({job=\"u\"} | unwrap v [1m])", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"u\"},\"value\":["
         "1700000101,\"9\"]}]",
         200},
        {"avg_over_time({job=\"u\"} | unwrap v [1m]) by (job)", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"u\"},\"value\":["
         "1700000101,\"3\"]}]",
         200},
        {"quantile_over_time(0.5, {job=\"u\"} | unwrap v [1m])", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"u\"},\"value\":["
         "1700000101,\"2.5\"]}]",
         200},
        {"max_over_time({job=\"u\"} | unwrap v [1m]) by (v)", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"v\":\"2.5\"},\"value\":["
         "1700000101,\"2.5\"]},{\"metric\":{\"v\":\"4\"},\"value\":[1700000101,\"4\"]}]",
         200},
        {"first_over_time({job=\"u\"} | unwrap v [1m])", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"u\"},\"value\":["
         "1700000101,\"2.5\"]}]",
         200},
        {"last_over_time({job=\"u\"} | unwrap v [1m])", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"u\"},\"value\":["
         "1700000101,\"4\"]}]",
         200},
        {"stddev_over_time({job=\"u\"} | unwrap v [1m])", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"u\"},\"value\":["
         "1700000101,\"0.7071067811865476\"]}]",
         200},
        {"rate({job=\"u\"} | unwrap v [1m])", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"u\"},\"value\":["
         "1700000101,\"0.15\"]}]",
         200},
        {"first_over_time({job=\"ooo\"} | logfmt | unwrap v [1m])", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"ooo\"},\"value\":["
         "1700000101,\"1\"]}]",
         200},
        {"last_over_time({job=\"ooo\"} | logfmt | unwrap v [1m])", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"ooo\"},\"value\":["
         "1700000101,\"6\"]}]",
         200},
        {"rate_counter({job=\"ooo\"} | logfmt | unwrap v [1m])", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"ooo\"},\"value\":["
         "1700000101,\"0.1\"]}]",
         200},
        /* errors */
        {"sum_over_time({job=\"bad\"} | unwrap v [1m])", false, 61, 0, NULL,
         "pipeline error: 'SampleExtractionErr' for series: '{__error__=\"SampleExtractionErr\", "
         "__error_details__=\"strconv.ParseFloat: parsing \\\"abc\\\": invalid syntax\", "
         "job=\"bad\", v=\"abc\"}'.\nUse a label filter to intentionally skip this error. (e.g | "
         "__error__!=\"SampleExtractionErr\").\nTo skip all potential errors you can match empty "
         "errors.(e.g __error__=\"\")\nThe label filter can also be specified after unwrap. (e.g | "
         "unwrap latency | __error__=\"\" )\n",
         400},
        {"sum_over_time({job=\"bad\"} | unwrap v | __error__=\"\" [1m])", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[]", 200},
        /* with the log pipeline: parsers, extracted labels, duration() */
        {"sum by (level) (count_over_time({job=\"lf\"} | logfmt [1m]))", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"level\":\"error\"},\"value\":["
         "1700000101,\"1\"]},{\"metric\":{\"level\":\"info\"},\"value\":[1700000101,\"1\"]}]",
         200},
        {"sum_over_time({job=\"lf\"} | logfmt | unwrap duration(dur) [1m])", false, 61, 0, NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"job\":\"lf\",\"level\":"
         "\"error\"},\"value\":[1700000101,\"1.5\"]},{\"metric\":{\"job\":\"lf\",\"level\":"
         "\"info\"},\"value\":[1700000101,\"0.5\"]}]",
         200},
        {"bytes_over_time({job=\"lf\"} | logfmt | line_format \"{{.level}}\" [1m])", false, 61, 0,
         NULL,
         "\"resultType\":\"vector\",\"result\":[{\"metric\":{\"dur\":\"1.5s\",\"job\":\"lf\","
         "\"level\":\"error\"},\"value\":[1700000101,\"5\"]},{\"metric\":{\"dur\":\"500ms\","
         "\"job\":\"lf\",\"level\":\"info\"},\"value\":[1700000101,\"4\"]}]",
         200},
        {"sum_over_time({job=\"j\"}[1m])", false, 61, 0, NULL,
         "parse error : invalid aggregation sum_over_time without unwrap", 400},
        {"count_over_time({job=\"u\"} | unwrap v [1m])", false, 61, 0, NULL,
         "parse error : invalid aggregation count_over_time with unwrap", 400},
        {"count_over_time({job=\"j\"}[1m]) by (app)", false, 61, 0, NULL,
         "parse error : grouping not allowed for count_over_time aggregation", 400},
        {"quantile_over_time({job=\"u\"} | unwrap v [1m])", false, 61, 0, NULL,
         "parse error : parameter required for operation quantile_over_time", 400},
        {"topk(count_over_time({job=\"j\"}[1m]))", false, 61, 0, NULL,
         "parse error : parameter required for operation topk", 400},
        {"topk(1.5, count_over_time({job=\"j\"}[1m]))", false, 61, 0, NULL,
         "parse error : invalid parameter topk(1.5,", 400},
        {"topk(0, count_over_time({job=\"j\"}[1m]))", false, 61, 0, NULL,
         "parse error : invalid parameter (must be greater than 0) topk(0", 400},
        {"sum(3, count_over_time({job=\"j\"}[1m]))", false, 61, 0, NULL,
         "parse error : unsupported parameter for operation sum(3,", 400},
        {"1 or vector(1)", false, 61, 0, NULL,
         "parse error : unexpected literal for left leg of logical/set binary operation (or): "
         "1.000000",
         400},
        {"sum(count_over_time({job=\"j\"}[1m])", false, 61, 0, NULL,
         "parse error at line 1, col 35: syntax error: unexpected $end", 400},
        {"count_over_time({job=\"j\"}[1m", false, 61, 0, NULL,
         "parse error at line 0, col 26: missing closing ']' in duration", 400},
        {"count_over_time({job=\"j\"}[5minutes])", false, 61, 0, NULL,
         "parse error at line 0, col 26: not a valid duration string: \"5minutes\"", 400},
        /* texts and positions from Loki's own parser tests */
        {"rate({ foo = \"bar\" }[5minutes])", false, 61, 0, NULL,
         "parse error at line 0, col 21: not a valid duration string: \"5minutes\"", 400},
        {"rate({ foo = \"bar\" }[5)", false, 61, 0, NULL,
         "parse error at line 0, col 21: missing closing ']' in duration", 400},
        {"min({ foo = \"bar\" }[5m])", false, 61, 0, NULL,
         "parse error at line 0, col 20: syntax error: unexpected RANGE", 400},
        {"stddev({ foo = \"bar\" })", false, 61, 0, NULL,
         "parse error at line 1, col 23: syntax error: unexpected )", 400},
        {"unk({ foo = \"bar\" }[5m])", false, 61, 0, NULL,
         "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER", 400},
        {"bottomk(he,count_over_time({ foo = \"bar\" }[5h]))", false, 61, 0, NULL,
         "parse error at line 1, col 9: syntax error: unexpected IDENTIFIER", 400},
        {"label_replace(rate({ foo = \"bar\" }[5m]),\"\")", false, 61, 0, NULL,
         "parse error at line 1, col 43: syntax error: unexpected ), expecting ,", 400},
        {"label_replace(rate({ foo = \"bar\" }[5m]),\"foo\",\"$1\",\"bar\",\"^^^^x43\\\\q\")",
         false, 61, 0, NULL,
         "parse error : invalid regex in label_replace: error parsing regexp: invalid escape "
         "sequence: `\\q`",
         400},
        {"sum(count_over_time({foo=\"bar\"}[5m])) by (foo) + 1 or 1", false, 61, 0, NULL,
         "parse error : unexpected literal for right leg of logical/set binary operation (or): "
         "1.000000",
         400},
        {"absent_over_time({ foo = \"bar\" }[5h]) by (foo)", false, 61, 0, NULL,
         "parse error : grouping not allowed for absent_over_time aggregation", 400},
        {"1 + {foo=\"bar\"} |= \"x\"", false, 61, 0, NULL,
         "parse error : unexpected type for right leg of binary operation (+): "
         "*syntax.PipelineExpr",
         400},
        {"({foo=\"bar\"}) / count_over_time({foo=\"bar\"}[5m])", false, 61, 0, NULL,
         "parse error : unexpected type for left leg of binary operation (/): "
         "*syntax.MatchersExpr",
         400},
        {"-vector(5) % 3", false, 0, 0, NULL, "parse error at line 1, col 2: syntax error", 400},
        {"count_over_time({job=\"j\"}[1m]) + count_over_time({job=\"j\"}[1m]) * on() "
         "count_over_time({job=\"j\"}[1m])",
         false, 61, 0, NULL, "found duplicate series on the right hand-side;many-to-many", 500},
        {"count_over_time({job=\"j\"}[1m]) + on() vector(1)", false, 61, 0, NULL,
         "multiple matches for labels: many-to-one matching must be explicit", 500},
        {"count_over_time({job=\"j\"}[1m])", true, 60, 120, "0",
         "zero or negative query resolution step widths are not accepted", 400},
        {"count_over_time({job=\"j\"}[1m])", true, 60, 120, "1e300",
         "zero or negative query resolution step widths are not accepted", 400},
        /* parameters are checked before the query is parsed */
        {"count_over_time(", true, 60, 120, "-1",
         "zero or negative query resolution step widths are not accepted", 400},
        {"count_over_time({job=\"j\"}[1m])", true, 120, 60, "1",
         "end timestamp must not be before or equal to start time", 400},
        {"count_over_time({job=\"j\"}[1m])", true, 0, 11001, "1",
         "exceeded maximum resolution of 11,000 points per timeseries", 400},
        {"count_over_time({job=\"j\"}[1m])", true, 0, 722 * 3600, "3600",
         "the query time range exceeds the limit (query length: 722h0m0s, limit: 721h0m0s)", 400},
};

static void run_case(const struct gcase *c, const struct lf_mq_limits *lim, struct lf_buf *out,
                     int *status, struct lf_error *err)
{
	struct lf_mq_request rq = {c->q, c->range, (T + c->start) * NS, (T + c->end) * NS, c->step};
	lf_buf_reset(out);
	if (lf_mq_run(&mem, &rq, lim, out, status, err) == 0)
		*status = 200;
}

static void test_golden(void **state)
{
	(void)state;
	struct lf_mq_limits lim;
	lf_mq_limits_default(&lim);
	struct lf_buf out = LF_BUF_INIT;
	int fails = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct gcase *c = &cases[i];
		int status;
		struct lf_error err;
		run_case(c, &lim, &out, &status, &err);
		const char *got;
		char *body = NULL;
		if (status == 200) {
			lf_buf_putc(&out, 0);
			const char *a = strstr(out.data, "\"resultType\"");
			const char *b = strstr(out.data, ",\"stats\":");
			assert_non_null(a);
			assert_non_null(b);
			body = strndup(a, (size_t)(b - a));
			got = body;
			if (strncmp(out.data, "{\"status\":\"success\",\"data\":{", 28) != 0)
				got = "bad envelope";
		} else {
			got = err.msg;
		}
		bool ok = status == c->status &&
		          (status == 200 ? !strcmp(got, c->want)
		                         : !strncmp(got, c->want, strlen(c->want)));
		if (!ok) {
			fprintf(stderr, "case %zu: %s\n  want %d %s\n  got  %d %s\n", i, c->q,
			        c->status, c->want, status, got);
			fails++;
		}
		free(body);
	}
	lf_buf_free(&out);
	assert_int_equal(fails, 0);
}

static void test_series_limit(void **state)
{
	(void)state;
	struct lf_mq_limits lim;
	lf_mq_limits_default(&lim);
	lim.max_query_series = 1;
	struct lf_buf out = LF_BUF_INIT;
	int status;
	struct lf_error err;
	struct gcase c = {"count_over_time({job=\"j\"}[1m])", false, 61, 0, NULL, NULL, 0};
	run_case(&c, &lim, &out, &status, &err);
	assert_int_equal(status, 400);
	assert_string_equal(err.msg, "maximum of series (1) reached for a single query");
	/* one series per step but two over the range: the frontend's count */
	struct gcase c2 = {
	        "bottomk(1, count_over_time({job=\"j\"}[1m]))", true, 60, 120, "60", NULL, 0};
	run_case(&c2, &lim, &out, &status, &err);
	assert_int_equal(status, 400);
	c.q = "sum(count_over_time({job=\"j\"}[1m]))";
	run_case(&c, &lim, &out, &status, &err);
	assert_int_equal(status, 200);
	lf_buf_free(&out);
}

static void test_input_size(void **state)
{
	(void)state;
	char q[5200];
	memset(q, ' ', sizeof(q) - 1);
	memcpy(q, "vector(1)", 9);
	q[5121] = 0; /* 5121 bytes: one over Loki's limit */
	struct lf_mq_node *n = NULL;
	struct lf_error err;
	assert_int_equal(lf_mq_parse(q, strlen(q), &n, &err), -1);
	assert_string_equal(err.msg, "parse error : input size too long (5121 > 5120)");
	q[5120] = 0;
	assert_int_equal(lf_mq_parse(q, strlen(q), &n, &err), 0);
	lf_mq_free(n);
}

static void test_memory_budget(void **state)
{
	(void)state;
	struct lf_mq_limits lim;
	lf_mq_limits_default(&lim);
	lim.max_memory = 2048; /* a few series */
	struct lf_buf out = LF_BUF_INIT;
	int status;
	struct lf_error err;
	struct gcase c = {"count_over_time({job=~\".+\"}[1m])", true, 0, 600, "1", NULL, 0};
	run_case(&c, &lim, &out, &status, &err);
	assert_int_equal(status, 400);
	assert_string_equal(err.msg,
	                    "the query needs more than 0 MiB for its series; aggregate them "
	                    "(e.g. sum by (...)) or narrow the selector");
	/* a sum fused with the range needs one series */
	lim.max_memory = 64 << 10;
	c.q = "sum(count_over_time({job=~\".+\"}[1m]))";
	run_case(&c, &lim, &out, &status, &err);
	assert_int_equal(status, 200);
	lf_buf_free(&out);
}

static void test_timeout(void **state)
{
	(void)state;
	struct lf_mq_limits lim;
	lf_mq_limits_default(&lim);
	lim.query_timeout = 1; /* 1 ns: expired before the first node */
	struct lf_buf out = LF_BUF_INIT;
	int status;
	struct lf_error err;
	struct gcase c = {"count_over_time({job=\"j\"}[1m])", false, 61, 0, NULL, NULL, 0};
	run_case(&c, &lim, &out, &status, &err);
	assert_int_equal(status, 504);
	assert_non_null(strstr(err.msg, "Request timed out, decrease the duration"));
	lf_buf_free(&out);
}

/* The frontend's split: the last step of every sub-query has an
 * end-exclusive window, and the grid is aligned to the step. */
static void test_split_boundaries(void **state)
{
	(void)state;
	struct lf_mq_limits lim;
	lf_mq_limits_default(&lim);
	struct lf_buf out = LF_BUF_INIT;
	int status;
	struct lf_error err;
	/* {job="edge"} has samples at T+60 and T+120 */
	struct gcase c = {"count_over_time({job=\"edge\"}[1m])", true, 60, 180, "60", NULL, 0};
	/* 1m sub-queries: [T+60], [T+120, T+180] (a last step one step away
	 * joins the previous sub-query); T+60 is a sub-query end */
	lim.split_interval = 60 * NS;
	run_case(&c, &lim, &out, &status, &err);
	assert_int_equal(status, 200);
	lf_buf_putc(&out, 0);
	assert_non_null(strstr(out.data, "\"values\":[[1700000160,\"1\"]]}]"));
	lim.split_interval = 0; /* no split: only the last step is exclusive */
	run_case(&c, &lim, &out, &status, &err);
	lf_buf_putc(&out, 0);
	assert_non_null(strstr(out.data, "\"values\":[[1700000100,\"1\"],[1700000160,\"1\"]]}]"));
	/* alignment: start floored, end ceiled to a multiple of 600 s */
	lf_mq_limits_default(&lim);
	struct gcase v = {"vector(1)", true, -2400, 3600, "600", NULL, 0};
	run_case(&v, &lim, &out, &status, &err);
	assert_int_equal(status, 200);
	lf_buf_putc(&out, 0);
	assert_non_null(strstr(out.data, "\"values\":[[1699997400,\"1\"],"));
	assert_non_null(strstr(out.data, ",[1700004000,\"1\"]]"));
	lf_buf_free(&out);
}

static void test_format_float(void **state)
{
	(void)state;
	struct {
		double v;
		const char *s;
	} t[] = {{0.1, "0.1"},
	         {1e21, "1000000000000000000000"},
	         {1e-7, "0.0000001"},
	         {123.456, "123.456"},
	         {-0.5, "-0.5"},
	         {0, "0"},
	         {2, "2"},
	         {1.0 / 3, "0.3333333333333333"},
	         {123456789012, "123456789012"},
	         {NAN, "NaN"},
	         {INFINITY, "+Inf"},
	         {-INFINITY, "-Inf"},
	         {5e-324, NULL}};
	char tiny[400] = "0.";
	memset(tiny + 2, '0', 323);
	tiny[325] = '5';
	tiny[326] = 0;
	t[sizeof(t) / sizeof(t[0]) - 1].s = tiny;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char b[400];
		lf_mq_format_float(t[i].v, b, sizeof(b));
		assert_string_equal(b, t[i].s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_golden),        cmocka_unit_test(test_series_limit),
	        cmocka_unit_test(test_timeout),       cmocka_unit_test(test_input_size),
	        cmocka_unit_test(test_memory_budget), cmocka_unit_test(test_split_boundaries),
	        cmocka_unit_test(test_format_float),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
