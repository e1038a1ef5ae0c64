/* push.h — Loki's push request on the wire: protobuf (protobuf-c, generated
 * from push.proto at build time) inside a snappy *block* (not framed).
 *
 * Encoding side (agent, tests): describe streams with borrowed pointers and
 * call lf_push_encode(); the encoder keeps its scratch arrays between calls
 * so a steady sender does not allocate per batch.
 * Decoding side (store, test receivers): lf_push_decode() checks the snappy
 * length header against a limit *before* allocating, then unpacks.
 */
#ifndef LF_PUSH_H
#define LF_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "push.pb-c.h"

/* Decoded requests: EntryAdapter.line is ProtobufCBinaryData (line.data,
 * line.len) because push.proto declares it `bytes` (same wire form as Loki's
 * `string`) so lines holding NUL bytes survive. labels and structured
 * metadata names/values are NUL-terminated strings. */

struct lf_push_kv {
	const char *name;
	const char *value;
};

struct lf_push_entry {
	int64_t ts_ns;
	const char *line;
	size_t line_len;
	const struct lf_push_kv *sm; /* structured metadata, may be NULL */
	size_t n_sm;
};

struct lf_push_stream {
	const char *labels; /* Prometheus text form, `{a="b", c="d"}` */
	const struct lf_push_entry *entries;
	size_t n_entries;
};

struct lf_push_encoder; /* reusable scratch space */

struct lf_push_encoder *lf_push_encoder_new(void);
void lf_push_encoder_free(struct lf_push_encoder *enc);

/* Encodes streams into out (replacing its content) as snappy(protobuf).
 */
int lf_push_encode(struct lf_push_encoder *enc, const struct lf_push_stream *streams,
                   size_t n_streams, struct lf_buf *out, struct lf_error *err);

/* Decodes a snappy-compressed protobuf push body. Fails (message says why)
 * on a bad snappy block, on an uncompressed length above max_decoded, and on
 * malformed protobuf. Free the result with lf_push_request_free(). */
int lf_push_decode(const void *body, size_t len, size_t max_decoded, Logproto__PushRequest **out,
                   struct lf_error *err);
/* Decodes uncompressed protobuf (Content-Encoding already removed). */
int lf_push_decode_raw(const void *proto, size_t len, Logproto__PushRequest **out,
                       struct lf_error *err);
void lf_push_request_free(Logproto__PushRequest *req);

/* ns since epoch <-> the Timestamp message (seconds, nanos). */
int64_t lf_push_ts_ns(const Logproto__Timestamp *ts);

/* ---- zero-copy decoding (the store's hot path) ----
 *
 * lf_push_decode() hands back a protobuf-c tree: one malloc per entry, per
 * string and per line, and a copy of every line. The walker below reads the
 * decompressed protobuf in place instead and hands out pointers into it, so
 * a 1 MiB batch costs one decompression and no per-entry allocation.
 *
 * It accepts exactly what lf_push_decode() accepts and reports the same
 * content (fuzz_push checks both on every input): known fields must have
 * their declared wire type, nested messages must be well formed (also the
 * ones nothing reads: PushRequest.format, StreamAdapter.hash,
 * EntryAdapter.parsed), unknown fields of wire type 0, 1, 2 or 5 are
 * skipped, groups are rejected. As with protobuf-c, the last occurrence of
 * a singular field wins (labels, line, timestamp; a later Timestamp replaces
 * an earlier one whole) and repeated fields keep their order.
 * Every length is checked against the bytes left before it is used: input
 * comes from the network, so malformed protobuf is an error naming the
 * offset, never an out-of-bounds read. */

/* Views into the decoded bytes: not NUL-terminated, valid until the next
 * call on the same decoder (or its free). Strings are reported with their
 * full wire length (they may hold NUL bytes). */
struct lf_push_sm_view {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

struct lf_push_visitor {
	/* Once per stream, before its entries. n_entries is exact. */
	int (*stream)(void *ctx, const char *labels, size_t labels_len, size_t n_entries,
	              struct lf_error *err);
	/* Once per entry, in wire order; ts_ns as lf_push_ts_ns() computes it
	 * (0 without a timestamp). sm is NULL when n_sm is 0. */
	int (*entry)(void *ctx, int64_t ts_ns, const char *line, size_t line_len,
	             const struct lf_push_sm_view *sm, size_t n_sm, struct lf_error *err);
};

/* Reusable decoder state: the decompression buffer and the metadata
 * scratch array, kept between calls so a steady receiver allocates once. */
struct lf_push_decoder;

struct lf_push_decoder *lf_push_decoder_new(void);
void lf_push_decoder_free(struct lf_push_decoder *d);
/* Bytes the decoder keeps between calls (so a caller caching it can drop
 * one that grew on an unusually large request). */
size_t lf_push_decoder_retained(const struct lf_push_decoder *d);

/* Walks a snappy-compressed protobuf push body (same checks and limits as
 * lf_push_decode), calling v's callbacks with ctx. A callback returning
 * -1 stops the walk and its err is returned. On any error the callbacks
 * may already have seen part of the request: discard what they built. */
int lf_push_walk(struct lf_push_decoder *d, const void *body, size_t len, size_t max_decoded,
                 const struct lf_push_visitor *v, void *ctx, struct lf_error *err);
/* The same on uncompressed protobuf. proto is read in place (not copied)
 * and must outlive the use of the views. */
int lf_push_walk_raw(struct lf_push_decoder *d, const void *proto, size_t len,
                     const struct lf_push_visitor *v, void *ctx, struct lf_error *err);

#endif
