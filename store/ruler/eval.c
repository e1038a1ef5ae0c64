/* eval.c — see eval.h. */
#include "eval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtemplate.h"
#include "template.h"

const char *lf_alert_state_name(enum lf_alert_state s)
{
	switch (s) {
	case LF_ALERT_PENDING:
		return "pending";
	case LF_ALERT_FIRING:
		return "firing";
	default:
		return "inactive";
	}
}

static void alert_free(struct lf_alert *a)
{
	lf_labels_free(&a->labels);
	lf_labels_free(&a->annotations);
}

int lf_alert_rule_init(struct lf_alert_rule *ar, const struct lf_rule *r, struct lf_error *err)
{
	memset(ar, 0, sizeof(*ar));
	ar->rule = r;
	ar->label_tmpl = calloc(r->labels.n + 1, sizeof(*ar->label_tmpl));
	ar->ann_tmpl = calloc(r->annotations.n + 1, sizeof(*ar->ann_tmpl));
	if (!ar->label_tmpl || !ar->ann_tmpl) {
		lf_alert_rule_fini(ar);
		return lf_err(err, "out of memory");
	}
	char name[300];
	snprintf(name, sizeof(name), "__alert_%s", r->name);
	for (size_t i = 0; i < r->labels.n; i++)
		if (lf_rtmpl_new(name, r->labels.v[i].value, &ar->label_tmpl[i], err) < 0) {
			lf_alert_rule_fini(ar);
			return -1;
		}
	for (size_t i = 0; i < r->annotations.n; i++)
		if (lf_rtmpl_new(name, r->annotations.v[i].value, &ar->ann_tmpl[i], err) < 0) {
			lf_alert_rule_fini(ar);
			return -1;
		}
	return 0;
}

void lf_alert_rule_fini(struct lf_alert_rule *ar)
{
	if (ar->label_tmpl && ar->rule)
		for (size_t i = 0; i < ar->rule->labels.n; i++)
			lf_template_free(ar->label_tmpl[i]);
	if (ar->ann_tmpl && ar->rule)
		for (size_t i = 0; i < ar->rule->annotations.n; i++)
			lf_template_free(ar->ann_tmpl[i]);
	free(ar->label_tmpl);
	free(ar->ann_tmpl);
	for (size_t i = 0; i < ar->n_alerts; i++)
		alert_free(&ar->alerts[i]);
	free(ar->alerts);
	memset(ar, 0, sizeof(*ar));
}

static struct lf_alert *find_alert(struct lf_alert_rule *ar, const struct lf_labels *ls)
{
	for (size_t i = 0; i < ar->n_alerts; i++)
		if (lf_labels_equal(&ar->alerts[i].labels, ls))
			return &ar->alerts[i];
	return NULL;
}

static struct lf_alert *add_alert(struct lf_alert_rule *ar)
{
	if (ar->n_alerts == ar->cap_alerts) {
		size_t nc = ar->cap_alerts ? ar->cap_alerts * 2 : 4;
		struct lf_alert *nv = realloc(ar->alerts, nc * sizeof(*nv));
		if (!nv)
			return NULL;
		ar->alerts = nv;
		ar->cap_alerts = nc;
	}
	struct lf_alert *a = &ar->alerts[ar->n_alerts++];
	memset(a, 0, sizeof(*a));
	return a;
}

/* The labels and annotations of one sample's alert. */
static int expand(struct lf_alert_rule *ar, const struct lf_sample *s,
                  const struct lf_eval_env *env, struct lf_labels *labels, struct lf_labels *ann,
                  struct lf_buf *tmp, struct lf_error *err)
{
	const struct lf_rule *r = ar->rule;
	struct lf_rtmpl_data d = {&s->metric, env ? env->external_labels : NULL, s->value,
	                          env ? env->external_url : ""};
	if (lf_labels_copy(labels, &s->metric) < 0)
		return lf_err(err, "out of memory");
	lf_labels_del(labels, "__name__");
	for (size_t i = 0; i < r->labels.n; i++) {
		if (lf_rtmpl_exec(ar->label_tmpl[i], &d, tmp, err) < 0)
			return -1;
		if (lf_labels_setn(labels, r->labels.v[i].name, r->labels.v[i].name_len,
		                   tmp->data ? tmp->data : "", tmp->len) < 0)
			return lf_err(err, "out of memory");
	}
	if (lf_labels_set(labels, "alertname", r->name) < 0)
		return lf_err(err, "out of memory");
	lf_labels_clear(ann);
	for (size_t i = 0; i < r->annotations.n; i++) {
		if (lf_rtmpl_exec(ar->ann_tmpl[i], &d, tmp, err) < 0)
			return -1;
		if (lf_labels_setn(ann, r->annotations.v[i].name, r->annotations.v[i].name_len,
		                   tmp->data ? tmp->data : "", tmp->len) < 0)
			return lf_err(err, "out of memory");
	}
	return 0;
}

int lf_alert_rule_eval(struct lf_alert_rule *ar, const struct lf_sample *s, size_t n, int64_t ts,
                       const struct lf_eval_env *env, struct lf_error *err)
{
	struct lf_labels *labels = calloc(n ? n : 1, sizeof(*labels));
	struct lf_labels *anns = calloc(n ? n : 1, sizeof(*anns));
	struct lf_buf tmp = LF_BUF_INIT;
	int rc = -1;
	if (!labels || !anns) {
		lf_err(err, "out of memory");
		goto done;
	}
	/* First everything that can fail, so an error leaves the state alone. */
	for (size_t i = 0; i < n; i++) {
		if (expand(ar, &s[i], env, &labels[i], &anns[i], &tmp, err) < 0)
			goto done;
		for (size_t j = 0; j < i; j++)
			if (lf_labels_equal(&labels[i], &labels[j])) {
				lf_err(err, "vector contains metrics with the same labelset after "
				            "applying alert labels");
				goto done;
			}
	}
	for (size_t i = 0; i < ar->n_alerts; i++)
		ar->alerts[i].seen = false;
	for (size_t i = 0; i < n; i++) {
		struct lf_alert *a = find_alert(ar, &labels[i]);
		if (a && a->state != LF_ALERT_INACTIVE) {
			a->value = s[i].value;
			lf_labels_free(&a->annotations);
			a->annotations = anns[i];
			memset(&anns[i], 0, sizeof(anns[i]));
			a->seen = true;
			a->keep_firing_since = 0;
			continue;
		}
		if (a) { /* a resolved alert comes back: a new one replaces it */
			alert_free(a);
			*a = ar->alerts[--ar->n_alerts];
		}
		a = add_alert(ar);
		if (!a) {
			lf_err(err, "out of memory");
			goto done;
		}
		a->labels = labels[i];
		a->annotations = anns[i];
		memset(&labels[i], 0, sizeof(labels[i]));
		memset(&anns[i], 0, sizeof(anns[i]));
		a->state = LF_ALERT_PENDING;
		a->value = s[i].value;
		a->active_at = ts;
		a->seen = true;
	}
	for (size_t i = 0; i < ar->n_alerts;) {
		struct lf_alert *a = &ar->alerts[i];
		if (!a->seen) {
			bool keep = false;
			if (a->state == LF_ALERT_FIRING && ar->rule->keep_firing_for > 0) {
				if (!a->keep_firing_since)
					a->keep_firing_since = ts;
				if (ts - a->keep_firing_since < ar->rule->keep_firing_for)
					keep = true;
			}
			if (a->state == LF_ALERT_PENDING ||
			    (a->resolved_at && ts - a->resolved_at > LF_ALERT_RESOLVED_RETENTION)) {
				alert_free(a);
				ar->alerts[i] = ar->alerts[--ar->n_alerts];
				continue;
			}
			if (a->state != LF_ALERT_INACTIVE && !keep) {
				a->state = LF_ALERT_INACTIVE;
				a->resolved_at = ts;
			}
			if (!keep) {
				i++;
				continue;
			}
		}
		if (a->state == LF_ALERT_PENDING && ts - a->active_at >= ar->rule->for_ns) {
			a->state = LF_ALERT_FIRING;
			a->fired_at = ts;
		}
		i++;
	}
	rc = 0;
done:
	for (size_t i = 0; labels && anns && i < n; i++) {
		lf_labels_free(&labels[i]);
		lf_labels_free(&anns[i]);
	}
	free(labels);
	free(anns);
	lf_buf_free(&tmp);
	return rc;
}

size_t lf_alert_rule_collect(struct lf_alert_rule *ar, int64_t ts, int64_t resend_delay,
                             int64_t interval, lf_alert_send_fn fn, void *ctx)
{
	size_t sent = 0;
	for (size_t i = 0; i < ar->n_alerts; i++) {
		struct lf_alert *a = &ar->alerts[i];
		bool due;
		if (a->state == LF_ALERT_PENDING)
			due = false;
		else if (a->resolved_at && a->resolved_at > a->last_sent_at)
			due = true;
		else /* firing, or resolved and kept: re-sent every resend_delay */
			due = !a->last_sent_at || a->last_sent_at + resend_delay <= ts;
		if (!due)
			continue;
		a->last_sent_at = ts;
		int64_t delta = resend_delay > interval ? resend_delay : interval;
		a->valid_until = ts + 4 * delta;
		fn(ctx, a,
		   a->resolved_at && a->state == LF_ALERT_INACTIVE ? a->resolved_at
		                                                   : a->valid_until);
		sent++;
	}
	return sent;
}

int lf_alert_rule_restore(struct lf_alert_rule *ar, const struct lf_labels *labels,
                          enum lf_alert_state state, int64_t active_at, int64_t fired_at,
                          double value)
{
	if (state != LF_ALERT_PENDING && state != LF_ALERT_FIRING)
		return 0;
	if (find_alert(ar, labels))
		return 0;
	struct lf_alert *a = add_alert(ar);
	if (!a)
		return -1;
	if (lf_labels_copy(&a->labels, labels) < 0) {
		ar->n_alerts--;
		return -1;
	}
	a->state = state;
	a->active_at = active_at;
	a->fired_at = state == LF_ALERT_FIRING ? fired_at : 0;
	a->value = value;
	return 0;
}

bool lf_alert_restore_active_at(int64_t hold, int64_t grace, int64_t saved_at, int64_t now,
                                int64_t *active_at)
{
	if (hold < grace)
		return false;
	int64_t remaining = hold - (saved_at - *active_at);
	if (remaining <= 0)
		return true;
	if (remaining < grace)
		*active_at = now + grace - hold;
	else
		*active_at += now - saved_at;
	return true;
}

void lf_alert_rule_take_state(struct lf_alert_rule *dst, struct lf_alert_rule *src)
{
	for (size_t i = 0; i < dst->n_alerts; i++)
		alert_free(&dst->alerts[i]);
	free(dst->alerts);
	dst->alerts = src->alerts;
	dst->n_alerts = src->n_alerts;
	dst->cap_alerts = src->cap_alerts;
	src->alerts = NULL;
	src->n_alerts = src->cap_alerts = 0;
}

enum lf_alert_state lf_alert_rule_state(const struct lf_alert_rule *ar)
{
	enum lf_alert_state s = LF_ALERT_INACTIVE;
	for (size_t i = 0; i < ar->n_alerts; i++)
		if (ar->alerts[i].state > s)
			s = ar->alerts[i].state;
	return s;
}

void lf_samples_free(struct lf_sample *s, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		lf_labels_free(&s[i].metric);
}

int lf_record_samples(const struct lf_rule *r, const struct lf_sample *in, size_t n,
                      struct lf_sample *out, struct lf_error *err)
{
	memset(out, 0, n * sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		out[i].value = in[i].value;
		if (lf_labels_copy(&out[i].metric, &in[i].metric) < 0 ||
		    lf_labels_merge(&out[i].metric, &r->labels, true) < 0 ||
		    lf_labels_set(&out[i].metric, "__name__", r->name) < 0) {
			lf_samples_free(out, i + 1);
			return lf_err(err, "out of memory");
		}
		for (size_t j = 0; j < i; j++)
			if (lf_labels_equal(&out[i].metric, &out[j].metric)) {
				lf_samples_free(out, i + 1);
				return lf_err(
				        err, "vector contains metrics with the same labelset after "
				             "applying rule labels");
			}
	}
	return 0;
}
