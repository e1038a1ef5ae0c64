/* test_memory.c — the store's per-stream memory: interned label strings
 * (strpool.h), streams whose labels point at them, and their survival
 * across a WAL replay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "ingest.h"
#include "query.h"
#include "store_metrics_fix.h"
#include "strpool.h"
#include "tenant.h"
#include "timeutil.h"

static void test_strpool(void **state)
{
	(void)state;
	struct lf_strpool p = LF_STRPOOL_INIT;
	const char *a = lf_strpool_intern(&p, "app", 3);
	const char *b = lf_strpool_intern(&p, "apple", 3); /* the same 3 bytes */
	assert_non_null(a);
	assert_ptr_equal(a, b);
	assert_string_equal(a, "app");
	const char *e = lf_strpool_intern(&p, "", 0);
	assert_non_null(e);
	assert_string_equal(e, "");
	assert_ptr_equal(e, lf_strpool_intern(&p, "x", 0));
	/* an embedded NUL is part of the bytes: distinct from the prefix */
	const char *z = lf_strpool_intern(&p, "ap\0p", 4);
	assert_ptr_not_equal(z, a);
	assert_memory_equal(z, "ap\0p", 5);
	/* many strings: the set grows and blocks are added; every pointer
	 * stays valid and unique, and re-interning returns it */
	enum { N = 50000 };
	const char **v = malloc(N * sizeof(*v));
	char s[64];
	for (int i = 0; i < N; i++) {
		int n = snprintf(s, sizeof(s), "value-%d", i);
		v[i] = lf_strpool_intern(&p, s, (size_t)n);
		assert_non_null(v[i]);
	}
	assert_int_equal(p.n, N + 3);
	for (int i = 0; i < N; i++) {
		int n = snprintf(s, sizeof(s), "value-%d", i);
		assert_string_equal(v[i], s);
		assert_ptr_equal(lf_strpool_intern(&p, s, (size_t)n), v[i]);
	}
	assert_int_equal(p.n, N + 3);
	/* a long string gets its own block; the current block stays in use */
	size_t big = 600000;
	char *l = malloc(big);
	memset(l, 'x', big);
	const char *lp = lf_strpool_intern(&p, l, big);
	assert_non_null(lp);
	assert_memory_equal(lp, l, big);
	assert_int_equal(lp[big], 0);
	assert_ptr_equal(lf_strpool_intern(&p, l, big), lp);
	const char *after = lf_strpool_intern(&p, "after-big", 9);
	assert_string_equal(after, "after-big");
	assert_ptr_equal(lf_strpool_intern(&p, "value-7", 7), v[7]);
	/* raw allocations are 8-aligned and zeroed, between odd-sized strings */
	for (int i = 0; i < 20000; i++) {
		int sn = snprintf(s, sizeof(s), "odd-%d-%.*s", i, i % 5, "xxxxx");
		assert_non_null(lf_strpool_intern(&p, s, (size_t)sn));
		size_t n = (size_t)(i % 300) + 1;
		unsigned char *raw = lf_strpool_alloc(&p, n);
		assert_non_null(raw);
		assert_int_equal((uintptr_t)raw & 7, 0);
		for (size_t k = 0; k < n; k++)
			assert_int_equal(raw[k], 0);
		memset(raw, 0xff, n);
	}
	free(l);
	free(v);
	lf_strpool_free(&p);
	assert_null(p.set);
	/* usable again after free */
	assert_string_equal(lf_strpool_intern(&p, "again", 5), "again");
	lf_strpool_free(&p);
}

static void push_json(struct lf_tenant *t, const struct lf_store_config *c, const char *json,
                      int64_t now)
{
	struct lf_ingest_batch b;
	struct lf_error err;
	memset(&b, 0, sizeof(b));
	assert_int_equal(
	        lf_ingest_decode(json, strlen(json), "application/json", NULL, 1 << 20, &b, &err),
	        0);
	struct lf_ingest_ctx ic = {c, now, NULL, NULL};
	assert_int_equal(lf_ingest_validate(&ic, &b, NULL), 0);
	assert_int_equal(lf_tenant_push(t, &b, NULL, &err), 204);
	lf_ingest_batch_free(&b);
}

/* True when p points into one of the pool's strings (found by interning). */
static void assert_interned(struct lf_tenant *t, const char *p, size_t len)
{
	size_t n = t->strings.n;
	assert_ptr_equal(lf_strpool_intern(&t->strings, p, len), p);
	assert_int_equal(t->strings.n, n); /* nothing new */
}

/* Streams sharing names and values share one copy of each; their labels
 * read back through queries, and again after a WAL replay. */
static void test_tenant_interned_labels(void **state)
{
	(void)state;
	char dir[] = "/tmp/lf-memory-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct lf_store_config c;
	assert_int_equal(lf_store_config_defaults(&c), 0);
	struct lf_metrics *reg = lf_metrics_new();
	struct lf_store_metrics m;
	store_metrics(reg, &m);
	struct lf_error err;
	struct lf_tenant *t;
	int64_t now = lf_now_ns();
	for (int round = 0; round < 2; round++) {
		assert_int_equal(lf_tenant_open(dir, "ten", &c, &m, &t, &err), 0);
		if (round == 0) {
			char json[1024];
			snprintf(json, sizeof(json),
			         "{\"streams\":["
			         "{\"stream\":{\"job\":\"a\",\"pod\":\"p1\"},\"values\":[[\"%lld\","
			         "\"x\"]]},"
			         "{\"stream\":{\"job\":\"a\",\"pod\":\"p2\"},\"values\":[[\"%lld\","
			         "\"y\"]]},"
			         "{\"stream\":{\"job\":\"p1\",\"pod\":\"a\"},\"values\":[[\"%lld\","
			         "\"z\"]]}"
			         "]}",
			         (long long)now, (long long)now + 1, (long long)now + 2);
			push_json(t, &c, json, now);
		}
		assert_int_equal(t->n_streams, 3);
		/* job, pod, a, p1, p2: five distinct strings for twelve uses */
		assert_int_equal(t->strings.n, 5);
		const char *job = NULL, *a = NULL;
		for (size_t i = 0; i < t->n_streams; i++) {
			const struct lf_labels *ls = &t->streams[i]->labels;
			assert_int_equal(ls->n, 2);
			for (size_t k = 0; k < ls->n; k++) {
				assert_interned(t, ls->v[k].name, ls->v[k].name_len);
				assert_interned(t, ls->v[k].value, ls->v[k].value_len);
				assert_int_equal(strlen(ls->v[k].value), ls->v[k].value_len);
			}
			assert_string_equal(ls->v[0].name, "job");
			if (!job)
				job = ls->v[0].name;
			assert_ptr_equal(ls->v[0].name, job);
			if (!strcmp(ls->v[0].value, "a")) {
				if (!a)
					a = ls->v[0].value;
				assert_ptr_equal(ls->v[0].value, a);
			} else {
				/* {job="p1", pod="a"}: the value "a" is the same copy */
				assert_string_equal(ls->v[1].value, "a");
				if (a)
					assert_ptr_equal(ls->v[1].value, a);
			}
			assert_string_equal(lf_labels_get(ls, "job"), ls->v[0].value);
		}
		struct lf_buf out = LF_BUF_INIT;
		assert_int_equal(
		        lf_query_label_values(t, "pod", NULL, now - 1000, now + 1000, &out), 0);
		assert_string_equal(out.data, "[\"a\",\"p1\",\"p2\"]");
		lf_buf_reset(&out);
		struct lf_selector *sel;
		const char *q = "{job=\"a\"}";
		assert_int_equal(lf_selector_parse(q, strlen(q), 0, &sel, &err), 0);
		struct lf_log_query lq = {sel, now - 1000, now + 1000, 100, true};
		struct lf_query_stats st;
		assert_int_equal(lf_query_logs(t, &lq, &out, &st, &err), 0);
		assert_int_equal(st.returned, 2);
		assert_non_null(strstr(out.data, "{\"job\":\"a\",\"pod\":\"p2\"}"));
		lf_selector_free(sel);
		lf_buf_free(&out);
		lf_tenant_close(t); /* no flush: round 1 replays the WAL */
	}
	lf_metrics_free(reg);
	lf_store_config_free(&c);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* ingester.max_head_bytes: parsed (and refused when negative); past it a
 * flush pass cuts the largest heads until the heads are at most 3/4 of
 * it, leaves the small ones alone, and the pushes are never refused. */
static void test_max_head_bytes(void **state)
{
	(void)state;
	struct lf_store_config c;
	struct lf_error err;
	assert_int_equal(lf_store_config_defaults(&c), 0);
	assert_int_equal(c.max_head_bytes, 0);
	const char *y = "ingester:\n  max_head_bytes: 70KB\n  chunk_target_size: 1MiB\n";
	assert_int_equal(lf_store_config_load_string(&c, y, strlen(y), "m.yaml", &err), 0);
	assert_int_equal(c.max_head_bytes, 70000);
	struct lf_buf r = LF_BUF_INIT;
	assert_int_equal(lf_store_config_render(&c, &r), 0);
	assert_non_null(strstr(r.data, "max_head_bytes: 70000"));
	lf_buf_free(&r);
	const char *bad = "ingester:\n  max_head_bytes: -1\n";
	struct lf_store_config c2;
	assert_int_equal(lf_store_config_defaults(&c2), 0);
	assert_int_equal(lf_store_config_load_string(&c2, bad, strlen(bad), "n.yaml", &err), -1);
	assert_non_null(strstr(err.msg, "ingester.max_head_bytes"));
	lf_store_config_free(&c2);

	char dir[] = "/tmp/lf-memory-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct lf_metrics *reg = lf_metrics_new();
	struct lf_store_metrics m;
	store_metrics(reg, &m);
	struct lf_tenant *t;
	assert_int_equal(lf_tenant_open(dir, "ten", &c, &m, &t, &err), 0);
	int64_t now = lf_now_ns();
	/* stream k gets (k+1)*20 lines of 100 bytes: ~81 KB in all */
	char line[101];
	memset(line, 'l', 100);
	line[100] = 0;
	struct lf_buf json = LF_BUF_INIT;
	int64_t total = 0;
	for (int k = 0; k < 8; k++) {
		lf_buf_reset(&json);
		lf_buf_printf(&json, "{\"streams\":[{\"stream\":{\"s\":\"%d\"},\"values\":[", k);
		for (int j = 0; j < (k + 1) * 20; j++)
			lf_buf_printf(&json, "%s[\"%lld\",\"%s\"]", j ? "," : "",
			              (long long)(now + k * 1000 + j), line);
		lf_buf_printf(&json, "]}]}");
		push_json(t, &c, json.data, now); /* 204: never refused */
		total += (k + 1) * 20;
	}
	/* past the limit, but not so far that the pushes helped the flusher */
	int64_t before = *t->heads;
	assert_true(before > 70000 && before <= 70000 + 70000 / 4);
	assert_true(lf_tenant_flush(t, false) >= 1);
	int64_t after = *t->heads;
	assert_true(after <= 70000 / 4 * 3);
	assert_true(after > 0); /* not everything: only what the limit needs */
	/* the cut heads are the largest ones */
	size_t smallest_cut = SIZE_MAX, largest_kept = 0;
	for (size_t i = 0; i < t->n_streams; i++) {
		struct lf_stream *s = t->streams[i];
		int k = atoi(lf_labels_get(&s->labels, "s"));
		if (k == 8)
			continue;
		size_t sz = (size_t)(k + 1);
		if (lf_head_n(&s->head)) {
			assert_int_equal(s->cold->n_chunks, 0);
			if (sz > largest_kept)
				largest_kept = sz;
		} else {
			assert_int_equal(s->cold->n_chunks, 1);
			if (sz < smallest_cut)
				smallest_cut = sz;
		}
	}
	assert_true(largest_kept > 0 && smallest_cut != SIZE_MAX);
	assert_true(largest_kept < smallest_cut);
	/* under the limit now: another pass cuts nothing */
	assert_int_equal(lf_tenant_flush(t, false), 0);
	/* far past the limit (the flusher is behind), a push itself cuts the
	 * largest heads before it answers */
	lf_buf_reset(&json);
	lf_buf_printf(&json, "{\"streams\":[{\"stream\":{\"s\":\"8\"},\"values\":[");
	/* lines that do not compress: sealed head blocks hold about as much */
	uint64_t rnd = 88172645463325252ull;
	char noisy[101];
	for (int j = 0; j < 600; j++) {
		for (int k = 0; k < 100; k++) {
			rnd ^= rnd << 13;
			rnd ^= rnd >> 7;
			rnd ^= rnd << 17;
			noisy[k] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			        [rnd % 62];
		}
		noisy[100] = 0;
		lf_buf_printf(&json, "%s[\"%lld\",\"%s\"]", j ? "," : "",
		              (long long)(now + 8 * 1000 + j), noisy);
	}
	lf_buf_printf(&json, "]}]}");
	push_json(t, &c, json.data, now);
	total += 600;
	assert_true(*t->heads <= 70000 / 4 * 3);
	/* every entry still reads back (heads and chunks) */
	struct lf_selector *sel;
	const char *q = "{s=~\".+\"}";
	assert_int_equal(lf_selector_parse(q, strlen(q), 0, &sel, &err), 0);
	struct lf_log_query lq = {sel, now - 1000, now + 100000, 100000, true};
	struct lf_query_stats st;
	struct lf_buf out = LF_BUF_INIT;
	assert_int_equal(lf_query_logs(t, &lq, &out, &st, &err), 0);
	assert_int_equal(st.returned, total);
	assert_true(st.chunks_ref >= 1);
	lf_selector_free(sel);
	lf_buf_free(&out);
	lf_buf_free(&json);
	int64_t at_close = *t->heads;
	lf_tenant_close(t);
	/* a replay counts the heads again (the same blocks, sealed the same) */
	assert_int_equal(lf_tenant_open(dir, "ten", &c, &m, &t, &err), 0);
	assert_int_equal(*t->heads, at_close);
	lf_tenant_close(t);
	lf_metrics_free(reg);
	lf_store_config_free(&c);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_strpool),
	        cmocka_unit_test(test_tenant_interned_labels),
	        cmocka_unit_test(test_max_head_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
