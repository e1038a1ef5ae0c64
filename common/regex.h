/* regex.h — the one place user regexes are compiled and run (pcre2, 8-bit,
 * JIT), with the Go/RE2 meaning users expect from Promtail and Loki.
 *
 * Patterns are written in Go RE2 syntax ((?P<name>..), (?i), (?s), (?U),
 * \d, \pL, [[:alpha:]], \Q..\E, \z). They are translated where pcre2 reads
 * them differently and compiled once with:
 *   - PCRE2_UTF: patterns and subjects are UTF-8, (?i) and \pL are Unicode;
 *   - PCRE2_DOLLAR_ENDONLY: `$` without (?m) matches only at the end of text
 *     (RE2), not before a final newline (pcre2's default);
 *   - newline = LF: `.` matches everything but \n, (?m)^/$ split at \n only;
 *   - no PCRE2_UCP: \d \w \s \b and POSIX classes are ASCII, as in RE2.
 * Translations: `\s` -> [\t\n\f\r ] and `\S` -> its complement (pcre2's \s
 * also matches \v), `\v` -> \x0B (pcre2: any vertical space), `\C` -> (?s:.)
 * (Go has no \C), `\Z` rejected as RE2 does.
 *
 * Invalid UTF-8 and NUL bytes in subjects: Go decodes each invalid byte as
 * U+FFFD, so `.`, `[^x]`, `\S`, `[^\x00-\x7f]` match it and `.*` runs across
 * it. pcre2 (even with PCRE2_MATCH_INVALID_UTF) matches nothing at an
 * invalid byte, which would make `(?P<msg>.*)` fail on such lines. So a
 * subject is validated first (fast ASCII path); an invalid one is matched
 * through a copy in which each invalid byte is replaced by U+FFFD, exactly
 * what Go's matcher sees, and offsets are mapped back: captured groups are
 * slices of the ORIGINAL subject, bad bytes included. The copy and the map
 * live in the match struct (reused); valid subjects cost one scan.
 *
 * Compile errors carry pcre2's text and the offset in the *user's* pattern:
 *   invalid regex "(a": missing closing parenthesis at offset 2
 *
 * Thread safety: a compiled struct lf_regex is immutable and can be shared
 * by threads. Match state lives in a caller-owned struct lf_regex_match
 * (keep one per thread/loop and reuse it: it allocates only when a regex
 * with more groups than seen before is matched). lf_regex_test() and the
 * helpers without a match argument use a per-thread match block (a pthread
 * key, freed at thread exit): that is the only global state, and it exists
 * so that hot paths can test a regex without threading a scratch object
 * through every API.
 */
#ifndef LF_REGEX_H
#define LF_REGEX_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"

/* lf_regex_new flags */
enum {
	/* Match the whole subject, Prometheus style: same as compiling
	 * `^(?s:re)$` (relabel `regex`, LogQL/PromQL =~ and !~ matchers). */
	LF_REGEX_FULL = 1u << 0,
	/* The pattern is a literal string, not a regex (no syntax). */
	LF_REGEX_LITERAL = 1u << 1,
	/* Case-insensitive, as a leading (?i). */
	LF_REGEX_CASELESS = 1u << 2,
};

struct lf_regex; /* opaque, immutable after lf_regex_new */

/* Caller-owned match state. Zero-initialise (LF_REGEX_MATCH_INIT); free
 * with lf_regex_match_free. After a successful match, the group accessors
 * below read it; it stays valid until the next match with this struct. */
struct lf_regex_match {
	void *md;            /* pcre2_match_data_8 *, grown on demand */
	unsigned md_pairs;   /* ovector pairs allocated */
	const char *subject; /* subject of the last match (borrowed) */
	size_t subject_len;
	int ngroups; /* capture groups of the matched regex (without group 0) */
	size_t *ov;  /* ovector: ov[2i], ov[2i+1] start/end; unset = SIZE_MAX */
	char *san;   /* U+FFFD copy of an invalid-UTF-8 subject (reused) */
	size_t san_len, san_cap;
	size_t *inv; /* positions of the invalid bytes in the subject */
	size_t inv_n, inv_cap;
	const char *checked; /* subject whose UTF-8 check a next start>0 call reuses */
	size_t checked_len;
	bool checked_san;
};
#define LF_REGEX_MATCH_INIT                                                                        \
	{                                                                                          \
		0                                                                                  \
	}

/* Compiles pattern (NUL-terminated). On error *out is NULL and err says
 * `invalid regex "<pattern>": <pcre2 message> at offset <n>`. */
int lf_regex_new(const char *pattern, unsigned flags, struct lf_regex **out, struct lf_error *err);
void lf_regex_free(struct lf_regex *re); /* NULL ok */

/* The pattern as the user wrote it (for messages and rendering). */
const char *lf_regex_pattern(const struct lf_regex *re);

/* Number of capture groups, group 0 excluded. */
int lf_regex_ngroups(const struct lf_regex *re);
/* Index (1..ngroups) of the named group `name`, or -1. With duplicate names
 * (not legal in RE2) the first one. */
int lf_regex_group_index(const struct lf_regex *re, const char *name, size_t name_len);
/* Name of group i (1..ngroups), or NULL for an unnamed group. The string
 * lives as long as re. Enumerate named groups with
 *   for (int i = 1; i <= lf_regex_ngroups(re); i++)
 *       if ((n = lf_regex_group_name(re, i))) ...                          */
const char *lf_regex_group_name(const struct lf_regex *re, int i);

/* Searches subject[start..len) (unanchored unless LF_REGEX_FULL). Returns 1
 * on a match (m filled), 0 on no match, -1 on a matching error (resource
 * limit; message in err when err != NULL). No allocation once m is warm.
 * The subject's UTF-8 check costs one pass over it; a call with start > 0
 * on the same subject pointer and length as the previous call on m (a
 * "find next" loop) reuses that check, so do not modify the subject between
 * such calls. */
int lf_regex_exec(const struct lf_regex *re, const char *subject, size_t len, size_t start,
                  struct lf_regex_match *m, struct lf_error *err);

/* true when re matches somewhere in subject (the whole subject with
 * LF_REGEX_FULL). Matching errors count as "no match". Uses the per-thread
 * match block. */
bool lf_regex_test(const struct lf_regex *re, const char *subject, size_t len);

/* Group i (0 = whole match) of the last successful exec on m. Returns false
 * (and *p = NULL, *n = 0) when the group did not participate or i is out of
 * range. The slice points into the subject. */
bool lf_regex_group(const struct lf_regex_match *m, int i, const char **p, size_t *n);

/* Go Regexp.Expand: appends `tmpl` to out with $1, ${1}, $name, ${name}
 * replaced from the last match on m (re must be the regex matched). `$$` is
 * a literal `$`. Go rules: `$name` takes the longest run of [A-Za-z0-9_]
 * ("$1x" is group "1x", which does not exist, so it expands to ""); a
 * missing or unset group expands to ""; a `$` not followed by a valid
 * reference is copied literally. */
int lf_regex_expand(const struct lf_regex *re, const struct lf_regex_match *m, const char *tmpl,
                    size_t tmpl_len, struct lf_buf *out);

/* Go Regexp.ReplaceAllString / ReplaceAllLiteralString: appends to out the
 * subject with every non-overlapping match replaced by repl (expanded per
 * match with lf_regex_expand unless `literal`). Empty matches right after a
 * previous match are ignored, as in Go. m is scratch (may be NULL: the
 * per-thread block is used). Returns 0, or -1 on ENOMEM / matching error. */
int lf_regex_replace_all(const struct lf_regex *re, const char *subject, size_t len,
                         const char *repl, size_t repl_len, bool literal, struct lf_buf *out,
                         struct lf_regex_match *m);

void lf_regex_match_free(struct lf_regex_match *m);

/* Quotes s so it matches literally inside a pattern (Go regexp.QuoteMeta). */
int lf_regex_quote(const char *s, size_t n, struct lf_buf *out);

#endif
