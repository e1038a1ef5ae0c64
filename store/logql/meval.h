/* meval.h — evaluates LogQL metric queries (mparse.h) over a tenant's data
 * and renders Loki 2.8's JSON answer (`matrix`, `vector`, `scalar`).
 *
 * Semantics: /work/shared/reference/loki-2.8-logql-ruler-sources.md 3.2-3.8:
 * step grid t = start, start+step, ... <= end; window (t-range-offset,
 * t-offset]; the frontend's step alignment (start floored, end ceiled to a
 * multiple of step) and its 30m split (the last step of every sub-query and
 * of an instant query has an end-exclusive window); per-step
 * max_query_series; the `pipeline error` for samples carrying __error__.
 *
 * Memory: entries are streamed from the source and never kept. A range
 * aggregation without unwrap keeps two integer counters per (series, step);
 * one with unwrap keeps the (ts, value) samples of each series until it is
 * evaluated (bounded by the samples the query selects, as in Loki's range
 * iterators). Intermediate results are dense (series x steps) matrices.
 */
#ifndef LF_STORE_LOGQL_MEVAL_H
#define LF_STORE_LOGQL_MEVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "labels.h"
#include "mparse.h"
#include "query.h"
#include "selector.h"

/* One log entry handed to the engine. stream_idx identifies the stream
 * within one scan call (entries of a stream share their labels object), or
 * is LF_MQ_NO_STREAM when the labels are the entry's own (stream labels
 * plus its structured metadata). Return 0 to continue, -1 to stop the scan
 * (the engine's error is set). */
#define LF_MQ_NO_STREAM UINT32_MAX
typedef int (*lf_mq_entry_fn)(void *ctx, uint32_t stream_idx, const struct lf_labels *stream,
                              int64_t ts, const char *line, size_t len);

/* Where entries come from: the store (lf_mq_tenant_source) or, in tests, an
 * in-memory set. scan calls fn for every entry with from <= ts < to of the
 * streams whose labels match sel's matchers, in any order. filters are the
 * query's leading line filters: a source may skip entries (or whole blocks)
 * they reject, the engine applies them anyway. Returns 0, or -1 when fn
 * stopped it or on a read error (err set). */
struct lf_mq_source {
	int (*scan)(void *src_ctx, const struct lf_selector *sel,
	            const struct lf_line_filter *filters, size_t n_filters, int64_t from,
	            int64_t to, lf_mq_entry_fn fn, void *fn_ctx, struct lf_query_stats *st,
	            struct lf_error *err);
	void *ctx;
};

/* A source reading a tenant (head and chunks, as lf_query_logs). t may be
 * NULL (no data). */
struct lf_mq_source lf_mq_tenant_source(struct lf_tenant *t);

struct lf_mq_limits {
	int64_t max_query_series; /* 500; <= 0 = unlimited */
	int64_t max_query_length; /* ns, 721h; 0 = unlimited */
	int64_t query_timeout;    /* ns, 1m; 0 = none */
	int64_t split_interval;   /* ns, the frontend's split_queries_by_interval (30m); 0 = off */
	/* Bytes the engine may hold for one query's series (values, counters,
	 * labels, unwrapped samples): 192 MiB, so that a query selecting
	 * millions of series (a parser's high-cardinality labels without an
	 * aggregation that can be fused with the range) fails with a 400
	 * instead of exhausting memory. Not a Loki limit; 0 = none. */
	int64_t max_memory;
};
void lf_mq_limits_default(struct lf_mq_limits *l);

struct lf_mq_request {
	const char *query;
	bool range;         /* query_range (else instant query at `start`) */
	int64_t start, end; /* ns */
	const char *step;   /* the `step` parameter (NULL = default) */
};

/* Runs a metric query. 0: out holds the whole JSON body. -1: *status is the
 * HTTP status (400 parse/limit/pipeline errors, 500 evaluation errors such
 * as many-to-many matching, 504 timeout) and err the body text. */
int lf_mq_run(const struct lf_mq_source *src, const struct lf_mq_request *rq,
              const struct lf_mq_limits *lim, struct lf_buf *out, int *status,
              struct lf_error *err);

/* Go strconv.FormatFloat(v, 'f', -1, 64): "0.1", "1000000000000000000000",
 * "NaN", "+Inf", "-Inf". out must hold >= 400 bytes (1e308 in full). */
void lf_mq_format_float(double v, char *out, size_t n);

#endif
