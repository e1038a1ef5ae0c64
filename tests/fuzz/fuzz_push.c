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
 */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Logproto__PushRequest *req = NULL;
	struct lf_error err;
	if (lf_push_decode(data, size, MAX_DECODED, &req, &err) == 0) {
		roundtrip(req);
		lf_push_request_free(req);
	} else {
		FUZZ_CHECK(err.msg[0] != '\0', "decode failed without a message");
	}
	req = NULL;
	if (lf_push_decode_raw(data, size, &req, &err) == 0) {
		roundtrip(req);
		lf_push_request_free(req);
	}
	return 0;
}
