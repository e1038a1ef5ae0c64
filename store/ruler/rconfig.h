/* rconfig.h — the `ruler:` block of logferry-store's config (Loki 2.8's keys
 * and defaults, reference 5.1).
 *
 * Owns: struct lf_ruler_config (plain values copied out of the YAML) and the
 * reader for the block. The ruler runs only when storage.type is set (Loki:
 * an empty type means no ruler); only `local` is supported. Keys that only
 * matter in a Loki cluster (ring, sharding, WAL, discovery, relabeling) are
 * accepted and reported with a warning, once, at load.
 */
#ifndef LF_STORE_RULER_RCONFIG_H
#define LF_STORE_RULER_RCONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "labels.h"

struct lf_ynode;

struct lf_ruler_config {
	char *storage_type;     /* "" = ruler off */
	char *local_directory;  /* storage.local.directory: <dir>/<tenant>/<ns file> */
	char *rule_path;        /* scratch dir (Loki: /rules); created, otherwise unused */
	char *alertmanager_url; /* comma-separated list, "" = alerts are not sent */
	bool enable_alertmanager_v2;
	/* alertmanager_client */
	char *am_basic_user, *am_basic_pass;
	char *am_auth_type, *am_credentials, *am_credentials_file;
	char *am_tls_ca, *am_tls_cert, *am_tls_key, *am_tls_server_name;
	bool am_tls_insecure;
	int64_t evaluation_interval;         /* ns, 1m */
	int64_t poll_interval;               /* ns, 1m */
	int64_t notification_timeout;        /* ns, 10s */
	int64_t notification_queue_capacity; /* 10000 alerts */
	int64_t resend_delay;                /* ns, 1m */
	int64_t for_outage_tolerance;        /* ns, 1h */
	int64_t for_grace_period;            /* ns, 10m */
	bool enable_api;                     /* true */
	char *external_url;
	struct lf_labels external_labels;
	bool rw_enabled;
	char *rw_url;       /* remote_write.client.url (or the first of clients) */
	int64_t rw_timeout; /* ns, 30s */
	/* Bounds against hostile rule files (not Loki keys; see README). */
	int64_t max_rule_file_size;   /* bytes, 1 MiB */
	int64_t max_rules_per_tenant; /* 1000 */
	int64_t eval_timeout;         /* ns: per rule query, capped by the group interval */
};

int lf_ruler_config_defaults(struct lf_ruler_config *c);
void lf_ruler_config_free(struct lf_ruler_config *c);
/* Reads the `ruler:` map node over the defaults. Warnings for cluster-only
 * keys are logged. */
int lf_ruler_config_apply(struct lf_ruler_config *c, const struct lf_ynode *node,
                          struct lf_error *err);
bool lf_ruler_enabled(const struct lf_ruler_config *c);
/* Appends the block as YAML (for GET /config). */
void lf_ruler_config_render(const struct lf_ruler_config *c, struct lf_buf *o);

#endif
