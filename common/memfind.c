/* memfind.c — see memfind.h. */
#include "memfind.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

/* The same with 32 positions per step on CPUs with AVX2 (checked at run
 * time: the build targets baseline x86-64). */
__attribute__((target("avx2"))) static const char *find_avx2(const char *hay, size_t n,
                                                             const char *needle, size_t k)
{
	const __m256i first = _mm256_set1_epi8(needle[0]);
	const __m256i last = _mm256_set1_epi8(needle[k - 1]);
	size_t i = 0;
	for (; i + k - 1 + 32 <= n; i += 32) {
		__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(hay + i));
		__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(hay + i + k - 1));
		unsigned m = (unsigned)_mm256_movemask_epi8(
		        _mm256_and_si256(_mm256_cmpeq_epi8(a, first), _mm256_cmpeq_epi8(b, last)));
		while (m) {
			unsigned bit = (unsigned)__builtin_ctz(m);
			if (memcmp(hay + i + bit + 1, needle + 1, k - 2) == 0)
				return hay + i + bit;
			m &= m - 1;
		}
	}
	return memmem(hay + i, n - i, needle, k);
}

/* Candidates are positions i where hay[i] == needle[0] and
 * hay[i + k - 1] == needle[k - 1]; both compared 16 at a time. The loop
 * only loads inside hay; the last < 16 + k - 1 bytes go to memmem. */
static const char *find_sse2(const char *hay, size_t n, const char *needle, size_t k)
{
	const __m128i first = _mm_set1_epi8(needle[0]);
	const __m128i last = _mm_set1_epi8(needle[k - 1]);
	size_t i = 0;
	for (; i + k - 1 + 16 <= n; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(hay + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(hay + i + k - 1));
		unsigned m = (unsigned)_mm_movemask_epi8(
		        _mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, last)));
		while (m) {
			unsigned bit = (unsigned)__builtin_ctz(m);
			if (memcmp(hay + i + bit + 1, needle + 1, k - 2) == 0)
				return hay + i + bit;
			m &= m - 1;
		}
	}
	return memmem(hay + i, n - i, needle, k);
}
#endif

const char *lf_memfind_path(enum lf_memfind_path path, const char *hay, size_t n,
                            const char *needle, size_t k)
{
	if (k == 0)
		return hay;
	if (k > n)
		return NULL;
	if (k == 1)
		return memchr(hay, (unsigned char)needle[0], n);
#if defined(__x86_64__)
	if (path == LF_MEMFIND_AVX2 && __builtin_cpu_supports("avx2"))
		return find_avx2(hay, n, needle, k);
	if (path != LF_MEMFIND_MEMMEM)
		return find_sse2(hay, n, needle, k);
#endif
	(void)path;
	return memmem(hay, n, needle, k);
}

const char *lf_memfind(const char *hay, size_t n, const char *needle, size_t k)
{
	if (k == 0)
		return hay;
	if (k > n)
		return NULL;
	if (k == 1)
		return memchr(hay, (unsigned char)needle[0], n);
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx2"))
		return find_avx2(hay, n, needle, k);
	return find_sse2(hay, n, needle, k);
#else
	return memmem(hay, n, needle, k);
#endif
}
