/* api_index.c — /loki/api/v1/index/volume and /index/volume_range (as in
 * Loki 2.9+, which Grafana's volume histogram and label browser call) and
 * /loki/api/v1/format_query; lf_api_ext_handle routes to them and to the
 * tail (api_tail.c).
 *
 * Volume: bytes of the streams matching the selector, grouped by the
 * selector's label names (or targetLabels), over [start, end] (default the
 * last hour). Chunks count with their uncompressed size in every step
 * bucket they overlap (Loki's index-level accounting); head entries count
 * their line bytes in the bucket of their timestamp.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "codec.h"
#include "ingest.h"
#include "meval.h"
#include "mparse.h"
#include "pipeline.h"
#include "query.h"
#include "selector.h"
#include "timeutil.h"

#define JSON_CT "application/json; charset=UTF-8"

static void json_reply(struct lf_api *a, const char *route, struct lf_http_response *resp,
                       struct lf_buf *o)
{
	resp->status = 200;
	resp->content_type = JSON_CT;
	lf_buf_free(&resp->body);
	resp->body = *o;
	*o = (struct lf_buf)LF_BUF_INIT;
	lf_api_count(a, route, 200);
}

/* Prometheus model.Time rendering: seconds, millisecond precision. */
static void secs(struct lf_buf *o, int64_t ns)
{
	int64_t ms = ns / LF_NS_PER_MS;
	if (ms % 1000 == 0) {
		lf_buf_printf(o, "%" PRId64, ms / 1000);
		return;
	}
	char f[8];
	snprintf(f, sizeof(f), "%03d", (int)llabs((long long)(ms % 1000)));
	size_t n = strlen(f);
	while (n && f[n - 1] == '0')
		f[--n] = 0;
	lf_buf_printf(o, "%s%" PRId64 ".%s", ms < 0 && ms / 1000 == 0 ? "-" : "", ms / 1000, f);
}

int lf_api_index_range(struct lf_api *a, const char *route, const struct lf_http_request *req,
                       struct lf_http_response *resp, int64_t *start, int64_t *end)
{
	int64_t now = lf_now_ns();
	int64_t since = 3600 * LF_NS_PER_SEC;
	const char *sn = lf_http_arg(req, "since");
	struct lf_error derr;
	if (sn && *sn && lf_parse_duration(sn, &since, &derr) < 0) {
		char msg[200];
		snprintf(
		        msg, sizeof(msg),
		        "could not parse 'since' parameter: not a valid duration string: \"%.64s\"",
		        sn);
		lf_api_fail(a, route, resp, 400, msg);
		return -1;
	}
	if (lf_api_time_arg(a, route, resp, "end", lf_http_arg(req, "end"), now, end) < 0 ||
	    lf_api_time_arg(a, route, resp, "start", lf_http_arg(req, "start"),
	                    lf_sat_sub(*end > now ? now : *end, since), start) < 0)
		return -1;
	if (*end < *start) {
		lf_api_fail(a, route, resp, 400,
		            "end timestamp must not be before or equal to start time");
		return -1;
	}
	return 0;
}

int lf_api_parse_matchers(const char *q, struct lf_selector **out, struct lf_error *err)
{
	struct lf_selector *sel = NULL;
	if (lf_selector_parse(q, strlen(q), 0, &sel, err) < 0)
		return -1;
	if (sel->n_filters) {
		lf_selector_free(sel);
		return lf_err(err, "only label matchers is supported");
	}
	*out = sel;
	return 0;
}

/* ---- volume ---- */

struct vgroup {
	struct lf_labels metric;
	char *key;
	uint64_t hash;
	uint64_t *vals; /* per bucket */
	uint64_t total;
};

struct vstate {
	struct vgroup *g;
	size_t n, cap;
	size_t buckets;
	bool failed;
};

static struct vgroup *group_of(struct vstate *v, const struct lf_labels *m)
{
	struct lf_buf k = LF_BUF_INIT;
	lf_labels_render(m, &k);
	uint64_t h = lf_key_hash(k.data ? k.data : "", k.len);
	for (size_t i = 0; i < v->n; i++) {
		if (v->g[i].hash == h && !strcmp(v->g[i].key, k.data ? k.data : "")) {
			lf_buf_free(&k);
			return &v->g[i];
		}
	}
	if (v->n == v->cap) {
		size_t nc = v->cap ? v->cap * 2 : 16;
		struct vgroup *ng = realloc(v->g, nc * sizeof(*ng));
		if (!ng) {
			lf_buf_free(&k);
			v->failed = true;
			return NULL;
		}
		v->g = ng;
		v->cap = nc;
	}
	struct vgroup *g = &v->g[v->n];
	memset(g, 0, sizeof(*g));
	g->key = k.data ? lf_buf_take(&k) : strdup("");
	g->hash = h;
	g->vals = calloc(v->buckets, sizeof(*g->vals));
	if (!g->key || !g->vals || lf_labels_copy(&g->metric, m) < 0) {
		free(g->key);
		free(g->vals);
		lf_labels_free(&g->metric);
		lf_buf_free(&k);
		v->failed = true;
		return NULL;
	}
	v->n++;
	return g;
}

static void vstate_free(struct vstate *v)
{
	for (size_t i = 0; i < v->n; i++) {
		lf_labels_free(&v->g[i].metric);
		free(v->g[i].key);
		free(v->g[i].vals);
	}
	free(v->g);
}

struct vparams {
	int64_t start, end, step;
	size_t buckets;
	bool by_labels;
	char **targets;
	size_t n_targets;
};

static bool is_target(const struct vparams *p, const char *name)
{
	for (size_t i = 0; i < p->n_targets; i++)
		if (!strcmp(p->targets[i], name))
			return true;
	return false;
}

/* Adds a stream's bytes per bucket to every group it belongs to. */
static void add_stream(struct vstate *v, const struct vparams *p, const struct lf_selector *sel,
                       const struct lf_labels *ls, const uint64_t *per_bucket)
{
	struct lf_labels m = LF_LABELS_INIT;
	if (p->by_labels) {
		for (size_t i = 0; i < ls->n; i++) {
			if (p->n_targets && !is_target(p, ls->v[i].name))
				continue;
			lf_labels_clear(&m);
			lf_labels_set(&m, ls->v[i].name, "");
			struct vgroup *g = group_of(v, &m);
			for (size_t b = 0; g && b < v->buckets; b++) {
				g->vals[b] += per_bucket[b];
				g->total += per_bucket[b];
			}
		}
	} else {
		for (size_t i = 0; i < ls->n; i++) {
			bool want = false;
			if (p->n_targets) {
				want = is_target(p, ls->v[i].name);
			} else {
				for (size_t k = 0; k < sel->n_matchers && !want; k++)
					want = !strcmp(sel->matchers[k].name, ls->v[i].name);
			}
			if (want)
				lf_labels_set(&m, ls->v[i].name, ls->v[i].value);
		}
		struct vgroup *g = group_of(v, &m);
		for (size_t b = 0; g && b < v->buckets; b++) {
			g->vals[b] += per_bucket[b];
			g->total += per_bucket[b];
		}
	}
	lf_labels_free(&m);
}

/* end - start as an unsigned count of nanoseconds: exact whatever the
 * (saturated) times are, as end >= start */
static uint64_t span_ns(int64_t start, int64_t end)
{
	return (uint64_t)end - (uint64_t)start;
}

static size_t bucket_of(const struct vparams *p, int64_t ts)
{
	uint64_t b = span_ns(p->start, ts) / (uint64_t)p->step; /* ts >= start */
	return b < p->buckets ? (size_t)b : p->buckets - 1;
}

/* The end of bucket b (start + (b+1) * step), at most p->end. */
static int64_t bucket_end(const struct vparams *p, size_t b)
{
	uint64_t off;
	if (__builtin_mul_overflow((uint64_t)b + 1, (uint64_t)p->step, &off) ||
	    off > span_ns(p->start, p->end))
		return p->end;
	return (int64_t)((uint64_t)p->start + off);
}

static void scan_head_bytes(const struct vparams *p, const struct lf_head *h, uint64_t *pb,
                            struct lf_buf *raw)
{
	struct lf_head_iter it;
	struct lf_sentry e;
	lf_head_iter_init(&it, h, p->start, p->end, raw);
	while (lf_head_iter_next(&it, &e)) {
		if (e.ts < p->start || e.ts > p->end)
			continue;
		pb[bucket_of(p, e.ts)] += e.line_len;
	}
}

static void volume_collect(struct lf_tenant *t, const struct lf_selector *sel,
                           const struct vparams *p, struct vstate *v)
{
	if (!t)
		return;
	uint64_t *pb = calloc(p->buckets, sizeof(*pb));
	if (!pb) {
		v->failed = true;
		return;
	}
	struct lf_buf raw = LF_BUF_INIT; /* sealed head blocks */
	pthread_rwlock_rdlock(&t->lock);
	for (size_t i = 0; i < t->n_streams && !v->failed; i++) {
		struct lf_stream *s = t->streams[i];
		if (!lf_stream_overlaps(s, p->start, p->end) ||
		    !lf_selector_match_labels(sel, &s->labels))
			continue;
		memset(pb, 0, p->buckets * sizeof(*pb));
		for (size_t j = 0; j < s->cold->n_chunks; j++) {
			const struct lf_chunk_ref *r = &s->cold->chunks[j];
			if (r->from > p->end || r->through < p->start)
				continue;
			size_t b0 = r->from < p->start ? 0 : bucket_of(p, r->from);
			size_t b1 = r->through > p->end ? p->buckets - 1 : bucket_of(p, r->through);
			for (size_t b = b0; b <= b1; b++)
				pb[b] += (uint64_t)r->bytes;
		}
		scan_head_bytes(p, &s->head, pb, &raw);
		scan_head_bytes(p, &s->cold->flushing, pb, &raw);
		uint64_t any = 0;
		for (size_t b = 0; b < p->buckets; b++)
			any |= pb[b];
		if (any)
			add_stream(v, p, sel, &s->labels, pb);
	}
	pthread_rwlock_unlock(&t->lock);
	lf_buf_free(&raw);
	free(pb);
}

static int group_cmp(const void *a, const void *b)
{
	const struct vgroup *x = a, *y = b;
	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return strcmp(x->key, y->key);
}

static void handle_volume(struct lf_api *a, const struct lf_http_request *req,
                          struct lf_http_response *resp, bool range)
{
	const char *route = range ? "loki_api_v1_index_volume_range" : "loki_api_v1_index_volume";
	const char *tid = lf_api_tenant(a, route, req, resp);
	if (!tid)
		return;
	if (!a->cfg->limits.volume_enabled) { /* as Loki without volume_enabled */
		lf_api_fail(a, route, resp, 404, "not found");
		return;
	}
	char msg[LF_ERROR_MAX + 64];
	struct vparams p;
	memset(&p, 0, sizeof(p));
	if (lf_api_index_range(a, route, req, resp, &p.start, &p.end) < 0)
		return;
	const char *ls = lf_http_arg(req, "limit");
	long long limit = 100;
	if (ls && *ls) {
		char *e;
		limit = strtoll(ls, &e, 10);
		if (*e || limit < 0) {
			snprintf(msg, sizeof(msg), "invalid limit parameter: %.64s", ls);
			lf_api_fail(a, route, resp, 400, msg);
			return;
		}
		if (limit == 0)
			limit = 100;
	}
	const char *ag = lf_http_arg(req, "aggregateBy");
	if (ag && *ag && strcmp(ag, "series") && strcmp(ag, "labels")) {
		lf_api_fail(a, route, resp, 400, "invalid aggregation option");
		return;
	}
	p.by_labels = ag && !strcmp(ag, "labels");
	uint64_t span = span_ns(p.start, p.end);
	p.step = span >= (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)span + 1;
	if (range) {
		const char *sp = lf_http_arg(req, "step");
		int64_t step = 0;
		if (sp && *sp) {
			struct lf_error derr;
			/* as query_range's step: seconds as a float (an overflow is
			 * Loki's error) or a duration */
			if (lf_mq_parse_step(sp, p.start, p.end, &step, &derr) < 0) {
				lf_api_fail(a, route, resp, 400, derr.msg);
				return;
			}
			if (step <= 0) {
				lf_api_fail(a, route, resp, 400,
				            "zero or negative query resolution step widths are not "
				            "accepted. Try a positive integer");
				return;
			}
		} else {
			double secs = floor((double)span / 1e9 / 250);
			step = (int64_t)(secs < 1       ? 1
			                 : secs > 9.2e9 ? 9.2e9
			                                : secs) *
			       LF_NS_PER_SEC;
		}
		if (span / (uint64_t)step > 11000) {
			lf_api_fail(a, route, resp, 400,
			            "exceeded maximum resolution of 11,000 points per timeseries. "
			            "Try decreasing the query resolution (?step=XX)");
			return;
		}
		p.step = step;
	}
	p.buckets = range ? (size_t)(span / (uint64_t)p.step) + 1 : 1;
	const char *q = lf_http_arg(req, "query");
	if (!q || !*q) {
		lf_api_fail(a, route, resp, 400, "query parameter is required");
		return;
	}
	struct lf_selector *sel = NULL;
	struct lf_error err;
	if (lf_api_parse_matchers(q, &sel, &err) < 0) {
		lf_api_fail(a, route, resp, 400, err.msg);
		return;
	}
	/* targetLabels: comma-separated names */
	const char *tl = lf_http_arg(req, "targetLabels");
	char *tcopy = tl && *tl ? strdup(tl) : NULL;
	char *targets[64];
	if (tcopy) {
		char *save = NULL;
		for (char *tok = strtok_r(tcopy, ",", &save); tok && p.n_targets < 64;
		     tok = strtok_r(NULL, ",", &save)) {
			while (*tok == ' ')
				tok++;
			size_t n = strlen(tok);
			while (n && tok[n - 1] == ' ')
				tok[--n] = 0;
			if (n)
				targets[p.n_targets++] = tok;
		}
		p.targets = targets;
	}
	struct lf_tenant *t = lf_store_tenant(a->store, tid, false, &err);
	struct vstate v = {.buckets = p.buckets};
	volume_collect(t, sel, &p, &v);
	lf_selector_free(sel);
	free(tcopy);
	if (v.failed) {
		vstate_free(&v);
		lf_api_fail(a, route, resp, 500, "out of memory computing the volume");
		return;
	}
	int64_t max_series = a->cfg->limits.max_query_series;
	if (max_series > 0 && (int64_t)v.n > max_series) {
		vstate_free(&v);
		snprintf(msg, sizeof(msg),
		         "the query hit the max number of series limit (limit: %lld series)",
		         (long long)max_series);
		lf_api_fail(a, route, resp, 400, msg);
		return;
	}
	if (v.n)
		qsort(v.g, v.n, sizeof(*v.g), group_cmp);
	size_t n = v.n < (size_t)limit ? v.n : (size_t)limit;
	bool matrix = false;
	for (size_t i = 0; i < n && !matrix; i++) {
		size_t pts = 0;
		for (size_t b = 0; b < p.buckets; b++)
			pts += v.g[i].vals[b] != 0;
		matrix = pts > 1;
	}
	struct lf_buf o = LF_BUF_INIT;
	lf_buf_printf(&o, "{\"status\":\"success\",\"data\":{\"resultType\":\"%s\",\"result\":[",
	              matrix ? "matrix" : "vector");
	for (size_t i = 0; i < n; i++) {
		const struct vgroup *g = &v.g[i];
		if (i)
			lf_buf_putc(&o, ',');
		lf_buf_appends(&o, "{\"metric\":");
		lf_json_labels(&o, &g->metric);
		if (matrix) {
			lf_buf_appends(&o, ",\"values\":[");
			bool first = true;
			for (size_t b = 0; b < p.buckets; b++) {
				if (!g->vals[b])
					continue;
				int64_t ts = bucket_end(&p, b);
				lf_buf_appends(&o, first ? "[" : ",[");
				first = false;
				secs(&o, ts);
				lf_buf_printf(&o, ",\"%" PRIu64 "\"]", g->vals[b]);
			}
			lf_buf_appends(&o, "]}");
		} else {
			int64_t ts = p.end;
			if (range) {
				for (size_t b = 0; b < p.buckets; b++) {
					if (g->vals[b]) {
						ts = bucket_end(&p, b);
						break;
					}
				}
			}
			lf_buf_appends(&o, ",\"value\":[");
			secs(&o, ts);
			lf_buf_printf(&o, ",\"%" PRIu64 "\"]}", g->total);
		}
	}
	lf_buf_appends(&o, "]}}");
	vstate_free(&v);
	json_reply(a, route, resp, &o);
}

/* ---- format_query ---- */

static void handle_format_query(struct lf_api *a, const struct lf_http_request *req,
                                struct lf_http_response *resp)
{
	const char *route = "loki_api_v1_format_query";
	const char *q = lf_http_arg(req, "query");
	if (!q)
		q = "";
	const char *s = q;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	struct lf_error err;
	struct lf_buf f = LF_BUF_INIT;
	if (*s == '{') {
		struct lf_selector *sel = NULL;
		struct lf_lq_pipeline *pipe = NULL;
		if (lf_api_parse_log_query(q, &sel, &pipe, &err) < 0) {
			lf_api_fail(a, route, resp, 400, err.msg);
			return;
		}
		lf_selector_render(sel, &f);
		if (pipe)
			lf_lq_pipeline_render(pipe, &f);
		lf_selector_free(sel);
		lf_lq_pipeline_free(pipe);
	} else {
		struct lf_mq_node *mq = NULL;
		if (lf_mq_parse(q, strlen(q), &mq, &err) < 0) {
			lf_api_fail(a, route, resp, 400, err.msg);
			return;
		}
		int rc = lf_mq_render(mq, &f);
		lf_mq_free(mq);
		if (rc < 0) {
			lf_buf_free(&f);
			lf_api_fail(a, route, resp, 500, "out of memory");
			return;
		}
	}
	struct lf_buf o = LF_BUF_INIT;
	lf_buf_appends(&o, "{\"status\":\"success\",\"data\":");
	lf_json_str(&o, f.data ? f.data : "", f.len);
	lf_buf_putc(&o, '}');
	lf_buf_free(&f);
	json_reply(a, route, resp, &o);
}

bool lf_api_ext_handle(struct lf_api *a, const struct lf_http_request *req,
                       struct lf_http_response *resp)
{
	const char *p = req->path;
	if (!strcmp(p, "/loki/api/v1/tail"))
		lf_api_tail(a, req, resp);
	else if (!strcmp(p, "/loki/api/v1/index/volume"))
		handle_volume(a, req, resp, false);
	else if (!strcmp(p, "/loki/api/v1/index/volume_range"))
		handle_volume(a, req, resp, true);
	else if (!strcmp(p, "/loki/api/v1/format_query"))
		handle_format_query(a, req, resp);
	else
		return false;
	return true;
}
