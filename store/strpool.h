/* strpool.h — interned strings: one immutable copy of each distinct byte
 * string (label names and values of a tenant's streams), and an arena for
 * other objects that live as long as the pool (the streams themselves).
 *
 * Strings live in arena blocks that are never moved or freed before the
 * pool, so a returned pointer stays valid (and NUL-terminated) for the
 * pool's lifetime. The arena also serves lf_strpool_alloc. A hash set (open addressing,
 * power-of-two size, ≤ 50% full) finds an existing copy. Not thread-safe: the owner locks (the
 * tenant interns under its write lock).
 */
#ifndef LF_STORE_STRPOOL_H
#define LF_STORE_STRPOOL_H

#include <stddef.h>
#include <stdint.h>

struct lf_strpool_blk;

struct lf_strpool {
	struct lf_strpool_blk *blk; /* newest block first */
	size_t blk_used, blk_cap;   /* of the newest block */
	const char **set;           /* interned strings, NULL = empty */
	uint32_t *set_hash;         /* their hashes (low 32 bits) */
	uint32_t *set_len;          /* their lengths */
	size_t set_cap, n;
	size_t bytes; /* arena bytes handed out (strings + NULs) */
};

#define LF_STRPOOL_INIT                                                                            \
	{                                                                                          \
		0                                                                                  \
	}

void lf_strpool_free(struct lf_strpool *p);
/* n bytes (8-aligned, zeroed) from the pool's arena, freed with the pool:
 * for objects that live as long as it (a tenant's streams), so they pack
 * densely instead of sharing malloc arenas with short-lived request data.
 * NULL when out of memory. */
void *lf_strpool_alloc(struct lf_strpool *p, size_t n);
/* The interned copy of s[0..len) (NUL-terminated), or NULL when out of
 * memory. Equal inputs give the same pointer. */
const char *lf_strpool_intern(struct lf_strpool *p, const char *s, size_t len);

#endif
