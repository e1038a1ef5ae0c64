/* test_memfind.c — lf_memfind agrees with memmem everywhere it can differ:
 * needles at every offset near both ends of the buffer (where the 16-byte
 * loop hands over to the tail), candidates that match first and last byte
 * only, lengths 0..40, and random haystacks over small alphabets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "memfind.h"

/* lf_memfind and each implementation behind it against memmem. */
static void check(const char *h, size_t n, const char *nd, size_t k)
{
	const char *want = memmem(h, n, nd, k);
	if (k == 0)
		want = h;
	assert_ptr_equal(lf_memfind(h, n, nd, k), want);
	assert_ptr_equal(lf_memfind_path(LF_MEMFIND_SSE2, h, n, nd, k), want);
	assert_ptr_equal(lf_memfind_path(LF_MEMFIND_AVX2, h, n, nd, k), want);
	assert_ptr_equal(lf_memfind_path(LF_MEMFIND_MEMMEM, h, n, nd, k), want);
}

static void test_edges(void **state)
{
	(void)state;
	char buf[128];
	const char *needle = "needle";
	for (size_t n = 0; n <= sizeof(buf); n++) {
		for (size_t at = 0; at + 6 <= n; at++) {
			memset(buf, 'x', sizeof(buf));
			memcpy(buf + at, needle, 6);
			check(buf, n, needle, 6);
			assert_ptr_equal(lf_memfind(buf, n, needle, 6), buf + at);
			/* cut off by one byte: not found */
			if (at + 6 == n)
				assert_null(lf_memfind(buf, n - 1, needle, 6));
		}
	}
	/* first and last bytes match, middle differs: "nXXXXe" everywhere */
	memset(buf, 'x', sizeof(buf));
	for (size_t i = 0; i + 6 <= sizeof(buf); i += 7)
		memcpy(buf + i, "neexle", 6);
	assert_null(lf_memfind(buf, sizeof(buf), needle, 6));
	memcpy(buf + 100, needle, 6);
	assert_ptr_equal(lf_memfind(buf, sizeof(buf), needle, 6), buf + 100);
	/* empty needle, one byte, two bytes, needle longer than the buffer */
	assert_ptr_equal(lf_memfind(buf, 10, "", 0), buf);
	assert_ptr_equal(lf_memfind(buf, 0, "", 0), buf);
	assert_null(lf_memfind(buf, 3, "abcd", 4));
	check("abcabd", 6, "d", 1);
	check("abcabd", 6, "bd", 2);
	check("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", 34, "ab", 2);
	/* bytes with the high bit set (signed char compare must not matter) */
	const char hi[] = "\x80\xff\xfe text \xff\xfe\x80 more";
	check(hi, sizeof(hi) - 1, "\xff\xfe\x80", 3);
}

static void test_random(void **state)
{
	(void)state;
	uint64_t seed = 42;
	char h[300], nd[40];
	for (int round = 0; round < 20000; round++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		int alpha = 2 + (int)((seed >> 33) % 3); /* 2..4 letters: many partial matches */
		size_t n = (size_t)((seed >> 40) % sizeof(h));
		size_t k = (size_t)((seed >> 20) % 12);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			h[i] = (char)('a' + (seed >> 50) % (uint64_t)alpha);
		}
		for (size_t i = 0; i < k; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			nd[i] = (char)('a' + (seed >> 50) % (uint64_t)alpha);
		}
		check(h, n, nd, k);
	}
	/* long needles */
	memset(h, 'a', sizeof(h));
	memset(nd, 'a', sizeof(nd));
	nd[39] = 'b';
	check(h, sizeof(h), nd, 40);
	h[250] = 'b';
	check(h, sizeof(h), nd, 40);
	assert_ptr_equal(lf_memfind(h, sizeof(h), nd, 40), h + 211);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_edges),
	        cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
