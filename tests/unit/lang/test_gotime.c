/* test_gotime.c — common/gotime: Go layouts (parse + format), named and
 * Unix formats, IANA locations, year-less layouts, dry-run format.
 *
 * Expected instants were computed independently with Python's datetime +
 * zoneinfo (same tzdata), e.g.
 *   int(datetime(2026,7,1,12,0,tzinfo=ZoneInfo("America/New_York")).timestamp())
 *   = 1782921600.
 * Go's reference time Mon Jan 2 15:04:05 MST 2006 is Unix 1136239445: formatting
 * it in a zone whose abbreviation is MST (America/Denver in winter) with a
 * layout must give the layout back — the test of the formatter.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gotime.h"

#define S   INT64_C(1000000000)
#define REF (INT64_C(1136239445) * S)
/* "now" for the year-less layouts: 2026-11-21T19:48:00Z */
#define NOW (INT64_C(1795290480) * S)

/* fopen is interposed to see how zone files are opened: the agent may not
 * leak descriptors into a child, so every open is close-on-exec ("e"). */
static int g_zone_opens, g_zone_opens_no_cloexec;

FILE *fopen(const char *path, const char *mode)
{
	static FILE *(*real)(const char *, const char *);
	/* threads may race here: the same value is stored */
	if (!__atomic_load_n(&real, __ATOMIC_ACQUIRE))
		__atomic_store_n(&real,
		                 (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen"),
		                 __ATOMIC_RELEASE);
	if (strstr(path, "zoneinfo") || strstr(path, "localtime")) {
		__atomic_add_fetch(&g_zone_opens, 1, __ATOMIC_SEQ_CST);
		if (!strchr(mode, 'e'))
			__atomic_add_fetch(&g_zone_opens_no_cloexec, 1, __ATOMIC_SEQ_CST);
	}
	return __atomic_load_n(&real, __ATOMIC_ACQUIRE)(path, mode);
}

static const struct lf_tz *tz(const char *name)
{
	const struct lf_tz *z;
	struct lf_error err;
	if (lf_tz_load(name, &z, &err) < 0)
		fail_msg("tz %s: %s", name, err.msg);
	return z;
}

static void test_parse_table(void **state)
{
	(void)state;
	static const struct {
		const char *layout, *value, *loc;
		int64_t want;
	} cases[] = {
	        /* named formats (Promtail's list) */
	        {"ANSIC", "Mon Jan  2 15:04:05 2006", NULL, INT64_C(1136214245) * S},
	        /* named formats ignore the location, as Promtail's time.Parse */
	        {"ANSIC", "Mon Jan  2 15:04:05 2006", "America/New_York", INT64_C(1136214245) * S},
	        /* local zone is America/New_York here (TZ set in main): EST is known */
	        {"UnixDate", "Mon Jan  2 15:04:05 EST 2006", NULL, INT64_C(1136232245) * S},
	        /* an unknown abbreviation means offset 0 (Go) */
	        {"UnixDate", "Mon Jan  2 15:04:05 MST 2006", NULL, INT64_C(1136214245) * S},
	        {"UnixDate", "Mon Jan  2 15:04:05 UTC 2006", NULL, INT64_C(1136214245) * S},
	        {"RubyDate", "Mon Jan 02 15:04:05 -0700 2006", NULL, REF},
	        {"RFC822", "02 Jan 06 15:04 UTC", NULL, INT64_C(1136214240) * S},
	        {"RFC822Z", "02 Jan 06 15:04 -0700", NULL, REF - 5 * S},
	        {"RFC850", "Monday, 02-Jan-06 15:04:05 EST", NULL, INT64_C(1136232245) * S},
	        {"RFC1123", "Mon, 02 Jan 2006 15:04:05 GMT", NULL, INT64_C(1136214245) * S},
	        {"RFC1123Z", "Mon, 02 Jan 2006 15:04:05 -0700", NULL, REF},
	        {"RFC3339", "2020-01-02T03:04:05+01:00", NULL, INT64_C(1577930645) * S},
	        {"RFC3339", "2020-01-02T02:04:05Z", NULL, INT64_C(1577930645) * S},
	        /* a fraction the layout does not have is accepted (Go) */
	        {"RFC3339", "2020-01-02T02:04:05.25Z", NULL, INT64_C(1577930645) * S + 250000000},
	        {"RFC3339Nano", "2020-01-02T02:04:05.123456789Z", NULL,
	         INT64_C(1577930645) * S + 123456789},
	        {"RFC3339Nano", "2020-01-02T02:04:05Z", NULL, INT64_C(1577930645) * S},
	        /* Unix formats */
	        {"Unix", "1562708916", NULL, INT64_C(1562708916) * S},
	        {"Unix", "1562708916.000000123", NULL, INT64_C(1562708916) * S + 123},
	        {"Unix", "1562708916.5", NULL, INT64_C(1562708916) * S + 500000000},
	        {"UnixMs", "1562708916414", NULL, INT64_C(1562708916414) * 1000000},
	        {"UnixUs", "1562708916414123", NULL, INT64_C(1562708916414123) * 1000},
	        {"UnixNs", "1562708916000000123", NULL, INT64_C(1562708916000000123)},
	        {"UnixNs", "-5", NULL, -5},
	        /* custom layouts */
	        {"02/Jan/2006:15:04:05 -0700", "10/Oct/2000:13:55:36 -0700", NULL,
	         INT64_C(971211336) * S},
	        {"2006-01-02 15:04:05", "2026-07-01 12:00:00", "America/New_York",
	         INT64_C(1782921600) * S},
	        {"2006-01-02 15:04:05.000", "2026-01-15 08:30:00.123", "America/New_York",
	         INT64_C(1768483800) * S + 123000000},
	        {"2006-01-02 15:04:05,999", "2026-01-15 08:30:00,12", "America/New_York",
	         INT64_C(1768483800) * S + 120000000},
	        {"2006-01-02 15:04:05", "2026-03-29 03:30:00", "Europe/Berlin",
	         INT64_C(1774747800) * S},
	        {"2006-01-02 15:04", "2026-01-10 10:00", "Australia/Sydney",
	         INT64_C(1767999600) * S},
	        {"2006-01-02 15:04", "2026-05-05 05:05", "Asia/Kolkata", INT64_C(1777937700) * S},
	        /* beyond the TZif table: the POSIX TZ rule of the footer decides */
	        {"2006-01-02 15:04", "2045-07-04 09:00", "America/New_York",
	         INT64_C(2382786000) * S},
	        {"2006-01-02 15:04", "2045-12-04 09:00", "America/New_York",
	         INT64_C(2396008800) * S},
	        /* a zone in the value wins over the location */
	        {"2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05 -0700", "Asia/Kolkata", REF},
	        {"Jan 2 2006 3:04PM", "Mar 7 2021 9:15PM", NULL, INT64_C(1615151700) * S},
	        {"Jan 2 2006 3:04pm", "Mar 7 2021 12:15am", NULL,
	         INT64_C(1615075200) * S + 900 * S},
	        {"Monday January 2 2006", "Sunday March 7 2021", NULL, INT64_C(1615075200) * S},
	        {"02 Jan 06", "07 mar 21", NULL, INT64_C(1615075200) * S}, /* month case-insens. */
	        {"2006-01-02T15:04:05Z0700", "2006-01-02T22:04:05Z", NULL, REF},
	        {"2006-01-02T15:04:05-07", "2006-01-02T15:04:05-07", NULL, REF},
	        {"2006-01-02T15:04:05-07:00:00", "2006-01-02T15:04:05-07:00:00", NULL, REF},
	        /* spaces in the layout match runs of spaces */
	        {"2006-01-02 15:04:05", "2006-01-02    22:04:05", NULL, REF},
	        /* year-less layout: the current year (NOW is 2026-11-21) */
	        {"Jan _2 15:04:05", "Jul  1 12:00:00", "America/New_York", INT64_C(1782921600) * S},
	        {"Jan _2 15:04:05", "Jul 1 12:00:00", "America/New_York", INT64_C(1782921600) * S},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct lf_gotime_layout *l;
		struct lf_error err;
		assert_int_equal(lf_gotime_layout_new(cases[i].layout, &l, &err), 0);
		int64_t got = 0;
		const struct lf_tz *loc = cases[i].loc ? tz(cases[i].loc) : NULL;
		if (lf_gotime_parse(l, cases[i].value, strlen(cases[i].value), loc, NOW, &got,
		                    &err) < 0)
			fail_msg("case %zu %s / %s: %s", i, cases[i].layout, cases[i].value,
			         err.msg);
		if (got != cases[i].want)
			fail_msg("case %zu %s / %s: got %lld want %lld", i, cases[i].layout,
			         cases[i].value, (long long)got, (long long)cases[i].want);
		lf_gotime_layout_free(l);
	}
}

/* Promtail: a December value read in January belongs to last year, a
 * January value read in December to next year. Now is in the local zone
 * (New York here). */
static void test_yearless_new_year(void **state)
{
	(void)state;
	int64_t got;
	struct lf_error err;
	const struct lf_tz *ny = tz("America/New_York");
	/* now = 2026-01-03 12:00 New York */
	assert_int_equal(lf_gotime_parse_str("Jan _2 15:04:05", "Dec 31 23:59:59", ny,
	                                     INT64_C(1767459600) * S, &got, &err),
	                 0);
	assert_int_equal(got, INT64_C(1767243599) * S); /* 2025-12-31 */
	/* now = 2026-12-30 12:00 New York */
	assert_int_equal(lf_gotime_parse_str("Jan _2 15:04:05", "Jan  1 00:00:01", ny,
	                                     INT64_C(1798650000) * S, &got, &err),
	                 0);
	assert_int_equal(got, INT64_C(1798779601) * S); /* 2027-01-01 */
}

static void test_parse_errors(void **state)
{
	(void)state;
	static const struct {
		const char *layout, *value, *msg;
	} cases[] = {
	        {"2006-01-02", "2020-13-01", "parsing time \"2020-13-01\": month out of range"},
	        {"2006-01-02", "2021-02-29", "parsing time \"2021-02-29\": day out of range"},
	        {"2006-01-02", "2020-1-01",
	         "parsing time \"2020-1-01\" as \"2006-01-02\": cannot parse \"1-01\" as \"01\""},
	        {"2006-01-02", "2020-01-01x", "parsing time \"2020-01-01x\": extra text: \"x\""},
	        {"2006-01-02", "20-01-01",
	         "parsing time \"20-01-01\" as \"2006-01-02\": cannot parse \"20-01-01\" as "
	         "\"2006\""},
	        {"2006-01-02T15:04:05.000Z", "2020-01-02T03:04:05.12Z",
	         "parsing time \"2020-01-02T03:04:05.12Z\" as \"2006-01-02T15:04:05.000Z\": cannot "
	         "parse \".12Z\" as \".000\""},
	        {"RFC3339", "2020-01-02 03:04:05Z",
	         "parsing time \"2020-01-02 03:04:05Z\" as \"2006-01-02T15:04:05Z07:00\": cannot "
	         "parse \" 03:04:05Z\" as \"T\""},
	        {"15:04", "25:00", "parsing time \"25:00\": hour out of range"},
	        {"Unix", "abc", "parsing time \"abc\" as \"Unix\": invalid syntax"},
	        {"UnixMs", "12.5", "parsing time \"12.5\" as \"UnixMs\": invalid syntax"},
	        {"Unix", "", "parsing time \"\" as \"Unix\": invalid syntax"},
	        /* Kitchen is not one of Promtail's names: it is a literal layout */
	        {"Kitchen", "3:04PM",
	         "parsing time \"3:04PM\" as \"Kitchen\": cannot parse \"3:04PM\" as \"Kitchen\""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int64_t got;
		struct lf_error err;
		if (lf_gotime_parse_str(cases[i].layout, cases[i].value, NULL, NOW, &got, &err) !=
		    -1)
			fail_msg("case %zu: %s / %s parsed", i, cases[i].layout, cases[i].value);
		if (strcmp(err.msg, cases[i].msg) != 0)
			fail_msg("case %zu:\n got  %s\n want %s", i, err.msg, cases[i].msg);
	}
}

/* Formatting Go's reference instant in a zone whose abbreviation is MST
 * must reproduce every layout that spells the reference time. */
static void test_format_reference(void **state)
{
	(void)state;
	const struct lf_tz *denver = tz("America/Denver");
	static const struct {
		const char *layout, *want;
	} cases[] = {
	        {"ANSIC", "Mon Jan  2 15:04:05 2006"},
	        {"UnixDate", "Mon Jan  2 15:04:05 MST 2006"},
	        {"RubyDate", "Mon Jan 02 15:04:05 -0700 2006"},
	        {"RFC822", "02 Jan 06 15:04 MST"},
	        {"RFC822Z", "02 Jan 06 15:04 -0700"},
	        {"RFC850", "Monday, 02-Jan-06 15:04:05 MST"},
	        {"RFC1123", "Mon, 02 Jan 2006 15:04:05 MST"},
	        {"RFC1123Z", "Mon, 02 Jan 2006 15:04:05 -0700"},
	        {"RFC3339", "2006-01-02T15:04:05-07:00"},
	        {"RFC3339Nano", "2006-01-02T15:04:05-07:00"}, /* .999...: zeros trimmed */
	        {"3:04PM", "3:04PM"},
	        {"3:04pm", "3:04pm"},
	        {"Jan _2 15:04:05.000", "Jan  2 15:04:05.000"},
	        {"02/Jan/2006:15:04:05 -0700", "02/Jan/2006:15:04:05 -0700"},
	        {"2006-01-02T15:04:05Z07:00:00", "2006-01-02T15:04:05-07:00:00"},
	        {"-07 -070000 Z0700 Z070000", "-07 -070000 -0700 -070000"},
	        {"January Monday 1/2 _2 06 002 __2", "January Monday 1/2  2 06 002   2"},
	        {"literal text, no elements", "literal text, no elements"},
	        {"Unix", "1136239445"},
	        {"UnixMs", "1136239445000"},
	        {"UnixUs", "1136239445000000"},
	        {"UnixNs", "1136239445000000000"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct lf_buf b = LF_BUF_INIT;
		assert_int_equal(lf_gotime_format_str(cases[i].layout, REF, denver, &b), 0);
		if (strcmp(b.data, cases[i].want) != 0)
			fail_msg("format %s: got \"%s\" want \"%s\"", cases[i].layout, b.data,
			         cases[i].want);
		lf_buf_free(&b);
	}
}

static void test_format_misc(void **state)
{
	(void)state;
	static const struct {
		const char *layout, *loc;
		int64_t t;
		const char *want;
	} cases[] = {
	        {"RFC3339Nano", "UTC", INT64_C(1577930645) * S + 120000000,
	         "2020-01-02T02:04:05.12Z"},
	        {"2006-01-02T15:04:05.000000Z07:00", "UTC", INT64_C(1577930645) * S + 123456789,
	         "2020-01-02T02:04:05.123456Z"},
	        {"2006-01-02 15:04:05 MST", "America/New_York", INT64_C(1782921600) * S,
	         "2026-07-01 12:00:00 EDT"},
	        {"2006-01-02 15:04:05 MST", "America/New_York", INT64_C(2396008800) * S,
	         "2045-12-04 09:00:00 EST"},
	        {"2006-01-02 15:04 Z07:00", "Asia/Kolkata", INT64_C(1777937700) * S,
	         "2026-05-05 05:05 +05:30"},
	        {"2006-01-02 15:04:05", "UTC", -1 * S, "1969-12-31 23:59:59"},
	        {"3PM 03", "UTC", INT64_C(1615075200) * S, "12AM 12"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct lf_buf b = LF_BUF_INIT;
		assert_int_equal(
		        lf_gotime_format_str(cases[i].layout, cases[i].t, tz(cases[i].loc), &b), 0);
		if (strcmp(b.data, cases[i].want) != 0)
			fail_msg("format %s: got \"%s\" want \"%s\"", cases[i].layout, b.data,
			         cases[i].want);
		lf_buf_free(&b);
	}
}

/* parse(format(t)) == t for layouts that carry the whole instant */
static void test_round_trip(void **state)
{
	(void)state;
	const char *layouts[] = {"RFC3339Nano", "RFC1123Z", "RubyDate",
	                         "UnixNs",      "UnixMs",   "2006-01-02T15:04:05.000000000-07:00",
	                         "Unix"};
	const char *zones[] = {"UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata",
	                       "Australia/Sydney"};
	int64_t times[] = {INT64_C(1782921600) * S + 123456789, REF, INT64_C(1774747800) * S,
	                   INT64_C(0), INT64_C(2396008800) * S + 5};
	for (size_t li = 0; li < sizeof layouts / sizeof layouts[0]; li++)
		for (size_t zi = 0; zi < sizeof zones / sizeof zones[0]; zi++)
			for (size_t ti = 0; ti < sizeof times / sizeof times[0]; ti++) {
				struct lf_gotime_layout *l;
				struct lf_error err;
				assert_int_equal(lf_gotime_layout_new(layouts[li], &l, &err), 0);
				struct lf_buf b = LF_BUF_INIT;
				assert_int_equal(lf_gotime_format(l, times[ti], tz(zones[zi]), &b),
				                 0);
				int64_t back;
				if (lf_gotime_parse(l, b.data, b.len, NULL, NOW, &back, &err) < 0)
					fail_msg("%s: %s", b.data, err.msg);
				int64_t want = times[ti];
				if (strcmp(layouts[li], "RFC1123Z") == 0 ||
				    strcmp(layouts[li], "RubyDate") == 0 ||
				    strcmp(layouts[li], "Unix") == 0)
					want -= want % S; /* second precision */
				else if (strcmp(layouts[li], "UnixMs") == 0)
					want -= want % 1000000;
				if (back != want)
					fail_msg("%s in %s: %s -> %lld want %lld", layouts[li],
					         zones[zi], b.data, (long long)back,
					         (long long)want);
				lf_buf_free(&b);
				lf_gotime_layout_free(l);
			}
}

static void test_zones(void **state)
{
	(void)state;
	const struct lf_tz *a, *b;
	struct lf_error err;
	assert_int_equal(lf_tz_load("Europe/Paris", &a, &err), 0);
	assert_int_equal(lf_tz_load("Europe/Paris", &b, &err), 0);
	assert_ptr_equal(a, b); /* cached */
	assert_string_equal(lf_tz_name(a), "Europe/Paris");
	const char *abbr;
	assert_int_equal(lf_tz_offset(a, 1782921600, &abbr), 7200);
	assert_string_equal(abbr, "CEST");
	assert_int_equal(lf_tz_offset(a, 1768483800, &abbr), 3600);
	assert_string_equal(abbr, "CET");
	assert_int_equal(lf_tz_load("UTC", &a, &err), 0);
	assert_ptr_equal(a, lf_tz_utc());
	assert_int_equal(lf_tz_load("Foo/Bar", &a, &err), -1);
	assert_string_equal(err.msg, "unknown time zone Foo/Bar");
	assert_int_equal(lf_tz_load("../../etc/passwd", &a, &err), -1);
	assert_int_equal(lf_tz_load("Local", &a, &err), 0);
	assert_ptr_equal(a, lf_tz_local());
	assert_int_equal(lf_tz_offset(a, 1782921600, NULL), -4 * 3600); /* TZ=New York */
}

static void test_zone_file_cloexec(void **state)
{
	(void)state;
	int before = __atomic_load_n(&g_zone_opens, __ATOMIC_SEQ_CST);
	const struct lf_tz *a;
	struct lf_error err;
	/* A zone no other test loads (zones are cached). */
	assert_int_equal(lf_tz_load("Australia/Adelaide", &a, &err), 0);
	assert_true(__atomic_load_n(&g_zone_opens, __ATOMIC_SEQ_CST) > before);
	assert_int_equal(__atomic_load_n(&g_zone_opens_no_cloexec, __ATOMIC_SEQ_CST), 0);
}

static void test_dryrun(void **state)
{
	(void)state;
	struct lf_buf b = LF_BUF_INIT;
	assert_int_equal(lf_gotime_format_dryrun(INT64_C(1782921600) * S + 120000000, &b), 0);
	assert_string_equal(b.data, "2026-07-01T12:00:00.12-0400");
	lf_buf_reset(&b);
	assert_int_equal(lf_gotime_format_dryrun(INT64_C(1768483800) * S, &b), 0);
	assert_string_equal(b.data, "2026-01-15T08:30:00-0500");
	lf_buf_free(&b);
}

static void test_layout_info(void **state)
{
	(void)state;
	struct lf_gotime_layout *l;
	struct lf_error err;
	assert_int_equal(lf_gotime_layout_new("RFC3339", &l, &err), 0);
	assert_string_equal(lf_gotime_layout_text(l), "RFC3339");
	assert_string_equal(lf_gotime_layout_go(l), "2006-01-02T15:04:05Z07:00");
	lf_gotime_layout_free(l);
	assert_int_equal(lf_gotime_layout_new("", &l, &err), -1);
}

/* zones are loaded and cached safely from several threads */
static void *tz_thread(void *arg)
{
	const char *names[] = {"Europe/Lisbon", "Asia/Tokyo", "America/Chicago", "Local"};
	const struct lf_tz **out = arg;
	for (int i = 0; i < 200; i++)
		for (int k = 0; k < 4; k++) {
			struct lf_error err;
			if (lf_tz_load(names[k], &out[k], &err) < 0)
				return (void *)1;
		}
	return NULL;
}

static void test_zone_threads(void **state)
{
	(void)state;
	const struct lf_tz *got[4][4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, tz_thread, got[i]), 0);
	for (int i = 0; i < 4; i++) {
		void *rv;
		assert_int_equal(pthread_join(th[i], &rv), 0);
		assert_null(rv);
	}
	for (int i = 1; i < 4; i++)
		for (int k = 0; k < 4; k++)
			assert_ptr_equal(got[i][k], got[0][k]); /* one cached zone per name */
	assert_int_equal(lf_tz_offset(got[0][1], 1782921600, NULL), 9 * 3600);
}

/* Regression (fuzz_gotime): the fraction was computed as ns - sec*1e9,
 * which overflows near INT64_MIN (UBSan). */
static void test_format_int64_min(void **state)
{
	(void)state;
	struct lf_buf out = LF_BUF_INIT;
	assert_int_equal(lf_gotime_format_str("RFC3339Nano", INT64_MIN, NULL, &out), 0);
	assert_string_equal(out.data, "1677-09-21T00:12:43.145224192Z");
	lf_buf_free(&out);
}

int main(void)
{
	/* the machine zone for these tests (read once by lf_tz_local) */
	setenv("TZ", "America/New_York", 1);
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_table),  cmocka_unit_test(test_yearless_new_year),
	        cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_format_reference),
	        cmocka_unit_test(test_format_misc),  cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_zones),        cmocka_unit_test(test_zone_file_cloexec),
	        cmocka_unit_test(test_dryrun),       cmocka_unit_test(test_layout_info),
	        cmocka_unit_test(test_zone_threads), cmocka_unit_test(test_format_int64_min),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
