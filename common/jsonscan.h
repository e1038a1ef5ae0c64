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
 * lf_jparse is the strict parser (Go encoding/json grammar) of the agent's
 * `json` stage and of the expression form `| json l="path"`, whose whole
 * line is validated first.
 */
#ifndef LF_JSONSCAN_H
#define LF_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- strict: the parser of the agent's `json` stage and of LogQL's
 * `| json l="path"` (Go encoding/json grammar; builds a flat node tree in a
 * reused array, no allocation once warm; strings scanned 16 bytes per step
 * with SSE2) ---- */

enum lf_jtype { LF_J_NULL, LF_J_FALSE, LF_J_TRUE, LF_J_NUM, LF_J_STR, LF_J_ARR, LF_J_OBJ };

struct lf_jnode {
	uint8_t type;
	bool esc;   /* LF_J_STR / key: has backslash escapes */
	bool ascii; /* LF_J_STR: no byte >= 0x80, so valid UTF-8 */
	bool key_esc;
	uint32_t next;   /* next sibling (0 = none; node 0 is the root) */
	uint32_t child;  /* first child (0 = none) */
	uint32_t count;  /* children */
	const char *s;   /* LF_J_STR: body; LF_J_NUM: token */
	const char *key; /* member key body (object members) */
	uint32_t len;
	uint32_t key_len;
};

struct lf_jparser {
	const char *p, *end;
	struct lf_jnode *v;
	size_t n, cap;
	int depth;
};

/* Go allows 10000 levels; the recursive parser stops at 1000 so that a
 * hostile line cannot exhaust the event-loop thread's stack (ASan frames
 * are large). Deeper documents count as malformed. */
#define LF_JSON_MAX_DEPTH 1000

/* Parses the whole document s[0..n) into jp (root = node 0). s[n] must be
 * a NUL byte (a sentinel for the scans). 0, or -1 when s is not exactly
 * one valid JSON value (white space around allowed) or nests deeper than
 * LF_JSON_MAX_DEPTH. Container nodes have s/len = their raw text. */
int lf_jparse(struct lf_jparser *jp, const char *s, size_t n);
void lf_jparser_free(struct lf_jparser *jp);
/* The value of the 4 hex digits at s (n bytes available), -1 when they
 * are not 4 hex digits (a JSON \\u escape). */
int lf_json_hex4(const char *s, size_t n);
/* Unescapes the body of a JSON string validated by lf_jparse into out, Go
 * style: bad surrogates and invalid UTF-8 become U+FFFD. */
void lf_json_unescape_go(const char *s, size_t n, struct lf_buf *out);

#endif
