/* eval.h — the alerting-rule state machine (Prometheus 2.42's AlertingRule)
 * and the sample shaping of recording rules, independent of queries, HTTP
 * and threads so it can be tested alone.
 *
 * Alerting: each evaluation gets the query's vector at time ts.
 *   - a sample's alert labels = its labels + the rule's labels (templated,
 *     they win) + alertname; annotations are templated with $labels,
 *     $value, $externalLabels, $externalURL;
 *   - a new label set starts pending (activeAt = ts); pending becomes firing
 *     once ts - activeAt >= for (for = 0: firing at once);
 *   - a pending alert absent from the vector is dropped; a firing one is
 *     resolved (resolvedAt = ts), unless keep_firing_for holds it firing
 *     for that long after it first went missing; resolved alerts are kept
 *     15 minutes (to be re-sent) and then dropped;
 *   - two samples that give the same alert labels are an error.
 * Sending (lf_alert_rule_collect): an alert is due when it was resolved
 * after its last send, or when it is firing or resolved (kept) and
 * resend_delay passed since it was last sent (at ts >= last + resend_delay,
 * so with resend_delay = interval it goes out on every evaluation); endsAt = resolvedAt, or
 * validUntil = ts + 4 x max(resend_delay, interval) while it fires (Alertmanager resolves it by
 * itself if the ruler goes away).
 * Restart: lf_alert_rule_restore puts a persisted pending/firing alert back
 * before the first evaluation, so `for` keeps counting from the original
 * activeAt and a firing alert stays firing (ALERTS_FOR_STATE's role).
 */
#ifndef LF_STORE_RULER_EVAL_H
#define LF_STORE_RULER_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "labels.h"
#include "rules.h"

struct lf_template;

#define LF_ALERT_RESOLVED_RETENTION (15LL * 60 * 1000000000LL)

enum lf_alert_state { LF_ALERT_INACTIVE, LF_ALERT_PENDING, LF_ALERT_FIRING };
const char *lf_alert_state_name(enum lf_alert_state s);

struct lf_alert {
	struct lf_labels labels; /* with alertname */
	struct lf_labels annotations;
	enum lf_alert_state state;
	double value;
	int64_t active_at, fired_at, resolved_at, last_sent_at, valid_until, keep_firing_since;
	bool seen; /* scratch: present in this evaluation */
};

struct lf_sample {
	struct lf_labels metric;
	double value;
};

struct lf_alert_rule {
	const struct lf_rule *rule; /* borrowed */
	struct lf_template **label_tmpl, **ann_tmpl;
	struct lf_alert *alerts;
	size_t n_alerts, cap_alerts;
};

int lf_alert_rule_init(struct lf_alert_rule *ar, const struct lf_rule *r, struct lf_error *err);
void lf_alert_rule_fini(struct lf_alert_rule *ar);

struct lf_eval_env {
	const struct lf_labels *external_labels;
	const char *external_url;
};

/* One evaluation. On error (duplicate label sets, template error) the state
 * is left as it was. */
int lf_alert_rule_eval(struct lf_alert_rule *ar, const struct lf_sample *s, size_t n, int64_t ts,
                       const struct lf_eval_env *env, struct lf_error *err);

/* Calls fn for every alert due to be sent at ts (see above), marking it
 * sent. Returns the number of alerts passed to fn. */
typedef void (*lf_alert_send_fn)(void *ctx, const struct lf_alert *a, int64_t ends_at);
size_t lf_alert_rule_collect(struct lf_alert_rule *ar, int64_t ts, int64_t resend_delay,
                             int64_t interval, lf_alert_send_fn fn, void *ctx);

/* Restores a persisted alert (state pending or firing). */
int lf_alert_rule_restore(struct lf_alert_rule *ar, const struct lf_labels *labels,
                          enum lf_alert_state state, int64_t active_at, int64_t fired_at,
                          double value);

/* Prometheus' RestoreForState for a pending alert: the time the store was
 * down (saved_at .. now) does not count as pending; an alert due within
 * grace after the restart fires at now + grace; a rule whose `for` (hold)
 * is shorter than grace is not restored (returns false). Adjusts
 * *active_at. */
bool lf_alert_restore_active_at(int64_t hold, int64_t grace, int64_t saved_at, int64_t now,
                                int64_t *active_at);

/* Moves src's alerts to dst (a changed group keeps the state of its rules
 * that kept their name, as Prometheus' CopyState). */
void lf_alert_rule_take_state(struct lf_alert_rule *dst, struct lf_alert_rule *src);

/* The highest state among the rule's alerts (the rule's `state`). */
enum lf_alert_state lf_alert_rule_state(const struct lf_alert_rule *ar);

/* Recording rule: out[i].metric = in[i] labels + rule labels (rule wins) +
 * __name__ = record. Duplicate label sets are an error. out must hold n. */
int lf_record_samples(const struct lf_rule *r, const struct lf_sample *in, size_t n,
                      struct lf_sample *out, struct lf_error *err);

void lf_samples_free(struct lf_sample *s, size_t n);

#endif
