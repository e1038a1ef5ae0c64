/* notifier.h — sends alerts to Alertmanager's v2 API (POST
 * <url>/api/v2/alerts, a JSON array) from its own thread.
 *
 * Alerts are queued as JSON objects per tenant (bounded: when
 * notification_queue_capacity alerts wait, the oldest are dropped and
 * counted). The sender posts batches of up to 64 alerts of one tenant
 * (with X-Scope-OrgID, as Loki's ruler does) to every configured
 * Alertmanager; a batch that reached none of them (connection error, 5xx,
 * 429) is retried with exponential backoff (100 ms doubling to 10 s) until
 * it is delivered or the notifier stops; a 4xx other than 429 drops it.
 * Evaluation never waits for the sender. Auth and TLS come from
 * alertmanager_client (basic auth, Authorization credentials, CA, client
 * certificate, server name, insecure_skip_verify).
 */
#ifndef LF_STORE_RULER_NOTIFIER_H
#define LF_STORE_RULER_NOTIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "metrics.h"
#include "rconfig.h"

struct lf_notifier;

int lf_notifier_start(const struct lf_ruler_config *cfg, struct lf_metrics *reg,
                      struct lf_notifier **out, struct lf_error *err);
/* Queues one alert (a JSON object, copied) of tenant's group ("ns;name",
 * a label of the sent/dropped metrics). */
void lf_notifier_send(struct lf_notifier *n, const char *tenant, const char *group,
                      const char *json, size_t len);
/* Stops the thread (one last attempt for what is queued) and frees. */
void lf_notifier_stop(struct lf_notifier *n);

#endif
