/* server.h — the agent's HTTP endpoints (common/httpd.h underneath):
 *   GET /ready    200 "Ready" once at least one target exists, else 500 with
 *                 Promtail's text (always 200 with health_check_target false)
 *   GET /metrics  Prometheus text of the agent's registry
 *                 (404 with register_instrumentation false)
 *   GET /targets  JSON: every tailed or wanted file with its job, labels,
 *                 state, read offset, acknowledged offset and size
 *   GET /         303 to /targets
 *   POST /reload  asks for a config reload (only with enable_runtime_reload)
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
	/* Appends the /targets JSON array body. */
	void (*targets_json)(void *ctx, struct lf_buf *out);
	/* Requests a reload; returns at once. */
	void (*reload)(void *ctx);
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

#define LF_READY_NOT_READY_TEXT                                                                    \
	"Not ready: Unable to find any logs to tail. Please verify permissions, volumes, "         \
	"scrape_config, etc."

#endif
