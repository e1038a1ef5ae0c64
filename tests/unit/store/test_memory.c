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
	free(l);
	free(v);
	lf_strpool_free(&p);
	assert_null(p.set);
	/* usable again after free */
	assert_string_equal(lf_strpool_intern(&p, "again", 5), "again");
	lf_strpool_free(&p);
}

static void store_metrics(struct lf_metrics *reg, struct lf_store_metrics *m)
{
	static const char *const t1[] = {"tenant", NULL};
	static const char *const t2[] = {"reason", "tenant", NULL};
	struct lf_metric_family **fams[] = {
	        &m->lines_received, &m->bytes_received, &m->chunks_flushed,    &m->chunk_bytes,
	        &m->chunks_deleted, &m->wal_replayed,   &m->wal_skipped_bytes, &m->corrupt_blocks};
	char name[32];
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		snprintf(name, sizeof(name), "m%zu", i);
		*fams[i] = lf_metrics_family(reg, LF_METRIC_COUNTER, name, "h", t1, NULL, 0);
	}
	m->discarded_samples = lf_metrics_family(reg, LF_METRIC_COUNTER, "d1", "h", t2, NULL, 0);
	m->discarded_bytes = lf_metrics_family(reg, LF_METRIC_COUNTER, "d2", "h", t2, NULL, 0);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_strpool),
	        cmocka_unit_test(test_tenant_interned_labels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
