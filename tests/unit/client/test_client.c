/* Tests of agent/client/client.c against a small in-test HTTP server
 * (common/httpd.h on port 0): batching (size, wait, tenants, streams,
 * external labels), request format, acks, retries, drops, backpressure and
 * stop. Backoff is shortened (min_period 10ms); waits poll conditions with
 * generous deadlines instead of sleeping fixed times. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "httpd.h"
#include "log.h"
#include "push.h"
#include "timeutil.h"

#define WAIT_NS (60 * LF_NS_PER_SEC) /* generous: ASan on a busy 2-core box */

/* ---- the test server ---- */

#define MAX_REQS 256

struct req_rec {
	char tenant[64];
	bool has_tenant;
	char ua[64], ctype[64], custom[64], auth[128], expect[32];
	int status;
	int64_t at_mono;
	Logproto__PushRequest *pr; /* decoded, for 2xx answers */
};

struct srv {
	pthread_mutex_t mu;
	struct lf_httpd *h;
	int port;
	int script[32]; /* statuses for the next requests, then default_status */
	int n_script, script_pos;
	int default_status;
	char fail_tenant[32]; /* requests of this tenant always get 429 */
	const char *error_body;
	struct req_rec reqs[MAX_REQS];
	int n;
};

static void copy_hdr(const struct lf_http_request *req, const char *name, char *out, size_t n)
{
	const char *v = lf_http_header(req, name);
	snprintf(out, n, "%s", v ? v : "");
}

static void srv_handler(void *ctx, const struct lf_http_request *req, struct lf_http_response *resp)
{
	struct srv *s = ctx;
	pthread_mutex_lock(&s->mu);
	assert_true(s->n < MAX_REQS);
	struct req_rec *r = &s->reqs[s->n];
	const char *t = lf_http_header(req, "X-Scope-OrgID");
	r->has_tenant = t != NULL;
	snprintf(r->tenant, sizeof(r->tenant), "%s", t ? t : "");
	copy_hdr(req, "User-Agent", r->ua, sizeof(r->ua));
	copy_hdr(req, "Content-Type", r->ctype, sizeof(r->ctype));
	copy_hdr(req, "X-Custom", r->custom, sizeof(r->custom));
	copy_hdr(req, "Authorization", r->auth, sizeof(r->auth));
	copy_hdr(req, "Expect", r->expect, sizeof(r->expect));
	r->at_mono = lf_monotonic_ns();
	int status = s->script_pos < s->n_script ? s->script[s->script_pos++] : s->default_status;
	if (s->fail_tenant[0] && strcmp(s->fail_tenant, r->tenant) == 0)
		status = 429;
	r->status = status;
	if (status / 100 == 2) {
		struct lf_error err;
		if (lf_push_decode(req->body, req->body_len, 64 << 20, &r->pr, &err) < 0) {
			r->status = 400;
			lf_http_text(resp, 400, "%s", err.msg);
		} else {
			resp->status = status;
		}
	} else {
		lf_http_text(resp, status, "%s", s->error_body ? s->error_body : "failed\n");
	}
	s->n++;
	pthread_mutex_unlock(&s->mu);
}

static void srv_start_port(struct srv *s, int port)
{
	if (!s->default_status)
		s->default_status = 204;
	pthread_mutex_init(&s->mu, NULL);
	struct lf_httpd_config hc = {.address = "127.0.0.1", .port = port, .threads = 2};
	struct lf_error err;
	if (lf_httpd_start(&hc, srv_handler, s, &s->h, &err) < 0)
		fail_msg("httpd: %s", err.msg);
	s->port = lf_httpd_port(s->h);
}

static void srv_start(struct srv *s)
{
	srv_start_port(s, 0);
}

static void srv_stop(struct srv *s)
{
	if (s->h)
		lf_httpd_stop(s->h);
	s->h = NULL;
	for (int i = 0; i < s->n; i++)
		if (s->reqs[i].pr)
			lf_push_request_free(s->reqs[i].pr);
	pthread_mutex_destroy(&s->mu);
}

static int srv_count(struct srv *s)
{
	pthread_mutex_lock(&s->mu);
	int n = s->n;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void srv_set_default(struct srv *s, int status)
{
	pthread_mutex_lock(&s->mu);
	s->default_status = status;
	pthread_mutex_unlock(&s->mu);
}

static size_t req_entries(const struct req_rec *r)
{
	size_t n = 0;
	for (size_t i = 0; r->pr && i < r->pr->n_streams; i++)
		n += r->pr->streams[i]->n_entries;
	return n;
}

/* ---- client helpers ---- */

static void base_cfg(struct lf_client_config *cfg, char *url, size_t url_sz, int port)
{
	lf_client_config_init(cfg);
	snprintf(url, url_sz, "http://127.0.0.1:%d/loki/api/v1/push", port);
	cfg->url = url;
	cfg->batchwait_ns = 10 * LF_NS_PER_MS;
	cfg->backoff_min_ns = 10 * LF_NS_PER_MS;
	cfg->backoff_max_ns = 40 * LF_NS_PER_MS;
	cfg->timeout_ns = 20 * LF_NS_PER_SEC;
}

static struct lf_client *new_client(const struct lf_client_config *cfg, struct lf_metrics *reg)
{
	struct lf_client *c = NULL;
	struct lf_error err;
	if (lf_client_new(cfg, reg, &c, &err) < 0)
		fail_msg("lf_client_new: %s", err.msg);
	return c;
}

static int origin_a;

static int enqueue(struct lf_client *c, const char *labels, const char *line, int64_t ts,
                   uint64_t seq, const char *sm_name, const char *sm_value)
{
	struct lf_entry e;
	memset(&e, 0, sizeof(e));
	struct lf_error err;
	if (lf_labels_parse(labels, strlen(labels), &e.labels, &err) < 0)
		fail_msg("labels %s: %s", labels, err.msg);
	lf_buf_appends(&e.line, line);
	if (sm_name)
		lf_labels_set(&e.sm, sm_name, sm_value);
	e.ts_ns = ts;
	e.origin = &origin_a;
	e.seq_first = seq;
	e.seq_last = seq + 1;
	int rc = lf_client_enqueue(c, &e, &err);
	if (rc < 0)
		fail_msg("enqueue: %s", err.msg);
	lf_buf_free(&e.line);
	lf_labels_free(&e.labels);
	lf_labels_free(&e.sm);
	return rc;
}

struct acks {
	int n, delivered, dropped;
	uint64_t seq[1024];
	bool ok[1024];
};

static void ack_cb(void *ctx, void *origin, uint64_t seq_first, uint64_t seq_last, bool delivered)
{
	struct acks *a = ctx;
	assert_ptr_equal(origin, &origin_a);
	assert_int_equal(seq_last, seq_first + 1);
	assert_true(a->n < 1024);
	a->seq[a->n] = seq_first;
	a->ok[a->n] = delivered;
	a->n++;
	if (delivered)
		a->delivered++;
	else
		a->dropped++;
}

/* Waits on the ack eventfd until `want` acks were drained. */
static void wait_acks(struct lf_client *c, struct acks *a, int want)
{
	int64_t deadline = lf_monotonic_ns() + WAIT_NS;
	while (a->n < want) {
		if (lf_monotonic_ns() > deadline)
			fail_msg("timed out waiting for %d acks (have %d)", want, a->n);
		struct pollfd p = {.fd = lf_client_ack_fd(c), .events = POLLIN};
		if (poll(&p, 1, 100) > 0)
			lf_client_drain_acks(c, ack_cb, a);
	}
}

typedef bool (*cond_fn)(void *ctx);

static void wait_for(cond_fn fn, void *ctx, const char *what)
{
	int64_t deadline = lf_monotonic_ns() + WAIT_NS;
	while (!fn(ctx)) {
		if (lf_monotonic_ns() > deadline)
			fail_msg("timed out waiting for %s", what);
		usleep(2000);
	}
}

static double metric(struct lf_metrics *reg, const char *name, const char *const *lv)
{
	static const char *const l_host[] = {"host", NULL};
	static const char *const l_drop[] = {"host", "tenant", "reason", NULL};
	static const char *const l_retry[] = {"host", "tenant", NULL};
	const char *const *ln = l_host;
	enum lf_metric_type type = LF_METRIC_COUNTER;
	if (strstr(name, "dropped") || strstr(name, "mutated"))
		ln = l_drop;
	else if (strstr(name, "retries"))
		ln = l_retry;
	else if (strstr(name, "queue_bytes"))
		type = LF_METRIC_GAUGE;
	struct lf_metric_family *f = lf_metrics_family(reg, type, name, "", ln, NULL, 0);
	assert_non_null(f);
	return lf_metric_value(f, lv);
}

/* Captures the log into a memory file so messages can be checked. */
static int log_capture_start(void)
{
	int fd = memfd_create("log", 0);
	assert_true(fd >= 0);
	lf_log_set_fd(fd);
	return fd;
}

static char *log_capture_end(int fd)
{
	lf_log_set_fd(2);
	off_t n = lseek(fd, 0, SEEK_END);
	char *s = calloc(1, (size_t)n + 1);
	assert_int_equal(pread(fd, s, (size_t)n, 0), n);
	close(fd);
	return s;
}

/* ---- pure functions ---- */

static void test_backoff_schedule(void **state)
{
	(void)state;
	struct lf_client_config cfg;
	lf_client_config_init(&cfg);
	int64_t sum = 0;
	for (int a = 1; a <= 10; a++) {
		int64_t d = lf_client_backoff_ns(&cfg, a);
		assert_int_equal(d, (500 * LF_NS_PER_MS) << (a - 1));
		sum += d;
	}
	/* Promtail's default schedule: 0.5s .. 256s, 511.5s in all. */
	assert_int_equal(sum, 511500 * LF_NS_PER_MS);
	assert_int_equal(lf_client_backoff_ns(&cfg, 11), 300 * LF_NS_PER_SEC); /* capped at 5m */
	assert_int_equal(lf_client_backoff_ns(&cfg, 1000), 300 * LF_NS_PER_SEC);
	cfg.backoff_min_ns = 10 * LF_NS_PER_MS;
	cfg.backoff_max_ns = 50 * LF_NS_PER_MS;
	int64_t want[] = {10, 20, 40, 50, 50};
	for (int a = 1; a <= 5; a++)
		assert_int_equal(lf_client_backoff_ns(&cfg, a), want[a - 1] * LF_NS_PER_MS);
}

static void test_defaults_and_url_host(void **state)
{
	(void)state;
	struct lf_client_config cfg;
	lf_client_config_init(&cfg);
	assert_int_equal(cfg.batchwait_ns, LF_NS_PER_SEC);
	assert_int_equal(cfg.batchsize, 1048576);
	assert_int_equal(cfg.timeout_ns, 10 * LF_NS_PER_SEC);
	assert_int_equal(cfg.max_retries, 10);
	assert_false(cfg.drop_rate_limited_batches);
	assert_int_equal(cfg.max_queue_bytes, 16 * 1024 * 1024);
	char h[64];
	lf_client_url_host("http://loki:3100/loki/api/v1/push", h, sizeof(h));
	assert_string_equal(h, "loki:3100");
	lf_client_url_host("https://user:pw@logs.example.com/push?x=1", h, sizeof(h));
	assert_string_equal(h, "logs.example.com");
	lf_client_url_host("http://[::1]:3100/p", h, sizeof(h));
	assert_string_equal(h, "[::1]:3100");
	lf_client_url_host("not a url", h, sizeof(h));
	assert_string_equal(h, "");
}

static void expect_new_error(const struct lf_client_config *cfg, const char *needle)
{
	struct lf_client *c = NULL;
	struct lf_error err;
	assert_int_equal(lf_client_new(cfg, NULL, &c, &err), -1);
	assert_null(c);
	if (!strstr(err.msg, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err.msg, needle);
}

static void test_config_errors(void **state)
{
	(void)state;
	struct lf_client_config cfg;
	lf_client_config_init(&cfg);
	expect_new_error(&cfg, "url is required");
	cfg.url = "ftp://x/y";
	expect_new_error(&cfg, "ftp://x/y");
	cfg.url = "http://127.0.0.1:1/push";
	cfg.batchsize = 0;
	expect_new_error(&cfg, "batchsize");
	cfg.batchsize = 100;
	cfg.backoff_min_ns = 0;
	expect_new_error(&cfg, "backoff_config");
	cfg.backoff_min_ns = 1;
	struct lf_labels hdrs = LF_LABELS_INIT;
	lf_labels_set(&hdrs, "Bad Header", "v");
	cfg.headers = &hdrs;
	expect_new_error(&cfg, "Bad Header");
	lf_labels_free(&hdrs);
	cfg.headers = NULL;
	cfg.bearer_token = "a";
	cfg.bearer_token_file = "/b";
	expect_new_error(&cfg, "bearer_token");
}

/* ---- batching and request format ---- */

/* Everything enqueued before stop goes out in one batch when batchwait is
 * long: stop flushes at once, so the grouping is deterministic. */
static void test_format_streams_external_labels(void **state)
{
	(void)state;
	struct srv s = {0};
	srv_start(&s);
	struct lf_metrics *reg = lf_metrics_new();
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	cfg.batchwait_ns = 30 * LF_NS_PER_SEC;
	cfg.tenant_id = "t1";
	struct lf_labels ext = LF_LABELS_INIT, hdrs = LF_LABELS_INIT;
	lf_labels_set(&ext, "cluster", "c1");
	lf_labels_set(&ext, "job", "external-loses");
	cfg.external_labels = &ext;
	lf_labels_set(&hdrs, "X-Custom", "v1");
	lf_labels_set(&hdrs, "User-Agent", "not-allowed");
	lf_labels_set(&hdrs, "Content-Type", "text/plain");
	lf_labels_set(&hdrs, "X-Scope-OrgID", "not-allowed-either");
	cfg.headers = &hdrs;
	struct lf_client *c = new_client(&cfg, reg);
	lf_labels_free(&ext); /* the client copied what it needs */
	lf_labels_free(&hdrs);

	/* label order in the entry does not matter: sets are sorted */
	assert_int_equal(enqueue(c, "{job=\"a\"}", "a1", 100, 10, NULL, NULL), LF_CLIENT_OK);
	assert_int_equal(enqueue(c, "{x=\"y\", job=\"b\"}", "b1", 200, 20, "trace_id", "abc"),
	                 LF_CLIENT_OK);
	assert_int_equal(enqueue(c, "{job=\"a\"}", "a2", 50, 30, NULL, NULL), LF_CLIENT_OK);
	assert_int_equal(enqueue(c, "{job=\"b\", x=\"y\"}", "b2", 300, 40, NULL, NULL),
	                 LF_CLIENT_OK);
	assert_int_equal(lf_client_stop(c, 30 * LF_NS_PER_SEC), 0);

	struct acks a = {0};
	wait_acks(c, &a, 4);
	assert_int_equal(a.delivered, 4);
	assert_int_equal(srv_count(&s), 1);
	struct req_rec *r = &s.reqs[0];
	assert_string_equal(r->tenant, "t1");
	assert_string_equal(r->ua, "logferry/" LF_VERSION);
	assert_string_equal(r->ctype, "application/x-protobuf");
	assert_string_equal(r->custom, "v1");
	assert_string_equal(r->expect, "");
	assert_int_equal(r->pr->n_streams, 2);
	const Logproto__StreamAdapter *sa = r->pr->streams[0], *sb = r->pr->streams[1];
	assert_string_equal(sa->labels, "{cluster=\"c1\", job=\"a\"}");
	assert_string_equal(sb->labels, "{cluster=\"c1\", job=\"b\", x=\"y\"}");
	assert_int_equal(sa->n_entries, 2);
	assert_memory_equal(sa->entries[0]->line.data, "a1", 2);
	assert_int_equal(lf_push_ts_ns(sa->entries[0]->timestamp), 100);
	assert_memory_equal(sa->entries[1]->line.data, "a2", 2);
	assert_int_equal(lf_push_ts_ns(sa->entries[1]->timestamp), 50);
	assert_int_equal(sb->n_entries, 2);
	assert_int_equal(sb->entries[0]->n_structuredmetadata, 1);
	assert_string_equal(sb->entries[0]->structuredmetadata[0]->name, "trace_id");
	assert_string_equal(sb->entries[0]->structuredmetadata[0]->value, "abc");

	const char *hl[] = {NULL};
	char host[64];
	snprintf(host, sizeof(host), "127.0.0.1:%d", s.port);
	hl[0] = host;
	assert_true(metric(reg, "logferry_sent_entries_total", hl) == 4);
	assert_true(metric(reg, "logferry_sent_bytes_total", hl) > 0);
	assert_true(metric(reg, "logferry_encoded_bytes_total", hl) ==
	            metric(reg, "logferry_sent_bytes_total", hl));
	assert_true(metric(reg, "logferry_client_queue_bytes", hl) == 0);
	lf_client_free(c);
	lf_metrics_free(reg);
	srv_stop(&s);
}

/* Without a configured tenant, X-Scope-OrgID is not sent, so a custom one
 * goes through (as in Promtail, which only skips headers it set). */
static void test_custom_orgid_without_tenant(void **state)
{
	(void)state;
	struct srv s = {0};
	srv_start(&s);
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	struct lf_labels hdrs = LF_LABELS_INIT;
	lf_labels_set(&hdrs, "X-Scope-OrgID", "from-header");
	cfg.headers = &hdrs;
	struct lf_client *c = new_client(&cfg, NULL);
	enqueue(c, "{a=\"1\"}", "x", 1, 1, NULL, NULL);
	struct acks a = {0};
	wait_acks(c, &a, 1);
	assert_string_equal(s.reqs[0].tenant, "from-header");
	lf_client_free(c);
	lf_labels_free(&hdrs);
	srv_stop(&s);
}

static void test_batchsize_split(void **state)
{
	(void)state;
	struct srv s = {0};
	srv_start(&s);
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	cfg.batchwait_ns = 30 * LF_NS_PER_SEC;
	cfg.batchsize = 100;
	struct lf_client *c = new_client(&cfg, NULL);
	char line[31];
	memset(line, 'x', 30);
	line[30] = '\0';
	for (int i = 0; i < 7; i++)
		enqueue(c, "{a=\"1\"}", line, i, (uint64_t)i * 10, NULL, NULL);
	/* Structured metadata counts too: 10 + 5 + 5 = 20 bytes, 2 fit in 50. */
	assert_int_equal(lf_client_stop(c, 30 * LF_NS_PER_SEC), 0);
	struct acks a = {0};
	wait_acks(c, &a, 7);
	/* 3 x 30 = 90 <= 100; a 4th would exceed: batches of 3, 3, 1, in order */
	assert_int_equal(srv_count(&s), 3);
	assert_int_equal(req_entries(&s.reqs[0]), 3);
	assert_int_equal(req_entries(&s.reqs[1]), 3);
	assert_int_equal(req_entries(&s.reqs[2]), 1);
	assert_int_equal(lf_push_ts_ns(s.reqs[1].pr->streams[0]->entries[0]->timestamp), 3);
	for (int i = 0; i < 7; i++)
		assert_int_equal(a.seq[i], (uint64_t)i * 10); /* acked in order */
	lf_client_free(c);
	srv_stop(&s);

	struct srv s2 = {0};
	srv_start(&s2);
	base_cfg(&cfg, url, sizeof(url), s2.port);
	cfg.batchwait_ns = 30 * LF_NS_PER_SEC;
	cfg.batchsize = 50;
	c = new_client(&cfg, NULL);
	for (int i = 0; i < 4; i++)
		enqueue(c, "{a=\"1\"}", "0123456789", i, (uint64_t)i, "kkkkk", "vvvvv");
	assert_int_equal(lf_client_stop(c, 30 * LF_NS_PER_SEC), 0);
	struct acks a2 = {0};
	wait_acks(c, &a2, 4);
	assert_int_equal(srv_count(&s2), 2);
	assert_int_equal(req_entries(&s2.reqs[0]), 2);
	assert_int_equal(req_entries(&s2.reqs[1]), 2);
	lf_client_free(c);
	srv_stop(&s2);
}

static void test_batchwait_flush(void **state)
{
	(void)state;
	struct srv s = {0};
	srv_start(&s);
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	cfg.batchwait_ns = 150 * LF_NS_PER_MS;
	struct lf_client *c = new_client(&cfg, NULL);
	int64_t t0 = lf_monotonic_ns();
	enqueue(c, "{a=\"1\"}", "lonely", 1, 1, NULL, NULL);
	struct acks a = {0};
	wait_acks(c, &a, 1);
	assert_int_equal(srv_count(&s), 1);
	/* not sent before the entry was batchwait old */
	assert_true(s.reqs[0].at_mono - t0 >= 150 * LF_NS_PER_MS);

	/* a second round works the same after the sender went idle */
	t0 = lf_monotonic_ns();
	enqueue(c, "{a=\"1\"}", "again", 2, 2, NULL, NULL);
	wait_acks(c, &a, 2);
	assert_int_equal(srv_count(&s), 2);
	assert_true(s.reqs[1].at_mono - t0 >= 150 * LF_NS_PER_MS);
	lf_client_free(c);
	srv_stop(&s);
}

static void test_tenant_split(void **state)
{
	(void)state;
	struct srv s = {0};
	srv_start(&s);
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	cfg.batchwait_ns = 30 * LF_NS_PER_SEC;
	struct lf_client *c = new_client(&cfg, NULL);
	enqueue(c, "{app=\"x\", __tenant_id__=\"a\"}", "a1", 1, 1, NULL, NULL);
	enqueue(c, "{app=\"x\", __tenant_id__=\"b\"}", "b1", 2, 2, NULL, NULL);
	enqueue(c, "{app=\"x\"}", "none1", 3, 3, NULL, NULL);
	enqueue(c, "{app=\"x\", __tenant_id__=\"a\"}", "a2", 4, 4, NULL, NULL);
	assert_int_equal(lf_client_stop(c, 30 * LF_NS_PER_SEC), 0);
	struct acks a = {0};
	wait_acks(c, &a, 4);
	assert_int_equal(srv_count(&s), 3);
	int seen = 0;
	for (int i = 0; i < 3; i++) {
		struct req_rec *r = &s.reqs[i];
		assert_int_equal(r->pr->n_streams, 1);
		/* the reserved label never reaches the server */
		assert_string_equal(r->pr->streams[0]->labels, "{app=\"x\"}");
		if (r->has_tenant && strcmp(r->tenant, "a") == 0) {
			assert_int_equal(req_entries(r), 2);
			seen |= 1;
		} else if (r->has_tenant && strcmp(r->tenant, "b") == 0) {
			assert_int_equal(req_entries(r), 1);
			seen |= 2;
		} else {
			assert_false(r->has_tenant); /* no tenant: no header at all */
			assert_int_equal(req_entries(r), 1);
			seen |= 4;
		}
	}
	assert_int_equal(seen, 7);
	lf_client_free(c);
	srv_stop(&s);
}

/* ---- responses ---- */

static void run_retry_then_success(int st1, int st2)
{
	struct srv s = {0};
	s.script[0] = st1;
	s.script[1] = st2;
	s.n_script = 2;
	srv_start(&s);
	struct lf_metrics *reg = lf_metrics_new();
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	struct lf_client *c = new_client(&cfg, reg);
	for (int i = 0; i < 3; i++)
		enqueue(c, "{a=\"1\"}", "line", i, (uint64_t)i, NULL, NULL);
	struct acks a = {0};
	wait_acks(c, &a, 3);
	assert_int_equal(a.delivered, 3);
	int n = srv_count(&s);
	assert_true(n >= 3);
	assert_int_equal(s.reqs[0].status, st1);
	assert_int_equal(s.reqs[1].status, st2);
	/* the retried body is the same batch */
	size_t got = 0;
	for (int i = 2; i < n; i++)
		got += req_entries(&s.reqs[i]);
	assert_int_equal(got, 3);
	char host[64];
	snprintf(host, sizeof(host), "127.0.0.1:%d", s.port);
	const char *rl[] = {host, ""};
	assert_true(metric(reg, "logferry_batch_retries_total", rl) >= 2);
	const char *hl[] = {host};
	assert_true(metric(reg, "logferry_sent_entries_total", hl) == 3);
	const char *dl[] = {host, "", "ingester_error"};
	assert_true(metric(reg, "logferry_dropped_entries_total", dl) == 0);
	lf_client_free(c);
	lf_metrics_free(reg);
	srv_stop(&s);
}

static void test_429_retried_then_success(void **state)
{
	(void)state;
	run_retry_then_success(429, 429);
}

static void test_5xx_retried_then_success(void **state)
{
	(void)state;
	run_retry_then_success(500, 503);
}

static void test_400_dropped_counted_logged(void **state)
{
	(void)state;
	struct srv s = {0};
	s.script[0] = 400;
	s.n_script = 1;
	s.error_body = "entry too far behind, oldest acceptable timestamp is: x\nsecond line\n";
	srv_start(&s);
	struct lf_metrics *reg = lf_metrics_new();
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	cfg.tenant_id = "tn";
	struct lf_client *c = new_client(&cfg, reg);
	int logfd = log_capture_start();
	for (int i = 0; i < 3; i++)
		enqueue(c, "{a=\"1\"}", "line", i, (uint64_t)i, NULL, NULL);
	struct acks a = {0};
	wait_acks(c, &a, 3);
	char *log = log_capture_end(logfd);
	assert_int_equal(a.dropped, 3);
	assert_int_equal(srv_count(&s), 1); /* not retried */
	if (!strstr(log, "server returned HTTP status 400 Bad Request (400): entry too far "
	                 "behind, oldest acceptable timestamp is: x"))
		fail_msg("log lacks the server message: %s", log);
	assert_null(strstr(log, "second line")); /* first line only */
	char host[64];
	snprintf(host, sizeof(host), "127.0.0.1:%d", s.port);
	const char *dl[] = {host, "tn", "ingester_error"};
	assert_true(metric(reg, "logferry_dropped_entries_total", dl) == 3);
	assert_true(metric(reg, "logferry_dropped_bytes_total", dl) > 0);
	const char *hl[] = {host};
	assert_true(metric(reg, "logferry_sent_entries_total", hl) == 0);
	free(log);

	/* the client keeps working after a dropped batch */
	enqueue(c, "{a=\"1\"}", "after", 9, 9, NULL, NULL);
	wait_acks(c, &a, 4);
	assert_true(a.ok[3]);
	lf_client_free(c);
	lf_metrics_free(reg);
	srv_stop(&s);
}

/* The tenant can come from a log line (tenant stage with `source`): a value
 * with a line break must not inject request headers. Such entries are
 * dropped (Go's HTTP client refuses the header value; Loki would refuse the
 * tenant ID), other tenants are unaffected. */
static void test_tenant_header_injection(void **state)
{
	(void)state;
	struct srv s = {0};
	srv_start(&s);
	struct lf_metrics *reg = lf_metrics_new();
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	struct lf_client *c = new_client(&cfg, reg);
	const char *bad[] = {"a\r\nX-Custom: injected", "b\nX-Custom: injected", "c\x01"};
	for (int i = 0; i < 3; i++) {
		struct lf_entry e;
		memset(&e, 0, sizeof(e));
		struct lf_error err;
		lf_labels_set(&e.labels, "app", "x");
		lf_labels_set(&e.labels, "__tenant_id__", bad[i]);
		lf_buf_appends(&e.line, "evil");
		e.origin = &origin_a;
		e.seq_first = (uint64_t)i;
		e.seq_last = (uint64_t)i + 1;
		assert_true(lf_client_enqueue(c, &e, &err) >= 0);
		lf_buf_free(&e.line);
		lf_labels_free(&e.labels);
	}
	enqueue(c, "{app=\"x\", __tenant_id__=\"good\"}", "fine", 4, 4, NULL, NULL);
	struct acks a = {0};
	wait_acks(c, &a, 4);
	for (int i = 0; i < srv_count(&s); i++) {
		assert_string_equal(s.reqs[i].custom, ""); /* nothing injected */
		assert_string_equal(s.reqs[i].tenant, "good");
	}
	assert_int_equal(srv_count(&s), 1);
	assert_int_equal(a.dropped, 3);
	assert_int_equal(a.delivered, 1);
	char host[64];
	snprintf(host, sizeof(host), "127.0.0.1:%d", s.port);
	const char *dl[] = {host, "c\x01", "ingester_error"};
	assert_true(metric(reg, "logferry_dropped_entries_total", dl) == 1);
	lf_client_free(c);
	lf_metrics_free(reg);
	srv_stop(&s);
}

static void test_429_drop_rate_limited(void **state)
{
	(void)state;
	struct srv s = {0};
	s.default_status = 429;
	srv_start(&s);
	struct lf_metrics *reg = lf_metrics_new();
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	cfg.drop_rate_limited_batches = true;
	struct lf_client *c = new_client(&cfg, reg);
	enqueue(c, "{a=\"1\"}", "line", 1, 1, NULL, NULL);
	struct acks a = {0};
	wait_acks(c, &a, 1);
	assert_int_equal(a.dropped, 1);
	assert_int_equal(srv_count(&s), 1);
	char host[64];
	snprintf(host, sizeof(host), "127.0.0.1:%d", s.port);
	const char *dl[] = {host, "", "rate_limited"};
	assert_true(metric(reg, "logferry_dropped_entries_total", dl) == 1);
	lf_client_free(c);
	lf_metrics_free(reg);
	srv_stop(&s);
}

static void test_retries_exhausted(void **state)
{
	(void)state;
	for (int round = 0; round < 2; round++) {
		int status = round == 0 ? 500 : 429;
		struct srv s = {0};
		s.default_status = status;
		srv_start(&s);
		struct lf_metrics *reg = lf_metrics_new();
		struct lf_client_config cfg;
		char url[128];
		base_cfg(&cfg, url, sizeof(url), s.port);
		cfg.max_retries = 3;
		struct lf_client *c = new_client(&cfg, reg);
		int logfd = log_capture_start();
		enqueue(c, "{a=\"1\"}", "line", 1, 1, NULL, NULL);
		struct acks a = {0};
		wait_acks(c, &a, 1);
		char *log = log_capture_end(logfd);
		assert_int_equal(a.dropped, 1);
		assert_int_equal(srv_count(&s), 3); /* max_retries sends in all */
		char host[64];
		snprintf(host, sizeof(host), "127.0.0.1:%d", s.port);
		const char *dl[] = {host, "", round == 0 ? "ingester_error" : "rate_limited"};
		assert_true(metric(reg, "logferry_dropped_entries_total", dl) == 1);
		const char *rl[] = {host, ""};
		assert_true(metric(reg, "logferry_batch_retries_total", rl) == 2);
		assert_non_null(strstr(log, "will retry"));
		assert_non_null(strstr(log, "dropping batch"));
		free(log);
		lf_client_free(c);
		lf_metrics_free(reg);
		srv_stop(&s);
	}
}

struct retries_ctx {
	struct lf_metrics *reg;
	const char *const *lv;
	double want;
};

static bool retries_reached(void *ctx)
{
	struct retries_ctx *r = ctx;
	return metric(r->reg, "logferry_batch_retries_total", r->lv) >= r->want;
}

static void test_connection_refused_retried(void **state)
{
	(void)state;
	/* Find a port nobody listens on: bind a server, note its port, stop it. */
	struct srv probe = {0};
	srv_start(&probe);
	int port = probe.port;
	srv_stop(&probe);

	struct lf_metrics *reg = lf_metrics_new();
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), port);
	cfg.max_retries = 0; /* forever */
	struct lf_client *c = new_client(&cfg, reg);
	int logfd = log_capture_start();
	enqueue(c, "{a=\"1\"}", "line", 1, 1, NULL, NULL);
	char host[64];
	snprintf(host, sizeof(host), "127.0.0.1:%d", port);
	const char *rl[] = {host, ""};
	struct retries_ctx rc = {reg, rl, 3};
	wait_for(retries_reached, &rc, "3 retries of a refused connection");
	struct acks a = {0};
	assert_int_equal(lf_client_drain_acks(c, ack_cb, &a), 0); /* nothing acked yet */

	struct srv s = {0};
	srv_start_port(&s, port);
	wait_acks(c, &a, 1);
	char *log = log_capture_end(logfd);
	assert_int_equal(a.delivered, 1);
	assert_non_null(strstr(log, "will retry"));
	free(log);
	lf_client_free(c);
	lf_metrics_free(reg);
	srv_stop(&s);
}

/* A tenant stuck in 429 retries does not hold back another tenant. */
static void test_no_head_of_line_blocking(void **state)
{
	(void)state;
	struct srv s = {0};
	snprintf(s.fail_tenant, sizeof(s.fail_tenant), "slow");
	srv_start(&s);
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	cfg.max_retries = 0;
	struct lf_client *c = new_client(&cfg, NULL);
	enqueue(c, "{a=\"1\", __tenant_id__=\"slow\"}", "s", 1, 100, NULL, NULL);
	enqueue(c, "{a=\"1\", __tenant_id__=\"fast\"}", "f1", 2, 200, NULL, NULL);
	struct acks a = {0};
	wait_acks(c, &a, 1);
	assert_int_equal(a.seq[0], 200);
	/* and later batches of the fast tenant keep flowing */
	enqueue(c, "{a=\"1\", __tenant_id__=\"fast\"}", "f2", 3, 300, NULL, NULL);
	wait_acks(c, &a, 2);
	assert_int_equal(a.seq[1], 300);
	assert_int_equal(a.delivered, 2);
	assert_int_equal(lf_client_stop(c, 0), 1); /* the slow one is not acked */
	assert_int_equal(lf_client_drain_acks(c, ack_cb, &a), 0);
	lf_client_free(c);
	srv_stop(&s);
}

/* ---- backpressure ---- */

static bool not_busy(void *ctx)
{
	return !lf_client_busy(ctx);
}

static void test_queue_full_busy(void **state)
{
	(void)state;
	struct srv s = {0};
	s.default_status = 503;
	srv_start(&s);
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	cfg.max_retries = 0;
	cfg.max_queue_bytes = 4000;
	struct lf_client *c = new_client(&cfg, NULL);
	char line[101];
	memset(line, 'q', 100);
	line[100] = '\0';
	int n = 0, rc = LF_CLIENT_OK;
	while (rc == LF_CLIENT_OK && n < 1000)
		rc = enqueue(c, "{a=\"1\"}", line, n, (uint64_t)n, NULL, NULL), n++;
	assert_int_equal(rc, LF_CLIENT_BUSY);
	assert_true(n > 5 && n <= 4000 / 100 + 1); /* ~ bound / record size */
	assert_true(lf_client_busy(c));
	assert_true(lf_client_queue_bytes(c) >= 4000);
	/* The backend is down: nothing is acked, the bound holds. */
	struct acks a = {0};
	assert_int_equal(lf_client_drain_acks(c, ack_cb, &a), 0);
	assert_true(lf_client_busy(c));

	srv_set_default(&s, 204);
	wait_acks(c, &a, n);
	assert_int_equal(a.delivered, n);
	wait_for(not_busy, c, "queue to drain");
	assert_int_equal(lf_client_queue_bytes(c), 0);
	lf_client_free(c);
	srv_stop(&s);
}

/* At its bound the client is fed nothing more until an ack frees room, so
 * a batch that cannot grow goes out at once instead of after batchwait
 * (an hour here: the acks could not come back within the test deadline
 * otherwise). */
static void test_full_queue_sends_without_batchwait(void **state)
{
	(void)state;
	struct srv s = {0};
	srv_start(&s);
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	cfg.batchwait_ns = 3600 * LF_NS_PER_SEC;
	cfg.max_queue_bytes = 4000;
	struct lf_client *c = new_client(&cfg, NULL);
	char line[101];
	memset(line, 'w', 100);
	line[100] = '\0';
	struct acks a = {0};
	for (int round = 0, n = 0; round < 2; round++) {
		int rc = LF_CLIENT_OK, first = n;
		while (rc == LF_CLIENT_OK)
			rc = enqueue(c, "{a=\"1\"}", line, n, (uint64_t)n, NULL, NULL), n++;
		assert_true(n - first > 5);
		wait_acks(c, &a, n);
		assert_int_equal(a.delivered, n);
		assert_int_equal(srv_count(&s), round + 1);
		assert_int_equal(req_entries(&s.reqs[round]), (size_t)(n - first));
		wait_for(not_busy, c, "queue to drain");
	}
	lf_client_free(c);
	srv_stop(&s);
}

/* ---- stop ---- */

static void test_stop_flushes_within_deadline(void **state)
{
	(void)state;
	struct srv s = {0};
	srv_start(&s);
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	cfg.batchwait_ns = 60 * LF_NS_PER_SEC;
	struct lf_client *c = new_client(&cfg, NULL);
	for (int i = 0; i < 10; i++)
		enqueue(c, "{a=\"1\"}", "x", i, (uint64_t)i, NULL, NULL);
	int64_t t0 = lf_monotonic_ns();
	assert_int_equal(lf_client_stop(c, 30 * LF_NS_PER_SEC), 0);
	/* did not wait for batchwait (60s) */
	assert_true(lf_monotonic_ns() - t0 < 30 * LF_NS_PER_SEC);
	assert_int_equal(req_entries(&s.reqs[0]), 10);
	struct acks a = {0};
	assert_int_equal(lf_client_drain_acks(c, ack_cb, &a), 10);
	assert_int_equal(a.delivered, 10);
	struct lf_error err;
	struct lf_entry e;
	memset(&e, 0, sizeof(e));
	assert_int_equal(lf_client_enqueue(c, &e, &err), -1); /* stopped */
	lf_client_free(c);
	srv_stop(&s);
}

static void test_stop_deadline_leaves_unacked(void **state)
{
	(void)state;
	struct srv s = {0};
	s.default_status = 500;
	srv_start(&s);
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	cfg.max_retries = 0;
	struct lf_client *c = new_client(&cfg, NULL);
	for (int i = 0; i < 5; i++)
		enqueue(c, "{a=\"1\"}", "x", i, (uint64_t)i, NULL, NULL);
	int64_t t0 = lf_monotonic_ns();
	assert_int_equal(lf_client_stop(c, 300 * LF_NS_PER_MS), 5);
	int64_t took = lf_monotonic_ns() - t0;
	assert_true(took >= 300 * LF_NS_PER_MS);
	assert_true(took < 20 * LF_NS_PER_SEC);
	assert_true(srv_count(&s) >= 1); /* it did try */
	struct acks a = {0};
	assert_int_equal(lf_client_drain_acks(c, ack_cb, &a), 0); /* nothing acked */
	assert_int_equal(lf_client_stop(c, 0), 5);                /* idempotent */
	lf_client_free(c);
	srv_stop(&s);
}

/* stop_begin flushes without blocking the caller; a later stop with a
 * shorter timeout moves the deadline earlier. */
static void test_stop_begin(void **state)
{
	(void)state;
	struct srv s = {0};
	srv_start(&s);
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	cfg.batchwait_ns = 60 * LF_NS_PER_SEC;
	struct lf_client *c = new_client(&cfg, NULL);
	enqueue(c, "{a=\"1\"}", "x", 1, 1, NULL, NULL);
	lf_client_stop_begin(c, 60 * LF_NS_PER_SEC);
	struct acks a = {0};
	wait_acks(c, &a, 1); /* flushed although batchwait is 60s and stop not called */
	assert_int_equal(lf_client_stop(c, 60 * LF_NS_PER_SEC), 0);
	lf_client_free(c);

	srv_set_default(&s, 500);
	cfg.max_retries = 0;
	c = new_client(&cfg, NULL);
	enqueue(c, "{a=\"1\"}", "y", 1, 2, NULL, NULL);
	lf_client_stop_begin(c, 120 * LF_NS_PER_SEC);
	int64_t t0 = lf_monotonic_ns();
	assert_int_equal(lf_client_stop(c, 200 * LF_NS_PER_MS), 1);
	int64_t took = lf_monotonic_ns() - t0;
	assert_true(took >= 200 * LF_NS_PER_MS && took < 60 * LF_NS_PER_SEC);
	lf_client_free(c);
	srv_stop(&s);
}

/* ---- limits Promtail applies in its client ---- */

static void test_max_line_size(void **state)
{
	(void)state;
	struct srv s = {0};
	srv_start(&s);
	struct lf_metrics *reg = lf_metrics_new();
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	cfg.max_line_size = 10;
	struct lf_client *c = new_client(&cfg, reg);
	enqueue(c, "{a=\"1\"}", "0123456789abcdef", 1, 1, NULL, NULL);
	struct acks a = {0};
	wait_acks(c, &a, 1);
	assert_int_equal(a.dropped, 1);
	char host[64];
	snprintf(host, sizeof(host), "127.0.0.1:%d", s.port);
	const char *dl[] = {host, "", "line_too_long"};
	assert_true(metric(reg, "logferry_dropped_entries_total", dl) == 1);
	assert_true(metric(reg, "logferry_dropped_bytes_total", dl) == 16);
	lf_client_free(c);

	cfg.max_line_size_truncate = true;
	c = new_client(&cfg, reg);
	enqueue(c, "{a=\"1\"}", "0123456789abcdef", 1, 2, NULL, NULL);
	wait_acks(c, &a, 2);
	assert_true(a.ok[1]);
	assert_int_equal(srv_count(&s), 1);
	const Logproto__EntryAdapter *e = s.reqs[0].pr->streams[0]->entries[0];
	assert_int_equal(e->line.len, 10);
	assert_memory_equal(e->line.data, "0123456789", 10);
	assert_true(metric(reg, "logferry_mutated_entries_total", dl) == 1);
	assert_true(metric(reg, "logferry_mutated_bytes_total", dl) == 6);
	lf_client_free(c);
	lf_metrics_free(reg);
	srv_stop(&s);
}

static void test_max_streams(void **state)
{
	(void)state;
	struct srv s = {0};
	srv_start(&s);
	struct lf_metrics *reg = lf_metrics_new();
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	cfg.batchwait_ns = 30 * LF_NS_PER_SEC;
	cfg.max_streams = 2;
	struct lf_client *c = new_client(&cfg, reg);
	enqueue(c, "{s=\"1\"}", "a", 1, 1, NULL, NULL);
	enqueue(c, "{s=\"2\"}", "b", 2, 2, NULL, NULL);
	enqueue(c, "{s=\"3\"}", "c", 3, 3, NULL, NULL); /* third stream: dropped */
	enqueue(c, "{s=\"1\"}", "d", 4, 4, NULL, NULL); /* known stream: kept */
	assert_int_equal(lf_client_stop(c, 30 * LF_NS_PER_SEC), 0);
	struct acks a = {0};
	wait_acks(c, &a, 4);
	assert_int_equal(a.delivered, 3);
	assert_int_equal(a.dropped, 1);
	for (int i = 0; i < 4; i++)
		if (!a.ok[i])
			assert_int_equal(a.seq[i], 3);
	assert_int_equal(s.reqs[0].pr->n_streams, 2);
	char host[64];
	snprintf(host, sizeof(host), "127.0.0.1:%d", s.port);
	const char *dl[] = {host, "", "stream_limited"};
	assert_true(metric(reg, "logferry_dropped_entries_total", dl) == 1);
	lf_client_free(c);
	lf_metrics_free(reg);
	srv_stop(&s);
}

/* ---- auth ---- */

static void test_auth_headers(void **state)
{
	(void)state;
	struct srv s = {0};
	srv_start(&s);
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	cfg.basic_auth_username = "user";
	cfg.basic_auth_password = "pass";
	struct lf_client *c = new_client(&cfg, NULL);
	enqueue(c, "{a=\"1\"}", "x", 1, 1, NULL, NULL);
	struct acks a = {0};
	wait_acks(c, &a, 1);
	assert_string_equal(s.reqs[0].auth, "Basic dXNlcjpwYXNz"); /* base64(user:pass) */
	lf_client_free(c);

	char path[] = "/tmp/lf-client-token-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "tok-1\n", 6), 6);
	close(fd);
	base_cfg(&cfg, url, sizeof(url), s.port);
	cfg.bearer_token_file = path;
	c = new_client(&cfg, NULL);
	enqueue(c, "{a=\"1\"}", "x", 1, 2, NULL, NULL);
	wait_acks(c, &a, 2);
	assert_string_equal(s.reqs[1].auth, "Bearer tok-1"); /* trimmed */
	/* the file is read per request: a rotated token applies */
	FILE *f = fopen(path, "w");
	fputs("tok-2", f);
	fclose(f);
	enqueue(c, "{a=\"1\"}", "x", 1, 3, NULL, NULL);
	wait_acks(c, &a, 3);
	assert_string_equal(s.reqs[2].auth, "Bearer tok-2");
	unlink(path);
	lf_client_free(c);
	srv_stop(&s);
}

/* proxy_url: the request goes to the proxy (here the test server, which
 * answers whatever it is asked); the URL's host does not even resolve. */
static void test_proxy_url(void **state)
{
	(void)state;
	struct srv s = {0};
	srv_start(&s);
	struct lf_client_config cfg;
	char url[128], proxy[64];
	base_cfg(&cfg, url, sizeof(url), s.port);
	cfg.url = "http://loki.invalid:3100/loki/api/v1/push";
	snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", s.port);
	cfg.proxy_url = proxy;
	struct lf_client *c = new_client(&cfg, NULL);
	enqueue(c, "{a=\"1\"}", "via proxy", 1, 1, NULL, NULL);
	struct acks a = {0};
	wait_acks(c, &a, 1);
	assert_int_equal(a.delivered, 1);
	assert_int_equal(srv_count(&s), 1);
	assert_memory_equal(s.reqs[0].pr->streams[0]->entries[0]->line.data, "via proxy", 9);
	lf_client_free(c);
	srv_stop(&s);
}

/* ---- TLS: tls_server.py (python3 stdlib) with openssl-made certs ---- */

struct tls_srv {
	pid_t pid;
	int in_w;
	int port;
};

/* Returns false when the helper is not available (test run by hand). */
static bool tls_srv_start(struct tls_srv *t, const char *dir, bool client_ca)
{
	const char *py = getenv("PYTHON3"), *script = getenv("LF_TLS_SERVER");
	if (!py || !script)
		return false;
	char cert[512], key[512], ca[512];
	snprintf(cert, sizeof(cert), "%s/server.crt", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	snprintf(ca, sizeof(ca), "%s/client.crt", dir);
	int in[2], out[2];
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	t->pid = fork();
	assert_true(t->pid >= 0);
	if (t->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl(py, py, script, cert, key, client_ca ? ca : NULL, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	t->in_w = in[1];
	FILE *f = fdopen(out[0], "r");
	char line[64] = "";
	if (!fgets(line, sizeof(line), f) || sscanf(line, "PORT %d", &t->port) != 1)
		fail_msg("tls_server.py did not start (got \"%s\")", line);
	fclose(f);
	return true;
}

static void tls_srv_stop(struct tls_srv *t)
{
	close(t->in_w); /* the server exits when its stdin closes */
	int st;
	waitpid(t->pid, &st, 0);
}

static void tls_case(struct tls_srv *t, const char *dir, const char *server_name, bool ca,
                     bool insecure, bool client_cert, bool want_delivered)
{
	char url[128], caf[512], cf[512], kf[512];
	struct lf_client_config cfg;
	base_cfg(&cfg, url, sizeof(url), t->port);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/loki/api/v1/push", t->port);
	snprintf(caf, sizeof(caf), "%s/server.crt", dir);
	snprintf(cf, sizeof(cf), "%s/client.crt", dir);
	snprintf(kf, sizeof(kf), "%s/client.key", dir);
	cfg.tls_server_name = server_name;
	cfg.tls_ca_file = ca ? caf : NULL;
	cfg.tls_insecure_skip_verify = insecure;
	if (client_cert) {
		cfg.tls_cert_file = cf;
		cfg.tls_key_file = kf;
	}
	cfg.max_retries = 1;
	struct lf_client *c = new_client(&cfg, NULL);
	int logfd = log_capture_start();
	enqueue(c, "{a=\"1\"}", "over tls", 1, 1, NULL, NULL);
	struct acks a = {0};
	wait_acks(c, &a, 1);
	char *log = log_capture_end(logfd);
	if (a.delivered != (want_delivered ? 1 : 0))
		fail_msg("server_name=%s ca=%d insecure=%d client_cert=%d: delivered=%d; log: %s",
		         server_name ? server_name : "-", ca, insecure, client_cert, a.delivered,
		         log);
	free(log);
	lf_client_free(c);
}

static void test_tls(void **state)
{
	(void)state;
	char dir[] = "/tmp/lf-client-tls-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
	         "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
	         "-nodes -keyout server.key -out server.crt -days 2 -subj /CN=loki.test "
	         "-addext subjectAltName=DNS:loki.test 2>/dev/null && "
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "-keyout client.key -out client.crt -days 2 -subj /CN=agent 2>/dev/null",
	         dir);
	if (system(cmd) != 0)
		fail_msg("openssl could not make test certificates");
	struct tls_srv t;
	if (!tls_srv_start(&t, dir, false)) {
		skip();
		return;
	}
	/* the certificate names loki.test, not 127.0.0.1: server_name makes it match */
	tls_case(&t, dir, "loki.test", true, false, false, true);
	tls_case(&t, dir, NULL, true, false, false, false);
	tls_case(&t, dir, NULL, false, false, false, false); /* unknown CA */
	tls_case(&t, dir, NULL, false, true, false, true);   /* insecure_skip_verify */
	tls_srv_stop(&t);

	assert_true(tls_srv_start(&t, dir, true)); /* requires a client certificate */
	tls_case(&t, dir, "loki.test", true, false, true, true);
	tls_case(&t, dir, "loki.test", true, false, false, false);
	tls_srv_stop(&t);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* The ack fd is readable exactly while acks are pending. */
static void test_ack_fd(void **state)
{
	(void)state;
	struct srv s = {0};
	srv_start(&s);
	struct lf_client_config cfg;
	char url[128];
	base_cfg(&cfg, url, sizeof(url), s.port);
	struct lf_client *c = new_client(&cfg, NULL);
	struct pollfd p = {.fd = lf_client_ack_fd(c), .events = POLLIN};
	assert_int_equal(poll(&p, 1, 0), 0);
	enqueue(c, "{a=\"1\"}", "x", 1, 1, NULL, NULL);
	assert_int_equal(poll(&p, 1, (int)(WAIT_NS / LF_NS_PER_MS)), 1);
	struct acks a = {0};
	assert_int_equal(lf_client_drain_acks(c, ack_cb, &a), 1);
	assert_int_equal(poll(&p, 1, 0), 0);
	lf_client_free(c);
	srv_stop(&s);
}

int main(void)
{
	lf_log_set_level(LF_LOG_INFO);
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_backoff_schedule),
	        cmocka_unit_test(test_defaults_and_url_host),
	        cmocka_unit_test(test_config_errors),
	        cmocka_unit_test(test_format_streams_external_labels),
	        cmocka_unit_test(test_custom_orgid_without_tenant),
	        cmocka_unit_test(test_batchsize_split),
	        cmocka_unit_test(test_batchwait_flush),
	        cmocka_unit_test(test_tenant_split),
	        cmocka_unit_test(test_429_retried_then_success),
	        cmocka_unit_test(test_5xx_retried_then_success),
	        cmocka_unit_test(test_400_dropped_counted_logged),
	        cmocka_unit_test(test_tenant_header_injection),
	        cmocka_unit_test(test_429_drop_rate_limited),
	        cmocka_unit_test(test_retries_exhausted),
	        cmocka_unit_test(test_connection_refused_retried),
	        cmocka_unit_test(test_no_head_of_line_blocking),
	        cmocka_unit_test(test_queue_full_busy),
	        cmocka_unit_test(test_full_queue_sends_without_batchwait),
	        cmocka_unit_test(test_stop_flushes_within_deadline),
	        cmocka_unit_test(test_stop_deadline_leaves_unacked),
	        cmocka_unit_test(test_stop_begin),
	        cmocka_unit_test(test_max_line_size),
	        cmocka_unit_test(test_max_streams),
	        cmocka_unit_test(test_auth_headers),
	        cmocka_unit_test(test_proxy_url),
	        cmocka_unit_test(test_tls),
	        cmocka_unit_test(test_ack_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
