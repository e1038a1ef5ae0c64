/* jsonscan.h — JSON scanning without a tree, for LogQL's `| json`,
 * `| json l="path"` and `| unpack` (store/logql/pipeline.c).
 *
 * lf_json_each walks the members of one object the way Loki 2.8's vendored
 * buger/jsonparser ObjectEach does: lenient (a number token runs to the
 * next separator, `{"a":1x}` gives 1x; a trailing comma is accepted; text
 * after the closing brace is ignored) and with its error texts:
 *   Value looks like object, but can't find closing '}' symbol
 *   Malformed JSON error
 *   Value is array, but can't find closing ']' symbol
 *   Value is string, but can't find closing '"' symbol
 *   Unknown value type
 *   Encountered an invalid escape sequence in a string
 * lf_json_valid / lf_json_get are strict (RFC 8259 grammar) for the
 * expression form, whose whole line is validated first.
 */
#ifndef LF_JSONSCAN_H
#define LF_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

enum lf_json_type {
	LF_JSON_NONE = 0, /* missing */
	LF_JSON_STRING,
	LF_JSON_NUMBER,
	LF_JSON_BOOL,
	LF_JSON_NULL,
	LF_JSON_ARRAY,
	LF_JSON_OBJECT,
};

/* One member: key (raw bytes between the quotes, escapes NOT decoded;
 * key_escaped tells whether it has any), value (strings: between the quotes,
 * raw; others: the raw token or the whole {...} / [...] text). Return 0 to
 * go on; non-zero stops the walk and is returned. */
typedef int (*lf_json_member_fn)(void *ctx, const char *key, size_t key_len, bool key_escaped,
                                 const char *val, size_t val_len, enum lf_json_type type);

/* Walks the object at the start of s[0..n) (leading white space allowed).
 * Returns 0, the callback's non-zero value, or -1 with *errmsg set to one
 * of the static texts above. */
int lf_json_each(const char *s, size_t n, lf_json_member_fn fn, void *ctx, const char **errmsg);

/* Decodes the JSON string body s[0..n) (without quotes) into out
 * (appends). false on a bad escape. Lone surrogates become U+FFFD. */
bool lf_json_unescape(const char *s, size_t n, struct lf_buf *out);

/* true when s[0..n) is exactly one valid JSON value (white space around
 * allowed). */
bool lf_json_valid(const char *s, size_t n);

/* One step of a path: a member name (decoded) or an array index. */
struct lf_json_step {
	const char *key; /* NULL for an index step */
	size_t key_len;
	size_t index;
};
/* Follows path in the valid JSON text s. Returns the type found (NONE when
 * the path does not exist) and the raw value (strings: between the
 * quotes, undecoded). */
enum lf_json_type lf_json_get(const char *s, size_t n, const struct lf_json_step *path,
                              size_t n_steps, const char **val, size_t *val_len);

#endif
