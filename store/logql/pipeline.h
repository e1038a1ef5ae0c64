/* pipeline.h — the LogQL log pipeline: everything after a stream selector
 * of a Loki 2.8 log query (and of the log range inside a metric query):
 *
 *   |= "s"  != "s"  |~ "re"  !~ "re"  |= ip("10.0.0.0/8")     line filters
 *   | json [l="path", ...]  | logfmt [l="key", ...]             parsers
 *   | regexp "re"  | pattern "<a> <_>"  | unpack
 *   | l="v" | l=~"re" | n > 1.5 | d >= 250ms | b < 1MiB | ip   label filters
 *     (combined with `and`, `or`, `,`, space, parentheses)
 *   | line_format "{{.a}}"  | label_format a=b, c="{{.d}}"   formatting
 *   | drop a, b="v"  | decolorize
 *   | unwrap l | unwrap duration(l) | unwrap bytes(l)          (metric only)
 *
 * Semantics follow /work/shared/reference/loki-2.8-logql-ruler-sources.md
 * sections 1 and 3.3: parsers never drop a line, they set __error__ and
 * __error_details__; extracted names that clash with a stream label get
 * `_extracted`; label filters on numbers/durations/bytes drop lines whose
 * label is missing and pass (with __error__=LabelFilterErr) lines whose
 * value does not convert.
 *
 * Ownership: the parse function returns a pipeline the caller frees. A
 * pipeline holds its per-line scratch state (labels, line buffer): it is
 * used by ONE thread at a time; lf_lq_pipeline_clone gives another thread
 * its own copy. lf_lq_pipeline_process does not allocate once its buffers
 * are warm.
 *
 * Division of work with store/logql metric parsing (logql-metric helper):
 * this module implements `| unwrap`, its conversion functions duration(),
 * duration_seconds(), bytes() and the label filters after unwrap; the
 * metric parser calls lf_lq_pipeline_parse with LF_LQ_PIPE_METRIC and reads
 * out->has_value/out->value. The unwrapped label stays in out->labels (the
 * metric side removes it according to its grouping, see 3.3). A sample
 * whose label is missing or "" gives return 0 (skipped, as Loki); a
 * conversion error gives has_value with value 0 and __error__ =
 * SampleExtractionErr.
 */
#ifndef LF_STORE_LOGQL_PIPELINE_H
#define LF_STORE_LOGQL_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "labels.h"
#include "selector.h"

struct lf_lq_pipeline; /* the compiled stages after a selector */

enum {
	/* Parsing inside a metric range expression: `| unwrap` allowed (at
	 * most once; after it only label filters). */
	LF_LQ_PIPE_METRIC = 1u << 0,
};

/* Parses pipeline stages at the lexer's position, after
 * lf_selector_parse_lx has consumed the selector. Call that one with
 * LF_SELECTOR_NO_FILTERS so that this parser sees every line filter: the
 * selector's own filter parser does not know `|= ip("...")` (a leading
 * string filter it already took is fine, but then apply it yourself).
 * Stops before the first token that does not continue the
 * pipeline (it is left peeked in lx), e.g. `[`, `)`, EOF. Errors carry
 * Loki's texts and positions (`parse error at line 1, col N: syntax error:
 * unexpected ...`, `invalid line template: ...`). An empty pipeline (the
 * next token is not `|`, `|=`, `!=`, `|~`, `!~`) is valid: *out is then a
 * pipeline that keeps every line unchanged. 0 / -1. */
int lf_lq_pipeline_parse(struct lf_lq_lexer *lx, unsigned flags, struct lf_lq_pipeline **out,
                         struct lf_error *err);
/* Parses a whole pipeline text (e.g. `| json | a="b"`), nothing else may
 * follow. Convenience for tests and fuzzing. */
int lf_lq_pipeline_parse_str(const char *s, size_t len, unsigned flags, struct lf_lq_pipeline **out,
                             struct lf_error *err);
void lf_lq_pipeline_free(struct lf_lq_pipeline *p); /* NULL ok */
/* An independent copy (own scratch state) for another thread. NULL on
 * ENOMEM. */
struct lf_lq_pipeline *lf_lq_pipeline_clone(const struct lf_lq_pipeline *p);

struct lf_lq_out { /* valid until the next process call on the same pipeline */
	const struct lf_labels
	        *labels;  /* stream labels + extracted/formatted ones (incl. __error__,
	                   * __error_details__ when set), sorted */
	const char *line; /* possibly rewritten line */
	size_t len;
	bool has_value; /* set by `| unwrap` (metric pipelines) */
	double value;
};

/* Runs the stages over one entry. 1 = keep (out filled), 0 = filtered out,
 * -1 = out of memory. No per-line malloc (buffers reused). */
int lf_lq_pipeline_process(struct lf_lq_pipeline *p, int64_t ts_ns, const char *line, size_t len,
                           const struct lf_labels *stream, struct lf_lq_out *out);

/* True when the pipeline never changes labels or the line (only line
 * filters): the caller may then keep the stream labels as the output key. */
bool lf_lq_pipeline_is_filter_only(const struct lf_lq_pipeline *p);
/* The line filters that precede the first non-filter stage (they run on the
 * raw line, so the store can apply them before decoding/decompression
 * costs); they are still applied by lf_lq_pipeline_process too. */
size_t lf_lq_pipeline_leading_filters(const struct lf_lq_pipeline *p,
                                      const struct lf_line_filter **filters);
/* True when the pipeline has no stage at all. */
bool lf_lq_pipeline_is_empty(const struct lf_lq_pipeline *p);
/* True when the pipeline contains `| unwrap`. */
bool lf_lq_pipeline_has_unwrap(const struct lf_lq_pipeline *p);
/* The label `| unwrap` reads (`x` for `| unwrap duration(x)`), borrowed
 * from the pipeline; NULL when there is no unwrap stage. */
const char *lf_lq_pipeline_unwrap_label(const struct lf_lq_pipeline *p);
/* Loki's parser hints (reference 1.12): a metric query whose output needs
 * no label (an outer `sum` without labels over count_over_time, rate,
 * bytes_over_time or bytes_rate, or absent_over_time) skips the parsers
 * `json`, `logfmt` (both without parameters), `pattern` and `unpack`, so
 * their errors never surface -- unless a stage needs labels: a label
 * filter, line_format, label_format or unwrap (Loki counts the labels a
 * template reads; any template counts here). */
bool lf_lq_pipeline_needs_labels(const struct lf_lq_pipeline *p);
void lf_lq_pipeline_set_no_labels(struct lf_lq_pipeline *p, bool on);

/* Appends the LogQL text of the stages (Loki's canonical form:
 * ` | json | a="b" |= "x"`, each stage preceded by a space); nothing for
 * an empty pipeline. 0 / -1. */
int lf_lq_pipeline_render(const struct lf_lq_pipeline *p, struct lf_buf *out);

#endif
