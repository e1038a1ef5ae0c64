/* api.c — see api.h. */
#include "api.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ingest.h"
#include "log.h"
#include "query.h"
#include "selector.h"
#include "timeutil.h"
#include "vexpr.h"

#define JSON_CT "application/json; charset=UTF-8"

/* Time arithmetic on user-supplied values saturates: an instant outside
 * int64 nanoseconds (Loki's time.Time holds it) stays the earliest/latest
 * representable one instead of wrapping (or being undefined in C). */
static int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* time.Unix(sec, nsec).UnixNano(), saturated */
static int64_t unix_ns(int64_t sec, int64_t nsec)
{
	int64_t r;
	if (__builtin_mul_overflow(sec, LF_NS_PER_SEC, &r))
		return sec > 0 ? INT64_MAX : INT64_MIN;
	return sat_add(r, nsec);
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

int lf_api_parse_step(const char *s, int64_t *out, struct lf_error *err)
{
	*out = 0;
	if (!s || !*s)
		return 0;
	if (strspn(s, "0123456789.") == strlen(s)) {
		/* float seconds (Loki's parseSecondsOrDuration) */
		char *end;
		double d = strtod(s, &end);
		if (*end)
			return lf_err(err, "cannot parse \"%.64s\" to a valid duration", s);
		d *= 1e9;
		if (!(d <= 9223372036854775807.0 && d >= -9223372036854775808.0))
			return lf_err(
			        err,
			        "cannot parse \"%.64s\" to a valid duration. It overflows int64",
			        s);
		*out = go_f64_to_i64(d);
		return 0;
	}
	return lf_parse_duration(s, out, err);
}

int64_t lf_api_default_step(int64_t start, int64_t end)
{
	/* max(floor((end-start)_s / 250), 1) s, computed without overflow */
	double secs = ceil(((double)end - (double)start) / 1e9 / 250);
	if (!(secs >= 1))
		secs = 1;
	if (secs > 9.2e9)
		secs = 9.2e9;
	return (int64_t)secs * LF_NS_PER_SEC;
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
	/* The header API gives C strings: ask MHD for the real length so a NUL
	 * inside the value cannot shorten the ID into a different, valid one. */
	const char *raw = NULL;
	size_t raw_len = strlen(id);
	if (req->conn &&
	    MHD_lookup_connection_value_n(req->conn, MHD_HEADER_KIND, "X-Scope-OrgID", 13, &raw,
	                                  &raw_len) == MHD_YES &&
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
out:
	lf_buf_free(&errors);
	if (tb)
		lf_ingest_batch_reset(tb, PUSH_KEEP_MAX);
	else
		lf_ingest_batch_free(&local);
}

static bool query_is_log(const char *q)
{
	while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
		q++;
	return *q == '{';
}

static void format_value(double v, char *out, size_t n)
{
	if (isnan(v)) {
		snprintf(out, n, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, n, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

static void format_secs(int64_t ns, char *out, size_t n)
{
	/* Prometheus model.Time: seconds with millisecond precision */
	int64_t ms = ns / LF_NS_PER_MS;
	if (ms % 1000 == 0)
		snprintf(out, n, "%" PRId64, ms / 1000);
	else
		snprintf(out, n, "%" PRId64 ".%03lld", ms / 1000, llabs((long long)(ms % 1000)));
	/* trailing zeros of the fraction are dropped, as Go's float formatting does */
	char *dot = strchr(out, '.');
	if (dot) {
		char *e = out + strlen(out) - 1;
		while (e > dot && *e == '0')
			*e-- = 0;
	}
}

static void empty_stats(struct lf_buf *o)
{
	struct lf_query_stats st;
	memset(&st, 0, sizeof(st));
	lf_query_stats_json(&st, o);
}

static void handle_query(struct lf_api *a, const struct lf_http_request *req,
                         struct lf_http_response *resp, bool range)
{
	const char *route = range ? "loki_api_v1_query_range" : "loki_api_v1_query";
	const char *tid = tenant_of(a, route, req, resp);
	if (!tid)
		return;
	const char *q = lf_http_arg(req, "query");
	if (!q || !*q) {
		fail(a, route, resp, 400, "query parameter is required");
		return;
	}
	int64_t now = lf_now_ns();
	int64_t start, end, t;
	const char *lim = lf_http_arg(req, "limit");
	long long limit = 100;
	if (lim && *lim) {
		char *e;
		limit = strtoll(lim, &e, 10);
		if (*e || limit < 0) {
			char msg[128];
			snprintf(msg, sizeof(msg), "invalid limit parameter: %.64s", lim);
			fail(a, route, resp, 400, msg);
			return;
		}
		if (limit == 0)
			limit = 100;
	}
	if (a->cfg->limits.max_entries_limit_per_query > 0 &&
	    limit > a->cfg->limits.max_entries_limit_per_query) {
		char msg[160];
		snprintf(msg, sizeof(msg),
		         "max entries limit per query exceeded, limit > max_entries_limit (%lld > "
		         "%lld)",
		         limit, (long long)a->cfg->limits.max_entries_limit_per_query);
		fail(a, route, resp, 400, msg);
		return;
	}
	const char *dir = lf_http_arg(req, "direction");
	bool forward = false;
	if (dir && *dir) {
		if (!strcasecmp(dir, "forward"))
			forward = true;
		else if (strcasecmp(dir, "backward")) {
			fail(a, route, resp, 400, "invalid direction, must be forward or backward");
			return;
		}
	}
	const char *ps;
	if (range) {
		if (lf_api_parse_time((ps = lf_http_arg(req, "end")), now, &end) < 0)
			goto badtime;
		int64_t since = 3600 * LF_NS_PER_SEC;
		const char *sn = lf_http_arg(req, "since");
		struct lf_error derr;
		if (sn && *sn && lf_parse_duration(sn, &since, &derr) < 0) {
			fail(a, route, resp, 400, derr.msg);
			return;
		}
		if (lf_api_parse_time((ps = lf_http_arg(req, "start")), sat_sub(end, since),
		                      &start) < 0)
			goto badtime;
		if (end < start) {
			fail(a, route, resp, 400,
			     "end timestamp must not be before or equal to start time");
			return;
		}
		t = end;
	} else {
		if (lf_api_parse_time((ps = lf_http_arg(req, "time")), now, &t) < 0)
			goto badtime;
		start = end = t;
	}

	struct lf_buf o = LF_BUF_INIT;
	struct lf_error err;
	if (query_is_log(q)) {
		if (!range) {
			fail(a, route, resp, 400,
			     "log queries are not supported as an instant query type, please "
			     "change your query to a range query type");
			return;
		}
		struct lf_selector *sel = NULL;
		if (lf_selector_parse(q, strlen(q), LF_SELECTOR_REQUIRE_NONEMPTY, &sel, &err) < 0) {
			fail(a, route, resp, 400, err.msg);
			return;
		}
		struct lf_tenant *tn = lf_store_tenant(a->store, tid, false, &err);
		struct lf_log_query lq = {sel, start, end, (size_t)limit, forward};
		struct lf_query_stats st;
		lf_buf_appends(&o, "{\"status\":\"success\",\"data\":{\"resultType\":\"streams\","
		                   "\"result\":");
		if (lf_query_logs(tn, &lq, &o, &st, &err) < 0) {
			lf_selector_free(sel);
			lf_buf_free(&o);
			fail(a, route, resp, 500, err.msg);
			return;
		}
		lf_buf_appends(&o, ",\"stats\":");
		lf_query_stats_json(&st, &o);
		lf_buf_appends(&o, "}}");
		lf_selector_free(sel);
	} else {
		double v;
		bool vec;
		if (lf_vexpr_eval(q, strlen(q), &v, &vec, &err) < 0) {
			/* A metric query we cannot evaluate yet says so instead of
			 * pretending the syntax is wrong. */
			if (strchr(q, '{')) {
				char msg[LF_ERROR_MAX + 64];
				snprintf(msg, sizeof(msg),
				         "metric queries are not supported by logferry-store yet: "
				         "%.900s",
				         q);
				fail(a, route, resp, 400, msg);
			} else {
				fail(a, route, resp, 400, err.msg);
			}
			return;
		}
		char val[64], ts[40];
		format_value(v, val, sizeof(val));
		if (range) {
			int64_t step = 0;
			const char *sp = lf_http_arg(req, "step");
			struct lf_error derr;
			if (lf_api_parse_step(sp, &step, &derr) < 0) {
				fail(a, route, resp, 400, derr.msg);
				return;
			}
			if (step <= 0)
				step = lf_api_default_step(start, end);
			/* end >= start here; the difference may not fit int64 */
			if (((uint64_t)end - (uint64_t)start) / (uint64_t)step > 11000) {
				fail(a, route, resp, 400,
				     "exceeded maximum resolution of 11,000 points per timeseries. "
				     "Try decreasing the query resolution (?step=XX)");
				return;
			}
			lf_buf_appends(
			        &o, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
			            "\"result\":[");
			if (vec) {
				lf_buf_appends(&o, "{\"metric\":{},\"values\":[");
				/* at most 11001 points; x never steps past end (no
				 * overflow near INT64_MAX) */
				for (int64_t x = start;;) {
					format_secs(x, ts, sizeof(ts));
					lf_buf_printf(&o, "%s[%s,\"%s\"]", x == start ? "" : ",",
					              ts, val);
					if ((uint64_t)end - (uint64_t)x < (uint64_t)step)
						break;
					x += step;
				}
				lf_buf_appends(&o, "]}");
			}
			lf_buf_appends(&o, "],\"stats\":");
		} else {
			format_secs(t, ts, sizeof(ts));
			if (vec)
				lf_buf_printf(&o,
				              "{\"status\":\"success\",\"data\":{\"resultType\":"
				              "\"vector\",\"result\":[{\"metric\":{},\"value\":[%s,"
				              "\"%s\"]}],\"stats\":",
				              ts, val);
			else
				lf_buf_printf(&o,
				              "{\"status\":\"success\",\"data\":{\"resultType\":"
				              "\"scalar\",\"result\":[%s,\"%s\"],\"stats\":",
				              ts, val);
		}
		empty_stats(&o);
		lf_buf_appends(&o, "}}");
	}
	resp->status = 200;
	resp->content_type = JSON_CT;
	lf_buf_free(&resp->body);
	resp->body = o;
	count(a, route, 200);
	return;
badtime : {
	char msg[160];
	snprintf(msg, sizeof(msg), "cannot parse \"%.64s\" to a valid timestamp", ps ? ps : "");
	fail(a, route, resp, 400, msg);
}
}

/* start/end/since for the metadata endpoints (default: last 6h). */
static int meta_range(struct lf_api *a, const char *route, const struct lf_http_request *req,
                      struct lf_http_response *resp, int64_t *start, int64_t *end)
{
	int64_t now = lf_now_ns();
	const char *ps = lf_http_arg(req, "end");
	char msg[160];
	if (lf_api_parse_time(ps, now, end) < 0)
		goto bad;
	int64_t since = 6 * 3600 * LF_NS_PER_SEC;
	const char *sn = lf_http_arg(req, "since");
	struct lf_error derr;
	if (sn && *sn && lf_parse_duration(sn, &since, &derr) < 0) {
		fail(a, route, resp, 400, derr.msg);
		return -1;
	}
	ps = lf_http_arg(req, "start");
	if (lf_api_parse_time(ps, sat_sub(*end, since), start) < 0)
		goto bad;
	return 0;
bad:
	snprintf(msg, sizeof(msg), "cannot parse \"%.64s\" to a valid timestamp", ps ? ps : "");
	fail(a, route, resp, 400, msg);
	return -1;
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
	int64_t start, end;
	if (meta_range(a, route, req, resp, &start, &end) < 0)
		return;
	const char *q = lf_http_arg(req, "query");
	struct lf_selector *sel = NULL;
	struct lf_error err;
	if (!q || !*q) {
		fail(a, route, resp, 400, "query parameter is required");
		return;
	}
	if (lf_selector_parse(q, strlen(q), 0, &sel, &err) < 0) {
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
	} else {
		lf_http_text(resp, 404, "404 page not found\n");
	}
}
