/* server.h — the agent's HTTP endpoints (common/httpd.h underneath):
 *   GET /ready    200 "Ready" once at least one target exists, else 500 with
 *                 Promtail's text (always 200 with health_check_target false)
 *   GET /metrics  Prometheus text of the agent's registry
 *                 (404 with register_instrumentation false)
 *   GET /targets  JSON: every tailed or wanted file with its job, labels,
 *                 state, read offset, acknowledged offset and size; an HTML
 *                 page instead for browsers (Accept: text/html, or
 *                 ?format=html), with ?search=, ?unready=1, ?job=, ?page=
 *   GET /service-discovery  every discovered target per job, its labels
 *                 before and after relabeling, dropped ones with the rule
 *                 index (HTML for browsers, JSON otherwise; status_html.h)
 *   GET /config   the effective config as YAML, secrets masked (an HTML
 *                 page for browsers; ?format=yaml forces the text)
 *   GET /         303 to /targets
 *   POST /reload  reloads the config as SIGHUP does and answers 200, or 500
 *                 with the error (only with enable_runtime_reload)
 *
 * Handlers run on the HTTP server's threads; everything they touch goes
 * through the callbacks below, which the agent makes thread-safe.
 * No global state.
 */
#ifndef LF_AGENT_SERVER_H
#define LF_AGENT_SERVER_H

#include <stdbool.h>

#include "buf.h"
#include "config.h"
#include "error.h"
#include "metrics.h"

struct lf_agent_server_ops {
	void *ctx;
	/* Number of current targets (discovered files). */
	size_t (*targets)(void *ctx);
	/* Appends the /targets JSON body; detail adds what only the HTML
	 * page shows ("error_time_ns" of a target with an error). */
	void (*targets_json)(void *ctx, struct lf_buf *out, bool detail);
	/* Reloads the config (as SIGHUP does) and waits for the outcome:
	 * 0, or -1 with the error message appended to err. */
	int (*reload)(void *ctx, struct lf_buf *err);
};

struct lf_agent_server;

int lf_agent_server_start(const struct lf_server_config *cfg, struct lf_metrics *metrics,
                          const struct lf_agent_server_ops *ops, struct lf_agent_server **out,
                          struct lf_error *err);
/* The port actually bound (useful with http_listen_port 0). */
int lf_agent_server_port(const struct lf_agent_server *s);
/* Applies the reloadable settings (health_check_target,
 * register_instrumentation, enable_runtime_reload). Thread-safe. */
void lf_agent_server_update(struct lf_agent_server *s, const struct lf_server_config *cfg);
void lf_agent_server_stop(struct lf_agent_server *s);
/* Renders cfg (secrets masked) for /config. Call at start and after every
 * successful reload. Thread-safe; s may be NULL. */
void lf_agent_server_set_config(struct lf_agent_server *s, const struct lf_agent_config *cfg);
/* Publishes the discovered-target records of a sync (lf_targets.sd) for
 * /service-discovery. Takes the buffer's memory when it differs from the
 * current snapshot (sd is then empty); else leaves sd alone. Thread-safe;
 * s may be NULL. */
void lf_agent_server_set_discovered(struct lf_agent_server *s, struct lf_buf *sd, size_t omitted);

#define LF_READY_NOT_READY_TEXT                                                                    \
	"Not ready: Unable to find any logs to tail. Please verify permissions, volumes, "         \
	"scrape_config, etc."

#endif
