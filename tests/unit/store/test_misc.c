/* test_misc.c — crc32c, tenant IDs, config keys, API timestamps, JSON
 * escaping, and a tenant's push/flush/reopen. */
#include <math.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api.h"
#include "chunk.h"
#include "config.h"
#include "crc32c.h"
#include "meval.h"
#include "query.h"
#include "store_metrics_fix.h"
#include "tenant.h"
#include "timeutil.h"

/* Bit-at-a-time CRC-32C: slow and obviously right. */
static uint32_t crc_ref(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
	}
	return ~c;
}

/* Large inputs take the three-stripe path (3 x 4096 bytes per step): check
 * lengths around the stripe multiples, and continuation across them. */
static void test_crc32c_large(void **state)
{
	(void)state;
	size_t n = 3 * 4096 * 5 + 100;
	unsigned char *buf = malloc(n);
	assert_non_null(buf);
	uint64_t x = 7;
	for (size_t i = 0; i < n; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		buf[i] = (unsigned char)(x >> 56);
	}
	size_t lens[] = {3 * 4096 - 1, 3 * 4096, 3 * 4096 + 1, 6 * 4096 + 7, 3 * 4096 * 5, n};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint32_t want = crc_ref(buf, lens[i]);
		assert_int_equal(lf_crc32c(0, buf, lens[i]), want);
		assert_int_equal(lf_crc32c(0, buf + 1, lens[i] - 1), crc_ref(buf + 1, lens[i] - 1));
		for (size_t cut = 1; cut < lens[i]; cut += 4099)
			assert_int_equal(
			        lf_crc32c(lf_crc32c(0, buf, cut), buf + cut, lens[i] - cut), want);
	}
	free(buf);
}

static void test_crc32c(void **state)
{
	(void)state;
	assert_int_equal(lf_crc32c(0, "123456789", 9), 0xe3069283u);
	/* incremental == one shot, also across unaligned splits */
	char buf[1000];
	for (int i = 0; i < 1000; i++)
		buf[i] = (char)(i * 7);
	uint32_t one = lf_crc32c(0, buf, sizeof(buf));
	assert_int_equal(lf_crc32c(lf_crc32c(0, buf, 13), buf + 13, sizeof(buf) - 13), one);
	assert_int_equal(lf_crc32c(0, "", 0), 0);
}

static void test_tenant_ids(void **state)
{
	(void)state;
	struct lf_error err;
	assert_int_equal(lf_tenant_id_valid("team-a_1.prod", 13, &err), 0);
	assert_int_equal(lf_tenant_id_valid("a!*'()", 6, &err), 0);
	assert_int_equal(lf_tenant_id_valid("..", 2, &err), -1);
	assert_string_equal(err.msg, "tenant ID is '.' or '..'");
	assert_int_equal(lf_tenant_id_valid(".", 1, &err), -1);
	assert_int_equal(lf_tenant_id_valid("a/b", 3, &err), -1);
	assert_non_null(strstr(err.msg, "unsupported character '/'"));
	assert_int_equal(lf_tenant_id_valid("a\0b", 3, &err), -1);
	assert_int_equal(lf_tenant_id_valid("", 0, &err), -1);
	char long_id[200];
	memset(long_id, 'x', sizeof(long_id));
	assert_int_equal(lf_tenant_id_valid(long_id, 151, &err), -1);
	assert_non_null(strstr(err.msg, "too long"));
	assert_int_equal(lf_tenant_id_valid(long_id, 150, &err), 0);
}

static void test_config(void **state)
{
	(void)state;
	struct lf_store_config c;
	struct lf_error err;
	assert_int_equal(lf_store_config_defaults(&c), 0);
	assert_int_equal(c.http_listen_port, 3100);
	assert_string_equal(c.path_prefix, "./data");
	assert_false(c.auth_enabled);
	assert_int_equal(c.chunk_encoding, LF_CHUNK_LZ4);
	const char *y = "auth_enabled: true\n"
	                "server:\n  http_listen_port: 3200\n"
	                "limits_config:\n  max_line_size: 1KB\n  retention_period: 24h\n"
	                "ingester:\n  chunk_idle_period: 5m\n  chunk_target_size: 1MiB\n"
	                "  chunk_encoding: snappy\n"
	                "compactor:\n  retention_enabled: true\n";
	assert_int_equal(lf_store_config_load_string(&c, y, strlen(y), "t.yaml", &err), 0);
	assert_true(c.auth_enabled);
	assert_int_equal(c.http_listen_port, 3200);
	assert_int_equal(c.limits.max_line_size, 1000);
	assert_int_equal(c.limits.retention_period, 24 * 3600 * LF_NS_PER_SEC);
	assert_int_equal(c.chunk_idle_period, 300 * LF_NS_PER_SEC);
	assert_int_equal(c.chunk_target_size, 1 << 20);
	assert_int_equal(c.chunk_encoding, LF_CHUNK_SNAPPY);
	assert_true(c.retention_enabled);
	const char *bad3 = "ingester:\n  chunk_encoding: zstd\n";
	assert_int_equal(lf_store_config_load_string(&c, bad3, strlen(bad3), "d.yaml", &err), -1);
	assert_non_null(strstr(err.msg, "d.yaml:2:"));
	assert_non_null(strstr(err.msg, "ingester.chunk_encoding"));
	assert_non_null(strstr(err.msg, "\"zstd\" is not supported"));
	const char *bad = "server:\n  http_listen_port: 1\n  bogus_key: 2\n";
	assert_int_equal(lf_store_config_load_string(&c, bad, strlen(bad), "b.yaml", &err), -1);
	assert_non_null(strstr(err.msg, "b.yaml:3:"));
	assert_non_null(strstr(err.msg, "bogus_key"));
	const char *bad2 = "limits_config:\n  max_line_size: lots\n";
	assert_int_equal(lf_store_config_load_string(&c, bad2, strlen(bad2), "c.yaml", &err), -1);
	assert_non_null(strstr(err.msg, "c.yaml:2:"));
	struct lf_buf out = LF_BUF_INIT;
	lf_store_config_render(&c, &out);
	assert_non_null(strstr(out.data, "http_listen_port: 3200\n"));
	assert_non_null(strstr(out.data, "chunk_encoding: snappy\n"));
	lf_buf_free(&out);
	lf_store_config_free(&c);
}

static void test_api_time(void **state)
{
	(void)state;
	int64_t t;
	assert_int_equal(lf_api_parse_time(NULL, 42, &t), 0);
	assert_int_equal(t, 42);
	assert_int_equal(lf_api_parse_time("1700000000123456789", 0, &t), 0);
	assert_int_equal(t, INT64_C(1700000000123456789));
	assert_int_equal(lf_api_parse_time("1700000000", 0, &t), 0); /* seconds */
	assert_int_equal(t, INT64_C(1700000000000000000));
	assert_int_equal(lf_api_parse_time("1700000000.5", 0, &t), 0);
	assert_int_equal(t, INT64_C(1700000000500000000));
	assert_int_equal(lf_api_parse_time("2023-11-14T22:13:20Z", 0, &t), 0);
	assert_int_equal(t, INT64_C(1700000000000000000));
	assert_int_equal(lf_api_parse_time("yesterday", 0, &t), -1);
}

/* issue 17: query parameters outside int64 nanoseconds neither overflow nor
 * convert out of range; they saturate (Loki keeps a time.Time) or, where Go
 * converts a float to int64, give math.MinInt64 as amd64 does */
static void test_api_time_edges(void **state)
{
	(void)state;
	int64_t t;
	/* 10 digits are seconds: 9999999999 s is past 2262 */
	assert_int_equal(lf_api_parse_time("9999999999", 0, &t), 0);
	assert_true(t == INT64_MAX);
	assert_int_equal(lf_api_parse_time("-999999999", 0, &t), 0);
	assert_true(t == INT64_C(-999999999000000000));
	/* float seconds: fraction rounded to ms as Loki does */
	assert_int_equal(lf_api_parse_time("1700000000.1234567", 0, &t), 0);
	assert_true(t == INT64_C(1700000000123000000));
	assert_int_equal(lf_api_parse_time("-1.5", 0, &t), 0);
	assert_true(t == INT64_C(-1500000000));
	assert_int_equal(lf_api_parse_time("1.5e30", 0, &t), 0); /* int64(1.5e30) */
	assert_true(t == INT64_MIN);
	assert_int_equal(lf_api_parse_time("9.9e12", 0, &t), 0);
	assert_true(t == INT64_MAX);
	assert_int_equal(lf_api_parse_time("1.0e400", 0, &t), -1);
	/* ParseInt range error, and not RFC3339 */
	assert_int_equal(lf_api_parse_time("99999999999999999999", 0, &t), -1);

	struct lf_error err;
	int64_t step;
	/* step: lf_mq_parse_step (Loki's parseSecondsOrDuration, then > 0) */
	assert_int_equal(lf_mq_parse_step("1e30s", 0, 1, &step, &err), -1);
	assert_int_equal(lf_mq_parse_step("1.5", 0, 1, &step, &err), 0);
	assert_true(step == INT64_C(1500000000));
	assert_int_equal(lf_mq_parse_step("99999999999999999999", 0, 1, &step, &err), -1);
	assert_non_null(strstr(err.msg, "It overflows int64"));
	assert_int_equal(lf_mq_parse_step("nan", 0, 1, &step, &err), -1);
	assert_non_null(strstr(err.msg, "zero or negative"));
	assert_int_equal(lf_mq_parse_step("1.2.3", 0, 1, &step, &err), -1);
	assert_int_equal(lf_mq_parse_step("5m", 0, 1, &step, &err), 0);
	assert_true(step == INT64_C(300000000000));
	/* the default: max(floor((end-start)/250 s), 1 s), no overflow at the limits */
	assert_int_equal(lf_mq_parse_step("", INT64_MIN, INT64_MAX, &step, &err), 0);
	assert_true(step == INT64_C(73786976000000000));
	assert_int_equal(lf_mq_parse_step(NULL, 0, 1000 * INT64_C(1000000000), &step, &err), 0);
	assert_true(step == INT64_C(4000000000));
	assert_int_equal(lf_mq_parse_step(NULL, 5, 5, &step, &err), 0);
	assert_true(step == INT64_C(1000000000));
}

static void test_json_escape(void **state)
{
	(void)state;
	struct lf_buf b = LF_BUF_INIT;
	lf_json_str(&b, "a\"b\\c\n\t\x01 \xc3\xa9 \xff end", 17);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\t\\u0001 \xc3\xa9 \\ufffd end\"");
	lf_buf_free(&b);
}

/* Pushes one stream {job="bp"} with n lines of len bytes at ts0, ts0+1, ... */
/* A tenant in a fresh temp dir, for the tests below. */
struct tenant_fix {
	char dir[64];
	struct lf_store_config c;
	struct lf_metrics *reg;
	struct lf_store_metrics m;
	struct lf_tenant *t;
};

/* head_block_size 0 = the default */
static void fix_open_blocks(struct tenant_fix *f, int64_t chunk_target_size,
                            int64_t head_block_size)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/lf-tenant-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(lf_store_config_defaults(&f->c), 0);
	f->c.chunk_target_size = chunk_target_size;
	if (head_block_size)
		f->c.head_block_size = head_block_size;
	f->reg = lf_metrics_new();
	store_metrics(f->reg, &f->m);
	struct lf_error err;
	assert_int_equal(lf_tenant_open(f->dir, "ten", &f->c, &f->m, &f->t, &err), 0);
}

static void fix_open(struct tenant_fix *f, int64_t chunk_target_size)
{
	fix_open_blocks(f, chunk_target_size, 0);
}

static void fix_close(struct tenant_fix *f)
{
	lf_tenant_close(f->t);
	lf_metrics_free(f->reg);
	lf_store_config_free(&f->c);
	char cmd[100];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
}

/* Runs the log query q over [from, to] (limit 5000) for its stats. */
static struct lf_query_stats query_stats(struct lf_tenant *t, const char *q, int64_t from,
                                         int64_t to)
{
	struct lf_error err;
	struct lf_selector *sel;
	assert_int_equal(lf_selector_parse(q, strlen(q), 0, &sel, &err), 0);
	struct lf_log_query lq = {sel, from, to, 5000, false};
	struct lf_query_stats st;
	struct lf_buf out = LF_BUF_INIT;
	assert_int_equal(lf_query_logs(t, &lq, &out, &st, &err), 0);
	lf_selector_free(sel);
	lf_buf_free(&out);
	return st;
}

static void push_job(struct lf_tenant *t, struct lf_store_config *c, const char *job, int64_t ts0,
                     int n, int len)
{
	struct lf_buf json = LF_BUF_INIT;
	lf_buf_printf(&json, "{\"streams\":[{\"stream\":{\"job\":\"%s\"},\"values\":[", job);
	for (int i = 0; i < n; i++) {
		lf_buf_printf(&json, "%s[\"%lld\",\"", i ? "," : "", (long long)(ts0 + i));
		for (int k = 0; k < len; k++)
			lf_buf_append(&json, "x", 1);
		lf_buf_appends(&json, "\"]");
	}
	lf_buf_appends(&json, "]}]}");
	struct lf_ingest_batch b;
	struct lf_error err;
	memset(&b, 0, sizeof(b));
	assert_int_equal(
	        lf_ingest_decode(json.data, json.len, "application/json", NULL, 1 << 20, &b, &err),
	        0);
	struct lf_ingest_ctx ic = {c, ts0, NULL, NULL};
	assert_int_equal(lf_ingest_validate(&ic, &b, NULL), 0);
	assert_int_equal(lf_tenant_push(t, &b, NULL, &err), 204);
	lf_ingest_batch_free(&b);
	lf_buf_free(&json);
}

static void push_lines(struct lf_tenant *t, struct lf_store_config *c, int64_t ts0, int n, int len)
{
	push_job(t, c, "bp", ts0, n, len);
}

static struct lf_stream *stream_of(struct lf_tenant *t, const char *job)
{
	char key[64];
	snprintf(key, sizeof(key), "{job=\"%s\"}", job);
	for (size_t i = 0; i < t->n_streams; i++)
		if (!strcmp(t->streams[i]->key, key))
			return t->streams[i];
	fail_msg("no stream %s", key);
	return NULL;
}

/* issue 17: a retention period beyond the int64 range (now - period) keeps
 * everything instead of overflowing */
static void test_retention_extreme_period(void **state)
{
	(void)state;
	struct tenant_fix f;
	fix_open(&f, 1 << 20);
	int64_t now = lf_now_ns();
	push_lines(f.t, &f.c, now, 3, 10);
	assert_true(lf_tenant_flush(f.t, true) >= 0);
	assert_int_equal(lf_tenant_retention(f.t, now, INT64_MAX), 0);
	assert_int_equal(lf_tenant_retention(f.t, INT64_MIN + 5, 10), 0);
	struct lf_query_stats st = query_stats(f.t, "{job=\"bp\"}", 0, INT64_MAX);
	assert_int_equal(st.chunk_lines + st.head_lines, 3);
	fix_close(&f);
}

/* Chunk refs keep no path: a chunk written by the store is found again by
 * its canonical name (series, from, through, crc); a chunk indexed under
 * another name keeps that name, is read and is deleted by retention. */
static void test_chunk_names(void **state)
{
	(void)state;
	struct tenant_fix f;
	fix_open(&f, 1 << 20);
	int64_t now = lf_now_ns();
	push_job(f.t, &f.c, "a", now, 3, 10);
	push_job(f.t, &f.c, "b", now, 2, 10);
	assert_int_equal(lf_tenant_flush(f.t, true), 2);
	struct lf_stream *a = stream_of(f.t, "a");
	assert_int_equal(a->cold->n_chunks, 1);
	assert_null(a->cold->chunks[0].file);
	char nb[LF_CHUNK_NAME_MAX], path[400], legacy[400];
	lf_chunk_ref_name(a->series_id, &a->cold->chunks[0], nb);
	snprintf(path, sizeof(path), "%s/%s", f.t->chunks_dir, nb);
	assert_int_equal(access(path, F_OK), 0);
	char *p = lf_chunk_ref_path_new(f.t, a, &a->cold->chunks[0]);
	assert_string_equal(p, path);
	free(p);
	snprintf(legacy, sizeof(legacy), "%s/legacy-a.chk", f.t->chunks_dir);
	char ixp[200];
	snprintf(ixp, sizeof(ixp), "%s/index.db", f.t->dir);
	lf_tenant_close(f.t);

	/* the file renamed, the index row pointing at the new name */
	assert_int_equal(rename(path, legacy), 0);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(ixp, &db), SQLITE_OK);
	char sql[300];
	snprintf(sql, sizeof(sql), "UPDATE chunks SET file='legacy-a.chk' WHERE file='%s'", nb);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_changes(db), 1);
	sqlite3_close(db);

	struct lf_error err;
	assert_int_equal(lf_tenant_open(f.dir, "ten", &f.c, &f.m, &f.t, &err), 0);
	a = stream_of(f.t, "a");
	assert_string_equal(a->cold->chunks[0].file, "legacy-a.chk");
	assert_null(stream_of(f.t, "b")->cold->chunks[0].file);
	struct lf_query_stats st = query_stats(f.t, "{job=\"a\"}", 0, INT64_MAX);
	assert_int_equal(st.chunk_lines, 3);
	st = query_stats(f.t, "{job=\"b\"}", 0, INT64_MAX);
	assert_int_equal(st.chunk_lines, 2);
	assert_int_equal(access(legacy, F_OK), 0); /* known to the index: not cleaned */

	/* retention removes both files, whatever their names */
	struct lf_stream *b = stream_of(f.t, "b");
	lf_chunk_ref_name(b->series_id, &b->cold->chunks[0], nb);
	snprintf(path, sizeof(path), "%s/%s", f.t->chunks_dir, nb);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(lf_tenant_retention(f.t, now + 3600 * LF_NS_PER_SEC, 60 * LF_NS_PER_SEC),
	                 2);
	assert_int_equal(access(legacy, F_OK), -1);
	assert_int_equal(access(path, F_OK), -1);
	fix_close(&f);
}

/* Heads in a tenant: past ingester.head_block_size the head holds sealed
 * (compressed) blocks and counts their compressed size in the heads'
 * memory; a cut leaves the stream's head with no allocation; the chunk of a
 * head whose blocks are in time order is built from those blocks as they
 * are; nothing pushed is lost on the way. */
static void test_head_blocks_in_tenant(void **state)
{
	(void)state;
	struct tenant_fix f;
	fix_open(&f, 64 * 1024);
	assert_int_equal(f.t->hctx.block_size, 131072); /* the default */
	lf_tenant_close(f.t);
	f.c.head_block_size = 65536;
	struct lf_error err;
	assert_int_equal(lf_tenant_open(f.dir, "ten", &f.c, &f.m, &f.t, &err), 0);
	struct lf_tenant *t = f.t;
	struct lf_store_config *c = &f.c;
	int64_t now = lf_now_ns();
	assert_int_equal(t->hctx.block_size, 65536);

	/* ~70 KB of very compressible lines: one sealed block + an open one */
	push_job(t, c, "a", now, 70, 1000);
	struct lf_stream *a = stream_of(t, "a");
	assert_int_equal(lf_head_blocks(&a->head), 1);
	assert_true(a->head.m->open_n > 0);
	assert_int_equal(lf_head_n(&a->head), 70);
	assert_true(lf_head_raw(&a->head) >= 70 * 1000);
	assert_true(lf_head_held(&a->head) < lf_head_raw(&a->head) / 4);
	assert_int_equal(*t->heads, (int64_t)lf_head_held(&a->head));
	assert_true(lf_tenant_flush(t, false) >= 0); /* cut for size */
	assert_int_equal(a->cold->n_chunks, 1);
	assert_int_equal(lf_head_n(&a->head), 0);
	assert_null(a->head.m); /* an empty head holds no memory */
	assert_int_equal(lf_head_n(&a->cold->flushing), 0);
	assert_int_equal(*t->heads, 0);
	assert_int_equal(t->chunks_reused, 1);

	/* out of order within a block: the chunk is sorted the slow way */
	push_job(t, c, "b", now + 500, 5, 100);
	push_job(t, c, "b", now + 100, 5, 100);
	assert_true(lf_tenant_flush(t, true) >= 0);
	assert_int_equal(t->chunks_reused, 1);
	assert_int_equal(stream_of(t, "b")->cold->n_chunks, 1);
	assert_null(stream_of(t, "b")->head.m);

	/* Every line is there, in chunks, in time order. */
	struct lf_query_stats st = query_stats(t, "{job=~\".+\"}", now - 1000, now + 1000000);
	assert_int_equal(st.returned, 70 + 10);
	assert_int_equal(st.head_lines, 0);
	fix_close(&f);
}

/* Exact duplicates are dropped across the whole head, sealed blocks
 * included (the set keeps entry numbers; a match decompresses its block),
 * and a WAL replay rebuilds the same head with the same rule. */
static void test_dup_across_sealed_blocks(void **state)
{
	(void)state;
	struct tenant_fix f;
	fix_open_blocks(&f, 1 << 20, 1024);
	struct lf_error err;
	int64_t now = lf_now_ns();
	push_job(f.t, &f.c, "d", now, 50, 100);
	struct lf_stream *d = stream_of(f.t, "d");
	assert_true(lf_head_blocks(&d->head) >= 4);
	push_job(f.t, &f.c, "d", now, 50, 100);          /* all 50 again */
	push_job(f.t, &f.c, "d", now + 20, 10, 100);     /* 10 again, from the middle */
	push_job(f.t, &f.c, "d", now + 5 * 1000, 5, 99); /* new */
	push_job(f.t, &f.c, "d", now + 3, 2, 99);        /* same ts, other line: new */
	assert_int_equal(f.t->duplicates, 60);
	assert_int_equal(lf_head_n(&d->head), 57);
	lf_tenant_close(f.t); /* no flush: the replay rebuilds the head */
	assert_int_equal(lf_tenant_open(f.dir, "ten", &f.c, &f.m, &f.t, &err), 0);
	d = stream_of(f.t, "d");
	assert_int_equal(lf_head_n(&d->head), 57); /* the WAL holds 117 */
	struct lf_query_stats st = query_stats(f.t, "{job=\"d\"}", now - 1000, now + 1000000);
	assert_int_equal(st.returned, 57);
	fix_close(&f);
}

/* A chunk that cannot be written leaves the cut head (sealed blocks and
 * open block) back in front of what arrived since, counted in the heads'
 * memory again; the next flush writes it all. */
static void test_flush_failure_keeps_head(void **state)
{
	(void)state;
	struct tenant_fix f;
	fix_open_blocks(&f, 1 << 20, 1024);
	int64_t now = lf_now_ns();
	push_job(f.t, &f.c, "u", now, 50, 100);
	struct lf_stream *u = stream_of(f.t, "u");
	assert_true(lf_head_blocks(&u->head) >= 4);
	int64_t held = *f.t->heads;
	char *dir = f.t->chunks_dir;
	char bad[] = "/nonexistent-lf-test/chunks";
	f.t->chunks_dir = bad;
	assert_int_equal(lf_tenant_flush(f.t, true), -1);
	f.t->chunks_dir = dir;
	assert_int_equal(lf_head_n(&u->head), 50);
	assert_int_equal(lf_head_n(&u->cold->flushing), 0);
	assert_int_equal(u->cold->n_chunks, 0);
	assert_true(*f.t->heads > 0 && *f.t->heads <= held + 1024);
	push_job(f.t, &f.c, "u", now + 100, 5, 100);
	assert_int_equal(lf_head_n(&u->head), 55);
	assert_int_equal(lf_tenant_flush(f.t, true), 1);
	assert_int_equal(*f.t->heads, 0);
	struct lf_query_stats st = query_stats(f.t, "{job=\"u\"}", now - 1000, now + 1000000);
	assert_int_equal(st.returned, 55);
	assert_int_equal(st.head_lines, 0);
	fix_close(&f);
}

/* Backpressure: with no flusher running, a push that leaves a head past
 * 1.25 x chunk_target_size cuts it itself; below that the head stays. */
static void test_push_backpressure(void **state)
{
	(void)state;
	struct tenant_fix f;
	fix_open(&f, 4000);
	int64_t now = lf_now_ns();
	const char *q = "{job=\"bp\"}";

	push_lines(f.t, &f.c, now, 40, 100); /* ~4.1 KB: past the target, under 1.25 x */
	struct lf_query_stats st = query_stats(f.t, q, now - 1000, now + 1000000);
	assert_int_equal(st.chunks_ref, 0);
	assert_int_equal(st.head_lines, 40);

	push_lines(f.t, &f.c, now + 100, 20, 100); /* ~6.2 KB: the push cuts the head */
	st = query_stats(f.t, q, now - 1000, now + 1000000);
	assert_int_equal(st.chunks_ref, 1);
	assert_int_equal(st.head_lines, 0);
	assert_int_equal(st.returned, 60);
	fix_close(&f);
}

/* A tenant end to end without HTTP: push, query, flush to a chunk, reopen. */
static void test_tenant_push_flush_reopen(void **state)
{
	(void)state;
	char dir[] = "/tmp/lf-tenant-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct lf_store_config c;
	assert_int_equal(lf_store_config_defaults(&c), 0);
	struct lf_metrics *reg = lf_metrics_new();
	struct lf_store_metrics m;
	store_metrics(reg, &m);

	struct lf_tenant *t;
	struct lf_error err;
	assert_int_equal(lf_tenant_open(dir, "ten", &c, &m, &t, &err), 0);
	int64_t now = lf_now_ns();
	char json[512];
	snprintf(json, sizeof(json),
	         "{\"streams\":[{\"stream\":{\"job\":\"a\"},\"values\":[[\"%lld\",\"one\"],"
	         "[\"%lld\",\"two needle\"]]}]}",
	         (long long)now, (long long)now + 1);
	struct lf_ingest_batch b;
	memset(&b, 0, sizeof(b));
	assert_int_equal(
	        lf_ingest_decode(json, strlen(json), "application/json", NULL, 1 << 20, &b, &err),
	        0);
	struct lf_ingest_ctx ic = {&c, now, NULL, NULL};
	assert_int_equal(lf_ingest_validate(&ic, &b, NULL), 0);
	assert_int_equal(lf_tenant_push(t, &b, NULL, &err), 204);
	lf_ingest_batch_free(&b);

	struct lf_selector *sel;
	const char *q = "{job=\"a\"} |= \"needle\"";
	assert_int_equal(lf_selector_parse(q, strlen(q), 0, &sel, &err), 0);
	struct lf_log_query lq = {sel, now - 1000, now + 1000, 100, false};
	struct lf_query_stats st;
	struct lf_buf out = LF_BUF_INIT;
	assert_int_equal(lf_query_logs(t, &lq, &out, &st, &err), 0);
	char want[256];
	snprintf(want, sizeof(want),
	         "[{\"stream\":{\"job\":\"a\"},\"values\":[[\"%lld\",\"two needle\"]]}]",
	         (long long)now + 1);
	assert_string_equal(out.data, want);
	assert_int_equal(st.head_lines, 2);

	assert_int_equal(lf_tenant_flush(t, true), 1);
	lf_buf_reset(&out);
	assert_int_equal(lf_query_logs(t, &lq, &out, &st, &err), 0);
	assert_string_equal(out.data, want);
	assert_int_equal(st.chunks_ref, 1);
	assert_int_equal(st.head_lines, 0);
	lf_tenant_close(t);

	/* reopen: the chunk is indexed, the WAL replay does not duplicate it */
	assert_int_equal(lf_tenant_open(dir, "ten", &c, &m, &t, &err), 0);
	lf_buf_reset(&out);
	lq.sel = NULL;
	lf_selector_free(sel);
	q = "{job=\"a\"}";
	assert_int_equal(lf_selector_parse(q, strlen(q), 0, &sel, &err), 0);
	lq.sel = sel;
	assert_int_equal(lf_query_logs(t, &lq, &out, &st, &err), 0);
	assert_int_equal(st.returned, 2);
	assert_int_equal(st.head_lines, 0);
	lf_buf_reset(&out);
	assert_int_equal(lf_query_label_values(t, "job", NULL, now - 1000, now + 1000, &out), 0);
	assert_string_equal(out.data, "[\"a\"]");
	lf_tenant_close(t);
	lf_selector_free(sel);
	lf_buf_free(&out);
	lf_metrics_free(reg);
	lf_store_config_free(&c);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_crc32c),
	        cmocka_unit_test(test_crc32c_large),
	        cmocka_unit_test(test_push_backpressure),
	        cmocka_unit_test(test_head_blocks_in_tenant),
	        cmocka_unit_test(test_dup_across_sealed_blocks),
	        cmocka_unit_test(test_flush_failure_keeps_head),
	        cmocka_unit_test(test_tenant_ids),
	        cmocka_unit_test(test_config),
	        cmocka_unit_test(test_api_time),
	        cmocka_unit_test(test_api_time_edges),
	        cmocka_unit_test(test_retention_extreme_period),
	        cmocka_unit_test(test_chunk_names),
	        cmocka_unit_test(test_json_escape),
	        cmocka_unit_test(test_tenant_push_flush_reopen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
