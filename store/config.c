/* config.c — see config.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "timeutil.h"
#include "yamlcfg.h"

#define MB (1024.0 * 1024.0)

int lf_store_config_defaults(struct lf_store_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->auth_enabled = false;
	cfg->http_listen_address = strdup("127.0.0.1");
	cfg->http_listen_port = 3100;
	cfg->log_level = strdup("info");
	cfg->path_prefix = strdup("./data");
	if (!cfg->http_listen_address || !cfg->log_level || !cfg->path_prefix)
		return -1;
	cfg->max_recv_msg_size = 100 << 20;
	struct lf_store_limits *l = &cfg->limits;
	l->ingestion_rate_mb = 4;
	l->ingestion_burst_size_mb = 6;
	l->max_line_size = 256000; /* 256KB as go-humanize parses it */
	l->max_line_size_truncate = false;
	l->max_label_names_per_series = 15;
	l->max_label_name_length = 1024;
	l->max_label_value_length = 2048;
	l->reject_old_samples = true;
	l->reject_old_samples_max_age = 168 * 3600 * LF_NS_PER_SEC;
	l->creation_grace_period = 10 * 60 * LF_NS_PER_SEC;
	l->max_entries_limit_per_query = 5000;
	l->max_query_series = 500;
	l->max_concurrent_tail_requests = 10;
	l->volume_enabled = true;
	l->retention_period = 0;
	l->per_stream_rate_limit = 3 << 20;
	l->per_stream_rate_limit_burst = 15 << 20;
	l->max_global_streams_per_user = 5000;
	l->allow_structured_metadata = true;
	l->max_structured_metadata_size = 64 << 10;
	l->max_structured_metadata_entries_count = 128;
	cfg->chunk_target_size = 1572864;
	cfg->chunk_block_size = 262144;
	cfg->head_block_size = 131072;
	cfg->chunk_encoding = LF_CHUNK_LZ4;
	cfg->chunk_idle_period = 30 * 60 * LF_NS_PER_SEC;
	cfg->max_chunk_age = 2 * 3600 * LF_NS_PER_SEC;
	cfg->flush_check_period = 1 * LF_NS_PER_SEC;
	cfg->retention_enabled = false;
	cfg->compaction_interval = 10 * 60 * LF_NS_PER_SEC;
	return lf_ruler_config_defaults(&cfg->ruler);
}

void lf_store_config_free(struct lf_store_config *cfg)
{
	free(cfg->http_listen_address);
	free(cfg->log_level);
	free(cfg->path_prefix);
	lf_ruler_config_free(&cfg->ruler);
	memset(cfg, 0, sizeof(*cfg));
}

static int set_str(char **dst, const struct lf_ynode *m, const char *path, const char *key,
                   struct lf_error *err)
{
	char *v = NULL;
	if (lf_ymap_str(m, path, key, &v, err) < 0)
		return -1;
	if (v) {
		free(*dst);
		*dst = v;
	}
	return 0;
}

/* Sizes in Loki configs are go-humanize strings or plain integers. */
static int mb_double(const struct lf_ynode *m, const char *path, const char *key, double *out,
                     struct lf_error *err)
{
	return lf_ymap_double(m, path, key, out, err);
}

static int apply(struct lf_store_config *cfg, struct lf_ynode *root, struct lf_error *err)
{
	static const char *const top[] = {"auth_enabled",  "server",   "common",
	                                  "limits_config", "ingester", "compactor",
	                                  "distributor",   "ruler",    NULL};
	static const char *const server[] = {"http_listen_address", "http_listen_port", "log_level",
	                                     NULL};
	static const char *const common[] = {"path_prefix", NULL};
	static const char *const limits[] = {"ingestion_rate_mb",
	                                     "ingestion_burst_size_mb",
	                                     "max_line_size",
	                                     "max_line_size_truncate",
	                                     "max_label_names_per_series",
	                                     "max_label_name_length",
	                                     "max_label_value_length",
	                                     "reject_old_samples",
	                                     "reject_old_samples_max_age",
	                                     "creation_grace_period",
	                                     "max_entries_limit_per_query",
	                                     "max_query_series",
	                                     "retention_period",
	                                     "per_stream_rate_limit",
	                                     "per_stream_rate_limit_burst",
	                                     "max_global_streams_per_user",
	                                     "allow_structured_metadata",
	                                     "max_structured_metadata_size",
	                                     "max_structured_metadata_entries_count",
	                                     "max_concurrent_tail_requests",
	                                     "volume_enabled",
	                                     NULL};
	static const char *const ingester[] = {
	        "chunk_target_size", "chunk_block_size", "chunk_encoding",
	        "chunk_idle_period", "max_chunk_age",    "flush_check_period",
	        "max_head_bytes",    "head_block_size",  NULL};
	static const char *const compactor[] = {"retention_enabled", "compaction_interval", NULL};
	static const char *const distributor[] = {"max_recv_msg_size", NULL};

	if (!root || root->kind == LF_Y_NULL)
		return 0;
	if (lf_ymap_check(root, "top level", top, err) < 0)
		return -1;
	if (lf_ymap_bool(root, "", "auth_enabled", &cfg->auth_enabled, err) < 0)
		return -1;

	struct lf_ynode *s = lf_ymap_get(root, "server");
	if (s) {
		if (lf_ymap_check(s, "server", server, err) < 0 ||
		    set_str(&cfg->http_listen_address, s, "server", "http_listen_address", err) <
		            0 ||
		    lf_ymap_int(s, "server", "http_listen_port", &cfg->http_listen_port, err) < 0 ||
		    set_str(&cfg->log_level, s, "server", "log_level", err) < 0)
			return -1;
		if (cfg->http_listen_port < 0 || cfg->http_listen_port > 65535)
			return lf_y_err(err, lf_ymap_get(s, "http_listen_port"),
			                "server.http_listen_port", "port %lld out of range",
			                (long long)cfg->http_listen_port);
	}
	struct lf_ynode *c = lf_ymap_get(root, "common");
	if (c) {
		if (lf_ymap_check(c, "common", common, err) < 0 ||
		    set_str(&cfg->path_prefix, c, "common", "path_prefix", err) < 0)
			return -1;
		if (!cfg->path_prefix[0])
			return lf_y_err(err, lf_ymap_get(c, "path_prefix"), "common.path_prefix",
			                "must not be empty");
	}
	struct lf_ynode *l = lf_ymap_get(root, "limits_config");
	if (l) {
		const char *p = "limits_config";
		struct lf_store_limits *x = &cfg->limits;
		if (lf_ymap_check(l, p, limits, err) < 0 ||
		    mb_double(l, p, "ingestion_rate_mb", &x->ingestion_rate_mb, err) < 0 ||
		    mb_double(l, p, "ingestion_burst_size_mb", &x->ingestion_burst_size_mb, err) <
		            0 ||
		    lf_ymap_size(l, p, "max_line_size", &x->max_line_size, err) < 0 ||
		    lf_ymap_bool(l, p, "max_line_size_truncate", &x->max_line_size_truncate, err) <
		            0 ||
		    lf_ymap_int(l, p, "max_label_names_per_series", &x->max_label_names_per_series,
		                err) < 0 ||
		    lf_ymap_int(l, p, "max_label_name_length", &x->max_label_name_length, err) <
		            0 ||
		    lf_ymap_int(l, p, "max_label_value_length", &x->max_label_value_length, err) <
		            0 ||
		    lf_ymap_bool(l, p, "reject_old_samples", &x->reject_old_samples, err) < 0 ||
		    lf_ymap_duration(l, p, "reject_old_samples_max_age",
		                     &x->reject_old_samples_max_age, err) < 0 ||
		    lf_ymap_duration(l, p, "creation_grace_period", &x->creation_grace_period,
		                     err) < 0 ||
		    lf_ymap_int(l, p, "max_entries_limit_per_query",
		                &x->max_entries_limit_per_query, err) < 0 ||
		    lf_ymap_int(l, p, "max_query_series", &x->max_query_series, err) < 0 ||
		    lf_ymap_duration(l, p, "retention_period", &x->retention_period, err) < 0 ||
		    lf_ymap_size(l, p, "per_stream_rate_limit", &x->per_stream_rate_limit, err) <
		            0 ||
		    lf_ymap_size(l, p, "per_stream_rate_limit_burst",
		                 &x->per_stream_rate_limit_burst, err) < 0 ||
		    lf_ymap_int(l, p, "max_global_streams_per_user",
		                &x->max_global_streams_per_user, err) < 0 ||
		    lf_ymap_bool(l, p, "allow_structured_metadata", &x->allow_structured_metadata,
		                 err) < 0 ||
		    lf_ymap_size(l, p, "max_structured_metadata_size",
		                 &x->max_structured_metadata_size, err) < 0 ||
		    lf_ymap_int(l, p, "max_structured_metadata_entries_count",
		                &x->max_structured_metadata_entries_count, err) < 0 ||
		    lf_ymap_int(l, p, "max_concurrent_tail_requests",
		                &x->max_concurrent_tail_requests, err) < 0 ||
		    lf_ymap_bool(l, p, "volume_enabled", &x->volume_enabled, err) < 0)
			return -1;
	}
	struct lf_ynode *i = lf_ymap_get(root, "ingester");
	if (i) {
		const char *p = "ingester";
		if (lf_ymap_check(i, p, ingester, err) < 0 ||
		    lf_ymap_size(i, p, "chunk_target_size", &cfg->chunk_target_size, err) < 0 ||
		    lf_ymap_size(i, p, "chunk_block_size", &cfg->chunk_block_size, err) < 0 ||
		    lf_ymap_duration(i, p, "chunk_idle_period", &cfg->chunk_idle_period, err) < 0 ||
		    lf_ymap_duration(i, p, "max_chunk_age", &cfg->max_chunk_age, err) < 0 ||
		    lf_ymap_duration(i, p, "flush_check_period", &cfg->flush_check_period, err) <
		            0 ||
		    lf_ymap_size(i, p, "max_head_bytes", &cfg->max_head_bytes, err) < 0 ||
		    lf_ymap_size(i, p, "head_block_size", &cfg->head_block_size, err) < 0)
			return -1;
		struct lf_ynode *enc = lf_ymap_get(i, "chunk_encoding");
		if (enc) {
			enum lf_chunk_codec codec;
			struct lf_error e2;
			if (enc->kind != LF_Y_SCALAR)
				return lf_y_err(err, enc, "ingester.chunk_encoding",
				                "must be a string");
			if (lf_chunk_codec_parse(enc->str, &codec, &e2) < 0)
				return lf_y_err(err, enc, "ingester.chunk_encoding", "%s", e2.msg);
			cfg->chunk_encoding = (int)codec;
		}
		if (cfg->chunk_target_size <= 0)
			return lf_y_err(err, lf_ymap_get(i, "chunk_target_size"),
			                "ingester.chunk_target_size", "must be > 0");
		if (cfg->chunk_block_size <= 0)
			return lf_y_err(err, lf_ymap_get(i, "chunk_block_size"),
			                "ingester.chunk_block_size", "must be > 0");
		if (cfg->head_block_size < 64 || cfg->head_block_size > (64 << 20))
			return lf_y_err(err, lf_ymap_get(i, "head_block_size"),
			                "ingester.head_block_size", "must be 64B .. 64MB");
		if (cfg->max_head_bytes < 0)
			return lf_y_err(err, lf_ymap_get(i, "max_head_bytes"),
			                "ingester.max_head_bytes", "must be >= 0");
		if (cfg->flush_check_period <= 0)
			return lf_y_err(err, lf_ymap_get(i, "flush_check_period"),
			                "ingester.flush_check_period", "must be > 0");
	}
	struct lf_ynode *k = lf_ymap_get(root, "compactor");
	if (k) {
		if (lf_ymap_check(k, "compactor", compactor, err) < 0 ||
		    lf_ymap_bool(k, "compactor", "retention_enabled", &cfg->retention_enabled,
		                 err) < 0 ||
		    lf_ymap_duration(k, "compactor", "compaction_interval",
		                     &cfg->compaction_interval, err) < 0)
			return -1;
		if (cfg->compaction_interval <= 0)
			return lf_y_err(err, lf_ymap_get(k, "compaction_interval"),
			                "compactor.compaction_interval", "must be > 0");
	}
	struct lf_ynode *d = lf_ymap_get(root, "distributor");
	if (d) {
		if (lf_ymap_check(d, "distributor", distributor, err) < 0 ||
		    lf_ymap_size(d, "distributor", "max_recv_msg_size", &cfg->max_recv_msg_size,
		                 err) < 0)
			return -1;
		if (cfg->max_recv_msg_size <= 0)
			return lf_y_err(err, lf_ymap_get(d, "max_recv_msg_size"),
			                "distributor.max_recv_msg_size", "must be > 0");
	}
	if (lf_ruler_config_apply(&cfg->ruler, lf_ymap_get(root, "ruler"), err) < 0)
		return -1;
	return 0;
}

int lf_store_config_load(struct lf_store_config *cfg, const char *path, bool expand_env,
                         struct lf_error *err)
{
	struct lf_ydoc *doc = NULL;
	if (lf_ydoc_load_file(path, expand_env, &doc, err) < 0)
		return -1;
	int rc = apply(cfg, lf_ydoc_root(doc), err);
	lf_ydoc_free(doc);
	return rc;
}

int lf_store_config_load_string(struct lf_store_config *cfg, const char *text, size_t len,
                                const char *name, struct lf_error *err)
{
	struct lf_ydoc *doc = NULL;
	if (lf_ydoc_load_string(text, len, name, false, &doc, err) < 0)
		return -1;
	int rc = apply(cfg, lf_ydoc_root(doc), err);
	lf_ydoc_free(doc);
	return rc;
}

static void dur(struct lf_buf *o, const char *key, int64_t ns)
{
	char b[40];
	lf_format_duration(ns, b, sizeof(b));
	lf_buf_printf(o, "  %s: %s\n", key, b);
}

int lf_store_config_render(const struct lf_store_config *cfg, struct lf_buf *o)
{
	const struct lf_store_limits *l = &cfg->limits;
	lf_buf_printf(o, "auth_enabled: %s\n", cfg->auth_enabled ? "true" : "false");
	lf_buf_appends(o, "server:\n  http_listen_address: ");
	lf_buf_append_yaml_quoted(o, cfg->http_listen_address, strlen(cfg->http_listen_address));
	lf_buf_printf(o, "\n  http_listen_port: %lld\n  log_level: %s\n",
	              (long long)cfg->http_listen_port, cfg->log_level);
	lf_buf_appends(o, "common:\n  path_prefix: ");
	lf_buf_append_yaml_quoted(o, cfg->path_prefix, strlen(cfg->path_prefix));
	lf_buf_printf(o, "\ndistributor:\n  max_recv_msg_size: %lld\n",
	              (long long)cfg->max_recv_msg_size);
	lf_buf_printf(o, "limits_config:\n  ingestion_rate_mb: %g\n  ingestion_burst_size_mb: %g\n",
	              l->ingestion_rate_mb, l->ingestion_burst_size_mb);
	lf_buf_printf(o, "  max_line_size: %lld\n  max_line_size_truncate: %s\n",
	              (long long)l->max_line_size, l->max_line_size_truncate ? "true" : "false");
	lf_buf_printf(o,
	              "  max_label_names_per_series: %lld\n  max_label_name_length: %lld\n"
	              "  max_label_value_length: %lld\n  reject_old_samples: %s\n",
	              (long long)l->max_label_names_per_series, (long long)l->max_label_name_length,
	              (long long)l->max_label_value_length,
	              l->reject_old_samples ? "true" : "false");
	dur(o, "reject_old_samples_max_age", l->reject_old_samples_max_age);
	dur(o, "creation_grace_period", l->creation_grace_period);
	lf_buf_printf(o, "  max_entries_limit_per_query: %lld\n  max_query_series: %lld\n",
	              (long long)l->max_entries_limit_per_query, (long long)l->max_query_series);
	dur(o, "retention_period", l->retention_period);
	lf_buf_printf(o,
	              "  per_stream_rate_limit: %lld\n  per_stream_rate_limit_burst: %lld\n"
	              "  max_global_streams_per_user: %lld\n  allow_structured_metadata: %s\n"
	              "  max_structured_metadata_size: %lld\n"
	              "  max_structured_metadata_entries_count: %lld\n",
	              (long long)l->per_stream_rate_limit,
	              (long long)l->per_stream_rate_limit_burst,
	              (long long)l->max_global_streams_per_user,
	              l->allow_structured_metadata ? "true" : "false",
	              (long long)l->max_structured_metadata_size,
	              (long long)l->max_structured_metadata_entries_count);
	lf_buf_printf(o, "  max_concurrent_tail_requests: %lld\n  volume_enabled: %s\n",
	              (long long)l->max_concurrent_tail_requests,
	              l->volume_enabled ? "true" : "false");
	lf_buf_printf(o,
	              "ingester:\n  chunk_target_size: %lld\n  chunk_block_size: %lld\n"
	              "  chunk_encoding: %s\n",
	              (long long)cfg->chunk_target_size, (long long)cfg->chunk_block_size,
	              lf_chunk_codec_name((enum lf_chunk_codec)cfg->chunk_encoding));
	dur(o, "chunk_idle_period", cfg->chunk_idle_period);
	dur(o, "max_chunk_age", cfg->max_chunk_age);
	dur(o, "flush_check_period", cfg->flush_check_period);
	lf_buf_printf(o, "  max_head_bytes: %lld\n  head_block_size: %lld\n",
	              (long long)cfg->max_head_bytes, (long long)cfg->head_block_size);
	lf_buf_printf(o, "compactor:\n  retention_enabled: %s\n",
	              cfg->retention_enabled ? "true" : "false");
	dur(o, "compaction_interval", cfg->compaction_interval);
	lf_ruler_config_render(&cfg->ruler, o);
	return 0;
}
