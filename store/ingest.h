/* ingest.h — turning a push request body into a validated batch.
 *
 * Decoding (protobuf in a snappy block, or JSON; gzip/deflate
 * Content-Encoding; every decompressed size capped before allocating), then
 * Loki's validation with Loki's limit names, discard reasons and error
 * texts. Invalid entries are removed from the batch and described in the
 * error text; valid ones are kept (Loki ingests the valid part of a request
 * and still answers 400).
 *
 * A batch borrows line and metadata bytes from the decoded request it owns
 * (the decompressed protobuf walked in place by lf_push_walk, JSON tree,
 * inflated body), so nothing is copied or allocated per line until the WAL
 * record is built. A stream's label text (protobuf, JSON `labels` string or
 * rendered JSON `stream` object) is copied into its key.
 */
#ifndef LF_STORE_INGEST_H
#define LF_STORE_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "codec.h"
#include "config.h"
#include "error.h"
#include "labels.h"
#include "utf8.h"

struct lf_ingest_entry {
	int64_t ts;
	const char *line;
	size_t line_len;
	size_t sm_first, n_sm; /* range in batch->sm */
	bool dup;              /* set by the tenant: an exact duplicate, not stored */
};

struct lf_ingest_stream {
	struct lf_labels labels;
	struct lf_buf key;      /* canonical text `{a="b", c="d"}` */
	uint64_t hash;          /* of key */
	size_t first, n;        /* range in batch->entries */
	uint64_t bytes;         /* line + metadata bytes of its entries */
	bool dropped;           /* set by the tenant (stream limit, rate limit) */
};

struct lf_ingest_batch {
	struct lf_ingest_stream *streams;
	size_t n_streams, cap_streams;
	struct lf_ingest_entry *entries;
	size_t n_entries, cap_entries;
	struct lf_skv *sm;
	size_t n_sm, cap_sm;
	uint64_t bytes; /* accepted line + metadata bytes */
	/* owned decoded forms the pointers above borrow from */
	void *pb;   /* Logproto__PushRequest * (unused by the protobuf path now) */
	void *pd;   /* struct lf_push_decoder *: the decompressed protobuf */
	void *pj;   /* struct lf_push_json *: the parsed JSON document */
	struct lf_buf inflated;
	struct lf_buf scratch;
	size_t created; /* streams this push created (set by lf_tenant_push) */
};

/* Where a discarded sample went, for logferry_store_discarded_*_total. */
typedef void (*lf_discard_fn)(void *ctx, const char *reason, uint64_t lines, uint64_t bytes);

struct lf_ingest_ctx {
	const struct lf_store_config *cfg;
	int64_t now_ns;
	lf_discard_fn discard;
	void *discard_ctx;
};

void lf_ingest_batch_free(struct lf_ingest_batch *b);
/* Empties b for the next request but keeps its memory (stream label
 * buffers, entry arrays, decompression and WAL record buffers), so a
 * receiver reusing one batch per thread does not map and fault in fresh
 * megabyte buffers per request. A buffer above keep_max bytes (left by an
 * unusually large request) is released instead. */
void lf_ingest_batch_reset(struct lf_ingest_batch *b, size_t keep_max);

/* Decodes body into b. content_type / content_encoding may be NULL.
 * Returns 0, or an HTTP status (400, 413, 415) with the message in err. */
int lf_ingest_decode(const char *body, size_t len, const char *content_type,
                     const char *content_encoding, size_t max_decoded, struct lf_ingest_batch *b,
                     struct lf_error *err);

/* Validates every stream and entry, removing the invalid ones. Messages for
 * the removed ones are appended to errors (one per line, capped). Returns
 * the number of entries removed. */
size_t lf_ingest_validate(const struct lf_ingest_ctx *ctx, struct lf_ingest_batch *b,
                          struct lf_buf *errors);

/* A fast 64-bit hash (stream keys, duplicate detection); in-memory only. */
uint64_t lf_key_hash(const char *s, size_t n);

#endif
