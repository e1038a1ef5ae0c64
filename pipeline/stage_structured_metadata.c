/* stage_structured_metadata.c — `structured_metadata` (old name
 * `non_indexed_labels`): like `labels`, but the values go to the entry's
 * structured metadata. As in Promtail, a *stream label* named by a source
 * is also moved into structured metadata (and removed from the labels).
 *
 * Per line this runs once per configured name, so the name and source
 * lengths and the order in which names are stored are computed at load
 * time: storing in sorted name order into the (per line empty) structured
 * metadata appends each value at the end of the set (lf_labels_put_sorted, stage.h). */
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

static enum lf_pipe_result sm_process(void *state, struct lf_entry *e, const struct lf_chain *rest)
{
	(void)rest;
	struct sm_stage *s = state;
	/* In sorted name order: setting distinct names commutes, and equal
	 * names keep their configured order. */
	size_t n_mine = SIZE_MAX; /* sm.n right after an append in place */
	for (size_t k = 0; k < s->m.n; k++) {
		size_t i = s->order[k];
		const struct lf_label *l = lf_small_find_hinted(&e->extracted, s->m.vals[i],
		                                                s->src_len[i], &s->hint[i]);
		if (!l || !lf_utf8_valid_fast(l->value, l->value_len))
			continue;
		/* names are distinct (YAML) and sorted: after our own append
		 * the next one sorts after every present name */
		n_mine = lf_labels_put_sorted(&e->sm, s->m.keys[i], s->key_len[i], l->value,
		                              l->value_len, s->distinct && e->sm.n == n_mine) > 0
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
			      lf_bytes_eq(l->name, s->m.vals[i], l->name_len);
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
