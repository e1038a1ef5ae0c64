/* api_rules.h — the ruler's HTTP API (reference 5.4):
 *   GET  /prometheus/api/v1/rules, /prometheus/api/v1/alerts (JSON)
 *   GET  /loki/api/v1/rules[/{ns}[/{group}]]   (YAML)
 *   POST /loki/api/v1/rules/{ns}               (one group, YAML body)
 *   DELETE /loki/api/v1/rules/{ns}[/{group}]
 * with /api/prom/rules... as aliases of the Loki paths. The Loki paths read
 * and write the local rule directory (<dir>/<tenant>/<ns>) and make the
 * ruler re-read it at once; Loki's local store refuses writes, logferry's
 * accepts them (README).
 */
#ifndef LF_STORE_RULER_API_RULES_H
#define LF_STORE_RULER_API_RULES_H

#include <stdbool.h>

#include "httpd.h"

struct lf_ruler;

/* true when path is one of the ruler's routes. */
bool lf_api_rules_match(const char *path);
/* Answers a ruler route for tenant. */
void lf_api_rules_handle(struct lf_ruler *r, const char *tenant, const struct lf_http_request *req,
                         struct lf_http_response *resp);

#endif
