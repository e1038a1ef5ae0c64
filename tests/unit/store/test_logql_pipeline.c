/* test_logql_pipeline.c — the LogQL log pipeline (store/logql/pipeline.c):
 * a table of (pipeline, stream labels, line) -> (kept?, output labels,
 * output line), each case taken from Loki 2.8's documented / source
 * semantics (reference sections 1.x named per row), plus parse errors,
 * rendering and clone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonscan.h"
#include "logfmt.h"
#include "pipeline.h"

struct pcase {
	const char *pipe;   /* pipeline text */
	const char *stream; /* stream labels, text form */
	const char *line;
	int keep;
	const char *labels; /* expected output labels (lf_labels_render form) */
	const char *out;    /* expected output line (NULL = unchanged) */
};

#define S "{app=\"a\"}"

static const struct pcase cases[] = {
        /* 1.1 line filters */
        {"|= \"err\"", S, "an error", 1, S, NULL},
        {"|= \"err\"", S, "fine", 0, NULL, NULL},
        {"!= \"err\"", S, "an error", 0, NULL, NULL},
        {"|~ \"e.r\"", S, "an error", 1, S, NULL},
        {"!~ `e.r`", S, "fine", 1, S, NULL},
        {"|= \"\"", S, "", 1, S, NULL},
        {"|= \"a\" or \"b\"", S, "xbx", 1, S, NULL},
        {"|= \"a\" |= \"b\"", S, "xbx", 0, NULL, NULL},
        /* 1.2 json */
        {"| json", S, "{\"a\":{\"b c\":1},\"s\":\"x\\ny\",\"n\":null,\"arr\":[1],\"t\":true}", 1,
         "{a_b_c=\"1\", app=\"a\", s=\"x\\ny\", t=\"true\"}", NULL},
        {"| json", S, "{\"n\":1.50,\"e\":1e3}", 1, "{app=\"a\", e=\"1e3\", n=\"1.50\"}", NULL},
        {"| json", S, "{\"a\":1x}", 1, "{a=\"1x\", app=\"a\"}", NULL},
        {"| json", S, "{\"a\":1,}", 1, "{a=\"1\", app=\"a\"}", NULL},
        {"| json", S, "{\"a\":1} trailing", 1, "{a=\"1\", app=\"a\"}", NULL},
        {"| json", S, "{\"a\":1,\"a\":2}", 1, "{a=\"2\", app=\"a\"}", NULL},
        {"| json", S, "{\"app\":\"x\",\"1b\":\"y\",\"cou-nter\":\"z\"}", 1,
         "{_1b=\"y\", app=\"a\", app_extracted=\"x\", cou_nter=\"z\"}", NULL},
        {"| json", S, "not json", 1,
         "{__error__=\"JSONParserErr\", __error_details__=\"Value looks like object, but can't "
         "find closing '}' symbol\", app=\"a\"}",
         NULL},
        {"| json", S, "{\"a\":bad}", 1,
         "{__error__=\"JSONParserErr\", __error_details__=\"Unknown value type\", app=\"a\"}",
         NULL},
        {"| json", S, "{\"a\":\"x", 1,
         "{__error__=\"JSONParserErr\", __error_details__=\"Value is string, but can't find "
         "closing '\\\"' symbol\", app=\"a\"}",
         NULL},
        {"| json", S, "{\"a\":1,", 1,
         "{__error__=\"JSONParserErr\", __error_details__=\"Value is array, but can't find "
         "closing ']' symbol\", a=\"1\", app=\"a\"}",
         NULL},
        {"| json", S, "{\"a\"", 1,
         "{__error__=\"JSONParserErr\", __error_details__=\"Malformed JSON error\", app=\"a\"}",
         NULL},
        {"| json", S, "{\"a\":1 \"b\":2}", 1,
         "{__error__=\"JSONParserErr\", __error_details__=\"Value looks like object, but can't "
         "find closing '}' symbol\", a=\"1\", app=\"a\"}",
         NULL},
        {"| json | __error__=\"\"", S, "bad", 0, NULL, NULL},
        {"| json | __error__!=\"\"", S, "bad", 1,
         "{__error__=\"JSONParserErr\", __error_details__=\"Value looks like object, but can't "
         "find closing '}' symbol\", app=\"a\"}",
         NULL},
        {"| json | drop __error__, __error_details__", S, "bad", 1, S, NULL},
        /* 1.3 json with expressions */
        {"| json code=\"status\", ip=\"client.ip\", first=\"list[0]\", o=\"obj\", m=\"nope\"", S,
         "{\"status\":200,\"client\":{\"ip\":\"1.2.3.4\"},\"list\":[\"x\",2],\"obj\":{\"k\": "
         "[1,2]}}",
         1,
         "{app=\"a\", code=\"200\", first=\"x\", ip=\"1.2.3.4\", m=\"\", o=\"{\\\"k\\\": [1,2]}\"}",
         NULL},
        {"| json app, k=`[\"a b\"]`", S, "{\"app\":\"x\",\"a b\":\"y\"}", 1,
         "{app=\"a\", app_extracted=\"x\", k=\"y\"}", NULL},
        {"| json a=\"a\"", S, "{\"a\":1x}", 1, "{__error__=\"JSONParserErr\", app=\"a\"}", NULL},
        /* 1.4 logfmt */
        {"| logfmt", S, "level=info msg=\"hello \\\"w\\\"\" bare app=x dur=1.5s", 1,
         "{app=\"a\", app_extracted=\"x\", bare=\"\", dur=\"1.5s\", level=\"info\", "
         "msg=\"hello \\\"w\\\"\"}",
         NULL},
        {"| logfmt", S, "foobar====wqe=sdad1r", 1,
         "{__error__=\"LogfmtParserErr\", __error_details__=\"logfmt syntax error at pos 8 : "
         "unexpected '='\", app=\"a\"}",
         NULL},
        {"| logfmt", S, "a=1 b=\"x", 1,
         "{__error__=\"LogfmtParserErr\", __error_details__=\"logfmt syntax error at pos 8 : "
         "unterminated quoted value\", a=\"1\", app=\"a\"}",
         NULL},
        {"| logfmt lvl=\"level\", other", S, "level=warn x=1", 1,
         "{app=\"a\", lvl=\"warn\", other=\"\"}", NULL},
        /* 1.5 regexp */
        {"| regexp \"(?P<method>\\\\w+) (?P<path>\\\\S+)(?P<opt> x)?\"", S, "GET /a y", 1,
         "{app=\"a\", method=\"GET\", opt=\"\", path=\"/a\"}", NULL},
        {"| regexp \"(?P<app>\\\\d+)\"", S, "no digits", 1, S, NULL},
        {"| regexp \"(?P<app>\\\\d+)\"", S, "n 42", 1, "{app=\"a\", app_extracted=\"42\"}", NULL},
        /* 1.6 pattern */
        {"| pattern \"<ip> - <_> [<ts>] \\\"<method> <uri> <_>\\\" <status>\"", S,
         "1.2.3.4 - - [t0] \"GET /x HTTP/1.1\" 200 55", 1,
         "{app=\"a\", ip=\"1.2.3.4\", method=\"GET\", status=\"200 55\", ts=\"t0\", uri=\"/x\"}",
         NULL},
        {"| pattern \"x <a>\"", S, "y 1", 1, S, NULL},
        {"| pattern \"<a> - <b> : <c>\"", S, "1 - 2 no colon", 1,
         "{a=\"1\", app=\"a\", b=\"2 no colon\"}", NULL},
        {"| pattern \"<a>\"", S, "", 1, S, NULL},
        /* 1.7 unpack */
        {"| unpack", "{app=\"a\", c=\"1\"}",
         "{\"_entry\":\"the line\",\"c\":\"2\",\"n\":3,\"d\":\"x\"}", 1,
         "{app=\"a\", c=\"1\", c_extracted=\"2\", d=\"x\"}", "the line"},
        {"| unpack", S, "{\"c\":\"2\"}", 1, S, NULL},
        {"| unpack", S, "text", 1,
         "{__error__=\"JSONParserErr\", __error_details__=\"expecting json object(6), but it "
         "is not\", app=\"a\"}",
         NULL},
        /* 1.9 label filters */
        {"| logfmt | n > 1.5", S, "n=2", 1, "{app=\"a\", n=\"2\"}", NULL},
        {"| logfmt | n > 1.5", S, "n=1", 0, NULL, NULL},
        {"| logfmt | n > 1.5", S, "m=1", 0, NULL, NULL},
        {"| logfmt | n > 1.5", S, "n=abc", 1,
         "{__error__=\"LabelFilterErr\", __error_details__=\"strconv.ParseFloat: parsing "
         "\\\"abc\\\": invalid syntax\", app=\"a\", n=\"abc\"}",
         NULL},
        {"| logfmt | d >= 250ms", S, "d=1m30s", 1, "{app=\"a\", d=\"1m30s\"}", NULL},
        {"| logfmt | d >= 250ms", S, "d=200ms", 0, NULL, NULL},
        {"| logfmt | d >= 250ms", S, "d=x", 1,
         "{__error__=\"LabelFilterErr\", __error_details__=\"time: invalid duration "
         "\\\"x\\\"\", app=\"a\", d=\"x\"}",
         NULL},
        {"| logfmt | b < 50KB", S, "b=49kb", 1, "{app=\"a\", b=\"49kb\"}", NULL},
        {"| logfmt | b < 1MiB", S, "b=1048576", 0, NULL, NULL},
        {"| logfmt | b < 1MiB", S, "b=1xx", 1,
         "{__error__=\"LabelFilterErr\", __error_details__=\"unhandled size name: xx\", "
         "app=\"a\", b=\"1xx\"}",
         NULL},
        {"| logfmt | x=\"1\" or y=\"2\" and z=\"3\"", S, "x=1", 1, "{app=\"a\", x=\"1\"}", NULL},
        {"| logfmt | x=\"1\" and y=\"2\" or z=\"3\"", S, "z=3", 1, "{app=\"a\", z=\"3\"}", NULL},
        /* `a , b or c` = a and (b or c) */
        {"| logfmt | x=\"1\", y=\"2\" or z=\"3\"", S, "z=3", 0, NULL, NULL},
        {"| logfmt | x=\"1\", y=\"2\" or z=\"3\"", S, "x=1 z=3", 1, "{app=\"a\", x=\"1\", z=\"3\"}",
         NULL},
        /* `a or b , c` = a or (b and c) */
        {"| logfmt | x=\"1\" or y=\"2\", z=\"3\"", S, "x=1", 1, "{app=\"a\", x=\"1\"}", NULL},
        {"| logfmt | x=\"1\" or y=\"2\" z=\"3\"", S, "y=2", 0, NULL, NULL},
        {"| logfmt | (x=\"1\" or y=\"2\") and z=~\"[0-9]\"", S, "y=2 z=3", 1,
         "{app=\"a\", y=\"2\", z=\"3\"}", NULL},
        {"| logfmt | missing=\"\"", S, "x=1", 1, "{app=\"a\", x=\"1\"}", NULL},
        {"| json | n > 1 | __error__=\"\"", S, "bad", 0, NULL, NULL},
        /* 1.10 ip */
        {"|= ip(\"10.0.0.0/8\")", S, "from 10.1.2.3 ok", 1, S, NULL},
        {"|= ip(\"10.0.0.0/8\")", S, "from 11.1.2.3 ok", 0, NULL, NULL},
        {"|= ip(\"3.180.71.3\")", S, "93.180.71.3", 0, NULL, NULL},
        {"|= ip(\"1.2.3.4\")", S, "abc1.2.3.4", 1, S, NULL},
        {"!= ip(\"192.168.0.1-192.168.0.9\")", S, "x 192.168.0.5", 0, NULL, NULL},
        {"|= ip(\"::1\")", S, "addr ::1 here", 1, S, NULL},
        {"| logfmt | addr = ip(\"10.0.0.0/8\")", S, "addr=10.0.0.1", 1,
         "{addr=\"10.0.0.1\", app=\"a\"}", NULL},
        {"| logfmt | addr != ip(\"10.0.0.0/8\")", S, "addr=10.0.0.1", 0, NULL, NULL},
        {"| logfmt | addr = ip(\"10.0.0.0/8\")", S, "addr=nope", 0, NULL, NULL},
        /* 1.11 formatting */
        {"| logfmt | line_format \"{{.level}}: {{.msg}} {{.nope}}\"", S, "level=info msg=hi", 1,
         "{app=\"a\", level=\"info\", msg=\"hi\"}", "info: hi "},
        {"| line_format \"{{__line__}}!\" |= \"x!\"", S, "x", 1, S, "x!"},
        /* the entry time (1000 ns in these cases) */
        {"| line_format `{{ __timestamp__ | unixEpochNanos }}`", S, "x", 1, S, "1000"},
        {"| json | line_format `{{ .__error__ }}` | drop __error_details__", S, "x", 1,
         "{__error__=\"JSONParserErr\", app=\"a\"}", "JSONParserErr"},
        {"| logfmt | label_format lvl=level", S, "level=info", 1, "{app=\"a\", lvl=\"info\"}",
         NULL},
        {"| logfmt | label_format lvl=nope", S, "level=info", 1, "{app=\"a\", level=\"info\"}",
         NULL},
        {"| logfmt | label_format level=level", S, "level=info", 1, S, NULL},
        {"| logfmt | label_format app=\"{{.level}}-{{.app}}\", x=level, y=\"{{.x}}\"", S,
         "level=info", 1, "{app=\"info-a\", x=\"info\", y=\"\"}", NULL},
        {"| drop app", S, "l", 1, "{}", NULL},
        {"| logfmt | drop a=\"1\", b=~\"x.*\", c", S, "a=1 b=xy c=3 d=4", 1, "{app=\"a\", d=\"4\"}",
         NULL},
        {"| logfmt | drop a=\"2\"", S, "a=1", 1, "{a=\"1\", app=\"a\"}", NULL},
        {"| decolorize", S, "\x1b[31mred\x1b[0m text", 1, S, "red text"},
        /* a line filter after line_format sees the new line */
        {"| line_format \"zzz\" |= \"l\"", S, "l", 0, NULL, NULL},
};

static void test_cases(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct pcase *c = &cases[i];
		struct lf_lq_pipeline *p;
		struct lf_error err;
		if (lf_lq_pipeline_parse_str(c->pipe, strlen(c->pipe), 0, &p, &err) < 0) {
			printf("case %zu `%s`: parse: %s\n", i, c->pipe, err.msg);
			failures++;
			continue;
		}
		struct lf_labels st = LF_LABELS_INIT;
		assert_int_equal(lf_labels_parse(c->stream, strlen(c->stream), &st, &err), 0);
		struct lf_lq_out o;
		/* twice: buffers reused from the first run must not leak into the second */
		for (int rep = 0; rep < 2; rep++) {
			int k = lf_lq_pipeline_process(p, 1000, c->line, strlen(c->line), &st, &o);
			if (k != c->keep) {
				printf("case %zu `%s` on `%s`: keep %d, want %d\n", i, c->pipe,
				       c->line, k, c->keep);
				failures++;
				break;
			}
			if (!k)
				break;
			struct lf_buf b = LF_BUF_INIT;
			lf_labels_render(o.labels, &b);
			if (strcmp(b.data, c->labels)) {
				printf("case %zu `%s` on `%s`:\n  labels %s\n  want   %s\n", i,
				       c->pipe, c->line, b.data, c->labels);
				failures++;
			}
			const char *want = c->out ? c->out : c->line;
			if (o.len != strlen(want) || memcmp(o.line, want, o.len)) {
				printf("case %zu `%s`: line `%.*s`, want `%s`\n", i, c->pipe,
				       (int)o.len, o.line, want);
				failures++;
			}
			lf_buf_free(&b);
		}
		lf_labels_free(&st);
		lf_lq_pipeline_free(p);
	}
	assert_int_equal(failures, 0);
}

struct ecase {
	const char *pipe;
	const char *err;
};

static const struct ecase ecases[] = {
        {"| regexp \"(\\\\d+)\"", "parse error : stage '| regexp \"(\\\\d+)\"' : invalid regexp "
                                  "parser: at least one named capture must be supplied"},
        {"| pattern \"foo\"", "parse error : stage '| pattern \"foo\"' : invalid pattern parser: "
                              "at least one capture is required"},
        {"| pattern \"<a><b>\"", "parse error : stage '| pattern \"<a><b>\"' : invalid pattern "
                                 "parser: found consecutive capture '<a><b>': invalid "
                                 "expression"},
        {"| label_format a=b, a=\"x\"",
         "parse error : stage '| label_format a=b,a=\"x\"' : multiple label name 'a' not "
         "allowed in a single format operation"},
        {"|~ ip(\"1.2.3.4\")", "parse error : stage '|~ ip(\"1.2.3.4\")' : ip: invalid "
                               "operation"},
        {"| unwrap x", "parse error at line 1, col 3: syntax error: unexpected unwrap"},
        {"|= ip(\"1.2.3\")", "parse error : stage '|= ip(\"1.2.3\")' : ip: invalid pattern: "
                             "\"1.2.3\""},
        {"| json | a != ip(\"x/99\")", "parse error : stage 'a!=ip(\"x/99\")' : ip: invalid "
                                       "pattern: \"x/99\""},
        /* regex errors in Go's regexp/syntax words */
        {"|~ \"(\"", "parse error : stage '|~ \"(\"' : error parsing regexp: missing closing ): "
                     "`(`"},
        {"|~ \"a)\"", "parse error : stage '|~ \"a)\"' : error parsing regexp: unexpected ): "
                      "`a)`"},
        {"|~ \"a[bc\"", "parse error : stage '|~ \"a[bc\"' : error parsing regexp: missing "
                        "closing ]: `[bc`"},
        {"|~ \"*a\"", "parse error : stage '|~ \"*a\"' : error parsing regexp: missing argument "
                      "to repetition operator: `*`"},
        {"|~ \"a**\"", "parse error : stage '|~ \"a**\"' : error parsing regexp: invalid nested "
                       "repetition operator: `**`"},
        {"| regexp \"(?P<x>a\"", "parse error : stage '| regexp \"(?P<x>a\"' : invalid regexp "
                                 "parser: error parsing regexp: missing closing ): `(?P<x>a`"},
        {"| json |", "parse error at line 1, col 9: syntax error: unexpected $end"},
        {"| line_format", "parse error at line 1, col 14: syntax error: unexpected $end, "
                          "expecting STRING"},
        /* Loki lexes `20b` as 20 then the label filter `b ...` (b is not a
         * byte-unit rune), `1ss` as 1 then `ss ...` */
        {"| logfmt | size > 20b", "parse error at line 1, col 22: syntax error: unexpected $end"},
        {"| logfmt | d > 1ss", "parse error at line 1, col 19: syntax error: unexpected $end"},
};

static void test_errors(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < sizeof ecases / sizeof ecases[0]; i++) {
		struct lf_lq_pipeline *p = NULL;
		struct lf_error err;
		if (lf_lq_pipeline_parse_str(ecases[i].pipe, strlen(ecases[i].pipe), 0, &p, &err) ==
		    0) {
			printf("error case `%s` parsed\n", ecases[i].pipe);
			lf_lq_pipeline_free(p);
			failures++;
		} else if (strcmp(err.msg, ecases[i].err)) {
			printf("error case `%s`:\n  got  %s\n  want %s\n", ecases[i].pipe, err.msg,
			       ecases[i].err);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void test_unwrap(void **state)
{
	(void)state;
	struct lf_lq_pipeline *p;
	struct lf_error err;
	const char *q = "| logfmt | unwrap duration(d) | __error__=\"\"";
	assert_int_equal(lf_lq_pipeline_parse_str(q, strlen(q), LF_LQ_PIPE_METRIC, &p, &err), 0);
	assert_true(lf_lq_pipeline_has_unwrap(p));
	assert_string_equal(lf_lq_pipeline_unwrap_label(p), "d");
	struct lf_labels st = LF_LABELS_INIT;
	lf_labels_set(&st, "app", "a");
	struct lf_lq_out o;
	assert_int_equal(lf_lq_pipeline_process(p, 0, "d=1m30s", 7, &st, &o), 1);
	assert_true(o.has_value);
	assert_true(o.value == 90.0);
	assert_int_equal(lf_lq_pipeline_process(p, 0, "d=", 2, &st, &o), 0); /* "" skipped */
	assert_int_equal(lf_lq_pipeline_process(p, 0, "x=1", 3, &st, &o), 0);
	assert_int_equal(lf_lq_pipeline_process(p, 0, "d=zz", 4, &st, &o), 0); /* error removed */
	lf_lq_pipeline_free(p);

	q = "| logfmt | unwrap bytes(b)";
	assert_int_equal(lf_lq_pipeline_parse_str(q, strlen(q), LF_LQ_PIPE_METRIC, &p, &err), 0);
	assert_int_equal(lf_lq_pipeline_process(p, 0, "b=1KiB", 6, &st, &o), 1);
	assert_true(o.value == 1024.0);
	assert_int_equal(lf_lq_pipeline_process(p, 0, "b=zz", 4, &st, &o), 1);
	assert_true(o.has_value && o.value == 0.0);
	assert_string_equal(lf_labels_get(o.labels, "__error__"), "SampleExtractionErr");
	lf_lq_pipeline_free(p);

	q = "| logfmt | unwrap n | n > 2";
	assert_int_equal(lf_lq_pipeline_parse_str(q, strlen(q), LF_LQ_PIPE_METRIC, &p, &err), 0);
	assert_string_equal(lf_lq_pipeline_unwrap_label(p), "n");
	assert_int_equal(lf_lq_pipeline_process(p, 0, "n=2.5", 5, &st, &o), 1);
	assert_true(o.value == 2.5);
	assert_int_equal(lf_lq_pipeline_process(p, 0, "n=1", 3, &st, &o), 0);
	lf_lq_pipeline_free(p);

	/* literals lexed as Loki does: duration first, then byte size */
	q = "| logfmt | unwrap n | n > 1.5KiB and n < 10k";
	assert_int_equal(lf_lq_pipeline_parse_str(q, strlen(q), LF_LQ_PIPE_METRIC, &p, &err), 0);
	assert_int_equal(lf_lq_pipeline_process(p, 0, "n=2000", 6, &st, &o), 1);
	assert_int_equal(lf_lq_pipeline_process(p, 0, "n=1000", 6, &st, &o), 0);
	assert_int_equal(lf_lq_pipeline_process(p, 0, "n=20000", 7, &st, &o), 0);
	lf_lq_pipeline_free(p);
	q = "| logfmt | d > 1h30m";
	assert_int_equal(lf_lq_pipeline_parse_str(q, strlen(q), 0, &p, &err), 0);
	assert_int_equal(lf_lq_pipeline_process(p, 0, "d=2h", 4, &st, &o), 1);
	assert_int_equal(lf_lq_pipeline_process(p, 0, "d=1h", 4, &st, &o), 0);
	lf_lq_pipeline_free(p);
	lf_labels_free(&st);

	q = "| logfmt | n > 2";
	assert_int_equal(lf_lq_pipeline_parse_str(q, strlen(q), LF_LQ_PIPE_METRIC, &p, &err), 0);
	assert_null(lf_lq_pipeline_unwrap_label(p));
	lf_lq_pipeline_free(p);
}

/* Rendering gives Loki's canonical text; it re-parses to the same text,
 * and a clone behaves as the original. */
static void test_render_clone(void **state)
{
	(void)state;
	static const char *const qs[][2] = {
	        {"|= \"a\" or `b` | json | x=\"1\", y > 2 or z=~\"q\"",
	         " |= \"a\" or \"b\" | json | ( x=\"1\" , ( y>2 or z=~\"q\" ) )"},
	        {"| json a=\"b.c\",d | logfmt | line_format `{{.a}}` | label_format "
	         "x=y,z=\"{{.a}}\"",
	         " | json a=\"b.c\",d=\"d\" | logfmt | line_format \"{{.a}}\" | label_format "
	         "x=y,z=\"{{.a}}\""},
	        {"| drop a, b=\"c\" | decolorize | unpack | regexp \"(?P<x>.)\" |= ip(\"1.2.3.4\")",
	         " | drop a,b=\"c\" | decolorize | unpack | regexp \"(?P<x>.)\" |= "
	         "ip(\"1.2.3.4\")"},
	        {"| logfmt | d >= 250ms and b < 1MiB", " | logfmt | ( d>=250ms , b<1MiB )"},
	};
	for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
		struct lf_lq_pipeline *p;
		struct lf_error err;
		assert_int_equal(lf_lq_pipeline_parse_str(qs[i][0], strlen(qs[i][0]), 0, &p, &err),
		                 0);
		struct lf_buf b = LF_BUF_INIT;
		assert_int_equal(lf_lq_pipeline_render(p, &b), 0);
		assert_string_equal(b.data, qs[i][1]);
		struct lf_lq_pipeline *c = lf_lq_pipeline_clone(p);
		assert_non_null(c);
		struct lf_buf b2 = LF_BUF_INIT;
		lf_lq_pipeline_render(c, &b2);
		assert_string_equal(b2.data, b.data);
		lf_buf_free(&b);
		lf_buf_free(&b2);
		lf_lq_pipeline_free(c);
		lf_lq_pipeline_free(p);
	}
}

/* The parser stops before a token that does not continue the pipeline. */
static void test_stops(void **state)
{
	(void)state;
	const char *q = "| json | x > 1 [5m])";
	struct lf_lq_lexer lx;
	lf_lq_lexer_init(&lx, q, strlen(q));
	struct lf_lq_pipeline *p;
	struct lf_error err;
	assert_int_equal(lf_lq_pipeline_parse(&lx, LF_LQ_PIPE_METRIC, &p, &err), 0);
	struct lf_lq_token t;
	assert_int_equal(lf_lq_next(&lx, &t, &err), 0);
	assert_int_equal(t.kind, LF_LQ_LBRACKET);
	lf_lq_pipeline_free(p);
	lf_lq_lexer_free(&lx);
	/* empty pipeline */
	lf_lq_lexer_init(&lx, "", 0);
	assert_int_equal(lf_lq_pipeline_parse(&lx, 0, &p, &err), 0);
	assert_true(lf_lq_pipeline_is_filter_only(p));
	lf_lq_pipeline_free(p);
	lf_lq_lexer_free(&lx);
}

/* Hostile nesting: a JSON line 100000 objects deep and 2000 nested
 * parentheses neither exhaust the stack nor hang. */
static void test_deep(void **state)
{
	(void)state;
	size_t depth = 100000;
	char *line = malloc(depth * 6 + 8);
	size_t n = 0;
	for (size_t i = 0; i < depth; i++) {
		memcpy(line + n, "{\"a\":", 5);
		n += 5;
	}
	line[n++] = '1';
	memset(line + n, '}', depth);
	n += depth;
	struct lf_lq_pipeline *p;
	struct lf_error err;
	assert_int_equal(lf_lq_pipeline_parse_str("| json", 6, 0, &p, &err), 0);
	struct lf_labels st = LF_LABELS_INIT;
	struct lf_lq_out o;
	assert_int_equal(lf_lq_pipeline_process(p, 0, line, n, &st, &o), 1);
	lf_lq_pipeline_free(p);
	free(line);

	for (size_t k = 100; k <= 2000; k += 1900) {
		char *q = malloc(2 * k + 16);
		n = 0;
		q[n++] = '|';
		for (size_t i = 0; i < k; i++)
			q[n++] = '(';
		memcpy(q + n, "a=\"1\"", 5);
		n += 5;
		for (size_t i = 0; i < k; i++)
			q[n++] = ')';
		int rc = lf_lq_pipeline_parse_str(q, n, 0, &p, &err);
		if (k == 100) {
			assert_int_equal(rc, 0);
			assert_int_equal(lf_lq_pipeline_process(p, 0, "x", 1, &st, &o), 0);
			lf_lq_pipeline_free(p);
		} else {
			assert_int_equal(rc, -1);
			assert_non_null(strstr(err.msg, "nested too deeply"));
		}
		free(q);
	}
}

static int lf_pair(void *ctx, const char *k, size_t kl, const char *v, size_t vl, bool quoted)
{
	(void)quoted;
	struct lf_buf *b = ctx;
	lf_buf_printf(b, "[%.*s=%.*s]", (int)kl, k, (int)vl, v);
	return 0;
}

static void test_logfmt_scanner(void **state)
{
	(void)state;
	struct lf_buf out = LF_BUF_INIT, scratch = LF_BUF_INIT;
	struct lf_logfmt_error e;
	assert_int_equal(lf_logfmt_scan("a=1 b c=\"x\\ty\" d=", 18, &scratch, lf_pair, &out, &e),
	                 0);
	assert_string_equal(out.data, "[a=1][b=][c=x\ty][d=]");
	lf_buf_reset(&out);
	assert_int_equal(lf_logfmt_scan("a=1 b\"c=2", 9, &scratch, lf_pair, &out, &e), 1);
	assert_int_equal(e.pos, 6);
	assert_string_equal(e.msg, "unexpected '\"'");
	assert_string_equal(out.data, "[a=1]");
	assert_int_equal(lf_logfmt_scan("=x", 2, &scratch, lf_pair, &out, &e), 1);
	assert_int_equal(e.pos, 1);
	assert_string_equal(e.msg, "unexpected '='");
	lf_buf_free(&out);
	lf_buf_free(&scratch);
}

static void test_json_strict(void **state)
{
	(void)state;
	struct lf_jparser jp = {0};
	const char *ok = "{\"a\":[1,2.5e3,{\"b\":null}],\"c\":\"\\u00e9\"}";
	assert_int_equal(lf_jparse(&jp, ok, strlen(ok)), 0);
	assert_int_equal(jp.v[0].type, LF_J_OBJ);
	assert_int_equal(jp.v[0].count, 2);
	/* containers carry their raw text */
	const struct lf_jnode *arr = &jp.v[jp.v[0].child];
	assert_int_equal(arr->type, LF_J_ARR);
	assert_int_equal(arr->len, strlen("[1,2.5e3,{\"b\":null}]"));
	assert_memory_equal(arr->s, "[1,2.5e3,{\"b\":null}]", arr->len);
	assert_int_equal(lf_jparse(&jp, "{\"a\":1x}", 8), -1);
	assert_int_equal(lf_jparse(&jp, "{\"a\":1,}", 8), -1);
	assert_int_equal(lf_jparse(&jp, "{} x", 4), -1);
	assert_int_equal(lf_jparse(&jp, " 12 ", 4), 0);
	lf_jparser_free(&jp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cases),       cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_unwrap),      cmocka_unit_test(test_render_clone),
	        cmocka_unit_test(test_stops),       cmocka_unit_test(test_logfmt_scanner),
	        cmocka_unit_test(test_json_strict), cmocka_unit_test(test_deep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
