/* codec.h — little binary helpers shared by the WAL and chunk formats:
 * LEB128 varints, zigzag, little-endian fixed-width integers. Header-only
 * (static inline) because they sit on the hottest paths and are tiny.
 */
#ifndef LF_STORE_CODEC_H
#define LF_STORE_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

static inline size_t lf_put_uvarint(unsigned char *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

static inline uint64_t lf_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t lf_unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Appends a varint; 0 / -1 (ENOMEM). */
static inline int lf_buf_uvarint(struct lf_buf *b, uint64_t v)
{
	if (lf_buf_reserve(b, 10) < 0)
		return -1;
	b->len += lf_put_uvarint((unsigned char *)b->data + b->len, v);
	b->data[b->len] = 0;
	return 0;
}

/* Appends varint length + bytes. */
static inline int lf_buf_bytes(struct lf_buf *b, const void *p, size_t n)
{
	if (lf_buf_reserve(b, n + 10) < 0)
		return -1;
	b->len += lf_put_uvarint((unsigned char *)b->data + b->len, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

/* A bounds-checked reader over a byte range. `bad` sticks once set. */
struct lf_rd {
	const unsigned char *p, *end;
	int bad;
};

static inline uint64_t lf_rd_uvarint(struct lf_rd *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end) {
			r->bad = 1;
			return 0;
		}
		unsigned char c = *r->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	r->bad = 1;
	return 0;
}

/* Reads a varint length and returns a pointer to that many bytes. */
static inline const char *lf_rd_bytes(struct lf_rd *r, size_t *len)
{
	uint64_t n = lf_rd_uvarint(r);
	if (r->bad || n > (uint64_t)(r->end - r->p)) {
		r->bad = 1;
		*len = 0;
		return "";
	}
	const char *s = (const char *)r->p;
	r->p += n;
	*len = (size_t)n;
	return s;
}

static inline void lf_put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static inline uint32_t lf_get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void lf_put_le64(unsigned char *p, uint64_t v)
{
	lf_put_le32(p, (uint32_t)v);
	lf_put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t lf_get_le64(const unsigned char *p)
{
	return (uint64_t)lf_get_le32(p) | (uint64_t)lf_get_le32(p + 4) << 32;
}

/* ---- the entry record shared by the WAL, the head and chunk blocks ----
 * ts (zigzag varint: absolute in WAL/head, delta to the previous entry in a
 * block), line (varint length + bytes), structured metadata count, then
 * name/value pairs (varint length + bytes each). */

struct lf_skv {
	const char *name;
	size_t nlen;
	const char *value;
	size_t vlen;
};

/* A decoded entry; pointers borrow the encoded bytes. sm points at the
 * encoded pairs (n_sm of them); walk them with lf_rd_bytes. */
struct lf_sentry {
	int64_t ts;
	const char *line;
	size_t line_len;
	size_t n_sm;
	const unsigned char *sm, *sm_end;
};

static inline int lf_entry_put(struct lf_buf *b, int64_t ts_field, const char *line,
                               size_t line_len, const struct lf_skv *sm, size_t n_sm)
{
	size_t need = 30 + line_len;
	for (size_t i = 0; i < n_sm; i++)
		need += 20 + sm[i].nlen + sm[i].vlen;
	if (lf_buf_reserve(b, need) < 0)
		return -1;
	unsigned char *p = (unsigned char *)b->data + b->len;
	p += lf_put_uvarint(p, lf_zigzag(ts_field));
	p += lf_put_uvarint(p, line_len);
	if (line_len)
		memcpy(p, line, line_len);
	p += line_len;
	p += lf_put_uvarint(p, n_sm);
	for (size_t i = 0; i < n_sm; i++) {
		p += lf_put_uvarint(p, sm[i].nlen);
		memcpy(p, sm[i].name, sm[i].nlen);
		p += sm[i].nlen;
		p += lf_put_uvarint(p, sm[i].vlen);
		memcpy(p, sm[i].value, sm[i].vlen);
		p += sm[i].vlen;
	}
	b->len = (size_t)((char *)p - b->data);
	b->data[b->len] = 0;
	return 0;
}

/* Decodes one entry; ts is the raw (unzigzagged) field. 0 ok, -1 corrupt. */
static inline int lf_entry_next(struct lf_rd *r, struct lf_sentry *e)
{
	e->ts = lf_unzigzag(lf_rd_uvarint(r));
	e->line = lf_rd_bytes(r, &e->line_len);
	e->n_sm = lf_rd_uvarint(r);
	e->sm = r->p;
	for (size_t i = 0; i < e->n_sm && !r->bad; i++) {
		size_t n;
		lf_rd_bytes(r, &n);
		lf_rd_bytes(r, &n);
	}
	e->sm_end = r->p;
	return r->bad ? -1 : 0;
}

#endif
