/* mparse.h — the LogQL (Loki 2.8) metric-query parser: text → AST.
 *
 *   rate({app="x"} |= "err" [5m] offset 1h)
 *   sum by (app) (count_over_time({job="a"} | json [1m]))
 *   quantile_over_time(0.99, {a="b"} | logfmt | unwrap duration(d) [5m]) by (x)
 *   topk(3, sum by (app) (rate({a="b"}[1m]))) / on(app) group_left vector(2)
 *   label_replace(rate({a="b"}[1m]), "dst", "$1", "src", "(.*)")
 *
 * Grammar, precedence (or < and unless < comparisons < + - < * / % < ^,
 * right-associative ^), validation messages and literal folding follow
 * /work/shared/reference/loki-2.8-logql-ruler-sources.md 3.1 and 3.5. The
 * log part of a range expression (`| json`, `| unwrap x`, ...) is parsed by
 * the log pipeline module (pipeline.h) with LF_LQ_PIPE_METRIC.
 *
 * Errors: `parse error at line L, col C: syntax error: unexpected X` for
 * grammar errors, `parse error : <msg>` for validation errors (no position,
 * as Loki). The AST owns everything it points to (lf_mq_free).
 */
#ifndef LF_STORE_LOGQL_MPARSE_H
#define LF_STORE_LOGQL_MPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "regex.h"
#include "selector.h"

struct lf_lq_pipeline;

enum lf_mq_kind {
	LF_MQ_LITERAL,       /* a number (a scalar) */
	LF_MQ_VECTOR,        /* vector(n) */
	LF_MQ_RANGE,         /* xxx_over_time / rate / ... over a log range */
	LF_MQ_VAGG,          /* sum / avg / ... / topk / sort */
	LF_MQ_BINOP,         /* lhs op rhs */
	LF_MQ_LABEL_REPLACE, /* label_replace(v, dst, repl, src, re) */
	LF_MQ_LOG,           /* a log expression where a metric one is wanted: only kept
	                      * while parsing, to give Loki's error */
};

enum lf_mq_rop {
	LF_MQ_COUNT_OVER_TIME,
	LF_MQ_RATE,
	LF_MQ_RATE_COUNTER,
	LF_MQ_BYTES_OVER_TIME,
	LF_MQ_BYTES_RATE,
	LF_MQ_ABSENT_OVER_TIME,
	LF_MQ_SUM_OVER_TIME,
	LF_MQ_AVG_OVER_TIME,
	LF_MQ_MAX_OVER_TIME,
	LF_MQ_MIN_OVER_TIME,
	LF_MQ_STDVAR_OVER_TIME,
	LF_MQ_STDDEV_OVER_TIME,
	LF_MQ_QUANTILE_OVER_TIME,
	LF_MQ_FIRST_OVER_TIME,
	LF_MQ_LAST_OVER_TIME,
};

enum lf_mq_vop {
	LF_MQ_SUM,
	LF_MQ_AVG,
	LF_MQ_MIN,
	LF_MQ_MAX,
	LF_MQ_COUNT,
	LF_MQ_STDDEV,
	LF_MQ_STDVAR,
	LF_MQ_TOPK,
	LF_MQ_BOTTOMK,
	LF_MQ_SORT,
	LF_MQ_SORT_DESC,
};

enum lf_mq_bop {
	LF_MQ_OR,
	LF_MQ_AND,
	LF_MQ_UNLESS,
	LF_MQ_EQ,
	LF_MQ_NEQ,
	LF_MQ_GT,
	LF_MQ_GTE,
	LF_MQ_LT,
	LF_MQ_LTE,
	LF_MQ_ADD,
	LF_MQ_SUB,
	LF_MQ_MUL,
	LF_MQ_DIV,
	LF_MQ_MOD,
	LF_MQ_POW,
};

struct lf_mq_grouping {
	bool present; /* a by/without clause was written */
	bool without;
	char **names;
	size_t n;
};

struct lf_mq_node {
	enum lf_mq_kind kind;
	double num; /* LITERAL, VECTOR; RANGE quantile φ */
	/* RANGE */
	enum lf_mq_rop rop;
	bool has_param;
	struct lf_selector *sel;
	struct lf_lq_pipeline *pipe;
	bool unwrap;
	int64_t range, offset; /* ns */
	/* RANGE and VAGG */
	struct lf_mq_grouping grp;
	/* VAGG */
	enum lf_mq_vop vop;
	int64_t k; /* topk / bottomk */
	/* VAGG, LABEL_REPLACE: arg in l; BINOP: l op r */
	struct lf_mq_node *l, *r;
	enum lf_mq_bop bop;
	bool return_bool;
	bool on;            /* on(...) given (else ignoring(...) or nothing) */
	bool has_matching;  /* on/ignoring written */
	char **match_names; /* on/ignoring labels */
	size_t n_match;
	int card;             /* 0 one-to-one, 1 group_left (many-to-one), 2 group_right */
	char **include_names; /* group_x(...) labels */
	size_t n_include;
	/* LABEL_REPLACE */
	char *dst, *repl, *src, *re_text;
	struct lf_regex *re;
};

/* Parses q[0..len) as a metric query. 0 with *out (free with lf_mq_free),
 * or -1 with a Loki parse error in err. */
int lf_mq_parse(const char *q, size_t len, struct lf_mq_node **out, struct lf_error *err);
void lf_mq_free(struct lf_mq_node *n); /* NULL ok */

const char *lf_mq_rop_name(enum lf_mq_rop op);
const char *lf_mq_vop_name(enum lf_mq_vop op);
const char *lf_mq_bop_name(enum lf_mq_bop op);
/* True for == != > >= < <=. */
bool lf_mq_bop_is_cmp(enum lf_mq_bop op);
/* Applies an arithmetic or comparison operator to two numbers (Go/Prometheus
 * semantics: x/0 and x%0 are NaN... see mparse.c); for comparisons *keep is
 * the comparison's result and the return value is lhs (or 0/1 with
 * return_bool). */
double lf_mq_apply(enum lf_mq_bop op, double lhs, double rhs, bool return_bool, bool *keep);

#endif
