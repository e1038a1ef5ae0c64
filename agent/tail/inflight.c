/* inflight.c — ring of delivered-line slots; see inflight.h. */
#include "inflight.h"

#include <stdlib.h>
#include <string.h>

void lf_inflight_init(struct lf_inflight *r, uint64_t start_offset)
{
	memset(r, 0, sizeof(*r));
	r->base_seq = 1;
	r->committed = start_offset;
}

void lf_inflight_free(struct lf_inflight *r)
{
	free(r->v);
	r->v = NULL;
	r->cap = r->n = r->head = 0;
	r->not_done = 0;
}

static struct lf_slot *slot_at(struct lf_inflight *r, size_t i)
{
	return &r->v[(r->head + i) & (r->cap - 1)];
}

/* Pops the done prefix, advancing the committed offset. */
static void pop_done(struct lf_inflight *r)
{
	while (r->n > 0) {
		struct lf_slot *s = slot_at(r, 0);
		if (s->state != LF_SLOT_DONE)
			break;
		r->committed = s->end;
		r->head = (r->head + 1) & (r->cap - 1);
		r->n--;
		r->base_seq++;
	}
	if (r->n == 0) {
		r->head = 0;
		/* A burst (1000 busy files) grows every file's ring; give the
		 * memory back once it drained so RSS follows the load. */
		if (r->cap > 256) {
			free(r->v);
			r->v = NULL;
			r->cap = 0;
		}
	}
}

static int grow(struct lf_inflight *r)
{
	size_t ncap = r->cap ? r->cap * 2 : 64;
	struct lf_slot *nv = malloc(ncap * sizeof(*nv));
	if (!nv)
		return -1;
	/* Unwrap the ring into the new array so head becomes 0. */
	for (size_t i = 0; i < r->n; i++)
		nv[i] = *slot_at(r, i);
	free(r->v);
	r->v = nv;
	r->cap = ncap;
	r->head = 0;
	return 0;
}

uint64_t lf_inflight_push(struct lf_inflight *r, uint64_t end_offset, bool done)
{
	if (done && r->n == 0) {
		/* Nothing before it is pending: commit at once without a slot. */
		r->committed = end_offset;
		return r->base_seq++;
	}
	if (r->n == r->cap && grow(r) < 0)
		return 0;
	struct lf_slot *s = slot_at(r, r->n);
	s->end = end_offset;
	s->owner = 0;
	s->pending = 0;
	s->state = done ? LF_SLOT_DONE : LF_SLOT_HELD;
	r->n++;
	if (!done)
		r->not_done++;
	return r->base_seq + r->n - 1;
}

/* Clamps [first, last] to the ring; returns false when nothing overlaps. */
static bool clamp(const struct lf_inflight *r, uint64_t *first, uint64_t *last)
{
	if (r->n == 0 || *first > *last)
		return false;
	uint64_t lo = r->base_seq, hi = r->base_seq + r->n - 1;
	if (*last < lo || *first > hi)
		return false;
	if (*first < lo)
		*first = lo;
	if (*last > hi)
		*last = hi;
	return true;
}

static void mark_done(struct lf_inflight *r, struct lf_slot *s)
{
	s->state = LF_SLOT_DONE;
	r->not_done--;
}

void lf_inflight_release(struct lf_inflight *r, uint64_t first, uint64_t last)
{
	if (!clamp(r, &first, &last))
		return;
	for (uint64_t q = first; q <= last; q++) {
		struct lf_slot *s = slot_at(r, q - r->base_seq);
		if (s->state == LF_SLOT_HELD)
			mark_done(r, s);
	}
	pop_done(r);
}

void lf_inflight_claim(struct lf_inflight *r, uint64_t first, uint64_t last, unsigned k)
{
	if (k == 0) {
		lf_inflight_release(r, first, last);
		return;
	}
	uint64_t owner = last;
	if (!clamp(r, &first, &last))
		return;
	for (uint64_t q = first; q <= last; q++) {
		struct lf_slot *s = slot_at(r, q - r->base_seq);
		if (s->state != LF_SLOT_HELD)
			continue;
		s->state = LF_SLOT_OWNED;
		s->owner = owner;
		s->pending = k;
	}
}

void lf_inflight_ack(struct lf_inflight *r, uint64_t first, uint64_t last)
{
	uint64_t owner = last;
	if (!clamp(r, &first, &last))
		return;
	for (uint64_t q = first; q <= last; q++) {
		struct lf_slot *s = slot_at(r, q - r->base_seq);
		if (s->state != LF_SLOT_OWNED || s->owner != owner)
			continue;
		if (--s->pending == 0)
			mark_done(r, s);
	}
	pop_done(r);
}
