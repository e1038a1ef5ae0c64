/* sdlist.h — the discovered targets of one sync as a compact record list,
 * for the agent's /service-discovery page.
 *
 * What it owns: the record format only. Discovery appends one record per
 * discovered target (a static_configs entry, a pod container, a pod
 * directory the kubelet has not listed) when lf_discovery_opts.keep_discovered
 * is set: the job, the label set before relabeling (`__meta_*`, `__path__`,
 * ...), and what became of it (kept with its final labels, or dropped, with
 * the index of the relabel rule that dropped it). The records are NUL
 * separated strings in one buffer, so a snapshot is one allocation and a
 * reader needs no parsing beyond strlen.
 *
 * Bounds: as Promtail, at most LF_SD_MAX_DROPPED dropped targets per job
 * keep their labels; the others get an "unlisted" record (job and verdict
 * only, so the page still counts them). A list stops growing at
 * LF_SD_MAX_BYTES; later targets are only counted (lf_targets.sd_omitted).
 */
#ifndef LF_DISCOVERY_SDLIST_H
#define LF_DISCOVERY_SDLIST_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/buf.h"
#include "../common/labels.h"

#define LF_SD_MAX_BYTES   (64u << 20)
#define LF_SD_MAX_DROPPED 100 /* dropped targets listed per job */

/* What became of a discovered target. */
enum lf_sd_verdict {
	LF_SD_KEPT = 'k',
	LF_SD_DROPPED = 'd',    /* a relabel rule (rule index known) */
	LF_SD_WRONG_HOST = 'h', /* __host__ is another node */
	LF_SD_NO_PATH = 'p',    /* no __path__ after relabeling */
};

/* Writer: begin with the discovered set, end with the verdict. The two
 * calls always come in pairs. Returns -1 when memory runs out (the buffer
 * then holds a partial record: reset it). */
int lf_sd_begin(struct lf_buf *b, const char *job, const struct lf_labels *discovered);
int lf_sd_end(struct lf_buf *b, enum lf_sd_verdict v, size_t rule, const char *path,
              const struct lf_labels *final);
/* A label set serialized once (lf_sd_labels) and reused by many syncs:
 * lf_sd_begin_blob(b, job, blob) == lf_sd_begin(b, job, labels). */
int lf_sd_labels(struct lf_buf *blob, const struct lf_labels *ls);
int lf_sd_begin_blob(struct lf_buf *b, const char *job, const struct lf_buf *blob);
/* A whole record of a dropped target whose labels are not kept. */
int lf_sd_unlisted(struct lf_buf *b, const char *job, enum lf_sd_verdict v, size_t rule);

/* One record as read back. Label pairs are consecutive NUL-terminated
 * strings name, value, name, value, ...: walk them with lf_sd_pair_next. */
struct lf_sd_target {
	const char *job;
	enum lf_sd_verdict verdict;
	bool listed;      /* false: a dropped target counted only (no labels) */
	size_t rule;      /* index of the dropping relabel rule, or SIZE_MAX */
	const char *path; /* __path__ for kept targets, else "" */
	size_t n_disc, n_final;
	const char *disc, *final; /* first name of each pair list */
};

/* Reads the record at *pos (advancing it). false at the end or on a
 * malformed list. */
bool lf_sd_next(const char *data, size_t len, size_t *pos, struct lf_sd_target *out);
/* Returns the string after s (the value after a name, the next name). */
const char *lf_sd_pair_next(const char *s);
/* Looks a discovered label up by name (NULL when absent). */
const char *lf_sd_disc_get(const struct lf_sd_target *t, const char *name);

#endif
