/* store.c — see store.h. */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "timeutil.h"

static int mkdir_p(const char *path)
{
	char tmp[4096];
	size_t n = strlen(path);
	if (n >= sizeof(tmp))
		return -1;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Per-tenant gauges computed at scrape time (the head changes per push). */
static void collect_heads(void *ctx, struct lf_buf *out)
{
	struct lf_store *s = ctx;
	lf_buf_appends(out, "# HELP logferry_store_ingester_memory_streams Streams with entries in "
	                    "memory.\n# TYPE logferry_store_ingester_memory_streams gauge\n");
	struct lf_buf bytes = LF_BUF_INIT;
	lf_buf_appends(&bytes,
	               "# HELP logferry_store_ingester_memory_bytes Bytes of entries held in "
	               "memory (heads and chunks being written; sealed head blocks "
	               "compressed).\n"
	               "# TYPE logferry_store_ingester_memory_bytes gauge\n");
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n_tenants; i++) {
		struct lf_tenant *t = s->tenants[i];
		uint64_t n = 0, b = 0;
		pthread_rwlock_rdlock(&t->lock);
		for (size_t k = 0; k < t->n_streams; k++) {
			const struct lf_stream *st = t->streams[k];
			n += lf_head_n(&st->head) || lf_head_n(&st->cold->flushing);
			b += lf_head_held(&st->head) + lf_head_held(&st->cold->flushing);
		}
		pthread_rwlock_unlock(&t->lock);
		lf_buf_printf(out, "logferry_store_ingester_memory_streams{tenant=\"%s\"} %llu\n",
		              t->id, (unsigned long long)n);
		lf_buf_printf(&bytes, "logferry_store_ingester_memory_bytes{tenant=\"%s\"} %llu\n",
		              t->id, (unsigned long long)b);
	}
	pthread_mutex_unlock(&s->mu);
	lf_buf_append(out, bytes.data ? bytes.data : "", bytes.len);
	lf_buf_free(&bytes);
}

static void init_metrics(struct lf_store *s)
{
	lf_metrics_add_collector(s->reg, collect_heads, s);
	static const char *const t[] = {"tenant", NULL};
	static const char *const rt[] = {"reason", "tenant", NULL};
	static const char *const rs[] = {"route", "status_code", NULL};
	struct lf_metrics *r = s->reg;
	s->m.lines_received =
	        lf_metrics_family(r, LF_METRIC_COUNTER, "logferry_store_lines_received_total",
	                          "The total number of lines received.", t, NULL, 0);
	s->m.bytes_received = lf_metrics_family(
	        r, LF_METRIC_COUNTER, "logferry_store_bytes_received_total",
	        "The total number of uncompressed bytes received (lines and structured metadata).",
	        t, NULL, 0);
	s->m.discarded_samples =
	        lf_metrics_family(r, LF_METRIC_COUNTER, "logferry_store_discarded_samples_total",
	                          "The total number of samples that were discarded.", rt, NULL, 0);
	s->m.discarded_bytes =
	        lf_metrics_family(r, LF_METRIC_COUNTER, "logferry_store_discarded_bytes_total",
	                          "The total number of bytes that were discarded.", rt, NULL, 0);
	s->m.chunks_flushed = lf_metrics_family(r, LF_METRIC_COUNTER,
	                                        "logferry_store_ingester_chunks_flushed_total",
	                                        "Total flushed chunks.", t, NULL, 0);
	s->m.chunk_bytes = lf_metrics_family(r, LF_METRIC_COUNTER,
	                                     "logferry_store_ingester_chunk_stored_bytes_total",
	                                     "Total bytes of chunk files written.", t, NULL, 0);
	s->m.chunks_deleted = lf_metrics_family(r, LF_METRIC_COUNTER,
	                                        "logferry_store_compactor_deleted_chunks_total",
	                                        "Chunks deleted by retention.", t, NULL, 0);
	s->m.wal_replayed = lf_metrics_family(r, LF_METRIC_COUNTER,
	                                      "logferry_store_ingester_wal_records_replayed_total",
	                                      "WAL records replayed at startup.", t, NULL, 0);
	s->m.wal_skipped_bytes = lf_metrics_family(
	        r, LF_METRIC_COUNTER, "logferry_store_ingester_wal_corruptions_skipped_bytes_total",
	        "Bytes of torn or corrupt WAL tails skipped at startup.", t, NULL, 0);
	s->m.corrupt_blocks =
	        lf_metrics_family(r, LF_METRIC_COUNTER, "logferry_store_corrupt_chunk_blocks_total",
	                          "Chunk blocks skipped by queries because their "
	                          "checksum did not match.",
	                          t, NULL, 0);
	s->m.requests = lf_metrics_family(r, LF_METRIC_COUNTER, "logferry_store_request_total",
	                                  "HTTP requests by route and status code.", rs, NULL, 0);
}

/* A tenant's head is full: wake the flusher now. */
static void kick_flusher(void *ctx)
{
	struct lf_store *s = ctx;
	pthread_mutex_lock(&s->fmu);
	s->kicked = true;
	pthread_cond_signal(&s->fcv);
	pthread_mutex_unlock(&s->fmu);
}

static int add_tenant(struct lf_store *s, struct lf_tenant *t)
{
	t->kick = kick_flusher;
	t->kick_ctx = s;
	lf_tenant_share_head_bytes(t, &s->head_bytes);
	t->on_push = s->on_push;
	t->on_push_ctx = s->on_push_ctx;
	if (s->n_tenants == s->cap_tenants) {
		size_t nc = s->cap_tenants ? s->cap_tenants * 2 : 8;
		struct lf_tenant **v = realloc(s->tenants, nc * sizeof(*v));
		if (!v)
			return -1;
		s->tenants = v;
		s->cap_tenants = nc;
	}
	s->tenants[s->n_tenants++] = t;
	return 0;
}

void lf_store_set_push_hook(struct lf_store *s,
                            void (*fn)(void *ctx, struct lf_tenant *t,
                                       const struct lf_ingest_batch *b),
                            void *ctx)
{
	pthread_mutex_lock(&s->mu);
	s->on_push = fn;
	s->on_push_ctx = ctx;
	for (size_t i = 0; i < s->n_tenants; i++) {
		s->tenants[i]->on_push = fn;
		s->tenants[i]->on_push_ctx = ctx;
	}
	pthread_mutex_unlock(&s->mu);
}

int lf_store_open(const struct lf_store_config *cfg, struct lf_metrics *reg, struct lf_store **out,
                  struct lf_error *err)
{
	struct lf_store *s = calloc(1, sizeof(*s));
	if (!s)
		return lf_err(err, "out of memory");
	s->cfg = cfg;
	s->reg = reg;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->fmu, NULL);
	pthread_cond_init(&s->fcv, NULL);
	init_metrics(s);
	size_t n = strlen(cfg->path_prefix) + 16;
	s->tenants_dir = malloc(n);
	if (!s->tenants_dir) {
		lf_store_close(s);
		return lf_err(err, "out of memory");
	}
	snprintf(s->tenants_dir, n, "%s/tenants", cfg->path_prefix);
	if (mkdir_p(s->tenants_dir) < 0) {
		lf_err(err, "mkdir %s: %s", s->tenants_dir, strerror(errno));
		lf_store_close(s);
		return -1;
	}
	DIR *d = opendir(s->tenants_dir);
	if (!d) {
		lf_err(err, "opendir %s: %s", s->tenants_dir, strerror(errno));
		lf_store_close(s);
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' &&
		    (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		struct lf_error terr;
		if (lf_tenant_id_valid(de->d_name, strlen(de->d_name), &terr) < 0) {
			lf_warn("ignoring %s/%s: %s", s->tenants_dir, de->d_name, terr.msg);
			continue;
		}
		struct lf_tenant *t;
		if (lf_tenant_open(s->tenants_dir, de->d_name, cfg, &s->m, &t, err) < 0 ||
		    add_tenant(s, t) < 0) {
			closedir(d);
			lf_store_close(s);
			return -1;
		}
	}
	closedir(d);
	*out = s;
	return 0;
}

struct lf_tenant *lf_store_tenant(struct lf_store *s, const char *id, bool create,
                                  struct lf_error *err)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n_tenants; i++) {
		if (!strcmp(s->tenants[i]->id, id)) {
			struct lf_tenant *t = s->tenants[i];
			pthread_mutex_unlock(&s->mu);
			return t;
		}
	}
	struct lf_tenant *t = NULL;
	if (create) {
		if (lf_tenant_open(s->tenants_dir, id, s->cfg, &s->m, &t, err) == 0 &&
		    add_tenant(s, t) < 0) {
			lf_tenant_close(t);
			t = NULL;
			lf_err(err, "out of memory");
		}
	} else {
		lf_err(err, "no data for tenant");
	}
	pthread_mutex_unlock(&s->mu);
	return t;
}

/* Snapshot of the tenant list (tenants are never removed while running). */
static size_t tenants_snapshot(struct lf_store *s, struct lf_tenant ***out)
{
	pthread_mutex_lock(&s->mu);
	size_t n = s->n_tenants;
	*out = n ? malloc(n * sizeof(**out)) : NULL;
	if (*out)
		memcpy(*out, s->tenants, n * sizeof(**out));
	else
		n = 0;
	pthread_mutex_unlock(&s->mu);
	return n;
}

void lf_store_flush_all(struct lf_store *s, bool force)
{
	struct lf_tenant **ts;
	size_t n = tenants_snapshot(s, &ts);
	for (size_t i = 0; i < n; i++)
		lf_tenant_flush(ts[i], force);
	free(ts);
}

static void retention_all(struct lf_store *s)
{
	if (!s->cfg->retention_enabled || s->cfg->limits.retention_period <= 0)
		return;
	struct lf_tenant **ts;
	size_t n = tenants_snapshot(s, &ts);
	for (size_t i = 0; i < n; i++)
		lf_tenant_retention(ts[i], lf_now_ns(), s->cfg->limits.retention_period);
	free(ts);
}

static void *flusher_main(void *arg)
{
	struct lf_store *s = arg;
	int64_t next_retention = 0;
	pthread_mutex_lock(&s->fmu);
	while (!s->stop) {
		pthread_mutex_unlock(&s->fmu);
		lf_store_flush_all(s, false);
		int64_t now = lf_monotonic_ns();
		if (now >= next_retention) {
			retention_all(s);
			if (__builtin_add_overflow(now, s->cfg->compaction_interval,
			                           &next_retention)) /* saturate (issue 17) */
				next_retention = INT64_MAX;
		}
		pthread_mutex_lock(&s->fmu);
		if (s->stop)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t wake = (int64_t)ts.tv_sec * LF_NS_PER_SEC + ts.tv_nsec +
		               s->cfg->flush_check_period;
		ts.tv_sec = wake / LF_NS_PER_SEC;
		ts.tv_nsec = wake % LF_NS_PER_SEC;
		if (!s->kicked)
			pthread_cond_timedwait(&s->fcv, &s->fmu, &ts);
		s->kicked = false;
	}
	pthread_mutex_unlock(&s->fmu);
	return NULL;
}

int lf_store_start_flusher(struct lf_store *s, struct lf_error *err)
{
	int rc = pthread_create(&s->flusher, NULL, flusher_main, s);
	if (rc)
		return lf_err(err, "starting the flusher thread: %s", strerror(rc));
	s->flusher_running = true;
	return 0;
}

void lf_store_close(struct lf_store *s)
{
	if (!s)
		return;
	if (s->flusher_running) {
		pthread_mutex_lock(&s->fmu);
		s->stop = true;
		pthread_cond_broadcast(&s->fcv);
		pthread_mutex_unlock(&s->fmu);
		pthread_join(s->flusher, NULL);
	}
	for (size_t i = 0; i < s->n_tenants; i++) {
		lf_tenant_flush(s->tenants[i], true);
		lf_tenant_close(s->tenants[i]);
	}
	if (s->reg)
		lf_metrics_remove_collector(s->reg, collect_heads, s);
	free(s->tenants);
	free(s->tenants_dir);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->fmu);
	pthread_cond_destroy(&s->fcv);
	free(s);
}
