/* config.c — see config.h. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_mask.h"
#include "log.h"
#ifdef LF_HAVE_SOURCES
#include "sources/sources.h"
#endif
#include "timeutil.h"

#define PATHSZ 256

/* snprintf for key paths: a path longer than PATHSZ is cut, which only
 * shortens an error message. (vsnprintf keeps -Wformat-truncation quiet.) */
__attribute__((format(printf, 3, 4))) static void pfmt(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}

static char *xstrdup(const char *s)
{
	return strdup(s ? s : "");
}

/* Replaces *dst with a copy of s. 0 / -1 (ENOMEM). */
static int set_str(char **dst, const char *s)
{
	char *c = xstrdup(s);
	if (!c)
		return -1;
	free(*dst);
	*dst = c;
	return 0;
}

/* Logs each key of `map` that is in `ignored` at debug level: Promtail
 * accepts them, logferry has nothing to do with them. */
static void log_ignored(const struct lf_ynode *map, const char *path, const char *const *ignored)
{
	if (!map || map->kind != LF_Y_MAP)
		return;
	for (size_t i = 0; i < map->n; i++) {
		const char *k = map->pairs[i].key->str;
		for (const char *const *ig = ignored; *ig; ig++) {
			if (strcmp(k, *ig) == 0) {
				lf_debug("%s:%d:%d: %s.%s is accepted but ignored by logferry",
				         map->file ? map->file : "config", map->pairs[i].key->line,
				         map->pairs[i].key->col, path, k);
				break;
			}
		}
	}
}

/* lf_ymap_check with two lists (handled keys + ignored ones). */
static int check_keys(const struct lf_ynode *map, const char *path, const char *const *handled,
                      const char *const *ignored, struct lf_error *err)
{
	const char *all[64];
	size_t n = 0;
	for (const char *const *k = handled; *k && n < 63; k++)
		all[n++] = *k;
	if (ignored)
		for (const char *const *k = ignored; *k && n < 63; k++)
			all[n++] = *k;
	all[n] = NULL;
	if (lf_ymap_check(map, path, all, err) < 0)
		return -1;
	if (ignored)
		log_ignored(map, path, ignored);
	return 0;
}

/* Reads a string->string map (external_labels, headers). With as_labels the
 * names must be valid label names. */
static int read_str_map(const struct lf_ynode *map, const char *path, const char *key,
                        bool as_labels, struct lf_labels *out, struct lf_error *err)
{
	const struct lf_ynode *n = lf_ymap_get(map, key);
	char p[PATHSZ];
	pfmt(p, sizeof p, "%s.%s", path, key);
	if (!n || n->kind == LF_Y_NULL)
		return 0;
	if (n->kind != LF_Y_MAP)
		return lf_y_err(err, n, p, "expected a map of strings");
	for (size_t i = 0; i < n->n; i++) {
		const struct lf_ynode *k = n->pairs[i].key;
		char *v = NULL;
		char kp[PATHSZ];
		pfmt(kp, sizeof kp, "%s.%s", p, k->str);
		if (as_labels && !lf_label_name_valid(k->str, k->str_len))
			return lf_y_err(err, k, p, "invalid label name \"%s\"", k->str);
		if (lf_y_str(n->pairs[i].value, kp, &v, err) < 0)
			return -1;
		int rc = lf_labels_set(out, k->str, v);
		free(v);
		if (rc < 0)
			return lf_err(err, "out of memory");
	}
	return 0;
}

/* ---- server ---- */

static const char *const server_keys[] = {"disable",
                                          "http_listen_address",
                                          "http_listen_port",
                                          "register_instrumentation",
                                          "graceful_shutdown_timeout",
                                          "health_check_target",
                                          "log_level",
                                          "enable_runtime_reload",
                                          NULL};
static const char *const server_ignored[] = {"grpc_listen_address",
                                             "grpc_listen_port",
                                             "grpc_listen_network",
                                             "http_listen_network",
                                             "http_server_read_timeout",
                                             "http_server_write_timeout",
                                             "http_server_idle_timeout",
                                             "grpc_server_max_recv_msg_size",
                                             "grpc_server_max_send_msg_size",
                                             "grpc_server_max_concurrent_streams",
                                             "grpc_server_max_connection_idle",
                                             "grpc_server_max_connection_age",
                                             "grpc_server_max_connection_age_grace",
                                             "grpc_server_keepalive_time",
                                             "grpc_server_keepalive_timeout",
                                             "http_path_prefix",
                                             "log_format",
                                             "log_source_ips_enabled",
                                             "log_request_headers",
                                             "log_request_at_info_level_enabled",
                                             "profiling_enabled",
                                             "http_tls_config",
                                             "grpc_tls_config",
                                             "register_instrumentation_metrics",
                                             "http_listen_conn_limit",
                                             "grpc_listen_conn_limit",
                                             NULL};

static int parse_server(const struct lf_ynode *n, struct lf_server_config *s, struct lf_error *err)
{
	const char *P = "server";
	if (check_keys(n, P, server_keys, server_ignored, err) < 0)
		return -1;
	if (lf_ymap_bool(n, P, "disable", &s->disable, err) < 0 ||
	    lf_ymap_str(n, P, "http_listen_address", &s->http_listen_address, err) < 0 ||
	    lf_ymap_int(n, P, "http_listen_port", &s->http_listen_port, err) < 0 ||
	    lf_ymap_bool(n, P, "register_instrumentation", &s->register_instrumentation, err) < 0 ||
	    lf_ymap_duration(n, P, "graceful_shutdown_timeout", &s->graceful_shutdown_timeout_ns,
	                     err) < 0 ||
	    lf_ymap_bool(n, P, "health_check_target", &s->health_check_target, err) < 0 ||
	    lf_ymap_str(n, P, "log_level", &s->log_level, err) < 0 ||
	    lf_ymap_bool(n, P, "enable_runtime_reload", &s->enable_runtime_reload, err) < 0)
		return -1;
	if (s->http_listen_port < 0 || s->http_listen_port > 65535)
		return lf_y_err(err, lf_ymap_get(n, "http_listen_port"), "server.http_listen_port",
		                "port %lld out of range 0..65535", (long long)s->http_listen_port);
	enum lf_log_level lvl;
	if (lf_log_parse_level(s->log_level, &lvl) < 0) {
		const struct lf_ynode *ln = lf_ymap_get(n, "log_level");
		if (ln)
			return lf_y_err(err, ln, "server.log_level",
			                "unknown log level \"%s\" (debug, info, warn, error)",
			                s->log_level);
		return lf_err(err, "unknown log level \"%s\" (debug, info, warn, error)",
		              s->log_level);
	}
	return 0;
}

/* ---- positions ---- */

static int parse_positions(const struct lf_ynode *n, struct lf_positions_config *p,
                           struct lf_error *err)
{
	static const char *const keys[] = {"filename", "sync_period", "ignore_invalid_yaml", NULL};
	const char *P = "positions";
	if (lf_ymap_check(n, P, keys, err) < 0)
		return -1;
	if (lf_ymap_str(n, P, "filename", &p->filename, err) < 0 ||
	    lf_ymap_duration(n, P, "sync_period", &p->sync_period_ns, err) < 0 ||
	    lf_ymap_bool(n, P, "ignore_invalid_yaml", &p->ignore_invalid_yaml, err) < 0)
		return -1;
	if (p->sync_period_ns <= 0)
		return lf_y_err(err, lf_ymap_get(n, "sync_period"), "positions.sync_period",
		                "must be > 0");
	if (!p->filename[0])
		return lf_y_err(err, lf_ymap_get(n, "filename"), "positions.filename",
		                "must not be empty");
	return 0;
}

/* ---- limits_config ---- */

static int parse_limits(const struct lf_ynode *n, struct lf_limits_config *l, struct lf_error *err)
{
	static const char *const keys[] = {"readline_rate_enabled",
	                                   "readline_rate",
	                                   "readline_burst",
	                                   "readline_rate_drop",
	                                   "max_streams",
	                                   "max_line_size",
	                                   "max_line_size_truncate",
	                                   NULL};
	const char *P = "limits_config";
	if (lf_ymap_check(n, P, keys, err) < 0)
		return -1;
	if (lf_ymap_bool(n, P, "readline_rate_enabled", &l->readline_rate_enabled, err) < 0 ||
	    lf_ymap_double(n, P, "readline_rate", &l->readline_rate, err) < 0 ||
	    lf_ymap_int(n, P, "readline_burst", &l->readline_burst, err) < 0 ||
	    lf_ymap_bool(n, P, "readline_rate_drop", &l->readline_rate_drop, err) < 0 ||
	    lf_ymap_int(n, P, "max_streams", &l->max_streams, err) < 0 ||
	    lf_ymap_size(n, P, "max_line_size", &l->max_line_size, err) < 0 ||
	    lf_ymap_bool(n, P, "max_line_size_truncate", &l->max_line_size_truncate, err) < 0)
		return -1;
	if (l->readline_rate_enabled && !(l->readline_rate > 0 && isfinite(l->readline_rate)))
		return lf_y_err(err, lf_ymap_get(n, "readline_rate"), "limits_config.readline_rate",
		                "must be a finite number > 0");
	if (l->readline_burst < 0)
		return lf_y_err(err, lf_ymap_get(n, "readline_burst"),
		                "limits_config.readline_burst", "must be >= 0");
	if (l->max_streams < 0)
		return lf_y_err(err, lf_ymap_get(n, "max_streams"), "limits_config.max_streams",
		                "must be >= 0");
	if (l->max_line_size < 0)
		return lf_y_err(err, lf_ymap_get(n, "max_line_size"), "limits_config.max_line_size",
		                "must be >= 0");
	return 0;
}

/* ---- clients ---- */

static void client_init(struct lf_client_yaml *c)
{
	memset(c, 0, sizeof *c);
	c->batchwait_ns = LF_NS_PER_SEC;
	c->batchsize = 1048576;
	c->timeout_ns = 10 * LF_NS_PER_SEC;
	c->backoff_min_ns = 500 * LF_NS_PER_MS;
	c->backoff_max_ns = 5 * 60 * LF_NS_PER_SEC;
	c->max_retries = 10;
}

static void client_free(struct lf_client_yaml *c)
{
	free(c->url);
	free(c->tenant_id);
	lf_labels_free(&c->external_labels);
	lf_labels_free(&c->headers);
	free(c->basic_auth.username);
	free(c->basic_auth.password);
	free(c->basic_auth.password_file);
	free(c->bearer_token);
	free(c->bearer_token_file);
	free(c->proxy_url);
	free(c->tls.ca_file);
	free(c->tls.cert_file);
	free(c->tls.key_file);
	free(c->tls.server_name);
}

static int fill_empty_strings(struct lf_client_yaml *c)
{
	char **v[] = {&c->url,
	              &c->tenant_id,
	              &c->basic_auth.username,
	              &c->basic_auth.password,
	              &c->basic_auth.password_file,
	              &c->bearer_token,
	              &c->bearer_token_file,
	              &c->proxy_url,
	              &c->tls.ca_file,
	              &c->tls.cert_file,
	              &c->tls.key_file,
	              &c->tls.server_name};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		if (!*v[i] && !(*v[i] = strdup("")))
			return -1;
	return 0;
}

static int parse_client(const struct lf_ynode *n, const char *P, struct lf_client_yaml *c,
                        struct lf_error *err)
{
	static const char *const keys[] = {"url",
	                                   "tenant_id",
	                                   "batchwait",
	                                   "batchsize",
	                                   "timeout",
	                                   "backoff_config",
	                                   "external_labels",
	                                   "headers",
	                                   "basic_auth",
	                                   "bearer_token",
	                                   "bearer_token_file",
	                                   "proxy_url",
	                                   "tls_config",
	                                   "drop_rate_limited_batches",
	                                   NULL};
	static const char *const ignored[] = {"oauth2",        "follow_redirects",  "enable_http2",
	                                      "authorization", "stream_lag_labels", NULL};
	char sub[PATHSZ];
	c->line = n ? n->line : 0;
	c->col = n ? n->col : 0;
	if (check_keys(n, P, keys, ignored, err) < 0)
		return -1;
	if (lf_ymap_str(n, P, "url", &c->url, err) < 0 ||
	    lf_ymap_str(n, P, "tenant_id", &c->tenant_id, err) < 0 ||
	    lf_ymap_duration(n, P, "batchwait", &c->batchwait_ns, err) < 0 ||
	    lf_ymap_size(n, P, "batchsize", &c->batchsize, err) < 0 ||
	    lf_ymap_duration(n, P, "timeout", &c->timeout_ns, err) < 0 ||
	    lf_ymap_str(n, P, "bearer_token", &c->bearer_token, err) < 0 ||
	    lf_ymap_str(n, P, "bearer_token_file", &c->bearer_token_file, err) < 0 ||
	    lf_ymap_str(n, P, "proxy_url", &c->proxy_url, err) < 0 ||
	    lf_ymap_bool(n, P, "drop_rate_limited_batches", &c->drop_rate_limited_batches, err) < 0)
		return -1;
	if (read_str_map(n, P, "external_labels", true, &c->external_labels, err) < 0 ||
	    read_str_map(n, P, "headers", false, &c->headers, err) < 0)
		return -1;

	const struct lf_ynode *b = lf_ymap_get(n, "backoff_config");
	if (b) {
		static const char *const bk[] = {"min_period", "max_period", "max_retries", NULL};
		pfmt(sub, sizeof sub, "%s.backoff_config", P);
		if (lf_ymap_check(b, sub, bk, err) < 0 ||
		    lf_ymap_duration(b, sub, "min_period", &c->backoff_min_ns, err) < 0 ||
		    lf_ymap_duration(b, sub, "max_period", &c->backoff_max_ns, err) < 0 ||
		    lf_ymap_int(b, sub, "max_retries", &c->max_retries, err) < 0)
			return -1;
		if (c->max_retries < 0)
			return lf_y_err(err, lf_ymap_get(b, "max_retries"), sub,
			                "max_retries must be >= 0");
	}
	const struct lf_ynode *ba = lf_ymap_get(n, "basic_auth");
	if (ba) {
		static const char *const bk[] = {"username", "password", "password_file", NULL};
		pfmt(sub, sizeof sub, "%s.basic_auth", P);
		if (lf_ymap_check(ba, sub, bk, err) < 0 ||
		    lf_ymap_str(ba, sub, "username", &c->basic_auth.username, err) < 0 ||
		    lf_ymap_str(ba, sub, "password", &c->basic_auth.password, err) < 0 ||
		    lf_ymap_str(ba, sub, "password_file", &c->basic_auth.password_file, err) < 0)
			return -1;
	}
	const struct lf_ynode *t = lf_ymap_get(n, "tls_config");
	if (t) {
		static const char *const tk[] = {
		        "ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify",
		        NULL};
		static const char *const tig[] = {"min_version", "ca", "cert", "key", NULL};
		pfmt(sub, sizeof sub, "%s.tls_config", P);
		if (check_keys(t, sub, tk, tig, err) < 0 ||
		    lf_ymap_str(t, sub, "ca_file", &c->tls.ca_file, err) < 0 ||
		    lf_ymap_str(t, sub, "cert_file", &c->tls.cert_file, err) < 0 ||
		    lf_ymap_str(t, sub, "key_file", &c->tls.key_file, err) < 0 ||
		    lf_ymap_str(t, sub, "server_name", &c->tls.server_name, err) < 0 ||
		    lf_ymap_bool(t, sub, "insecure_skip_verify", &c->tls.insecure_skip_verify,
		                 err) < 0)
			return -1;
	}
	if (fill_empty_strings(c) < 0)
		return lf_err(err, "out of memory");
	if (!c->url[0]) {
		if (n && n->kind == LF_Y_MAP)
			return lf_y_err(err, n, P, "url is required");
		return lf_err(err, "%s: url is required", P);
	}
	if (strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0)
		return lf_y_err(err, lf_ymap_get(n, "url"), P,
		                "url \"%s\" must start with http:// or https://", c->url);
	if (c->batchwait_ns <= 0)
		return lf_y_err(err, lf_ymap_get(n, "batchwait"), P, "batchwait must be > 0");
	if (c->batchsize <= 0)
		return lf_y_err(err, lf_ymap_get(n, "batchsize"), P, "batchsize must be > 0");
	if (c->timeout_ns <= 0)
		return lf_y_err(err, lf_ymap_get(n, "timeout"), P, "timeout must be > 0");
	if (c->basic_auth.password[0] && c->basic_auth.password_file[0])
		return lf_y_err(err, ba, P,
		                "at most one of basic_auth password & password_file must be "
		                "configured");
	if (c->bearer_token[0] && c->bearer_token_file[0])
		return lf_y_err(
		        err, n, P,
		        "at most one of bearer_token & bearer_token_file must be configured");
	if ((c->basic_auth.username[0] || c->basic_auth.password[0] ||
	     c->basic_auth.password_file[0]) &&
	    (c->bearer_token[0] || c->bearer_token_file[0]))
		return lf_y_err(err, n, P,
		                "at most one of basic_auth, bearer_token & bearer_token_file must "
		                "be configured");
	return 0;
}

static int add_client(struct lf_agent_config *cfg, struct lf_client_yaml **out,
                      struct lf_error *err)
{
	struct lf_client_yaml *v = realloc(cfg->clients, (cfg->n_clients + 1) * sizeof *v);
	if (!v)
		return lf_err(err, "out of memory");
	cfg->clients = v;
	*out = &v[cfg->n_clients++];
	client_init(*out);
	return 0;
}

/* ---- scrape_configs ---- */

static const char *const scrape_keys[] = {"job_name",
                                          "pipeline_stages",
                                          "relabel_configs",
                                          "static_configs",
                                          "kubernetes_sd_configs",
                                          "syslog",
                                          "loki_push_api",
                                          "journal",
                                          NULL};
/* Promtail target kinds logferry does not implement: accepted (a Promtail
 * config keeps loading) but warned about, because their logs will not flow. */
static const char *const scrape_unsupported[] = {"file_sd_configs",
                                                 "consul_sd_configs",
                                                 "consulagent_sd_configs",
                                                 "docker_sd_configs",
                                                 "windows_events",
                                                 "gcplog",
                                                 "azure_event_hub",
                                                 "kafka",
                                                 "gelf",
                                                 "cloudflare",
                                                 "heroku_drain",
                                                 "decompression",
                                                 "encoding",
                                                 "limits_config",
                                                 NULL};

static int parse_scrape(const struct lf_ynode *n, const char *P, struct lf_scrape_config *s,
                        struct lf_error *err)
{
	if (!n || n->kind != LF_Y_MAP)
		return lf_y_err(err, n, P, "expected a map");
	if (check_keys(n, P, scrape_keys, scrape_unsupported, err) < 0)
		return -1;
	for (size_t i = 0; i < n->n; i++) {
		const char *k = n->pairs[i].key->str;
		for (const char *const *u = scrape_unsupported; *u; u++)
			if (strcmp(k, *u) == 0 && n->pairs[i].value->kind != LF_Y_NULL)
				lf_warn("%s:%d:%d: %s.%s is not supported by logferry; ignored",
				        n->file ? n->file : "config", n->pairs[i].key->line,
				        n->pairs[i].key->col, P, k);
	}
	if (lf_ymap_str(n, P, "job_name", &s->job_name, err) < 0)
		return -1;
	if (!s->job_name || !s->job_name[0])
		return lf_y_err(err, n, P, "job_name is required");
#ifdef LF_HAVE_SOURCES
	if (lf_sources_check(n, P, err) < 0)
		return -1;
#endif
	s->node = n;
	s->pipeline_stages = lf_ymap_get(n, "pipeline_stages");
	s->relabel_configs = lf_ymap_get(n, "relabel_configs");
	s->static_configs = lf_ymap_get(n, "static_configs");
	s->kubernetes_sd_configs = lf_ymap_get(n, "kubernetes_sd_configs");
	char sub[PATHSZ];
	const struct lf_ynode *seqs[] = {s->pipeline_stages, s->relabel_configs, s->static_configs,
	                                 s->kubernetes_sd_configs};
	const char *names[] = {"pipeline_stages", "relabel_configs", "static_configs",
	                       "kubernetes_sd_configs"};
	for (size_t i = 0; i < 4; i++) {
		if (seqs[i] && seqs[i]->kind != LF_Y_SEQ && seqs[i]->kind != LF_Y_NULL) {
			pfmt(sub, sizeof sub, "%s.%s", P, names[i]);
			return lf_y_err(err, seqs[i], sub, "expected a list");
		}
	}
	return 0;
}

/* ---- top level ---- */

static void defaults(struct lf_agent_config *c)
{
	c->server.http_listen_port = 9080;
	c->server.register_instrumentation = true;
	c->server.graceful_shutdown_timeout_ns = 30 * LF_NS_PER_SEC;
	c->server.health_check_target = true;
	c->positions.sync_period_ns = 10 * LF_NS_PER_SEC;
	c->limits.readline_rate = 10000;
	c->limits.readline_burst = 10000;
	c->limits.readline_rate_drop = true;
	c->target_sync_period_ns = 10 * LF_NS_PER_SEC;
	c->min_poll_frequency_ns = 250 * LF_NS_PER_MS;
	c->max_poll_frequency_ns = 250 * LF_NS_PER_MS;
}

static int init_strings(struct lf_agent_config *c)
{
	if (!(c->server.http_listen_address = strdup("")) ||
	    !(c->server.log_level = strdup("info")) ||
	    !(c->positions.filename = strdup("/var/log/positions.yaml")))
		return -1;
	return 0;
}

int lf_parse_label_list(const char *s, struct lf_labels *out, struct lf_error *err)
{
	const char *p = s;
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		if (len == 0) {
			p = end ? end + 1 : NULL;
			continue;
		}
		if (!eq)
			return lf_err(err, "external label \"%.*s\": expected name=value", (int)len,
			              p);
		size_t nl = (size_t)(eq - p);
		if (!lf_label_name_valid(p, nl))
			return lf_err(err, "external label \"%.*s\": invalid label name", (int)len,
			              p);
		if (lf_labels_setn(out, p, nl, eq + 1, len - nl - 1) < 0)
			return lf_err(err, "out of memory");
		p = end ? end + 1 : NULL;
	}
	return 0;
}

static int apply_overrides(struct lf_agent_config *c, const struct lf_config_overrides *ov,
                           struct lf_error *err)
{
	if (!ov)
		return 0;
	if (ov->client_url && ov->client_url[0]) {
		struct lf_client_yaml *cl = NULL;
		if (add_client(c, &cl, err) < 0)
			return -1;
		if (!(cl->url = strdup(ov->client_url)) ||
		    !(cl->tenant_id = strdup(ov->client_tenant_id ? ov->client_tenant_id : "")) ||
		    fill_empty_strings(cl) < 0)
			return lf_err(err, "out of memory");
		if (strncmp(cl->url, "http://", 7) != 0 && strncmp(cl->url, "https://", 8) != 0)
			return lf_err(err, "-client.url \"%s\" must start with http:// or https://",
			              cl->url);
	}
	if (ov->client_external_labels && ov->client_external_labels[0]) {
		struct lf_labels flag = LF_LABELS_INIT;
		if (lf_parse_label_list(ov->client_external_labels, &flag, err) < 0) {
			lf_labels_free(&flag);
			return lf_err_prefix(err, "-client.external-labels");
		}
		for (size_t i = 0; i < c->n_clients; i++) {
			/* The client's own external_labels win over the flag's. */
			if (lf_labels_merge(&c->clients[i].external_labels, &flag, false) < 0) {
				lf_labels_free(&flag);
				return lf_err(err, "out of memory");
			}
		}
		lf_labels_free(&flag);
	}
	if (ov->log_level && ov->log_level[0]) {
		enum lf_log_level lvl;
		if (lf_log_parse_level(ov->log_level, &lvl) < 0)
			return lf_err(err, "-log.level: unknown log level \"%s\"", ov->log_level);
		if (set_str(&c->server.log_level, ov->log_level) < 0)
			return lf_err(err, "out of memory");
	}
	if (ov->positions_file && ov->positions_file[0] &&
	    set_str(&c->positions.filename, ov->positions_file) < 0)
		return lf_err(err, "out of memory");
	if (ov->http_listen_address &&
	    set_str(&c->server.http_listen_address, ov->http_listen_address) < 0)
		return lf_err(err, "out of memory");
	if (ov->http_listen_port >= 0)
		c->server.http_listen_port = ov->http_listen_port;
	if (ov->server_disable >= 0)
		c->server.disable = ov->server_disable != 0;
	if (ov->enable_runtime_reload)
		c->server.enable_runtime_reload = true;
	return 0;
}

static int parse_doc(struct lf_agent_config *c, const struct lf_config_overrides *ov,
                     struct lf_error *err)
{
	static const char *const top[] = {"server",        "clients",        "client",
	                                  "positions",     "scrape_configs", "target_config",
	                                  "limits_config", "global",         NULL};
	static const char *const top_ignored[] = {"options", "tracing", "wal", NULL};
	const struct lf_ynode *root = lf_ydoc_root(c->doc);

	if (check_keys(root, "top level", top, top_ignored, err) < 0)
		return -1;
	const struct lf_ynode *wal = lf_ymap_get(root, "wal");
	bool wal_on = false;
	if (wal && wal->kind == LF_Y_MAP && lf_ymap_bool(wal, "wal", "enabled", &wal_on, err) < 0)
		return -1;
	if (wal_on)
		lf_warn("wal.enabled is not supported by logferry; positions advance only after "
		        "acknowledgement instead");

	const struct lf_ynode *n;
	if ((n = lf_ymap_get(root, "server")) && parse_server(n, &c->server, err) < 0)
		return -1;
	if ((n = lf_ymap_get(root, "positions")) && parse_positions(n, &c->positions, err) < 0)
		return -1;
	if ((n = lf_ymap_get(root, "limits_config")) && parse_limits(n, &c->limits, err) < 0)
		return -1;
	if ((n = lf_ymap_get(root, "target_config"))) {
		static const char *const k[] = {"sync_period", NULL};
		static const char *const ig[] = {"stdin", NULL};
		if (check_keys(n, "target_config", k, ig, err) < 0 ||
		    lf_ymap_duration(n, "target_config", "sync_period", &c->target_sync_period_ns,
		                     err) < 0)
			return -1;
		if (c->target_sync_period_ns <= 0)
			return lf_y_err(err, lf_ymap_get(n, "sync_period"),
			                "target_config.sync_period", "must be > 0");
	}
	if ((n = lf_ymap_get(root, "global"))) {
		static const char *const k[] = {"file_watch_config", NULL};
		static const char *const fk[] = {"min_poll_frequency", "max_poll_frequency", NULL};
		if (lf_ymap_check(n, "global", k, err) < 0)
			return -1;
		const struct lf_ynode *fw = lf_ymap_get(n, "file_watch_config");
		const char *P = "global.file_watch_config";
		if (fw && (lf_ymap_check(fw, P, fk, err) < 0 ||
		           lf_ymap_duration(fw, P, "min_poll_frequency", &c->min_poll_frequency_ns,
		                            err) < 0 ||
		           lf_ymap_duration(fw, P, "max_poll_frequency", &c->max_poll_frequency_ns,
		                            err) < 0))
			return -1;
		if (c->min_poll_frequency_ns <= 0 ||
		    c->max_poll_frequency_ns < c->min_poll_frequency_ns)
			return lf_y_err(err, fw, P,
			                "need 0 < min_poll_frequency <= max_poll_frequency");
	}

	/* `client` (deprecated single client) comes first, then `clients`. */
	if ((n = lf_ymap_get(root, "client")) && n->kind != LF_Y_NULL) {
		struct lf_client_yaml *cl = NULL;
		if (add_client(c, &cl, err) < 0 || parse_client(n, "client", cl, err) < 0)
			return -1;
	}
	if ((n = lf_ymap_get(root, "clients")) && n->kind != LF_Y_NULL) {
		if (n->kind != LF_Y_SEQ)
			return lf_y_err(err, n, "clients", "expected a list");
		for (size_t i = 0; i < n->n; i++) {
			char P[PATHSZ];
			struct lf_client_yaml *cl = NULL;
			pfmt(P, sizeof P, "clients[%zu]", i);
			if (n->items[i]->kind != LF_Y_MAP)
				return lf_y_err(err, n->items[i], P, "expected a map");
			if (add_client(c, &cl, err) < 0 ||
			    parse_client(n->items[i], P, cl, err) < 0)
				return -1;
		}
	}

	if ((n = lf_ymap_get(root, "scrape_configs")) && n->kind != LF_Y_NULL) {
		if (n->kind != LF_Y_SEQ)
			return lf_y_err(err, n, "scrape_configs", "expected a list");
		c->scrape = calloc(n->n ? n->n : 1, sizeof *c->scrape);
		if (!c->scrape)
			return lf_err(err, "out of memory");
		for (size_t i = 0; i < n->n; i++) {
			char P[PATHSZ];
			pfmt(P, sizeof P, "scrape_configs[%zu]", i);
			c->n_scrape = i + 1;
			if (parse_scrape(n->items[i], P, &c->scrape[i], err) < 0)
				return -1;
			for (size_t j = 0; j < i; j++)
				if (strcmp(c->scrape[j].job_name, c->scrape[i].job_name) == 0)
					return lf_y_err(err, lf_ymap_get(n->items[i], "job_name"),
					                P,
					                "found multiple scrape configs with job "
					                "name \"%s\"",
					                c->scrape[i].job_name);
		}
	}
	return apply_overrides(c, ov, err);
}

static int finish_load(struct lf_agent_config *c, const struct lf_config_overrides *ov,
                       struct lf_agent_config **out, struct lf_error *err)
{
	if (parse_doc(c, ov, err) < 0) {
		lf_agent_config_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

static struct lf_agent_config *config_new(const char *path)
{
	struct lf_agent_config *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	defaults(c);
	if (init_strings(c) < 0 || !(c->path = xstrdup(path))) {
		lf_agent_config_free(c);
		return NULL;
	}
	return c;
}

int lf_agent_config_load(const char *path, bool expand_env, const struct lf_config_overrides *ov,
                         struct lf_agent_config **out, struct lf_error *err)
{
	struct lf_agent_config *c = config_new(path);
	if (!c)
		return lf_err(err, "out of memory");
	if (lf_ydoc_load_file(path, expand_env, &c->doc, err) < 0) {
		lf_agent_config_free(c);
		return -1;
	}
	return finish_load(c, ov, out, err);
}

int lf_agent_config_load_string(const char *text, size_t len, const char *name, bool expand_env,
                                const struct lf_config_overrides *ov, struct lf_agent_config **out,
                                struct lf_error *err)
{
	struct lf_agent_config *c = config_new("");
	if (!c)
		return lf_err(err, "out of memory");
	if (lf_ydoc_load_string(text, len, name, expand_env, &c->doc, err) < 0) {
		lf_agent_config_free(c);
		return -1;
	}
	return finish_load(c, ov, out, err);
}

void lf_agent_config_free(struct lf_agent_config *c)
{
	if (!c)
		return;
	free(c->server.http_listen_address);
	free(c->server.log_level);
	free(c->positions.filename);
	for (size_t i = 0; i < c->n_clients; i++)
		client_free(&c->clients[i]);
	free(c->clients);
	for (size_t i = 0; i < c->n_scrape; i++)
		free(c->scrape[i].job_name);
	free(c->scrape);
	if (c->doc)
		lf_ydoc_free(c->doc);
	free(c->path);
	free(c);
}

/* ---- rendering (-print-config-stderr) ---- */

static void indent(struct lf_buf *o, int n)
{
	for (int i = 0; i < n; i++)
		lf_buf_putc(o, ' ');
}

static void put_dur(struct lf_buf *o, int ind, const char *key, int64_t ns)
{
	char d[64];
	lf_format_duration(ns, d, sizeof d);
	indent(o, ind);
	lf_buf_printf(o, "%s: %s\n", key, d);
}

static void put_str(struct lf_buf *o, int ind, const char *key, const char *v)
{
	indent(o, ind);
	lf_buf_printf(o, "%s: ", key);
	lf_buf_append_json_string(o, v, strlen(v));
	lf_buf_putc(o, '\n');
}

static void put_secret(struct lf_buf *o, int ind, const char *key, const char *v)
{
	put_str(o, ind, key, v[0] ? LF_SECRET_TEXT : "");
}

/* A URL with the password of its user info masked (config_mask.h). */
static void put_url(struct lf_buf *o, int ind, const char *key, const char *v)
{
	struct lf_buf m = LF_BUF_INIT;
	lf_config_mask_url(&m, v);
	put_str(o, ind, key, m.data ? m.data : "");
	lf_buf_free(&m);
}

static void put_labels(struct lf_buf *o, int ind, const char *key, const struct lf_labels *ls)
{
	indent(o, ind);
	if (ls->n == 0) {
		lf_buf_printf(o, "%s: {}\n", key);
		return;
	}
	lf_buf_printf(o, "%s:\n", key);
	for (size_t i = 0; i < ls->n; i++)
		put_str(o, ind + 2, ls->v[i].name,
		        lf_config_secret_header(ls->v[i].name) ? LF_SECRET_TEXT : ls->v[i].value);
}

/* A small block-style YAML emitter for the sections kept as nodes. Scalars
 * stay plain when they came unquoted from the source (numbers and booleans
 * keep their type), else they are double-quoted. */
static void emit_scalar(struct lf_buf *o, const struct lf_ynode *n)
{
	bool plain = !n->quoted && n->str_len > 0 && strlen(n->str) == n->str_len &&
	             strpbrk(n->str, ":#{}[],&*!|>'\"%@`\n") == NULL && n->str[0] != '-' &&
	             n->str[0] != ' ' && n->str[n->str_len - 1] != ' ';
	if (plain)
		lf_buf_append(o, n->str, n->str_len);
	else
		lf_buf_append_json_string(o, n->str, n->str_len);
}

static void emit_map_body(struct lf_buf *o, const struct lf_ynode *m, int ind, bool first_inline);
static void emit_seq_body(struct lf_buf *o, const struct lf_ynode *s, int ind);

static bool nonempty_coll(const struct lf_ynode *v)
{
	return (v->kind == LF_Y_MAP || v->kind == LF_Y_SEQ) && v->n > 0;
}

/* Emits what follows "key:" for a value whose children indent at ind. */
static void emit_after_key(struct lf_buf *o, const struct lf_ynode *v, int ind)
{
	if (nonempty_coll(v)) {
		lf_buf_putc(o, '\n');
		if (v->kind == LF_Y_MAP)
			emit_map_body(o, v, ind, false);
		else
			emit_seq_body(o, v, ind);
		return;
	}
	lf_buf_putc(o, ' ');
	if (v->kind == LF_Y_MAP)
		lf_buf_appends(o, "{}");
	else if (v->kind == LF_Y_SEQ)
		lf_buf_appends(o, "[]");
	else if (v->kind == LF_Y_NULL)
		lf_buf_appends(o, "null");
	else
		emit_scalar(o, v);
	lf_buf_putc(o, '\n');
}

static void emit_map_body_ex(struct lf_buf *o, const struct lf_ynode *m, int ind, bool first_inline,
                             bool tls);

static void emit_map_body(struct lf_buf *o, const struct lf_ynode *m, int ind, bool first_inline)
{
	emit_map_body_ex(o, m, ind, first_inline, false);
}

/* tls: m is a tls_config map (its `key` is a secret). */
static void emit_map_body_ex(struct lf_buf *o, const struct lf_ynode *m, int ind, bool first_inline,
                             bool tls)
{
	for (size_t j = 0; j < m->n; j++) {
		if (j || !first_inline)
			indent(o, ind);
		const struct lf_ynode *k = m->pairs[j].key, *v = m->pairs[j].value;
		emit_scalar(o, k);
		lf_buf_putc(o, ':');
		if (v->kind == LF_Y_MAP && v->n > 0 && strcmp(k->str, "tls_config") == 0) {
			lf_buf_putc(o, '\n');
			emit_map_body_ex(o, v, ind + 2, false, true);
			continue;
		}
		if (v->kind == LF_Y_SCALAR && lf_config_secret_key(k->str, tls)) {
			lf_buf_appends(o, " \"" LF_SECRET_TEXT "\"\n");
			continue;
		}
		if (v->kind == LF_Y_SCALAR && lf_config_url_key(k->str)) {
			struct lf_buf u = LF_BUF_INIT;
			lf_config_mask_url(&u, v->str);
			lf_buf_putc(o, ' ');
			lf_buf_append_json_string(o, u.data ? u.data : "", u.len);
			lf_buf_putc(o, '\n');
			lf_buf_free(&u);
			continue;
		}
		emit_after_key(o, v, ind + 2);
	}
}

static void emit_seq_body(struct lf_buf *o, const struct lf_ynode *s, int ind)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct lf_ynode *it = s->items[i];
		indent(o, ind);
		lf_buf_appends(o, "- ");
		if (it->kind == LF_Y_MAP && it->n > 0) {
			emit_map_body(o, it, ind + 2, true);
		} else if (it->kind == LF_Y_SEQ && it->n > 0) {
			lf_buf_putc(o, '\n');
			emit_seq_body(o, it, ind + 2);
		} else {
			/* emit_after_key adds a leading space; drop the dash's one */
			o->len--;
			emit_after_key(o, it, ind + 2);
		}
	}
}

int lf_agent_config_render(const struct lf_agent_config *c, struct lf_buf *o)
{
	lf_buf_appends(o, "server:\n");
	indent(o, 2);
	lf_buf_printf(o, "disable: %s\n", c->server.disable ? "true" : "false");
	put_str(o, 2, "http_listen_address", c->server.http_listen_address);
	indent(o, 2);
	lf_buf_printf(o, "http_listen_port: %lld\n", (long long)c->server.http_listen_port);
	indent(o, 2);
	lf_buf_printf(o, "register_instrumentation: %s\n",
	              c->server.register_instrumentation ? "true" : "false");
	put_dur(o, 2, "graceful_shutdown_timeout", c->server.graceful_shutdown_timeout_ns);
	indent(o, 2);
	lf_buf_printf(o, "health_check_target: %s\n",
	              c->server.health_check_target ? "true" : "false");
	put_str(o, 2, "log_level", c->server.log_level);
	indent(o, 2);
	lf_buf_printf(o, "enable_runtime_reload: %s\n",
	              c->server.enable_runtime_reload ? "true" : "false");

	lf_buf_appends(o, "clients:");
	if (c->n_clients == 0)
		lf_buf_appends(o, " []");
	lf_buf_putc(o, '\n');
	for (size_t i = 0; i < c->n_clients; i++) {
		const struct lf_client_yaml *cl = &c->clients[i];
		lf_buf_appends(o, "- ");
		put_url(o, 0, "url", cl->url);
		put_str(o, 2, "tenant_id", cl->tenant_id);
		put_dur(o, 2, "batchwait", cl->batchwait_ns);
		indent(o, 2);
		lf_buf_printf(o, "batchsize: %lld\n", (long long)cl->batchsize);
		put_dur(o, 2, "timeout", cl->timeout_ns);
		indent(o, 2);
		lf_buf_appends(o, "backoff_config:\n");
		put_dur(o, 4, "min_period", cl->backoff_min_ns);
		put_dur(o, 4, "max_period", cl->backoff_max_ns);
		indent(o, 4);
		lf_buf_printf(o, "max_retries: %lld\n", (long long)cl->max_retries);
		put_labels(o, 2, "external_labels", &cl->external_labels);
		put_labels(o, 2, "headers", &cl->headers);
		indent(o, 2);
		lf_buf_appends(o, "basic_auth:\n");
		put_str(o, 4, "username", cl->basic_auth.username);
		put_secret(o, 4, "password", cl->basic_auth.password);
		put_str(o, 4, "password_file", cl->basic_auth.password_file);
		put_secret(o, 2, "bearer_token", cl->bearer_token);
		put_str(o, 2, "bearer_token_file", cl->bearer_token_file);
		put_url(o, 2, "proxy_url", cl->proxy_url);
		indent(o, 2);
		lf_buf_appends(o, "tls_config:\n");
		put_str(o, 4, "ca_file", cl->tls.ca_file);
		put_str(o, 4, "cert_file", cl->tls.cert_file);
		put_str(o, 4, "key_file", cl->tls.key_file);
		put_str(o, 4, "server_name", cl->tls.server_name);
		indent(o, 4);
		lf_buf_printf(o, "insecure_skip_verify: %s\n",
		              cl->tls.insecure_skip_verify ? "true" : "false");
		indent(o, 2);
		lf_buf_printf(o, "drop_rate_limited_batches: %s\n",
		              cl->drop_rate_limited_batches ? "true" : "false");
	}

	lf_buf_appends(o, "positions:\n");
	put_str(o, 2, "filename", c->positions.filename);
	put_dur(o, 2, "sync_period", c->positions.sync_period_ns);
	indent(o, 2);
	lf_buf_printf(o, "ignore_invalid_yaml: %s\n",
	              c->positions.ignore_invalid_yaml ? "true" : "false");

	lf_buf_appends(o, "scrape_configs:");
	if (c->n_scrape == 0)
		lf_buf_appends(o, " []");
	lf_buf_putc(o, '\n');
	for (size_t i = 0; i < c->n_scrape; i++) {
		lf_buf_appends(o, "- ");
		emit_map_body(o, c->scrape[i].node, 2, true);
	}

	lf_buf_appends(o, "target_config:\n");
	put_dur(o, 2, "sync_period", c->target_sync_period_ns);
	lf_buf_appends(o, "limits_config:\n");
	const struct lf_limits_config *l = &c->limits;
	indent(o, 2);
	lf_buf_printf(o, "readline_rate_enabled: %s\n",
	              l->readline_rate_enabled ? "true" : "false");
	indent(o, 2);
	lf_buf_printf(o, "readline_rate: %g\n", l->readline_rate);
	indent(o, 2);
	lf_buf_printf(o, "readline_burst: %lld\n", (long long)l->readline_burst);
	indent(o, 2);
	lf_buf_printf(o, "readline_rate_drop: %s\n", l->readline_rate_drop ? "true" : "false");
	indent(o, 2);
	lf_buf_printf(o, "max_streams: %lld\n", (long long)l->max_streams);
	indent(o, 2);
	lf_buf_printf(o, "max_line_size: %lld\n", (long long)l->max_line_size);
	indent(o, 2);
	lf_buf_printf(o, "max_line_size_truncate: %s\n",
	              l->max_line_size_truncate ? "true" : "false");
	lf_buf_appends(o, "global:\n  file_watch_config:\n");
	put_dur(o, 4, "min_poll_frequency", c->min_poll_frequency_ns);
	put_dur(o, 4, "max_poll_frequency", c->max_poll_frequency_ns);
	return 0;
}
