/* api.c — see api.h. */
#include "api.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_rules.h"
#include "ingest.h"
#include "log.h"
#include "meval.h"
#include "pipeline.h"
#include "query.h"
#include "selector.h"
#include "timeutil.h"
#include "ui.h"

#define JSON_CT "application/json; charset=UTF-8"

/* time.Unix(sec, nsec).UnixNano(), saturated */
static int64_t unix_ns(int64_t sec, int64_t nsec)
{
	int64_t r;
	if (__builtin_mul_overflow(sec, LF_NS_PER_SEC, &r))
		return sec > 0 ? INT64_MAX : INT64_MIN;
	return lf_sat_add(r, nsec);
}

/* Go's int64(f) on amd64: NaN and values outside the range give MinInt64 */
static int64_t go_f64_to_i64(double f)
{
	if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
		return INT64_MIN;
	return (int64_t)f;
}

int lf_api_parse_time(const char *s, int64_t def, int64_t *out)
{
	if (!s || !*s) {
		*out = def;
		return 0;
	}
	size_t n = strlen(s);
	if (strchr(s, '.') && strspn(s, "0123456789.-+eE") == n) {
		char *end;
		errno = 0;
		double d = strtod(s, &end);
		if (*end || !isfinite(d) || errno == ERANGE)
			return -1;
		/* Loki: s, ns := math.Modf(f); ns rounded to ms; time.Unix(int64(s),
		 * int64(ns*1e9)) */
		double ip;
		double frac = modf(d, &ip);
		frac = round(frac * 1000) / 1000;
		*out = unix_ns(go_f64_to_i64(ip), (int64_t)(frac * 1e9));
		return 0;
	}
	if (strspn(s, "0123456789") == n || (s[0] == '-' && strspn(s + 1, "0123456789") == n - 1)) {
		char *end;
		errno = 0;
		long long v = strtoll(s, &end, 10);
		if (*end || errno == ERANGE) /* ParseInt fails; not RFC3339 either */
			return -1;
		if (n <= 10) /* Loki reads short integers as seconds */
			*out = unix_ns(v, 0);
		else
			*out = (int64_t)v;
		return 0;
	}
	return lf_parse_rfc3339(s, n, out);
}

static void count(struct lf_api *a, const char *route, int status)
{
	char code[8];
	snprintf(code, sizeof(code), "%d", status);
	const char *lv[] = {route, code};
	lf_metric_inc(a->store->m.requests, lv);
}

static void fail(struct lf_api *a, const char *route, struct lf_http_response *resp, int status,
                 const char *msg)
{
	lf_http_text(resp, status, "%s\n", msg);
	count(a, route, status);
}

/* The tenant of a request; NULL after answering 401/400. */
/* id (the value of `key` of MHD kind `kind`), checked as a tenant ID, or
 * NULL after answering 400. MHD gives C strings: ask it for the real
 * length so a NUL inside the value cannot shorten the ID into a
 * different, valid one. */
static const char *checked_tenant(struct lf_api *a, const char *route,
                                  const struct lf_http_request *req, struct lf_http_response *resp,
                                  const char *id, enum MHD_ValueKind kind, const char *key)
{
	const char *raw = NULL;
	size_t raw_len = strlen(id);
	if (req->conn &&
	    MHD_lookup_connection_value_n(req->conn, kind, key, strlen(key), &raw, &raw_len) ==
	            MHD_YES &&
	    raw && raw_len != strlen(raw)) {
		fail(a, route, resp, 400, "tenant ID contains unsupported character 0x00");
		return NULL;
	}
	struct lf_error err;
	if (lf_tenant_id_valid(id, strlen(id), &err) < 0) {
		fail(a, route, resp, 400, err.msg);
		return NULL;
	}
	return id;
}

static const char *tenant_of(struct lf_api *a, const char *route, const struct lf_http_request *req,
                             struct lf_http_response *resp)
{
	if (!a->cfg->auth_enabled)
		return "fake";
	const char *id = lf_http_header(req, "X-Scope-OrgID");
	if (!id || !*id) {
		fail(a, route, resp, 401, "no org id");
		return NULL;
	}
	return checked_tenant(a, route, req, resp, id, MHD_HEADER_KIND, "X-Scope-OrgID");
}

struct discard_ctx {
	struct lf_api *a;
	const char *tenant;
};

static void on_discard(void *ctx, const char *reason, uint64_t lines, uint64_t bytes)
{
	struct discard_ctx *d = ctx;
	const char *lv[] = {reason, d->tenant};
	lf_metric_add(d->a->store->m.discarded_samples, lv, (double)lines);
	lf_metric_add(d->a->store->m.discarded_bytes, lv, (double)bytes);
}

/* One push batch per httpd thread, kept between requests. Why global
 * state: a 1 MiB push needs megabyte buffers (decompressed protobuf, WAL
 * record) that glibc maps fresh per request above the store's 1 MiB mmap
 * threshold; faulting them in cost ~15% of ingest CPU. struct lf_api has
 * no per-thread slot, so the batch hangs off a pthread key whose
 * destructor frees it when the httpd's pool thread exits. */
#define PUSH_KEEP_MAX ((size_t)4 << 20) /* larger buffers are not kept */

static pthread_key_t push_batch_key;
static pthread_once_t push_batch_once = PTHREAD_ONCE_INIT;
static bool push_batch_key_ok;

static void push_batch_destroy(void *p)
{
	lf_ingest_batch_free(p);
	free(p);
}

static void push_batch_key_init(void)
{
	push_batch_key_ok = pthread_key_create(&push_batch_key, push_batch_destroy) == 0;
}

/* The calling thread's batch (empty), or NULL: then use a local one. */
static struct lf_ingest_batch *thread_batch(void)
{
	pthread_once(&push_batch_once, push_batch_key_init);
	if (!push_batch_key_ok)
		return NULL;
	struct lf_ingest_batch *b = pthread_getspecific(push_batch_key);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (b && pthread_setspecific(push_batch_key, b) != 0) {
			free(b);
			b = NULL;
		}
	}
	return b;
}

/* New streams in one push that make it return freed memory (see below). */
#define PUSH_TRIM_STREAMS 1000

static void handle_push(struct lf_api *a, const struct lf_http_request *req,
                        struct lf_http_response *resp)
{
	const char *route = "loki_api_v1_push";
	if (strcmp(req->method, "POST")) {
		fail(a, route, resp, 405, "method not allowed, use POST");
		return;
	}
	const char *tid = tenant_of(a, route, req, resp);
	if (!tid)
		return;
	struct lf_ingest_batch local;
	memset(&local, 0, sizeof(local));
	struct lf_ingest_batch *tb = thread_batch();
	struct lf_ingest_batch *bp = tb ? tb : &local;
	struct lf_error err;
	struct lf_buf errors = LF_BUF_INIT;
	int st = lf_ingest_decode(req->body ? req->body : "", req->body_len,
	                          lf_http_header(req, "Content-Type"),
	                          lf_http_header(req, "Content-Encoding"),
	                          (size_t)a->cfg->max_recv_msg_size, bp, &err);
	if (st) {
		fail(a, route, resp, st, err.msg);
		goto out;
	}
	struct discard_ctx dc = {a, tid};
	struct lf_ingest_ctx ic = {a->cfg, lf_now_ns(), on_discard, &dc};
	size_t removed = lf_ingest_validate(&ic, bp, &errors);
	int status = removed ? 400 : 204;
	if (bp->n_entries) {
		struct lf_tenant *t = lf_store_tenant(a->store, tid, true, &err);
		if (!t) {
			lf_error("push: opening tenant %s: %s", tid, err.msg);
			fail(a, route, resp, 500, err.msg);
			goto out;
		}
		if (!lf_tenant_rate_allow(t, bp->bytes)) {
			on_discard(&dc, "rate_limited", bp->n_entries, bp->bytes);
			char msg[512];
			snprintf(
			        msg, sizeof(msg),
			        "ingestion rate limit exceeded for user %s (limit: %lld bytes/sec) "
			        "while attempting to ingest '%zu' lines totaling '%" PRIu64
			        "' bytes, reduce log volume or contact your Loki administrator to "
			        "see if the limit can be increased",
			        tid, (long long)(a->cfg->limits.ingestion_rate_mb * 1024 * 1024),
			        bp->n_entries, bp->bytes);
			fail(a, route, resp, 429, msg);
			goto out;
		}
		int pst = lf_tenant_push(t, bp, &errors, &err);
		if (pst == 500) {
			lf_error("push: tenant %s: %s", tid, err.msg);
			fail(a, route, resp, 500, err.msg);
			goto out;
		}
		if (pst == 429)
			status = 429;
	}
	if (status == 204) {
		resp->status = 204;
		count(a, route, 204);
	} else {
		fail(a, route, resp, status, errors.len ? errors.data : "bad request");
	}
out:;
	size_t created = bp->created;
	lf_buf_free(&errors);
	if (tb)
		lf_ingest_batch_reset(tb, PUSH_KEEP_MAX);
	else
		lf_ingest_batch_free(&local);
	/* A push that created many streams left their small head buffers
	 * between its freed request data in this thread's malloc arena, which
	 * then cannot shrink: give the free pages back (100,000 new streams
	 * kept ~55 MB that way). Pushes to existing streams never pay for it. */
	if (created >= PUSH_TRIM_STREAMS)
		malloc_trim(0);
}

/* A time parameter as Loki reads it; answers 400 with Loki's text
 * (`could not parse 'end' parameter: ...`) when it is bad. */
static int api_time(struct lf_api *a, const char *route, struct lf_http_response *resp,
                    const char *name, const char *v, int64_t def, int64_t *out);
int lf_api_time_arg(struct lf_api *a, const char *route, struct lf_http_response *resp,
                    const char *name, const char *v, int64_t def, int64_t *out)
{
	return api_time(a, route, resp, name, v, def, out);
}
static int api_time(struct lf_api *a, const char *route, struct lf_http_response *resp,
                    const char *name, const char *v, int64_t def, int64_t *out)
{
	if (lf_api_parse_time(v, def, out) == 0)
		return 0;
	char msg[256];
	int n = 0;
	if (name)
		n = snprintf(msg, sizeof(msg), "could not parse '%s' parameter: ", name);
	snprintf(msg + n, sizeof(msg) - (size_t)n, "strconv.ParseInt: parsing \"%.64s\": %s", v,
	         strspn(v, "0123456789") == strlen(v) ? "value out of range" : "invalid syntax");
	fail(a, route, resp, 400, msg);
	return -1;
}

static bool query_is_log(const char *q)
{
	while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
		q++;
	return *q == '{';
}

/* A LogQL log query: the selector's matchers, then the pipeline with every
 * line filter (NULL when empty); the store's fast paths take the leading
 * line filters from the pipeline. */
static int parse_log_query(const char *q, struct lf_selector **sel, struct lf_lq_pipeline **pipe,
                           struct lf_error *err)
{
	*sel = NULL;
	*pipe = NULL;
	size_t n = strlen(q);
	if (n > 5120)
		return lf_err(err, "parse error : input size too long (%zu > 5120)", n);
	struct lf_lq_lexer lx;
	lf_lq_lexer_init(&lx, q, n);
	struct lf_lq_token t;
	int rc = -1;
	if (lf_selector_parse_lx(&lx, LF_SELECTOR_REQUIRE_NONEMPTY | LF_SELECTOR_NO_FILTERS, sel,
	                         err) < 0 ||
	    lf_lq_pipeline_parse(&lx, 0, pipe, err) < 0 || lf_lq_next(&lx, &t, err) < 0)
		goto out;
	if (t.kind != LF_LQ_EOF) {
		lf_lq_syntax_error(err, &t, NULL);
		goto out;
	}
	if (lf_lq_pipeline_is_empty(*pipe)) {
		lf_lq_pipeline_free(*pipe);
		*pipe = NULL;
	}
	rc = 0;
out:
	lf_lq_lexer_free(&lx);
	if (rc < 0) {
		lf_selector_free(*sel);
		lf_lq_pipeline_free(*pipe);
		*sel = NULL;
		*pipe = NULL;
	}
	return rc;
}

static void handle_query(struct lf_api *a, const struct lf_http_request *req,
                         struct lf_http_response *resp, bool range)
{
	const char *route = range ? "loki_api_v1_query_range" : "loki_api_v1_query";
	const char *tid = tenant_of(a, route, req, resp);
	if (!tid)
		return;
	const char *q = lf_http_arg(req, "query");
	if (!q) /* Loki parses a missing query as "": a parse error, after the parameters */
		q = "";
	/* Loki's order (loghttp.ParseRangeQuery / ParseInstantQuery): times,
	 * limit, direction, then step; the query is parsed afterwards. */
	int64_t now = lf_now_ns();
	int64_t start, end, t;
	char msg[256];
	if (range) {
		int64_t since = 3600 * LF_NS_PER_SEC;
		const char *sn = lf_http_arg(req, "since");
		struct lf_error derr;
		if (sn && *sn && lf_parse_duration(sn, &since, &derr) < 0) {
			snprintf(msg, sizeof(msg),
			         "could not parse 'since' parameter: not a valid duration string: "
			         "\"%.64s\"",
			         sn);
			fail(a, route, resp, 400, msg);
			return;
		}
		if (api_time(a, route, resp, "end", lf_http_arg(req, "end"), now, &end) < 0)
			return;
		int64_t base = end > now ? now : end;
		if (api_time(a, route, resp, "start", lf_http_arg(req, "start"),
		             lf_sat_sub(base, since), &start) < 0)
			return;
		if (end < start) {
			fail(a, route, resp, 400,
			     "end timestamp must not be before or equal to start time");
			return;
		}
		t = end;
	} else {
		if (api_time(a, route, resp, NULL, lf_http_arg(req, "time"), now, &t) < 0)
			return;
		start = end = t;
	}
	const char *lim = lf_http_arg(req, "limit");
	long long limit = 100;
	if (lim && *lim) {
		char *e;
		errno = 0;
		limit = strtoll(lim, &e, 10);
		if (*e || e == lim || errno || limit > INT32_MAX || limit < INT32_MIN) {
			snprintf(msg, sizeof(msg), "strconv.Atoi: parsing \"%.64s\": %s", lim,
			         *e || e == lim ? "invalid syntax" : "value out of range");
			fail(a, route, resp, 400, msg);
			return;
		}
		if (limit <= 0) {
			fail(a, route, resp, 400, "limit must be a positive value");
			return;
		}
	}
	const char *dir = lf_http_arg(req, "direction");
	bool forward = false;
	if (dir && *dir) {
		if (!strcasecmp(dir, "forward"))
			forward = true;
		else if (strcasecmp(dir, "backward")) {
			snprintf(msg, sizeof(msg), "invalid direction '%.64s'", dir);
			fail(a, route, resp, 400, msg);
			return;
		}
	}
	if (range) {
		int64_t step;
		struct lf_error serr;
		if (lf_mq_parse_step(lf_http_arg(req, "step"), start, end, &step, &serr) < 0) {
			fail(a, route, resp, 400, serr.msg);
			return;
		}
		if (((__int128)end - start) / step > 11000) {
			fail(a, route, resp, 400,
			     "exceeded maximum resolution of 11,000 points per timeseries. Try "
			     "decreasing the query resolution (?step=XX)");
			return;
		}
	}

	struct lf_buf o = LF_BUF_INIT;
	struct lf_error err;
	if (query_is_log(q)) {
		struct lf_selector *sel = NULL;
		struct lf_lq_pipeline *pipe = NULL;
		if (parse_log_query(q, &sel, &pipe, &err) < 0) {
			fail(a, route, resp, 400, err.msg);
			return;
		}
		if (a->cfg->limits.max_entries_limit_per_query > 0 &&
		    limit > a->cfg->limits.max_entries_limit_per_query) {
			snprintf(msg, sizeof(msg),
			         "max entries limit per query exceeded, limit > max_entries_limit "
			         "(%lld > %lld)",
			         limit, (long long)a->cfg->limits.max_entries_limit_per_query);
			lf_selector_free(sel);
			lf_lq_pipeline_free(pipe);
			fail(a, route, resp, 400, msg);
			return;
		}
		/* Loki 2.8 answers an instant log query with the entries of
		 * [time-30s, time) (the engine's max look-back period) */
		if (!range)
			start = end - 30 * LF_NS_PER_SEC;
		struct lf_tenant *tn = lf_store_tenant(a->store, tid, false, &err);
		struct lf_log_query lq = {sel, start, end, (size_t)limit, forward, pipe};
		struct lf_query_stats st;
		lf_buf_appends(&o, "{\"status\":\"success\",\"data\":{\"resultType\":\"streams\","
		                   "\"result\":");
		if (lf_query_logs(tn, &lq, &o, &st, &err) < 0) {
			lf_selector_free(sel);
			lf_lq_pipeline_free(pipe);
			lf_buf_free(&o);
			fail(a, route, resp, 500, err.msg);
			return;
		}
		lf_buf_appends(&o, ",\"stats\":");
		lf_query_stats_json(&st, &o);
		lf_buf_appends(&o, "}}");
		lf_selector_free(sel);
		lf_lq_pipeline_free(pipe);
	} else {
		/* a metric query: store/logql/meval.h */
		struct lf_mq_limits ml;
		lf_mq_limits_default(&ml);
		ml.max_query_series = a->cfg->limits.max_query_series;
		struct lf_mq_source src =
		        lf_mq_tenant_source(lf_store_tenant(a->store, tid, false, &err));
		struct lf_mq_request rq = {q, range, start, end, lf_http_arg(req, "step")};
		int status;
		if (lf_mq_run(&src, &rq, &ml, &o, &status, &err) < 0) {
			lf_buf_free(&o);
			fail(a, route, resp, status, err.msg);
			return;
		}
	}
	resp->status = 200;
	resp->content_type = JSON_CT;
	lf_buf_free(&resp->body);
	resp->body = o;
	count(a, route, 200);
	return;
}

/* start/end/since for the metadata endpoints (default: last 6h). */
static int meta_range(struct lf_api *a, const char *route, const struct lf_http_request *req,
                      struct lf_http_response *resp, int64_t *start, int64_t *end)
{
	int64_t now = lf_now_ns();
	int64_t since = 6 * 3600 * LF_NS_PER_SEC;
	const char *sn = lf_http_arg(req, "since");
	struct lf_error derr;
	if (sn && *sn && lf_parse_duration(sn, &since, &derr) < 0) {
		char msg[256];
		snprintf(
		        msg, sizeof(msg),
		        "could not parse 'since' parameter: not a valid duration string: \"%.64s\"",
		        sn);
		fail(a, route, resp, 400, msg);
		return -1;
	}
	if (api_time(a, route, resp, "end", lf_http_arg(req, "end"), now, end) < 0)
		return -1;
	return api_time(a, route, resp, "start", lf_http_arg(req, "start"),
	                (*end > now ? now : *end) - since, start);
}

static void json_ok(struct lf_api *a, const char *route, struct lf_http_response *resp,
                    struct lf_buf *data)
{
	struct lf_buf o = LF_BUF_INIT;
	lf_buf_appends(&o, "{\"status\":\"success\",\"data\":");
	lf_buf_append(&o, data->data ? data->data : "[]", data->data ? data->len : 2);
	lf_buf_putc(&o, '}');
	lf_buf_free(data);
	resp->status = 200;
	resp->content_type = JSON_CT;
	lf_buf_free(&resp->body);
	resp->body = o;
	count(a, route, 200);
}

static void handle_labels(struct lf_api *a, const struct lf_http_request *req,
                          struct lf_http_response *resp, const char *name)
{
	const char *route = name ? "loki_api_v1_label_name_values" : "loki_api_v1_labels";
	const char *tid = tenant_of(a, route, req, resp);
	if (!tid)
		return;
	int64_t start, end;
	if (meta_range(a, route, req, resp, &start, &end) < 0)
		return;
	struct lf_selector *sel = NULL;
	struct lf_error err;
	const char *q = lf_http_arg(req, "query");
	if (q && *q && lf_selector_parse(q, strlen(q), 0, &sel, &err) < 0) {
		fail(a, route, resp, 400, err.msg);
		return;
	}
	struct lf_tenant *t = lf_store_tenant(a->store, tid, false, &err);
	struct lf_buf d = LF_BUF_INIT;
	if (name)
		lf_query_label_values(t, name, sel, start, end, &d);
	else
		lf_query_label_names(t, sel, start, end, &d);
	lf_selector_free(sel);
	json_ok(a, route, resp, &d);
}

struct match_ctx {
	struct lf_selector **sels;
	size_t n;
	int failed;
	struct lf_error err;
};

static void on_match(void *ctx, const char *value)
{
	struct match_ctx *m = ctx;
	if (m->failed || m->n >= 64)
		return;
	if (lf_selector_parse(value, strlen(value), 0, &m->sels[m->n], &m->err) < 0) {
		m->failed = 1;
		return;
	}
	m->n++;
}

static void handle_series(struct lf_api *a, const struct lf_http_request *req,
                          struct lf_http_response *resp)
{
	const char *route = "loki_api_v1_series";
	const char *tid = tenant_of(a, route, req, resp);
	if (!tid)
		return;
	int64_t start, end;
	if (meta_range(a, route, req, resp, &start, &end) < 0)
		return;
	struct lf_selector *sels[64];
	struct match_ctx m = {sels, 0, 0, {{0}}};
	lf_http_args(req, "match[]", on_match, &m);
	if (!m.failed)
		lf_http_args(req, "match", on_match, &m);
	if (m.failed || m.n == 0) {
		for (size_t i = 0; i < m.n; i++)
			lf_selector_free(sels[i]);
		fail(a, route, resp, 400,
		     m.failed ? m.err.msg : "at least one match[] argument must be provided");
		return;
	}
	struct lf_error err;
	struct lf_tenant *t = lf_store_tenant(a->store, tid, false, &err);
	struct lf_buf d = LF_BUF_INIT;
	lf_query_series(t, sels, m.n, start, end, &d);
	for (size_t i = 0; i < m.n; i++)
		lf_selector_free(sels[i]);
	json_ok(a, route, resp, &d);
}

static void handle_index_stats(struct lf_api *a, const struct lf_http_request *req,
                               struct lf_http_response *resp)
{
	const char *route = "loki_api_v1_index_stats";
	const char *tid = tenant_of(a, route, req, resp);
	if (!tid)
		return;
	/* parsed like query_range (default: the last hour); matchers only */
	int64_t start, end;
	if (lf_api_index_range(a, route, req, resp, &start, &end) < 0)
		return;
	const char *q = lf_http_arg(req, "query");
	struct lf_selector *sel = NULL;
	struct lf_error err;
	if (!q || !*q) {
		fail(a, route, resp, 400, "query parameter is required");
		return;
	}
	if (lf_api_parse_matchers(q, &sel, &err) < 0) {
		fail(a, route, resp, 400, err.msg);
		return;
	}
	struct lf_tenant *t = lf_store_tenant(a->store, tid, false, &err);
	resp->status = 200;
	resp->content_type = JSON_CT;
	lf_query_index_stats(t, sel, start, end, &resp->body);
	lf_selector_free(sel);
	count(a, route, 200);
}

void lf_api_handle(void *ctx, const struct lf_http_request *req, struct lf_http_response *resp)
{
	struct lf_api *a = ctx;
	const char *p = req->path;
	if (!strcmp(p, "/loki/api/v1/push") || !strcmp(p, "/api/prom/push")) {
		handle_push(a, req, resp);
	} else if (!strcmp(p, "/loki/api/v1/query_range")) {
		handle_query(a, req, resp, true);
	} else if (!strcmp(p, "/loki/api/v1/query")) {
		handle_query(a, req, resp, false);
	} else if (!strcmp(p, "/loki/api/v1/labels") || !strcmp(p, "/loki/api/v1/label")) {
		handle_labels(a, req, resp, NULL);
	} else if (!strncmp(p, "/loki/api/v1/label/", 19) && strlen(p) > 26 &&
	           !strcmp(p + strlen(p) - 7, "/values")) {
		char name[1100];
		size_t n = strlen(p) - 19 - 7;
		if (n == 0 || n >= sizeof(name)) {
			fail(a, "loki_api_v1_label_name_values", resp, 400, "invalid label name");
			return;
		}
		memcpy(name, p + 19, n);
		name[n] = 0;
		handle_labels(a, req, resp, name);
	} else if (!strcmp(p, "/loki/api/v1/series")) {
		handle_series(a, req, resp);
	} else if (!strcmp(p, "/loki/api/v1/index/stats")) {
		handle_index_stats(a, req, resp);
	} else if (lf_api_ext_handle(a, req, resp)) {
		return;
	} else if (a->ruler && lf_api_rules_match(p)) {
		/* Loki's ruler API answers a missing org ID with 500 */
		const char *tid = "fake";
		if (a->cfg->auth_enabled) {
			const char *h = lf_http_header(req, "X-Scope-OrgID");
			if (!h || !*h) {
				lf_http_text(resp, 500, "no valid org id found\n");
				return;
			}
			if (!(tid = tenant_of(a, "rules", req, resp)))
				return;
		}
		lf_api_rules_handle(a->ruler, tid, req, resp);
	} else if (!strcmp(p, "/ready")) {
		lf_http_text(resp, 200, "ready\n");
	} else if (!strcmp(p, "/metrics")) {
		resp->status = 200;
		resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
		lf_metrics_render(a->reg, &resp->body);
	} else if (!strcmp(p, "/config")) {
		resp->status = 200;
		resp->content_type = "text/plain; charset=utf-8";
		lf_store_config_render(a->cfg, &resp->body);
	} else if (!strcmp(p, "/loki/api/v1/status/buildinfo")) {
		resp->status = 200;
		resp->content_type = JSON_CT;
		lf_buf_printf(&resp->body,
		              "{\"version\":\"%s\",\"revision\":\"\",\"branch\":\"\","
		              "\"buildUser\":\"\",\"buildDate\":\"\",\"goVersion\":\"\"}",
		              LF_VERSION);
	} else if (!lf_ui_serve(req, resp)) {
		lf_http_text(resp, 404, "404 page not found\n");
	}
}

/* ---- for the handlers in api_*.c ---- */

void lf_api_count(struct lf_api *a, const char *route, int status)
{
	count(a, route, status);
}

void lf_api_fail(struct lf_api *a, const char *route, struct lf_http_response *resp, int status,
                 const char *msg)
{
	fail(a, route, resp, status, msg);
}

const char *lf_api_tenant(struct lf_api *a, const char *route, const struct lf_http_request *req,
                          struct lf_http_response *resp)
{
	return tenant_of(a, route, req, resp);
}

const char *lf_api_tenant_ws(struct lf_api *a, const char *route, const struct lf_http_request *req,
                             struct lf_http_response *resp)
{
	const char *h = lf_http_header(req, "X-Scope-OrgID");
	const char *q = lf_http_arg(req, "tenant");
	if (!a->cfg->auth_enabled || (h && *h) || !q || !*q)
		return tenant_of(a, route, req, resp);
	return checked_tenant(a, route, req, resp, q, MHD_GET_ARGUMENT_KIND, "tenant");
}

int lf_api_parse_log_query(const char *q, struct lf_selector **sel, struct lf_lq_pipeline **pipe,
                           struct lf_error *err)
{
	return parse_log_query(q, sel, pipe, err);
}
