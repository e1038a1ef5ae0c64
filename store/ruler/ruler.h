/* ruler.h — logferry-store's ruler: one thread that polls the local rule
 * store, evaluates every tenant's groups on their interval (rules of a
 * group in order, each an instant LogQL query through store/logql/meval.h),
 * drives the alert state machine (eval.h), hands alerts to the notifier
 * and recorded samples to remote write, and keeps the state the API shows.
 *
 * Polling: every poll_interval (and right after a rules API change) each
 * tenant directory is re-read. A tenant whose files fail to load keeps its
 * last good rules (the error is logged and counted). Unchanged groups keep
 * their state; changed ones start afresh.
 * Scheduling: a group is evaluated every interval,
 * counted from its first evaluation, made when it is loaded; a group that
 * falls behind skips the missed evaluations (counted), as Prometheus does.
 * A rule's query is bounded by evaluation_timeout and the group interval.
 * State: pending/firing alerts are written to <data>/ruler/<tenant>.json
 * after each group evaluation and restored at start (if written less than
 * for_outage_tolerance ago), so `for` and firing survive a restart: a
 * firing alert stays firing; a pending one goes on as Prometheus' restore of
 * ALERTS_FOR_STATE does (the downtime does not count, for_grace_period).
 * Locking: the ruler thread is the only writer of the rule state; it holds
 * r->mu while changing it, the API reads under r->mu. Queries run unlocked.
 */
#ifndef LF_STORE_RULER_RULER_H
#define LF_STORE_RULER_RULER_H

#include "buf.h"
#include "config.h"
#include "error.h"
#include "metrics.h"
#include "rconfig.h"
#include "store.h"

struct lf_ruler;

int lf_ruler_start(const struct lf_store_config *cfg, struct lf_store *store,
                   struct lf_metrics *reg, struct lf_ruler **out, struct lf_error *err);
void lf_ruler_stop(struct lf_ruler *r); /* NULL ok */
/* Re-read the rule files now (after an API change). */
void lf_ruler_kick(struct lf_ruler *r);
const struct lf_ruler_config *lf_ruler_config(const struct lf_ruler *r);

/* Serialises the rules API's read-modify-write of namespace files. */
void lf_ruler_files_lock(struct lf_ruler *r);
void lf_ruler_files_unlock(struct lf_ruler *r);

/* Prometheus-style JSON bodies (reference 5.4). */
void lf_ruler_render_rules(struct lf_ruler *r, const char *tenant, struct lf_buf *out);
void lf_ruler_render_alerts(struct lf_ruler *r, const char *tenant, struct lf_buf *out);

#endif
