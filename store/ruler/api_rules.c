/* api_rules.c — see api_rules.h. */
#include "api_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rconfig.h"
#include "ruler.h"
#include "rules.h"

#define JSON_CT "application/json"
#define OK_JSON "{\"status\":\"success\",\"data\":null,\"errorType\":\"\",\"error\":\"\"}"

bool lf_api_rules_match(const char *p)
{
	return !strcmp(p, "/prometheus/api/v1/rules") || !strcmp(p, "/prometheus/api/v1/alerts") ||
	       !strcmp(p, "/loki/api/v1/rules") || !strncmp(p, "/loki/api/v1/rules/", 19) ||
	       !strcmp(p, "/api/prom/rules") || !strncmp(p, "/api/prom/rules/", 16);
}

static void server_error(struct lf_http_response *resp, const char *msg)
{
	resp->status = 500;
	resp->content_type = JSON_CT;
	lf_buf_appends(
	        &resp->body,
	        "{\"status\":\"error\",\"data\":null,\"errorType\":\"server_error\",\"error\":");
	lf_buf_append_json_string(&resp->body, msg, strlen(msg));
	lf_buf_putc(&resp->body, '}');
}

static bool ns_valid(const char *ns)
{
	return *ns && ns[0] != '.' && !strchr(ns, '/') && strlen(ns) < 200;
}

static void render_map(const struct lf_rule_groups *gs, const char *only_ns, struct lf_buf *o)
{
	const char *cur = NULL;
	for (size_t i = 0; i < gs->n; i++) {
		const struct lf_rule_group *g = &gs->v[i];
		if (only_ns && strcmp(g->ns, only_ns))
			continue;
		if (!cur || strcmp(cur, g->ns)) {
			if (strspn(g->ns,
			           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
			           "-.") == strlen(g->ns))
				lf_buf_appends(o, g->ns);
			else
				lf_buf_append_yaml_quoted(o, g->ns, strlen(g->ns));
			lf_buf_appends(o, ":\n");
			cur = g->ns;
		}
		lf_rule_group_render(g, 4, true, o);
	}
}

/* The groups of namespace ns (borrowed from gs) copied for rewriting. */
static int ns_groups(const struct lf_rule_groups *gs, const char *ns, struct lf_rule_groups *out)
{
	memset(out, 0, sizeof(*out));
	out->v = calloc(gs->n + 1, sizeof(*out->v));
	if (!out->v)
		return -1;
	out->cap = gs->n + 1;
	for (size_t i = 0; i < gs->n; i++)
		if (!strcmp(gs->v[i].ns, ns)) {
			if (lf_rule_group_copy(&out->v[out->n], &gs->v[i]) < 0)
				return -1;
			out->n++;
		}
	return 0;
}

static void handle_files(struct lf_ruler *r, const struct lf_ruler_config *cfg, const char *tenant,
                         const struct lf_http_request *req, struct lf_http_response *resp,
                         const char *ns_arg, const char *group);

void lf_api_rules_handle(struct lf_ruler *r, const char *tenant, const struct lf_http_request *req,
                         struct lf_http_response *resp)
{
	const struct lf_ruler_config *cfg = lf_ruler_config(r);
	const char *p = req->path;
	if (!cfg->enable_api) {
		lf_http_text(resp, 404, "404 page not found\n");
		return;
	}
	if (!strcmp(p, "/prometheus/api/v1/rules") || !strcmp(p, "/prometheus/api/v1/alerts")) {
		if (strcmp(req->method, "GET")) {
			lf_http_text(resp, 405, "method not allowed\n");
			return;
		}
		resp->status = 200;
		resp->content_type = JSON_CT;
		if (!strcmp(p, "/prometheus/api/v1/rules"))
			lf_ruler_render_rules(r, tenant, &resp->body);
		else
			lf_ruler_render_alerts(r, tenant, &resp->body);
		return;
	}
	/* Loki paths: strip the prefix, split ns/group */
	const char *rest = !strncmp(p, "/loki/api/v1/rules", 18) ? p + 18 : p + 15;
	char ns[256] = "", group[1024] = "";
	bool has_ns = false, has_group = false;
	if (*rest == '/' && rest[1]) {
		rest++;
		size_t l = strcspn(rest, "/");
		if (l >= sizeof(ns)) {
			lf_http_text(resp, 400, "namespace too long\n");
			return;
		}
		memcpy(ns, rest, l);
		ns[l] = 0;
		has_ns = true;
		rest += l;
		if (*rest == '/' && rest[1]) {
			rest++;
			if (strlen(rest) >= sizeof(group)) {
				lf_http_text(resp, 400, "group name too long\n");
				return;
			}
			snprintf(group, sizeof(group), "%s", rest);
			has_group = true;
		}
	}
	if (has_ns && !ns_valid(ns)) {
		lf_http_text(resp, 400, "invalid namespace \"%s\"\n", ns);
		return;
	}
	lf_ruler_files_lock(r);
	handle_files(r, cfg, tenant, req, resp, has_ns ? ns : NULL, has_group ? group : NULL);
	lf_ruler_files_unlock(r);
}

static void handle_files(struct lf_ruler *r, const struct lf_ruler_config *cfg, const char *tenant,
                         const struct lf_http_request *req, struct lf_http_response *resp,
                         const char *ns_arg, const char *group)
{
	bool has_ns = ns_arg != NULL, has_group = group != NULL;
	const char *ns = ns_arg ? ns_arg : "";
	struct lf_rule_groups gs = {0};
	struct lf_error err;
	struct lf_rule_limits lim = {cfg->max_rule_file_size, cfg->max_rules_per_tenant};
	if (lf_rules_load_tenant(cfg->local_directory, tenant, &lim, &gs, &err) < 0) {
		if (!strcmp(req->method, "GET")) {
			lf_http_text(resp, 400, "unable to list rules: %s\n", err.msg);
			return;
		}
		server_error(resp, err.msg);
		return;
	}
	if (!strcmp(req->method, "GET")) {
		if (has_group) {
			for (size_t i = 0; i < gs.n; i++)
				if (!strcmp(gs.v[i].ns, ns) && !strcmp(gs.v[i].name, group)) {
					resp->status = 200;
					resp->content_type = "application/yaml";
					lf_rule_group_render(&gs.v[i], 0, false, &resp->body);
					lf_rule_groups_free(&gs);
					return;
				}
			lf_http_text(resp, 404, "group does not exist\n");
			lf_rule_groups_free(&gs);
			return;
		}
		render_map(&gs, has_ns ? ns : NULL, &resp->body);
		if (!resp->body.len)
			lf_http_text(resp, 404, "no rule groups found\n");
		else {
			resp->status = 200;
			resp->content_type = "application/yaml";
		}
		lf_rule_groups_free(&gs);
		return;
	}
	struct lf_rule_groups mine = {0};
	if (has_ns && ns_groups(&gs, ns, &mine) < 0) {
		server_error(resp, "out of memory");
		goto out;
	}
	if (!strcmp(req->method, "POST") && has_ns && !has_group) {
		struct lf_rule_group g;
		struct lf_buf body = LF_BUF_INIT;
		lf_buf_append(&body, req->body ? req->body : "", req->body_len);
		lf_buf_putc(&body, 0);
		int rc = lf_rules_parse_group(body.data, req->body_len, ns, &g, &err);
		lf_buf_free(&body);
		if (rc < 0) {
			/* Loki's text for a body that is not YAML, else the validation error */
			if (strstr(err.msg, "invalid YAML") || strstr(err.msg, "a rule group"))
				lf_http_text(resp, 400, "unable to decoded rule group\n");
			else
				lf_http_text(resp, 400, "%s\n", err.msg);
			goto out;
		}
		size_t total = g.n_rules;
		for (size_t i = 0; i < gs.n; i++)
			if (strcmp(gs.v[i].ns, ns) || strcmp(gs.v[i].name, g.name))
				total += gs.v[i].n_rules;
		if (cfg->max_rules_per_tenant > 0 && (int64_t)total > cfg->max_rules_per_tenant) {
			lf_http_text(resp, 400,
			             "%zu rules exceed the limit of %lld rules per tenant\n", total,
			             (long long)cfg->max_rules_per_tenant);
			lf_rule_group_free(&g);
			goto out;
		}
		size_t i = 0;
		for (; i < mine.n; i++)
			if (!strcmp(mine.v[i].name, g.name))
				break;
		if (i < mine.n)
			lf_rule_group_free(&mine.v[i]);
		else
			mine.n++;
		mine.v[i] = g;
		if (lf_rules_write_ns(cfg->local_directory, tenant, ns, mine.v, mine.n, &err) < 0) {
			server_error(resp, err.msg);
			goto out;
		}
		resp->status = 202;
		resp->content_type = JSON_CT;
		lf_buf_appends(&resp->body, OK_JSON);
		lf_ruler_kick(r);
		goto out;
	}
	if (!strcmp(req->method, "DELETE") && has_ns) {
		size_t before = mine.n;
		if (has_group) {
			for (size_t i = 0; i < mine.n; i++)
				if (!strcmp(mine.v[i].name, group)) {
					lf_rule_group_free(&mine.v[i]);
					mine.v[i] = mine.v[--mine.n];
					break;
				}
		} else {
			for (size_t i = 0; i < mine.n; i++)
				lf_rule_group_free(&mine.v[i]);
			mine.n = 0;
		}
		if (mine.n == before) {
			lf_http_text(resp, 404,
			             has_group ? "group does not exist\n"
			                       : "namespace does not exist\n");
			goto out;
		}
		if (lf_rules_write_ns(cfg->local_directory, tenant, ns, mine.v, mine.n, &err) < 0) {
			server_error(resp, err.msg);
			goto out;
		}
		resp->status = 202;
		resp->content_type = JSON_CT;
		lf_buf_appends(&resp->body, OK_JSON);
		lf_ruler_kick(r);
		goto out;
	}
	lf_http_text(resp, 405, "method not allowed\n");
out:
	lf_rule_groups_free(&mine);
	lf_rule_groups_free(&gs);
}
