/* test_head.c — store/head.{h,c}: appends, sealing, iteration with time
 * skipping, entry numbers, chunks built from sealed blocks, prepend, and a
 * damaged block costing only itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chunk.h"
#include "config.h"
#include "head.h"

/* entry i: ts = base + i * step, a line that varies a little, and one
 * metadata pair on every third entry */
static void line_of(int i, char *buf, size_t n)
{
	snprintf(buf, n, "level=info msg=\"request %d served\" took=%dms user=u%d", i, i % 97,
	         i % 13);
}

static void fill(struct lf_head *h, struct lf_head_ctx *c, int n, int64_t base, int64_t step)
{
	char line[128];
	for (int i = 0; i < n; i++) {
		line_of(i, line, sizeof(line));
		struct lf_skv sm = {"trace", 5, "abc", 3};
		assert_int_equal(lf_head_append(h, c, base + i * step, line, strlen(line), &sm,
		                                i % 3 == 0 ? 1 : 0, 0),
		                 0);
	}
}

static void check_entry(const struct lf_sentry *e, int i, int64_t base, int64_t step)
{
	char line[128];
	line_of(i, line, sizeof(line));
	assert_int_equal(e->ts, base + i * step);
	assert_int_equal(e->line_len, strlen(line));
	assert_memory_equal(e->line, line, e->line_len);
	assert_int_equal(e->n_sm, i % 3 == 0 ? 1 : 0);
	if (e->n_sm) {
		struct lf_rd r = {e->sm, e->sm_end, 0};
		size_t nl, vl;
		const char *nm = lf_rd_bytes(&r, &nl);
		const char *v = lf_rd_bytes(&r, &vl);
		assert_int_equal(r.bad, 0);
		assert_int_equal(nl, 5);
		assert_memory_equal(nm, "trace", 5);
		assert_int_equal(vl, 3);
		assert_memory_equal(v, "abc", 3);
	}
}

static void test_append_seal_iterate(void **state)
{
	(void)state;
	struct lf_head_ctx c;
	lf_head_ctx_init(&c, 1024, LF_CHUNK_LZ4);
	struct lf_head h;
	memset(&h, 0, sizeof(h));
	h.flags = 7;
	assert_int_equal(lf_head_n(&h), 0);
	fill(&h, &c, 500, 1000000, 10);
	assert_int_equal(lf_head_n(&h), 500);
	assert_non_null(h.m->sealed);
	assert_true(h.m->sealed->n >= 10);
	assert_true(h.m->open_len < 1024);
	assert_int_equal(h.m->min, 1000000);
	assert_int_equal(h.m->max, 1000000 + 499 * 10);
	/* held = compressed blocks + the open block, less than raw */
	assert_true(lf_head_held(&h) < lf_head_raw(&h));
	assert_int_equal(lf_head_held(&h), h.m->sealed->comp_bytes + h.m->open_len);
	/* every block sorted, ranges in order */
	for (size_t i = 0; i < h.m->sealed->n; i++) {
		assert_true(h.m->sealed->v[i].sorted);
		assert_true(h.m->sealed->v[i].min <= h.m->sealed->v[i].max);
		if (i)
			assert_true(h.m->sealed->v[i - 1].max <= h.m->sealed->v[i].min);
	}
	/* all entries, in arrival order */
	struct lf_buf raw = LF_BUF_INIT;
	struct lf_head_iter it;
	struct lf_sentry e;
	int i = 0, spans = 0;
	lf_head_iter_init(&it, &h, INT64_MIN, INT64_MAX, &raw);
	while (lf_head_iter_span(&it)) {
		spans++;
		while (lf_head_iter_entry(&it, &e))
			check_entry(&e, i++, 1000000, 10);
	}
	assert_int_equal(i, 500);
	assert_int_equal(spans, (int)h.m->sealed->n + 1);
	assert_int_equal(it.damaged, 0);
	/* entry numbers */
	for (int k = 0; k < 500; k += 7) {
		assert_int_equal(lf_head_entry_at(&h, &c, (uint64_t)k, &e), 0);
		check_entry(&e, k, 1000000, 10);
	}
	assert_int_equal(lf_head_entry_at(&h, &c, 499, &e), 0);
	check_entry(&e, 499, 1000000, 10);
	assert_int_equal(lf_head_entry_at(&h, &c, 500, &e), -1);
	/* a time range skips the blocks outside it */
	int64_t from = 1000000 + 200 * 10, through = 1000000 + 260 * 10;
	int got = 0;
	spans = 0;
	lf_head_iter_init(&it, &h, from, through, &raw);
	while (lf_head_iter_span(&it)) {
		spans++;
		while (lf_head_iter_entry(&it, &e))
			got += e.ts >= from && e.ts <= through;
	}
	assert_int_equal(got, 61);
	assert_true(spans < (int)h.m->sealed->n / 2);
	/* outside the head: nothing */
	lf_head_iter_init(&it, &h, 0, 999999, &raw);
	assert_int_equal(lf_head_iter_span(&it), 0);
	lf_head_free(&h);
	assert_int_equal(h.flags, 7); /* the owner's flags stay */
	assert_int_equal(lf_head_n(&h), 0);
	assert_null(h.m);
	lf_buf_free(&raw);
	lf_head_ctx_free(&c);
}

/* The chunk of a sorted head reuses its sealed blocks; an unsorted one is
 * sorted and re-encoded; both read back complete and in time order. */
static void check_chunk(const struct lf_buf *out, int n, int64_t base, int64_t step)
{
	struct lf_chunk_reader r;
	struct lf_error err;
	assert_int_equal(lf_chunk_open_mem(out->data, out->len, &r, &err), 0);
	int i = 0;
	for (uint32_t b = 0; b < r.n_blocks; b++) {
		struct lf_chunk_block_info bi;
		lf_chunk_block(&r, b, &bi);
		assert_int_equal(lf_chunk_read_block(&r, b, &err), 0);
		struct lf_chunk_iter it;
		lf_chunk_iter_init(&it, &r, &bi);
		struct lf_sentry e;
		while (lf_chunk_iter_next(&it, &e) == 1) {
			assert_true(e.ts >= bi.min_ts && e.ts <= bi.max_ts);
			check_entry(&e, i++, base, step);
		}
	}
	assert_int_equal(i, n);
	lf_chunk_close(&r);
}

static void test_chunk_from_blocks(void **state)
{
	(void)state;
	struct lf_head_ctx c;
	lf_head_ctx_init(&c, 2048, LF_CHUNK_LZ4);
	struct lf_head h;
	memset(&h, 0, sizeof(h));
	fill(&h, &c, 300, 5000, 3);
	struct lf_head_flush_scratch fs;
	memset(&fs, 0, sizeof(fs));
	struct lf_buf out = LF_BUF_INIT;
	struct lf_chunk_info info;
	struct lf_error err;
	bool reused = false;
	assert_int_equal(lf_head_chunk(&h, "{a=\"b\"}", 262144, LF_CHUNK_LZ4, &fs, &out, &info,
	                               &reused, &err),
	                 0);
	assert_true(reused);
	assert_int_equal(info.entries, 300);
	assert_int_equal(info.from, 5000);
	assert_int_equal(info.through, 5000 + 299 * 3);
	assert_int_equal(info.blocks, h.m->sealed->n + (h.m->open_n ? 1 : 0));
	check_chunk(&out, 300, 5000, 3);
	/* another codec than the blocks': re-encoded */
	assert_int_equal(lf_head_chunk(&h, "{a=\"b\"}", 262144, LF_CHUNK_SNAPPY, &fs, &out, &info,
	                               &reused, &err),
	                 0);
	assert_false(reused);
	assert_int_equal(info.blocks, 1);
	check_chunk(&out, 300, 5000, 3);
	lf_head_free(&h);

	/* entries arriving in reverse: sorted on the slow path */
	char line[128];
	for (int i = 299; i >= 0; i--) {
		line_of(i, line, sizeof(line));
		struct lf_skv sm = {"trace", 5, "abc", 3};
		assert_int_equal(lf_head_append(&h, &c, 5000 + i * 3, line, strlen(line), &sm,
		                                i % 3 == 0 ? 1 : 0, 0),
		                 0);
	}
	assert_false(h.m->sealed->v[0].sorted);
	assert_int_equal(
	        lf_head_chunk(&h, "{a=\"b\"}", 4096, LF_CHUNK_LZ4, &fs, &out, &info, &reused, &err),
	        0);
	assert_false(reused);
	check_chunk(&out, 300, 5000, 3);
	lf_head_free(&h);
	lf_buf_free(&out);
	lf_head_flush_scratch_free(&fs);
	lf_head_ctx_free(&c);
}

static void test_prepend(void **state)
{
	(void)state;
	struct lf_head_ctx c;
	lf_head_ctx_init(&c, 1024, LF_CHUNK_LZ4);
	struct lf_head older, newer;
	memset(&older, 0, sizeof(older));
	memset(&newer, 0, sizeof(newer));
	char line[128];
	for (int i = 0; i < 200; i++) {
		line_of(i, line, sizeof(line));
		struct lf_skv sm = {"trace", 5, "abc", 3};
		struct lf_head *h = i < 120 ? &older : &newer;
		assert_int_equal(lf_head_append(h, &c, 100 + i, line, strlen(line), &sm,
		                                i % 3 == 0 ? 1 : 0, 0),
		                 0);
	}
	newer.flags = 1;
	assert_int_equal(lf_head_prepend(&newer, &older, &c), 0);
	assert_int_equal(lf_head_n(&older), 0);
	assert_int_equal(lf_head_n(&newer), 200);
	assert_int_equal(newer.flags, 1);
	assert_int_equal(newer.m->min, 100);
	assert_int_equal(newer.m->max, 299);
	struct lf_buf raw = LF_BUF_INIT;
	struct lf_head_iter it;
	struct lf_sentry e;
	int i = 0;
	lf_head_iter_init(&it, &newer, INT64_MIN, INT64_MAX, &raw);
	while (lf_head_iter_next(&it, &e))
		check_entry(&e, i++, 100, 1);
	assert_int_equal(i, 200);
	lf_head_free(&newer);
	lf_head_free(&older);
	lf_buf_free(&raw);
	lf_head_ctx_free(&c);
}

/* A sealed block that no longer decompresses is skipped (and counted);
 * the other blocks and the open one still read; a chunk is refused with a
 * message instead of being written wrong. */
static void test_damaged_block(void **state)
{
	(void)state;
	struct lf_head_ctx c;
	lf_head_ctx_init(&c, 1024, LF_CHUNK_LZ4);
	struct lf_head h;
	memset(&h, 0, sizeof(h));
	fill(&h, &c, 300, 0, 1);
	assert_true(h.m->sealed->n >= 3);
	struct lf_head_block *b = &h.m->sealed->v[1];
	uint32_t lost = b->n, keep = b->comp_len;
	b->comp_len /= 2;
	struct lf_buf raw = LF_BUF_INIT;
	struct lf_head_iter it;
	struct lf_sentry e;
	int n = 0;
	lf_head_iter_init(&it, &h, INT64_MIN, INT64_MAX, &raw);
	while (lf_head_iter_next(&it, &e))
		n++;
	assert_int_equal(it.damaged, 1);
	assert_int_equal(n, 300 - (int)lost);
	assert_int_equal(lf_head_entry_at(&h, &c, h.m->sealed->v[0].n, &e), -1);
	assert_int_equal(lf_head_entry_at(&h, &c, 0, &e), 0);
	struct lf_head_flush_scratch fs;
	memset(&fs, 0, sizeof(fs));
	struct lf_buf out = LF_BUF_INIT;
	struct lf_chunk_info info;
	struct lf_error err;
	bool reused;
	assert_int_equal(
	        lf_head_chunk(&h, "{}", 4096, LF_CHUNK_SNAPPY, &fs, &out, &info, &reused, &err),
	        -1);
	assert_non_null(strstr(err.msg, "damaged"));
	b->comp_len = keep;
	lf_buf_free(&out);
	lf_head_flush_scratch_free(&fs);
	lf_head_free(&h);
	lf_buf_free(&raw);
	lf_head_ctx_free(&c);
}

/* ingester.head_block_size: default 128 KB, parsed, rendered, bounded. */
static void test_config_key(void **state)
{
	(void)state;
	struct lf_store_config c;
	struct lf_error err;
	assert_int_equal(lf_store_config_defaults(&c), 0);
	assert_int_equal(c.head_block_size, 131072);
	const char *y = "ingester:\n  head_block_size: 64KB\n";
	assert_int_equal(lf_store_config_load_string(&c, y, strlen(y), "h.yaml", &err), 0);
	assert_int_equal(c.head_block_size, 64000);
	struct lf_buf r = LF_BUF_INIT;
	assert_int_equal(lf_store_config_render(&c, &r), 0);
	assert_non_null(strstr(r.data, "head_block_size: 64000"));
	lf_buf_free(&r);
	lf_store_config_free(&c);
	const char *bad[] = {"ingester:\n  head_block_size: 32\n",
	                     "ingester:\n  head_block_size: 1GB\n"};
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(lf_store_config_defaults(&c), 0);
		assert_int_equal(
		        lf_store_config_load_string(&c, bad[i], strlen(bad[i]), "b.yaml", &err),
		        -1);
		assert_non_null(strstr(err.msg, "ingester.head_block_size"));
		lf_store_config_free(&c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_append_seal_iterate),
	        cmocka_unit_test(test_chunk_from_blocks),
	        cmocka_unit_test(test_prepend),
	        cmocka_unit_test(test_damaged_block),
	        cmocka_unit_test(test_config_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
