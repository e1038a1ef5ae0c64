/* stage_structured_metadata.c — `structured_metadata` (old name
 * `non_indexed_labels`): like `labels`, but the values go to the entry's
 * structured metadata. As in Promtail, a *stream label* named by a source
 * is also moved into structured metadata (and removed from the labels).
 *
 * Per line this runs once per configured name, so the name and source
 * lengths and the order in which names are stored are computed at load
 * time: storing in sorted name order into the (per line empty) structured
 * metadata appends each value at the end of the set (put_sorted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"

struct sm_stage {
	struct lf_strmap m; /* name -> source */
	size_t *key_len;    /* strlen of each name */
	size_t *src_len;    /* strlen of each source */
	size_t *order;      /* indexes of m, sorted by name (stable) */
	size_t *hint;       /* per source: where it was in the extracted map
	                     * on the last line (maps mostly keep their shape) */
	uint64_t src_bloom; /* bit name_bloom(src) set for every source */
	bool distinct;      /* no two names are equal (YAML rejects it) */
};

/* A 6-bit summary of a name (first byte and length): a label whose bit is
 * not in src_bloom names no source. name[0] is readable (C string). */
static inline unsigned name_bloom(const char *name, size_t len)
{
	return ((unsigned char)name[0] + (unsigned)len * 8) & 63;
}

/* order := 0..n-1 sorted by name (byte order); equal names keep their
 * configured order, so the last one still wins. Insertion sort: a stage
 * names a handful of keys. */
static void sort_by_name(char *const *names, size_t *order, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t x = i, j = i;
		for (; j > 0 && strcmp(names[order[j - 1]], names[x]) > 0; j--)
			order[j] = order[j - 1];
		order[j] = x;
	}
}

static void sm_free(void *state)
{
	struct sm_stage *s = state;
	lf_strmap_free(&s->m);
	free(s->key_len);
	free(s->src_len);
	free(s->order);
	free(s->hint);
	free(s);
}

static int sm_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                     struct lf_error *err)
{
	struct sm_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	if (lf_labels_cfg_read(cfg, ctx, &s->m, err) < 0) {
		free(s);
		return -1;
	}
	size_t n = s->m.n ? s->m.n : 1;
	s->key_len = malloc(n * sizeof *s->key_len);
	s->src_len = malloc(n * sizeof *s->src_len);
	s->order = malloc(n * sizeof *s->order);
	s->hint = calloc(n, sizeof *s->hint);
	if (!s->key_len || !s->src_len || !s->order || !s->hint) {
		sm_free(s);
		return lf_err(err, "out of memory");
	}
	for (size_t i = 0; i < s->m.n; i++) {
		s->key_len[i] = strlen(s->m.keys[i]);
		s->src_len[i] = strlen(s->m.vals[i]);
		s->src_bloom |= 1ull << name_bloom(s->m.vals[i], s->src_len[i]);
	}
	sort_by_name(s->m.keys, s->order, s->m.n);
	s->distinct = true;
	for (size_t k = 1; k < s->m.n; k++)
		if (strcmp(s->m.keys[s->order[k - 1]], s->m.keys[s->order[k]]) == 0)
			s->distinct = false;
	*state = s;
	return 0;
}

/* True when v[0..n) is valid UTF-8: ASCII (the usual value) is checked
 * inline, a word at a time (overlapping loads for the tail), anything else
 * by lf_utf8_valid. */
static inline bool utf8_ok(const char *v, size_t n)
{
	uint64_t acc = 0;
	if (n >= 8) {
		uint64_t w;
		for (size_t i = 0; i + 8 < n; i += 8) {
			memcpy(&w, v + i, 8);
			acc |= w;
		}
		memcpy(&w, v + n - 8, 8);
		acc |= w;
	} else if (n >= 4) {
		uint32_t w1, w2;
		memcpy(&w1, v, 4);
		memcpy(&w2, v + n - 4, 4);
		acc = w1 | w2;
	} else {
		for (size_t i = 0; i < n; i++)
			acc |= (unsigned char)v[i];
	}
	return !(acc & 0x8080808080808080ull) || lf_utf8_valid(v, n);
}

/* a[0..n) == b[0..n) for short names, without a call: overlapping word
 * loads. */
static inline bool short_eq(const char *a, const char *b, size_t n)
{
	if (n >= 8) {
		uint64_t x, y;
		for (size_t i = 0; i + 8 < n; i += 8) {
			memcpy(&x, a + i, 8);
			memcpy(&y, b + i, 8);
			if (x != y)
				return false;
		}
		memcpy(&x, a + n - 8, 8);
		memcpy(&y, b + n - 8, 8);
		return x == y;
	}
	if (n >= 4) {
		uint32_t x1, y1, x2, y2;
		memcpy(&x1, a, 4);
		memcpy(&y1, b, 4);
		memcpy(&x2, a + n - 4, 4);
		memcpy(&y2, b + n - 4, 4);
		return ((x1 ^ y1) | (x2 ^ y2)) == 0;
	}
	if (n >= 2) {
		uint16_t x1, y1;
		memcpy(&x1, a, 2);
		memcpy(&y1, b, 2);
		return x1 == y1 && a[n - 1] == b[n - 1];
	}
	return n == 0 || a[0] == b[0];
}

/* Byte order of two names given with their lengths (strcmp's order). */
static inline int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t m = alen < blen ? alen : blen;
	for (size_t i = 0; i < m; i++)
		if (a[i] != b[i])
			return (unsigned char)a[i] - (unsigned char)b[i];
	return (alen > blen) - (alen < blen);
}

/* memcpy(d, s, n) for the short values of log fields, without a call:
 * overlapping loads and stores that stay inside [0, n). */
static inline void copy_short(char *d, const char *s, size_t n)
{
	if (n > 16) {
		memcpy(d, s, n);
	} else if (n >= 8) {
		uint64_t a, b;
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else if (n >= 4) {
		uint32_t a, b;
		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		memcpy(d, &a, 4);
		memcpy(d + n - 4, &b, 4);
	} else {
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	}
}

/* lf_labels_setn(ls, name, nlen, val, vlen) where name and val contain no
 * NUL. When name sorts after every name in the set (after_last: the caller
 * knows it does) and the spare slot at ls->n already has room (the usual
 * case for a set cleared per line and filled in sorted order: the slot kept
 * last line's buffers), the label is appended in place: no search, no
 * shifting, and the name is not copied when the slot already holds it.
 * Otherwise lf_labels_setn does it. Returns 1 after an append in place, 0
 * after lf_labels_setn, -1 on ENOMEM. Appending in place follows labels.h's
 * rule for code outside labels.c: write the spare slot at n, then n++ (the
 * set then counts as changed). (stage_json.c has the same helper; it could
 * move to common/labels.c.) */
static int put_sorted(struct lf_labels *ls, const char *name, size_t nlen, const char *val,
                      size_t vlen, bool after_last)
{
	size_t n = ls->n;
	if (n < ls->cap && (after_last || n == 0 ||
	                    name_cmp(ls->v[n - 1].name, ls->v[n - 1].name_len, name, nlen) < 0)) {
		struct lf_label *d = &ls->v[n];
		if (d->name_cap > nlen && d->value_cap > vlen) {
			if (d->name_len != nlen || !short_eq(d->name, name, nlen)) {
				memcpy(d->name, name, nlen);
				d->name[nlen] = '\0';
				d->name_len = nlen;
			}
			copy_short(d->value, val, vlen);
			d->value[vlen] = '\0';
			d->value_len = vlen;
			ls->n = n + 1;
			return 1;
		}
	}
	return lf_labels_setn(ls, name, nlen, val, vlen) < 0 ? -1 : 0;
}

/* lf_small_find(ls, name, len), trying slot *hint first (where name was
 * on the last line); updates *hint. */
static inline const struct lf_label *find_hinted(const struct lf_labels *ls, const char *name,
                                                 size_t len, size_t *hint)
{
	size_t h = *hint;
	if (h < ls->n && ls->v[h].name_len == len && short_eq(ls->v[h].name, name, len))
		return &ls->v[h];
	const struct lf_label *l = lf_small_find(ls, name, len);
	if (l)
		*hint = (size_t)(l - ls->v);
	return l;
}

static enum lf_pipe_result sm_process(void *state, struct lf_entry *e, const struct lf_chain *rest)
{
	(void)rest;
	struct sm_stage *s = state;
	/* In sorted name order: setting distinct names commutes, and equal
	 * names keep their configured order. */
	size_t n_mine = SIZE_MAX; /* sm.n right after an append in place */
	for (size_t k = 0; k < s->m.n; k++) {
		size_t i = s->order[k];
		const struct lf_label *l =
		        find_hinted(&e->extracted, s->m.vals[i], s->src_len[i], &s->hint[i]);
		if (!l || !utf8_ok(l->value, l->value_len))
			continue;
		/* names are distinct (YAML) and sorted: after our own append
		 * the next one sorts after every present name */
		n_mine = put_sorted(&e->sm, s->m.keys[i], s->key_len[i], l->value, l->value_len,
		                    s->distinct && e->sm.n == n_mine) > 0
		                 ? e->sm.n
		                 : SIZE_MAX;
	}
	/* Stream labels named by a source move to structured metadata. Sources
	 * are mostly not stream labels: look once, and only then do the two
	 * passes (all sets first, then all deletions, as Promtail does). */
	bool any = false;
	for (size_t j = 0; j < e->labels.n && !any; j++) {
		const struct lf_label *l = &e->labels.v[j];
		if (!(s->src_bloom >> name_bloom(l->name, l->name_len) & 1))
			continue; /* names no source */
		for (size_t i = 0; i < s->m.n && !any; i++)
			any = s->src_len[i] == l->name_len &&
			      short_eq(l->name, s->m.vals[i], l->name_len);
	}
	if (!any)
		return LF_PIPE_EMITTED;
	for (size_t i = 0; i < s->m.n; i++) {
		const struct lf_label *l = lf_small_find(&e->labels, s->m.vals[i], s->src_len[i]);
		if (l)
			lf_labels_setn(&e->sm, s->m.keys[i], s->key_len[i], l->value, l->value_len);
	}
	for (size_t i = 0; i < s->m.n; i++)
		if (lf_small_find(&e->labels, s->m.vals[i], s->src_len[i]))
			lf_labels_del(&e->labels, s->m.vals[i]);
	return LF_PIPE_EMITTED;
}

static void sm_reads(void *state, struct lf_keyset *ks)
{
	struct sm_stage *s = state;
	for (size_t i = 0; i < s->m.n; i++)
		lf_keyset_add(ks, s->m.vals[i]);
}

const struct lf_stage_ops lf_stage_structured_metadata = {
        .kind = "structured_metadata",
        .create = sm_create,
        .process = sm_process,
        .free = sm_free,
        .reads = sm_reads,
};
