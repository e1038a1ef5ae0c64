/* buf.c — see buf.h. */
#include "buf.h"
#include "utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lf_buf_reserve(struct lf_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1; /* +1: the trailing NUL */
	if (need < b->len)
		return -1; /* overflow */
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			return -1;
		cap *= 2;
	}
	char *p = realloc(b->data, cap);
	if (!p)
		return -1;
	/* A first allocation must hold the "" the header promises (found by
	 * fuzz_yaml: lf_expand_env("") returned unterminated memory). */
	p[b->len] = '\0';
	b->data = p;
	b->cap = cap;
	return 0;
}

int lf_buf_append(struct lf_buf *b, const void *p, size_t n)
{
	if (lf_buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int lf_buf_appends(struct lf_buf *b, const char *s)
{
	return lf_buf_append(b, s, strlen(s));
}

int lf_buf_putc(struct lf_buf *b, char c)
{
	if (lf_buf_reserve(b, 1) < 0)
		return -1;
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return 0;
}

int lf_buf_vprintf(struct lf_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	char small[256];
	int n = vsnprintf(small, sizeof small, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof small)
		return lf_buf_append(b, small, (size_t)n);
	if (lf_buf_reserve(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int lf_buf_printf(struct lf_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = lf_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

static const char hexdig[] = "0123456789abcdef";

/* Go's strconv.Quote keeps printable UTF-8 as is; we keep every byte >= 0x20
 * except DEL and escape the rest, which is what Prometheus' text form needs
 * (it escapes only backslash, quote and newline). */
int lf_buf_append_quoted(struct lf_buf *b, const char *s, size_t n)
{
	if (lf_buf_reserve(b, n + 2) < 0)
		return -1;
	if (lf_buf_putc(b, '"') < 0)
		return -1;
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char hex[5];
		switch (c) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				hex[0] = '\\';
				hex[1] = 'x';
				hex[2] = hexdig[c >> 4];
				hex[3] = hexdig[c & 15];
				hex[4] = '\0';
				esc = hex;
			}
		}
		if (esc) {
			if (lf_buf_append(b, s + start, i - start) < 0 ||
			    lf_buf_appends(b, esc) < 0)
				return -1;
			start = i + 1;
		}
	}
	if (lf_buf_append(b, s + start, n - start) < 0)
		return -1;
	return lf_buf_putc(b, '"');
}

int lf_buf_append_yaml_quoted(struct lf_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	int rc = lf_buf_putc(b, '"');
	for (size_t i = 0; i < n && rc == 0; i++) {
		unsigned char c = p[i];
		size_t left = n - i - 1; /* bytes after c */
		char h[8];
		if (c == '"' || c == '\\') {
			h[0] = '\\', h[1] = (char)c, h[2] = 0;
			rc = lf_buf_appends(b, h);
		} else if (c == '\n') {
			rc = lf_buf_appends(b, "\\n");
		} else if (c == '\r') {
			rc = lf_buf_appends(b, "\\r");
		} else if (c == '\t') {
			rc = lf_buf_appends(b, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(h, sizeof h, "\\x%c%c", hexdig[c >> 4], hexdig[c & 15]);
			rc = lf_buf_appends(b, h);
		} else if (c == 0xc2 && left >= 1 && p[i + 1] == 0x85) {
			rc = lf_buf_appends(b, "\\N");
			i++;
		} else if (c == 0xc2 && left >= 1 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
			snprintf(h, sizeof h, "\\x%c%c", hexdig[p[i + 1] >> 4],
			         hexdig[p[i + 1] & 15]);
			rc = lf_buf_appends(b, h); /* a C1 control */
			i++;
		} else if (c == 0xe2 && left >= 2 && p[i + 1] == 0x80 &&
		           (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
			rc = lf_buf_appends(b, p[i + 2] == 0xa8 ? "\\L" : "\\P");
			i += 2;
		} else if (c == 0xef && left >= 2 && p[i + 1] == 0xbb && p[i + 2] == 0xbf) {
			rc = lf_buf_appends(b, "\\ufeff");
			i += 2;
		} else if (c == 0xef && left >= 2 && p[i + 1] == 0xbf &&
		           (p[i + 2] == 0xbe || p[i + 2] == 0xbf)) {
			rc = lf_buf_appends(b, p[i + 2] == 0xbe ? "\\ufffe" : "\\uffff");
			i += 2;
		} else {
			rc = lf_buf_putc(b, (char)c);
		}
	}
	return rc < 0 ? -1 : lf_buf_putc(b, '"');
}

/* JSON output must be valid UTF-8: invalid bytes become U+FFFD, as Go's
 * encoding/json does (so Loki-compatible responses stay parseable). */
int lf_buf_append_json_string(struct lf_buf *b, const char *s, size_t n)
{
	if (lf_buf_reserve(b, n + 2) < 0 || lf_buf_putc(b, '"') < 0)
		return -1;
	const unsigned char *u = (const unsigned char *)s;
	size_t start = 0, i = 0;
	while (i < n) {
		unsigned char c = u[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0x80) {
			uint32_t seq_cp;
			size_t l = lf_utf8_decode(u + i, n - i, &seq_cp);
			if (l) {
				i += l;
				continue;
			}
		}
		if (lf_buf_append(b, s + start, i - start) < 0)
			return -1;
		int r;
		switch (c) {
		case '"':
			r = lf_buf_appends(b, "\\\"");
			break;
		case '\\':
			r = lf_buf_appends(b, "\\\\");
			break;
		case '\n':
			r = lf_buf_appends(b, "\\n");
			break;
		case '\r':
			r = lf_buf_appends(b, "\\r");
			break;
		case '\t':
			r = lf_buf_appends(b, "\\t");
			break;
		default:
			if (c < 0x20)
				r = lf_buf_printf(b, "\\u%04x", c);
			else
				r = lf_buf_appends(b, "\xef\xbf\xbd"); /* U+FFFD */
		}
		if (r < 0)
			return -1;
		i++;
		start = i;
	}
	if (lf_buf_append(b, s + start, n - start) < 0)
		return -1;
	return lf_buf_putc(b, '"');
}

void lf_buf_reset(struct lf_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void lf_buf_free(struct lf_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *lf_buf_take(struct lf_buf *b)
{
	char *p = b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
