/* pipeline.c — see pipeline.h. */
#include "pipeline.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "logfmt.h"
#include "memfind.h"
#include "regex.h"
#include "template.h"
#include "timeutil.h"
#include "utf8.h"

#define ERR_LABEL         "__error__"
#define ERR_DETAILS_LABEL "__error_details__"

/* ---- ip matching (log/ip.go) ---- */

struct ipaddr {
	int fam; /* 4 or 16 (bytes) */
	unsigned char b[16];
};

enum ip_kind { IP_SINGLE, IP_CIDR, IP_RANGE };

struct ipmatch {
	enum ip_kind kind;
	struct ipaddr a, b; /* single: a; cidr: a + bits; range: a..b */
	int bits;
	char *pattern;
};

static bool ip_parse_addr(const char *s, size_t n, struct ipaddr *out)
{
	char tmp[64];
	if (n == 0 || n >= sizeof tmp)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (memchr(tmp, ':', n)) {
		out->fam = 16;
		return inet_pton(AF_INET6, tmp, out->b) == 1;
	}
	out->fam = 4;
	memset(out->b, 0, sizeof out->b);
	return inet_pton(AF_INET, tmp, out->b) == 1;
}

static int ip_cmp(const struct ipaddr *x, const struct ipaddr *y)
{
	return memcmp(x->b, y->b, (size_t)x->fam);
}

static int ipmatch_new(const char *p, size_t n, struct ipmatch *m, struct lf_error *err)
{
	memset(m, 0, sizeof *m);
	const char *slash = memchr(p, '/', n), *dash = memchr(p, '-', n);
	bool ok;
	if (slash) {
		m->kind = IP_CIDR;
		ok = ip_parse_addr(p, (size_t)(slash - p), &m->a);
		const char *q = slash + 1, *e = p + n;
		int bits = 0;
		if (q == e || (e - q > 1 && *q == '0'))
			ok = false;
		for (; ok && q < e; q++) {
			if (*q < '0' || *q > '9' || bits > 200) {
				ok = false;
				break;
			}
			bits = bits * 10 + (*q - '0');
		}
		if (ok && bits > m->a.fam * 8)
			ok = false;
		m->bits = bits;
	} else if (dash) {
		m->kind = IP_RANGE;
		ok = ip_parse_addr(p, (size_t)(dash - p), &m->a) &&
		     ip_parse_addr(dash + 1, (size_t)(p + n - dash - 1), &m->b) &&
		     m->a.fam == m->b.fam && ip_cmp(&m->a, &m->b) <= 0;
	} else {
		m->kind = IP_SINGLE;
		ok = ip_parse_addr(p, n, &m->a);
	}
	if (!ok)
		return lf_err(err, "ip: invalid pattern: \"%.*s\"", (int)n, p);
	m->pattern = strndup(p, n);
	return m->pattern ? 0 : lf_err(err, "out of memory");
}

static bool ipmatch_addr(const struct ipmatch *m, const struct ipaddr *x)
{
	if (x->fam != m->a.fam)
		return false;
	switch (m->kind) {
	case IP_SINGLE:
		return ip_cmp(x, &m->a) == 0;
	case IP_RANGE:
		return ip_cmp(x, &m->a) >= 0 && ip_cmp(x, &m->b) <= 0;
	default: {
		int full = m->bits / 8, rem = m->bits % 8;
		if (memcmp(x->b, m->a.b, (size_t)full))
			return false;
		if (!rem)
			return true;
		unsigned char mask = (unsigned char)(0xff << (8 - rem));
		return (x->b[full] & mask) == (m->a.b[full] & mask);
	}
	}
}

static bool ipmatch_str(const struct ipmatch *m, const char *s, size_t n)
{
	struct ipaddr a;
	return ip_parse_addr(s, n, &a) && ipmatch_addr(m, &a);
}

static inline bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Scans a line for an address that the pattern matches (ip.go's
 * containsIP). */
static bool ipmatch_line(const struct ipmatch *m, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		bool v4 = false, v6 = false;
		if (n - i >= 4 && s[i] >= '0' && s[i] <= '9' &&
		    (s[i + 1] == '.' || s[i + 2] == '.' || s[i + 3] == '.'))
			v4 = true;
		if (n - i >= 5) {
			if (s[i] == ':' && s[i + 1] == ':' && is_hex(s[i + 2]))
				v6 = true;
			for (size_t k = 1; k <= 4 && !v6; k++) {
				bool hexrun = true;
				for (size_t j = 0; j < k; j++)
					hexrun &= is_hex(s[i + j]);
				if (hexrun && s[i + k] == ':')
					v6 = true;
			}
		}
		if (!v4 && !v6) {
			i++;
			continue;
		}
		size_t j = i;
		if (v6) {
			while (j < n && (is_hex(s[j]) || s[j] == ':' || s[j] == '.'))
				j++;
		} else {
			while (j < n && ((s[j] >= '0' && s[j] <= '9') || s[j] == '.'))
				j++;
		}
		if (ipmatch_str(m, s + i, j - i))
			return true;
		i = j + 1;
	}
	return false;
}

/* ---- label filters (log/label_filter.go) ---- */

enum lfilt_kind { LF_AND, LF_OR, LF_STR, LF_NUM, LF_DUR, LF_BYTES, LF_IP };
enum cmp_op { C_EQ, C_NE, C_GT, C_GE, C_LT, C_LE };
static const char *const cmp_txt[] = {"==", "!=", ">", ">=", "<", "<="};

struct lfilt {
	enum lfilt_kind kind;
	struct lfilt *l, *r;
	char *name;
	struct lf_matcher m; /* LF_STR (m.name = name) */
	enum cmp_op op;
	double num;
	int64_t dur;
	uint64_t bytes;
	char *lit; /* NUMBER/DURATION/BYTES text as written */
	struct ipmatch ip;
};

static void lfilt_free(struct lfilt *f)
{
	if (!f)
		return;
	lfilt_free(f->l);
	lfilt_free(f->r);
	free(f->name);
	free(f->m.value);
	lf_regex_free(f->m.re);
	free(f->lit);
	free(f->ip.pattern);
	free(f);
}

/* ---- stages ---- */

enum stage_kind {
	S_LINE_FILTER,
	S_LINE_IP,
	S_JSON,
	S_JSON_EXPR,
	S_LOGFMT,
	S_REGEXP,
	S_PATTERN,
	S_UNPACK,
	S_LABEL_FILTER,
	S_LINE_FORMAT,
	S_LABEL_FORMAT,
	S_DROP,
	S_DECOLORIZE,
	S_UNWRAP,
};

/* One step of a `json` expression path: a member name or an array index. */
struct jstep {
	const char *key; /* NULL for an index step */
	size_t key_len;
	size_t index;
};

struct jexpr {
	char *ident;
	char *expr; /* as written */
	struct jstep *steps;
	size_t n_steps;
};

struct lfmt_param {
	char *ident;
	char *key;
};

enum pat_kind { P_LIT, P_CAP, P_SKIP };
struct pat_node {
	enum pat_kind kind;
	char *s; /* literal text or capture name */
	size_t len;
};

struct label_fmt {
	char *dst;
	char *src;                /* rename: source label */
	char *text;               /* template text */
	struct lf_template *tmpl; /* template form */
};

struct drop_item {
	char *name;
	bool has_matcher;
	struct lf_matcher m;
};

enum unwrap_conv { U_FLOAT, U_DURATION, U_DURATION_SECONDS, U_BYTES };

struct stage {
	enum stage_kind kind;
	struct lf_line_filter lf; /* S_LINE_FILTER */
	bool ip_neg;              /* S_LINE_IP: != */
	struct ipmatch ip;
	struct jexpr *jx; /* S_JSON_EXPR */
	size_t n_jx;
	struct lfmt_param *lp; /* S_LOGFMT with params */
	size_t n_lp;
	struct lf_regex *re; /* S_REGEXP */
	char *text;          /* regexp/pattern/line_format source */
	struct pat_node *pat;
	size_t n_pat;
	struct lfilt *filt;       /* S_LABEL_FILTER */
	struct lf_template *tmpl; /* S_LINE_FORMAT */
	struct label_fmt *lfm;    /* S_LABEL_FORMAT */
	size_t n_lfm;
	struct drop_item *drops; /* S_DROP */
	size_t n_drops;
	char *unwrap_label; /* S_UNWRAP */
	enum unwrap_conv conv;
	struct lfilt **post; /* filters after unwrap */
	size_t n_post;
};

struct lf_lq_pipeline {
	struct stage *st;
	size_t n;
	size_t n_leading; /* leading line filters */
	struct lf_line_filter *leading;
	char *src; /* rendered text (for clone: re-parsed) */
	unsigned flags;
	/* per-line state */
	struct lf_labels cur, snap, out;
	const struct lf_labels *stream;
	struct lf_buf err, details;
	struct lf_buf line_a, line_b, tmp, name, val, scratch, prefix;
	const char *line;
	size_t len;
	int64_t ts;
	char tsbuf[32];
	struct lf_regex_match rm;
	struct lf_jparser jp;
	int json_depth;
	bool use_snap;
	bool has_value;
	double value;
	bool no_labels; /* lf_lq_pipeline_set_no_labels */
};

static void line_filter_free(struct lf_line_filter *f)
{
	for (size_t i = 0; i < f->n_alts; i++) {
		free(f->alts[i].value);
		lf_regex_free(f->alts[i].re);
	}
	free(f->alts);
}

static void stage_free(struct stage *s)
{
	line_filter_free(&s->lf);
	free(s->ip.pattern);
	for (size_t i = 0; i < s->n_jx; i++) {
		free(s->jx[i].ident);
		free(s->jx[i].expr);
		for (size_t k = 0; k < s->jx[i].n_steps; k++)
			free((char *)s->jx[i].steps[k].key);
		free(s->jx[i].steps);
	}
	free(s->jx);
	for (size_t i = 0; i < s->n_lp; i++) {
		free(s->lp[i].ident);
		free(s->lp[i].key);
	}
	free(s->lp);
	lf_regex_free(s->re);
	free(s->text);
	for (size_t i = 0; i < s->n_pat; i++)
		free(s->pat[i].s);
	free(s->pat);
	lfilt_free(s->filt);
	lf_template_free(s->tmpl);
	for (size_t i = 0; i < s->n_lfm; i++) {
		free(s->lfm[i].dst);
		free(s->lfm[i].src);
		free(s->lfm[i].text);
		lf_template_free(s->lfm[i].tmpl);
	}
	free(s->lfm);
	for (size_t i = 0; i < s->n_drops; i++) {
		free(s->drops[i].name);
		free(s->drops[i].m.value);
		lf_regex_free(s->drops[i].m.re);
	}
	free(s->drops);
	free(s->unwrap_label);
	for (size_t i = 0; i < s->n_post; i++)
		lfilt_free(s->post[i]);
	free(s->post);
}

void lf_lq_pipeline_free(struct lf_lq_pipeline *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		stage_free(&p->st[i]);
	free(p->st);
	free(p->leading);
	free(p->src);
	lf_labels_free(&p->cur);
	lf_labels_free(&p->snap);
	lf_labels_free(&p->out);
	lf_buf_free(&p->err);
	lf_buf_free(&p->details);
	lf_buf_free(&p->line_a);
	lf_buf_free(&p->line_b);
	lf_buf_free(&p->tmp);
	lf_buf_free(&p->name);
	lf_buf_free(&p->val);
	lf_buf_free(&p->scratch);
	lf_buf_free(&p->prefix);
	lf_regex_match_free(&p->rm);
	lf_jparser_free(&p->jp);
	free(p);
}

/* decolorize: ANSI escape sequences (the pattern of the stripansi package
 * Loki uses). */
static const char ansi_re[] =
        "[\\x{1b}\\x{9b}][\\[\\]()#;?]*(?:(?:(?:[a-zA-Z\\d]*(?:;[a-zA-Z\\d]*)*)?"
        "\\x{07})|(?:(?:\\d{1,4}(?:;\\d{0,4})*)?[\\dA-PRZcf-ntqry=><~]))";

/* ---- parsing ---- */

struct pctx {
	struct lf_lq_lexer *lx;
	struct lf_error *err;
	unsigned flags;
	int depth; /* label filter nesting (recursion bound) */
};

/* Deepest label-filter nesting and JSON object nesting followed. Loki (Go)
 * has no such limit; here the recursion runs on an HTTP thread's stack. */
#define MAX_NEST 512

static int oom(struct lf_error *err)
{
	return lf_err(err, "out of memory");
}

static int next(struct pctx *c, struct lf_lq_token *t)
{
	return lf_lq_next(c->lx, t, c->err);
}

static int peek(struct pctx *c, struct lf_lq_token *t)
{
	return lf_lq_peek(c->lx, t, c->err);
}

/* A copy of the decoded STRING just read. */
/* A NUL-terminated copy of all n bytes. Strings decoded from a query can
 * hold a NUL ("\u0000"): strndup would stop there while the caller keeps
 * n as the length (found by fuzz_logql_pipeline: a heap overflow). */
static char *memdupz(const char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	if (n)
		memcpy(s, p, n);
	s[n] = 0;
	return s;
}

/* A copy of the decoded string literal (all str.len bytes). */
static char *take_str(struct pctx *c)
{
	return memdupz(c->lx->str.data, c->lx->str.len);
}

static char *tok_text(struct pctx *c, const struct lf_lq_token *t)
{
	return strndup(c->lx->s + t->pos, t->len);
}

static int expect_string(struct pctx *c, struct lf_lq_token *t)
{
	if (next(c, t) < 0)
		return -1;
	if (t->kind != LF_LQ_STRING)
		return lf_lq_syntax_error(c->err, t, "STRING");
	return 0;
}

/* `parse error : stage '<stage>' : <msg>` (Loki's wrap of stage build
 * errors; the stage text is its canonical rendering). */
/* Rewrites a regex compile error of common/regex.h (`invalid regex "P":
 * <PCRE2 text> at offset N`) inside msg as Go's regexp/syntax words
 * (`error parsing regexp: missing closing ): `P``) for the common
 * mistakes; other PCRE2 texts keep their words after Go's prefix. */
static void go_regex_error(const char *msg, char *out, size_t n)
{
	const char *r = strstr(msg, "invalid regex \"");
	const char *q = r ? strstr(r + 15, "\": ") : NULL;
	const char *at = q ? strstr(q, " at offset ") : NULL;
	if (!at) {
		snprintf(out, n, "%s", msg);
		return;
	}
	/* the pattern may hold `": `: take the last one before " at offset" */
	for (const char *x = q; (x = strstr(x + 1, "\": ")) && x < at;)
		q = x;
	int pl = (int)(q - (r + 15));
	const char *pat = r + 15;
	const char *pm = q + 3;
	int ml = (int)(at - pm);
	size_t off = strtoul(at + 11, NULL, 10);
	char go[LF_ERROR_MAX / 2];
#define PCRE_IS(t) (ml == (int)strlen(t) && !strncmp(pm, t, (size_t)ml))
	if (PCRE_IS("missing closing parenthesis")) {
		snprintf(go, sizeof go, "missing closing ): `%.*s`", pl, pat);
	} else if (PCRE_IS("unmatched closing parenthesis")) {
		snprintf(go, sizeof go, "unexpected ): `%.*s`", pl, pat);
	} else if (PCRE_IS("missing terminating ] for character class")) {
		int b = pl;
		while (b > 0 && pat[b - 1] != '[')
			b--;
		b = b > 0 ? b - 1 : 0;
		snprintf(go, sizeof go, "missing closing ]: `%.*s`", pl - b, pat + b);
	} else if (PCRE_IS("quantifier does not follow a repeatable item")) {
		size_t o = off < (size_t)pl ? off : (size_t)pl;
		while (o > 0 && !strchr("*+?{", pat[o]))
			o--;
		if (o > 0 && strchr("*+?", pat[o - 1]))
			snprintf(go, sizeof go, "invalid nested repetition operator: `%.2s`",
			         pat + o - 1);
		else
			snprintf(go, sizeof go, "missing argument to repetition operator: `%c`",
			         pat[o]);
	} else if (PCRE_IS("\\ at end of pattern")) {
		snprintf(go, sizeof go, "trailing backslash at end of expression: ``");
	} else {
		snprintf(go, sizeof go, "%.*s: `%.*s`", ml, pm, pl, pat);
	}
#undef PCRE_IS
	snprintf(out, n, "%.*serror parsing regexp: %s", (int)(r - msg), msg, go);
}

static int stage_err(struct lf_error *err, const char *stage_txt, const char *msg)
{
	char m[LF_ERROR_MAX / 2];
	go_regex_error(msg, m, sizeof m);
	return lf_err(err, "parse error : stage '%s' : %s", stage_txt, m);
}

static bool is_keyword(const char *s, size_t n)
{
	static const char *const kw[] = {"and", "or", NULL};
	for (size_t i = 0; kw[i]; i++)
		if (strlen(kw[i]) == n && !memcmp(kw[i], s, n))
			return true;
	return false;
}

static int parse_lfilt_expr(struct pctx *c, int min_prec, struct lfilt **out);
static int parse_lfilt_expr_in(struct pctx *c, int min_prec, struct lfilt **out);

static struct lfilt *lfilt_bin(enum lfilt_kind k, struct lfilt *l, struct lfilt *r)
{
	struct lfilt *f = calloc(1, sizeof *f);
	if (!f) {
		lfilt_free(l);
		lfilt_free(r);
		return NULL;
	}
	f->kind = k;
	f->l = l;
	f->r = r;
	return f;
}

/* Go ParseDuration (no d/w/y units). */
static int go_duration(const char *s, int64_t *ns)
{
	for (const char *q = s; *q; q++)
		if (*q == 'd' || *q == 'w' || *q == 'y')
			return -1;
	return lf_parse_duration(s, ns, NULL);
}

/* humanize.ParseBytes. */
static int go_bytes(const char *s, uint64_t *out)
{
	if (!*s || *s == ' ' || *s == '-' || *s == '+')
		return -1;
	int64_t v;
	if (lf_parse_size(s, &v, NULL) < 0 || v < 0)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static int parse_lfilt_primary(struct pctx *c, struct lfilt **out)
{
	struct lf_lq_token t;
	*out = NULL;
	if (next(c, &t) < 0)
		return -1;
	if (t.kind == LF_LQ_LPAREN) {
		if (parse_lfilt_expr(c, 0, out) < 0)
			return -1;
		if (next(c, &t) < 0)
			goto fail;
		if (t.kind != LF_LQ_RPAREN) {
			lf_lq_syntax_error(c->err, &t, NULL);
			goto fail;
		}
		return 0;
	}
	if (t.kind != LF_LQ_IDENT)
		return lf_lq_syntax_error(c->err, &t, NULL);
	struct lfilt *f = calloc(1, sizeof *f);
	if (!f)
		return oom(c->err);
	*out = f;
	if (!(f->name = tok_text(c, &t)))
		goto nomem;
	struct lf_lq_token op, v;
	if (next(c, &op) < 0)
		goto fail;
	switch (op.kind) {
	case LF_LQ_EQ:
	case LF_LQ_NEQ:
	case LF_LQ_RE:
	case LF_LQ_NRE:
	case LF_LQ_CMP_EQ:
	case LF_LQ_GT:
	case LF_LQ_GTE:
	case LF_LQ_LT:
	case LF_LQ_LTE:
		break;
	default:
		lf_lq_syntax_error(c->err, &op, NULL);
		goto fail;
	}
	if (next(c, &v) < 0)
		goto fail;
	if (v.kind == LF_LQ_STRING && (op.kind == LF_LQ_EQ || op.kind == LF_LQ_NEQ ||
	                               op.kind == LF_LQ_RE || op.kind == LF_LQ_NRE)) {
		f->kind = LF_STR;
		f->m.name = f->name;
		f->m.op = op.kind == LF_LQ_EQ    ? LF_MATCH_EQ
		          : op.kind == LF_LQ_NEQ ? LF_MATCH_NEQ
		          : op.kind == LF_LQ_RE  ? LF_MATCH_RE
		                                 : LF_MATCH_NRE;
		f->m.value_len = c->lx->str.len;
		if (!(f->m.value = take_str(c)))
			goto nomem;
		if (f->m.op == LF_MATCH_RE || f->m.op == LF_MATCH_NRE) {
			struct lf_error rerr;
			if (lf_regex_new(f->m.value, LF_REGEX_FULL, &f->m.re, &rerr) < 0) {
				lf_err(c->err, "parse error at line %d, col %d: %s", v.line, v.col,
				       rerr.msg);
				goto fail;
			}
		}
		return 0;
	}
	if (v.kind == LF_LQ_IDENT && lf_lq_is_ident(c->lx, &v, "ip") &&
	    (op.kind == LF_LQ_EQ || op.kind == LF_LQ_NEQ)) {
		f->kind = LF_IP;
		f->op = op.kind == LF_LQ_EQ ? C_EQ : C_NE;
		if (next(c, &t) < 0)
			goto fail;
		if (t.kind != LF_LQ_LPAREN) {
			lf_lq_syntax_error(c->err, &t, "(");
			goto fail;
		}
		if (expect_string(c, &t) < 0)
			goto fail;
		if (ipmatch_new(c->lx->str.data ? c->lx->str.data : "", c->lx->str.len, &f->ip,
		                c->err) < 0) {
			char m[LF_ERROR_MAX], txt[300];
			snprintf(m, sizeof m, "%s", c->err->msg);
			snprintf(txt, sizeof txt, "%s%sip(\"%.*s\")", f->name,
			         f->op == C_EQ ? "=" : "!=", (int)c->lx->str.len,
			         c->lx->str.data ? c->lx->str.data : "");
			stage_err(c->err, txt, m);
			goto fail;
		}
		if (next(c, &t) < 0)
			goto fail;
		if (t.kind != LF_LQ_RPAREN) {
			lf_lq_syntax_error(c->err, &t, ")");
			goto fail;
		}
		return 0;
	}
	if (v.kind == LF_LQ_NUMBER || v.kind == LF_LQ_DURATION || v.kind == LF_LQ_BYTES) {
		switch (op.kind) {
		case LF_LQ_EQ:
		case LF_LQ_CMP_EQ:
			f->op = C_EQ;
			break;
		case LF_LQ_NEQ:
			f->op = C_NE;
			break;
		case LF_LQ_GT:
			f->op = C_GT;
			break;
		case LF_LQ_GTE:
			f->op = C_GE;
			break;
		case LF_LQ_LT:
			f->op = C_LT;
			break;
		case LF_LQ_LTE:
			f->op = C_LE;
			break;
		default:
			lf_lq_syntax_error(c->err, &v, NULL);
			goto fail;
		}
		if (!(f->lit = tok_text(c, &v)))
			goto nomem;
		if (v.kind == LF_LQ_NUMBER) {
			f->kind = LF_NUM;
			f->num = strtod(f->lit, NULL);
		} else if (v.kind == LF_LQ_DURATION) {
			f->kind = LF_DUR;
			if (lf_parse_duration(f->lit, &f->dur, NULL) < 0) {
				lf_err(c->err,
				       "parse error at line %d, col %d: not a valid duration "
				       "string: \"%s\"",
				       v.line, v.col, f->lit);
				goto fail;
			}
		} else {
			f->kind = LF_BYTES;
			if (go_bytes(f->lit, &f->bytes) < 0) {
				lf_lq_syntax_error(c->err, &v, NULL);
				goto fail;
			}
		}
		return 0;
	}
	lf_lq_syntax_error(c->err, &v, NULL);
	goto fail;
nomem:
	oom(c->err);
fail:
	lfilt_free(*out);
	*out = NULL;
	return -1;
}

/* Can tok start a label filter (juxtaposition = and)? */
static bool starts_filter(struct pctx *c, const struct lf_lq_token *t)
{
	if (t->kind == LF_LQ_LPAREN)
		return true;
	return t->kind == LF_LQ_IDENT && !is_keyword(c->lx->s + t->pos, t->len);
}

/* Loki's grammar: `or` < `and`; `,` and juxtaposition group everything to
 * their right (see the reference, 1.9). */
static int parse_lfilt_expr(struct pctx *c, int min_prec, struct lfilt **out)
{
	struct lf_lq_token t;
	if (++c->depth > MAX_NEST) {
		if (peek(c, &t) < 0)
			return -1;
		return lf_err(c->err,
		              "parse error at line %d, col %d: label filter nested too deeply",
		              t.line, t.col);
	}
	int rc = parse_lfilt_expr_in(c, min_prec, out);
	c->depth--;
	return rc;
}

static int parse_lfilt_expr_in(struct pctx *c, int min_prec, struct lfilt **out)
{
	struct lfilt *left;
	struct lf_lq_token t;
	if (parse_lfilt_primary(c, &left) < 0)
		return -1;
	if (peek(c, &t) < 0)
		goto fail;
	if (t.kind == LF_LQ_COMMA || starts_filter(c, &t)) {
		if (t.kind == LF_LQ_COMMA)
			(void)next(c, &t);
		struct lfilt *right;
		if (parse_lfilt_expr(c, 0, &right) < 0)
			goto fail;
		if (!(left = lfilt_bin(LF_AND, left, right)))
			return oom(c->err);
		*out = left;
		return 0;
	}
	for (;;) {
		if (peek(c, &t) < 0)
			goto fail;
		int prec;
		enum lfilt_kind k;
		if (lf_lq_is_ident(c->lx, &t, "or")) {
			prec = 1;
			k = LF_OR;
		} else if (lf_lq_is_ident(c->lx, &t, "and")) {
			prec = 2;
			k = LF_AND;
		} else {
			break;
		}
		if (prec < min_prec)
			break;
		(void)next(c, &t);
		struct lfilt *right;
		if (parse_lfilt_expr(c, prec + 1, &right) < 0)
			goto fail;
		if (!(left = lfilt_bin(k, left, right)))
			return oom(c->err);
	}
	*out = left;
	return 0;
fail:
	lfilt_free(left);
	return -1;
}

static struct stage *new_stage(struct lf_lq_pipeline *p, enum stage_kind k, struct lf_error *err)
{
	struct stage *v = realloc(p->st, (p->n + 1) * sizeof *v);
	if (!v) {
		oom(err);
		return NULL;
	}
	p->st = v;
	struct stage *s = &v[p->n++];
	memset(s, 0, sizeof *s);
	s->kind = k;
	return s;
}

static int stage_build_err(const struct stage *s, struct lf_error *err, const char *msg);

static int parse_line_filter(struct pctx *c, struct lf_lq_pipeline *p,
                             const struct lf_lq_token *optok)
{
	enum lf_filter_op op = optok->kind == LF_LQ_PIPE_EXACT   ? LF_FILTER_CONTAINS
	                       : optok->kind == LF_LQ_NEQ        ? LF_FILTER_NOT_CONTAINS
	                       : optok->kind == LF_LQ_PIPE_MATCH ? LF_FILTER_RE
	                                                         : LF_FILTER_NOT_RE;
	struct lf_lq_token t;
	if (peek(c, &t) < 0)
		return -1;
	if (lf_lq_is_ident(c->lx, &t, "ip")) {
		(void)next(c, &t);
		struct stage *s = new_stage(p, S_LINE_IP, c->err);
		if (!s)
			return -1;
		s->ip_neg = op == LF_FILTER_NOT_CONTAINS;
		if (next(c, &t) < 0)
			return -1;
		if (t.kind != LF_LQ_LPAREN)
			return lf_lq_syntax_error(c->err, &t, "(");
		struct lf_lq_token st;
		if (expect_string(c, &st) < 0)
			return -1;
		if (op == LF_FILTER_RE || op == LF_FILTER_NOT_RE) {
			char txt[256];
			snprintf(txt, sizeof txt, "%s ip(\"%.*s\")",
			         op == LF_FILTER_RE ? "|~" : "!~", (int)c->lx->str.len,
			         c->lx->str.data ? c->lx->str.data : "");
			return stage_err(c->err, txt, "ip: invalid operation");
		}
		if (ipmatch_new(c->lx->str.data ? c->lx->str.data : "", c->lx->str.len, &s->ip,
		                c->err) < 0) {
			char m[LF_ERROR_MAX], txt[300];
			snprintf(m, sizeof m, "%s", c->err->msg);
			snprintf(txt, sizeof txt, "%s ip(\"%.*s\")",
			         s->ip_neg ? "!=" : "|=", (int)c->lx->str.len,
			         c->lx->str.data ? c->lx->str.data : "");
			return stage_err(c->err, txt, m);
		}
		if (next(c, &t) < 0)
			return -1;
		if (t.kind != LF_LQ_RPAREN)
			return lf_lq_syntax_error(c->err, &t, ")");
		return 0;
	}
	struct stage *s = new_stage(p, S_LINE_FILTER, c->err);
	if (!s)
		return -1;
	struct lf_line_filter *f = &s->lf;
	f->op = op;
	for (;;) {
		if (expect_string(c, &t) < 0)
			return -1;
		struct lf_filter_alt *na = realloc(f->alts, (f->n_alts + 1) * sizeof *na);
		if (!na)
			return oom(c->err);
		f->alts = na;
		struct lf_filter_alt *a = &f->alts[f->n_alts++];
		memset(a, 0, sizeof *a);
		a->len = c->lx->str.len;
		if (!(a->value = take_str(c)))
			return oom(c->err);
		if (op == LF_FILTER_RE || op == LF_FILTER_NOT_RE) {
			struct lf_error rerr;
			if (lf_regex_new(a->value, 0, &a->re, &rerr) < 0)
				return stage_build_err(s, c->err, rerr.msg);
		}
		struct lf_lq_token o;
		if (peek(c, &o) < 0)
			return -1;
		if (!lf_lq_is_ident(c->lx, &o, "or"))
			return 0;
		(void)next(c, &o);
	}
}

/* `json` expression path: field | ["key"] | [N], then .field | ["key"] | [N]. */
static int parse_json_path(const char *e, struct jexpr *j, struct lf_error *err)
{
	size_t i = 0, n = strlen(e);
	bool first = true;
	while (i < n || first) {
		struct jstep st = {NULL, 0, 0};
		if (i < n && e[i] == '[') {
			i++;
			if (i < n && e[i] == '"') {
				size_t s = ++i;
				while (i < n && e[i] != '"' && e[i] != ']')
					i++;
				if (i >= n || e[i] != '"' || i + 1 >= n || e[i + 1] != ']')
					goto bad;
				st.key = memdupz(e + s, i - s);
				st.key_len = i - s;
				if (!st.key)
					return oom(err);
				i += 2;
			} else {
				size_t s = i;
				while (i < n && e[i] >= '0' && e[i] <= '9') {
					st.index = st.index * 10 + (size_t)(e[i] - '0');
					if (st.index > 100000000)
						goto bad;
					i++;
				}
				if (i == s || i >= n || e[i] != ']')
					goto bad;
				i++;
			}
		} else {
			if (!first) {
				if (i >= n || e[i] != '.')
					goto bad;
				i++;
			}
			size_t s = i;
			if (i >= n || !((e[i] >= 'a' && e[i] <= 'z') ||
			                (e[i] >= 'A' && e[i] <= 'Z') || e[i] == '_'))
				goto bad;
			while (i < n &&
			       ((e[i] >= 'a' && e[i] <= 'z') || (e[i] >= 'A' && e[i] <= 'Z') ||
			        (e[i] >= '0' && e[i] <= '9') || e[i] == '_'))
				i++;
			st.key = memdupz(e + s, i - s);
			st.key_len = i - s;
			if (!st.key)
				return oom(err);
		}
		struct jstep *v = realloc(j->steps, (j->n_steps + 1) * sizeof *v);
		if (!v) {
			free((char *)st.key);
			return oom(err);
		}
		j->steps = v;
		v[j->n_steps++] = st;
		first = false;
	}
	return 0;
bad:
	return lf_err(err, "cannot parse expression [%s]: syntax error", e);
}

/* json/logfmt parameters: `a="expr", b, ...`. */
static int parse_params(struct pctx *c, struct stage *s, bool json)
{
	for (;;) {
		struct lf_lq_token t, eq;
		if (next(c, &t) < 0)
			return -1;
		if (t.kind != LF_LQ_IDENT)
			return lf_lq_syntax_error(c->err, &t, "IDENTIFIER");
		char *ident = tok_text(c, &t), *expr = NULL;
		if (!ident)
			return oom(c->err);
		if (peek(c, &eq) < 0) {
			free(ident);
			return -1;
		}
		if (eq.kind == LF_LQ_EQ) {
			(void)next(c, &eq);
			if (expect_string(c, &t) < 0) {
				free(ident);
				return -1;
			}
			expr = take_str(c);
		} else {
			expr = strdup(ident);
		}
		if (!expr) {
			free(ident);
			return oom(c->err);
		}
		if (json) {
			struct jexpr *v = realloc(s->jx, (s->n_jx + 1) * sizeof *v);
			if (!v) {
				free(ident);
				free(expr);
				return oom(c->err);
			}
			s->jx = v;
			struct jexpr *j = &v[s->n_jx++];
			memset(j, 0, sizeof *j);
			j->ident = ident;
			j->expr = expr;
		} else {
			struct lfmt_param *v = realloc(s->lp, (s->n_lp + 1) * sizeof *v);
			if (!v) {
				free(ident);
				free(expr);
				return oom(c->err);
			}
			s->lp = v;
			v[s->n_lp].ident = ident;
			v[s->n_lp].key = expr;
			s->n_lp++;
		}
		if (peek(c, &t) < 0)
			return -1;
		if (t.kind != LF_LQ_COMMA)
			return 0;
		(void)next(c, &t);
	}
}

static int stage_render(const struct stage *s, struct lf_buf *out);

/* A build error of stage s: `parse error : stage '<s>' : msg`. */
static int stage_build_err(const struct stage *s, struct lf_error *err, const char *msg)
{
	struct lf_buf b = LF_BUF_INIT;
	char m[LF_ERROR_MAX];
	snprintf(m, sizeof m, "%s", msg);
	stage_render(s, &b);
	stage_err(err, b.data ? b.data : "", m);
	lf_buf_free(&b);
	return -1;
}

static int pattern_compile(struct stage *s, struct lf_error *err)
{
	const char *t = s->text;
	size_t n = strlen(t), i = 0, lit = 0;
	int caps = 0;
	while (i <= n) {
		size_t close = 0;
		bool is_cap = false;
		if (i < n && t[i] == '<') {
			size_t j = i + 1;
			if (j < n && (t[j] == '_' || (t[j] >= 'a' && t[j] <= 'z') ||
			              (t[j] >= 'A' && t[j] <= 'Z'))) {
				while (j < n && (t[j] == '_' || (t[j] >= 'a' && t[j] <= 'z') ||
				                 (t[j] >= 'A' && t[j] <= 'Z') ||
				                 (t[j] >= '0' && t[j] <= '9')))
					j++;
				if (j < n && t[j] == '>') {
					is_cap = true;
					close = j;
				}
			}
		}
		if (!is_cap && i < n) {
			i++;
			continue;
		}
		if (i > lit) {
			struct pat_node *v = realloc(s->pat, (s->n_pat + 1) * sizeof *v);
			if (!v)
				return oom(err);
			s->pat = v;
			v[s->n_pat].kind = P_LIT;
			v[s->n_pat].len = i - lit;
			if (!(v[s->n_pat].s = memdupz(t + lit, i - lit)))
				return oom(err);
			s->n_pat++;
		}
		if (i >= n)
			break;
		size_t nl = close - i - 1;
		bool skip = nl == 1 && t[i + 1] == '_';
		if (s->n_pat && s->pat[s->n_pat - 1].kind != P_LIT) {
			char m[512];
			snprintf(
			        m, sizeof m,
			        "invalid pattern parser: found consecutive capture '%.*s': invalid "
			        "expression",
			        (int)(close + 1 - i + 2 + s->pat[s->n_pat - 1].len),
			        t + i - s->pat[s->n_pat - 1].len - 2);
			return stage_build_err(s, err, m);
		}
		struct pat_node *v = realloc(s->pat, (s->n_pat + 1) * sizeof *v);
		if (!v)
			return oom(err);
		s->pat = v;
		v[s->n_pat].kind = skip ? P_SKIP : P_CAP;
		v[s->n_pat].len = nl;
		if (!(v[s->n_pat].s = memdupz(t + i + 1, nl)))
			return oom(err);
		s->n_pat++;
		if (!skip) {
			caps++;
			for (size_t k = 0; k + 1 < s->n_pat; k++)
				if (s->pat[k].kind == P_CAP && s->pat[k].len == nl &&
				    !memcmp(s->pat[k].s, t + i + 1, nl)) {
					char m[256];
					snprintf(m, sizeof m,
					         "invalid pattern parser: duplicate capture name "
					         "(%.*s): "
					         "invalid expression",
					         (int)nl, t + i + 1);
					return stage_build_err(s, err, m);
				}
		}
		i = close + 1;
		lit = i;
	}
	if (!caps)
		return stage_build_err(s, err,
		                       "invalid pattern parser: at least one capture is required");
	return 0;
}

static int parse_label_format(struct pctx *c, struct stage *s)
{
	for (;;) {
		struct lf_lq_token t, eq, v;
		if (next(c, &t) < 0)
			return -1;
		if (t.kind != LF_LQ_IDENT)
			return lf_lq_syntax_error(c->err, &t, "IDENTIFIER");
		if (next(c, &eq) < 0)
			return -1;
		if (eq.kind != LF_LQ_EQ)
			return lf_lq_syntax_error(c->err, &eq, "=");
		if (next(c, &v) < 0)
			return -1;
		struct label_fmt *nv = realloc(s->lfm, (s->n_lfm + 1) * sizeof *nv);
		if (!nv)
			return oom(c->err);
		s->lfm = nv;
		struct label_fmt *f = &nv[s->n_lfm++];
		memset(f, 0, sizeof *f);
		if (!(f->dst = tok_text(c, &t)))
			return oom(c->err);
		if (v.kind == LF_LQ_IDENT) {
			if (!(f->src = tok_text(c, &v)))
				return oom(c->err);
		} else if (v.kind == LF_LQ_STRING) {
			if (!(f->text = take_str(c)))
				return oom(c->err);
		} else {
			return lf_lq_syntax_error(c->err, &v, "STRING or IDENTIFIER");
		}
		if (peek(c, &t) < 0)
			return -1;
		if (t.kind != LF_LQ_COMMA)
			break;
		(void)next(c, &t);
	}
	/* validation (log/fmt.go validate) */
	for (size_t i = 0; i < s->n_lfm; i++) {
		if (!strcmp(s->lfm[i].dst, ERR_LABEL)) {
			char m[128];
			snprintf(m, sizeof m, "%s cannot be formatted", ERR_LABEL);
			return stage_build_err(s, c->err, m);
		}
		for (size_t k = 0; k < i; k++)
			if (!strcmp(s->lfm[i].dst, s->lfm[k].dst)) {
				char m[256];
				snprintf(m, sizeof m,
				         "multiple label name '%s' not allowed in a single format "
				         "operation",
				         s->lfm[i].dst);
				return stage_build_err(s, c->err, m);
			}
	}
	for (size_t i = 0; i < s->n_lfm; i++) {
		struct label_fmt *f = &s->lfm[i];
		if (!f->text)
			continue;
		struct lf_error terr;
		if (lf_template_new("label", f->text, LF_TMPL_MISSING_EMPTY, &f->tmpl, &terr) < 0) {
			char m[LF_ERROR_MAX];
			snprintf(m, sizeof m, "invalid label template for %s: %s", f->dst,
			         terr.msg);
			return stage_build_err(s, c->err, m);
		}
	}
	return 0;
}

static int parse_drop(struct pctx *c, struct stage *s)
{
	for (;;) {
		struct lf_lq_token t, op;
		if (next(c, &t) < 0)
			return -1;
		if (t.kind != LF_LQ_IDENT)
			return lf_lq_syntax_error(c->err, &t, "IDENTIFIER");
		struct drop_item *nv = realloc(s->drops, (s->n_drops + 1) * sizeof *nv);
		if (!nv)
			return oom(c->err);
		s->drops = nv;
		struct drop_item *d = &nv[s->n_drops++];
		memset(d, 0, sizeof *d);
		if (!(d->name = tok_text(c, &t)))
			return oom(c->err);
		if (peek(c, &op) < 0)
			return -1;
		if (op.kind == LF_LQ_EQ || op.kind == LF_LQ_NEQ || op.kind == LF_LQ_RE ||
		    op.kind == LF_LQ_NRE) {
			(void)next(c, &op);
			struct lf_lq_token v;
			if (expect_string(c, &v) < 0)
				return -1;
			d->has_matcher = true;
			d->m.name = d->name;
			d->m.op = op.kind == LF_LQ_EQ    ? LF_MATCH_EQ
			          : op.kind == LF_LQ_NEQ ? LF_MATCH_NEQ
			          : op.kind == LF_LQ_RE  ? LF_MATCH_RE
			                                 : LF_MATCH_NRE;
			d->m.value_len = c->lx->str.len;
			if (!(d->m.value = take_str(c)))
				return oom(c->err);
			if (d->m.op == LF_MATCH_RE || d->m.op == LF_MATCH_NRE) {
				struct lf_error rerr;
				if (lf_regex_new(d->m.value, LF_REGEX_FULL, &d->m.re, &rerr) < 0)
					return lf_err(c->err, "parse error at line %d, col %d: %s",
					              v.line, v.col, rerr.msg);
			}
		}
		if (peek(c, &t) < 0)
			return -1;
		if (t.kind != LF_LQ_COMMA)
			return 0;
		(void)next(c, &t);
	}
}

static int parse_unwrap(struct pctx *c, struct stage *s)
{
	struct lf_lq_token t, p;
	if (next(c, &t) < 0)
		return -1;
	if (t.kind != LF_LQ_IDENT)
		return lf_lq_syntax_error(c->err, &t, "IDENTIFIER");
	s->conv = U_FLOAT;
	if (peek(c, &p) < 0)
		return -1;
	if (p.kind == LF_LQ_LPAREN) {
		if (lf_lq_is_ident(c->lx, &t, "duration"))
			s->conv = U_DURATION;
		else if (lf_lq_is_ident(c->lx, &t, "duration_seconds"))
			s->conv = U_DURATION_SECONDS;
		else if (lf_lq_is_ident(c->lx, &t, "bytes"))
			s->conv = U_BYTES;
		else
			return lf_lq_syntax_error(c->err, &p, NULL);
		(void)next(c, &p);
		if (next(c, &t) < 0)
			return -1;
		if (t.kind != LF_LQ_IDENT)
			return lf_lq_syntax_error(c->err, &t, "IDENTIFIER");
		if (!(s->unwrap_label = tok_text(c, &t)))
			return oom(c->err);
		if (next(c, &p) < 0)
			return -1;
		if (p.kind != LF_LQ_RPAREN)
			return lf_lq_syntax_error(c->err, &p, ")");
	} else if (!(s->unwrap_label = tok_text(c, &t))) {
		return oom(c->err);
	}
	/* post-filters: `| <label filter>` */
	for (;;) {
		struct lf_lq_token pipe, n2;
		if (peek(c, &pipe) < 0)
			return -1;
		if (pipe.kind != LF_LQ_PIPE)
			return 0;
		(void)next(c, &pipe);
		if (peek(c, &n2) < 0)
			return -1;
		if (!starts_filter(c, &n2))
			return lf_lq_syntax_error(c->err, &n2, NULL);
		struct lfilt *f;
		if (parse_lfilt_expr(c, 0, &f) < 0)
			return -1;
		struct lfilt **v = realloc(s->post, (s->n_post + 1) * sizeof *v);
		if (!v) {
			lfilt_free(f);
			return oom(c->err);
		}
		s->post = v;
		v[s->n_post++] = f;
	}
}

static int parse_stage(struct pctx *c, struct lf_lq_pipeline *p)
{
	struct lf_lq_token t;
	if (peek(c, &t) < 0)
		return -1;
	struct stage *s;
	if (t.kind == LF_LQ_IDENT && !is_keyword(c->lx->s + t.pos, t.len)) {
		const char *w = c->lx->s + t.pos;
		size_t wl = t.len;
#define IS(x) (wl == sizeof(x) - 1 && !memcmp(w, x, wl))
		if (IS("json") || IS("logfmt")) {
			bool json = IS("json");
			(void)next(c, &t);
			struct lf_lq_token q;
			if (peek(c, &q) < 0)
				return -1;
			bool params = q.kind == LF_LQ_IDENT && !is_keyword(c->lx->s + q.pos, q.len);
			if (!(s = new_stage(p, json ? (params ? S_JSON_EXPR : S_JSON) : S_LOGFMT,
			                    c->err)))
				return -1;
			if (!params)
				return 0;
			if (parse_params(c, s, json) < 0)
				return -1;
			for (size_t i = 0; json && i < s->n_jx; i++) {
				struct lf_error e2;
				if (!lf_label_name_valid(s->jx[i].ident, strlen(s->jx[i].ident))) {
					char m[256];
					snprintf(m, sizeof m, "invalid extracted label name '%s'",
					         s->jx[i].ident);
					return stage_build_err(s, c->err, m);
				}
				if (parse_json_path(s->jx[i].expr, &s->jx[i], &e2) < 0)
					return stage_build_err(s, c->err, e2.msg);
			}
			return 0;
		}
		if (IS("regexp") || IS("pattern") || IS("line_format")) {
			enum stage_kind k = IS("regexp")    ? S_REGEXP
			                    : IS("pattern") ? S_PATTERN
			                                    : S_LINE_FORMAT;
			(void)next(c, &t);
			if (expect_string(c, &t) < 0)
				return -1;
			if (!(s = new_stage(p, k, c->err)))
				return -1;
			if (!(s->text = take_str(c)))
				return oom(c->err);
			struct lf_error e2;
			if (k == S_REGEXP) {
				if (lf_regex_new(s->text, 0, &s->re, &e2) < 0) {
					char m[LF_ERROR_MAX];
					snprintf(m, sizeof m, "invalid regexp parser: %s", e2.msg);
					return stage_build_err(s, c->err, m);
				}
				int named = 0;
				for (int i = 1; i <= lf_regex_ngroups(s->re); i++) {
					const char *nm = lf_regex_group_name(s->re, i);
					if (!nm)
						continue;
					named++;
					for (int k2 = 1; k2 < i; k2++) {
						const char *o = lf_regex_group_name(s->re, k2);
						if (o && !strcmp(o, nm)) {
							char m[256];
							snprintf(m, sizeof m,
							         "invalid regexp parser: duplicate "
							         "extracted "
							         "label name '%s'",
							         nm);
							return stage_build_err(s, c->err, m);
						}
					}
				}
				if (!named)
					return stage_build_err(
					        s, c->err,
					        "invalid regexp parser: at least one named "
					        "capture must be supplied");
			} else if (k == S_PATTERN) {
				return pattern_compile(s, c->err);
			} else {
				if (lf_template_new("line", s->text, LF_TMPL_MISSING_EMPTY,
				                    &s->tmpl, &e2) < 0) {
					char m[LF_ERROR_MAX];
					snprintf(m, sizeof m, "invalid line template: %s", e2.msg);
					return stage_build_err(s, c->err, m);
				}
			}
			return 0;
		}
		if (IS("unpack") || IS("decolorize")) {
			bool unpack = IS("unpack");
			(void)next(c, &t);
			if (!(s = new_stage(p, unpack ? S_UNPACK : S_DECOLORIZE, c->err)))
				return -1;
			return unpack ? 0 : lf_regex_new(ansi_re, 0, &s->re, c->err);
		}
		if (IS("label_format")) {
			(void)next(c, &t);
			if (!(s = new_stage(p, S_LABEL_FORMAT, c->err)))
				return -1;
			return parse_label_format(c, s);
		}
		if (IS("drop")) {
			(void)next(c, &t);
			if (!(s = new_stage(p, S_DROP, c->err)))
				return -1;
			return parse_drop(c, s);
		}
		if (IS("unwrap")) {
			if (!(c->flags & LF_LQ_PIPE_METRIC))
				return lf_lq_syntax_error(c->err, &t, NULL);
			(void)next(c, &t);
			if (!(s = new_stage(p, S_UNWRAP, c->err)))
				return -1;
			return parse_unwrap(c, s);
		}
#undef IS
	}
	if (!starts_filter(c, &t)) {
		(void)next(c, &t);
		return lf_lq_syntax_error(c->err, &t, NULL);
	}
	if (!(s = new_stage(p, S_LABEL_FILTER, c->err)))
		return -1;
	return parse_lfilt_expr(c, 0, &s->filt);
}

int lf_lq_pipeline_parse(struct lf_lq_lexer *lx, unsigned flags, struct lf_lq_pipeline **out,
                         struct lf_error *err)
{
	*out = NULL;
	struct lf_lq_pipeline *p = calloc(1, sizeof *p);
	if (!p)
		return oom(err);
	p->flags = flags;
	struct pctx c = {lx, err, flags};
	bool unwrapped = false;
	for (;;) {
		struct lf_lq_token t;
		if (peek(&c, &t) < 0)
			goto fail;
		if (t.kind == LF_LQ_PIPE_EXACT || t.kind == LF_LQ_NEQ ||
		    t.kind == LF_LQ_PIPE_MATCH || t.kind == LF_LQ_NRE) {
			if (unwrapped) {
				lf_lq_syntax_error(err, &t, NULL);
				goto fail;
			}
			(void)next(&c, &t);
			if (parse_line_filter(&c, p, &t) < 0)
				goto fail;
			continue;
		}
		if (t.kind != LF_LQ_PIPE)
			break;
		if (unwrapped) {
			(void)next(&c, &t);
			struct lf_lq_token n2;
			if (peek(&c, &n2) < 0)
				goto fail;
			lf_lq_syntax_error(err, &n2, NULL);
			goto fail;
		}
		(void)next(&c, &t);
		if (parse_stage(&c, p) < 0)
			goto fail;
		if (p->st[p->n - 1].kind == S_UNWRAP)
			unwrapped = true;
	}
	size_t nl = 0;
	while (nl < p->n && p->st[nl].kind == S_LINE_FILTER)
		nl++;
	p->n_leading = nl;
	if (nl) {
		p->leading = malloc(nl * sizeof *p->leading);
		if (!p->leading) {
			oom(err);
			goto fail;
		}
		for (size_t i = 0; i < nl; i++)
			p->leading[i] = p->st[i].lf;
	}
	struct lf_buf r = LF_BUF_INIT;
	if (lf_lq_pipeline_render(p, &r) < 0) {
		lf_buf_free(&r);
		oom(err);
		goto fail;
	}
	p->src = lf_buf_take(&r);
	if (!p->src && !(p->src = strdup(""))) {
		oom(err);
		goto fail;
	}
	*out = p;
	return 0;
fail:
	lf_lq_pipeline_free(p);
	return -1;
}

int lf_lq_pipeline_parse_str(const char *s, size_t len, unsigned flags, struct lf_lq_pipeline **out,
                             struct lf_error *err)
{
	struct lf_lq_lexer lx;
	lf_lq_lexer_init(&lx, s, len);
	int rc = lf_lq_pipeline_parse(&lx, flags, out, err);
	if (rc == 0) {
		struct lf_lq_token t;
		if (lf_lq_next(&lx, &t, err) < 0 ||
		    (t.kind != LF_LQ_EOF && lf_lq_syntax_error(err, &t, NULL) < 0)) {
			lf_lq_pipeline_free(*out);
			*out = NULL;
			rc = -1;
		}
	}
	lf_lq_lexer_free(&lx);
	return rc;
}

struct lf_lq_pipeline *lf_lq_pipeline_clone(const struct lf_lq_pipeline *p)
{
	struct lf_lq_pipeline *c = NULL;
	struct lf_error err;
	if (lf_lq_pipeline_parse_str(p->src, strlen(p->src), p->flags, &c, &err) < 0)
		return NULL;
	return c;
}

bool lf_lq_pipeline_is_filter_only(const struct lf_lq_pipeline *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->st[i].kind != S_LINE_FILTER && p->st[i].kind != S_LINE_IP)
			return false;
	return true;
}

size_t lf_lq_pipeline_leading_filters(const struct lf_lq_pipeline *p,
                                      const struct lf_line_filter **filters)
{
	*filters = p->leading;
	return p->n_leading;
}

bool lf_lq_pipeline_is_empty(const struct lf_lq_pipeline *p)
{
	return p->n == 0;
}

bool lf_lq_pipeline_has_unwrap(const struct lf_lq_pipeline *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->st[i].kind == S_UNWRAP)
			return true;
	return false;
}

bool lf_lq_pipeline_needs_labels(const struct lf_lq_pipeline *p)
{
	for (size_t i = 0; p && i < p->n; i++)
		switch (p->st[i].kind) {
		case S_LABEL_FILTER:
		case S_LINE_FORMAT:
		case S_LABEL_FORMAT:
		case S_UNWRAP:
			return true;
		default:
			break;
		}
	return false;
}

void lf_lq_pipeline_set_no_labels(struct lf_lq_pipeline *p, bool on)
{
	p->no_labels = on;
}

const char *lf_lq_pipeline_unwrap_label(const struct lf_lq_pipeline *p)
{
	for (size_t i = 0; p && i < p->n; i++)
		if (p->st[i].kind == S_UNWRAP)
			return p->st[i].unwrap_label;
	return NULL;
}

/* ---- rendering ---- */

static int lfilt_render(const struct lfilt *f, struct lf_buf *o)
{
	static const char *const mops[] = {"=", "!=", "=~", "!~"};
	switch (f->kind) {
	case LF_AND:
	case LF_OR:
		lf_buf_appends(o, "( ");
		lfilt_render(f->l, o);
		lf_buf_appends(o, f->kind == LF_AND ? " , " : " or ");
		lfilt_render(f->r, o);
		return lf_buf_appends(o, " )");
	case LF_STR:
		lf_buf_appends(o, f->name);
		lf_buf_appends(o, mops[f->m.op]);
		return lf_buf_append_quoted(o, f->m.value, f->m.value_len);
	case LF_IP:
		return lf_buf_printf(o, "%s%sip(\"%s\")", f->name,
		                     f->op == C_EQ ? "=" : "!=", f->ip.pattern);
	default:
		return lf_buf_printf(o, "%s%s%s", f->name, cmp_txt[f->op], f->lit);
	}
}

static int stage_render(const struct stage *s, struct lf_buf *o)
{
	static const char *const fops[] = {"|=", "!=", "|~", "!~"};
	switch (s->kind) {
	case S_LINE_FILTER:
		lf_buf_appends(o, fops[s->lf.op]);
		for (size_t j = 0; j < s->lf.n_alts; j++) {
			if (j)
				lf_buf_appends(o, " or");
			lf_buf_putc(o, ' ');
			lf_buf_append_quoted(o, s->lf.alts[j].value, s->lf.alts[j].len);
		}
		return 0;
	case S_LINE_IP:
		return lf_buf_printf(o, "%s ip(\"%s\")", s->ip_neg ? "!=" : "|=", s->ip.pattern);
	case S_JSON:
		return lf_buf_appends(o, "| json");
	case S_JSON_EXPR:
	case S_LOGFMT:
		lf_buf_appends(o, s->kind == S_LOGFMT ? "| logfmt" : "| json ");
		for (size_t i = 0; i < s->n_jx; i++) {
			if (i)
				lf_buf_putc(o, ',');
			lf_buf_printf(o, "%s=", s->jx[i].ident);
			lf_buf_append_quoted(o, s->jx[i].expr, strlen(s->jx[i].expr));
		}
		for (size_t i = 0; i < s->n_lp; i++) {
			lf_buf_appends(o, i ? "," : " ");
			lf_buf_printf(o, "%s=", s->lp[i].ident);
			lf_buf_append_quoted(o, s->lp[i].key, strlen(s->lp[i].key));
		}
		return 0;
	case S_REGEXP:
	case S_PATTERN:
	case S_LINE_FORMAT:
		lf_buf_appends(o, s->kind == S_REGEXP    ? "| regexp "
		                  : s->kind == S_PATTERN ? "| pattern "
		                                         : "| line_format ");
		return lf_buf_append_quoted(o, s->text, strlen(s->text));
	case S_UNPACK:
		return lf_buf_appends(o, "| unpack");
	case S_DECOLORIZE:
		return lf_buf_appends(o, "| decolorize");
	case S_LABEL_FILTER:
		lf_buf_appends(o, "| ");
		return lfilt_render(s->filt, o);
	case S_LABEL_FORMAT:
		lf_buf_appends(o, "| label_format ");
		for (size_t i = 0; i < s->n_lfm; i++) {
			if (i)
				lf_buf_putc(o, ',');
			lf_buf_printf(o, "%s=", s->lfm[i].dst);
			if (s->lfm[i].src)
				lf_buf_appends(o, s->lfm[i].src);
			else
				lf_buf_append_quoted(o, s->lfm[i].text, strlen(s->lfm[i].text));
		}
		return 0;
	case S_DROP: {
		static const char *const mops[] = {"=", "!=", "=~", "!~"};
		lf_buf_appends(o, "| drop ");
		for (size_t i = 0; i < s->n_drops; i++) {
			if (i)
				lf_buf_putc(o, ',');
			lf_buf_appends(o, s->drops[i].name);
			if (s->drops[i].has_matcher) {
				lf_buf_appends(o, mops[s->drops[i].m.op]);
				lf_buf_append_quoted(o, s->drops[i].m.value,
				                     s->drops[i].m.value_len);
			}
		}
		return 0;
	}
	case S_UNWRAP: {
		static const char *const conv[] = {"", "duration", "duration_seconds", "bytes"};
		if (s->conv == U_FLOAT)
			lf_buf_printf(o, "| unwrap %s", s->unwrap_label);
		else
			lf_buf_printf(o, "| unwrap %s(%s)", conv[s->conv], s->unwrap_label);
		for (size_t i = 0; i < s->n_post; i++) {
			lf_buf_appends(o, " | ");
			lfilt_render(s->post[i], o);
		}
		return 0;
	}
	}
	return 0;
}

int lf_lq_pipeline_render(const struct lf_lq_pipeline *p, struct lf_buf *out)
{
	for (size_t i = 0; i < p->n; i++) {
		if (lf_buf_putc(out, ' ') < 0 || stage_render(&p->st[i], out) < 0)
			return -1;
	}
	return 0;
}

/* ---- processing ---- */

static inline bool has_err(const struct lf_lq_pipeline *p)
{
	return p->err.len > 0;
}

static void set_err(struct lf_lq_pipeline *p, const char *e)
{
	lf_buf_reset(&p->err);
	lf_buf_appends(&p->err, e);
}

static void set_details(struct lf_lq_pipeline *p, const char *d, size_t n)
{
	lf_buf_reset(&p->details);
	lf_buf_append(&p->details, d, n);
}

/* Current value of a label (error labels included); NULL when missing. */
static const char *get_label(struct lf_lq_pipeline *p, const char *name, size_t nl, size_t *vl)
{
	if (nl == sizeof ERR_LABEL - 1 && !memcmp(name, ERR_LABEL, nl)) {
		*vl = p->err.len;
		return p->err.len ? p->err.data : NULL;
	}
	if (nl == sizeof ERR_DETAILS_LABEL - 1 && !memcmp(name, ERR_DETAILS_LABEL, nl)) {
		*vl = p->details.len;
		return p->details.len ? p->details.data : NULL;
	}
	const struct lf_label *l = lf_labels_find(&p->cur, name, nl);
	if (!l)
		return NULL;
	*vl = l->value_len;
	return l->value;
}

/* Sanitises an extracted name into p->name (appends): trim spaces, a
 * leading digit gets `_` (when digit_prefix), each rune outside
 * [A-Za-z0-9_] becomes `_`. */
static void sanitize(struct lf_buf *b, const char *s, size_t n, bool digit_prefix)
{
	while (n &&
	       (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\v' || *s == '\f')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r' ||
	             s[n - 1] == '\v' || s[n - 1] == '\f'))
		n--;
	if (n && digit_prefix && s[0] >= '0' && s[0] <= '9')
		lf_buf_putc(b, '_');
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_') {
			lf_buf_putc(b, (char)c);
			i++;
			continue;
		}
		uint32_t cp;
		size_t k = c < 0x80 ? 1 : lf_utf8_decode((const unsigned char *)s + i, n - i, &cp);
		i += k ? k : 1;
		lf_buf_putc(b, '_');
	}
}

static bool base_has(const struct lf_lq_pipeline *p, const char *name, size_t nl)
{
	return p->stream && lf_labels_find(p->stream, name, nl) != NULL;
}

/* Sets an extracted label, with `_extracted` on a clash with a stream
 * label. name must not be p->name itself when `append` is used. */
static void set_extracted(struct lf_lq_pipeline *p, struct lf_buf *name, const char *v, size_t vl)
{
	if (!name->len)
		return;
	if (base_has(p, name->data, name->len))
		lf_buf_appends(name, "_extracted");
	lf_labels_setn(&p->cur, name->data, name->len, v, vl);
}

static bool bad_utf8(const char *v, size_t n)
{
	if (!lf_utf8_valid_fast(v, n))
		return true;
	for (size_t i = 0; i + 2 < n; i++)
		if ((unsigned char)v[i] == 0xef && (unsigned char)v[i + 1] == 0xbf &&
		    (unsigned char)v[i + 2] == 0xbd)
			return true;
	return false;
}

/* -- json (no params) -- */
static int json_member(void *ctx, const char *k, size_t kl, bool kesc, const char *v, size_t vl,
                       enum lf_json_type t);

static int json_walk(struct lf_lq_pipeline *p, const char *s, size_t n, const char **errmsg)
{
	return lf_json_each(s, n, json_member, p, errmsg);
}

static int json_member(void *ctx, const char *k, size_t kl, bool kesc, const char *v, size_t vl,
                       enum lf_json_type t)
{
	struct lf_lq_pipeline *p = ctx;
	if (t == LF_JSON_NULL || t == LF_JSON_ARRAY)
		return 0;
	if (kesc) {
		lf_buf_reset(&p->scratch);
		lf_json_unescape(k, kl, &p->scratch);
		k = p->scratch.data;
		kl = p->scratch.len;
	}
	size_t plen = p->prefix.len;
	if (plen)
		lf_buf_putc(&p->prefix, '_');
	sanitize(&p->prefix, k, kl, plen == 0);
	int rc = 0;
	if (t == LF_JSON_OBJECT && p->json_depth >= MAX_NEST) {
		/* deeper objects are not followed (see MAX_NEST) */
	} else if (t == LF_JSON_OBJECT) {
		const char *em;
		p->json_depth++;
		rc = json_walk(p, v, vl, &em);
		p->json_depth--;
		if (rc < 0) {
			/* keep the inner message: the outer walk reports it */
			set_details(p, em, strlen(em));
			rc = 2;
		}
	} else {
		lf_buf_reset(&p->name);
		lf_buf_append(&p->name, p->prefix.data ? p->prefix.data : "", p->prefix.len);
		if (t == LF_JSON_STRING) {
			lf_buf_reset(&p->val);
			if (!lf_json_unescape(v, vl, &p->val) || bad_utf8(p->val.data, p->val.len))
				set_extracted(p, &p->name, "", 0);
			else
				set_extracted(p, &p->name, p->val.data, p->val.len);
		} else {
			set_extracted(p, &p->name, v, vl);
		}
	}
	p->prefix.len = plen;
	if (p->prefix.data)
		p->prefix.data[plen] = '\0';
	return rc;
}

static void run_json(struct lf_lq_pipeline *p)
{
	lf_buf_reset(&p->prefix);
	p->json_depth = 0;
	const char *em = NULL;
	int rc = json_walk(p, p->line, p->len, &em);
	if (rc == 0)
		return;
	set_err(p, "JSONParserErr");
	if (rc < 0)
		set_details(p, em, strlen(em));
	/* rc == 2: details already set by the nested walk */
}

/* The node a path leads to from the root, or -1. */
static long jnode_path(struct lf_lq_pipeline *p, const struct jexpr *j)
{
	const struct lf_jnode *v = p->jp.v;
	long cur = 0;
	for (size_t k = 0; k < j->n_steps; k++) {
		const struct jstep *st = &j->steps[k];
		const struct lf_jnode *x = &v[cur];
		long found = -1;
		if (st->key && x->type == LF_J_OBJ) {
			for (uint32_t c = x->child; c && found < 0; c = v[c].next) {
				const char *kb = v[c].key;
				size_t kl = v[c].key_len;
				if (v[c].key_esc) {
					lf_buf_reset(&p->scratch);
					lf_json_unescape_go(kb, kl, &p->scratch);
					kb = p->scratch.data;
					kl = p->scratch.len;
				}
				if (kl == st->key_len && !memcmp(kb, st->key, kl))
					found = c;
			}
		} else if (!st->key && x->type == LF_J_ARR && st->index < x->count) {
			uint32_t c = x->child;
			for (size_t i = 0; i < st->index; i++)
				c = v[c].next;
			found = c;
		}
		if (found < 0)
			return -1;
		cur = found;
	}
	return cur;
}

static void run_json_expr(struct lf_lq_pipeline *p, const struct stage *s)
{
	/* the parser wants a NUL after the text */
	lf_buf_reset(&p->tmp);
	lf_buf_append(&p->tmp, p->line, p->len);
	if (!p->tmp.data || lf_jparse(&p->jp, p->tmp.data, p->tmp.len) < 0) {
		set_err(p, "JSONParserErr");
		return;
	}
	for (size_t i = 0; i < s->n_jx; i++) {
		const struct jexpr *j = &s->jx[i];
		long idx = jnode_path(p, j);
		const struct lf_jnode *x = idx >= 0 ? &p->jp.v[idx] : NULL;
		lf_buf_reset(&p->val);
		switch (x ? x->type : LF_J_NULL) {
		case LF_J_STR:
			lf_json_unescape_go(x->s, x->len, &p->val);
			break;
		case LF_J_TRUE:
			lf_buf_appends(&p->val, "true");
			break;
		case LF_J_FALSE:
			lf_buf_appends(&p->val, "false");
			break;
		case LF_J_NULL:
			break;
		default: /* number token, raw object / array text */
			lf_buf_append(&p->val, x->s, x->len);
			break;
		}
		lf_buf_reset(&p->name);
		lf_buf_appends(&p->name, j->ident);
		set_extracted(p, &p->name, p->val.data ? p->val.data : "", p->val.len);
	}
}

/* -- logfmt -- */
struct lfmt_ctx {
	struct lf_lq_pipeline *p;
	const struct stage *s;
};

static int logfmt_pair(void *ctx, const char *k, size_t kl, const char *v, size_t vl, bool quoted)
{
	(void)quoted;
	struct lfmt_ctx *c = ctx;
	struct lf_lq_pipeline *p = c->p;
	if (bad_utf8(v, vl)) {
		v = "";
		vl = 0;
	}
	if (c->s->n_lp) {
		for (size_t i = 0; i < c->s->n_lp; i++) {
			const struct lfmt_param *lp = &c->s->lp[i];
			size_t il = strlen(lp->ident);
			if ((strlen(lp->key) == kl && !memcmp(lp->key, k, kl)) ||
			    (il == kl && !memcmp(lp->ident, k, kl))) {
				lf_buf_reset(&p->name);
				lf_buf_append(&p->name, lp->ident, il);
				set_extracted(p, &p->name, v, vl);
			}
		}
		return 0;
	}
	lf_buf_reset(&p->name);
	sanitize(&p->name, k, kl, true);
	set_extracted(p, &p->name, v, vl);
	return 0;
}

static void run_logfmt(struct lf_lq_pipeline *p, const struct stage *s)
{
	for (size_t i = 0; i < s->n_lp; i++) {
		const char *id = s->lp[i].ident;
		if (!base_has(p, id, strlen(id)))
			lf_labels_set(&p->cur, id, "");
	}
	struct lfmt_ctx c = {p, s};
	struct lf_logfmt_error e;
	if (lf_logfmt_scan(p->line, p->len, &p->val, logfmt_pair, &c, &e) == 1) {
		set_err(p, "LogfmtParserErr");
		lf_buf_reset(&p->details);
		lf_buf_printf(&p->details, "logfmt syntax error at pos %zu : %s", e.pos, e.msg);
	}
}

/* -- regexp -- */
static void run_regexp(struct lf_lq_pipeline *p, const struct stage *s)
{
	if (lf_regex_exec(s->re, p->line, p->len, 0, &p->rm, NULL) != 1)
		return;
	for (int i = 1; i <= lf_regex_ngroups(s->re); i++) {
		const char *nm = lf_regex_group_name(s->re, i);
		if (!nm)
			continue;
		const char *v;
		size_t vl;
		if (!lf_regex_group(&p->rm, i, &v, &vl)) {
			v = "";
			vl = 0;
		}
		lf_buf_reset(&p->name);
		sanitize(&p->name, nm, strlen(nm), true);
		set_extracted(p, &p->name, v, vl);
	}
}

/* -- pattern -- */
static void run_pattern(struct lf_lq_pipeline *p, const struct stage *s)
{
	const char *l = p->line;
	size_t n = p->len, i = 0, k = 0;
	if (!n)
		return;
	if (k < s->n_pat && s->pat[k].kind == P_LIT) {
		if (n < s->pat[k].len || memcmp(l, s->pat[k].s, s->pat[k].len))
			return;
		i = s->pat[k].len;
		k++;
	}
	/* capture positions are first collected, labels set only on a match:
	 * Loki's matcher returns nil (no labels) when the leading literal
	 * does not match; a later absent literal stops matching but keeps
	 * the captures so far */
	while (k < s->n_pat) {
		const struct pat_node *cap = &s->pat[k];
		const struct pat_node *lit = k + 1 < s->n_pat ? &s->pat[k + 1] : NULL;
		size_t end;
		bool stop = false;
		if (!lit) {
			end = n;
		} else {
			const char *f = i <= n ? lf_memfind(l + i, n - i, lit->s, lit->len) : NULL;
			if (!f) {
				end = n;
				stop = true;
			} else {
				end = (size_t)(f - l);
			}
		}
		if (cap->kind == P_CAP) {
			lf_buf_reset(&p->name);
			lf_buf_append(&p->name, cap->s, cap->len);
			set_extracted(p, &p->name, l + i, end - i);
		}
		if (stop || !lit)
			return;
		i = end + lit->len;
		k += 2;
	}
}

/* -- unpack -- */
static int unpack_member(void *ctx, const char *k, size_t kl, bool kesc, const char *v, size_t vl,
                         enum lf_json_type t)
{
	(void)kesc;
	struct lf_lq_pipeline *p = ctx;
	if (t != LF_JSON_STRING)
		return 0;
	/* pairs are queued in p->tmp as name\0value\0 and applied at the end */
	lf_buf_reset(&p->scratch);
	lf_json_unescape(v, vl, &p->scratch);
	if (kl == 6 && !memcmp(k, "_entry", 6)) {
		lf_buf_reset(&p->line_b);
		lf_buf_append(&p->line_b, p->scratch.data ? p->scratch.data : "", p->scratch.len);
		p->has_value = true; /* reused as "packed" flag; reset by caller */
		return 0;
	}
	uint64_t kl64 = kl, vl64 = p->scratch.len;
	lf_buf_append(&p->tmp, &kl64, sizeof kl64);
	lf_buf_append(&p->tmp, k, kl);
	lf_buf_append(&p->tmp, &vl64, sizeof vl64);
	lf_buf_append(&p->tmp, p->scratch.data ? p->scratch.data : "", p->scratch.len);
	return 0;
}

static void swap_line(struct lf_lq_pipeline *p)
{
	/* line_b holds the new line: make it current (line_a) */
	struct lf_buf t = p->line_a;
	p->line_a = p->line_b;
	p->line_b = t;
	p->line = p->line_a.data ? p->line_a.data : "";
	p->len = p->line_a.len;
}

static void run_unpack(struct lf_lq_pipeline *p)
{
	if (!p->len)
		return;
	if (p->line[0] != '{') {
		set_err(p, "JSONParserErr");
		set_details(p, "expecting json object(6), but it is not",
		            strlen("expecting json object(6), but it is not"));
		return;
	}
	lf_buf_reset(&p->tmp);
	p->has_value = false;
	const char *em;
	if (lf_json_each(p->line, p->len, unpack_member, p, &em) < 0) {
		set_err(p, "JSONParserErr");
		set_details(p, em, strlen(em));
		p->has_value = false;
		return;
	}
	if (!p->has_value)
		return;
	p->has_value = false;
	for (size_t off = 0; off < p->tmp.len;) {
		uint64_t kl, vl;
		memcpy(&kl, p->tmp.data + off, sizeof kl);
		const char *k = p->tmp.data + off + sizeof kl;
		off += sizeof kl + kl;
		memcpy(&vl, p->tmp.data + off, sizeof vl);
		const char *v = p->tmp.data + off + sizeof vl;
		off += sizeof vl + vl;
		lf_buf_reset(&p->name);
		lf_buf_append(&p->name, k, kl);
		set_extracted(p, &p->name, v, vl);
	}
	swap_line(p);
}

/* -- templates -- */
static bool tmpl_lookup(void *ctx, const char *name, size_t nl, const char **val, size_t *len)
{
	struct lf_lq_pipeline *p = ctx;
	if (nl == 8 && !memcmp(name, "__line__", 8)) {
		*val = p->line;
		*len = p->len;
		return true;
	}
	if (nl == 13 && !memcmp(name, "__timestamp__", 13)) {
		int k = snprintf(p->tsbuf, sizeof p->tsbuf, "%" PRId64, p->ts);
		*val = p->tsbuf;
		*len = (size_t)k;
		return true;
	}
	const struct lf_labels *ls = p->use_snap ? &p->snap : &p->cur;
	if (nl == sizeof ERR_LABEL - 1 && !memcmp(name, ERR_LABEL, nl)) {
		*val = p->err.data ? p->err.data : "";
		*len = p->err.len;
		return true;
	}
	if (nl == sizeof ERR_DETAILS_LABEL - 1 && !memcmp(name, ERR_DETAILS_LABEL, nl)) {
		*val = p->details.data ? p->details.data : "";
		*len = p->details.len;
		return true;
	}
	const struct lf_label *l = lf_labels_find(ls, name, nl);
	if (!l)
		return false;
	*val = l->value;
	*len = l->value_len;
	return true;
}

static void run_line_format(struct lf_lq_pipeline *p, const struct stage *s)
{
	struct lf_error e;
	lf_buf_reset(&p->line_b);
	p->use_snap = false;
	if (lf_template_exec(s->tmpl, tmpl_lookup, p, &p->line_b, &e) < 0) {
		set_err(p, "TemplateFormatErr");
		set_details(p, e.msg, strlen(e.msg));
		return;
	}
	if (!p->line_b.data)
		lf_buf_append(&p->line_b, "", 0);
	swap_line(p);
}

static void run_label_format(struct lf_lq_pipeline *p, const struct stage *s)
{
	bool snapped = false;
	for (size_t i = 0; i < s->n_lfm; i++) {
		const struct label_fmt *f = &s->lfm[i];
		if (f->src) {
			const struct lf_label *l = lf_labels_find(&p->cur, f->src, strlen(f->src));
			if (!l)
				continue;
			lf_buf_reset(&p->val);
			lf_buf_append(&p->val, l->value, l->value_len);
			lf_labels_setn(&p->cur, f->dst, strlen(f->dst), p->val.data, p->val.len);
			lf_labels_del(&p->cur, f->src);
			continue;
		}
		if (!snapped) {
			lf_labels_copy(&p->snap, &p->cur);
			snapped = true;
		}
		struct lf_error e;
		lf_buf_reset(&p->val);
		p->use_snap = true;
		int rc = lf_template_exec(f->tmpl, tmpl_lookup, p, &p->val, &e);
		p->use_snap = false;
		if (rc < 0) {
			set_err(p, "TemplateFormatErr");
			set_details(p, e.msg, strlen(e.msg));
			continue;
		}
		lf_labels_setn(&p->cur, f->dst, strlen(f->dst), p->val.data ? p->val.data : "",
		               p->val.len);
	}
}

static void run_drop(struct lf_lq_pipeline *p, const struct stage *s)
{
	for (size_t i = 0; i < s->n_drops; i++) {
		const struct drop_item *d = &s->drops[i];
		bool is_err = !strcmp(d->name, ERR_LABEL),
		     is_det = !strcmp(d->name, ERR_DETAILS_LABEL);
		if (d->has_matcher) {
			size_t vl = 0;
			const char *v = get_label(p, d->name, strlen(d->name), &vl);
			if (!lf_matcher_match(&d->m, v, v ? vl : 0))
				continue;
		}
		if (is_err)
			lf_buf_reset(&p->err);
		else if (is_det)
			lf_buf_reset(&p->details);
		else
			lf_labels_del(&p->cur, d->name);
	}
}

static void run_decolorize(struct lf_lq_pipeline *p, const struct stage *s)
{
	if (!memchr(p->line, 0x1b, p->len) && !memchr(p->line, 0x9b, p->len) &&
	    !memchr(p->line, 0xc2, p->len))
		return;
	lf_buf_reset(&p->line_b);
	if (lf_regex_replace_all(s->re, p->line, p->len, "", 0, true, &p->line_b, &p->rm) < 0)
		return;
	if (!p->line_b.data)
		lf_buf_append(&p->line_b, "", 0);
	swap_line(p);
}

/* -- label filters -- */

static int cmp_f(enum cmp_op op, double a, double b)
{
	switch (op) {
	case C_EQ:
		return a == b;
	case C_NE:
		return a != b;
	case C_GT:
		return a > b;
	case C_GE:
		return a >= b;
	case C_LT:
		return a < b;
	default:
		return a <= b;
	}
}

static int cmp_i(enum cmp_op op, int64_t a, int64_t b)
{
	return op == C_EQ   ? a == b
	       : op == C_NE ? a != b
	       : op == C_GT ? a > b
	       : op == C_GE ? a >= b
	       : op == C_LT ? a < b
	                    : a <= b;
}

static int cmp_u(enum cmp_op op, uint64_t a, uint64_t b)
{
	return op == C_EQ   ? a == b
	       : op == C_NE ? a != b
	       : op == C_GT ? a > b
	       : op == C_GE ? a >= b
	       : op == C_LT ? a < b
	                    : a <= b;
}

/* Go strconv.ParseFloat (decimal and hex forms, inf, nan). */
static int go_float(const char *s, size_t n, double *out, struct lf_buf *tmp)
{
	lf_buf_reset(tmp);
	lf_buf_append(tmp, s, n);
	const char *z = tmp->data ? tmp->data : "";
	if (!n || z[0] == ' ' || z[0] == '\t' || z[0] == '\n' || strlen(z) != n)
		return -1;
	char *end;
	errno = 0;
	double v = strtod(z, &end);
	if (*end || end == z)
		return -1;
	/* strtod also takes "infinity" and "nan(...)": Go takes inf/infinity/nan */
	const char *q = z + (z[0] == '+' || z[0] == '-');
	if ((q[0] == 'n' || q[0] == 'N') && n - (size_t)(q - z) != 3)
		return -1;
	if (errno == ERANGE && isinf(v))
		return -2;
	*out = v;
	return 0;
}

static void filt_conv_err(struct lf_lq_pipeline *p, const char *details)
{
	set_err(p, "LabelFilterErr");
	set_details(p, details, strlen(details));
}

static bool lfilt_eval(struct lf_lq_pipeline *p, const struct lfilt *f)
{
	switch (f->kind) {
	case LF_AND:
		return lfilt_eval(p, f->l) && lfilt_eval(p, f->r);
	case LF_OR:
		return lfilt_eval(p, f->l) || lfilt_eval(p, f->r);
	case LF_STR: {
		size_t nl = strlen(f->name), vl = 0;
		const char *v;
		if (nl == sizeof ERR_DETAILS_LABEL - 1 && !memcmp(f->name, ERR_DETAILS_LABEL, nl))
			v = NULL; /* not special-cased by Loki: always "" */
		else
			v = get_label(p, f->name, nl, &vl);
		return lf_matcher_match(&f->m, v, v ? vl : 0);
	}
	default:
		break;
	}
	if (has_err(p))
		return true;
	size_t vl = 0;
	const char *v = get_label(p, f->name, strlen(f->name), &vl);
	if (!v)
		return false;
	switch (f->kind) {
	case LF_NUM: {
		double x;
		int rc = go_float(v, vl, &x, &p->tmp);
		if (rc < 0) {
			lf_buf_reset(&p->scratch);
			lf_buf_appends(&p->scratch, "strconv.ParseFloat: parsing ");
			lf_buf_append_quoted(&p->scratch, v, vl);
			lf_buf_appends(&p->scratch,
			               rc == -2 ? ": value out of range" : ": invalid syntax");
			filt_conv_err(p, p->scratch.data);
			return true;
		}
		return cmp_f(f->op, x, f->num);
	}
	case LF_DUR: {
		int64_t d;
		lf_buf_reset(&p->tmp);
		lf_buf_append(&p->tmp, v, vl);
		if (strlen(p->tmp.data) != vl || go_duration(p->tmp.data, &d) < 0) {
			lf_buf_reset(&p->scratch);
			lf_buf_appends(&p->scratch, "time: invalid duration ");
			lf_buf_append_quoted(&p->scratch, v, vl);
			filt_conv_err(p, p->scratch.data);
			return true;
		}
		return cmp_i(f->op, d, f->dur);
	}
	case LF_BYTES: {
		uint64_t b;
		lf_buf_reset(&p->tmp);
		lf_buf_append(&p->tmp, v, vl);
		if (strlen(p->tmp.data) != vl || go_bytes(p->tmp.data, &b) < 0) {
			/* humanize's messages: a bad number is strconv's, a bad
			 * unit "unhandled size name: x" */
			size_t i = 0;
			while (i < vl &&
			       ((v[i] >= '0' && v[i] <= '9') || v[i] == '.' || v[i] == ','))
				i++;
			while (i < vl && v[i] == ' ')
				i++;
			lf_buf_reset(&p->scratch);
			if (i == 0 || i == vl) {
				lf_buf_appends(&p->scratch, "strconv.ParseFloat: parsing ");
				lf_buf_append_quoted(&p->scratch, v, i);
				lf_buf_appends(&p->scratch, ": invalid syntax");
			} else {
				lf_buf_appends(&p->scratch, "unhandled size name: ");
				for (size_t k = i; k < vl; k++)
					lf_buf_putc(&p->scratch,
					            (char)((v[k] >= 'A' && v[k] <= 'Z') ? v[k] + 32
					                                                : v[k]));
			}
			filt_conv_err(p, p->scratch.data);
			return true;
		}
		return cmp_u(f->op, b, f->bytes);
	}
	case LF_IP: {
		bool m = ipmatch_str(&f->ip, v, vl);
		return f->op == C_EQ ? m : !m;
	}
	default:
		return true;
	}
}

/* -- unwrap -- */
static int run_unwrap(struct lf_lq_pipeline *p, const struct stage *s)
{
	size_t vl = 0;
	const char *v = get_label(p, s->unwrap_label, strlen(s->unwrap_label), &vl);
	if (!v || !vl)
		return 0;
	double x = 0;
	lf_buf_reset(&p->scratch);
	switch (s->conv) {
	case U_FLOAT: {
		int rc = go_float(v, vl, &x, &p->tmp);
		if (rc < 0) {
			x = 0;
			lf_buf_appends(&p->scratch, "strconv.ParseFloat: parsing ");
			lf_buf_append_quoted(&p->scratch, v, vl);
			lf_buf_appends(&p->scratch,
			               rc == -2 ? ": value out of range" : ": invalid syntax");
		}
		break;
	}
	case U_DURATION:
	case U_DURATION_SECONDS: {
		int64_t d;
		lf_buf_reset(&p->tmp);
		lf_buf_append(&p->tmp, v, vl);
		if (strlen(p->tmp.data) != vl || go_duration(p->tmp.data, &d) < 0) {
			lf_buf_appends(&p->scratch, "time: invalid duration ");
			lf_buf_append_quoted(&p->scratch, v, vl);
		} else {
			x = (double)d / 1e9;
		}
		break;
	}
	case U_BYTES: {
		uint64_t b;
		lf_buf_reset(&p->tmp);
		lf_buf_append(&p->tmp, v, vl);
		if (strlen(p->tmp.data) != vl || go_bytes(p->tmp.data, &b) < 0) {
			lf_buf_appends(&p->scratch, "unhandled size name: ");
			lf_buf_append(&p->scratch, v, vl);
		} else {
			x = (double)b;
		}
		break;
	}
	}
	if (p->scratch.len) {
		set_err(p, "SampleExtractionErr");
		set_details(p, p->scratch.data, p->scratch.len);
	}
	for (size_t i = 0; i < s->n_post; i++)
		if (!lfilt_eval(p, s->post[i]))
			return 0;
	p->has_value = true;
	p->value = x;
	return 1;
}

int lf_lq_pipeline_process(struct lf_lq_pipeline *p, int64_t ts_ns, const char *line, size_t len,
                           const struct lf_labels *stream, struct lf_lq_out *out)
{
	static const struct lf_labels empty = LF_LABELS_INIT;
	if (!stream)
		stream = &empty;
	p->line = line ? line : "";
	p->len = line ? len : 0;
	p->ts = ts_ns;
	p->stream = stream;
	p->has_value = false;
	p->value = 0;
	lf_buf_reset(&p->err);
	lf_buf_reset(&p->details);
	bool copied = false;
	for (size_t i = 0; i < p->n; i++) {
		struct stage *s = &p->st[i];
		if (!copied && s->kind != S_LINE_FILTER && s->kind != S_LINE_IP) {
			if (lf_labels_copy(&p->cur, stream) < 0)
				return -1;
			copied = true;
		}
		switch (s->kind) {
		case S_LINE_FILTER:
			if (!lf_line_filter_match(&s->lf, p->line, p->len))
				return 0;
			break;
		case S_LINE_IP: {
			bool m = ipmatch_line(&s->ip, p->line, p->len);
			if (m == s->ip_neg)
				return 0;
			break;
		}
		case S_JSON:
			if (!p->no_labels)
				run_json(p);
			break;
		case S_JSON_EXPR:
			run_json_expr(p, s);
			break;
		case S_LOGFMT:
			if (!p->no_labels || s->n_lp)
				run_logfmt(p, s);
			break;
		case S_REGEXP:
			run_regexp(p, s);
			break;
		case S_PATTERN:
			if (!p->no_labels)
				run_pattern(p, s);
			break;
		case S_UNPACK:
			if (!p->no_labels)
				run_unpack(p);
			break;
		case S_LABEL_FILTER:
			if (!lfilt_eval(p, s->filt))
				return 0;
			break;
		case S_LINE_FORMAT:
			run_line_format(p, s);
			break;
		case S_LABEL_FORMAT:
			run_label_format(p, s);
			break;
		case S_DROP:
			run_drop(p, s);
			break;
		case S_DECOLORIZE:
			run_decolorize(p, s);
			break;
		case S_UNWRAP:
			if (!run_unwrap(p, s))
				return 0;
			break;
		}
	}
	if (!copied) {
		out->labels = stream;
	} else if (!p->err.len && !p->details.len) {
		out->labels = &p->cur;
	} else {
		if (lf_labels_copy(&p->out, &p->cur) < 0)
			return -1;
		if (p->err.len)
			lf_labels_setn(&p->out, ERR_LABEL, sizeof ERR_LABEL - 1, p->err.data,
			               p->err.len);
		if (p->details.len)
			lf_labels_setn(&p->out, ERR_DETAILS_LABEL, sizeof ERR_DETAILS_LABEL - 1,
			               p->details.data, p->details.len);
		out->labels = &p->out;
	}
	out->line = p->line;
	out->len = p->len;
	out->has_value = p->has_value;
	out->value = p->value;
	return 1;
}
