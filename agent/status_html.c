/* status_html.c — see status_html.h. */
#include "status_html.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filenames.h"
#include "sdlist.h"

void lf_html_escape(struct lf_buf *o, const char *s, size_t n)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		const char *e = NULL;
		switch (s[i]) {
		case '&':
			e = "&amp;";
			break;
		case '<':
			e = "&lt;";
			break;
		case '>':
			e = "&gt;";
			break;
		case '"':
			e = "&quot;";
			break;
		case '\'':
			e = "&#39;";
			break;
		default:
			continue;
		}
		lf_buf_append(o, s + run, i - run);
		lf_buf_appends(o, e);
		run = i + 1;
	}
	lf_buf_append(o, s + run, n - run);
}

static void esc(struct lf_buf *o, const char *s)
{
	lf_html_escape(o, s, strlen(s));
}

void lf_url_query_escape(struct lf_buf *o, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~')
			lf_buf_putc(o, (char)c);
		else
			lf_buf_printf(o, "%%%02X", c);
	}
}

static const char css[] =
        "body{font-family:sans-serif;margin:0;color:#222;font-size:14px}"
        "nav{background:#2b3a4a;padding:8px 16px}nav a{color:#dde;margin-right:18px;"
        "text-decoration:none}nav a.on{color:#fff;font-weight:bold}"
        "nav .v{color:#9ab;float:right}main{padding:8px 16px}"
        "h2{font-size:17px;margin:14px 0 6px}summary{cursor:pointer}"
        "table{border-collapse:collapse;width:100%;margin-bottom:8px}"
        "td,th{border:1px solid #ccd;padding:3px 6px;vertical-align:top;text-align:left}"
        "th{background:#eef}.l{display:inline-block;background:#e4e8f4;border-radius:3px;"
        "padding:0 4px;margin:1px;font-family:monospace;font-size:12px;word-break:break-all}"
        ".bad{color:#b00;font-weight:bold}.ok{color:#070}.drop{background:#fbe9e9}"
        "form{margin:6px 0}pre{background:#f6f6f9;padding:8px;border:1px solid #ccd}"
        ".pg a{margin-right:10px}";

void lf_status_page_begin(struct lf_buf *o, const char *title, const char *active)
{
	static const char *const nav[][2] = {{"/targets", "Targets"},
	                                     {"/service-discovery", "Service Discovery"},
	                                     {"/config", "Configuration"},
	                                     {"/metrics", "Metrics"},
	                                     {"/ready", "Ready"}};
	lf_buf_appends(o, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>logferry: ");
	esc(o, title);
	lf_buf_appends(o, "</title><style>");
	lf_buf_appends(o, css);
	lf_buf_appends(o, "</style></head><body><nav>");
	for (size_t i = 0; i < sizeof(nav) / sizeof(nav[0]); i++)
		lf_buf_printf(o, "<a href=\"%s\"%s>%s</a>", nav[i][0],
		              strcmp(nav[i][0], active) == 0 ? " class=\"on\"" : "", nav[i][1]);
	lf_buf_appends(o, "<span class=\"v\">logferry ");
	esc(o, LF_VERSION);
	lf_buf_appends(o, "</span></nav><main><h1>");
	esc(o, title);
	lf_buf_appends(o, "</h1>\n");
}

void lf_status_page_end(struct lf_buf *o)
{
	lf_buf_appends(o, "</main></body></html>\n");
}

static void filter_form(struct lf_buf *o, const char *action, const struct lf_status_query *q,
                        bool unready_box)
{
	lf_buf_printf(o, "<form method=\"get\" action=\"%s\">", action);
	lf_buf_appends(o, "<input type=\"text\" name=\"search\" size=\"40\" "
	                  "placeholder=\"Filter by label or path\" value=\"");
	if (q->search)
		esc(o, q->search);
	lf_buf_appends(o, "\"> ");
	if (unready_box)
		lf_buf_printf(o,
		              "<label><input type=\"checkbox\" name=\"unready\" value=\"1\"%s> "
		              "Only unready</label> ",
		              q->unready ? " checked" : "");
	lf_buf_appends(o, "<button type=\"submit\">Filter</button></form>\n");
}

static void page_links(struct lf_buf *o, const char *action, const struct lf_status_query *q,
                       const char *job, size_t page, size_t matched)
{
	size_t pages = (matched + LF_STATUS_PAGE_SIZE - 1) / LF_STATUS_PAGE_SIZE;
	if (pages <= 1)
		return;
	lf_buf_printf(o, "<div class=\"pg\">Page %zu of %zu: ", page, pages);
	for (int d = -1; d <= 1; d += 2) {
		size_t to = d < 0 ? page - 1 : page + 1;
		if (to < 1 || to > pages)
			continue;
		lf_buf_printf(o, "<a href=\"%s?job=", action);
		lf_url_query_escape(o, job);
		lf_buf_printf(o, "&amp;page=%zu", to);
		if (q->search && *q->search) {
			lf_buf_appends(o, "&amp;search=");
			lf_url_query_escape(o, q->search);
		}
		if (q->unready)
			lf_buf_appends(o, "&amp;unready=1");
		lf_buf_printf(o, "\">%s</a>", d < 0 ? "&laquo; previous" : "next &raquo;");
	}
	lf_buf_appends(o, "</div>\n");
}

static void label_span(struct lf_buf *o, const char *name, const char *value)
{
	lf_buf_appends(o, "<span class=\"l\">");
	esc(o, name);
	lf_buf_appends(o, "=&quot;");
	esc(o, value);
	lf_buf_appends(o, "&quot;</span> ");
}

static size_t page_of(const struct lf_status_query *q)
{
	return q->page ? q->page : 1;
}

/* ---- /targets ---- */

struct trow {
	const char *job, *path;
	json_t *t;
};

static int trow_cmp(const void *a, const void *b)
{
	const struct trow *x = a, *y = b;
	int r = strcmp(x->job, y->job);
	if (r)
		return r;
	return strcmp(x->path, y->path);
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static uint64_t jnum(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v)
	                                                       : 0;
}

static bool contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

static bool target_matches(json_t *t, const struct lf_status_query *q, struct lf_buf *tmp)
{
	if (q->unready && strcmp(jstr(t, "state"), "reading") == 0)
		return false;
	if (!q->search || !*q->search)
		return true;
	if (contains(jstr(t, "path"), q->search))
		return true;
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(t, "labels"), k, v)
	{
		lf_buf_reset(tmp);
		lf_buf_printf(tmp, "%s=\"%s\"", k,
		              json_string_value(v) ? json_string_value(v) : "");
		if (contains(tmp->data, q->search))
			return true;
	}
	return false;
}

static void human_bytes(struct lf_buf *o, uint64_t v)
{
	if (v < 1024)
		lf_buf_printf(o, "%" PRIu64 " B", v);
	else if (v < 1024 * 1024)
		lf_buf_printf(o, "%.1f KiB", (double)v / 1024);
	else if (v < UINT64_C(1024) * 1024 * 1024)
		lf_buf_printf(o, "%.1f MiB", (double)v / (1024.0 * 1024));
	else
		lf_buf_printf(o, "%.2f GiB", (double)v / (1024.0 * 1024 * 1024));
}

static void target_row(struct lf_buf *o, json_t *t)
{
	const char *state = jstr(t, "state");
	const char *path = jstr(t, "path");
	lf_buf_appends(o, "<tr><td>");
	esc(o, path);
	lf_buf_printf(o, "</td><td class=\"%s\">", strcmp(state, "reading") == 0 ? "ok" : "bad");
	esc(o, state);
	lf_buf_appends(o, "</td><td>");
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(t, "labels"), k, v)
	{
		label_span(o, k, json_string_value(v) ? json_string_value(v) : "");
	}
	uint64_t off = jnum(t, "offset"), size = jnum(t, "size");
	lf_buf_appends(o, "</td><td>");
	human_bytes(o, off);
	lf_buf_appends(o, " / ");
	human_bytes(o, size);
	lf_buf_appends(o, "</td><td>");
	human_bytes(o, size > off ? size - off : 0);
	lf_buf_printf(o, "</td><td>%" PRIu64 "</td><td>", jnum(t, "lines"));
	struct lf_k8s_pod_file pf;
	if (lf_k8s_parse_pod_file(path, &pf) == 0)
		lf_buf_printf(o, "%.*s/%.*s", (int)pf.dir.ns.n, pf.dir.ns.p, (int)pf.dir.pod.n,
		              pf.dir.pod.p);
	lf_buf_appends(o, "</td><td class=\"bad\">");
	esc(o, jstr(t, "error"));
	json_t *et = json_object_get(t, "error_time_ns");
	if (json_is_integer(et) && json_integer_value(et) > 0) {
		time_t sec = (time_t)(json_integer_value(et) / 1000000000);
		struct tm tm;
		char ts[64];
		if (gmtime_r(&sec, &tm) && strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S UTC", &tm))
			lf_buf_printf(o, "<br><small>since %s</small>", ts);
	}
	lf_buf_appends(o, "</td></tr>\n");
}

int lf_status_targets_html(struct lf_buf *o, const char *json, size_t len,
                           const struct lf_status_query *q)
{
	lf_status_page_begin(o, "Targets", "/targets");
	filter_form(o, "/targets", q, true);
	json_error_t je;
	json_t *root = json_loadb(json, len, 0, &je);
	json_t *arr = json_object_get(root, "targets");
	if (!json_is_array(arr)) {
		lf_buf_appends(o, "<p class=\"bad\">target list unavailable</p>");
		lf_status_page_end(o);
		json_decref(root);
		return -1;
	}
	size_t n = json_array_size(arr);
	struct trow *rows = calloc(n + 1, sizeof(*rows));
	size_t nr = 0;
	struct lf_buf tmp = LF_BUF_INIT;
	for (size_t i = 0; rows && i < n; i++) {
		json_t *t = json_array_get(arr, i);
		rows[nr].job = jstr(t, "job");
		rows[nr].path = jstr(t, "path");
		rows[nr].t = t;
		nr++;
	}
	if (nr)
		qsort(rows, nr, sizeof(*rows), trow_cmp);
	if (n == 0)
		lf_buf_appends(o, "<p>No targets.</p>\n");
	size_t page = page_of(q);
	for (size_t i = 0; i < nr;) {
		size_t j = i;
		size_t total = 0, ready = 0, matched = 0;
		for (; j < nr && strcmp(rows[j].job, rows[i].job) == 0; j++) {
			total++;
			if (strcmp(jstr(rows[j].t, "state"), "reading") == 0)
				ready++;
			if (target_matches(rows[j].t, q, &tmp))
				matched++;
		}
		const char *job = rows[i].job;
		if (q->job && *q->job && strcmp(q->job, job) != 0) {
			i = j;
			continue;
		}
		lf_buf_appends(o, "<details open><summary><h2 style=\"display:inline\">");
		esc(o, job);
		lf_buf_printf(o, " (%zu/%zu ready)</h2></summary>\n", ready, total);
		if (matched) {
			lf_buf_appends(o, "<table><tr><th>Path</th><th>State</th><th>Labels</th>"
			                  "<th>Read / size</th><th>Lag</th><th>Lines</th>"
			                  "<th>Pod</th><th>Last error</th></tr>\n");
			size_t k = 0, from = (page - 1) * LF_STATUS_PAGE_SIZE;
			for (size_t r = i; r < j; r++) {
				if (!target_matches(rows[r].t, q, &tmp))
					continue;
				if (k >= from && k < from + LF_STATUS_PAGE_SIZE)
					target_row(o, rows[r].t);
				k++;
			}
			lf_buf_appends(o, "</table>\n");
			page_links(o, "/targets", q, job, page, matched);
		} else {
			lf_buf_appends(o, "<p>No target matches the filter.</p>\n");
		}
		lf_buf_appends(o, "</details>\n");
		i = j;
	}
	lf_buf_free(&tmp);
	free(rows);
	json_decref(root);
	lf_status_page_end(o);
	return 0;
}

/* ---- /service-discovery ---- */

static const char *reason_text(enum lf_sd_verdict v)
{
	switch (v) {
	case LF_SD_DROPPED:
		return "relabel";
	case LF_SD_WRONG_HOST:
		return "host";
	case LF_SD_NO_PATH:
		return "no_path";
	default:
		return "";
	}
}

static bool pairs_match(const char *s, size_t n, const char *needle, struct lf_buf *tmp)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = lf_sd_pair_next(s);
		lf_buf_reset(tmp);
		lf_buf_printf(tmp, "%s=\"%s\"", s, v);
		if (contains(tmp->data, needle))
			return true;
		s = lf_sd_pair_next(v);
	}
	return false;
}

static bool sd_matches(const struct lf_sd_target *t, const struct lf_status_query *q,
                       struct lf_buf *tmp)
{
	if (!t->listed)
		return false;
	if (!q->search || !*q->search)
		return true;
	return pairs_match(t->disc, t->n_disc, q->search, tmp) ||
	       pairs_match(t->final, t->n_final, q->search, tmp);
}

static void pairs_html(struct lf_buf *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = lf_sd_pair_next(s);
		label_span(o, s, v);
		s = lf_sd_pair_next(v);
	}
}

static void sd_row(struct lf_buf *o, const struct lf_sd_target *t)
{
	bool kept = t->verdict == LF_SD_KEPT;
	lf_buf_printf(o, "<tr%s><td>", kept ? "" : " class=\"drop\"");
	pairs_html(o, t->disc, t->n_disc);
	lf_buf_appends(o, "</td><td>");
	if (kept) {
		pairs_html(o, t->final, t->n_final);
		label_span(o, "__path__", t->path);
	} else if (t->verdict == LF_SD_DROPPED) {
		if (t->rule != SIZE_MAX)
			lf_buf_printf(o,
			              "<span class=\"bad\">Dropped</span> by relabel_configs[%zu]",
			              t->rule);
		else
			lf_buf_appends(o, "<span class=\"bad\">Dropped</span> (out of memory)");
	} else if (t->verdict == LF_SD_WRONG_HOST) {
		lf_buf_appends(o, "<span class=\"bad\">Dropped</span>: __host__ is another node");
	} else {
		lf_buf_appends(o, "<span class=\"bad\">Dropped</span>: no __path__");
	}
	lf_buf_appends(o, "</td></tr>\n");
}

void lf_status_sd_html(struct lf_buf *o, const char *sd, size_t len, size_t omitted,
                       const struct lf_status_query *q)
{
	lf_status_page_begin(o, "Service Discovery", "/service-discovery");
	filter_form(o, "/service-discovery", q, false);
	if (omitted)
		lf_buf_printf(o,
		              "<p class=\"bad\">%zu discovered targets are not listed (the list "
		              "is bounded).</p>\n",
		              omitted);
	if (len == 0)
		lf_buf_appends(o, "<p>No discovered targets.</p>\n");
	struct lf_buf tmp = LF_BUF_INIT;
	size_t page = page_of(q);
	size_t pos = 0;
	struct lf_sd_target t;
	while (pos < len) {
		/* One job's run: count, then list. */
		size_t start = pos, end = pos;
		size_t total = 0, active = 0, matched = 0, unlisted = 0;
		const char *job = NULL;
		while (end < len) {
			size_t p = end;
			if (!lf_sd_next(sd, len, &p, &t))
				break;
			if (job && strcmp(job, t.job) != 0)
				break;
			job = t.job;
			total++;
			active += t.verdict == LF_SD_KEPT;
			unlisted += !t.listed;
			matched += sd_matches(&t, q, &tmp);
			end = p;
		}
		if (!job)
			break;
		pos = end;
		if (q->job && *q->job && strcmp(q->job, job) != 0)
			continue;
		lf_buf_appends(o, "<details open><summary><h2 style=\"display:inline\">");
		esc(o, job);
		lf_buf_printf(o, " (%zu/%zu active targets)</h2></summary>\n", active, total);
		if (matched) {
			lf_buf_appends(o,
			               "<table><tr><th style=\"width:50%\">Discovered Labels</th>"
			               "<th>Target Labels</th></tr>\n");
			size_t k = 0, from = (page - 1) * LF_STATUS_PAGE_SIZE;
			for (size_t p = start; p < end;) {
				if (!lf_sd_next(sd, len, &p, &t))
					break;
				if (!sd_matches(&t, q, &tmp))
					continue;
				if (k >= from && k < from + LF_STATUS_PAGE_SIZE)
					sd_row(o, &t);
				k++;
			}
			lf_buf_appends(o, "</table>\n");
			page_links(o, "/service-discovery", q, job, page, matched);
		} else {
			lf_buf_appends(o, "<p>No target matches the filter.</p>\n");
		}
		if (unlisted)
			lf_buf_printf(
			        o,
			        "<p>%zu more dropped targets are not listed (the labels of at "
			        "most %d dropped targets per job are kept).</p>\n",
			        unlisted, LF_SD_MAX_DROPPED);
		lf_buf_appends(o, "</details>\n");
	}
	lf_buf_free(&tmp);
	lf_status_page_end(o);
}

static void pairs_json(struct lf_buf *o, const char *s, size_t n, const char *extra_name,
                       const char *extra_value)
{
	lf_buf_putc(o, '{');
	for (size_t i = 0; i < n; i++) {
		const char *v = lf_sd_pair_next(s);
		if (i)
			lf_buf_putc(o, ',');
		lf_buf_append_json_string(o, s, strlen(s));
		lf_buf_putc(o, ':');
		lf_buf_append_json_string(o, v, strlen(v));
		s = lf_sd_pair_next(v);
	}
	if (extra_name) {
		if (n)
			lf_buf_putc(o, ',');
		lf_buf_append_json_string(o, extra_name, strlen(extra_name));
		lf_buf_putc(o, ':');
		lf_buf_append_json_string(o, extra_value, strlen(extra_value));
	}
	lf_buf_putc(o, '}');
}

void lf_status_sd_json(struct lf_buf *o, const char *sd, size_t len, size_t omitted)
{
	lf_buf_appends(o, "{\"jobs\":[");
	size_t pos = 0;
	struct lf_sd_target t;
	bool first_job = true;
	while (pos < len) {
		size_t start = pos, end = pos, total = 0, active = 0, unlisted = 0;
		const char *job = NULL;
		while (end < len) {
			size_t p = end;
			if (!lf_sd_next(sd, len, &p, &t) || (job && strcmp(job, t.job) != 0))
				break;
			job = t.job;
			total++;
			active += t.verdict == LF_SD_KEPT;
			unlisted += !t.listed;
			end = p;
		}
		if (!job)
			break;
		pos = end;
		if (!first_job)
			lf_buf_putc(o, ',');
		first_job = false;
		lf_buf_appends(o, "{\"job\":");
		lf_buf_append_json_string(o, job, strlen(job));
		lf_buf_printf(o,
		              ",\"active\":%zu,\"total\":%zu,\"dropped_not_listed\":%zu,"
		              "\"targets\":[",
		              active, total, unlisted);
		bool first = true;
		for (size_t p = start; p < end;) {
			if (!lf_sd_next(sd, len, &p, &t))
				break;
			if (!t.listed)
				continue;
			if (!first)
				lf_buf_putc(o, ',');
			first = false;
			lf_buf_appends(o, "{\"discovered_labels\":");
			pairs_json(o, t.disc, t.n_disc, NULL, NULL);
			lf_buf_appends(o, ",\"labels\":");
			bool kept = t.verdict == LF_SD_KEPT;
			pairs_json(o, t.final, t.n_final, kept ? "__path__" : NULL, t.path);
			lf_buf_printf(o, ",\"state\":\"%s\"", kept ? "active" : "dropped");
			if (!kept) {
				lf_buf_printf(o, ",\"reason\":\"%s\"", reason_text(t.verdict));
				if (t.rule != SIZE_MAX)
					lf_buf_printf(o, ",\"dropped_by_rule\":%zu", t.rule);
			}
			lf_buf_putc(o, '}');
		}
		lf_buf_appends(o, "]}");
	}
	lf_buf_printf(o, "],\"omitted\":%zu}\n", omitted);
}

void lf_status_config_html(struct lf_buf *o, const char *yaml, size_t len)
{
	lf_status_page_begin(o, "Configuration", "/config");
	lf_buf_appends(o, "<p>The effective configuration (defaults filled in, environment "
	                  "expanded, secrets shown as &lt;secret&gt;). "
	                  "<a href=\"/config?format=yaml\">as YAML</a></p><pre>");
	lf_html_escape(o, yaml, len);
	lf_buf_appends(o, "</pre>\n");
	lf_status_page_end(o);
}
