/* fuzz.h — helpers shared by the libFuzzer targets in this folder.
 *
 * A target states properties with FUZZ_CHECK: a violated property prints
 * what failed and aborts, which libFuzzer reports as a crash (and saves the
 * input) and which fails the corpus regression test in the gcc build.
 */
#ifndef LF_FUZZ_H
#define LF_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__,        \
			        #cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A NUL-terminated heap copy of data (for APIs that take C strings); the
 * exact-size allocation lets ASan catch reads past the terminator. */
static inline char *fuzz_strdup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
