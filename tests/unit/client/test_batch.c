/* Tests of agent/client/batch.c: stream grouping, batch size accounting,
 * reuse, and the encoding round trip through lf_push_decode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "batch.h"

static int origin_tag;

static struct lf_cbatch_item item(const char *key, const char *line, int64_t ts, uint64_t seq,
                                  const char *sm, size_t sm_len, uint32_t n_sm)
{
	return (struct lf_cbatch_item){
	        .ts_ns = ts,
	        .key = key,
	        .key_len = strlen(key),
	        .line = line,
	        .line_len = strlen(line),
	        .sm = sm,
	        .sm_len = sm_len,
	        .n_sm = n_sm,
	        .origin = &origin_tag,
	        .seq_first = seq,
	        .seq_last = seq,
	        .qbytes = 100,
	        .enq_mono_ns = 1000 + (int64_t)seq,
	};
}

static Logproto__PushRequest *encode_decode(struct lf_cbatch *b)
{
	struct lf_push_encoder *enc = lf_push_encoder_new();
	struct lf_cbatch_scratch sc = {0};
	struct lf_buf out = LF_BUF_INIT;
	struct lf_error err;
	assert_int_equal(lf_cbatch_encode(b, enc, &sc, &out, &err), 0);
	Logproto__PushRequest *req = NULL;
	int rc = lf_push_decode(out.data, out.len, 64 << 20, &req, &err);
	if (rc)
		fail_msg("decode: %s", err.msg);
	lf_buf_free(&out);
	lf_cbatch_scratch_free(&sc);
	lf_push_encoder_free(enc);
	return req;
}

static void assert_line(const Logproto__EntryAdapter *e, const char *line, int64_t ts)
{
	assert_int_equal(e->line.len, strlen(line));
	assert_memory_equal(e->line.data, line, strlen(line));
	assert_int_equal(lf_push_ts_ns(e->timestamp), ts);
}

static void test_grouping_and_order(void **state)
{
	(void)state;
	struct lf_cbatch b;
	lf_cbatch_init(&b);
	const char *A = "{job=\"a\"}", *B = "{job=\"b\", x=\"y\"}", *C = "{job=\"c\"}";
	static const char sm[] = "trace_id\0abc\0span\0s1\0";
	struct lf_cbatch_item its[] = {
	        item(A, "a1", 10, 1, NULL, 0, 0), item(B, "b1", 20, 2, sm, sizeof(sm) - 1, 2),
	        item(A, "a2", 5, 3, NULL, 0, 0), /* older ts: order is enqueue order */
	        item(C, "c1", 30, 4, NULL, 0, 0), item(B, "b2", 40, 5, NULL, 0, 0),
	};
	for (size_t i = 0; i < 5; i++) {
		bool want_new = i == 0 || i == 1 || i == 3;
		assert_int_equal(lf_cbatch_is_new_stream(&b, &its[i]), want_new);
		assert_int_equal(lf_cbatch_add(&b, &its[i]), 0);
	}
	assert_int_equal(b.n, 5);
	assert_int_equal(b.ns, 3);
	assert_int_equal(b.qbytes, 500);
	assert_int_equal(b.oldest_mono, 1001);
	/* line bytes 10 + metadata "trace_id" "abc" "span" "s1" = 8+3+4+2 */
	assert_int_equal(b.bytes, 10 + 17);

	Logproto__PushRequest *req = encode_decode(&b);
	assert_int_equal(req->n_streams, 3);
	assert_string_equal(req->streams[0]->labels, A);
	assert_string_equal(req->streams[1]->labels, B);
	assert_string_equal(req->streams[2]->labels, C);
	assert_int_equal(req->streams[0]->n_entries, 2);
	assert_line(req->streams[0]->entries[0], "a1", 10);
	assert_line(req->streams[0]->entries[1], "a2", 5);
	assert_int_equal(req->streams[1]->n_entries, 2);
	const Logproto__EntryAdapter *b1 = req->streams[1]->entries[0];
	assert_line(b1, "b1", 20);
	assert_int_equal(b1->n_structuredmetadata, 2);
	assert_string_equal(b1->structuredmetadata[0]->name, "trace_id");
	assert_string_equal(b1->structuredmetadata[0]->value, "abc");
	assert_string_equal(b1->structuredmetadata[1]->name, "span");
	assert_string_equal(b1->structuredmetadata[1]->value, "s1");
	assert_line(req->streams[1]->entries[1], "b2", 40);
	assert_int_equal(req->streams[1]->entries[1]->n_structuredmetadata, 0);
	assert_int_equal(req->streams[2]->n_entries, 1);
	assert_line(req->streams[2]->entries[0], "c1", 30);
	lf_push_request_free(req);

	/* Entries keep their ack bookkeeping in enqueue order. */
	for (size_t i = 0; i < 5; i++) {
		assert_ptr_equal(b.e[i].origin, &origin_tag);
		assert_int_equal(b.e[i].seq_first, i + 1);
	}
	lf_cbatch_free(&b);
}

static void test_reset_reuses(void **state)
{
	(void)state;
	struct lf_cbatch b;
	lf_cbatch_init(&b);
	struct lf_cbatch_item x = item("{a=\"1\"}", "first", 1, 1, NULL, 0, 0);
	assert_int_equal(lf_cbatch_add(&b, &x), 0);
	char *data_before = b.data.data;
	lf_cbatch_reset(&b);
	assert_int_equal(b.n, 0);
	assert_int_equal(b.ns, 0);
	assert_int_equal(b.bytes, 0);
	struct lf_cbatch_item y = item("{a=\"2\"}", "second", 2, 2, NULL, 0, 0);
	assert_true(lf_cbatch_is_new_stream(&b, &x)); /* old stream forgotten */
	assert_int_equal(lf_cbatch_add(&b, &y), 0);
	assert_ptr_equal(b.data.data, data_before); /* memory kept */
	Logproto__PushRequest *req = encode_decode(&b);
	assert_int_equal(req->n_streams, 1);
	assert_string_equal(req->streams[0]->labels, "{a=\"2\"}");
	assert_int_equal(req->streams[0]->n_entries, 1);
	assert_line(req->streams[0]->entries[0], "second", 2);
	lf_push_request_free(req);
	lf_cbatch_free(&b);
}

/* More streams than the initial hash table holds: grouping stays exact. */
static void test_many_streams(void **state)
{
	(void)state;
	struct lf_cbatch b;
	lf_cbatch_init(&b);
	char keys[300][32], lines[900][16];
	for (int i = 0; i < 300; i++)
		snprintf(keys[i], sizeof(keys[i]), "{n=\"%d\"}", i);
	for (int r = 0; r < 3; r++) {
		for (int i = 0; i < 300; i++) {
			snprintf(lines[r * 300 + i], sizeof(lines[0]), "%d-%d", i, r);
			struct lf_cbatch_item it =
			        item(keys[i], lines[r * 300 + i], r * 1000 + i, 0, NULL, 0, 0);
			assert_int_equal(lf_cbatch_add(&b, &it), 0);
		}
	}
	assert_int_equal(b.ns, 300);
	Logproto__PushRequest *req = encode_decode(&b);
	assert_int_equal(req->n_streams, 300);
	for (int i = 0; i < 300; i++) {
		assert_string_equal(req->streams[i]->labels, keys[i]);
		assert_int_equal(req->streams[i]->n_entries, 3);
		for (int r = 0; r < 3; r++) {
			char want[16];
			snprintf(want, sizeof(want), "%d-%d", i, r);
			assert_line(req->streams[i]->entries[r], want, r * 1000 + i);
		}
	}
	lf_push_request_free(req);
	lf_cbatch_free(&b);
}

static void test_item_size(void **state)
{
	(void)state;
	static const char sm[] = "k\0vvv\0";
	struct lf_cbatch_item it = item("{}", "12345", 0, 0, sm, sizeof(sm) - 1, 1);
	assert_int_equal(lf_cbatch_item_size(&it), 5 + 1 + 3);
	struct lf_cbatch_item empty_line = item("{}", "", 0, 0, NULL, 0, 0);
	assert_int_equal(lf_cbatch_item_size(&empty_line), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_grouping_and_order),
	        cmocka_unit_test(test_reset_reuses),
	        cmocka_unit_test(test_many_streams),
	        cmocka_unit_test(test_item_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
