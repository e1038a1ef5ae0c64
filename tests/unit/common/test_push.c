#include <setjmp.h>
#include <snappy-c.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka needs the headers above */
#include <cmocka.h>

#include "push.h"

static void test_roundtrip(void **state)
{
	(void)state;
	const char line_with_nul[] = "a\0b\xff";
	struct lf_push_kv sm[] = {{"trace_id", "abc"}};
	struct lf_push_entry e1[] = {
	        {INT64_C(1795290190123456789), "hello", 5, NULL, 0},
	        {INT64_C(1795290190123456790), line_with_nul, sizeof line_with_nul - 1, sm, 1},
	};
	struct lf_push_entry e2[] = {{-1, "before epoch", 12, NULL, 0}};
	struct lf_push_stream streams[] = {
	        {"{app=\"a\"}", e1, 2},
	        {"{app=\"b\", ns=\"x\"}", e2, 1},
	};
	struct lf_push_encoder *enc = lf_push_encoder_new();
	struct lf_buf out = LF_BUF_INIT;
	struct lf_error err;
	for (int round = 0; round < 2; round++) { /* encoder reuse */
		assert_int_equal(lf_push_encode(enc, streams, 2, &out, &err), 0);
		Logproto__PushRequest *req = NULL;
		assert_int_equal(lf_push_decode(out.data, out.len, 1 << 20, &req, &err), 0);
		assert_int_equal(req->n_streams, 2);
		assert_string_equal(req->streams[0]->labels, "{app=\"a\"}");
		assert_int_equal(req->streams[0]->n_entries, 2);
		Logproto__EntryAdapter *a = req->streams[0]->entries[0];
		assert_int_equal(lf_push_ts_ns(a->timestamp), INT64_C(1795290190123456789));
		assert_int_equal(a->line.len, 5);
		assert_memory_equal(a->line.data, "hello", 5);
		Logproto__EntryAdapter *b = req->streams[0]->entries[1];
		assert_int_equal(b->line.len, sizeof line_with_nul - 1);
		assert_memory_equal(b->line.data, line_with_nul, sizeof line_with_nul - 1);
		assert_int_equal(b->n_structuredmetadata, 1);
		assert_string_equal(b->structuredmetadata[0]->name, "trace_id");
		assert_string_equal(b->structuredmetadata[0]->value, "abc");
		Logproto__EntryAdapter *c = req->streams[1]->entries[0];
		assert_int_equal(lf_push_ts_ns(c->timestamp), -1);
		assert_true(c->timestamp->nanos >= 0); /* Timestamp normalisation */
		lf_push_request_free(req);
	}
	lf_buf_free(&out);
	lf_push_encoder_free(enc);
}

static void test_bad_inputs(void **state)
{
	(void)state;
	Logproto__PushRequest *req = NULL;
	struct lf_error err;
	assert_int_equal(lf_push_decode("", 0, 1 << 20, &req, &err), -1);
	assert_non_null(strstr(err.msg, "empty"));
	/* A snappy header claiming ~4 GiB is refused before allocating. */
	const unsigned char lying[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
	assert_int_equal(lf_push_decode(lying, sizeof lying, 1 << 20, &req, &err), -1);
	assert_non_null(strstr(err.msg, "over the limit"));
	/* A small claimed length with garbage data fails as corrupt. */
	const unsigned char garbage[] = {0x0a, 0xff, 0xff, 0xff};
	assert_int_equal(lf_push_decode(garbage, sizeof garbage, 1 << 20, &req, &err), -1);
	assert_non_null(strstr(err.msg, "snappy"));
	/* Valid snappy around invalid protobuf. */
	const char notproto[] = "\xff\xff\xff\xff";
	char comp[64];
	size_t clen = sizeof comp;
	assert_int_equal(snappy_compress(notproto, 4, comp, &clen), SNAPPY_OK);
	assert_int_equal(lf_push_decode(comp, clen, 1 << 20, &req, &err), -1);
	assert_non_null(strstr(err.msg, "malformed protobuf"));
}

/* Regression (fuzz_push): seconds from the wire times 1e9 overflowed int64
 * (undefined behaviour); the conversion now saturates. */
static void test_ts_ns_saturates(void **state)
{
	(void)state;
	Logproto__Timestamp ts = LOGPROTO__TIMESTAMP__INIT;
	ts.seconds = INT64_C(10353688782);
	assert_int_equal(lf_push_ts_ns(&ts), INT64_MAX);
	ts.seconds = INT64_MAX;
	ts.nanos = -1;
	assert_int_equal(lf_push_ts_ns(&ts), INT64_MAX);
	ts.seconds = -INT64_C(10353688782);
	ts.nanos = 5;
	assert_int_equal(lf_push_ts_ns(&ts), INT64_MIN);
	/* In range, including the last representable second and nanos that
	 * are not normalised, the value is exact. */
	ts.seconds = INT64_C(9223372036);
	ts.nanos = 854775807;
	assert_int_equal(lf_push_ts_ns(&ts), INT64_MAX);
	ts.seconds = INT64_C(9223372036);
	ts.nanos = 854775808;
	assert_int_equal(lf_push_ts_ns(&ts), INT64_MAX); /* one past: saturated */
	ts.seconds = 2;
	ts.nanos = -1;
	assert_int_equal(lf_push_ts_ns(&ts), 1999999999);
	assert_int_equal(lf_push_ts_ns(NULL), 0);
}

/* Regression (fuzz_push): a stream without entries, encoded by a fresh
 * encoder, did pointer arithmetic on NULL (UBSan: "applying zero offset to
 * null pointer"). It must encode and decode as an empty stream. */
static void test_encode_stream_without_entries(void **state)
{
	(void)state;
	struct lf_push_encoder *enc = lf_push_encoder_new();
	assert_non_null(enc);
	const struct lf_push_stream s[] = {{"{a=\"b\"}", NULL, 0}, {"{c=\"d\"}", NULL, 0}};
	struct lf_buf out = LF_BUF_INIT;
	struct lf_error err;
	assert_int_equal(lf_push_encode(enc, s, 2, &out, &err), 0);
	Logproto__PushRequest *req = NULL;
	assert_int_equal(lf_push_decode(out.data, out.len, 1 << 20, &req, &err), 0);
	assert_int_equal(req->n_streams, 2);
	assert_string_equal(req->streams[0]->labels, "{a=\"b\"}");
	assert_int_equal(req->streams[0]->n_entries, 0);
	assert_string_equal(req->streams[1]->labels, "{c=\"d\"}");
	assert_int_equal(req->streams[1]->n_entries, 0);
	lf_push_request_free(req);
	lf_buf_free(&out);
	lf_push_encoder_free(enc);
}

/* ---- zero-copy walker ---- */

struct got_entry {
	int64_t ts;
	char line[64];
	size_t line_len;
	size_t n_sm;
	char sm[4][2][32];
};

struct got {
	size_t n_streams, n_entries;
	char labels[8][64];
	size_t stream_entries[8]; /* n_entries as announced */
	size_t stream_of[16];
	struct got_entry e[16];
	int fail_after; /* entry callback fails once this many were seen (0: never) */
};

static int got_stream(void *ctx, const char *labels, size_t labels_len, size_t n_entries,
                      struct lf_error *err)
{
	(void)err;
	struct got *g = ctx;
	assert_true(g->n_streams < 8 && labels_len < 64);
	memcpy(g->labels[g->n_streams], labels, labels_len);
	g->labels[g->n_streams][labels_len] = '\0';
	g->stream_entries[g->n_streams] = n_entries;
	g->n_streams++;
	return 0;
}

static int got_entry(void *ctx, int64_t ts_ns, const char *line, size_t line_len,
                     const struct lf_push_sm_view *sm, size_t n_sm, struct lf_error *err)
{
	struct got *g = ctx;
	if (g->fail_after && g->n_entries == (size_t)g->fail_after)
		return lf_err(err, "stop at entry %zu", g->n_entries);
	assert_true(g->n_entries < 16 && line_len < 64 && n_sm <= 4);
	struct got_entry *e = &g->e[g->n_entries];
	e->ts = ts_ns;
	memcpy(e->line, line, line_len);
	e->line_len = line_len;
	e->n_sm = n_sm;
	for (size_t k = 0; k < n_sm; k++) {
		assert_true(sm[k].name_len < 32 && sm[k].value_len < 32);
		memcpy(e->sm[k][0], sm[k].name, sm[k].name_len);
		e->sm[k][0][sm[k].name_len] = '\0';
		memcpy(e->sm[k][1], sm[k].value, sm[k].value_len);
		e->sm[k][1][sm[k].value_len] = '\0';
	}
	g->stream_of[g->n_entries] = g->n_streams - 1;
	g->n_entries++;
	return 0;
}

static const struct lf_push_visitor got_visitor = {got_stream, got_entry};

static void test_walk_roundtrip(void **state)
{
	(void)state;
	const char line_with_nul[] = "a\0b\xff";
	struct lf_push_kv sm[] = {{"trace_id", "abc"}, {"user", ""}};
	struct lf_push_entry e1[] = {
	        {INT64_C(1795290190123456789), "hello", 5, NULL, 0},
	        {INT64_C(1795290190123456790), line_with_nul, sizeof line_with_nul - 1, sm, 2},
	};
	struct lf_push_entry e2[] = {{-1, "before epoch", 12, NULL, 0}};
	struct lf_push_stream streams[] = {
	        {"{app=\"a\"}", e1, 2},
	        {"{}", NULL, 0},
	        {"{app=\"b\", ns=\"x\"}", e2, 1},
	};
	struct lf_push_encoder *enc = lf_push_encoder_new();
	struct lf_push_decoder *dec = lf_push_decoder_new();
	assert_non_null(dec);
	struct lf_buf out = LF_BUF_INIT;
	struct lf_error err;
	assert_int_equal(lf_push_encode(enc, streams, 3, &out, &err), 0);
	for (int round = 0; round < 2; round++) { /* decoder reuse */
		struct got g = {0};
		assert_int_equal(
		        lf_push_walk(dec, out.data, out.len, 1 << 20, &got_visitor, &g, &err), 0);
		assert_int_equal(g.n_streams, 3);
		assert_string_equal(g.labels[0], "{app=\"a\"}");
		assert_string_equal(g.labels[1], "{}");
		assert_string_equal(g.labels[2], "{app=\"b\", ns=\"x\"}");
		assert_int_equal(g.stream_entries[0], 2);
		assert_int_equal(g.stream_entries[1], 0);
		assert_int_equal(g.stream_entries[2], 1);
		assert_int_equal(g.n_entries, 3);
		assert_int_equal(g.e[0].ts, INT64_C(1795290190123456789));
		assert_int_equal(g.e[0].line_len, 5);
		assert_memory_equal(g.e[0].line, "hello", 5);
		assert_int_equal(g.e[0].n_sm, 0);
		assert_int_equal(g.e[1].line_len, sizeof line_with_nul - 1);
		assert_memory_equal(g.e[1].line, line_with_nul, sizeof line_with_nul - 1);
		assert_int_equal(g.e[1].n_sm, 2);
		assert_string_equal(g.e[1].sm[0][0], "trace_id");
		assert_string_equal(g.e[1].sm[0][1], "abc");
		assert_string_equal(g.e[1].sm[1][0], "user");
		assert_string_equal(g.e[1].sm[1][1], "");
		assert_int_equal(g.stream_of[2], 2);
		assert_int_equal(g.e[2].ts, -1);
		assert_int_equal(g.e[2].line_len, 12);
	}
	assert_true(lf_push_decoder_retained(dec) >= out.len);
	lf_buf_free(&out);
	lf_push_encoder_free(enc);
	lf_push_decoder_free(dec);
}

/* Tiny protobuf writer for hand-made wire forms. */
static void pb_varint(struct lf_buf *b, uint64_t v)
{
	do {
		unsigned char c = v & 0x7f;
		v >>= 7;
		if (v)
			c |= 0x80;
		assert_int_equal(lf_buf_putc(b, (char)c), 0);
	} while (v);
}

static void pb_bytes(struct lf_buf *b, unsigned field, const void *p, size_t n)
{
	pb_varint(b, (uint64_t)field << 3 | 2);
	pb_varint(b, n);
	assert_int_equal(lf_buf_append(b, p, n), 0);
}

static void pb_sub(struct lf_buf *b, unsigned field, const struct lf_buf *sub)
{
	pb_bytes(b, field, sub->data ? sub->data : "", sub->len);
}

static void pb_uint(struct lf_buf *b, unsigned field, uint64_t v)
{
	pb_varint(b, (uint64_t)field << 3);
	pb_varint(b, v);
}

/* The walker and protobuf-c must agree on accepting proto. */
static int walk_and_compare(const struct lf_buf *proto, struct got *g, struct lf_error *err)
{
	struct lf_push_decoder *dec = lf_push_decoder_new();
	assert_non_null(dec);
	int rc = lf_push_walk_raw(dec, proto->data ? proto->data : "", proto->len, &got_visitor, g,
	                          err);
	lf_push_decoder_free(dec);
	Logproto__PushRequest *req = NULL;
	struct lf_error perr;
	int prc = lf_push_decode_raw(proto->data ? proto->data : "", proto->len, &req, &perr);
	lf_push_request_free(req);
	assert_int_equal(rc, prc);
	return rc;
}

/* Field order, repetition and unknown fields follow protobuf's rules as
 * protobuf-c applies them. */
static void test_walk_wire_rules(void **state)
{
	(void)state;
	struct lf_buf ts1 = LF_BUF_INIT, ts2 = LF_BUF_INIT, pair = LF_BUF_INIT, entry = LF_BUF_INIT,
	              stream = LF_BUF_INIT, req = LF_BUF_INIT;
	pb_uint(&ts1, 1, 5);
	pb_uint(&ts1, 2, 7);
	pb_uint(&ts2, 2, 3); /* a later Timestamp replaces the whole earlier one */
	pb_bytes(&pair, 1, "k", 1);
	pb_bytes(&pair, 2, "old", 3);
	pb_bytes(&pair, 2, "v", 1); /* last value wins */
	pb_uint(&pair, 9, 1);       /* unknown varint */
	pb_bytes(&entry, 2, "first", 5);
	pb_sub(&entry, 3, &pair);
	pb_sub(&entry, 1, &ts1);
	pb_bytes(&entry, 2, "line", 4); /* last line wins */
	pb_sub(&entry, 4, &pair);       /* parsed: checked, not reported */
	pb_sub(&entry, 1, &ts2);
	assert_int_equal(lf_buf_append(&entry, "\x2d\x01\x02\x03\x04", 5), 0); /* field 5, 32-bit */
	assert_int_equal(lf_buf_append(&entry,
	                               "\x31"
	                               "12345678",
	                               9),
	                 0); /* field 6, 64-bit */
	pb_bytes(&stream, 1, "{a=\"old\"}", 9);
	pb_sub(&stream, 2, &entry);
	pb_uint(&stream, 3, 12345);           /* hash */
	pb_bytes(&stream, 7, "unknown", 7);   /* unknown length-delimited */
	pb_bytes(&stream, 1, "{a=\"b\"}", 7); /* labels after the entries: still apply */
	pb_sub(&stream, 2, &entry);
	pb_sub(&req, 1, &stream);
	pb_bytes(&req, 2, "fmt", 3);
	/* field number 0 in a two-byte tag: protobuf-c skips it as unknown */
	assert_int_equal(lf_buf_append(&req, "\x80\x00\x01", 3), 0);
	struct got g = {0};
	struct lf_error err;
	assert_int_equal(walk_and_compare(&req, &g, &err), 0);
	assert_int_equal(g.n_streams, 1);
	assert_string_equal(g.labels[0], "{a=\"b\"}");
	assert_int_equal(g.stream_entries[0], 2);
	assert_int_equal(g.n_entries, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(g.e[i].ts, 3);
		assert_int_equal(g.e[i].line_len, 4);
		assert_memory_equal(g.e[i].line, "line", 4);
		assert_int_equal(g.e[i].n_sm, 1);
		assert_string_equal(g.e[i].sm[0][0], "k");
		assert_string_equal(g.e[i].sm[0][1], "v");
	}
	/* Empty input: no streams, accepted as protobuf-c accepts it. */
	struct lf_buf empty = LF_BUF_INIT;
	struct got g0 = {0};
	assert_int_equal(walk_and_compare(&empty, &g0, &err), 0);
	assert_int_equal(g0.n_streams, 0);

	/* Every prefix: the walker agrees with protobuf-c and never reads out
	 * of bounds (each prefix is copied to an exact-size buffer for ASan). */
	for (size_t n = 0; n < req.len; n++) {
		struct lf_buf pre = LF_BUF_INIT;
		assert_int_equal(lf_buf_append(&pre, req.data, n), 0);
		struct got gp = {0};
		int rc = walk_and_compare(&pre, &gp, &err);
		if (rc < 0)
			assert_non_null(strstr(err.msg, "offset"));
		lf_buf_free(&pre);
	}
	lf_buf_free(&ts1);
	lf_buf_free(&ts2);
	lf_buf_free(&pair);
	lf_buf_free(&entry);
	lf_buf_free(&stream);
	lf_buf_free(&req);
}

static void test_walk_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *bytes;
		size_t len;
		const char *msg;
	} bad[] = {
	        {"\x0a\x05\x0a\x01", 4, "claims 5 bytes"},                   /* truncated stream */
	        {"\x0b\x00", 2, "wire type 3"},                              /* start group */
	        {"\x08\x01", 2, "PushRequest.streams at offset 0"},          /* varint streams */
	        {"\x0a\x02\x08\x01", 4, "StreamAdapter.labels at offset 2"}, /* varint labels */
	        {"\x0a\x03\x1a\x01\x00", 5, "StreamAdapter.hash at offset 2"}, /* bytes hash */
	        {"\x0a\x04\x12\x02\x10\x01", 6, "EntryAdapter.line at offset 4"},
	        {"\x0a\x06\x12\x04\x0a\x02\x08\x80", 8, "unterminated varint at offset 7"},
	        {"\x0a\x04\x12\x02\x22\x05", 6, "claims 5 bytes"},                /* parsed */
	        {"\x0a\x06\x12\x04\x1a\x02\x08\x01", 8, "LabelPairAdapter.name"}, /* sm */
	        {"\x80\x80\x80\x80\x80\x01", 6, "bad field tag at offset 0"},     /* 6-byte tag */
	        {"\x0a\x80\x80\x80\x80\x80\x00", 7, "bad length at offset 1"}, /* 6-byte length */
	        {"\x15\x01\x02", 3, "runs past the end"},                      /* short 32-bit */
	        {"\x12\x01", 2, "claims 1 bytes"},                             /* format */
	        {"\x02\x00", 2, "field number 0 at offset 0"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct lf_buf b = LF_BUF_INIT;
		assert_int_equal(lf_buf_append(&b, bad[i].bytes, bad[i].len), 0);
		struct got g = {0};
		struct lf_error err;
		assert_int_equal(walk_and_compare(&b, &g, &err), -1);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, bad[i].msg);
		assert_non_null(strstr(err.msg, "malformed protobuf"));
		lf_buf_free(&b);
	}
	/* Snappy-level errors read as lf_push_decode's. */
	struct lf_push_decoder *dec = lf_push_decoder_new();
	struct got g = {0};
	struct lf_error err;
	assert_int_equal(lf_push_walk(dec, "", 0, 1 << 20, &got_visitor, &g, &err), -1);
	assert_non_null(strstr(err.msg, "empty"));
	const unsigned char lying[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
	assert_int_equal(lf_push_walk(dec, lying, sizeof lying, 1 << 20, &got_visitor, &g, &err),
	                 -1);
	assert_non_null(strstr(err.msg, "over the limit"));
	const unsigned char garbage[] = {0x0a, 0xff, 0xff, 0xff};
	assert_int_equal(
	        lf_push_walk(dec, garbage, sizeof garbage, 1 << 20, &got_visitor, &g, &err), -1);
	assert_non_null(strstr(err.msg, "snappy"));
	lf_push_decoder_free(dec);
}

/* A callback's error stops the walk and is what the caller gets. */
static void test_walk_callback_error(void **state)
{
	(void)state;
	struct lf_push_entry e[] = {
	        {1, "a", 1, NULL, 0}, {2, "b", 1, NULL, 0}, {3, "c", 1, NULL, 0}};
	struct lf_push_stream s[] = {{"{a=\"b\"}", e, 3}};
	struct lf_push_encoder *enc = lf_push_encoder_new();
	struct lf_push_decoder *dec = lf_push_decoder_new();
	struct lf_buf out = LF_BUF_INIT;
	struct lf_error err;
	assert_int_equal(lf_push_encode(enc, s, 1, &out, &err), 0);
	struct got g = {.fail_after = 2};
	assert_int_equal(lf_push_walk(dec, out.data, out.len, 1 << 20, &got_visitor, &g, &err), -1);
	assert_string_equal(err.msg, "stop at entry 2");
	assert_int_equal(g.n_entries, 2);
	lf_buf_free(&out);
	lf_push_encoder_free(enc);
	lf_push_decoder_free(dec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip),
	        cmocka_unit_test(test_bad_inputs),
	        cmocka_unit_test(test_ts_ns_saturates),
	        cmocka_unit_test(test_encode_stream_without_entries),
	        cmocka_unit_test(test_walk_roundtrip),
	        cmocka_unit_test(test_walk_wire_rules),
	        cmocka_unit_test(test_walk_malformed),
	        cmocka_unit_test(test_walk_callback_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
