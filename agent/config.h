/* config.h — the agent's configuration: Promtail's YAML file (unchanged)
 * turned into plain structs, plus the command-line overrides.
 *
 * What this module owns: reading the top-level blocks (server, positions,
 * clients, scrape_configs, limits_config, target_config, global) with their
 * defaults, checking every key (unknown keys, wrong types and bad durations
 * are errors naming the key and its line:column), and merging the flags that
 * Promtail lets override the file (-client.url, -client.external-labels, ...).
 *
 * What it does not own: the insides of `pipeline_stages` (pipeline/),
 * `static_configs`, `kubernetes_sd_configs` and `relabel_configs`
 * (discovery/). Those sections are kept as YAML nodes of the loaded document
 * and handed to their modules, so a config keeps its document alive
 * (cfg->doc) until lf_agent_config_free().
 *
 * Keys Promtail knows that logferry ignores (grpc_listen_port, tracing, ...)
 * are accepted and logged at debug level.
 */
#ifndef LF_AGENT_CONFIG_H
#define LF_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "labels.h"
#include "yamlcfg.h"

struct lf_server_config {
	bool disable;
	char *http_listen_address;            /* "" = all interfaces */
	int64_t http_listen_port;             /* 9080 */
	bool register_instrumentation;        /* true: serve /metrics */
	int64_t graceful_shutdown_timeout_ns; /* 30s: bound of the flush at SIGTERM */
	bool health_check_target;             /* true: /ready needs >= 1 target */
	char *log_level;                      /* "info" */
	bool enable_runtime_reload;           /* POST /reload */
};

struct lf_positions_config {
	char *filename;           /* /var/log/positions.yaml */
	int64_t sync_period_ns;   /* 10s */
	bool ignore_invalid_yaml; /* false */
};

struct lf_limits_config {
	bool readline_rate_enabled; /* false */
	double readline_rate;       /* 10000 lines/s */
	int64_t readline_burst;     /* 10000 */
	bool readline_rate_drop;    /* true: drop; false: block (back-pressure) */
	int64_t max_streams;        /* 0 = off */
	int64_t max_line_size;      /* bytes, 0 = off */
	bool max_line_size_truncate;
};

struct lf_basic_auth_config {
	char *username, *password, *password_file;
};

struct lf_tls_config {
	char *ca_file, *cert_file, *key_file, *server_name;
	bool insecure_skip_verify;
};

/* One `clients[]` entry, with Promtail's defaults. */
struct lf_client_yaml {
	char *url;
	char *tenant_id;        /* "" = no X-Scope-OrgID */
	int64_t batchwait_ns;   /* 1s */
	int64_t batchsize;      /* 1048576 bytes */
	int64_t timeout_ns;     /* 10s */
	int64_t backoff_min_ns; /* 500ms */
	int64_t backoff_max_ns; /* 5m */
	int64_t max_retries;    /* 10 */
	struct lf_labels external_labels;
	struct lf_labels headers; /* name -> value (names are not label names) */
	struct lf_basic_auth_config basic_auth;
	char *bearer_token, *bearer_token_file;
	char *proxy_url;
	struct lf_tls_config tls;
	bool drop_rate_limited_batches;
	int line, col; /* where the entry is, for messages */
};

struct lf_scrape_config {
	char *job_name;
	/* Nodes inside cfg->doc (borrowed); NULL when absent. */
	const struct lf_ynode *node;            /* the whole scrape config map */
	const struct lf_ynode *pipeline_stages; /* sequence */
	const struct lf_ynode *relabel_configs;
	const struct lf_ynode *static_configs;
	const struct lf_ynode *kubernetes_sd_configs;
};

struct lf_agent_config {
	struct lf_ydoc *doc; /* owns every node referenced below */
	char *path;          /* file it came from ("" for a string) */
	struct lf_server_config server;
	struct lf_positions_config positions;
	struct lf_client_yaml *clients;
	size_t n_clients;
	struct lf_scrape_config *scrape;
	size_t n_scrape;
	struct lf_limits_config limits;
	int64_t target_sync_period_ns; /* target_config.sync_period, 10s */
	int64_t min_poll_frequency_ns; /* global.file_watch_config, 250ms */
	int64_t max_poll_frequency_ns; /* 250ms */
};

/* Command-line values that override or extend the file. A NULL/negative
 * field means "not given". Applied again on every reload. */
struct lf_config_overrides {
	const char *client_url;             /* adds a client (Promtail's -client.url) */
	const char *client_tenant_id;       /* tenant of that client */
	const char *client_external_labels; /* "k=v,k2=v2": merged into every
	                                     * client; a client's own wins */
	const char *log_level;              /* overrides server.log_level */
	const char *positions_file;         /* -positions.file */
	int64_t http_listen_port;           /* -server.http-listen-port; -1 = not given */
	const char *http_listen_address;    /* -server.http-listen-address */
	int server_disable;                 /* -server.disable; -1 = not given */
	bool enable_runtime_reload;         /* -server.enable-runtime-reload: turns it on */
};

#define LF_CONFIG_OVERRIDES_INIT                                                                   \
	{                                                                                          \
		.http_listen_port = -1, .server_disable = -1                                       \
	}

/* Loads and checks a config file. `ov` may be NULL. */
int lf_agent_config_load(const char *path, bool expand_env, const struct lf_config_overrides *ov,
                         struct lf_agent_config **out, struct lf_error *err);
/* Same from memory (tests); `name` appears in messages. */
int lf_agent_config_load_string(const char *text, size_t len, const char *name, bool expand_env,
                                const struct lf_config_overrides *ov, struct lf_agent_config **out,
                                struct lf_error *err);
void lf_agent_config_free(struct lf_agent_config *cfg);

/* Parses "k=v,k2=v2" into labels (label names validated). */
int lf_parse_label_list(const char *s, struct lf_labels *out, struct lf_error *err);

/* Appends the effective configuration as YAML (defaults filled in; secrets
 * shown as <secret>), as Promtail's -print-config-stderr does. */
int lf_agent_config_render(const struct lf_agent_config *cfg, struct lf_buf *out);

#endif
