/* api.h — logferry-store's HTTP API (Loki's paths, parameters, status
 * codes and JSON shapes): push, query_range, query, labels, label values,
 * series, ready, metrics, config, buildinfo. One handler for the httpd;
 * it runs on MHD's thread pool and only touches thread-safe store state.
 */
#ifndef LF_STORE_API_H
#define LF_STORE_API_H

#include <stdbool.h>

#include "config.h"
#include "httpd.h"
#include "metrics.h"
#include "selector.h"
#include "store.h"

struct lf_tail_hub;

struct lf_api {
	struct lf_store *store;
	const struct lf_store_config *cfg;
	struct lf_metrics *reg;
	struct lf_tail_hub *tails; /* live tails (tail.h); NULL = tail answers 503 */
	struct lf_ruler *ruler;    /* NULL when the ruler is off */
};

void lf_api_handle(void *ctx, const struct lf_http_request *req, struct lf_http_response *resp);

/* Parses a Loki API timestamp: integer ns (or seconds when it has at most
 * 10 digits), float seconds, or RFC3339(Nano). NULL/"" gives def. 0 / -1. */
int lf_api_parse_time(const char *s, int64_t def, int64_t *out);

/* Endpoints in their own files (api_tail.c: /loki/api/v1/tail; api_index.c:
 * /loki/api/v1/index/volume(_range), /loki/api/v1/format_query): true when
 * the path is one of theirs (then resp is filled). */
bool lf_api_ext_handle(struct lf_api *a, const struct lf_http_request *req,
                       struct lf_http_response *resp);
void lf_api_tail(struct lf_api *a, const struct lf_http_request *req,
                 struct lf_http_response *resp);

/* Helpers shared by the api_*.c files. */
struct lf_lq_pipeline;
/* A whole LogQL log query: matchers (a non-empty one required) and the
 * pipeline (*pipe NULL when there is none). 0 / -1. */
int lf_api_parse_log_query(const char *q, struct lf_selector **sel, struct lf_lq_pipeline **pipe,
                           struct lf_error *err);
/* start/end/since as query_range parses them (default: the last hour);
 * -1 after answering 400. */
int lf_api_index_range(struct lf_api *a, const char *route, const struct lf_http_request *req,
                       struct lf_http_response *resp, int64_t *start, int64_t *end);
/* A selector without line filters (Loki's syntax.ParseMatchers): a query
 * with a pipeline gives "only label matchers is supported". */
int lf_api_parse_matchers(const char *q, struct lf_selector **out, struct lf_error *err);
/* A time parameter v (NULL/"" = def) as Loki's parseTimestamp reads it;
 * -1 after answering 400 with Go's text, prefixed with
 * "could not parse '<name>' parameter: " when name is not NULL. */
int lf_api_time_arg(struct lf_api *a, const char *route, struct lf_http_response *resp,
                    const char *name, const char *v, int64_t def, int64_t *out);
void lf_api_count(struct lf_api *a, const char *route, int status);
void lf_api_fail(struct lf_api *a, const char *route, struct lf_http_response *resp, int status,
                 const char *msg);
/* The request's tenant, or NULL after answering 401/400. */
const char *lf_api_tenant(struct lf_api *a, const char *route, const struct lf_http_request *req,
                          struct lf_http_response *resp);
/* The same for websockets (/loki/api/v1/tail): browsers cannot set headers
 * on a websocket, so with auth_enabled a request without X-Scope-OrgID may
 * name its tenant in the `tenant` query argument instead (not in Loki,
 * which answers 401; the header wins when both are given). */
const char *lf_api_tenant_ws(struct lf_api *a, const char *route, const struct lf_http_request *req,
                             struct lf_http_response *resp);

#endif
