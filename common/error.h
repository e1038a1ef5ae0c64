/* error.h — the error value every fallible function in logferry fills in.
 *
 * Convention (DESIGN.md §5): a function that can fail returns int (0 ok,
 * negative on error) and takes a `struct lf_error *err` owned by the caller.
 * On failure it writes a message naming the offending value (file, line, key,
 * label) into err->msg. err may be NULL when the caller does not want the text.
 */
#ifndef LF_ERROR_H
#define LF_ERROR_H

#include <stddef.h>

#define LF_ERROR_MAX 1024

struct lf_error {
	char msg[LF_ERROR_MAX];
};

/* Writes the formatted message into err (if non-NULL) and returns -1, so
 * `return lf_err(err, "open %s: %s", path, strerror(errno));` is the idiom. */
int lf_err(struct lf_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends context to an existing message: "ctx: old message". Returns -1. */
int lf_err_prefix(struct lf_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears err->msg to "". */
void lf_err_clear(struct lf_error *err);

#endif
