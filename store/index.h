/* index.h — a tenant's persistent index in SQLite (WAL journal mode,
 * synchronous=FULL so a commit is durable when it returns):
 *   series(id, labels, wal_seg, wal_off)  sorted label set text -> id, and
 *                                      the WAL position up to which the
 *                                      series is flushed (kept when
 *                                      retention deletes its chunks)
 *   postings(name, value, series_id)   label pair -> series ids
 *   chunks(id, series_id, from_ns, through_ns, entries, bytes, file,
 *          wal_seg, wal_off)           chunk refs; wal_* is the WAL position
 *                                      up to which the chunk's stream is flushed
 * The store keeps a mirror of series and chunk refs in memory for queries;
 * this file is what survives restarts. One connection, used by one thread
 * at a time (the caller serialises: startup and the flusher).
 */
#ifndef LF_STORE_INDEX_H
#define LF_STORE_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "labels.h"

struct lf_index;

struct lf_index_chunk {
	int64_t id;
	int64_t series_id;
	int64_t from, through;
	int64_t entries, bytes;
	const char *file; /* name relative to the tenant's chunks/ directory */
	uint32_t wal_seg;
	uint64_t wal_off;
};

/* A batch: the series and chunk rows written between begin and end are one
 * SQLite transaction (each call inside is its own savepoint, so a failed
 * one does not undo the others). end(ix, false) rolls the batch back. */
int lf_index_batch_begin(struct lf_index *ix, struct lf_error *err);
int lf_index_batch_end(struct lf_index *ix, bool commit, struct lf_error *err);
int lf_index_open(const char *path, struct lf_index **out, struct lf_error *err);
void lf_index_close(struct lf_index *ix);

typedef int (*lf_index_series_fn)(void *ctx, int64_t id, const char *labels, uint32_t wal_seg,
                                  uint64_t wal_off);
typedef int (*lf_index_chunk_fn)(void *ctx, const struct lf_index_chunk *c);
/* Calls series_fn for every series, then chunk_fn for every chunk (ordered
 * by series, from). */
int lf_index_load(struct lf_index *ix, lf_index_series_fn series_fn, lf_index_chunk_fn chunk_fn,
                  void *ctx, struct lf_error *err);

/* Returns the id of the series with this label text, inserting it (and its
 * postings) if new. */
int lf_index_series(struct lf_index *ix, const char *labels_text, const struct lf_labels *ls,
                    int64_t *id, struct lf_error *err);
/* Inserts a chunk ref (c->id ignored) and advances the series' flushed WAL
 * position, in one transaction; *id receives the new id. */
int lf_index_add_chunk(struct lf_index *ix, const struct lf_index_chunk *c, int64_t *id,
                       struct lf_error *err);
int lf_index_delete_chunk(struct lf_index *ix, int64_t id, struct lf_error *err);
/* The largest chunk id ever used (for naming files), 0 if none. */
int64_t lf_index_max_chunk_id(struct lf_index *ix);
/* SQLite WAL checkpoint (TRUNCATE): folds the -wal file into the db and
 * syncs it. Commits are durable only after this returns 0 (the index runs
 * with synchronous=NORMAL, see index.c). */
int lf_index_checkpoint(struct lf_index *ix, struct lf_error *err);

#endif
