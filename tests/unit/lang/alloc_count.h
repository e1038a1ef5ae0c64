/* alloc_count.h — counts malloc/calloc/realloc calls made by code linked
 * into the test (the test executable is linked with -Wl,--wrap=malloc etc.),
 * to check the "no allocation per call once warm" claims. Calls made inside
 * shared libraries (pcre2, libcrypto) are not seen. */
#ifndef LF_TEST_ALLOC_COUNT_H
#define LF_TEST_ALLOC_COUNT_H

#include <stddef.h>

static size_t alloc_calls;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
	alloc_calls++;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
	alloc_calls++;
	return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
	alloc_calls++;
	return __real_realloc(p, n);
}

#endif
