/* selector.h — LogQL stream selectors and line filters:
 *   {a="x", b!="y", c=~"re", d!~"re"} |= "s" != "t" |~ "re" !~ "re" |= "a" or "b"
 * used by the `match` pipeline stage and by the store (index lookups and
 * line filtering). It also exposes the LogQL lexer so that the store can
 * build the full LogQL parser (parsers, label filters, line_format, metric
 * queries) on top of it and call lf_selector_parse_lx() at a position
 * inside a larger query.
 *
 * Semantics (Loki/Prometheus):
 *   - `=~` / `!~` matchers are fully anchored: `c=~"a.*"` must match the
 *     whole value (compiled as ^(?s:re)$). An absent label's value is "".
 *   - line filters are unanchored: `|= "s"` substring, `|~ "re"` regex
 *     search; `!=` / `!~` negate. `|= "a" or "b"` matches a line containing
 *     a or b; `!= "a" or "b"` keeps lines containing neither. Filters chain
 *     with AND.
 *   - strings: "double quoted" with Go escapes (\n \t \" \\ \xHH \uHHHH
 *     \UHHHHHHHH \ooo) or `backtick raw`.
 * Errors use Loki's form. Checked against Loki's own parser tests
 * (pkg/logql/syntax/parser_test.go) and user reports (grafana/loki#12132,
 * #7373): goyacc messages with Loki's token spellings, 1-based line/col of
 * the offending token, `$end` at the end of input (col = length + 1), and
 * "parse error : ..." when there is no position (empty query, validation).
 * Examples (one per line):
 *   parse error at line 1, col 3: syntax error: unexpected IDENTIFIER,
 *     expecting = or =~ or !~ or !=
 *   parse error at line 1, col 11: syntax error: unexpected $end,
 *     expecting } or ,
 *   parse error at line 1, col 13: syntax error: unexpected STRING
 *   parse error at line 1, col 6: literal not terminated
 *   parse error : queries require at least one regexp or equality matcher
 *     that does not have an empty-compatible value. For instance,
 *     app=~".*" does not meet this requirement, but app=~".+" will
 * goyacc lists expected tokens only when there are at most four; where the
 * full LogQL grammar would accept more, no list is given.
 */
#ifndef LF_SELECTOR_H
#define LF_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "labels.h"
#include "regex.h"

/* ---- lexer ---- */

enum lf_lq_tok {
	LF_LQ_EOF = 0,
	LF_LQ_IDENT,        /* [a-zA-Z_][a-zA-Z0-9_]* ; keywords (or, and, by, json, ...)
	                     * are IDENTs: the parser decides by text (Loki's own
	                     * lexer makes them tokens; messages still say
	                     * IDENTIFIER for a name where a keyword is wanted) */
	LF_LQ_STRING,       /* "..." or `...`; decoded text in lexer->str */
	LF_LQ_NUMBER,       /* 12, 1.5, 1e3, 0x1f (text in the token) */
	LF_LQ_DURATION,     /* 5m, 1h30m, 250ms (text in the token) */
	LF_LQ_BYTES,        /* 10KB, 1MiB (text in the token) */
	LF_LQ_LBRACE,       /* { */
	LF_LQ_RBRACE,       /* } */
	LF_LQ_LPAREN,       /* ( */
	LF_LQ_RPAREN,       /* ) */
	LF_LQ_LBRACKET,     /* [ */
	LF_LQ_RBRACKET,     /* ] */
	LF_LQ_COMMA,        /* , */
	LF_LQ_EQ,           /* = */
	LF_LQ_NEQ,          /* != */
	LF_LQ_RE,           /* =~ */
	LF_LQ_NRE,          /* !~ */
	LF_LQ_PIPE_EXACT,   /* |= */
	LF_LQ_PIPE_MATCH,   /* |~ */
	LF_LQ_PIPE_PATTERN, /* |> */
	LF_LQ_NPA,          /* !> */
	LF_LQ_PIPE,         /* | */
	LF_LQ_CMP_EQ,       /* == */
	LF_LQ_GT,           /* > */
	LF_LQ_GTE,          /* >= */
	LF_LQ_LT,           /* < */
	LF_LQ_LTE,          /* <= */
	LF_LQ_ADD,          /* + */
	LF_LQ_SUB,          /* - */
	LF_LQ_MUL,          /* * */
	LF_LQ_DIV,          /* / */
	LF_LQ_MOD,          /* % */
	LF_LQ_POW,          /* ^ */
};

struct lf_lq_token {
	enum lf_lq_tok kind;
	size_t pos, len; /* byte range of the raw token in the input */
	int line, col;   /* 1-based position of its first byte */
	/* An IDENTIFIER that Loki's lexer makes a keyword token (`by`,
	 * `unwrap`, `json`, ...): syntax errors name it by its text, as Loki's
	 * ("unexpected unwrap"); NULL otherwise. */
	const char *kw;
};

/* Lexer over s[0..len). `str` holds the decoded value of the last STRING
 * token read by lf_lq_next (overwritten by the next STRING). One token of
 * look-ahead: lf_lq_peek returns the next token without consuming it. */
struct lf_lq_lexer {
	const char *s;
	size_t len, pos;
	int line, col; /* position of s[pos] */
	struct lf_buf str;
	bool has_peek;
	struct lf_lq_token peek;
	struct lf_buf peek_str; /* decoded STRING of the peeked token */
};

void lf_lq_lexer_init(struct lf_lq_lexer *lx, const char *s, size_t len);
void lf_lq_lexer_free(struct lf_lq_lexer *lx); /* frees the string buffers */
/* Reads the next token. -1 on a lexical error (bad escape, unterminated
 * string, unexpected character), with a Loki-style positioned message.
 * Skips white space and `#` comments. A number directly followed by a
 * unit is one DURATION ("5m", "1h30m") or BYTES ("10KB") token. */
int lf_lq_next(struct lf_lq_lexer *lx, struct lf_lq_token *tok, struct lf_error *err);
int lf_lq_peek(struct lf_lq_lexer *lx, struct lf_lq_token *tok, struct lf_error *err);
/* Loki's spelling of a token in messages: "IDENTIFIER", "STRING",
 * "NUMBER", "$end", "{", "=~", ... */
const char *lf_lq_tok_name(enum lf_lq_tok kind);
/* Formats `parse error at line L, col C: syntax error: unexpected X[, expecting ...]`
 * for tok; `expecting` may be NULL. Returns -1. */
int lf_lq_syntax_error(struct lf_error *err, const struct lf_lq_token *tok, const char *expecting);
/* True when tok is an IDENT whose text is `word`. */
bool lf_lq_is_ident(const struct lf_lq_lexer *lx, const struct lf_lq_token *tok, const char *word);
/* Decodes a Go string literal body (between the quotes, `"` form) into out.
 * Shared with the lexer; useful for label_format values. 0 / -1. */
int lf_lq_unquote(const char *s, size_t n, char quote, struct lf_buf *out, struct lf_error *err);

/* ---- selector ---- */

enum lf_match_op { LF_MATCH_EQ, LF_MATCH_NEQ, LF_MATCH_RE, LF_MATCH_NRE };

struct lf_matcher {
	char *name;
	char *value; /* as written (decoded string) */
	size_t value_len;
	enum lf_match_op op;
	struct lf_regex *re; /* RE/NRE: compiled with LF_REGEX_FULL */
};

enum lf_filter_op {
	LF_FILTER_CONTAINS,     /* |= */
	LF_FILTER_NOT_CONTAINS, /* != */
	LF_FILTER_RE,           /* |~ */
	LF_FILTER_NOT_RE,       /* !~ */
};

struct lf_filter_alt {
	char *value; /* decoded string / regex text */
	size_t len;
	struct lf_regex *re; /* RE ops only */
};

struct lf_line_filter {
	enum lf_filter_op op;
	size_t n_alts; /* >= 1; more with `or` */
	struct lf_filter_alt *alts;
};

struct lf_selector {
	struct lf_matcher *matchers;
	size_t n_matchers;
	struct lf_line_filter *filters;
	size_t n_filters;
};

/* lf_selector_parse flags */
enum {
	/* Require a matcher that cannot match "" (Loki's query validation:
	 * `{a=~".*"}` alone is refused). Promtail's match stage does not
	 * require it; the store's query path does. */
	LF_SELECTOR_REQUIRE_NONEMPTY = 1u << 0,
	/* Matchers only: stop before any line filter (lf_selector_parse then
	 * fails if anything follows the `}`). */
	LF_SELECTOR_NO_FILTERS = 1u << 1,
};

/* Parses a whole string: selector + line filters, nothing else may follow.
 * At least one matcher. */
int lf_selector_parse(const char *s, size_t len, unsigned flags, struct lf_selector **out,
                      struct lf_error *err);
/* Parses `{...}` then any line filters at the lexer's position, and stops
 * before the first token that does not continue them (it stays peeked in
 * lx, so the caller's parser continues from there). */
int lf_selector_parse_lx(struct lf_lq_lexer *lx, unsigned flags, struct lf_selector **out,
                         struct lf_error *err);
void lf_selector_free(struct lf_selector *sel); /* NULL ok */

/* All matchers hold for ls (absent label = ""). */
bool lf_selector_match_labels(const struct lf_selector *sel, const struct lf_labels *ls);
/* One matcher against a value (NULL = absent = ""). */
bool lf_matcher_match(const struct lf_matcher *m, const char *value, size_t len);
/* All line filters hold for line[0..len) (true when there are none). */
bool lf_selector_match_line(const struct lf_selector *sel, const char *line, size_t len);
bool lf_line_filter_match(const struct lf_line_filter *f, const char *line, size_t len);

/* Renders the selector back to LogQL text: `{a="x", c=~"re"} |= "s"`. */
int lf_selector_render(const struct lf_selector *sel, struct lf_buf *out);

/* Index iteration: sel->matchers[0..n_matchers) in source order; each has
 * name, op, value. */

#endif
