/* meval.c — see meval.h. */
#include "meval.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunk.h"
#include "codec.h"
#include "log.h"
#include "memfind.h"
#include "pipeline.h"
#include "tenant.h"
#include "timeutil.h"

/* ---- Go float formatting ---- */

void lf_mq_format_float(double v, char *out, size_t n)
{
	if (isnan(v)) {
		snprintf(out, n, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	char e[64];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	/* e = [-]d[.ddd]e[+-]XX */
	char digits[32];
	size_t nd = 0;
	const char *s = e;
	bool neg = *s == '-';
	if (neg)
		s++;
	for (; *s && *s != 'e'; s++)
		if (*s != '.')
			digits[nd++] = *s;
	int exp = atoi(s + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	size_t o = 0;
	if (neg && o + 1 < n)
		out[o++] = '-';
	if (nd == 1 && digits[0] == '0') {
		if (o + 1 < n)
			out[o++] = '0';
		out[o] = 0;
		return;
	}
	int pos = exp + 1; /* digits before the point */
	if (pos <= 0) {
		for (const char *z = "0."; *z && o + 1 < n; z++)
			out[o++] = *z;
		for (int i = 0; i < -pos && o + 1 < n; i++)
			out[o++] = '0';
		for (size_t i = 0; i < nd && o + 1 < n; i++)
			out[o++] = digits[i];
	} else {
		for (int i = 0; i < pos && o + 1 < n; i++)
			out[o++] = (size_t)i < nd ? digits[i] : '0';
		if ((size_t)pos < nd) {
			if (o + 1 < n)
				out[o++] = '.';
			for (size_t i = (size_t)pos; i < nd && o + 1 < n; i++)
				out[o++] = digits[i];
		}
	}
	out[o] = 0;
}

/* Prometheus model.Time as JSON: ms/1000 in Go 'f' -1 form */
static void put_ts(struct lf_buf *b, int64_t ns)
{
	int64_t ms = ns / LF_NS_PER_MS;
	char buf[48];
	int64_t sec = ms / 1000, frac = ms % 1000;
	if (frac < 0) {
		frac += 1000;
		sec--;
	}
	if (frac == 0) {
		snprintf(buf, sizeof(buf), "%" PRId64, sec);
	} else {
		if (sec < 0 && frac) {
			/* -0.5 etc: print through the float formatter */
			lf_mq_format_float((double)ms / 1000.0, buf, sizeof(buf));
		} else {
			snprintf(buf, sizeof(buf), "%" PRId64 ".%03d", sec, (int)frac);
			char *e = buf + strlen(buf) - 1;
			while (*e == '0')
				*e-- = 0;
		}
	}
	lf_buf_appends(b, buf);
}

/* ---- matrices: series x steps ---- */

struct mat {
	size_t n, cap;
	struct lf_labels *ls;
	char **key; /* rendered labels: identity and the frontend's sort key */
	double *v;  /* n * ns */
	uint8_t *has;
	size_t *ht; /* open addressing, index+1, 0 = empty */
	size_t htcap;
	bool scalar; /* a literal: every step has `num` */
	double num;
};

struct ev {
	/* the range under an outer sum without labels (Loki's parser hints) */
	const struct lf_mq_node *no_labels;
	const struct lf_mq_source *src;
	const struct lf_mq_limits *lim;
	size_t ns;     /* steps */
	int64_t start; /* first step, ns */
	int64_t step;  /* ns, 0 for an instant query */
	uint8_t *excl; /* per step: end-exclusive window */
	int64_t deadline;
	struct lf_query_stats st;
	int status;
	struct lf_error *err;
	struct lf_buf kb; /* scratch */
	int64_t mem;      /* bytes accounted against lim->max_memory */
	bool over_budget;
};

static int oom(struct ev *e)
{
	if (e->over_budget) {
		e->status = 400;
		return lf_err(
		        e->err,
		        "the query needs more than %" PRId64
		        " MiB for its series; aggregate them (e.g. sum by (...)) or narrow the "
		        "selector",
		        e->lim->max_memory >> 20);
	}
	e->status = 500;
	return lf_err(e->err, "out of memory");
}

/* Accounts n more bytes; false (and the budget flag) past max_memory. */
static bool charge(struct ev *e, size_t n)
{
	e->mem += (int64_t)n;
	if (e->lim->max_memory > 0 && e->mem > e->lim->max_memory) {
		e->over_budget = true;
		return false;
	}
	return true;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static void mat_free(struct mat *m)
{
	for (size_t i = 0; i < m->n; i++) {
		lf_labels_free(&m->ls[i]);
		free(m->key[i]);
	}
	free(m->ls);
	free(m->key);
	free(m->v);
	free(m->has);
	free(m->ht);
	memset(m, 0, sizeof(*m));
}

static int ht_grow(struct mat *m)
{
	size_t nc = m->htcap ? m->htcap * 2 : 64;
	size_t *t = calloc(nc, sizeof(*t));
	if (!t)
		return -1;
	for (size_t i = 0; i < m->n; i++) {
		size_t h = (size_t)hash_str(m->key[i]) & (nc - 1);
		while (t[h])
			h = (h + 1) & (nc - 1);
		t[h] = i + 1;
	}
	free(m->ht);
	m->ht = t;
	m->htcap = nc;
	return 0;
}

/* Index of the series with labels ls, added (no points) when new. -1 on
 * ENOMEM. */
static long mat_series(struct ev *e, struct mat *m, const struct lf_labels *ls)
{
	lf_buf_reset(&e->kb);
	if (lf_labels_render(ls, &e->kb) < 0 || lf_buf_putc(&e->kb, 0) < 0)
		return -1;
	const char *k = e->kb.data;
	if ((m->n + 1) * 2 > m->htcap && ht_grow(m) < 0)
		return -1;
	size_t h = (size_t)hash_str(k) & (m->htcap - 1);
	while (m->ht[h]) {
		size_t i = m->ht[h] - 1;
		if (!strcmp(m->key[i], k))
			return (long)i;
		h = (h + 1) & (m->htcap - 1);
	}
	if (!charge(e, e->ns * 9 + strlen(k) * 2 + 96))
		return -1;
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 16;
		struct lf_labels *nl = realloc(m->ls, nc * sizeof(*nl));
		if (!nl)
			return -1;
		m->ls = nl;
		char **nk = realloc(m->key, nc * sizeof(*nk));
		if (!nk)
			return -1;
		m->key = nk;
		double *nv = realloc(m->v, nc * e->ns * sizeof(*nv));
		if (!nv)
			return -1;
		m->v = nv;
		uint8_t *nh = realloc(m->has, nc * e->ns);
		if (!nh)
			return -1;
		m->has = nh;
		m->cap = nc;
	}
	size_t i = m->n;
	memset(&m->ls[i], 0, sizeof(m->ls[i]));
	if (lf_labels_copy(&m->ls[i], ls) < 0 || !(m->key[i] = strdup(k))) {
		lf_labels_free(&m->ls[i]);
		return -1;
	}
	memset(m->has + i * e->ns, 0, e->ns);
	m->n++;
	m->ht[h] = i + 1;
	return (long)i;
}

static inline void mat_set(struct ev *e, struct mat *m, size_t s, size_t step, double v)
{
	m->v[s * e->ns + step] = v;
	m->has[s * e->ns + step] = 1;
}

static inline bool mat_has(const struct ev *e, const struct mat *m, size_t s, size_t step)
{
	return m->has[s * e->ns + step];
}

static inline double mat_get(const struct ev *e, const struct mat *m, size_t s, size_t step)
{
	return m->v[s * e->ns + step];
}

static int check_deadline(struct ev *e)
{
	if (e->deadline && lf_monotonic_ns() > e->deadline) {
		e->status = 504;
		return lf_err(e->err,
		              "Request timed out, decrease the duration of the request or add "
		              "more label matchers (prefer exact match over regex match) to "
		              "reduce the amount of data processed.");
	}
	return 0;
}

/* ---- range aggregations ---- */

struct smp { /* 16 bytes: an unwrapped query keeps one per selected sample */
	int64_t ts;
	double v;
};

struct sacc {
	int64_t *cd, *bd; /* count / bytes difference arrays (ns + 1) */
	struct smp *s;
	size_t sn, scap;
};

struct rctx {
	struct ev *e;
	const struct lf_mq_node *n;
	struct lf_lq_pipeline *pipe;
	struct mat *m;
	struct sacc *acc;
	size_t nacc;
	bool want_bytes;
	const char *unwrap_label; /* removed from the series labels */
	/* the grouping of an enclosing sum the range is fused with: samples
	 * count straight into the sum's groups (NULL: one series per label
	 * set) */
	const struct lf_mq_grouping *fuse;
	struct lf_labels tmp;
	/* caches */
	uint32_t last_stream;
	long stream_series; /* series of the last stream (filter-only labels) */
	bool have_stream;
	const struct lf_labels *last_out;
	struct lf_labels_mark last_mark;
	long last_series;
	uint64_t ticks;
	int64_t off, range;
};

static inline int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static inline int64_t ceil_div(int64_t a, int64_t b)
{
	return -floor_div(-a, b);
}

static inline int64_t sat(__int128 v)
{
	return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v;
}

static inline __int128 floor_div128(__int128 a, __int128 b)
{
	__int128 q = a / b;
	if ((a % b) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* steps [*i0, *i1) whose window holds a sample at ts (128-bit arithmetic:
 * ranges and offsets may be huge) */
static void step_span(const struct ev *e, int64_t off, int64_t range, int64_t ts, size_t *i0,
                      size_t *i1)
{
	/* the usual case in 64-bit arithmetic: no overflow possible */
	const int64_t lim = INT64_C(1) << 61;
	if (e->step > 0 && ts > -lim && ts < lim && off > -lim && off < lim && range < lim &&
	    e->start > -lim && e->start < lim) {
		int64_t a = ts + off;
		int64_t lo = ceil_div(a - e->start, e->step);
		int64_t hi = ceil_div(a + range - e->start, e->step);
		if (lo < 0)
			lo = 0;
		if (hi > (int64_t)e->ns)
			hi = (int64_t)e->ns;
		if (lo < hi && e->start + lo * e->step == a && e->excl[lo])
			lo++;
		if (lo > (int64_t)e->ns)
			lo = (int64_t)e->ns;
		if (hi < lo)
			hi = lo;
		*i0 = (size_t)lo;
		*i1 = (size_t)hi;
		return;
	}
	__int128 a = (__int128)ts + off;
	__int128 lo, hi;
	if (e->step == 0) {
		lo = a <= e->start ? 0 : 1;
		hi = e->start < a + range ? 1 : 0;
		if (lo == 0 && hi == 1 && a == e->start && e->excl[0])
			lo = 1;
	} else {
		lo = -floor_div128(-(a - e->start), e->step);
		hi = -floor_div128(-(a + range - e->start), e->step);
		if (lo < 0)
			lo = 0;
		if (hi > (__int128)e->ns)
			hi = (__int128)e->ns;
		if (lo < hi && (__int128)e->start + lo * e->step == a && e->excl[(size_t)lo])
			lo++;
	}
	if (lo > (__int128)e->ns)
		lo = (__int128)e->ns;
	if (hi < lo)
		hi = lo;
	*i0 = (size_t)lo;
	*i1 = (size_t)hi;
}

static long series_for(struct rctx *r, const struct lf_labels *ls)
{
	const struct lf_mq_node *n = r->n;
	struct ev *e = r->e;
	if (r->fuse && !lf_labels_get(ls, "__error__")) {
		/* straight into the enclosing sum's group (see eval_vagg) */
		const struct lf_mq_grouping *g = r->fuse;
		lf_labels_clear(&r->tmp);
		if (g->present && !g->without) {
			for (size_t i = 0; i < g->n; i++) {
				const char *v = lf_labels_get(ls, g->names[i]);
				if (v && *v && lf_labels_set(&r->tmp, g->names[i], v) < 0)
					return -1;
			}
		} else if (g->present) {
			if (lf_labels_copy(&r->tmp, ls) < 0)
				return -1;
			for (size_t i = 0; i < g->n; i++)
				lf_labels_del(&r->tmp, g->names[i]);
			lf_labels_del(&r->tmp, "__name__");
		}
		return mat_series(e, r->m, &r->tmp);
	}
	if (lf_labels_get(ls, "__error__") ||
	    (!n->grp.present && !(r->unwrap_label && lf_labels_get(ls, r->unwrap_label))))
		return mat_series(e, r->m, ls);
	lf_labels_clear(&r->tmp);
	if (n->grp.present && !n->grp.without) {
		for (size_t i = 0; i < n->grp.n; i++) {
			const char *v = lf_labels_get(ls, n->grp.names[i]);
			if (v && lf_labels_set(&r->tmp, n->grp.names[i], v) < 0)
				return -1;
		}
	} else {
		if (lf_labels_copy(&r->tmp, ls) < 0)
			return -1;
		for (size_t i = 0; n->grp.present && i < n->grp.n; i++)
			lf_labels_del(&r->tmp, n->grp.names[i]);
		if (r->unwrap_label)
			lf_labels_del(&r->tmp, r->unwrap_label);
	}
	return mat_series(e, r->m, &r->tmp);
}

static int acc_for(struct rctx *r, size_t s)
{
	while (r->nacc <= s) {
		size_t nc = r->nacc ? r->nacc * 2 : 16;
		if (nc <= s)
			nc = s + 1;
		struct sacc *a = realloc(r->acc, nc * sizeof(*a));
		if (!a)
			return -1;
		memset(a + r->nacc, 0, (nc - r->nacc) * sizeof(*a));
		r->acc = a;
		r->nacc = nc;
	}
	struct sacc *a = &r->acc[s];
	if (!r->n->unwrap && !a->cd) {
		if (!charge(r->e, (r->e->ns + 1) * sizeof(int64_t) * (r->want_bytes ? 2 : 1)))
			return -1;
		a->cd = calloc(r->e->ns + 1, sizeof(int64_t));
		if (!a->cd)
			return -1;
		if (r->want_bytes && !(a->bd = calloc(r->e->ns + 1, sizeof(int64_t))))
			return -1;
	}
	return 0;
}

static int on_entry(void *ctx, uint32_t sidx, const struct lf_labels *stream, int64_t ts,
                    const char *line, size_t len)
{
	struct rctx *r = ctx;
	struct ev *e = r->e;
	if ((++r->ticks & 4095) == 0 && check_deadline(e) < 0)
		return -1;
	size_t i0, i1;
	step_span(e, r->off, r->range, ts, &i0, &i1);
	if (i0 >= i1 && r->n->rop != LF_MQ_ABSENT_OVER_TIME)
		return 0;
	struct lf_lq_out out;
	int rc = lf_lq_pipeline_process(r->pipe, ts, line, len, stream, &out);
	if (rc < 0)
		return oom(e);
	if (rc == 0)
		return 0;
	e->st.post_filter_lines++;
	if (r->n->unwrap && !out.has_value)
		return 0;
	long s;
	if (out.labels == stream && sidx != LF_MQ_NO_STREAM) {
		if (!r->have_stream || r->last_stream != sidx) {
			r->stream_series = series_for(r, stream);
			r->last_stream = sidx;
			r->have_stream = true;
		}
		s = r->stream_series;
	} else if (out.labels == r->last_out && r->last_out &&
	           lf_labels_has_mark(out.labels, &r->last_mark)) {
		s = r->last_series;
	} else {
		s = series_for(r, out.labels);
		r->last_out = out.labels;
		r->last_mark = lf_labels_mark(out.labels);
		r->last_series = s;
	}
	if (s < 0 || acc_for(r, (size_t)s) < 0)
		return oom(e);
	struct sacc *a = &r->acc[s];
	if (!r->n->unwrap) {
		a->cd[i0]++;
		a->cd[i1]--;
		if (a->bd) {
			a->bd[i0] += (int64_t)out.len;
			a->bd[i1] -= (int64_t)out.len;
		}
		return 0;
	}
	if (a->sn == a->scap) {
		size_t nc = a->scap ? a->scap * 2 : 16;
		if (!charge(e, (nc - a->scap) * sizeof(struct smp)))
			return oom(e);
		struct smp *v = realloc(a->s, nc * sizeof(*v));
		if (!v)
			return oom(e);
		a->s = v;
		a->scap = nc;
	}
	a->s[a->sn++] = (struct smp){ts, out.value};
	return 0;
}

/* Sorts samples by time, keeping the arrival order of equal times (a
 * bottom-up merge sort; runs already in order, the usual case, cost one
 * pass). -1 on ENOMEM. */
static int smp_sort(struct smp *v, size_t n)
{
	size_t i;
	for (i = 1; i < n && v[i - 1].ts <= v[i].ts; i++)
		;
	if (i >= n)
		return 0;
	struct smp *tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return -1;
	struct smp *src = v, *dst = tmp;
	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t a = lo, b = mid, o = lo;
			while (a < mid && b < hi)
				dst[o++] = src[b].ts < src[a].ts ? src[b++] : src[a++];
			while (a < mid)
				dst[o++] = src[a++];
			while (b < hi)
				dst[o++] = src[b++];
		}
		struct smp *t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(tmp);
	return 0;
}

static int dbl_cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	if (isnan(a))
		return isnan(b) ? 0 : -1;
	if (isnan(b))
		return 1;
	return a < b ? -1 : a > b;
}

/* One window of samples w[0..k) (ascending time). */
static double over_time(const struct lf_mq_node *n, const struct smp *w, size_t k, double range_s,
                        double **scratch, size_t *scap)
{
	double r = 0;
	switch (n->rop) {
	case LF_MQ_RATE:
	case LF_MQ_SUM_OVER_TIME:
		for (size_t i = 0; i < k; i++)
			r += w[i].v;
		return n->rop == LF_MQ_RATE ? r / range_s : r;
	case LF_MQ_AVG_OVER_TIME: {
		double mean = 0, cnt = 0;
		for (size_t i = 0; i < k; i++) {
			cnt++;
			double v = w[i].v;
			if (isinf(mean)) {
				if (isinf(v) && (mean > 0) == (v > 0))
					continue;
				if (!isinf(v) && !isnan(v))
					continue;
			}
			mean += v / cnt - mean / cnt;
		}
		return mean;
	}
	case LF_MQ_MAX_OVER_TIME:
		r = w[0].v;
		for (size_t i = 1; i < k; i++)
			if (w[i].v > r || isnan(r))
				r = w[i].v;
		return r;
	case LF_MQ_MIN_OVER_TIME:
		r = w[0].v;
		for (size_t i = 1; i < k; i++)
			if (w[i].v < r || isnan(r))
				r = w[i].v;
		return r;
	case LF_MQ_STDVAR_OVER_TIME:
	case LF_MQ_STDDEV_OVER_TIME: {
		double aux = 0, cnt = 0, mean = 0;
		for (size_t i = 0; i < k; i++) {
			cnt++;
			double d = w[i].v - mean;
			mean += d / cnt;
			aux += d * (w[i].v - mean);
		}
		return n->rop == LF_MQ_STDDEV_OVER_TIME ? sqrt(aux / cnt) : aux / cnt;
	}
	case LF_MQ_QUANTILE_OVER_TIME: {
		double q = n->num;
		if (isnan(q))
			return NAN;
		if (q < 0)
			return -INFINITY;
		if (q > 1)
			return INFINITY;
		if (*scap < k) {
			double *s = realloc(*scratch, k * sizeof(*s));
			if (!s)
				return NAN;
			*scratch = s;
			*scap = k;
		}
		for (size_t i = 0; i < k; i++)
			(*scratch)[i] = w[i].v;
		qsort(*scratch, k, sizeof(double), dbl_cmp);
		double rank = q * (double)(k - 1);
		double lo = floor(rank);
		size_t l = (size_t)lo, h = l + 1 < k ? l + 1 : k - 1;
		double wt = rank - lo;
		return (*scratch)[l] * (1 - wt) + (*scratch)[h] * wt;
	}
	case LF_MQ_FIRST_OVER_TIME:
		return w[0].v;
	case LF_MQ_LAST_OVER_TIME:
		return w[k - 1].v;
	case LF_MQ_RATE_COUNTER: {
		if (k < 2)
			return 0;
		double R = w[k - 1].v - w[0].v;
		for (size_t i = 1; i < k; i++)
			if (w[i].v < w[i - 1].v)
				R += w[i - 1].v;
		double si = (double)(w[k - 1].ts - w[0].ts) / 1e9;
		if (si == 0)
			return 0;
		double avg = si / (double)(k - 1);
		double ds = range_s;
		if (R > 0 && w[0].v >= 0) {
			double z = si * (w[0].v / R);
			if (z < ds)
				ds = z;
		}
		double ext = si + (ds < 1.1 * avg ? ds : avg / 2);
		return R * ext / si / range_s;
	}
	default:
		return (double)k;
	}
}

static int pipeline_error(struct ev *e, const struct mat *m)
{
	for (size_t t = 0; t < e->ns; t++)
		for (size_t s = 0; s < m->n; s++) {
			if (!mat_has(e, m, s, t))
				continue;
			const char *ty = lf_labels_get(&m->ls[s], "__error__");
			if (!ty)
				continue;
			e->status = 400;
			return lf_err(
			        e->err,
			        "pipeline error: '%s' for series: '%s'.\n"
			        "Use a label filter to intentionally skip this error. (e.g | "
			        "__error__!=\"%s\").\n"
			        "To skip all potential errors you can match empty errors.(e.g "
			        "__error__=\"\")\n"
			        "The label filter can also be specified after unwrap. (e.g | "
			        "unwrap "
			        "latency | __error__=\"\" )\n",
			        ty, m->key[s], ty);
		}
	return 0;
}

static int eval(struct ev *e, const struct lf_mq_node *n, struct mat *out);

static int eval_range(struct ev *e, const struct lf_mq_node *n, struct mat *m,
                      const struct lf_mq_grouping *fuse)
{
	struct rctx r = {.e = e, .n = n, .m = m, .off = n->offset, .range = n->range, .fuse = fuse};
	r.want_bytes = n->rop == LF_MQ_BYTES_OVER_TIME || n->rop == LF_MQ_BYTES_RATE;
	r.unwrap_label = n->unwrap ? lf_lq_pipeline_unwrap_label(n->pipe) : NULL;
	r.pipe = lf_lq_pipeline_clone(n->pipe);
	int rc = 0;
	if (!r.pipe) {
		rc = oom(e);
		goto out;
	}
	if ((n == e->no_labels || n->rop == LF_MQ_ABSENT_OVER_TIME) &&
	    !lf_lq_pipeline_needs_labels(n->pipe))
		lf_lq_pipeline_set_no_labels(r.pipe, true);
	int64_t last = e->start + (int64_t)(e->ns - 1) * e->step;
	int64_t from = sat((__int128)e->start - n->range - n->offset),
	        to = sat((__int128)last - n->offset);
	if (e->lim->max_query_length > 0 && (__int128)to - from > e->lim->max_query_length) {
		char a[40], b[40];
		lf_format_duration(sat((__int128)to - from), a, sizeof(a));
		lf_format_duration(e->lim->max_query_length, b, sizeof(b));
		e->status = 400;
		rc = lf_err(e->err,
		            "the query time range exceeds the limit (query length: %s, limit: %s)",
		            a, b);
		goto out;
	}
	/* `to` is exclusive (3.6): the last step's window is open at its end;
	 * +1 so that a sample exactly there reaches step_span, which drops it */
	const struct lf_line_filter *lfs = NULL;
	size_t nlf = lf_lq_pipeline_leading_filters(n->pipe, &lfs);
	rc = e->src->scan(e->src->ctx, n->sel, lfs, nlf, from, sat((__int128)to + 1), on_entry, &r,
	                  &e->st, e->err);
	if (rc < 0) {
		if (!e->status)
			e->status = 500;
		goto out;
	}
	double range_s = (double)n->range / 1e9;
	if (n->rop == LF_MQ_ABSENT_OVER_TIME) {
		/* one series from the selector's `=` matchers, where no sample */
		struct lf_labels ls = LF_LABELS_INIT;
		const struct lf_selector *sel = n->sel;
		for (size_t i = 0; i < sel->n_matchers; i++) {
			const struct lf_matcher *mt = &sel->matchers[i];
			if (mt->op != LF_MATCH_EQ)
				continue;
			bool dup = false;
			for (size_t j = 0; j < sel->n_matchers; j++)
				if (j != i && !strcmp(sel->matchers[j].name, mt->name))
					dup = true;
			if (!dup)
				lf_labels_set(&ls, mt->name, mt->value);
		}
		int64_t *tot = calloc(e->ns + 1, sizeof(*tot));
		if (!tot) {
			lf_labels_free(&ls);
			rc = oom(e);
			goto out;
		}
		for (size_t s = 0; s < m->n; s++)
			if (r.acc[s].cd)
				for (size_t t = 0; t <= e->ns; t++)
					tot[t] += r.acc[s].cd[t];
			else if (r.acc[s].sn) {
				for (size_t k = 0; k < r.acc[s].sn; k++) {
					size_t i0, i1;
					step_span(e, r.off, r.range, r.acc[s].s[k].ts, &i0, &i1);
					tot[i0]++;
					tot[i1]--;
				}
			}
		struct mat am = {0};
		long as = mat_series(e, &am, &ls);
		lf_labels_free(&ls);
		int64_t c = 0;
		for (size_t t = 0; as >= 0 && t < e->ns; t++) {
			c += tot[t];
			if (c == 0)
				mat_set(e, &am, (size_t)as, t, 1);
		}
		free(tot);
		if (as < 0) {
			mat_free(&am);
			rc = oom(e);
			goto out;
		}
		mat_free(m);
		*m = am;
		goto out;
	}
	double *scratch = NULL;
	size_t scap = 0;
	for (size_t s = 0; s < m->n; s++) {
		struct sacc *a = &r.acc[s];
		if (!n->unwrap) {
			int64_t c = 0, b = 0;
			for (size_t t = 0; t < e->ns; t++) {
				c += a->cd[t];
				if (a->bd)
					b += a->bd[t];
				if (c <= 0)
					continue;
				double v;
				switch (n->rop) {
				case LF_MQ_RATE:
					v = (double)c / range_s;
					break;
				case LF_MQ_BYTES_OVER_TIME:
					v = (double)b;
					break;
				case LF_MQ_BYTES_RATE:
					v = (double)b / range_s;
					break;
				default:
					v = (double)c;
				}
				mat_set(e, m, s, t, v);
			}
			continue;
		}
		if (smp_sort(a->s, a->sn) < 0) {
			free(scratch);
			rc = oom(e);
			goto out;
		}
		size_t lo = 0, hi = 0;
		for (size_t t = 0; t < e->ns; t++) {
			__int128 end = (__int128)e->start + (int64_t)t * e->step - n->offset;
			__int128 beg = end - n->range;
			while (hi < a->sn &&
			       (a->s[hi].ts < end || (!e->excl[t] && a->s[hi].ts == end)))
				hi++;
			while (lo < hi && a->s[lo].ts <= beg)
				lo++;
			if (hi > lo)
				mat_set(e, m, s, t,
				        over_time(n, a->s + lo, hi - lo, range_s, &scratch, &scap));
		}
	}
	free(scratch);
	rc = pipeline_error(e, m);
out:
	for (size_t i = 0; i < r.nacc; i++) {
		free(r.acc[i].cd);
		free(r.acc[i].bd);
		free(r.acc[i].s);
	}
	free(r.acc);
	lf_labels_free(&r.tmp);
	lf_lq_pipeline_free(r.pipe);
	return rc;
}

/* ---- vector aggregation ---- */

struct vsel {
	size_t s;
	size_t g;
	double v;
	const char *key;
};

static int vsel_cmp(const void *x, const void *y, void *arg)
{
	bool topk_desc = *(const bool *)arg;
	const struct vsel *a = x, *b = y;
	if (a->g != b->g)
		return a->g < b->g ? -1 : 1;
	if (a->v != b->v && !(isnan(a->v) && isnan(b->v))) {
		/* NaN sorts last either way */
		if (isnan(a->v))
			return 1;
		if (isnan(b->v))
			return -1;
		return (a->v > b->v) == topk_desc ? -1 : 1;
	}
	return strcmp(a->key, b->key);
}

static int eval_vagg(struct ev *e, const struct lf_mq_node *n, struct mat *out)
{
	struct mat in = {0};
	const struct lf_mq_node *c = n->l;
	struct lf_mq_node by_none;
	if (n->vop == LF_MQ_SUM && n->grp.without && n->grp.n == 0 && c->kind == LF_MQ_RANGE &&
	    !c->grp.present &&
	    (c->rop == LF_MQ_COUNT_OVER_TIME || c->rop == LF_MQ_RATE ||
	     c->rop == LF_MQ_BYTES_OVER_TIME || c->rop == LF_MQ_BYTES_RATE ||
	     c->rop == LF_MQ_SUM_OVER_TIME)) {
		/* Loki quirk: `sum without ()` pushed into the range leaves no
		 * label (its extractor's "no labels" case): the answer is `{}` */
		by_none = *n;
		by_none.grp.without = false;
		n = &by_none;
	}
	/* Loki pushes a sum's grouping into the range (count, rate, bytes,
	 * bytes_rate, sum_over_time); with no label left, the parsers are
	 * skipped (reference 1.12; `without ()` counts as no label too) */
	if (n->vop == LF_MQ_SUM && c->kind == LF_MQ_RANGE && !c->grp.present && !c->unwrap &&
	    n->grp.n == 0 &&
	    (c->rop == LF_MQ_COUNT_OVER_TIME || c->rop == LF_MQ_RATE ||
	     c->rop == LF_MQ_BYTES_OVER_TIME || c->rop == LF_MQ_BYTES_RATE))
		e->no_labels = c;
	if (n->vop == LF_MQ_SUM && c->kind == LF_MQ_RANGE && !c->unwrap &&
	    (c->rop == LF_MQ_COUNT_OVER_TIME || c->rop == LF_MQ_BYTES_OVER_TIME)) {
		/* sum of integer counts: adding per group while scanning gives
		 * exactly what summing the per-series values would, without a
		 * series per label set (a parser's high-cardinality labels would
		 * make millions). Samples with __error__ keep their own series
		 * (the pipeline error names one). */
		memset(out, 0, sizeof(*out));
		return eval_range(e, c, out, &n->grp);
	}
	int rc = eval(e, n->l, &in);
	if (rc < 0)
		goto done;
	if (n->vop == LF_MQ_SORT || n->vop == LF_MQ_SORT_DESC) {
		*out = in; /* same samples; the instant answer orders them */
		return 0;
	}
	bool sel = n->vop == LF_MQ_TOPK || n->vop == LF_MQ_BOTTOMK;
	/* group of each input series */
	size_t *gid = calloc(in.n ? in.n : 1, sizeof(*gid));
	struct mat groups = {0};
	struct lf_labels g = LF_LABELS_INIT;
	if (!gid) {
		rc = oom(e);
		goto done;
	}
	for (size_t s = 0; s < in.n; s++) {
		lf_labels_clear(&g);
		if (n->grp.present && !n->grp.without) {
			for (size_t i = 0; i < n->grp.n; i++) {
				const char *v = lf_labels_get(&in.ls[s], n->grp.names[i]);
				if (v && *v)
					lf_labels_set(&g, n->grp.names[i], v);
			}
		} else if (n->grp.present) {
			lf_labels_copy(&g, &in.ls[s]);
			for (size_t i = 0; i < n->grp.n; i++)
				lf_labels_del(&g, n->grp.names[i]);
			lf_labels_del(&g, "__name__");
		}
		long k = mat_series(e, &groups, &g);
		if (k < 0) {
			rc = oom(e);
			goto gdone;
		}
		gid[s] = (size_t)k;
	}
	if (sel) {
		struct vsel *vs = malloc((in.n ? in.n : 1) * sizeof(*vs));
		if (!vs) {
			rc = oom(e);
			goto gdone;
		}
		struct mat o = {0};
		for (size_t s = 0; s < in.n; s++)
			if (mat_series(e, &o, &in.ls[s]) < 0) {
				free(vs);
				mat_free(&o);
				rc = oom(e);
				goto gdone;
			}
		bool desc = n->vop == LF_MQ_TOPK;
		for (size_t t = 0; t < e->ns; t++) {
			size_t k = 0;
			for (size_t s = 0; s < in.n; s++)
				if (mat_has(e, &in, s, t))
					vs[k++] = (struct vsel){s, gid[s], mat_get(e, &in, s, t),
					                        in.key[s]};
			qsort_r(vs, k, sizeof(*vs), vsel_cmp, &desc);
			size_t taken = 0;
			for (size_t i = 0; i < k; i++) {
				if (i > 0 && vs[i].g != vs[i - 1].g)
					taken = 0;
				if (taken++ < (size_t)n->k)
					mat_set(e, &o, vs[i].s, t, vs[i].v);
			}
		}
		free(vs);
		*out = o;
		goto gdone;
	}
	struct mat o = {0};
	for (size_t i = 0; i < groups.n; i++)
		if (mat_series(e, &o, &groups.ls[i]) < 0) {
			mat_free(&o);
			rc = oom(e);
			goto gdone;
		}
	double *cnt = calloc(groups.n ? groups.n : 1, sizeof(double));
	double *mean = calloc(groups.n ? groups.n : 1, sizeof(double));
	if (!cnt || !mean) {
		free(cnt);
		free(mean);
		mat_free(&o);
		rc = oom(e);
		goto gdone;
	}
	for (size_t t = 0; t < e->ns; t++) {
		memset(cnt, 0, groups.n * sizeof(double));
		for (size_t s = 0; s < in.n; s++) {
			if (!mat_has(e, &in, s, t))
				continue;
			size_t gi = gid[s];
			double v = mat_get(e, &in, s, t);
			double *cur = &o.v[gi * e->ns + t];
			cnt[gi]++;
			if (cnt[gi] == 1) {
				mean[gi] = v;
				switch (n->vop) {
				case LF_MQ_COUNT:
					*cur = 1;
					break;
				case LF_MQ_STDDEV:
				case LF_MQ_STDVAR:
					*cur = 0;
					break;
				default:
					*cur = v;
				}
				o.has[gi * e->ns + t] = 1;
				continue;
			}
			switch (n->vop) {
			case LF_MQ_SUM:
				*cur += v;
				break;
			case LF_MQ_COUNT:
				*cur += 1;
				break;
			case LF_MQ_MAX:
				if (*cur < v || isnan(*cur))
					*cur = v;
				break;
			case LF_MQ_MIN:
				if (*cur > v || isnan(*cur))
					*cur = v;
				break;
			case LF_MQ_AVG:
				if (isinf(*cur)) {
					if (isinf(v) && (*cur > 0) == (v > 0))
						break;
					if (!isinf(v) && !isnan(v))
						break;
				}
				*cur += v / cnt[gi] - *cur / cnt[gi];
				break;
			case LF_MQ_STDDEV:
			case LF_MQ_STDVAR: {
				double d = v - mean[gi];
				mean[gi] += d / cnt[gi];
				*cur += d * (v - mean[gi]);
				break;
			}
			default:
				break;
			}
		}
		if (n->vop == LF_MQ_STDDEV || n->vop == LF_MQ_STDVAR)
			for (size_t gi = 0; gi < groups.n; gi++)
				if (cnt[gi] > 0) {
					double *cur = &o.v[gi * e->ns + t];
					*cur /= cnt[gi];
					if (n->vop == LF_MQ_STDDEV)
						*cur = sqrt(*cur);
				}
	}
	free(cnt);
	free(mean);
	*out = o;
gdone:
	lf_labels_free(&g);
	mat_free(&groups);
	free(gid);
done:
	mat_free(&in);
	return rc;
}

/* ---- binary operations ---- */

/* signature labels of ls for on/ignoring */
static void sig_labels(const struct lf_mq_node *n, const struct lf_labels *ls,
                       struct lf_labels *out)
{
	lf_labels_clear(out);
	if (n->has_matching && n->on) {
		for (size_t i = 0; i < n->n_match; i++) {
			const char *v = lf_labels_get(ls, n->match_names[i]);
			if (v)
				lf_labels_set(out, n->match_names[i], v);
		}
		return;
	}
	lf_labels_copy(out, ls);
	for (size_t i = 0; n->has_matching && i < n->n_match; i++)
		lf_labels_del(out, n->match_names[i]);
}

static int eval_binop(struct ev *e, const struct lf_mq_node *n, struct mat *out)
{
	struct mat l = {0}, r = {0};
	int rc = eval(e, n->l, &l);
	if (rc == 0)
		rc = eval(e, n->r, &r);
	if (rc < 0)
		goto done;
	struct mat o = {0};
	if (l.scalar || r.scalar) {
		/* vector op literal */
		struct mat *v = l.scalar ? &r : &l;
		double lit = l.scalar ? l.num : r.num;
		for (size_t s = 0; s < v->n; s++) {
			long os = -1;
			for (size_t t = 0; t < e->ns; t++) {
				if (!mat_has(e, v, s, t))
					continue;
				double x = mat_get(e, v, s, t), res;
				bool keep;
				if (l.scalar)
					res = lf_mq_apply(n->bop, lit, x, n->return_bool, &keep);
				else
					res = lf_mq_apply(n->bop, x, lit, n->return_bool, &keep);
				if (!keep)
					continue;
				if (os < 0 && (os = mat_series(e, &o, &v->ls[s])) < 0) {
					mat_free(&o);
					rc = oom(e);
					goto done;
				}
				mat_set(e, &o, (size_t)os, t, res);
			}
		}
		*out = o;
		goto done;
	}
	/* signatures: interned in one table */
	struct mat sigs = {0};
	struct lf_labels tmp = LF_LABELS_INIT;
	size_t *ls = calloc(l.n + 1, sizeof(*ls)), *rs = calloc(r.n + 1, sizeof(*rs));
	long *rmatch = NULL, *lseen = NULL, *ostep = NULL;
	size_t nost = 0;
	if (!ls || !rs)
		goto nomem;
	for (size_t s = 0; s < l.n; s++) {
		sig_labels(n, &l.ls[s], &tmp);
		long k = mat_series(e, &sigs, &tmp);
		if (k < 0)
			goto nomem;
		ls[s] = (size_t)k;
	}
	for (size_t s = 0; s < r.n; s++) {
		sig_labels(n, &r.ls[s], &tmp);
		long k = mat_series(e, &sigs, &tmp);
		if (k < 0)
			goto nomem;
		rs[s] = (size_t)k;
	}
	rmatch = malloc((sigs.n + 1) * sizeof(long));
	lseen = malloc((sigs.n + 1) * sizeof(long));
	if (!rmatch || !lseen)
		goto nomem;
	for (size_t t = 0; t < e->ns; t++) {
		for (size_t i = 0; i < sigs.n; i++)
			rmatch[i] = lseen[i] = -1;
		if (n->bop == LF_MQ_AND || n->bop == LF_MQ_UNLESS || n->bop == LF_MQ_OR) {
			for (size_t s = 0; s < r.n; s++)
				if (mat_has(e, &r, s, t))
					rmatch[rs[s]] = (long)s;
			for (size_t s = 0; s < l.n; s++) {
				if (!mat_has(e, &l, s, t))
					continue;
				lseen[ls[s]] = 1;
				bool m = rmatch[ls[s]] >= 0;
				if (n->bop == LF_MQ_OR || (n->bop == LF_MQ_AND) == m) {
					long os = mat_series(e, &o, &l.ls[s]);
					if (os < 0)
						goto nomem;
					mat_set(e, &o, (size_t)os, t, mat_get(e, &l, s, t));
				}
			}
			if (n->bop == LF_MQ_OR)
				for (size_t s = 0; s < r.n; s++) {
					if (!mat_has(e, &r, s, t) || lseen[rs[s]] >= 0)
						continue;
					long os = mat_series(e, &o, &r.ls[s]);
					if (os < 0)
						goto nomem;
					if (!mat_has(e, &o, (size_t)os, t))
						mat_set(e, &o, (size_t)os, t, mat_get(e, &r, s, t));
				}
			continue;
		}
		/* one side ("one") indexed by signature; the other ("many") probes */
		bool swap = n->card == 2;
		struct mat *one = swap ? &l : &r, *many = swap ? &r : &l;
		size_t *osig = swap ? ls : rs, *msig = swap ? rs : ls;
		for (size_t s = 0; s < one->n; s++) {
			if (!mat_has(e, one, s, t))
				continue;
			if (rmatch[osig[s]] >= 0) {
				e->status = 500;
				rc = lf_err(
				        e->err,
				        "found duplicate series on the %s hand-side;many-to-many "
				        "matching not allowed: matching labels must be unique on "
				        "one "
				        "side",
				        swap ? "left" : "right");
				goto bdone;
			}
			rmatch[osig[s]] = (long)s;
		}
		for (size_t s = 0; s < many->n; s++) {
			if (!mat_has(e, many, s, t))
				continue;
			long os_ = rmatch[msig[s]];
			if (os_ < 0)
				continue;
			double vm = mat_get(e, many, s, t), vo = mat_get(e, one, (size_t)os_, t);
			double vl = swap ? vo : vm, vr = swap ? vm : vo;
			bool keep;
			double res = lf_mq_apply(n->bop, vl, vr, n->return_bool, &keep);
			if (!keep)
				continue;
			/* result labels */
			if (lf_labels_copy(&tmp, &many->ls[s]) < 0)
				goto nomem;
			if (n->card == 0) {
				if (n->has_matching && n->on) {
					sig_labels(n, &many->ls[s], &tmp);
				} else {
					for (size_t i = 0; n->has_matching && i < n->n_match; i++)
						lf_labels_del(&tmp, n->match_names[i]);
				}
				if (lseen[msig[s]] >= 0) {
					e->status = 500;
					rc = lf_err(e->err, "multiple matches for labels: "
					                    "many-to-one matching must be "
					                    "explicit (group_left/group_right)");
					goto bdone;
				}
				lseen[msig[s]] = 1;
			} else {
				for (size_t i = 0; i < n->n_include; i++) {
					const char *v = lf_labels_get(&one->ls[(size_t)os_],
					                              n->include_names[i]);
					if (v && *v)
						lf_labels_set(&tmp, n->include_names[i], v);
					else
						lf_labels_del(&tmp, n->include_names[i]);
				}
			}
			long os = mat_series(e, &o, &tmp);
			if (os < 0)
				goto nomem;
			if (n->card != 0) {
				if ((size_t)os >= nost) {
					size_t nc = (size_t)os * 2 + 16;
					long *v = realloc(ostep, nc * sizeof(*v));
					if (!v)
						goto nomem;
					for (size_t i = nost; i < nc; i++)
						v[i] = -1;
					ostep = v;
					nost = nc;
				}
				if (ostep[os] == (long)t) {
					e->status = 500;
					rc = lf_err(e->err,
					            "multiple matches for labels: grouping labels "
					            "must ensure unique matches");
					goto bdone;
				}
				ostep[os] = (long)t;
			}
			mat_set(e, &o, (size_t)os, t, res);
		}
	}
	*out = o;
	o = (struct mat){0};
	goto bdone;
nomem:
	rc = oom(e);
bdone:
	mat_free(&o);
	mat_free(&sigs);
	lf_labels_free(&tmp);
	free(ls);
	free(rs);
	free(rmatch);
	free(lseen);
	free(ostep);
done:
	mat_free(&l);
	mat_free(&r);
	return rc;
}

/* ---- label_replace ---- */

static int eval_label_replace(struct ev *e, const struct lf_mq_node *n, struct mat *out)
{
	struct mat in = {0}, o = {0};
	int rc = eval(e, n->l, &in);
	if (rc < 0)
		goto done;
	struct lf_labels tmp = LF_LABELS_INIT;
	struct lf_regex_match m = LF_REGEX_MATCH_INIT;
	struct lf_buf b = LF_BUF_INIT;
	for (size_t s = 0; s < in.n && rc == 0; s++) {
		if (lf_labels_copy(&tmp, &in.ls[s]) < 0) {
			rc = oom(e);
			break;
		}
		const char *sv = lf_labels_get(&in.ls[s], n->src);
		if (!sv)
			sv = "";
		if (lf_regex_exec(n->re, sv, strlen(sv), 0, &m, NULL) == 1) {
			lf_buf_reset(&b);
			if (lf_regex_expand(n->re, &m, n->repl, strlen(n->repl), &b) < 0 ||
			    lf_buf_putc(&b, 0) < 0) {
				rc = oom(e);
				break;
			}
			if (b.data[0])
				lf_labels_set(&tmp, n->dst, b.data);
			else
				lf_labels_del(&tmp, n->dst);
		}
		long os = mat_series(e, &o, &tmp);
		if (os < 0) {
			rc = oom(e);
			break;
		}
		for (size_t t = 0; t < e->ns; t++)
			if (mat_has(e, &in, s, t) && !mat_has(e, &o, (size_t)os, t))
				mat_set(e, &o, (size_t)os, t, mat_get(e, &in, s, t));
	}
	lf_labels_free(&tmp);
	lf_regex_match_free(&m);
	lf_buf_free(&b);
	if (rc == 0) {
		*out = o;
		o = (struct mat){0};
	}
done:
	mat_free(&o);
	mat_free(&in);
	return rc;
}

static int eval(struct ev *e, const struct lf_mq_node *n, struct mat *out)
{
	memset(out, 0, sizeof(*out));
	if (check_deadline(e) < 0)
		return -1;
	switch (n->kind) {
	case LF_MQ_LITERAL:
		out->scalar = true;
		out->num = n->num;
		return 0;
	case LF_MQ_VECTOR: {
		struct lf_labels none = LF_LABELS_INIT;
		long s = mat_series(e, out, &none);
		if (s < 0)
			return oom(e);
		for (size_t t = 0; t < e->ns; t++)
			mat_set(e, out, (size_t)s, t, n->num);
		return 0;
	}
	case LF_MQ_RANGE:
		return eval_range(e, n, out, NULL);
	case LF_MQ_VAGG:
		return eval_vagg(e, n, out);
	case LF_MQ_BINOP:
		return eval_binop(e, n, out);
	case LF_MQ_LABEL_REPLACE:
		return eval_label_replace(e, n, out);
	case LF_MQ_LOG: /* refused by the parser */
		break;
	}
	e->status = 400;
	return lf_err(e->err, "parse error : a log expression is not a metric query");
}

/* ---- the request ---- */

void lf_mq_limits_default(struct lf_mq_limits *l)
{
	l->max_query_series = 500;
	l->max_query_length = 721 * 3600 * LF_NS_PER_SEC;
	l->query_timeout = 60 * LF_NS_PER_SEC;
	l->split_interval = 30 * 60 * LF_NS_PER_SEC;
	l->max_memory = 192 << 20;
}

int lf_mq_parse_step(const char *s, int64_t start, int64_t end, int64_t *step, struct lf_error *err)
{
	if (!s || !*s) {
		/* max(floor((end-start)/250 s), 1 s), in doubles: end - start
		 * may not fit int64 (times saturate at its limits) */
		double secs = floor(((double)end - (double)start) / 1e9 / 250);
		if (!(secs >= 1))
			secs = 1;
		if (secs > 9.2e9)
			secs = 9.2e9;
		*step = (int64_t)secs * LF_NS_PER_SEC;
		return 0;
	}
	char *e;
	double d = strtod(s, &e);
	if (!*e && e != s) {
		/* Loki's parseSecondsOrDuration: an overflow is an error; NaN and
		 * exactly 2^63 convert as Go does on amd64 (the most negative
		 * int64), and are then refused below */
		double ns = d * 1e9;
		if (ns > 9223372036854775808.0 || ns < -9223372036854775808.0)
			return lf_err(
			        err,
			        "cannot parse \"%.64s\" to a valid duration. It overflows int64",
			        s);
		*step = ns < 9223372036854775808.0 && ns >= -9223372036854775808.0 ? (int64_t)ns
		                                                                   : INT64_MIN;
	} else if (lf_parse_duration(s, step, err) < 0) {
		return lf_err(err, "cannot parse \"%.64s\" to a valid duration", s);
	}
	if (*step <= 0)
		return lf_err(err,
		              "zero or negative query resolution step widths are not accepted. "
		              "Try a positive integer");
	return 0;
}

/* Loki's frontend: the first boundary of the next split interval reachable
 * from t in whole steps (querier/queryrange/split_by_interval.go). */
static int64_t next_boundary(int64_t t, int64_t step, int64_t interval)
{
	int64_t next = (floor_div(t, interval) + 1) * interval;
	int64_t target = next - ((next - t) % step);
	if (target == next)
		target -= step;
	return target;
}

struct ordered {
	size_t s;
	double v;
	const struct mat *m;
};
static int ord_cmp_labels(const void *x, const void *y)
{
	const struct ordered *a = x, *b = y;
	return lf_labels_cmp(&a->m->ls[a->s], &b->m->ls[b->s]);
}
static int ord_cmp_value(const void *x, const void *y, void *arg)
{
	bool sort_desc = *(const bool *)arg;
	const struct ordered *a = x, *b = y;
	if (a->v != b->v) {
		if (isnan(a->v))
			return 1;
		if (isnan(b->v))
			return -1;
		return (a->v < b->v) != sort_desc ? -1 : 1;
	}
	return ord_cmp_labels(x, y);
}
static int key_cmp(const void *x, const void *y)
{
	const struct ordered *a = x, *b = y;
	return strcmp(a->m->key[a->s], b->m->key[b->s]);
}

int lf_mq_run(const struct lf_mq_source *src, const struct lf_mq_request *rq,
              const struct lf_mq_limits *lim, struct lf_buf *out, int *status, struct lf_error *err)
{
	int64_t t0 = lf_monotonic_ns();
	*status = 400;
	struct lf_mq_node *q = NULL;
	struct ev e = {.src = src, .lim = lim, .err = err};
	int64_t start = rq->start, end = rq->end;
	/* Loki checks the HTTP parameters before it parses the query */
	if (rq->range) {
		if (end < start) {
			lf_err(err, "end timestamp must not be before or equal to start time");
			goto fail;
		}
		if (lf_mq_parse_step(rq->step, start, end, &e.step, err) < 0)
			goto fail;
		if (((__int128)end - start) / e.step > 11000) {
			lf_err(err,
			       "exceeded maximum resolution of 11,000 points per timeseries. Try "
			       "decreasing the query resolution (?step=XX)");
			goto fail;
		}
	}
	if (lf_mq_parse(rq->query, strlen(rq->query), &q, err) < 0)
		goto fail;
	if (rq->range) {
		if (lim->max_query_length > 0 && (__int128)end - start > lim->max_query_length) {
			char a[40], b[40];
			lf_format_duration(sat((__int128)end - start), a, sizeof(a));
			lf_format_duration(lim->max_query_length, b, sizeof(b));
			lf_err(err,
			       "the query time range exceeds the limit (query length: %s, limit: "
			       "%s)",
			       a, b);
			goto fail;
		}
		/* the frontend aligns to the step in ms */
		int64_t sms = e.step / LF_NS_PER_MS;
		if (sms > 0 && lim->split_interval > 0) {
			start = sat((__int128)floor_div(start / LF_NS_PER_MS, sms) * sms *
			            LF_NS_PER_MS);
			end = sat((__int128)ceil_div(end / LF_NS_PER_MS, sms) * sms * LF_NS_PER_MS);
		}
		e.ns = (size_t)((end - start) / e.step) + 1;
	} else {
		e.ns = 1;
		e.step = 0;
	}
	e.start = start;
	e.excl = calloc(e.ns, 1);
	if (!e.excl) {
		lf_err(err, "out of memory");
		*status = 500;
		goto fail;
	}
	e.excl[e.ns - 1] = 1;
	if (rq->range && lim->split_interval > 0) {
		int64_t sms = e.step / LF_NS_PER_MS, ims = lim->split_interval / LF_NS_PER_MS;
		if (sms > 0 && ims > 0) {
			int64_t s = start / LF_NS_PER_MS,
			        last = start / LF_NS_PER_MS + (int64_t)(e.ns - 1) * sms;
			while (s < last) {
				int64_t b = next_boundary(s, sms, ims);
				if (b + sms >= last)
					b = last;
				if (b >= s && b <= last)
					e.excl[(b - start / LF_NS_PER_MS) / sms] = 1;
				if (b + sms <= s)
					break;
				s = b + sms;
			}
		}
	}
	if (lim->query_timeout > 0)
		e.deadline = t0 + lim->query_timeout;
	struct mat m;
	if (eval(&e, q, &m) < 0) {
		mat_free(&m);
		*status = e.status ? e.status : 500;
		free(e.excl);
		lf_buf_free(&e.kb);
		lf_mq_free(q);
		return -1;
	}
	/* series limit: per step, and over the whole answer (frontend) */
	size_t total = 0;
	if (!m.scalar && lim->max_query_series > 0) {
		for (size_t t = 0; t < e.ns; t++) {
			size_t c = 0;
			for (size_t s = 0; s < m.n; s++)
				c += mat_has(&e, &m, s, t);
			if ((int64_t)c > lim->max_query_series)
				goto series;
		}
		for (size_t s = 0; s < m.n; s++)
			for (size_t t = 0; t < e.ns; t++)
				if (mat_has(&e, &m, s, t)) {
					total++;
					break;
				}
		if ((int64_t)total > lim->max_query_series)
			goto series;
	}
	lf_buf_appends(out, "{\"status\":\"success\",\"data\":{\"resultType\":");
	char v[400];
	if (m.scalar && !rq->range) {
		lf_mq_format_float(m.num, v, sizeof(v));
		lf_buf_appends(out, "\"scalar\",\"result\":[");
		put_ts(out, start);
		lf_buf_printf(out, ",\"%s\"]", v);
	} else if (m.scalar) {
		lf_mq_format_float(m.num, v, sizeof(v));
		lf_buf_appends(out, "\"matrix\",\"result\":[{\"metric\":{},\"values\":[");
		for (size_t t = 0; t < e.ns; t++) {
			lf_buf_appends(out, t ? ",[" : "[");
			put_ts(out, start + (int64_t)t * e.step);
			lf_buf_printf(out, ",\"%s\"]", v);
		}
		lf_buf_appends(out, "]}]");
	} else {
		struct ordered *o = malloc((m.n ? m.n : 1) * sizeof(*o));
		if (!o) {
			mat_free(&m);
			lf_err(err, "out of memory");
			*status = 500;
			goto fail;
		}
		size_t k = 0;
		for (size_t s = 0; s < m.n; s++) {
			size_t t;
			for (t = 0; t < e.ns && !mat_has(&e, &m, s, t); t++)
				;
			if (t < e.ns)
				o[k++] = (struct ordered){s, mat_get(&e, &m, s, 0), &m};
		}
		if (rq->range) {
			qsort(o, k, sizeof(*o), key_cmp);
			lf_buf_appends(out, "\"matrix\",\"result\":[");
		} else {
			if (q->kind == LF_MQ_VAGG &&
			    (q->vop == LF_MQ_SORT || q->vop == LF_MQ_SORT_DESC)) {
				bool desc = q->vop == LF_MQ_SORT_DESC;
				qsort_r(o, k, sizeof(*o), ord_cmp_value, &desc);
			} else {
				qsort(o, k, sizeof(*o), ord_cmp_labels);
			}
			lf_buf_appends(out, "\"vector\",\"result\":[");
		}
		for (size_t i = 0; i < k; i++) {
			size_t s = o[i].s;
			lf_buf_appends(out, i ? ",{\"metric\":" : "{\"metric\":");
			lf_json_labels(out, &m.ls[s]);
			lf_buf_appends(out, rq->range ? ",\"values\":[" : ",\"value\":");
			bool first = true;
			for (size_t t = 0; t < e.ns; t++) {
				if (!mat_has(&e, &m, s, t))
					continue;
				lf_mq_format_float(mat_get(&e, &m, s, t), v, sizeof(v));
				lf_buf_appends(out, first ? "[" : ",[");
				first = false;
				put_ts(out, start + (int64_t)t * e.step);
				lf_buf_printf(out, ",\"%s\"]", v);
			}
			lf_buf_appends(out, rq->range ? "]}" : "}");
		}
		lf_buf_putc(out, ']');
		e.st.returned = k;
		free(o);
	}
	mat_free(&m);
	e.st.exec_ns = lf_monotonic_ns() - t0;
	lf_buf_appends(out, ",\"stats\":");
	lf_query_stats_json(&e.st, out);
	lf_buf_appends(out, "}}");
	free(e.excl);
	lf_buf_free(&e.kb);
	lf_mq_free(q);
	*status = 200;
	return 0;
series:
	mat_free(&m);
	lf_err(err, "maximum of series (%" PRId64 ") reached for a single query",
	       lim->max_query_series);
	*status = 400;
fail:
	free(e.excl);
	lf_buf_free(&e.kb);
	lf_mq_free(q);
	return -1;
}

/* ---- the tenant source ---- */

struct cref {
	uint32_t sidx;
	int64_t from, through;
	char *path;
};

static int cref_cmp(const void *a, const void *b)
{
	const struct cref *x = a, *y = b;
	return x->from < y->from ? -1 : x->from > y->from;
}

/* Hands one entry to fn; structured metadata joins the stream labels (in
 * scratch, so without the per-stream identity), as in log queries. */
static inline int emit(lf_mq_entry_fn fn, void *ctx, uint32_t sidx, const struct lf_labels *ls,
                       const struct lf_sentry *en, struct lf_labels *scratch)
{
	if (en->n_sm && lf_labels_copy(scratch, ls) == 0) {
		struct lf_rd r = {en->sm, en->sm_end, 0};
		for (size_t k = 0; k < en->n_sm && !r.bad; k++) {
			size_t nl, vl;
			const char *n = lf_rd_bytes(&r, &nl);
			const char *v = lf_rd_bytes(&r, &vl);
			if (!r.bad)
				lf_labels_setn(scratch, n, nl, v, vl);
		}
		return fn(ctx, LF_MQ_NO_STREAM, scratch, en->ts, en->line, en->line_len);
	}
	return fn(ctx, sidx, ls, en->ts, en->line, en->line_len);
}

static int scan_buf(const struct lf_head *h, int64_t from, int64_t to, uint32_t sidx,
                    const struct lf_labels *ls, const char *needle, size_t nlen, lf_mq_entry_fn fn,
                    void *ctx, uint64_t *lines, uint64_t *bytes, struct lf_labels *scratch,
                    struct lf_buf *raw)
{
	struct lf_head_iter it;
	struct lf_sentry en;
	lf_head_iter_init(&it, h, from, to - 1, raw);
	while (lf_head_iter_span(&it)) {
		const char *end = (const char *)it.rd.end, *next = NULL;
		while (lf_head_iter_entry(&it, &en)) {
			if (en.ts < from || en.ts >= to)
				continue;
			(*lines)++;
			*bytes += en.line_len;
			if (needle) {
				if (next < en.line) {
					const char *p = lf_memfind(en.line, (size_t)(end - en.line),
					                           needle, nlen);
					next = p ? p : end;
				}
				if (next >= en.line + en.line_len)
					continue;
			}
			if (emit(fn, ctx, sidx, ls, &en, scratch) < 0)
				return -1;
		}
	}
	return 0;
}

static int tenant_scan(void *sctx, const struct lf_selector *sel,
                       const struct lf_line_filter *filters, size_t n_filters, int64_t from,
                       int64_t to, lf_mq_entry_fn fn, void *fctx, struct lf_query_stats *st,
                       struct lf_error *err)
{
	struct lf_tenant *t = sctx;
	if (!t || from >= to)
		return 0;
	const char *needle = NULL;
	size_t nlen = 0;
	for (size_t i = 0; i < n_filters; i++) {
		const struct lf_line_filter *f = &filters[i];
		if (f->op == LF_FILTER_CONTAINS && f->n_alts == 1 && f->alts[0].len > 0) {
			needle = f->alts[0].value;
			nlen = f->alts[0].len;
			break;
		}
	}
	struct lf_labels scratch = LF_LABELS_INIT; /* stream + structured metadata */
	struct lf_buf raw = LF_BUF_INIT;           /* sealed head blocks */
	pthread_rwlock_rdlock(&t->lock);
	struct lf_stream **qs = malloc((t->n_streams ? t->n_streams : 1) * sizeof(*qs));
	struct cref *cr = NULL;
	size_t nqs = 0, ncr = 0, capcr = 0;
	int rc = 0;
	if (!qs) {
		pthread_rwlock_unlock(&t->lock);
		return lf_err(err, "out of memory");
	}
	for (size_t i = 0; i < t->n_streams; i++) {
		struct lf_stream *s = t->streams[i];
		if (lf_stream_overlaps(s, from, to - 1) &&
		    lf_selector_match_labels(sel, &s->labels))
			qs[nqs++] = s;
	}
	for (size_t i = 0; i < nqs && rc == 0; i++) {
		struct lf_stream *s = qs[i];
		for (size_t j = 0; j < s->cold->n_chunks; j++) {
			const struct lf_chunk_ref *r = &s->cold->chunks[j];
			if (r->from >= to || r->through < from)
				continue;
			if (ncr == capcr) {
				capcr = capcr ? capcr * 2 : 64;
				struct cref *v = realloc(cr, capcr * sizeof(*v));
				if (!v) {
					rc = lf_err(err, "out of memory");
					break;
				}
				cr = v;
			}
			cr[ncr] = (struct cref){(uint32_t)i, r->from, r->through,
			                        lf_chunk_ref_path_new(t, s, r)};
			if (cr[ncr].path)
				ncr++;
		}
		if (rc == 0)
			rc = scan_buf(&s->head, from, to, (uint32_t)i, &s->labels, needle, nlen, fn,
			              fctx, &st->head_lines, &st->head_bytes, &scratch, &raw);
		if (rc == 0)
			rc = scan_buf(&s->cold->flushing, from, to, (uint32_t)i, &s->labels, needle,
			              nlen, fn, fctx, &st->head_lines, &st->head_bytes, &scratch,
			              &raw);
	}
	pthread_rwlock_unlock(&t->lock);
	/* stream labels are immutable and streams live as long as the tenant:
	 * chunks are read without the lock, as lf_query_logs does */
	st->chunks_ref += ncr;
	if (ncr)
		qsort(cr, ncr, sizeof(*cr), cref_cmp);
	struct lf_chunk_reader rd;
	memset(&rd, 0, sizeof(rd));
	for (size_t i = 0; i < ncr; i++) {
		if (rc == 0) {
			struct lf_error cerr;
			if (lf_chunk_open(cr[i].path, &rd, &cerr) < 0) {
				if (errno != ENOENT || access(cr[i].path, F_OK) == 0) {
					lf_warn("query: %s; chunk skipped", cerr.msg);
					st->corrupt_blocks++;
				}
				free(cr[i].path);
				continue;
			}
			st->chunks_read++;
			const struct lf_labels *ls = &qs[cr[i].sidx]->labels;
			for (uint32_t k = 0; k < rd.n_blocks && rc == 0; k++) {
				struct lf_chunk_block_info bi;
				lf_chunk_block(&rd, k, &bi);
				if (bi.max_ts < from || bi.min_ts >= to) {
					st->blocks_skipped++;
					continue;
				}
				if (lf_chunk_read_block(&rd, k, &cerr) < 0) {
					lf_warn("query: chunk %s: %s; block skipped", cr[i].path,
					        cerr.msg);
					st->corrupt_blocks++;
					continue;
				}
				st->blocks_read++;
				st->compressed_bytes += bi.comp_len;
				if (needle && bi.min_ts >= from && bi.max_ts < to &&
				    !lf_memfind(rd.raw.data, rd.raw.len, needle, nlen)) {
					st->chunk_lines += bi.entries;
					st->chunk_bytes += bi.raw_len;
					continue;
				}
				struct lf_chunk_iter it;
				lf_chunk_iter_init(&it, &rd, &bi);
				struct lf_sentry en;
				int ir;
				const char *end = rd.raw.data + rd.raw.len, *next = NULL;
				while ((ir = lf_chunk_iter_next(&it, &en)) == 1) {
					if (en.ts < from || en.ts >= to)
						continue;
					st->chunk_lines++;
					st->chunk_bytes += en.line_len;
					if (needle) {
						if (next < en.line) {
							const char *p = lf_memfind(
							        en.line, (size_t)(end - en.line),
							        needle, nlen);
							next = p ? p : end;
						}
						if (next >= en.line + en.line_len)
							continue;
					}
					if (emit(fn, fctx, cr[i].sidx, ls, &en, &scratch) < 0) {
						rc = -1;
						break;
					}
				}
			}
			lf_chunk_close(&rd);
		}
		free(cr[i].path);
	}
	free(cr);
	free(qs);
	lf_labels_free(&scratch);
	lf_buf_free(&raw);
	return rc;
}

struct lf_mq_source lf_mq_tenant_source(struct lf_tenant *t)
{
	return (struct lf_mq_source){tenant_scan, t};
}
