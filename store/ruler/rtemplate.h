/* rtemplate.h — Prometheus alerting templates (labels and annotations of
 * alerting rules) on top of common/template.h.
 *
 * Prometheus runs each template with the preamble
 *   {{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}
 *   {{$externalURL := .ExternalURL}}{{$value := .Value}}
 * The Go-template engine here has no variables, so the text is rewritten
 * before parsing: `$labels.x`/`.Labels.x` become a field lookup of label x,
 * `$externalLabels.x`/`.ExternalLabels.x` one of external label x,
 * `$value`/`.Value` `(float64 <value lookup>)` (a number, as in Prometheus),
 * `$externalURL`/`.ExternalURL` a lookup of the URL (strings and quoted text are left alone). The
 * humanize family and Prometheus' other functions live in common/template.c.
 *
 * The output of one expansion is bounded (LF_RTMPL_MAX_OUT bytes); longer
 * output is an error (a `repeat 100000000` cannot exhaust memory beyond the
 * engine's own argument checks).
 */
#ifndef LF_STORE_RULER_RTEMPLATE_H
#define LF_STORE_RULER_RTEMPLATE_H

#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "labels.h"

struct lf_template;

#define LF_RTMPL_MAX_OUT (64 * 1024)

struct lf_rtmpl_data {
	const struct lf_labels *labels;
	const struct lf_labels *external_labels;
	double value;
	const char *external_url;
};

/* Rewrites and parses text; name goes into messages (Prometheus uses
 * `__alert_<alertname>`). */
int lf_rtmpl_new(const char *name, const char *text, struct lf_template **out,
                 struct lf_error *err);
/* Expands t into out (reset first). Errors name the template. */
int lf_rtmpl_exec(struct lf_template *t, const struct lf_rtmpl_data *d, struct lf_buf *out,
                  struct lf_error *err);
/* The rewrite alone (exposed for tests). Caller frees. NULL on ENOMEM. */
char *lf_rtmpl_rewrite(const char *text);
/* Go's fmt %v of a float64 (strconv 'g', shortest): "3", "0.5", "123456", "1e+06" (exponent from
 * 1e6 and below 1e-4), "NaN", "+Inf". n >= 32. */
void lf_rtmpl_format_value(double v, char *out, size_t n);

#endif
