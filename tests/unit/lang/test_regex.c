/* test_regex.c — common/regex: RE2 syntax on pcre2, Go Expand and
 * ReplaceAll semantics, invalid UTF-8 subjects. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_count.h"
#include "regex.h"

static struct lf_regex *compile(const char *pat, unsigned flags)
{
	struct lf_regex *re = NULL;
	struct lf_error err;
	if (lf_regex_new(pat, flags, &re, &err) < 0)
		fail_msg("compile %s: %s", pat, err.msg);
	return re;
}

/* table: pattern, flags, subject (with length), expected match */
static void test_match_table(void **state)
{
	(void)state;
	static const struct {
		const char *pat;
		unsigned flags;
		const char *subj;
		size_t len;
		bool want;
	} cases[] = {
	        /* Go/RE2 syntax accepted as written */
	        {"(?P<name>\\w+)=(?P<v>\\d+)", 0, "a=12", 4, true},
	        {"(?i)hello", 0, "HeLLo world", 11, true},
	        {"(?s)a.b", 0, "a\nb", 3, true},
	        {"a.b", 0, "a\nb", 3, false}, /* . does not match \n without (?s) */
	        {"^\\d+$", 0, "123", 3, true},
	        {"^\\d+$", 0, "12a", 3, false},
	        {"\\d", 0, "\xd9\xa3", 2, false}, /* Arabic-Indic 3: \d is ASCII in RE2 */
	        {"^\\pL+$", 0, "h\xc3\xa9llo", 6, true},
	        {"^[[:alpha:]]+$", 0, "abcXYZ", 6, true},
	        {"^[[:alpha:]]+$", 0, "ab1", 3, false},
	        {"[[:digit:]]x", 0, "5x", 2, true},
	        {"(?i)\xc3\xa9", 0, "\xc3\x89", 2, true}, /* Unicode case folding é/É */
	        {"\\Qa.b\\E", 0, "axb", 3, false},
	        {"\\Qa.b\\E", 0, "a.b", 3, true},
	        {"\\Aab\\z", 0, "ab", 2, true},
	        {"\\Aab\\z", 0, "ab\n", 3, false},
	        /* RE2 `$` (no (?m)) is end of text only, not before a final \n */
	        {"ab$", 0, "ab\n", 3, false},
	        {"ab$", 0, "ab", 2, true},
	        {"(?m)ab$", 0, "ab\ncd", 5, true},
	        /* \s is [\t\n\f\r ] in RE2: no vertical tab */
	        {"a\\sb", 0, "a\vb", 3, false},
	        {"a\\sb", 0, "a\tb", 3, true},
	        {"a\\Sb", 0, "a\vb", 3, true},
	        {"a[\\s]b", 0, "a b", 3, true},
	        {"a[\\s]b", 0, "a\vb", 3, false},
	        /* \v is only \x0B */
	        {"a\\vb", 0, "a\vb", 3, true},
	        {"a\\vb", 0, "a\nb", 3, false},
	        /* NUL bytes in subjects */
	        {"a\\x00b", 0, "xa\0b", 4, true},
	        {"^a.b$", 0, "a\0b", 3, true},
	        /* invalid UTF-8: Go reads a bad byte as U+FFFD, `.` matches it */
	        {"^a.b$", 0,
	         "a\xff"
	         "b",
	         3, true},
	        {"^(?P<all>.*)$", 0, "x\xc3(\xfey", 5, true},
	        {"^[^z]+$", 0, "\xff\xfe", 2, true},
	        {"\\S+", 0, "\xff", 1, true},
	        {"^\\pL$", 0, "\xff", 1, false},
	        /* a bad byte is exactly one U+FFFD rune, as Go sees it */
	        {"^.{3}$", 0,
	         "a\xff"
	         "b",
	         3, true},
	        {"^.{3}$", 0, "\xc3(\xfe", 3, true},
	        {"[^\\x00-\\x7f]", 0, "ab\xff", 3, true},
	        {"^\\pS$", 0, "\xff", 1, true}, /* U+FFFD is a symbol */
	        {"^\\x{FFFD}+$", 0, "\xff\xfe", 2, true},
	        /* fully anchored (Prometheus ^(?s:re)$) */
	        {"a.*", LF_REGEX_FULL, "abc", 3, true},
	        {"a.*", LF_REGEX_FULL, "xabc", 4, false},
	        {"b", LF_REGEX_FULL, "abc", 3, false},
	        {"a|ab", LF_REGEX_FULL, "ab", 2, true},  /* backtracks into the 2nd branch */
	        {"a.c", LF_REGEX_FULL, "a\nc", 3, true}, /* (?s) inside the anchors */
	        {"foo|bar", LF_REGEX_FULL, "foobar", 6, false},
	        {"", LF_REGEX_FULL, "", 0, true},
	        {"", LF_REGEX_FULL, "x", 1, false},
	        /* literal and caseless flags */
	        {"a.b(", LF_REGEX_LITERAL, "xa.b(y", 6, true},
	        {"a.b(", LF_REGEX_LITERAL, "xaxb(y", 6, false},
	        {"abc", LF_REGEX_CASELESS, "xABCx", 5, true},
	        /* ungreedy flag as RE2 spells it */
	        {"^(?U)(a+)a", 0, "aaa", 3, true},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct lf_regex *re = compile(cases[i].pat, cases[i].flags);
		bool got = lf_regex_test(re, cases[i].subj, cases[i].len);
		if (got != cases[i].want)
			fail_msg("case %zu: /%s/ on %zu bytes: got %d want %d", i, cases[i].pat,
			         cases[i].len, got, cases[i].want);
		lf_regex_free(re);
	}
}

static void test_ungreedy_capture(void **state)
{
	(void)state;
	struct lf_regex *re = compile("(?U)^(a+)(a*)$", 0);
	struct lf_regex_match m = LF_REGEX_MATCH_INIT;
	assert_int_equal(lf_regex_exec(re, "aaa", 3, 0, &m, NULL), 1);
	const char *p;
	size_t n;
	assert_true(lf_regex_group(&m, 1, &p, &n));
	assert_int_equal(n, 1); /* lazy: one a */
	assert_true(lf_regex_group(&m, 2, &p, &n));
	assert_int_equal(n, 2);
	lf_regex_match_free(&m);
	lf_regex_free(re);
}

static void test_compile_errors(void **state)
{
	(void)state;
	static const struct {
		const char *pat;
		const char *msg;
	} cases[] = {
	        {"(a", "invalid regex \"(a\": missing closing parenthesis at offset 2"},
	        /* offsets point into the user's pattern even after \s expansion */
	        {"\\s\\s(", "invalid regex \"\\s\\s(\": missing closing parenthesis at offset 5"},
	        {"a\\Z", "invalid regex \"a\\Z\": invalid escape sequence: \\Z at offset 1"},
	        {"[z-a]",
	         "invalid regex \"[z-a]\": range out of order in character class at offset 3"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct lf_regex *re = (struct lf_regex *)1;
		struct lf_error err;
		assert_int_equal(lf_regex_new(cases[i].pat, 0, &re, &err), -1);
		assert_null(re);
		assert_string_equal(err.msg, cases[i].msg);
	}
}

static void test_groups(void **state)
{
	(void)state;
	struct lf_regex *re = compile("(?P<time>\\S+) (\\w+) (?<level>[A-Z]+)(x)?", 0);
	assert_int_equal(lf_regex_ngroups(re), 4);
	assert_string_equal(lf_regex_group_name(re, 1), "time");
	assert_null(lf_regex_group_name(re, 2));
	assert_string_equal(lf_regex_group_name(re, 3), "level");
	assert_null(lf_regex_group_name(re, 5));
	assert_int_equal(lf_regex_group_index(re, "level", 5), 3);
	assert_int_equal(lf_regex_group_index(re, "nope", 4), -1);

	struct lf_regex_match m = LF_REGEX_MATCH_INIT;
	const char *s = "12:00 app WARN rest";
	assert_int_equal(lf_regex_exec(re, s, strlen(s), 0, &m, NULL), 1);
	const char *p;
	size_t n;
	assert_true(lf_regex_group(&m, 1, &p, &n));
	assert_int_equal(n, 5);
	assert_memory_equal(p, "12:00", 5);
	assert_true(lf_regex_group(&m, 3, &p, &n));
	assert_memory_equal(p, "WARN", 4);
	assert_false(lf_regex_group(&m, 4, &p, &n)); /* did not participate */
	assert_null(p);
	assert_false(lf_regex_group(&m, 9, &p, &n));
	assert_int_equal(lf_regex_exec(re, "nomatch", 7, 0, &m, NULL), 0);
	lf_regex_match_free(&m);
	lf_regex_free(re);
}

/* invalid bytes are kept in captured groups: groups slice the original */
static void test_invalid_utf8_capture(void **state)
{
	(void)state;
	struct lf_regex *re = compile("^(?P<a>\\w+) (?P<msg>.*)$", 0);
	struct lf_regex_match m = LF_REGEX_MATCH_INIT;
	const char s[] = "lvl m\xff\xfe\0z";
	size_t len = sizeof s - 1;
	assert_int_equal(lf_regex_exec(re, s, len, 0, &m, NULL), 1);
	const char *p;
	size_t n;
	assert_true(lf_regex_group(&m, 2, &p, &n));
	assert_int_equal(n, 5);
	assert_ptr_equal(p, s + 4);
	assert_memory_equal(p, "m\xff\xfe\0z", 5);
	lf_regex_match_free(&m);
	lf_regex_free(re);
}

static void check_replace(const char *pat, const char *subj, const char *repl, bool literal,
                          const char *want)
{
	struct lf_regex *re = compile(pat, 0);
	struct lf_buf out = LF_BUF_INIT;
	assert_int_equal(lf_regex_replace_all(re, subj, strlen(subj), repl, strlen(repl), literal,
	                                      &out, NULL),
	                 0);
	const char *got = out.data ? out.data : ""; /* empty output may leave data NULL */
	if (strcmp(got, want) != 0)
		fail_msg("/%s/ on \"%s\" with \"%s\": got \"%s\" want \"%s\"", pat, subj, repl,
		         got, want);
	lf_buf_free(&out);
	lf_regex_free(re);
}

/* Expected values follow Go's documented regexp examples
 * (Regexp.ReplaceAllString: "-ab-axxb-" cases) and its rules. */
static void test_replace_all(void **state)
{
	(void)state;
	check_replace("a(x*)b", "-ab-axxb-", "T", false, "-T-T-");
	check_replace("a(x*)b", "-ab-axxb-", "$1", false, "--xx-");
	check_replace("a(x*)b", "-ab-axxb-", "$1W", false, "---"); /* group "1W" */
	check_replace("a(x*)b", "-ab-axxb-", "${1}W", false, "-W-xxW-");
	check_replace("a(?P<x>x*)b", "-ab-axxb-", "[$x]", false, "-[]-[xx]-");
	check_replace("a(x*)b", "-ab-axxb-", "$$1", false, "-$1-$1-");
	check_replace("a(x*)b", "-ab-axxb-", "${1}W", true, "-${1}W-${1}W-");
	check_replace("a(x*)b", "-ab-axxb-", "$", false, "-$-$-");       /* bare $ */
	check_replace("a(x*)b", "-ab-axxb-", "${1", false, "-${1-${1-"); /* unclosed */
	check_replace("a(x*)b", "-ab-axxb-", "$9", false, "---");        /* no group 9 */
	check_replace("a(x*)b", "-ab-axxb-", "$01", false, "---");       /* leading zero */
	/* empty matches: not right after a previous match */
	check_replace("x*", "abc", "-", false, "-a-b-c-");
	check_replace("a*", "baaac", "-", false, "-b-c-");
	check_replace("", "ab", "-", false, "-a-b-");
	/* multi-byte runes are stepped over whole */
	check_replace("", "\xc3\xa9", "-", false, "-\xc3\xa9-");
	check_replace("\\s+", "a  b\tc", "_", false, "a_b_c");
	check_replace("(?i)SECRET=\\S+", "x secret=abc y", "secret=***", false, "x secret=*** y");
	check_replace("z", "abc", "-", false, "abc");
	/* invalid bytes: replaced whole, kept byte-exact where not matched */
	check_replace(".",
	              "a\xff"
	              "b",
	              "X", false, "XXX");
	check_replace("b",
	              "\xff"
	              "b\xfe",
	              "X", false, "\xffX\xfe");
	check_replace("(\\S+)", "\xff\xfe x", "<$1>", false, "<\xff\xfe> <x>");
	check_replace("", "\xff", "-", false, "-\xff-");
	check_replace("b", "", "-", false, "");
}

static void test_expand(void **state)
{
	(void)state;
	struct lf_regex *re = compile("(?P<first>\\w+)\\s(?P<second>\\w+)", 0);
	struct lf_regex_match m = LF_REGEX_MATCH_INIT;
	assert_int_equal(lf_regex_exec(re, "hello world", 11, 0, &m, NULL), 1);
	static const struct {
		const char *tmpl, *want;
	} cases[] = {
	        {"$second $first", "world hello"},
	        {"${second}_${first}", "world_hello"},
	        {"$2-$1", "world-hello"},
	        {"$0!", "hello world!"},
	        {"$10", ""}, /* group 10 */
	        {"${1}0", "hello0"},
	        {"$second_x", ""}, /* name "second_x" */
	        {"a$$b", "a$b"},
	        {"$-", "$-"},
	        {"x", "x"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct lf_buf out = LF_BUF_INIT;
		assert_int_equal(
		        lf_regex_expand(re, &m, cases[i].tmpl, strlen(cases[i].tmpl), &out), 0);
		if (strcmp(out.data ? out.data : "", cases[i].want) != 0)
			fail_msg("expand %s: got \"%s\" want \"%s\"", cases[i].tmpl, out.data,
			         cases[i].want);
		lf_buf_free(&out);
	}
	lf_regex_match_free(&m);
	lf_regex_free(re);
}

static void test_start_offset(void **state)
{
	(void)state;
	struct lf_regex *re = compile("\\d+", 0);
	struct lf_regex_match m = LF_REGEX_MATCH_INIT;
	assert_int_equal(lf_regex_exec(re, "a1b22", 5, 2, &m, NULL), 1);
	assert_int_equal(m.ov[0], 3);
	assert_int_equal(m.ov[1], 5);
	assert_int_equal(lf_regex_exec(re, "a1b22", 5, 6, &m, NULL), 0);
	lf_regex_free(re);
	/* a fully anchored regex never matches from a later offset */
	re = compile("\\d+", LF_REGEX_FULL);
	assert_int_equal(lf_regex_exec(re, "a1b22", 5, 3, &m, NULL), 0);
	assert_int_equal(lf_regex_exec(re, "22", 2, 0, &m, NULL), 1);
	lf_regex_match_free(&m);
	lf_regex_free(re);
}

static void test_quote(void **state)
{
	(void)state;
	struct lf_buf out = LF_BUF_INIT;
	const char *s = "a.b*c[d](e)|f$^{1}\\";
	assert_int_equal(lf_regex_quote(s, strlen(s), &out), 0);
	assert_string_equal(out.data, "a\\.b\\*c\\[d\\]\\(e\\)\\|f\\$\\^\\{1\\}\\\\");
	struct lf_regex *re = compile(out.data, LF_REGEX_FULL);
	assert_true(lf_regex_test(re, s, strlen(s)));
	lf_regex_free(re);
	lf_buf_free(&out);
}

/* a long subject with a heavy pattern must not fail on the JIT stack */
static void test_long_subject(void **state)
{
	(void)state;
	size_t n = 200000;
	char *s = malloc(n + 1);
	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		s[i] = (char)('a' + i % 3);
	s[n] = '\0';
	struct lf_regex *re = compile("^(a|b|c)*$", 0);
	struct lf_regex_match m = LF_REGEX_MATCH_INIT;
	struct lf_error err;
	int rc = lf_regex_exec(re, s, n, 0, &m, &err);
	assert_int_equal(rc, 1);
	lf_regex_match_free(&m);
	lf_regex_free(re);
	free(s);
}

/* "find next" loops over a subject with invalid bytes: offsets are the
 * original ones and the UTF-8 check is reused */
static void test_find_next(void **state)
{
	(void)state;
	struct lf_regex *re = compile("\\d+", 0);
	struct lf_regex_match m = LF_REGEX_MATCH_INIT;
	const char s[] = "\xff"
	                 "1\xfe"
	                 "22\xc3"
	                 "333";
	size_t len = sizeof s - 1, pos = 0;
	const char *want[] = {"1", "22", "333"};
	size_t k = 0;
	while (lf_regex_exec(re, s, len, pos, &m, NULL) == 1) {
		const char *p;
		size_t n;
		assert_true(lf_regex_group(&m, 0, &p, &n));
		assert_true(k < 3);
		assert_int_equal(n, strlen(want[k]));
		assert_memory_equal(p, want[k], n);
		k++;
		pos = m.ov[1];
	}
	assert_int_equal(k, 3);
	lf_regex_match_free(&m);
	lf_regex_free(re);
}

/* once the match block is warm, matching allocates nothing */
static void test_no_alloc_when_warm(void **state)
{
	(void)state;
	struct lf_regex *re = compile("^(?P<level>\\w+) (?P<msg>.*)$", 0);
	struct lf_regex_match m = LF_REGEX_MATCH_INIT;
	struct lf_buf out = LF_BUF_INIT;
	const char good[] = "info all fine here";
	const char bad[] = "warn bad \xff byte";
	alloc_calls = 0;
	for (int round = 0; round < 2; round++) {
		if (round == 1) {
			assert_true(alloc_calls > 0); /* the wrap does count */
			alloc_calls = 0;
		}
		for (int i = 0; i < 100; i++) {
			assert_int_equal(lf_regex_exec(re, good, sizeof good - 1, 0, &m, NULL), 1);
			assert_int_equal(lf_regex_exec(re, bad, sizeof bad - 1, 0, &m, NULL), 1);
			assert_true(lf_regex_test(re, bad, sizeof bad - 1));
			lf_buf_reset(&out);
			assert_int_equal(lf_regex_replace_all(re, good, sizeof good - 1, "$msg", 4,
			                                      false, &out, &m),
			                 0);
		}
	}
	assert_int_equal(alloc_calls, 0);
	assert_string_equal(out.data, "all fine here");
	lf_buf_free(&out);
	lf_regex_match_free(&m);
	lf_regex_free(re);
}

/* a compiled regex is shared by threads; lf_regex_test and replace_all
 * with m == NULL use per-thread match blocks */
static struct lf_regex *shared_re;

static void *thread_body(void *arg)
{
	long id = (long)arg;
	struct lf_buf out = LF_BUF_INIT;
	for (int i = 0; i < 2000; i++) {
		char line[64];
		int n = snprintf(line, sizeof line, "t%ld-%d \xff end", id, i);
		if (!lf_regex_test(shared_re, line, (size_t)n))
			return (void *)1;
		lf_buf_reset(&out);
		if (lf_regex_replace_all(shared_re, line, (size_t)n, "<$2>", 4, false, &out, NULL) <
		    0)
			return (void *)1;
		char want[64];
		snprintf(want, sizeof want, "<%d> \xff end", i);
		if (strcmp(out.data, want) != 0)
			return (void *)1;
	}
	lf_buf_free(&out);
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	shared_re = compile("t(\\d+)-(\\d+)", 0);
	pthread_t th[4];
	for (long i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, thread_body, (void *)i), 0);
	for (int i = 0; i < 4; i++) {
		void *rv;
		assert_int_equal(pthread_join(th[i], &rv), 0);
		assert_null(rv);
	}
	lf_regex_free(shared_re);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_match_table),
	        cmocka_unit_test(test_ungreedy_capture),
	        cmocka_unit_test(test_compile_errors),
	        cmocka_unit_test(test_groups),
	        cmocka_unit_test(test_invalid_utf8_capture),
	        cmocka_unit_test(test_replace_all),
	        cmocka_unit_test(test_expand),
	        cmocka_unit_test(test_start_offset),
	        cmocka_unit_test(test_quote),
	        cmocka_unit_test(test_find_next),
	        cmocka_unit_test(test_threads),
	        cmocka_unit_test(test_no_alloc_when_warm),
	        cmocka_unit_test(test_long_subject),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
