#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs the headers above */
#include <cmocka.h>

#include "metrics.h"

static void collect(void *ctx, struct lf_buf *out)
{
	lf_buf_printf(out, "# TYPE custom gauge\ncustom %d\n", *(int *)ctx);
}

static void test_render(void **state)
{
	(void)state;
	struct lf_metrics *m = lf_metrics_new();
	static const char *const ln[] = {"host", "reason", NULL};
	struct lf_metric_family *c =
	        lf_metrics_family(m, LF_METRIC_COUNTER, "x_dropped_total", "Dropped.", ln, NULL, 0);
	assert_ptr_equal(
	        c, lf_metrics_family(m, LF_METRIC_COUNTER, "x_dropped_total", "", ln, NULL, 0));
	const char *v1[] = {"loki:3100", "rate_limited"};
	const char *v2[] = {"loki:3100", "quo\"te"};
	lf_metric_add(c, v1, 3);
	lf_metric_inc(c, v1);
	lf_metric_inc(c, v2);
	assert_true(lf_metric_value(c, v1) == 4);
	static const double buckets[] = {0.1, 1};
	static const char *const hl[] = {"status_code", NULL};
	struct lf_metric_family *h = lf_metrics_family(m, LF_METRIC_HISTOGRAM, "x_duration_seconds",
	                                               "Duration.", hl, buckets, 2);
	const char *hv[] = {"204"};
	lf_metric_observe(h, hv, 0.05);
	lf_metric_observe(h, hv, 0.5);
	lf_metric_observe(h, hv, 5);
	struct lf_metric_family *g =
	        lf_metrics_family(m, LF_METRIC_GAUGE, "x_files", "Files.", NULL, NULL, 0);
	lf_metric_set(g, NULL, 12);
	int cv = 7;
	lf_metrics_add_collector(m, collect, &cv);
	struct lf_buf out = LF_BUF_INIT;
	assert_int_equal(lf_metrics_render(m, &out), 0);
	assert_non_null(strstr(out.data, "# TYPE x_dropped_total counter\n"));
	assert_non_null(strstr(out.data,
	                       "x_dropped_total{host=\"loki:3100\",reason=\"rate_limited\"} 4\n"));
	assert_non_null(strstr(out.data, "reason=\"quo\\\"te\"} 1\n"));
	assert_non_null(
	        strstr(out.data, "x_duration_seconds_bucket{status_code=\"204\",le=\"0.1\"} 1\n"));
	assert_non_null(
	        strstr(out.data, "x_duration_seconds_bucket{status_code=\"204\",le=\"1\"} 2\n"));
	assert_non_null(
	        strstr(out.data, "x_duration_seconds_bucket{status_code=\"204\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(out.data, "x_duration_seconds_sum{status_code=\"204\"} 5.55"));
	assert_non_null(strstr(out.data, "x_duration_seconds_count{status_code=\"204\"} 3\n"));
	assert_non_null(strstr(out.data, "x_files 12\n"));
	assert_non_null(strstr(out.data, "custom 7\n"));
	lf_metric_remove(c, v2);
	lf_metrics_remove_collector(m, collect, &cv);
	lf_buf_reset(&out);
	lf_metrics_render(m, &out);
	assert_null(strstr(out.data, "quo"));
	assert_null(strstr(out.data, "custom"));
	lf_buf_free(&out);
	lf_metrics_free(m);
}

static void test_many_children(void **state)
{
	(void)state;
	struct lf_metrics *m = lf_metrics_new();
	static const char *const ln[] = {"path", NULL};
	struct lf_metric_family *c =
	        lf_metrics_family(m, LF_METRIC_COUNTER, "lines_total", "", ln, NULL, 0);
	char p[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(p, sizeof p, "/f/%d", i);
		const char *v[] = {p};
		lf_metric_add(c, v, i);
	}
	for (int i = 0; i < 1000; i++) {
		snprintf(p, sizeof p, "/f/%d", i);
		const char *v[] = {p};
		assert_true(lf_metric_value(c, v) == i);
	}
	lf_metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_render),
	        cmocka_unit_test(test_many_children),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
