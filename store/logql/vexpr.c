/* vexpr.c — see vexpr.h. A recursive-descent parser that evaluates as it
 * parses (the expressions are constant). Precedence as in PromQL/LogQL:
 * ^ (right-assoc) > unary - > * / % > + -. */
#include "vexpr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "selector.h"

struct p {
	struct lf_lq_lexer lx;
	struct lf_error *err;
};

struct val {
	double v;
	bool vec;
};

static int expr(struct p *p, struct val *out);

static int expect(struct p *p, enum lf_lq_tok kind, const char *what)
{
	struct lf_lq_token t;
	if (lf_lq_next(&p->lx, &t, p->err) < 0)
		return -1;
	if (t.kind != kind)
		return lf_lq_syntax_error(p->err, &t, what);
	return 0;
}

static int primary(struct p *p, struct val *out)
{
	struct lf_lq_token t;
	if (lf_lq_next(&p->lx, &t, p->err) < 0)
		return -1;
	if (t.kind == LF_LQ_NUMBER) {
		char buf[64];
		size_t n = t.len < sizeof(buf) - 1 ? t.len : sizeof(buf) - 1;
		memcpy(buf, p->lx.s + t.pos, n);
		buf[n] = 0;
		char *end;
		out->v = strtod(buf, &end);
		if (*end)
			return lf_lq_syntax_error(p->err, &t, NULL);
		out->vec = false;
		return 0;
	}
	if (t.kind == LF_LQ_LPAREN) {
		if (expr(p, out) < 0)
			return -1;
		return expect(p, LF_LQ_RPAREN, ")");
	}
	if (t.kind == LF_LQ_IDENT && lf_lq_is_ident(&p->lx, &t, "vector")) {
		if (expect(p, LF_LQ_LPAREN, "(") < 0)
			return -1;
		struct val in;
		if (expr(p, &in) < 0)
			return -1;
		if (expect(p, LF_LQ_RPAREN, ")") < 0)
			return -1;
		out->v = in.v;
		out->vec = true;
		return 0;
	}
	return lf_lq_syntax_error(p->err, &t, NULL);
}

static int unary(struct p *p, struct val *out);

static int power(struct p *p, struct val *out)
{
	if (primary(p, out) < 0)
		return -1;
	struct lf_lq_token t;
	if (lf_lq_peek(&p->lx, &t, p->err) < 0)
		return -1;
	if (t.kind == LF_LQ_POW) {
		lf_lq_next(&p->lx, &t, p->err);
		struct val r;
		if (unary(p, &r) < 0)
			return -1;
		out->v = pow(out->v, r.v);
		out->vec |= r.vec;
	}
	return 0;
}

static int unary(struct p *p, struct val *out)
{
	struct lf_lq_token t;
	if (lf_lq_peek(&p->lx, &t, p->err) < 0)
		return -1;
	if (t.kind == LF_LQ_SUB || t.kind == LF_LQ_ADD) {
		lf_lq_next(&p->lx, &t, p->err);
		if (unary(p, out) < 0)
			return -1;
		if (t.kind == LF_LQ_SUB)
			out->v = -out->v;
		return 0;
	}
	return power(p, out);
}

static int term(struct p *p, struct val *out)
{
	if (unary(p, out) < 0)
		return -1;
	for (;;) {
		struct lf_lq_token t;
		if (lf_lq_peek(&p->lx, &t, p->err) < 0)
			return -1;
		if (t.kind != LF_LQ_MUL && t.kind != LF_LQ_DIV && t.kind != LF_LQ_MOD)
			return 0;
		lf_lq_next(&p->lx, &t, p->err);
		struct val r;
		if (unary(p, &r) < 0)
			return -1;
		if (t.kind == LF_LQ_MUL)
			out->v *= r.v;
		else if (t.kind == LF_LQ_DIV)
			out->v /= r.v;
		else
			out->v = fmod(out->v, r.v);
		out->vec |= r.vec;
	}
}

static int expr(struct p *p, struct val *out)
{
	if (term(p, out) < 0)
		return -1;
	for (;;) {
		struct lf_lq_token t;
		if (lf_lq_peek(&p->lx, &t, p->err) < 0)
			return -1;
		if (t.kind != LF_LQ_ADD && t.kind != LF_LQ_SUB)
			return 0;
		lf_lq_next(&p->lx, &t, p->err);
		struct val r;
		if (term(p, &r) < 0)
			return -1;
		out->v = t.kind == LF_LQ_ADD ? out->v + r.v : out->v - r.v;
		out->vec |= r.vec;
	}
}

int lf_vexpr_eval(const char *q, size_t len, double *value, bool *is_vector, struct lf_error *err)
{
	struct p p = {.err = err};
	lf_lq_lexer_init(&p.lx, q, len);
	struct val v = {0, false};
	int rc = expr(&p, &v);
	if (rc == 0) {
		struct lf_lq_token t;
		if (lf_lq_next(&p.lx, &t, err) < 0)
			rc = -1;
		else if (t.kind != LF_LQ_EOF)
			rc = lf_lq_syntax_error(err, &t, NULL);
	}
	lf_lq_lexer_free(&p.lx);
	if (rc == 0) {
		*value = v.v;
		*is_vector = v.vec;
	}
	return rc;
}
