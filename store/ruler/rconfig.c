/* rconfig.c — see rconfig.h. */
#include "rconfig.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "timeutil.h"
#include "yamlcfg.h"

#define SEC LF_NS_PER_SEC

int lf_ruler_config_defaults(struct lf_ruler_config *c)
{
	memset(c, 0, sizeof(*c));
	c->storage_type = strdup("");
	c->local_directory = strdup("");
	c->rule_path = strdup("/rules");
	c->alertmanager_url = strdup("");
	c->external_url = strdup("");
	c->rw_url = strdup("");
	if (!c->storage_type || !c->local_directory || !c->rule_path || !c->alertmanager_url ||
	    !c->external_url || !c->rw_url)
		return -1;
	c->evaluation_interval = 60 * SEC;
	c->poll_interval = 60 * SEC;
	c->notification_timeout = 10 * SEC;
	c->notification_queue_capacity = 10000;
	c->resend_delay = 60 * SEC;
	c->for_outage_tolerance = 3600 * SEC;
	c->for_grace_period = 600 * SEC;
	c->enable_api = true;
	c->rw_timeout = 30 * SEC;
	c->max_rule_file_size = 1 << 20;
	c->max_rules_per_tenant = 1000;
	c->eval_timeout = 60 * SEC;
	return 0;
}

void lf_ruler_config_free(struct lf_ruler_config *c)
{
	char **strs[] = {&c->storage_type,       &c->local_directory, &c->rule_path,
	                 &c->alertmanager_url,   &c->am_basic_user,   &c->am_basic_pass,
	                 &c->am_auth_type,       &c->am_credentials,  &c->am_credentials_file,
	                 &c->am_tls_ca,          &c->am_tls_cert,     &c->am_tls_key,
	                 &c->am_tls_server_name, &c->external_url,    &c->rw_url};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	lf_labels_free(&c->external_labels);
}

bool lf_ruler_enabled(const struct lf_ruler_config *c)
{
	return c->storage_type && c->storage_type[0];
}

static const char *const cluster_only[] = {"enable_sharding",
                                           "sharding_strategy",
                                           "sharding_algo",
                                           "ring",
                                           "flush_period",
                                           "search_pending_for",
                                           "enable_alertmanager_discovery",
                                           "alertmanager_refresh_interval",
                                           "wal",
                                           "wal_cleaner",
                                           "enabled_tenants",
                                           "disabled_tenants",
                                           "query_stats_enabled",
                                           "disable_rule_group_label",
                                           "alert_relabel_configs",
                                           "evaluation",
                                           "ruler_client",
                                           "datasource_uid",
                                           NULL};

static bool in_list(const char *const *l, const char *k)
{
	for (; *l; l++)
		if (!strcmp(*l, k))
			return true;
	return false;
}

static int dur_pos(const struct lf_ynode *m, const char *key, int64_t *out, struct lf_error *err)
{
	if (lf_ymap_duration(m, "ruler", key, out, err) < 0)
		return -1;
	if (*out <= 0)
		return lf_y_err(err, lf_ymap_get(m, key), "ruler", "%s must be > 0", key);
	return 0;
}

static int client_block(struct lf_ruler_config *c, const struct lf_ynode *n, const char *path,
                        struct lf_error *err)
{
	static const char *const keys[] = {"url",
	                                   "remote_timeout",
	                                   "headers",
	                                   "name",
	                                   "basic_auth",
	                                   "authorization",
	                                   "tls_config",
	                                   "queue_config",
	                                   "metadata_config",
	                                   "write_relabel_configs",
	                                   "send_exemplars",
	                                   "proxy_url",
	                                   "follow_redirects",
	                                   NULL};
	if (lf_ymap_check(n, path, keys, err) < 0 ||
	    lf_ymap_str(n, path, "url", &c->rw_url, err) < 0 ||
	    lf_ymap_duration(n, path, "remote_timeout", &c->rw_timeout, err) < 0)
		return -1;
	return 0;
}

int lf_ruler_config_apply(struct lf_ruler_config *c, const struct lf_ynode *r, struct lf_error *err)
{
	static const char *const keys[] = {"storage",
	                                   "rule_path",
	                                   "alertmanager_url",
	                                   "enable_alertmanager_v2",
	                                   "alertmanager_client",
	                                   "evaluation_interval",
	                                   "poll_interval",
	                                   "notification_timeout",
	                                   "notification_queue_capacity",
	                                   "resend_delay",
	                                   "for_outage_tolerance",
	                                   "for_grace_period",
	                                   "enable_api",
	                                   "external_url",
	                                   "external_labels",
	                                   "remote_write",
	                                   "max_rule_file_size",
	                                   "max_rules_per_tenant",
	                                   "evaluation_timeout",
	                                   NULL};
	if (!r || r->kind == LF_Y_NULL)
		return 0;
	if (r->kind != LF_Y_MAP)
		return lf_y_err(err, r, "ruler", "must be a map");
	for (size_t i = 0; i < r->n; i++) {
		const char *k = r->pairs[i].key->str;
		if (in_list(cluster_only, k))
			lf_warn("ruler.%s is a Loki cluster setting: accepted and ignored", k);
		else if (!in_list(keys, k))
			return lf_y_err(err, r->pairs[i].key, "ruler", "unknown key \"%s\"", k);
	}
	const struct lf_ynode *st = lf_ymap_get(r, "storage");
	if (st) {
		static const char *const sk[] = {"type",     "local", "s3",  "gcs",
		                                 "azure",    "swift", "bos", "alibabacloud",
		                                 "configdb", NULL};
		static const char *const lk[] = {"directory", NULL};
		if (lf_ymap_check(st, "ruler.storage", sk, err) < 0 ||
		    lf_ymap_str(st, "ruler.storage", "type", &c->storage_type, err) < 0)
			return -1;
		const struct lf_ynode *l = lf_ymap_get(st, "local");
		if (l && (lf_ymap_check(l, "ruler.storage.local", lk, err) < 0 ||
		          lf_ymap_str(l, "ruler.storage.local", "directory", &c->local_directory,
		                      err) < 0))
			return -1;
		if (c->storage_type[0] && strcmp(c->storage_type, "local"))
			return lf_y_err(err, lf_ymap_get(st, "type"), "ruler.storage.type",
			                "unsupported rule storage \"%s\" (logferry-store reads "
			                "only \"local\")",
			                c->storage_type);
		if (!strcmp(c->storage_type, "local") && !c->local_directory[0])
			return lf_y_err(err, st, "ruler.storage.local.directory",
			                "must be set when storage.type is local");
	}
	if (lf_ymap_str(r, "ruler", "rule_path", &c->rule_path, err) < 0 ||
	    lf_ymap_str(r, "ruler", "alertmanager_url", &c->alertmanager_url, err) < 0 ||
	    lf_ymap_bool(r, "ruler", "enable_alertmanager_v2", &c->enable_alertmanager_v2, err) <
	            0 ||
	    dur_pos(r, "evaluation_interval", &c->evaluation_interval, err) < 0 ||
	    dur_pos(r, "poll_interval", &c->poll_interval, err) < 0 ||
	    dur_pos(r, "notification_timeout", &c->notification_timeout, err) < 0 ||
	    lf_ymap_int(r, "ruler", "notification_queue_capacity", &c->notification_queue_capacity,
	                err) < 0 ||
	    dur_pos(r, "resend_delay", &c->resend_delay, err) < 0 ||
	    lf_ymap_duration(r, "ruler", "for_outage_tolerance", &c->for_outage_tolerance, err) <
	            0 ||
	    lf_ymap_duration(r, "ruler", "for_grace_period", &c->for_grace_period, err) < 0 ||
	    lf_ymap_bool(r, "ruler", "enable_api", &c->enable_api, err) < 0 ||
	    lf_ymap_str(r, "ruler", "external_url", &c->external_url, err) < 0 ||
	    lf_ymap_size(r, "ruler", "max_rule_file_size", &c->max_rule_file_size, err) < 0 ||
	    lf_ymap_int(r, "ruler", "max_rules_per_tenant", &c->max_rules_per_tenant, err) < 0 ||
	    dur_pos(r, "evaluation_timeout", &c->eval_timeout, err) < 0)
		return -1;
	if (c->notification_queue_capacity <= 0)
		return lf_y_err(err, lf_ymap_get(r, "notification_queue_capacity"), "ruler",
		                "notification_queue_capacity must be > 0");
	const struct lf_ynode *ac = lf_ymap_get(r, "alertmanager_client");
	if (ac) {
		static const char *const ak[] = {"tls_cert_path",
		                                 "tls_key_path",
		                                 "tls_ca_path",
		                                 "tls_server_name",
		                                 "tls_insecure_skip_verify",
		                                 "tls_cipher_suites",
		                                 "tls_min_version",
		                                 "basic_auth_username",
		                                 "basic_auth_password",
		                                 "type",
		                                 "credentials",
		                                 "credentials_file",
		                                 NULL};
		const char *p = "ruler.alertmanager_client";
		if (lf_ymap_check(ac, p, ak, err) < 0 ||
		    lf_ymap_str(ac, p, "tls_cert_path", &c->am_tls_cert, err) < 0 ||
		    lf_ymap_str(ac, p, "tls_key_path", &c->am_tls_key, err) < 0 ||
		    lf_ymap_str(ac, p, "tls_ca_path", &c->am_tls_ca, err) < 0 ||
		    lf_ymap_str(ac, p, "tls_server_name", &c->am_tls_server_name, err) < 0 ||
		    lf_ymap_bool(ac, p, "tls_insecure_skip_verify", &c->am_tls_insecure, err) < 0 ||
		    lf_ymap_str(ac, p, "basic_auth_username", &c->am_basic_user, err) < 0 ||
		    lf_ymap_str(ac, p, "basic_auth_password", &c->am_basic_pass, err) < 0 ||
		    lf_ymap_str(ac, p, "type", &c->am_auth_type, err) < 0 ||
		    lf_ymap_str(ac, p, "credentials", &c->am_credentials, err) < 0 ||
		    lf_ymap_str(ac, p, "credentials_file", &c->am_credentials_file, err) < 0)
			return -1;
	}
	const struct lf_ynode *el = lf_ymap_get(r, "external_labels");
	if (el && el->kind != LF_Y_NULL) {
		if (el->kind != LF_Y_MAP)
			return lf_y_err(err, el, "ruler.external_labels", "must be a map");
		for (size_t i = 0; i < el->n; i++) {
			const struct lf_ynode *k = el->pairs[i].key, *v = el->pairs[i].value;
			if (!lf_label_name_valid(k->str, k->str_len))
				return lf_y_err(err, k, "ruler.external_labels",
				                "invalid label name \"%s\"", k->str);
			if (v->kind != LF_Y_SCALAR)
				return lf_y_err(err, v, "ruler.external_labels",
				                "%s: must be a string", k->str);
			if (lf_labels_set(&c->external_labels, k->str, v->str) < 0)
				return lf_err(err, "out of memory");
		}
	}
	const struct lf_ynode *rw = lf_ymap_get(r, "remote_write");
	if (rw) {
		static const char *const rk[] = {"enabled", "client", "clients",
		                                 "config_refresh_period", NULL};
		if (lf_ymap_check(rw, "ruler.remote_write", rk, err) < 0 ||
		    lf_ymap_bool(rw, "ruler.remote_write", "enabled", &c->rw_enabled, err) < 0)
			return -1;
		const struct lf_ynode *cl = lf_ymap_get(rw, "client");
		if (cl && client_block(c, cl, "ruler.remote_write.client", err) < 0)
			return -1;
		const struct lf_ynode *cls = lf_ymap_get(rw, "clients");
		if (cls && cls->kind == LF_Y_MAP && cls->n > 0) {
			if (cls->n > 1)
				lf_warn("ruler.remote_write.clients: only the first client (%s) "
				        "is used",
				        cls->pairs[0].key->str);
			if (client_block(c, cls->pairs[0].value, "ruler.remote_write.clients",
			                 err) < 0)
				return -1;
		}
		if (c->rw_enabled && !c->rw_url[0])
			return lf_y_err(err, rw, "ruler.remote_write",
			                "remote-write enabled but no clients URL are configured");
	}
	return 0;
}

static void dur(struct lf_buf *o, const char *key, int64_t ns)
{
	char b[40];
	lf_format_duration(ns, b, sizeof(b));
	lf_buf_printf(o, "  %s: %s\n", key, b);
}

static void str(struct lf_buf *o, const char *ind, const char *key, const char *v)
{
	lf_buf_printf(o, "%s%s: ", ind, key);
	lf_buf_append_yaml_quoted(o, v ? v : "", v ? strlen(v) : 0);
	lf_buf_putc(o, '\n');
}

void lf_ruler_config_render(const struct lf_ruler_config *c, struct lf_buf *o)
{
	lf_buf_appends(o, "ruler:\n  storage:\n");
	str(o, "    ", "type", c->storage_type);
	lf_buf_appends(o, "    local:\n");
	str(o, "      ", "directory", c->local_directory);
	str(o, "  ", "rule_path", c->rule_path);
	str(o, "  ", "alertmanager_url", c->alertmanager_url);
	dur(o, "evaluation_interval", c->evaluation_interval);
	dur(o, "poll_interval", c->poll_interval);
	dur(o, "notification_timeout", c->notification_timeout);
	lf_buf_printf(o, "  notification_queue_capacity: %lld\n",
	              (long long)c->notification_queue_capacity);
	dur(o, "resend_delay", c->resend_delay);
	dur(o, "for_outage_tolerance", c->for_outage_tolerance);
	dur(o, "for_grace_period", c->for_grace_period);
	lf_buf_printf(o, "  enable_api: %s\n", c->enable_api ? "true" : "false");
	str(o, "  ", "external_url", c->external_url);
	lf_buf_printf(o, "  remote_write:\n    enabled: %s\n    client:\n",
	              c->rw_enabled ? "true" : "false");
	str(o, "      ", "url", c->rw_url);
}
