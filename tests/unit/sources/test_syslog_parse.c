/* test_syslog_parse.c — agent/sources/syslog_parse.h: RFC 5424 and RFC 3164
 * fields, structured data, and both TCP framings with bounded buffering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "syslog_parse.h"

static void assert_slice(struct lf_slice s, const char *want)
{
	if (!want) {
		assert_null(s.p);
		return;
	}
	assert_non_null(s.p);
	assert_int_equal(s.n, strlen(want));
	assert_memory_equal(s.p, want, s.n);
}

static void test_5424(void **state)
{
	(void)state;
	const char *m = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 77 ID47 "
	                "[exampleSDID@32473 iut=\"3\" eventSource=\"Appl\\\"ication\"][x y=\"\"] "
	                "\xef\xbb\xbf"
	                "An application event";
	struct lf_syslog_msg s;
	const char *why = NULL;
	assert_int_equal(lf_syslog_parse_5424(m, strlen(m), &s, &why), 0);
	assert_int_equal(s.facility, 20);
	assert_int_equal(s.severity, 5);
	assert_string_equal(lf_syslog_facility_name(s.facility), "local4");
	assert_string_equal(lf_syslog_severity_name(s.severity), "notice");
	assert_true(s.has_ts);
	assert_int_equal(s.ts_ns, 1065910455003000000LL);
	assert_slice(s.hostname, "mymachine.example.com");
	assert_slice(s.app_name, "evntslog");
	assert_slice(s.proc_id, "77");
	assert_slice(s.msg_id, "ID47");
	assert_slice(s.msg, "An application event"); /* BOM removed */
	struct lf_syslog_sd_iter it;
	struct lf_slice id, name, val;
	char buf[64];
	lf_syslog_sd_iter_init(&it, s.sd);
	assert_int_equal(lf_syslog_sd_next(&it, &id, &name, &val), 1);
	assert_slice(id, "exampleSDID@32473");
	assert_slice(name, "iut");
	assert_slice(val, "3");
	assert_int_equal(lf_syslog_sd_next(&it, &id, &name, &val), 1);
	assert_slice(name, "eventSource");
	size_t n = lf_syslog_sd_unescape(val, buf);
	assert_int_equal(n, strlen("Appl\"ication"));
	assert_memory_equal(buf, "Appl\"ication", n);
	assert_int_equal(lf_syslog_sd_next(&it, &id, &name, &val), 1);
	assert_slice(id, "x");
	assert_slice(val, "");
	assert_int_equal(lf_syslog_sd_next(&it, &id, &name, &val), 0);

	/* nil values and no message */
	m = "<0>1 - - - - - -";
	assert_int_equal(lf_syslog_parse_5424(m, strlen(m), &s, &why), 0);
	assert_false(s.has_ts);
	assert_null(s.hostname.p);
	assert_null(s.msg.p);
	assert_null(s.sd.p);
}

static void test_5424_errors(void **state)
{
	(void)state;
	const char *bad[] = {"",
	                     "<",
	                     "<192>1 - - - - - - x",
	                     "<01>1 - - - - - - x",
	                     "<13>0 - - - - - - x",
	                     "<13>1 2003-13-45T00:00:00Z - - - - - x",
	                     "<13>1 - - - - -",
	                     "<13>1 - - - - - [a x=\"1] m",
	                     "<13>1 - - - - - -x",
	                     "<13>this is rfc3164"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct lf_syslog_msg s;
		const char *why = NULL;
		if (lf_syslog_parse_5424(bad[i], strlen(bad[i]), &s, &why) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_non_null(why);
		assert_true(why[0] != 0);
	}
}

static void test_3164(void **state)
{
	(void)state;
	const int64_t now = 1765000000LL * 1000000000LL; /* 2025-12-06 */
	const char *m = "<34>Oct  5 22:14:15 mymachine su[123]: 'su root' failed";
	struct lf_syslog_msg s;
	const char *why = NULL;
	assert_int_equal(lf_syslog_parse_3164(m, strlen(m), now, &s, &why), 0);
	assert_int_equal(s.facility, 4);
	assert_int_equal(s.severity, 2);
	assert_true(s.has_ts);
	assert_int_equal(s.ts_ns, 1759702455LL * 1000000000LL); /* 2025-10-05T22:14:15Z */
	assert_slice(s.hostname, "mymachine");
	assert_slice(s.app_name, "su");
	assert_slice(s.proc_id, "123");
	assert_slice(s.msg, "'su root' failed");
	m = "<13>no header at all";
	assert_int_equal(lf_syslog_parse_3164(m, strlen(m), now, &s, &why), 0);
	assert_false(s.has_ts);
	assert_slice(s.msg, "no header at all");
	assert_int_equal(lf_syslog_parse_3164("x", 1, now, &s, &why), -1);
}

static void test_framing_octet(void **state)
{
	(void)state;
	struct lf_syslog_framer f;
	lf_syslog_framer_init(&f, 100);
	/* lengths from sizeof, offsets tracked by hand: gcc 12 -O2 folded
	 * strlen() of a pointer moved along a literal to a wrong constant */
	static const char buf[] = "5 hello3 abc12";
	size_t pos = 0, len = sizeof buf - 1;
	const char *msg, *why;
	size_t ml, used;
	assert_int_equal(lf_syslog_frame_next(&f, buf, len, false, &msg, &ml, &used, &why),
	                 LF_FRAME_MSG);
	assert_int_equal(ml, 5);
	assert_memory_equal(msg, "hello", 5);
	assert_int_equal(used, 7);
	pos += used;
	assert_int_equal(
	        lf_syslog_frame_next(&f, buf + pos, len - pos, false, &msg, &ml, &used, &why),
	        LF_FRAME_MSG);
	assert_memory_equal(msg, "abc", 3);
	pos += used;
	/* "12" needs more */
	assert_int_equal(
	        lf_syslog_frame_next(&f, buf + pos, len - pos, false, &msg, &ml, &used, &why),
	        LF_FRAME_MORE);
	assert_int_equal(used, 0);
	/* a count above max_message_length ends the stream */
	assert_int_equal(lf_syslog_frame_next(&f, "101 x", 5, false, &msg, &ml, &used, &why),
	                 LF_FRAME_ERR);
	assert_string_equal(why, "message too long to parse");
	/* unknown first byte */
	lf_syslog_framer_init(&f, 100);
	assert_int_equal(lf_syslog_frame_next(&f, "x", 1, false, &msg, &ml, &used, &why),
	                 LF_FRAME_ERR);
}

static void test_framing_newline(void **state)
{
	(void)state;
	struct lf_syslog_framer f;
	lf_syslog_framer_init(&f, 10);
	const char *msg, *why;
	size_t ml, used;
	static const char buf[] = "<1>abc\r\n\n<1>def";
	size_t pos = 0, len = sizeof buf - 1;
	assert_int_equal(lf_syslog_frame_next(&f, buf, len, false, &msg, &ml, &used, &why),
	                 LF_FRAME_MSG);
	assert_int_equal(ml, 6); /* \r stripped */
	pos += used;
	/* the empty line is skipped */
	assert_int_equal(
	        lf_syslog_frame_next(&f, buf + pos, len - pos, false, &msg, &ml, &used, &why),
	        LF_FRAME_MORE);
	assert_int_equal(used, 1);
	pos += used;
	assert_int_equal(len - pos, 6);
	assert_int_equal(
	        lf_syslog_frame_next(&f, buf + pos, len - pos, false, &msg, &ml, &used, &why),
	        LF_FRAME_MORE);
	assert_int_equal(used, 0);
	assert_int_equal(
	        lf_syslog_frame_next(&f, buf + pos, len - pos, true, &msg, &ml, &used, &why),
	        LF_FRAME_MSG);
	assert_int_equal(ml, 6);
	/* a long line without '\n' is dropped as it comes (nothing kept), then
	 * the next line is fine */
	lf_syslog_framer_init(&f, 10);
	assert_int_equal(
	        lf_syslog_frame_next(&f, "<1>0123456789ab", 15, false, &msg, &ml, &used, &why),
	        LF_FRAME_MORE);
	assert_int_equal(used, 15);
	assert_int_equal(f.too_long, 1);
	assert_int_equal(
	        lf_syslog_frame_next(&f, "cdef\n<1>ok\n", 11, false, &msg, &ml, &used, &why),
	        LF_FRAME_MORE);
	assert_int_equal(used, 5);
	assert_int_equal(lf_syslog_frame_next(&f, "<1>ok\n", 6, false, &msg, &ml, &used, &why),
	                 LF_FRAME_MSG);
	assert_int_equal(ml, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_5424),
	        cmocka_unit_test(test_5424_errors),
	        cmocka_unit_test(test_3164),
	        cmocka_unit_test(test_framing_octet),
	        cmocka_unit_test(test_framing_newline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
