/* api.h — logferry-store's HTTP API (Loki's paths, parameters, status
 * codes and JSON shapes): push, query_range, query, labels, label values,
 * series, ready, metrics, config, buildinfo. One handler for the httpd;
 * it runs on MHD's thread pool and only touches thread-safe store state.
 */
#ifndef LF_STORE_API_H
#define LF_STORE_API_H

#include "config.h"
#include "httpd.h"
#include "metrics.h"
#include "store.h"

struct lf_api {
	struct lf_store *store;
	const struct lf_store_config *cfg;
	struct lf_metrics *reg;
	struct lf_ruler *ruler; /* NULL when the ruler is off */
};

void lf_api_handle(void *ctx, const struct lf_http_request *req, struct lf_http_response *resp);

/* Parses a Loki API timestamp: integer ns (or seconds when it has at most
 * 10 digits), float seconds, or RFC3339(Nano). NULL/"" gives def. 0 / -1. */
int lf_api_parse_time(const char *s, int64_t def, int64_t *out);

#endif
