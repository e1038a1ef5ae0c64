/* fuzz_push.c — Loki push bodies, the store's most exposed input.
 *
 * Input: a request body. It is decoded twice: as a snappy block with the
 * store's 1 MiB decompressed limit (lf_push_decode), and as bare protobuf
 * (lf_push_decode_raw, the path behind Content-Encoding handling; it also
 * lets the fuzzer reach protobuf corners without forging snappy blocks).
 * Property, for every request that decodes: encoding what we decoded with
 * lf_push_encode and decoding the result gives the same streams (labels,
 * entry timestamps in ns, line bytes, structured metadata), and an encoder
 * reused across inputs (as a steady sender reuses it) writes the same bytes
 * as a fresh one.
 * The zero-copy walker (lf_push_walk / lf_push_walk_raw) runs on the same
 * two inputs with protobuf-c's result as the oracle: it must accept exactly
 * the inputs lf_push_decode accepts and report the same streams, labels,
 * timestamps, lines and metadata in the same order. One decoder is reused
 * across inputs, as the store reuses it.
 */
#include <stdbool.h>

#include "fuzz.h"

#include "push.h"

#define MAX_DECODED ((size_t)1 << 20)

static struct lf_push_encoder *enc;

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

static void check_same(const Logproto__PushRequest *a, const Logproto__PushRequest *b)
{
	FUZZ_CHECK(a->n_streams == b->n_streams, "%zu vs %zu streams", a->n_streams, b->n_streams);
	for (size_t i = 0; i < a->n_streams; i++) {
		const Logproto__StreamAdapter *sa = a->streams[i], *sb = b->streams[i];
		FUZZ_CHECK(strcmp(str_or_empty(sa->labels), str_or_empty(sb->labels)) == 0,
		           "stream %zu labels differ", i);
		FUZZ_CHECK(sa->n_entries == sb->n_entries, "stream %zu: %zu vs %zu entries", i,
		           sa->n_entries, sb->n_entries);
		for (size_t j = 0; j < sa->n_entries; j++) {
			const Logproto__EntryAdapter *ea = sa->entries[j], *eb = sb->entries[j];
			int64_t ta = lf_push_ts_ns(ea->timestamp),
			        tb = lf_push_ts_ns(eb->timestamp);
			FUZZ_CHECK(ta == tb, "entry %zu/%zu: ts %lld vs %lld", i, j, (long long)ta,
			           (long long)tb);
			FUZZ_CHECK(ea->line.len == eb->line.len, "entry %zu/%zu: line length", i,
			           j);
			FUZZ_CHECK(ea->line.len == 0 ||
			                   memcmp(ea->line.data, eb->line.data, ea->line.len) == 0,
			           "entry %zu/%zu: line bytes", i, j);
			FUZZ_CHECK(ea->n_structuredmetadata == eb->n_structuredmetadata,
			           "entry %zu/%zu: metadata count", i, j);
			for (size_t k = 0; k < ea->n_structuredmetadata; k++) {
				const Logproto__LabelPairAdapter *pa = ea->structuredmetadata[k];
				const Logproto__LabelPairAdapter *pb = eb->structuredmetadata[k];
				FUZZ_CHECK(strcmp(str_or_empty(pa->name), str_or_empty(pb->name)) ==
				                           0 &&
				                   strcmp(str_or_empty(pa->value),
				                          str_or_empty(pb->value)) == 0,
				           "entry %zu/%zu: metadata %zu", i, j, k);
			}
		}
	}
}

static void roundtrip(const Logproto__PushRequest *req)
{
	size_t n_entries = 0, n_kv = 0;
	for (size_t i = 0; i < req->n_streams; i++) {
		n_entries += req->streams[i]->n_entries;
		for (size_t j = 0; j < req->streams[i]->n_entries; j++)
			n_kv += req->streams[i]->entries[j]->n_structuredmetadata;
	}
	struct lf_push_stream *streams = calloc(req->n_streams + 1, sizeof *streams);
	struct lf_push_entry *entries = calloc(n_entries + 1, sizeof *entries);
	struct lf_push_kv *kvs = calloc(n_kv + 1, sizeof *kvs);
	FUZZ_CHECK(streams && entries && kvs, "out of memory");
	size_t ei = 0, ki = 0;
	for (size_t i = 0; i < req->n_streams; i++) {
		const Logproto__StreamAdapter *s = req->streams[i];
		streams[i].labels = str_or_empty(s->labels);
		streams[i].entries = &entries[ei];
		streams[i].n_entries = s->n_entries;
		for (size_t j = 0; j < s->n_entries; j++, ei++) {
			const Logproto__EntryAdapter *e = s->entries[j];
			entries[ei].ts_ns = lf_push_ts_ns(e->timestamp);
			entries[ei].line = (const char *)e->line.data;
			entries[ei].line_len = e->line.len;
			entries[ei].sm = &kvs[ki];
			entries[ei].n_sm = e->n_structuredmetadata;
			for (size_t k = 0; k < e->n_structuredmetadata; k++, ki++) {
				kvs[ki].name = str_or_empty(e->structuredmetadata[k]->name);
				kvs[ki].value = str_or_empty(e->structuredmetadata[k]->value);
			}
		}
	}
	struct lf_buf body = LF_BUF_INIT;
	struct lf_error err;
	if (!enc)
		enc = lf_push_encoder_new();
	FUZZ_CHECK(enc, "out of memory");
	int rc = lf_push_encode(enc, streams, req->n_streams, &body, &err);
	FUZZ_CHECK(rc == 0, "encode failed: %s", err.msg);
	/* A fresh encoder (empty scratch arrays) must produce the same bytes. */
	struct lf_push_encoder *fresh = lf_push_encoder_new();
	struct lf_buf body2 = LF_BUF_INIT;
	FUZZ_CHECK(fresh, "out of memory");
	rc = lf_push_encode(fresh, streams, req->n_streams, &body2, &err);
	FUZZ_CHECK(rc == 0, "encode with a fresh encoder failed: %s", err.msg);
	FUZZ_CHECK(body.len == body2.len && memcmp(body.data, body2.data, body.len) == 0,
	           "a reused encoder and a fresh one disagree");
	lf_buf_free(&body2);
	lf_push_encoder_free(fresh);
	Logproto__PushRequest *back = NULL;
	rc = lf_push_decode(body.data, body.len, (size_t)1 << 30, &back, &err);
	FUZZ_CHECK(rc == 0, "decoding our own encoding failed: %s", err.msg);
	check_same(req, back);
	lf_push_request_free(back);
	lf_buf_free(&body);
	free(streams);
	free(entries);
	free(kvs);
}

/* ---- walker vs protobuf-c ---- */

struct walk_check {
	const Logproto__PushRequest *req; /* protobuf-c's result, or NULL */
	size_t stream, entry;             /* next expected */
	bool in_stream;
};

/* protobuf-c keeps a string's full wire bytes plus a NUL. */
static bool same_str(const char *pc, const char *s, size_t n)
{
	if (!pc)
		return n == 0;
	return memcmp(pc, s, n) == 0 && pc[n] == '\0';
}

static int check_stream(void *ctx, const char *labels, size_t labels_len, size_t n_entries,
                        struct lf_error *err)
{
	(void)err;
	struct walk_check *w = ctx;
	if (!w->req) /* protobuf-c rejected the input: the walk must fail later */
		return 0;
	FUZZ_CHECK(w->stream < w->req->n_streams, "walker reports stream %zu of %zu", w->stream,
	           w->req->n_streams);
	const Logproto__StreamAdapter *sa = w->req->streams[w->stream];
	FUZZ_CHECK(labels != NULL, "stream %zu: NULL labels", w->stream);
	FUZZ_CHECK(same_str(sa->labels, labels, labels_len), "stream %zu: labels differ",
	           w->stream);
	FUZZ_CHECK(n_entries == sa->n_entries, "stream %zu: %zu vs %zu entries", w->stream,
	           n_entries, sa->n_entries);
	if (w->in_stream)
		FUZZ_CHECK(w->entry == w->req->streams[w->stream - 1]->n_entries,
		           "stream %zu: entries missing", w->stream - 1);
	w->in_stream = true;
	w->entry = 0;
	w->stream++;
	return 0;
}

static int check_entry(void *ctx, int64_t ts_ns, const char *line, size_t line_len,
                       const struct lf_push_sm_view *sm, size_t n_sm, struct lf_error *err)
{
	(void)err;
	struct walk_check *w = ctx;
	FUZZ_CHECK(line != NULL && (n_sm == 0 || sm != NULL), "NULL view");
	if (!w->req)
		return 0;
	FUZZ_CHECK(w->in_stream, "entry before any stream");
	size_t si = w->stream - 1;
	const Logproto__StreamAdapter *sa = w->req->streams[si];
	FUZZ_CHECK(w->entry < sa->n_entries, "stream %zu: extra entry", si);
	const Logproto__EntryAdapter *ea = sa->entries[w->entry];
	FUZZ_CHECK(ts_ns == lf_push_ts_ns(ea->timestamp), "entry %zu/%zu: ts %lld vs %lld", si,
	           w->entry, (long long)ts_ns, (long long)lf_push_ts_ns(ea->timestamp));
	FUZZ_CHECK(line_len == ea->line.len &&
	                   (line_len == 0 || memcmp(line, ea->line.data, line_len) == 0),
	           "entry %zu/%zu: line differs", si, w->entry);
	FUZZ_CHECK(n_sm == ea->n_structuredmetadata, "entry %zu/%zu: %zu vs %zu metadata", si,
	           w->entry, n_sm, ea->n_structuredmetadata);
	for (size_t k = 0; k < n_sm; k++) {
		const Logproto__LabelPairAdapter *p = ea->structuredmetadata[k];
		FUZZ_CHECK(same_str(p->name, sm[k].name, sm[k].name_len) &&
		                   same_str(p->value, sm[k].value, sm[k].value_len),
		           "entry %zu/%zu: metadata %zu differs", si, w->entry, k);
	}
	w->entry++;
	return 0;
}

static struct lf_push_decoder *dec;

static void check_walk(const uint8_t *data, size_t size, bool snappy,
                       const Logproto__PushRequest *req)
{
	static const struct lf_push_visitor v = {check_stream, check_entry};
	struct walk_check w = {req, 0, 0, false};
	struct lf_error err;
	if (!dec)
		dec = lf_push_decoder_new();
	FUZZ_CHECK(dec, "out of memory");
	err.msg[0] = '\0';
	int rc = snappy ? lf_push_walk(dec, data, size, MAX_DECODED, &v, &w, &err)
	                : lf_push_walk_raw(dec, data, size, &v, &w, &err);
	if (!req) {
		FUZZ_CHECK(rc == -1, "walker accepts what protobuf-c rejects (%s)",
		           snappy ? "snappy" : "raw");
		FUZZ_CHECK(err.msg[0] != '\0', "walk failed without a message");
		return;
	}
	FUZZ_CHECK(rc == 0, "walker rejects what protobuf-c accepts (%s): %s",
	           snappy ? "snappy" : "raw", err.msg);
	FUZZ_CHECK(w.stream == req->n_streams, "walker saw %zu of %zu streams", w.stream,
	           req->n_streams);
	if (w.stream)
		FUZZ_CHECK(w.entry == req->streams[w.stream - 1]->n_entries,
		           "last stream: entries missing");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Logproto__PushRequest *req = NULL;
	struct lf_error err;
	if (lf_push_decode(data, size, MAX_DECODED, &req, &err) == 0) {
		check_walk(data, size, true, req);
		roundtrip(req);
		lf_push_request_free(req);
	} else {
		FUZZ_CHECK(err.msg[0] != '\0', "decode failed without a message");
		check_walk(data, size, true, NULL);
	}
	req = NULL;
	if (lf_push_decode_raw(data, size, &req, &err) == 0) {
		check_walk(data, size, false, req);
		roundtrip(req);
		lf_push_request_free(req);
	} else {
		check_walk(data, size, false, NULL);
	}
	return 0;
}
