/* logfmt.c — see logfmt.h. */
#include "logfmt.h"

#include "utf8.h"

/* JSON-style unquote of a quoted body (without the quotes). */
bool lf_logfmt_unquote(const char *s, size_t n, struct lf_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\') {
			if (++i >= n)
				return false;
			switch (s[i]) {
			case '"':
			case '\\':
			case '/':
				lf_buf_putc(out, s[i]);
				break;
			case 'b':
				lf_buf_putc(out, '\b');
				break;
			case 'f':
				lf_buf_putc(out, '\f');
				break;
			case 'n':
				lf_buf_putc(out, '\n');
				break;
			case 'r':
				lf_buf_putc(out, '\r');
				break;
			case 't':
				lf_buf_putc(out, '\t');
				break;
			case 'u': {
				if (i + 4 >= n)
					return false;
				int a = lf_hexval(s[i + 1]), b = lf_hexval(s[i + 2]),
				    c2 = lf_hexval(s[i + 3]), d = lf_hexval(s[i + 4]);
				if (a < 0 || b < 0 || c2 < 0 || d < 0)
					return false;
				unsigned cp = (unsigned)(a << 12 | b << 8 | c2 << 4 | d);
				i += 4;
				if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < n && s[i + 1] == '\\' &&
				    s[i + 2] == 'u') {
					int a2 = lf_hexval(s[i + 3]), b2 = lf_hexval(s[i + 4]),
					    c3 = lf_hexval(s[i + 5]), d2 = lf_hexval(s[i + 6]);
					/* A digit may be -1 (checked below): shift unsigned. */
					unsigned lo = (unsigned)a2 << 12 | (unsigned)b2 << 8 |
					              (unsigned)c3 << 4 | (unsigned)d2;
					if (a2 >= 0 && b2 >= 0 && c3 >= 0 && d2 >= 0 &&
					    lo >= 0xdc00 && lo < 0xe000) {
						cp = 0x10000 + ((cp - 0xd800) << 10) +
						     (lo - 0xdc00);
						i += 6;
					} else {
						cp = 0xfffd;
					}
				} else if (cp >= 0xd800 && cp < 0xe000) {
					cp = 0xfffd;
				}
				lf_utf8_append(out, cp);
				break;
			}
			default:
				return false;
			}
			continue;
		}
		if (c < ' ')
			return false;
		lf_buf_putc(out, (char)c);
	}
	return true;
}

#define STOP(p, m)                                                                                 \
	do {                                                                                       \
		e->pos = (p) + 1;                                                                  \
		e->msg = (m);                                                                      \
		return 1;                                                                          \
	} while (0)

int lf_logfmt_scan(const char *line, size_t n, struct lf_buf *scratch, lf_logfmt_pair_fn fn,
                   void *ctx, struct lf_logfmt_error *e)
{
	size_t pos = 0;
	int rc;
	for (;;) {
		while (pos < n && (unsigned char)line[pos] <= ' ')
			pos++;
		if (pos >= n)
			return 0;
		size_t ks = pos;
		bool high = false;
		while (pos < n) {
			unsigned char c = (unsigned char)line[pos];
			if (c == '=' || c == '"' || c <= ' ')
				break;
			high |= c >= 0x80;
			pos++;
		}
		if (pos < n && line[pos] == '"')
			STOP(pos, "unexpected '\"'");
		const char *key = line + ks;
		size_t kl = pos - ks;
		if (high && !lf_utf8_valid(key, kl))
			STOP(ks, "invalid key");
		if (pos >= n || line[pos] != '=') {
			if ((rc = fn(ctx, key, kl, "", 0, false)))
				return rc;
			continue;
		}
		if (kl == 0)
			STOP(pos, "unexpected '='");
		pos++; /* '=' */
		if (pos >= n || (unsigned char)line[pos] <= ' ') {
			if ((rc = fn(ctx, key, kl, "", 0, false)))
				return rc;
			continue;
		}
		if (line[pos] == '"') {
			size_t qs = pos + 1;
			bool esc = false, has_esc = false;
			size_t j = qs;
			for (; j < n; j++) {
				if (esc) {
					esc = false;
				} else if (line[j] == '\\') {
					esc = has_esc = true;
				} else if (line[j] == '"') {
					break;
				}
			}
			if (j >= n)
				STOP(n > 0 ? n - 1 : 0, "unterminated quoted value");
			if (has_esc) {
				lf_buf_reset(scratch);
				if (!lf_logfmt_unquote(line + qs, j - qs, scratch))
					STOP(qs - 1, "invalid quoted value");
				rc = fn(ctx, key, kl, scratch->data ? scratch->data : "",
				        scratch->len, true);
			} else {
				rc = fn(ctx, key, kl, line + qs, j - qs, true);
			}
			if (rc)
				return rc;
			pos = j + 1;
			continue;
		}
		size_t vs = pos;
		while (pos < n) {
			unsigned char c = (unsigned char)line[pos];
			if (c == '=')
				STOP(pos, "unexpected '='");
			if (c == '"')
				STOP(pos, "unexpected '\"'");
			if (c <= ' ')
				break;
			pos++;
		}
		if ((rc = fn(ctx, key, kl, line + vs, pos - vs, false)))
			return rc;
	}
}
