/* sources.h — the set of non-file sources of one agent run, behind one fd.
 *
 * What it owns: the sources built from the scrape configs that have a
 * `syslog`, `loki_push_api` or `journal` block (one source per block), an
 * epoll fd over their fds (the agent waits on that one fd), round-robin
 * run_once, and dispatch of release/claim/ack by entry origin. Also the
 * helpers every source uses: the `labels` block, relabeling with the `__*`
 * drop. The agent talks to sources only through this header.
 *
 * Global state: none. Event-loop thread, except lf_sources_list_json.
 */
#ifndef LF_SOURCES_H
#define LF_SOURCES_H

#include "source.h"

#include "../../pipeline/relabel.h"

struct lf_sources;

/* Validates the source blocks of one scrape config (unknown keys and bad
 * values with line:column). Used by config loading. */
int lf_sources_check(const struct lf_ynode *scrape, const char *path, struct lf_error *err);

/* Empty set. */
int lf_sources_new(struct lf_positions *positions, struct lf_metrics *metrics,
                   struct lf_source_sink sink, struct lf_sources **out, struct lf_error *err);
/* Builds and starts the sources of one scrape config (none when it has no
 * source block). */
int lf_sources_add(struct lf_sources *ss, size_t job_index, const char *job_name,
                   const struct lf_ynode *scrape, const char *path, struct lf_error *err);
void lf_sources_free(struct lf_sources *ss);

size_t lf_sources_count(const struct lf_sources *ss);
/* The fd to wait on (EPOLLIN), -1 when there are no sources. */
int lf_sources_fd(const struct lf_sources *ss);
/* Runs every source once; 1 = work left. */
int lf_sources_run_once(struct lf_sources *ss, int64_t now_ns);
int64_t lf_sources_next_wakeup(const struct lf_sources *ss);

/* Resolution of entries whose origin is a source (see source.h). Return
 * false when origin is not a source's (then it is a tailer file's). */
bool lf_sources_release(void *origin, uint64_t first, uint64_t last);
bool lf_sources_claim(void *origin, uint64_t first, uint64_t last, unsigned k);
bool lf_sources_ack(void *origin, uint64_t first, uint64_t last);

/* The job name of the source an entry comes from (NULL when origin is not
 * a source's). */
const char *lf_sources_job_name(void *origin);
/* Shutdown: every source stops taking input (see source.h stop). */
void lf_sources_stop(struct lf_sources *ss);
/* Writes every source's position into the positions table. */
void lf_sources_save(struct lf_sources *ss);
/* Appends ",{...}" per source (a leading comma when !*first). */
void lf_sources_list_json(struct lf_sources *ss, struct lf_buf *out, bool *first);

/* ---- helpers for the sources ---- */

/* Reads `labels` (a map of valid label names to strings) of a block. */
int lf_source_labels(const struct lf_ynode *block, const char *path, struct lf_labels *out,
                     struct lf_error *err);
/* Builds the scrape config's relabel_configs (NULL = none). */
int lf_source_relabel_new(const struct lf_ynode *scrape, const char *path, struct lf_relabel **out,
                          struct lf_error *err);
/* Applies relabel, then removes `__*` labels except __tenant_id__. False
 * when the entry is dropped (by a rule, or no label left). */
bool lf_source_finish_labels(const struct lf_relabel *r, struct lf_labels *ls);

/* The loop side of a queue-fed source (syslog, push API): takes records
 * from q and delivers them as entries through sink, at most budget; keeps
 * its position in `r` across calls (a busy sink stops it mid-buffer).
 * Returns 1 when records are left. */
struct lf_srcq;
struct lf_srcq_reader {
	struct lf_buf taken;
	size_t off;
	struct lf_entry e;
	uint64_t seq;
};
void lf_srcq_reader_init(struct lf_srcq_reader *r);
void lf_srcq_reader_free(struct lf_srcq_reader *r);
int lf_source_drain(struct lf_source *src, struct lf_srcq *q, struct lf_srcq_reader *r,
                    const struct lf_source_sink *sink, size_t budget);

/* The ops of sources that take nothing back (syslog, the push API: the
 * sender already has its answer) and have no timer. */
int64_t lf_source_no_wakeup(struct lf_source *s);
void lf_source_noop_range(struct lf_source *s, uint64_t first, uint64_t last);
void lf_source_noop_claim(struct lf_source *s, uint64_t first, uint64_t last, unsigned k);
void lf_source_noop_save(struct lf_source *s);

/* The common start of a source's /targets object:
 * `{"job":..,"type":..,"path":..,"labels":{..}` (the caller adds its own
 * fields and the closing brace). */
void lf_source_list_json_head(struct lf_buf *o, const char *job, const char *type, const char *path,
                              const struct lf_labels *labels);

#endif
