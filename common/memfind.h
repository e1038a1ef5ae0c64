/* memfind.h — substring search for the hot line-filter paths.
 *
 * `|= "needle"` over gigabytes of log text is the store's most common
 * query, and glibc's memmem (a general two-way search) runs at about 4 GB/s
 * here. lf_memfind compares the needle's first and last bytes against 16
 * positions at once (32 with AVX2 where the CPU has it, else SSE2, part of
 * every x86-64 CPU) and only verifies the positions where both match, which
 * on text is rare. Other architectures use memmem. Same contract as memmem.
 */
#ifndef LF_COMMON_MEMFIND_H
#define LF_COMMON_MEMFIND_H

#include <stddef.h>

/* First occurrence of needle[0..k) in hay[0..n), or NULL. k == 0 finds hay. */
const char *lf_memfind(const char *hay, size_t n, const char *needle, size_t k);

/* For tests: one implementation by name. A path this machine lacks falls
 * back to the next simpler one (AVX2 -> SSE2 -> memmem). */
enum lf_memfind_path { LF_MEMFIND_MEMMEM, LF_MEMFIND_SSE2, LF_MEMFIND_AVX2 };
const char *lf_memfind_path(enum lf_memfind_path path, const char *hay, size_t n,
                            const char *needle, size_t k);

#endif
