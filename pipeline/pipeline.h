/* pipeline.h — a Promtail pipeline (`pipeline_stages`) built from YAML and
 * run over entries.
 *
 * One pipeline per scrape config, shared by all of its targets; state that
 * Promtail keeps per stream (cri partial lines, multiline blocks, timestamp
 * fudging) is keyed by the entry's label set. Single-threaded: the agent's
 * event-loop thread owns it.
 */
#ifndef LF_PIPELINE_H
#define LF_PIPELINE_H

#include <stdint.h>

#include "../common/error.h"
#include "../common/metrics.h"
#include "../common/yamlcfg.h"
#include "entry.h"

struct lf_pipeline;

struct lf_pipeline_env {
	struct lf_metrics *metrics; /* for logentry_dropped_lines_total and the
				     * metrics stage (logferry_custom_*); may be NULL */
	const char *job_name;       /* used in load errors and metric labels */
};

/* What happened to the entry passed to lf_pipeline_process. */
enum lf_pipe_result {
	LF_PIPE_EMITTED = 0, /* it (possibly changed) was passed to emit() */
	LF_PIPE_DROPPED = 1, /* a filter dropped it (counted with a reason) */
	LF_PIPE_HELD = 2,    /* kept inside (cri partial, multiline); it comes out
			      * later, merged, through emit() */
};

/* emit() receives entries leaving the pipeline; the pointer is valid only
 * during the call (copy what you keep). */
typedef void (*lf_pipeline_emit_fn)(void *ctx, struct lf_entry *e);

/* Builds a pipeline from a `pipeline_stages` sequence node (NULL or an
 * empty sequence = a pipeline that passes entries through). Errors name the
 * job, the stage index and kind, and the YAML line:column. */
int lf_pipeline_new(const struct lf_ynode *stages, const struct lf_pipeline_env *env,
		    struct lf_pipeline **out, struct lf_error *err);
void lf_pipeline_free(struct lf_pipeline *p);

/* Runs e through every stage. e stays owned by the caller: a held entry is
 * copied inside. Entries released by this call (e itself and/or earlier held
 * ones) go to emit() before it returns, in order. */
enum lf_pipe_result lf_pipeline_process(struct lf_pipeline *p, struct lf_entry *e,
					lf_pipeline_emit_fn emit, void *ctx);

/* Releases held entries whose wait time ran out (multiline max_wait_time).
 * The agent calls it about every 100 ms. */
void lf_pipeline_tick(struct lf_pipeline *p, int64_t now_ns, lf_pipeline_emit_fn emit, void *ctx);

/* Releases every held entry (shutdown, end of stdin). */
void lf_pipeline_flush(struct lf_pipeline *p, lf_pipeline_emit_fn emit, void *ctx);

#endif
