/* selector.c — LogQL lexer, stream selectors and line filters (see
 * selector.h). */
#include "selector.h"
#include "utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memfind.h"
#include "timeutil.h"

/* ------------------------------------------------------------------ */
/* lexer                                                               */

void lf_lq_lexer_init(struct lf_lq_lexer *lx, const char *s, size_t len)
{
	memset(lx, 0, sizeof *lx);
	lx->s = s;
	lx->len = len;
	lx->line = 1;
	lx->col = 1;
}

void lf_lq_lexer_free(struct lf_lq_lexer *lx)
{
	lf_buf_free(&lx->str);
	lf_buf_free(&lx->peek_str);
}

const char *lf_lq_tok_name(enum lf_lq_tok k)
{
	switch (k) {
	case LF_LQ_EOF:
		return "$end";
	case LF_LQ_IDENT:
		return "IDENTIFIER";
	case LF_LQ_STRING:
		return "STRING";
	case LF_LQ_NUMBER:
		return "NUMBER";
	case LF_LQ_DURATION:
		return "DURATION";
	case LF_LQ_BYTES:
		return "BYTES";
	case LF_LQ_LBRACE:
		return "{";
	case LF_LQ_RBRACE:
		return "}";
	case LF_LQ_LPAREN:
		return "(";
	case LF_LQ_RPAREN:
		return ")";
	case LF_LQ_LBRACKET:
		return "[";
	case LF_LQ_RBRACKET:
		return "]";
	case LF_LQ_COMMA:
		return ",";
	case LF_LQ_EQ:
		return "=";
	case LF_LQ_NEQ:
		return "!=";
	case LF_LQ_RE:
		return "=~";
	case LF_LQ_NRE:
		return "!~";
	case LF_LQ_PIPE_EXACT:
		return "|=";
	case LF_LQ_PIPE_MATCH:
		return "|~";
	case LF_LQ_PIPE_PATTERN:
		return "|>";
	case LF_LQ_NPA:
		return "!>";
	case LF_LQ_PIPE:
		return "|";
	case LF_LQ_CMP_EQ:
		return "==";
	case LF_LQ_GT:
		return ">";
	case LF_LQ_GTE:
		return ">=";
	case LF_LQ_LT:
		return "<";
	case LF_LQ_LTE:
		return "<=";
	case LF_LQ_ADD:
		return "+";
	case LF_LQ_SUB:
		return "-";
	case LF_LQ_MUL:
		return "*";
	case LF_LQ_DIV:
		return "/";
	case LF_LQ_MOD:
		return "%";
	case LF_LQ_POW:
		return "^";
	}
	return "?";
}

int lf_lq_syntax_error(struct lf_error *err, const struct lf_lq_token *tok, const char *expecting)
{
	/* Loki reports an empty query without a position (line 0, col 0) */
	if (tok->kind == LF_LQ_EOF && tok->pos == 0)
		return lf_err(err, "parse error : syntax error: unexpected $end%s%s",
		              expecting ? ", expecting " : "", expecting ? expecting : "");
	const char *name = tok->kw ? tok->kw : lf_lq_tok_name(tok->kind);
	if (expecting)
		return lf_err(
		        err,
		        "parse error at line %d, col %d: syntax error: unexpected %s, expecting %s",
		        tok->line, tok->col, name, expecting);
	return lf_err(err, "parse error at line %d, col %d: syntax error: unexpected %s", tok->line,
	              tok->col, name);
}

static int lex_error(struct lf_error *err, int line, int col, const char *msg)
{
	return lf_err(err, "parse error at line %d, col %d: %s", line, col, msg);
}

/* advance one byte, keeping line/col (col counts characters, as Go's
 * text/scanner does: UTF-8 continuation bytes do not count) */
static void adv(struct lf_lq_lexer *lx)
{
	unsigned char c = (unsigned char)lx->s[lx->pos++];
	if (c == '\n') {
		lx->line++;
		lx->col = 1;
	} else if ((c & 0xC0) != 0x80) {
		lx->col++;
	}
}

int lf_lq_unquote(const char *s, size_t n, char quote, struct lf_buf *out, struct lf_error *err)
{
	lf_buf_reset(out);
	if (lf_buf_reserve(out, n) < 0)
		return lf_err(err, "out of memory");
	if (quote == '`') {
		for (size_t i = 0; i < n; i++)
			if (s[i] != '\r' && lf_buf_putc(out, s[i]) < 0)
				return lf_err(err, "out of memory");
		return 0;
	}
	for (size_t i = 0; i < n;) {
		char c = s[i];
		if (c != '\\') {
			if (lf_buf_putc(out, c) < 0)
				return lf_err(err, "out of memory");
			i++;
			continue;
		}
		if (i + 1 >= n)
			return lf_err(err, "invalid char escape");
		char e = s[i + 1];
		i += 2;
		char simple = 0;
		switch (e) {
		case 'a':
			simple = '\a';
			break;
		case 'b':
			simple = '\b';
			break;
		case 'f':
			simple = '\f';
			break;
		case 'n':
			simple = '\n';
			break;
		case 'r':
			simple = '\r';
			break;
		case 't':
			simple = '\t';
			break;
		case 'v':
			simple = '\v';
			break;
		case '\\':
			simple = '\\';
			break;
		default:
			break;
		}
		if (simple || e == quote) {
			if (lf_buf_putc(out, simple ? simple : e) < 0)
				return lf_err(err, "out of memory");
			continue;
		}
		if (e == 'x' || e == 'u' || e == 'U') {
			size_t nd = e == 'x' ? 2 : e == 'u' ? 4 : 8;
			if (i + nd > n)
				return lf_err(err, "invalid char escape");
			uint32_t v = 0;
			for (size_t k = 0; k < nd; k++) {
				int h = lf_hexval(s[i + k]);
				if (h < 0)
					return lf_err(err, "invalid char escape");
				v = v * 16 + (uint32_t)h;
			}
			i += nd;
			int rc = e == 'x' ? lf_buf_putc(out, (char)v) : lf_utf8_append(out, v);
			if (rc < 0)
				return lf_err(err, "out of memory");
			continue;
		}
		if (e >= '0' && e <= '7') {
			if (i + 2 > n || s[i] < '0' || s[i] > '7' || s[i + 1] < '0' ||
			    s[i + 1] > '7')
				return lf_err(err, "invalid char escape");
			unsigned v = (unsigned)(e - '0') * 64 + (unsigned)(s[i] - '0') * 8 +
			             (unsigned)(s[i + 1] - '0');
			if (v > 255)
				return lf_err(err, "invalid char escape");
			i += 2;
			if (lf_buf_putc(out, (char)v) < 0)
				return lf_err(err, "out of memory");
			continue;
		}
		return lf_err(err, "invalid char escape");
	}
	return 0;
}

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* Scans one token at lx->pos into tok; a STRING's text goes to strbuf. */
static int scan(struct lf_lq_lexer *lx, struct lf_lq_token *tok, struct lf_buf *strbuf,
                struct lf_error *err)
{
	const char *s = lx->s;
	for (;;) {
		while (lx->pos < lx->len && (s[lx->pos] == ' ' || s[lx->pos] == '\t' ||
		                             s[lx->pos] == '\n' || s[lx->pos] == '\r'))
			adv(lx);
		if (lx->pos < lx->len && s[lx->pos] == '#') {
			while (lx->pos < lx->len && s[lx->pos] != '\n')
				adv(lx);
			continue;
		}
		break;
	}
	tok->pos = lx->pos;
	tok->line = lx->line;
	tok->col = lx->col;
	tok->len = 0;
	tok->kw = NULL;
	if (lx->pos >= lx->len) {
		tok->kind = LF_LQ_EOF;
		return 0;
	}
	char c = s[lx->pos];
	char d = lx->pos + 1 < lx->len ? s[lx->pos + 1] : '\0';
	size_t start = lx->pos;

	if (is_ident_start(c)) {
		while (lx->pos < lx->len && is_ident_char(s[lx->pos]))
			adv(lx);
		tok->kind = LF_LQ_IDENT;
		tok->len = lx->pos - start;
		/* the words of Loki 2.8's lexer token map (lex.go `tokens`) */
		static const char *const kws[] = {
		        "by",         "without",    "bool",         "offset",      "on",
		        "ignoring",   "group_left", "group_right",  "or",          "and",
		        "unless",     "unwrap",     "json",         "regexp",      "logfmt",
		        "unpack",     "pattern",    "label_format", "line_format", "ip",
		        "decolorize", "drop"};
		for (size_t i = 0; i < sizeof kws / sizeof kws[0]; i++)
			if (strlen(kws[i]) == tok->len && !memcmp(kws[i], s + start, tok->len)) {
				tok->kw = kws[i];
				break;
			}
		return 0;
	}
	if (c == '"' || c == '`') {
		adv(lx);
		size_t body = lx->pos;
		while (lx->pos < lx->len && s[lx->pos] != c) {
			if (c == '"' && s[lx->pos] == '\n')
				break;
			if (c == '"' && s[lx->pos] == '\\' && lx->pos + 1 < lx->len)
				adv(lx);
			adv(lx);
		}
		if (lx->pos >= lx->len || s[lx->pos] != c)
			return lex_error(err, tok->line, tok->col, "literal not terminated");
		size_t blen = lx->pos - body;
		adv(lx);
		struct lf_error uerr;
		if (lf_lq_unquote(s + body, blen, c, strbuf, &uerr) < 0)
			return lex_error(err, tok->line, tok->col, uerr.msg);
		tok->kind = LF_LQ_STRING;
		tok->len = lx->pos - start;
		return 0;
	}
	if ((c >= '0' && c <= '9') || (c == '.' && d >= '0' && d <= '9')) {
		if (c == '0' && (d == 'x' || d == 'X')) {
			adv(lx);
			adv(lx);
			while (lx->pos < lx->len && lf_hexval(s[lx->pos]) >= 0)
				adv(lx);
		} else {
			while (lx->pos < lx->len && s[lx->pos] >= '0' && s[lx->pos] <= '9')
				adv(lx);
			if (lx->pos < lx->len && s[lx->pos] == '.') {
				adv(lx);
				while (lx->pos < lx->len && s[lx->pos] >= '0' && s[lx->pos] <= '9')
					adv(lx);
			}
			if (lx->pos + 1 < lx->len && (s[lx->pos] == 'e' || s[lx->pos] == 'E') &&
			    ((s[lx->pos + 1] >= '0' && s[lx->pos + 1] <= '9') ||
			     ((s[lx->pos + 1] == '+' || s[lx->pos + 1] == '-') &&
			      lx->pos + 2 < lx->len && s[lx->pos + 2] >= '0' &&
			      s[lx->pos + 2] <= '9'))) {
				adv(lx);
				adv(lx);
				while (lx->pos < lx->len && s[lx->pos] >= '0' && s[lx->pos] <= '9')
					adv(lx);
			}
		}
		tok->kind = LF_LQ_NUMBER;
		/* A unit glued to the number, as Loki's lexer tries it: first the
		 * run of digits, '.' and duration letters (n s u m h d w y µ) as a
		 * duration, then the run of digits, '.' and byte-unit letters
		 * (B i k K M G T P) as a byte size; else the number stands alone
		 * and the rest is the next token ("1ss" = 1 then ss, "20b" = 20
		 * then b). */
		for (int pass = 0; pass < 2; pass++) {
			static const char dur_runes[] = "nsumhdwy", byte_runes[] = "BikKMGTP";
			size_t e = lx->pos;
			while (e < lx->len) {
				unsigned char u = (unsigned char)s[e];
				if ((u >= '0' && u <= '9') || u == '.' ||
				    (u && strchr(pass ? byte_runes : dur_runes, u)))
					e++;
				else if (!pass && u == 0xC2 && e + 1 < lx->len &&
				         (unsigned char)s[e + 1] == 0xB5)
					e += 2; /* µ */
				else
					break;
			}
			if (e == lx->pos)
				continue;
			char tmp[64];
			size_t n = e - start;
			if (n >= sizeof tmp)
				continue;
			memcpy(tmp, s + start, n);
			tmp[n] = '\0';
			int64_t v;
			if (pass ? lf_parse_size(tmp, &v, NULL) < 0
			         : lf_parse_duration(tmp, &v, NULL) < 0)
				continue;
			while (lx->pos < e)
				adv(lx);
			tok->kind = pass ? LF_LQ_BYTES : LF_LQ_DURATION;
			break;
		}
		tok->len = lx->pos - start;
		return 0;
	}
	enum lf_lq_tok k;
	size_t n = 1;
	switch (c) {
	case '{':
		k = LF_LQ_LBRACE;
		break;
	case '}':
		k = LF_LQ_RBRACE;
		break;
	case '(':
		k = LF_LQ_LPAREN;
		break;
	case ')':
		k = LF_LQ_RPAREN;
		break;
	case '[':
		k = LF_LQ_LBRACKET;
		break;
	case ']':
		k = LF_LQ_RBRACKET;
		break;
	case ',':
		k = LF_LQ_COMMA;
		break;
	case '+':
		k = LF_LQ_ADD;
		break;
	case '-':
		k = LF_LQ_SUB;
		break;
	case '*':
		k = LF_LQ_MUL;
		break;
	case '/':
		k = LF_LQ_DIV;
		break;
	case '%':
		k = LF_LQ_MOD;
		break;
	case '^':
		k = LF_LQ_POW;
		break;
	case '=':
		k = d == '~' ? (n = 2, LF_LQ_RE) : d == '=' ? (n = 2, LF_LQ_CMP_EQ) : LF_LQ_EQ;
		break;
	case '!':
		if (d == '=')
			k = LF_LQ_NEQ;
		else if (d == '~')
			k = LF_LQ_NRE;
		else if (d == '>')
			k = LF_LQ_NPA;
		else
			return lex_error(err, tok->line, tok->col,
			                 "syntax error: unexpected character '!'");
		n = 2;
		break;
	case '|':
		k = d == '='   ? (n = 2, LF_LQ_PIPE_EXACT)
		    : d == '~' ? (n = 2, LF_LQ_PIPE_MATCH)
		    : d == '>' ? (n = 2, LF_LQ_PIPE_PATTERN)
		               : LF_LQ_PIPE;
		break;
	case '>':
		k = d == '=' ? (n = 2, LF_LQ_GTE) : LF_LQ_GT;
		break;
	case '<':
		k = d == '=' ? (n = 2, LF_LQ_LTE) : LF_LQ_LT;
		break;
	default: {
		char msg[64];
		if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
			snprintf(msg, sizeof msg, "syntax error: unexpected character '%c'", c);
		else
			snprintf(msg, sizeof msg, "syntax error: unexpected character 0x%02x",
			         (unsigned char)c);
		return lex_error(err, tok->line, tok->col, msg);
	}
	}
	for (size_t i = 0; i < n; i++)
		adv(lx);
	tok->kind = k;
	tok->len = n;
	return 0;
}

int lf_lq_peek(struct lf_lq_lexer *lx, struct lf_lq_token *tok, struct lf_error *err)
{
	if (!lx->has_peek) {
		if (scan(lx, &lx->peek, &lx->peek_str, err) < 0)
			return -1;
		lx->has_peek = true;
	}
	*tok = lx->peek;
	return 0;
}

int lf_lq_next(struct lf_lq_lexer *lx, struct lf_lq_token *tok, struct lf_error *err)
{
	if (lx->has_peek) {
		lx->has_peek = false;
		*tok = lx->peek;
		if (tok->kind == LF_LQ_STRING) {
			struct lf_buf t = lx->str;
			lx->str = lx->peek_str;
			lx->peek_str = t;
		}
		return 0;
	}
	return scan(lx, tok, &lx->str, err);
}

bool lf_lq_is_ident(const struct lf_lq_lexer *lx, const struct lf_lq_token *tok, const char *word)
{
	size_t n = strlen(word);
	return tok->kind == LF_LQ_IDENT && tok->len == n && memcmp(lx->s + tok->pos, word, n) == 0;
}

/* ------------------------------------------------------------------ */
/* selector                                                            */

void lf_selector_free(struct lf_selector *sel)
{
	if (!sel)
		return;
	for (size_t i = 0; i < sel->n_matchers; i++) {
		free(sel->matchers[i].name);
		free(sel->matchers[i].value);
		lf_regex_free(sel->matchers[i].re);
	}
	free(sel->matchers);
	for (size_t i = 0; i < sel->n_filters; i++) {
		for (size_t j = 0; j < sel->filters[i].n_alts; j++) {
			free(sel->filters[i].alts[j].value);
			lf_regex_free(sel->filters[i].alts[j].re);
		}
		free(sel->filters[i].alts);
	}
	free(sel->filters);
	free(sel);
}

static char *dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		if (n)
			memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static int regex_err(struct lf_error *err, const struct lf_lq_token *tok, const char *msg)
{
	return lf_err(err, "parse error at line %d, col %d: %s", tok->line, tok->col, msg);
}

static bool empty_compatible(const struct lf_matcher *m)
{
	switch (m->op) {
	case LF_MATCH_EQ:
		return m->value_len == 0;
	case LF_MATCH_RE:
		return lf_regex_test(m->re, "", 0);
	default:
		return true; /* negative matchers never count */
	}
}

static int parse_filter(struct lf_lq_lexer *lx, const struct lf_lq_token *optok,
                        struct lf_selector *sel, struct lf_error *err)
{
	enum lf_filter_op op;
	switch (optok->kind) {
	case LF_LQ_PIPE_EXACT:
		op = LF_FILTER_CONTAINS;
		break;
	case LF_LQ_NEQ:
		op = LF_FILTER_NOT_CONTAINS;
		break;
	case LF_LQ_PIPE_MATCH:
		op = LF_FILTER_RE;
		break;
	default:
		op = LF_FILTER_NOT_RE;
		break;
	}
	struct lf_line_filter *nf =
	        realloc(sel->filters, (sel->n_filters + 1) * sizeof *sel->filters);
	if (!nf)
		return lf_err(err, "out of memory");
	sel->filters = nf;
	struct lf_line_filter *f = &sel->filters[sel->n_filters++];
	memset(f, 0, sizeof *f);
	f->op = op;
	for (;;) {
		struct lf_lq_token t;
		if (lf_lq_next(lx, &t, err) < 0)
			return -1;
		if (t.kind != LF_LQ_STRING)
			return lf_lq_syntax_error(err, &t, "STRING");
		struct lf_filter_alt *na = realloc(f->alts, (f->n_alts + 1) * sizeof *f->alts);
		if (!na)
			return lf_err(err, "out of memory");
		f->alts = na;
		struct lf_filter_alt *a = &f->alts[f->n_alts++];
		memset(a, 0, sizeof *a);
		a->len = lx->str.len;
		if (!(a->value = dupn(lx->str.data ? lx->str.data : "", a->len)))
			return lf_err(err, "out of memory");
		if (op == LF_FILTER_RE || op == LF_FILTER_NOT_RE) {
			struct lf_error rerr;
			if (lf_regex_new(a->value, 0, &a->re, &rerr) < 0)
				return regex_err(err, &t, rerr.msg);
		}
		/* `or` continues the alternatives of this filter */
		struct lf_lq_token p;
		if (lf_lq_peek(lx, &p, err) < 0)
			return -1;
		if (!lf_lq_is_ident(lx, &p, "or"))
			return 0;
		(void)lf_lq_next(lx, &p, err);
	}
}

int lf_selector_parse_lx(struct lf_lq_lexer *lx, unsigned flags, struct lf_selector **out,
                         struct lf_error *err)
{
	*out = NULL;
	struct lf_selector *sel = calloc(1, sizeof *sel);
	if (!sel)
		return lf_err(err, "out of memory");
	struct lf_lq_token t;
	if (lf_lq_next(lx, &t, err) < 0)
		goto fail;
	if (t.kind != LF_LQ_LBRACE) {
		lf_lq_syntax_error(err, &t, NULL);
		goto fail;
	}
	for (;;) {
		if (lf_lq_next(lx, &t, err) < 0)
			goto fail;
		if (t.kind != LF_LQ_IDENT) {
			lf_lq_syntax_error(err, &t, "IDENTIFIER");
			goto fail;
		}
		struct lf_lq_token name = t;
		if (lf_lq_next(lx, &t, err) < 0)
			goto fail;
		enum lf_match_op op;
		switch (t.kind) {
		case LF_LQ_EQ:
			op = LF_MATCH_EQ;
			break;
		case LF_LQ_NEQ:
			op = LF_MATCH_NEQ;
			break;
		case LF_LQ_RE:
			op = LF_MATCH_RE;
			break;
		case LF_LQ_NRE:
			op = LF_MATCH_NRE;
			break;
		default:
			lf_lq_syntax_error(err, &t, "= or =~ or !~ or !=");
			goto fail;
		}
		if (lf_lq_next(lx, &t, err) < 0)
			goto fail;
		if (t.kind != LF_LQ_STRING) {
			lf_lq_syntax_error(err, &t, "STRING");
			goto fail;
		}
		struct lf_matcher *nm =
		        realloc(sel->matchers, (sel->n_matchers + 1) * sizeof *sel->matchers);
		if (!nm) {
			lf_err(err, "out of memory");
			goto fail;
		}
		sel->matchers = nm;
		struct lf_matcher *m = &sel->matchers[sel->n_matchers++];
		memset(m, 0, sizeof *m);
		m->op = op;
		m->value_len = lx->str.len;
		m->name = dupn(lx->s + name.pos, name.len);
		m->value = dupn(lx->str.data ? lx->str.data : "", lx->str.len);
		if (!m->name || !m->value) {
			lf_err(err, "out of memory");
			goto fail;
		}
		if (op == LF_MATCH_RE || op == LF_MATCH_NRE) {
			struct lf_error rerr;
			if (lf_regex_new(m->value, LF_REGEX_FULL, &m->re, &rerr) < 0) {
				regex_err(err, &t, rerr.msg);
				goto fail;
			}
		}
		if (lf_lq_next(lx, &t, err) < 0)
			goto fail;
		if (t.kind == LF_LQ_RBRACE)
			break;
		if (t.kind != LF_LQ_COMMA) {
			lf_lq_syntax_error(err, &t, "} or ,");
			goto fail;
		}
	}
	if (!(flags & LF_SELECTOR_NO_FILTERS)) {
		for (;;) {
			if (lf_lq_peek(lx, &t, err) < 0)
				goto fail;
			if (t.kind != LF_LQ_PIPE_EXACT && t.kind != LF_LQ_NEQ &&
			    t.kind != LF_LQ_PIPE_MATCH && t.kind != LF_LQ_NRE)
				break;
			(void)lf_lq_next(lx, &t, err);
			if (parse_filter(lx, &t, sel, err) < 0)
				goto fail;
		}
	}
	if (flags & LF_SELECTOR_REQUIRE_NONEMPTY) {
		bool ok = false;
		for (size_t i = 0; i < sel->n_matchers; i++)
			if (!empty_compatible(&sel->matchers[i]))
				ok = true;
		if (!ok) {
			lf_err(err, "parse error : queries require at least one regexp or equality "
			            "matcher that does not have an empty-compatible value. For "
			            "instance, app=~\".*\" does not meet this requirement, but "
			            "app=~\".+\" will");
			goto fail;
		}
	}
	*out = sel;
	return 0;
fail:
	lf_selector_free(sel);
	return -1;
}

int lf_selector_parse(const char *s, size_t len, unsigned flags, struct lf_selector **out,
                      struct lf_error *err)
{
	struct lf_lq_lexer lx;
	lf_lq_lexer_init(&lx, s, len);
	int rc = lf_selector_parse_lx(&lx, flags, out, err);
	if (rc == 0) {
		struct lf_lq_token t;
		if (lf_lq_next(&lx, &t, err) < 0) {
			rc = -1;
		} else if (t.kind != LF_LQ_EOF) {
			rc = lf_lq_syntax_error(err, &t, NULL);
		}
		if (rc < 0) {
			lf_selector_free(*out);
			*out = NULL;
		}
	}
	lf_lq_lexer_free(&lx);
	return rc;
}

/* ------------------------------------------------------------------ */
/* matching                                                            */

bool lf_matcher_match(const struct lf_matcher *m, const char *value, size_t len)
{
	if (!value) {
		value = "";
		len = 0;
	}
	switch (m->op) {
	case LF_MATCH_EQ:
		return len == m->value_len && memcmp(value, m->value, len) == 0;
	case LF_MATCH_NEQ:
		return !(len == m->value_len && memcmp(value, m->value, len) == 0);
	case LF_MATCH_RE:
		return lf_regex_test(m->re, value, len);
	case LF_MATCH_NRE:
		return !lf_regex_test(m->re, value, len);
	}
	return false;
}

bool lf_selector_match_labels(const struct lf_selector *sel, const struct lf_labels *ls)
{
	for (size_t i = 0; i < sel->n_matchers; i++) {
		const struct lf_matcher *m = &sel->matchers[i];
		const char *v = lf_labels_get(ls, m->name);
		if (!lf_matcher_match(m, v, v ? strlen(v) : 0))
			return false;
	}
	return true;
}

static bool alt_match(enum lf_filter_op op, const struct lf_filter_alt *a, const char *line,
                      size_t len)
{
	if (op == LF_FILTER_CONTAINS || op == LF_FILTER_NOT_CONTAINS)
		return lf_memfind(line, len, a->value, a->len) != NULL;
	return lf_regex_test(a->re, line, len);
}

bool lf_line_filter_match(const struct lf_line_filter *f, const char *line, size_t len)
{
	if (!line) {
		line = "";
		len = 0;
	}
	bool any = false;
	for (size_t i = 0; i < f->n_alts && !any; i++)
		any = alt_match(f->op, &f->alts[i], line, len);
	if (f->op == LF_FILTER_NOT_CONTAINS || f->op == LF_FILTER_NOT_RE)
		return !any;
	return any;
}

bool lf_selector_match_line(const struct lf_selector *sel, const char *line, size_t len)
{
	for (size_t i = 0; i < sel->n_filters; i++)
		if (!lf_line_filter_match(&sel->filters[i], line, len))
			return false;
	return true;
}

int lf_selector_render(const struct lf_selector *sel, struct lf_buf *out)
{
	static const char *const mops[] = {"=", "!=", "=~", "!~"};
	static const char *const fops[] = {"|=", "!=", "|~", "!~"};
	if (lf_buf_putc(out, '{') < 0)
		return -1;
	for (size_t i = 0; i < sel->n_matchers; i++) {
		const struct lf_matcher *m = &sel->matchers[i];
		if ((i && lf_buf_appends(out, ", ") < 0) || lf_buf_appends(out, m->name) < 0 ||
		    lf_buf_appends(out, mops[m->op]) < 0 ||
		    lf_buf_append_quoted(out, m->value, m->value_len) < 0)
			return -1;
	}
	if (lf_buf_putc(out, '}') < 0)
		return -1;
	for (size_t i = 0; i < sel->n_filters; i++) {
		const struct lf_line_filter *f = &sel->filters[i];
		if (lf_buf_putc(out, ' ') < 0 || lf_buf_appends(out, fops[f->op]) < 0)
			return -1;
		for (size_t j = 0; j < f->n_alts; j++) {
			if ((j && lf_buf_appends(out, " or") < 0) || lf_buf_putc(out, ' ') < 0 ||
			    lf_buf_append_quoted(out, f->alts[j].value, f->alts[j].len) < 0)
				return -1;
		}
	}
	return 0;
}
