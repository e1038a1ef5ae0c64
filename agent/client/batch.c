/* batch.c — see batch.h. */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

void lf_cbatch_init(struct lf_cbatch *b)
{
	memset(b, 0, sizeof(*b));
}

void lf_cbatch_reset(struct lf_cbatch *b)
{
	lf_buf_reset(&b->data);
	b->n = 0;
	b->ns = 0;
	if (b->ht)
		memset(b->ht, 0, b->ht_cap * sizeof(*b->ht));
	b->bytes = 0;
	b->qbytes = 0;
	b->oldest_mono = 0;
}

void lf_cbatch_free(struct lf_cbatch *b)
{
	lf_buf_free(&b->data);
	free(b->e);
	free(b->s);
	free(b->ht);
	memset(b, 0, sizeof(*b));
}

int64_t lf_cbatch_item_size(const struct lf_cbatch_item *it)
{
	/* sm holds "name\0value\0" pairs: the two NULs per pair are not data. */
	return (int64_t)it->line_len + (int64_t)it->sm_len - 2 * (int64_t)it->n_sm;
}

/* FNV-1a: label keys are short; any decent spread will do. */
static uint64_t key_hash(const char *s, size_t n)
{
	uint64_t h = UINT64_C(14695981039346656037);
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

/* Returns the slot of key in the hash table: either the one holding it or
 * the empty one where it would go. ht_cap is a power of two, never full. */
static size_t ht_slot(const struct lf_cbatch *b, const char *key, size_t key_len, uint64_t h)
{
	size_t mask = b->ht_cap - 1;
	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		uint32_t v = b->ht[i];
		if (v == 0)
			return i;
		const struct lf_cbatch_stream *s = &b->s[v - 1];
		if (s->hash == h && s->key_len == key_len &&
		    memcmp(b->data.data + s->key_off, key, key_len) == 0)
			return i;
	}
}

bool lf_cbatch_is_new_stream(const struct lf_cbatch *b, const struct lf_cbatch_item *it)
{
	if (b->ns == 0)
		return true;
	uint64_t h = key_hash(it->key, it->key_len);
	return b->ht[ht_slot(b, it->key, it->key_len, h)] == 0;
}

static int ht_grow(struct lf_cbatch *b)
{
	size_t cap = b->ht_cap ? b->ht_cap * 2 : 64;
	uint32_t *ht = calloc(cap, sizeof(*ht));
	if (!ht)
		return -1;
	free(b->ht);
	b->ht = ht;
	b->ht_cap = cap;
	for (size_t i = 0; i < b->ns; i++) {
		const struct lf_cbatch_stream *s = &b->s[i];
		size_t j = ht_slot(b, b->data.data + s->key_off, s->key_len, s->hash);
		b->ht[j] = (uint32_t)i + 1;
	}
	return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 64;
	while (nc < need)
		nc *= 2;
	void *np = realloc(*p, nc * elem);
	if (!np)
		return -1;
	*p = np;
	*cap = nc;
	return 0;
}

int lf_cbatch_add(struct lf_cbatch *b, const struct lf_cbatch_item *it)
{
	if (grow((void **)&b->e, &b->cap, b->n + 1, sizeof(*b->e)) < 0)
		return -1;
	/* Keep the table at most half full so probes stay short. */
	if ((b->ns + 1) * 2 > b->ht_cap && ht_grow(b) < 0)
		return -1;
	uint64_t h = key_hash(it->key, it->key_len);
	size_t slot = ht_slot(b, it->key, it->key_len, h);
	size_t data_len0 = b->data.len;
	uint32_t stream;
	if (b->ht[slot] == 0) {
		if (grow((void **)&b->s, &b->scap, b->ns + 1, sizeof(*b->s)) < 0)
			return -1;
		size_t off = b->data.len;
		if (lf_buf_append(&b->data, it->key, it->key_len) < 0 ||
		    lf_buf_putc(&b->data, '\0') < 0) {
			b->data.len = data_len0;
			return -1;
		}
		b->s[b->ns] = (struct lf_cbatch_stream){
		        .key_off = off, .key_len = it->key_len, .hash = h, .n_entries = 0};
		stream = (uint32_t)b->ns;
		b->ns++;
		b->ht[slot] = stream + 1;
	} else {
		stream = b->ht[slot] - 1;
	}
	size_t data_len1 = b->data.len;
	struct lf_cbatch_entry *e = &b->e[b->n];
	e->ts_ns = it->ts_ns;
	e->stream = stream;
	e->n_sm = it->n_sm;
	e->origin = it->origin;
	e->seq_first = it->seq_first;
	e->seq_last = it->seq_last;
	e->line_off = b->data.len;
	e->line_len = it->line_len;
	if (lf_buf_append(&b->data, it->line, it->line_len) < 0)
		goto undo;
	e->sm_off = b->data.len;
	if (it->sm_len && lf_buf_append(&b->data, it->sm, it->sm_len) < 0)
		goto undo;
	b->s[stream].n_entries++;
	if (b->n == 0)
		b->oldest_mono = it->enq_mono_ns;
	b->n++;
	b->bytes += lf_cbatch_item_size(it);
	b->qbytes += it->qbytes;
	return 0;
undo:
	/* A stream created for this entry stays, with zero entries; the
	 * encoder skips empty streams. */
	b->data.len = data_len1;
	return -1;
}

void lf_cbatch_scratch_free(struct lf_cbatch_scratch *sc)
{
	free(sc->streams);
	free(sc->entries);
	free(sc->kv);
	free(sc->pos);
	memset(sc, 0, sizeof(*sc));
}

int lf_cbatch_encode(const struct lf_cbatch *b, struct lf_push_encoder *enc,
                     struct lf_cbatch_scratch *sc, struct lf_buf *out, struct lf_error *err)
{
	size_t n_kv = 0;
	for (size_t i = 0; i < b->n; i++)
		n_kv += b->e[i].n_sm;
	if (grow((void **)&sc->streams, &sc->streams_cap, b->ns ? b->ns : 1, sizeof(*sc->streams)) <
	            0 ||
	    grow((void **)&sc->entries, &sc->entries_cap, b->n ? b->n : 1, sizeof(*sc->entries)) <
	            0 ||
	    grow((void **)&sc->kv, &sc->kv_cap, n_kv ? n_kv : 1, sizeof(*sc->kv)) < 0 ||
	    grow((void **)&sc->pos, &sc->pos_cap, b->ns ? b->ns : 1, sizeof(*sc->pos)) < 0)
		return lf_err(err, "encoding batch: out of memory");

	/* Counting sort of entries by stream, stable, so each stream's entries
	 * keep their enqueue order. pos[s] = next free slot of stream s. */
	uint32_t at = 0;
	size_t n_streams = 0;
	for (size_t s = 0; s < b->ns; s++) {
		sc->pos[s] = at;
		at += b->s[s].n_entries;
	}
	size_t kv_at = 0;
	for (size_t i = 0; i < b->n; i++) {
		const struct lf_cbatch_entry *e = &b->e[i];
		struct lf_push_entry *pe = &sc->entries[sc->pos[e->stream]++];
		pe->ts_ns = e->ts_ns;
		pe->line = b->data.data + e->line_off;
		pe->line_len = e->line_len;
		pe->n_sm = e->n_sm;
		pe->sm = e->n_sm ? &sc->kv[kv_at] : NULL;
		const char *p = b->data.data + e->sm_off;
		for (uint32_t k = 0; k < e->n_sm; k++) {
			sc->kv[kv_at].name = p;
			p += strlen(p) + 1;
			sc->kv[kv_at].value = p;
			p += strlen(p) + 1;
			kv_at++;
		}
	}
	at = 0;
	for (size_t s = 0; s < b->ns; s++) {
		uint32_t cnt = b->s[s].n_entries;
		if (cnt) {
			sc->streams[n_streams++] = (struct lf_push_stream){
			        .labels = b->data.data + b->s[s].key_off,
			        .entries = &sc->entries[at],
			        .n_entries = cnt,
			};
		}
		at += cnt;
	}
	return lf_push_encode(enc, sc->streams, n_streams, out, err);
}
