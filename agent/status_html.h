/* status_html.h — the agent's status pages as server-rendered HTML (plain
 * HTML and CSS, no JavaScript), plus the JSON form of /service-discovery.
 *
 * What it owns: page layout (navigation bar with the version), HTML
 * escaping of every label, value, path and message, the per-job grouping,
 * the filter ("search"), "only unready" and pagination (LF_STATUS_PAGE_SIZE
 * targets per job per page, so pages stay small with thousands of targets).
 * Inputs are read-only snapshots handed in by server.c: the /targets JSON
 * (agent/agent.c) and the discovered-target records (discovery/sdlist.h).
 * No global state.
 */
#ifndef LF_AGENT_STATUS_HTML_H
#define LF_AGENT_STATUS_HTML_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define LF_STATUS_PAGE_SIZE 100

/* Appends s[0..n) with & < > " ' as entities. */
void lf_html_escape(struct lf_buf *o, const char *s, size_t n);
/* Appends s percent-encoded for a query string value. */
void lf_url_query_escape(struct lf_buf *o, const char *s);

/* GET parameters shared by the pages (any may be NULL/0). */
struct lf_status_query {
	const char *search; /* substring of a label `name="value"` or the path */
	bool unready;       /* /targets: only targets whose state is not "reading" */
	const char *job;    /* only this job */
	size_t page;        /* 1-based page within each job; 0 = 1 */
};

/* Page frame: title and the active navigation entry. */
void lf_status_page_begin(struct lf_buf *o, const char *title, const char *active);
void lf_status_page_end(struct lf_buf *o);

/* /targets from the agent's targets JSON ({"targets":[...]}, with the
 * optional "error_time_ns" of a target's error). -1 when the JSON does not
 * parse (the page then says so). */
int lf_status_targets_html(struct lf_buf *o, const char *json, size_t len,
                           const struct lf_status_query *q);
/* /service-discovery from sdlist records; omitted = targets past the bound. */
void lf_status_sd_html(struct lf_buf *o, const char *sd, size_t len, size_t omitted,
                       const struct lf_status_query *q);
/* The same data as JSON:
 *   {"jobs":[{"job":"j","active":1,"total":2,"dropped_not_listed":0,"targets":[
 *      {"discovered_labels":{...},"labels":{...},"state":"active"|"dropped",
 *       "reason":"relabel"|"host"|"no_path","dropped_by_rule":i}]}],
 *    "omitted":0}
 * (labels is {} and reason/dropped_by_rule present only for dropped ones;
 * dropped targets past LF_SD_MAX_DROPPED per job are only counted). */
void lf_status_sd_json(struct lf_buf *o, const char *sd, size_t len, size_t omitted);
/* /config for browsers: the YAML in a <pre>. */
void lf_status_config_html(struct lf_buf *o, const char *yaml, size_t len);

#endif
