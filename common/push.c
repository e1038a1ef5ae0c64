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
