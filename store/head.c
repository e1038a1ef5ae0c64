/* head.c — see head.h. */
#include "head.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

void lf_head_ctx_init(struct lf_head_ctx *c, size_t block_size, enum lf_chunk_codec codec)
{
	memset(c, 0, sizeof(*c));
	c->block_size = block_size < 64 ? 64 : block_size;
	c->codec = codec;
	c->next_id = 1;
}

void lf_head_ctx_free(struct lf_head_ctx *c)
{
	lf_buf_free(&c->raw);
	lf_buf_free(&c->cache);
	c->cache_id = 0;
}

void lf_head_free(struct lf_head *h)
{
	struct lf_head_mem *m = h->m;
	if (!m)
		return;
	if (m->sealed) {
		for (size_t i = 0; i < m->sealed->n; i++)
			free(m->sealed->v[i].data);
		free(m->sealed->v);
		free(m->sealed);
	}
	free(m);
	h->m = NULL; /* flags stay */
}

/* Room for `need` more bytes in the open block. A new block starts at the
 * size of what is about to arrive (at least 64 bytes: an idle stream with
 * one short entry costs a small malloc); it grows by doubling, but not far
 * past the block size, since it is sealed there. */
static int open_reserve(struct lf_head *h, const struct lf_head_ctx *c, size_t need, size_t hint)
{
	struct lf_head_mem *m = h->m;
	size_t len = m ? m->open_len : 0, cap0 = m ? m->open_cap : 0;
	size_t want = len + need + 1;
	if (want <= cap0)
		return 0;
	if (want > UINT32_MAX / 2)
		return -1;
	size_t cap = cap0, lim = c->block_size + 64;
	if (!cap) {
		cap = hint > need ? hint + 1 : want;
		if (cap > lim)
			cap = lim;
	}
	while (cap < want)
		cap = cap < lim && cap * 2 > lim ? lim : cap * 2;
	struct lf_head_mem *nm = realloc(m, sizeof(*nm) + cap);
	if (!nm)
		return -1;
	if (!m)
		memset(nm, 0, sizeof(*nm));
	nm->open_cap = (uint32_t)cap;
	h->m = nm;
	return 0;
}

static void note(struct lf_head *h, int64_t ts)
{
	struct lf_head_mem *m = h->m;
	if (lf_head_n(h) == 0) {
		m->min = m->max = ts;
	} else {
		if (ts < m->min)
			m->min = ts;
		if (ts > m->max)
			m->max = ts;
	}
	m->open_n++;
}

static void maybe_seal(struct lf_head *h, struct lf_head_ctx *c)
{
	if (h->m->open_len >= c->block_size) {
		struct lf_error err;
		(void)lf_head_seal(h, c, &err); /* stays open on failure */
	}
}

int lf_head_append(struct lf_head *h, struct lf_head_ctx *c, int64_t ts, const char *line,
                   size_t len, const struct lf_skv *sm, size_t n_sm, size_t hint)
{
	size_t need = 30 + len;
	for (size_t i = 0; i < n_sm; i++)
		need += 20 + sm[i].nlen + sm[i].vlen;
	if (open_reserve(h, c, need, hint) < 0)
		return -1;
	struct lf_head_mem *m = h->m;
	struct lf_buf b = {m->open, m->open_len, m->open_cap};
	if (lf_entry_put(&b, ts, line, len, sm, n_sm) < 0) /* room reserved: no realloc */
		return -1;
	m->open_len = (uint32_t)b.len;
	note(h, ts);
	maybe_seal(h, c);
	return 0;
}

int lf_head_append_rec(struct lf_head *h, struct lf_head_ctx *c, int64_t ts, const void *rec,
                       size_t len)
{
	if (open_reserve(h, c, len, 0) < 0)
		return -1;
	struct lf_head_mem *m = h->m;
	memcpy(m->open + m->open_len, rec, len);
	m->open_len += (uint32_t)len;
	m->open[m->open_len] = 0;
	note(h, ts);
	maybe_seal(h, c);
	return 0;
}

static int sealed_push(struct lf_head_mem *m, const struct lf_head_block *b,
                       enum lf_chunk_codec codec)
{
	if (!m->sealed) {
		m->sealed = calloc(1, sizeof(*m->sealed));
		if (!m->sealed)
			return -1;
		m->sealed->codec = codec;
	}
	struct lf_head_sealed *s = m->sealed;
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 4;
		struct lf_head_block *v = realloc(s->v, nc * sizeof(*v));
		if (!v)
			return -1;
		s->v = v;
		s->cap = nc;
	}
	s->v[s->n++] = *b;
	s->n_entries += b->n;
	s->comp_bytes += b->comp_len;
	s->raw_bytes += b->raw_len;
	return 0;
}

/* Re-encodes the open block's records (absolute ts) into raw in the chunk
 * block format, in one pass; fills the block's stats. -1 when a record is
 * malformed or memory runs out. */
static int encode_block(const char *rec, size_t len, uint32_t n, struct lf_buf *raw,
                        struct lf_head_block *b, const char **start)
{
	/* a delta takes at most 10 bytes where the absolute ts took at least 1;
	 * 10 more for moving the first record (below) */
	lf_buf_reset(raw);
	if (lf_buf_reserve(raw, len + (size_t)n * 9 + 32) < 0)
		return -1;
	struct lf_rd r = {(const unsigned char *)rec, (const unsigned char *)rec + len, 0};
	unsigned char *p = (unsigned char *)raw->data + 10, *first = p;
	struct lf_sentry e;
	int64_t prev = 0, first_ts = 0;
	b->sorted = 1;
	b->line_bytes = 0;
	for (uint32_t i = 0; i < n; i++) {
		const unsigned char *rec0 = r.p;
		if (lf_entry_next(&r, &e) < 0)
			return -1;
		struct lf_rd t = {rec0, r.p, 0};
		(void)lf_rd_uvarint(&t); /* t.p: the record after its ts */
		if (i == 0) {
			b->min = b->max = prev = first_ts = e.ts;
		} else {
			if (e.ts < prev)
				b->sorted = 0;
			if (e.ts < b->min)
				b->min = e.ts;
			if (e.ts > b->max)
				b->max = e.ts;
		}
		p += lf_put_uvarint(p, lf_zigzag(e.ts - prev));
		memcpy(p, t.p, (size_t)(r.p - t.p));
		p += r.p - t.p;
		prev = e.ts;
		b->line_bytes += e.line_len + (size_t)(e.sm_end - e.sm);
	}
	if (r.p != r.end)
		return -1;
	/* The first delta was written relative to the first ts (1 byte, 0);
	 * the format wants it relative to min_ts: rewrite it in the 10 bytes
	 * left in front (only an unsorted block has first ts != min). */
	unsigned char v[10];
	size_t vl = lf_put_uvarint(v, lf_zigzag(first_ts - b->min));
	first = first + 1;
	first -= vl;
	memcpy(first, v, vl);
	raw->len = (size_t)(p - (unsigned char *)raw->data);
	*start = (const char *)first;
	b->n = n;
	b->raw_len = (uint32_t)(p - first);
	return 0;
}

/* Compresses the block's raw bytes (src) into its own allocation. */
static int compress_block(struct lf_head_ctx *c, const char *src, struct lf_head_block *b,
                          struct lf_error *err)
{
	size_t max = lf_chunk_max_compressed(c->codec, b->raw_len);
	char *dst = max ? malloc(max) : NULL;
	if (!dst)
		return lf_err(err, "head: out of memory for a %u-byte block", b->raw_len);
	size_t clen;
	if (lf_chunk_compress(c->codec, src, b->raw_len, dst, max, &clen, err) < 0) {
		free(dst);
		return -1;
	}
	char *fit = realloc(dst, clen ? clen : 1); /* shrinks in place */
	b->data = fit ? fit : dst;
	b->comp_len = (uint32_t)clen;
	b->id = c->next_id++;
	return 0;
}

int lf_head_seal(struct lf_head *h, struct lf_head_ctx *c, struct lf_error *err)
{
	struct lf_head_mem *m = h->m;
	if (!m || !m->open_n)
		return 0;
	if (m->sealed && m->sealed->codec != c->codec)
		return lf_err(err, "head: codec changed"); /* not with one config */
	struct lf_head_block b;
	memset(&b, 0, sizeof(b));
	const char *src;
	if (encode_block(m->open, m->open_len, m->open_n, &c->raw, &b, &src) < 0)
		return lf_err(err, "head: open block malformed or out of memory");
	if (compress_block(c, src, &b, err) < 0)
		return -1;
	if (sealed_push(m, &b, c->codec) < 0) {
		free(b.data);
		return lf_err(err, "head: out of memory for the block list");
	}
	/* the next block starts small again: a stream that slows down does not
	 * keep a block-sized buffer (shrinking in place: no copy) */
	m->open_len = m->open_n = m->open_cap = 0;
	struct lf_head_mem *nm = realloc(m, sizeof(*m) + 1);
	if (nm)
		h->m = nm;
	return 0;
}

/* Decompresses sealed block b into raw. */
static int block_raw(const struct lf_head_sealed *s, const struct lf_head_block *b,
                     struct lf_buf *raw)
{
	lf_buf_reset(raw);
	if (lf_buf_reserve(raw, (size_t)b->raw_len + 1) < 0)
		return -1;
	if (lf_chunk_decompress(s->codec, b->data, b->comp_len, raw->data, b->raw_len) < 0)
		return -1;
	raw->len = b->raw_len;
	raw->data[raw->len] = 0;
	return 0;
}

void lf_head_iter_init(struct lf_head_iter *it, const struct lf_head *h, int64_t from,
                       int64_t through, struct lf_buf *raw)
{
	memset(it, 0, sizeof(*it));
	it->h = h;
	it->from = from;
	it->through = through;
	it->raw = raw;
	it->done = lf_head_n(h) == 0 || h->m->min > through || h->m->max < from;
}

int lf_head_iter_span(struct lf_head_iter *it)
{
	const struct lf_head_mem *m = it->h->m;
	const struct lf_head_sealed *s = m ? m->sealed : NULL;
	size_t nb = s ? s->n : 0;
	it->rd.p = it->rd.end = NULL;
	while (!it->done) {
		if (it->next < nb) {
			const struct lf_head_block *b = &s->v[it->next++];
			if (b->min > it->through || b->max < it->from)
				continue;
			if (block_raw(s, b, it->raw) < 0) {
				it->damaged++;
				continue;
			}
			it->rd = (struct lf_rd){(const unsigned char *)it->raw->data,
			                        (const unsigned char *)it->raw->data + it->raw->len,
			                        0};
			it->ts = b->min;
			it->abs = false;
			return 1;
		}
		it->done = true;
		if (!m || !m->open_n)
			break;
		it->rd = (struct lf_rd){(const unsigned char *)m->open,
		                        (const unsigned char *)m->open + m->open_len, 0};
		it->abs = true;
		return 1;
	}
	return 0;
}

int lf_head_entry_at(const struct lf_head *h, struct lf_head_ctx *c, uint64_t i,
                     struct lf_sentry *e)
{
	const struct lf_head_mem *m = h->m;
	if (!m)
		return -1;
	const struct lf_head_sealed *s = m->sealed;
	uint64_t base = 0;
	for (size_t k = 0; s && k < s->n; k++) {
		const struct lf_head_block *b = &s->v[k];
		if (i >= base + b->n) {
			base += b->n;
			continue;
		}
		if (c->cache_id != b->id) {
			c->cache_id = 0;
			if (block_raw(s, b, &c->cache) < 0)
				return -1;
			c->cache_id = b->id;
		}
		struct lf_rd r = {(const unsigned char *)c->cache.data,
		                  (const unsigned char *)c->cache.data + c->cache.len, 0};
		int64_t ts = b->min;
		for (uint64_t j = base; j <= i; j++) {
			if (lf_entry_next(&r, e) < 0)
				return -1;
			ts += e->ts;
		}
		e->ts = ts;
		return 0;
	}
	if (i < base || i - base >= m->open_n)
		return -1;
	struct lf_rd r = {(const unsigned char *)m->open,
	                  (const unsigned char *)m->open + m->open_len, 0};
	for (uint64_t j = base; j <= i; j++)
		if (lf_entry_next(&r, e) < 0)
			return -1;
	return 0;
}

int lf_head_prepend(struct lf_head *dst, struct lf_head *src, struct lf_head_ctx *c)
{
	if (!lf_head_n(src))
		return 0;
	struct lf_head all;
	memset(&all, 0, sizeof(all));
	struct lf_buf raw = LF_BUF_INIT;
	struct lf_head *parts[2] = {src, dst};
	int rc = 0;
	for (int k = 0; k < 2 && rc == 0; k++) {
		struct lf_head_iter it;
		struct lf_sentry e;
		lf_head_iter_init(&it, parts[k], INT64_MIN, INT64_MAX, &raw);
		while (rc == 0 && lf_head_iter_span(&it)) {
			while (lf_head_iter_entry(&it, &e)) {
				/* re-encode with the absolute ts; metadata pairs as
				 * they are */
				size_t smlen = (size_t)(e.sm_end - e.sm);
				size_t need = 30 + e.line_len + smlen;
				if (open_reserve(&all, c, need, 0) < 0) {
					rc = -1;
					break;
				}
				struct lf_head_mem *am = all.m;
				unsigned char *p = (unsigned char *)am->open + am->open_len;
				p += lf_put_uvarint(p, lf_zigzag(e.ts));
				p += lf_put_uvarint(p, e.line_len);
				memcpy(p, e.line, e.line_len);
				p += e.line_len;
				p += lf_put_uvarint(p, e.n_sm);
				memcpy(p, e.sm, smlen);
				p += smlen;
				am->open_len = (uint32_t)((char *)p - am->open);
				am->open[am->open_len] = 0;
				note(&all, e.ts);
				maybe_seal(&all, c);
			}
		}
		if (it.damaged)
			rc = -1;
	}
	lf_buf_free(&raw);
	if (rc < 0) {
		lf_head_free(&all);
		return -1;
	}
	if (all.m) {
		all.m->first_mono = src->m->first_mono;
		all.m->last_mono = dst->m ? dst->m->last_mono : src->m->last_mono;
	}
	lf_head_free(src);
	lf_head_free(dst);
	all.flags = dst->flags;
	*dst = all;
	return 0;
}

void lf_head_flush_scratch_free(struct lf_head_flush_scratch *s)
{
	lf_buf_free(&s->raw);
	lf_buf_free(&s->comp);
	lf_buf_free(&s->all);
	free(s->es);
	free(s->pre);
	memset(s, 0, sizeof(*s));
}

static int cmp_entry(const void *a, const void *b)
{
	const struct lf_sentry *x = a, *y = b;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	/* same time: keep arrival order (lines live in one buffer, in order) */
	return x->line < y->line ? -1 : x->line > y->line;
}

/* Every block sorted, blocks in order, codec as wanted: copy them. */
static int chunk_copy(const struct lf_head *h, const char *labels, enum lf_chunk_codec codec,
                      struct lf_head_flush_scratch *s, struct lf_buf *out,
                      struct lf_chunk_info *info, bool *reused, struct lf_error *err)
{
	const struct lf_head_mem *m = h->m;
	const struct lf_head_sealed *sd = m ? m->sealed : NULL;
	size_t nb = sd ? sd->n : 0;
	uint32_t open_n = m ? m->open_n : 0;
	*reused = false;
	if (sd && sd->codec != codec)
		return 1;
	for (size_t i = 0; i < nb; i++)
		if (!sd->v[i].sorted || (i && sd->v[i - 1].max > sd->v[i].min))
			return 1;
	struct lf_head_block ob;
	memset(&ob, 0, sizeof(ob));
	const char *src = NULL;
	if (open_n) {
		if (encode_block(m->open, m->open_len, open_n, &s->raw, &ob, &src) < 0)
			return lf_err(err, "head data malformed");
		if (!ob.sorted || (nb && sd->v[nb - 1].max > ob.min))
			return 1;
	}
	size_t np = nb + (open_n ? 1 : 0);
	if (np > s->pre_cap) {
		struct lf_chunk_pre *v = realloc(s->pre, np * sizeof(*v));
		if (!v)
			return lf_err(err, "out of memory for %zu blocks", np);
		s->pre = v;
		s->pre_cap = np;
	}
	for (size_t i = 0; i < nb; i++) {
		const struct lf_head_block *b = &sd->v[i];
		s->pre[i] = (struct lf_chunk_pre){b->data,
		                                  b->comp_len,
		                                  b->raw_len,
		                                  b->n,
		                                  lf_crc32c(0, b->data, b->comp_len),
		                                  b->min,
		                                  b->max,
		                                  b->line_bytes};
	}
	if (open_n) {
		size_t max = lf_chunk_max_compressed(codec, ob.raw_len), clen;
		lf_buf_reset(&s->comp);
		if (!max || lf_buf_reserve(&s->comp, max) < 0)
			return lf_err(err, "out of memory for a %u-byte block", ob.raw_len);
		if (lf_chunk_compress(codec, src, ob.raw_len, s->comp.data, max, &clen, err) < 0)
			return -1;
		s->pre[nb] = (struct lf_chunk_pre){s->comp.data,
		                                   (uint32_t)clen,
		                                   ob.raw_len,
		                                   ob.n,
		                                   lf_crc32c(0, s->comp.data, clen),
		                                   ob.min,
		                                   ob.max,
		                                   ob.line_bytes};
	}
	if (lf_chunk_assemble(labels, s->pre, np, codec, out, info, err) < 0)
		return -1;
	*reused = true;
	return 0;
}

int lf_head_chunk(const struct lf_head *h, const char *labels, size_t block_size,
                  enum lf_chunk_codec codec, struct lf_head_flush_scratch *s, struct lf_buf *out,
                  struct lf_chunk_info *info, bool *reused, struct lf_error *err)
{
	int rc = chunk_copy(h, labels, codec, s, out, info, reused, err);
	if (rc <= 0)
		return rc;
	/* Decode every block into one buffer (entries borrow it), sort, encode. */
	uint64_t n = lf_head_n(h);
	if (n > s->es_cap) {
		struct lf_sentry *v = realloc(s->es, n * sizeof(*v));
		if (!v)
			return lf_err(err, "out of memory for %llu entries", (unsigned long long)n);
		s->es = v;
		s->es_cap = n;
	}
	lf_buf_reset(&s->all);
	if (lf_buf_reserve(&s->all, lf_head_raw(h) + 1) < 0)
		return lf_err(err, "out of memory for %llu bytes",
		              (unsigned long long)lf_head_raw(h));
	const struct lf_head_mem *m = h->m; /* not NULL: n > 0 */
	const struct lf_head_sealed *sd = m->sealed;
	size_t nb = sd ? sd->n : 0, k = 0;
	for (size_t i = 0; i <= nb; i++) {
		const char *data;
		size_t len;
		int64_t ts = 0;
		bool abs = i == nb;
		if (abs) {
			data = m->open;
			len = m->open_len;
		} else {
			const struct lf_head_block *b = &sd->v[i];
			char *dst = s->all.data + s->all.len;
			if (lf_chunk_decompress(sd->codec, b->data, b->comp_len, dst, b->raw_len) <
			    0)
				return lf_err(err, "head block %zu damaged", i);
			data = dst;
			len = b->raw_len;
			s->all.len += b->raw_len;
			ts = b->min;
		}
		struct lf_rd r = {(const unsigned char *)data, (const unsigned char *)data + len,
		                  0};
		while (r.p < r.end && k < n) {
			if (lf_entry_next(&r, &s->es[k]) < 0)
				return lf_err(err, "head data malformed");
			if (!abs) {
				ts += s->es[k].ts;
				s->es[k].ts = ts;
			}
			k++;
		}
	}
	if (k != n)
		return lf_err(err, "head data malformed (%zu of %llu entries)", k,
		              (unsigned long long)n);
	/* the open block's records follow the sealed ones in arrival order but
	 * live in another buffer: the tie-break on line pointers needs one
	 * buffer in arrival order, so copy them behind the sealed blocks */
	if (m->open_n && nb) {
		size_t first_open = (size_t)(n - m->open_n);
		char *dst = s->all.data + s->all.len;
		memcpy(dst, m->open, m->open_len);
		const unsigned char *ob = (const unsigned char *)m->open;
		for (size_t i = first_open; i < n; i++) {
			struct lf_sentry *e = &s->es[i];
			e->line = dst + (e->line - m->open);
			e->sm = (const unsigned char *)dst + (e->sm - ob);
			e->sm_end = (const unsigned char *)dst + (e->sm_end - ob);
		}
		s->all.len += m->open_len;
	}
	size_t unsorted = 1;
	while (unsorted < n && cmp_entry(&s->es[unsorted - 1], &s->es[unsorted]) <= 0)
		unsorted++;
	if (unsorted < n)
		qsort(s->es, n, sizeof(*s->es), cmp_entry);
	*reused = false;
	return lf_chunk_encode(labels, s->es, n, block_size, codec, out, info, err);
}
