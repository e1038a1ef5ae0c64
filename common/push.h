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

#endif
