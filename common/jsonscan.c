/* jsonscan.c — see jsonscan.h. */
#include "jsonscan.h"

#include <string.h>

#include "utf8.h"

static const char E_OBJ[] = "Value looks like object, but can't find closing '}' symbol";
static const char E_JSON[] = "Malformed JSON error";
static const char E_ARR[] = "Value is array, but can't find closing ']' symbol";
static const char E_STR[] = "Value is string, but can't find closing '\"' symbol";
static const char E_TYPE[] = "Unknown value type";
static const char E_ESC[] = "Encountered an invalid escape sequence in a string";

static inline bool is_ws(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Index of the next non-space byte at or after i, or n. */
static size_t next_tok(const char *s, size_t n, size_t i)
{
	while (i < n && is_ws(s[i]))
		i++;
	return i;
}

/* s[i] is just after an opening quote: index just after the closing one,
 * or 0 when there is none. */
static size_t string_end(const char *s, size_t n, size_t i, bool *escaped)
{
	*escaped = false;
	for (; i < n; i++) {
		if (s[i] == '\\') {
			*escaped = true;
			if (++i >= n)
				return 0;
		} else if (s[i] == '"') {
			return i + 1;
		}
	}
	return 0;
}

/* s[i] is the opening symbol: index after the matching close, or 0. */
static size_t block_end(const char *s, size_t n, size_t i, char open, char close)
{
	int level = 0;
	for (; i < n; i++) {
		char c = s[i];
		if (c == '"') {
			bool esc;
			size_t e = string_end(s, n, i + 1, &esc);
			if (!e)
				return 0;
			i = e - 1;
		} else if (c == open) {
			level++;
		} else if (c == close) {
			if (--level == 0)
				return i + 1;
		}
	}
	return 0;
}

static size_t token_end(const char *s, size_t n, size_t i)
{
	for (; i < n; i++) {
		char c = s[i];
		if (is_ws(c) || c == ',' || c == '}' || c == ']')
			return i;
	}
	return n;
}

int lf_json_each(const char *s, size_t n, lf_json_member_fn fn, void *ctx, const char **errmsg)
{
	size_t i = next_tok(s, n, 0);
	if (i >= n || s[i] != '{') {
		*errmsg = E_OBJ;
		return -1;
	}
	i = next_tok(s, n, i + 1);
	if (i >= n) {
		*errmsg = E_JSON;
		return -1;
	}
	while (i < n) {
		if (s[i] == '}')
			return 0;
		if (s[i] != '"') {
			*errmsg = E_OBJ;
			return -1;
		}
		bool kesc;
		size_t ke = string_end(s, n, i + 1, &kesc);
		if (!ke) {
			*errmsg = E_JSON;
			return -1;
		}
		const char *key = s + i + 1;
		size_t kl = ke - i - 2;
		i = next_tok(s, n, ke);
		if (i >= n || s[i] != ':') {
			*errmsg = E_JSON;
			return -1;
		}
		i = next_tok(s, n, i + 1);
		if (i >= n) {
			*errmsg = E_JSON;
			return -1;
		}
		enum lf_json_type t;
		const char *v = s + i;
		size_t vl, end;
		char c = s[i];
		if (c == '"') {
			bool esc;
			end = string_end(s, n, i + 1, &esc);
			if (!end) {
				*errmsg = E_STR;
				return -1;
			}
			t = LF_JSON_STRING;
			v = s + i + 1;
			vl = end - i - 2;
		} else if (c == '[' || c == '{') {
			end = block_end(s, n, i, c, c == '[' ? ']' : '}');
			if (!end) {
				*errmsg = c == '[' ? E_ARR : E_OBJ;
				return -1;
			}
			t = c == '[' ? LF_JSON_ARRAY : LF_JSON_OBJECT;
			vl = end - i;
		} else {
			end = token_end(s, n, i);
			vl = end - i;
			if (c == 't' || c == 'f') {
				if (!((vl == 4 && !memcmp(v, "true", 4)) ||
				      (vl == 5 && !memcmp(v, "false", 5)))) {
					*errmsg = E_TYPE;
					return -1;
				}
				t = LF_JSON_BOOL;
			} else if (c == 'n' || c == 'u') {
				if (!(vl == 4 && !memcmp(v, "null", 4))) {
					*errmsg = E_TYPE;
					return -1;
				}
				t = LF_JSON_NULL;
			} else if ((c >= '0' && c <= '9') || c == '-') {
				t = LF_JSON_NUMBER;
			} else {
				*errmsg = E_TYPE;
				return -1;
			}
		}
		if (kesc) {
			/* validated here, decoded by the caller */
			struct lf_buf tmp = LF_BUF_INIT;
			bool ok = lf_json_unescape(key, kl, &tmp);
			lf_buf_free(&tmp);
			if (!ok) {
				*errmsg = E_ESC;
				return -1;
			}
		}
		int rc = fn(ctx, key, kl, kesc, v, vl, t);
		if (rc)
			return rc;
		i = next_tok(s, n, end);
		if (i >= n) {
			*errmsg = E_ARR;
			return -1;
		}
		if (s[i] == '}')
			return 0;
		if (s[i] != ',') {
			*errmsg = E_OBJ;
			return -1;
		}
		i = next_tok(s, n, i + 1);
		if (i >= n) {
			*errmsg = E_ARR;
			return -1;
		}
	}
	*errmsg = E_OBJ;
	return -1;
}

static int hex4(const char *s)
{
	int v = 0;
	for (int k = 0; k < 4; k++) {
		int h = lf_hexval(s[k]);
		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

bool lf_json_unescape(const char *s, size_t n, struct lf_buf *out)
{
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			run++;
			continue;
		}
		if (run && lf_buf_append(out, s + i - run, run) < 0)
			return false;
		run = 0;
		if (++i >= n)
			return false;
		char c = s[i], o;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			o = c;
			break;
		case 'b':
			o = '\b';
			break;
		case 'f':
			o = '\f';
			break;
		case 'n':
			o = '\n';
			break;
		case 'r':
			o = '\r';
			break;
		case 't':
			o = '\t';
			break;
		case 'u': {
			if (i + 4 >= n)
				return false;
			int cp = hex4(s + i + 1);
			if (cp < 0)
				return false;
			i += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < n && s[i + 1] == '\\' &&
			    s[i + 2] == 'u') {
				int lo = hex4(s + i + 3);
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					i += 6;
				} else {
					cp = 0xfffd;
				}
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;
			}
			lf_utf8_append(out, (uint32_t)cp);
			continue;
		}
		default:
			return false;
		}
		lf_buf_putc(out, o);
	}
	if (run && lf_buf_append(out, s + n - run, run) < 0)
		return false;
	if (!out->data)
		lf_buf_append(out, "", 0);
	return true;
}

/* ---- strict ---- */

/* Skips one value at s[i]; returns the index after it or 0 on error. */
static size_t skip_value(const char *s, size_t n, size_t i, int depth);

static size_t skip_string(const char *s, size_t n, size_t i)
{
	/* s[i] == '"' */
	for (i++; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"')
			return i + 1;
		if (c < 0x20)
			return 0;
		if (c == '\\') {
			if (++i >= n)
				return 0;
			switch (s[i]) {
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				break;
			case 'u':
				if (i + 4 >= n || hex4(s + i + 1) < 0)
					return 0;
				i += 4;
				break;
			default:
				return 0;
			}
		}
	}
	return 0;
}

static size_t skip_number(const char *s, size_t n, size_t i)
{
	if (i < n && s[i] == '-')
		i++;
	if (i >= n)
		return 0;
	if (s[i] == '0') {
		i++;
	} else if (s[i] >= '1' && s[i] <= '9') {
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	} else {
		return 0;
	}
	if (i < n && s[i] == '.') {
		i++;
		size_t d = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return 0;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t d = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return 0;
	}
	return i;
}

static size_t skip_value(const char *s, size_t n, size_t i, int depth)
{
	if (depth > 1000)
		return 0;
	i = next_tok(s, n, i);
	if (i >= n)
		return 0;
	switch (s[i]) {
	case '"':
		return skip_string(s, n, i);
	case '{':
		i = next_tok(s, n, i + 1);
		if (i < n && s[i] == '}')
			return i + 1;
		for (;;) {
			if (i >= n || s[i] != '"' || !(i = skip_string(s, n, i)))
				return 0;
			i = next_tok(s, n, i);
			if (i >= n || s[i] != ':')
				return 0;
			if (!(i = skip_value(s, n, i + 1, depth + 1)))
				return 0;
			i = next_tok(s, n, i);
			if (i < n && s[i] == '}')
				return i + 1;
			if (i >= n || s[i] != ',')
				return 0;
			i = next_tok(s, n, i + 1);
		}
	case '[':
		i = next_tok(s, n, i + 1);
		if (i < n && s[i] == ']')
			return i + 1;
		for (;;) {
			if (!(i = skip_value(s, n, i, depth + 1)))
				return 0;
			i = next_tok(s, n, i);
			if (i < n && s[i] == ']')
				return i + 1;
			if (i >= n || s[i] != ',')
				return 0;
			i++;
		}
	case 't':
		return n - i >= 4 && !memcmp(s + i, "true", 4) ? i + 4 : 0;
	case 'f':
		return n - i >= 5 && !memcmp(s + i, "false", 5) ? i + 5 : 0;
	case 'n':
		return n - i >= 4 && !memcmp(s + i, "null", 4) ? i + 4 : 0;
	default:
		return skip_number(s, n, i);
	}
}

bool lf_json_valid(const char *s, size_t n)
{
	size_t e = skip_value(s, n, 0, 0);
	return e && next_tok(s, n, e) == n;
}

/* Compares the raw (possibly escaped) key s[0..n) with the decoded want. */
static bool key_eq(const char *s, size_t n, const char *want, size_t wl)
{
	if (!memchr(s, '\\', n))
		return n == wl && !memcmp(s, want, wl);
	struct lf_buf b = LF_BUF_INIT;
	bool eq = lf_json_unescape(s, n, &b) && b.len == wl && !memcmp(b.data, want, wl);
	lf_buf_free(&b);
	return eq;
}

enum lf_json_type lf_json_get(const char *s, size_t n, const struct lf_json_step *path,
                              size_t n_steps, const char **val, size_t *val_len)
{
	size_t i = next_tok(s, n, 0);
	for (size_t k = 0; k < n_steps; k++) {
		const struct lf_json_step *st = &path[k];
		if (i >= n)
			return LF_JSON_NONE;
		bool found = false;
		if (st->key && s[i] == '{') {
			i = next_tok(s, n, i + 1);
			while (i < n && s[i] == '"') {
				size_t ke = skip_string(s, n, i);
				if (!ke)
					return LF_JSON_NONE;
				bool eq = key_eq(s + i + 1, ke - i - 2, st->key, st->key_len);
				i = next_tok(s, n, ke) + 1; /* ':' */
				i = next_tok(s, n, i);
				if (eq) {
					found = true;
					break;
				}
				size_t e = skip_value(s, n, i, 0);
				if (!e)
					return LF_JSON_NONE;
				i = next_tok(s, n, e);
				if (i < n && s[i] == ',')
					i = next_tok(s, n, i + 1);
			}
		} else if (!st->key && s[i] == '[') {
			i = next_tok(s, n, i + 1);
			for (size_t idx = 0; i < n && s[i] != ']'; idx++) {
				if (idx == st->index) {
					found = true;
					break;
				}
				size_t e = skip_value(s, n, i, 0);
				if (!e)
					return LF_JSON_NONE;
				i = next_tok(s, n, e);
				if (i < n && s[i] == ',')
					i = next_tok(s, n, i + 1);
			}
		}
		if (!found)
			return LF_JSON_NONE;
	}
	if (i >= n)
		return LF_JSON_NONE;
	size_t e = skip_value(s, n, i, 0);
	if (!e)
		return LF_JSON_NONE;
	switch (s[i]) {
	case '"':
		*val = s + i + 1;
		*val_len = e - i - 2;
		return LF_JSON_STRING;
	case '{':
	case '[':
		*val = s + i;
		*val_len = e - i;
		return s[i] == '{' ? LF_JSON_OBJECT : LF_JSON_ARRAY;
	case 't':
	case 'f':
		*val = s + i;
		*val_len = e - i;
		return LF_JSON_BOOL;
	case 'n':
		return LF_JSON_NULL;
	default:
		*val = s + i;
		*val_len = e - i;
		return LF_JSON_NUMBER;
	}
}
