/* test_filter.c — filtering stages (match, drop, limit, sampling) and the
 * metrics stage; drops are checked in logentry_dropped_lines_total. */
#include <time.h>

#include "harness.h"

#include "../../../common/timeutil.h"

/* docs match.md example */
static void test_match_doc(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- json:\n    expressions:\n      app:\n"
	          "- labels:\n    app:\n"
	          "- match:\n    selector: '{app=\"loki\"}'\n    stages:\n"
	          "    - json:\n        expressions:\n          msg: message\n"
	          "- match:\n    pipeline_name: \"app2\"\n    selector: '{app=\"pokey\"}'\n"
	          "    action: keep\n    stages:\n"
	          "    - json:\n        expressions:\n          msg: msg\n"
	          "- match:\n    selector: '{app=\"promtail\"} |~ \".*noisy error.*\"'\n"
	          "    action: drop\n    drop_counter_reason: promtail_noisy_error\n"
	          "- output:\n    source: msg\n");
	assert_int_equal(h_push(&h, "{}",
	                        "{ \"time\":\"2012-11-01T22:08:41+00:00\", \"app\":\"loki\", "
	                        "\"component\": [\"parser\",\"type\"], \"level\" : \"WARN\", "
	                        "\"message\" : \"app1 log line\" }"),
	                 LF_PIPE_EMITTED);
	assert_int_equal(h_push(&h, "{}",
	                        "{ \"time\":\"2012-11-01T22:08:41+00:00\", \"app\":\"pokey\", "
	                        "\"component\": [\"parser\",\"type\"], \"level\" : \"WARN\", "
	                        "\"msg\" : \"app2 log line\" }"),
	                 LF_PIPE_EMITTED);
	assert_int_equal(h_push(&h, "{}",
	                        "{ \"time\":\"2012-11-01T22:08:41+00:00\", \"app\":\"promtail\", "
	                        "\"component\": [\"parser\",\"type\"], \"level\" : \"ERROR\", "
	                        "\"message\" : \"foo noisy error\" }"),
	                 LF_PIPE_DROPPED);
	assert_int_equal(h.n, 2);
	assert_string_equal(h_line(&h, 0), "app1 log line");
	assert_string_equal(h_line(&h, 1), "app2 log line");
	assert_true(h_drops(&h, "promtail_noisy_error") == 1);
	h_free(&h);
}

/* a multiline nested in match releases its block after the match stage,
 * through the stages that follow it */
static void test_match_nested_hold(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- match:\n    selector: '{app=\"java\"}'\n    stages:\n"
	          "    - multiline:\n        firstline: '^\\d'\n"
	          "- static_labels:\n    after: yes\n");
	assert_int_equal(h_push(&h, "{app=\"java\"}", "1 start"), LF_PIPE_HELD);
	assert_int_equal(h_push(&h, "{app=\"java\"}", "  at x"), LF_PIPE_HELD);
	assert_int_equal(h_push(&h, "{app=\"go\"}", "other"), LF_PIPE_EMITTED);
	assert_int_equal(h_push(&h, "{app=\"java\"}", "2 next"), LF_PIPE_HELD);
	assert_int_equal(h.n, 2);
	assert_string_equal(h_line(&h, 0), "other");
	assert_string_equal(h_line(&h, 1), "1 start\n  at x");
	assert_string_equal(h_labels(&h, 1), "{after=\"yes\", app=\"java\"}");
	h_flush(&h);
	assert_int_equal(h.n, 3);
	assert_string_equal(h_line(&h, 2), "2 next");
	assert_string_equal(h_labels(&h, 2), "{after=\"yes\", app=\"java\"}");
	h_free(&h);
}

/* docs drop.md examples */
static void test_drop_doc(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- drop:\n    source: level\n");
	assert_int_equal(h_push(&h, "{level=\"x\"}", "a"), LF_PIPE_DROPPED);
	assert_int_equal(h_push(&h, "{}", "a"), LF_PIPE_EMITTED);
	assert_true(h_drops(&h, "drop_stage") == 1);
	h_free(&h);

	h_new(&h, "- regex:\n    expression: 'level=(?P<level>\\w+) msg=\"(?P<msg>[^\"]*)\"'\n"
	          "- drop:\n    source: [level, msg]\n    separator: '#'\n"
	          "    value: 'debug#ignore me'\n");
	assert_int_equal(h_push(&h, "{}", "level=debug msg=\"ignore me\""), LF_PIPE_DROPPED);
	assert_int_equal(h_push(&h, "{}", "level=debug msg=\"keep me\""), LF_PIPE_EMITTED);
	h_free(&h);

	h_new(&h, "- drop:\n    expression: \".*debug.*\"\n    drop_counter_reason: dbg\n");
	assert_int_equal(h_push(&h, "{}", "this is a debug line"), LF_PIPE_DROPPED);
	assert_int_equal(h_push(&h, "{}", "this is an info line"), LF_PIPE_EMITTED);
	assert_true(h_drops(&h, "dbg") == 1);
	h_free(&h);

	h_new(&h, "- drop:\n    longer_than: 8b\n");
	assert_int_equal(h_push(&h, "{}", "123456789"), LF_PIPE_DROPPED);
	assert_int_equal(h_push(&h, "{}", "12345678"), LF_PIPE_EMITTED);
	h_free(&h);

	/* conditions are AND-ed; older_than uses the entry timestamp */
	h_new(&h, "- drop:\n    older_than: 1h\n    expression: 'old'\n");
	int64_t now = lf_now_ns();
	assert_int_equal(h_push_ts(&h, "{}", "old", now - 2 * 3600 * LF_NS_PER_SEC),
	                 LF_PIPE_DROPPED);
	assert_int_equal(h_push_ts(&h, "{}", "old", now), LF_PIPE_EMITTED);
	assert_int_equal(h_push_ts(&h, "{}", "new", now - 2 * 3600 * LF_NS_PER_SEC),
	                 LF_PIPE_EMITTED);
	h_free(&h);
}

static void test_limit(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- limit:\n    rate: 1\n    burst: 2\n    drop: true\n");
	int ok = 0;
	for (int i = 0; i < 5; i++)
		ok += h_push(&h, "{}", "x") == LF_PIPE_EMITTED;
	assert_int_equal(ok, 2);
	assert_true(h_drops(&h, "ratelimit_drop_stage") == 3);
	h_free(&h);

	h_new(&h, "- limit:\n    rate: 1\n    burst: 1\n    drop: true\n    by_label_name: app\n");
	assert_int_equal(h_push(&h, "{app=\"a\"}", "x"), LF_PIPE_EMITTED);
	assert_int_equal(h_push(&h, "{app=\"a\"}", "x"), LF_PIPE_DROPPED);
	assert_int_equal(h_push(&h, "{app=\"b\"}", "x"), LF_PIPE_EMITTED);
	assert_int_equal(h_push(&h, "{}", "x"), LF_PIPE_EMITTED); /* no label: not limited */
	h_free(&h);

	/* drop: false waits for a token (rate 20/s: the 3rd line waits ~50ms) */
	h_new(&h, "- limit:\n    rate: 20\n    burst: 2\n");
	int64_t t0 = lf_monotonic_ns();
	for (int i = 0; i < 3; i++)
		assert_int_equal(h_push(&h, "{}", "x"), LF_PIPE_EMITTED);
	assert_true(lf_monotonic_ns() - t0 >= 40 * LF_NS_PER_MS);
	h_free(&h);
}

static void test_sampling(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- sampling:\n    rate: 0.5\n");
	int ok = 0;
	for (int i = 0; i < 4000; i++) {
		ok += h_push(&h, "{}", "x") == LF_PIPE_EMITTED;
		h_clear_out(&h);
	}
	assert_true(ok > 1700 && ok < 2300);
	assert_true(h_drops(&h, "sampling_stage") == 4000 - ok);
	h_free(&h);
	h_new(&h, "- sampling:\n    rate: 0\n    drop_counter_reason: none\n");
	for (int i = 0; i < 100; i++)
		assert_int_equal(h_push(&h, "{}", "x"), LF_PIPE_DROPPED);
	h_free(&h);
	h_new(&h, "- sampling:\n    rate: 1\n");
	for (int i = 0; i < 100; i++) {
		assert_int_equal(h_push(&h, "{}", "x"), LF_PIPE_EMITTED);
		h_clear_out(&h);
	}
	h_free(&h);
}

/* docs metrics.md style: counter/gauge/histogram from extracted values */
static void test_metrics(void **st)
{
	(void)st;
	struct h h;
	h_new(&h,
	      "- regex:\n    expression: '^(?P<level>\\w+) (?P<dur>\\S+) (?P<q>\\d+)'\n"
	      "- metrics:\n"
	      "    log_lines_total:\n      type: Counter\n      description: all lines\n"
	      "      config:\n        match_all: true\n        action: inc\n"
	      "    log_bytes_total:\n      type: Counter\n      config:\n        match_all: true\n"
	      "        count_entry_bytes: true\n        action: add\n"
	      "    errors:\n      type: Counter\n      source: level\n      prefix: my_\n"
	      "      config:\n        value: error\n        action: inc\n"
	      "    queue:\n      type: Gauge\n      source: q\n      config:\n        action: set\n"
	      "    duration_seconds:\n      type: Histogram\n      source: dur\n"
	      "      config:\n        buckets: [0.001, 0.5, 1]\n");
	h_push(&h, "{app=\"a\"}", "error 250ms 7");
	h_push(&h, "{app=\"a\"}", "info 0.75 3");
	h_push(&h, "{app=\"a\"}", "info nan-value 3");
	char *txt = h_render_metrics(&h);
	const char *want[] = {
	        "# TYPE logferry_custom_log_lines_total counter",
	        "# HELP logferry_custom_log_lines_total all lines",
	        "logferry_custom_log_lines_total{app=\"a\"} 3\n",
	        "logferry_custom_log_bytes_total{app=\"a\"} 40\n",
	        "my_errors{app=\"a\"} 1\n",
	        "logferry_custom_queue{app=\"a\"} 3\n",
	        "logferry_custom_duration_seconds_bucket{app=\"a\", le=\"0.001\"} 0\n",
	        "logferry_custom_duration_seconds_bucket{app=\"a\", le=\"0.5\"} 1\n",
	        "logferry_custom_duration_seconds_bucket{app=\"a\", le=\"1\"} 2\n",
	        "logferry_custom_duration_seconds_bucket{app=\"a\", le=\"+Inf\"} 2\n",
	        "logferry_custom_duration_seconds_sum{app=\"a\"} 1\n",
	        "logferry_custom_duration_seconds_count{app=\"a\"} 2\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!strstr(txt, want[i]))
			fail_msg("missing %s in:\n%s", want[i], txt);
	free(txt);
	h_free(&h);
}

/* series idle for max_idle_duration disappear */
static void test_metrics_idle(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- metrics:\n    lines:\n      type: Counter\n      max_idle_duration: 1s\n"
	          "      config:\n        match_all: true\n        action: inc\n");
	h_push(&h, "{app=\"a\"}", "x");
	char *txt = h_render_metrics(&h);
	assert_non_null(strstr(txt, "logferry_custom_lines{app=\"a\"} 1"));
	free(txt);
	struct timespec ts = {1, 200000000};
	nanosleep(&ts, NULL);
	txt = h_render_metrics(&h);
	assert_null(strstr(txt, "logferry_custom_lines{app=\"a\"}"));
	free(txt);
	h_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_match_doc),    cmocka_unit_test(test_match_nested_hold),
	        cmocka_unit_test(test_drop_doc),     cmocka_unit_test(test_limit),
	        cmocka_unit_test(test_sampling),     cmocka_unit_test(test_metrics),
	        cmocka_unit_test(test_metrics_idle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
