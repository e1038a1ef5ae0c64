/* head.h — a stream's head: its entries not yet in a chunk, in arrival
 * order, as a list of sealed blocks plus one open block.
 *
 * The open block holds raw entry records (codec.h, absolute ts) and is the
 * only part that grows. When it reaches the block size
 * (ingester.head_block_size) it is sealed: re-encoded in the chunk block
 * format (ts deltas, the first relative to the block's min_ts) and
 * compressed with the chunk codec, keeping its min/max ts and entry count.
 * So memory holds about what the chunks on disk will hold, and a flush
 * copies sealed blocks into the chunk file without compressing them again
 * when they are in time order (lf_head_chunk).
 *
 * Readers walk a head only through lf_head_iter (block by block, skipping
 * blocks outside the asked time range, decompressing into the caller's
 * buffer), so none of them knows the layout. Entries are numbered by arrival
 * (0 .. lf_head_n()-1): the duplicate set of tenant.c keeps those numbers
 * and reads an entry back with lf_head_entry_at.
 *
 * Not thread-safe: the owner (tenant.c) serialises writers with its lock;
 * readers may iterate concurrently with each other.
 */
#ifndef LF_STORE_HEAD_H
#define LF_STORE_HEAD_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "chunk.h"
#include "codec.h"
#include "error.h"

struct lf_head_block {
	char *data; /* compressed, malloc'd (exactly comp_len) */
	uint32_t comp_len, raw_len, n;
	uint32_t sorted; /* entries in ts order (arrival order kept otherwise) */
	int64_t min, max;
	uint64_t line_bytes; /* line + metadata bytes */
	uint64_t id;         /* unique per lf_head_ctx (lf_head_entry_at's cache) */
};

struct lf_head_sealed {
	struct lf_head_block *v;
	size_t n, cap;
	uint64_t n_entries, comp_bytes, raw_bytes;
	enum lf_chunk_codec codec;
};

/* The head's memory, one allocation: the open block's records follow the
 * header. NULL while the head is empty, so an idle stream's head costs the
 * 16 bytes of struct lf_head. */
struct lf_head_mem {
	uint32_t open_len, open_cap, open_n;
	uint32_t unused;
	struct lf_head_sealed *sealed; /* NULL until the first seal */
	int64_t min, max;              /* of every entry; valid when lf_head_n > 0 */
	/* the owner's, kept by head.c (tenant.c: monotonic time of the first
	 * and the last append); lf_head_prepend keeps src's first, dst's last */
	int64_t first_mono, last_mono;
	char open[]; /* raw records of the open block (codec.h) */
};

/* Empty = all zero (flags aside). */
struct lf_head {
	struct lf_head_mem *m;
	uint32_t flags; /* the owner's (head.c never touches them) */
};

/* What appends need: the block size and codec, and scratch space for
 * sealing and for lf_head_entry_at. One per tenant, used under its lock. */
struct lf_head_ctx {
	size_t block_size;
	enum lf_chunk_codec codec;
	struct lf_buf raw;
	struct lf_buf cache; /* the sealed block lf_head_entry_at decoded last */
	uint64_t cache_id;   /* its id; 0 = none */
	uint64_t next_id;
};

void lf_head_ctx_init(struct lf_head_ctx *c, size_t block_size, enum lf_chunk_codec codec);
void lf_head_ctx_free(struct lf_head_ctx *c);

static inline uint64_t lf_head_n(const struct lf_head *h)
{
	const struct lf_head_mem *m = h->m;
	return m ? m->open_n + (m->sealed ? m->sealed->n_entries : 0) : 0;
}
/* Oldest / newest ts (0 when empty). */
static inline int64_t lf_head_min(const struct lf_head *h)
{
	return h->m ? h->m->min : 0;
}
static inline int64_t lf_head_max(const struct lf_head *h)
{
	return h->m ? h->m->max : 0;
}
/* Memory the data holds: compressed blocks + the open block's records. */
static inline uint64_t lf_head_held(const struct lf_head *h)
{
	const struct lf_head_mem *m = h->m;
	return m ? m->open_len + (m->sealed ? m->sealed->comp_bytes : 0) : 0;
}
/* Uncompressed size of the records (what chunk_target_size compares). */
static inline uint64_t lf_head_raw(const struct lf_head *h)
{
	const struct lf_head_mem *m = h->m;
	return m ? m->open_len + (m->sealed ? m->sealed->raw_bytes : 0) : 0;
}
/* Sealed blocks (for tests and stats). */
static inline size_t lf_head_blocks(const struct lf_head *h)
{
	return h->m && h->m->sealed ? h->m->sealed->n : 0;
}

/* Appends one entry; seals the open block when it reaches the block size
 * (a failed seal leaves the block open, to be sealed at the next append).
 * hint: bytes about to be appended to this head (sizes a new open block).
 * 0 / -1 (out of memory; the head is unchanged). */
int lf_head_append(struct lf_head *h, struct lf_head_ctx *c, int64_t ts, const char *line,
                   size_t len, const struct lf_skv *sm, size_t n_sm, size_t hint);
/* Same with an encoded record (codec.h, absolute ts), e.g. from the WAL. */
int lf_head_append_rec(struct lf_head *h, struct lf_head_ctx *c, int64_t ts, const void *rec,
                       size_t len);
/* Seals the open block now (no-op when it is empty). 0 / -1 (message). */
int lf_head_seal(struct lf_head *h, struct lf_head_ctx *c, struct lf_error *err);
/* Frees everything; h is empty afterwards. */
void lf_head_free(struct lf_head *h);
/* Moves src's entries in front of dst's (src emptied): a cut head whose
 * chunk could not be written goes back. Entry numbers change. 0 / -1. */
int lf_head_prepend(struct lf_head *dst, struct lf_head *src, struct lf_head_ctx *c);

/* Reads entry number i (arrival order) into e; e borrows the open block
 * or c->cache. 0 / -1 (no such entry, or a damaged block). */
int lf_head_entry_at(const struct lf_head *h, struct lf_head_ctx *c, uint64_t i,
                     struct lf_sentry *e);

/* Iteration over the blocks that may hold entries in [from, through]
 * (inclusive; entries outside it still come out of a block that overlaps:
 * callers filter by ts). Per block ("span"), entries in block order:
 *
 *   struct lf_head_iter it;
 *   lf_head_iter_init(&it, h, from, through, &raw);
 *   while (lf_head_iter_span(&it)) {
 *           // it.rd.p .. it.rd.end: this span's bytes (for memmem)
 *           while (lf_head_iter_entry(&it, &e)) ...
 *   }
 *
 * raw: the caller's buffer sealed blocks decompress into (reused; entries
 * borrow it until the next span). A block that does not decompress (memory
 * damage) is skipped and counted in `damaged`. */
struct lf_head_iter {
	const struct lf_head *h;
	int64_t from, through;
	size_t next; /* next sealed block; sealed->n = the open block */
	bool done;
	struct lf_buf *raw;
	struct lf_rd rd;
	int64_t ts; /* previous entry's ts (sealed blocks: deltas) */
	bool abs;   /* the open block: absolute ts */
	uint32_t damaged;
};

void lf_head_iter_init(struct lf_head_iter *it, const struct lf_head *h, int64_t from,
                       int64_t through, struct lf_buf *raw);
/* 1 = a span is ready, 0 = no more. */
int lf_head_iter_span(struct lf_head_iter *it);

/* 1 = entry (absolute ts), 0 = end of the span. */
static inline int lf_head_iter_entry(struct lf_head_iter *it, struct lf_sentry *e)
{
	if (it->rd.p >= it->rd.end)
		return 0;
	if (lf_entry_next(&it->rd, e) < 0) {
		it->damaged++;
		it->rd.p = it->rd.end;
		return 0;
	}
	if (!it->abs) {
		it->ts += e->ts;
		e->ts = it->ts;
	}
	return 1;
}

/* Every entry in turn (no per-span hook). */
static inline int lf_head_iter_next(struct lf_head_iter *it, struct lf_sentry *e)
{
	while (!lf_head_iter_entry(it, e))
		if (!lf_head_iter_span(it))
			return 0;
	return 1;
}

/* Builds a chunk of every entry of h (sorted by ts, arrival order among
 * equal ts). When every block is in time order and the blocks do not
 * overlap, the sealed blocks are copied as they are and only the open block
 * is compressed; otherwise everything is decoded, sorted and encoded in
 * blocks of block_size. Uses the caller's scratch buffers (flusher's, not
 * the ctx: this runs without the owner's lock, h must not change meanwhile).
 * *reused: whether the copy path was taken. */
struct lf_head_flush_scratch {
	struct lf_buf raw, comp, all;
	struct lf_sentry *es;
	size_t es_cap;
	struct lf_chunk_pre *pre;
	size_t pre_cap;
};
void lf_head_flush_scratch_free(struct lf_head_flush_scratch *s);
int lf_head_chunk(const struct lf_head *h, const char *labels, size_t block_size,
                  enum lf_chunk_codec codec, struct lf_head_flush_scratch *s, struct lf_buf *out,
                  struct lf_chunk_info *info, bool *reused, struct lf_error *err);

#endif
