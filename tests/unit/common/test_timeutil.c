#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka needs the headers above */
#include <cmocka.h>

#include "timeutil.h"

static void test_durations(void **state)
{
	(void)state;
	struct {
		const char *in;
		int64_t ns;
	} ok[] = {
	        {"0", 0},
	        {"500ms", 500 * LF_NS_PER_MS},
	        {"1m30s", 90 * LF_NS_PER_SEC},
	        {"720h", INT64_C(720) * 3600 * LF_NS_PER_SEC},
	        {"1.5h", INT64_C(5400) * LF_NS_PER_SEC},
	        {"10us", 10000},
	        {"10\xc2\xb5s", 10000},
	        {"3ns", 3},
	        {"1d", INT64_C(86400) * LF_NS_PER_SEC},
	        {"1w", INT64_C(604800) * LF_NS_PER_SEC},
	        {"2y", INT64_C(2) * 365 * 86400 * LF_NS_PER_SEC},
	        {"-5s", -5 * LF_NS_PER_SEC},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int64_t v = -1;
		struct lf_error err;
		assert_int_equal(lf_parse_duration(ok[i].in, &v, &err), 0);
		assert_int_equal(v, ok[i].ns);
	}
	const char *bad[] = {"", "10", "1x", "abc", "5 s", "s"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t v;
		struct lf_error err;
		assert_int_equal(lf_parse_duration(bad[i], &v, &err), -1);
		assert_non_null(strstr(err.msg, "invalid duration"));
	}
}

/* Prometheus' model.ParseDuration (rule files): whole numbers, units y w d
 * h m s ms in order, millisecond precision */
static void test_prom_durations(void **state)
{
	(void)state;
	struct {
		const char *in;
		int64_t ns;
	} ok[] = {
	        {"0", 0},
	        {"0s", 0},
	        {"5ms", 5 * LF_NS_PER_MS},
	        {"1m", 60 * LF_NS_PER_SEC},
	        {"1h30m", 5400 * LF_NS_PER_SEC},
	        {"1m5ms", 60 * LF_NS_PER_SEC + 5 * LF_NS_PER_MS},
	        {"1y2w3d4h5m6s7ms",
	         ((((INT64_C(365) + 14 + 3) * 24 + 4) * 60 + 5) * 60 + 6) * LF_NS_PER_SEC +
	                 7 * LF_NS_PER_MS},
	        {"90s", 90 * LF_NS_PER_SEC},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int64_t v = -1;
		struct lf_error err;
		assert_int_equal(lf_parse_prom_duration(ok[i].in, &v, &err), 0);
		assert_int_equal(v, ok[i].ns);
	}
	const char *bad[] = {"1us", "1.5m", "-5s", "5", "1s1m", "1m1m", "1ns", "s", " 1s", "1s "};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t v;
		struct lf_error err;
		assert_int_equal(lf_parse_prom_duration(bad[i], &v, &err), -1);
		char want[64];
		snprintf(want, sizeof want, "not a valid duration string: \"%s\"", bad[i]);
		assert_string_equal(err.msg, want);
	}
	int64_t v;
	struct lf_error err;
	assert_int_equal(lf_parse_prom_duration("", &v, &err), -1);
	assert_string_equal(err.msg, "empty duration string");
	assert_int_equal(lf_parse_prom_duration("300000000y", &v, &err), -1);
	assert_string_equal(err.msg, "duration out of range");
	assert_int_equal(lf_parse_prom_duration("99999999999999999999ms", &v, &err), -1);
	assert_string_equal(err.msg, "duration out of range");
}

static void test_format_duration(void **state)
{
	(void)state;
	char b[32];
	lf_format_duration(0, b, sizeof b);
	assert_string_equal(b, "0s");
	lf_format_duration(500 * LF_NS_PER_MS, b, sizeof b);
	assert_string_equal(b, "500ms");
	lf_format_duration(90 * LF_NS_PER_SEC, b, sizeof b);
	assert_string_equal(b, "1m30s");
	lf_format_duration(INT64_C(3600) * LF_NS_PER_SEC + 1500 * LF_NS_PER_MS, b, sizeof b);
	assert_string_equal(b, "1h0m1.5s");
	lf_format_duration(1500, b, sizeof b);
	assert_string_equal(b, "1.5\xc2\xb5s");
}

static void test_sizes(void **state)
{
	(void)state;
	struct {
		const char *in;
		int64_t v;
	} ok[] = {
	        {"1048576", 1048576}, {"256KB", 256000},
	        {"256kb", 256000},    {"256KiB", 262144},
	        {"1MiB", 1048576},    {"1MB", 1000000},
	        {"8k", 8000},         {"2 GiB", INT64_C(2147483648)},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int64_t v = -1;
		struct lf_error err;
		assert_int_equal(lf_parse_size(ok[i].in, &v, &err), 0);
		assert_int_equal(v, ok[i].v);
	}
	int64_t v;
	struct lf_error err;
	assert_int_equal(lf_parse_size("12XB", &v, &err), -1);
	assert_non_null(strstr(err.msg, "12XB"));
	assert_int_equal(lf_parse_size("", &v, &err), -1);
}

static void test_rfc3339(void **state)
{
	(void)state;
	int64_t ns;
	const char *s = "2026-11-21T19:43:10.123456789Z";
	assert_int_equal(lf_parse_rfc3339(s, strlen(s), &ns), 0);
	assert_int_equal(ns, INT64_C(1795290190123456789));
	char out[40];
	lf_format_rfc3339nano(ns, out);
	assert_string_equal(out, s);
	const char *off = "2026-11-21T21:43:10+02:00";
	assert_int_equal(lf_parse_rfc3339(off, strlen(off), &ns), 0);
	assert_int_equal(ns, INT64_C(1795290190000000000));
	lf_format_rfc3339nano(ns, out);
	assert_string_equal(out, "2026-11-21T19:43:10Z");
	lf_format_rfc3339nano(INT64_C(1500000000), out);
	assert_string_equal(out, "1970-01-01T00:00:01.5Z");
	const char *bad[] = {"2026-11-21", "2026-13-01T00:00:00Z", "2026-11-21T19:43:10",
	                     "2026-11-21T19:43:10.Z", "2026-11-21T19:43:10Zjunk"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(lf_parse_rfc3339(bad[i], strlen(bad[i]), &ns), -1);
}

/* Regression (fuzz_timeutil): instants within ~2 s of the ends of the int64
 * ns range were formatted but did not parse back. */
static void test_rfc3339_int64_range_ends(void **state)
{
	(void)state;
	const int64_t ends[] = {INT64_MAX, INT64_MIN, INT64_MIN + 1, INT64_MAX - 999999999, -1, 0};
	for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
		char out[40];
		size_t n = lf_format_rfc3339nano(ends[i], out);
		int64_t back = 42;
		assert_int_equal(lf_parse_rfc3339(out, n, &back), 0);
		assert_int_equal(back, ends[i]);
	}
	int64_t ns;
	const char *max = "2262-04-11T23:47:16.854775807Z";
	assert_int_equal(lf_parse_rfc3339(max, strlen(max), &ns), 0);
	assert_int_equal(ns, INT64_MAX);
	/* One ns past either end does not fit and is refused. */
	const char *over = "2262-04-11T23:47:16.854775808Z";
	assert_int_equal(lf_parse_rfc3339(over, strlen(over), &ns), -1);
	const char *under = "1677-09-21T00:12:43.145224191Z";
	assert_int_equal(lf_parse_rfc3339(under, strlen(under), &ns), -1);
}

/* Regression (fuzz_timeutil): strtod let exponents and hex floats into
 * durations ("1e3s" was 1000 s); Go's ParseDuration refuses them. */
static void test_duration_number_is_go_grammar(void **state)
{
	(void)state;
	const char *bad[] = {"1e3s", "1E3s", "0x10s", "0x1p3s", "1.e5s", "1.5e-3h", "infs"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t ns = 7;
		struct lf_error err;
		assert_int_equal(lf_parse_duration(bad[i], &ns, &err), -1);
		assert_non_null(strstr(err.msg, bad[i]));
		assert_int_equal(ns, 7);
	}
	const struct {
		const char *in;
		int64_t ns;
	} ok[] = {{"1.s", LF_NS_PER_SEC},
	          {".5s", 500 * LF_NS_PER_MS},
	          {"1.5h", 5400 * LF_NS_PER_SEC}};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int64_t ns = 0;
		struct lf_error err;
		assert_int_equal(lf_parse_duration(ok[i].in, &ns, &err), 0);
		assert_int_equal(ns, ok[i].ns);
	}
}

/* Regression (fuzz_timeutil): impossible dates, leap second 60 and zone
 * offsets past Go's limits (hour 24, minute 60) were accepted; Loki's
 * time.Parse refuses them. */
static void test_rfc3339_calendar_ranges(void **state)
{
	(void)state;
	int64_t ns;
	const char *bad[] = {"2023-02-29T00:00:00Z",      "2026-04-31T00:00:00Z",
	                     "2026-06-31T00:00:00Z",      "2100-02-29T00:00:00Z",
	                     "2026-11-21T23:59:60Z",      "2026-11-21T19:43:10,5-25:30",
	                     "2026-11-21T19:43:10+02:61", "2026-11-00T00:00:00Z"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ns = 7;
		assert_int_equal(lf_parse_rfc3339(bad[i], strlen(bad[i]), &ns), -1);
		assert_int_equal(ns, 7);
	}
	const struct {
		const char *in;
		int64_t ns;
	} ok[] = {
	        {"2024-02-29T00:00:00Z", INT64_C(1709164800) * LF_NS_PER_SEC},
	        {"2000-02-29T00:00:00Z", INT64_C(951782400) * LF_NS_PER_SEC},
	        {"2026-01-31T23:59:59Z", INT64_C(1769903999) * LF_NS_PER_SEC},
	        {"2026-01-31T23:59:59+24:00", INT64_C(1769817599) * LF_NS_PER_SEC},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		assert_int_equal(lf_parse_rfc3339(ok[i].in, strlen(ok[i].in), &ns), 0);
		assert_int_equal(ns, ok[i].ns);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_durations),
	        cmocka_unit_test(test_prom_durations),
	        cmocka_unit_test(test_format_duration),
	        cmocka_unit_test(test_sizes),
	        cmocka_unit_test(test_rfc3339),
	        cmocka_unit_test(test_rfc3339_int64_range_ends),
	        cmocka_unit_test(test_duration_number_is_go_grammar),
	        cmocka_unit_test(test_rfc3339_calendar_ranges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
