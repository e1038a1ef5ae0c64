/* strpool.c — see strpool.h. */
#include "strpool.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Blocks are mapped, not malloc'ed: the objects in them live long, and in
 * a malloc arena they would pin the pages of the short-lived request data
 * around them (100,000 streams created by pushes kept ~60 MB of freed
 * request buffers resident that way). */
#define BLK_SIZE (1024 * 1024)

struct lf_strpool_blk {
	struct lf_strpool_blk *next;
	size_t size; /* of the mapping */
	_Alignas(16) char data[];
};

static struct lf_strpool_blk *blk_map(size_t data)
{
	size_t sz = (sizeof(struct lf_strpool_blk) + data + 4095) & ~(size_t)4095;
	void *m = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	struct lf_strpool_blk *b = m;
	b->size = sz;
	return b;
}

void lf_strpool_free(struct lf_strpool *p)
{
	for (struct lf_strpool_blk *b = p->blk, *nx; b; b = nx) {
		nx = b->next;
		munmap(b, b->size);
	}
	free(p->set);
	free(p->set_hash);
	free(p->set_len);
	*p = (struct lf_strpool)LF_STRPOOL_INIT;
}

static uint32_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a, then a final mix */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return (uint32_t)h;
}

static int grow_set(struct lf_strpool *p)
{
	size_t nc = p->set_cap ? p->set_cap * 2 : 1024;
	const char **ns = calloc(nc, sizeof(*ns));
	uint32_t *nh = malloc(nc * sizeof(*nh));
	uint32_t *nl = malloc(nc * sizeof(*nl));
	if (!ns || !nh || !nl) {
		free(ns);
		free(nh);
		free(nl);
		return -1;
	}
	for (size_t i = 0; i < p->set_cap; i++) {
		if (!p->set[i])
			continue;
		size_t j = p->set_hash[i] & (nc - 1);
		while (ns[j])
			j = (j + 1) & (nc - 1);
		ns[j] = p->set[i];
		nh[j] = p->set_hash[i];
		nl[j] = p->set_len[i];
	}
	free(p->set);
	free(p->set_hash);
	free(p->set_len);
	p->set = ns;
	p->set_hash = nh;
	p->set_len = nl;
	p->set_cap = nc;
	return 0;
}

static char *arena_alloc(struct lf_strpool *p, size_t n)
{
	if (n > BLK_SIZE / 4) { /* a long string gets a block of its own */
		struct lf_strpool_blk *b = blk_map(n);
		if (!b)
			return NULL;
		if (p->blk) { /* behind the current block, which stays the newest */
			b->next = p->blk->next;
			p->blk->next = b;
		} else {
			b->next = NULL;
			p->blk = b;
			p->blk_used = p->blk_cap = 0;
		}
		return b->data;
	}
	if (!p->blk || p->blk_cap - p->blk_used < n) {
		struct lf_strpool_blk *b = blk_map(BLK_SIZE - sizeof(*b));
		if (!b)
			return NULL;
		b->next = p->blk;
		p->blk = b;
		p->blk_used = 0;
		p->blk_cap = b->size - sizeof(*b);
	}
	char *r = p->blk->data + p->blk_used;
	p->blk_used += n;
	return r;
}

void *lf_strpool_alloc(struct lf_strpool *p, size_t n)
{
	/* Block data starts 16-aligned: align the offset to 8; when that
	 * leaves too little room, arena_alloc starts a new block (or maps n
	 * bytes of their own), both aligned. Fresh mappings are zero-filled and
	 * arena bytes are never reused, so the result is zeroed. */
	size_t used = (p->blk_used + 7) & ~(size_t)7;
	p->blk_used = used < p->blk_cap ? used : p->blk_cap;
	return arena_alloc(p, n);
}

const char *lf_strpool_intern(struct lf_strpool *p, const char *s, size_t len)
{
	if (len > UINT32_MAX)
		return NULL;
	if ((p->n + 1) * 2 > p->set_cap && grow_set(p) < 0)
		return NULL;
	uint32_t h = hash_bytes(s, len);
	size_t j = h & (p->set_cap - 1);
	for (; p->set[j]; j = (j + 1) & (p->set_cap - 1))
		if (p->set_hash[j] == h && p->set_len[j] == len && !memcmp(p->set[j], s, len))
			return p->set[j];
	char *c = arena_alloc(p, len + 1);
	if (!c)
		return NULL;
	memcpy(c, s, len);
	c[len] = 0;
	p->set[j] = c;
	p->set_hash[j] = h;
	p->set_len[j] = (uint32_t)len;
	p->n++;
	p->bytes += len + 1;
	return c;
}
