/* logfmt.h — the one logfmt scanner of logferry, shared by the agent's
 * `logfmt` stage (pipeline/stage_logfmt.c) and LogQL's `| logfmt` parser
 * (store/logql/pipeline.c).
 *
 * Grammar (go-logfmt as Loki 2.8 vendors it, pkg/logql/log/logfmt):
 *   bytes <= 0x20 separate pairs; a key runs to '=' or to a byte <= 0x20
 *   (a bare key has the value ""); an unquoted value runs to a byte <= 0x20;
 *   a "quoted" value takes JSON escapes (\" \\ \/ \b \f \n \r \t \uXXXX).
 * A syntax error stops the scan; pairs reported before it stay reported.
 * Errors (1-based byte position of the offending byte, Loki's texts):
 *   unexpected '='   an empty key, or '=' inside an unquoted value
 *   unexpected '"'   '"' inside a key or an unquoted value
 *   unterminated quoted value, invalid quoted value (bad escape),
 *   invalid key      (invalid UTF-8 in a key)
 */
#ifndef LF_LOGFMT_H
#define LF_LOGFMT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* One pair: key (raw bytes of the line), value (decoded: borrowed from the
 * line or from the scanner's scratch buffer, valid during the call).
 * `quoted` tells whether the value was written in quotes. Return 0 to go
 * on, non-zero to stop the scan (returned by lf_logfmt_scan). */
typedef int (*lf_logfmt_pair_fn)(void *ctx, const char *key, size_t key_len, const char *val,
                                 size_t val_len, bool quoted);

struct lf_logfmt_error {
	size_t pos;      /* 1-based byte offset of the offending byte */
	const char *msg; /* static text, e.g. "unexpected '='" */
};

/* Scans s[0..n). Returns 0 at the end of the input, 1 on a syntax error (e
 * filled), or the callback's non-zero value. `scratch` holds decoded
 * quoted values (reused: no allocation once warm). */
int lf_logfmt_scan(const char *s, size_t n, struct lf_buf *scratch, lf_logfmt_pair_fn fn, void *ctx,
                   struct lf_logfmt_error *e);

/* Decodes a quoted logfmt value body (between the quotes, JSON escapes)
 * into out (appends). false on a bad escape. */
bool lf_logfmt_unquote(const char *s, size_t n, struct lf_buf *out);

#endif
