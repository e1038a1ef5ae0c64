#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above */
#include <cmocka.h>

#include "buf.h"

static void test_append_printf_reset(void **state)
{
	(void)state;
	struct lf_buf b = LF_BUF_INIT;
	assert_int_equal(lf_buf_appends(&b, "abc"), 0);
	assert_int_equal(lf_buf_printf(&b, "-%d-%s", 42, "x"), 0);
	assert_string_equal(b.data, "abc-42-x");
	assert_int_equal(b.len, 8);
	size_t cap = b.cap;
	lf_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, cap); /* memory kept for reuse */
	assert_string_equal(b.data, "");
	/* A long printf goes through the slow path. */
	char big[1000];
	memset(big, 'z', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(lf_buf_printf(&b, "%s!", big), 0);
	assert_int_equal(b.len, 1000);
	assert_int_equal(b.data[999], '!');
	lf_buf_free(&b);
	assert_null(b.data);
}

static void test_quoted(void **state)
{
	(void)state;
	struct lf_buf b = LF_BUF_INIT;
	const char in[] = "a\"b\\c\nd\te\x01";
	assert_int_equal(lf_buf_append_quoted(&b, in, sizeof in - 1), 0);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\te\\x01\"");
	lf_buf_free(&b);
}

/* YAML double-quoted: what Go quoting escapes, plus what YAML would fold
 * or refuse (U+0085/U+2028/U+2029, C1 controls, BOM, U+FFFE/U+FFFF) */
static void test_yaml_quoted(void **state)
{
	(void)state;
	struct lf_buf b = LF_BUF_INIT;
	const char in[] = "a\"b\\c\n\r\t\x01\x7f|\xc2\x85|\xc2\x9f|\xe2\x80\xa8\xe2\x80\xa9|"
	                  "\xef\xbb\xbf|\xef\xbf\xbe\xef\xbf\xbf|\xc3\xa9\x00z";
	assert_int_equal(lf_buf_append_yaml_quoted(&b, in, sizeof in - 1), 0);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\r\\t\\x01\\x7f|\\N|\\x9f|\\L\\P|"
	                            "\\ufeff|\\ufffe\\uffff|\xc3\xa9\\x00z\"");
	/* a sequence cut at the end of the input is copied as it is */
	lf_buf_reset(&b);
	assert_int_equal(lf_buf_append_yaml_quoted(&b, "x\xe2\x80", 3), 0);
	assert_string_equal(b.data, "\"x\xe2\x80\"");
	lf_buf_free(&b);
}

static void test_json_string(void **state)
{
	(void)state;
	struct lf_buf b = LF_BUF_INIT;
	/* valid UTF-8 kept, invalid byte replaced by U+FFFD, NUL escaped */
	const char in[] = "h\xc3\xa9\xff\"\x00x";
	assert_int_equal(lf_buf_append_json_string(&b, in, sizeof in - 1), 0);
	assert_string_equal(b.data, "\"h\xc3\xa9\xef\xbf\xbd\\\"\\u0000x\"");
	lf_buf_free(&b);
}

static void test_take(void **state)
{
	(void)state;
	struct lf_buf b = LF_BUF_INIT;
	lf_buf_appends(&b, "owned");
	char *p = lf_buf_take(&b);
	assert_string_equal(p, "owned");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(p);
}

/* Regression (fuzz_yaml): the first reserve of an empty buffer left data
 * unterminated, although buf.h promises a C string after every operation. */
static void test_reserve_on_empty_is_terminated(void **state)
{
	(void)state;
	struct lf_buf b = LF_BUF_INIT;
	assert_int_equal(lf_buf_reserve(&b, 100), 0);
	assert_non_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.data[0], '\0');
	/* Growing a non-empty buffer keeps its text and terminator. */
	assert_int_equal(lf_buf_appends(&b, "abc"), 0);
	assert_int_equal(lf_buf_reserve(&b, 10000), 0);
	assert_string_equal(b.data, "abc");
	char *p = lf_buf_take(&b);
	assert_string_equal(p, "abc");
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_append_printf_reset),
	        cmocka_unit_test(test_quoted),
	        cmocka_unit_test(test_yaml_quoted),
	        cmocka_unit_test(test_json_string),
	        cmocka_unit_test(test_take),
	        cmocka_unit_test(test_reserve_on_empty_is_terminated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
