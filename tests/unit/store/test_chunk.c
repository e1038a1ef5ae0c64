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
#include "crc32c.h"

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

static const enum lf_chunk_codec codecs[] = {LF_CHUNK_NONE, LF_CHUNK_SNAPPY, LF_CHUNK_LZ4,
                                             LF_CHUNK_GZIP};

static void roundtrip(enum lf_chunk_codec codec)
{
	make_entries();
	struct lf_buf out = LF_BUF_INIT;
	struct lf_chunk_info info;
	struct lf_error err;
	assert_int_equal(lf_chunk_encode("{job=\"x\"}", ents, N, 4096, codec, &out, &info, &err),
	                 0);
	assert_int_equal(info.entries, N);
	assert_int_equal(info.from, 1000);
	assert_int_equal(info.through, 1000 + 3 * (N - 1));
	assert_true(info.blocks > 5);
	struct lf_chunk_reader rd;
	assert_int_equal(lf_chunk_open_mem(out.data, out.len, &rd, &err), 0);
	assert_int_equal(rd.codec, codec);
	assert_int_equal(rd.n_blocks, info.blocks);
	for (uint32_t b = 0; b < rd.n_blocks; b++) {
		struct lf_chunk_block_info bi;
		lf_chunk_block(&rd, b, &bi);
		if (codec == LF_CHUNK_NONE)
			assert_int_equal(bi.comp_len, bi.raw_len);
		else
			assert_true(bi.comp_len < bi.raw_len / 2); /* the codec did something */
	}
	assert_int_equal(rd.labels_len, 9);
	assert_memory_equal(rd.labels, "{job=\"x\"}", 9);
	int bad;
	assert_int_equal(read_all(&rd, &bad), N);
	assert_int_equal(bad, 0);
	lf_chunk_close(&rd);
	lf_buf_free(&out);
}

static void test_roundtrip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		roundtrip(codecs[i]);
}

/* Chunks written before the codec field (version 1: 16-byte header, snappy
 * blocks) stay readable. Built by rewriting a v2 snappy chunk. */
static void test_reads_version_1(void **state)
{
	(void)state;
	make_entries();
	struct lf_buf v2 = LF_BUF_INIT, v1 = LF_BUF_INIT;
	struct lf_chunk_info info;
	struct lf_error err;
	assert_int_equal(
	        lf_chunk_encode("{job=\"x\"}", ents, N, 4096, LF_CHUNK_SNAPPY, &v2, &info, &err),
	        0);
	unsigned char *m = (unsigned char *)v2.data;
	unsigned char hdr[16];
	memcpy(hdr, m, 8);
	lf_put_le32(hdr + 8, 1);
	memcpy(hdr + 12, m + 16, 4); /* labels_len */
	assert_int_equal(lf_buf_append(&v1, hdr, 16), 0);
	assert_int_equal(lf_buf_append(&v1, v2.data + 20, v2.len - 20), 0);
	unsigned char *f = (unsigned char *)v1.data + v1.len - 24;
	uint64_t ioff = lf_get_le64(f) - 4;
	lf_put_le64(f, ioff);
	for (uint32_t b = 0; b < info.blocks; b++) {
		unsigned char *e = (unsigned char *)v1.data + ioff + (size_t)b * 40;
		lf_put_le64(e, lf_get_le64(e) - 4);
	}
	lf_put_le32(f + 12, lf_crc32c(0, v1.data + ioff, (size_t)info.blocks * 40));
	struct lf_chunk_reader rd;
	assert_int_equal(lf_chunk_open_mem(v1.data, v1.len, &rd, &err), 0);
	assert_int_equal(rd.codec, LF_CHUNK_SNAPPY);
	assert_int_equal(rd.labels_len, 9);
	assert_memory_equal(rd.labels, "{job=\"x\"}", 9);
	int bad;
	assert_int_equal(read_all(&rd, &bad), N);
	assert_int_equal(bad, 0);
	lf_chunk_close(&rd);
	/* an unknown codec number in a v2 header is refused by name */
	lf_put_le32((unsigned char *)v2.data + 12, 9);
	assert_int_equal(lf_chunk_open_mem(v2.data, v2.len, &rd, &err), -1);
	assert_non_null(strstr(err.msg, "unknown chunk codec 9"));
	lf_buf_free(&v1);
	lf_buf_free(&v2);
}

/* A block whose checksum matches but whose data does not decode to the
 * indexed raw length (a bug, or a forged block) is reported, not trusted. */
static void test_undecodable_block_with_valid_crc(void **state)
{
	(void)state;
	make_entries();
	for (size_t c = 1; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		struct lf_buf out = LF_BUF_INIT;
		struct lf_chunk_info info;
		struct lf_error err;
		assert_int_equal(
		        lf_chunk_encode("{job=\"x\"}", ents, N, 4096, codecs[c], &out, &info, &err),
		        0);
		struct lf_chunk_reader rd;
		assert_int_equal(lf_chunk_open_mem(out.data, out.len, &rd, &err), 0);
		struct lf_chunk_block_info bi;
		lf_chunk_block(&rd, 1, &bi);
		lf_chunk_close(&rd);
		/* zero the block's second half, then fix its checksum and the index's */
		memset(out.data + bi.offset + bi.comp_len / 2, 0, bi.comp_len - bi.comp_len / 2);
		unsigned char *f = (unsigned char *)out.data + out.len - 24;
		uint64_t ioff = lf_get_le64(f);
		unsigned char *e = (unsigned char *)out.data + ioff + 40;
		lf_put_le32(e + 20, lf_crc32c(0, out.data + bi.offset, bi.comp_len));
		lf_put_le32(f + 12, lf_crc32c(0, out.data + ioff, (size_t)info.blocks * 40));
		assert_int_equal(lf_chunk_open_mem(out.data, out.len, &rd, &err), 0);
		assert_int_equal(lf_chunk_read_block(&rd, 1, &err), -1);
		assert_non_null(strstr(err.msg, "data corrupt"));
		assert_non_null(strstr(err.msg, lf_chunk_codec_name(codecs[c])));
		assert_int_equal(lf_chunk_read_block(&rd, 0, &err), 0);
		assert_int_equal(lf_chunk_read_block(&rd, 2, &err), 0);
		lf_chunk_close(&rd);
		lf_buf_free(&out);
	}
}

static void test_codec_names(void **state)
{
	(void)state;
	struct {
		const char *name;
		int codec;
	} ok[] = {{"none", LF_CHUNK_NONE},   {"snappy", LF_CHUNK_SNAPPY}, {"lz4", LF_CHUNK_LZ4},
	          {"lz4-64k", LF_CHUNK_LZ4}, {"lz4-256k", LF_CHUNK_LZ4},  {"lz4-1M", LF_CHUNK_LZ4},
	          {"lz4-4M", LF_CHUNK_LZ4},  {"gzip", LF_CHUNK_GZIP},     {"flate", LF_CHUNK_GZIP}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		enum lf_chunk_codec c = LF_CHUNK_NONE;
		struct lf_error err;
		assert_int_equal(lf_chunk_codec_parse(ok[i].name, &c, &err), 0);
		assert_int_equal(c, ok[i].codec);
	}
	const char *bad[] = {"zstd", "LZ4", "", "snappy "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum lf_chunk_codec c;
		struct lf_error err;
		assert_int_equal(lf_chunk_codec_parse(bad[i], &c, &err), -1);
		assert_non_null(strstr(err.msg, "is not supported"));
		assert_non_null(strstr(err.msg, bad[i]));
	}
	assert_string_equal(lf_chunk_codec_name(LF_CHUNK_LZ4), "lz4");
}

static void flipped_byte(enum lf_chunk_codec codec)
{
	make_entries();
	struct lf_buf out = LF_BUF_INIT;
	struct lf_chunk_info info;
	struct lf_error err;
	assert_int_equal(lf_chunk_encode("{job=\"x\"}", ents, N, 4096, codec, &out, &info, &err),
	                 0);
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

static void test_flipped_byte_costs_one_block(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		flipped_byte(codecs[i]);
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
	assert_int_equal(
	        lf_chunk_encode("{a=\"b\"}", ents, 10, 1024, LF_CHUNK_LZ4, &out, &info, &err), 0);
	assert_int_equal(lf_chunk_write_file(dir, "c1.chk", out.data, out.len, &err), 0);
	assert_int_equal(lf_chunk_sync_dir(dir, &err), 0);
	assert_int_equal(lf_chunk_sync_dir("/nonexistent/lf-chunks", &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/lf-chunks"));
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
	        cmocka_unit_test(test_reads_version_1),
	        cmocka_unit_test(test_undecodable_block_with_valid_crc),
	        cmocka_unit_test(test_codec_names),
	        cmocka_unit_test(test_flipped_byte_costs_one_block),
	        cmocka_unit_test(test_write_file),
	};
	return cmocka_run_group_tests(tests, NULL, cleanup);
}
