/* test_template.c — common/template: the Go text/template subset of
 * Promtail's template stage and LogQL line_format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_count.h"
#include "template.h"

/* data: "name=value" pairs; Value and Entry as Promtail sets them */
static const char *const data[] = {
        "Value=Hello World",
        "Entry=the log line",
        "app=  web  ",
        "level=WARN",
        "ssn=123-45-6789",
        "empty=",
        "num=42",
        "path=/var/log/a.log",
        "__line__=raw line",
        "__timestamp__=1673798889902000000",
        "e=\xc3\xa9t\xc3\xa9",
        NULL,
};

static bool lookup(void *ctx, const char *name, size_t n, const char **val, size_t *len)
{
	(void)ctx;
	for (size_t i = 0; data[i]; i++) {
		const char *eq = strchr(data[i], '=');
		if ((size_t)(eq - data[i]) == n && memcmp(data[i], name, n) == 0) {
			*val = eq + 1;
			*len = strlen(eq + 1);
			return true;
		}
	}
	return false;
}

static void check_flags(const char *tmpl, unsigned flags, const char *want)
{
	struct lf_template *t;
	struct lf_error err;
	if (lf_template_new("pipeline_template", tmpl, flags, &t, &err) < 0)
		fail_msg("parse %s: %s", tmpl, err.msg);
	for (int round = 0; round < 2; round++) { /* reuse: same output */
		struct lf_buf out = LF_BUF_INIT;
		if (lf_template_exec(t, lookup, NULL, &out, &err) < 0)
			fail_msg("exec %s: %s", tmpl, err.msg);
		const char *got = out.data ? out.data : "";
		if (strcmp(got, want) != 0)
			fail_msg("%s:\n got  \"%s\"\n want \"%s\"", tmpl, got, want);
		lf_buf_free(&out);
	}
	lf_template_free(t);
}

static void check(const char *tmpl, const char *want)
{
	check_flags(tmpl, 0, want);
}

static void test_fields_and_text(void **state)
{
	(void)state;
	check("hello world!", "hello world!");
	check("{{ .Value }}_some_suffix", "Hello World_some_suffix");
	check("{{.Entry}}", "the log line");
	check("{{ .level }}:{{ .app }}", "WARN:  web  ");
	check("{{ .missing }}", "<no value>");
	check_flags("{{ .missing }}|", LF_TMPL_MISSING_EMPTY, "|");
	check("", "");
	check("a {{/* a comment */}}b", "a b");
	check("{{ \"lit\" }} {{ `raw\\n` }} {{ 42 }} {{ -3 }} {{ 1.5 }} {{ true }} {{ 'a' }}",
	      "lit raw\\n 42 -3 1.5 true 97");
	check("{{ __line__ }}", "raw line");
	check("{{ 1000000.0 }} {{ 100000.0 }} {{ 0.00001 }} {{ 0.0001 }} {{ 123456789.0 }} {{ 2.50 "
	      "}}",
	      "1e+06 100000 1e-05 0.0001 1.23456789e+08 2.5");
	check("{{ \"\\u00e9\\t|\" }}", "\xc3\xa9\t|");
}

static void test_trim_markers(void **state)
{
	(void)state;
	check("a  {{- .level -}}  b", "aWARNb");
	check("a \n {{- .level }} b", "aWARN b");
	check("a {{ .level -}} \n\t b", "a WARNb");
	check("x {{- /* c */ -}} y", "xy");
	check("{{ -3 }}", "-3"); /* not a trim marker: no space after '-' */
}

static void test_functions(void **state)
{
	(void)state;
	check("{{ ToLower .Value }}", "hello world");
	check("{{ .Value | ToUpper }}", "HELLO WORLD");
	check("{{ ToUpper .e }}", "\xc3\x89T\xc3\x89");
	check("{{ Replace .Value \"o\" \"0\" -1 }}", "Hell0 W0rld");
	check("{{ Replace .Value \"o\" \"0\" 1 }}", "Hell0 World");
	check("{{ Replace \"ab\" \"\" \"-\" -1 }}", "-a-b-");
	check("{{ Trim .app \" \" }}|", "web|");
	check("{{ TrimLeft .app \" \" }}|", "web  |");
	check("{{ TrimRight .app \" \" }}|", "  web|");
	check("{{ TrimSpace .app }}|", "web|");
	check("{{ Trim \"xxhixyx\" \"xy\" }}", "hi");
	check("{{ TrimPrefix .path \"/var/log/\" }}", "a.log");
	check("{{ TrimSuffix .path \".log\" }}", "/var/log/a");
	check("{{ TrimPrefix .path \"/nope\" }}", "/var/log/a.log");
	/* Promtail: Hash(salt, input) = hex(sha3-256(salt + input)); expected
	 * values from Python hashlib.sha3_256(b"mysalt123-45-6789") */
	check("{{ Hash \"mysalt\" .ssn }}",
	      "25ff017af1ba1bcb88abd19e3bc13c147ebe67b655a59636d5e0d26d4077de85");
	check("{{ Sha2Hash \"mysalt\" .ssn }}",
	      "3d617efe0b015ec73d6b696c617c44b7d2b921afdf1191c17895b973c1cfd5ce");
	check("{{ Hash \"\" \"\" }}",
	      "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
	check("{{ regexReplaceAll \"(\\\\d+)-(\\\\d+)\" .ssn \"${2}_$1\" }}", "45_123-6789");
	check("{{ regexReplaceAllLiteral \"\\\\d\" .ssn \"$1\" }}", "$1$1$1-$1$1-$1$1$1$1");
	/* regex from a value: compiled at exec time */
	check("{{ regexReplaceAll (print \"o\") .Value \"0\" }}", "Hell0 W0rld");
	/* sprig / LogQL */
	check("{{ .Value | lower }} {{ upper .level }}", "hello world WARN");
	check("{{ title \"hello big world\" }}", "Hello Big World");
	check("{{ trim .app }}|{{ .app | trimAll \" w\" }}", "web|eb");
	check("{{ .path | trimPrefix \"/var\" | trimSuffix \".log\" }}", "/log/a");
	check("{{ replace \"o\" \"0\" .Value }}", "Hell0 W0rld");
	check("{{ .Value | replace \"l\" \"L\" }}", "HeLLo WorLd");
	check("{{ contains \"World\" .Value }} {{ hasPrefix \"He\" .Value }} "
	      "{{ hasSuffix \"x\" .Value }}",
	      "true true false");
	check("{{ .empty | default \"dflt\" }} {{ .level | default \"dflt\" }}", "dflt WARN");
	check("{{ default \"dflt\" .missing }}", "dflt");
	check("{{ trunc 5 .Value }}|{{ trunc -5 .Value }}|{{ trunc 50 .level }}",
	      "Hello|World|WARN");
	check("{{ substr 0 5 .Value }}|{{ substr 6 -1 .Value }}", "Hello|World");
	check("{{ repeat 3 \"ab\" }}", "ababab");
	check("{{ quote .level \"x\" }} {{ squote .level }}", "\"WARN\" \"x\" 'WARN'");
	check("{{ b64enc \"hello world!\" }} {{ b64enc \"ab\" }} {{ b64dec \"YWI=\" }}",
	      "aGVsbG8gd29ybGQh YWI= ab");
	check("{{ urlencode \"a b&c=d/\\u00e9\" }}", "a+b%26c%3Dd%2F%C3%A9");
	/* builtins */
	check("{{ len .level }} {{ print \"a\" 1 2 \"b\" }}", "4 a1 2b");
	check("{{ printf \"%s=%d %5s|%-4s| %q %x %.2f %%\" \"k\" 7 \"ab\" \"c\" \"q\" \"hi\" 1.5 "
	      "}}",
	      "k=7    ab|c   | \"q\" 6869 1.50 %");
	check("{{ printf \"%v %v\" .level 3 }}", "WARN 3");
	check("{{ printf \"%999999999s\" \"x\" }}", "%!(BADWIDTH)%!(EXTRA)");
	check("{{ not true }} {{ and 1 0 }} {{ or 0 \"x\" }} {{ and 1 2 }}", "false 0 x 2");
	check("{{ eq .level \"WARN\" }} {{ ne .level \"WARN\" }} {{ eq 1 2 3 1 }}",
	      "true false true");
	check("{{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1 2 }}",
	      "true true true false");
	/* parenthesised calls and long pipelines */
	check("{{ ToUpper (TrimSpace .app) }}", "WEB");
	check("{{ .app | TrimSpace | ToUpper | printf \"[%s]\" }}", "[WEB]");
}

/* sprig / LogQL extras; times are shown in the local zone (TZ=UTC here) */
static void test_more_functions(void **state)
{
	(void)state;
	check("{{ regexMatch \"^W\" .level }} {{ regexMatch \"^w\" .level }}", "true false");
	check("{{ regexFind \"\\\\d+\" .ssn }}|{{ regexFind \"z\" .ssn }}|", "123||");
	check("{{ count \"\\\\d\" .ssn }} {{ count \"x*\" \"abc\" }} {{ count \"a*\" \"baaac\" }}",
	      "9 4 3");
	check("{{ nospace \"a b\\tc \\u00a0d\" }}", "abcd");
	check("{{ cat \"a\" 1 .missing \"b\" }}", "a 1 b");
	check("{{ indent 2 \"a\\nb\" }}|{{ nindent 2 \"a\" }}", "  a\n  b|\n  a");
	check("[{{ alignLeft 5 \"ab\" }}][{{ alignLeft 2 \"abcd\" }}][{{ alignRight 5 \"ab\" }}]"
	      "[{{ alignRight 2 \"abcd\" }}][{{ alignLeft 1 \"\\u00e9a\" }}]",
	      "[ab   ][ab][   ab][cd][\xc3\xa9]");
	check("{{ urldecode \"a+b%26c%3Dd%2F%C3%A9\" }}", "a b&c=d/\xc3\xa9");
	check("{{ add 1 2 3 }} {{ add .num 1 }} {{ sub 10 3 }} {{ mul 2 3 4 }} {{ div 7 2 }} "
	      "{{ mod 7 2 }} {{ max 1 5 3 }} {{ min 4 2 }} {{ add1 .num }}",
	      "6 43 7 24 3 1 5 2 43");
	check("{{ addf 1.5 2 }} {{ divf 1 4 }} {{ int \"12\" }} {{ float64 \"1.5\" }} {{ toString "
	      "5 }}",
	      "3.5 0.25 12 1.5 5");
	check("{{ empty \"\" }} {{ empty .level }} {{ coalesce \"\" .missing \"x\" }} "
	      "{{ ternary \"a\" \"b\" true }}{{ ternary \"a\" \"b\" false }}",
	      "true false x ab");
	/* 1673798889 = 2023-01-15T16:08:09Z */
	check("{{ unixToTime \"1673798889\" | date \"2006-01-02 15:04\" }}", "2023-01-15 16:08");
	check("{{ date \"Jan _2\" 1673798889 }}", "Jan 15");
	check("{{ toDate \"2006-01-02\" \"2023-01-15\" | unixEpoch }}", "1673740800");
	check("{{ unixToTime \"1673798889902\" | unixEpochMillis }} "
	      "{{ unixToTime \"19372\" | unixEpoch }} {{ unixToTime \"1673798889902001\" | "
	      "unixEpochNanos }}",
	      "1673798889902 1673740800 1673798889902001000");
	check("{{ __timestamp__ | date \"15:04:05.000\" }}", "16:08:09.902");
	check("{{ __timestamp__ }}", "2023-01-15 16:08:09.902 +0000 UTC");
	check("{{ if now }}t{{ end }}", "t");
	/* Loki 2.8 registers sprig's trunc/substr, which count bytes */
	check("{{ trunc 2 \"\\u00e9\\u00e8a\" }}|{{ trunc -1 \"\\u00e9\\u00e8a\" }}", "\xc3\xa9|a");
	check("[{{ substr 2 4 \"\\u00e9\\u00e8a\" }}][{{ substr -1 2 \"abc\" }}][{{ substr 1 -1 "
	      "\"abc\" }}][{{ substr 1 9 \"abc\" }}][{{ substr 3 -1 \"abc\" }}][{{ substr 2 2 "
	      "\"abc\" }}]",
	      "[\xc3\xa8][ab][bc][bc][][]");
	check("{{ toDateInZone \"2006-01-02 15:04\" \"Asia/Kolkata\" \"2026-05-05 05:05\" | "
	      "unixEpoch }} "
	      "{{ toDateInZone \"2006-01-02\" \"Nope/Zone\" \"2023-01-15\" | unixEpoch }}",
	      "1777937700 1673740800");
	check("{{ ceil 1.2 }} {{ floor 1.8 }} {{ round 2.5 0 }} {{ round 1.2345 2 }} {{ round -1.2 "
	      "0 }} "
	      "{{ maxf 1 2.5 }} {{ minf 1 2.5 }}",
	      "2 1 3 1.23 -2 2.5 1");
	check("{{ bytes \"1KiB\" }} {{ duration \"1m30s\" }} {{ duration_seconds \"250ms\" }}",
	      "1024 90 0.25");
}

static void test_if_else(void **state)
{
	(void)state;
	check("{{ if .level }}has{{ end }}", "has");
	check("{{ if .missing }}has{{ else }}none{{ end }}", "none");
	check("{{ if .empty }}has{{ else }}empty{{ end }}", "empty");
	check("{{ if eq .level \"INFO\" }}i{{ else if eq .level \"WARN\" }}w{{ else }}o{{ end }}",
	      "w");
	check("{{ if eq .level \"X\" }}x{{ else if eq .level \"Y\" }}y{{ else }}other{{ end }}",
	      "other");
	check("{{ if and .level (eq .num \"42\") }}both{{ end }}", "both");
	check("{{ if not .missing }}no{{ end }}", "no");
	check("{{ with .level }}[{{ . }}]{{ end }}{{ with .missing }}x{{ else }}-{{ end }}",
	      "[WARN]-");
	check("{{ if .level -}}\n  yes\n{{- end }}", "yes");
	check("{{ if .level }}{{ if .missing }}a{{ else }}b{{ end }}{{ end }}", "b");
	check("{{ if 0 }}a{{ else if \"\" }}b{{ else if 1.5 }}c{{ end }}", "c");
}

static void parse_err(const char *tmpl, const char *want)
{
	struct lf_template *t = (struct lf_template *)1;
	struct lf_error err;
	if (lf_template_new("pipeline_template", tmpl, 0, &t, &err) != -1)
		fail_msg("parsed: %s", tmpl);
	assert_null(t);
	if (strcmp(err.msg, want) != 0)
		fail_msg("%s:\n got  %s\n want %s", tmpl, err.msg, want);
}

static void test_parse_errors(void **state)
{
	(void)state;
	parse_err("{{ Nope .x }}", "template: pipeline_template:1: function \"Nope\" not defined");
	parse_err("a\n{{ .x ", "template: pipeline_template:2: unclosed action");
	parse_err("{{ if .x }}a", "template: pipeline_template:1: unexpected EOF");
	parse_err("a{{ end }}", "template: pipeline_template:1: unexpected {{end}}");
	parse_err("{{ else }}", "template: pipeline_template:1: unexpected {{else}}");
	parse_err("{{ }}", "template: pipeline_template:1: missing value for command");
	parse_err("{{ .x | }}", "template: pipeline_template:1: missing value for command");
	parse_err("{{ \"abc }}", "template: pipeline_template:1: unterminated quoted string");
	parse_err("{{ $x := 1 }}",
	          "template: pipeline_template:1: undefined variable \"$x\" (variables are not "
	          "supported)");
	parse_err("{{ range .x }}{{ end }}",
	          "template: pipeline_template:1: {{range}} is not supported");
	parse_err("{{ regexReplaceAll \"(\" .x \"y\" }}",
	          "template: pipeline_template:1: invalid regex \"(\": missing closing parenthesis "
	          "at offset 1");
	parse_err("{{ .x .y }}", "template: pipeline_template:1: can't give argument to "
	                         "non-function x");
}

static void exec_err(const char *tmpl, const char *want)
{
	struct lf_template *t;
	struct lf_error err;
	if (lf_template_new("pipeline_template", tmpl, 0, &t, &err) < 0)
		fail_msg("parse %s: %s", tmpl, err.msg);
	struct lf_buf out = LF_BUF_INIT;
	assert_int_equal(lf_template_exec(t, lookup, NULL, &out, &err), -1);
	if (strcmp(err.msg, want) != 0)
		fail_msg("%s:\n got  %s\n want %s", tmpl, err.msg, want);
	lf_buf_free(&out);
	lf_template_free(t);
}

static void test_exec_errors(void **state)
{
	(void)state;
	exec_err("ab {{ ToUpper .missing }}",
	         "template: pipeline_template:1:7: executing \"pipeline_template\" at <ToUpper "
	         ".missing>: invalid value; expected string");
	exec_err("{{ ToUpper 3 }}", "template: pipeline_template:1:4: executing "
	                            "\"pipeline_template\" at <ToUpper 3>: wrong type for value; "
	                            "expected string; got int");
	exec_err("{{ ToUpper \"a\" \"b\" }}", "template: pipeline_template:1:4: executing "
	                                      "\"pipeline_template\" at <ToUpper \"a\" \"b\">: "
	                                      "wrong number of args for ToUpper: want 1 got 2");
	exec_err("{{ repeat 100000000 \"ab\" }}",
	         "template: pipeline_template:1:4: executing \"pipeline_template\" at <repeat "
	         "100000000 \"ab\">: error calling repeat: result too large");
	exec_err("{{ div 1 0 }}",
	         "template: pipeline_template:1:4: executing \"pipeline_template\" "
	         "at <div 1 0>: error calling div: integer divide by zero");
	exec_err("{{ urldecode \"%zz\" }}",
	         "template: pipeline_template:1:4: executing "
	         "\"pipeline_template\" at <urldecode \"%zz\">: error calling "
	         "urldecode: invalid URL escape \"%zz\"");
	exec_err("{{ unixToTime \"123\" }}",
	         "template: pipeline_template:1:4: executing "
	         "\"pipeline_template\" at <unixToTime \"123\">: error calling "
	         "unixToTime: unable to parse time '123'");
	/* sprig's substr slices like Go; out of range panics, an error here */
	exec_err("{{ substr 5 2 \"abc\" }}",
	         "template: pipeline_template:1:4: executing \"pipeline_template\" at <substr 5 2 "
	         "\"abc\">: error calling substr: runtime error: slice bounds out of range [5:2]");
	exec_err(
	        "{{ substr -1 -1 \"abc\" }}",
	        "template: pipeline_template:1:4: executing \"pipeline_template\" at <substr -1 -1 "
	        "\"abc\">: error calling substr: runtime error: slice bounds out of range [:-1] "
	        "with length 3");
	exec_err("{{ substr 4 -1 \"abc\" }}",
	         "template: pipeline_template:1:4: executing \"pipeline_template\" at <substr 4 -1 "
	         "\"abc\">: error calling substr: runtime error: slice bounds out of range [4:3]");
	exec_err("{{ index \"abc\" 3 }}", "template: pipeline_template:1:4: executing "
	                                  "\"pipeline_template\" at <index \"abc\" "
	                                  "3>: error calling index: index out of range: 3");
	exec_err("{{ slice \"abc\" 2 1 }}", "template: pipeline_template:1:4: executing "
	                                    "\"pipeline_template\" at <slice \"abc\" 2 "
	                                    "1>: error calling slice: invalid slice index: 2 > 1");
	exec_err("{{ call .level }}", "template: pipeline_template:1:4: executing "
	                              "\"pipeline_template\" at <call .level>: "
	                              "error calling call: non-function of type string");
	exec_err("{{ eq .level 1 }}", "template: pipeline_template:1:4: executing "
	                              "\"pipeline_template\" at <eq .level 1>: error calling eq: "
	                              "incompatible types for comparison");
}

static void test_info(void **state)
{
	(void)state;
	struct lf_template *t;
	struct lf_error err;
	assert_int_equal(lf_template_new("x", "static text", 0, &t, &err), 0);
	assert_true(lf_template_is_static(t));
	assert_null(lf_template_fields(t)[0]);
	lf_template_free(t);
	assert_int_equal(lf_template_new("x", "{{ .a }} {{ if .b }}{{ .a | ToUpper }}{{ end }}", 0,
	                                 &t, &err),
	                 0);
	assert_false(lf_template_is_static(t));
	const char *const *f = lf_template_fields(t);
	assert_string_equal(f[0], "a");
	assert_string_equal(f[1], "b");
	assert_null(f[2]);
	lf_template_free(t);
}

static void test_case_helpers(void **state)
{
	(void)state;
	struct lf_buf b = LF_BUF_INIT;
	const char s[] = "AbC-\xc3\x89\xce\xa3\xff!";
	assert_int_equal(lf_str_lower(s, sizeof s - 1, &b), 0);
	assert_string_equal(b.data, "abc-\xc3\xa9\xcf\x83\xff!"); /* é σ, bad byte kept */
	lf_buf_reset(&b);
	assert_int_equal(lf_str_upper("stra\xc3\x9f"
	                              "e",
	                              7, &b),
	                 0);
	assert_string_equal(b.data, "STRA\xc3\x9f"
	                            "E"); /* ß has no simple upper case */
	lf_buf_free(&b);
}

static void test_no_alloc_when_warm(void **state)
{
	(void)state;
	struct lf_template *t;
	struct lf_error err;
	assert_int_equal(
	        lf_template_new(
	                "x",
	                "{{ .level | ToLower }} {{ if eq .level \"WARN\" }}w{{ end }} "
	                "{{ TrimSpace .app | printf \"[%s]\" }} "
	                "{{ regexReplaceAll \"(\\\\d+)\" .ssn \"<$1>\" }} {{ Hash \"s\" .num }}",
	                0, &t, &err),
	        0);
	struct lf_buf out = LF_BUF_INIT;
	alloc_calls = 0;
	for (int round = 0; round < 2; round++) {
		if (round == 1) {
			assert_true(alloc_calls > 0); /* the wrap does count */
			alloc_calls = 0;
		}
		for (int i = 0; i < 100; i++) {
			lf_buf_reset(&out);
			assert_int_equal(lf_template_exec(t, lookup, NULL, &out, &err), 0);
		}
	}
	assert_int_equal(alloc_calls, 0);
	assert_memory_equal(out.data, "warn w [web] <123>-<45>-<6789> ", 31);
	lf_buf_free(&out);
	lf_template_free(t);
}

/* Regression (fuzz_template): deep nesting overflowed the stack. LogQL
 * line_format templates come from queries, so it must be a parse error. */
static void test_deep_nesting_is_an_error(void **state)
{
	(void)state;
	struct lf_buf src = LF_BUF_INIT;
	struct lf_template *t = NULL;
	struct lf_error err;
	lf_buf_appends(&src, "{{ ");
	for (int i = 0; i < 100000; i++)
		lf_buf_putc(&src, '(');
	lf_buf_appends(&src, "1");
	for (int i = 0; i < 100000; i++)
		lf_buf_putc(&src, ')');
	lf_buf_appends(&src, " }}");
	assert_int_equal(lf_template_new("deep", src.data, 0, &t, &err), -1);
	assert_non_null(strstr(err.msg, "nested deeper than"));
	lf_buf_reset(&src);
	for (int i = 0; i < 50000; i++)
		lf_buf_appends(&src, "{{ if .a }}");
	assert_int_equal(lf_template_new("ifs", src.data, 0, &t, &err), -1);
	assert_non_null(strstr(err.msg, "nested deeper than"));
	/* ordinary nesting still parses */
	assert_int_equal(lf_template_new("ok",
	                                 "{{ if .a }}{{ if .b }}{{ ((1)) }}{{ end }}{{ end }}", 0,
	                                 &t, &err),
	                 0);
	lf_template_free(t);
	lf_buf_free(&src);
}

/* issue 17: out-of-range float -> int64 and int64 overflow give what Go on
 * amd64 gives (int64(f) = math.MinInt64 when f is NaN or outside the range;
 * int64 arithmetic wraps) instead of undefined behaviour */
static void test_int_conversion_edges(void **state)
{
	(void)state;
	check("{{ sub 1e33 1 }}", "9223372036854775807");
	check("{{ int 1e33 }}|{{ int -1e33 }}|{{ int 9.3e18 }}|{{ int -9.223372036854775808e18 }}",
	      "-9223372036854775808|-9223372036854775808|-9223372036854775808|"
	      "-9223372036854775808");
	check("{{ int 9.2e18 }}|{{ int -2.9 }}|{{ int 2.9 }}", "9200000000000000000|-2|2");
	check("{{ add1 9223372036854775807 }}", "-9223372036854775808");
	/* Prometheus' humanizeDuration / humanizeTimestamp convert with int64() too */
	check("{{ humanizeDuration 1e20 }}", "-106751991167300d -15h -30m -8s");
	check("{{ humanizeTimestamp 1e10 }}", "1677-09-21 00:12:43.145224192 +0000 UTC");
	check("{{ humanizeTimestamp 1700000000.5 }}", "2023-11-14 22:13:20.5 +0000 UTC");
	check("{{ add 9223372036854775807 1 }}|{{ mul 4611686018427387904 4 }}|{{ sub "
	      "-9223372036854775808 1 }}",
	      "-9223372036854775808|0|9223372036854775807");
	check("{{ div -9223372036854775808 -1 }}|{{ mod -9223372036854775808 -1 }}",
	      "-9223372036854775808|0");
	check("{{ max 1e30 3 }}|{{ min 1e30 3 }}", "3|-9223372036854775808");
	check("{{ add1 1e300 }}", "-9223372036854775807");
	/* cast.ToInt64 of a string: ParseInt(s, 0, 64), an error gives 0 */
	check("{{ int \"99999999999999999999\" }}|{{ int \" 5\" }}|{{ int \"0x10\" }}|{{ int "
	      "\"-9223372036854775808\" }}",
	      "0|0|16|-9223372036854775808");
	/* epoch seconds beyond int64 ns saturate (Go's time.Time would go on to
	 * year 2286 / 292277026596: out of reach of our int64 ns times) */
	check("{{ date \"2006\" 9223372036854775807 }}|{{ date \"2006\" -9223372036854775807 }}",
	      "2262|1677");
	check("{{ unixToTime \"9999999999\" | unixEpoch }}|{{ unixToTime \"9999999999999\" | "
	      "unixEpoch }}|{{ unixToTime \"9999999999999999\" | unixEpoch }}",
	      "9223372036|9223372036|9223372036");
	/* round's places (an int) may be anything */
	check("{{ round 1.25 1e30 }}|{{ round 2.5 0 }}", "NaN|3");
}

/* Go builtins println/html/js/urlquery/index/slice and sprig fromJson
 * (outputs as Go 1.20 text/template prints them) */
static void test_go_builtins_and_fromjson(void **state)
{
	(void)state;
	check("{{ println \"a\" 1 2 }}|{{ println }}", "a 1 2\n|\n");
	check("{{ html \"<a href='x'>&\\\"</a>\" }}",
	      "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;");
	check("{{ html 1 2 }}|{{ .level | html }}", "1 2|WARN");
	check("{{ js \"a'b\\\"c\\\\d<e>&f=g\\n\" }}",
	      "a\\'b\\\"c\\\\d\\u003Ce\\u003E\\u0026f\\u003Dg\\u000A");
	check("{{ js \"\\u00e9\\u2028\" }}", "\xc3\xa9\\u2028");
	check("{{ urlquery \"a b&c=d/\\u00e9\" }}|{{ urlquery \"x\" 3 }}",
	      "a+b%26c%3Dd%2F%C3%A9|x3");
	check("{{ index \"abc\" 1 }}|{{ slice \"abcd\" 1 3 }}|{{ slice \"abcd\" 2 }}|{{ slice "
	      "\"abcd\" }}",
	      "98|bc|cd|abcd");
	check("{{ fromJson `{\"b\":[1,2.5,\"x\",null,true],\"a\":{\"c\":1e21}}` }}",
	      "map[a:map[c:1e+21] b:[1 2.5 x <nil> true]]");
	check("{{ index (fromJson `{\"a\":{\"b\":[10,\"y\"]}}`) \"a\" \"b\" 1 }}|"
	      "{{ index (fromJson `{\"a\":{\"b\":[10,\"y\"]}}`) \"a\" \"b\" 0 | add1 }}|"
	      "{{ index (fromJson `{\"a\":1}`) \"zz\" }}",
	      "y|11|<no value>");
	check("{{ fromJson \"not json\" }}|{{ if fromJson \"{}\" }}t{{ else }}f{{ end }}|"
	      "{{ len (fromJson `[1,2,3]`) }}|{{ fromJson `\"s\"` }}|{{ fromJson `12` }}",
	      "<no value>|f|3|s|12");
}

int main(void)
{
	setenv("TZ", "UTC", 1); /* times below print in the local zone */
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_fields_and_text),
	        cmocka_unit_test(test_trim_markers),
	        cmocka_unit_test(test_functions),
	        cmocka_unit_test(test_more_functions),
	        cmocka_unit_test(test_if_else),
	        cmocka_unit_test(test_parse_errors),
	        cmocka_unit_test(test_exec_errors),
	        cmocka_unit_test(test_info),
	        cmocka_unit_test(test_case_helpers),
	        cmocka_unit_test(test_no_alloc_when_warm),
	        cmocka_unit_test(test_deep_nesting_is_an_error),
	        cmocka_unit_test(test_int_conversion_edges),
	        cmocka_unit_test(test_go_builtins_and_fromjson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
