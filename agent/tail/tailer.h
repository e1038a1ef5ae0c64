/* tailer.h — follows log files and hands out their lines, at least once.
 *
 * What this module owns: the set of open files, each one an fd + its (dev,
 * inode) identity + a read offset; reading them in big blocks (>= 64 KiB,
 * one reusable buffer, lines split with memchr, no malloc per line);
 * noticing growth, rotation (rename, copytruncate, delete, recreate) through
 * inotify or, per file, by polling; the in-flight bookkeeping that turns
 * acknowledgements into committed offsets (inflight.h); and keeping the
 * positions table (positions.h) up to date with those committed offsets.
 *
 * What it does not own: which paths to tail. The caller evaluates globs /
 * discovery and passes the wanted path set with lf_tailer_sync(); the
 * tailer opens new paths, keeps tailing known ones and drains + closes the
 * ones that left the set.
 *
 * Global state: inotify is used through libinotifytools, which keeps ONE
 * inotify instance and its watch table in process-wide static variables
 * (it is not reentrant and has no handle type). Therefore at most one
 * lf_tailer per process uses inotify (a second one, or force_poll, polls),
 * and nothing else in the process may call inotifytools_* functions. The
 * tailer initialises the library on first use and never calls
 * inotifytools_cleanup() while a tailer is alive.
 *
 * Threads: every function here runs on the agent's event-loop thread,
 * except lf_tailer_list() and the metrics collector, which take the
 * tailer's mutex and may run on the HTTP server thread.
 *
 * ---- Behaviour ----
 * - A new path with no saved position is read from the beginning (Promtail's
 *   default). A saved position is used when the saved identity matches the
 *   file (inode + fingerprint of the first <= 256 bytes when present; dev
 *   is stored but not compared, device numbers can change across reboots;
 *   a plain Promtail entry matches by path, as in Promtail) and the file
 *   is not smaller than the offset; otherwise the file starts at 0.
 * - The positions entry of a path follows its oldest file that still has
 *   lines in flight: after a rotation it keeps the old file's identity and
 *   committed offset until all the old file's lines are done, then moves
 *   to the new file. A crash in between re-reads the new file from 0; the
 *   unacknowledged tail of the rotated file (now under another name) is
 *   not recovered unless that name is itself a wanted path. Entries of
 *   paths that are not tailed are kept while the file exists and dropped
 *   once it is gone; a path that leaves the set records its final offset.
 * - Symlinks are followed; one underlying file (dev, inode) is tailed once
 *   even when several wanted paths reach it. Its lines carry the path and
 *   target of the first path that reached it (the "primary" path); if that
 *   path leaves the set while another wanted path still reaches the file,
 *   the other path becomes primary.
 * - Rename rotation: the old fd is read to EOF and kept until it has not
 *   grown for rotate_wait (writers may still append after the rename), then
 *   closed once all its lines are done; the new file at the path is opened
 *   from offset 0 as soon as it is seen. Recreate = the path now names
 *   another inode (same treatment). copytruncate: size < read offset ->
 *   reading restarts at 0; so does a file whose first bytes changed
 *   (truncated and rewritten past our offset, e.g. while paused). Deleted
 *   file: read to EOF, closed after rotate_wait without growth and all
 *   lines done (the fd is not kept open forever: the disk space is freed).
 *   A path that rotates twice between two lf_tailer_run_once() calls
 *   loses the middle file (it was never opened); run_once keeps running
 *   while paused, so this needs two rotations within one loop turn.
 * - A partial last line (no '\n' yet) waits; it is delivered with
 *   partial=true after partial_flush without growth, or at the end of a
 *   rotated/deleted/removed file. Bytes that follow it later form the next
 *   line.
 * - Lines longer than max_line_size are delivered truncated to
 *   max_line_size bytes (truncated=true) when max_line_size_truncate, or
 *   dropped otherwise; either way the rest of the line is skipped up to its
 *   '\n' without buffering it (memory stays bounded) and counted in
 *   logferry_tail_long_lines_total{action="truncated"|"dropped"}. With
 *   max_line_size 0 the hard cap LF_TAIL_HARD_MAX_LINE applies, truncating.
 * - Bytes are passed through unchanged: invalid UTF-8, NUL bytes and '\r'
 *   before the '\n' stay in the line.
 * - inotify: the directory of every wanted path (and of the file a symlink
 *   resolves to) is watched for creates/renames/deletes; every open file is
 *   watched for modifications. When inotify is unavailable or a watch
 *   cannot be added (ENOSPC: fs.inotify.max_user_watches exhausted) that
 *   file falls back to polling (stat every poll_min, doubling up to poll_max
 *   while nothing changes), logged once per tailer. IN_Q_OVERFLOW makes
 *   every path be re-checked.
 * - Unreadable paths (EACCES and other open errors) are logged once per
 *   change of state, counted in logferry_file_open_errors_total{reason} and
 *   retried on every lf_tailer_sync(); never fatal.
 * - Flow control: while paused (lf_tailer_pause) nothing is read; the files
 *   are the buffer. Each file also stops reading while it has
 *   max_inflight_lines lines not yet done.
 *
 * ---- Metrics (registered in opts.metrics; per-line counts kept locally and
 * published by a collector at render time) ----
 *   logferry_read_bytes_total{path}      gauge: read offset (as Promtail's)
 *   logferry_read_lines_total{path}      counter: lines delivered
 *   logferry_file_bytes_total{path}      gauge: file size at the last check
 *   logferry_files_active_total          gauge: open files
 *   logferry_file_open_errors_total{reason}   counter (permission|not_found|other)
 *   logferry_tail_long_lines_total{action}    counter (truncated|dropped)
 * lag in bytes = file_bytes - read_bytes, as with Promtail.
 *
 * ---- At-least-once contract (for the agent) ----
 * Every delivered line has a `seq`, per file, strictly increasing (starting
 * at 1), and starts "held". The caller must resolve each seq exactly once
 * through one of:
 *   - lf_tail_release(file, first, last): the pipeline dropped it (or the
 *     agent does not send it anywhere): done.
 *   - lf_tail_claim(file, first, last, k): an entry covering seqs
 *     [first, last] of this file left the pipeline and was queued to k
 *     clients. Every slot in the range that is still held becomes owned by
 *     this entry (owner = last) with k acks pending. k = 0 is release.
 *   - nothing yet: the pipeline holds it (cri partial, multiline); it stays
 *     held until a later claim/release covers it.
 * Then each client calls (through the agent, on the event-loop thread)
 *   - lf_tail_ack(file, first, last) once per entry when the entry was
 *     delivered OR permanently dropped: the slots owned by this entry get
 *     one pending ack fewer.
 * A slot is done when released or when its pending count reaches 0. The
 * committed offset of a file = end offset of the longest prefix of done
 * slots; only committed offsets go to the positions file (saved soon after
 * they move, see positions_flush_ns). A file that left
 * the set (or rotated/was deleted) stays alive — its struct lf_tail_file
 * pointer stays valid — until all of its slots are done, so a file pointer
 * kept in entry->origin is valid until the last ack for it. Ranges are per
 * file: an entry must not merge lines of two files (multiline/cri state is
 * keyed by the label set, which includes `filename`).
 * After lf_tailer_free() no file pointer may be used.
 */
#ifndef LF_TAIL_TAILER_H
#define LF_TAIL_TAILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "metrics.h"
#include "positions.h"

struct lf_tailer;
struct lf_tail_file; /* one underlying file (dev, inode); opaque */

/* Hard cap on a line when max_line_size is 0 (lines are truncated to it). */
#define LF_TAIL_HARD_MAX_LINE (8u << 20)

/* One line, valid only during the on_line call (data points into the read
 * buffer; copy what you keep). */
struct lf_tail_line {
	struct lf_tail_file *file; /* for claim/ack; store it in entry->origin */
	void *target;              /* the ctx given with the primary path */
	const char *path;          /* the primary path (NUL-terminated) */
	const char *data;          /* the bytes, without the '\n' */
	size_t len;
	uint64_t seq;        /* per file, increasing, starts at 1 */
	uint64_t end_offset; /* file offset just after this line (and its '\n') */
	bool truncated;      /* cut at max_line_size */
	bool partial;        /* delivered without '\n' (timeout / end of file) */
};

typedef void (*lf_tail_line_fn)(void *cb_ctx, const struct lf_tail_line *line);

struct lf_tailer_opts {
	lf_tail_line_fn on_line; /* required */
	void *cb_ctx;
	/* Optional: the tailer stored `target` (from a lf_tail_target) in a
	 * file / dropped that reference. Lets the agent refcount targets whose
	 * files are still draining after they left the set. */
	void (*target_ref)(void *cb_ctx, void *target);
	void (*target_unref)(void *cb_ctx, void *target);

	struct lf_positions *positions; /* borrowed; NULL = no persistence */
	struct lf_metrics *metrics;     /* borrowed; NULL = no metrics */

	/* Every numeric field: 0 = the default in brackets. */
	size_t read_size;            /* bytes per read(2) [256 KiB], min 64 KiB */
	size_t max_line_size;        /* limits_config.max_line_size [0 = hard cap] */
	bool max_line_size_truncate; /* limits_config.max_line_size_truncate */
	int64_t partial_flush_ns;    /* [5s]; < 0 = never flush a partial line */
	int64_t rotate_wait_ns;      /* [5s] keep a rotated/deleted file this long
	                              * after its last growth */
	int64_t poll_min_ns;         /* [250ms] global.file_watch_config */
	int64_t poll_max_ns;         /* [250ms] */
	int64_t positions_sync_ns;   /* positions.sync_period [10s]; < 0 = only
	                              * lf_tailer_save_positions() writes */
	int64_t positions_flush_ns;  /* [100ms, at most positions_sync_ns] when
	                              * an acknowledgement (or release) moves a
	                              * committed offset, the file is saved at
	                              * once if the last save is this old, else
	                              * this long after the last save: a crash
	                              * re-sends little that was acknowledged,
	                              * and saves stay at most one per period
	                              * whatever the line rate; < 0 = only the
	                              * periodic sync */
	int64_t recheck_ns;          /* [10s] stat every path even with inotify
	                              * (lost events, IN_Q_OVERFLOW); < 0 = never */
	size_t max_inflight_lines;   /* per file [1048576] */
	size_t read_budget;          /* bytes read per run_once [4 MiB] */
	bool force_poll;             /* never use inotify (tests, odd filesystems) */
};

/* One wanted path. `target` is opaque to the tailer and comes back in
 * lf_tail_line.target. */
struct lf_tail_target {
	const char *path;
	void *target;
};

int lf_tailer_new(const struct lf_tailer_opts *opts, struct lf_tailer **out, struct lf_error *err);
/* Closes every file at once (no draining, no callbacks except target_unref).
 * Call lf_tailer_save_positions() first on a clean shutdown. */
void lf_tailer_free(struct lf_tailer *t);

/* Sets the wanted path set (the whole set each time; paths are copied).
 * New paths are opened (or retried if they failed before), known paths
 * keep their state (their target is updated), paths no longer in the set
 * are read to their current end and closed once done. Also re-checks the
 * identity of every path (rotation missed by inotify). Per-path failures
 * are logged and visible in lf_tailer_list(), never returned. Returns -1
 * only when memory runs out. Do not call it from inside on_line. */
int lf_tailer_sync(struct lf_tailer *t, const struct lf_tail_target *targets, size_t n,
                   struct lf_error *err);

/* Does the due work without blocking: drains inotify events, re-checks
 * paths that changed, reads files with new data (up to read_budget bytes,
 * round-robin), flushes timed-out partial lines, polls polled files,
 * closes drained files and saves positions when positions_sync is due.
 * now_ns is lf_monotonic_ns(). Returns 1 when work is left (call again
 * without waiting), 0 when idle until the fd is readable or
 * lf_tailer_next_wakeup_ns(). */
int lf_tailer_run_once(struct lf_tailer *t, int64_t now_ns);

/* The inotify fd to wait on for readability (epoll), or -1 when the tailer
 * only polls. Do not read from it. */
int lf_tailer_fd(const struct lf_tailer *t);
/* Monotonic time (ns) of the next timer (poll, partial flush, rotate wait,
 * recheck, positions sync); INT64_MAX when none. Ask again after acks or
 * resume: they can make work due at once (the result is then <= now). */
int64_t lf_tailer_next_wakeup_ns(const struct lf_tailer *t);

/* True (once) when a watched directory saw a create/rename since the last
 * call: the caller may want to re-evaluate its globs now instead of at the
 * next sync_period. */
bool lf_tailer_take_dir_changed(struct lf_tailer *t);

/* Back-pressure: stop / restart reading. Safe inside on_line (reading stops
 * after the current line; the rest is re-read later). */
void lf_tailer_pause(struct lf_tailer *t);
void lf_tailer_resume(struct lf_tailer *t);
bool lf_tailer_paused(const struct lf_tailer *t);

/* Resolution of delivered lines; see the contract above. Safe inside
 * on_line. Out-of-range or already-done seqs are ignored. */
void lf_tail_release(struct lf_tail_file *f, uint64_t first, uint64_t last);
void lf_tail_claim(struct lf_tail_file *f, uint64_t first, uint64_t last, unsigned k);
void lf_tail_ack(struct lf_tail_file *f, uint64_t first, uint64_t last);

/* Puts every file's committed offset into the positions table and writes it
 * (force = even if unchanged). For shutdown, after the clients flushed. */
int lf_tailer_save_positions(struct lf_tailer *t, bool force, struct lf_error *err);

/* For /targets and tests. `state` is one of "reading", "rotated",
 * "deleted", "draining" (left the set), "unreadable", "missing". */
struct lf_tail_file_info {
	const char *path; /* primary path */
	void *target;
	uint64_t dev, ino;  /* 0 for unreadable / missing paths */
	uint64_t offset;    /* read offset */
	uint64_t committed; /* acknowledged offset (what positions store) */
	uint64_t size;      /* file size at the last check */
	uint64_t lines;     /* lines delivered */
	uint64_t inflight;  /* lines not done yet */
	bool polled;        /* watched by polling instead of inotify */
	const char *state;
	const char *error;     /* last open error for unreadable paths, else "" */
	int64_t error_time_ns; /* when that error began (ns since the epoch), else 0 */
};
/* Calls fn for every open file and every wanted path that could not be
 * opened. Thread-safe (takes the tailer's mutex); fn must not call into the
 * tailer. */
void lf_tailer_list(struct lf_tailer *t, void (*fn)(void *ctx, const struct lf_tail_file_info *),
                    void *ctx);

/* Number of open files (logferry_files_active_total). */
size_t lf_tailer_active_files(const struct lf_tailer *t);

#endif
