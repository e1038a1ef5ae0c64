/* test_transform.c — transform and action stages: replace, multiline,
 * decolorize, template, pack, static_labels, timestamp, output, labels,
 * labelallow, labeldrop, structured_metadata, tenant. Cases follow the
 * worked examples of Promtail's stage documentation where there is one. */
#include "harness.h"

#include "../../../common/timeutil.h"

static int64_t rfc(const char *s)
{
	int64_t ns;
	assert_int_equal(lf_parse_rfc3339(s, strlen(s), &ns), 0);
	return ns;
}

/* docs replace.md example 1 */
static void test_replace_doc_password(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- replace:\n    expression: \"password (\\\\S+)\"\n    replace: \"****\"\n");
	h_push(&h, "{}",
	       "2019-01-01T01:00:00.000000001Z stderr P i'm a log message who has sensitive "
	       "information with password xyz!");
	assert_string_equal(h_line(&h, 0), "2019-01-01T01:00:00.000000001Z stderr P i'm a log "
	                                   "message who has sensitive information with password "
	                                   "****");
	h_free(&h);
}

/* docs replace.md: the apache line with a conditional template */
static void test_replace_doc_template(void **st)
{
	(void)st;
	struct h h;
	h_new(&h,
	      "- replace:\n"
	      "    expression: '^(?P<ip>\\S+) (?P<identd>\\S+) (?P<user>\\S+) "
	      "\\[(?P<timestamp>[\\w:/]+\\s[+\\-]\\d{4})\\] \"(?P<action>\\S+)\\s?(?P<path>\\S+)?"
	      "\\s?(?P<protocol>\\S+)?\" (?P<status>\\d{3}|-) (?P<size>\\d+|-)\\s?\"?(?P<referer>"
	      "[^\"]*)\"?\\s?\"?(?P<useragent>[^\"]*)?\"?$'\n"
	      "    replace: '{{ if eq .Value \"200\" }}{{ Replace .Value \"200\" \"HttpStatusOk\" "
	      "-1 "
	      "}}{{ else }}{{ .Value | ToUpper }}{{ end }}'\n");
	h_push(&h, "{}",
	       "11.11.11.11 - frank [25/Jan/2000:14:00:01 -0500] \"GET /1986.js HTTP/1.1\" 200 932 "
	       "\"-\" \"Mozilla/5.0 (Windows; U; Windows NT 5.1; de; rv:1.9.1.7) Gecko/20091221 "
	       "Firefox/3.5.7 GTB6\"");
	assert_string_equal(h_line(&h, 0),
	                    "11.11.11.11 - FRANK [25/JAN/2000:14:00:01 -0500] \"GET /1986.JS "
	                    "HTTP/1.1\" HttpStatusOk 932 \"-\" \"MOZILLA/5.0 (WINDOWS; U; WINDOWS "
	                    "NT 5.1; DE; RV:1.9.1.7) GECKO/20091221 FIREFOX/3.5.7 GTB6\"");
	/* named groups are extracted with their replacement */
	assert_string_equal(h_ex(&h, 0, "user"), "FRANK");
	assert_string_equal(h_ex(&h, 0, "status"), "HttpStatusOk");
	h_free(&h);
}

/* replace on an extracted value; empty replacement; several matches */
static void test_replace_source(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- regex:\n    expression: '^(?P<msg>.*)$'\n"
	          "- replace:\n    expression: '(\\d+)'\n    source: msg\n    replace: 'N'\n");
	h_push(&h, "{}", "a1 b22 c333");
	assert_string_equal(h_ex(&h, 0, "msg"), "aN bN cN");
	assert_string_equal(h_line(&h, 0), "a1 b22 c333");
	h_free(&h);
	h_new(&h, "- replace:\n    expression: '(secret=\\S+)'\n    replace: ''\n");
	h_push(&h, "{}", "x secret=abc y");
	assert_string_equal(h_line(&h, 0), "x  y");
	h_push(&h, "{}", "no match here");
	assert_string_equal(h_line(&h, 1), "no match here");
	h_free(&h);
}

/* docs multiline.md */
static void test_multiline_doc(void **st)
{
	(void)st;
	struct h h;
	h_new(&h,
	      "- multiline:\n    firstline: '^\\[\\d{4}-\\d{2}-\\d{2} \\d{1,2}:\\d{2}:\\d{2}\\]'\n"
	      "    max_wait_time: 3s\n");
	const char *L = "{job=\"m\"}";
	assert_int_equal(h_push(&h, L, "before any block"), LF_PIPE_EMITTED);
	assert_int_equal(h_push_ts(&h, L, "[2023-01-18 17:41:21] production.ERROR: boom", 10),
	                 LF_PIPE_HELD);
	assert_int_equal(h_push_ts(&h, L, "#0 /app/a.php(1): f()", 11), LF_PIPE_HELD);
	assert_int_equal(h_push_ts(&h, L, "#1 {main}", 12), LF_PIPE_HELD);
	assert_int_equal(h_push_ts(&h, L, "[2023-01-18 17:42:21] production.INFO: ok", 20),
	                 LF_PIPE_HELD);
	assert_int_equal(h.n, 2);
	assert_string_equal(h_line(&h, 0), "before any block");
	assert_string_equal(h_line(&h, 1),
	                    "[2023-01-18 17:41:21] production.ERROR: boom\n#0 /app/a.php(1): "
	                    "f()\n#1 {main}");
	assert_true(h.out[1].ts_ns == 10); /* the first line's timestamp */
	assert_int_equal(h.out[1].seq_first, 2);
	assert_int_equal(h.out[1].seq_last, 4);
	/* not yet timed out: tick releases nothing */
	int64_t now = lf_monotonic_ns();
	lf_pipeline_tick(h.p, now, h_emit, &h);
	assert_int_equal(h.n, 2);
	/* 3s after the last line: released */
	lf_pipeline_tick(h.p, now + 4 * LF_NS_PER_SEC, h_emit, &h);
	assert_int_equal(h.n, 3);
	assert_string_equal(h_line(&h, 2), "[2023-01-18 17:42:21] production.INFO: ok");
	assert_true(h.out[2].ts_ns == 20);
	h_free(&h);
}

/* issue 17: a max_wait_time near the int64 limit and a tick far ahead
 * neither overflow (10 x max_wait_time) nor lose the block */
static void test_multiline_huge_wait(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- multiline:\n    firstline: '^start'\n    max_wait_time: 2500000h\n");
	assert_int_equal(h_push(&h, "{a=\"1\"}", "start 1"), LF_PIPE_HELD);
	lf_pipeline_tick(h.p, lf_monotonic_ns() + LF_NS_PER_SEC, h_emit, &h);
	assert_int_equal(h.n, 0); /* not timed out */
	lf_pipeline_tick(h.p, INT64_MAX, h_emit, &h);
	assert_int_equal(h.n, 1); /* 2500000h after the last line: released */
	assert_string_equal(h_line(&h, 0), "start 1");
	lf_pipeline_tick(h.p, INT64_MAX, h_emit, &h); /* idle stream: 10 x max_wait */
	lf_pipeline_tick(h.p, INT64_MIN, h_emit, &h);
	assert_int_equal(h.n, 1);
	h_free(&h);
}

static void test_multiline_max_lines(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- multiline:\n    firstline: '^start'\n    max_lines: 2\n");
	assert_int_equal(h_push(&h, "{a=\"1\"}", "start 1"), LF_PIPE_HELD);
	assert_int_equal(h_push(&h, "{a=\"2\"}", "start 2"), LF_PIPE_HELD);   /* other stream */
	assert_int_equal(h_push(&h, "{a=\"1\"}", "cont a"), LF_PIPE_EMITTED); /* max_lines */
	assert_int_equal(h.n, 1);
	assert_string_equal(h_line(&h, 0), "start 1\ncont a");
	assert_int_equal(h_push(&h, "{a=\"1\"}", "cont b"), LF_PIPE_HELD);
	h_flush(&h);
	assert_int_equal(h.n, 3);
	/* flush releases in stream order */
	assert_string_equal(h_line(&h, 1), "cont b");
	assert_string_equal(h_line(&h, 2), "start 2");
	assert_string_equal(h_labels(&h, 2), "{a=\"2\"}");
	h_free(&h);
}

/* Memory guards: a multiline block (max_lines: 0 = no line limit) and a
 * CRI partial line are released before they pass 4 MiB. */
static void test_hold_memory_bounds(void **st)
{
	(void)st;
	size_t big = 1500 * 1000;
	char *line = malloc(big + 64);
	assert_non_null(line);
	struct h h;
	h_new(&h, "- multiline:\n    firstline: '^start'\n    max_lines: 0\n");
	assert_int_equal(h_push(&h, "{}", "start"), LF_PIPE_HELD);
	memset(line, 'x', big);
	line[big] = '\0';
	for (int i = 0; i < 3; i++)
		assert_int_equal(h_push(&h, "{}", line), LF_PIPE_HELD);
	assert_int_equal(h.n, 1); /* released when the 3rd line would pass 4 MiB */
	assert_true(h.out[0].line.len == 5 + 2 * (big + 1));
	assert_int_equal(h.out[0].seq_first, 1);
	assert_int_equal(h.out[0].seq_last, 3);
	h_flush(&h);
	assert_int_equal(h.n, 2);
	assert_true(h.out[1].line.len == big);
	h_free(&h);

	h_new(&h, "- cri: {}\n");
	memcpy(line, "2019-01-01T00:00:01Z stdout P ", 30);
	for (int i = 0; i < 3; i++)
		assert_int_equal(h_push(&h, "{}", line), LF_PIPE_HELD);
	assert_int_equal(h.n, 1);
	assert_true(h.out[0].line.len == 2 * (big - 30));
	h_flush(&h);
	assert_int_equal(h.n, 2);
	h_free(&h);
	free(line);
}

static void test_decolorize(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- decolorize: {}\n");
	h_push(&h, "{}", "\x1b[31mred\x1b[0m and \x1b[1;32mbold green\x1b[m!");
	assert_string_equal(h_line(&h, 0), "red and bold green!");
	h_push(&h, "{}", "plain");
	assert_string_equal(h_line(&h, 1), "plain");
	h_free(&h);
}

/* docs template.md examples */
static void test_template_doc(void **st)
{
	(void)st;
	struct h h;
	h_new(&h,
	      "- template:\n    source: new_key\n    template: 'hello world!'\n"
	      "- regex:\n    expression: '^(?P<app>\\S+)'\n"
	      "- template:\n    source: app\n    template: '{{ .Value }}_some_suffix'\n"
	      "- template:\n    source: upper\n    template: '{{ ToUpper .app }}'\n"
	      "- template:\n    source: rep\n    template: '{{ Replace .Entry \"loki\" \"blokey\" "
	      "1 }}'\n"
	      "- template:\n    source: gone\n    template: '{{ if eq .app \"x\" }}x{{ end }}'\n"
	      "- template:\n    source: both\n    template: '{{ .app }} {{ .nope }}'\n");
	h_push(&h, "{gone=\"label\"}", "loki loki");
	assert_string_equal(h_ex(&h, 0, "new_key"), "hello world!");
	assert_string_equal(h_ex(&h, 0, "app"), "loki_some_suffix");
	assert_string_equal(h_ex(&h, 0, "upper"), "LOKI_SOME_SUFFIX");
	assert_string_equal(h_ex(&h, 0, "rep"), "blokey loki");
	assert_null(h_ex(&h, 0, "gone")); /* empty result removes the key */
	assert_string_equal(h_ex(&h, 0, "both"), "loki_some_suffix <no value>");
	h_free(&h);
}

/* docs pack.md */
static void test_pack_doc(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- pack:\n    labels:\n      - pod\n      - container\n    ingest_timestamp: "
	          "false\n");
	h_push(&h, "{container=\"myapp\", job=\"j\", pod=\"myapp-abc\"}",
	       "something \"quoted\" <x>");
	assert_string_equal(h_line(&h, 0),
	                    "{\"container\":\"myapp\",\"pod\":\"myapp-abc\",\"_entry\":\"something "
	                    "\\\"quoted\\\" \\u003cx\\u003e\"}");
	assert_string_equal(h_labels(&h, 0), "{job=\"j\"}");
	assert_true(h.out[0].ts_ns == TS0);
	h_free(&h);
	h_new(&h, "- pack:\n    labels: [nothere]\n");
	int64_t before = lf_now_ns();
	h_push(&h, "{}", "x");
	assert_string_equal(h_line(&h, 0), "{\"_entry\":\"x\"}");
	assert_true(h.out[0].ts_ns >= before); /* ingest_timestamp defaults to true */
	h_free(&h);
}

static void test_labels_family(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- regex:\n    expression: '^(?P<level>\\w+) (?P<user>\\w+) (?P<bad>.*)$'\n"
	          "- labels:\n    level:\n    who: user\n    bad:\n"
	          "- static_labels:\n    env: prod\n    empty: ''\n"
	          "- labeldrop: [job]\n"
	          "- structured_metadata:\n    trace: user\n");
	h_push(&h, "{job=\"j\", keep=\"k\"}", "error alice \xff\xfe");
	/* invalid UTF-8 values are not set as labels */
	assert_string_equal(h_labels(&h, 0),
	                    "{env=\"prod\", keep=\"k\", level=\"error\", who=\"alice\"}");
	assert_string_equal(h_sm(&h, 0), "{trace=\"alice\"}");
	h_free(&h);

	h_new(&h, "- labelallow: [app, stream]\n");
	h_push(&h, "{app=\"a\", job=\"j\", namespace=\"n\", stream=\"s\"}", "x");
	assert_string_equal(h_labels(&h, 0), "{app=\"a\", stream=\"s\"}");
	h_free(&h);

	/* structured_metadata moves a stream label of that name */
	h_new(&h, "- structured_metadata:\n    pod:\n");
	h_push(&h, "{job=\"j\", pod=\"p-1\"}", "x");
	assert_string_equal(h_labels(&h, 0), "{job=\"j\"}");
	assert_string_equal(h_sm(&h, 0), "{pod=\"p-1\"}");
	h_free(&h);

	h_new(&h, "- non_indexed_labels:\n    pod:\n");
	h_push(&h, "{pod=\"p\"}", "x");
	assert_string_equal(h_sm(&h, 0), "{pod=\"p\"}");
	h_free(&h);
}

/* docs tenant.md: tenant from a JSON field, from a label, fixed value */
static void test_tenant(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- json:\n    expressions:\n      customer_id:\n"
	          "- tenant:\n    source: customer_id\n");
	h_push(&h, "{}", "{\"customer_id\":\"1\",\"log\":\"x\"}");
	assert_string_equal(h_labels(&h, 0), "{__tenant_id__=\"1\"}");
	h_push(&h, "{}", "{\"log\":\"no id\"}");
	assert_string_equal(h_labels(&h, 1), "{}");
	h_free(&h);
	h_new(&h, "- tenant:\n    label: ns\n");
	h_push(&h, "{ns=\"team-a\"}", "x");
	assert_string_equal(h_labels(&h, 0), "{__tenant_id__=\"team-a\", ns=\"team-a\"}");
	h_free(&h);
	h_new(&h, "- tenant:\n    value: fixed\n");
	h_push(&h, "{}", "x");
	assert_string_equal(h_labels(&h, 0), "{__tenant_id__=\"fixed\"}");
	h_free(&h);
}

/* docs output.md */
static void test_output_doc(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- json:\n    expressions:\n      user:\n      message:\n"
	          "- labels:\n    user:\n- output:\n    source: message\n");
	h_push(&h, "{}", "{\"user\": \"alexis\", \"message\": \"hello, world!\"}");
	assert_string_equal(h_line(&h, 0), "hello, world!");
	assert_string_equal(h_labels(&h, 0), "{user=\"alexis\"}");
	h_push(&h, "{}", "{\"user\": \"bob\"}"); /* missing source: line unchanged */
	assert_string_equal(h_line(&h, 1), "{\"user\": \"bob\"}");
	h_free(&h);
}

/* docs timestamp.md formats */
static void test_timestamp(void **st)
{
	(void)st;
	struct h h;
	h_new(&h,
	      "- regex:\n    expression: '^(?P<ts>\\S+) (?P<fmt>\\S+)'\n"
	      "- match:\n    selector: '{f=\"ms\"}'\n    stages:\n"
	      "    - timestamp: {source: ts, format: UnixMs}\n"
	      "- match:\n    selector: '{f=\"unix\"}'\n    stages:\n"
	      "    - timestamp: {source: ts, format: Unix}\n"
	      "- match:\n    selector: '{f=\"rfc\"}'\n    stages:\n"
	      "    - timestamp: {source: ts, format: RFC3339}\n"
	      "- match:\n    selector: '{f=\"custom\"}'\n    stages:\n"
	      "    - timestamp:\n        source: ts\n        format: '2006-01-02T15:04:05.000'\n"
	      "        location: America/New_York\n"
	      "- match:\n    selector: '{f=\"fallback\"}'\n    stages:\n"
	      "    - timestamp:\n        source: ts\n        format: UnixNs\n"
	      "        fallback_formats: [RFC3339Nano, UnixMs]\n"
	      "- match:\n    selector: '{f=\"skip\"}'\n    stages:\n"
	      "    - timestamp: {source: ts, format: RFC3339, action_on_failure: skip}\n");
	h_push(&h, "{f=\"ms\"}", "1562708916414 x");
	assert_true(h.out[0].ts_ns == rfc("2019-07-09T21:48:36.414Z"));
	h_push(&h, "{f=\"unix\"}", "1562708916.000000123 x");
	assert_true(h.out[1].ts_ns == rfc("2019-07-09T21:48:36.000000123Z"));
	h_push(&h, "{f=\"rfc\"}", "2019-07-09T21:48:36+02:00 x");
	assert_true(h.out[2].ts_ns == rfc("2019-07-09T19:48:36Z"));
	h_push(&h, "{f=\"custom\"}", "2019-07-09T21:48:36.500 x");
	assert_true(h.out[3].ts_ns == rfc("2019-07-10T01:48:36.5Z")); /* EDT = UTC-4 */
	h_push(&h, "{f=\"fallback\"}", "2019-07-09T21:48:36.5Z x");
	assert_true(h.out[4].ts_ns == rfc("2019-07-09T21:48:36.5Z"));
	/* failure with fudge (default): last good ts of the stream + 1ns */
	h_push(&h, "{f=\"rfc\"}", "garbage x");
	assert_true(h.out[5].ts_ns == rfc("2019-07-09T19:48:36Z") + 1);
	h_push(&h, "{f=\"rfc\"}", "garbage x");
	assert_true(h.out[6].ts_ns == rfc("2019-07-09T19:48:36Z") + 2);
	/* no good ts yet for this stream: read time kept */
	h_push(&h, "{f=\"ms\", other=\"1\"}", "1562708916414 x");
	h_push(&h, "{f=\"skip\"}", "garbage x");
	assert_true(h.out[8].ts_ns == TS0);
	h_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_replace_doc_password),
	        cmocka_unit_test(test_replace_doc_template),
	        cmocka_unit_test(test_replace_source),
	        cmocka_unit_test(test_multiline_doc),
	        cmocka_unit_test(test_multiline_max_lines),
	        cmocka_unit_test(test_multiline_huge_wait),
	        cmocka_unit_test(test_hold_memory_bounds),
	        cmocka_unit_test(test_decolorize),
	        cmocka_unit_test(test_template_doc),
	        cmocka_unit_test(test_pack_doc),
	        cmocka_unit_test(test_labels_family),
	        cmocka_unit_test(test_tenant),
	        cmocka_unit_test(test_output_doc),
	        cmocka_unit_test(test_timestamp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
