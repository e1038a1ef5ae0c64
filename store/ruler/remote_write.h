/* remote_write.h — sends recording-rule samples (and ALERTS series) to a
 * Prometheus remote-write receiver: a snappy-compressed protobuf
 * prometheus.WriteRequest (remote.proto, written here from the documented
 * field numbers), POSTed with Content-Encoding: snappy and
 * X-Prometheus-Remote-Write-Version: 0.1.0, from its own thread.
 *
 * The queue is bounded (samples); when full the oldest are dropped and
 * counted, so evaluation never blocks. A failed POST (connection error,
 * 5xx, 429) is retried with exponential backoff (100 ms to 10 s); another
 * 4xx drops the batch. One WriteRequest holds the samples of one tenant
 * (X-Scope-OrgID set).
 */
#ifndef LF_STORE_RULER_REMOTE_WRITE_H
#define LF_STORE_RULER_REMOTE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "eval.h"
#include "metrics.h"
#include "rconfig.h"

struct lf_rw;

int lf_rw_start(const struct lf_ruler_config *cfg, struct lf_metrics *reg, struct lf_rw **out,
                struct lf_error *err);
/* Queues samples (label sets with __name__) at ts_ms; copies them. */
void lf_rw_push(struct lf_rw *w, const char *tenant, const struct lf_sample *s, size_t n,
                int64_t ts_ms);
void lf_rw_stop(struct lf_rw *w); /* NULL ok */

/* Encodes a WriteRequest of these samples (for tests). out gets the
 * uncompressed protobuf. 0 / -1. */
int lf_rw_encode(const struct lf_sample *s, size_t n, int64_t ts_ms, struct lf_buf *out);

#endif
