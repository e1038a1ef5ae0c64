/* pushapi.c — the `loki_push_api` source: the agent as a relay.
 *
 * An HTTP server of its own (common/httpd.h, one per source, Promtail's
 * per-job `server` block) takes POST /loki/api/v1/push (snappy protobuf
 * through common/push.h's in-place walker, or JSON; Content-Encoding gzip,
 * deflate or snappy), POST /promtail/api/v1/raw (plain lines) and GET
 * /ready. Each stream: its labels + the config `labels` (config wins) +
 * __tenant_id__ from X-Scope-OrgID -> relabel_configs -> `__*` drop
 * (__tenant_id__ kept: the client forwards it as X-Scope-OrgID).
 *
 * Acknowledgement: a request's entries go into the bounded srcq as one
 * batch; 204 only once the whole batch is in; when the queue is full the
 * answer is 429 (Retry-After: 1) and nothing of the request is kept, so
 * the sender retries. Entries answered 204 live in memory only until the
 * agent's clients delivered them (a crash of the agent loses them).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpd.h"
#include "log.h"
#include "push.h"
#include "push_json.h"
#include "sources.h"
#include "srcq.h"
#include "timeutil.h"

#define QUEUE_BYTES (8u << 20)
#define MAX_BODY    (16u << 20)
#define MAX_DECODED (64u << 20)

struct push_src {
	struct lf_source base;
	char *job;
	char *address;
	int64_t port;
	bool use_incoming_ts;
	struct lf_labels labels;
	struct lf_relabel *relabel;
	struct lf_source_sink sink;
	struct lf_httpd *httpd;
	int bound_port;
	struct lf_srcq *q;
	struct lf_srcq_reader rd;
	struct lf_ratelimit rl;
	atomic_uint_fast64_t n_entries, n_req_ok, n_req_full, n_req_bad;
	struct lf_metric_family *m_entries, *m_reqs;
};

/* ---------- config ---------- */

static const char *const keys[] = {"server", "labels", "use_incoming_timestamp", NULL};
static const char *const server_keys[] = {"http_listen_address",
                                          "http_listen_port",
                                          "grpc_listen_address",
                                          "grpc_listen_port",
                                          "register_instrumentation",
                                          "graceful_shutdown_timeout",
                                          "http_server_read_timeout",
                                          "http_server_write_timeout",
                                          "http_server_idle_timeout",
                                          "grpc_server_max_recv_msg_size",
                                          "grpc_server_max_send_msg_size",
                                          "log_level",
                                          NULL};

static int parse_cfg(struct push_src *s, const struct lf_source_env *env, struct lf_error *err)
{
	const struct lf_ynode *b = env->block;
	const char *P = env->path;
	if (lf_ymap_check(b, P, keys, err) < 0)
		return -1;
	const struct lf_ynode *srv = lf_ymap_get(b, "server");
	char sp[300];
	snprintf(sp, sizeof sp, "%s.server", P);
	if (srv && srv->kind != LF_Y_NULL) {
		if (srv->kind != LF_Y_MAP)
			return lf_y_err(err, srv, sp, "expected a map");
		if (lf_ymap_check(srv, sp, server_keys, err) < 0)
			return -1;
		if (lf_ymap_str(srv, sp, "http_listen_address", &s->address, err) < 0 ||
		    lf_ymap_int(srv, sp, "http_listen_port", &s->port, err) < 0)
			return -1;
		if (s->port < 0 || s->port > 65535)
			return lf_y_err(err, lf_ymap_get(srv, "http_listen_port"), sp,
			                "invalid port %lld", (long long)s->port);
		for (size_t i = 0; i < srv->n; i++) {
			const struct lf_ynode *k = srv->pairs[i].key;
			if (strcmp(k->str, "http_listen_address") &&
			    strcmp(k->str, "http_listen_port"))
				lf_warn("%s:%d:%d: %s.%s is ignored by logferry's push API source",
				        srv->file ? srv->file : "config", k->line, k->col, sp,
				        k->str);
		}
	}
	if (lf_ymap_bool(b, P, "use_incoming_timestamp", &s->use_incoming_ts, err) < 0 ||
	    lf_source_labels(b, P, &s->labels, err) < 0)
		return -1;
	return lf_source_relabel_new(env->scrape, env->path, &s->relabel, err);
}

/* ---------- request decoding ---------- */

struct req {
	struct push_src *s;
	struct lf_buf batch;
	struct lf_labels ls, sm;
	const char *tenant;
	bool skip; /* current stream dropped by relabel */
	int64_t now;
	size_t entries;
};

static int stream_labels(struct req *r, const char *text, size_t len, struct lf_error *err)
{
	lf_labels_clear(&r->ls);
	if (lf_labels_parse(text, len, &r->ls, err) < 0)
		return -1;
	if (lf_labels_merge(&r->ls, &r->s->labels, true) < 0)
		return lf_err(err, "out of memory");
	if (r->tenant && r->tenant[0])
		lf_labels_set(&r->ls, LF_TENANT_LABEL, r->tenant);
	r->skip = !lf_source_finish_labels(r->s->relabel, &r->ls);
	return 0;
}

static int add_entry(struct req *r, int64_t ts, const char *line, size_t len,
                     const struct lf_labels *sm, struct lf_error *err)
{
	if (r->skip)
		return 0;
	if (!r->s->use_incoming_ts || ts == 0)
		ts = r->now;
	if (lf_srcq_rec_append(&r->batch, ts, &r->ls, sm, line, len) < 0)
		return lf_err(err, "out of memory");
	r->entries++;
	return 0;
}

static int v_stream(void *ctx, const char *labels, size_t labels_len, size_t n_entries,
                    struct lf_error *err)
{
	(void)n_entries;
	return stream_labels(ctx, labels, labels_len, err);
}

static int v_entry(void *ctx, int64_t ts_ns, const char *line, size_t line_len,
                   const struct lf_push_sm_view *sm, size_t n_sm, struct lf_error *err)
{
	struct req *r = ctx;
	lf_labels_clear(&r->sm);
	for (size_t i = 0; i < n_sm; i++)
		if (lf_labels_setn(&r->sm, sm[i].name, sm[i].name_len, sm[i].value,
		                   sm[i].value_len) < 0)
			return lf_err(err, "out of memory");
	return add_entry(r, ts_ns, line, line_len, n_sm ? &r->sm : NULL, err);
}

static void raw_lines(struct req *r, const char *body, size_t len)
{
	lf_labels_copy(&r->ls, &r->s->labels);
	r->skip = false;
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(body + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (body + pos)) : len - pos;
		size_t ll = l;
		while (ll && body[pos + ll - 1] == '\r')
			ll--;
		if (ll) {
			struct lf_error e;
			add_entry(r, 0, body + pos, ll, NULL, &e);
		}
		pos += l + 1;
	}
}

static void count_req(struct push_src *s, int status)
{
	char st[8];
	snprintf(st, sizeof st, "%d", status);
	const char *lv[] = {s->job, st};
	if (s->m_reqs)
		lf_metric_inc(s->m_reqs, lv);
}

static void handler(void *ctx, const struct lf_http_request *hr, struct lf_http_response *resp)
{
	struct push_src *s = ctx;
	if (!strcmp(hr->path, "/ready")) {
		lf_http_text(resp, 200, "ready\n");
		return;
	}
	bool push = !strcmp(hr->path, "/loki/api/v1/push") || !strcmp(hr->path, "/api/prom/push");
	bool raw = !strcmp(hr->path, "/promtail/api/v1/raw");
	if (!push && !raw) {
		lf_http_text(resp, 404, "404 page not found\n");
		return;
	}
	if (strcmp(hr->method, "POST") != 0) {
		lf_http_text(resp, 405, "method not allowed\n");
		return;
	}
	struct req r = {.s = s, .batch = LF_BUF_INIT, .ls = LF_LABELS_INIT, .sm = LF_LABELS_INIT};
	r.now = lf_now_ns();
	r.tenant = lf_http_header(hr, "X-Scope-OrgID");
	struct lf_error err = {{0}};
	struct lf_buf inflated = LF_BUF_INIT;
	int status = 204;
	const char *body = hr->body ? hr->body : "";
	size_t len = hr->body_len;
	const char *ct = lf_http_header(hr, "Content-Type");
	const char *ce = lf_http_header(hr, "Content-Encoding");
	if (raw) {
		raw_lines(&r, body, len);
		goto commit;
	}
	if (!ct || !ct[0]) {
		status = 400;
		lf_err(&err, "mime: no media type");
		goto done;
	}
	status = lf_push_content_decode(ce, &body, &len, MAX_DECODED, &inflated, &err);
	if (status) /* 400, 413 or 415 */
		goto done;
	status = 204;
	struct lf_push_visitor v = {.stream = v_stream, .entry = v_entry};
	if (!strncasecmp(ct, "application/json", 16)) {
		struct lf_push_json *j = lf_push_json_new();
		int st = !j ? (lf_err(&err, "out of memory"), 413)
		            : lf_push_json_walk(j, body, len, &v, &r, &err);
		lf_push_json_free(j);
		if (st) {
			status = st;
			goto done;
		}
	} else {
		struct lf_push_decoder *d = lf_push_decoder_new();
		/* snappy(protobuf), also inside a gzip/deflate encoding (Loki) */
		int rc = !d ? lf_err(&err, "out of memory")
		            : lf_push_walk(d, body, len, MAX_DECODED, &v, &r, &err);
		lf_push_decoder_free(d);
		if (rc < 0) {
			status = 400;
			goto done;
		}
	}
commit:
	if (r.entries && lf_srcq_commit(s->q, &r.batch) < 0) {
		status = 429;
		lf_err(&err, "logferry relay queue is full, retry later");
		atomic_fetch_add(&s->n_req_full, 1);
		lf_http_set_header(resp, "Retry-After", "1");
		goto done;
	}
	atomic_fetch_add(&s->n_entries, r.entries);
	if (s->m_entries) {
		const char *lv[] = {s->job};
		lf_metric_add(s->m_entries, lv, (double)r.entries);
	}
done:
	if (status == 204) {
		atomic_fetch_add(&s->n_req_ok, 1);
		resp->status = 204;
	} else {
		if (status == 400 || status == 415 || status == 413) {
			atomic_fetch_add(&s->n_req_bad, 1);
			lf_log_rl(&s->rl, LF_LOG_WARN, "loki_push_api %s: rejected a push (%d): %s",
			          s->job, status, err.msg);
		}
		lf_http_text(resp, status, "%s\n", err.msg);
	}
	count_req(s, status);
	lf_buf_free(&inflated);
	lf_buf_free(&r.batch);
	lf_labels_free(&r.ls);
	lf_labels_free(&r.sm);
}

/* ---------- lifecycle ---------- */

static void src_free(struct lf_source *base);

static int src_create(const struct lf_source_env *env, bool check_only, struct lf_source **out,
                      struct lf_error *err)
{
	struct push_src *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->base.ops = &lf_pushapi_source_ops;
	s->rl.interval_ns = 5 * LF_NS_PER_SEC;
	lf_srcq_reader_init(&s->rd);
	*out = &s->base;
	if (!(s->job = strdup(env->job_name)))
		return lf_err(err, "out of memory");
	if (parse_cfg(s, env, err) < 0)
		return -1;
	if (check_only)
		return 0;
	s->sink = env->sink;
	if (!(s->q = lf_srcq_new(QUEUE_BYTES)))
		return lf_err(err, "out of memory");
	if (env->metrics) {
		static const char *const jl[] = {"job", NULL};
		static const char *const jsl[] = {"job", "status", NULL};
		s->m_entries = lf_metrics_family(
		        env->metrics, LF_METRIC_COUNTER, "logferry_push_api_entries_total",
		        "Entries accepted by the loki_push_api source", jl, NULL, 0);
		s->m_reqs = lf_metrics_family(env->metrics, LF_METRIC_COUNTER,
		                              "logferry_push_api_requests_total",
		                              "Push requests answered by the loki_push_api source, "
		                              "by status (429 = queue full)",
		                              jsl, NULL, 0);
		const char *lv[] = {s->job};
		lf_metric_add(s->m_entries, lv, 0);
	}
	struct lf_httpd_config hc = {
	        .address = s->address,
	        .port = (int)s->port,
	        .max_body = MAX_BODY,
	};
	if (lf_httpd_start(&hc, handler, s, &s->httpd, err) < 0) {
		lf_err_prefix(err, "%s.server", env->path);
		return -1;
	}
	s->bound_port = lf_httpd_port(s->httpd);
	lf_info("loki_push_api target %s listening on %s:%d", s->job,
	        s->address && s->address[0] ? s->address : "", s->bound_port);
	return 0;
}

static int src_fd(struct lf_source *base)
{
	struct push_src *s = (struct push_src *)base;
	return s->q ? lf_srcq_ready_fd(s->q) : -1;
}

static int src_run_once(struct lf_source *base, int64_t now_ns, size_t budget)
{
	(void)now_ns;
	struct push_src *s = (struct push_src *)base;
	return lf_source_drain(base, s->q, &s->rd, &s->sink, budget);
}

static void src_list_json(struct lf_source *base, struct lf_buf *o)
{
	struct push_src *s = (struct push_src *)base;
	char path[300];
	snprintf(path, sizeof(path), "%s:%d", s->address && s->address[0] ? s->address : "",
	         s->bound_port);
	lf_source_list_json_head(o, s->job, "loki_push_api", path, &s->labels);
	lf_buf_printf(o,
	              ",\"state\":\"listening\",\"entries\":%llu,\"lines\":%llu,"
	              "\"requests_ok\":%llu,\"requests_queue_full\":%llu,"
	              "\"requests_bad\":%llu}",
	              (unsigned long long)atomic_load(&s->n_entries),
	              (unsigned long long)atomic_load(&s->n_entries),
	              (unsigned long long)atomic_load(&s->n_req_ok),
	              (unsigned long long)atomic_load(&s->n_req_full),
	              (unsigned long long)atomic_load(&s->n_req_bad));
}

static void src_stop(struct lf_source *base)
{
	struct push_src *s = (struct push_src *)base;
	if (s->httpd) {
		lf_httpd_stop(s->httpd);
		s->httpd = NULL;
	}
}

static void src_free(struct lf_source *base)
{
	struct push_src *s = (struct push_src *)base;
	if (!s)
		return;
	src_stop(base);
	lf_srcq_free(s->q);
	lf_srcq_reader_free(&s->rd);
	lf_labels_free(&s->labels);
	lf_relabel_free(s->relabel);
	free(s->address);
	free(s->job);
	free(s);
}

const struct lf_source_ops lf_pushapi_source_ops = {
        .kind = "loki_push_api",
        .create = src_create,
        .fd = src_fd,
        .run_once = src_run_once,
        .next_wakeup = lf_source_no_wakeup,
        .release = lf_source_noop_range,
        .claim = lf_source_noop_claim,
        .ack = lf_source_noop_range,
        .save = lf_source_noop_save,
        .list_json = src_list_json,
        .stop = src_stop,
        .free = src_free,
};
