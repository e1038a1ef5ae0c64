/* ruler.c — see ruler.h. */
#include "ruler.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eval.h"
#include "log.h"
#include "meval.h"
#include "notifier.h"
#include "remote_write.h"
#include "rules.h"
#include "timeutil.h"
#include "yamlcfg.h"

struct rule_state {
	bool alerting;
	struct lf_alert_rule ar;
	const char *health; /* "unknown" | "ok" | "err" */
	char last_error[512];
	int64_t last_eval;
	double eval_seconds;
};

struct group_state {
	struct lf_rule_group g;
	struct rule_state *rs;
	int64_t interval;
	int64_t next_eval;
	int64_t last_eval;
	double eval_seconds;
	char *metric_name; /* "ns;group" */
};

struct tenant_state {
	char *id;
	struct group_state **groups;
	size_t n;
};

struct restore_item {
	char *key; /* tenant \x1f ns \x1f group \x1f rule name */
	struct lf_labels labels;
	enum lf_alert_state state;
	int64_t active_at, fired_at;
	int64_t saved_at; /* when the state was written: about when the store went down */
	double value;
};

struct lf_ruler {
	const struct lf_store_config *scfg;
	const struct lf_ruler_config *cfg;
	struct lf_store *store;
	struct lf_notifier *notifier;
	struct lf_rw *rw;
	char *state_dir;
	pthread_t th;
	bool running;
	pthread_mutex_t mu;       /* guards tenants, stop, kicked */
	pthread_mutex_t files_mu; /* rules API writers */
	pthread_cond_t cv;
	bool stop, kicked;
	struct tenant_state *tenants;
	size_t n_tenants;
	struct restore_item *restore;
	size_t n_restore;
	struct lf_metric_family *m_evals, *m_fail, *m_dur, *m_last_dur, *m_missed, *m_load_err;
};

const struct lf_ruler_config *lf_ruler_config(const struct lf_ruler *r)
{
	return r->cfg;
}

/* ---- state persistence ---- */

static json_t *labels_json(const struct lf_labels *ls)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < ls->n; i++)
		json_object_set_new(o, ls->v[i].name,
		                    json_stringn(ls->v[i].value, ls->v[i].value_len));
	return o;
}

static int json_labels(json_t *o, struct lf_labels *ls)
{
	const char *k;
	json_t *v;
	if (!json_is_object(o))
		return -1;
	json_object_foreach(o, k, v)
	{
		if (!json_is_string(v) || lf_labels_set(ls, k, json_string_value(v)) < 0)
			return -1;
	}
	return 0;
}

static char *restore_key(const char *tenant, const char *ns, const char *group, const char *rule)
{
	struct lf_buf b = LF_BUF_INIT;
	lf_buf_printf(&b, "%s\x1f%s\x1f%s\x1f%s", tenant, ns, group, rule);
	return lf_buf_take(&b);
}

static void save_tenant(struct lf_ruler *r, const struct tenant_state *t)
{
	json_t *root = json_object(), *alerts = json_array();
	json_object_set_new(root, "saved_at", json_integer(lf_now_ns()));
	for (size_t gi = 0; gi < t->n; gi++) {
		const struct group_state *g = t->groups[gi];
		for (size_t ri = 0; ri < g->g.n_rules; ri++) {
			const struct rule_state *rs = &g->rs[ri];
			if (!rs->alerting)
				continue;
			for (size_t ai = 0; ai < rs->ar.n_alerts; ai++) {
				const struct lf_alert *a = &rs->ar.alerts[ai];
				if (a->state == LF_ALERT_INACTIVE)
					continue;
				json_t *o = json_object();
				json_object_set_new(o, "ns", json_string(g->g.ns));
				json_object_set_new(o, "group", json_string(g->g.name));
				json_object_set_new(o, "rule", json_string(g->g.rules[ri].name));
				json_object_set_new(o, "labels", labels_json(&a->labels));
				json_object_set_new(o, "state",
				                    json_string(lf_alert_state_name(a->state)));
				json_object_set_new(o, "active_at", json_integer(a->active_at));
				json_object_set_new(o, "fired_at", json_integer(a->fired_at));
				json_object_set_new(o, "value",
				                    json_real(isfinite(a->value) ? a->value : 0));
				json_array_append_new(alerts, o);
			}
		}
	}
	json_object_set_new(root, "alerts", alerts);
	char path[4096], tmp[4200];
	snprintf(path, sizeof(path), "%s/%s.json", r->state_dir, t->id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_dump_file(root, tmp, JSON_COMPACT) < 0 || rename(tmp, path) < 0)
		lf_warn("ruler: cannot write alert state: path=%s err: %s", path, strerror(errno));
	json_decref(root);
}

static void load_restore(struct lf_ruler *r)
{
	char **tenants = NULL;
	struct lf_error err;
	if (lf_rules_list_tenants(r->cfg->local_directory, &tenants, &err) < 0)
		return;
	int64_t now = lf_now_ns();
	for (size_t i = 0; tenants[i]; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s.json", r->state_dir, tenants[i]);
		json_error_t je;
		json_t *root = json_load_file(path, 0, &je);
		if (!root)
			continue;
		json_int_t saved = json_integer_value(json_object_get(root, "saved_at"));
		if (r->cfg->for_outage_tolerance > 0 &&
		    now - saved > r->cfg->for_outage_tolerance) {
			lf_info("ruler: alert state of tenant %s is older than "
			        "for_outage_tolerance, not restored",
			        tenants[i]);
			json_decref(root);
			continue;
		}
		json_t *alerts = json_object_get(root, "alerts"), *a;
		size_t idx;
		json_array_foreach(alerts, idx, a)
		{
			struct restore_item *nv =
			        realloc(r->restore, (r->n_restore + 1) * sizeof(*r->restore));
			if (!nv)
				break;
			r->restore = nv;
			struct restore_item *it = &r->restore[r->n_restore];
			memset(it, 0, sizeof(*it));
			const char *ns = json_string_value(json_object_get(a, "ns"));
			const char *gr = json_string_value(json_object_get(a, "group"));
			const char *ru = json_string_value(json_object_get(a, "rule"));
			const char *st = json_string_value(json_object_get(a, "state"));
			if (!ns || !gr || !ru || !st ||
			    json_labels(json_object_get(a, "labels"), &it->labels) < 0) {
				lf_labels_free(&it->labels);
				continue;
			}
			it->key = restore_key(tenants[i], ns, gr, ru);
			it->state = !strcmp(st, "firing") ? LF_ALERT_FIRING : LF_ALERT_PENDING;
			it->active_at = json_integer_value(json_object_get(a, "active_at"));
			it->fired_at = json_integer_value(json_object_get(a, "fired_at"));
			it->saved_at = saved;
			it->value = json_number_value(json_object_get(a, "value"));
			r->n_restore++;
		}
		json_decref(root);
	}
	lf_strv_free(tenants);
	if (r->n_restore)
		lf_info("ruler: restoring %zu pending/firing alerts", r->n_restore);
}

static void apply_restore(struct lf_ruler *r, const char *tenant, struct group_state *g)
{
	for (size_t ri = 0; ri < g->g.n_rules; ri++) {
		if (!g->rs[ri].alerting)
			continue;
		char *key = restore_key(tenant, g->g.ns, g->g.name, g->g.rules[ri].name);
		for (size_t i = 0; key && i < r->n_restore; i++) {
			struct restore_item *it = &r->restore[i];
			if (!it->key || strcmp(it->key, key))
				continue;
			int64_t active_at = it->active_at;
			bool restore = it->state == LF_ALERT_FIRING ||
			               lf_alert_restore_active_at(
			                       g->g.rules[ri].for_ns, r->cfg->for_grace_period,
			                       it->saved_at, lf_now_ns(), &active_at);
			if (restore)
				lf_alert_rule_restore(&g->rs[ri].ar, &it->labels, it->state,
				                      active_at, it->fired_at, it->value);
			free(it->key);
			it->key = NULL;
		}
		free(key);
	}
}

static void free_restore(struct lf_ruler *r)
{
	for (size_t i = 0; i < r->n_restore; i++) {
		free(r->restore[i].key);
		lf_labels_free(&r->restore[i].labels);
	}
	free(r->restore);
	r->restore = NULL;
	r->n_restore = 0;
}

/* ---- groups ---- */

static void group_free(struct group_state *g)
{
	if (!g)
		return;
	for (size_t i = 0; g->rs && i < g->g.n_rules; i++)
		if (g->rs[i].alerting)
			lf_alert_rule_fini(&g->rs[i].ar);
	free(g->rs);
	free(g->metric_name);
	lf_rule_group_free(&g->g);
	free(g);
}

/* Takes g's contents. */
static struct group_state *group_new(struct lf_ruler *r, const char *tenant,
                                     struct lf_rule_group *src, struct lf_error *err)
{
	struct group_state *g = calloc(1, sizeof(*g));
	if (!g)
		return lf_err(err, "out of memory"), NULL;
	g->g = *src;
	memset(src, 0, sizeof(*src));
	g->rs = calloc(g->g.n_rules ? g->g.n_rules : 1, sizeof(*g->rs));
	struct lf_buf b = LF_BUF_INIT;
	lf_buf_printf(&b, "%s;%s", g->g.ns, g->g.name);
	g->metric_name = lf_buf_take(&b);
	if (!g->rs || !g->metric_name) {
		group_free(g);
		return lf_err(err, "out of memory"), NULL;
	}
	for (size_t i = 0; i < g->g.n_rules; i++) {
		g->rs[i].health = "unknown";
		if (g->g.rules[i].alerting) {
			if (lf_alert_rule_init(&g->rs[i].ar, &g->g.rules[i], err) < 0) {
				group_free(g);
				return NULL;
			}
			g->rs[i].alerting = true;
		}
	}
	g->interval = g->g.interval > 0 ? g->g.interval : r->cfg->evaluation_interval;
	/* the first evaluation comes at once, then every interval */
	g->next_eval = lf_now_ns();
	apply_restore(r, tenant, g);
	return g;
}

static struct tenant_state *find_tenant(struct lf_ruler *r, const char *id)
{
	for (size_t i = 0; i < r->n_tenants; i++)
		if (r->tenants[i].id && !strcmp(r->tenants[i].id, id))
			return &r->tenants[i];
	return NULL;
}

static void poll_rules(struct lf_ruler *r)
{
	struct lf_error err;
	char **ids = NULL;
	if (lf_rules_list_tenants(r->cfg->local_directory, &ids, &err) < 0) {
		lf_error("ruler: unable to list rules: %s", err.msg);
		const char *lv[] = {""};
		lf_metric_inc(r->m_load_err, lv);
		return;
	}
	struct lf_rule_limits lim = {r->cfg->max_rule_file_size, r->cfg->max_rules_per_tenant};
	size_t n_ids = 0;
	while (ids[n_ids])
		n_ids++;
	struct tenant_state *nt = calloc(n_ids ? n_ids : 1, sizeof(*nt));
	struct lf_rule_groups *loaded = calloc(n_ids ? n_ids : 1, sizeof(*loaded));
	bool *ok = calloc(n_ids ? n_ids : 1, sizeof(*ok));
	if (!nt || !loaded || !ok) {
		free(nt);
		free(loaded);
		free(ok);
		lf_strv_free(ids);
		return;
	}
	/* 1: read and validate the files (no lock: the API keeps reading) */
	for (size_t i = 0; i < n_ids; i++) {
		if (lf_tenant_id_valid(ids[i], strlen(ids[i]), &err) < 0) {
			lf_warn("ruler: skipping rule directory %s/%s: %s", r->cfg->local_directory,
			        ids[i], err.msg);
			continue;
		}
		if (lf_rules_load_tenant(r->cfg->local_directory, ids[i], &lim, &loaded[i], &err) <
		    0) {
			lf_error("ruler: unable to load rules, keeping the last good ones: "
			         "tenant=%s: %s",
			         ids[i], err.msg);
			const char *lv[] = {ids[i]};
			lf_metric_inc(r->m_load_err, lv);
			continue;
		}
		ok[i] = true;
	}
	/* 2: the new state, moving what stays from the old one, and the swap */
	pthread_mutex_lock(&r->mu);
	size_t n_nt = 0;
	for (size_t i = 0; i < n_ids; i++) {
		struct tenant_state *old = find_tenant(r, ids[i]);
		struct tenant_state *t = &nt[n_nt];
		if (!ok[i]) {
			if (old && lf_tenant_id_valid(ids[i], strlen(ids[i]), NULL) == 0) {
				*t = *old; /* the last good rules, state and all */
				old->groups = NULL;
				old->n = 0;
				old->id = NULL;
				n_nt++;
			}
			continue;
		}
		struct lf_rule_groups *gs = &loaded[i];
		t->id = strdup(ids[i]);
		t->groups = calloc(gs->n ? gs->n : 1, sizeof(*t->groups));
		if (!t->id || !t->groups) {
			free(t->id);
			free(t->groups);
			memset(t, 0, sizeof(*t));
			continue;
		}
		for (size_t gi = 0; gi < gs->n; gi++) {
			struct group_state *keep = NULL;
			for (size_t oi = 0; old && oi < old->n; oi++) {
				struct group_state *og = old->groups[oi];
				if (og && lf_rule_group_equal(&og->g, &gs->v[gi])) {
					keep = og;
					old->groups[oi] = NULL;
					break;
				}
			}
			if (!keep) {
				keep = group_new(r, ids[i], &gs->v[gi], &err);
				/* a changed group: alerts of rules that kept their name carry over
				 */
				for (size_t oi = 0; keep && old && oi < old->n; oi++) {
					struct group_state *og = old->groups[oi];
					if (!og || strcmp(og->g.ns, keep->g.ns) ||
					    strcmp(og->g.name, keep->g.name))
						continue;
					for (size_t a = 0; a < keep->g.n_rules; a++)
						for (size_t b = 0; b < og->g.n_rules; b++)
							if (keep->rs[a].alerting &&
							    og->rs[b].alerting &&
							    og->rs[b].ar.n_alerts &&
							    !strcmp(keep->g.rules[a].name,
							            og->g.rules[b].name)) {
								lf_alert_rule_take_state(
								        &keep->rs[a].ar,
								        &og->rs[b].ar);
								break;
							}
				}
			}
			if (!keep) {
				lf_error("ruler: group not loaded: tenant=%s: %s", ids[i], err.msg);
				continue;
			}
			t->groups[t->n++] = keep;
		}
		n_nt++;
	}
	struct tenant_state *old = r->tenants;
	size_t n_old = r->n_tenants;
	r->tenants = nt;
	r->n_tenants = n_nt;
	pthread_mutex_unlock(&r->mu);
	for (size_t i = 0; i < n_old; i++) {
		for (size_t g = 0; g < old[i].n; g++)
			group_free(old[i].groups[g]);
		free(old[i].groups);
		free(old[i].id);
	}
	free(old);
	for (size_t i = 0; i < n_ids; i++)
		lf_rule_groups_free(&loaded[i]);
	free(loaded);
	free(ok);
	lf_strv_free(ids);
	free_restore(r); /* only the first load restores */
}

/* ---- evaluation ---- */

static int parse_result(const char *body, size_t len, int64_t ts, struct lf_sample **out, size_t *n,
                        struct lf_error *err)
{
	*out = NULL;
	*n = 0;
	json_error_t je;
	json_t *root = json_loadb(body, len, 0, &je);
	if (!root)
		return lf_err(err, "unreadable query result: %s", je.text);
	json_t *data = json_object_get(root, "data");
	const char *type = json_string_value(json_object_get(data, "resultType"));
	json_t *res = json_object_get(data, "result");
	int rc = 0;
	if (type && !strcmp(type, "scalar")) {
		struct lf_sample *s = calloc(1, sizeof(*s));
		const char *v = json_string_value(json_array_get(res, 1));
		if (!s || !v) {
			free(s);
			rc = lf_err(err, "unreadable scalar result");
		} else {
			s->value = strtod(v, NULL);
			*out = s;
			*n = 1;
		}
	} else if (type && !strcmp(type, "vector")) {
		size_t cnt = json_array_size(res);
		struct lf_sample *s = calloc(cnt ? cnt : 1, sizeof(*s));
		if (!s)
			rc = lf_err(err, "out of memory");
		for (size_t i = 0; s && i < cnt; i++) {
			json_t *e = json_array_get(res, i);
			const char *v =
			        json_string_value(json_array_get(json_object_get(e, "value"), 1));
			if (!v || json_labels(json_object_get(e, "metric"), &s[i].metric) < 0) {
				lf_samples_free(s, cnt);
				free(s);
				s = NULL;
				rc = lf_err(err, "unreadable vector result");
				break;
			}
			s[i].value = strtod(v, NULL);
		}
		if (s) {
			*out = s;
			*n = cnt;
		}
	} else
		rc = lf_err(err, "rule result is not a vector or scalar");
	(void)ts;
	json_decref(root);
	return rc;
}

struct send_ctx {
	struct lf_ruler *r;
	const char *tenant;
	const char *group;
	const struct lf_rule *rule;
	struct lf_buf buf;
};

static void url_escape(struct lf_buf *o, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~')
			lf_buf_putc(o, (char)c);
		else if (c == ' ')
			lf_buf_putc(o, '+');
		else
			lf_buf_printf(o, "%%%02X", c);
	}
}

static void send_alert(void *ctx, const struct lf_alert *a, int64_t ends_at)
{
	struct send_ctx *c = ctx;
	struct lf_buf *b = &c->buf;
	char t[48];
	lf_buf_reset(b);
	lf_buf_appends(b, "{\"labels\":{");
	struct lf_labels all = LF_LABELS_INIT;
	lf_labels_copy(&all, &a->labels);
	lf_labels_merge(&all, &c->r->cfg->external_labels, false);
	for (size_t i = 0; i < all.n; i++) {
		if (i)
			lf_buf_putc(b, ',');
		lf_buf_append_json_string(b, all.v[i].name, all.v[i].name_len);
		lf_buf_putc(b, ':');
		lf_buf_append_json_string(b, all.v[i].value, all.v[i].value_len);
	}
	lf_labels_free(&all);
	lf_buf_appends(b, "},\"annotations\":{");
	for (size_t i = 0; i < a->annotations.n; i++) {
		if (i)
			lf_buf_putc(b, ',');
		lf_buf_append_json_string(b, a->annotations.v[i].name,
		                          a->annotations.v[i].name_len);
		lf_buf_putc(b, ':');
		lf_buf_append_json_string(b, a->annotations.v[i].value,
		                          a->annotations.v[i].value_len);
	}
	lf_format_rfc3339nano(a->fired_at ? a->fired_at : a->active_at, t);
	lf_buf_printf(b, "},\"startsAt\":\"%s\"", t);
	lf_format_rfc3339nano(ends_at, t);
	lf_buf_printf(b, ",\"endsAt\":\"%s\",\"generatorURL\":", t);
	struct lf_buf u = LF_BUF_INIT;
	lf_buf_appends(&u, c->r->cfg->external_url);
	lf_buf_appends(&u, "/graph?g0.expr=");
	url_escape(&u, c->rule->expr);
	lf_buf_appends(&u, "&g0.tab=1");
	lf_buf_append_json_string(b, u.data, u.len);
	lf_buf_free(&u);
	lf_buf_putc(b, '}');
	if (c->r->notifier)
		lf_notifier_send(c->r->notifier, c->tenant, c->group, b->data, b->len);
}

/* ALERTS{alertname, alertstate, ...} 1 for every pending/firing alert. */
static void alerts_series(struct lf_ruler *r, const char *tenant, const struct lf_alert_rule *ar,
                          int64_t ts)
{
	if (!r->rw || !ar->n_alerts)
		return;
	struct lf_sample *s = calloc(2 * ar->n_alerts, sizeof(*s));
	size_t n = 0;
	for (size_t i = 0; s && i < ar->n_alerts; i++) {
		const struct lf_alert *a = &ar->alerts[i];
		if (a->state == LF_ALERT_INACTIVE)
			continue;
		lf_labels_copy(&s[n].metric, &a->labels);
		lf_labels_set(&s[n].metric, "__name__", "ALERTS");
		lf_labels_set(&s[n].metric, "alertstate", lf_alert_state_name(a->state));
		s[n++].value = 1;
		/* ALERTS_FOR_STATE: the alert's activeAt in seconds */
		lf_labels_copy(&s[n].metric, &a->labels);
		lf_labels_set(&s[n].metric, "__name__", "ALERTS_FOR_STATE");
		s[n++].value = (double)(a->active_at / LF_NS_PER_SEC);
	}
	if (n)
		lf_rw_push(r->rw, tenant, s, n, ts / 1000000);
	lf_samples_free(s, n);
	free(s);
}

static void eval_group(struct lf_ruler *r, const char *tenant, struct group_state *g, int64_t ts)
{
	int64_t g0 = lf_monotonic_ns();
	struct lf_tenant *t = lf_store_tenant(r->store, tenant, false, NULL);
	struct lf_mq_source src = lf_mq_tenant_source(t);
	struct lf_mq_limits lim;
	lf_mq_limits_default(&lim);
	lim.max_query_series = r->scfg->limits.max_query_series;
	lim.query_timeout = r->cfg->eval_timeout < g->interval ? r->cfg->eval_timeout : g->interval;
	const char *lv[] = {tenant, g->metric_name};
	struct lf_eval_env env = {&r->cfg->external_labels, r->cfg->external_url};
	for (size_t i = 0; i < g->g.n_rules; i++) {
		const struct lf_rule *rule = &g->g.rules[i];
		struct rule_state *rs = &g->rs[i];
		int64_t t0 = lf_monotonic_ns();
		struct lf_buf out = LF_BUF_INIT;
		struct lf_error err;
		int status = 0;
		struct lf_mq_request rq = {rule->expr, false, ts, ts, NULL};
		struct lf_sample *s = NULL;
		size_t n = 0;
		lf_metric_inc(r->m_evals, lv);
		int rc = lf_mq_run(&src, &rq, &lim, &out, &status, &err);
		if (rc == 0)
			rc = parse_result(out.data, out.len, ts, &s, &n, &err);
		lf_buf_free(&out);
		if (rc == 0 && g->g.limit > 0 && (int64_t)n > g->g.limit)
			rc = lf_err(err.msg[0] ? &err : &err, "exceeded limit of %lld with %zu %s",
			            (long long)g->g.limit, n, rule->alerting ? "alerts" : "series");
		if (rc == 0 && rule->alerting) {
			pthread_mutex_lock(&r->mu);
			rc = lf_alert_rule_eval(&rs->ar, s, n, ts, &env, &err);
			if (rc == 0) {
				struct send_ctx sc = {r, tenant, g->metric_name, rule, LF_BUF_INIT};
				lf_alert_rule_collect(&rs->ar, ts, r->cfg->resend_delay,
				                      g->interval, send_alert, &sc);
				lf_buf_free(&sc.buf);
				alerts_series(r, tenant, &rs->ar, ts);
			}
			pthread_mutex_unlock(&r->mu);
		} else if (rc == 0) {
			struct lf_sample *rec = calloc(n ? n : 1, sizeof(*rec));
			if (!rec)
				rc = lf_err(&err, "out of memory");
			else if ((rc = lf_record_samples(rule, s, n, rec, &err)) == 0) {
				if (r->rw && n)
					lf_rw_push(r->rw, tenant, rec, n, ts / 1000000);
				lf_samples_free(rec, n);
			}
			free(rec);
		}
		lf_samples_free(s, n);
		free(s);
		pthread_mutex_lock(&r->mu);
		rs->last_eval = ts;
		rs->eval_seconds = (double)(lf_monotonic_ns() - t0) / 1e9;
		if (rc == 0) {
			rs->health = "ok";
			rs->last_error[0] = 0;
		} else {
			rs->health = "err";
			snprintf(rs->last_error, sizeof(rs->last_error), "%s", err.msg);
		}
		pthread_mutex_unlock(&r->mu);
		if (rc < 0) {
			lf_metric_inc(r->m_fail, lv);
			lf_warn("ruler: evaluating rule failed: tenant=%s group=%s rule=%s "
			        "err: %s",
			        tenant, g->metric_name, rule->name, err.msg);
		}
	}
	double secs = (double)(lf_monotonic_ns() - g0) / 1e9;
	pthread_mutex_lock(&r->mu);
	g->last_eval = ts;
	g->eval_seconds = secs;
	pthread_mutex_unlock(&r->mu);
	lf_metric_observe(r->m_dur, lv, secs);
	lf_metric_set(r->m_last_dur, lv, secs);
}

static void *run(void *arg)
{
	struct lf_ruler *r = arg;
	int64_t next_poll = 0;
	for (;;) {
		pthread_mutex_lock(&r->mu);
		bool stop = r->stop, kicked = r->kicked;
		r->kicked = false;
		pthread_mutex_unlock(&r->mu);
		if (stop)
			break;
		int64_t now = lf_now_ns();
		if (kicked || now >= next_poll) {
			poll_rules(r);
			next_poll = now + r->cfg->poll_interval;
		}
		/* groups are only added/removed by this thread: no lock to walk them */
		for (size_t ti = 0; ti < r->n_tenants; ti++) {
			struct tenant_state *t = &r->tenants[ti];
			bool any = false;
			for (size_t gi = 0; gi < t->n; gi++) {
				struct group_state *g = t->groups[gi];
				now = lf_now_ns();
				if (now < g->next_eval)
					continue;
				eval_group(r, t->id, g, g->next_eval);
				any = true;
				g->next_eval += g->interval;
				now = lf_now_ns();
				if (g->next_eval <= now) {
					int64_t missed = (now - g->next_eval) / g->interval + 1;
					const char *lv[] = {t->id, g->metric_name};
					lf_metric_add(r->m_missed, lv, (double)missed);
					g->next_eval += missed * g->interval;
				}
				pthread_mutex_lock(&r->mu);
				stop = r->stop;
				pthread_mutex_unlock(&r->mu);
				if (stop)
					break;
			}
			if (any) {
				pthread_mutex_lock(&r->mu);
				save_tenant(r, t);
				pthread_mutex_unlock(&r->mu);
			}
		}
		int64_t wake = next_poll;
		for (size_t ti = 0; ti < r->n_tenants; ti++)
			for (size_t gi = 0; gi < r->tenants[ti].n; gi++)
				if (r->tenants[ti].groups[gi]->next_eval < wake)
					wake = r->tenants[ti].groups[gi]->next_eval;
		struct timespec ts = {wake / LF_NS_PER_SEC, wake % LF_NS_PER_SEC};
		pthread_mutex_lock(&r->mu);
		while (!r->stop && !r->kicked &&
		       pthread_cond_timedwait(&r->cv, &r->mu, &ts) != ETIMEDOUT)
			;
		pthread_mutex_unlock(&r->mu);
	}
	return NULL;
}

static int mkdirs(const char *path, struct lf_error *err)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
				return lf_err(err, "mkdir %s: %s", tmp, strerror(errno));
			*p = '/';
		}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		return lf_err(err, "mkdir %s: %s", tmp, strerror(errno));
	return 0;
}

int lf_ruler_start(const struct lf_store_config *scfg, struct lf_store *store,
                   struct lf_metrics *reg, struct lf_ruler **out, struct lf_error *err)
{
	*out = NULL;
	const struct lf_ruler_config *cfg = &scfg->ruler;
	if (!lf_ruler_enabled(cfg))
		return 0;
	struct lf_ruler *r = calloc(1, sizeof(*r));
	if (!r)
		return lf_err(err, "out of memory");
	r->scfg = scfg;
	r->cfg = cfg;
	r->store = store;
	struct lf_buf b = LF_BUF_INIT;
	lf_buf_printf(&b, "%s/ruler", scfg->path_prefix);
	r->state_dir = lf_buf_take(&b);
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->files_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	const char *tg[] = {"tenant", "rule_group", NULL};
	const char *tn[] = {"tenant", NULL};
	static const double buckets[] = {0.001, 0.01, 0.1, 0.5, 1, 5, 10, 60};
	r->m_evals =
	        lf_metrics_family(reg, LF_METRIC_COUNTER, "logferry_store_ruler_evaluations_total",
	                          "Rule evaluations.", tg, NULL, 0);
	r->m_fail = lf_metrics_family(reg, LF_METRIC_COUNTER,
	                              "logferry_store_ruler_evaluation_failures_total",
	                              "Rule evaluations that failed.", tg, NULL, 0);
	r->m_dur = lf_metrics_family(reg, LF_METRIC_HISTOGRAM,
	                             "logferry_store_ruler_group_evaluation_duration_seconds",
	                             "Time to evaluate a rule group.", tg, buckets,
	                             sizeof(buckets) / sizeof(buckets[0]));
	r->m_last_dur = lf_metrics_family(
	        reg, LF_METRIC_GAUGE, "logferry_store_ruler_group_last_duration_seconds",
	        "Duration of the last evaluation of a group.", tg, NULL, 0);
	r->m_missed = lf_metrics_family(
	        reg, LF_METRIC_COUNTER, "logferry_store_ruler_group_iterations_missed_total",
	        "Evaluations skipped because the group was late.", tg, NULL, 0);
	r->m_load_err = lf_metrics_family(reg, LF_METRIC_COUNTER,
	                                  "logferry_store_ruler_rule_load_failures_total",
	                                  "Rule polls that failed for a tenant.", tn, NULL, 0);
	if (!r->state_dir || mkdirs(r->state_dir, err) < 0)
		goto fail;
	if (cfg->rule_path[0] && mkdirs(cfg->rule_path, err) < 0) {
		lf_warn("ruler: rule_path not usable (unused by logferry-store): err: %s",
		        err->msg);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (cfg->alertmanager_url[0] && lf_notifier_start(cfg, reg, &r->notifier, err) < 0)
		goto fail;
	if (cfg->rw_enabled && lf_rw_start(cfg, reg, &r->rw, err) < 0)
		goto fail;
	load_restore(r);
	if (pthread_create(&r->th, NULL, run, r) != 0) {
		lf_err(err, "cannot start the ruler thread");
		goto fail;
	}
	r->running = true;
	lf_info("ruler started: rules=%s evaluation_interval=%llds alertmanager=%s",
	        cfg->local_directory, (long long)(cfg->evaluation_interval / LF_NS_PER_SEC),
	        cfg->alertmanager_url);
	*out = r;
	return 0;
fail:
	lf_ruler_stop(r);
	return -1;
}

void lf_ruler_stop(struct lf_ruler *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	if (r->running)
		pthread_join(r->th, NULL);
	for (size_t i = 0; i < r->n_tenants; i++) {
		save_tenant(r, &r->tenants[i]);
		for (size_t g = 0; g < r->tenants[i].n; g++)
			group_free(r->tenants[i].groups[g]);
		free(r->tenants[i].groups);
		free(r->tenants[i].id);
	}
	free(r->tenants);
	lf_notifier_stop(r->notifier);
	lf_rw_stop(r->rw);
	free_restore(r);
	free(r->state_dir);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->files_mu);
	pthread_cond_destroy(&r->cv);
	free(r);
}

void lf_ruler_files_lock(struct lf_ruler *r)
{
	pthread_mutex_lock(&r->files_mu);
}

void lf_ruler_files_unlock(struct lf_ruler *r)
{
	pthread_mutex_unlock(&r->files_mu);
}

void lf_ruler_kick(struct lf_ruler *r)
{
	pthread_mutex_lock(&r->mu);
	r->kicked = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* ---- API rendering ---- */

static void jstr(struct lf_buf *o, const char *s)
{
	lf_buf_append_json_string(o, s, strlen(s));
}

static void jlabels(struct lf_buf *o, const struct lf_labels *ls)
{
	lf_buf_putc(o, '{');
	for (size_t i = 0; i < ls->n; i++) {
		if (i)
			lf_buf_putc(o, ',');
		lf_buf_append_json_string(o, ls->v[i].name, ls->v[i].name_len);
		lf_buf_putc(o, ':');
		lf_buf_append_json_string(o, ls->v[i].value, ls->v[i].value_len);
	}
	lf_buf_putc(o, '}');
}

static void jtime(struct lf_buf *o, int64_t ns)
{
	char t[48];
	if (ns == 0) {
		lf_buf_appends(o, "\"0001-01-01T00:00:00Z\"");
		return;
	}
	lf_format_rfc3339nano(ns, t);
	lf_buf_printf(o, "\"%s\"", t);
}

static void jalert(struct lf_buf *o, const struct lf_alert *a)
{
	char v[64];
	lf_buf_appends(o, "{\"labels\":");
	jlabels(o, &a->labels);
	lf_buf_appends(o, ",\"annotations\":");
	jlabels(o, &a->annotations);
	lf_buf_printf(o, ",\"state\":\"%s\",\"activeAt\":", lf_alert_state_name(a->state));
	jtime(o, a->active_at);
	if (isnan(a->value))
		snprintf(v, sizeof(v), "NaN");
	else if (isinf(a->value))
		snprintf(v, sizeof(v), a->value > 0 ? "+Inf" : "-Inf");
	else {
		/* Go FormatFloat('e', -1): shortest mantissa, two-digit exponent */
		for (int p = 0; p < 17; p++) {
			snprintf(v, sizeof(v), "%.*e", p, a->value);
			if (strtod(v, NULL) == a->value)
				break;
		}
	}
	lf_buf_appends(o, ",\"value\":");
	jstr(o, v);
	lf_buf_putc(o, '}');
}

static int cmp_group(const void *a, const void *b)
{
	const struct group_state *x = *(struct group_state *const *)a,
	                         *y = *(struct group_state *const *)b;
	int c = strcmp(x->g.ns, y->g.ns);
	return c ? c : strcmp(x->g.name, y->g.name);
}

void lf_ruler_render_rules(struct lf_ruler *r, const char *tenant, struct lf_buf *o)
{
	lf_buf_appends(o, "{\"status\":\"success\",\"data\":{\"groups\":[");
	pthread_mutex_lock(&r->mu);
	struct tenant_state *t = find_tenant(r, tenant);
	struct group_state **sorted = NULL;
	size_t ns = 0;
	/* a poll in progress leaves NULL where a group moved to the new state */
	if (t && t->n && (sorted = malloc(t->n * sizeof(*sorted)))) {
		for (size_t i = 0; i < t->n; i++)
			if (t->groups[i])
				sorted[ns++] = t->groups[i];
		qsort(sorted, ns, sizeof(*sorted), cmp_group);
	}
	for (size_t gi = 0; sorted && gi < ns; gi++) {
		const struct group_state *g = sorted[gi];
		if (gi)
			lf_buf_putc(o, ',');
		lf_buf_appends(o, "{\"name\":");
		jstr(o, g->g.name);
		lf_buf_appends(o, ",\"file\":");
		jstr(o, g->g.ns);
		lf_buf_appends(o, ",\"rules\":[");
		for (size_t ri = 0; ri < g->g.n_rules; ri++) {
			const struct lf_rule *rule = &g->g.rules[ri];
			const struct rule_state *rs = &g->rs[ri];
			if (ri)
				lf_buf_putc(o, ',');
			lf_buf_putc(o, '{');
			if (rule->alerting)
				lf_buf_printf(o, "\"state\":\"%s\",",
				              lf_alert_state_name(lf_alert_rule_state(&rs->ar)));
			lf_buf_appends(o, "\"name\":");
			jstr(o, rule->name);
			lf_buf_appends(o, ",\"query\":");
			jstr(o, rule->expr);
			if (rule->alerting)
				lf_buf_printf(o, ",\"duration\":%g", (double)rule->for_ns / 1e9);
			lf_buf_appends(o, ",\"labels\":");
			jlabels(o, &rule->labels);
			if (rule->alerting) {
				lf_buf_appends(o, ",\"annotations\":");
				jlabels(o, &rule->annotations);
				lf_buf_appends(o, ",\"alerts\":[");
				size_t k = 0;
				for (size_t ai = 0; ai < rs->ar.n_alerts; ai++) {
					if (rs->ar.alerts[ai].state == LF_ALERT_INACTIVE)
						continue;
					if (k++)
						lf_buf_putc(o, ',');
					jalert(o, &rs->ar.alerts[ai]);
				}
				lf_buf_putc(o, ']');
			}
			lf_buf_printf(o, ",\"health\":\"%s\",\"lastError\":", rs->health);
			jstr(o, rs->last_error);
			lf_buf_printf(o, ",\"type\":\"%s\",\"lastEvaluation\":",
			              rule->alerting ? "alerting" : "recording");
			jtime(o, rs->last_eval);
			lf_buf_printf(o, ",\"evaluationTime\":%.9g}", rs->eval_seconds);
		}
		lf_buf_printf(o,
		              "],\"interval\":%g,\"lastEvaluation\":", (double)g->interval / 1e9);
		jtime(o, g->last_eval);
		lf_buf_printf(o, ",\"evaluationTime\":%.9g}", g->eval_seconds);
	}
	pthread_mutex_unlock(&r->mu);
	free(sorted);
	lf_buf_appends(o, "]},\"errorType\":\"\",\"error\":\"\"}");
}

void lf_ruler_render_alerts(struct lf_ruler *r, const char *tenant, struct lf_buf *o)
{
	lf_buf_appends(o, "{\"status\":\"success\",\"data\":{\"alerts\":[");
	pthread_mutex_lock(&r->mu);
	struct tenant_state *t = find_tenant(r, tenant);
	size_t k = 0;
	for (size_t gi = 0; t && gi < t->n; gi++) {
		const struct group_state *g = t->groups[gi];
		if (!g)
			continue;
		for (size_t ri = 0; ri < g->g.n_rules; ri++) {
			if (!g->rs[ri].alerting)
				continue;
			const struct lf_alert_rule *ar = &g->rs[ri].ar;
			for (size_t ai = 0; ai < ar->n_alerts; ai++) {
				if (ar->alerts[ai].state == LF_ALERT_INACTIVE)
					continue;
				if (k++)
					lf_buf_putc(o, ',');
				jalert(o, &ar->alerts[ai]);
			}
		}
	}
	pthread_mutex_unlock(&r->mu);
	lf_buf_appends(o, "]},\"errorType\":\"\",\"error\":\"\"}");
}
