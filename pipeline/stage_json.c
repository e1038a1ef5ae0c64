/* stage_json.c — `json: {expressions, source, drop_malformed}`: parses the
 * line (or an extracted value) as a JSON object and sets one extracted
 * value per expression, as Promtail does:
 *   string -> the string; number -> Go's shortest decimal form (no
 *   exponent); true/false; null or missing -> the key is removed (Promtail
 *   stores nil, which every later stage treats as absent); object/array ->
 *   compact JSON (keys sorted, Go's escaping).
 * Malformed JSON leaves the entry unchanged (counted), or drops it with
 * drop_malformed (counted in logentry_dropped_lines_total{reason=
 * "json_malformed"}: Promtail drops it without counting).
 *
 * Expressions are the JMESPath subset users write in Promtail configs:
 * identifiers joined by dots (a.b.c), quoted identifiers ("a.b" or
 * a."x-y"), and array indexes ([0], [-1], a.b[2][0]). Anything else
 * (functions, filters, projections) is rejected at load time.
 *
 * The parser is specialised (no jansson here): it builds a flat node array
 * in a buffer reused across lines, so a line costs no malloc once warm.
 * It accepts exactly the JSON Go's encoding/json accepts (strict grammar,
 * invalid UTF-8 inside strings tolerated and decoded as U+FFFD). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"

/* ---- JMESPath subset ---- */

enum step_kind { STEP_FIELD, STEP_INDEX };
struct step {
	enum step_kind kind;
	char *field;
	size_t field_len;
	long index;
};
struct jpath {
	struct step *steps;
	size_t n;
};

static void jpath_free(struct jpath *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->steps[i].field);
	free(p->steps);
	p->steps = NULL;
	p->n = 0;
}

static int jpath_push(struct jpath *p, struct step st)
{
	struct step *v = realloc(p->steps, (p->n + 1) * sizeof *v);
	if (!v)
		return -1;
	p->steps = v;
	p->steps[p->n++] = st;
	return 0;
}

/* Unescapes the body of a JSON string (validated before) into out, Go
 * style: bad surrogates and invalid UTF-8 become U+FFFD. */
static void json_unescape(const char *s, size_t n, struct lf_buf *out)
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
				unsigned cp =
				        (unsigned)(lf_hexval(s[i]) << 12 |
				                   lf_hexval(s[i + 1]) << 8 |
				                   lf_hexval(s[i + 2]) << 4 | lf_hexval(s[i + 3]));
				i += 4;
				if (cp >= 0xd800 && cp < 0xdc00) {
					if (i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u') {
						unsigned lo = (unsigned)(lf_hexval(s[i + 2]) << 12 |
						                         lf_hexval(s[i + 3]) << 8 |
						                         lf_hexval(s[i + 4]) << 4 |
						                         lf_hexval(s[i + 5]));
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

/* Parses the JMESPath subset; returns the offset of the first unsupported
 * character, or -1 when fine. */
static long jpath_parse(const char *e, struct jpath *p)
{
	size_t i = 0, n = strlen(e);
	bool need_field = true; /* at start or after '.' */
	bool first = true;
	while (i < n) {
		char c = e[i];
		if (c == '[') {
			if (need_field && !first)
				return (long)i;
			size_t j = i + 1;
			bool neg = false;
			if (j < n && e[j] == '-') {
				neg = true;
				j++;
			}
			size_t ds = j;
			while (j < n && e[j] >= '0' && e[j] <= '9')
				j++;
			if (j == ds || j >= n || e[j] != ']')
				return (long)i;
			long v = strtol(e + ds, NULL, 10);
			struct step st = {.kind = STEP_INDEX, .index = neg ? -v : v};
			if (jpath_push(p, st) < 0)
				return (long)i;
			i = j + 1;
			need_field = false;
			first = false;
			continue;
		}
		if (c == '.') {
			if (need_field)
				return (long)i;
			need_field = true;
			i++;
			continue;
		}
		if (!need_field)
			return (long)i;
		struct lf_buf f = LF_BUF_INIT;
		if (c == '"') {
			size_t j = i + 1;
			while (j < n && e[j] != '"') {
				if (e[j] == '\\')
					j++;
				j++;
			}
			if (j >= n) {
				lf_buf_free(&f);
				return (long)i;
			}
			json_unescape(e + i + 1, j - i - 1, &f);
			i = j + 1;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
			size_t j = i;
			while (j < n &&
			       ((e[j] >= 'a' && e[j] <= 'z') || (e[j] >= 'A' && e[j] <= 'Z') ||
			        (e[j] >= '0' && e[j] <= '9') || e[j] == '_'))
				j++;
			lf_buf_append(&f, e + i, j - i);
			i = j;
		} else {
			return (long)i;
		}
		struct step st = {.kind = STEP_FIELD,
		                  .field = f.data ? f.data : strdup(""),
		                  .field_len = f.len};
		if (!st.field || jpath_push(p, st) < 0) {
			free(st.field);
			return (long)i;
		}
		need_field = false;
		first = false;
	}
	if (need_field)
		return (long)n;
	return -1;
}

/* ---- JSON parser into a flat node array ---- */

enum jtype { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

struct jnode {
	uint8_t type;
	bool esc;   /* J_STR / key: has backslash escapes */
	bool ascii; /* J_STR: no byte >= 0x80, so valid UTF-8 */
	bool key_esc;
	uint32_t next;  /* next sibling (0 = none; node 0 is the root) */
	uint32_t child; /* first child (0 = none) */
	uint32_t count; /* children */
	const char *s;  /* J_STR: body; J_NUM: token */
	uint32_t len;
	const char *key; /* member key body (object members) */
	uint32_t key_len;
};

struct jparser {
	const char *p, *end;
	struct jnode *v;
	size_t n, cap;
	int depth;
};

/* Go allows 10000 levels; the recursive parser stops at 1000 so that a
 * hostile line cannot exhaust the event-loop thread's stack (ASan frames
 * are large). Deeper documents count as malformed. */
#define JSON_MAX_DEPTH 1000

/* JSON whitespace. */
static const unsigned char jws[256] = {[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1};

/* Compact JSON (the common case) has no whitespace between tokens, so the
 * first byte is checked alone. Lines padded with spaces after the document
 * are skipped 8 bytes per step. */
static inline void skip_ws(struct jparser *jp)
{
	const char *p = jp->p, *end = jp->end;
	if (p >= end || !jws[(unsigned char)*p])
		return;
	for (uint64_t w; end - p >= 8; p += 8) {
		memcpy(&w, p, 8);
		if (w != 0x2020202020202020ull)
			break;
	}
	while (p < end && jws[(unsigned char)*p])
		p++;
	jp->p = p;
}

static int new_node(struct jparser *jp, uint8_t type)
{
	if (jp->n == jp->cap) {
		size_t c = jp->cap ? jp->cap * 2 : 64;
		struct jnode *v = realloc(jp->v, c * sizeof *v);
		if (!v)
			return -1;
		jp->v = v;
		jp->cap = c;
	}
	struct jnode *x = &jp->v[jp->n];
	memset(x, 0, sizeof *x);
	x->type = type;
	return (int)jp->n++;
}

/* Bytes that end the fast part of a string scan: '"', '\\', control
 * characters (invalid inside JSON strings; NUL also ends the input, see
 * json_parse) and bytes >= 0x80 (which clear *ascii). */
static const unsigned char jstr_stop[256] = {
        [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1};

/* Scans a string body after the opening quote; sets *esc, and *ascii when
 * no byte is >= 0x80 (then it needs no UTF-8 check). The input ends with a
 * NUL (json_parse), a stop byte, so the inner loops need no bounds check.
 * Inlined into its two callers: the call itself cost about a fifth of the
 * scan for the short keys and values of typical log lines. */
static inline __attribute__((always_inline)) int scan_string(struct jparser *jp, const char **body,
                                                             uint32_t *len, bool *esc, bool *ascii)
{
	const unsigned char *p = (const unsigned char *)jp->p;
	const unsigned char *end = (const unsigned char *)jp->end;
	const unsigned char *s = p;
	*esc = false;
	*ascii = true;
	for (;;) {
		/* unrolled by 4: most bytes are plain */
		while (!jstr_stop[p[0]] && !jstr_stop[p[1]] && !jstr_stop[p[2]] && !jstr_stop[p[3]])
			p += 4;
		while (!jstr_stop[*p])
			p++;
		if (p >= end)
			return -1;
		if (*p == '"') {
			*body = (const char *)s;
			*len = (uint32_t)(p - s);
			jp->p = (const char *)p + 1;
			return 0;
		}
		if (*p >= 0x80) {
			*ascii = false;
			p++;
			continue;
		}
		if (*p < 0x20)
			return -1;
		/* backslash */
		*esc = true;
		if (p + 1 >= end)
			return -1;
		unsigned char e = p[1];
		if (e == 'u') {
			if (p + 6 > end)
				return -1;
			for (int k = 2; k < 6; k++)
				if (lf_hexval((char)p[k]) < 0)
					return -1;
			p += 6;
			continue;
		}
		if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' &&
		    e != 'r' && e != 't')
			return -1;
		p += 2;
	}
}

static int parse_value(struct jparser *jp);

static int parse_number(struct jparser *jp, int idx)
{
	const char *s = jp->p;
	const char *p = s;
	if (p < jp->end && *p == '-')
		p++;
	if (p >= jp->end)
		return -1;
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < jp->end && *p >= '0' && *p <= '9')
			p++;
	} else {
		return -1;
	}
	if (p < jp->end && *p == '.') {
		p++;
		const char *d = p;
		while (p < jp->end && *p >= '0' && *p <= '9')
			p++;
		if (p == d)
			return -1;
	}
	if (p < jp->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < jp->end && (*p == '+' || *p == '-'))
			p++;
		const char *d = p;
		while (p < jp->end && *p >= '0' && *p <= '9')
			p++;
		if (p == d)
			return -1;
	}
	jp->v[idx].s = s;
	jp->v[idx].len = (uint32_t)(p - s);
	jp->p = p;
	return 0;
}

static int lit(struct jparser *jp, const char *w, size_t n)
{
	if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, w, n) != 0)
		return -1;
	jp->p += n;
	return 0;
}

/* A string value at jp->p (the opening quote). */
static inline __attribute__((always_inline)) int parse_string(struct jparser *jp)
{
	int idx = new_node(jp, J_STR);
	if (idx < 0)
		return -1;
	jp->p++;
	const char *b;
	uint32_t l;
	bool esc, ascii;
	if (scan_string(jp, &b, &l, &esc, &ascii) < 0)
		return -1;
	jp->v[idx].s = b;
	jp->v[idx].len = l;
	jp->v[idx].esc = esc;
	jp->v[idx].ascii = ascii;
	return idx;
}

static int parse_value(struct jparser *jp)
{
	skip_ws(jp);
	if (jp->p >= jp->end)
		return -1;
	char c = *jp->p;
	int idx;
	switch (c) {
	case '{':
	case '[': {
		if (++jp->depth > JSON_MAX_DEPTH)
			return -1;
		bool obj = c == '{';
		idx = new_node(jp, obj ? J_OBJ : J_ARR);
		if (idx < 0)
			return -1;
		jp->p++;
		skip_ws(jp);
		char close = obj ? '}' : ']';
		if (jp->p < jp->end && *jp->p == close) {
			jp->p++;
			jp->depth--;
			return idx;
		}
		uint32_t prev = 0;
		for (;;) {
			const char *kb = NULL;
			uint32_t kl = 0;
			bool kesc = false;
			if (obj) {
				skip_ws(jp);
				if (jp->p >= jp->end || *jp->p != '"')
					return -1;
				jp->p++;
				bool kascii;
				if (scan_string(jp, &kb, &kl, &kesc, &kascii) < 0)
					return -1;
				skip_ws(jp);
				if (jp->p >= jp->end || *jp->p != ':')
					return -1;
				jp->p++;
			}
			/* string members without the recursive call (the common
			 * case) */
			skip_ws(jp);
			int ch = jp->p < jp->end && *jp->p == '"' ? parse_string(jp)
			                                          : parse_value(jp);
			if (ch < 0)
				return -1;
			jp->v[ch].key = kb;
			jp->v[ch].key_len = kl;
			jp->v[ch].key_esc = kesc;
			if (prev)
				jp->v[prev].next = (uint32_t)ch;
			else
				jp->v[idx].child = (uint32_t)ch;
			prev = (uint32_t)ch;
			jp->v[idx].count++;
			skip_ws(jp);
			if (jp->p >= jp->end)
				return -1;
			if (*jp->p == ',') {
				jp->p++;
				continue;
			}
			if (*jp->p == close) {
				jp->p++;
				break;
			}
			return -1;
		}
		jp->depth--;
		return idx;
	}
	case '"':
		return parse_string(jp);
	case 't':
		idx = new_node(jp, J_TRUE);
		return idx < 0 || lit(jp, "true", 4) < 0 ? -1 : idx;
	case 'f':
		idx = new_node(jp, J_FALSE);
		return idx < 0 || lit(jp, "false", 5) < 0 ? -1 : idx;
	case 'n':
		idx = new_node(jp, J_NULL);
		return idx < 0 || lit(jp, "null", 4) < 0 ? -1 : idx;
	default:
		idx = new_node(jp, J_NUM);
		if (idx < 0 || parse_number(jp, idx) < 0)
			return -1;
		return idx;
	}
}

/* Parses a whole document; the root is node 0. s[n] must be a NUL byte:
 * the string scan uses it as a sentinel instead of checking the end at
 * every byte (a NUL inside s is still an error: it is a control
 * character, and the scan checks the end once it stops). */
static int json_parse(struct jparser *jp, const char *s, size_t n)
{
	jp->p = s;
	jp->end = s + n;
	jp->n = 0;
	jp->depth = 0;
	if (parse_value(jp) < 0)
		return -1;
	skip_ws(jp);
	return jp->p == jp->end ? 0 : -1;
}

/* ---- evaluation and rendering ---- */

struct json_stage {
	struct lf_strmap exprs; /* name -> expression text */
	struct jpath *paths;
	char *source;
	bool drop_malformed;
	bool *live;       /* per expression: may a later stage read it? */
	size_t *name_len; /* per expression: strlen of its name (per line) */
	bool any_live;
	struct jparser jp;
	struct lf_buf val, key, tmp, src;
	struct lf_pipe_shared *sh;
};

static bool key_equals(struct json_stage *s, const struct jnode *x, const char *f, size_t fl)
{
	if (!x->key_esc)
		return x->key_len == fl && memcmp(x->key, f, fl) == 0;
	lf_buf_reset(&s->key);
	json_unescape(x->key, x->key_len, &s->key);
	return s->key.len == fl && memcmp(s->key.data, f, fl) == 0;
}

/* Returns the node index the path leads to, or -1 (null). */
static long eval(struct json_stage *s, const struct jpath *p)
{
	const struct jnode *v = s->jp.v;
	long cur = 0;
	for (size_t i = 0; i < p->n; i++) {
		const struct step *st = &p->steps[i];
		const struct jnode *x = &v[cur];
		if (st->kind == STEP_FIELD) {
			if (x->type != J_OBJ)
				return -1;
			long found = -1;
			/* the last duplicate wins, as in a Go map */
			for (uint32_t c = x->child; c; c = v[c].next)
				if (key_equals(s, &v[c], st->field, st->field_len))
					found = c;
			if (found < 0)
				return -1;
			cur = found;
		} else {
			if (x->type != J_ARR)
				return -1;
			long idx = st->index;
			if (idx < 0)
				idx += (long)x->count;
			if (idx < 0 || idx >= (long)x->count)
				return -1;
			uint32_t c = x->child;
			for (long k = 0; k < idx; k++)
				c = v[c].next;
			cur = c;
		}
	}
	return v[cur].type == J_NULL ? -1 : cur;
}

static double num_value(const struct jnode *x)
{
	char b[64];
	if (x->len < sizeof b) {
		memcpy(b, x->s, x->len);
		b[x->len] = '\0';
		return strtod(b, NULL);
	}
	char *d = strndup(x->s, x->len);
	double r = d ? strtod(d, NULL) : 0;
	free(d);
	return r;
}

struct member {
	const char *key;
	size_t key_len;
	uint32_t node;
	size_t pos;
};

static int member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);
	if (c)
		return c;
	if (x->key_len != y->key_len)
		return x->key_len < y->key_len ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* True when the JSON number token is already what Go's FormatFloat(v, 'f',
 * -1) prints for its value: no exponent, no trailing fraction zeros, at most
 * 15 significant digits (then the token's digits are the shortest ones that
 * round-trip). Saves the float conversion in the common case. */
static bool num_canonical(const struct jnode *x)
{
	const char *p = x->s, *end = x->s + x->len;
	if (p < end && *p == '-')
		p++;
	int sig = 0;
	bool seen_nonzero = false;
	const char *dot = NULL;
	for (const char *q = p; q < end; q++) {
		if (*q == '.') {
			dot = q;
			continue;
		}
		if (*q < '0' || *q > '9')
			return false; /* exponent */
		if (*q != '0')
			seen_nonzero = true;
		if (seen_nonzero)
			sig++;
	}
	if (dot && (dot + 1 == end || end[-1] == '0'))
		return false;
	return sig <= 15;
}

/* Go json.Marshal of the decoded value (map keys sorted). */
static void render(struct json_stage *s, uint32_t idx, struct lf_buf *out)
{
	const struct jnode *x = &s->jp.v[idx];
	switch (x->type) {
	case J_NULL:
		lf_buf_appends(out, "null");
		return;
	case J_TRUE:
		lf_buf_appends(out, "true");
		return;
	case J_FALSE:
		lf_buf_appends(out, "false");
		return;
	case J_NUM:
		lf_fmt_json_float(out, num_value(x));
		return;
	case J_STR: {
		struct lf_buf u = LF_BUF_INIT;
		json_unescape(x->s, x->len, &u);
		lf_json_append_string(out, u.data ? u.data : "", u.len);
		lf_buf_free(&u);
		return;
	}
	case J_ARR:
		lf_buf_putc(out, '[');
		for (uint32_t c = x->child; c; c = s->jp.v[c].next) {
			if (c != x->child)
				lf_buf_putc(out, ',');
			render(s, c, out);
		}
		lf_buf_putc(out, ']');
		return;
	case J_OBJ: {
		size_t n = x->count;
		struct member *m = calloc(n ? n : 1, sizeof *m);
		struct lf_buf keys = LF_BUF_INIT;
		if (!m)
			return;
		/* unescape keys into one buffer; offsets first, pointers after */
		size_t k = 0;
		size_t *offs = calloc(n ? n : 1, sizeof *offs);
		for (uint32_t c = x->child; c && offs; c = s->jp.v[c].next, k++) {
			offs[k] = keys.len;
			json_unescape(s->jp.v[c].key, s->jp.v[c].key_len, &keys);
			m[k].key_len = keys.len - offs[k];
			m[k].node = c;
			m[k].pos = k;
		}
		for (size_t i = 0; offs && i < n; i++)
			m[i].key = keys.data ? keys.data + offs[i] : "";
		qsort(m, n, sizeof *m, member_cmp);
		lf_buf_putc(out, '{');
		bool any = false;
		for (size_t i = 0; offs && i < n; i++) {
			/* duplicates: keep the last one */
			if (i + 1 < n && m[i + 1].key_len == m[i].key_len &&
			    memcmp(m[i + 1].key, m[i].key, m[i].key_len) == 0)
				continue;
			if (any)
				lf_buf_putc(out, ',');
			any = true;
			lf_json_append_string(out, m[i].key, m[i].key_len);
			lf_buf_putc(out, ':');
			render(s, m[i].node, out);
		}
		lf_buf_putc(out, '}');
		free(offs);
		free(m);
		lf_buf_free(&keys);
		return;
	}
	}
}

static const char *const json_keys[] = {"expressions", "source", "drop_malformed", NULL};

static void json_free(void *state)
{
	struct json_stage *s = state;
	for (size_t i = 0; s->paths && i < s->exprs.n; i++)
		jpath_free(&s->paths[i]);
	free(s->paths);
	free(s->live);
	free(s->name_len);
	lf_strmap_free(&s->exprs);
	free(s->source);
	free(s->jp.v);
	lf_buf_free(&s->val);
	lf_buf_free(&s->key);
	lf_buf_free(&s->tmp);
	lf_buf_free(&s->src);
	free(s);
}

static int json_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                       struct lf_error *err)
{
	if (!cfg || cfg->kind == LF_Y_NULL)
		return lf_y_err(err, cfg, ctx->path, "empty json stage configuration");
	if (lf_ymap_check(cfg, ctx->path, json_keys, err) < 0)
		return -1;
	struct json_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->sh = ctx->sh;
	char epath[600];
	snprintf(epath, sizeof epath, "%s.expressions", ctx->path);
	const struct lf_ynode *ex = lf_ymap_get(cfg, "expressions");
	if (lf_strmap_read(ex, epath, &s->exprs, err) < 0 ||
	    lf_stage_source(cfg, ctx, &s->source, err) < 0 ||
	    lf_ymap_bool(cfg, ctx->path, "drop_malformed", &s->drop_malformed, err) < 0) {
		json_free(s);
		return -1;
	}
	if (!s->exprs.n) {
		json_free(s);
		return lf_y_err(err, ex ? ex : cfg, ctx->path, "JMES expression is required");
	}
	s->paths = calloc(s->exprs.n, sizeof *s->paths);
	s->live = malloc(s->exprs.n * sizeof *s->live);
	s->name_len = malloc(s->exprs.n * sizeof *s->name_len);
	if (!s->paths || !s->live || !s->name_len) {
		json_free(s);
		return lf_err(err, "out of memory");
	}
	for (size_t i = 0; i < s->exprs.n; i++) {
		const char *e =
		        s->exprs.vals[i] && *s->exprs.vals[i] ? s->exprs.vals[i] : s->exprs.keys[i];
		long bad = jpath_parse(e, &s->paths[i]);
		if (bad >= 0) {
			const struct lf_ynode *n =
			        ex->pairs[i].value && ex->pairs[i].value->kind == LF_Y_SCALAR
			                ? ex->pairs[i].value
			                : ex->pairs[i].key;
			char kp[700];
			snprintf(kp, sizeof kp, "%s.%s", epath, s->exprs.keys[i]);
			lf_y_err(err, n, kp,
			         "could not compile JMES expression %s: unsupported syntax at "
			         "offset "
			         "%ld (supported: a.b.c, \"quoted.key\", [index])",
			         e, bad);
			json_free(s);
			return -1;
		}
	}
	for (size_t i = 0; i < s->exprs.n; i++) {
		s->live[i] = true;
		s->name_len[i] = strlen(s->exprs.keys[i]);
	}
	s->any_live = true;
	*state = s;
	return 0;
}

static enum lf_pipe_result json_process(void *state, struct lf_entry *e,
                                        const struct lf_chain *rest)
{
	(void)rest;
	struct json_stage *s = state;
	const char *in;
	size_t n;
	if (!s->any_live && !s->drop_malformed)
		return LF_PIPE_EMITTED; /* nothing it sets is ever read */
	/* The parse tree points into the input: a source value is copied
	 * (extracted changes below); the line is not touched by them. */
	if (!lf_stage_input(s->sh, "json", s->source, e, &s->src, &in, &n))
		return LF_PIPE_EMITTED;
	if (in[n] != '\0') {
		/* lf_buf keeps its data NUL-terminated; copy in case a stage
		 * wrote the line buffer without it (json_parse needs the NUL) */
		lf_buf_reset(&s->src);
		lf_buf_append(&s->src, in, n);
		in = s->src.data ? s->src.data : "";
		n = s->src.len; /* shorter only on ENOMEM */
	}
	if (json_parse(&s->jp, in, n) < 0 ||
	    (s->jp.v[0].type != J_OBJ && s->jp.v[0].type != J_NULL)) {
		if (s->drop_malformed) {
			lf_stage_count_drop(s->sh, "json_malformed");
			return LF_PIPE_DROPPED;
		}
		lf_stage_count_error(s->sh, "json", "malformed_json");
		return LF_PIPE_EMITTED;
	}
	for (size_t i = 0; i < s->exprs.n; i++) {
		const char *name = s->exprs.keys[i];
		if (!s->live[i])
			continue;
		long idx = s->jp.v[0].type == J_NULL ? -1 : eval(s, &s->paths[i]);
		if (idx < 0) {
			lf_labels_del(&e->extracted, name);
			continue;
		}
		const struct jnode *x = &s->jp.v[idx];
		lf_buf_reset(&s->val);
		switch (x->type) {
		case J_STR:
			if (!x->esc && (x->ascii || lf_utf8_valid(x->s, x->len))) {
				lf_labels_setn(&e->extracted, name, s->name_len[i], x->s, x->len);
				continue;
			}
			json_unescape(x->s, x->len, &s->val);
			break;
		case J_NUM:
			if (num_canonical(x)) {
				lf_labels_setn(&e->extracted, name, s->name_len[i], x->s, x->len);
				continue;
			}
			lf_fmt_go_float(&s->val, num_value(x));
			break;
		case J_TRUE:
			lf_buf_appends(&s->val, "true");
			break;
		case J_FALSE:
			lf_buf_appends(&s->val, "false");
			break;
		default:
			render(s, (uint32_t)idx, &s->val);
		}
		lf_labels_setn(&e->extracted, name, s->name_len[i], s->val.data ? s->val.data : "",
		               s->val.len);
	}
	return LF_PIPE_EMITTED;
}

static void json_reads(void *state, struct lf_keyset *ks)
{
	struct json_stage *s = state;
	lf_keyset_add(ks, s->source);
}

static void json_set_live(void *state, const struct lf_keyset *live)
{
	struct json_stage *s = state;
	s->any_live = false;
	for (size_t i = 0; i < s->exprs.n; i++) {
		s->live[i] = lf_keyset_has(live, s->exprs.keys[i]);
		s->any_live |= s->live[i];
	}
}

const struct lf_stage_ops lf_stage_json = {
        .kind = "json",
        .create = json_create,
        .process = json_process,
        .free = json_free,
        .reads = json_reads,
        .set_live = json_set_live,
};
