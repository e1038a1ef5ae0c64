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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip),
	        cmocka_unit_test(test_bad_inputs),
	        cmocka_unit_test(test_ts_ns_saturates),
	        cmocka_unit_test(test_encode_stream_without_entries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
