/* push_json.h — the parts of a Loki push request that are not protobuf:
 * the Content-Encoding layer (gzip / zlib / raw deflate, inflated with a
 * hard output cap) and the JSON body
 * (`{"streams":[{"stream":{...},"values":[["<ns>","<line>",{sm}]]}]}`).
 *
 * Shared by the store's ingest path and the agent's loki_push_api source so
 * both accept the same bodies with the same error texts. The JSON walker
 * calls the same visitor as lf_push_walk() (push.h), so a caller handles
 * both encodings with one set of callbacks. Failing functions return an
 * HTTP status (400 malformed, 413 too large / out of memory, 415 unknown
 * encoding) with err saying why; 0 on success.
 */
#ifndef LF_PUSH_JSON_H
#define LF_PUSH_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "push.h"

/* Inflates in[0..len) into out (replacing its content, NUL-terminated):
 * gzip or zlib (detected from the header) or, with raw_deflate, a bare
 * deflate stream. Stops with 413 as soon as the output exceeds cap bytes,
 * so a compression bomb costs at most cap plus one 64 KiB step. */
int lf_push_inflate(const void *in, size_t len, bool raw_deflate, size_t cap, struct lf_buf *out,
                    struct lf_error *err);

/* Removes the Content-Encoding `content_encoding` (NULL, "", "identity" and
 * "snappy" are left alone: snappy is part of the protobuf body). "gzip" /
 * "x-gzip" and "deflate" (raw, or zlib-wrapped as some clients send it) are
 * inflated into out with lf_push_inflate() and *body / *len then point into
 * out; anything else is 415. */
int lf_push_content_decode(const char *content_encoding, const char **body, size_t *len, size_t cap,
                           struct lf_buf *out, struct lf_error *err);

/* Reusable JSON walker state: the parsed document (kept alive so the views
 * handed to the visitor stay valid until the next walk, _release or _free),
 * the label text rendered from a `stream` object and the structured
 * metadata views, grown as needed and kept between requests. */
struct lf_push_json;

struct lf_push_json *lf_push_json_new(void);
void lf_push_json_free(struct lf_push_json *j);
/* Drops the document (the views of the last walk become invalid). */
void lf_push_json_release(struct lf_push_json *j);
/* Bytes kept between calls (scratch buffers, not the document). */
size_t lf_push_json_retained(const struct lf_push_json *j);

/* Parses a JSON push body and walks it: per stream, v->stream with the
 * label text (`labels` string as sent, or the `stream` object rendered as
 * `{k="v", ...}` in the object's order) and the exact entry count, then
 * v->entry per `values` (or `entries`) element `[ts, line]` or
 * `[ts, line, {name: value}]`, ts a string of ns since the epoch. Lines and
 * metadata point into the document, with their full JSON length (they may
 * hold NUL bytes); metadata names are NUL-terminated. Each stream is fully
 * checked before its callback and each entry before its own, but on any
 * error the callbacks may already have seen earlier streams: discard what
 * they built. A callback returning -1 stops the walk with 400, or 413 when
 * its message starts with "out of memory". */
int lf_push_json_walk(struct lf_push_json *j, const char *body, size_t len,
                      const struct lf_push_visitor *v, void *ctx, struct lf_error *err);

/* Parses a JSON timestamp string: an optional '-' then decimal digits that
 * fit int64. Returns 0, or -1 on anything else (empty, '+', spaces, ...). */
int lf_push_json_parse_ts(const char *s, int64_t *out);

#endif
