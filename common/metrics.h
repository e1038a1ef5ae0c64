/* metrics.h — a small metrics registry rendered in Prometheus text format.
 *
 * A registry holds families (counter, gauge, histogram), each with fixed
 * label names and children keyed by label values. Updates are thread-safe
 * (one mutex per registry; fine for per-batch and per-event updates). For
 * per-line counters keep a plain local counter and publish it through a
 * collector callback, which is called at render time.
 */
#ifndef LF_METRICS_H
#define LF_METRICS_H

#include <stddef.h>

#include "buf.h"

enum lf_metric_type { LF_METRIC_COUNTER, LF_METRIC_GAUGE, LF_METRIC_HISTOGRAM };

struct lf_metrics;
struct lf_metric_family;

struct lf_metrics *lf_metrics_new(void);
void lf_metrics_free(struct lf_metrics *reg);

/* Registers (or returns the already registered) family `name`.
 * label_names: NULL-terminated array, or NULL for none. buckets: upper
 * bounds for histograms (ascending, +Inf implied), else NULL/0.
 * Returns NULL only when memory runs out. The family lives as long as reg. */
struct lf_metric_family *lf_metrics_family(struct lf_metrics *reg, enum lf_metric_type type,
                                           const char *name, const char *help,
                                           const char *const *label_names, const double *buckets,
                                           size_t n_buckets);

/* label_values: as many strings as the family has label names (NULL if none). */
void lf_metric_add(struct lf_metric_family *f, const char *const *label_values, double v);
void lf_metric_inc(struct lf_metric_family *f, const char *const *label_values);
void lf_metric_set(struct lf_metric_family *f, const char *const *label_values, double v);
void lf_metric_observe(struct lf_metric_family *f, const char *const *label_values, double v);
/* Current value of a counter/gauge child (0 when absent); for tests. */
double lf_metric_value(struct lf_metric_family *f, const char *const *label_values);
/* Removes one child (e.g. a per-file gauge when the file closes). */
void lf_metric_remove(struct lf_metric_family *f, const char *const *label_values);

typedef void (*lf_metrics_collect_fn)(void *ctx, struct lf_buf *out);
/* fn appends complete exposition text (# HELP/# TYPE and samples). It runs
 * on the rendering thread (the HTTP server's) with the registry locked: it
 * must synchronise with the thread owning its data itself and must not call
 * back into this registry. */
int lf_metrics_add_collector(struct lf_metrics *reg, lf_metrics_collect_fn fn, void *ctx);
void lf_metrics_remove_collector(struct lf_metrics *reg, lf_metrics_collect_fn fn, void *ctx);

/* Appends the whole registry in text format 0.0.4. */
int lf_metrics_render(struct lf_metrics *reg, struct lf_buf *out);

#endif
