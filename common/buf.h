/* buf.h — a growable byte buffer, the reusable scratch space of hot paths.
 *
 * `data` is always NUL-terminated after any successful operation (the NUL is
 * not counted in len), so a buffer holding text can be used as a C string.
 * lf_buf_reset() keeps the allocation: reuse one buffer per loop, not one
 * malloc per line. A zero-initialised struct is a valid empty buffer.
 */
#ifndef LF_BUF_H
#define LF_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct lf_buf {
	char *data;
	size_t len;
	size_t cap;
};

#define LF_BUF_INIT                                                                                \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* All return 0 on success, -1 when memory runs out (buffer unchanged). */
int lf_buf_reserve(struct lf_buf *b, size_t extra);
int lf_buf_append(struct lf_buf *b, const void *p, size_t n);
int lf_buf_appends(struct lf_buf *b, const char *s);
int lf_buf_putc(struct lf_buf *b, char c);
int lf_buf_printf(struct lf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int lf_buf_vprintf(struct lf_buf *b, const char *fmt, va_list ap);
/* Appends s as a Go-style double-quoted string ("a\"b\n"), as Prometheus
 * renders label values and as logfmt quotes values. */
int lf_buf_append_quoted(struct lf_buf *b, const char *s, size_t n);
/* Appends s as a YAML double-quoted scalar that any YAML reader reads back
 * as exactly s: beyond the escapes above, U+0085, U+2028 and U+2029 (line
 * breaks to YAML), C1 controls, U+FEFF, U+FFFE and U+FFFF are escaped
 * (found by fuzz_rules: a rule group name with U+2029 written by the rules
 * API did not load back as the same name). */
int lf_buf_append_yaml_quoted(struct lf_buf *b, const char *s, size_t n);
/* Appends s with JSON string escaping, including the surrounding quotes. */
int lf_buf_append_json_string(struct lf_buf *b, const char *s, size_t n);

void lf_buf_reset(struct lf_buf *b); /* len = 0, memory kept */
void lf_buf_free(struct lf_buf *b);  /* releases memory, back to empty */
/* Hands the allocation to the caller (NUL-terminated, may be NULL if empty)
 * and leaves b empty. */
char *lf_buf_take(struct lf_buf *b);

#endif
