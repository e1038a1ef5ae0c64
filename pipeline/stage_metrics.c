/* stage_metrics.c — `metrics`: counters, gauges and histograms computed
 * from extracted values, labelled with the entry's label set, as Promtail's
 * metrics stage. Families are named <prefix><name> with prefix default
 * "logferry_custom_" (Promtail: promtail_custom_). A series not updated for
 * max_idle_duration (default 5m, >= 1s) is removed.
 *
 * Series live here, not in the common registry (its families have fixed
 * label names; these have the entries' label sets): the stage renders them
 * through a registry collector. A mutex guards the series because the
 * registry renders on the HTTP thread while the pipeline thread updates. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/timeutil.h"
#include "stage.h"

enum mtype { M_COUNTER, M_GAUGE, M_HISTOGRAM };
enum maction { A_NONE, A_INC, A_ADD, A_SET, A_DEC, A_SUB };

struct series {
	double value; /* counter/gauge; histogram: sum */
	uint64_t count;
	uint64_t *buckets; /* histogram: cumulative counts per bucket */
	int64_t last_ns;
};

struct metric {
	char *name; /* full name with prefix */
	char *help;
	char *source;
	enum mtype type;
	enum maction action;
	char *value; /* only when the value matches */
	bool match_all, count_bytes;
	double *bounds;
	size_t nbounds;
	int64_t max_idle;
	struct lf_smap series; /* labels -> struct series * */
};

struct metrics_stage {
	struct metric *m;
	size_t n;
	pthread_mutex_t mu;
	struct lf_metrics *reg;
	struct lf_pipe_shared *sh;
};

static void series_free(void *p)
{
	struct series *s = p;
	free(s->buckets);
	free(s);
}

static void metric_clear(struct metric *m)
{
	free(m->name);
	free(m->help);
	free(m->source);
	free(m->value);
	free(m->bounds);
	lf_smap_free(&m->series);
}

static void collect(void *ctx, struct lf_buf *out);

static void metrics_free(void *state)
{
	struct metrics_stage *s = state;
	if (s->reg)
		lf_metrics_remove_collector(s->reg, collect, s);
	for (size_t i = 0; i < s->n; i++)
		metric_clear(&s->m[i]);
	free(s->m);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static const char *const metric_keys[] = {
        "type", "description", "source", "prefix", "max_idle_duration", "config", NULL};
static const char *const config_keys[] = {
        "value", "action", "buckets", "match_all", "count_entry_bytes", NULL};

static int read_metric(const struct lf_ynode *key, const struct lf_ynode *node, const char *path,
                       struct metric *m, struct lf_error *err)
{
	if (lf_ymap_check(node, path, metric_keys, err) < 0)
		return -1;
	char *type = NULL, *prefix = NULL, *action = NULL;
	int rc = -1;
	lf_smap_init(&m->series, 0, series_free);
	m->max_idle = 5 * 60 * LF_NS_PER_SEC;
	if (lf_ymap_str(node, path, "type", &type, err) < 0 ||
	    lf_ymap_str(node, path, "description", &m->help, err) < 0 ||
	    lf_ymap_str(node, path, "source", &m->source, err) < 0 ||
	    lf_ymap_str(node, path, "prefix", &prefix, err) < 0 ||
	    lf_ymap_duration(node, path, "max_idle_duration", &m->max_idle, err) < 0)
		goto out;
	if (m->max_idle < LF_NS_PER_SEC) {
		lf_y_err(err, lf_ymap_get(node, "max_idle_duration"), path,
		         "max_idle_duration less than 1s not allowed");
		goto out;
	}
	if (!m->source && !(m->source = strdup(key->str)))
		goto oom;
	for (char *p = type; p && *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	if (type && strcmp(type, "counter") == 0) {
		m->type = M_COUNTER;
	} else if (type && strcmp(type, "gauge") == 0) {
		m->type = M_GAUGE;
	} else if (type && strcmp(type, "histogram") == 0) {
		m->type = M_HISTOGRAM;
	} else {
		lf_y_err(err, lf_ymap_get(node, "type") ? lf_ymap_get(node, "type") : node, path,
		         "invalid metric type '%s', metric type must be one of 'counter', "
		         "'gauge', or 'histogram'",
		         type ? type : "");
		goto out;
	}
	size_t plen = strlen(prefix && *prefix ? prefix : "logferry_custom_");
	m->name = malloc(plen + strlen(key->str) + 1);
	if (!m->name)
		goto oom;
	sprintf(m->name, "%s%s", prefix && *prefix ? prefix : "logferry_custom_", key->str);
	if (!m->help && !(m->help = strdup(m->name)))
		goto oom;

	const struct lf_ynode *cfg = lf_ymap_get(node, "config");
	char cpath[700];
	snprintf(cpath, sizeof cpath, "%s.config", path);
	if (lf_ymap_check(cfg, cpath, config_keys, err) < 0 ||
	    lf_ymap_str(cfg, cpath, "value", &m->value, err) < 0 ||
	    lf_ymap_str(cfg, cpath, "action", &action, err) < 0 ||
	    lf_ymap_bool(cfg, cpath, "match_all", &m->match_all, err) < 0 ||
	    lf_ymap_bool(cfg, cpath, "count_entry_bytes", &m->count_bytes, err) < 0)
		goto out;
	for (char *p = action; p && *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	const struct lf_ynode *an = lf_ymap_get(cfg, "action");
	if (m->type == M_COUNTER) {
		if (!action || !*action) {
			lf_y_err(err, cfg ? cfg : node, cpath,
			         "counter action must be defined as either `inc` or `add`");
			goto out;
		}
		if (strcmp(action, "inc") == 0)
			m->action = A_INC;
		else if (strcmp(action, "add") == 0)
			m->action = A_ADD;
		else {
			lf_y_err(err, an, cpath,
			         "action %s is not valid, action must be either `inc` or `add`",
			         action);
			goto out;
		}
		if (m->match_all && m->value) {
			lf_y_err(err, cfg, cpath,
			         "`match_all: true` cannot be combined with `value`, please remove "
			         "`match_all` or `value`");
			goto out;
		}
		if (m->count_bytes && !m->match_all) {
			lf_y_err(
			        err, cfg, cpath,
			        "`count_entry_bytes: true` can only be set with `match_all: true`");
			goto out;
		}
		if (m->count_bytes && m->action != A_ADD) {
			lf_y_err(err, cfg, cpath,
			         "`count_entry_bytes: true` can only be used with `action: add`");
			goto out;
		}
	} else if (m->type == M_GAUGE) {
		static const struct {
			const char *n;
			enum maction a;
		} acts[] = {{"set", A_SET},
		            {"inc", A_INC},
		            {"dec", A_DEC},
		            {"add", A_ADD},
		            {"sub", A_SUB}};
		m->action = A_NONE;
		for (size_t i = 0; action && i < 5; i++)
			if (strcmp(action, acts[i].n) == 0)
				m->action = acts[i].a;
		if (m->action == A_NONE && (!action || !*action)) {
			lf_y_err(err, cfg ? cfg : node, cpath,
			         "gauge action must be defined as `set`, `inc`, `dec`, `add`, or "
			         "`sub`");
			goto out;
		}
		if (m->action == A_NONE) {
			lf_y_err(err, an, cpath,
			         "action %s is not valid, action must be `set`, `inc`, `dec`, "
			         "`add`, or "
			         "`sub`",
			         action);
			goto out;
		}
	} else {
		const struct lf_ynode *b = lf_ymap_get(cfg, "buckets");
		if (b && b->kind == LF_Y_SEQ) {
			m->bounds = calloc(b->n ? b->n : 1, sizeof *m->bounds);
			if (!m->bounds)
				goto oom;
			for (size_t i = 0; i < b->n; i++) {
				if (lf_y_double(b->items[i], cpath, &m->bounds[i], err) < 0)
					goto out;
				if (i && m->bounds[i] <= m->bounds[i - 1]) {
					lf_y_err(err, b->items[i], cpath,
					         "histogram buckets must be in increasing order");
					goto out;
				}
			}
			m->nbounds = b->n;
		} else {
			/* Prometheus DefBuckets */
			static const double def[] = {.005, .01, .025, .05, .1, .25,
			                             .5,   1,   2.5,  5,   10};
			m->bounds = malloc(sizeof def);
			if (!m->bounds)
				goto oom;
			memcpy(m->bounds, def, sizeof def);
			m->nbounds = sizeof def / sizeof def[0];
		}
	}
	rc = 0;
	goto out;
oom:
	lf_err(err, "out of memory");
out:
	free(type);
	free(prefix);
	free(action);
	return rc;
}

static int metrics_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                          struct lf_error *err)
{
	if (!cfg || cfg->kind != LF_Y_MAP)
		return lf_y_err(err, cfg, ctx->path, "empty metric stage configuration");
	struct metrics_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	pthread_mutex_init(&s->mu, NULL);
	s->sh = ctx->sh;
	s->m = calloc(cfg->n ? cfg->n : 1, sizeof *s->m);
	if (!s->m) {
		metrics_free(s);
		return lf_err(err, "out of memory");
	}
	for (size_t i = 0; i < cfg->n; i++) {
		char path[700];
		snprintf(path, sizeof path, "%s.%s", ctx->path, cfg->pairs[i].key->str);
		s->n = i + 1;
		if (read_metric(cfg->pairs[i].key, cfg->pairs[i].value, path, &s->m[i], err) < 0) {
			metrics_free(s);
			return -1;
		}
	}
	if (ctx->sh->metrics) {
		s->reg = ctx->sh->metrics;
		if (lf_metrics_add_collector(s->reg, collect, s) < 0) {
			s->reg = NULL;
			metrics_free(s);
			return lf_err(err, "out of memory");
		}
	}
	*state = s;
	return 0;
}

static struct series *get_series(struct metric *m, const struct lf_labels *ls, int64_t now)
{
	bool created;
	struct lf_smap_slot *slot = lf_smap_put(&m->series, ls, lf_labels_hash(ls), &created);
	if (!slot)
		return NULL;
	if (!slot->val) {
		struct series *se = calloc(1, sizeof *se);
		if (se && m->type == M_HISTOGRAM)
			se->buckets = calloc(m->nbounds ? m->nbounds : 1, sizeof *se->buckets);
		if (!se || (m->type == M_HISTOGRAM && !se->buckets)) {
			if (se)
				series_free(se);
			lf_smap_del(&m->series, slot);
			return NULL;
		}
		slot->val = se;
	}
	struct series *se = slot->val;
	se->last_ns = now;
	return se;
}

static void record(struct metrics_stage *s, struct metric *m, struct lf_entry *e, int64_t now)
{
	if (m->type == M_COUNTER && m->match_all) {
		struct series *se = get_series(m, &e->labels, now);
		if (se)
			se->value += m->count_bytes ? (double)e->line.len : 1;
		return;
	}
	const char *v = lf_extracted_get(e, m->source);
	if (!v)
		return;
	if (m->value && strcmp(m->value, v) != 0)
		return;
	double f = 0;
	bool need_f = m->type == M_HISTOGRAM || m->action == A_ADD || m->action == A_SET ||
	              m->action == A_SUB;
	if (need_f && lf_parse_go_float(v, &f) < 0) {
		lf_stage_count_error(s->sh, "metrics", "not_a_number");
		return;
	}
	if (m->type == M_COUNTER && m->action == A_ADD && f < 0) {
		lf_stage_count_error(s->sh, "metrics", "negative_counter_add");
		return;
	}
	struct series *se = get_series(m, &e->labels, now);
	if (!se)
		return;
	if (m->type == M_HISTOGRAM) {
		se->value += f;
		se->count++;
		for (size_t i = 0; i < m->nbounds; i++)
			if (f <= m->bounds[i])
				se->buckets[i]++;
		return;
	}
	switch (m->action) {
	case A_INC:
		se->value += 1;
		break;
	case A_DEC:
		se->value -= 1;
		break;
	case A_ADD:
		se->value += f;
		break;
	case A_SUB:
		se->value -= f;
		break;
	case A_SET:
		se->value = f;
		break;
	default:
		break;
	}
}

static enum lf_pipe_result metrics_process(void *state, struct lf_entry *e,
                                           const struct lf_chain *rest)
{
	(void)rest;
	struct metrics_stage *s = state;
	int64_t now = lf_monotonic_ns();
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n; i++)
		record(s, &s->m[i], e, now);
	pthread_mutex_unlock(&s->mu);
	return LF_PIPE_EMITTED;
}

/* Drops series idle for longer than max_idle. Called with mu held. */
static void expire(struct metrics_stage *s, int64_t now)
{
	for (size_t i = 0; i < s->n; i++) {
		struct metric *m = &s->m[i];
		for (size_t k = 0; k < m->series.cap;) {
			struct lf_smap_slot *slot = &m->series.v[k];
			if (slot->live &&
			    now - ((struct series *)slot->val)->last_ns > m->max_idle) {
				lf_smap_del(&m->series, slot);
				continue; /* backshift may have moved another slot here */
			}
			k++;
		}
	}
}

static void metrics_tick(void *state, int64_t now_ns, const struct lf_chain *rest)
{
	(void)rest;
	(void)now_ns;
	struct metrics_stage *s = state;
	pthread_mutex_lock(&s->mu);
	expire(s, lf_monotonic_ns());
	pthread_mutex_unlock(&s->mu);
}

/* Prometheus text format number (Go 'g' shortest). */
static void fmt_num(struct lf_buf *out, double v)
{
	if (isnan(v))
		lf_buf_appends(out, "NaN");
	else if (isinf(v))
		lf_buf_appends(out, v > 0 ? "+Inf" : "-Inf");
	else
		lf_fmt_go_float_g(out, v);
}

static void collect(void *ctx, struct lf_buf *out)
{
	struct metrics_stage *s = ctx;
	pthread_mutex_lock(&s->mu);
	expire(s, lf_monotonic_ns());
	struct lf_labels tmp = LF_LABELS_INIT;
	for (size_t i = 0; i < s->n; i++) {
		struct metric *m = &s->m[i];
		static const char *const tn[] = {"counter", "gauge", "histogram"};
		lf_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
		              tn[m->type]);
		size_t n;
		struct lf_smap_slot **v = lf_smap_ordered(&m->series, &n);
		for (size_t k = 0; v && k < n; k++) {
			struct series *se = v[k]->val;
			if (m->type != M_HISTOGRAM) {
				lf_buf_appends(out, m->name);
				lf_labels_render(&v[k]->key, out);
				lf_buf_putc(out, ' ');
				fmt_num(out, se->value);
				lf_buf_putc(out, '\n');
				continue;
			}
			for (size_t b = 0; b <= m->nbounds; b++) {
				lf_labels_copy(&tmp, &v[k]->key);
				struct lf_buf le = LF_BUF_INIT;
				if (b < m->nbounds)
					fmt_num(&le, m->bounds[b]);
				else
					lf_buf_appends(&le, "+Inf");
				lf_labels_set(&tmp, "le", le.data);
				lf_buf_free(&le);
				lf_buf_printf(out, "%s_bucket", m->name);
				lf_labels_render(&tmp, out);
				lf_buf_printf(out, " %llu\n",
				              (unsigned long long)(b < m->nbounds ? se->buckets[b]
				                                                  : se->count));
			}
			lf_buf_printf(out, "%s_sum", m->name);
			lf_labels_render(&v[k]->key, out);
			lf_buf_putc(out, ' ');
			fmt_num(out, se->value);
			lf_buf_printf(out, "\n%s_count", m->name);
			lf_labels_render(&v[k]->key, out);
			lf_buf_printf(out, " %llu\n", (unsigned long long)se->count);
		}
		free(v);
	}
	lf_labels_free(&tmp);
	pthread_mutex_unlock(&s->mu);
}

static void metrics_reads(void *state, struct lf_keyset *ks)
{
	struct metrics_stage *s = state;
	for (size_t i = 0; i < s->n; i++)
		lf_keyset_add(ks, s->m[i].source);
}

const struct lf_stage_ops lf_stage_metrics = {
        .kind = "metrics",
        .create = metrics_create,
        .process = metrics_process,
        .tick = metrics_tick,
        .free = metrics_free,
        .reads = metrics_reads,
};
