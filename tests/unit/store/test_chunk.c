/* test_chunk.c — chunk encode/decode, block index, checksums. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chunk.h"

#define N 2000

static struct lf_buf src;
static struct lf_sentry ents[N];

/* Entries with ts 1000 + 3i, line "line i", every 7th with metadata. */
static void make_entries(void)
{
	lf_buf_reset(&src);
	size_t offs[N];
	for (int i = 0; i < N; i++) {
		char line[64];
		int n = snprintf(line, sizeof(line), "line %d with some text", i);
		struct lf_skv kv = {"trace", 5, "abc", 3};
		offs[i] = src.len;
		assert_int_equal(
		        lf_entry_put(&src, 1000 + 3 * i, line, (size_t)n, &kv, i % 7 == 0 ? 1 : 0),
		        0);
	}
	for (int i = 0; i < N; i++) {
		struct lf_rd r = {(const unsigned char *)src.data + offs[i],
		                  (const unsigned char *)src.data + src.len, 0};
		assert_int_equal(lf_entry_next(&r, &ents[i]), 0);
	}
}

static int read_all(struct lf_chunk_reader *rd, int *bad_blocks)
{
	int n = 0;
	int64_t prev = INT64_MIN;
	*bad_blocks = 0;
	for (uint32_t b = 0; b < rd->n_blocks; b++) {
		struct lf_chunk_block_info bi;
		struct lf_error err;
		lf_chunk_block(rd, b, &bi);
		if (lf_chunk_read_block(rd, b, &err) < 0) {
			assert_non_null(strstr(err.msg, "checksum mismatch"));
			(*bad_blocks)++;
			continue;
		}
		struct lf_chunk_iter it;
		lf_chunk_iter_init(&it, rd, &bi);
		struct lf_sentry e;
		int k = 0;
		while (lf_chunk_iter_next(&it, &e) == 1) {
			int i = (int)((e.ts - 1000) / 3);
			assert_int_equal(e.ts, 1000 + 3 * i);
			assert_true(e.ts > prev);
			assert_true(e.ts >= bi.min_ts && e.ts <= bi.max_ts);
			prev = e.ts;
			char want[64];
			int wn = snprintf(want, sizeof(want), "line %d with some text", i);
			assert_int_equal(e.line_len, (size_t)wn);
			assert_memory_equal(e.line, want, (size_t)wn);
			assert_int_equal(e.n_sm, i % 7 == 0 ? 1 : 0);
			k++;
			n++;
		}
		assert_int_equal(k, bi.entries);
	}
	return n;
}

static void test_roundtrip(void **state)
{
	(void)state;
	make_entries();
	struct lf_buf out = LF_BUF_INIT;
	struct lf_chunk_info info;
	struct lf_error err;
	assert_int_equal(lf_chunk_encode("{job=\"x\"}", ents, N, 4096, &out, &info, &err), 0);
	assert_int_equal(info.entries, N);
	assert_int_equal(info.from, 1000);
	assert_int_equal(info.through, 1000 + 3 * (N - 1));
	assert_true(info.blocks > 5);
	assert_true(out.len < src.len); /* snappy did something */
	struct lf_chunk_reader rd;
	assert_int_equal(lf_chunk_open_mem(out.data, out.len, &rd, &err), 0);
	assert_int_equal(rd.n_blocks, info.blocks);
	assert_int_equal(rd.labels_len, 9);
	assert_memory_equal(rd.labels, "{job=\"x\"}", 9);
	int bad;
	assert_int_equal(read_all(&rd, &bad), N);
	assert_int_equal(bad, 0);
	lf_chunk_close(&rd);
	lf_buf_free(&out);
}

static void test_flipped_byte_costs_one_block(void **state)
{
	(void)state;
	make_entries();
	struct lf_buf out = LF_BUF_INIT;
	struct lf_chunk_info info;
	struct lf_error err;
	assert_int_equal(lf_chunk_encode("{job=\"x\"}", ents, N, 4096, &out, &info, &err), 0);
	struct lf_chunk_reader rd;
	assert_int_equal(lf_chunk_open_mem(out.data, out.len, &rd, &err), 0);
	struct lf_chunk_block_info bi;
	lf_chunk_block(&rd, 2, &bi);
	lf_chunk_close(&rd);
	out.data[bi.offset + bi.comp_len / 2] ^= 0x10;
	assert_int_equal(lf_chunk_open_mem(out.data, out.len, &rd, &err), 0);
	int bad;
	int n = read_all(&rd, &bad);
	assert_int_equal(bad, 1);
	assert_int_equal(n, N - (int)bi.entries);
	lf_chunk_close(&rd);
	/* a flipped byte in the block index makes the whole chunk unreadable */
	out.data[out.len - 24 - 5] ^= 0x01;
	assert_int_equal(lf_chunk_open_mem(out.data, out.len, &rd, &err), -1);
	assert_non_null(strstr(err.msg, "index checksum"));
	/* garbage is refused */
	assert_int_equal(lf_chunk_open_mem("nonsense", 8, &rd, &err), -1);
	lf_buf_free(&out);
}

static void test_write_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/lf-chunk-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	make_entries();
	struct lf_buf out = LF_BUF_INIT;
	struct lf_chunk_info info;
	struct lf_error err;
	assert_int_equal(lf_chunk_encode("{a=\"b\"}", ents, 10, 1024, &out, &info, &err), 0);
	assert_int_equal(lf_chunk_write_file(dir, "c1.chk", out.data, out.len, &err), 0);
	char path[300];
	snprintf(path, sizeof(path), "%s/c1.chk", dir);
	struct lf_chunk_reader rd;
	assert_int_equal(lf_chunk_open(path, &rd, &err), 0);
	assert_int_equal(rd.n_blocks, info.blocks);
	lf_chunk_close(&rd);
	snprintf(path, sizeof(path), "%s/missing.chk", dir);
	assert_int_equal(lf_chunk_open(path, &rd, &err), -1);
	assert_non_null(strstr(err.msg, "missing.chk"));
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	lf_buf_free(&out);
}

static int cleanup(void **state)
{
	(void)state;
	lf_buf_free(&src);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip),
	        cmocka_unit_test(test_flipped_byte_costs_one_block),
	        cmocka_unit_test(test_write_file),
	};
	return cmocka_run_group_tests(tests, NULL, cleanup);
}
