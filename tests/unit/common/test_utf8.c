#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka needs the headers above */
#include <cmocka.h>

#include "utf8.h"

static void test_hexval(void **state)
{
	(void)state;
	assert_int_equal(lf_hexval('0'), 0);
	assert_int_equal(lf_hexval('9'), 9);
	assert_int_equal(lf_hexval('a'), 10);
	assert_int_equal(lf_hexval('F'), 15);
	assert_int_equal(lf_hexval('g'), -1);
	assert_int_equal(lf_hexval('\0'), -1);
}

static void test_decode(void **state)
{
	(void)state;
	uint32_t cp = 0;
	assert_int_equal(lf_utf8_decode((const unsigned char *)"A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(lf_utf8_decode((const unsigned char *)"\xc3\xa9", 2, &cp), 2);
	assert_int_equal(cp, 0xe9);
	assert_int_equal(lf_utf8_decode((const unsigned char *)"\xe2\x82\xac", 3, &cp), 3);
	assert_int_equal(cp, 0x20ac);
	assert_int_equal(lf_utf8_decode((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp), 4);
	assert_int_equal(cp, 0x1f600);
	/* overlong, surrogate, beyond U+10FFFF, truncated, stray continuation */
	assert_int_equal(lf_utf8_decode((const unsigned char *)"\xc0\xaf", 2, &cp), 0);
	assert_int_equal(lf_utf8_decode((const unsigned char *)"\xed\xa0\x80", 3, &cp), 0);
	assert_int_equal(lf_utf8_decode((const unsigned char *)"\xf4\x90\x80\x80", 4, &cp), 0);
	assert_int_equal(lf_utf8_decode((const unsigned char *)"\xe2\x82", 2, &cp), 0);
	assert_int_equal(lf_utf8_decode((const unsigned char *)"\x80", 1, &cp), 0);
}

static void test_encode_and_append(void **state)
{
	(void)state;
	char out[4];
	assert_int_equal(lf_utf8_encode(0x20ac, out), 3);
	assert_memory_equal(out, "\xe2\x82\xac", 3);
	/* invalid code points become U+FFFD, never invalid UTF-8 */
	assert_int_equal(lf_utf8_encode(0xd800, out), 3);
	assert_memory_equal(out, "\xef\xbf\xbd", 3);
	assert_int_equal(lf_utf8_encode(0x110000, out), 3);
	assert_memory_equal(out, "\xef\xbf\xbd", 3);
	struct lf_buf b = LF_BUF_INIT;
	assert_int_equal(lf_utf8_append(&b, 'x'), 0);
	assert_int_equal(lf_utf8_append(&b, 0x1f600), 0);
	assert_string_equal(b.data, "x\xf0\x9f\x98\x80");
	lf_buf_free(&b);
}

static void test_valid(void **state)
{
	(void)state;
	const char *ok = "plain ascii longer than eight bytes h\xc3\xa9 \xe2\x82\xac end";
	assert_true(lf_utf8_valid(ok, strlen(ok)));
	assert_true(lf_utf8_valid("", 0));
	/* an invalid byte after an 8-byte ASCII run, and at the very end */
	const char *bad1 = "abcdefgh\xff";
	assert_false(lf_utf8_valid(bad1, strlen(bad1)));
	const char *bad2 = "abcdefghijklmnop\xc3";
	assert_false(lf_utf8_valid(bad2, strlen(bad2)));
	const char nul[] = "a\0b";
	assert_true(lf_utf8_valid(nul, 3)); /* NUL is valid UTF-8 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hexval),
	        cmocka_unit_test(test_decode),
	        cmocka_unit_test(test_encode_and_append),
	        cmocka_unit_test(test_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
