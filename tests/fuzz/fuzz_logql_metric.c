/* fuzz_logql_metric.c — the LogQL metric-query parser and evaluator
 * (store/logql/mparse.h, meval.h), which read every query the store gets.
 *
 * Input: query text. Properties:
 *   - lf_mq_parse succeeds, or fails with a "parse error" message;
 *   - a query that parses runs (instant, and range over 7 steps) against a
 *     small in-memory data set and either answers a JSON envelope that
 *     starts as Loki's does, or fails with status 400, 500 or 504 and a
 *     message; a query that does not parse is refused with 400;
 *   - no crash, leak or UB on either path (huge ranges and offsets
 *     included).
 */
#include "fuzz.h"

#include "meval.h"
#include "mparse.h"
#include "timeutil.h"

#define BASE INT64_C(1700000040)

static const char *const streams[] = {"{app=\"a\", job=\"j\"}", "{app=\"b\", job=\"j\", v=\"2.5\"}",
                                      "{job=\"k\", v=\"x\"}"};
static const char *const lines[] = {"level=error took=1.5s msg=\"a b\"", "{\"a\":1,\"b\":\"x\"}",
                                    "plain line 42", "level=info took=oops"};

static int scan(void *ctx, const struct lf_selector *sel, const struct lf_line_filter *lfs,
                size_t nlf, int64_t from, int64_t to, lf_mq_entry_fn fn, void *fctx,
                struct lf_query_stats *st, struct lf_error *err)
{
	(void)ctx;
	(void)lfs;
	(void)nlf;
	(void)st;
	int rc = 0;
	for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]) && rc == 0; i++) {
		struct lf_labels ls = LF_LABELS_INIT;
		if (lf_labels_parse(streams[i], strlen(streams[i]), &ls, err) < 0)
			abort();
		if (lf_selector_match_labels(sel, &ls)) {
			for (int k = 0; k < 12 && rc == 0; k++) {
				int64_t ts = (BASE + 7 * k) * LF_NS_PER_SEC;
				if (ts < from || ts >= to)
					continue;
				const char *l = lines[(i + (size_t)k) % 4];
				rc = fn(fctx, (uint32_t)i, &ls, ts, l, strlen(l));
			}
		}
		lf_labels_free(&ls);
	}
	return rc;
}

static void run(const char *q, bool range, bool parsed)
{
	struct lf_mq_source src = {scan, NULL};
	struct lf_mq_limits lim;
	lf_mq_limits_default(&lim);
	lim.query_timeout = 2 * LF_NS_PER_SEC;
	struct lf_mq_request rq = {q, range, (BASE + 10) * LF_NS_PER_SEC,
	                           (BASE + 70) * LF_NS_PER_SEC, "10"};
	struct lf_buf out = LF_BUF_INIT;
	struct lf_error err = {{0}};
	int status = 0;
	if (lf_mq_run(&src, &rq, &lim, &out, &status, &err) == 0) {
		FUZZ_CHECK(parsed, "an unparsable query answered");
		FUZZ_CHECK(status == 200, "status %d on success", status);
		FUZZ_CHECK(out.len > 40 &&
		                   !memcmp(out.data, "{\"status\":\"success\",\"data\":{", 28),
		           "bad envelope");
	} else {
		FUZZ_CHECK(status == 400 || status == 500 || status == 504, "status %d", status);
		FUZZ_CHECK(err.msg[0], "error without a message");
		FUZZ_CHECK(parsed || status == 400, "parse failure with status %d", status);
	}
	lf_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *q = fuzz_strdup(data, size);
	struct lf_mq_node *n = NULL;
	struct lf_error err = {{0}};
	bool parsed = lf_mq_parse(q, strlen(q), &n, &err) == 0;
	if (parsed)
		FUZZ_CHECK(n != NULL, "parsed without a tree");
	else
		FUZZ_CHECK(!strncmp(err.msg, "parse error", 11), "message %s", err.msg);
	lf_mq_free(n);
	run(q, false, parsed);
	run(q, true, parsed);
	free(q);
	return 0;
}
