/* store_bench.c — load generator and query timer for logferry-store.
 *
 * Ingest: C clients (threads) POST snappy+protobuf batches of ~batch_bytes
 * (100 streams x 200-byte lines by default) over keep-alive connections.
 * Line texts are generated before the clock starts (STORE_BENCH_TEXT=words:
 * random words and numbers, which snappy shrinks only to ~62% and lz4 to
 * ~63%; =app: logfmt service log lines, ~42% with lz4; one line in 10000
 * holds "needle"); each batch gets fresh timestamps and is encoded by its
 * client right before sending, so no entry is a duplicate (the store drops
 * exact duplicates, which would make the run measure the wrong path). The
 * clients' encoding competes for CPU with the store on a small machine, so
 * the per-core figure uses the store's own CPU time. Reports wall time, MB/s and lines/s,
 * and — given the store's pid — the store's CPU seconds (utime+stime) to
 * give MB/s per core, and its peak RSS (VmHWM).
 * Query: `{job="x"} |= "needle"` over the whole range, timed N times
 * (first = cold-ish, best = warm); scan rate = bytes processed / time.
 *
 * usage: store_bench URL STORE_PID TOTAL_MB [CLIENTS=4] [STREAMS=100] [LINE=200] [BATCH=1048576]
 *                    [split|shared] [noquery]       env STORE_BENCH_TEXT=words|app
 * noquery: ingest only (run_bench.py times the queries itself, on a restarted
 * store whose data is all in chunks, cold and warm).
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "push.h"

static const char *url;
static int n_streams = 100, line_size = 200, batch_bytes = 1 << 20;
/* 0: the streams are split between the clients (each stream has one writer,
 * in time order, as with agents); 1: every client writes every stream, with
 * interleaved timestamps (out-of-order arrivals: the duplicate check runs) */
static int shared;
/* Line texts (env STORE_BENCH_TEXT): "words" (default) are random numbers
 * and 14 short words, high-entropy text that lz4 compresses only 1.6x;
 * "app" are logfmt application log lines (level, caller, message, method,
 * path with an id, status, sizes, durations, a random 128-bit trace id),
 * which lz4 compresses about as well as typical service logs. */
static int app_text;
static int n_clients = 4;
static int64_t batches_per_client;
static int64_t ts_base;

#define DISTINCT 8 /* distinct sets of line texts per client, used in turn */

struct client {
	int id;
	char *lines[DISTINCT]; /* per_batch lines of line_size bytes each */
	char **labels;
	struct lf_push_stream *ss;
	struct lf_push_entry *es;
	struct lf_push_encoder *enc;
	struct lf_buf body;
	int64_t lines_per_batch, line_bytes_per_batch;
	size_t wire_bytes;
	int n_streams; /* streams this client writes */
	int failed;
	pthread_t th;
};

static pthread_barrier_t start_barrier;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* One "app" line (see app_text) of exactly size bytes, cut at size or
 * padded with 'x' to it. n orders the ts= field within the set. */
static void app_line(char *l, int size, uint64_t *seed, int64_t n)
{
	static const char *levels[] = {"info", "info",  "info",  "info", "info",
	                               "info", "debug", "debug", "warn", "error"};
	static const char *callers[] = {"handler.go:142", "handler.go:97", "db.go:311",
	                                "cache.go:58",    "auth.go:203",   "server.go:88",
	                                "queue.go:415",   "client.go:77"};
	static const char *msgs[] = {"request completed", "cache miss", "query executed",
	                             "token refreshed",   "retrying",   "job enqueued",
	                             "connection reused", "slow query", "upstream timeout",
	                             "user lookup"};
	static const char *methods[] = {"GET", "GET", "GET", "POST", "PUT", "DELETE"};
	static const char *paths[] = {"/api/v1/users/", "/api/v1/orders/", "/api/v1/items/",
	                              "/healthz?probe=", "/api/v2/search?q="};
	static const int statuses[] = {200, 200, 200, 200, 201, 204, 304, 400, 404, 500};
	uint64_t r = rnd(seed), r2 = rnd(seed), t1 = rnd(seed), t2 = rnd(seed);
	char tmp[512];
	int k = snprintf(tmp, sizeof(tmp),
	                 "ts=2026-11-21T10:%02d:%02d.%06dZ level=%s caller=%s msg=\"%s\" "
	                 "method=%s path=%s%u status=%d bytes=%u duration_ms=%u.%03u "
	                 "trace_id=%016" PRIx64 "%016" PRIx64 " user=u-%u ",
	                 (int)(n / 60000000 % 60), (int)(n / 1000000 % 60), (int)(n % 1000000),
	                 levels[r % 10], callers[(r >> 8) % 8], msgs[(r >> 16) % 10],
	                 methods[(r >> 24) % 6], paths[(r >> 32) % 5], (unsigned)(r2 % 100000),
	                 statuses[(r >> 40) % 10], (unsigned)(r2 >> 20) % 65536,
	                 (unsigned)(r2 >> 40) % 2000, (unsigned)(r2 >> 52) % 1000, t1, t2,
	                 (unsigned)(r >> 44) % 50000);
	if (k < 0)
		k = 0;
	for (int i = 0; i < size; i++)
		l[i] = i < k ? tmp[i] : 'x';
}

static void prepare(struct client *c)
{
	uint64_t seed = rng_state + (uint64_t)c->id * 7919;
	int per_batch = batch_bytes / line_size;
	static const char words[][8] = {"GET", "POST", "user", "id",    "ok",   "error", "took",
	                                "ms",  "path", "/api", "cache", "miss", "hit",   "db"};
	c->ss = calloc((size_t)n_streams, sizeof(*c->ss));
	c->es = calloc((size_t)per_batch, sizeof(*c->es));
	c->labels = calloc((size_t)n_streams, sizeof(char *));
	int mine = shared ? n_streams : (n_streams + n_clients - 1) / n_clients;
	for (int s = 0; s < mine; s++) {
		c->labels[s] = malloc(64);
		snprintf(c->labels[s], 64, "{job=\"x\", stream=\"s%03d\"}",
		         shared ? s : (c->id * mine + s) % n_streams);
	}
	c->n_streams = mine;
	for (int b = 0; b < DISTINCT; b++) {
		c->lines[b] = malloc((size_t)per_batch * (size_t)line_size + 32);
		for (int i = 0; i < per_batch; i++) {
			char *l = c->lines[b] + (size_t)i * (size_t)line_size;
			int p = app_text ? line_size : 0;
			if (app_text)
				app_line(l, line_size, &seed, (int64_t)b * per_batch + i);
			while (p < line_size) {
				uint64_t r = rnd(&seed);
				if (r % 3 == 0) {
					p += snprintf(l + p, (size_t)(line_size - p + 1),
					              "%" PRIu64 " ", r % 100000);
				} else {
					const char *w = words[r % 14];
					size_t wl = strlen(w);
					for (size_t k = 0; k < wl && p < line_size; k++)
						l[p++] = w[k];
					if (p < line_size)
						l[p++] = ' ';
				}
			}
			if (rnd(&seed) % 10000 == 0)
				memcpy(l + 20, "needle", 6);
		}
	}
	c->enc = lf_push_encoder_new();
	c->lines_per_batch = per_batch;
	c->line_bytes_per_batch = (int64_t)per_batch * line_size;
}

/* Encodes batch number n of this client with unique timestamps. */
static void encode_one(struct client *c, int64_t n)
{
	int per_batch = (int)c->lines_per_batch;
	const char *lines = c->lines[n % DISTINCT];
	int k = 0;
	for (int s = 0; s < c->n_streams; s++) {
		c->ss[s].labels = c->labels[s];
		c->ss[s].entries = c->es + k;
		c->ss[s].n_entries = 0;
		for (int i = s; i < per_batch; i += c->n_streams) {
			c->es[k].ts_ns = ts_base + (n * per_batch + i) * 16 + c->id;
			c->es[k].line = lines + (size_t)i * (size_t)line_size;
			c->es[k].line_len = (size_t)line_size;
			c->ss[s].n_entries++;
			k++;
		}
	}
	struct lf_error err;
	if (lf_push_encode(c->enc, c->ss, (size_t)c->n_streams, &c->body, &err) < 0) {
		fprintf(stderr, "encode: %s\n", err.msg);
		exit(1);
	}
	c->wire_bytes += c->body.len;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p, (void)u;
	return s * n;
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	CURL *h = curl_easy_init();
	char u[512];
	snprintf(u, sizeof(u), "%s/loki/api/v1/push", url);
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/x-protobuf");
	curl_easy_setopt(h, CURLOPT_URL, u);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	pthread_barrier_wait(&start_barrier);
	for (int64_t i = 0; i < batches_per_client; i++) {
		encode_one(c, i);
		struct lf_buf *b = &c->body;
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, b->data);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)b->len);
		long code = 0;
		if (curl_easy_perform(h) != CURLE_OK ||
		    (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code), code / 100 != 2)) {
			fprintf(stderr, "client %d: push failed (HTTP %ld)\n", c->id, code);
			c->failed++;
		}
	}
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	return NULL;
}

static double proc_cpu(int pid)
{
	char p[64], buf[2048];
	snprintf(p, sizeof(p), "/proc/%d/stat", pid);
	FILE *f = fopen(p, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *s = strrchr(buf, ')');
	unsigned long ut = 0, st = 0;
	/* fields after ')': state(3) ... utime(14) stime(15) */
	if (s)
		sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long proc_kb(int pid, const char *key)
{
	char p[64], line[256];
	snprintf(p, sizeof(p), "/proc/%d/status", pid);
	FILE *f = fopen(p, "r");
	long v = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return v;
}

struct mem {
	char *p;
	size_t n;
};

static size_t collect(char *p, size_t s, size_t n, void *u)
{
	struct mem *m = u;
	char *np = realloc(m->p, m->n + s * n + 1);
	if (!np)
		return 0;
	m->p = np;
	memcpy(m->p + m->n, p, s * n);
	m->n += s * n;
	m->p[m->n] = 0;
	return s * n;
}

static double proc_cpu(int pid);
static int store_pid;

static void run_query(int round)
{
	CURL *h = curl_easy_init();
	char *q = curl_easy_escape(h, "{job=\"x\"} |= \"needle\"", 0);
	char u[1024];
	snprintf(u, sizeof(u),
	         "%s/loki/api/v1/query_range?query=%s&start=%" PRId64 "&end=%" PRId64 "&limit=100",
	         url, q, ts_base - 1000000000, ts_base + (int64_t)3600 * 1000000000);
	curl_free(q);
	struct mem m = {0};
	curl_easy_setopt(h, CURLOPT_URL, u);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &m);
	double c0 = proc_cpu(store_pid);
	double t0 = now_s();
	CURLcode rc = curl_easy_perform(h);
	double dt = now_s() - t0;
	double cpu = proc_cpu(store_pid) - c0;
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	json_error_t je;
	json_t *root = rc == CURLE_OK ? json_loads(m.p ? m.p : "", 0, &je) : NULL;
	json_t *sum = json_object_get(
	        json_object_get(json_object_get(json_object_get(root, "data"), "stats"), "summary"),
	        "totalBytesProcessed");
	json_t *res = json_object_get(json_object_get(root, "data"), "result");
	size_t hits = 0, i;
	json_t *s;
	json_array_foreach(res, i, s) hits += json_array_size(json_object_get(s, "values"));
	double bytes = json_is_integer(sum) ? (double)json_integer_value(sum) : 0;
	printf("query round %d: HTTP %ld, %.3f s wall, %.3f s store CPU, %zu hits, %.0f MB "
	       "scanned, "
	       "%.2f GB/s wall, %.2f GB/s per CPU-second\n",
	       round, code, dt, cpu, hits, bytes / 1e6, bytes / dt / 1e9,
	       cpu > 0 ? bytes / cpu / 1e9 : 0);
	json_decref(root);
	free(m.p);
	curl_easy_cleanup(h);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr,
		        "usage: %s URL STORE_PID TOTAL_MB [CLIENTS] [STREAMS] [LINE] [BATCH]\n",
		        argv[0]);
		return 2;
	}
	url = argv[1];
	int pid = atoi(argv[2]);
	store_pid = pid;
	double total_mb = atof(argv[3]);
	int clients = argc > 4 ? atoi(argv[4]) : 4;
	if (argc > 5)
		n_streams = atoi(argv[5]);
	if (argc > 6)
		line_size = atoi(argv[6]);
	if (argc > 7)
		batch_bytes = atoi(argv[7]);
	shared = argc > 8 && !strcmp(argv[8], "shared");
	bool queries = !(argc > 9 && !strcmp(argv[9], "noquery"));
	n_clients = clients;
	const char *text = getenv("STORE_BENCH_TEXT");
	app_text = text && !strcmp(text, "app");
	if (text && !app_text && strcmp(text, "words")) {
		fprintf(stderr, "STORE_BENCH_TEXT=%s: use words or app\n", text);
		return 2;
	}
	curl_global_init(CURL_GLOBAL_ALL);
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	ts_base = ((int64_t)rt.tv_sec - 600) * 1000000000;
	int64_t total_batches = (int64_t)(total_mb * 1048576.0 / batch_bytes);
	batches_per_client = (total_batches + clients - 1) / clients;
	struct client *cs = calloc((size_t)clients, sizeof(*cs));
	for (int i = 0; i < clients; i++) {
		cs[i].id = i;
		prepare(&cs[i]);
	}
	pthread_barrier_init(&start_barrier, NULL, (unsigned)clients + 1);
	for (int i = 0; i < clients; i++)
		pthread_create(&cs[i].th, NULL, client_main, &cs[i]);
	double cpu0 = proc_cpu(pid);
	pthread_barrier_wait(&start_barrier);
	double t0 = now_s();
	int failed = 0;
	for (int i = 0; i < clients; i++) {
		pthread_join(cs[i].th, NULL);
		failed += cs[i].failed;
	}
	double dt = now_s() - t0;
	double cpu = proc_cpu(pid) - cpu0;
	printf("ingest: %d clients x %" PRId64 " batches of %" PRId64
	       " lines (%d streams %s, %d-byte lines), %.0f KiB on the wire per batch\n",
	       clients, batches_per_client, cs[0].lines_per_batch, n_streams,
	       shared ? "shared by all clients" : "split between the clients", line_size,
	       (double)cs[0].wire_bytes / (double)batches_per_client / 1024);
	double bytes =
	        (double)clients * (double)batches_per_client * (double)cs[0].line_bytes_per_batch;
	double lines = (double)clients * (double)batches_per_client * (double)cs[0].lines_per_batch;
	printf("ingest: %.0f MB of lines in %.2f s: %.1f MB/s, %.0f lines/s wall; store CPU %.2f s "
	       "-> %.1f MB/s and %.0f lines/s per core; failed pushes %d\n",
	       bytes / 1e6, dt, bytes / 1e6 / dt, lines / dt, cpu, cpu > 0 ? bytes / 1e6 / cpu : 0,
	       cpu > 0 ? lines / cpu : 0, failed);
	printf("store RSS after ingest: %ld MiB (peak %ld MiB)\n", proc_kb(pid, "VmRSS:") / 1024,
	       proc_kb(pid, "VmHWM:") / 1024);
	if (queries) {
		/* let the flusher finish cutting the heads that reached their target */
		sleep(3);
		for (int r = 1; r <= 3; r++)
			run_query(r);
		printf("store peak RSS: %ld MiB\n", proc_kb(pid, "VmHWM:") / 1024);
	}
	printf("ts_base %" PRId64 "\n", ts_base);
	for (int i = 0; i < clients; i++) {
		for (int b = 0; b < DISTINCT; b++)
			free(cs[i].lines[b]);
		for (int s = 0; s < cs[i].n_streams; s++)
			free(cs[i].labels[s]);
		free(cs[i].labels);
		free(cs[i].ss);
		free(cs[i].es);
		lf_buf_free(&cs[i].body);
		lf_push_encoder_free(cs[i].enc);
	}
	free(cs);
	curl_global_cleanup();
	return failed ? 1 : 0;
}
