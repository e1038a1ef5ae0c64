/* wal.h — a tenant's write-ahead log: numbered segment files of records
 * `u32 length | u32 crc32c(payload) | payload` (little-endian).
 *
 * Appending and syncing are split so many pushes share one fdatasync
 * (group commit): lf_wal_append() writes the record (callers order appends
 * with their own lock, so the head and the WAL agree on order), then
 * lf_wal_sync(seq) returns once that record is on disk — whichever waiter
 * finds no sync in flight runs one for everyone written so far.
 *
 * Replay reads every segment in order and stops a segment cleanly at the
 * first torn or corrupt record (the file is truncated there and the skip is
 * logged with file and offset). New records always go to a new segment.
 */
#ifndef LF_STORE_WAL_H
#define LF_STORE_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define LF_WAL_MAX_RECORD (512u << 20)

struct lf_wal;

/* A position: records in segment < seg, or in seg at offset < off, are
 * "before" it. */
struct lf_wal_pos {
	uint32_t seg;
	uint64_t off;
};

static inline int lf_wal_pos_cmp(struct lf_wal_pos a, struct lf_wal_pos b)
{
	if (a.seg != b.seg)
		return a.seg < b.seg ? -1 : 1;
	return a.off < b.off ? -1 : a.off > b.off;
}

struct lf_wal_replay_stats {
	uint64_t records;
	uint64_t bytes;
	uint64_t skipped_bytes; /* torn / corrupt tails */
	uint32_t segments;
	uint32_t torn_segments;
};

/* Opens (creating) the WAL directory. segment_size: rotate after this many
 * bytes (0 = 128 MiB). Does not replay and does not open a segment yet. */
int lf_wal_open(const char *dir, uint64_t segment_size, struct lf_wal **out, struct lf_error *err);
void lf_wal_close(struct lf_wal *w);

/* Calls fn for every valid record of every existing segment, in order, then
 * opens a fresh segment for appends, numbered above every existing one and
 * at least min_next (positions stored elsewhere must never be reused). fn
 * returning -1 aborts replay. */
typedef int (*lf_wal_replay_fn)(void *ctx, struct lf_wal_pos pos, const unsigned char *rec,
                                size_t len);
int lf_wal_replay(struct lf_wal *w, uint32_t min_next, lf_wal_replay_fn fn, void *ctx,
                  struct lf_wal_replay_stats *st, struct lf_error *err);
/* The segment appends currently go to. */
uint32_t lf_wal_segment(struct lf_wal *w);

/* Writes one record (not yet durable). *pos receives where it starts and
 * *seq the ticket for lf_wal_sync. Thread-safe. */
int lf_wal_append(struct lf_wal *w, const void *rec, size_t len, struct lf_wal_pos *pos,
                  uint64_t *seq, struct lf_error *err);
/* Returns once every record up to seq is fsynced (group commit). */
int lf_wal_sync(struct lf_wal *w, uint64_t seq, struct lf_error *err);
/* The position just past the last appended record. */
struct lf_wal_pos lf_wal_end(struct lf_wal *w);
/* Deletes segments numbered below seg (never the current one). Returns the
 * number deleted. */
int lf_wal_remove_before(struct lf_wal *w, uint32_t seg);

#endif
