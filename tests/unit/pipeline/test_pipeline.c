/* test_pipeline.c — building pipelines (load errors name the job, the stage
 * index and kind, and the YAML line:column) and running them (pass-through,
 * extracted map initialised from labels, results, number formatting). */
#include "harness.h"

#include "../../../common/timeutil.h"
#include "stage.h"

static void expect_error(const char *yaml, const char *const *parts)
{
	struct h h;
	struct lf_error err = {{0}};
	int rc = h_try(&h, yaml, &err);
	if (rc == 0)
		fail_msg("expected an error for:\n%s", yaml);
	for (size_t i = 0; parts[i]; i++)
		if (!strstr(err.msg, parts[i]))
			fail_msg("error \"%s\" lacks \"%s\"", err.msg, parts[i]);
	h_free(&h);
}

static void test_load_errors(void **st)
{
	(void)st;
	expect_error("- cri: {}\n- nope: {}\n",
	             (const char *const[]){"job \"testjob\"", "test.yaml:2:3", "pipeline_stages[1]",
	                                   "Unknown stage type: nope", NULL});
	expect_error("- regex:\n    expression: '(?P<a>x'\n",
	             (const char *const[]){"test.yaml:2:17", "pipeline_stages[0].regex.expression",
	                                   "missing closing parenthesis", "offset", NULL});
	expect_error(
	        "- json:\n    expressions:\n      a: 'foo(bar)'\n",
	        (const char *const[]){"pipeline_stages[0].json", "JMES", "test.yaml:3:10", NULL});
	expect_error("- labels:\n    'bad-name': x\n",
	             (const char *const[]){"invalid label name: bad-name", "test.yaml:2:5", NULL});
	expect_error("- drop:\n    longer_than: [1]\n",
	             (const char *const[]){"pipeline_stages[0].drop", "longer_than", NULL});
	expect_error("- multiline:\n    max_wait_time: forever\n    firstline: x\n",
	             (const char *const[]){"max_wait_time", "test.yaml:2:20", NULL});
	expect_error("- cri: {}\n- match:\n    selector: '{app=}'\n    stages:\n    - cri: {}\n",
	             (const char *const[]){"pipeline_stages[1].match",
	                                   "invalid selector syntax for match stage", NULL});
	expect_error("- match:\n    selector: '{app=\"x\"}'\n    stages:\n    - regex:\n"
	             "        expression: '['\n",
	             (const char *const[]){"pipeline_stages[0].match.stages[0].regex",
	                                   "test.yaml:5:21", NULL});
	expect_error("- match:\n    selector: '{app=\"x\"}'\n",
	             (const char *const[]){"requires at least one additional stage", NULL});
	expect_error("- template:\n    source: x\n    template: '{{ .a '\n",
	             (const char *const[]){"pipeline_stages[0].template", "test.yaml:3:15",
	                                   "template: pipeline_template", NULL});
	expect_error("- timestamp:\n    source: t\n    format: RFC3339\n    location: Mars/Base\n",
	             (const char *const[]){"invalid location specified", NULL});
	expect_error("- timestamp:\n    source: t\n",
	             (const char *const[]){"timestamp format is required", NULL});
	expect_error("- tenant:\n    value: a\n    source: b\n",
	             (const char *const[]){"mutually exclusive", NULL});
	expect_error("- sampling:\n    rate: 2\n",
	             (const char *const[]){"Sampling Rate must be between 0.0 and 1.0", NULL});
	/* a quoted identifier with a bad escape (found by fuzz_stage_json) */
	expect_error("- json:\n    expressions:\n      v: 'a.\"\\u\"'\n",
	             (const char *const[]){"could not compile JMES expression", NULL});
	expect_error("- json:\n    expressions:\n      v: '\"\\uzz12\"'\n",
	             (const char *const[]){"could not compile JMES expression", NULL});
	expect_error("- json:\n    expressions:\n      v: '\"\\q\"'\n",
	             (const char *const[]){"could not compile JMES expression", NULL});
	expect_error("- sampling:\n    rate: nan\n",
	             (const char *const[]){
	                     "Sampling Rate must be between 0.0 and 1.0, received NaN", NULL});
	expect_error("- limit:\n    rate: 0\n    burst: 1\n",
	             (const char *const[]){"failed to parse rate or burst", NULL});
	expect_error("- metrics:\n    m:\n      type: summary\n",
	             (const char *const[]){"invalid metric type 'summary'", NULL});
	expect_error("- metrics:\n    m:\n      type: counter\n      max_idle_duration: 500ms\n",
	             (const char *const[]){"max_idle_duration less than 1s not allowed", NULL});
	expect_error("- metrics:\n    g:\n      type: Gauge\n      config:\n        action: mul\n",
	             (const char *const[]){"action mul is not valid", "test.yaml:5:17", NULL});
	expect_error("- metrics:\n    c:\n      type: Counter\n      config:\n"
	             "        count_entry_bytes: true\n        action: add\n",
	             (const char *const[]){"can only be set with `match_all: true`", NULL});
	expect_error("- cri: {}\n  docker: {}\n",
	             (const char *const[]){"pipeline stage must contain only one key", NULL});
	expect_error("- cri\n", (const char *const[]){"must end with a `:`", NULL});
	expect_error("- regex:\n    expresion: x\n",
	             (const char *const[]){"expresion", "test.yaml:2:5", NULL});
	expect_error("- geoip:\n    db: x\n",
	             (const char *const[]){"not supported by logferry", NULL});
	expect_error("- output: {}\n",
	             (const char *const[]){"output source value is required", NULL});
}

static void test_passthrough(void **st)
{
	(void)st;
	struct h h;
	h_new_raw(&h, "");
	assert_int_equal(h_push(&h, "{a=\"1\"}", "line"), LF_PIPE_EMITTED);
	assert_int_equal(h.n, 1);
	assert_string_equal(h_line(&h, 0), "line");
	assert_string_equal(h_labels(&h, 0), "{a=\"1\"}");
	h_flush(&h);
	assert_int_equal(h.n, 1);
	h_free(&h);
	/* the extracted map starts with the labels (Promtail's Pipeline.Run) */
	h_new(&h, "- labels: {b: a}\n- output: {source: a}\n");
	h_push(&h, "{a=\"1\"}", "line");
	assert_string_equal(h_labels(&h, 0), "{a=\"1\", b=\"1\"}");
	assert_string_equal(h_line(&h, 0), "1");
	h_free(&h);
}

/* Stale extracted values of the caller's reused entry do not leak in. */
static void test_extracted_reset(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- labels: {x: }\n");
	lf_entry_reset(&h.in);
	lf_labels_set(&h.in.extracted, "x", "stale");
	lf_buf_appends(&h.in.line, "l");
	lf_pipeline_process(h.p, &h.in, h_emit, &h);
	assert_string_equal(h_labels(&h, 0), "{}");
	h_free(&h);
}

/* Labels set by a stage become visible to a nested pipeline's extracted
 * map (match re-initialises it), and a nested drop is reported. */
static void test_nested_results(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- static_labels: {team: x}\n"
	          "- match:\n    selector: '{team=\"x\"}'\n    stages:\n"
	          "    - template: {source: t, template: '{{ .team }}!'}\n"
	          "    - labels: {t: }\n"
	          "    - drop: {expression: 'bad'}\n"
	          "- static_labels: {after: '1'}\n");
	assert_int_equal(h_push(&h, "{}", "good"), LF_PIPE_EMITTED);
	assert_int_equal(h_push(&h, "{}", "bad"), LF_PIPE_DROPPED);
	assert_int_equal(h.n, 1);
	assert_string_equal(h_labels(&h, 0), "{after=\"1\", t=\"x!\", team=\"x\"}");
	h_free(&h);
}

/* Liveness: parsers skip values no later stage reads, without changing
 * what the stages that do read them see; drop_malformed still drops. */
static void test_liveness(void **st)
{
	(void)st;
	struct h h;
	h_new_raw(&h, "- json:\n    expressions: {a: , b: }\n- regex:\n"
	              "    expression: '(?P<c>x+)(?P<d>y+)'\n    source: a\n"
	              "- logfmt:\n    mapping: {e: , f: }\n    source: a\n"
	              "- labels: {c: , e: }\n");
	h_push(&h, "{}", "{\"a\":\"e=1 f=2 xxyy\",\"b\":\"B\"}");
	assert_string_equal(h_labels(&h, 0), "{c=\"xx\", e=\"1\"}");
	assert_string_equal(h_ex(&h, 0, "a"), "e=1 f=2 xxyy"); /* read by regex/logfmt */
	assert_null(h_ex(&h, 0, "b"));
	assert_null(h_ex(&h, 0, "d"));
	assert_null(h_ex(&h, 0, "f"));
	h_free(&h);
	h_new_raw(&h, "- json:\n    expressions: {a: }\n    drop_malformed: true\n");
	assert_int_equal(h_push(&h, "{}", "not json"), LF_PIPE_DROPPED);
	assert_int_equal(h_push(&h, "{}", "{}"), LF_PIPE_EMITTED);
	h_free(&h);
}

/* Random mutations of realistic lines through every parser: nothing may
 * crash or leak (run under ASan), every entry is emitted, dropped or held,
 * and a flush releases what is held. Deterministic seed. */
static void test_random_inputs(void **st)
{
	(void)st;
	static const char *seeds[] = {
	        "2024-05-01T10:00:00.123Z stdout F "
	        "{\"a\":{\"b\":[1,2,{\"c\":\"\\u00e9\"}]},\"n\":-1.5e3}",
	        "{\"log\":\"x=1 "
	        "y=\\\"two\\\"\\n\",\"stream\":\"stderr\",\"time\":\"2024-05-01T10:00:00Z\"}",
	        "level=info msg=\"hello \\\"w\\\"\" dur=1.5s k",
	        "2024-05-01T10:00:00Z stderr P part \x1b[31mred\x1b[0m",
	        "  at com.example.Foo(Foo.java:1) password=secret"};
	struct h h;
	h_new(&h, "- cri: {}\n- docker: {}\n- multiline:\n    firstline: '^\\S'\n"
	          "    max_lines: 3\n- decolorize: {}\n"
	          "- json:\n    expressions: {a: 'a.b[2].c', n: , arr: a.b, all: a}\n"
	          "- logfmt:\n    mapping: {level: , msg: , dur: , k: }\n"
	          "- regex:\n    expression: '(?P<w>\\w+)=(?P<v>\\S*)'\n"
	          "- replace:\n    expression: 'password=(\\S+)'\n    replace: '{{ .Value | "
	          "ToUpper }}'\n"
	          "- template: {source: t, template: '{{ .msg }}{{ .a }}'}\n"
	          "- timestamp: {source: dur, format: RFC3339}\n"
	          "- labels: {level: , w: }\n"
	          "- pack: {labels: [v], ingest_timestamp: false}\n");
	uint64_t r = 0x9e3779b97f4a7c15ULL;
	char buf[512];
	size_t emitted = 0, dropped = 0, held = 0;
	for (int it = 0; it < 3000; it++) {
		const char *sd = seeds[it % 5];
		size_t n = strlen(sd);
		memcpy(buf, sd, n);
		int muts = it % 7;
		for (int m = 0; m < muts; m++) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			size_t pos = (size_t)(r % (n ? n : 1));
			switch ((r >> 32) % 4) {
			case 0: /* flip to a random byte */
				buf[pos] = (char)(r >> 40);
				break;
			case 1: /* truncate */
				n = pos;
				break;
			case 2: /* duplicate a chunk */
				if (n + 8 < sizeof buf - 1) {
					memmove(buf + pos + 8, buf + pos, n - pos);
					n += 8;
				}
				break;
			default: /* special characters */
				buf[pos] = "\"\\{}[]=: \n\t"[(r >> 48) % 12];
			}
		}
		buf[n] = '\0';
		size_t before = h.n;
		enum lf_pipe_result res = h_push(&h, it % 3 ? "{app=\"a\"}" : "{}", buf);
		emitted += h.n - before;
		if (res == LF_PIPE_DROPPED)
			dropped++;
		else if (res == LF_PIPE_HELD)
			held++;
		h_clear_out(&h);
	}
	h_flush(&h);
	emitted += h.n;
	assert_true(emitted > 1000);
	assert_true(held > 0);
	(void)dropped;
	h_free(&h);
}

/* The cached RFC3339 parser agrees with timeutil's, and refuses what Go's
 * RFC3339 layout refuses ('t', ' ', 'z'), whether the cache hits or not. */
static void test_rfc3339_cache(void **st)
{
	(void)st;
	struct lf_rfc3339_cache c = {0};
	const char *good[] = {"2024-05-01T10:00:00Z",
	                      "2024-05-01T10:00:00.5Z",
	                      "2024-05-01T10:00:00.123456789Z",
	                      "2024-05-01T10:00:00.1234567891234Z",
	                      "2024-05-01T10:00:00,25+02:00",
	                      "2024-05-01T10:00:00-07:30",
	                      "2024-05-01T10:00:01Z",
	                      "1969-12-31T23:59:59.5Z",
	                      "2024-02-29T00:00:00Z"};
	for (int round = 0; round < 2; round++) /* cold and warm cache */
		for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
			int64_t a, b;
			assert_int_equal(lf_parse_rfc3339(good[i], strlen(good[i]), &a), 0);
			assert_int_equal(lf_parse_rfc3339_fast(&c, good[i], strlen(good[i]), &b),
			                 0);
			assert_true(a == b);
		}
	const char *bad[] = {"2024-05-01t10:00:00Z",  "2024-05-01 10:00:00Z",
	                     "2024-05-01T10:00:00z",  "2024-05-01T10:00:00.Z",
	                     "2024-05-01T10:00:00",   "2024-05-01T10:00:00+0200",
	                     "2024-05-01T10:00:00Zx", "2023-02-29T00:00:00Z",
	                     "2024-05-01T10:00:60Z",  "2024-05-01T10:00:00+02:0x"};
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			int64_t t;
			/* warm the cache with the same prefix first */
			lf_parse_rfc3339_fast(&c, "2024-05-01T10:00:00Z", 20, &t);
			if (lf_parse_rfc3339_fast(&c, bad[i], strlen(bad[i]), &t) == 0)
				fail_msg("accepted %s", bad[i]);
		}
	}
}

static const char *fmt(int (*f)(struct lf_buf *, double), double v)
{
	static char s[64];
	struct lf_buf b = LF_BUF_INIT;
	f(&b, v);
	snprintf(s, sizeof s, "%s", b.data);
	lf_buf_free(&b);
	return s;
}

/* Go's strconv forms used for JSON numbers, json.Marshal and metrics. */
static void test_number_format(void **st)
{
	(void)st;
	assert_string_equal(fmt(lf_fmt_go_float, 200), "200");
	assert_string_equal(fmt(lf_fmt_go_float, 0.1), "0.1");
	assert_string_equal(fmt(lf_fmt_go_float, -1.25), "-1.25");
	assert_string_equal(fmt(lf_fmt_go_float, 1e21), "1000000000000000000000");
	assert_string_equal(fmt(lf_fmt_go_float, 1e-7), "0.0000001");
	assert_string_equal(fmt(lf_fmt_go_float, 12345678901234567890.0), "12345678901234567000");
	assert_string_equal(fmt(lf_fmt_json_float, 1e21), "1e+21");
	assert_string_equal(fmt(lf_fmt_json_float, 1e-7), "1e-7");
	assert_string_equal(fmt(lf_fmt_json_float, 123.5), "123.5");
	assert_string_equal(fmt(lf_fmt_go_float_g, 40), "40");
	assert_string_equal(fmt(lf_fmt_go_float_g, 1e6), "1e+06");
	assert_string_equal(fmt(lf_fmt_go_float_g, 123456), "123456");
	assert_string_equal(fmt(lf_fmt_go_float_g, 0.0001), "0.0001");
	assert_string_equal(fmt(lf_fmt_go_float_g, 0.00001), "1e-05");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_load_errors),     cmocka_unit_test(test_passthrough),
	        cmocka_unit_test(test_extracted_reset), cmocka_unit_test(test_nested_results),
	        cmocka_unit_test(test_number_format),   cmocka_unit_test(test_liveness),
	        cmocka_unit_test(test_random_inputs),   cmocka_unit_test(test_rfc3339_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
