/* query.h — the read path over one tenant: log queries (stream selector +
 * line filters, time range, limit, direction), label names and values,
 * series; results rendered as the JSON fragments Loki's HTTP API returns.
 *
 * A query holds the tenant's read lock while it matches streams, scans the
 * head and copies the chunk refs it needs; chunk files are read after the
 * lock is released (a chunk deleted by retention meanwhile is skipped).
 * Only the `limit` best entries (newest for backward, oldest for forward)
 * are kept, in a heap; blocks and chunks that cannot beat the current worst
 * kept entry are skipped without being decompressed.
 */
#ifndef LF_STORE_QUERY_H
#define LF_STORE_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "pipeline.h"
#include "selector.h"
#include "tenant.h"

struct lf_log_query {
	const struct lf_selector *sel; /* matchers + the line filters right after them */
	int64_t start, end;            /* ns; start inclusive, end exclusive */
	size_t limit;
	bool forward;
	/* The LogQL pipeline after the selector (NULL: none); used by this one
	 * query (one thread). Result streams are keyed by the output label set
	 * of each line. Last, so positional initialisers stay valid. */
	struct lf_lq_pipeline *pipe;
};

struct lf_query_stats {
	uint64_t head_lines, head_bytes;   /* scanned in memory */
	uint64_t chunk_lines, chunk_bytes; /* decompressed from chunks */
	uint64_t compressed_bytes;
	uint64_t chunks_ref, chunks_read, blocks_read, blocks_skipped, corrupt_blocks;
	uint64_t post_filter_lines;
	uint64_t returned;
	int64_t exec_ns;
};

/* Appends the JSON array `[{"stream":{..},"values":[["<ns>","line"],..]},..]`
 * to out. t may be NULL (unknown tenant: empty result). */
int lf_query_logs(struct lf_tenant *t, const struct lf_log_query *q, struct lf_buf *out,
                  struct lf_query_stats *st, struct lf_error *err);
/* Appends Loki's "stats" object. */
void lf_query_stats_json(const struct lf_query_stats *st, struct lf_buf *out);

/* Appends a sorted JSON array of label names / values of streams that match
 * sel (NULL = all) and have data in [start, end]. */
int lf_query_label_names(struct lf_tenant *t, const struct lf_selector *sel, int64_t start,
                         int64_t end, struct lf_buf *out);
int lf_query_label_values(struct lf_tenant *t, const char *name, const struct lf_selector *sel,
                          int64_t start, int64_t end, struct lf_buf *out);
/* Appends a JSON array of label maps of streams matching any of sels. */
int lf_query_series(struct lf_tenant *t, struct lf_selector *const *sels, size_t n_sels,
                    int64_t start, int64_t end, struct lf_buf *out);

/* Appends Loki's index stats object {"streams","chunks","entries","bytes"}
 * for streams matching sel with data in [start, end]. bytes is the sum of
 * each chunk's uncompressed size rounded to KB, as Loki's index keeps it.
 * Unlike Loki 2.8 (index only), data not yet flushed counts too: each
 * stream's head as one chunk. */
int lf_query_index_stats(struct lf_tenant *t, const struct lf_selector *sel, int64_t start,
                         int64_t end, struct lf_buf *out);

/* Appends s as a JSON string, escaping as Go's encoder does and replacing
 * invalid UTF-8 with U+FFFD (so any stored bytes render as valid JSON). */
void lf_json_str(struct lf_buf *b, const char *s, size_t n);
/* Appends a JSON object of the label set. */
void lf_json_labels(struct lf_buf *b, const struct lf_labels *ls);

#endif
