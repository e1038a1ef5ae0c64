/* tenant.h — one tenant's data: its streams (head in memory + chunk refs),
 * its WAL, its SQLite index and its chunk files, all under
 * <path_prefix>/<tenant id>/.
 *
 * Locking: `lock` (rwlock) guards the stream table and every field of every
 * stream. A push takes it for writing while it appends its WAL record and
 * copies the entries into the head, so the WAL order and the head agree (a
 * chunk cut under the same lock knows exactly which records it covers).
 * The fsync (group commit) happens after the lock is released. Queries take
 * it for reading. `flush_mu` serialises the flusher and retention, the only
 * users of the index after startup. Streams are never freed while the
 * tenant is open, so stream pointers stay valid without the lock.
 */
#ifndef LF_STORE_TENANT_H
#define LF_STORE_TENANT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "error.h"
#include "head.h"
#include "index.h"
#include "ingest.h"
#include "labels.h"
#include "metrics.h"
#include "strpool.h"
#include "wal.h"

#define LF_TENANT_ID_MAX 150

/* The store's metric families (owned by the store, shared by tenants). */
struct lf_store_metrics {
	struct lf_metric_family *lines_received;    /* {tenant} */
	struct lf_metric_family *bytes_received;    /* {tenant} */
	struct lf_metric_family *discarded_samples; /* {reason, tenant} */
	struct lf_metric_family *discarded_bytes;   /* {reason, tenant} */
	struct lf_metric_family *chunks_flushed;    /* {tenant} */
	struct lf_metric_family *chunk_bytes;       /* {tenant} */
	struct lf_metric_family *chunks_deleted;    /* {tenant} retention */
	struct lf_metric_family *wal_replayed;      /* {tenant} records */
	struct lf_metric_family *wal_skipped_bytes; /* {tenant} torn tails */
	struct lf_metric_family *corrupt_blocks;    /* {tenant} */
	struct lf_metric_family *requests;          /* {route, status_code} */
};

/* A chunk of a stream, as the index lists it. Its file name is not kept:
 * chunks this store writes are named from the stream's series id, from,
 * through and the file's CRC (lf_chunk_ref_name), so 4 bytes replace a
 * ~100-byte path per chunk. A file with another name (written by a
 * different version) keeps its name in `file`. */
struct lf_chunk_ref {
	int64_t id;
	int64_t from, through;
	int64_t entries, bytes;
	uint32_t crc; /* crc32c of the file, part of its name */
	char *file;   /* NULL = the canonical name; else the name in chunks/ (owned) */
};

#define LF_CHUNK_NAME_MAX 128

/* The name of r's file in the tenant's chunks/ directory (series_id: the
 * stream's). Returns buf. */
const char *lf_chunk_ref_name(int64_t series_id, const struct lf_chunk_ref *r,
                              char buf[LF_CHUNK_NAME_MAX]);

/* A stream's exact-duplicate set (see lf_stream_cold.dup): an
 * open-addressing set of head entries (hash, entry number in the head, see
 * head.h; hash 0 = empty). */
struct lf_stream_dup {
	uint64_t *hash;
	uint32_t *idx;
	size_t cap, n;
};

/* The part of a stream that only streams with chunks need: a stream
 * that never reached a chunk (most of a burst of new streams) shares the
 * empty lf_stream_cold_none instead (read it freely; tenant.c gives the
 * stream its own, from the tenant's arena, before it writes one). */
struct lf_stream_cold {
	/* the head being written to a chunk (still served by queries) */
	struct lf_head flushing;
	uint32_t flushing_seg;
	struct lf_chunk_ref *chunks; /* sorted by from */
	size_t n_chunks, cap_chunks;
	struct lf_wal_pos flushed; /* records before this are in chunks */
	/* Exact duplicates (same ts and line) already in the head are dropped,
	 * as Loki's head block does. The set is cleared when the head is cut,
	 * and built lazily: an entry newer than everything in the head cannot
	 * be a duplicate, so in-order streams never pay for it (dup stays NULL
	 * and the stream's LF_STREAM_DUP_ON flag off). */
	struct lf_stream_dup *dup;
};

/* The shared empty cold part (const: never written). */
extern const struct lf_stream_cold lf_stream_cold_none;

/* One stream. Kept small (100,000 idle streams must fit in a few tens of
 * MB): the struct, its label slots and its key are one allocation; label
 * names and values point at the tenant's interned strings (never freed
 * before the tenant); the chunk list, the head being cut and the duplicate
 * set live in a cold part allocated at the first cut or out-of-order entry;
 * an empty head holds no allocation. */
struct lf_stream {
	char *key;         /* canonical `{a="b", c="d"}`, in the stream's allocation */
	uint32_t key_len;  /* stream_new refuses longer keys */
	uint32_t head_seg; /* WAL segment of the oldest head entry */
	uint64_t hash;
	struct lf_labels labels; /* immutable; slots in the stream's allocation */
	int64_t series_id;       /* 0 until the first flush */
	/* entries not in chunks yet, compressed in blocks (head.h);
	 * head.flags: LF_STREAM_DUP_ON */
	struct lf_head head; /* its first/last append times: head.m->first_mono, last_mono */
	/* Chunks, the head being cut and the duplicate set (see struct
	 * lf_stream_cold): never NULL; &lf_stream_cold_none (read-only, empty)
	 * until the stream's first cut, chunk or out-of-order entry. */
	struct lf_stream_cold *cold;
	double rate_tokens; /* per-stream rate limit */
	int64_t rate_mono;
};

/* head.flags: the duplicate set is built (an entry arrived at or before
 * the head's newest) */
#define LF_STREAM_DUP_ON 1u

struct lf_tenant {
	char *id;
	char *dir, *chunks_dir;
	const struct lf_store_config *cfg;
	struct lf_store_metrics *m;
	pthread_rwlock_t lock;
	struct lf_stream **streams;
	size_t n_streams, cap_streams;
	struct lf_strpool strings; /* label names and values of the streams */
	struct lf_stream **table;  /* open addressing on hash */
	size_t table_cap;
	size_t active; /* streams with head data */
	/* Bytes the heads hold (lf_head_held of every stream: compressed
	 * blocks + open blocks), counted where
	 * ingester.max_head_bytes applies: by default the tenant's own
	 * heads_own; the store points every tenant at one store-wide counter
	 * (lf_tenant_share_head_bytes). Changed under lock, read without. */
	_Atomic int64_t *heads;
	_Atomic int64_t heads_own;
	uint64_t duplicates; /* exact duplicates dropped (under lock) */
	/* Called (without locks held) when a push fills a head past
	 * chunk_target_size, so the flusher does not wait for its next tick.
	 * Set by the owner after lf_tenant_open; may stay NULL. */
	void (*kick)(void *ctx);
	void *kick_ctx;
	/* Called (without locks held) after a push's entries are durable, with
	 * the batch: streams refused by limits have `dropped`, entries not
	 * stored as exact duplicates have `dup`. Feeds live tails (tail.h).
	 * Set by the owner before pushes arrive; may stay NULL. */
	void (*on_push)(void *ctx, struct lf_tenant *t, const struct lf_ingest_batch *b);
	void *on_push_ctx;
	struct lf_wal *wal;
	struct lf_index *ix;
	pthread_mutex_t flush_mu;
	pthread_mutex_t rate_mu;
	double rate_tokens;
	int64_t rate_mono;
	/* Block size, codec and scratch of the heads' appends (under lock). */
	struct lf_head_ctx hctx;
	/* The flusher's chunk buffer and scratch, reused across chunks (under
	 * flush_mu): a fresh large buffer faults in every page again. */
	struct lf_buf chunk_out;
	struct lf_head_flush_scratch fscratch;
	uint64_t chunks_reused; /* chunks built from sealed blocks as they were */
};

/* The path of stream s's chunk r (chunks_dir/name), malloc'd; NULL on ENOMEM. */
char *lf_chunk_ref_path_new(const struct lf_tenant *t, const struct lf_stream *s,
                            const struct lf_chunk_ref *r);

/* Loki's tenant ID rules: 1..150 chars of [a-zA-Z0-9!-_.*'()], not "." or
 * "..". Checked before the ID is used in a path. */
int lf_tenant_id_valid(const char *id, size_t len, struct lf_error *err);

/* Opens (creating) root/id: index, chunk refs, WAL replay. */
int lf_tenant_open(const char *root, const char *id, const struct lf_store_config *cfg,
                   struct lf_store_metrics *m, struct lf_tenant **out, struct lf_error *err);
void lf_tenant_close(struct lf_tenant *t); /* does not flush: call lf_tenant_flush first */

/* The tenant's ingestion rate limit (token bucket). true = allowed. */
bool lf_tenant_rate_allow(struct lf_tenant *t, uint64_t bytes);

/* Appends a validated batch: per-stream limits, WAL append + head under the
 * lock, then group-commit fsync. Streams refused by limits are described in
 * errors. Returns the HTTP status: 204, 429 (some streams refused), 500
 * (WAL failure, message in err). */
int lf_tenant_push(struct lf_tenant *t, struct lf_ingest_batch *b, struct lf_buf *errors,
                   struct lf_error *err);

/* Cuts chunks from streams that reached chunk_target_size, chunk_idle_period
 * or max_chunk_age (every stream with data when force), writes them and
 * their index entries, then deletes WAL segments no head data needs.
 * Returns the number of chunks written, -1 on error (logged). */
int lf_tenant_flush(struct lf_tenant *t, bool force);

/* Deletes whole chunks whose newest entry is older than now - period. */
int lf_tenant_retention(struct lf_tenant *t, int64_t now_ns, int64_t period);

/* Counts this tenant's heads in *shared from now on (adding what they hold
 * now), so that ingester.max_head_bytes limits all tenants together. Call
 * before pushes reach the tenant. */
void lf_tenant_share_head_bytes(struct lf_tenant *t, _Atomic int64_t *shared);

/* Lookup by canonical key (caller holds lock). */
struct lf_stream *lf_tenant_find(struct lf_tenant *t, const char *key, size_t len, uint64_t hash);
/* True when the stream has any data in [start, end] (caller holds lock). */
bool lf_stream_overlaps(const struct lf_stream *s, int64_t start, int64_t end);

#endif
