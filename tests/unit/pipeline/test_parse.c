/* test_parse.c — parsing stages: cri, docker, regex, json, logfmt, with the
 * worked examples of Promtail's stage documentation as cases. */
#include "harness.h"

#include "../../../common/timeutil.h"

static int64_t rfc(const char *s)
{
	int64_t ns;
	assert_int_equal(lf_parse_rfc3339(s, strlen(s), &ns), 0);
	return ns;
}

/* docs cri.md: "2019-04-30T02:12:41.8443515Z stdout F message" */
static void test_cri_doc(void **st)
{
	(void)st;
	struct h h;
	/* the template stage reads the whole extracted map, so every value is
	 * materialised (values no stage reads are skipped; see below) */
	h_new(&h, "- cri: {}\n- template: {source: x, template: '{{ .content }}'}\n");
	assert_int_equal(h_push(&h, "{job=\"a\"}", "2019-04-30T02:12:41.8443515Z stdout F message"),
	                 LF_PIPE_EMITTED);
	assert_int_equal(h.n, 1);
	assert_string_equal(h_line(&h, 0), "message");
	assert_string_equal(h_labels(&h, 0), "{job=\"a\", stream=\"stdout\"}");
	assert_true(h.out[0].ts_ns == rfc("2019-04-30T02:12:41.8443515Z"));
	assert_string_equal(h_ex(&h, 0, "content"), "message");
	assert_string_equal(h_ex(&h, 0, "stream"), "stdout");
	assert_string_equal(h_ex(&h, 0, "flags"), "F");
	assert_string_equal(h_ex(&h, 0, "time"), "2019-04-30T02:12:41.8443515Z");
	/* the extracted map starts with the labels */
	assert_string_equal(h_ex(&h, 0, "job"), "a");
	assert_string_equal(h_ex(&h, 0, "x"), "message");
	h_free(&h);
}

/* Extracted values no later stage reads are not materialised (the hot
 * path); behaviour is the same with and without a reader. */
static void test_cri_liveness(void **st)
{
	(void)st;
	const char *lines[] = {"2019-04-30T02:12:41Z stdout F a", "junk",
	                       "2019-04-30T02:12:42Z stderr P b", "bad-time stderr F c"};
	struct h a, b;
	h_new_raw(&a, "- cri: {}\n");
	h_new(&b, "- cri: {}\n- template: {source: x, template: '{{ .flags }}'}\n");
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(h_push(&a, "{job=\"a\"}", lines[i]),
		                 h_push(&b, "{job=\"a\"}", lines[i]));
	}
	h_flush(&a);
	h_flush(&b);
	assert_int_equal(a.n, b.n);
	for (size_t i = 0; i < a.n; i++) {
		assert_string_equal(h_line(&a, i), h_line(&b, i));
		assert_true(a.out[i].ts_ns == b.out[i].ts_ns);
		char la[256];
		snprintf(la, sizeof la, "%s", h_labels(&a, i));
		assert_string_equal(la, h_labels(&b, i));
	}
	assert_null(h_ex(&a, 0, "content"));
	assert_string_equal(h_ex(&b, 0, "content"), "a");
	h_free(&a);
	h_free(&b);
}

/* Lines the CRI regex does not match pass unchanged; the timestamp is
 * fudged from the stream's last good one (Promtail's nested timestamp
 * stage with action fudge). Empty content and tabs follow the regex. */
static void test_cri_edge(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- cri: {}\n");
	h_push(&h, "{job=\"a\"}", "2019-04-30T02:12:41Z stdout F ");
	assert_string_equal(h_line(&h, 0), "");
	h_push(&h, "{job=\"a\"}", "not a cri line");
	assert_string_equal(h_line(&h, 1), "not a cri line");
	assert_string_equal(h_labels(&h, 1), "{job=\"a\"}");
	assert_true(h.out[1].ts_ns == TS0); /* different label set: no fudge */
	h_push(&h, "{job=\"a\"}", "2019-04-30T02:12:41Z stdout F multi\nline\tcontent ");
	assert_string_equal(h_line(&h, 2), "multi\nline\tcontent ");
	/* bad time: fudged to the last good ts of {job=a,stream=stdout} + 1ns */
	h_push(&h, "{job=\"a\"}", "yesterday stdout F x");
	assert_string_equal(h_line(&h, 3), "x");
	assert_true(h.out[3].ts_ns == rfc("2019-04-30T02:12:41Z") + 1);
	h_push(&h, "{job=\"a\"}", "2019-04-30T02:12:41Z stdin F x");
	assert_string_equal(h_line(&h, 4), "2019-04-30T02:12:41Z stdin F x");
	h_push(&h, "{job=\"a\"}", "2019-04-30T02:12:41Z stdout F"); /* no space after flags */
	assert_string_equal(h_line(&h, 5), "2019-04-30T02:12:41Z stdout F");
	h_push(&h, "{job=\"a\"}", "2019-04-30T02:12:41Z\tx stdout F y"); /* \t in time */
	assert_string_equal(h_line(&h, 6), "2019-04-30T02:12:41Z\tx stdout F y");
	h_free(&h);
}

static void test_cri_partial(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- cri: {}\n- labels: {flags: }\n");
	assert_int_equal(h_push(&h, "{job=\"a\"}", "2019-01-01T00:00:01Z stdout P part1 "),
	                 LF_PIPE_HELD);
	assert_int_equal(h_push(&h, "{job=\"a\"}", "2019-01-01T00:00:02Z stderr F other"),
	                 LF_PIPE_EMITTED); /* another stream passes */
	assert_int_equal(h_push(&h, "{job=\"a\"}", "2019-01-01T00:00:03Z stdout P part2 "),
	                 LF_PIPE_HELD);
	assert_int_equal(h_push(&h, "{job=\"a\"}", "2019-01-01T00:00:04Z stdout F end"),
	                 LF_PIPE_EMITTED);
	assert_int_equal(h.n, 2);
	assert_string_equal(h_line(&h, 0), "other");
	assert_string_equal(h_line(&h, 1), "part1 part2 end");
	/* the joined entry is the F entry: its time, its flags */
	assert_true(h.out[1].ts_ns == rfc("2019-01-01T00:00:04Z"));
	assert_string_equal(h_labels(&h, 1), "{flags=\"F\", job=\"a\", stream=\"stdout\"}");
	/* merge bookkeeping: first part's origin/seq_first, last part's seq_last */
	assert_true(h.out[1].origin == (void *)(uintptr_t)1);
	assert_int_equal(h.out[1].seq_first, 1);
	assert_int_equal(h.out[1].seq_last, 4);
	h_free(&h);
}

static void test_cri_partial_limits(void **st)
{
	(void)st;
	struct h h;
	/* 2 held streams at most: a third P releases both, oldest first */
	h_new(&h, "- cri: {max_partial_lines: 2}\n- labels: {flags: }\n");
	assert_int_equal(h_push(&h, "{f=\"1\"}", "2019-01-01T00:00:01Z stdout P a1"), LF_PIPE_HELD);
	assert_int_equal(h_push(&h, "{f=\"2\"}", "2019-01-01T00:00:01Z stdout P b1"), LF_PIPE_HELD);
	assert_int_equal(h_push(&h, "{f=\"1\"}", "2019-01-01T00:00:01Z stdout P a2"), LF_PIPE_HELD);
	assert_int_equal(h.n, 0);
	assert_int_equal(h_push(&h, "{f=\"3\"}", "2019-01-01T00:00:01Z stdout P c1"), LF_PIPE_HELD);
	assert_int_equal(h.n, 2);
	assert_string_equal(h_line(&h, 0), "a1a2");
	assert_string_equal(h_line(&h, 1), "b1");
	assert_string_equal(h_labels(&h, 0), "{f=\"1\", flags=\"P\", stream=\"stdout\"}");
	h_flush(&h); /* shutdown releases what is held */
	assert_int_equal(h.n, 3);
	assert_string_equal(h_line(&h, 2), "c1");
	h_free(&h);

	/* truncation of the joined line */
	h_new(&h,
	      "- cri:\n    max_partial_line_size: 5\n    max_partial_line_size_truncate: true\n");
	h_push(&h, "{f=\"1\"}", "2019-01-01T00:00:01Z stdout P abc");
	h_push(&h, "{f=\"1\"}", "2019-01-01T00:00:01Z stdout P def");
	h_push(&h, "{f=\"1\"}", "2019-01-01T00:00:01Z stdout F ghi");
	assert_int_equal(h.n, 1);
	assert_string_equal(h_line(&h, 0), "abcde");
	h_free(&h);
}

/* docs docker.md */
static void test_docker_doc(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- docker: {}\n");
	h_push(&h, "{job=\"d\"}",
	       "{\"log\":\"log message\\n\",\"stream\":\"stderr\",\"time\":\"2019-04-30T02:12:41."
	       "8443515Z\"}");
	assert_int_equal(h.n, 1);
	assert_string_equal(h_line(&h, 0), "log message\n");
	assert_string_equal(h_labels(&h, 0), "{job=\"d\", stream=\"stderr\"}");
	assert_true(h.out[0].ts_ns == rfc("2019-04-30T02:12:41.8443515Z"));
	assert_string_equal(h_ex(&h, 0, "output"), "log message\n");
	assert_string_equal(h_ex(&h, 0, "timestamp"), "2019-04-30T02:12:41.8443515Z");
	/* not JSON: unchanged */
	h_push(&h, "{job=\"d\"}", "plain text");
	assert_string_equal(h_line(&h, 1), "plain text");
	assert_string_equal(h_labels(&h, 1), "{job=\"d\"}");
	h_free(&h);
}

/* docs regex.md, both examples */
static void test_regex_doc(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- regex:\n    expression: "
	          "\"^(?s)(?P<time>\\\\S+?) (?P<stream>stdout|stderr) (?P<flags>\\\\S+?) "
	          "(?P<content>.*)$\"\n");
	h_push(&h, "{}", "2019-01-01T01:00:00.000000001Z stderr P i'm a log message!");
	assert_string_equal(h_ex(&h, 0, "time"), "2019-01-01T01:00:00.000000001Z");
	assert_string_equal(h_ex(&h, 0, "stream"), "stderr");
	assert_string_equal(h_ex(&h, 0, "flags"), "P");
	assert_string_equal(h_ex(&h, 0, "content"), "i'm a log message!");
	/* the regex stage never changes the line */
	assert_string_equal(h_line(&h, 0),
	                    "2019-01-01T01:00:00.000000001Z stderr P i'm a log message!");
	h_free(&h);

	h_new(&h, "- json:\n    expressions:\n      time:\n"
	          "- regex:\n    expression: \"^(?P<year>\\\\d+)\"\n    source: \"time\"\n");
	h_push(&h, "{}", "{\"time\":\"2019-01-01T01:00:00.000000001Z\"}");
	assert_string_equal(h_ex(&h, 0, "time"), "2019-01-01T01:00:00.000000001Z");
	assert_string_equal(h_ex(&h, 0, "year"), "2019");
	h_free(&h);

	/* optional group that did not participate: "" (Go FindStringSubmatch);
	 * no match: nothing set */
	h_new(&h, "- regex:\n    expression: '^(?P<a>x)?(?P<b>y)'\n");
	h_push(&h, "{}", "y");
	assert_string_equal(h_ex(&h, 0, "a"), "");
	assert_string_equal(h_ex(&h, 0, "b"), "y");
	h_push(&h, "{}", "zzz");
	assert_null(h_ex(&h, 1, "b"));
	h_free(&h);
}

/* docs json.md examples */
static void test_json_doc(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- json:\n    expressions:\n      output: log\n      stream: stream\n"
	          "      timestamp: time\n");
	h_push(&h, "{}",
	       "{\"log\":\"log message\\n\",\"stream\":\"stderr\",\"time\":\"2019-04-30T02:12:41."
	       "8443515Z\"}");
	assert_string_equal(h_ex(&h, 0, "output"), "log message\n");
	assert_string_equal(h_ex(&h, 0, "stream"), "stderr");
	assert_string_equal(h_ex(&h, 0, "timestamp"), "2019-04-30T02:12:41.8443515Z");
	h_free(&h);

	h_new(&h, "- json:\n    expressions:\n      output: log\n      extra:\n"
	          "- json:\n    expressions:\n      user:\n    source: extra\n");
	h_push(&h, "{}", "{\"log\":\"log message\\n\",\"extra\":\"{\\\"user\\\":\\\"marco\\\"}\"}");
	assert_string_equal(h_ex(&h, 0, "output"), "log message\n");
	assert_string_equal(h_ex(&h, 0, "extra"), "{\"user\":\"marco\"}");
	assert_string_equal(h_ex(&h, 0, "user"), "marco");
	h_free(&h);
}

static void test_json_values(void **st)
{
	(void)st;
	struct h h;
	h_new(&h,
	      "- json:\n    expressions:\n"
	      "      n: num\n      f: flt\n      big: big\n      t: yes\n      nul: nothing\n"
	      "      obj: o\n      arr: a\n      deep: o.x.y\n      idx: a[1]\n      last: a[-1]\n"
	      "      dotted: '\"k.with.dots\"'\n      esc: s\n      missing: nope.nope\n");
	h_push(&h, "{nul=\"keep\"}",
	       "{\"num\":200,\"flt\":1.50,\"big\":1e21,\"yes\":true,\"nothing\":null,"
	       "\"o\":{\"x\":{\"y\":\"z\"},\"b\":[1,2.5e-7],\"a\":\"<&>\"},\"a\":[\"p\",\"q\",3],"
	       "\"k.with.dots\":\"dots\",\"s\":\"tab\\there \\u00e9\\ud83d\\ude00\"}");
	assert_string_equal(h_ex(&h, 0, "n"), "200");
	assert_string_equal(h_ex(&h, 0, "f"), "1.5");
	assert_string_equal(h_ex(&h, 0, "big"), "1000000000000000000000");
	assert_string_equal(h_ex(&h, 0, "t"), "true");
	assert_null(h_ex(&h, 0, "nul")); /* null: Promtail stores nil = absent */
	assert_string_equal(
	        h_ex(&h, 0, "obj"),
	        "{\"a\":\"\\u003c\\u0026\\u003e\",\"b\":[1,2.5e-7],\"x\":{\"y\":\"z\"}}");
	assert_string_equal(h_ex(&h, 0, "arr"), "[\"p\",\"q\",3]");
	assert_string_equal(h_ex(&h, 0, "deep"), "z");
	assert_string_equal(h_ex(&h, 0, "idx"), "q");
	assert_string_equal(h_ex(&h, 0, "last"), "3");
	assert_string_equal(h_ex(&h, 0, "dotted"), "dots");
	assert_string_equal(h_ex(&h, 0, "esc"), "tab\there \xc3\xa9\xf0\x9f\x98\x80");
	assert_null(h_ex(&h, 0, "missing"));
	/* invalid UTF-8 in a string decodes to U+FFFD, as Go's decoder does */
	h_push(&h, "{}",
	       "{\"num\":\"a\xff"
	       "b\"}");
	assert_string_equal(h_ex(&h, 1, "n"), "a\xef\xbf\xbd"
	                                      "b");
	h_free(&h);
}

static void test_json_malformed(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- json:\n    expressions:\n      a:\n");
	const char *bad[] = {"{\"a\":1",   "{\"a\":1} x",      "[1]", "{'a':1}",
	                     "{\"a\":01}", "{\"a\":\"\x01\"}", "",    "{\"a\":tru}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(h_push(&h, "{}", bad[i]), LF_PIPE_EMITTED);
		assert_null(h_ex(&h, i, "a"));
		assert_string_equal(h_line(&h, i), bad[i]);
	}
	h_free(&h);

	h_new(&h, "- json:\n    expressions:\n      a:\n    drop_malformed: true\n");
	assert_int_equal(h_push(&h, "{}", "{\"a\":"), LF_PIPE_DROPPED);
	assert_int_equal(h_push(&h, "{}", " {\"a\" : \"ok\" } "), LF_PIPE_EMITTED);
	assert_int_equal(h.n, 1);
	assert_string_equal(h_ex(&h, 0, "a"), "ok");
	assert_true(h_drops(&h, "json_malformed") == 1);
	h_free(&h);
}

/* docs logfmt.md examples */
static void test_logfmt_doc(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- logfmt:\n    mapping:\n      timestamp: time\n      app:\n      duration:\n"
	          "      unknown:\n");
	h_push(&h, "{}",
	       "time=2012-11-01T22:08:41+00:00 app=loki level=WARN duration=125 message=\"this is "
	       "a log line\" extra=\"user=foo\"");
	assert_string_equal(h_ex(&h, 0, "timestamp"), "2012-11-01T22:08:41+00:00");
	assert_string_equal(h_ex(&h, 0, "app"), "loki");
	assert_string_equal(h_ex(&h, 0, "duration"), "125");
	assert_null(h_ex(&h, 0, "unknown"));
	h_free(&h);

	h_new(&h, "- logfmt:\n    mapping:\n      extra:\n"
	          "- logfmt:\n    mapping:\n      user:\n    source: extra\n");
	h_push(&h, "{}",
	       "time=2012-11-01T22:08:41+00:00 app=loki level=WARN duration=125 message=\"this is "
	       "a log line\" extra=\"user=foo\"");
	assert_string_equal(h_ex(&h, 0, "extra"), "user=foo");
	assert_string_equal(h_ex(&h, 0, "user"), "foo");
	h_free(&h);
}

/* go-logfmt decoder behaviour: escapes, bare keys, and a syntax error that
 * stops the scan but keeps what was found before it. */
/* A parsing stage whose `source` is not in the extracted map leaves the
 * entry as it is and counts a missing_source error (shared lf_stage_input). */
static void test_missing_source(void **st)
{
	(void)st;
	static const char *const kinds[] = {"regex", "logfmt", "json"};
	static const char *const yaml[] = {
	        "- regex: {expression: '(?P<a>.*)', source: nope}\n",
	        "- logfmt: {mapping: {a: }, source: nope}\n",
	        "- json: {expressions: {a: }, source: nope}\n",
	};
	for (size_t k = 0; k < 3; k++) {
		struct h h;
		h_new(&h, yaml[k]);
		assert_int_equal(h_push(&h, "{job=\"x\"}", "a=1"), LF_PIPE_EMITTED);
		assert_int_equal(h.n, 1);
		assert_string_equal(h_line(&h, 0), "a=1");
		assert_null(h_ex(&h, 0, "a"));
		char want[200];
		snprintf(want, sizeof want,
		         "logferry_pipeline_errors_total{job=\"testjob\",stage=\"%s\","
		         "reason=\"missing_source\"} 1\n",
		         kinds[k]);
		char *m = h_render_metrics(&h);
		if (!strstr(m, want))
			fail_msg("%s: no \"%s\" in metrics", kinds[k], want);
		free(m);
		h_free(&h);
	}
}

static void test_logfmt_syntax(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- logfmt:\n    mapping:\n      a:\n      b:\n      c:\n      d:\n");
	h_push(&h, "{}", "a=\"x \\\"y\\\" \\u00e9\" b c=");
	assert_string_equal(h_ex(&h, 0, "a"), "x \"y\" \xc3\xa9");
	assert_string_equal(h_ex(&h, 0, "b"), "");
	assert_string_equal(h_ex(&h, 0, "c"), "");
	h_push(&h, "{}", "a=1 b=http://x?y=z c=3");
	assert_string_equal(h_ex(&h, 1, "a"), "1");
	assert_null(h_ex(&h, 1, "b"));
	assert_null(h_ex(&h, 1, "c"));
	h_push(&h, "{}", "a=1 b=\"unterminated c=3");
	assert_string_equal(h_ex(&h, 2, "a"), "1");
	assert_null(h_ex(&h, 2, "c"));
	h_push(&h, "{}", "a=1\nd=4");
	assert_string_equal(h_ex(&h, 3, "a"), "1");
	assert_string_equal(h_ex(&h, 3, "d"), "4");
	/* A high surrogate followed by a bad \u escape is a syntax error (it
	 * used to shift the -1 of a non-hex digit left: UB, UBSan aborts). */
	h_push(&h, "{}", "d=4 a=\"\\ud800\\uzz41\" b=2");
	assert_string_equal(h_ex(&h, 4, "d"), "4");
	assert_null(h_ex(&h, 4, "a"));
	assert_null(h_ex(&h, 4, "b"));
	/* ... and one followed by a valid non-surrogate escape is U+FFFD. */
	h_push(&h, "{}", "a=\"\\ud800\\u0041\"");
	assert_string_equal(h_ex(&h, 5, "a"), "\xef\xbf\xbd"
	                                      "A");
	h_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cri_doc),
	        cmocka_unit_test(test_cri_edge),
	        cmocka_unit_test(test_cri_liveness),
	        cmocka_unit_test(test_cri_partial),
	        cmocka_unit_test(test_cri_partial_limits),
	        cmocka_unit_test(test_docker_doc),
	        cmocka_unit_test(test_regex_doc),
	        cmocka_unit_test(test_json_doc),
	        cmocka_unit_test(test_json_values),
	        cmocka_unit_test(test_json_malformed),
	        cmocka_unit_test(test_logfmt_doc),
	        cmocka_unit_test(test_logfmt_syntax),
	        cmocka_unit_test(test_missing_source),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
