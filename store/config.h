/* config.h — logferry-store configuration: Loki's key names and defaults.
 *
 * Only the keys listed in config.c are accepted; any other key is an error
 * naming it with file:line:col (common/yamlcfg.h). A missing config file
 * means all defaults: tenant `fake` (auth disabled), 127.0.0.1:3100, data
 * under ./data.
 */
#ifndef LF_STORE_CONFIG_H
#define LF_STORE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "rconfig.h"

struct lf_store_limits {
	double ingestion_rate_mb;       /* per tenant, MB/s */
	double ingestion_burst_size_mb; /* per tenant, MB */
	int64_t max_line_size;          /* bytes, 0 = unlimited */
	bool max_line_size_truncate;
	int64_t max_label_names_per_series;
	int64_t max_label_name_length;
	int64_t max_label_value_length;
	bool reject_old_samples;
	int64_t reject_old_samples_max_age; /* ns */
	int64_t creation_grace_period;      /* ns */
	int64_t max_entries_limit_per_query;
	int64_t max_query_series;
	int64_t retention_period;            /* ns, 0 = keep forever */
	int64_t per_stream_rate_limit;       /* bytes/s */
	int64_t per_stream_rate_limit_burst; /* bytes */
	int64_t max_global_streams_per_user; /* 0 = unlimited */
	bool allow_structured_metadata;
	int64_t max_structured_metadata_size; /* bytes per entry */
	int64_t max_structured_metadata_entries_count;
	int64_t max_concurrent_tail_requests; /* per tenant, default 10 */
	bool volume_enabled;                  /* /index/volume(_range); default true */
};

struct lf_store_config {
	bool auth_enabled;
	char *http_listen_address;
	int64_t http_listen_port;
	char *log_level;
	char *path_prefix;
	int64_t max_recv_msg_size; /* push body, compressed and decompressed */
	struct lf_store_limits limits;
	int64_t chunk_target_size;  /* bytes of uncompressed entries per chunk */
	int64_t chunk_block_size;   /* bytes of uncompressed entries per block */
	int chunk_encoding;         /* enum lf_chunk_codec (store/chunk.h) */
	int64_t chunk_idle_period;  /* ns */
	int64_t max_chunk_age;      /* ns */
	int64_t flush_check_period; /* ns */
	/* Memory limit of the heads (bytes they hold: sealed blocks
	 * compressed, open blocks raw; all tenants together); past it, the flusher cuts the largest heads
	 * early. 0 = no limit. Pushes are never refused for it. */
	int64_t max_head_bytes;
	/* Raw bytes of a head's open block before it is compressed (head.h;
	 * at most chunk_block_size is used); not a Loki key. */
	int64_t head_block_size;
	bool retention_enabled;
	int64_t compaction_interval;  /* ns */
	struct lf_ruler_config ruler; /* store/ruler/rconfig.h */
};

/* Fills cfg with the defaults (allocates the strings). */
int lf_store_config_defaults(struct lf_store_config *cfg);
/* Loads path over the defaults. A missing file is an error here; main()
 * decides whether a missing -config.file means defaults. */
int lf_store_config_load(struct lf_store_config *cfg, const char *path, bool expand_env,
                         struct lf_error *err);
int lf_store_config_load_string(struct lf_store_config *cfg, const char *text, size_t len,
                                const char *name, struct lf_error *err);
void lf_store_config_free(struct lf_store_config *cfg);
/* Renders the effective config as YAML (for GET /config). */
int lf_store_config_render(const struct lf_store_config *cfg, struct lf_buf *out);

#endif
