/* metrics.c — see metrics.h. */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct child {
	struct child *next; /* hash chain */
	uint64_t hash;
	char **values;  /* label values */
	double value;   /* counter / gauge */
	double sum;     /* histogram */
	uint64_t count; /* histogram */
	uint64_t *buckets;
};

struct lf_metric_family {
	struct lf_metrics *reg;
	enum lf_metric_type type;
	char *name, *help;
	char **label_names;
	size_t n_labels;
	double *bounds;
	size_t n_bounds;
	struct child **table;
	size_t table_size, n_children;
};

struct collector {
	lf_metrics_collect_fn fn;
	void *ctx;
};

struct lf_metrics {
	pthread_mutex_t mu;
	struct lf_metric_family **fams;
	size_t n_fams, cap_fams;
	struct collector *cols;
	size_t n_cols, cap_cols;
};

struct lf_metrics *lf_metrics_new(void)
{
	struct lf_metrics *r = calloc(1, sizeof *r);
	if (r)
		pthread_mutex_init(&r->mu, NULL);
	return r;
}

static void free_child(struct lf_metric_family *f, struct child *c)
{
	for (size_t i = 0; i < f->n_labels; i++)
		free(c->values[i]);
	free(c->values);
	free(c->buckets);
	free(c);
}

static void free_family(struct lf_metric_family *f)
{
	for (size_t i = 0; i < f->table_size; i++) {
		struct child *c = f->table[i];
		while (c) {
			struct child *n = c->next;
			free_child(f, c);
			c = n;
		}
	}
	free(f->table);
	for (size_t i = 0; i < f->n_labels; i++)
		free(f->label_names[i]);
	free(f->label_names);
	free(f->bounds);
	free(f->name);
	free(f->help);
	free(f);
}

void lf_metrics_free(struct lf_metrics *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_fams; i++)
		free_family(r->fams[i]);
	free(r->fams);
	free(r->cols);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

struct lf_metric_family *lf_metrics_family(struct lf_metrics *r, enum lf_metric_type type,
                                           const char *name, const char *help,
                                           const char *const *label_names, const double *buckets,
                                           size_t n_buckets)
{
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n_fams; i++) {
		if (strcmp(r->fams[i]->name, name) == 0) {
			struct lf_metric_family *f = r->fams[i];
			pthread_mutex_unlock(&r->mu);
			return f;
		}
	}
	struct lf_metric_family *f = calloc(1, sizeof *f);
	if (!f)
		goto fail;
	f->reg = r;
	f->type = type;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	size_t nl = 0;
	while (label_names && label_names[nl])
		nl++;
	f->n_labels = nl;
	f->label_names = calloc(nl + 1, sizeof *f->label_names);
	f->table_size = 64;
	f->table = calloc(f->table_size, sizeof *f->table);
	if (!f->name || !f->help || !f->label_names || !f->table)
		goto fail_f;
	for (size_t i = 0; i < nl; i++)
		if (!(f->label_names[i] = strdup(label_names[i])))
			goto fail_f;
	if (type == LF_METRIC_HISTOGRAM && n_buckets) {
		f->bounds = malloc(n_buckets * sizeof *f->bounds);
		if (!f->bounds)
			goto fail_f;
		memcpy(f->bounds, buckets, n_buckets * sizeof *f->bounds);
		f->n_bounds = n_buckets;
	}
	if (r->n_fams == r->cap_fams) {
		size_t c = r->cap_fams ? r->cap_fams * 2 : 32;
		struct lf_metric_family **nf = realloc(r->fams, c * sizeof *nf);
		if (!nf)
			goto fail_f;
		r->fams = nf;
		r->cap_fams = c;
	}
	r->fams[r->n_fams++] = f;
	pthread_mutex_unlock(&r->mu);
	return f;
fail_f:
	free_family(f);
fail:
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static uint64_t hash_values(const struct lf_metric_family *f, const char *const *vals)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < f->n_labels; i++) {
		for (const unsigned char *p = (const unsigned char *)(vals[i] ? vals[i] : ""); *p;
		     p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
	}
	return h;
}

static bool same_values(const struct lf_metric_family *f, const struct child *c,
                        const char *const *vals)
{
	for (size_t i = 0; i < f->n_labels; i++)
		if (strcmp(c->values[i], vals[i] ? vals[i] : "") != 0)
			return false;
	return true;
}

static void rehash(struct lf_metric_family *f)
{
	size_t ns = f->table_size * 2;
	struct child **nt = calloc(ns, sizeof *nt);
	if (!nt)
		return; /* keep the old table: slower chains, still correct */
	for (size_t i = 0; i < f->table_size; i++) {
		struct child *c = f->table[i];
		while (c) {
			struct child *n = c->next;
			c->next = nt[c->hash % ns];
			nt[c->hash % ns] = c;
			c = n;
		}
	}
	free(f->table);
	f->table = nt;
	f->table_size = ns;
}

/* Finds or creates the child; called with the registry lock held. */
static struct child *get_child(struct lf_metric_family *f, const char *const *vals, bool create)
{
	uint64_t h = hash_values(f, vals);
	for (struct child *c = f->table[h % f->table_size]; c; c = c->next)
		if (c->hash == h && same_values(f, c, vals))
			return c;
	if (!create)
		return NULL;
	struct child *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->hash = h;
	c->values = calloc(f->n_labels + 1, sizeof *c->values);
	if (f->type == LF_METRIC_HISTOGRAM)
		c->buckets = calloc(f->n_bounds + 1, sizeof *c->buckets);
	if (!c->values || (f->type == LF_METRIC_HISTOGRAM && !c->buckets)) {
		free(c->values);
		free(c->buckets);
		free(c);
		return NULL;
	}
	for (size_t i = 0; i < f->n_labels; i++) {
		if (!(c->values[i] = strdup(vals[i] ? vals[i] : ""))) {
			free_child(f, c);
			return NULL;
		}
	}
	if (f->n_children + 1 > f->table_size * 2)
		rehash(f);
	c->next = f->table[h % f->table_size];
	f->table[h % f->table_size] = c;
	f->n_children++;
	return c;
}

void lf_metric_add(struct lf_metric_family *f, const char *const *vals, double v)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->reg->mu);
	struct child *c = get_child(f, vals, true);
	if (c)
		c->value += v;
	pthread_mutex_unlock(&f->reg->mu);
}

void lf_metric_inc(struct lf_metric_family *f, const char *const *vals)
{
	lf_metric_add(f, vals, 1);
}

void lf_metric_set(struct lf_metric_family *f, const char *const *vals, double v)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->reg->mu);
	struct child *c = get_child(f, vals, true);
	if (c)
		c->value = v;
	pthread_mutex_unlock(&f->reg->mu);
}

void lf_metric_observe(struct lf_metric_family *f, const char *const *vals, double v)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->reg->mu);
	struct child *c = get_child(f, vals, true);
	if (c && c->buckets) {
		for (size_t i = 0; i < f->n_bounds; i++)
			if (v <= f->bounds[i])
				c->buckets[i]++;
		c->count++;
		c->sum += v;
	}
	pthread_mutex_unlock(&f->reg->mu);
}

double lf_metric_value(struct lf_metric_family *f, const char *const *vals)
{
	if (!f)
		return 0;
	pthread_mutex_lock(&f->reg->mu);
	struct child *c = get_child(f, vals, false);
	double v = c ? (f->type == LF_METRIC_HISTOGRAM ? (double)c->count : c->value) : 0;
	pthread_mutex_unlock(&f->reg->mu);
	return v;
}

void lf_metric_remove(struct lf_metric_family *f, const char *const *vals)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->reg->mu);
	uint64_t h = hash_values(f, vals);
	struct child **pp = &f->table[h % f->table_size];
	while (*pp) {
		struct child *c = *pp;
		if (c->hash == h && same_values(f, c, vals)) {
			*pp = c->next;
			free_child(f, c);
			f->n_children--;
			break;
		}
		pp = &c->next;
	}
	pthread_mutex_unlock(&f->reg->mu);
}

int lf_metrics_add_collector(struct lf_metrics *r, lf_metrics_collect_fn fn, void *ctx)
{
	pthread_mutex_lock(&r->mu);
	if (r->n_cols == r->cap_cols) {
		size_t c = r->cap_cols ? r->cap_cols * 2 : 8;
		struct collector *nc = realloc(r->cols, c * sizeof *nc);
		if (!nc) {
			pthread_mutex_unlock(&r->mu);
			return -1;
		}
		r->cols = nc;
		r->cap_cols = c;
	}
	r->cols[r->n_cols].fn = fn;
	r->cols[r->n_cols].ctx = ctx;
	r->n_cols++;
	pthread_mutex_unlock(&r->mu);
	return 0;
}

void lf_metrics_remove_collector(struct lf_metrics *r, lf_metrics_collect_fn fn, void *ctx)
{
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n_cols; i++) {
		if (r->cols[i].fn == fn && r->cols[i].ctx == ctx) {
			memmove(&r->cols[i], &r->cols[i + 1],
			        (r->n_cols - i - 1) * sizeof *r->cols);
			r->n_cols--;
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
}

static int put_value(struct lf_buf *out, double v)
{
	if (isnan(v))
		return lf_buf_appends(out, "NaN");
	if (isinf(v))
		return lf_buf_appends(out, v > 0 ? "+Inf" : "-Inf");
	if (v == floor(v) && fabs(v) < 1e15)
		return lf_buf_printf(out, "%.0f", v);
	/* Shortest of %.15g / %.17g that reads back exactly (5.55, not 5.5499999999999998). */
	char b[40];
	snprintf(b, sizeof b, "%.15g", v);
	if (strtod(b, NULL) != v)
		snprintf(b, sizeof b, "%.17g", v);
	return lf_buf_appends(out, b);
}

/* Label values escape backslash, quote and newline (text format 0.0.4). */
static int put_label_value(struct lf_buf *out, const char *s)
{
	for (; *s; s++) {
		int r;
		if (*s == '\\')
			r = lf_buf_appends(out, "\\\\");
		else if (*s == '"')
			r = lf_buf_appends(out, "\\\"");
		else if (*s == '\n')
			r = lf_buf_appends(out, "\\n");
		else
			r = lf_buf_putc(out, *s);
		if (r < 0)
			return -1;
	}
	return 0;
}

static int put_labels(struct lf_buf *out, const struct lf_metric_family *f, const struct child *c,
                      const char *le)
{
	if (!f->n_labels && !le)
		return 0;
	if (lf_buf_putc(out, '{') < 0)
		return -1;
	for (size_t i = 0; i < f->n_labels; i++) {
		if (i && lf_buf_putc(out, ',') < 0)
			return -1;
		if (lf_buf_printf(out, "%s=\"", f->label_names[i]) < 0 ||
		    put_label_value(out, c->values[i]) < 0 || lf_buf_putc(out, '"') < 0)
			return -1;
	}
	if (le && lf_buf_printf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le) < 0)
		return -1;
	return lf_buf_putc(out, '}');
}

static int render_family(struct lf_buf *out, const struct lf_metric_family *f)
{
	static const char *const tnames[] = {"counter", "gauge", "histogram"};
	if (lf_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
	                  tnames[f->type]) < 0)
		return -1;
	for (size_t i = 0; i < f->table_size; i++) {
		for (const struct child *c = f->table[i]; c; c = c->next) {
			if (f->type != LF_METRIC_HISTOGRAM) {
				if (lf_buf_appends(out, f->name) < 0 ||
				    put_labels(out, f, c, NULL) < 0 || lf_buf_putc(out, ' ') < 0 ||
				    put_value(out, c->value) < 0 || lf_buf_putc(out, '\n') < 0)
					return -1;
				continue;
			}
			for (size_t b = 0; b <= f->n_bounds; b++) {
				char le[40];
				uint64_t cnt = b < f->n_bounds ? c->buckets[b] : c->count;
				if (b < f->n_bounds)
					snprintf(le, sizeof le, "%g", f->bounds[b]);
				else
					snprintf(le, sizeof le, "+Inf");
				if (lf_buf_printf(out, "%s_bucket", f->name) < 0 ||
				    put_labels(out, f, c, le) < 0 ||
				    lf_buf_printf(out, " %llu\n", (unsigned long long)cnt) < 0)
					return -1;
			}
			if (lf_buf_printf(out, "%s_sum", f->name) < 0 ||
			    put_labels(out, f, c, NULL) < 0 || lf_buf_putc(out, ' ') < 0 ||
			    put_value(out, c->sum) < 0 ||
			    lf_buf_printf(out, "\n%s_count", f->name) < 0 ||
			    put_labels(out, f, c, NULL) < 0 ||
			    lf_buf_printf(out, " %llu\n", (unsigned long long)c->count) < 0)
				return -1;
		}
	}
	return 0;
}

int lf_metrics_render(struct lf_metrics *r, struct lf_buf *out)
{
	pthread_mutex_lock(&r->mu);
	int rc = 0;
	for (size_t i = 0; i < r->n_fams && rc == 0; i++)
		rc = render_family(out, r->fams[i]);
	/* Collectors run under the lock too so they cannot be removed mid-call;
	 * they must not call back into this registry. */
	for (size_t i = 0; i < r->n_cols && rc == 0; i++)
		r->cols[i].fn(r->cols[i].ctx, out);
	pthread_mutex_unlock(&r->mu);
	return rc;
}
