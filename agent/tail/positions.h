/* positions.h — the positions file: how far each tailed file was read and
 * acknowledged, so that a restart resumes instead of re-shipping.
 *
 * What this module owns: the in-memory table path -> position, reading it at
 * startup and writing it atomically (temp file in the same directory, fsync,
 * rename, fsync of the directory; mode 0600). It does not decide *which*
 * offset is safe to store: the tailer only puts offsets whose lines are done
 * (acknowledged by every client or dropped), see tailer.h.
 *
 * Format: Promtail's, so a node can switch from Promtail without re-shipping
 * and back again:
 *
 *     positions:
 *       /var/log/pods/ns_pod_uid/c/0.log: "12345"
 *
 * Promtail reads this file with a *strict* YAML decoder (unknown top-level
 * keys are an error), so logferry's extra identity data is written as YAML
 * comments, which every YAML reader ignores:
 *
 *     # logferry-id: dev=2049 ino=131 size=12345 fplen=256 fp=9f86d081884c7d65 path=/var/log/a.log
 *
 * dev/ino identify the file the offset belongs to: a file at the same path
 * with another inode (rotated or replaced while the agent was down) starts
 * at 0 instead of at a stale offset; a file smaller than the saved offset
 * (truncated) starts at 0. fp is a 64-bit FNV-1a hash of the first fplen
 * (<= 256) bytes, which catches inode reuse (a new file that got the inode
 * of a deleted one). A Promtail file without these comments is trusted by
 * path alone, as Promtail does. Keys that are not file paths (Promtail's
 * `journal-<job>` and `cursor-...` entries) are kept and written back
 * unchanged.
 *
 * No global state. Every function is called from one thread (the agent's
 * event loop); lf_positions_save_async hands rendered snapshots to a writer
 * thread the table owns (started on first use, joined by
 * lf_positions_free), so fsyncs do not stall that loop.
 */
#ifndef LF_TAIL_POSITIONS_H
#define LF_TAIL_POSITIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Options (named _opts: agent/config.h owns struct lf_positions_config). */
struct lf_positions_opts {
	const char *filename;     /* copied; e.g. /var/log/positions.yaml */
	bool ignore_invalid_yaml; /* corrupt file: log a warning and start empty */
	bool read_only;           /* -dry-run: read the file but never write it */
};

/* Identity of the file an offset belongs to; has_id false for entries read
 * from a plain Promtail file (offset only). */
struct lf_pos_entry {
	uint64_t offset;
	bool has_id;
	uint64_t dev, ino;
	uint64_t size;  /* file size when the entry was last updated */
	uint32_t fplen; /* bytes hashed into fp (0 = no fingerprint) */
	uint64_t fp;
};

struct lf_positions;

/* Reads opts->filename. A missing file is an empty table (the file is created
 * on the first save). A corrupt file (not YAML, NUL bytes, `positions` not a
 * map of scalars, an offset that is not a non-negative integer) fails with
 * "invalid yaml positions file [<path>]: <reason>", unless
 * ignore_invalid_yaml, in which case the reason is logged and the table
 * starts empty. */
int lf_positions_open(const struct lf_positions_opts *opts, struct lf_positions **out,
                      struct lf_error *err);
void lf_positions_free(struct lf_positions *p);

/* Looks path up. Returns true and fills *out when present. */
bool lf_positions_get(const struct lf_positions *p, const char *path, struct lf_pos_entry *out);
/* Inserts or replaces path's entry. 0 / -1 (ENOMEM). */
int lf_positions_put(struct lf_positions *p, const char *path, const struct lf_pos_entry *e);
/* Removes path's entry (no-op when absent). */
void lf_positions_remove(struct lf_positions *p, const char *path);
size_t lf_positions_count(const struct lf_positions *p);

/* Non-file keys (`journal-<job>`, `cursor-...`): the raw string value.
 * get returns NULL when absent (borrowed until the next put/remove);
 * put copies value. 0 / -1 (ENOMEM). */
const char *lf_positions_get_cursor(const struct lf_positions *p, const char *key);
int lf_positions_put_cursor(struct lf_positions *p, const char *key, const char *value);

/* Calls fn for every entry (in no particular order) until fn returns
 * non-zero. Non-file keys (journal-, cursor-) are skipped. fn must not
 * put/remove. */
void lf_positions_foreach(const struct lf_positions *p,
                          int (*fn)(void *ctx, const char *path, const struct lf_pos_entry *e),
                          void *ctx);

/* Writes the table atomically if anything changed since the last save (or
 * always with force). No-op in read_only mode. Errors name the file. */
int lf_positions_save(struct lf_positions *p, bool force, struct lf_error *err);

/* Like lf_positions_save, but only renders the table (on the caller's
 * thread) and hands the document to the background writer, which writes it
 * the same atomic way; a snapshot not yet written is replaced by a newer
 * one. A failed write is logged (rate-limited) and makes the next save
 * write even if nothing changed. Returns -1 only when memory runs out. */
int lf_positions_save_async(struct lf_positions *p, bool force, struct lf_error *err);

/* Waits until every snapshot handed to the writer is on disk (or failed).
 * lf_positions_save does this first, so the last synchronous save wins. */
void lf_positions_wait_written(struct lf_positions *p);

/* Parses a positions document from memory (for tests and -check-syntax);
 * `name` appears in the error message in place of the file name. */
int lf_positions_parse(struct lf_positions *p, const char *text, size_t len, const char *name,
                       struct lf_error *err);

/* FNV-1a 64 of a byte range (the fingerprint function). */
uint64_t lf_pos_fingerprint(const void *data, size_t len);
#define LF_POS_FP_MAX 256

#endif
