/* jsonscan.c — see jsonscan.h. */
#include "jsonscan.h"

#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

static int hex4(const char *s);

/* Are the backslash escapes of a string body valid (what lf_json_unescape
 * accepts)? No allocation. */
static bool escapes_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\')
			continue;
		if (++i >= n)
			return false;
		if (s[i] == 'u') {
			if (i + 4 >= n || hex4(s + i + 1) < 0)
				return false;
			i += 4;
		} else if (!strchr("\"\\/bfnrt", s[i]) || !s[i]) {
			return false;
		}
	}
	return true;
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
			if (!escapes_ok(key, kl)) {
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

int lf_json_hex4(const char *s, size_t n)
{
	return n < 4 ? -1 : hex4(s);
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

/* Unescapes the body of a JSON string (validated before) into out, Go
 * style: bad surrogates and invalid UTF-8 become U+FFFD. */
void lf_json_unescape_go(const char *s, size_t n, struct lf_buf *out)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\') {
			char e = s[i + 1];
			i += 2;
			switch (e) {
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
				/* callers validate; still, never shift a -1 or read
				 * past n (issue 17: found by fuzz_stage_json) */
				int h4 = lf_json_hex4(s + i, n - i);
				if (h4 < 0) {
					lf_utf8_append(out, 0xfffd);
					break;
				}
				unsigned cp = (unsigned)h4;
				i += 4;
				if (cp >= 0xd800 && cp < 0xdc00) {
					int lo4 = i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u'
					                  ? lf_json_hex4(s + i + 2, n - i - 2)
					                  : -1;
					if (lo4 >= 0) {
						unsigned lo = (unsigned)lo4;
						if (lo >= 0xdc00 && lo < 0xe000) {
							cp = 0x10000 + ((cp - 0xd800) << 10) +
							     (lo - 0xdc00);
							i += 6;
						} else {
							cp = 0xfffd;
						}
					} else {
						cp = 0xfffd;
					}
				} else if (cp >= 0xdc00 && cp < 0xe000) {
					cp = 0xfffd;
				}
				lf_utf8_append(out, cp);
				break;
			}
			default: /* " \ / */
				lf_buf_putc(out, e);
			}
			continue;
		}
		if (c < 0x80) {
			size_t j = i;
			while (j < n && (unsigned char)s[j] < 0x80 && s[j] != '\\')
				j++;
			lf_buf_append(out, s + i, j - i);
			i = j;
			continue;
		}
		/* multi-byte: copy valid sequences, replace bad bytes */
		size_t len = (c & 0xe0) == 0xc0   ? 2
		             : (c & 0xf0) == 0xe0 ? 3
		             : (c & 0xf8) == 0xf0 ? 4
		                                  : 0;
		if (len && i + len <= n && lf_utf8_valid(s + i, len)) {
			lf_buf_append(out, s + i, len);
			i += len;
		} else {
			lf_utf8_append(out, 0xfffd);
			i++;
		}
	}
}

/* JSON whitespace. */
static const unsigned char jws[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};

/* The parser works on a local cursor `p` (loads and stores of jp->p
 * would alias the node stores) and relies on the NUL after the input
 * (json_parse): *p is readable up to and including the end, and the NUL
 * there matches no token byte, so "*p == x" needs no bounds check. */

/* Compact JSON (the common case) has no whitespace between tokens, so the
 * first byte is checked alone. Lines padded with spaces after the document
 * are skipped 8 bytes per step. */
static inline const char *skip_ws(const char *p, const char *end)
{
	if (!jws[(unsigned char)*p])
		return p;
	for (uint64_t w; end - p >= 8; p += 8) {
		memcpy(&w, p, 8);
		if (w != 0x2020202020202020ull)
			break;
	}
	while (jws[(unsigned char)*p])
		p++;
	return p;
}

/* Appends a node; returns its index or -1 (ENOMEM). Nodes are written
 * whole, once: the string and number members of an object (most nodes)
 * are complete when they are created. */
static inline int add_node(struct lf_jparser *jp, const struct lf_jnode *x)
{
	if (__builtin_expect(jp->n == jp->cap, 0)) {
		size_t c = jp->cap ? jp->cap * 2 : 64;
		struct lf_jnode *v = realloc(jp->v, c * sizeof *v);
		if (!v)
			return -1;
		jp->v = v;
		jp->cap = c;
	}
	jp->v[jp->n] = *x;
	return (int)jp->n++;
}

static int new_node(struct lf_jparser *jp, uint8_t type)
{
	return add_node(jp, &(struct lf_jnode){.type = type});
}

/* Bytes that end the fast part of a string scan: '"', '\\', control
 * characters (invalid inside JSON strings; NUL also ends the input, see
 * json_parse) and bytes >= 0x80 (which clear *ascii). */
static const unsigned char jstr_stop[256] = {
        [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1};

/* Scans a string body from p (after the opening quote); returns the
 * closing quote, or NULL when the string is malformed or unterminated.
 * Sets *esc, and *ascii when no byte is >= 0x80 (then it needs no UTF-8
 * check). The input ends with a NUL (json_parse), a stop byte, so the inner
 * loops need no bounds check. Inlined into its callers: the call itself
 * cost about a fifth of the scan for the short keys and values of typical
 * log lines. */
static inline __attribute__((always_inline)) const char *
scan_string(const char *sp, const char *send, bool *esc, bool *ascii)
{
	const unsigned char *p = (const unsigned char *)sp;
	const unsigned char *end = (const unsigned char *)send;
	*esc = false;
	*ascii = true;
	for (;;) {
#ifdef __SSE2__
		/* 16 bytes per step while they are inside the input (no read
		 * past it): a stop byte is '"', '\\' or, compared signed, below
		 * 0x20 (control bytes and bytes >= 0x80). */
		while (end - p >= 16) {
			__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
			__m128i stop =
			        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
			                                  _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
			                     _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
			unsigned m = (unsigned)_mm_movemask_epi8(stop);
			if (m) {
				p += __builtin_ctz(m);
				goto stopped;
			}
			p += 16;
		}
#endif
		/* unrolled by 4: most bytes are plain */
		while (!jstr_stop[p[0]] && !jstr_stop[p[1]] && !jstr_stop[p[2]] && !jstr_stop[p[3]])
			p += 4;
		while (!jstr_stop[*p])
			p++;
#ifdef __SSE2__
	stopped:
#endif
		if (*p == '"')
			return (const char *)p;
		if (p >= end)
			return NULL;
		if (*p >= 0x80) {
			*ascii = false;
			p++;
			continue;
		}
		if (*p < 0x20)
			return NULL;
		/* backslash */
		*esc = true;
		if (p + 1 >= end)
			return NULL;
		unsigned char e = p[1];
		if (e == 'u') {
			if (p + 6 > end)
				return NULL;
			for (int k = 2; k < 6; k++)
				if (lf_hexval((char)p[k]) < 0)
					return NULL;
			p += 6;
			continue;
		}
		if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' &&
		    e != 'r' && e != 't')
			return NULL;
		p += 2;
	}
}

static int parse_value(struct lf_jparser *jp);

/* A number token at p: returns its end, or NULL. */
static const char *parse_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (*p >= '0' && *p <= '9')
			p++;
	} else {
		return NULL;
	}
	if (*p == '.') {
		p++;
		const char *d = p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == d)
			return NULL;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		const char *d = p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == d)
			return NULL;
	}
	return p;
}

/* A string value at p (the opening quote), the member with key kb/kl/kesc
 * (kb NULL: no key): returns the byte after the closing quote, or NULL;
 * *idx is its node. */
static inline __attribute__((always_inline)) const char *
parse_string(struct lf_jparser *jp, const char *p, const char *kb, uint32_t kl, bool kesc, int *idx)
{
	bool esc, ascii;
	const char *q = scan_string(p + 1, jp->end, &esc, &ascii);
	if (!q)
		return NULL;
	struct lf_jnode x = {.type = LF_J_STR,
	                     .esc = esc,
	                     .ascii = ascii,
	                     .key_esc = kesc,
	                     .s = p + 1,
	                     .len = (uint32_t)(q - (p + 1)),
	                     .key = kb,
	                     .key_len = kl};
	*idx = add_node(jp, &x);
	return *idx < 0 ? NULL : q + 1;
}

/* A number at p, the member with key kb/kl/kesc: as parse_string. */
static inline __attribute__((always_inline)) const char *
parse_num(struct lf_jparser *jp, const char *p, const char *kb, uint32_t kl, bool kesc, int *idx)
{
	const char *q = parse_number(p);
	if (!q)
		return NULL;
	struct lf_jnode x = {.type = LF_J_NUM,
	                     .key_esc = kesc,
	                     .s = p,
	                     .len = (uint32_t)(q - p),
	                     .key = kb,
	                     .key_len = kl};
	*idx = add_node(jp, &x);
	return *idx < 0 ? NULL : q;
}

/* An object or array at p ('{' or '['). */
static int parse_container(struct lf_jparser *jp, const char *p)
{
	const char *end = jp->end;
	if (++jp->depth > LF_JSON_MAX_DEPTH)
		return -1;
	const char *start = p;
	bool obj = *p == '{';
	char close = obj ? '}' : ']';
	int idx = new_node(jp, obj ? LF_J_OBJ : LF_J_ARR);
	if (idx < 0)
		return -1;
	p = skip_ws(p + 1, end);
	if (*p == close) {
		jp->v[idx].s = start;
		jp->v[idx].len = (uint32_t)(p + 1 - start);
		jp->p = p + 1;
		jp->depth--;
		return idx;
	}
	uint32_t prev = 0, count = 0;
	for (;;) {
		/* p is at a member's first byte, whitespace skipped */
		const char *kb = NULL;
		uint32_t kl = 0;
		bool kesc = false;
		if (obj) {
			if (*p != '"')
				return -1;
			bool kascii;
			const char *q = scan_string(p + 1, end, &kesc, &kascii);
			if (!q)
				return -1;
			kb = p + 1;
			kl = (uint32_t)(q - kb);
			p = q + 1;
			if (*p != ':') {
				p = skip_ws(p, end);
				if (*p != ':')
					return -1;
			}
			p = skip_ws(p + 1, end);
		}
		/* string and number members without the recursive call (the
		 * common case) */
		int ch;
		if (*p == '"') {
			p = parse_string(jp, p, kb, kl, kesc, &ch);
			if (!p)
				return -1;
		} else if ((*p >= '0' && *p <= '9') || *p == '-') {
			p = parse_num(jp, p, kb, kl, kesc, &ch);
			if (!p)
				return -1;
		} else {
			jp->p = p;
			ch = parse_value(jp);
			if (ch < 0)
				return -1;
			p = jp->p;
			jp->v[ch].key = kb;
			jp->v[ch].key_len = kl;
			jp->v[ch].key_esc = kesc;
		}
		struct lf_jnode *v = jp->v;
		if (prev)
			v[prev].next = (uint32_t)ch;
		else
			v[idx].child = (uint32_t)ch;
		prev = (uint32_t)ch;
		count++;
		if (*p != ',' && *p != close)
			p = skip_ws(p, end);
		if (*p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		if (*p == close) {
			p++;
			break;
		}
		return -1;
	}
	jp->v[idx].count = count;
	jp->v[idx].s = start;
	jp->v[idx].len = (uint32_t)(p - start);
	jp->depth--;
	jp->p = p;
	return idx;
}

static int lit(struct lf_jparser *jp, const char *p, const char *w, size_t n)
{
	if ((size_t)(jp->end - p) < n || memcmp(p, w, n) != 0)
		return -1;
	jp->p = p + n;
	return 0;
}

/* Parses the value at jp->p (whitespace before it skipped here); leaves
 * jp->p after it. Returns its node, or -1. */
static int parse_value(struct lf_jparser *jp)
{
	const char *p = skip_ws(jp->p, jp->end);
	int idx;
	switch (*p) {
	case '{':
	case '[':
		return parse_container(jp, p);
	case '"':
		p = parse_string(jp, p, NULL, 0, false, &idx);
		if (!p)
			return -1;
		jp->p = p;
		return idx;
	case 't':
		idx = new_node(jp, LF_J_TRUE);
		return idx < 0 || lit(jp, p, "true", 4) < 0 ? -1 : idx;
	case 'f':
		idx = new_node(jp, LF_J_FALSE);
		return idx < 0 || lit(jp, p, "false", 5) < 0 ? -1 : idx;
	case 'n':
		idx = new_node(jp, LF_J_NULL);
		return idx < 0 || lit(jp, p, "null", 4) < 0 ? -1 : idx;
	default:
		if (p >= jp->end)
			return -1;
		p = parse_num(jp, p, NULL, 0, false, &idx);
		if (!p)
			return -1;
		jp->p = p;
		return idx;
	}
}

/* Parses a whole document; the root is node 0. s[n] must be a NUL byte:
 * the scans use it as a sentinel instead of checking the end at every
 * byte (a NUL inside s is still an error: it is a control character or
 * an unexpected byte, and the scans check the end once they stop). */
int lf_jparse(struct lf_jparser *jp, const char *s, size_t n)
{
	jp->p = s;
	jp->end = s + n;
	jp->n = 0;
	jp->depth = 0;
	if (parse_value(jp) < 0)
		return -1;
	return skip_ws(jp->p, jp->end) == jp->end ? 0 : -1;
}

void lf_jparser_free(struct lf_jparser *jp)
{
	free(jp->v);
	jp->v = NULL;
	jp->n = jp->cap = 0;
}
