/* source.h — the uniform producer interface of the agent's non-file
 * sources (syslog, loki_push_api, journal), beside agent/tail/.
 *
 * A source is built from one scrape config's block, runs its own I/O
 * (threads or fds) and hands entries to the agent through its sink, on the
 * agent's event-loop thread, from run_once(). Entries carry their final
 * stream labels (config `labels` + meta labels -> `relabel_configs` ->
 * `__*` labels removed, except __tenant_id__ which the client turns into
 * X-Scope-OrgID), the timestamp and the line; the agent runs the job's
 * pipeline and queues the result to its clients.
 *
 * At-least-once: entry->origin is lf_source_origin(src) and seq_first /
 * seq_last are the source's own sequence numbers. The agent resolves every
 * seq exactly like a file line (agent/tail/tailer.h): release (dropped),
 * claim (queued to k clients) and, per client, ack. Sources that cannot
 * take anything back (syslog, the push API: the sender already got its
 * answer) treat them as no-ops; the journal keeps its cursor behind them.
 *
 * Global state: none. Everything but list() runs on the event loop.
 */
#ifndef LF_SOURCE_H
#define LF_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "metrics.h"
#include "yamlcfg.h"

#include "../../pipeline/entry.h"
#include "../tail/positions.h"

struct lf_source;

/* The agent's side. deliver() takes an entry for the scrape config at
 * job_index (origin/seq already set); it returns false when the agent
 * cannot take more now (its clients are busy): the source stops
 * delivering until the next run_once. */
struct lf_source_sink {
	void *ctx;
	bool (*deliver)(void *ctx, size_t job_index, struct lf_entry *e);
};

struct lf_source_env {
	const char *job_name;
	size_t job_index;
	const struct lf_ynode *scrape;  /* the whole scrape config (relabel_configs) */
	const struct lf_ynode *block;   /* the source's own block */
	const char *path;               /* "scrape_configs[i]" for messages */
	struct lf_positions *positions; /* borrowed; NULL in -dry-run or checks */
	struct lf_metrics *metrics;
	struct lf_source_sink sink;
};

struct lf_source_ops {
	const char *kind; /* "syslog", "loki_push_api", "journal" */
	/* 0 / -1: bad config (line:col) or startup failure. check_only: parse
	 * and validate, open no socket or file. */
	int (*create)(const struct lf_source_env *env, bool check_only, struct lf_source **out,
	              struct lf_error *err);
	/* The fd the loop waits on (readable = run_once has work), or -1. */
	int (*fd)(struct lf_source *s);
	/* Delivers what is ready, at most `budget` entries. 1 = more left. */
	int (*run_once)(struct lf_source *s, int64_t now_ns, size_t budget);
	/* Monotonic deadline of the next timer, INT64_MAX when none. */
	int64_t (*next_wakeup)(struct lf_source *s);
	void (*release)(struct lf_source *s, uint64_t first, uint64_t last);
	void (*claim)(struct lf_source *s, uint64_t first, uint64_t last, unsigned k);
	void (*ack)(struct lf_source *s, uint64_t first, uint64_t last);
	/* Puts the acknowledged position into the positions table (if any). */
	void (*save)(struct lf_source *s);
	/* Appends one /targets JSON object (no separator). Any thread. */
	void (*list_json)(struct lf_source *s, struct lf_buf *out);
	/* Shutdown: take no more input (threads stopped, sockets closed);
	 * run_once still delivers what was already taken in. */
	void (*stop)(struct lf_source *s);
	/* Stops threads and sockets and frees. */
	void (*free)(struct lf_source *s);
};

/* Every source struct starts with this header. */
struct lf_source {
	const struct lf_source_ops *ops;
	size_t job_index;
	char job_name[128]; /* to find the job again after a reload */
};

extern const struct lf_source_ops lf_syslog_source_ops;
extern const struct lf_source_ops lf_pushapi_source_ops;
extern const struct lf_source_ops lf_journal_source_ops;

/* Entry origins of sources are tagged (low bit set) so the agent tells
 * them from tailer files (aligned pointers) without a lookup. */
static inline void *lf_source_origin(struct lf_source *s)
{
	return (void *)((uintptr_t)s | 1u);
}
static inline struct lf_source *lf_source_of_origin(void *origin)
{
	return ((uintptr_t)origin & 1u) ? (struct lf_source *)((uintptr_t)origin & ~(uintptr_t)1)
	                                : NULL;
}

#endif
