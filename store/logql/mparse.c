/* mparse.c — see mparse.h. A recursive-descent parser with precedence
 * climbing for the binary operators. */
#include "mparse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "timeutil.h"

struct p {
	struct lf_lq_lexer lx;
	struct lf_error *err;
	int depth;
};

#define MAX_DEPTH 200

static const char *const rop_names[] = {
        "count_over_time",    "rate",
        "rate_counter",       "bytes_over_time",
        "bytes_rate",         "absent_over_time",
        "sum_over_time",      "avg_over_time",
        "max_over_time",      "min_over_time",
        "stdvar_over_time",   "stddev_over_time",
        "quantile_over_time", "first_over_time",
        "last_over_time",
};
static const char *const vop_names[] = {"sum",    "avg",  "min",     "max",  "count",    "stddev",
                                        "stdvar", "topk", "bottomk", "sort", "sort_desc"};
static const char *const bop_names[] = {"or", "and", "unless", "==", "!=", ">", ">=", "<",
                                        "<=", "+",   "-",      "*",  "/",  "%", "^"};

const char *lf_mq_rop_name(enum lf_mq_rop op)
{
	return rop_names[op];
}
const char *lf_mq_vop_name(enum lf_mq_vop op)
{
	return vop_names[op];
}
const char *lf_mq_bop_name(enum lf_mq_bop op)
{
	return bop_names[op];
}
bool lf_mq_bop_is_cmp(enum lf_mq_bop op)
{
	return op >= LF_MQ_EQ && op <= LF_MQ_LTE;
}

double lf_mq_apply(enum lf_mq_bop op, double l, double r, bool return_bool, bool *keep)
{
	*keep = true;
	bool c;
	switch (op) {
	case LF_MQ_ADD:
		return l + r;
	case LF_MQ_SUB:
		return l - r;
	case LF_MQ_MUL:
		return l * r;
	case LF_MQ_DIV:
		return r == 0 ? NAN : l / r;
	case LF_MQ_MOD:
		return r == 0 ? NAN : fmod(l, r);
	case LF_MQ_POW:
		return pow(l, r);
	case LF_MQ_EQ:
		c = l == r;
		break;
	case LF_MQ_NEQ:
		c = l != r;
		break;
	case LF_MQ_GT:
		c = l > r;
		break;
	case LF_MQ_GTE:
		c = l >= r;
		break;
	case LF_MQ_LT:
		c = l < r;
		break;
	case LF_MQ_LTE:
		c = l <= r;
		break;
	default:
		return l;
	}
	if (return_bool)
		return c ? 1 : 0;
	*keep = c;
	return l;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void lf_mq_free(struct lf_mq_node *n)
{
	if (!n)
		return;
	lf_selector_free(n->sel);
	lf_lq_pipeline_free(n->pipe);
	free_names(n->grp.names, n->grp.n);
	free_names(n->match_names, n->n_match);
	free_names(n->include_names, n->n_include);
	lf_mq_free(n->l);
	lf_mq_free(n->r);
	free(n->dst);
	free(n->repl);
	free(n->src);
	free(n->re_text);
	lf_regex_free(n->re);
	free(n);
}

static struct lf_mq_node *node_new(struct p *p, enum lf_mq_kind k)
{
	struct lf_mq_node *n = calloc(1, sizeof(*n));
	if (!n) {
		lf_err(p->err, "out of memory");
		return NULL;
	}
	n->kind = k;
	return n;
}

/* validation errors carry no position in Loki */
static int verr(struct p *p, const char *fmt, const char *a, const char *b)
{
	char msg[LF_ERROR_MAX];
	snprintf(msg, sizeof(msg), fmt, a, b ? b : "");
	return lf_err(p->err, "parse error : %s", msg);
}

static int next(struct p *p, struct lf_lq_token *t)
{
	return lf_lq_next(&p->lx, t, p->err);
}

static int peek(struct p *p, struct lf_lq_token *t)
{
	return lf_lq_peek(&p->lx, t, p->err);
}

static int expect(struct p *p, enum lf_lq_tok kind, const char *expecting)
{
	struct lf_lq_token t;
	if (next(p, &t) < 0)
		return -1;
	if (t.kind != kind)
		return lf_lq_syntax_error(p->err, &t, expecting);
	return 0;
}

static char *tok_text(const struct p *p, const struct lf_lq_token *t)
{
	return strndup(p->lx.s + t->pos, t->len);
}

static int number_of(struct p *p, const struct lf_lq_token *t, double *out)
{
	char buf[64];
	size_t n = t->len < sizeof(buf) - 1 ? t->len : sizeof(buf) - 1;
	memcpy(buf, p->lx.s + t->pos, n);
	buf[n] = 0;
	char *end;
	*out = strtod(buf, &end);
	if (*end)
		return lf_lq_syntax_error(p->err, t, NULL);
	return 0;
}

/* `( a, b, ... )` or `()`: identifiers into *names. The `(` is next. */
static int label_list(struct p *p, char ***names, size_t *n)
{
	if (expect(p, LF_LQ_LPAREN, "(") < 0)
		return -1;
	struct lf_lq_token t;
	if (peek(p, &t) < 0)
		return -1;
	if (t.kind == LF_LQ_RPAREN) {
		next(p, &t);
		return 0;
	}
	for (;;) {
		if (next(p, &t) < 0)
			return -1;
		if (t.kind != LF_LQ_IDENT)
			return lf_lq_syntax_error(p->err, &t, "IDENTIFIER");
		char **v = realloc(*names, (*n + 1) * sizeof(*v));
		if (!v)
			return lf_err(p->err, "out of memory");
		*names = v;
		if (!(v[*n] = tok_text(p, &t)))
			return lf_err(p->err, "out of memory");
		(*n)++;
		if (next(p, &t) < 0)
			return -1;
		if (t.kind == LF_LQ_RPAREN)
			return 0;
		if (t.kind != LF_LQ_COMMA)
			return lf_lq_syntax_error(p->err, &t, ", or )");
	}
}

/* An optional `by (...)` / `without (...)`. */
static int grouping(struct p *p, struct lf_mq_grouping *g, bool *found)
{
	struct lf_lq_token t;
	*found = false;
	if (peek(p, &t) < 0)
		return -1;
	bool by = lf_lq_is_ident(&p->lx, &t, "by");
	if (!by && !lf_lq_is_ident(&p->lx, &t, "without"))
		return 0;
	next(p, &t);
	if (g->present)
		return lf_lq_syntax_error(p->err, &t, NULL);
	g->present = true;
	g->without = !by;
	*found = true;
	return label_list(p, &g->names, &g->n);
}

/* `[<duration>]`: the `[` is next. Read raw up to `]` as Loki's lexer does
 * for its RANGE token. */
static int range_dur(struct p *p, int64_t *out)
{
	struct lf_lq_token t;
	if (next(p, &t) < 0)
		return -1;
	if (t.kind != LF_LQ_LBRACKET)
		return lf_lq_syntax_error(p->err, &t, NULL);
	struct lf_lq_lexer *lx = &p->lx;
	size_t s = lx->pos, e = s;
	while (e < lx->len && lx->s[e] != ']')
		e++;
	/* Loki's lexer reads the range with Next(), which invalidates the
	 * scanner's line (0) but keeps the column of the `[` */
	if (e >= lx->len)
		return lf_err(p->err,
		              "parse error at line 0, col %d: missing closing ']' in duration",
		              t.col);
	char buf[64];
	size_t a = s, b = e;
	while (a < b && (lx->s[a] == ' ' || lx->s[a] == '\t'))
		a++;
	while (b > a && (lx->s[b - 1] == ' ' || lx->s[b - 1] == '\t'))
		b--;
	size_t n = b - a < sizeof(buf) - 1 ? b - a : sizeof(buf) - 1;
	memcpy(buf, lx->s + a, n);
	buf[n] = 0;
	struct lf_error derr;
	if (n == 0 || memchr(lx->s + a, '\n', b - a) || lf_parse_duration(buf, out, &derr) < 0 ||
	    *out < 0)
		return lf_err(p->err,
		              "parse error at line 0, col %d: not a valid duration string: \"%s\"",
		              t.col, buf);
	for (size_t i = s; i <= e; i++) {
		if ((lx->s[i] & 0xC0) != 0x80)
			lx->col++;
	}
	lx->pos = e + 1;
	return 0;
}

static int opt_offset(struct p *p, struct lf_mq_node *n)
{
	struct lf_lq_token t;
	if (peek(p, &t) < 0)
		return -1;
	if (!lf_lq_is_ident(&p->lx, &t, "offset"))
		return 0;
	next(p, &t);
	if (next(p, &t) < 0)
		return -1;
	if (t.kind != LF_LQ_DURATION &&
	    !(t.kind == LF_LQ_NUMBER && t.len == 1 && p->lx.s[t.pos] == '0'))
		return lf_lq_syntax_error(p->err, &t, NULL);
	char buf[64];
	size_t k = t.len < sizeof(buf) - 1 ? t.len : sizeof(buf) - 1;
	memcpy(buf, p->lx.s + t.pos, k);
	buf[k] = 0;
	struct lf_error derr;
	if (lf_parse_duration(buf, &n->offset, &derr) < 0)
		return lf_err(p->err,
		              "parse error at line %d, col %d: not a valid duration string: \"%s\"",
		              t.line, t.col, buf);
	return 0;
}

static bool is_pipe_start(enum lf_lq_tok k)
{
	return k == LF_LQ_PIPE || k == LF_LQ_PIPE_EXACT || k == LF_LQ_NEQ ||
	       k == LF_LQ_PIPE_MATCH || k == LF_LQ_NRE || k == LF_LQ_PIPE_PATTERN || k == LF_LQ_NPA;
}

/* The log range: `{sel} pipeline [d] offset o`, `({sel} pipeline)[d]`,
 * `{sel}[d] | unwrap x`. */
static int log_range(struct p *p, struct lf_mq_node *n)
{
	struct lf_lq_token t;
	if (peek(p, &t) < 0)
		return -1;
	bool paren = t.kind == LF_LQ_LPAREN;
	if (paren)
		next(p, &t);
	if (peek(p, &t) < 0)
		return -1;
	if (t.kind != LF_LQ_LBRACE)
		return lf_lq_syntax_error(p->err, &t, paren ? "{" : NULL);
	if (lf_selector_parse_lx(&p->lx, LF_SELECTOR_REQUIRE_NONEMPTY | LF_SELECTOR_NO_FILTERS,
	                         &n->sel, p->err) < 0)
		return -1;
	if (lf_lq_pipeline_parse(&p->lx, LF_LQ_PIPE_METRIC, &n->pipe, p->err) < 0)
		return -1;
	if (paren && expect(p, LF_LQ_RPAREN, ")") < 0)
		return -1;
	if (range_dur(p, &n->range) < 0 || opt_offset(p, n) < 0)
		return -1;
	if (peek(p, &t) < 0)
		return -1;
	if (is_pipe_start(t.kind)) {
		/* Loki's grammar has `selector RANGE pipelineExpr` and `selector
		 * RANGE unwrapExpr`: stages after the range only when there were
		 * none before it */
		if (!lf_lq_pipeline_is_empty(n->pipe))
			return lf_lq_syntax_error(p->err, &t, NULL);
		struct lf_lq_pipeline *more = NULL;
		if (lf_lq_pipeline_parse(&p->lx, LF_LQ_PIPE_METRIC, &more, p->err) < 0)
			return -1;
		lf_lq_pipeline_free(n->pipe);
		n->pipe = more;
	}
	n->unwrap = lf_lq_pipeline_has_unwrap(n->pipe);
	return 0;
}

static int validate_range(struct p *p, struct lf_mq_node *n, const char *param)
{
	const char *name = rop_names[n->rop];
	if (n->grp.present) {
		switch (n->rop) {
		case LF_MQ_AVG_OVER_TIME:
		case LF_MQ_MAX_OVER_TIME:
		case LF_MQ_MIN_OVER_TIME:
		case LF_MQ_STDVAR_OVER_TIME:
		case LF_MQ_STDDEV_OVER_TIME:
		case LF_MQ_QUANTILE_OVER_TIME:
		case LF_MQ_FIRST_OVER_TIME:
		case LF_MQ_LAST_OVER_TIME:
			break;
		default:
			return verr(p, "grouping not allowed for %s aggregation", name, NULL);
		}
	}
	if (n->unwrap) {
		switch (n->rop) {
		case LF_MQ_COUNT_OVER_TIME:
		case LF_MQ_BYTES_OVER_TIME:
		case LF_MQ_BYTES_RATE:
			return verr(p, "invalid aggregation %s with unwrap", name, NULL);
		default:
			break;
		}
	} else {
		switch (n->rop) {
		case LF_MQ_COUNT_OVER_TIME:
		case LF_MQ_RATE:
		case LF_MQ_BYTES_OVER_TIME:
		case LF_MQ_BYTES_RATE:
		case LF_MQ_ABSENT_OVER_TIME:
			break;
		default:
			return verr(p, "invalid aggregation %s without unwrap", name, NULL);
		}
	}
	if (n->rop == LF_MQ_QUANTILE_OVER_TIME && !param)
		return verr(p, "parameter required for operation %s%s", name, NULL);
	if (n->rop != LF_MQ_QUANTILE_OVER_TIME && param)
		return verr(p, "parameter %s not supported for operation %s", param, name);
	return 0;
}

static int expr(struct p *p, int minprec, struct lf_mq_node **out);

/* A log expression ended where a metric one was wanted: yacc fails at the
 * next token. */
static int no_log(struct p *p, const struct lf_mq_node *n)
{
	if (!n || n->kind != LF_MQ_LOG)
		return 0;
	struct lf_lq_token t;
	if (peek(p, &t) < 0)
		return -1;
	return lf_lq_syntax_error(p->err, &t, NULL);
}

static const char *log_type(const struct lf_mq_node *n)
{
	return lf_lq_pipeline_is_empty(n->pipe) ? "*syntax.MatchersExpr" : "*syntax.PipelineExpr";
}

static int range_agg(struct p *p, enum lf_mq_rop op, struct lf_mq_node **out)
{
	struct lf_mq_node *n = node_new(p, LF_MQ_RANGE);
	if (!n)
		return -1;
	*out = n;
	n->rop = op;
	if (expect(p, LF_LQ_LPAREN, "(") < 0)
		return -1;
	struct lf_lq_token t;
	char param[64] = "";
	if (peek(p, &t) < 0)
		return -1;
	if (t.kind == LF_LQ_NUMBER) {
		next(p, &t);
		if (number_of(p, &t, &n->num) < 0)
			return -1;
		n->has_param = true;
		snprintf(param, sizeof(param), "%.*s", (int)t.len, p->lx.s + t.pos);
		if (expect(p, LF_LQ_COMMA, ",") < 0)
			return -1;
	}
	if (log_range(p, n) < 0)
		return -1;
	if (expect(p, LF_LQ_RPAREN, ")") < 0)
		return -1;
	bool found;
	if (grouping(p, &n->grp, &found) < 0)
		return -1;
	return validate_range(p, n, n->has_param ? param : NULL);
}

static int vector_agg(struct p *p, enum lf_mq_vop op, struct lf_mq_node **out)
{
	struct lf_mq_node *n = node_new(p, LF_MQ_VAGG);
	if (!n)
		return -1;
	*out = n;
	n->vop = op;
	bool found;
	if (grouping(p, &n->grp, &found) < 0)
		return -1;
	if (expect(p, LF_LQ_LPAREN, "(") < 0)
		return -1;
	struct lf_lq_token t;
	char param[64] = "";
	bool has_param = false;
	if (peek(p, &t) < 0)
		return -1;
	if (t.kind == LF_LQ_NUMBER) {
		/* `topk(2, ...)`, but also `sum(2 * x)`: a parameter only when
		 * a comma follows */
		struct lf_lq_lexer save = p->lx;
		next(p, &t);
		struct lf_lq_token c;
		if (peek(p, &c) < 0)
			return -1;
		if (c.kind == LF_LQ_COMMA) {
			next(p, &c);
			has_param = true;
			snprintf(param, sizeof(param), "%.*s", (int)t.len, p->lx.s + t.pos);
		} else {
			/* rewind: the number starts the body */
			p->lx.pos = save.pos;
			p->lx.line = save.line;
			p->lx.col = save.col;
			p->lx.has_peek = save.has_peek;
			p->lx.peek = save.peek;
		}
	}
	if (expr(p, 0, &n->l) < 0 || no_log(p, n->l) < 0)
		return -1;
	if (expect(p, LF_LQ_RPAREN, NULL) < 0)
		return -1;
	if (!n->grp.present && grouping(p, &n->grp, &found) < 0)
		return -1;
	const char *name = vop_names[op];
	if (op == LF_MQ_TOPK || op == LF_MQ_BOTTOMK) {
		if (!has_param)
			return verr(p, "parameter required for operation %s%s", name, NULL);
		char *e;
		long long k = strtoll(param, &e, 10);
		if (*e || !*param)
			return verr(p, "invalid parameter %s(%s,", name, param);
		if (k <= 0)
			return verr(p, "invalid parameter (must be greater than 0) %s(%s", name,
			            param);
		n->k = k;
	} else if (has_param) {
		return verr(p, "unsupported parameter for operation %s(%s,", name, param);
	}
	if ((op == LF_MQ_SORT || op == LF_MQ_SORT_DESC) && n->grp.present) {
		char labels[512] = "";
		size_t o = 0;
		for (size_t i = 0; i < n->grp.n && o < sizeof(labels); i++)
			o += (size_t)snprintf(labels + o, sizeof(labels) - o, "%s%s", i ? "," : "",
			                      n->grp.names[i]);
		return verr(p, "sort and sort_desc doesn't allow grouping by %s%s", labels, NULL);
	}
	if (n->l->kind == LF_MQ_LITERAL)
		return lf_err(p->err, "parse error : unexpected literal for vector aggregation");
	return 0;
}

static int string_arg(struct p *p, char **out)
{
	struct lf_lq_token t;
	if (next(p, &t) < 0)
		return -1;
	if (t.kind != LF_LQ_STRING)
		return lf_lq_syntax_error(p->err, &t, "STRING");
	*out = strndup(p->lx.str.data ? p->lx.str.data : "", p->lx.str.len);
	return *out ? 0 : lf_err(p->err, "out of memory");
}

/* Go's regexp errors for the common cases (Loki quotes them):
 * `error parsing regexp: missing closing ): `<re>``, `invalid escape
 * sequence: `\q``; otherwise PCRE's message in the same frame. msg is
 * lf_regex_new's `invalid regex "<re>": <what> at offset <n>`. */
static void go_regex_error(const char *re, const char *msg, char *out, size_t n)
{
	const char *what = strstr(msg, "\": ");
	what = what ? what + 3 : msg;
	const char *at = strstr(what, " at offset ");
	int wl = at ? (int)(at - what) : (int)strlen(what);
	size_t off = at ? (size_t)strtoul(at + 11, NULL, 10) : 0;
	if (!strncmp(what, "missing closing parenthesis", (size_t)wl)) {
		snprintf(out, n, "error parsing regexp: missing closing ): `%s`", re);
		return;
	}
	if (!strncmp(what, "unrecognized character follows \\", (size_t)wl) && off <= strlen(re)) {
		/* the escape ends at off */
		size_t i = off;
		if (re[i] == '\\')
			i++;
		else
			while (i > 0 && re[i - 1] != '\\')
				i--;
		if (i > 0 && re[i])
			snprintf(out, n, "error parsing regexp: invalid escape sequence: `\\%c`",
			         re[i]);
		else
			snprintf(out, n, "error parsing regexp: invalid escape sequence: `%s`", re);
		return;
	}
	snprintf(out, n, "error parsing regexp: %.*s: `%s`", wl, what, re);
}

static int label_replace(struct p *p, struct lf_mq_node **out)
{
	struct lf_mq_node *n = node_new(p, LF_MQ_LABEL_REPLACE);
	if (!n)
		return -1;
	*out = n;
	if (expect(p, LF_LQ_LPAREN, "(") < 0 || expr(p, 0, &n->l) < 0 || no_log(p, n->l) < 0 ||
	    expect(p, LF_LQ_COMMA, NULL) < 0 || string_arg(p, &n->dst) < 0 ||
	    expect(p, LF_LQ_COMMA, ",") < 0 || string_arg(p, &n->repl) < 0 ||
	    expect(p, LF_LQ_COMMA, ",") < 0 || string_arg(p, &n->src) < 0 ||
	    expect(p, LF_LQ_COMMA, ",") < 0 || string_arg(p, &n->re_text) < 0 ||
	    expect(p, LF_LQ_RPAREN, ")") < 0)
		return -1;
	if (n->l->kind == LF_MQ_LITERAL)
		return lf_err(p->err, "parse error : unexpected literal for label_replace");
	struct lf_buf b = LF_BUF_INIT;
	lf_buf_appends(&b, "^(?:");
	lf_buf_appends(&b, n->re_text);
	lf_buf_appends(&b, ")$");
	struct lf_error rerr;
	int rc = lf_regex_new(b.data, 0, &n->re, &rerr);
	if (rc < 0) {
		char msg[LF_ERROR_MAX];
		go_regex_error(b.data, rerr.msg, msg, sizeof(msg));
		lf_buf_free(&b);
		return lf_err(p->err, "parse error : invalid regex in label_replace: %s", msg);
	}
	lf_buf_free(&b);
	if (!lf_label_name_valid(n->dst, strlen(n->dst)))
		return verr(p, "invalid destination label name in label_replace: %s%s", n->dst,
		            NULL);
	return 0;
}

static int lookup(const char *const *names, size_t n, const struct p *p,
                  const struct lf_lq_token *t)
{
	for (size_t i = 0; i < n; i++)
		if (lf_lq_is_ident(&p->lx, t, names[i]))
			return (int)i;
	return -1;
}

static int primary(struct p *p, struct lf_mq_node **out)
{
	struct lf_lq_token t;
	if (next(p, &t) < 0)
		return -1;
	if (t.kind == LF_LQ_NUMBER || t.kind == LF_LQ_ADD || t.kind == LF_LQ_SUB) {
		bool neg = t.kind == LF_LQ_SUB;
		if (t.kind != LF_LQ_NUMBER) {
			if (next(p, &t) < 0)
				return -1;
			if (t.kind != LF_LQ_NUMBER)
				return lf_lq_syntax_error(p->err, &t, "NUMBER");
		}
		struct lf_mq_node *n = node_new(p, LF_MQ_LITERAL);
		if (!n)
			return -1;
		*out = n;
		if (number_of(p, &t, &n->num) < 0)
			return -1;
		if (neg)
			n->num = -n->num;
		return 0;
	}
	if (t.kind == LF_LQ_LPAREN) {
		if (expr(p, 0, out) < 0)
			return -1;
		return expect(p, LF_LQ_RPAREN, NULL);
	}
	if (t.kind == LF_LQ_LBRACE) {
		/* a log expression: Loki's grammar takes it as a binary
		 * operand (then refuses its type) or fails at what follows */
		struct lf_mq_node *n = node_new(p, LF_MQ_LOG);
		if (!n)
			return -1;
		*out = n;
		p->lx.has_peek = true; /* give the `{` back */
		p->lx.peek = t;
		if (lf_selector_parse_lx(&p->lx,
		                         LF_SELECTOR_REQUIRE_NONEMPTY | LF_SELECTOR_NO_FILTERS,
		                         &n->sel, p->err) < 0 ||
		    lf_lq_pipeline_parse(&p->lx, 0, &n->pipe, p->err) < 0 || peek(p, &t) < 0)
			return -1;
		if (t.kind == LF_LQ_LBRACKET)
			return lf_err(
			        p->err,
			        "parse error at line 0, col %d: syntax error: unexpected RANGE",
			        t.col);
		return 0;
	}
	if (t.kind == LF_LQ_IDENT) {
		int i = lookup(rop_names, sizeof(rop_names) / sizeof(rop_names[0]), p, &t);
		if (i >= 0)
			return range_agg(p, (enum lf_mq_rop)i, out);
		i = lookup(vop_names, sizeof(vop_names) / sizeof(vop_names[0]), p, &t);
		if (i >= 0)
			return vector_agg(p, (enum lf_mq_vop)i, out);
		if (lf_lq_is_ident(&p->lx, &t, "label_replace"))
			return label_replace(p, out);
		if (lf_lq_is_ident(&p->lx, &t, "vector")) {
			struct lf_mq_node *n = node_new(p, LF_MQ_VECTOR);
			if (!n)
				return -1;
			*out = n;
			if (expect(p, LF_LQ_LPAREN, "(") < 0 || next(p, &t) < 0)
				return -1;
			if (t.kind != LF_LQ_NUMBER)
				return lf_lq_syntax_error(p->err, &t, "NUMBER");
			if (number_of(p, &t, &n->num) < 0)
				return -1;
			return expect(p, LF_LQ_RPAREN, ")");
		}
	}
	return lf_lq_syntax_error(p->err, &t, NULL);
}

/* binary operator at t, or -1 */
static int binop_of(const struct p *p, const struct lf_lq_token *t)
{
	switch (t->kind) {
	case LF_LQ_CMP_EQ:
		return LF_MQ_EQ;
	case LF_LQ_NEQ:
		return LF_MQ_NEQ;
	case LF_LQ_GT:
		return LF_MQ_GT;
	case LF_LQ_GTE:
		return LF_MQ_GTE;
	case LF_LQ_LT:
		return LF_MQ_LT;
	case LF_LQ_LTE:
		return LF_MQ_LTE;
	case LF_LQ_ADD:
		return LF_MQ_ADD;
	case LF_LQ_SUB:
		return LF_MQ_SUB;
	case LF_LQ_MUL:
		return LF_MQ_MUL;
	case LF_LQ_DIV:
		return LF_MQ_DIV;
	case LF_LQ_MOD:
		return LF_MQ_MOD;
	case LF_LQ_POW:
		return LF_MQ_POW;
	case LF_LQ_IDENT:
		if (lf_lq_is_ident(&p->lx, t, "or"))
			return LF_MQ_OR;
		if (lf_lq_is_ident(&p->lx, t, "and"))
			return LF_MQ_AND;
		if (lf_lq_is_ident(&p->lx, t, "unless"))
			return LF_MQ_UNLESS;
		return -1;
	default:
		return -1;
	}
}

static int prec_of(enum lf_mq_bop op)
{
	switch (op) {
	case LF_MQ_OR:
		return 1;
	case LF_MQ_AND:
	case LF_MQ_UNLESS:
		return 2;
	case LF_MQ_ADD:
	case LF_MQ_SUB:
		return 4;
	case LF_MQ_MUL:
	case LF_MQ_DIV:
	case LF_MQ_MOD:
		return 5;
	case LF_MQ_POW:
		return 6;
	default:
		return 3; /* comparisons */
	}
}

static int modifiers(struct p *p, struct lf_mq_node *n)
{
	struct lf_lq_token t;
	if (peek(p, &t) < 0)
		return -1;
	if (lf_lq_is_ident(&p->lx, &t, "bool")) {
		next(p, &t);
		n->return_bool = true;
		if (peek(p, &t) < 0)
			return -1;
	}
	bool on = lf_lq_is_ident(&p->lx, &t, "on");
	if (!on && !lf_lq_is_ident(&p->lx, &t, "ignoring"))
		return 0;
	next(p, &t);
	n->has_matching = true;
	n->on = on;
	if (label_list(p, &n->match_names, &n->n_match) < 0)
		return -1;
	if (peek(p, &t) < 0)
		return -1;
	bool gl = lf_lq_is_ident(&p->lx, &t, "group_left");
	if (!gl && !lf_lq_is_ident(&p->lx, &t, "group_right"))
		return 0;
	next(p, &t);
	n->card = gl ? 1 : 2;
	if (peek(p, &t) < 0)
		return -1;
	if (t.kind == LF_LQ_LPAREN) {
		/* `group_left (a, b)`: labels when the parenthesis holds only
		 * identifiers; otherwise it starts the right-hand side */
		const char *s = p->lx.s + t.pos + 1, *e = p->lx.s + p->lx.len;
		bool labels = true;
		for (; s < e && *s != ')'; s++)
			if (!(*s == ',' || *s == ' ' || *s == '\t' || *s == '\n' || *s == '_' ||
			      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			      (*s >= '0' && *s <= '9')))
				labels = false;
		if (labels && s < e)
			return label_list(p, &n->include_names, &n->n_include);
	}
	return 0;
}

static bool is_set_op(enum lf_mq_bop op)
{
	return op == LF_MQ_OR || op == LF_MQ_AND || op == LF_MQ_UNLESS;
}

static int expr(struct p *p, int minprec, struct lf_mq_node **out)
{
	if (++p->depth > MAX_DEPTH) {
		p->depth--;
		return lf_err(p->err, "parse error : expression nested too deeply");
	}
	int rc = primary(p, out);
	while (rc == 0) {
		struct lf_lq_token t;
		if ((rc = peek(p, &t)) < 0)
			break;
		int op = binop_of(p, &t);
		if (op < 0 || prec_of((enum lf_mq_bop)op) < minprec)
			break;
		next(p, &t);
		int pr = prec_of((enum lf_mq_bop)op);
		struct lf_mq_node *n = node_new(p, LF_MQ_BINOP);
		if (!n) {
			rc = -1;
			break;
		}
		n->bop = (enum lf_mq_bop)op;
		n->l = *out;
		*out = n;
		if ((rc = modifiers(p, n)) < 0)
			break;
		if ((rc = expr(p, op == LF_MQ_POW ? pr : pr + 1, &n->r)) < 0)
			break;
		if (n->l->kind == LF_MQ_LOG || n->r->kind == LF_MQ_LOG) {
			bool left = n->l->kind == LF_MQ_LOG;
			rc = lf_err(p->err,
			            "parse error : unexpected type for %s leg of binary operation "
			            "(%s): %s",
			            left ? "left" : "right", bop_names[op],
			            log_type(left ? n->l : n->r));
			break;
		}
		if (is_set_op(n->bop)) {
			if (n->l->kind == LF_MQ_LITERAL) {
				char v[64];
				snprintf(v, sizeof(v), "%f", n->l->num);
				rc = lf_err(p->err,
				            "parse error : unexpected literal for left leg of "
				            "logical/set binary operation (%s): %s",
				            bop_names[op], v);
				break;
			}
			if (n->r->kind == LF_MQ_LITERAL) {
				char v[64];
				snprintf(v, sizeof(v), "%f", n->r->num);
				rc = lf_err(p->err,
				            "parse error : unexpected literal for right leg of "
				            "logical/set binary operation (%s): %s",
				            bop_names[op], v);
				break;
			}
		}
		if (n->l->kind == LF_MQ_LITERAL && n->r->kind == LF_MQ_LITERAL) {
			/* folded: comparisons of literals give 0/1 */
			bool keep;
			double v = lf_mq_apply(n->bop, n->l->num, n->r->num, true, &keep);
			struct lf_mq_node *lit = n->l;
			n->l = NULL;
			lit->num = v;
			lf_mq_free(n);
			*out = lit;
		}
	}
	p->depth--;
	return rc;
}

int lf_mq_parse(const char *q, size_t len, struct lf_mq_node **out, struct lf_error *err)
{
	struct p p = {.err = err};
	*out = NULL;
	if (len > 5120) /* Loki's maxInputSize */
		return lf_err(err, "parse error : input size too long (%zu > 5120)", len);
	lf_lq_lexer_init(&p.lx, q, len);
	struct lf_mq_node *n = NULL;
	int rc = expr(&p, 0, &n);
	if (rc == 0)
		rc = no_log(&p, n);
	if (rc == 0) {
		struct lf_lq_token t;
		if (next(&p, &t) < 0)
			rc = -1;
		else if (t.kind != LF_LQ_EOF)
			rc = lf_lq_syntax_error(err, &t, NULL);
	}
	lf_lq_lexer_free(&p.lx);
	if (rc < 0) {
		lf_mq_free(n);
		return -1;
	}
	*out = n;
	return 0;
}
