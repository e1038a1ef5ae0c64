/* push.c — see push.h. */
#include "push.h"

#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>

struct lf_push_encoder {
	Logproto__StreamAdapter *streams;
	Logproto__StreamAdapter **stream_ptrs;
	size_t streams_cap;
	Logproto__EntryAdapter *entries;
	Logproto__EntryAdapter **entry_ptrs;
	Logproto__Timestamp *ts;
	size_t entries_cap;
	Logproto__LabelPairAdapter *pairs;
	Logproto__LabelPairAdapter **pair_ptrs;
	size_t pairs_cap;
	struct lf_buf proto;
};

struct lf_push_encoder *lf_push_encoder_new(void)
{
	return calloc(1, sizeof(struct lf_push_encoder));
}

void lf_push_encoder_free(struct lf_push_encoder *enc)
{
	if (!enc)
		return;
	free(enc->streams);
	free(enc->stream_ptrs);
	free(enc->entries);
	free(enc->entry_ptrs);
	free(enc->ts);
	free(enc->pairs);
	free(enc->pair_ptrs);
	lf_buf_free(&enc->proto);
	free(enc);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 64;
	while (c < need)
		c *= 2;
	void *n = realloc(*p, c * elem);
	if (!n)
		return -1;
	*p = n;
	*cap = c;
	return 0;
}

/* Grows the three parallel entry arrays together. */
static int grow_entries(struct lf_push_encoder *e, size_t need)
{
	if (need <= e->entries_cap)
		return 0;
	size_t c1 = e->entries_cap, c2 = e->entries_cap, c3 = e->entries_cap;
	if (grow((void **)&e->entries, &c1, need, sizeof *e->entries) < 0 ||
	    grow((void **)&e->entry_ptrs, &c2, need, sizeof *e->entry_ptrs) < 0 ||
	    grow((void **)&e->ts, &c3, need, sizeof *e->ts) < 0)
		return -1;
	e->entries_cap = c1;
	return 0;
}

int lf_push_encode(struct lf_push_encoder *enc, const struct lf_push_stream *streams,
                   size_t n_streams, struct lf_buf *out, struct lf_error *err)
{
	size_t n_entries = 0, n_pairs = 0;
	for (size_t i = 0; i < n_streams; i++) {
		n_entries += streams[i].n_entries;
		for (size_t j = 0; j < streams[i].n_entries; j++)
			n_pairs += streams[i].entries[j].n_sm;
	}
	size_t sc = enc->streams_cap, sc2 = enc->streams_cap;
	if (grow((void **)&enc->streams, &sc, n_streams, sizeof *enc->streams) < 0 ||
	    grow((void **)&enc->stream_ptrs, &sc2, n_streams, sizeof *enc->stream_ptrs) < 0)
		return lf_err(err, "out of memory encoding push request");
	enc->streams_cap = sc;
	if (grow_entries(enc, n_entries) < 0)
		return lf_err(err, "out of memory encoding push request");
	size_t pc = enc->pairs_cap, pc2 = enc->pairs_cap;
	if (grow((void **)&enc->pairs, &pc, n_pairs, sizeof *enc->pairs) < 0 ||
	    grow((void **)&enc->pair_ptrs, &pc2, n_pairs, sizeof *enc->pair_ptrs) < 0)
		return lf_err(err, "out of memory encoding push request");
	enc->pairs_cap = pc;

	size_t ei = 0, pi = 0;
	for (size_t i = 0; i < n_streams; i++) {
		Logproto__StreamAdapter *s = &enc->streams[i];
		logproto__stream_adapter__init(s);
		s->labels = (char *)streams[i].labels; /* protobuf-c does not write through it */
		s->n_entries = streams[i].n_entries;
		/* No entries: NULL, not &NULL[0] on a fresh encoder (pointer
		 * arithmetic on NULL is UB; found by fuzz_push). */
		s->entries = streams[i].n_entries ? &enc->entry_ptrs[ei] : NULL;
		for (size_t j = 0; j < streams[i].n_entries; j++, ei++) {
			const struct lf_push_entry *in = &streams[i].entries[j];
			Logproto__EntryAdapter *e = &enc->entries[ei];
			logproto__entry_adapter__init(e);
			Logproto__Timestamp *ts = &enc->ts[ei];
			logproto__timestamp__init(ts);
			int64_t sec = in->ts_ns / 1000000000, nsec = in->ts_ns % 1000000000;
			if (nsec < 0) {
				nsec += 1000000000;
				sec--;
			}
			ts->seconds = sec;
			ts->nanos = (int32_t)nsec;
			e->timestamp = ts;
			e->line.data = (uint8_t *)in->line;
			e->line.len = in->line_len;
			e->n_structuredmetadata = in->n_sm;
			e->structuredmetadata = in->n_sm ? &enc->pair_ptrs[pi] : NULL;
			for (size_t k = 0; k < in->n_sm; k++, pi++) {
				Logproto__LabelPairAdapter *p = &enc->pairs[pi];
				logproto__label_pair_adapter__init(p);
				p->name = (char *)in->sm[k].name;
				p->value = (char *)in->sm[k].value;
				enc->pair_ptrs[pi] = p;
			}
			enc->entry_ptrs[ei] = e;
		}
		enc->stream_ptrs[i] = s;
	}
	Logproto__PushRequest req = LOGPROTO__PUSH_REQUEST__INIT;
	req.n_streams = n_streams;
	req.streams = enc->stream_ptrs;

	size_t psz = logproto__push_request__get_packed_size(&req);
	lf_buf_reset(&enc->proto);
	if (lf_buf_reserve(&enc->proto, psz) < 0)
		return lf_err(err, "out of memory encoding push request (%zu bytes)", psz);
	enc->proto.len = logproto__push_request__pack(&req, (uint8_t *)enc->proto.data);

	size_t max = snappy_max_compressed_length(enc->proto.len);
	lf_buf_reset(out);
	if (lf_buf_reserve(out, max) < 0)
		return lf_err(err, "out of memory compressing push request (%zu bytes)", max);
	size_t clen = max;
	if (snappy_compress(enc->proto.data, enc->proto.len, out->data, &clen) != SNAPPY_OK)
		return lf_err(err, "snappy compression failed");
	out->len = clen;
	out->data[clen] = '\0';
	return 0;
}

int lf_push_decode_raw(const void *proto, size_t len, Logproto__PushRequest **out,
                       struct lf_error *err)
{
	Logproto__PushRequest *req = logproto__push_request__unpack(NULL, len, proto);
	if (!req)
		return lf_err(err, "malformed protobuf push request (%zu bytes)", len);
	*out = req;
	return 0;
}

int lf_push_decode(const void *body, size_t len, size_t max_decoded, Logproto__PushRequest **out,
                   struct lf_error *err)
{
	size_t ulen;
	if (len == 0)
		return lf_err(err, "empty push request body");
	if (snappy_uncompressed_length(body, len, &ulen) != SNAPPY_OK)
		return lf_err(err, "invalid snappy block: bad length header");
	if (ulen > max_decoded)
		return lf_err(err,
		              "decompressed push request would be %zu bytes, over the limit of %zu",
		              ulen, max_decoded);
	char *raw = malloc(ulen ? ulen : 1);
	if (!raw)
		return lf_err(err, "out of memory decompressing %zu bytes", ulen);
	size_t got = ulen;
	if (snappy_uncompress(body, len, raw, &got) != SNAPPY_OK || got != ulen) {
		free(raw);
		return lf_err(err, "invalid snappy block: corrupt data");
	}
	int rc = lf_push_decode_raw(raw, got, out, err);
	free(raw);
	return rc;
}

void lf_push_request_free(Logproto__PushRequest *req)
{
	if (req)
		logproto__push_request__free_unpacked(req, NULL);
}

int64_t lf_push_ts_ns(const Logproto__Timestamp *ts)
{
	if (!ts)
		return 0;
	/* Seconds come off the wire unchecked: saturate instead of overflowing
	 * (signed overflow is UB; found by fuzz_push). A saturated value is far
	 * outside any accepted time range, so validation still rejects it. */
	int64_t ns;
	if (__builtin_mul_overflow(ts->seconds, (int64_t)1000000000, &ns) ||
	    __builtin_add_overflow(ns, (int64_t)ts->nanos, &ns))
		return ts->seconds < 0 ? INT64_MIN : INT64_MAX;
	return ns;
}

/* ---- zero-copy walker (see push.h for the rules it shares with
 * protobuf-c) ---- */

struct lf_push_decoder {
	struct lf_buf raw; /* decompressed body, reused */
	struct lf_push_sm_view *sm;
	size_t sm_cap;
};

struct lf_push_decoder *lf_push_decoder_new(void)
{
	return calloc(1, sizeof(struct lf_push_decoder));
}

void lf_push_decoder_free(struct lf_push_decoder *d)
{
	if (!d)
		return;
	lf_buf_free(&d->raw);
	free(d->sm);
	free(d);
}

size_t lf_push_decoder_retained(const struct lf_push_decoder *d)
{
	return d ? d->raw.cap + d->sm_cap * sizeof *d->sm : 0;
}

enum { WT_VARINT = 0, WT_64BIT = 1, WT_LEN = 2, WT_32BIT = 5 };

/* base is the start of the whole protobuf, so errors can name offsets. */
struct pb_cur {
	const uint8_t *p, *end, *base;
};

struct pb_field {
	uint32_t num;
	unsigned wt;
	uint64_t v;          /* WT_VARINT */
	const uint8_t *data; /* WT_LEN */
	size_t len;
	size_t off; /* of the tag */
};

/* A varint of at most max bytes (protobuf-c: 5 for tags and lengths, 10
 * for values); bits past 64 are dropped as protobuf-c drops them. */
static int rd_varint(struct pb_cur *c, unsigned max, uint64_t *out)
{
	uint64_t v = 0;
	size_t left = (size_t)(c->end - c->p);
	if (left < max)
		max = (unsigned)left;
	for (unsigned i = 0; i < max; i++) {
		uint8_t b = c->p[i];
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			c->p += i + 1;
			*out = v;
			return 0;
		}
	}
	return -1;
}

static int next_field_slow(struct pb_cur *c, struct pb_field *f, struct lf_error *err)
{
	f->off = (size_t)(c->p - c->base);
	uint64_t tag;
	if (rd_varint(c, 5, &tag) < 0)
		return lf_err(err, "malformed protobuf push request: bad field tag at offset %zu",
		              f->off);
	f->num = (uint32_t)(tag >> 3);
	f->wt = (unsigned)(tag & 7);
	/* protobuf-c refuses field number 0 written as one byte (and lets a
	 * longer spelling of it through as an unknown field): do the same. */
	if (f->num == 0 && c->p - c->base == (ptrdiff_t)f->off + 1)
		return lf_err(err, "malformed protobuf push request: field number 0 at offset %zu",
		              f->off);
	size_t left;
	switch (f->wt) {
	case WT_VARINT:
		if (rd_varint(c, 10, &f->v) < 0)
			return lf_err(err,
			              "malformed protobuf push request: unterminated varint at "
			              "offset %zu",
			              (size_t)(c->p - c->base));
		return 0;
	case WT_64BIT:
	case WT_32BIT: {
		size_t n = f->wt == WT_64BIT ? 8 : 4;
		if ((size_t)(c->end - c->p) < n)
			return lf_err(err,
			              "malformed protobuf push request: %zu-byte field at offset "
			              "%zu runs past the end",
			              n, f->off);
		c->p += n;
		return 0;
	}
	case WT_LEN: {
		uint64_t n;
		if (rd_varint(c, 5, &n) < 0)
			return lf_err(err,
			              "malformed protobuf push request: bad length at offset %zu",
			              (size_t)(c->p - c->base));
		n &= 0xffffffffu; /* protobuf-c keeps 32 bits of a length */
		left = (size_t)(c->end - c->p);
		if (n > left)
			return lf_err(err,
			              "malformed protobuf push request: field at offset %zu "
			              "claims %llu bytes, %zu left",
			              f->off, (unsigned long long)n, left);
		f->data = c->p;
		f->len = (size_t)n;
		c->p += n;
		return 0;
	}
	default:
		return lf_err(err,
		              "malformed protobuf push request: unsupported wire type %u at "
		              "offset %zu",
		              f->wt, f->off);
	}
}

/* The common case, inline: a one-byte tag (fields 1..15) followed by a
 * well-formed varint value or length that fits the message. Anything else
 * (and every error) takes the general path above. */
static inline int next_field(struct pb_cur *c, struct pb_field *f, struct lf_error *err)
{
	const uint8_t *p = c->p;
	if (p < c->end && p[0] >= 0x08 && p[0] < 0x80) {
		unsigned wt = p[0] & 7;
		if (wt == WT_VARINT || wt == WT_LEN) {
			unsigned max = wt == WT_VARINT ? 10 : 5;
			size_t left = (size_t)(c->end - p) - 1;
			if (left < max)
				max = (unsigned)left;
			uint64_t v = 0;
			for (unsigned i = 0; i < max; i++) {
				uint8_t b = p[1 + i];
				v |= (uint64_t)(b & 0x7f) << (7 * i);
				if (b & 0x80)
					continue;
				const uint8_t *q = p + 2 + i;
				if (wt == WT_LEN) {
					v &= 0xffffffffu;
					if (v > (uint64_t)(c->end - q))
						break;
					f->data = q;
					f->len = (size_t)v;
					q += v;
				} else {
					f->v = v;
				}
				f->off = (size_t)(p - c->base);
				f->num = p[0] >> 3;
				f->wt = wt;
				c->p = q;
				return 0;
			}
		}
	}
	return next_field_slow(c, f, err);
}

static int wrong_type(const struct pb_field *f, const char *what, struct lf_error *err)
{
	return lf_err(err, "malformed protobuf push request: %s at offset %zu has wire type %u",
	              what, f->off, f->wt);
}

static int walk_label_pair(const struct pb_field *outer, const uint8_t *base,
                           struct lf_push_sm_view *out, struct lf_error *err)
{
	struct pb_cur c = {outer->data, outer->data + outer->len, base};
	out->name = out->value = "";
	out->name_len = out->value_len = 0;
	while (c.p < c.end) {
		struct pb_field f;
		if (next_field(&c, &f, err) < 0)
			return -1;
		if (f.num != 1 && f.num != 2)
			continue;
		if (f.wt != WT_LEN)
			return wrong_type(
			        &f, f.num == 1 ? "LabelPairAdapter.name" : "LabelPairAdapter.value",
			        err);
		if (f.num == 1) {
			out->name = (const char *)f.data;
			out->name_len = f.len;
		} else {
			out->value = (const char *)f.data;
			out->value_len = f.len;
		}
	}
	return 0;
}

static int walk_timestamp(const struct pb_field *outer, const uint8_t *base,
                          Logproto__Timestamp *ts, struct lf_error *err)
{
	struct pb_cur c = {outer->data, outer->data + outer->len, base};
	/* A later Timestamp replaces an earlier one whole (protobuf-c's merge
	 * of proto3 scalars keeps the latter message's values). */
	ts->seconds = 0;
	ts->nanos = 0;
	while (c.p < c.end) {
		struct pb_field f;
		if (next_field(&c, &f, err) < 0)
			return -1;
		if (f.num != 1 && f.num != 2)
			continue;
		if (f.wt != WT_VARINT)
			return wrong_type(&f, f.num == 1 ? "Timestamp.seconds" : "Timestamp.nanos",
			                  err);
		if (f.num == 1)
			ts->seconds = (int64_t)f.v;
		else
			ts->nanos = (int32_t)(uint32_t)f.v;
	}
	return 0;
}

static int walk_entry(struct lf_push_decoder *d, const struct pb_field *outer, const uint8_t *base,
                      const struct lf_push_visitor *v, void *ctx, struct lf_error *err)
{
	struct pb_cur c = {outer->data, outer->data + outer->len, base};
	Logproto__Timestamp ts = LOGPROTO__TIMESTAMP__INIT;
	const char *line = "";
	size_t line_len = 0, n_sm = 0;
	while (c.p < c.end) {
		struct pb_field f;
		if (next_field(&c, &f, err) < 0)
			return -1;
		switch (f.num) {
		case 1:
			if (f.wt != WT_LEN)
				return wrong_type(&f, "EntryAdapter.timestamp", err);
			if (walk_timestamp(&f, base, &ts, err) < 0)
				return -1;
			break;
		case 2:
			if (f.wt != WT_LEN)
				return wrong_type(&f, "EntryAdapter.line", err);
			line = f.len ? (const char *)f.data : "";
			line_len = f.len;
			break;
		case 3:
			if (f.wt != WT_LEN)
				return wrong_type(&f, "EntryAdapter.structuredMetadata", err);
			if (n_sm == d->sm_cap) {
				size_t nc = d->sm_cap ? d->sm_cap * 2 : 16;
				struct lf_push_sm_view *nv = realloc(d->sm, nc * sizeof *nv);
				if (!nv)
					return lf_err(err, "out of memory decoding push request");
				d->sm = nv;
				d->sm_cap = nc;
			}
			if (walk_label_pair(&f, base, &d->sm[n_sm], err) < 0)
				return -1;
			n_sm++;
			break;
		case 4: { /* parsed: checked like protobuf-c does, then ignored */
			struct lf_push_sm_view ignored;
			if (f.wt != WT_LEN)
				return wrong_type(&f, "EntryAdapter.parsed", err);
			if (walk_label_pair(&f, base, &ignored, err) < 0)
				return -1;
			break;
		}
		default:
			break;
		}
	}
	return v->entry(ctx, lf_push_ts_ns(&ts), line, line_len, n_sm ? d->sm : NULL, n_sm, err);
}

static int walk_stream(struct lf_push_decoder *d, const struct pb_field *outer, const uint8_t *base,
                       const struct lf_push_visitor *v, void *ctx, struct lf_error *err)
{
	/* Pass 1: labels may follow the entries on the wire (last one wins);
	 * also counts the entries and checks the stream's own fields. */
	struct pb_cur c = {outer->data, outer->data + outer->len, base};
	const char *labels = "";
	size_t labels_len = 0, n_entries = 0;
	while (c.p < c.end) {
		struct pb_field f;
		if (next_field(&c, &f, err) < 0)
			return -1;
		if (f.num == 1) {
			if (f.wt != WT_LEN)
				return wrong_type(&f, "StreamAdapter.labels", err);
			labels = f.len ? (const char *)f.data : "";
			labels_len = f.len;
		} else if (f.num == 2) {
			if (f.wt != WT_LEN)
				return wrong_type(&f, "StreamAdapter.entries", err);
			n_entries++;
		} else if (f.num == 3 && f.wt != WT_VARINT) {
			return wrong_type(&f, "StreamAdapter.hash", err);
		}
	}
	if (v->stream(ctx, labels, labels_len, n_entries, err) < 0)
		return -1;
	/* Pass 2: the entries, in order. */
	c.p = outer->data;
	while (c.p < c.end) {
		struct pb_field f;
		if (next_field(&c, &f, err) < 0)
			return -1;
		if (f.num == 2 && walk_entry(d, &f, base, v, ctx, err) < 0)
			return -1;
	}
	return 0;
}

int lf_push_walk_raw(struct lf_push_decoder *d, const void *proto, size_t len,
                     const struct lf_push_visitor *v, void *ctx, struct lf_error *err)
{
	const uint8_t *base = proto;
	struct pb_cur c = {base, base + len, base};
	while (c.p < c.end) {
		struct pb_field f;
		if (next_field(&c, &f, err) < 0)
			return -1;
		if (f.num == 1) {
			if (f.wt != WT_LEN)
				return wrong_type(&f, "PushRequest.streams", err);
			if (walk_stream(d, &f, base, v, ctx, err) < 0)
				return -1;
		} else if (f.num == 2 && f.wt != WT_LEN) {
			return wrong_type(&f, "PushRequest.format", err);
		}
	}
	return 0;
}

int lf_push_walk(struct lf_push_decoder *d, const void *body, size_t len, size_t max_decoded,
                 const struct lf_push_visitor *v, void *ctx, struct lf_error *err)
{
	size_t ulen;
	if (len == 0)
		return lf_err(err, "empty push request body");
	if (snappy_uncompressed_length(body, len, &ulen) != SNAPPY_OK)
		return lf_err(err, "invalid snappy block: bad length header");
	if (ulen > max_decoded)
		return lf_err(err,
		              "decompressed push request would be %zu bytes, over the limit of %zu",
		              ulen, max_decoded);
	lf_buf_reset(&d->raw);
	if (lf_buf_reserve(&d->raw, ulen) < 0)
		return lf_err(err, "out of memory decompressing %zu bytes", ulen);
	size_t got = ulen;
	if (snappy_uncompress(body, len, d->raw.data, &got) != SNAPPY_OK || got != ulen)
		return lf_err(err, "invalid snappy block: corrupt data");
	d->raw.len = got;
	return lf_push_walk_raw(d, d->raw.data, got, v, ctx, err);
}
