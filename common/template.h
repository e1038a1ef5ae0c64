/* template.h — the subset of Go text/template used by Promtail's `template`
 * stage (and `replace`/`output`-like uses) and by LogQL `line_format` /
 * `label_format`.
 *
 * Supported syntax:
 *   text {{ .name }} {{ .Value }} {{ .Entry }}     field lookups (callback)
 *   {{ if P }}..{{ else if P }}..{{ else }}..{{ end }}, {{ with P }}..{{ end }}
 *   pipelines {{ .x | ToUpper | printf "%s!" }}, parenthesised calls
 *   {{- and -}} trim markers, Go comments ({{ + slash-star ... star-slash + }})
 *   literals: "double" and `raw` strings, ints, floats, true/false
 * Functions (the previous pipeline value is passed as the LAST argument,
 * as in Go):
 *   Promtail: ToLower ToUpper Replace(s,old,new,n) Trim(s,cut) TrimLeft
 *     TrimRight TrimPrefix TrimSuffix TrimSpace Hash(a,b)=hex(sha3-256(a+b))
 *     Sha2Hash(a,b)=hex(sha256(a+b)) regexReplaceAll(re,s,repl)
 *     regexReplaceAllLiteral(re,s,repl)
 *   sprig / LogQL: lower upper title trim trimAll(cut,s) trimPrefix(p,s)
 *     trimSuffix(p,s) replace(old,new,s) contains(sub,s) hasPrefix(p,s)
 *     hasSuffix(p,s) default(def,v) trunc(n,s) substr(a,b,s) repeat(n,s)
 *     quote squote b64enc b64dec urlencode urldecode regexMatch(re,s)
 *     regexFind(re,s) count(re,s) nospace cat indent(n,s) nindent(n,s)
 *     alignLeft(n,s) alignRight(n,s) add sub mul div mod max min add1 addf
 *     subf mulf divf int int64 float64 toString empty coalesce ternary
 *     now date(layout,t) toDate(layout,s) unixEpoch unixEpochMillis
 *     unixEpochNanos unixToTime(s) toDateInZone(layout,zone,s) ceil floor
 *     round maxf minf bytes(s) duration(s) duration_seconds(s) fromJson(s)
 *     (times print and format in the local zone; trunc/substr count bytes:
 *     Loki 2.8 registers sprig's versions; fromJson gives a JSON object /
 *     array for index/len/printing, or a scalar, nil on invalid JSON)
 *   Prometheus alerting templates (store/ruler): humanize humanize1024
 *     humanizeDuration humanizePercentage humanizeTimestamp (UTC) toUpper
 *     toLower match(re,s) reReplaceAll(re,repl,s) stripPort parseDuration
 *     safeHtml (identity)
 *   Go builtins: eq ne lt le gt ge and or not len index slice call print
 *     println printf (%s %d %v %q %x %f %%, widths) html js urlquery
 * A regex argument given as a literal is compiled once at parse time.
 * Values are strings (what the lookup returns), ints, floats or bools. A
 * missing field is Go's "no value" (text/template's default with a map, as
 * Promtail runs it): it prints as "<no value>", is false in `if`, and is an
 * error when passed to a function expecting a string. With
 * LF_TMPL_MISSING_EMPTY a missing field is the empty string instead (Loki
 * runs line_format/label_format with missingkey=zero). Unknown functions
 * are parse errors, as in Go. Not supported: variables ($x), range,
 * define/template/block (parse errors).
 *
 * Parse errors name the template and line as Go does:
 *   template: pipeline_template:1: function "Nope" not defined
 * Execution errors name the action:
 *   template: pipeline_template:1:3: executing "pipeline_template" at <ToUpper .x>: ...
 * (Promtail then leaves the value unchanged.)
 *
 * A template is parsed once into a tree. Execution writes into a caller
 * lf_buf and keeps its scratch space inside the template, so the common case
 * does not allocate; consequently lf_template_exec is NOT thread-safe for
 * one template: give each thread (or query) its own template.
 *
 * Global state: the C.UTF-8 locale object used for Unicode case mapping
 * (lf_str_lower/upper) is created once per process (pthread_once) and only
 * read afterwards; glibc >= 2.35 has C.UTF-8 built in.
 */
#ifndef LF_TEMPLATE_H
#define LF_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"

struct lf_template;

enum {
	/* A missing field prints as "" instead of "<no value>". */
	LF_TMPL_MISSING_EMPTY = 1u << 0,
};

/* Looks up field `name` (without the dot; for `{{ .a }}` name is "a").
 * Returns true and sets *val and *len (borrowed; must stay valid during the
 * exec call) when the field exists. The zero-argument functions
 * `__line__` and `__timestamp__` of LogQL are also resolved through the
 * lookup, with those names; for `__timestamp__` return the entry time as
 * decimal nanoseconds since the epoch (it becomes a time value). */
typedef bool (*lf_tmpl_lookup_fn)(void *ctx, const char *name, size_t name_len, const char **val,
                                  size_t *len);

/* Parses `text`; `name` is used in messages (Promtail: "pipeline_template",
 * LogQL: "line"/"label"). */
int lf_template_new(const char *name, const char *text, unsigned flags, struct lf_template **out,
                    struct lf_error *err);
void lf_template_free(struct lf_template *t); /* NULL ok */

/* Appends the output to out. On error, out may hold partial output (the
 * caller decides: Promtail keeps the old value). */
int lf_template_exec(struct lf_template *t, lf_tmpl_lookup_fn lookup, void *ctx, struct lf_buf *out,
                     struct lf_error *err);

/* true when the template contains no action (plain text): callers can skip
 * execution. */
bool lf_template_is_static(const struct lf_template *t);

/* Names of fields the template reads (for `{{ .a }}`: "a"), NULL-terminated;
 * lives as long as t. Useful to know which labels line_format needs. */
const char *const *lf_template_fields(const struct lf_template *t);

/* Go strings.ToLower / ToUpper: Unicode simple case mapping of valid
 * UTF-8 (via the C.UTF-8 locale's towlower/towupper); invalid bytes are
 * copied unchanged (Go would turn them into U+FFFD). Appends to out. Shared
 * with relabel's lowercase/uppercase actions. 0 / -1 ENOMEM. */
int lf_str_lower(const char *s, size_t n, struct lf_buf *out);
int lf_str_upper(const char *s, size_t n, struct lf_buf *out);

#endif
