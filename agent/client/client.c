/* client.c — see client.h.
 *
 * Shape: the event loop serialises each entry into `in` (one growable byte
 * buffer, one mutex); the sender thread swaps that buffer out, spreads the
 * records over per-tenant batches (batch.c), encodes full or old batches,
 * and drives at most one request per tenant through one curl multi handle.
 * Finished entries go back through the ack queue + eventfd.
 */
#include "client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "batch.h"
#include "buf.h"
#include "log.h"
#include "push.h"
#include "timeutil.h"

#ifndef LF_VERSION
#define LF_VERSION "dev"
#endif

#define USER_AGENT       "logferry/" LF_VERSION
#define MAX_ERR_BODY     1024
#define MAX_FREE_BATCHES 8
/* The sender is woken when this much input has piled up since its last
 * look (or at once when it has nothing pending), not per line. */
#define WAKE_BYTES (256 * 1024)
/* A tenant (its curl handle and connection) unused this long is freed:
 * the tenant stage can create many short-lived tenants. */
#define TENANT_IDLE_NS (5 * 60 * LF_NS_PER_SEC)

/* ---- the input record (event loop -> sender) ---- */

struct rec_hdr {
	int64_t ts_ns;
	int64_t enq_mono_ns;
	void *origin;
	uint64_t seq_first, seq_last;
	uint32_t size; /* whole record including this header, 8-aligned */
	uint32_t tenant_len;
	uint32_t key_len;
	uint32_t line_len;
	uint32_t sm_len;
	uint32_t n_sm;
};
/* followed by: tenant '\0', key '\0', line, sm ("name\0value\0" pairs) */

struct ack {
	void *origin;
	uint64_t seq_first, seq_last;
	bool delivered;
};

struct bnode {
	struct lf_cbatch b;
	struct lf_buf body; /* encoded request */
	bool encoded;       /* body holds the encoding of b */
	int attempts;       /* sends so far */
	int64_t next_try_mono;
	struct bnode *next;
};

struct tenant {
	char *id; /* "" = no X-Scope-OrgID */
	struct bnode *building;
	struct bnode *ready_head, *ready_tail;
	struct bnode *inflight; /* being sent or waiting for its retry */
	bool active;            /* inflight is in the curl multi handle */
	CURL *easy;
	struct curl_slist *hdrs;
	struct lf_buf resp; /* first MAX_ERR_BODY bytes of the response body */
	char reason[128];   /* reason phrase of the last status line */
	char curl_err[CURL_ERROR_SIZE];
	int64_t started_mono;
	int64_t last_used_mono; /* for freeing tenants not seen for a while */
	struct tenant *next;
};

struct lf_client {
	/* configuration (owned copies) */
	struct lf_client_config cfg; /* pointers below point into owned copies */
	char *url, *tenant_id, *name, *host;
	char *ba_user, *ba_pass, *ba_pass_file, *bearer, *bearer_file, *proxy;
	char *tls_ca, *tls_cert, *tls_key, *tls_server_name;
	struct curl_slist *connect_to_list; /* tls server_name: "sn:port:host:port",
	                                     * shared read-only by the handles */
	char *send_url;                     /* url with the host replaced by server_name */
	char *host_hdr;                     /* "Host: <orig>" when send_url differs */
	struct lf_labels external;
	char **hdr_names, **hdr_values;
	size_t n_hdrs;
	int64_t wake_bytes;

	/* event-loop side scratch (one thread) */
	struct lf_labels scratch_labels;
	struct lf_buf scratch_key;
	struct lf_buf scratch_tenant;
	struct lf_labels last_labels; /* entry labels scratch_key/tenant belong to */
	bool key_valid;

	/* input queue */
	pthread_mutex_t mu;
	struct lf_buf in;
	bool sender_idle;  /* sender has no batch waiting: wake it on input */
	bool wake_pending; /* a wake-up was sent since the sender's last swap */
	bool stopping;
	int64_t stop_deadline;
	atomic_int_fast64_t queue_bytes;

	/* ack queue */
	pthread_mutex_t ack_mu;
	struct ack *acks, *acks_spare;
	size_t n_acks, cap_acks, cap_spare;
	int efd;

	/* sender thread */
	pthread_t thread;
	bool started, joined;
	CURLM *multi;
	struct lf_buf drained;
	struct tenant *tenants;
	struct bnode *free_batches;
	int n_free;
	struct lf_push_encoder *enc;
	struct lf_cbatch_scratch sc;
	uint64_t unacked;
	struct lf_ratelimit rl_bad_tenant;

	/* metrics */
	struct lf_metrics *reg;
	bool own_reg;
	struct lf_metric_family *m_sent_entries, *m_sent_bytes, *m_encoded_bytes;
	struct lf_metric_family *m_dropped_entries, *m_dropped_bytes;
	struct lf_metric_family *m_mutated_entries, *m_mutated_bytes;
	struct lf_metric_family *m_duration, *m_retries, *m_queue_bytes;
};

/* ---- small helpers ---- */

static bool empty(const char *s)
{
	return !s || !*s;
}

void lf_client_config_init(struct lf_client_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->batchwait_ns = LF_NS_PER_SEC;
	cfg->batchsize = 1048576;
	cfg->timeout_ns = 10 * LF_NS_PER_SEC;
	cfg->backoff_min_ns = 500 * LF_NS_PER_MS;
	cfg->backoff_max_ns = 5 * 60 * LF_NS_PER_SEC;
	cfg->max_retries = 10;
	cfg->max_queue_bytes = 16 * 1024 * 1024;
}

int64_t lf_client_backoff_ns(const struct lf_client_config *cfg, int attempt)
{
	int64_t d = cfg->backoff_min_ns > 0 ? cfg->backoff_min_ns : 1;
	int64_t max = cfg->backoff_max_ns > 0 ? cfg->backoff_max_ns : d;
	for (int i = 1; i < attempt && d < max; i++) {
		if (d > INT64_MAX / 2) {
			d = max;
			break;
		}
		d *= 2;
	}
	return d < max ? d : max;
}

void lf_client_url_host(const char *url, char *out, size_t outsz)
{
	if (outsz == 0)
		return;
	out[0] = '\0';
	if (!url)
		return;
	const char *p = strstr(url, "://");
	if (!p)
		return;
	p += 3;
	size_t n = strcspn(p, "/?#");
	/* Drop userinfo ("user:pass@"): Go's URL.Host does not include it. */
	const char *at = memchr(p, '@', n);
	if (at) {
		n -= (size_t)(at + 1 - p);
		p = at + 1;
	}
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* Reads a secret file, trimmed of surrounding whitespace (as Prometheus'
 * HTTP client config does). Returns malloc'ed text or NULL (errno set). */
static char *read_secret_file(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	struct lf_buf b = LF_BUF_INIT;
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		if (lf_buf_append(&b, tmp, n) < 0) {
			fclose(f);
			lf_buf_free(&b);
			errno = ENOMEM;
			return NULL;
		}
		if (b.len > 1024 * 1024)
			break;
	}
	fclose(f);
	if (lf_buf_appends(&b, "") < 0) {
		lf_buf_free(&b);
		errno = ENOMEM;
		return NULL;
	}
	size_t s = 0, e = b.len;
	while (s < e && isspace((unsigned char)b.data[s]))
		s++;
	while (e > s && isspace((unsigned char)b.data[e - 1]))
		e--;
	memmove(b.data, b.data + s, e - s);
	b.data[e - s] = '\0';
	return b.data;
}

/* ---- metrics ---- */

static const double duration_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

static int register_metrics(struct lf_client *c)
{
	static const char *const l_host[] = {"host", NULL};
	static const char *const l_drop[] = {"host", "tenant", "reason", NULL};
	static const char *const l_dur[] = {"status_code", "host", NULL};
	static const char *const l_retry[] = {"host", "tenant", NULL};
	struct lf_metrics *r = c->reg;
	c->m_sent_entries = lf_metrics_family(r, LF_METRIC_COUNTER, "logferry_sent_entries_total",
	                                      "Log entries the server accepted.", l_host, NULL, 0);
	c->m_sent_bytes =
	        lf_metrics_family(r, LF_METRIC_COUNTER, "logferry_sent_bytes_total",
	                          "Encoded request bytes the server accepted.", l_host, NULL, 0);
	c->m_encoded_bytes =
	        lf_metrics_family(r, LF_METRIC_COUNTER, "logferry_encoded_bytes_total",
	                          "Bytes of encoded (snappy protobuf) batches.", l_host, NULL, 0);
	c->m_dropped_entries = lf_metrics_family(
	        r, LF_METRIC_COUNTER, "logferry_dropped_entries_total",
	        "Log entries given up on (rejected, retries exhausted, limits).", l_drop, NULL, 0);
	c->m_dropped_bytes =
	        lf_metrics_family(r, LF_METRIC_COUNTER, "logferry_dropped_bytes_total",
	                          "Bytes of log entries given up on.", l_drop, NULL, 0);
	c->m_mutated_entries = lf_metrics_family(
	        r, LF_METRIC_COUNTER, "logferry_mutated_entries_total",
	        "Log entries changed before sending (truncated lines).", l_drop, NULL, 0);
	c->m_mutated_bytes = lf_metrics_family(r, LF_METRIC_COUNTER, "logferry_mutated_bytes_total",
	                                       "Bytes removed from log entries before sending.",
	                                       l_drop, NULL, 0);
	c->m_duration = lf_metrics_family(
	        r, LF_METRIC_HISTOGRAM, "logferry_request_duration_seconds",
	        "Duration of push requests (status_code \"failed\" = no HTTP response).", l_dur,
	        duration_buckets, sizeof(duration_buckets) / sizeof(duration_buckets[0]));
	c->m_retries = lf_metrics_family(r, LF_METRIC_COUNTER, "logferry_batch_retries_total",
	                                 "Times a batch was scheduled to be sent again.", l_retry,
	                                 NULL, 0);
	c->m_queue_bytes = lf_metrics_family(
	        r, LF_METRIC_GAUGE, "logferry_client_queue_bytes",
	        "Bytes of entries queued or in flight in a client (bounded by max_queue_bytes).",
	        l_host, NULL, 0);
	if (!c->m_sent_entries || !c->m_sent_bytes || !c->m_encoded_bytes ||
	    !c->m_dropped_entries || !c->m_dropped_bytes || !c->m_mutated_entries ||
	    !c->m_mutated_bytes || !c->m_duration || !c->m_retries || !c->m_queue_bytes)
		return -1;
	return 0;
}

static void count_drop(struct lf_client *c, const char *tenant, const char *reason, double entries,
                       double bytes)
{
	const char *lv[] = {c->host, tenant, reason};
	lf_metric_add(c->m_dropped_entries, lv, entries);
	lf_metric_add(c->m_dropped_bytes, lv, bytes);
}

static void publish_queue_bytes(struct lf_client *c)
{
	const char *lv[] = {c->host};
	lf_metric_set(c->m_queue_bytes, lv, (double)atomic_load(&c->queue_bytes));
}

/* ---- acks ---- */

static int ack_reserve(struct lf_client *c, size_t n)
{
	if (c->n_acks + n <= c->cap_acks)
		return 0;
	size_t cap = c->cap_acks ? c->cap_acks * 2 : 256;
	while (cap < c->n_acks + n)
		cap *= 2;
	struct ack *a = realloc(c->acks, cap * sizeof(*a));
	if (!a)
		return -1;
	c->acks = a;
	c->cap_acks = cap;
	return 0;
}

static void ack_signal(struct lf_client *c)
{
	uint64_t one = 1;
	/* EAGAIN means the counter is already non-zero: readable anyway. */
	ssize_t r = write(c->efd, &one, sizeof(one));
	(void)r;
}

/* Queues acks for all entries of a finished batch and frees its queue
 * bytes (before the signal, so the woken loop sees the space). */
static void ack_batch(struct lf_client *c, const struct lf_cbatch *b, bool delivered)
{
	atomic_fetch_sub(&c->queue_bytes, b->qbytes);
	pthread_mutex_lock(&c->ack_mu);
	while (ack_reserve(c, b->n) < 0) {
		/* Losing an ack would stall positions forever; memory for
		 * 32 bytes per entry is worth waiting for. */
		pthread_mutex_unlock(&c->ack_mu);
		lf_error("client %s: out of memory queueing acks; retrying", c->name);
		usleep(100000);
		pthread_mutex_lock(&c->ack_mu);
	}
	for (size_t i = 0; i < b->n; i++) {
		const struct lf_cbatch_entry *e = &b->e[i];
		c->acks[c->n_acks++] =
		        (struct ack){e->origin, e->seq_first, e->seq_last, delivered};
	}
	ack_signal(c);
	pthread_mutex_unlock(&c->ack_mu);
	publish_queue_bytes(c);
}

static int ack_one(struct lf_client *c, void *origin, uint64_t seq_first, uint64_t seq_last,
                   bool delivered)
{
	pthread_mutex_lock(&c->ack_mu);
	if (ack_reserve(c, 1) < 0) {
		pthread_mutex_unlock(&c->ack_mu);
		return -1;
	}
	c->acks[c->n_acks++] = (struct ack){origin, seq_first, seq_last, delivered};
	ack_signal(c);
	pthread_mutex_unlock(&c->ack_mu);
	return 0;
}

int lf_client_ack_fd(const struct lf_client *c)
{
	return c->efd;
}

size_t lf_client_drain_acks(struct lf_client *c, lf_client_ack_fn fn, void *ctx)
{
	pthread_mutex_lock(&c->ack_mu);
	struct ack *a = c->acks;
	size_t n = c->n_acks, cap = c->cap_acks;
	c->acks = c->acks_spare;
	c->cap_acks = c->cap_spare;
	c->n_acks = 0;
	c->acks_spare = a;
	c->cap_spare = cap;
	uint64_t v;
	ssize_t r = read(c->efd, &v, sizeof(v));
	(void)r;
	pthread_mutex_unlock(&c->ack_mu);
	/* The sender appends to the other array meanwhile; this one is ours
	 * until the next drain (same thread). */
	for (size_t i = 0; i < n; i++)
		fn(ctx, a[i].origin, a[i].seq_first, a[i].seq_last, a[i].delivered);
	return n;
}

int64_t lf_client_queue_bytes(struct lf_client *c)
{
	return atomic_load(&c->queue_bytes);
}

bool lf_client_busy(struct lf_client *c)
{
	return atomic_load(&c->queue_bytes) >= c->cfg.max_queue_bytes;
}

/* ---- enqueue (event-loop thread) ---- */

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

int lf_client_enqueue(struct lf_client *c, const struct lf_entry *e, struct lf_error *err)
{
	/* Consecutive entries mostly carry the same label set (one file, one
	 * target), so the rendered key and tenant of the last set are reused
	 * when the set is equal: a compare instead of merge + render. */
	if (!c->key_valid || !lf_labels_equal(&e->labels, &c->last_labels)) {
		c->key_valid = false;
		struct lf_labels *ls = &c->scratch_labels;
		/* Entry labels win over external ones (Promtail merges the
		 * entry's labels over the external set). */
		if (lf_labels_copy(ls, &e->labels) < 0 ||
		    lf_labels_merge(ls, &c->external, false) < 0)
			return lf_err(err, "client %s: out of memory copying labels", c->name);
		const char *tl = lf_labels_get(ls, LF_TENANT_LABEL);
		lf_buf_reset(&c->scratch_tenant);
		if (lf_buf_appends(&c->scratch_tenant, tl ? tl : c->tenant_id) < 0)
			return lf_err(err, "client %s: out of memory", c->name);
		if (tl)
			lf_labels_del(ls, LF_TENANT_LABEL);
		lf_buf_reset(&c->scratch_key);
		if (lf_labels_render(ls, &c->scratch_key) < 0 ||
		    lf_labels_copy(&c->last_labels, &e->labels) < 0)
			return lf_err(err, "client %s: out of memory rendering labels", c->name);
		c->key_valid = true;
	}

	const char *line = e->line.data ? e->line.data : "";
	size_t line_len = e->line.len;
	if (c->cfg.max_line_size > 0 && line_len > (size_t)c->cfg.max_line_size) {
		const char *lv[] = {c->host, c->scratch_tenant.data, "line_too_long"};
		if (c->cfg.max_line_size_truncate) {
			lf_metric_inc(c->m_mutated_entries, lv);
			lf_metric_add(c->m_mutated_bytes, lv,
			              (double)(line_len - (size_t)c->cfg.max_line_size));
			line_len = (size_t)c->cfg.max_line_size;
		} else {
			count_drop(c, c->scratch_tenant.data, "line_too_long", 1, (double)line_len);
			if (ack_one(c, e->origin, e->seq_first, e->seq_last, false) < 0)
				return lf_err(err, "client %s: out of memory queueing an ack",
				              c->name);
			return lf_client_busy(c) ? LF_CLIENT_BUSY : LF_CLIENT_OK;
		}
	}

	size_t sm_len = 0;
	for (size_t i = 0; i < e->sm.n; i++)
		sm_len += strlen(e->sm.v[i].name) + strlen(e->sm.v[i].value) + 2;
	size_t tenant_len = c->scratch_tenant.len, key_len = c->scratch_key.len;
	size_t total = sizeof(struct rec_hdr) + tenant_len + 1 + key_len + 1 + line_len + sm_len;
	if (total > UINT32_MAX / 2)
		return lf_err(err, "client %s: entry of %zu bytes is too large", c->name, total);
	size_t size = align8(total);

	pthread_mutex_lock(&c->mu);
	if (c->stopping) {
		pthread_mutex_unlock(&c->mu);
		return lf_err(err, "client %s: stopped", c->name);
	}
	if (lf_buf_reserve(&c->in, size) < 0) {
		pthread_mutex_unlock(&c->mu);
		return lf_err(err, "client %s: out of memory queueing an entry", c->name);
	}
	char *p = c->in.data + c->in.len;
	struct rec_hdr h = {
	        .ts_ns = e->ts_ns,
	        .enq_mono_ns = lf_monotonic_ns(),
	        .origin = e->origin,
	        .seq_first = e->seq_first,
	        .seq_last = e->seq_last,
	        .size = (uint32_t)size,
	        .tenant_len = (uint32_t)tenant_len,
	        .key_len = (uint32_t)key_len,
	        .line_len = (uint32_t)line_len,
	        .sm_len = (uint32_t)sm_len,
	        .n_sm = (uint32_t)e->sm.n,
	};
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	memcpy(p, c->scratch_tenant.data, tenant_len + 1);
	p += tenant_len + 1;
	memcpy(p, c->scratch_key.data, key_len + 1);
	p += key_len + 1;
	memcpy(p, line, line_len);
	p += line_len;
	for (size_t i = 0; i < e->sm.n; i++) {
		size_t a = strlen(e->sm.v[i].name) + 1, b = strlen(e->sm.v[i].value) + 1;
		memcpy(p, e->sm.v[i].name, a);
		p += a;
		memcpy(p, e->sm.v[i].value, b);
		p += b;
	}
	c->in.len += size;
	bool wake = false;
	if (c->sender_idle) {
		c->sender_idle = false;
		wake = true;
	} else if (!c->wake_pending && (int64_t)c->in.len >= c->wake_bytes) {
		c->wake_pending = true;
		wake = true;
	}
	int64_t q = atomic_fetch_add(&c->queue_bytes, (int64_t)size) + (int64_t)size;
	if (q >= c->cfg.max_queue_bytes && !c->wake_pending && !wake) {
		/* The caller stops feeding us now: the sender must take what
		 * is queued (and send a batch that can no longer grow) without
		 * waiting for batchwait. */
		c->wake_pending = true;
		wake = true;
	}
	pthread_mutex_unlock(&c->mu);
	if (wake)
		curl_multi_wakeup(c->multi);
	return q >= c->cfg.max_queue_bytes ? LF_CLIENT_BUSY : LF_CLIENT_OK;
}

/* ---- sender thread: batches ---- */

static struct bnode *bnode_get(struct lf_client *c)
{
	struct bnode *bn = c->free_batches;
	if (bn) {
		c->free_batches = bn->next;
		c->n_free--;
	} else {
		bn = calloc(1, sizeof(*bn));
		if (!bn)
			return NULL;
		lf_cbatch_init(&bn->b);
	}
	bn->next = NULL;
	bn->encoded = false;
	bn->attempts = 0;
	bn->next_try_mono = 0;
	return bn;
}

static void bnode_free(struct bnode *bn)
{
	lf_cbatch_free(&bn->b);
	lf_buf_free(&bn->body);
	free(bn);
}

/* Keeps a few batches (with their warm buffers) for reuse; frees the rest so
 * a burst does not pin its peak memory forever. */
static void bnode_put(struct lf_client *c, struct bnode *bn)
{
	if (c->n_free >= MAX_FREE_BATCHES) {
		bnode_free(bn);
		return;
	}
	lf_cbatch_reset(&bn->b);
	lf_buf_reset(&bn->body);
	bn->next = c->free_batches;
	c->free_batches = bn;
	c->n_free++;
}

static struct tenant *tenant_get(struct lf_client *c, const char *id, size_t id_len)
{
	struct tenant **pp = &c->tenants;
	for (struct tenant *t = c->tenants; t; pp = &t->next, t = t->next) {
		if (strlen(t->id) == id_len && memcmp(t->id, id, id_len) == 0) {
			/* Move to front: consecutive entries mostly share a tenant. */
			*pp = t->next;
			t->next = c->tenants;
			c->tenants = t;
			return t;
		}
	}
	struct tenant *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->id = strndup(id, id_len);
	if (!t->id) {
		free(t);
		return NULL;
	}
	t->next = c->tenants;
	c->tenants = t;
	return t;
}

static void close_building(struct tenant *t)
{
	struct bnode *bn = t->building;
	if (!bn)
		return;
	t->building = NULL;
	if (bn->b.n == 0) {
		/* Only possible after a failed add; nothing to send. */
		t->building = bn;
		return;
	}
	if (t->ready_tail)
		t->ready_tail->next = bn;
	else
		t->ready_head = bn;
	t->ready_tail = bn;
}

/* Drops one record's entry (not put into any batch) and acks it. */
static void drop_record(struct lf_client *c, const char *tenant, const char *reason,
                        const struct lf_cbatch_item *it)
{
	count_drop(c, tenant, reason, 1, (double)it->line_len);
	atomic_fetch_sub(&c->queue_bytes, it->qbytes);
	while (ack_one(c, it->origin, it->seq_first, it->seq_last, false) < 0) {
		lf_error("client %s: out of memory queueing an ack; retrying", c->name);
		usleep(100000);
	}
}

/* A tenant ID usable as an X-Scope-OrgID header value: no control bytes
 * but tab (Go's rule for header field values). */
static bool tenant_ok(const char *id, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)id[i] < 0x20 && id[i] != '\t') || id[i] == 0x7f)
			return false;
	return true;
}

static void ingest(struct lf_client *c)
{
	const char *p = c->drained.data, *end = p + c->drained.len;
	while (p < end) {
		struct rec_hdr h;
		memcpy(&h, p, sizeof(h));
		const char *q = p + sizeof(h);
		const char *tenant = q;
		q += h.tenant_len + 1;
		struct lf_cbatch_item it = {
		        .ts_ns = h.ts_ns,
		        .key = q,
		        .key_len = h.key_len,
		        .origin = h.origin,
		        .seq_first = h.seq_first,
		        .seq_last = h.seq_last,
		        .qbytes = h.size,
		        .enq_mono_ns = h.enq_mono_ns,
		        .n_sm = h.n_sm,
		        .sm_len = h.sm_len,
		};
		q += h.key_len + 1;
		it.line = q;
		it.line_len = h.line_len;
		q += h.line_len;
		it.sm = q;
		p += h.size;

		if (!tenant_ok(tenant, h.tenant_len)) {
			/* The tenant can come from a log line: a control byte
			 * (CR/LF) would inject request headers. Go's client
			 * refuses such a header value; drop the entry. */
			lf_log_rl(&c->rl_bad_tenant, LF_LOG_ERROR,
			          "client %s: dropping entries with an invalid tenant ID "
			          "(control character)",
			          c->name);
			drop_record(c, tenant, "ingester_error", &it);
			continue;
		}
		struct tenant *t = tenant_get(c, tenant, h.tenant_len);
		if (t)
			t->last_used_mono = h.enq_mono_ns;
		if (!t) {
			lf_error("client %s: out of memory; dropping an entry", c->name);
			drop_record(c, tenant, "ingester_error", &it);
			continue;
		}
		int64_t sz = lf_cbatch_item_size(&it);
		if (t->building && t->building->b.n > 0 &&
		    t->building->b.bytes + sz > c->cfg.batchsize)
			close_building(t);
		if (!t->building && !(t->building = bnode_get(c))) {
			lf_error("client %s: out of memory; dropping an entry", c->name);
			drop_record(c, tenant, "ingester_error", &it);
			continue;
		}
		struct lf_cbatch *b = &t->building->b;
		if (c->cfg.max_streams > 0 && b->ns >= (size_t)c->cfg.max_streams &&
		    lf_cbatch_is_new_stream(b, &it)) {
			drop_record(c, tenant, "stream_limited", &it);
			continue;
		}
		if (lf_cbatch_add(b, &it) < 0) {
			lf_error("client %s: out of memory; dropping an entry", c->name);
			drop_record(c, tenant, "ingester_error", &it);
		}
	}
	/* A full queue means the producer is told "busy" and sends nothing
	 * until acks come back: a building batch would then only be closed by
	 * batchwait, and the pipe would run one batch per batchwait (seen with
	 * small syslog lines, whose labels make queue bytes outgrow batch
	 * bytes). Close building batches now; they go out right after the
	 * tenant's request in flight. */
	if (atomic_load(&c->queue_bytes) >= c->cfg.max_queue_bytes)
		for (struct tenant *t = c->tenants; t; t = t->next)
			if (t->building && t->building->b.n > 0)
				close_building(t);
	/* After a stall the swap buffers may have grown to the queue bound;
	 * steady state needs about WAKE_BYTES. Give big ones back. */
	if (c->drained.cap > 4 * WAKE_BYTES)
		lf_buf_free(&c->drained);
	else
		lf_buf_reset(&c->drained);
}

/* ---- sender thread: HTTP ---- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct tenant *t = ud;
	size_t n = size * nmemb;
	if (t->resp.len < MAX_ERR_BODY) {
		size_t take = MAX_ERR_BODY - t->resp.len;
		if (take > n)
			take = n;
		if (lf_buf_append(&t->resp, ptr, take) < 0)
			return 0;
	}
	return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct tenant *t = ud;
	size_t n = size * nmemb;
	/* "HTTP/1.1 400 Bad Request\r\n": keep the reason phrase of the last
	 * status line (after redirects / 100 Continue). */
	if (n > 5 && memcmp(ptr, "HTTP/", 5) == 0) {
		size_t i = 5;
		while (i < n && ptr[i] != ' ')
			i++;
		while (i < n && ptr[i] == ' ')
			i++;
		while (i < n && isdigit((unsigned char)ptr[i]))
			i++;
		while (i < n && ptr[i] == ' ')
			i++;
		size_t e = n;
		while (e > i && (ptr[e - 1] == '\r' || ptr[e - 1] == '\n' || ptr[e - 1] == ' '))
			e--;
		size_t len = e - i;
		if (len >= sizeof(t->reason))
			len = sizeof(t->reason) - 1;
		memcpy(t->reason, ptr + i, len);
		t->reason[len] = '\0';
	}
	return n;
}

/* Standard reason phrases, for HTTP/2 responses (which carry none). */
static const char *status_text(long code)
{
	switch (code) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Request Entity Too Large";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "";
	}
}

static int tenant_setup_easy(struct lf_client *c, struct tenant *t)
{
	if (t->easy)
		return 0;
	CURL *h = curl_easy_init();
	if (!h)
		return -1;
	curl_easy_setopt(h, CURLOPT_URL, c->send_url ? c->send_url : c->url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(c->cfg.timeout_ns / LF_NS_PER_MS));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(h, CURLOPT_PRIVATE, t);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->curl_err);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
	/* Go's client uses a proxy only when configured: no env proxies. */
	curl_easy_setopt(h, CURLOPT_PROXY, c->proxy ? c->proxy : "");
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (c->tls_ca)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->tls_ca);
	if (c->tls_cert)
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->tls_cert);
	if (c->tls_key)
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->tls_key);
	if (c->cfg.tls_insecure_skip_verify) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->connect_to_list)
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, c->connect_to_list);
	t->easy = h;
	return 0;
}

static bool hdr_is(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* (Re)builds the request headers of a tenant for one attempt: token files
 * are re-read so a rotated token applies to the next request. */
static int build_headers(struct lf_client *c, struct tenant *t, struct lf_buf *tmp,
                         struct lf_error *err)
{
	curl_slist_free_all(t->hdrs);
	t->hdrs = NULL;
	struct curl_slist *l = NULL, *nl;
#define ADD(s)                                                                                     \
	do {                                                                                       \
		if (!(nl = curl_slist_append(l, (s))))                                             \
			goto oom;                                                                  \
		l = nl;                                                                            \
	} while (0)
	ADD("Content-Type: application/x-protobuf");
	/* No "Expect: 100-continue" round trip for big batches. */
	ADD("Expect:");
	if (*t->id) {
		lf_buf_reset(tmp);
		if (lf_buf_printf(tmp, "X-Scope-OrgID: %s", t->id) < 0)
			goto oom;
		ADD(tmp->data);
	}
	if (c->host_hdr)
		ADD(c->host_hdr);
	bool custom_auth = false;
	for (size_t i = 0; i < c->n_hdrs; i++) {
		const char *n = c->hdr_names[i];
		/* Headers the client sets are not overridden (Promtail skips a
		 * custom header whose key is already set on the request). */
		if (hdr_is(n, "Content-Type") || hdr_is(n, "User-Agent") ||
		    (*t->id && hdr_is(n, "X-Scope-OrgID")))
			continue;
		if (hdr_is(n, "Authorization"))
			custom_auth = true;
		lf_buf_reset(tmp);
		if (lf_buf_printf(tmp, "%s: %s", n, c->hdr_values[i]) < 0)
			goto oom;
		ADD(tmp->data);
	}
	/* As with Prometheus' round trippers, an Authorization header already
	 * on the request wins over bearer/basic settings. */
	if (!custom_auth && (c->bearer || c->bearer_file)) {
		char *tok = c->bearer;
		char *owned = NULL;
		if (!tok) {
			owned = tok = read_secret_file(c->bearer_file);
			if (!tok) {
				curl_slist_free_all(l);
				return lf_err(err, "reading bearer_token_file %s: %s",
				              c->bearer_file, strerror(errno));
			}
		}
		lf_buf_reset(tmp);
		int r = lf_buf_printf(tmp, "Authorization: Bearer %s", tok);
		free(owned);
		if (r < 0)
			goto oom;
		ADD(tmp->data);
	}
	if (!custom_auth && c->ba_user) {
		char *pw = c->ba_pass;
		char *owned = NULL;
		if (c->ba_pass_file) {
			owned = pw = read_secret_file(c->ba_pass_file);
			if (!pw) {
				curl_slist_free_all(l);
				return lf_err(err, "reading basic_auth.password_file %s: %s",
				              c->ba_pass_file, strerror(errno));
			}
		}
		curl_easy_setopt(t->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(t->easy, CURLOPT_USERNAME, c->ba_user);
		curl_easy_setopt(t->easy, CURLOPT_PASSWORD, pw ? pw : "");
		free(owned);
	}
#undef ADD
	t->hdrs = l;
	return 0;
oom:
	curl_slist_free_all(l);
	return lf_err(err, "out of memory building request headers");
}

static void schedule_retry(struct lf_client *c, struct tenant *t, int64_t now, const char *why)
{
	struct bnode *bn = t->inflight;
	int64_t d = lf_client_backoff_ns(&c->cfg, bn->attempts);
	bn->next_try_mono = now + d;
	const char *lv[] = {c->host, t->id};
	lf_metric_inc(c->m_retries, lv);
	char ds[32];
	lf_format_duration(d, ds, sizeof(ds));
	lf_warn("client %s: error sending batch of %zu entries (tenant \"%s\", attempt %d), will "
	        "retry in %s: %s",
	        c->name, bn->b.n, t->id, bn->attempts, ds, why);
}

static void drop_inflight(struct lf_client *c, struct tenant *t, const char *reason,
                          const char *why)
{
	struct bnode *bn = t->inflight;
	count_drop(c, t->id, reason, (double)bn->b.n, (double)bn->body.len);
	lf_error("client %s: dropping batch of %zu entries (tenant \"%s\", reason %s, after %d "
	         "attempt%s): %s",
	         c->name, bn->b.n, t->id, reason, bn->attempts, bn->attempts == 1 ? "" : "s", why);
	ack_batch(c, &bn->b, false);
	t->inflight = NULL;
	bnode_put(c, bn);
}

static void start_send(struct lf_client *c, struct tenant *t, int64_t now)
{
	struct bnode *bn = t->inflight;
	struct lf_error err;
	struct lf_buf tmp = LF_BUF_INIT;
	int r;
	if (tenant_setup_easy(c, t) < 0) {
		r = lf_err(&err, "cannot create a curl handle");
	} else {
		r = build_headers(c, t, &tmp, &err);
	}
	lf_buf_free(&tmp);
	if (r == 0) {
		curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->hdrs);
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, bn->body.data);
		curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bn->body.len);
		lf_buf_reset(&t->resp);
		t->reason[0] = '\0';
		t->curl_err[0] = '\0';
		t->started_mono = now;
		CURLMcode mc = curl_multi_add_handle(c->multi, t->easy);
		if (mc == CURLM_OK) {
			t->active = true;
			return;
		}
		r = lf_err(&err, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
	}
	/* Could not even start: count it as a failed attempt. */
	bn->attempts++;
	if (c->cfg.max_retries == 0 || bn->attempts < c->cfg.max_retries)
		schedule_retry(c, t, now, err.msg);
	else
		drop_inflight(c, t, "ingester_error", err.msg);
}

static void finish_send(struct lf_client *c, struct tenant *t, CURLcode res)
{
	int64_t now = lf_monotonic_ns();
	long status = 0;
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(c->multi, t->easy);
	t->active = false;
	struct bnode *bn = t->inflight;
	bn->attempts++;

	bool got_response = res == CURLE_OK && status > 0;
	char code[24];
	if (got_response)
		snprintf(code, sizeof(code), "%ld", status);
	else
		snprintf(code, sizeof(code), "failed");
	const char *dl[] = {code, c->host};
	lf_metric_observe(c->m_duration, dl, (double)(now - t->started_mono) / 1e9);

	if (got_response && status / 100 == 2) {
		/* Any 2xx is success (Loki's 260 "blocked ingestion" included,
		 * as Promtail treats it). */
		const char *hl[] = {c->host};
		lf_metric_add(c->m_sent_entries, hl, (double)bn->b.n);
		lf_metric_add(c->m_sent_bytes, hl, (double)bn->body.len);
		ack_batch(c, &bn->b, true);
		t->inflight = NULL;
		bnode_put(c, bn);
		return;
	}

	char why[MAX_ERR_BODY + 256];
	bool rate_limited = got_response && status == 429;
	bool retryable = !got_response || rate_limited || status / 100 == 5;
	if (got_response) {
		const char *body = t->resp.data ? t->resp.data : "";
		size_t n = t->resp.len;
		const char *nlp = memchr(body, '\n', n);
		if (nlp)
			n = (size_t)(nlp - body);
		if (n > 0 && body[n - 1] == '\r')
			n--;
		const char *reason = t->reason[0] ? t->reason : status_text(status);
		snprintf(why, sizeof(why), "server returned HTTP status %ld%s%s (%ld): %.*s",
		         status, *reason ? " " : "", reason, status, (int)n, body);
	} else {
		snprintf(why, sizeof(why), "%s",
		         t->curl_err[0] ? t->curl_err : curl_easy_strerror(res));
	}

	if (rate_limited && c->cfg.drop_rate_limited_batches)
		drop_inflight(c, t, "rate_limited", why);
	else if (retryable && (c->cfg.max_retries == 0 || bn->attempts < c->cfg.max_retries))
		schedule_retry(c, t, now, why);
	else
		drop_inflight(c, t, rate_limited ? "rate_limited" : "ingester_error", why);
}

static bool tenant_idle(const struct tenant *t)
{
	return !t->inflight && !t->ready_head && (!t->building || t->building->b.n == 0);
}

static void tenant_free(struct lf_client *c, struct tenant *t);

static void prune_tenants(struct lf_client *c, int64_t now)
{
	for (struct tenant **pp = &c->tenants; *pp;) {
		struct tenant *t = *pp;
		if (!t->active && tenant_idle(t) && now - t->last_used_mono > TENANT_IDLE_NS) {
			*pp = t->next;
			tenant_free(c, t);
		} else {
			pp = &t->next;
		}
	}
}

static int encode_batch(struct lf_client *c, struct bnode *bn, struct lf_error *err)
{
	if (lf_cbatch_encode(&bn->b, c->enc, &c->sc, &bn->body, err) < 0) {
		lf_buf_reset(&bn->body);
		return -1;
	}
	bn->encoded = true;
	const char *hl[] = {c->host};
	lf_metric_add(c->m_encoded_bytes, hl, (double)bn->body.len);
	return 0;
}

/* While a request of t is in flight, encodes its next ready batch, so that
 * batch goes out the moment the answer comes back. A failure is left for
 * next_inflight, which encodes again and drops the batch if it fails. */
static void encode_ahead(struct lf_client *c, struct tenant *t)
{
	struct bnode *bn = t->ready_head;
	if (t->inflight && bn && !bn->encoded) {
		struct lf_error err;
		(void)encode_batch(c, bn, &err);
	}
}

/* Moves the next ready batch of t in flight, encoded. */
static void next_inflight(struct lf_client *c, struct tenant *t, int64_t now)
{
	while (!t->inflight && t->ready_head) {
		struct bnode *bn = t->ready_head;
		t->ready_head = bn->next;
		if (!t->ready_head)
			t->ready_tail = NULL;
		bn->next = NULL;
		struct lf_error err;
		t->inflight = bn;
		if (!bn->encoded && encode_batch(c, bn, &err) < 0) {
			drop_inflight(c, t, "ingester_error", err.msg);
			continue;
		}
		bn->attempts = 0;
		bn->next_try_mono = now;
	}
}

static uint64_t count_batch_list(struct bnode *bn)
{
	uint64_t n = 0;
	for (; bn; bn = bn->next)
		n += bn->b.n;
	return n;
}

static void abort_all(struct lf_client *c)
{
	uint64_t n = 0;
	for (struct tenant *t = c->tenants; t; t = t->next) {
		if (t->active) {
			curl_multi_remove_handle(c->multi, t->easy);
			t->active = false;
		}
		if (t->building)
			n += t->building->b.n;
		n += count_batch_list(t->ready_head);
		if (t->inflight)
			n += t->inflight->b.n;
	}
	pthread_mutex_lock(&c->mu);
	for (size_t off = 0; off < c->in.len;) {
		struct rec_hdr h;
		memcpy(&h, c->in.data + off, sizeof(h));
		off += h.size;
		n++;
	}
	pthread_mutex_unlock(&c->mu);
	c->unacked = n;
	if (n)
		lf_warn("client %s: stop deadline passed; %" PRIu64
		        " entries were not delivered (they will be read again after a restart)",
		        c->name, n);
}

static void *sender_main(void *arg)
{
	struct lf_client *c = arg;
	for (;;) {
		pthread_mutex_lock(&c->mu);
		struct lf_buf tmp = c->in;
		c->in = c->drained;
		c->drained = tmp;
		c->wake_pending = false;
		/* Read with the swap, so every record counted is in hand. */
		bool full = lf_client_busy(c);
		bool stopping = c->stopping;
		int64_t deadline = c->stop_deadline;
		pthread_mutex_unlock(&c->mu);

		ingest(c);
		int64_t now = lf_monotonic_ns();
		if (stopping && now >= deadline) {
			abort_all(c);
			break;
		}
		int64_t next = INT64_MAX;
		bool any_building = false, all_idle = true;
		/* At the queue bound the event loop feeds nothing more until
		 * something is acknowledged: a building batch of a tenant with
		 * nothing in flight cannot grow, so waiting for batchwait would
		 * only stall the pipeline. Send it now. */
		for (struct tenant *t = c->tenants; t; t = t->next) {
			if (t->building && t->building->b.n > 0) {
				int64_t due = t->building->b.oldest_mono + c->cfg.batchwait_ns;
				if (stopping || now >= due ||
				    (full && !t->inflight && !t->ready_head)) {
					close_building(t);
				} else {
					any_building = true;
					if (due < next)
						next = due;
				}
			}
			next_inflight(c, t, now);
			if (t->inflight && !t->active) {
				if (t->inflight->next_try_mono <= now)
					start_send(c, t, now);
				/* start_send may have dropped it or scheduled a retry */
				next_inflight(c, t, now);
				if (t->inflight && !t->active && t->inflight->next_try_mono < next)
					next = t->inflight->next_try_mono;
			}
			if (!tenant_idle(t))
				all_idle = false;
		}
		publish_queue_bytes(c);
		prune_tenants(c, now);

		pthread_mutex_lock(&c->mu);
		size_t pending = c->in.len;
		bool stop_now = c->stopping;
		if (pending == 0 && !any_building)
			c->sender_idle = true;
		pthread_mutex_unlock(&c->mu);
		if (stopping && all_idle && pending == 0) {
			c->unacked = 0;
			break;
		}

		int64_t timeout_ns;
		if ((pending && (!any_building || (int64_t)pending >= c->wake_bytes)) ||
		    stop_now != stopping)
			timeout_ns = 0;
		else if (next == INT64_MAX)
			timeout_ns = 10 * LF_NS_PER_SEC; /* woken by input or stop */
		else
			timeout_ns = next > now ? next - now : 0;
		if (timeout_ns > 10 * LF_NS_PER_SEC)
			timeout_ns = 10 * LF_NS_PER_SEC; /* int ms below; loops are cheap */
		if (stopping && deadline - now < timeout_ns)
			timeout_ns = deadline - now;
		long curl_to = -1;
		curl_multi_timeout(c->multi, &curl_to);
		int timeout_ms = (int)((timeout_ns + LF_NS_PER_MS - 1) / LF_NS_PER_MS);
		if (curl_to >= 0 && curl_to < timeout_ms)
			timeout_ms = (int)curl_to;
		curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL);
		int running = 0;
		curl_multi_perform(c->multi, &running);
		CURLMsg *m;
		int q;
		while ((m = curl_multi_info_read(c->multi, &q))) {
			if (m->msg != CURLMSG_DONE)
				continue;
			struct tenant *t = NULL;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			CURLcode res = m->data.result;
			if (t && t->active)
				finish_send(c, t, res);
		}
		/* Requests are on their way: prepare what follows them. */
		for (struct tenant *t = c->tenants; t; t = t->next)
			if (t->active)
				encode_ahead(c, t);
	}
	publish_queue_bytes(c);
	return NULL;
}

/* ---- lifecycle ---- */

static int copy_str(char **dst, const char *src)
{
	*dst = NULL;
	if (empty(src))
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -1;
}

static bool header_token_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == ':' || *s == 0x7f)
			return false;
	return true;
}

/* tls_config.server_name: send to https://<server_name>:<port>/... (so SNI and
 * certificate checks use it), connect to the real host (CURLOPT_CONNECT_TO)
 * and keep the real Host header, which is what Go's tls.Config.ServerName
 * amounts to. */
static int setup_server_name(struct lf_client *c, struct lf_error *err)
{
	if (!c->tls_server_name || strncasecmp(c->url, "https://", 8) != 0)
		return 0;
	const char *hp = c->url + 8;
	size_t hl = strcspn(hp, "/?#");
	const char *at = memchr(hp, '@', hl);
	if (at) {
		hl -= (size_t)(at + 1 - hp);
		hp = at + 1;
	}
	/* split host[:port]; [v6]:port */
	const char *port = NULL;
	size_t host_len = hl;
	if (hp[0] == '[') {
		const char *rb = memchr(hp, ']', hl);
		if (rb && (size_t)(rb + 1 - hp) < hl && rb[1] == ':') {
			port = rb + 2;
			host_len = (size_t)(rb + 1 - hp);
		}
	} else {
		const char *colon = memchr(hp, ':', hl);
		if (colon) {
			port = colon + 1;
			host_len = (size_t)(colon - hp);
		}
	}
	char portbuf[16] = "443";
	if (port) {
		size_t pl = (size_t)(hp + hl - port);
		if (pl == 0 || pl >= sizeof(portbuf))
			return lf_err(err, "url %s: bad port", c->url);
		memcpy(portbuf, port, pl);
		portbuf[pl] = '\0';
	}
	struct lf_buf b = LF_BUF_INIT;
	if (lf_buf_printf(&b, "https://%s:%s%s", c->tls_server_name, portbuf, hp + hl) < 0)
		goto oom;
	c->send_url = lf_buf_take(&b);
	if (lf_buf_printf(&b, "Host: %.*s", (int)hl, hp) < 0)
		goto oom;
	c->host_hdr = lf_buf_take(&b);
	if (lf_buf_printf(&b, "%s:%s:%.*s:%s", c->tls_server_name, portbuf, (int)host_len, hp,
	                  portbuf) < 0)
		goto oom;
	c->connect_to_list = curl_slist_append(NULL, b.data);
	lf_buf_free(&b);
	if (!c->connect_to_list)
		return lf_err(err, "out of memory");
	return 0;
oom:
	lf_buf_free(&b);
	return lf_err(err, "out of memory");
}

static int copy_config(struct lf_client *c, const struct lf_client_config *cfg,
                       struct lf_error *err)
{
	c->cfg = *cfg;
	if (copy_str(&c->url, cfg->url) < 0 ||
	    copy_str(&c->ba_user, cfg->basic_auth_username) < 0 ||
	    copy_str(&c->ba_pass, cfg->basic_auth_password) < 0 ||
	    copy_str(&c->ba_pass_file, cfg->basic_auth_password_file) < 0 ||
	    copy_str(&c->bearer, cfg->bearer_token) < 0 ||
	    copy_str(&c->bearer_file, cfg->bearer_token_file) < 0 ||
	    copy_str(&c->proxy, cfg->proxy_url) < 0 || copy_str(&c->tls_ca, cfg->tls_ca_file) < 0 ||
	    copy_str(&c->tls_cert, cfg->tls_cert_file) < 0 ||
	    copy_str(&c->tls_key, cfg->tls_key_file) < 0 ||
	    copy_str(&c->tls_server_name, cfg->tls_server_name) < 0)
		return lf_err(err, "out of memory");
	c->tenant_id = strdup(cfg->tenant_id ? cfg->tenant_id : "");
	char host[256];
	lf_client_url_host(c->url, host, sizeof(host));
	c->host = strdup(host);
	c->name = strdup(!empty(cfg->name) ? cfg->name : host);
	if (!c->tenant_id || !c->host || !c->name)
		return lf_err(err, "out of memory");
	if (cfg->external_labels && lf_labels_copy(&c->external, cfg->external_labels) < 0)
		return lf_err(err, "out of memory");
	/* The reserved tenant label as an external label would pick the tenant
	 * of every entry; that is what tenant_id is for, but it is harmless. */
	if (cfg->headers && cfg->headers->n) {
		size_t n = cfg->headers->n;
		c->hdr_names = calloc(n, sizeof(char *));
		c->hdr_values = calloc(n, sizeof(char *));
		if (!c->hdr_names || !c->hdr_values)
			return lf_err(err, "out of memory");
		for (size_t i = 0; i < n; i++) {
			const struct lf_label *l = &cfg->headers->v[i];
			if (!header_token_ok(l->name))
				return lf_err(err, "headers: invalid header name \"%s\"", l->name);
			if (strpbrk(l->value, "\r\n"))
				return lf_err(err, "headers: value of \"%s\" contains a line break",
				              l->name);
			c->hdr_names[i] = strdup(l->name);
			c->hdr_values[i] = strdup(l->value);
			c->n_hdrs++;
			if (!c->hdr_names[i] || !c->hdr_values[i])
				return lf_err(err, "out of memory");
			if (hdr_is(l->name, "Content-Type") || hdr_is(l->name, "User-Agent") ||
			    (hdr_is(l->name, "X-Scope-OrgID") && *c->tenant_id))
				lf_warn("client %s: custom header %s is set by the client itself; "
				        "ignored",
				        c->name, l->name);
		}
	}
	/* Pointers in c->cfg now refer to our copies (or NULL). */
	c->cfg.url = c->url;
	c->cfg.tenant_id = c->tenant_id;
	c->cfg.name = c->name;
	c->cfg.external_labels = &c->external;
	c->cfg.headers = NULL;
	c->cfg.basic_auth_username = c->ba_user;
	c->cfg.basic_auth_password = c->ba_pass;
	c->cfg.basic_auth_password_file = c->ba_pass_file;
	c->cfg.bearer_token = c->bearer;
	c->cfg.bearer_token_file = c->bearer_file;
	c->cfg.proxy_url = c->proxy;
	c->cfg.tls_ca_file = c->tls_ca;
	c->cfg.tls_cert_file = c->tls_cert;
	c->cfg.tls_key_file = c->tls_key;
	c->cfg.tls_server_name = c->tls_server_name;
	return setup_server_name(c, err);
}

static int check_config(const struct lf_client_config *cfg, struct lf_error *err)
{
	if (empty(cfg->url))
		return lf_err(err, "client url is required");
	if (strncasecmp(cfg->url, "http://", 7) != 0 && strncasecmp(cfg->url, "https://", 8) != 0)
		return lf_err(err, "client url \"%s\": scheme must be http or https", cfg->url);
	char host[256];
	lf_client_url_host(cfg->url, host, sizeof(host));
	if (!host[0])
		return lf_err(err, "client url \"%s\": no host", cfg->url);
	if (cfg->batchwait_ns <= 0)
		return lf_err(err, "client %s: batchwait must be > 0", cfg->url);
	if (cfg->batchsize <= 0)
		return lf_err(err, "client %s: batchsize must be > 0 (got %" PRId64 ")", cfg->url,
		              cfg->batchsize);
	if (cfg->timeout_ns <= 0)
		return lf_err(err, "client %s: timeout must be > 0", cfg->url);
	if (cfg->backoff_min_ns <= 0 || cfg->backoff_max_ns < cfg->backoff_min_ns)
		return lf_err(err, "client %s: backoff_config needs 0 < min_period <= max_period",
		              cfg->url);
	if (cfg->max_retries < 0)
		return lf_err(err, "client %s: backoff_config.max_retries must be >= 0", cfg->url);
	if (cfg->max_queue_bytes <= 0)
		return lf_err(err, "client %s: max_queue_bytes must be > 0", cfg->url);
	if (cfg->max_streams < 0 || cfg->max_line_size < 0)
		return lf_err(err, "client %s: max_streams and max_line_size must be >= 0",
		              cfg->url);
	if (!empty(cfg->bearer_token) && !empty(cfg->bearer_token_file))
		return lf_err(err, "client %s: at most one of bearer_token & bearer_token_file",
		              cfg->url);
	if (!empty(cfg->basic_auth_password) && !empty(cfg->basic_auth_password_file))
		return lf_err(err, "client %s: at most one of basic_auth password & password_file",
		              cfg->url);
	if ((!empty(cfg->bearer_token) || !empty(cfg->bearer_token_file)) &&
	    !empty(cfg->basic_auth_username))
		return lf_err(err, "client %s: at most one of basic_auth and bearer_token(_file)",
		              cfg->url);
	return 0;
}

int lf_client_new(const struct lf_client_config *cfg, struct lf_metrics *metrics,
                  struct lf_client **out, struct lf_error *err)
{
	*out = NULL;
	if (check_config(cfg, err) < 0)
		return -1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return lf_err(err, "curl_global_init failed");
	struct lf_client *c = calloc(1, sizeof(*c));
	if (!c) {
		curl_global_cleanup();
		return lf_err(err, "out of memory");
	}
	c->efd = -1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->ack_mu, NULL);
	atomic_init(&c->queue_bytes, 0);
	c->joined = true; /* nothing to join until the thread starts */
	c->rl_bad_tenant.interval_ns = 10 * LF_NS_PER_SEC;
	if (copy_config(c, cfg, err) < 0)
		goto fail;
	c->wake_bytes = cfg->batchsize < WAKE_BYTES ? cfg->batchsize : WAKE_BYTES;
	if (metrics) {
		c->reg = metrics;
	} else {
		c->reg = lf_metrics_new();
		c->own_reg = true;
	}
	if (!c->reg || register_metrics(c) < 0) {
		lf_err(err, "out of memory registering metrics");
		goto fail;
	}
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0) {
		lf_err(err, "eventfd: %s", strerror(errno));
		goto fail;
	}
	c->multi = curl_multi_init();
	c->enc = lf_push_encoder_new();
	if (!c->multi || !c->enc) {
		lf_err(err, "out of memory");
		goto fail;
	}
	c->sender_idle = true;
	int r = pthread_create(&c->thread, NULL, sender_main, c);
	if (r != 0) {
		lf_err(err, "starting the sender thread of client %s: %s", c->name, strerror(r));
		goto fail;
	}
	c->started = true;
	c->joined = false;
	publish_queue_bytes(c);
	*out = c;
	return 0;
fail:
	lf_client_free(c);
	return -1;
}

/* Sets (or moves earlier) the stop deadline and wakes the sender. */
static void stop_request(struct lf_client *c, int64_t timeout_ns)
{
	int64_t deadline = lf_monotonic_ns() + (timeout_ns > 0 ? timeout_ns : 0);
	pthread_mutex_lock(&c->mu);
	if (!c->stopping || deadline < c->stop_deadline)
		c->stop_deadline = deadline;
	c->stopping = true;
	pthread_mutex_unlock(&c->mu);
	curl_multi_wakeup(c->multi);
}

void lf_client_stop_begin(struct lf_client *c, int64_t timeout_ns)
{
	if (!c->joined)
		stop_request(c, timeout_ns);
}

uint64_t lf_client_stop(struct lf_client *c, int64_t timeout_ns)
{
	if (c->joined)
		return c->unacked;
	stop_request(c, timeout_ns);
	pthread_join(c->thread, NULL);
	c->joined = true;
	return c->unacked;
}

static void tenant_free(struct lf_client *c, struct tenant *t)
{
	if (t->easy) {
		if (t->active)
			curl_multi_remove_handle(c->multi, t->easy);
		curl_easy_cleanup(t->easy);
	}
	curl_slist_free_all(t->hdrs);
	lf_buf_free(&t->resp);
	if (t->building)
		bnode_free(t->building);
	if (t->inflight)
		bnode_free(t->inflight);
	for (struct bnode *bn = t->ready_head, *nx; bn; bn = nx) {
		nx = bn->next;
		bnode_free(bn);
	}
	free(t->id);
	free(t);
}

void lf_client_free(struct lf_client *c)
{
	if (!c)
		return;
	if (c->started && !c->joined)
		lf_client_stop(c, 0);
	for (struct tenant *t = c->tenants, *nx; t; t = nx) {
		nx = t->next;
		tenant_free(c, t);
	}
	for (struct bnode *bn = c->free_batches, *nx; bn; bn = nx) {
		nx = bn->next;
		bnode_free(bn);
	}
	if (c->multi)
		curl_multi_cleanup(c->multi);
	if (c->enc)
		lf_push_encoder_free(c->enc);
	lf_cbatch_scratch_free(&c->sc);
	if (c->efd >= 0)
		close(c->efd);
	free(c->acks);
	free(c->acks_spare);
	lf_buf_free(&c->in);
	lf_buf_free(&c->drained);
	lf_buf_free(&c->scratch_key);
	lf_buf_free(&c->scratch_tenant);
	lf_labels_free(&c->scratch_labels);
	lf_labels_free(&c->last_labels);
	lf_labels_free(&c->external);
	for (size_t i = 0; i < c->n_hdrs; i++) {
		free(c->hdr_names[i]);
		free(c->hdr_values[i]);
	}
	free(c->hdr_names);
	free(c->hdr_values);
	curl_slist_free_all(c->connect_to_list);
	free(c->send_url);
	free(c->host_hdr);
	free(c->url);
	free(c->tenant_id);
	free(c->name);
	free(c->host);
	free(c->ba_user);
	free(c->ba_pass);
	free(c->ba_pass_file);
	free(c->bearer);
	free(c->bearer_file);
	free(c->proxy);
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_server_name);
	if (c->own_reg)
		lf_metrics_free(c->reg);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->ack_mu);
	free(c);
	curl_global_cleanup();
}
