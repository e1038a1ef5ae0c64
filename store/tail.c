/* tail.c — see tail.h. */
#include "tail.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "log.h"
#include "pipeline.h"
#include "query.h"
#include "selector.h"
#include "timeutil.h"
#include "websocket.h"

#define PENDING_MAX_ENTRIES 20000
#define PENDING_MAX_BYTES   ((size_t)16 << 20)
#define SOCKET_SNDBUF       (128 * 1024)

struct pend {
	int64_t ts;
	uint64_t seq;
	size_t off, len; /* one `streams` element in the session's arena */
};

struct dropped {
	int64_t ts;
	char *labels; /* JSON object */
};

struct hist_key {
	int64_t ts;
	uint64_t hash;
};

struct session {
	struct lf_tail_hub *hub;
	char *tenant, *query;
	int64_t start;
	uint32_t limit;
	int delay_for;
	/* after the upgrade */
	int fd;
	struct lf_http_upgrade *uh;
	int efd; /* eventfd: the inbox became non-empty, or stop */
	atomic_bool stop;
	bool subscribed;
	struct lf_selector *sel;     /* matchers; immutable once subscribed (read by pushes) */
	struct lf_lq_pipeline *pipe; /* NULL = none; session thread only */
	/* the pipeline's leading line filters (immutable, read by pushes) */
	const struct lf_line_filter *lead;
	size_t n_lead;
	struct session *next; /* hub->all */
	/* inbox, guarded by mu */
	pthread_mutex_t mu;
	struct lf_buf inbox;
	size_t inbox_n;
	struct lf_buf drop_log; /* 'ts(8) keylen(4) key' records */
	size_t drop_n;
	/* session thread only */
	struct lf_buf take, take_drops;
	/* entries waiting for release: a heap by (ts, arrival) over elements
	 * kept in one arena (no allocation per entry); the arena is emptied
	 * when the heap is, and compacted when mostly dead */
	struct pend *heap;
	size_t n_heap, cap_heap;
	size_t heap_bytes; /* live bytes in the arena */
	struct lf_buf arena, arena2;
	struct lf_buf lj; /* scratch: labels JSON */
	uint64_t seq;
	struct dropped *drops;
	size_t n_drops;
	struct hist_key *hist;
	size_t n_hist;
	int64_t sub_ns; /* subscription time: history ends here */
	struct lf_ws_reader rd;
	struct lf_buf wire, frame;
	struct lf_labels cur; /* labels of the last stream key seen in the inbox */
	struct lf_buf cur_key;
	struct lf_labels scratch;
};

struct lf_tail_hub {
	struct lf_store *store;
	const struct lf_store_config *cfg;
	pthread_rwlock_t lock;    /* the session list and subscriptions */
	struct session *all;      /* running sessions */
	atomic_uint n_subscribed; /* fast path for pushes */
	pthread_mutex_t run_mu;
	pthread_cond_t run_cv;
	unsigned running;
	bool stopping;
};

struct lf_tail_hub *lf_tail_hub_new(struct lf_store *store, const struct lf_store_config *cfg)
{
	struct lf_tail_hub *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->store = store;
	h->cfg = cfg;
	pthread_rwlock_init(&h->lock, NULL);
	pthread_mutex_init(&h->run_mu, NULL);
	pthread_cond_init(&h->run_cv, NULL);
	atomic_init(&h->n_subscribed, 0);
	return h;
}

static void wake(struct session *s)
{
	uint64_t one = 1;
	if (s->efd >= 0)
		(void)!write(s->efd, &one, sizeof(one));
}

void lf_tail_hub_shutdown(struct lf_tail_hub *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->run_mu);
	h->stopping = true;
	pthread_mutex_unlock(&h->run_mu);
	pthread_rwlock_rdlock(&h->lock);
	for (struct session *s = h->all; s; s = s->next) {
		atomic_store(&s->stop, true);
		wake(s);
	}
	pthread_rwlock_unlock(&h->lock);
	/* A session blocked writing to a client that does not read gets 2 s to
	 * finish; then its socket is shut down under it. */
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 2;
	pthread_mutex_lock(&h->run_mu);
	while (h->running && pthread_cond_timedwait(&h->run_cv, &h->run_mu, &dl) == 0)
		;
	pthread_mutex_unlock(&h->run_mu);
	pthread_rwlock_rdlock(&h->lock);
	for (struct session *s = h->all; s; s = s->next)
		shutdown(s->fd, SHUT_RDWR);
	pthread_rwlock_unlock(&h->lock);
	pthread_mutex_lock(&h->run_mu);
	while (h->running)
		pthread_cond_wait(&h->run_cv, &h->run_mu);
	pthread_mutex_unlock(&h->run_mu);
}

void lf_tail_hub_free(struct lf_tail_hub *h)
{
	if (!h)
		return;
	pthread_rwlock_destroy(&h->lock);
	pthread_mutex_destroy(&h->run_mu);
	pthread_cond_destroy(&h->run_cv);
	free(h);
}

/* ---- push side ---- */

static void put_u32(struct lf_buf *b, uint32_t v)
{
	lf_buf_append(b, &v, sizeof(v));
}

static void put_i64(struct lf_buf *b, int64_t v)
{
	lf_buf_append(b, &v, sizeof(v));
}

static void record_drop(struct session *s, int64_t ts, const char *key, size_t key_len)
{
	if (s->drop_n >= LF_TAIL_MAX_DROPPED)
		return;
	put_i64(&s->drop_log, ts);
	put_u32(&s->drop_log, (uint32_t)key_len);
	lf_buf_append(&s->drop_log, key, key_len);
	s->drop_n++;
}

static void deliver(struct session *s, const struct lf_ingest_batch *b)
{
	bool signal = false;
	pthread_mutex_lock(&s->mu);
	bool was_empty = s->inbox_n == 0 && s->drop_n == 0;
	for (size_t i = 0; i < b->n_streams; i++) {
		const struct lf_ingest_stream *is = &b->streams[i];
		if (is->dropped || !lf_selector_match_labels(s->sel, &is->labels))
			continue;
		bool head = false;
		for (size_t j = 0; j < is->n; j++) {
			const struct lf_ingest_entry *e = &b->entries[is->first + j];
			if (e->dup)
				continue;
			bool keep = true;
			for (size_t f = 0; f < s->n_lead && keep; f++)
				keep = lf_line_filter_match(&s->lead[f], e->line, e->line_len);
			if (!keep)
				continue;
			size_t need = 1 + 8 + 4 + 4 + e->line_len + (head ? 0 : 5 + is->key.len);
			for (size_t k = 0; k < e->n_sm; k++) {
				const struct lf_skv *kv = &b->sm[e->sm_first + k];
				need += 8 + kv->nlen + kv->vlen;
			}
			if (s->inbox_n >= LF_TAIL_INBOX_ENTRIES ||
			    s->inbox.len + need > LF_TAIL_INBOX_BYTES ||
			    lf_buf_reserve(&s->inbox, need) < 0) {
				record_drop(s, e->ts, is->key.data, is->key.len);
				continue;
			}
			if (!head) {
				lf_buf_putc(&s->inbox, 'S');
				put_u32(&s->inbox, (uint32_t)is->key.len);
				lf_buf_append(&s->inbox, is->key.data, is->key.len);
				head = true;
			}
			lf_buf_putc(&s->inbox, 'E');
			put_i64(&s->inbox, e->ts);
			put_u32(&s->inbox, (uint32_t)e->n_sm);
			for (size_t k = 0; k < e->n_sm; k++) {
				const struct lf_skv *kv = &b->sm[e->sm_first + k];
				put_u32(&s->inbox, (uint32_t)kv->nlen);
				lf_buf_append(&s->inbox, kv->name, kv->nlen);
				put_u32(&s->inbox, (uint32_t)kv->vlen);
				lf_buf_append(&s->inbox, kv->value, kv->vlen);
			}
			put_u32(&s->inbox, (uint32_t)e->line_len);
			lf_buf_append(&s->inbox, e->line, e->line_len);
			s->inbox_n++;
		}
	}
	if (was_empty && (s->inbox_n || s->drop_n))
		signal = true;
	pthread_mutex_unlock(&s->mu);
	if (signal)
		wake(s);
}

void lf_tail_on_push(void *ctx, struct lf_tenant *t, const struct lf_ingest_batch *b)
{
	struct lf_tail_hub *h = ctx;
	if (!h || atomic_load_explicit(&h->n_subscribed, memory_order_relaxed) == 0)
		return;
	pthread_rwlock_rdlock(&h->lock);
	for (struct session *s = h->all; s; s = s->next)
		if (s->subscribed && strcmp(s->tenant, t->id) == 0)
			deliver(s, b);
	pthread_rwlock_unlock(&h->lock);
}

/* ---- session ---- */

static void session_free(struct session *s)
{
	if (!s)
		return;
	free(s->tenant);
	free(s->query);
	lf_selector_free(s->sel);
	lf_lq_pipeline_free(s->pipe);
	if (s->efd >= 0)
		close(s->efd);
	pthread_mutex_destroy(&s->mu);
	lf_buf_free(&s->inbox);
	lf_buf_free(&s->drop_log);
	lf_buf_free(&s->take);
	lf_buf_free(&s->take_drops);
	free(s->heap);
	lf_buf_free(&s->arena);
	lf_buf_free(&s->arena2);
	lf_buf_free(&s->lj);
	for (size_t i = 0; i < s->n_drops; i++)
		free(s->drops[i].labels);
	free(s->drops);
	free(s->hist);
	lf_ws_reader_free(&s->rd);
	lf_buf_free(&s->wire);
	lf_buf_free(&s->frame);
	lf_labels_free(&s->cur);
	lf_buf_free(&s->cur_key);
	lf_labels_free(&s->scratch);
	free(s);
}

static uint64_t fnv(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static bool in_history(const struct session *s, int64_t ts, uint64_t hash);

static bool heap_less(const struct pend *a, const struct pend *b)
{
	return a->ts != b->ts ? a->ts < b->ts : a->seq < b->seq;
}

static void add_drop(struct session *s, int64_t ts, char *labels_json)
{
	if (s->n_drops >= LF_TAIL_MAX_DROPPED || !s->drops) {
		free(labels_json);
		return;
	}
	s->drops[s->n_drops].ts = ts;
	s->drops[s->n_drops].labels = labels_json;
	s->n_drops++;
}

static char *labels_json(const struct lf_labels *ls)
{
	struct lf_buf b = LF_BUF_INIT;
	lf_json_labels(&b, ls);
	return lf_buf_take(&b);
}

/* Appends the element `{"stream":{..},"values":[["ts","line"]]}` for an
 * entry to the arena and queues it; over the session's bounds it is
 * reported dropped instead. dedupe: skip it when the history sent it. */
static void pend_push(struct session *s, int64_t ts, const char *labels, size_t labels_len,
                      const char *line, size_t len, const struct lf_labels *ls, bool dedupe,
                      bool record)
{
	size_t off = s->arena.len;
	if (lf_buf_reserve(&s->arena, labels_len + len + 64) < 0)
		return;
	lf_buf_appends(&s->arena, "{\"stream\":");
	lf_buf_append(&s->arena, labels, labels_len);
	lf_buf_printf(&s->arena, ",\"values\":[[\"%" PRId64 "\",", ts);
	lf_json_str(&s->arena, line, len);
	lf_buf_appends(&s->arena, "]]}");
	size_t el = s->arena.len - off;
	uint64_t h = (dedupe || record) ? fnv(s->arena.data + off, el) : 0;
	if (dedupe && in_history(s, ts, h)) {
		s->arena.len = off;
		return;
	}
	if (record && s->hist && s->n_hist < s->limit)
		s->hist[s->n_hist++] = (struct hist_key){ts, h};
	if (s->n_heap >= PENDING_MAX_ENTRIES || s->heap_bytes + el > PENDING_MAX_BYTES) {
		s->arena.len = off;
		add_drop(s, ts, ls ? labels_json(ls) : strdup("{}"));
		return;
	}
	if (s->n_heap == s->cap_heap) {
		size_t nc = s->cap_heap ? s->cap_heap * 2 : 256;
		struct pend *v = realloc(s->heap, nc * sizeof(*v));
		if (!v) {
			s->arena.len = off;
			return;
		}
		s->heap = v;
		s->cap_heap = nc;
	}
	size_t i = s->n_heap++;
	s->heap[i] = (struct pend){ts, s->seq++, off, el};
	s->heap_bytes += el;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!heap_less(&s->heap[i], &s->heap[p]))
			break;
		struct pend t = s->heap[i];
		s->heap[i] = s->heap[p];
		s->heap[p] = t;
		i = p;
	}
}

/* Removes the oldest entry; its bytes stay valid until the next push. */
static struct pend pend_pop(struct session *s)
{
	struct pend top = s->heap[0];
	s->heap[0] = s->heap[--s->n_heap];
	s->heap_bytes -= top.len;
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->n_heap && heap_less(&s->heap[l], &s->heap[m]))
			m = l;
		if (r < s->n_heap && heap_less(&s->heap[r], &s->heap[m]))
			m = r;
		if (m == i)
			break;
		struct pend t = s->heap[i];
		s->heap[i] = s->heap[m];
		s->heap[m] = t;
		i = m;
	}
	return top;
}

/* After a frame: empty the arena when nothing waits, or copy the live
 * elements into the spare arena when over half of it is dead. */
static void arena_tidy(struct session *s)
{
	if (s->n_heap == 0) {
		lf_buf_reset(&s->arena);
		return;
	}
	if (s->arena.len < ((size_t)1 << 20) || s->arena.len < 2 * s->heap_bytes)
		return;
	lf_buf_reset(&s->arena2);
	if (lf_buf_reserve(&s->arena2, s->heap_bytes) < 0)
		return;
	for (size_t i = 0; i < s->n_heap; i++) {
		size_t off = s->arena2.len;
		lf_buf_append(&s->arena2, s->arena.data + s->heap[i].off, s->heap[i].len);
		s->heap[i].off = off;
	}
	lf_debug("tail: tenant %s: arena compacted from %zu to %zu bytes (%zu entries waiting)",
	         s->tenant, s->arena.len, s->arena2.len, s->n_heap);
	struct lf_buf t = s->arena;
	s->arena = s->arena2;
	s->arena2 = t;
}

static bool in_history(const struct session *s, int64_t ts, uint64_t hash)
{
	size_t lo = 0, hi = s->n_hist;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct hist_key *k = &s->hist[mid];
		if (k->ts < ts || (k->ts == ts && k->hash < hash))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n_hist && s->hist[lo].ts == ts && s->hist[lo].hash == hash;
}

static uint32_t get_u32(const char **p)
{
	uint32_t v;
	memcpy(&v, *p, sizeof(v));
	*p += sizeof(v);
	return v;
}

static int64_t get_i64(const char **p)
{
	int64_t v;
	memcpy(&v, *p, sizeof(v));
	*p += sizeof(v);
	return v;
}

/* Moves the inbox into the pending heap and dropped list. */
static void drain(struct session *s)
{
	pthread_mutex_lock(&s->mu);
	struct lf_buf t = s->take;
	s->take = s->inbox;
	s->inbox = t;
	lf_buf_reset(&s->inbox);
	s->inbox_n = 0;
	t = s->take_drops;
	s->take_drops = s->drop_log;
	s->drop_log = t;
	lf_buf_reset(&s->drop_log);
	s->drop_n = 0;
	pthread_mutex_unlock(&s->mu);

	struct lf_error err;
	const char *p = s->take_drops.data;
	const char *end = p ? p + s->take_drops.len : NULL;
	while (p && p < end) {
		int64_t ts = get_i64(&p);
		uint32_t kl = get_u32(&p);
		struct lf_labels ls = LF_LABELS_INIT;
		if (lf_labels_parse(p, kl, &ls, &err) == 0)
			add_drop(s, ts, labels_json(&ls));
		lf_labels_free(&ls);
		p += kl;
	}
	lf_buf_reset(&s->take_drops);

	bool cur_ok = false;
	p = s->take.data;
	end = p ? p + s->take.len : NULL;
	while (p && p < end) {
		char kind = *p++;
		if (kind == 'S') {
			uint32_t kl = get_u32(&p);
			if (s->cur_key.len != kl || memcmp(s->cur_key.data, p, kl) != 0) {
				lf_buf_reset(&s->cur_key);
				lf_buf_append(&s->cur_key, p, kl);
				lf_labels_clear(&s->cur);
				cur_ok = lf_labels_parse(p, kl, &s->cur, &err) == 0;
			} else {
				cur_ok = true;
			}
			p += kl;
			continue;
		}
		int64_t ts = get_i64(&p);
		uint32_t nsm = get_u32(&p);
		const struct lf_labels *ls = &s->cur;
		if (nsm) {
			lf_labels_copy(&s->scratch, &s->cur);
			for (uint32_t k = 0; k < nsm; k++) {
				uint32_t nl = get_u32(&p);
				const char *n = p;
				p += nl;
				uint32_t vl = get_u32(&p);
				const char *v = p;
				p += vl;
				lf_labels_setn(&s->scratch, n, nl, v, vl);
			}
			ls = &s->scratch;
		}
		uint32_t ll = get_u32(&p);
		const char *line = p;
		p += ll;
		if (!cur_ok)
			continue;
		if (s->pipe) {
			struct lf_lq_out o;
			if (lf_lq_pipeline_process(s->pipe, ts, line, ll, ls, &o) != 1)
				continue;
			ls = o.labels;
			line = o.line;
			ll = (uint32_t)o.len;
		}
		lf_buf_reset(&s->lj);
		lf_json_labels(&s->lj, ls);
		pend_push(s, ts, s->lj.data, s->lj.len, line, ll, ls, s->n_hist && ts < s->sub_ns,
		          false);
	}
	lf_buf_reset(&s->take);
}

static int send_frame_raw(struct session *s, enum lf_ws_opcode op, const void *p, size_t n)
{
	lf_buf_reset(&s->wire);
	if (lf_ws_encode(&s->wire, op, true, p, n, NULL) < 0)
		return -1;
	return lf_ws_write_all(s->fd, s->wire.data, s->wire.len, LF_TAIL_WRITE_TIMEOUT_MS);
}

static void send_close(struct session *s, unsigned code, const char *reason)
{
	lf_buf_reset(&s->wire);
	if (code == LF_WS_CLOSE_NO_STATUS)
		lf_ws_encode(&s->wire, LF_WS_OP_CLOSE, true, NULL, 0, NULL);
	else
		lf_ws_encode_close(&s->wire, code, reason, NULL);
	(void)lf_ws_write_all(s->fd, s->wire.data, s->wire.len, 2000);
}

/* Sends every released entry, 100 per frame. -1 when the client is gone. */
static int release(struct session *s, int64_t now, int64_t *next_release)
{
	int64_t delay = (int64_t)s->delay_for * LF_NS_PER_SEC;
	*next_release = INT64_MAX;
	while (s->n_heap) {
		if (!(now > s->heap[0].ts + delay)) {
			*next_release = s->heap[0].ts + delay;
			return 0;
		}
		lf_buf_reset(&s->frame);
		lf_buf_appends(&s->frame, "{\"streams\":[");
		for (int k = 0;
		     k < LF_TAIL_MAX_PER_FRAME && s->n_heap && now > s->heap[0].ts + delay; k++) {
			struct pend e = pend_pop(s);
			if (k)
				lf_buf_putc(&s->frame, ',');
			lf_buf_append(&s->frame, s->arena.data + e.off, e.len);
		}
		lf_buf_putc(&s->frame, ']');
		if (s->n_drops) {
			lf_buf_appends(&s->frame, ",\"dropped_entries\":[");
			for (size_t i = 0; i < s->n_drops; i++) {
				lf_buf_printf(&s->frame,
				              "%s{\"timestamp\":\"%" PRId64 "\",\"labels\":%s}",
				              i ? "," : "", s->drops[i].ts, s->drops[i].labels);
				free(s->drops[i].labels);
			}
			s->n_drops = 0;
			lf_buf_putc(&s->frame, ']');
		}
		lf_buf_putc(&s->frame, '}');
		arena_tidy(s);
		if (send_frame_raw(s, LF_WS_OP_TEXT, s->frame.data, s->frame.len) < 0)
			return -1;
		/* entries that arrived while writing to a slow client */
		drain(s);
		now = lf_now_ns();
	}
	return 0;
}

static int hist_cmp(const void *a, const void *b)
{
	const struct hist_key *x = a, *y = b;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/* The newest `limit` entries in [start, sub_ns), queued oldest first. */
static int history(struct session *s, struct lf_error *err)
{
	struct lf_tenant *t = lf_store_tenant(s->hub->store, s->tenant, false, err);
	if (!t || s->start >= s->sub_ns)
		return 0;
	struct lf_log_query q = {.sel = s->sel,
	                         .start = s->start,
	                         .end = s->sub_ns,
	                         .limit = s->limit,
	                         .forward = false,
	                         .pipe = s->pipe};
	struct lf_buf out = LF_BUF_INIT;
	struct lf_query_stats st;
	if (lf_query_logs(t, &q, &out, &st, err) < 0) {
		lf_buf_free(&out);
		return -1;
	}
	json_error_t je;
	json_t *root = json_loadb(out.data, out.len, 0, &je);
	lf_buf_free(&out);
	if (!json_is_array(root)) {
		json_decref(root);
		return lf_err(err, "tail history: unreadable query result: %s", je.text);
	}
	s->hist = calloc(s->limit ? s->limit : 1, sizeof(*s->hist));
	struct lf_labels ls = LF_LABELS_INIT;
	struct lf_buf lj = LF_BUF_INIT;
	size_t i;
	json_t *sv;
	json_array_foreach(root, i, sv)
	{
		json_t *lo = json_object_get(sv, "stream"), *vals = json_object_get(sv, "values");
		lf_labels_clear(&ls);
		const char *k;
		json_t *v;
		json_object_foreach(lo, k, v)
		{
			lf_labels_set(&ls, k, json_string_value(v) ? json_string_value(v) : "");
		}
		lf_buf_reset(&lj);
		lf_json_labels(&lj, &ls);
		size_t j;
		json_t *pair;
		json_array_foreach(vals, j, pair)
		{
			const char *tss = json_string_value(json_array_get(pair, 0));
			json_t *line = json_array_get(pair, 1);
			if (!tss || !json_is_string(line))
				continue;
			int64_t ts = strtoll(tss, NULL, 10);
			pend_push(s, ts, lj.data, lj.len, json_string_value(line),
			          json_string_length(line), &ls, false, true);
		}
	}
	lf_labels_free(&ls);
	lf_buf_free(&lj);
	json_decref(root);
	if (s->n_hist)
		qsort(s->hist, s->n_hist, sizeof(*s->hist), hist_cmp);
	return 0;
}

/* Adds s to the tenant's subscribers, or says why not. */
static int subscribe(struct session *s, struct lf_error *err)
{
	struct lf_tail_hub *h = s->hub;
	pthread_rwlock_wrlock(&h->lock);
	int n = 0;
	for (struct session *o = h->all; o; o = o->next)
		if (o->subscribed && strcmp(o->tenant, s->tenant) == 0)
			n++;
	int64_t max = h->cfg->limits.max_concurrent_tail_requests;
	if (max > 0 && n >= max) {
		pthread_rwlock_unlock(&h->lock);
		return lf_err(
		        err,
		        "max concurrent tail requests limit exceeded, count > limit (%d > %lld)",
		        n + 1, (long long)max);
	}
	s->sub_ns = lf_now_ns();
	s->subscribed = true;
	atomic_fetch_add(&h->n_subscribed, 1);
	pthread_rwlock_unlock(&h->lock);
	return 0;
}

static int on_frames(struct session *s);

/* Reads what the client sent; 1 = go on, 0 = session over. */
static int on_readable(struct session *s)
{
	char buf[4096];
	ssize_t r = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
	if (r == 0)
		return 0;
	if (lf_ws_reader_feed(&s->rd, buf, (size_t)r) < 0)
		return 0;
	return on_frames(s);
}

/* Handles the complete frames the reader holds; 1 = go on, 0 = over. */
static int on_frames(struct session *s)
{
	struct lf_ws_event ev;
	unsigned code;
	struct lf_error err;
	int rc;
	while ((rc = lf_ws_reader_next(&s->rd, &ev, &code, &err)) == 1) {
		if (ev.kind == LF_WS_EV_CLOSE) {
			/* echo the code, as Loki's websocket library does */
			send_close(s, ev.close_code, "");
			return 0;
		}
		if (ev.kind == LF_WS_EV_PING &&
		    send_frame_raw(s, LF_WS_OP_PONG, ev.data, ev.len) < 0)
			return 0;
		/* pongs and data messages are ignored, as Loki does */
	}
	if (rc < 0) {
		lf_debug("tail: tenant %s: %s", s->tenant, err.msg);
		send_close(s, code, err.msg);
		return 0;
	}
	return 1;
}

static int64_t ms_until(int64_t now, int64_t when)
{
	if (when <= now)
		return 0;
	int64_t ms = (when - now + LF_NS_PER_MS - 1) / LF_NS_PER_MS;
	return ms;
}

static void follow(struct session *s)
{
	int64_t t0 = lf_monotonic_ns();
	int64_t next_ping = t0 + LF_NS_PER_SEC;
	/* frames the client sent right behind its handshake */
	if (s->rd.in.len && !on_frames(s))
		return;
	for (;;) {
		if (atomic_load(&s->stop)) {
			send_close(s, LF_WS_CLOSE_GOING_AWAY, "server shutting down");
			return;
		}
		int64_t mono = lf_monotonic_ns();
		if (mono - t0 >= LF_TAIL_MAX_DURATION_NS) {
			send_close(s, LF_WS_CLOSE_INTERNAL, "reached tail max duration limit");
			return;
		}
		drain(s);
		int64_t now = lf_now_ns(), next_release;
		if (release(s, now, &next_release) < 0)
			return;
		mono = lf_monotonic_ns();
		if (mono >= next_ping) {
			if (send_frame_raw(s, LF_WS_OP_PING, NULL, 0) < 0)
				return;
			next_ping = mono + LF_NS_PER_SEC;
		}
		int64_t wait = ms_until(mono, next_ping);
		if (next_release != INT64_MAX) {
			int64_t r = ms_until(lf_now_ns(), next_release) + 1;
			if (r < wait)
				wait = r;
		}
		if (wait > 500)
			wait = 500;
		struct pollfd pf[2] = {{.fd = s->fd, .events = POLLIN},
		                       {.fd = s->efd, .events = POLLIN}};
		int pr = poll(pf, 2, (int)wait);
		if (pr < 0 && errno != EINTR)
			return;
		if (pr <= 0)
			continue;
		if (pf[1].revents & POLLIN) {
			uint64_t v;
			(void)!read(s->efd, &v, sizeof(v));
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (!on_readable(s))
				return;
		}
	}
}

static void *session_main(void *arg)
{
	struct session *s = arg;
	struct lf_tail_hub *h = s->hub;
	struct lf_error err;
	int sndbuf = SOCKET_SNDBUF;
	(void)setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	s->drops = calloc(LF_TAIL_MAX_DROPPED, sizeof(*s->drops));
	int64_t max_entries = h->cfg->limits.max_entries_limit_per_query;
	int prc = lf_api_parse_log_query(s->query, &s->sel, &s->pipe, &err);
	if (prc == 0 && s->pipe)
		s->n_lead = lf_lq_pipeline_leading_filters(s->pipe, &s->lead);
	if (prc < 0) {
		send_close(s, LF_WS_CLOSE_INTERNAL, err.msg);
	} else if (max_entries > 0 && (int64_t)s->limit > max_entries) {
		char msg[160];
		snprintf(msg, sizeof(msg),
		         "max entries limit per query exceeded, limit > max_entries_limit (%u > "
		         "%lld)",
		         s->limit, (long long)max_entries);
		send_close(s, LF_WS_CLOSE_INTERNAL, msg);
	} else if (subscribe(s, &err) < 0) {
		send_close(s, LF_WS_CLOSE_INTERNAL, err.msg);
	} else {
		if (history(s, &err) < 0)
			send_close(s, LF_WS_CLOSE_INTERNAL, err.msg);
		else
			follow(s);
		pthread_rwlock_wrlock(&h->lock);
		s->subscribed = false;
		atomic_fetch_sub(&h->n_subscribed, 1);
		pthread_rwlock_unlock(&h->lock);
	}
	pthread_rwlock_wrlock(&h->lock);
	for (struct session **pp = &h->all; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	pthread_rwlock_unlock(&h->lock);
	lf_http_upgrade_close(s->uh);
	session_free(s);
	pthread_mutex_lock(&h->run_mu);
	h->running--;
	pthread_cond_broadcast(&h->run_cv);
	pthread_mutex_unlock(&h->run_mu);
	return NULL;
}

static void on_upgraded(void *ctx, int fd, const char *extra, size_t extra_len,
                        struct lf_http_upgrade *uh)
{
	struct session *s = ctx;
	struct lf_tail_hub *h = s->hub;
	s->fd = fd;
	s->uh = uh;
	if (extra_len)
		lf_ws_reader_feed(&s->rd, extra, extra_len);
	pthread_mutex_lock(&h->run_mu);
	bool stopping = h->stopping;
	if (!stopping)
		h->running++;
	pthread_mutex_unlock(&h->run_mu);
	if (stopping) {
		send_close(s, LF_WS_CLOSE_GOING_AWAY, "server shutting down");
		lf_http_upgrade_close(uh);
		session_free(s);
		return;
	}
	pthread_rwlock_wrlock(&h->lock);
	s->next = h->all;
	h->all = s;
	pthread_rwlock_unlock(&h->lock);
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_t th;
	int rc = pthread_create(&th, &at, session_main, s);
	pthread_attr_destroy(&at);
	if (rc != 0) {
		lf_warn("tail: cannot start a session thread: %s", strerror(rc));
		pthread_rwlock_wrlock(&h->lock);
		for (struct session **pp = &h->all; *pp; pp = &(*pp)->next) {
			if (*pp == s) {
				*pp = s->next;
				break;
			}
		}
		pthread_rwlock_unlock(&h->lock);
		send_close(s, LF_WS_CLOSE_INTERNAL, "cannot start the tail");
		lf_http_upgrade_close(uh);
		session_free(s);
		pthread_mutex_lock(&h->run_mu);
		h->running--;
		pthread_cond_broadcast(&h->run_cv);
		pthread_mutex_unlock(&h->run_mu);
	}
}

static void on_dropped(void *ctx)
{
	session_free(ctx);
}

int lf_tail_prepare(struct lf_tail_hub *h, const struct lf_tail_request *rq,
                    struct lf_http_upgrade_cb *cb)
{
	pthread_mutex_lock(&h->run_mu);
	bool stopping = h->stopping;
	pthread_mutex_unlock(&h->run_mu);
	if (stopping)
		return -1;
	struct session *s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	s->hub = h;
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&s->mu, NULL);
	atomic_init(&s->stop, false);
	s->fd = -1;
	s->tenant = strdup(rq->tenant);
	s->query = strdup(rq->query);
	s->start = rq->start;
	s->limit = rq->limit;
	s->delay_for = rq->delay_for;
	lf_ws_reader_init(&s->rd, true, 64 * 1024);
	if (s->efd < 0 || !s->tenant || !s->query) {
		session_free(s);
		return -1;
	}
	cb->run = on_upgraded;
	cb->drop = on_dropped;
	cb->ctx = s;
	return 0;
}
