/* vexpr.h — the metric expressions logferry-store answers so far: numbers,
 * vector(<number>), + - * / % ^, unary minus and parentheses, e.g.
 * Grafana's health check `vector(1)+vector(1)`. The rest of LogQL's metric
 * queries builds on the same lexer (common/selector.h) later.
 *
 * Errors are Loki-style: `parse error at line 1, col N: syntax error: ...`.
 */
#ifndef LF_STORE_VEXPR_H
#define LF_STORE_VEXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* Evaluates q. *is_vector tells whether the result is an instant vector
 * (any vector() involved) or a scalar. */
int lf_vexpr_eval(const char *q, size_t len, double *value, bool *is_vector, struct lf_error *err);

#endif
