/* index.c — see index.h. */
#include "index.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

struct lf_index {
	sqlite3 *db;
	sqlite3_stmt *get_series, *ins_series, *ins_posting, *ins_chunk, *del_chunk, *upd_series;
	char *path;
};

static int dberr(struct lf_index *ix, struct lf_error *err, const char *what)
{
	return lf_err(err, "index %s: %s: %s", ix->path, what, sqlite3_errmsg(ix->db));
}

/* synchronous=NORMAL: a commit is not fsynced by itself; lf_index_checkpoint
 * makes every commit so far durable. The flusher checkpoints after each pass
 * and only then removes the store's WAL segments, so a commit lost to a
 * power failure only loses rows whose entries the WAL still holds (they are
 * replayed, and the unindexed chunk files removed at open). FULL cost one
 * fsync per chunk, which bounded how fast heads could be cut. */
static const char SCHEMA[] =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=NORMAL;"
        "CREATE TABLE IF NOT EXISTS series(id INTEGER PRIMARY KEY, labels TEXT NOT NULL UNIQUE,"
        " wal_seg INTEGER NOT NULL DEFAULT 0, wal_off INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE IF NOT EXISTS postings(name TEXT NOT NULL, value TEXT NOT NULL,"
        " series_id INTEGER NOT NULL, PRIMARY KEY(name, value, series_id)) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS chunks(id INTEGER PRIMARY KEY, series_id INTEGER NOT NULL,"
        " from_ns INTEGER NOT NULL, through_ns INTEGER NOT NULL, entries INTEGER NOT NULL,"
        " bytes INTEGER NOT NULL, file TEXT NOT NULL, wal_seg INTEGER NOT NULL,"
        " wal_off INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS chunks_by_series ON chunks(series_id, through_ns);"
        "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER);";

int lf_index_open(const char *path, struct lf_index **out, struct lf_error *err)
{
	struct lf_index *ix = calloc(1, sizeof(*ix));
	if (!ix || !(ix->path = strdup(path))) {
		free(ix);
		return lf_err(err, "index: out of memory");
	}
	if (sqlite3_open_v2(path, &ix->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		lf_err(err, "index %s: open: %s", path,
		       ix->db ? sqlite3_errmsg(ix->db) : "out of memory");
		lf_index_close(ix);
		return -1;
	}
	sqlite3_busy_timeout(ix->db, 5000);
	char *msg = NULL;
	if (sqlite3_exec(ix->db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
		lf_err(err, "index %s: schema: %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		lf_index_close(ix);
		return -1;
	}
	struct {
		sqlite3_stmt **st;
		const char *sql;
	} stmts[] = {
	        {&ix->get_series, "SELECT id FROM series WHERE labels = ?"},
	        {&ix->ins_series, "INSERT INTO series(labels) VALUES (?)"},
	        {&ix->ins_posting,
	         "INSERT OR IGNORE INTO postings(name, value, series_id) VALUES (?, ?, ?)"},
	        {&ix->ins_chunk,
	         "INSERT INTO chunks(series_id, from_ns, through_ns, entries, bytes,"
	         " file, wal_seg, wal_off) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"},
	        {&ix->del_chunk, "DELETE FROM chunks WHERE id = ?"},
	        {&ix->upd_series, "UPDATE series SET wal_seg = ?, wal_off = ? WHERE id = ?"},
	};
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		if (sqlite3_prepare_v2(ix->db, stmts[i].sql, -1, stmts[i].st, NULL) != SQLITE_OK) {
			dberr(ix, err, "prepare");
			lf_index_close(ix);
			return -1;
		}
	}
	*out = ix;
	return 0;
}

void lf_index_close(struct lf_index *ix)
{
	if (!ix)
		return;
	sqlite3_finalize(ix->get_series);
	sqlite3_finalize(ix->ins_series);
	sqlite3_finalize(ix->ins_posting);
	sqlite3_finalize(ix->ins_chunk);
	sqlite3_finalize(ix->del_chunk);
	sqlite3_finalize(ix->upd_series);
	if (ix->db) {
		sqlite3_wal_checkpoint_v2(ix->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		sqlite3_close(ix->db);
	}
	free(ix->path);
	free(ix);
}

int lf_index_load(struct lf_index *ix, lf_index_series_fn series_fn, lf_index_chunk_fn chunk_fn,
                  void *ctx, struct lf_error *err)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(ix->db,
	                       "SELECT id, labels, wal_seg, wal_off FROM series ORDER BY id", -1,
	                       &st, NULL) != SQLITE_OK)
		return dberr(ix, err, "load series");
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (series_fn(ctx, sqlite3_column_int64(st, 0),
		              (const char *)sqlite3_column_text(st, 1),
		              (uint32_t)sqlite3_column_int64(st, 2),
		              (uint64_t)sqlite3_column_int64(st, 3)) < 0) {
			sqlite3_finalize(st);
			return lf_err(err, "index %s: loading series failed", ix->path);
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dberr(ix, err, "load series");
	if (sqlite3_prepare_v2(ix->db,
	                       "SELECT id, series_id, from_ns, through_ns, entries, bytes, file,"
	                       " wal_seg, wal_off FROM chunks ORDER BY series_id, from_ns",
	                       -1, &st, NULL) != SQLITE_OK)
		return dberr(ix, err, "load chunks");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct lf_index_chunk c = {
		        .id = sqlite3_column_int64(st, 0),
		        .series_id = sqlite3_column_int64(st, 1),
		        .from = sqlite3_column_int64(st, 2),
		        .through = sqlite3_column_int64(st, 3),
		        .entries = sqlite3_column_int64(st, 4),
		        .bytes = sqlite3_column_int64(st, 5),
		        .file = (const char *)sqlite3_column_text(st, 6),
		        .wal_seg = (uint32_t)sqlite3_column_int64(st, 7),
		        .wal_off = (uint64_t)sqlite3_column_int64(st, 8),
		};
		if (chunk_fn(ctx, &c) < 0) {
			sqlite3_finalize(st);
			return lf_err(err, "index %s: loading chunks failed", ix->path);
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dberr(ix, err, "load chunks");
	return 0;
}

int lf_index_batch_begin(struct lf_index *ix, struct lf_error *err)
{
	if (sqlite3_exec(ix->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return dberr(ix, err, "begin batch");
	return 0;
}

int lf_index_batch_end(struct lf_index *ix, bool commit, struct lf_error *err)
{
	if (commit && sqlite3_exec(ix->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	int rc = commit ? dberr(ix, err, "commit batch") : 0;
	sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int lf_index_series(struct lf_index *ix, const char *labels_text, const struct lf_labels *ls,
                    int64_t *id, struct lf_error *err)
{
	sqlite3_reset(ix->get_series);
	sqlite3_bind_text(ix->get_series, 1, labels_text, -1, SQLITE_STATIC);
	int rc = sqlite3_step(ix->get_series);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(ix->get_series, 0);
		sqlite3_reset(ix->get_series);
		return 0;
	}
	sqlite3_reset(ix->get_series);
	if (rc != SQLITE_DONE)
		return dberr(ix, err, "lookup series");
	if (sqlite3_exec(ix->db, "SAVEPOINT lf_op", NULL, NULL, NULL) != SQLITE_OK)
		return dberr(ix, err, "begin");
	sqlite3_reset(ix->ins_series);
	sqlite3_bind_text(ix->ins_series, 1, labels_text, -1, SQLITE_STATIC);
	if (sqlite3_step(ix->ins_series) != SQLITE_DONE)
		goto fail;
	*id = sqlite3_last_insert_rowid(ix->db);
	for (size_t i = 0; i < ls->n; i++) {
		sqlite3_reset(ix->ins_posting);
		sqlite3_bind_text(ix->ins_posting, 1, ls->v[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_text(ix->ins_posting, 2, ls->v[i].value, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ix->ins_posting, 3, *id);
		if (sqlite3_step(ix->ins_posting) != SQLITE_DONE)
			goto fail;
	}
	if (sqlite3_exec(ix->db, "RELEASE lf_op", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	dberr(ix, err, "insert series");
	sqlite3_exec(ix->db, "ROLLBACK TO lf_op; RELEASE lf_op", NULL, NULL, NULL);
	return -1;
}

int lf_index_add_chunk(struct lf_index *ix, const struct lf_index_chunk *c, int64_t *id,
                       struct lf_error *err)
{
	sqlite3_stmt *st = ix->ins_chunk;
	if (sqlite3_exec(ix->db, "SAVEPOINT lf_op", NULL, NULL, NULL) != SQLITE_OK)
		return dberr(ix, err, "begin");
	sqlite3_reset(st);
	sqlite3_bind_int64(st, 1, c->series_id);
	sqlite3_bind_int64(st, 2, c->from);
	sqlite3_bind_int64(st, 3, c->through);
	sqlite3_bind_int64(st, 4, c->entries);
	sqlite3_bind_int64(st, 5, c->bytes);
	sqlite3_bind_text(st, 6, c->file, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, c->wal_seg);
	sqlite3_bind_int64(st, 8, (int64_t)c->wal_off);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_reset(st);
	*id = sqlite3_last_insert_rowid(ix->db);
	sqlite3_reset(ix->upd_series);
	sqlite3_bind_int64(ix->upd_series, 1, c->wal_seg);
	sqlite3_bind_int64(ix->upd_series, 2, (int64_t)c->wal_off);
	sqlite3_bind_int64(ix->upd_series, 3, c->series_id);
	if (sqlite3_step(ix->upd_series) != SQLITE_DONE)
		goto fail;
	sqlite3_reset(ix->upd_series);
	if (sqlite3_exec(ix->db, "RELEASE lf_op", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	dberr(ix, err, "insert chunk");
	sqlite3_reset(st);
	sqlite3_reset(ix->upd_series);
	sqlite3_exec(ix->db, "ROLLBACK TO lf_op; RELEASE lf_op", NULL, NULL, NULL);
	return -1;
}

int lf_index_delete_chunk(struct lf_index *ix, int64_t id, struct lf_error *err)
{
	sqlite3_reset(ix->del_chunk);
	sqlite3_bind_int64(ix->del_chunk, 1, id);
	int rc = sqlite3_step(ix->del_chunk);
	sqlite3_reset(ix->del_chunk);
	if (rc != SQLITE_DONE)
		return dberr(ix, err, "delete chunk");
	return 0;
}

int64_t lf_index_max_chunk_id(struct lf_index *ix)
{
	sqlite3_stmt *st = NULL;
	int64_t v = 0;
	if (sqlite3_prepare_v2(ix->db, "SELECT COALESCE(MAX(id), 0) FROM chunks", -1, &st, NULL) ==
	            SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int lf_index_checkpoint(struct lf_index *ix, struct lf_error *err)
{
	if (sqlite3_wal_checkpoint_v2(ix->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) !=
	    SQLITE_OK)
		return dberr(ix, err, "checkpoint");
	return 0;
}
