/* test_selector.c — common/selector: LogQL stream selectors + line filters,
 * lexer, Loki-style errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "selector.h"

static struct lf_selector *parse(const char *s, unsigned flags)
{
	struct lf_selector *sel = NULL;
	struct lf_error err;
	if (lf_selector_parse(s, strlen(s), flags, &sel, &err) < 0)
		fail_msg("parse %s: %s", s, err.msg);
	return sel;
}

static void test_parse_structure(void **state)
{
	(void)state;
	struct lf_selector *sel =
	        parse("{a=\"x\", b!=\"y\", c=~\"re.*\", d!~`r\\d`} |= \"s\" != \"t\" |~ \"u+\" "
	              "!~ `v\\w` |= \"a\" or \"b\" or `c`",
	              0);
	assert_int_equal(sel->n_matchers, 4);
	assert_string_equal(sel->matchers[0].name, "a");
	assert_int_equal(sel->matchers[0].op, LF_MATCH_EQ);
	assert_string_equal(sel->matchers[0].value, "x");
	assert_int_equal(sel->matchers[1].op, LF_MATCH_NEQ);
	assert_int_equal(sel->matchers[2].op, LF_MATCH_RE);
	assert_non_null(sel->matchers[2].re);
	assert_int_equal(sel->matchers[3].op, LF_MATCH_NRE);
	assert_string_equal(sel->matchers[3].value, "r\\d"); /* backtick: raw */
	assert_int_equal(sel->n_filters, 5);
	assert_int_equal(sel->filters[0].op, LF_FILTER_CONTAINS);
	assert_int_equal(sel->filters[1].op, LF_FILTER_NOT_CONTAINS);
	assert_int_equal(sel->filters[2].op, LF_FILTER_RE);
	assert_int_equal(sel->filters[3].op, LF_FILTER_NOT_RE);
	assert_string_equal(sel->filters[3].alts[0].value, "v\\w");
	assert_int_equal(sel->filters[4].n_alts, 3);
	assert_string_equal(sel->filters[4].alts[2].value, "c");

	struct lf_buf b = LF_BUF_INIT;
	assert_int_equal(lf_selector_render(sel, &b), 0);
	assert_string_equal(b.data, "{a=\"x\", b!=\"y\", c=~\"re.*\", d!~\"r\\\\d\"} |= \"s\" != "
	                            "\"t\" |~ \"u+\" !~ \"v\\\\w\" |= \"a\" or \"b\" or \"c\"");
	lf_buf_free(&b);
	lf_selector_free(sel);
}

static void test_string_escapes(void **state)
{
	(void)state;
	struct lf_selector *sel = parse("{a=\"q\\\"x\\\\y\\n\\t\\x41\\u00e9\\U0001F600\\101\"}", 0);
	assert_string_equal(sel->matchers[0].value, "q\"x\\y\n\tA\xc3\xa9\xf0\x9f\x98\x80"
	                                            "A");
	lf_selector_free(sel);
	/* multi-line query: whitespace and comments between tokens */
	sel = parse("{\n  app=\"a\",  # the app\n  env = \"p\"\n}\n|= \"x\"", 0);
	assert_int_equal(sel->n_matchers, 2);
	assert_string_equal(sel->matchers[1].value, "p");
	assert_int_equal(sel->n_filters, 1);
	lf_selector_free(sel);
}

static struct lf_labels mklabels(const char *text)
{
	struct lf_labels ls = LF_LABELS_INIT;
	struct lf_error err;
	if (lf_labels_parse(text, strlen(text), &ls, &err) < 0)
		fail_msg("labels %s: %s", text, err.msg);
	return ls;
}

static void test_match_labels(void **state)
{
	(void)state;
	static const struct {
		const char *sel, *labels;
		bool want;
	} cases[] = {
	        {"{app=\"web\"}", "{app=\"web\", env=\"p\"}", true},
	        {"{app=\"web\"}", "{app=\"webx\"}", false},
	        {"{app!=\"web\"}", "{app=\"api\"}", true},
	        {"{app!=\"web\"}", "{env=\"p\"}", true}, /* absent = "" != "web" */
	        {"{app=\"\"}", "{env=\"p\"}", true},     /* absent label equals "" */
	        {"{app=~\"we.*\"}", "{app=\"web\"}", true},
	        {"{app=~\"we\"}", "{app=\"web\"}", false}, /* fully anchored */
	        {"{app=~\"a.*\"}", "{app=\"xa\"}", false},
	        {"{app=~\"web|api\"}", "{app=\"api\"}", true},
	        {"{app=~\".*\"}", "{env=\"p\"}", true}, /* "" matches .* */
	        {"{app=~\".+\"}", "{env=\"p\"}", false},
	        {"{app!~\"web|api\"}", "{app=\"db\"}", true},
	        {"{app!~\"web|api\"}", "{app=\"web\"}", false},
	        {"{app!~\".+\"}", "{env=\"p\"}", true},
	        {"{app=~\"(?i)WEB\"}", "{app=\"web\"}", true},
	        {"{app=\"web\", env=~\"p.*\"}", "{app=\"web\", env=\"prod\"}", true},
	        {"{app=\"web\", env=~\"p.*\"}", "{app=\"web\", env=\"dev\"}", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct lf_selector *sel = parse(cases[i].sel, 0);
		struct lf_labels ls = mklabels(cases[i].labels);
		bool got = lf_selector_match_labels(sel, &ls);
		if (got != cases[i].want)
			fail_msg("case %zu: %s on %s: got %d", i, cases[i].sel, cases[i].labels,
			         got);
		lf_labels_free(&ls);
		lf_selector_free(sel);
	}
	/* single matcher helper with a NULL (absent) value */
	struct lf_selector *sel = parse("{a=~\"x?\"}", 0);
	assert_true(lf_matcher_match(&sel->matchers[0], NULL, 0));
	assert_true(lf_matcher_match(&sel->matchers[0], "x", 1));
	assert_false(lf_matcher_match(&sel->matchers[0], "xx", 2));
	lf_selector_free(sel);
}

static void test_match_line(void **state)
{
	(void)state;
	static const struct {
		const char *sel, *line;
		bool want;
	} cases[] = {
	        {"{a=\"b\"}", "anything", true},
	        {"{a=\"b\"} |= \"err\"", "an error here", true},
	        {"{a=\"b\"} |= \"err\"", "all good", false},
	        {"{a=\"b\"} |= \"\"", "x", true},
	        {"{a=\"b\"} != \"debug\"", "level=info", true},
	        {"{a=\"b\"} != \"debug\"", "level=debug", false},
	        {"{a=\"b\"} |~ \"err(or)?\"", "an error", true}, /* unanchored */
	        {"{a=\"b\"} |~ \"^err\"", "an error", false},
	        {"{a=\"b\"} |~ \"(?i)ERROR\"", "an error", true},
	        {"{a=\"b\"} !~ \"level=(debug|trace)\"", "level=trace x", false},
	        {"{a=\"b\"} !~ \"level=(debug|trace)\"", "level=warn x", true},
	        {"{a=\"b\"} |= \"a\" |= \"b\"", "ab", true},
	        {"{a=\"b\"} |= \"a\" |= \"b\"", "a", false},
	        {"{a=\"b\"} |= \"x\" or \"y\"", "has y", true},
	        {"{a=\"b\"} |= \"x\" or \"y\"", "has z", false},
	        {"{a=\"b\"} != \"x\" or \"y\"", "has y", false}, /* neither x nor y */
	        {"{a=\"b\"} != \"x\" or \"y\"", "has z", true},
	        {"{a=\"b\"} |~ \"x\\\\d\" or \"y\\\\d\"", "y7", true},
	        {"{a=\"b\"} !~ \"x\\\\d\" or \"y\\\\d\"", "y7", false},
	        {"{a=\"b\"} |~ `\\d{3}`", "code 404", true},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct lf_selector *sel = parse(cases[i].sel, 0);
		bool got = lf_selector_match_line(sel, cases[i].line, strlen(cases[i].line));
		if (got != cases[i].want)
			fail_msg("case %zu: %s on \"%s\": got %d", i, cases[i].sel, cases[i].line,
			         got);
		lf_selector_free(sel);
	}
	/* lines with NUL and invalid UTF-8 */
	struct lf_selector *sel = parse("{a=\"b\"} |= \"z\" |~ \"a.b\"", 0);
	assert_true(lf_selector_match_line(sel,
	                                   "a\xff"
	                                   "b\0z",
	                                   5));
	assert_false(lf_selector_match_line(sel,
	                                    "a\xff"
	                                    "b\0",
	                                    4));
	lf_selector_free(sel);
}

static void parse_err(const char *s, unsigned flags, const char *want)
{
	struct lf_selector *sel = (struct lf_selector *)1;
	struct lf_error err;
	if (lf_selector_parse(s, strlen(s), flags, &sel, &err) != -1)
		fail_msg("parsed: %s", s);
	assert_null(sel);
	if (strcmp(err.msg, want) != 0)
		fail_msg("%s:\n got  %s\n want %s", s, err.msg, want);
}

/* Wording checked against Loki reports (grafana/loki#12132: "parse error at
 * line 1, col 3: syntax error: unexpected IDENTIFIER, expecting = or =~ or
 * !~ or !="). Columns are 1-based, of the offending token. */
static void test_errors(void **state)
{
	(void)state;
	parse_err("{a b=\"c\"}", 0,
	          "parse error at line 1, col 4: syntax error: unexpected IDENTIFIER, expecting = "
	          "or =~ or !~ or !=");
	parse_err("{}", 0,
	          "parse error at line 1, col 2: syntax error: unexpected }, expecting "
	          "IDENTIFIER");
	parse_err("{a=b}", 0,
	          "parse error at line 1, col 4: syntax error: unexpected IDENTIFIER, expecting "
	          "STRING");
	parse_err("{a=\"b\"", 0,
	          "parse error at line 1, col 7: syntax error: unexpected $end, expecting } or ,");
	parse_err("{a=\"b\" c=\"d\"}", 0,
	          "parse error at line 1, col 8: syntax error: unexpected IDENTIFIER, expecting } "
	          "or ,");
	parse_err("{a=\"b\",}", 0,
	          "parse error at line 1, col 8: syntax error: unexpected }, expecting IDENTIFIER");
	parse_err("a=\"b\"", 0,
	          "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER");
	parse_err("{a=\"b\"} |= x", 0,
	          "parse error at line 1, col 12: syntax error: unexpected IDENTIFIER, expecting "
	          "STRING");
	parse_err("{a=\"b\"} |= \"x\" or", 0,
	          "parse error at line 1, col 18: syntax error: unexpected $end, expecting STRING");
	/* cases from Loki's own parser tests (pkg/logql/syntax/parser_test.go) */
	parse_err("{foo=\"bar}", 0, "parse error at line 1, col 6: literal not terminated");
	parse_err("{foo=\"bar\"", 0,
	          "parse error at line 1, col 11: syntax error: unexpected $end, expecting } or ,");
	parse_err("{foo=\"bar\"} |~", 0,
	          "parse error at line 1, col 15: syntax error: unexpected $end, expecting STRING");
	parse_err("{foo=\"bar\"} \"foo\"", 0,
	          "parse error at line 1, col 13: syntax error: unexpected STRING");
	parse_err("{foo=\"bar\"} foo", 0,
	          "parse error at line 1, col 13: syntax error: unexpected IDENTIFIER");
	parse_err("", 0, "parse error : syntax error: unexpected $end");
	parse_err("{app=}", 0,
	          "parse error at line 1, col 6: syntax error: unexpected }, expecting STRING");
	parse_err("{a=\"b\"} foo", 0,
	          "parse error at line 1, col 9: syntax error: unexpected IDENTIFIER");
	parse_err("{a=\"b\"}\n  |= \"x\" }", 0,
	          "parse error at line 2, col 10: syntax error: unexpected }");
	parse_err("{a=\"b\\q\"}", 0, "parse error at line 1, col 4: invalid char escape");
	parse_err("{a=\"b}", 0, "parse error at line 1, col 4: literal not terminated");
	parse_err("{a=\"b\"} ! \"x\"", 0,
	          "parse error at line 1, col 9: syntax error: unexpected character '!'");
	parse_err("{a=~\"(x\"}", 0,
	          "parse error at line 1, col 5: invalid regex \"(x\": missing closing parenthesis "
	          "at offset 2");
	parse_err("{a=\"b\"} |~ \"[\"", 0,
	          "parse error at line 1, col 12: invalid regex \"[\": missing terminating ] for "
	          "character class at offset 1");
	/* Loki's query validation */
	const char *nonempty =
	        "parse error : queries require at least one regexp or equality matcher that does "
	        "not have an empty-compatible value. For instance, app=~\".*\" does not meet this "
	        "requirement, but app=~\".+\" will";
	parse_err("{a=~\".*\"}", LF_SELECTOR_REQUIRE_NONEMPTY, nonempty);
	parse_err("{a!=\"x\", b=\"\"}", LF_SELECTOR_REQUIRE_NONEMPTY, nonempty);
	struct lf_selector *sel = parse("{a=~\".*\", b=~\".+\"}", LF_SELECTOR_REQUIRE_NONEMPTY);
	lf_selector_free(sel);
	sel = parse("{a=~\".*\"}", 0); /* the match stage accepts it */
	lf_selector_free(sel);
	/* matchers only */
	parse_err("{a=\"b\"} |= \"x\"", LF_SELECTOR_NO_FILTERS,
	          "parse error at line 1, col 9: syntax error: unexpected |=");
}

/* the store parses a selector inside a larger query and continues */
static void test_parse_lx(void **state)
{
	(void)state;
	const char *q = "count_over_time({app=\"x\"} |= \"err\" [5m]) > 10KB";
	struct lf_lq_lexer lx;
	lf_lq_lexer_init(&lx, q, strlen(q));
	struct lf_lq_token t;
	struct lf_error err;
	assert_int_equal(lf_lq_next(&lx, &t, &err), 0);
	assert_true(lf_lq_is_ident(&lx, &t, "count_over_time"));
	assert_int_equal(lf_lq_next(&lx, &t, &err), 0);
	assert_int_equal(t.kind, LF_LQ_LPAREN);
	struct lf_selector *sel;
	assert_int_equal(lf_selector_parse_lx(&lx, 0, &sel, &err), 0);
	assert_int_equal(sel->n_matchers, 1);
	assert_int_equal(sel->n_filters, 1);
	lf_selector_free(sel);
	assert_int_equal(lf_lq_next(&lx, &t, &err), 0);
	assert_int_equal(t.kind, LF_LQ_LBRACKET);
	assert_int_equal(lf_lq_next(&lx, &t, &err), 0);
	assert_int_equal(t.kind, LF_LQ_DURATION);
	assert_int_equal(t.len, 2);
	assert_memory_equal(q + t.pos, "5m", 2);
	assert_int_equal(lf_lq_next(&lx, &t, &err), 0);
	assert_int_equal(t.kind, LF_LQ_RBRACKET);
	assert_int_equal(lf_lq_next(&lx, &t, &err), 0);
	assert_int_equal(t.kind, LF_LQ_RPAREN);
	assert_int_equal(lf_lq_next(&lx, &t, &err), 0);
	assert_int_equal(t.kind, LF_LQ_GT);
	assert_int_equal(lf_lq_next(&lx, &t, &err), 0);
	assert_int_equal(t.kind, LF_LQ_BYTES);
	assert_int_equal(lf_lq_next(&lx, &t, &err), 0);
	assert_int_equal(t.kind, LF_LQ_EOF);
	lf_lq_lexer_free(&lx);
}

static void test_lexer_tokens(void **state)
{
	(void)state;
	const char *q = "== != =~ !~ |= |~ |> !> | >= <= > < + - * / % ^ , ( ) [ ] { } 1.5e3 0x1f "
	                "1h30m `raw` \"s\" ident_1";
	enum lf_lq_tok want[] = {
	        LF_LQ_CMP_EQ,     LF_LQ_NEQ,        LF_LQ_RE,           LF_LQ_NRE,
	        LF_LQ_PIPE_EXACT, LF_LQ_PIPE_MATCH, LF_LQ_PIPE_PATTERN, LF_LQ_NPA,
	        LF_LQ_PIPE,       LF_LQ_GTE,        LF_LQ_LTE,          LF_LQ_GT,
	        LF_LQ_LT,         LF_LQ_ADD,        LF_LQ_SUB,          LF_LQ_MUL,
	        LF_LQ_DIV,        LF_LQ_MOD,        LF_LQ_POW,          LF_LQ_COMMA,
	        LF_LQ_LPAREN,     LF_LQ_RPAREN,     LF_LQ_LBRACKET,     LF_LQ_RBRACKET,
	        LF_LQ_LBRACE,     LF_LQ_RBRACE,     LF_LQ_NUMBER,       LF_LQ_NUMBER,
	        LF_LQ_DURATION,   LF_LQ_STRING,     LF_LQ_STRING,       LF_LQ_IDENT,
	        LF_LQ_EOF,
	};
	struct lf_lq_lexer lx;
	lf_lq_lexer_init(&lx, q, strlen(q));
	struct lf_error err;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		struct lf_lq_token t, p;
		assert_int_equal(lf_lq_peek(&lx, &p, &err), 0);
		assert_int_equal(lf_lq_next(&lx, &t, &err), 0);
		assert_int_equal(p.kind, t.kind);
		if (t.kind != want[i])
			fail_msg("token %zu: got %s want %s", i, lf_lq_tok_name(t.kind),
			         lf_lq_tok_name(want[i]));
		if (i == 29)
			assert_string_equal(lx.str.data, "raw");
		if (i == 30)
			assert_string_equal(lx.str.data, "s"); /* peeked string swapped in */
	}
	lf_lq_lexer_free(&lx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_structure), cmocka_unit_test(test_string_escapes),
	        cmocka_unit_test(test_match_labels),    cmocka_unit_test(test_match_line),
	        cmocka_unit_test(test_errors),          cmocka_unit_test(test_parse_lx),
	        cmocka_unit_test(test_lexer_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
