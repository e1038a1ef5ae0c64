/* test_ingest.c — push body decoding and Loki's validation rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "config.h"
#include "ingest.h"
#include "push.h"
#include "timeutil.h"

static struct lf_store_config cfg;

static int setup(void **state)
{
	(void)state;
	return lf_store_config_defaults(&cfg);
}

static int teardown(void **state)
{
	(void)state;
	lf_store_config_free(&cfg);
	return 0;
}

struct reasons {
	char last[64];
	uint64_t lines;
};

static void on_discard(void *ctx, const char *reason, uint64_t lines, uint64_t bytes)
{
	(void)bytes;
	struct reasons *r = ctx;
	snprintf(r->last, sizeof(r->last), "%s", reason);
	r->lines += lines;
}

/* issue 17: reject_old_samples_max_age / creation_grace_period at the int64
 * limit neither overflow nor reject good entries; extreme timestamps are
 * judged without overflow */
static void test_validation_extreme_limits(void **state)
{
	(void)state;
	struct lf_store_limits saved = cfg.limits;
	cfg.limits.reject_old_samples = true;
	cfg.limits.reject_old_samples_max_age = INT64_MAX;
	cfg.limits.creation_grace_period = INT64_MAX;
	int64_t now = lf_now_ns();
	struct lf_push_entry e1[] = {{now, "now", 3, NULL, 0},
	                             {INT64_MAX, "far future", 10, NULL, 0},
	                             {1, "1970", 4, NULL, 0}};
	struct lf_push_stream ss[] = {{"{a=\"1\"}", e1, 3}};
	struct lf_push_encoder *enc = lf_push_encoder_new();
	struct lf_buf body = LF_BUF_INIT, errors = LF_BUF_INIT;
	struct lf_error err;
	assert_int_equal(lf_push_encode(enc, ss, 1, &body, &err), 0);
	struct lf_ingest_batch b;
	memset(&b, 0, sizeof(b));
	assert_int_equal(lf_ingest_decode(body.data, body.len, "application/x-protobuf", NULL,
	                                  1 << 20, &b, &err),
	                 0);
	struct reasons r = {{0}, 0};
	struct lf_ingest_ctx ic = {&cfg, now, on_discard, &r};
	assert_int_equal(lf_ingest_validate(&ic, &b, &errors), 0);
	assert_int_equal(b.n_entries, 3);
	/* and the other extreme: a negative "now" far back */
	lf_ingest_batch_reset(&b, 0);
	assert_int_equal(lf_ingest_decode(body.data, body.len, "application/x-protobuf", NULL,
	                                  1 << 20, &b, &err),
	                 0);
	cfg.limits.reject_old_samples_max_age = 1;
	cfg.limits.creation_grace_period = 1;
	struct lf_ingest_ctx ic2 = {&cfg, INT64_MIN + 1, on_discard, &r};
	lf_ingest_validate(&ic2, &b, &errors);
	cfg.limits = saved;
	lf_ingest_batch_free(&b);
	lf_buf_free(&body);
	lf_buf_free(&errors);
	lf_push_encoder_free(enc);
}

static void test_proto_roundtrip_and_validation(void **state)
{
	(void)state;
	int64_t now = lf_now_ns();
	struct lf_push_kv sm = {"trace_id", "t1"};
	struct lf_push_entry e1[] = {{now, "ok line", 7, &sm, 1}, {0, "too old", 7, NULL, 0}};
	struct lf_push_entry e2[] = {{now, "x", 1, NULL, 0}};
	struct lf_push_stream ss[] = {{"{zz=\"1\", aa=\"2\"}", e1, 2}, {"{bad-name=\"x\"}", e2, 1}};
	struct lf_push_encoder *enc = lf_push_encoder_new();
	struct lf_buf body = LF_BUF_INIT, errors = LF_BUF_INIT;
	struct lf_error err;
	assert_int_equal(lf_push_encode(enc, ss, 2, &body, &err), 0);
	struct lf_ingest_batch b;
	memset(&b, 0, sizeof(b));
	assert_int_equal(lf_ingest_decode(body.data, body.len, "application/x-protobuf", NULL,
	                                  1 << 20, &b, &err),
	                 0);
	assert_int_equal(b.n_streams, 2);
	assert_int_equal(b.n_entries, 3);
	struct reasons r = {{0}, 0};
	struct lf_ingest_ctx ic = {&cfg, now, on_discard, &r};
	assert_int_equal(lf_ingest_validate(&ic, &b, &errors), 2);
	assert_int_equal(r.lines, 2);
	assert_int_equal(b.n_streams, 1);
	assert_int_equal(b.n_entries, 1);
	assert_string_equal(b.streams[0].key.data, "{aa=\"2\", zz=\"1\"}");
	assert_int_equal(b.entries[0].ts, now);
	assert_int_equal(b.entries[0].n_sm, 1);
	assert_memory_equal(b.sm[b.entries[0].sm_first].value, "t1", 2);
	assert_int_equal(b.bytes, 7 + 8 + 2);
	assert_non_null(strstr(errors.data, "has timestamp too old: 1970-01-01T00:00:00Z"));
	assert_non_null(strstr(errors.data, "bad-name"));
	lf_ingest_batch_free(&b);
	lf_buf_free(&errors);
	lf_buf_free(&body);
	lf_push_encoder_free(enc);
}

static size_t validate_json(const char *json, struct lf_buf *errors, struct reasons *r)
{
	struct lf_ingest_batch b;
	memset(&b, 0, sizeof(b));
	struct lf_error err;
	assert_int_equal(
	        lf_ingest_decode(json, strlen(json), "application/json", NULL, 1 << 20, &b, &err),
	        0);
	struct lf_ingest_ctx ic = {&cfg, lf_now_ns(), on_discard, r};
	lf_buf_reset(errors);
	size_t removed = lf_ingest_validate(&ic, &b, errors);
	lf_ingest_batch_free(&b);
	return removed;
}

static void test_limits_messages(void **state)
{
	(void)state;
	char json[4096];
	struct lf_buf errors = LF_BUF_INIT;
	struct reasons r = {{0}, 0};
	int64_t now = lf_now_ns();

	snprintf(json, sizeof(json),
	         "{\"streams\":[{\"stream\":{\"job\":\"a\"},\"values\":[[\"%lld\",\"x\"]]}]}",
	         (long long)(now + 3600 * LF_NS_PER_SEC));
	assert_int_equal(validate_json(json, &errors, &r), 1);
	assert_string_equal(r.last, "too_far_in_future");
	assert_non_null(
	        strstr(errors.data, "entry for stream '{job=\"a\"}' has timestamp too new"));

	/* 16 labels > 15 */
	char labels[1024] = "";
	for (int i = 0; i < 16; i++) {
		char one[32];
		snprintf(one, sizeof(one), "%s\"l%d\":\"v\"", i ? "," : "", i);
		strcat(labels, one);
	}
	snprintf(json, sizeof(json),
	         "{\"streams\":[{\"stream\":{%s},\"values\":[[\"%lld\",\"x\"]]}]}", labels,
	         (long long)now);
	assert_int_equal(validate_json(json, &errors, &r), 1);
	assert_string_equal(r.last, "max_label_names_per_series");
	assert_non_null(strstr(errors.data, "has 16 label names; limit 15"));

	/* line too long, with truncation off and on */
	cfg.limits.max_line_size = 4;
	snprintf(json, sizeof(json),
	         "{\"streams\":[{\"stream\":{\"job\":\"a\"},\"values\":[[\"%lld\",\"12345\"]]}]}",
	         (long long)now);
	assert_int_equal(validate_json(json, &errors, &r), 1);
	assert_non_null(strstr(errors.data,
	                       "max entry size '4' bytes exceeded for stream '{job=\"a\"}' while "
	                       "adding an entry with length '5' bytes"));
	cfg.limits.max_line_size_truncate = true;
	assert_int_equal(validate_json(json, &errors, &r), 0);
	cfg.limits.max_line_size_truncate = false;
	cfg.limits.max_line_size = 256000;

	/* label value too long */
	cfg.limits.max_label_value_length = 3;
	snprintf(json, sizeof(json),
	         "{\"streams\":[{\"stream\":{\"job\":\"abcd\"},\"values\":[[\"%lld\",\"x\"]]}]}",
	         (long long)now);
	assert_int_equal(validate_json(json, &errors, &r), 1);
	assert_string_equal(r.last, "label_value_too_long");
	assert_non_null(strstr(errors.data, "has label value too long: 'abcd'"));
	cfg.limits.max_label_value_length = 2048;

	/* structured metadata disallowed */
	cfg.limits.allow_structured_metadata = false;
	snprintf(json, sizeof(json),
	         "{\"streams\":[{\"stream\":{\"job\":\"a\"},\"values\":[[\"%lld\",\"x\",{\"k\":"
	         "\"v\"}]]}]}",
	         (long long)now);
	assert_int_equal(validate_json(json, &errors, &r), 1);
	assert_string_equal(r.last, "disallowed_structured_metadata");
	cfg.limits.allow_structured_metadata = true;
	assert_int_equal(validate_json(json, &errors, &r), 0);
	lf_buf_free(&errors);
}

static void test_decode_errors(void **state)
{
	(void)state;
	struct lf_ingest_batch b;
	struct lf_error err;
	memset(&b, 0, sizeof(b));
	/* numeric timestamp */
	const char *j = "{\"streams\":[{\"stream\":{\"a\":\"b\"},\"values\":[[123,\"x\"]]}]}";
	assert_int_equal(
	        lf_ingest_decode(j, strlen(j), "application/json", NULL, 1 << 20, &b, &err), 400);
	assert_non_null(strstr(err.msg, "timestamp must be a string"));
	lf_ingest_batch_free(&b);
	/* snappy header claiming more than the cap */
	unsigned char big[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
	assert_int_equal(lf_ingest_decode((char *)big, sizeof(big), NULL, NULL, 1 << 20, &b, &err),
	                 413);
	lf_ingest_batch_free(&b);
	/* gzip bomb */
	size_t raw_len = 4 << 20;
	char *raw = calloc(1, raw_len);
	uLongf clen = compressBound(raw_len);
	unsigned char *comp = malloc(clen);
	assert_int_equal(compress2(comp, &clen, (unsigned char *)raw, raw_len, 9), Z_OK);
	assert_int_equal(
	        lf_ingest_decode((char *)comp, clen, "application/json", "gzip", 1 << 20, &b, &err),
	        413);
	lf_ingest_batch_free(&b);
	free(raw);
	free(comp);
	/* unknown encoding */
	assert_int_equal(lf_ingest_decode("x", 1, "application/json", "br", 1 << 20, &b, &err),
	                 415);
	lf_ingest_batch_free(&b);
	/* empty */
	assert_int_equal(lf_ingest_decode("", 0, NULL, NULL, 1 << 20, &b, &err), 400);
	lf_ingest_batch_free(&b);
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(lf_utf8_valid("plain ascii text that is long enough", 36));
	assert_true(lf_utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
	assert_false(lf_utf8_valid("\xff", 1));
	assert_false(lf_utf8_valid("ab\xc3", 3));            /* truncated */
	assert_false(lf_utf8_valid("\xc0\xaf", 2));          /* overlong */
	assert_false(lf_utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
	assert_false(lf_utf8_valid("12345678\xe2\x82", 10)); /* after the fast path */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_proto_roundtrip_and_validation),
	        cmocka_unit_test(test_validation_extreme_limits),
	        cmocka_unit_test(test_limits_messages),
	        cmocka_unit_test(test_decode_errors),
	        cmocka_unit_test(test_utf8),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
