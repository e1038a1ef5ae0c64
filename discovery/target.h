/* target.h — what discovery hands the agent: the files to tail, each with
 * the job it belongs to and its final label set, plus the directories whose
 * changes may add or remove files.
 *
 * A target is one concrete file (DESIGN.md §3). Its labels are final:
 * relabel_configs applied, `__host__` filtering done, every label starting
 * with `__` removed. The `filename` label is NOT in the set: the agent adds
 * `filename=<path>` per file (as Promtail does), because only the agent
 * knows which path it reports for a symlinked file.
 *
 * A struct lf_targets is caller-owned and reused across syncs
 * (lf_discovery_sync refills it, keeping memory); every pointer in it stays
 * valid until the next sync into the same struct or lf_targets_free().
 */
#ifndef LF_TARGET_H
#define LF_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../common/labels.h"

/* A label set shared by the files of one discovered target (one static
 * config entry, or one pod container). */
struct lf_target_group {
	size_t job;              /* job_index given to lf_discovery_add_job */
	struct lf_labels labels; /* final labels, no `__*`, no filename */
	uint64_t labels_hash;    /* lf_labels_hash(&labels) */
};

struct lf_target {
	size_t job;                     /* == groups[group].job */
	const char *path;               /* the path as the glob matched it (not
	                                 * symlink-resolved); absolute when __path__ is */
	const struct lf_labels *labels; /* == &groups[group].labels */
	uint64_t labels_hash;
	size_t group; /* index into lf_targets.groups */
};

/* Why a discovered target produced no files (Promtail's
 * promtail_targets_failed_total reasons), counted per sync. */
struct lf_targets_dropped {
	size_t dropped;    /* relabel_configs dropped it */
	size_t wrong_host; /* __host__ != hostname */
	size_t no_path;    /* no __path__ after relabeling */
	size_t exists;     /* same (job, path) already produced by an earlier target */
};

struct lf_targets {
	/* Sorted by (path, job), unique on (path, job): the first target (in
	 * config order) that matches a file for a job wins. Sorted so the agent
	 * can diff two syncs with one merge pass. */
	struct lf_target *v;
	size_t n;
	struct lf_target_group *groups;
	size_t n_groups;
	/* Directories whose entries the globs depend on (sorted, unique). A new
	 * or removed entry in one of them may change the result: the agent
	 * watches them (inotify IN_CREATE|IN_DELETE|IN_MOVED_*) and calls
	 * lf_discovery_sync when one fires. */
	char **watch_dirs;
	size_t n_watch_dirs;
	struct lf_targets_dropped dropped;
	/* With lf_discovery_opts.keep_discovered: every discovered target of
	 * this sync, kept or dropped, as records of discovery/sdlist.h (n_sd of
	 * them); sd_omitted counts those past the bound. Empty otherwise. */
	struct lf_buf sd;
	size_t n_sd, sd_omitted;

	/* internal: allocation sizes and string storage */
	size_t cap_v, cap_groups, cap_watch;
	struct lf_buf strings;
};

#define LF_TARGETS_INIT                                                                            \
	{                                                                                          \
		0                                                                                  \
	}

void lf_targets_free(struct lf_targets *t);

#endif
