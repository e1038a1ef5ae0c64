/* inflight.h — per-file bookkeeping of delivered lines until they are done,
 * turning out-of-order acknowledgements into a committed offset.
 *
 * What this module owns: a ring of slots, one per delivered line (plus
 * markers the tailer pushes already done: skipped long-line tails, lines
 * dropped for being too long, truncation resets). A slot remembers the file
 * offset just after its line, and its state:
 *   HELD  — delivered, not yet resolved (in the pipeline, or held by a
 *           multiline / cri stage);
 *   OWNED — claimed by an emitted entry whose last seq is `owner`, waiting
 *           for `pending` client acknowledgements;
 *   DONE  — released (dropped) or fully acknowledged.
 * The committed offset is the end offset of the longest prefix of DONE
 * slots; done prefixes are popped, so memory is proportional to the lines
 * in flight. Seqs start at 1; slot i has seq base_seq + i.
 *
 * Why the owner check: one slot can only be acknowledged by the entry that
 * claimed it. An ack for a range [first, last] touches only slots whose
 * owner == last, so acks of two entries with overlapping ranges (a held
 * line later merged into another entry) cannot steal each other's counts.
 *
 * No global state; not thread-safe (event-loop thread only).
 */
#ifndef LF_TAIL_INFLIGHT_H
#define LF_TAIL_INFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lf_slot_state { LF_SLOT_HELD = 0, LF_SLOT_OWNED = 1, LF_SLOT_DONE = 2 };

struct lf_slot {
	uint64_t end;   /* file offset after the line */
	uint64_t owner; /* OWNED: seq_last of the claiming entry */
	uint32_t pending;
	uint8_t state;
};

struct lf_inflight {
	struct lf_slot *v;
	size_t cap;         /* power of two (or 0) */
	size_t head;        /* index of the oldest slot */
	size_t n;           /* slots in the ring */
	uint64_t base_seq;  /* seq of the oldest slot */
	uint64_t committed; /* end offset of the last popped (done) slot */
	size_t not_done;    /* slots in the ring that are not DONE */
};

/* Empty ring; committed offset = start_offset; the first seq will be 1. */
void lf_inflight_init(struct lf_inflight *r, uint64_t start_offset);
void lf_inflight_free(struct lf_inflight *r);

/* Appends a slot; returns its seq, or 0 when memory runs out. With done, the
 * slot is a marker that is done at once (nothing to acknowledge). */
uint64_t lf_inflight_push(struct lf_inflight *r, uint64_t end_offset, bool done);

/* The seq the next push will get. */
static inline uint64_t lf_inflight_next_seq(const struct lf_inflight *r)
{
	return r->base_seq + r->n;
}

/* Resolution, see tailer.h. Seqs outside the ring are ignored. */
void lf_inflight_release(struct lf_inflight *r, uint64_t first, uint64_t last);
void lf_inflight_claim(struct lf_inflight *r, uint64_t first, uint64_t last, unsigned k);
void lf_inflight_ack(struct lf_inflight *r, uint64_t first, uint64_t last);

/* Committed offset (longest done prefix). */
static inline uint64_t lf_inflight_committed(const struct lf_inflight *r)
{
	return r->committed;
}
/* Lines delivered but not done. */
static inline size_t lf_inflight_pending(const struct lf_inflight *r)
{
	return r->not_done;
}

#endif
