/* template.c — Go text/template subset (see template.h). */
#include "template.h"
#include "utf8.h"

#include "gotime.h"
#include "regex.h"
#include "selector.h"
#include "timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <locale.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wctype.h>

/* ---- Unicode case mapping ---- */

static locale_t utf8_loc;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_init(void)
{
	/* C.UTF-8 is built into glibc >= 2.35: no locale package needed */
	utf8_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

static int str_case(const char *s, size_t n, struct lf_buf *out, bool upper)
{
	/* reserve the common size (case mapping rarely changes UTF-8 length)
	 * and write ASCII bytes directly: this runs per line in templates */
	if (lf_buf_reserve(out, n) < 0)
		return -1;
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		size_t run = 0;
		char *d = out->data + out->len;
		size_t room = out->cap - out->len - 1;
		while (i + run < n && run < room && p[i + run] < 0x80) {
			unsigned char c = p[i + run];
			if (upper && c >= 'a' && c <= 'z')
				c = (unsigned char)(c - 32);
			else if (!upper && c >= 'A' && c <= 'Z')
				c = (unsigned char)(c + 32);
			d[run++] = (char)c;
		}
		out->len += run;
		out->data[out->len] = '\0';
		i += run;
		if (i >= n)
			break;
		if (p[i] < 0x80) { /* out of room: grow */
			if (lf_buf_reserve(out, n - i) < 0)
				return -1;
			continue;
		}
		pthread_once(&utf8_once, utf8_init);
		uint32_t cp;
		size_t w = lf_utf8_decode(p + i, n - i, &cp);
		if (w == 0) {
			if (lf_buf_putc(out, (char)p[i]) < 0)
				return -1;
			i++;
			continue;
		}
		uint32_t m = cp;
		if (utf8_loc)
			m = (uint32_t)(upper ? towupper_l((wint_t)cp, utf8_loc)
			                     : towlower_l((wint_t)cp, utf8_loc));
		if (lf_utf8_append(out, m) < 0)
			return -1;
		i += w;
	}
	return 0;
}

int lf_str_lower(const char *s, size_t n, struct lf_buf *out)
{
	return str_case(s, n, out, false);
}

int lf_str_upper(const char *s, size_t n, struct lf_buf *out)
{
	return str_case(s, n, out, true);
}

static char *dupn(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		if (n)
			memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* ================================================================== */
/* template engine                                                     */

/* ---- scratch arena: strings made during one exec (reset per exec) ---- */

struct ablk {
	struct ablk *next;
	size_t used, cap;
	char data[];
};

struct arena {
	struct ablk *head, *cur;
};

static void arena_reset(struct arena *a)
{
	for (struct ablk *b = a->head; b; b = b->next)
		b->used = 0;
	a->cur = a->head;
}

static void arena_free(struct arena *a)
{
	struct ablk *b = a->head;
	while (b) {
		struct ablk *n = b->next;
		free(b);
		b = n;
	}
	a->head = a->cur = NULL;
}

/* Copies s[0..n) plus a NUL into the arena; the pointer stays valid until
 * the next reset (blocks never move). */
static char *arena_dup(struct arena *a, const char *s, size_t n)
{
	struct ablk *b = a->cur;
	while (b && b->cap - b->used < n + 1) {
		b = b->next;
		if (b)
			b->used = 0;
	}
	if (!b) {
		size_t cap = n + 1 > 4096 ? n + 1 : 4096;
		b = malloc(sizeof *b + cap);
		if (!b)
			return NULL;
		b->next = NULL;
		b->used = 0;
		b->cap = cap;
		if (a->cur) {
			/* append after cur, keeping the rest of the chain */
			b->next = a->cur->next;
			a->cur->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	a->cur = b;
	char *p = b->data + b->used;
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	b->used += n + 1;
	return p;
}

/* ---- values ---- */

/* V_TIME: a time.Time (i = ns since the epoch), from now/toDate/__timestamp__
 * V_JOBJ / V_JARR: a JSON object / array from fromJson (Go:
 * map[string]interface{} / []interface{}), kept as compact JSON text in s/n
 * (arena); its scalars
 * become strings, float64s, bools and nil when taken out with `index` */
enum vkind { V_MISSING, V_STR, V_INT, V_FLOAT, V_BOOL, V_NIL, V_MAP, V_TIME, V_JOBJ, V_JARR };

struct val {
	enum vkind k;
	const char *s;
	size_t n;
	int64_t i;
	double f;
	bool b;
};

/* ---- AST ---- */

struct pipe;

enum akind { A_FIELD, A_DOT, A_STR, A_INT, A_FLOAT, A_BOOL, A_NIL, A_FUNC, A_PIPE };

struct arg {
	enum akind k;
	char *s; /* FIELD: first name; STR: decoded text */
	size_t n;
	size_t nchain; /* FIELD: number of further .names (unsupported on strings) */
	int64_t i;
	double f;
	bool b;
	int fn; /* FUNC: index in funcs[] */
	struct pipe *p;
	int col;
};

struct cmd {
	struct arg *args;
	size_t n;
	struct lf_regex *re; /* regexReplaceAll*: literal regex compiled at parse time */
};

struct pipe {
	struct cmd *cmds;
	size_t n;
	int line, col;
	char *text; /* the action's source, for messages */
};

enum nkind { NK_TEXT, NK_ACTION, NK_IF, NK_WITH };

struct node;
struct nlist {
	struct node **v;
	size_t n;
};

struct node {
	enum nkind k;
	const char *text; /* TEXT: into t->src */
	size_t len;
	struct pipe *pipe;
	struct nlist body, els;
};

struct lf_template {
	char *name;
	char *src;
	unsigned flags;
	struct nlist root;
	char **fields; /* NULL-terminated */
	size_t nfields;
	/* exec state (see header: not thread-safe) */
	struct arena arena;
	struct lf_buf tmp, tmp2, tmp3, tmp4;
	EVP_MD_CTX *md;
	struct lf_regex_match m;
	lf_tmpl_lookup_fn lookup;
	void *ctx;
	struct lf_error *err;
	const struct pipe *cur; /* action being executed, for messages */
};

/* ---- functions ---- */

struct exec_ctx;
typedef int (*tfn)(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                   struct val *res);

struct func {
	const char *name;
	int min, max; /* argument counts, max -1 = variadic */
	tfn fn;
	bool re0; /* first argument is a regex: compiled at parse time when literal */
};

static int time_format(struct lf_template *t, const char *layout, int64_t ns, struct lf_buf *out);

/* Cap on what one function may build (repeat, padding, printf widths):
 * templates come from LogQL queries too, and `repeat 1e9` must fail, not
 * exhaust memory. */
#define MAX_RESULT ((int64_t)16 << 20)

static int exec_err(struct lf_template *t, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static int exec_err(struct lf_template *t, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (t->cur)
		return lf_err(t->err, "template: %s:%d:%d: executing \"%s\" at <%s>: %s", t->name,
		              t->cur->line, t->cur->col, t->name, t->cur->text, msg);
	return lf_err(t->err, "template: %s: %s", t->name, msg);
}

static const char *kind_name(enum vkind k)
{
	switch (k) {
	case V_STR:
		return "string";
	case V_INT:
		return "int";
	case V_FLOAT:
		return "float64";
	case V_BOOL:
		return "bool";
	case V_NIL:
		return "nil";
	case V_MAP:
		return "map[string]interface {}";
	case V_TIME:
		return "time.Time";
	case V_JOBJ:
		return "map[string]interface {}";
	case V_JARR:
		return "[]interface {}";
	default:
		return "invalid";
	}
}

static int want_str(struct lf_template *t, const struct val *v)
{
	if (v->k == V_STR)
		return 0;
	if (v->k == V_MISSING)
		return exec_err(t, "invalid value; expected string");
	return exec_err(t, "wrong type for value; expected string; got %s", kind_name(v->k));
}

static int want_int(struct lf_template *t, const struct val *v, int64_t *out)
{
	if (v->k == V_INT) {
		*out = v->i;
		return 0;
	}
	if (v->k == V_MISSING)
		return exec_err(t, "invalid value; expected int");
	return exec_err(t, "wrong type for value; expected int; got %s", kind_name(v->k));
}

static int str_result(struct lf_template *t, struct val *res, const char *s, size_t n)
{
	char *p = arena_dup(&t->arena, s, n);
	if (!p)
		return exec_err(t, "out of memory");
	res->k = V_STR;
	res->s = p;
	res->n = n;
	return 0;
}

/* result from t->tmp */
static int tmp_result(struct lf_template *t, struct val *res)
{
	return str_result(t, res, t->tmp.data ? t->tmp.data : "", t->tmp.len);
}

static bool truth(const struct val *v)
{
	switch (v->k) {
	case V_STR:
		return v->n > 0;
	case V_INT:
		return v->i != 0;
	case V_FLOAT:
		return v->f != 0;
	case V_BOOL:
		return v->b;
	case V_MAP:
	case V_TIME:
		return true;
	case V_JOBJ:
	case V_JARR:
		return v->n > 2; /* not {} or [] */
	default:
		return false;
	}
}

/* --- string helpers (Go strings.*) --- */

static size_t dec_rune(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t w = lf_utf8_decode(s, n, cp);
	if (w == 0) {
		*cp = 0xFFFD;
		return 1;
	}
	return w;
}

static bool in_cutset(uint32_t cp, const char *cut, size_t cn)
{
	for (size_t i = 0; i < cn;) {
		uint32_t c;
		i += dec_rune((const unsigned char *)cut + i, cn - i, &c);
		if (c == cp)
			return true;
	}
	return false;
}

static bool is_space_rune(uint32_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85 || c == 0xA0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
	       c == 0x205f || c == 0x3000;
}

/* trims runes from both/left/right ends: by cutset, or spaces when cut is NULL */
static void trim_span(const char *s, size_t n, const char *cut, size_t cn, bool left, bool right,
                      size_t *o_start, size_t *o_end)
{
	size_t a = 0, b = n;
	if (left) {
		while (a < b) {
			uint32_t c;
			size_t w = dec_rune((const unsigned char *)s + a, b - a, &c);
			if (!(cut ? in_cutset(c, cut, cn) : is_space_rune(c)))
				break;
			a += w;
		}
	}
	if (right) {
		while (b > a) {
			/* find start of last rune */
			size_t st = b - 1;
			while (st > a && ((unsigned char)s[st] & 0xC0) == 0x80 && b - st < 4)
				st--;
			uint32_t c;
			size_t w = dec_rune((const unsigned char *)s + st, b - st, &c);
			if (w != b - st) { /* invalid sequence: last byte alone */
				st = b - 1;
				c = 0xFFFD;
			}
			if (!(cut ? in_cutset(c, cut, cn) : is_space_rune(c)))
				break;
			b = st;
		}
	}
	*o_start = a;
	*o_end = b;
}

/* Go strings.Replace(s, old, new, n) appended to out */
static int go_replace(struct lf_buf *out, const char *s, size_t sn, const char *old, size_t on,
                      const char *nw, size_t nn, int64_t limit)
{
	if (limit == 0 || (on == 0 && false))
		return lf_buf_append(out, s, sn);
	int64_t done = 0;
	size_t i = 0;
	if (on == 0) {
		/* insert new before every rune and at the end */
		while (limit < 0 || done < limit) {
			if (lf_buf_append(out, nw, nn) < 0)
				return -1;
			done++;
			if (i >= sn)
				break;
			uint32_t c;
			size_t w = dec_rune((const unsigned char *)s + i, sn - i, &c);
			if (lf_buf_append(out, s + i, w) < 0)
				return -1;
			i += w;
		}
		return lf_buf_append(out, s + i, sn - i);
	}
	while (limit < 0 || done < limit) {
		const char *f = memmem(s + i, sn - i, old, on);
		if (!f)
			break;
		size_t fi = (size_t)(f - s);
		if (lf_buf_append(out, s + i, fi - i) < 0 || lf_buf_append(out, nw, nn) < 0)
			return -1;
		i = fi + on;
		done++;
	}
	return lf_buf_append(out, s + i, sn - i);
}

static int fn_lower(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                    struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]))
		return -1;
	lf_buf_reset(&t->tmp);
	if (lf_str_lower(a[0].s, a[0].n, &t->tmp) < 0)
		return exec_err(t, "out of memory");
	return tmp_result(t, r);
}

static int fn_upper(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                    struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]))
		return -1;
	lf_buf_reset(&t->tmp);
	if (lf_str_upper(a[0].s, a[0].n, &t->tmp) < 0)
		return exec_err(t, "out of memory");
	return tmp_result(t, r);
}

static int fn_title(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                    struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]))
		return -1;
	lf_buf_reset(&t->tmp);
	bool prev_letter = false;
	for (size_t i = 0; i < a[0].n;) {
		uint32_t cp;
		size_t w = dec_rune((const unsigned char *)a[0].s + i, a[0].n - i, &cp);
		bool letter =
		        !(is_space_rune(cp) ||
		          (cp < 0x80 && !((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
		                          (cp >= '0' && cp <= '9') || cp == '_' || cp == '\'')));
		int rc = (!prev_letter && letter) ? lf_str_upper(a[0].s + i, w, &t->tmp)
		                                  : lf_buf_append(&t->tmp, a[0].s + i, w);
		if (rc < 0)
			return exec_err(t, "out of memory");
		prev_letter = letter;
		i += w;
	}
	return tmp_result(t, r);
}

/* Replace(s, old, new, n) */
static int fn_Replace(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                      struct val *r)
{
	(void)c, (void)n;
	int64_t lim = 0;
	if (want_str(t, &a[0]) || want_str(t, &a[1]) || want_str(t, &a[2]) ||
	    want_int(t, &a[3], &lim))
		return -1;
	lf_buf_reset(&t->tmp);
	if (go_replace(&t->tmp, a[0].s, a[0].n, a[1].s, a[1].n, a[2].s, a[2].n, lim) < 0)
		return exec_err(t, "out of memory");
	return tmp_result(t, r);
}

/* sprig replace(old, new, src) */
static int fn_replace(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                      struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]) || want_str(t, &a[1]) || want_str(t, &a[2]))
		return -1;
	lf_buf_reset(&t->tmp);
	if (go_replace(&t->tmp, a[2].s, a[2].n, a[0].s, a[0].n, a[1].s, a[1].n, -1) < 0)
		return exec_err(t, "out of memory");
	return tmp_result(t, r);
}

static int trim_common(struct lf_template *t, const struct val *s, const struct val *cut, bool left,
                       bool right, struct val *r)
{
	if (want_str(t, s) || (cut && want_str(t, cut)))
		return -1;
	size_t a, b;
	trim_span(s->s, s->n, cut ? cut->s : NULL, cut ? cut->n : 0, left, right, &a, &b);
	r->k = V_STR;
	r->s = s->s + a; /* a slice of an existing value: no copy */
	r->n = b - a;
	return 0;
}

static int fn_Trim(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                   struct val *r)
{
	(void)c, (void)n;
	return trim_common(t, &a[0], &a[1], true, true, r);
}

static int fn_TrimLeft(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                       struct val *r)
{
	(void)c, (void)n;
	return trim_common(t, &a[0], &a[1], true, false, r);
}

static int fn_TrimRight(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                        struct val *r)
{
	(void)c, (void)n;
	return trim_common(t, &a[0], &a[1], false, true, r);
}

static int fn_TrimSpace(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                        struct val *r)
{
	(void)c, (void)n;
	return trim_common(t, &a[0], NULL, true, true, r);
}

/* sprig trimAll(cutset, s) */
static int fn_trimAll(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                      struct val *r)
{
	(void)c, (void)n;
	return trim_common(t, &a[1], &a[0], true, true, r);
}

static int prefix_common(struct lf_template *t, const struct val *s, const struct val *p,
                         bool suffix, struct val *r)
{
	if (want_str(t, s) || want_str(t, p))
		return -1;
	*r = *s;
	if (p->n <= s->n) {
		if (!suffix && memcmp(s->s, p->s, p->n) == 0) {
			r->s += p->n;
			r->n -= p->n;
		} else if (suffix && memcmp(s->s + s->n - p->n, p->s, p->n) == 0) {
			r->n -= p->n;
		}
	}
	return 0;
}

static int fn_TrimPrefix(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                         struct val *r)
{
	(void)c, (void)n;
	return prefix_common(t, &a[0], &a[1], false, r);
}

static int fn_TrimSuffix(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                         struct val *r)
{
	(void)c, (void)n;
	return prefix_common(t, &a[0], &a[1], true, r);
}

static int fn_trimPrefix(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                         struct val *r)
{
	(void)c, (void)n;
	return prefix_common(t, &a[1], &a[0], false, r);
}

static int fn_trimSuffix(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                         struct val *r)
{
	(void)c, (void)n;
	return prefix_common(t, &a[1], &a[0], true, r);
}

static int hash_common(struct lf_template *t, const EVP_MD *md, struct val *a, struct val *r)
{
	if (want_str(t, &a[0]) || want_str(t, &a[1]))
		return -1;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	if (!t->md && !(t->md = EVP_MD_CTX_new()))
		return exec_err(t, "out of memory");
	EVP_MD_CTX *ctx = t->md;
	bool ok = EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
	          EVP_DigestUpdate(ctx, a[0].s, a[0].n) == 1 &&
	          EVP_DigestUpdate(ctx, a[1].s, a[1].n) == 1 &&
	          EVP_DigestFinal_ex(ctx, d, &dl) == 1;
	if (!ok)
		return exec_err(t, "hash failed");
	char hex[2 * EVP_MAX_MD_SIZE];
	for (unsigned i = 0; i < dl; i++) {
		hex[2 * i] = "0123456789abcdef"[d[i] >> 4];
		hex[2 * i + 1] = "0123456789abcdef"[d[i] & 15];
	}
	return str_result(t, r, hex, 2 * (size_t)dl);
}

/* Promtail: Hash(salt, input) = hex(sha3-256(salt + input)) */
static int fn_Hash(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                   struct val *r)
{
	(void)c, (void)n;
	return hash_common(t, EVP_sha3_256(), a, r);
}

static int fn_Sha2Hash(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                       struct val *r)
{
	(void)c, (void)n;
	return hash_common(t, EVP_sha256(), a, r);
}

/* The regex of a function whose first argument is a regex: compiled at
 * parse time when it is a literal, else per call (as Go does); *own is
 * what the caller frees. */
static struct lf_regex *get_re(struct lf_template *t, const struct cmd *c, const struct val *a0,
                               const char *fname, struct lf_regex **own)
{
	*own = NULL;
	if (c->re)
		return c->re;
	struct lf_error rerr;
	char *pat = arena_dup(&t->arena, a0->s, a0->n);
	if (!pat) {
		exec_err(t, "out of memory");
		return NULL;
	}
	if (lf_regex_new(pat, 0, own, &rerr) < 0) {
		exec_err(t, "error calling %s: %s", fname, rerr.msg);
		return NULL;
	}
	return *own;
}

static int regex_common(struct lf_template *t, const struct cmd *c, struct val *a, bool literal,
                        struct val *r)
{
	if (want_str(t, &a[0]) || want_str(t, &a[1]) || want_str(t, &a[2]))
		return -1;
	struct lf_regex *own, *re = get_re(t, c, &a[0], "regexReplaceAll", &own);
	if (!re)
		return -1;
	lf_buf_reset(&t->tmp);
	int rc = lf_regex_replace_all(re, a[1].s, a[1].n, a[2].s, a[2].n, literal, &t->tmp, &t->m);
	lf_regex_free(own);
	if (rc < 0)
		return exec_err(t, "regexReplaceAll failed");
	return tmp_result(t, r);
}

static int fn_regexReplaceAll(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                              struct val *r)
{
	(void)n;
	return regex_common(t, c, a, false, r);
}

static int fn_regexReplaceAllLiteral(struct lf_template *t, const struct cmd *c, struct val *a,
                                     size_t n, struct val *r)
{
	(void)n;
	return regex_common(t, c, a, true, r);
}

static void bool_result(struct val *r, bool b)
{
	memset(r, 0, sizeof *r);
	r->k = V_BOOL;
	r->b = b;
}

/* sprig contains(substr, s) / hasPrefix(prefix, s) / hasSuffix(suffix, s) */
static int fn_contains(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                       struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]) || want_str(t, &a[1]))
		return -1;
	bool_result(r, a[0].n == 0 || memmem(a[1].s, a[1].n, a[0].s, a[0].n) != NULL);
	return 0;
}

static int fn_hasPrefix(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                        struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]) || want_str(t, &a[1]))
		return -1;
	bool_result(r, a[0].n <= a[1].n && memcmp(a[1].s, a[0].s, a[0].n) == 0);
	return 0;
}

static int fn_hasSuffix(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                        struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]) || want_str(t, &a[1]))
		return -1;
	bool_result(r, a[0].n <= a[1].n && memcmp(a[1].s + a[1].n - a[0].n, a[0].s, a[0].n) == 0);
	return 0;
}

/* sprig default(def, given...): given[0] unless empty */
static int fn_default(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                      struct val *r)
{
	(void)t, (void)c;
	*r = (n < 2 || !truth(&a[1])) ? a[0] : a[1];
	return 0;
}

/* trunc(n, s): sprig's, which Loki 2.8 registers: counts bytes; n < 0
 * keeps the last -n bytes */
static int fn_trunc(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                    struct val *r)
{
	(void)c, (void)n;
	int64_t k = 0;
	if (want_int(t, &a[0], &k) || want_str(t, &a[1]))
		return -1;
	*r = a[1];
	int64_t len = (int64_t)a[1].n;
	if (k < 0 && len + k > 0) {
		r->s += len + k;
		r->n = (size_t)-k;
	} else if (k >= 0 && len > k) {
		r->n = (size_t)k;
	}
	return 0;
}

/* substr(start, end, s): sprig's byte version: start < 0 -> s[:end]; end < 0
 * or past the end -> s[start:]; else s[start:end]. Go's slice expressions
 * panic when out of range, which text/template reports as an error. */
static int fn_substr(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                     struct val *r)
{
	(void)c, (void)n;
	int64_t st = 0, en = 0;
	if (want_int(t, &a[0], &st) || want_int(t, &a[1], &en) || want_str(t, &a[2]))
		return -1;
	int64_t len = (int64_t)a[2].n;
	*r = a[2];
	if (st < 0) {
		if (en < 0 || en > len)
			return exec_err(t,
			                "error calling substr: runtime error: slice bounds out of "
			                "range [:%lld] with length %lld",
			                (long long)en, (long long)len);
		r->n = (size_t)en;
		return 0;
	}
	if (en < 0 || en > len) {
		if (st > len)
			return exec_err(t,
			                "error calling substr: runtime error: slice bounds out of "
			                "range [%lld:%lld]",
			                (long long)st, (long long)len);
		r->s += st;
		r->n -= (size_t)st;
		return 0;
	}
	if (st > en)
		return exec_err(t,
		                "error calling substr: runtime error: slice bounds out of range "
		                "[%lld:%lld]",
		                (long long)st, (long long)en);
	r->s += st;
	r->n = (size_t)(en - st);
	return 0;
}

static int fn_repeat(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                     struct val *r)
{
	(void)c, (void)n;
	int64_t k = 0;
	if (want_int(t, &a[0], &k) || want_str(t, &a[1]))
		return -1;
	if (k > 0 && (int64_t)a[1].n > MAX_RESULT / k)
		return exec_err(t, "error calling repeat: result too large");
	lf_buf_reset(&t->tmp);
	for (int64_t i = 0; i < k; i++)
		if (lf_buf_append(&t->tmp, a[1].s, a[1].n) < 0)
			return exec_err(t, "out of memory");
	return tmp_result(t, r);
}

static int print_val(struct lf_template *t, const struct val *v, struct lf_buf *out);

static int quote_common(struct lf_template *t, struct val *a, size_t n, char q, struct val *r)
{
	struct lf_buf *tmp2 = &t->tmp2;
	lf_buf_reset(&t->tmp);
	for (size_t i = 0; i < n; i++) {
		if (a[i].k == V_MISSING || a[i].k == V_NIL)
			continue;
		if (t->tmp.len && lf_buf_putc(&t->tmp, ' ') < 0)
			goto oom;
		lf_buf_reset(tmp2);
		if (print_val(t, &a[i], tmp2) < 0)
			return -1;
		if (q == '"') {
			if (lf_buf_append_quoted(&t->tmp, tmp2->data, tmp2->len) < 0)
				goto oom;
		} else if (lf_buf_putc(&t->tmp, q) < 0 ||
		           lf_buf_append(&t->tmp, tmp2->data, tmp2->len) < 0 ||
		           lf_buf_putc(&t->tmp, q) < 0) {
			goto oom;
		}
	}
	return tmp_result(t, r);
oom:
	return exec_err(t, "out of memory");
}

static int fn_quote(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                    struct val *r)
{
	(void)c;
	return quote_common(t, a, n, '"', r);
}

static int fn_squote(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                     struct val *r)
{
	(void)c;
	return quote_common(t, a, n, '\'', r);
}

static int fn_b64enc(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                     struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]))
		return -1;
	lf_buf_reset(&t->tmp);
	if (lf_buf_reserve(&t->tmp, 4 * (a[0].n / 3 + 1) + 1) < 0)
		return exec_err(t, "out of memory");
	int k = EVP_EncodeBlock((unsigned char *)t->tmp.data, (const unsigned char *)a[0].s,
	                        (int)a[0].n);
	t->tmp.len = (size_t)k;
	return tmp_result(t, r);
}

static int fn_b64dec(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                     struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]))
		return -1;
	lf_buf_reset(&t->tmp);
	if (lf_buf_reserve(&t->tmp, a[0].n + 4) < 0)
		return exec_err(t, "out of memory");
	if (a[0].n % 4 != 0)
		return str_result(t, r, "illegal base64 data",
		                  19); /* sprig returns the error text */
	int k = EVP_DecodeBlock((unsigned char *)t->tmp.data, (const unsigned char *)a[0].s,
	                        (int)a[0].n);
	if (k < 0)
		return str_result(t, r, "illegal base64 data", 19);
	/* EVP_DecodeBlock keeps the padding bytes as zeros: drop them */
	if (a[0].n >= 1 && a[0].s[a[0].n - 1] == '=')
		k--;
	if (a[0].n >= 2 && a[0].s[a[0].n - 2] == '=')
		k--;
	t->tmp.len = (size_t)k;
	return tmp_result(t, r);
}

/* Go url.QueryEscape */
static int fn_urlencode(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                        struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]))
		return -1;
	lf_buf_reset(&t->tmp);
	for (size_t i = 0; i < a[0].n; i++) {
		unsigned char ch = (unsigned char)a[0].s[i];
		int rc;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~')
			rc = lf_buf_putc(&t->tmp, (char)ch);
		else if (ch == ' ')
			rc = lf_buf_putc(&t->tmp, '+');
		else
			rc = lf_buf_printf(&t->tmp, "%%%02X", ch);
		if (rc < 0)
			return exec_err(t, "out of memory");
	}
	return tmp_result(t, r);
}

/* --- Go builtins --- */

static int fn_not(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                  struct val *r)
{
	(void)t, (void)c, (void)n;
	bool_result(r, !truth(&a[0]));
	return 0;
}

static int fn_and(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                  struct val *r)
{
	(void)t, (void)c;
	for (size_t i = 0; i < n; i++)
		if (!truth(&a[i]) || i == n - 1) {
			*r = a[i];
			return 0;
		}
	return 0;
}

static int fn_or(struct lf_template *t, const struct cmd *c, struct val *a, size_t n, struct val *r)
{
	(void)t, (void)c;
	for (size_t i = 0; i < n; i++)
		if (truth(&a[i]) || i == n - 1) {
			*r = a[i];
			return 0;
		}
	return 0;
}

/* compares a and b: -2 incompatible, else -1/0/1 */
static int cmp_vals(const struct val *a, const struct val *b)
{
	if (a->k == V_STR && b->k == V_STR) {
		size_t m = a->n < b->n ? a->n : b->n;
		int c = memcmp(a->s, b->s, m);
		if (c == 0)
			c = a->n < b->n ? -1 : a->n > b->n;
		return c < 0 ? -1 : c > 0;
	}
	if ((a->k == V_INT || a->k == V_FLOAT) && (b->k == V_INT || b->k == V_FLOAT)) {
		if (a->k == V_INT && b->k == V_INT)
			return a->i < b->i ? -1 : a->i > b->i;
		if (a->k != b->k)
			return -2; /* Go: incompatible types (int vs float64) */
		return a->f < b->f ? -1 : a->f > b->f;
	}
	if (a->k == V_BOOL && b->k == V_BOOL)
		return a->b == b->b ? 0 : 2; /* unordered */
	if (a->k == V_NIL && b->k == V_NIL)
		return 0;
	return -2;
}

static int fn_eq(struct lf_template *t, const struct cmd *c, struct val *a, size_t n, struct val *r)
{
	(void)c;
	for (size_t i = 1; i < n; i++) {
		int k = cmp_vals(&a[0], &a[i]);
		if (k == -2)
			return exec_err(t, "error calling eq: incompatible types for comparison");
		if (k == 0) {
			bool_result(r, true);
			return 0;
		}
	}
	bool_result(r, false);
	return 0;
}

static int fn_ne(struct lf_template *t, const struct cmd *c, struct val *a, size_t n, struct val *r)
{
	if (fn_eq(t, c, a, n, r) < 0)
		return -1;
	r->b = !r->b;
	return 0;
}

static int ordered(struct lf_template *t, const char *name, struct val *a, int *k)
{
	*k = cmp_vals(&a[0], &a[1]);
	if (*k == -2 || *k == 2)
		return exec_err(t, "error calling %s: incompatible types for comparison", name);
	return 0;
}

static int fn_lt(struct lf_template *t, const struct cmd *c, struct val *a, size_t n, struct val *r)
{
	(void)c, (void)n;
	int k;
	if (ordered(t, "lt", a, &k))
		return -1;
	bool_result(r, k < 0);
	return 0;
}

static int fn_le(struct lf_template *t, const struct cmd *c, struct val *a, size_t n, struct val *r)
{
	(void)c, (void)n;
	int k;
	if (ordered(t, "le", a, &k))
		return -1;
	bool_result(r, k <= 0);
	return 0;
}

static int fn_gt(struct lf_template *t, const struct cmd *c, struct val *a, size_t n, struct val *r)
{
	(void)c, (void)n;
	int k;
	if (ordered(t, "gt", a, &k))
		return -1;
	bool_result(r, k > 0);
	return 0;
}

static int fn_ge(struct lf_template *t, const struct cmd *c, struct val *a, size_t n, struct val *r)
{
	(void)c, (void)n;
	int k;
	if (ordered(t, "ge", a, &k))
		return -1;
	bool_result(r, k >= 0);
	return 0;
}

static int fn_len(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                  struct val *r)
{
	(void)c, (void)n;
	if (a[0].k == V_JOBJ || a[0].k == V_JARR) {
		json_t *j =
		        json_loadb(a[0].s, a[0].n, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
		if (!j)
			return exec_err(t, "out of memory");
		size_t k = json_is_object(j) ? json_object_size(j) : json_array_size(j);
		json_decref(j);
		memset(r, 0, sizeof *r);
		r->k = V_INT;
		r->i = (int64_t)k;
		return 0;
	}
	if (a[0].k != V_STR)
		return exec_err(t, "error calling len: len of type %s", kind_name(a[0].k));
	memset(r, 0, sizeof *r);
	r->k = V_INT;
	r->i = (int64_t)a[0].n;
	return 0;
}

/* fmt.Sprint(args...) into b (spaces between operands when neither is a
 * string) */
static int sprint_into(struct lf_template *t, struct val *a, size_t n, struct lf_buf *b)
{
	lf_buf_reset(b);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && a[i].k != V_STR && a[i - 1].k != V_STR && lf_buf_putc(b, ' ') < 0)
			return exec_err(t, "out of memory");
		if (print_val(t, &a[i], b) < 0)
			return -1;
	}
	return 0;
}

/* fmt.Sprint */
static int fn_print(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                    struct val *r)
{
	(void)c;
	struct lf_buf *b = &t->tmp2;
	if (sprint_into(t, a, n, b) < 0)
		return -1;
	return str_result(t, r, b->data ? b->data : "", b->len);
}

/* fmt.Sprintf subset: %s %v %d %q %x %X %f %e %g %t %%, flags/width/precision.
 * The C format is built from the user's verb spec (flags/width/precision
 * only, validated above), hence the non-literal formats. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int fn_printf(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                     struct val *r)
{
	(void)c;
	if (want_str(t, &a[0]))
		return -1;
	const char *f = a[0].s;
	size_t fn = a[0].n, ai = 1;
	/* template-owned scratch: arguments were evaluated before this body
	 * runs, so nested calls cannot clobber them */
	struct lf_buf *b = &t->tmp2, *sv = &t->tmp3, *q = &t->tmp4;
	lf_buf_reset(b);
	int rc = 0;
	for (size_t i = 0; i < fn && rc == 0;) {
		if (f[i] != '%') {
			rc = lf_buf_putc(b, f[i++]);
			continue;
		}
		size_t st = i++;
		while (i < fn && strchr("+-# 0", f[i]))
			i++;
		int64_t width = 0, prec = 0;
		while (i < fn && f[i] >= '0' && f[i] <= '9' && width <= MAX_RESULT)
			width = width * 10 + (f[i++] - '0');
		if (i < fn && f[i] == '.') {
			i++;
			while (i < fn && f[i] >= '0' && f[i] <= '9' && prec <= MAX_RESULT)
				prec = prec * 10 + (f[i++] - '0');
		}
		if (width > 4096 || prec > 4096) {
			rc = lf_buf_appends(b, "%!(BADWIDTH)");
			break;
		}
		if (i >= fn) {
			rc = lf_buf_appends(b, "%!(NOVERB)");
			break;
		}
		char verb = f[i++];
		if (verb == '%') {
			rc = lf_buf_putc(b, '%');
			continue;
		}
		char spec[32];
		size_t sl = i - 1 - st;
		if (sl > sizeof spec - 4)
			sl = sizeof spec - 4;
		memcpy(spec, f + st, sl);
		spec[sl] = '\0';
		if (ai >= n) {
			rc = lf_buf_printf(b, "%%!%c(MISSING)", verb);
			continue;
		}
		struct val *v = &a[ai++];
		char fmtbuf[40];
		if ((verb == 'd' || verb == 'x' || verb == 'X') && v->k == V_INT) {
			snprintf(fmtbuf, sizeof fmtbuf, "%sll%c", spec, verb);
			rc = lf_buf_printf(b, fmtbuf, (long long)v->i);
		} else if ((verb == 'f' || verb == 'e' || verb == 'g' || verb == 'v') &&
		           v->k == V_FLOAT) {
			snprintf(fmtbuf, sizeof fmtbuf, "%s%c", spec, verb == 'v' ? 'g' : verb);
			rc = lf_buf_printf(b, fmtbuf, v->f);
		} else if (verb == 's' || verb == 'v' || verb == 'q' || verb == 't' ||
		           ((verb == 'x' || verb == 'X') && v->k == V_STR)) {
			lf_buf_reset(sv);
			if (print_val(t, v, sv) < 0) {
				rc = -2;
				break;
			}
			const struct lf_buf *src = sv;
			if (verb == 'q') {
				lf_buf_reset(q);
				rc = lf_buf_append_quoted(q, sv->data, sv->len);
				src = q;
			} else if (verb == 'x' || verb == 'X') {
				lf_buf_reset(q);
				for (size_t k = 0; k < sv->len && rc == 0; k++)
					rc = lf_buf_printf(q, verb == 'x' ? "%02x" : "%02X",
					                   (unsigned char)sv->data[k]);
				src = q;
			}
			if (rc == 0) {
				snprintf(fmtbuf, sizeof fmtbuf, "%s.*s", spec);
				/* a user precision would need runes; keep whole value */
				if (strchr(spec, '.'))
					snprintf(fmtbuf, sizeof fmtbuf, "%%.*s");
				rc = lf_buf_printf(b, fmtbuf, (int)src->len,
				                   src->data ? src->data : "");
			}
		} else {
			lf_buf_reset(sv);
			if (print_val(t, v, sv) < 0) {
				rc = -2;
				break;
			}
			rc = lf_buf_printf(b, "%%!%c(%s=%.*s)", verb, kind_name(v->k), (int)sv->len,
			                   sv->data ? sv->data : "");
		}
	}
	if (rc == 0 && ai < n)
		rc = lf_buf_appends(b, "%!(EXTRA)");
	if (rc == -2)
		return -1;
	if (rc < 0)
		return exec_err(t, "out of memory");
	return str_result(t, r, b->data ? b->data : "", b->len);
}
#pragma GCC diagnostic pop

/* --- more sprig / LogQL functions --- */

/* sprig regexMatch(regex, s): unanchored search */
static int fn_regexMatch(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                         struct val *r)
{
	(void)n;
	if (want_str(t, &a[0]) || want_str(t, &a[1]))
		return -1;
	struct lf_regex *own, *re = get_re(t, c, &a[0], "regexMatch", &own);
	if (!re)
		return -1;
	int rc = lf_regex_exec(re, a[1].s, a[1].n, 0, &t->m, NULL);
	lf_regex_free(own);
	bool_result(r, rc == 1);
	return 0;
}

/* sprig regexFind(regex, s): the first match or "" */
static int fn_regexFind(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                        struct val *r)
{
	(void)n;
	if (want_str(t, &a[0]) || want_str(t, &a[1]))
		return -1;
	struct lf_regex *own, *re = get_re(t, c, &a[0], "regexFind", &own);
	if (!re)
		return -1;
	int rc = lf_regex_exec(re, a[1].s, a[1].n, 0, &t->m, NULL);
	lf_regex_free(own);
	r->k = V_STR;
	r->s = "";
	r->n = 0;
	if (rc == 1) { /* a slice of the argument: no copy */
		r->s = a[1].s + t->m.ov[0];
		r->n = t->m.ov[1] - t->m.ov[0];
	}
	return 0;
}

/* LogQL count(regex, s): number of non-overlapping matches */
static int fn_count(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                    struct val *r)
{
	(void)n;
	if (want_str(t, &a[0]) || want_str(t, &a[1]))
		return -1;
	struct lf_regex *own, *re = get_re(t, c, &a[0], "count", &own);
	if (!re)
		return -1;
	int64_t k = 0;
	size_t pos = 0, last_end = SIZE_MAX;
	while (pos <= a[1].n && lf_regex_exec(re, a[1].s, a[1].n, pos, &t->m, NULL) == 1) {
		size_t s0 = t->m.ov[0], e0 = t->m.ov[1];
		if (!(s0 == e0 && s0 == last_end)) /* Go: no empty match right after one */
			k++;
		last_end = e0;
		pos = e0 > pos ? e0 : pos + 1;
	}
	lf_regex_free(own);
	memset(r, 0, sizeof *r);
	r->k = V_INT;
	r->i = k;
	return 0;
}

/* sprig nospace: drop every Unicode space */
static int fn_nospace(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                      struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]))
		return -1;
	lf_buf_reset(&t->tmp);
	for (size_t i = 0; i < a[0].n;) {
		uint32_t cp;
		size_t w = dec_rune((const unsigned char *)a[0].s + i, a[0].n - i, &cp);
		if (!is_space_rune(cp) && lf_buf_append(&t->tmp, a[0].s + i, w) < 0)
			return exec_err(t, "out of memory");
		i += w;
	}
	return tmp_result(t, r);
}

/* sprig cat: operands printed and joined by single spaces (nil skipped) */
static int fn_cat(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                  struct val *r)
{
	(void)c;
	struct lf_buf *b = &t->tmp2;
	lf_buf_reset(b);
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		if (a[i].k == V_NIL || a[i].k == V_MISSING)
			continue;
		if (!first && lf_buf_putc(b, ' ') < 0)
			return exec_err(t, "out of memory");
		if (print_val(t, &a[i], b) < 0)
			return -1;
		first = false;
	}
	return str_result(t, r, b->data ? b->data : "", b->len);
}

static int indent_common(struct lf_template *t, struct val *a, bool nl, struct val *r)
{
	int64_t k = 0;
	if (want_int(t, &a[0], &k) || want_str(t, &a[1]))
		return -1;
	if (k > MAX_RESULT / ((int64_t)a[1].n + 1))
		return exec_err(t, "error calling indent: result too large");
	lf_buf_reset(&t->tmp);
	int rc = nl ? lf_buf_putc(&t->tmp, '\n') : 0;
	for (int64_t i = 0; i < k && rc == 0; i++)
		rc = lf_buf_putc(&t->tmp, ' ');
	for (size_t i = 0; i < a[1].n && rc == 0; i++) {
		rc = lf_buf_putc(&t->tmp, a[1].s[i]);
		for (int64_t j = 0; a[1].s[i] == '\n' && j < k && rc == 0; j++)
			rc = lf_buf_putc(&t->tmp, ' ');
	}
	if (rc < 0)
		return exec_err(t, "out of memory");
	return tmp_result(t, r);
}

static int fn_indent(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                     struct val *r)
{
	(void)c, (void)n;
	return indent_common(t, a, false, r);
}

static int fn_nindent(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                      struct val *r)
{
	(void)c, (void)n;
	return indent_common(t, a, true, r);
}

/* byte offset of rune number k in s (s->n when s has fewer runes) */
static size_t rune_off(const struct val *s, int64_t k, int64_t *count)
{
	size_t i = 0;
	int64_t m = 0;
	while (i < s->n && m < k) {
		uint32_t cp;
		i += dec_rune((const unsigned char *)s->s + i, s->n - i, &cp);
		m++;
	}
	if (count)
		*count = m;
	return i;
}

static int64_t rune_count(const struct val *s)
{
	int64_t m = 0;
	rune_off(s, INT64_MAX, &m);
	return m;
}

/* Loki alignLeft(count, s) / alignRight(count, s): pad with spaces or cut
 * to `count` runes */
static int align_common(struct lf_template *t, struct val *a, bool left, struct val *r)
{
	int64_t k = 0;
	if (want_int(t, &a[0], &k) || want_str(t, &a[1]))
		return -1;
	int64_t len = rune_count(&a[1]);
	if (k > MAX_RESULT)
		return exec_err(t, "error calling align: result too large");
	if (k < 0 || k == len) {
		*r = a[1];
		return 0;
	}
	if (k < len) {
		*r = a[1];
		if (left) {
			r->n = rune_off(&a[1], k, NULL);
		} else {
			size_t off = rune_off(&a[1], len - k, NULL);
			r->s += off;
			r->n -= off;
		}
		return 0;
	}
	lf_buf_reset(&t->tmp);
	int rc = left ? lf_buf_append(&t->tmp, a[1].s, a[1].n) : 0;
	for (int64_t i = 0; i < k - len && rc == 0; i++)
		rc = lf_buf_putc(&t->tmp, ' ');
	if (rc == 0 && !left)
		rc = lf_buf_append(&t->tmp, a[1].s, a[1].n);
	if (rc < 0)
		return exec_err(t, "out of memory");
	return tmp_result(t, r);
}

static int fn_alignLeft(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                        struct val *r)
{
	(void)c, (void)n;
	return align_common(t, a, true, r);
}

static int fn_alignRight(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                         struct val *r)
{
	(void)c, (void)n;
	return align_common(t, a, false, r);
}

/* Go url.QueryUnescape */
static int fn_urldecode(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                        struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]))
		return -1;
	lf_buf_reset(&t->tmp);
	const char *s = a[0].s;
	for (size_t i = 0; i < a[0].n; i++) {
		int rc;
		if (s[i] == '%') {
			int h = i + 2 < a[0].n ? lf_hexval(s[i + 1]) : -1;
			int l = i + 2 < a[0].n ? lf_hexval(s[i + 2]) : -1;
			if (h < 0 || l < 0) {
				size_t k = a[0].n - i < 3 ? a[0].n - i : 3;
				return exec_err(
				        t, "error calling urldecode: invalid URL escape \"%.*s\"",
				        (int)k, s + i);
			}
			rc = lf_buf_putc(&t->tmp, (char)(h * 16 + l));
			i += 2;
		} else {
			rc = lf_buf_putc(&t->tmp, s[i] == '+' ? ' ' : s[i]);
		}
		if (rc < 0)
			return exec_err(t, "out of memory");
	}
	return tmp_result(t, r);
}

/* Go's int64(f) as amd64 executes it (CVTTSD2SQ): truncation toward zero;
 * NaN and values outside [-2^63, 2^63) give math.MinInt64 (the spec leaves
 * out-of-range conversions implementation-defined; C makes them UB). */
static int64_t go_f64_to_i64(double f)
{
	if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
		return INT64_MIN;
	return (int64_t)f;
}

/* x * k for epoch conversions: time values here are int64 ns, Go's
 * time.Time goes further; beyond 1677..2262 they saturate (issue 17) */
static int64_t sat_mul(int64_t x, int64_t k)
{
	int64_t r;
	if (__builtin_mul_overflow(x, k, &r))
		return (x < 0) != (k < 0) ? INT64_MIN : INT64_MAX;
	return r;
}

/* sprig's cast.ToInt64 / ToFloat64: strings are parsed, failures give 0 */
static int64_t to_i64(const struct val *v)
{
	switch (v->k) {
	case V_INT:
	case V_TIME:
		return v->i;
	case V_FLOAT:
		return go_f64_to_i64(v->f);
	case V_BOOL:
		return v->b;
	case V_STR: {
		char tmp[64];
		if (v->n == 0 || v->n >= sizeof tmp)
			return 0;
		memcpy(tmp, v->s, v->n);
		tmp[v->n] = '\0';
		/* ParseInt(s, 0, 64): no leading space; out of range is an error */
		if (isspace((unsigned char)tmp[0]))
			return 0;
		char *end;
		errno = 0;
		long long x = strtoll(tmp, &end, 0);
		return *end || errno == ERANGE ? 0 : x;
	}
	default:
		return 0;
	}
}

static double to_f64(const struct val *v)
{
	switch (v->k) {
	case V_FLOAT:
		return v->f;
	case V_STR: {
		char tmp[64];
		if (v->n == 0 || v->n >= sizeof tmp)
			return 0;
		memcpy(tmp, v->s, v->n);
		tmp[v->n] = '\0';
		char *end;
		double x = strtod(tmp, &end);
		return *end ? 0 : x;
	}
	default:
		return (double)to_i64(v);
	}
}

static void int_result(struct val *r, int64_t x)
{
	memset(r, 0, sizeof *r);
	r->k = V_INT;
	r->i = x;
}

static void float_result(struct val *r, double x)
{
	memset(r, 0, sizeof *r);
	r->k = V_FLOAT;
	r->f = x;
}

static int arith(struct lf_template *t, struct val *a, size_t n, char op, struct val *r)
{
	int64_t x = to_i64(&a[0]);
	for (size_t i = 1; i < n; i++) {
		int64_t y = to_i64(&a[i]);
		switch (op) {
		case '+':
			x = (int64_t)((uint64_t)x + (uint64_t)y);
			break;
		case '-':
			x = (int64_t)((uint64_t)x - (uint64_t)y);
			break;
		case '*':
			x = (int64_t)((uint64_t)x * (uint64_t)y);
			break;
		case '/':
		case '%':
			if (y == 0)
				return exec_err(t, "error calling %s: integer divide by zero",
				                op == '/' ? "div" : "mod");
			if (x == INT64_MIN && y == -1)
				x = op == '/' ? INT64_MIN : 0;
			else
				x = op == '/' ? x / y : x % y;
			break;
		case '>':
			x = y > x ? y : x;
			break;
		case '<':
			x = y < x ? y : x;
			break;
		}
	}
	int_result(r, x);
	return 0;
}

#define ARITH_FN(name, op)                                                                         \
	static int name(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,       \
	                struct val *r)                                                             \
	{                                                                                          \
		(void)c;                                                                           \
		return arith(t, a, n, op, r);                                                      \
	}
ARITH_FN(fn_add, '+')
ARITH_FN(fn_sub, '-')
ARITH_FN(fn_mul, '*')
ARITH_FN(fn_div, '/')
ARITH_FN(fn_mod, '%')
ARITH_FN(fn_max, '>')
ARITH_FN(fn_min, '<')

static int fn_add1(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                   struct val *r)
{
	(void)t, (void)c, (void)n;
	/* Go's int64 addition wraps */
	int_result(r, (int64_t)((uint64_t)to_i64(&a[0]) + 1u));
	return 0;
}

static int farith(struct val *a, size_t n, char op, struct val *r)
{
	double x = to_f64(&a[0]);
	for (size_t i = 1; i < n; i++) {
		double y = to_f64(&a[i]);
		x = op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : x / y;
	}
	float_result(r, x);
	return 0;
}

#define FARITH_FN(name, op)                                                                        \
	static int name(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,       \
	                struct val *r)                                                             \
	{                                                                                          \
		(void)t, (void)c;                                                                  \
		return farith(a, n, op, r);                                                        \
	}
FARITH_FN(fn_addf, '+')
FARITH_FN(fn_subf, '-')
FARITH_FN(fn_mulf, '*')
FARITH_FN(fn_divf, '/')

static int fn_int(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                  struct val *r)
{
	(void)t, (void)c, (void)n;
	int_result(r, to_i64(&a[0]));
	return 0;
}

static int fn_float64(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                      struct val *r)
{
	(void)t, (void)c, (void)n;
	float_result(r, to_f64(&a[0]));
	return 0;
}

static int fn_toString(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                       struct val *r)
{
	(void)c, (void)n;
	if (a[0].k == V_STR) {
		*r = a[0];
		return 0;
	}
	lf_buf_reset(&t->tmp);
	if (print_val(t, &a[0], &t->tmp) < 0)
		return -1;
	return tmp_result(t, r);
}

/* sprig empty(v) / coalesce(v...) / ternary(vt, vf, cond) */
static int fn_empty(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                    struct val *r)
{
	(void)t, (void)c, (void)n;
	bool_result(r, !truth(&a[0]));
	return 0;
}

static int fn_coalesce(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                       struct val *r)
{
	(void)t, (void)c;
	memset(r, 0, sizeof *r);
	r->k = V_NIL;
	for (size_t i = 0; i < n; i++)
		if (truth(&a[i])) {
			*r = a[i];
			break;
		}
	return 0;
}

static int fn_ternary(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                      struct val *r)
{
	(void)t, (void)c, (void)n;
	*r = truth(&a[2]) ? a[0] : a[1];
	return 0;
}

/* --- time (sprig date functions, LogQL __timestamp__) --- */

static int time_format(struct lf_template *t, const char *layout, int64_t ns, struct lf_buf *out)
{
	if (lf_gotime_format_str(layout, ns, lf_tz_local(), out) < 0)
		return exec_err(t, "out of memory");
	return 0;
}

static void time_result(struct val *r, int64_t ns)
{
	memset(r, 0, sizeof *r);
	r->k = V_TIME;
	r->i = ns;
}

static int fn_now(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                  struct val *r)
{
	(void)t, (void)c, (void)a, (void)n;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	time_result(r, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
	return 0;
}

/* sprig date(layout, t): t is a time or Unix seconds; local zone */
static int fn_date(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                   struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]))
		return -1;
	int64_t ns;
	if (a[1].k == V_TIME)
		ns = a[1].i;
	else if (a[1].k == V_INT)
		ns = sat_mul(a[1].i, 1000000000);
	else
		return exec_err(t, "error calling date: expected a time, got %s",
		                kind_name(a[1].k));
	char *layout = arena_dup(&t->arena, a[0].s, a[0].n);
	if (!layout)
		return exec_err(t, "out of memory");
	lf_buf_reset(&t->tmp);
	if (time_format(t, layout, ns, &t->tmp) < 0)
		return -1;
	return tmp_result(t, r);
}

/* sprig toDate(layout, s): parsed in the local zone */
static int fn_toDate(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                     struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]) || want_str(t, &a[1]))
		return -1;
	char *layout = arena_dup(&t->arena, a[0].s, a[0].n);
	char *value = arena_dup(&t->arena, a[1].s, a[1].n);
	if (!layout || !value)
		return exec_err(t, "out of memory");
	int64_t ns;
	struct lf_error perr2;
	if (lf_gotime_parse_str(layout, value, lf_tz_local(), 0, &ns, &perr2) < 0)
		return exec_err(t, "error calling toDate: %s", perr2.msg);
	time_result(r, ns);
	return 0;
}

static int epoch_common(struct lf_template *t, struct val *a, int64_t div, struct val *r)
{
	if (a[0].k != V_TIME)
		return exec_err(t, "wrong type for value; expected time.Time; got %s",
		                kind_name(a[0].k));
	int64_t q = a[0].i / div;
	if (a[0].i % div < 0)
		q--;
	char num[24];
	int k = snprintf(num, sizeof num, "%lld", (long long)q);
	return str_result(t, r, num, (size_t)k);
}

static int fn_unixEpoch(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                        struct val *r)
{
	(void)c, (void)n;
	return epoch_common(t, a, 1000000000, r);
}

static int fn_unixEpochMillis(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                              struct val *r)
{
	(void)c, (void)n;
	return epoch_common(t, a, 1000000, r);
}

static int fn_unixEpochNanos(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                             struct val *r)
{
	(void)c, (void)n;
	return epoch_common(t, a, 1, r);
}

/* Loki unixToTime(s): days (5 digits), s (10), ms (13), us (16), ns (19) */
static int fn_unixToTime(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                         struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]))
		return -1;
	char tmp[32];
	int64_t x = 0;
	char *end = NULL;
	if (a[0].n > 0 && a[0].n < sizeof tmp) {
		memcpy(tmp, a[0].s, a[0].n);
		tmp[a[0].n] = '\0';
		errno = 0;
		x = strtoll(tmp, &end, 10);
	}
	if (!end || *end || errno)
		return exec_err(t, "error calling unixToTime: unable to parse time '%.*s'",
		                (int)a[0].n, a[0].s);
	switch (a[0].n) {
	case 5:
		time_result(r, sat_mul(x, INT64_C(86400000000000)));
		return 0;
	case 10:
		time_result(r, sat_mul(x, 1000000000));
		return 0;
	case 13:
		time_result(r, sat_mul(x, 1000000));
		return 0;
	case 16:
		time_result(r, sat_mul(x, 1000));
		return 0;
	case 19:
		time_result(r, x);
		return 0;
	default:
		return exec_err(t, "error calling unixToTime: unable to parse time '%.*s'",
		                (int)a[0].n, a[0].s);
	}
}

/* Loki toDateInZone(layout, zone, s): unknown zone -> UTC */
static int fn_toDateInZone(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                           struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]) || want_str(t, &a[1]) || want_str(t, &a[2]))
		return -1;
	char *layout = arena_dup(&t->arena, a[0].s, a[0].n);
	char *zone = arena_dup(&t->arena, a[1].s, a[1].n);
	char *value = arena_dup(&t->arena, a[2].s, a[2].n);
	if (!layout || !zone || !value)
		return exec_err(t, "out of memory");
	const struct lf_tz *tz;
	if (lf_tz_load(zone, &tz, NULL) < 0)
		tz = lf_tz_utc();
	int64_t ns;
	struct lf_error perr2;
	if (lf_gotime_parse_str(layout, value, tz, 0, &ns, &perr2) < 0)
		return exec_err(t, "error calling toDateInZone: %s", perr2.msg);
	time_result(r, ns);
	return 0;
}

static int fround_common(struct val *a, int mode, struct val *r)
{
	double x = to_f64(&a[0]);
	float_result(r, mode == 0 ? ceil(x) : mode == 1 ? floor(x) : x);
	return 0;
}

static int fn_ceil(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                   struct val *r)
{
	(void)t, (void)c, (void)n;
	return fround_common(a, 0, r);
}

static int fn_floor(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                    struct val *r)
{
	(void)t, (void)c, (void)n;
	return fround_common(a, 1, r);
}

/* sprig round(x, places[, roundOn=.5]) */
static int fn_round(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                    struct val *r)
{
	(void)t, (void)c;
	double x = to_f64(&a[0]), on = n > 2 ? to_f64(&a[2]) : 0.5;
	int64_t places = to_i64(&a[1]);
	double pow10 = pow(10, (double)places);
	double digit = pow10 * x;
	double intpart, frac = modf(digit, &intpart);
	/* as sprig: a negative value's fraction is negative, so it floors */
	double rounded = frac >= on ? ceil(digit) : floor(digit);
	(void)intpart;
	float_result(r, rounded / pow10);
	return 0;
}

static int fminmax(struct val *a, size_t n, bool max, struct val *r)
{
	double x = to_f64(&a[0]);
	for (size_t i = 1; i < n; i++) {
		double y = to_f64(&a[i]);
		x = max ? (y > x ? y : x) : (y < x ? y : x);
	}
	float_result(r, x);
	return 0;
}

static int fn_maxf(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                   struct val *r)
{
	(void)t, (void)c;
	return fminmax(a, n, true, r);
}

static int fn_minf(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                   struct val *r)
{
	(void)t, (void)c;
	return fminmax(a, n, false, r);
}

/* Loki bytes(s): a humanized size ("1.5KiB", "10MB") as a float */
static int fn_bytes(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                    struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]))
		return -1;
	char *v = arena_dup(&t->arena, a[0].s, a[0].n);
	int64_t b;
	struct lf_error e2;
	if (!v)
		return exec_err(t, "out of memory");
	if (lf_parse_size(v, &b, &e2) < 0)
		return exec_err(t, "error calling bytes: %s", e2.msg);
	float_result(r, (double)b);
	return 0;
}

/* Loki duration(s) / duration_seconds(s): a Go duration in seconds */
/* A Go duration string as float seconds; `name` is the function called,
 * for the error text (Loki's duration, Prometheus' parseDuration). */
static int duration_secs(struct lf_template *t, const char *name, struct val *a, struct val *r)
{
	if (want_str(t, &a[0]))
		return -1;
	char *v = arena_dup(&t->arena, a[0].s, a[0].n);
	int64_t ns;
	struct lf_error e2;
	if (!v)
		return exec_err(t, "out of memory");
	if (lf_parse_duration(v, &ns, &e2) < 0)
		return exec_err(t, "error calling %s: %s", name, e2.msg);
	float_result(r, (double)ns / 1e9);
	return 0;
}

static int fn_duration(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                       struct val *r)
{
	(void)c, (void)n;
	return duration_secs(t, "duration", a, r);
}

/* ---- Prometheus alerting-template functions (store/ruler) ---- */

static int fmt4g(struct lf_template *t, struct val *r, double v, const char *suffix)
{
	lf_buf_reset(&t->tmp);
	if (lf_buf_printf(&t->tmp, "%.4g%s", v, suffix) < 0)
		return exec_err(t, "out of memory");
	return tmp_result(t, r);
}

/* humanize: SI prefixes, 4 significant digits */
static int fn_humanize(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                       struct val *r)
{
	(void)c, (void)n;
	double v = to_f64(&a[0]);
	if (v == 0 || isnan(v) || isinf(v))
		return fmt4g(t, r, v, "");
	static const char *const big[] = {"", "k", "M", "G", "T", "P", "E", "Z", "Y"};
	static const char *const small[] = {"", "m", "u", "n", "p", "f", "a", "z", "y"};
	size_t i = 0;
	if (fabs(v) >= 1) {
		for (; i + 1 < 9 && fabs(v) >= 1000; i++)
			v /= 1000;
		return fmt4g(t, r, v, big[i]);
	}
	for (; i + 1 < 9 && fabs(v) < 1; i++)
		v *= 1000;
	return fmt4g(t, r, v, small[i]);
}

static int fn_humanize1024(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                           struct val *r)
{
	(void)c, (void)n;
	double v = to_f64(&a[0]);
	if (fabs(v) <= 1 || isnan(v) || isinf(v))
		return fmt4g(t, r, v, "");
	static const char *const p[] = {"", "ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
	size_t i = 0;
	for (; i + 1 < 9 && fabs(v) >= 1024; i++)
		v /= 1024;
	return fmt4g(t, r, v, p[i]);
}

static int fn_humanizeDuration(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                               struct val *r)
{
	(void)c, (void)n;
	double v = to_f64(&a[0]);
	if (isnan(v) || isinf(v))
		return fmt4g(t, r, v, "");
	if (v == 0)
		return fmt4g(t, r, v, "s");
	if (fabs(v) >= 1) {
		const char *sign = v < 0 ? "-" : "";
		if (v < 0)
			v = -v;
		/* Go's int64(v): MinInt64 past the range (issue 17) */
		int64_t d = go_f64_to_i64(v), sec = d % 60, min = (d / 60) % 60,
		        h = (d / 3600) % 24, days = d / 86400;
		lf_buf_reset(&t->tmp);
		if (days)
			lf_buf_printf(&t->tmp, "%s%lldd %lldh %lldm %llds", sign, (long long)days,
			              (long long)h, (long long)min, (long long)sec);
		else if (h)
			lf_buf_printf(&t->tmp, "%s%lldh %lldm %llds", sign, (long long)h,
			              (long long)min, (long long)sec);
		else if (min)
			lf_buf_printf(&t->tmp, "%s%lldm %llds", sign, (long long)min,
			              (long long)sec);
		else
			lf_buf_printf(&t->tmp, "%s%.4gs", sign, v);
		return tmp_result(t, r);
	}
	static const char *const p[] = {"", "m", "u", "n", "p", "f", "a", "z", "y"};
	size_t i = 0;
	for (; i + 1 < 9 && fabs(v) < 1; i++)
		v *= 1000;
	char suf[4];
	snprintf(suf, sizeof suf, "%ss", p[i]);
	return fmt4g(t, r, v, suf);
}

static int fn_humanizePercentage(struct lf_template *t, const struct cmd *c, struct val *a,
                                 size_t n, struct val *r)
{
	(void)c, (void)n;
	return fmt4g(t, r, to_f64(&a[0]) * 100, "%");
}

/* Go's time.Time.String() of the epoch seconds v, in UTC */
static int fn_humanizeTimestamp(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                                struct val *r)
{
	(void)c, (void)n;
	double v = to_f64(&a[0]);
	if (isnan(v) || isinf(v))
		return fmt4g(t, r, v, "");
	lf_buf_reset(&t->tmp);
	if (lf_gotime_format_str("2006-01-02 15:04:05.999999999 -0700 MST", go_f64_to_i64(v * 1e9),
	                         lf_tz_utc(), &t->tmp) < 0)
		return exec_err(t, "out of memory");
	return tmp_result(t, r);
}

/* reReplaceAll(pattern, repl, text) */
static int fn_reReplaceAll(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                           struct val *r)
{
	(void)n;
	struct val b[3] = {a[0], a[2], a[1]};
	return regex_common(t, c, b, false, r);
}

/* stripPort("host:port") = host; IPv6 brackets removed */
static int fn_stripPort(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                        struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]))
		return -1;
	const char *s = a[0].s;
	size_t len = a[0].n;
	if (len && s[0] == '[') {
		const char *e = memchr(s, ']', len);
		if (e && (size_t)(e - s) + 1 < len && e[1] == ':')
			return str_result(t, r, s + 1, (size_t)(e - s - 1));
		return str_result(t, r, s, len);
	}
	const char *col = memchr(s, ':', len);
	if (col && !memchr(col + 1, ':', len - (size_t)(col - s) - 1))
		return str_result(t, r, s, (size_t)(col - s));
	return str_result(t, r, s, len);
}

static int fn_parseDuration(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                            struct val *r)
{
	(void)c, (void)n;
	return duration_secs(t, "parseDuration", a, r);
}

static int fn_identity(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                       struct val *r)
{
	(void)t, (void)c, (void)n;
	*r = a[0];
	return 0;
}

/* --- more Go builtins: println, html, js, urlquery, index, slice, call --- */

/* fmt.Sprintln: always a space between operands, a newline at the end */
static int fn_println(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                      struct val *r)
{
	(void)c;
	struct lf_buf *b = &t->tmp2;
	lf_buf_reset(b);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && lf_buf_putc(b, ' ') < 0)
			return exec_err(t, "out of memory");
		if (print_val(t, &a[i], b) < 0)
			return -1;
	}
	if (lf_buf_putc(b, '\n') < 0)
		return exec_err(t, "out of memory");
	return str_result(t, r, b->data, b->len);
}

/* html/js/urlquery take fmt.Sprint of their arguments (one string as is) */
static int escaper_input(struct lf_template *t, struct val *a, size_t n, const char **s,
                         size_t *len)
{
	if (n == 1 && a[0].k == V_STR) {
		*s = a[0].s;
		*len = a[0].n;
		return 0;
	}
	if (sprint_into(t, a, n, &t->tmp2) < 0)
		return -1;
	*s = t->tmp2.data ? t->tmp2.data : "";
	*len = t->tmp2.len;
	return 0;
}

/* template.HTMLEscapeString */
static int fn_html(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                   struct val *r)
{
	(void)c;
	const char *s;
	size_t len;
	if (escaper_input(t, a, n, &s, &len) < 0)
		return -1;
	lf_buf_reset(&t->tmp);
	int rc = 0;
	for (size_t i = 0; i < len && rc == 0; i++) {
		switch (s[i]) {
		case '\0':
			rc = lf_buf_appends(&t->tmp, "\xef\xbf\xbd");
			break;
		case '"':
			rc = lf_buf_appends(&t->tmp, "&#34;");
			break;
		case '\'':
			rc = lf_buf_appends(&t->tmp, "&#39;");
			break;
		case '&':
			rc = lf_buf_appends(&t->tmp, "&amp;");
			break;
		case '<':
			rc = lf_buf_appends(&t->tmp, "&lt;");
			break;
		case '>':
			rc = lf_buf_appends(&t->tmp, "&gt;");
			break;
		default:
			rc = lf_buf_putc(&t->tmp, s[i]);
		}
	}
	if (rc < 0)
		return exec_err(t, "out of memory");
	return tmp_result(t, r);
}

/* unicode.IsPrint for the runes JSEscapeString meets (approximation: C
 * controls, DEL..NBSP, soft hyphen, U+2028/2029, surrogates, non-characters
 * and U+FFFD from invalid bytes are escaped) */
static bool js_printable(uint32_t cp)
{
	if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp == 0xad)
		return false;
	if (cp >= 0x2028 && cp <= 0x2029)
		return false;
	if (cp >= 0xfff9 && cp <= 0xfffb)
		return false;
	if ((cp & 0xfffe) == 0xfffe)
		return false;
	return true;
}

/* template.JSEscapeString */
static int fn_js(struct lf_template *t, const struct cmd *c, struct val *a, size_t n, struct val *r)
{
	(void)c;
	const char *s;
	size_t len;
	if (escaper_input(t, a, n, &s, &len) < 0)
		return -1;
	lf_buf_reset(&t->tmp);
	int rc = 0;
	for (size_t i = 0; i < len && rc == 0;) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x80) {
			i++;
			switch (ch) {
			case '\\':
				rc = lf_buf_appends(&t->tmp, "\\\\");
				break;
			case '\'':
				rc = lf_buf_appends(&t->tmp, "\\'");
				break;
			case '"':
				rc = lf_buf_appends(&t->tmp, "\\\"");
				break;
			case '<':
				rc = lf_buf_appends(&t->tmp, "\\u003C");
				break;
			case '>':
				rc = lf_buf_appends(&t->tmp, "\\u003E");
				break;
			case '&':
				rc = lf_buf_appends(&t->tmp, "\\u0026");
				break;
			case '=':
				rc = lf_buf_appends(&t->tmp, "\\u003D");
				break;
			default:
				if (ch < ' ' || ch == 0x7f)
					rc = lf_buf_printf(&t->tmp, "\\u%04X", ch);
				else
					rc = lf_buf_putc(&t->tmp, (char)ch);
			}
			continue;
		}
		uint32_t cp;
		size_t w = dec_rune((const unsigned char *)s + i, len - i, &cp);
		if (js_printable(cp) && !(cp == 0xFFFD && w == 1))
			rc = lf_buf_append(&t->tmp, s + i, w);
		else
			rc = lf_buf_printf(&t->tmp, "\\u%04X",
			                   cp == 0xFFFD && w == 1 ? 0xFFFD : cp);
		i += w;
	}
	if (rc < 0)
		return exec_err(t, "out of memory");
	return tmp_result(t, r);
}

/* template.URLQueryEscaper: url.QueryEscape of fmt.Sprint(args) */
static int fn_urlquery(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                       struct val *r)
{
	const char *s;
	size_t len;
	if (escaper_input(t, a, n, &s, &len) < 0)
		return -1;
	struct val v = {.k = V_STR, .s = s, .n = len};
	return fn_urlencode(t, c, &v, 1, r);
}

/* a JSON value (borrowed) as a template value: objects and arrays stay
 * JSON text, scalars become Go's float64/string/bool/nil */
static int json_to_val(struct lf_template *t, json_t *j, struct val *r)
{
	memset(r, 0, sizeof *r);
	switch (json_typeof(j)) {
	case JSON_OBJECT:
	case JSON_ARRAY: {
		char *txt = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
		char *p = txt ? arena_dup(&t->arena, txt, strlen(txt)) : NULL;
		if (!p) {
			free(txt);
			return exec_err(t, "out of memory");
		}
		r->k = json_is_object(j) ? V_JOBJ : V_JARR;
		r->s = p;
		r->n = strlen(txt);
		free(txt);
		return 0;
	}
	case JSON_STRING:
		r->k = V_STR;
		r->s = arena_dup(&t->arena, json_string_value(j), json_string_length(j));
		r->n = json_string_length(j);
		return r->s ? 0 : exec_err(t, "out of memory");
	case JSON_REAL:
	case JSON_INTEGER:
		r->k = V_FLOAT;
		r->f = json_number_value(j);
		return 0;
	case JSON_TRUE:
	case JSON_FALSE:
		r->k = V_BOOL;
		r->b = json_is_true(j);
		return 0;
	default:
		r->k = V_NIL;
		return 0;
	}
}

static json_t *json_of(const struct val *v)
{
	return json_loadb(v->s, v->n, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL,
	                  NULL);
}

static int cmp_key(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* fmt %v of map[string]interface{} / []interface{}: map[k:v k2:v2] with
 * sorted keys, [a b], nil inside as <nil> */
static int print_json_node(struct lf_template *t, json_t *j, struct lf_buf *out, int depth)
{
	if (depth > 100)
		return exec_err(t, "JSON value nested too deeply");
	if (json_is_null(j))
		return lf_buf_appends(out, "<nil>") < 0 ? exec_err(t, "out of memory") : 0;
	if (json_is_array(j)) {
		if (lf_buf_putc(out, '[') < 0)
			return exec_err(t, "out of memory");
		for (size_t i = 0; i < json_array_size(j); i++) {
			if ((i && lf_buf_putc(out, ' ') < 0))
				return exec_err(t, "out of memory");
			if (print_json_node(t, json_array_get(j, i), out, depth + 1) < 0)
				return -1;
		}
		return lf_buf_putc(out, ']') < 0 ? exec_err(t, "out of memory") : 0;
	}
	if (json_is_object(j)) {
		size_t n = json_object_size(j), k = 0;
		const char **keys = calloc(n ? n : 1, sizeof *keys);
		if (!keys)
			return exec_err(t, "out of memory");
		const char *key;
		json_t *v;
		json_object_foreach(j, key, v) keys[k++] = key;
		qsort(keys, k, sizeof *keys, cmp_key);
		int rc = lf_buf_appends(out, "map[") < 0 ? exec_err(t, "out of memory") : 0;
		for (size_t i = 0; i < k && rc == 0; i++) {
			if ((i && lf_buf_putc(out, ' ') < 0) || lf_buf_appends(out, keys[i]) < 0 ||
			    lf_buf_putc(out, ':') < 0)
				rc = exec_err(t, "out of memory");
			else
				rc = print_json_node(t, json_object_get(j, keys[i]), out,
				                     depth + 1);
		}
		free(keys);
		if (rc == 0 && lf_buf_putc(out, ']') < 0)
			rc = exec_err(t, "out of memory");
		return rc;
	}
	struct val sv;
	if (json_to_val(t, j, &sv) < 0)
		return -1;
	return print_val(t, &sv, out);
}

static int print_json(struct lf_template *t, const struct val *v, struct lf_buf *out)
{
	json_t *j = json_of(v);
	if (!j)
		return exec_err(t, "invalid JSON value");
	int rc = print_json_node(t, j, out, 0);
	json_decref(j);
	return rc;
}

/* sprig fromJson(s): Go's json.Unmarshal into interface{}; nil on error */
static int fn_fromJson(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                       struct val *r)
{
	(void)c, (void)n;
	if (want_str(t, &a[0]))
		return -1;
	json_t *j = json_loadb(a[0].s, a[0].n,
	                       JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, NULL);
	if (!j) {
		memset(r, 0, sizeof *r);
		r->k = V_NIL;
		return 0;
	}
	int rc = json_to_val(t, j, r);
	json_decref(j);
	return rc;
}

/* Go index(item, keys...): strings give bytes (uint8), JSON arrays take int
 * indexes, JSON objects string keys (a missing key gives nil) */
static int fn_index(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                    struct val *r)
{
	(void)c;
	struct val cur = a[0];
	for (size_t i = 1; i < n; i++) {
		if (cur.k == V_STR || cur.k == V_JARR) {
			if (a[i].k != V_INT)
				return exec_err(
				        t,
				        "error calling index: cannot index slice/array with "
				        "type %s",
				        kind_name(a[i].k));
			int64_t x = a[i].i;
			if (cur.k == V_STR) {
				if (x < 0 || (uint64_t)x >= cur.n)
					return exec_err(
					        t, "error calling index: index out of range: %lld",
					        (long long)x);
				int64_t byte = (unsigned char)cur.s[x];
				int_result(&cur, byte);
				continue;
			}
			json_t *j = json_of(&cur);
			if (!j)
				return exec_err(t, "out of memory");
			if (x < 0 || (uint64_t)x >= json_array_size(j)) {
				json_decref(j);
				return exec_err(t, "error calling index: index out of range: %lld",
				                (long long)x);
			}
			int rc = json_to_val(t, json_array_get(j, (size_t)x), &cur);
			json_decref(j);
			if (rc < 0)
				return -1;
		} else if (cur.k == V_JOBJ) {
			if (a[i].k != V_STR)
				return exec_err(t,
				                "error calling index: value has type %s; should be "
				                "string",
				                kind_name(a[i].k));
			json_t *j = json_of(&cur);
			char *key = arena_dup(&t->arena, a[i].s, a[i].n);
			if (!j || !key) {
				json_decref(j);
				return exec_err(t, "out of memory");
			}
			json_t *v = strlen(key) == a[i].n ? json_object_get(j, key) : NULL;
			int rc = 0;
			if (v) {
				rc = json_to_val(t, v, &cur);
			} else {
				memset(&cur, 0, sizeof cur);
				cur.k = V_NIL;
			}
			json_decref(j);
			if (rc < 0)
				return -1;
		} else if (cur.k == V_NIL || cur.k == V_MISSING) {
			return exec_err(t, "error calling index: index of untyped nil");
		} else {
			return exec_err(t, "error calling index: can't index item of type %s",
			                kind_name(cur.k));
		}
	}
	*r = cur;
	return 0;
}

/* Go slice(item, indexes...) on strings: s[i:], s[i:j] (3 indexes are an
 * error for strings) */
static int fn_slice(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                    struct val *r)
{
	(void)c;
	if (a[0].k != V_STR)
		return exec_err(t, "error calling slice: can't slice item of type %s",
		                kind_name(a[0].k));
	if (n > 3)
		return exec_err(t, "error calling slice: cannot 3-index slice a string");
	int64_t idx[2] = {0, (int64_t)a[0].n};
	for (size_t i = 1; i < n; i++) {
		if (a[i].k != V_INT)
			return exec_err(
			        t, "error calling slice: cannot index slice/array with type %s",
			        kind_name(a[i].k));
		if (a[i].i < 0 || a[i].i > (int64_t)a[0].n)
			return exec_err(t, "error calling slice: index out of range: %lld",
			                (long long)a[i].i);
		idx[i - 1] = a[i].i;
	}
	if (idx[0] > idx[1])
		return exec_err(t, "error calling slice: invalid slice index: %lld > %lld",
		                (long long)idx[0], (long long)idx[1]);
	*r = a[0];
	r->s += idx[0];
	r->n = (size_t)(idx[1] - idx[0]);
	return 0;
}

/* Go call(fn, args...): templates here have no function values */
static int fn_call(struct lf_template *t, const struct cmd *c, struct val *a, size_t n,
                   struct val *r)
{
	(void)c, (void)n, (void)r;
	if (a[0].k == V_NIL || a[0].k == V_MISSING)
		return exec_err(t, "error calling call: call of nil");
	return exec_err(t, "error calling call: non-function of type %s", kind_name(a[0].k));
}

static const struct func funcs[] = {
        /* Promtail template stage */
        {"ToLower", 1, 1, fn_lower},
        {"ToUpper", 1, 1, fn_upper},
        {"Replace", 4, 4, fn_Replace},
        {"Trim", 2, 2, fn_Trim},
        {"TrimLeft", 2, 2, fn_TrimLeft},
        {"TrimRight", 2, 2, fn_TrimRight},
        {"TrimPrefix", 2, 2, fn_TrimPrefix},
        {"TrimSuffix", 2, 2, fn_TrimSuffix},
        {"TrimSpace", 1, 1, fn_TrimSpace},
        {"Hash", 2, 2, fn_Hash},
        {"Sha2Hash", 2, 2, fn_Sha2Hash},
        {"regexReplaceAll", 3, 3, fn_regexReplaceAll, true},
        {"regexReplaceAllLiteral", 3, 3, fn_regexReplaceAllLiteral, true},
        /* sprig / LogQL */
        {"lower", 1, 1, fn_lower},
        {"upper", 1, 1, fn_upper},
        {"title", 1, 1, fn_title},
        {"trim", 1, 1, fn_TrimSpace},
        {"trimAll", 2, 2, fn_trimAll},
        {"trimPrefix", 2, 2, fn_trimPrefix},
        {"trimSuffix", 2, 2, fn_trimSuffix},
        {"replace", 3, 3, fn_replace},
        {"contains", 2, 2, fn_contains},
        {"hasPrefix", 2, 2, fn_hasPrefix},
        {"hasSuffix", 2, 2, fn_hasSuffix},
        {"default", 1, 2, fn_default},
        {"trunc", 2, 2, fn_trunc},
        {"substr", 3, 3, fn_substr},
        {"repeat", 2, 2, fn_repeat},
        {"quote", 0, -1, fn_quote},
        {"squote", 0, -1, fn_squote},
        {"b64enc", 1, 1, fn_b64enc},
        {"b64dec", 1, 1, fn_b64dec},
        {"urlencode", 1, 1, fn_urlencode},
        /* Go builtins */
        {"not", 1, 1, fn_not},
        {"and", 1, -1, fn_and},
        {"or", 1, -1, fn_or},
        {"eq", 1, -1, fn_eq},
        {"ne", 2, 2, fn_ne},
        {"lt", 2, 2, fn_lt},
        {"le", 2, 2, fn_le},
        {"gt", 2, 2, fn_gt},
        {"ge", 2, 2, fn_ge},
        {"len", 1, 1, fn_len},
        {"print", 0, -1, fn_print},
        {"printf", 1, -1, fn_printf},
        /* more sprig / LogQL */
        {"regexMatch", 2, 2, fn_regexMatch, true},
        {"regexFind", 2, 2, fn_regexFind, true},
        {"count", 2, 2, fn_count, true},
        {"nospace", 1, 1, fn_nospace},
        {"cat", 0, -1, fn_cat},
        {"indent", 2, 2, fn_indent},
        {"nindent", 2, 2, fn_nindent},
        {"alignLeft", 2, 2, fn_alignLeft},
        {"alignRight", 2, 2, fn_alignRight},
        {"urldecode", 1, 1, fn_urldecode},
        {"add", 1, -1, fn_add},
        {"sub", 2, 2, fn_sub},
        {"mul", 1, -1, fn_mul},
        {"div", 2, 2, fn_div},
        {"mod", 2, 2, fn_mod},
        {"max", 1, -1, fn_max},
        {"min", 1, -1, fn_min},
        {"add1", 1, 1, fn_add1},
        {"addf", 1, -1, fn_addf},
        {"subf", 2, -1, fn_subf},
        {"mulf", 1, -1, fn_mulf},
        {"divf", 2, -1, fn_divf},
        {"int", 1, 1, fn_int},
        {"int64", 1, 1, fn_int},
        {"float64", 1, 1, fn_float64},
        {"toString", 1, 1, fn_toString},
        {"empty", 1, 1, fn_empty},
        {"coalesce", 0, -1, fn_coalesce},
        {"ternary", 3, 3, fn_ternary},
        {"now", 0, 0, fn_now},
        {"date", 2, 2, fn_date},
        {"toDate", 2, 2, fn_toDate},
        {"unixEpoch", 1, 1, fn_unixEpoch},
        {"unixEpochMillis", 1, 1, fn_unixEpochMillis},
        {"unixEpochNanos", 1, 1, fn_unixEpochNanos},
        {"unixToTime", 1, 1, fn_unixToTime},
        {"toDateInZone", 3, 3, fn_toDateInZone},
        {"ceil", 1, 1, fn_ceil},
        {"floor", 1, 1, fn_floor},
        {"round", 2, 3, fn_round},
        {"maxf", 1, -1, fn_maxf},
        {"minf", 1, -1, fn_minf},
        {"bytes", 1, 1, fn_bytes},
        {"duration", 1, 1, fn_duration},
        {"duration_seconds", 1, 1, fn_duration},
        {"fromJson", 1, 1, fn_fromJson},
        {"println", 0, -1, fn_println},
        {"html", 0, -1, fn_html},
        {"js", 0, -1, fn_js},
        {"urlquery", 0, -1, fn_urlquery},
        {"index", 1, -1, fn_index},
        {"slice", 1, -1, fn_slice},
        {"call", 1, -1, fn_call},
        /* Prometheus alerting templates (store/ruler) */
        {"humanize", 1, 1, fn_humanize},
        {"humanize1024", 1, 1, fn_humanize1024},
        {"humanizeDuration", 1, 1, fn_humanizeDuration},
        {"humanizePercentage", 1, 1, fn_humanizePercentage},
        {"humanizeTimestamp", 1, 1, fn_humanizeTimestamp},
        {"toUpper", 1, 1, fn_upper},
        {"toLower", 1, 1, fn_lower},
        {"match", 2, 2, fn_regexMatch, true},
        {"reReplaceAll", 3, 3, fn_reReplaceAll, true},
        {"stripPort", 1, 1, fn_stripPort},
        {"parseDuration", 1, 1, fn_parseDuration},
        {"safeHtml", 1, 1, fn_identity},
        /* LogQL's __line__ / __timestamp__ are resolved through the lookup */
        {"__line__", 0, 0, NULL},
        {"__timestamp__", 0, 0, NULL},
};
#define NFUNCS ((int)(sizeof funcs / sizeof funcs[0]))

static int find_func(const char *s, size_t n)
{
	for (int i = 0; i < NFUNCS; i++)
		if (strlen(funcs[i].name) == n && memcmp(funcs[i].name, s, n) == 0)
			return i;
	return -1;
}

/* ---- printing (fmt %v) ---- */

static int print_json(struct lf_template *t, const struct val *v, struct lf_buf *out);

static int print_val(struct lf_template *t, const struct val *v, struct lf_buf *out)
{
	switch (v->k) {
	case V_STR:
		return lf_buf_append(out, v->s, v->n) < 0 ? exec_err(t, "out of memory") : 0;
	case V_INT:
		return lf_buf_printf(out, "%lld", (long long)v->i) < 0
		               ? exec_err(t, "out of memory")
		               : 0;
	case V_FLOAT: {
		/* Go's %v for float64 (strconv 'g', precision -1): the shortest
		 * digits that round-trip, in exponent form when the exponent is
		 * < -4 or >= 6: 1e+06, 100000, 1e-05, 0.0001 */
		char tmp[48];
		if (isnan(v->f))
			return lf_buf_appends(out, "NaN") < 0 ? exec_err(t, "out of memory") : 0;
		if (isinf(v->f))
			return lf_buf_appends(out, v->f > 0 ? "+Inf" : "-Inf") < 0
			               ? exec_err(t, "out of memory")
			               : 0;
		int p = 1;
		for (; p < 17; p++) {
			snprintf(tmp, sizeof tmp, "%.*e", p - 1, v->f);
			if (strtod(tmp, NULL) == v->f)
				break;
		}
		snprintf(tmp, sizeof tmp, "%.*e", p - 1, v->f);
		int exp = atoi(strchr(tmp, 'e') + 1);
		if (exp >= -4 && exp < 6)
			snprintf(tmp, sizeof tmp, "%.*f", p - 1 - exp > 0 ? p - 1 - exp : 0, v->f);
		return lf_buf_appends(out, tmp) < 0 ? exec_err(t, "out of memory") : 0;
	}
	case V_BOOL:
		return lf_buf_appends(out, v->b ? "true" : "false") < 0
		               ? exec_err(t, "out of memory")
		               : 0;
	case V_NIL:
	case V_MISSING:
		return lf_buf_appends(out, "<no value>") < 0 ? exec_err(t, "out of memory") : 0;
	case V_MAP:
		return exec_err(t, "printing the whole data map is not supported");
	case V_JOBJ:
	case V_JARR:
		return print_json(t, v, out);
	case V_TIME: /* Go's Time.String() */
		return time_format(t, "2006-01-02 15:04:05.999999999 -0700 MST", v->i, out);
	}
	return 0;
}

/* ---- execution ---- */

static int eval_pipe(struct lf_template *t, const struct pipe *p, const struct val *dot,
                     struct val *res);

static int eval_arg(struct lf_template *t, const struct arg *a, const struct val *dot,
                    struct val *res)
{
	memset(res, 0, sizeof *res);
	switch (a->k) {
	case A_FIELD: {
		if (dot->k != V_MAP) {
			return exec_err(t, "can't evaluate field %s in type %s", a->s,
			                kind_name(dot->k));
		}
		const char *v;
		size_t n;
		if (t->lookup && t->lookup(t->ctx, a->s, a->n, &v, &n)) {
			res->k = V_STR;
			res->s = v;
			res->n = n;
		} else if (t->flags & LF_TMPL_MISSING_EMPTY) {
			res->k = V_STR;
			res->s = "";
		} else {
			res->k = V_MISSING;
		}
		if (a->nchain && res->k != V_MISSING)
			return exec_err(t, "can't evaluate field in type string");
		return 0;
	}
	case A_DOT:
		*res = *dot;
		return 0;
	case A_STR:
		res->k = V_STR;
		res->s = a->s;
		res->n = a->n;
		return 0;
	case A_INT:
		res->k = V_INT;
		res->i = a->i;
		return 0;
	case A_FLOAT:
		res->k = V_FLOAT;
		res->f = a->f;
		return 0;
	case A_BOOL:
		res->k = V_BOOL;
		res->b = a->b;
		return 0;
	case A_NIL:
		res->k = V_NIL;
		return 0;
	case A_PIPE:
		return eval_pipe(t, a->p, dot, res);
	case A_FUNC:
		break;
	}
	return exec_err(t, "internal: bad argument");
}

#define MAX_ARGS 16

static int eval_cmd(struct lf_template *t, const struct cmd *c, const struct val *dot,
                    const struct val *prev, struct val *res)
{
	const struct arg *a0 = &c->args[0];
	if (a0->k != A_FUNC) {
		if (prev)
			return exec_err(t, "can't give argument to non-function %s",
			                a0->k == A_FIELD ? a0->s : "value");
		return eval_arg(t, a0, dot, res);
	}
	const struct func *f = &funcs[a0->fn];
	if (!f->fn) { /* __line__ / __timestamp__ */
		const char *v;
		size_t n;
		memset(res, 0, sizeof *res);
		if (t->lookup && t->lookup(t->ctx, f->name, strlen(f->name), &v, &n)) {
			res->k = V_STR;
			res->s = v;
			res->n = n;
			if (strcmp(f->name, "__timestamp__") == 0) {
				/* the lookup gives ns since the epoch as decimal text */
				char tmp[32];
				size_t k = n < sizeof tmp - 1 ? n : sizeof tmp - 1;
				memcpy(tmp, v, k);
				tmp[k] = '\0';
				time_result(res, strtoll(tmp, NULL, 10));
			}
		} else {
			res->k = V_STR;
			res->s = "";
		}
		if (prev)
			return exec_err(t, "wrong number of args for %s: want 0 got 1", f->name);
		return 0;
	}
	struct val args[MAX_ARGS];
	size_t n = 0;
	for (size_t i = 1; i < c->n; i++) {
		if (n >= MAX_ARGS)
			return exec_err(t, "too many arguments");
		if (eval_arg(t, &c->args[i], dot, &args[n++]) < 0)
			return -1;
	}
	if (prev) {
		if (n >= MAX_ARGS)
			return exec_err(t, "too many arguments");
		args[n++] = *prev;
	}
	if ((int)n < f->min || (f->max >= 0 && (int)n > f->max)) {
		if (f->max == f->min)
			return exec_err(t, "wrong number of args for %s: want %d got %zu", f->name,
			                f->min, n);
		return exec_err(t, "wrong number of args for %s: want at least %d got %zu", f->name,
		                f->min, n);
	}
	memset(res, 0, sizeof *res);
	return f->fn(t, c, args, n, res);
}

static int eval_pipe(struct lf_template *t, const struct pipe *p, const struct val *dot,
                     struct val *res)
{
	struct val cur;
	for (size_t i = 0; i < p->n; i++) {
		struct val out;
		if (eval_cmd(t, &p->cmds[i], dot, i ? &cur : NULL, &out) < 0)
			return -1;
		cur = out;
	}
	*res = cur;
	return 0;
}

static int exec_list(struct lf_template *t, const struct nlist *l, const struct val *dot,
                     struct lf_buf *out)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct node *nd = l->v[i];
		struct val v;
		switch (nd->k) {
		case NK_TEXT:
			if (lf_buf_append(out, nd->text, nd->len) < 0)
				return exec_err(t, "out of memory");
			break;
		case NK_ACTION:
			t->cur = nd->pipe;
			if (eval_pipe(t, nd->pipe, dot, &v) < 0 || print_val(t, &v, out) < 0)
				return -1;
			break;
		case NK_IF:
		case NK_WITH:
			t->cur = nd->pipe;
			if (eval_pipe(t, nd->pipe, dot, &v) < 0)
				return -1;
			if (truth(&v)) {
				if (exec_list(t, &nd->body, nd->k == NK_WITH ? &v : dot, out) < 0)
					return -1;
			} else if (exec_list(t, &nd->els, dot, out) < 0) {
				return -1;
			}
			break;
		}
	}
	return 0;
}

int lf_template_exec(struct lf_template *t, lf_tmpl_lookup_fn lookup, void *ctx, struct lf_buf *out,
                     struct lf_error *err)
{
	arena_reset(&t->arena);
	t->lookup = lookup;
	t->ctx = ctx;
	t->err = err;
	t->cur = NULL;
	struct val dot = {.k = V_MAP};
	if (lf_buf_reserve(out, 0) < 0)
		return lf_err(err, "out of memory");
	return exec_list(t, &t->root, &dot, out);
}

bool lf_template_is_static(const struct lf_template *t)
{
	for (size_t i = 0; i < t->root.n; i++)
		if (t->root.v[i]->k != NK_TEXT)
			return false;
	return true;
}

const char *const *lf_template_fields(const struct lf_template *t)
{
	return (const char *const *)t->fields;
}

/* ---- parsing ---- */

enum tk {
	T_EOF,
	T_TEXT,
	T_LDELIM,
	T_RDELIM,
	T_FIELD,
	T_DOT,
	T_IDENT,
	T_STRING,
	T_NUMBER,
	T_CHAR,
	T_PIPE,
	T_LPAREN,
	T_RPAREN,
};

struct ptok {
	enum tk k;
	size_t off, len; /* in src */
	int line, col;
};

struct parser {
	struct lf_template *t;
	const char *s;
	size_t n, pos;
	int line;
	size_t line_start;
	bool in_action;
	bool trim_next;  /* the previous action ended with -}} */
	struct ptok tok; /* current token */
	bool have;
	struct lf_error *err;
	size_t action_start;
	int depth; /* nesting of parentheses and if/with blocks */
};

/* Templates also come from LogQL queries: nesting deep enough to exhaust the
 * stack ((((...)))) must be a parse error, not a crash. No real template
 * comes near this. */
#define MAX_PARSE_DEPTH 100

static int perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int perr(struct parser *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return lf_err(p->err, "template: %s:%d: %s", p->t->name,
	              p->tok.line ? p->tok.line : p->line, msg);
}

static void count_lines(struct parser *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (p->s[i] == '\n') {
			p->line++;
			p->line_start = i + 1;
		}
}

static bool is_tspace(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Scans the next token. Outside an action: TEXT up to "{{" or EOF, then
 * LDELIM. Inside: action tokens up to RDELIM. */
static int next_tok(struct parser *p)
{
	struct ptok *t = &p->tok;
	const char *s = p->s;
	if (!p->in_action) {
		if (p->pos >= p->n) {
			t->k = T_EOF;
			t->line = p->line;
			return 0;
		}
		const char *ld = memmem(s + p->pos, p->n - p->pos, "{{", 2);
		size_t end = ld ? (size_t)(ld - s) : p->n;
		if (end > p->pos) {
			t->k = T_TEXT;
			t->off = p->pos;
			t->len = end - p->pos;
			t->line = p->line;
			/* trim markers: left-trim after -}}, right-trim before {{- */
			if (p->trim_next)
				while (t->len && is_tspace(s[t->off])) {
					t->off++;
					t->len--;
				}
			if (ld && end + 3 < p->n + 1 && end + 2 < p->n && s[end + 2] == '-' &&
			    end + 3 < p->n && is_tspace(s[end + 3]))
				while (t->len && is_tspace(s[t->off + t->len - 1]))
					t->len--;
			p->trim_next = false;
			count_lines(p, p->pos, end);
			p->pos = end;
			return 0;
		}
		/* "{{" */
		t->k = T_LDELIM;
		t->off = p->pos;
		t->line = p->line;
		p->action_start = p->pos;
		p->pos += 2;
		if (p->pos + 1 < p->n && s[p->pos] == '-' && is_tspace(s[p->pos + 1]))
			p->pos += 1;
		p->trim_next = false;
		p->in_action = true;
		/* comment */
		size_t q = p->pos;
		while (q < p->n && is_tspace(s[q]))
			q++;
		if (q + 1 < p->n && s[q] == '/' && s[q + 1] == '*') {
			const char *ce = memmem(s + q + 2, p->n - q - 2, "*/", 2);
			if (!ce)
				return perr(p, "unclosed comment");
			size_t after = (size_t)(ce - s) + 2;
			size_t r = after;
			while (r < p->n && is_tspace(s[r]))
				r++;
			bool trim = false;
			if (r + 2 < p->n + 0 && s[r] == '-' && r + 2 < p->n && s[r + 1] == '}' &&
			    s[r + 2] == '}' && r > after)
				trim = true, r += 1;
			if (r + 1 >= p->n || s[r] != '}' || s[r + 1] != '}')
				return perr(p, "comment ends before closing delimiter");
			count_lines(p, p->pos, r + 2);
			p->pos = r + 2;
			p->in_action = false;
			p->trim_next = trim;
			return next_tok(p); /* comments vanish */
		}
		return 0;
	}
	/* inside an action */
	while (p->pos < p->n && is_tspace(s[p->pos])) {
		if (s[p->pos] == '\n') {
			p->line++;
			p->line_start = p->pos + 1;
		}
		p->pos++;
	}
	t->off = p->pos;
	t->line = p->line;
	t->col = (int)(p->pos - p->line_start) + 1;
	if (p->pos >= p->n)
		return perr(p, "unclosed action");
	char c = s[p->pos];
	char d = p->pos + 1 < p->n ? s[p->pos + 1] : 0;
	if (c == '}' && d == '}') {
		t->k = T_RDELIM;
		t->len = 2;
		p->pos += 2;
		p->in_action = false;
		return 0;
	}
	if (c == '-' && d == '}' && p->pos + 2 < p->n && s[p->pos + 2] == '}' && p->pos > 0 &&
	    is_tspace(s[p->pos - 1])) {
		t->k = T_RDELIM;
		t->len = 3;
		p->pos += 3;
		p->in_action = false;
		p->trim_next = true;
		return 0;
	}
	size_t st = p->pos;
	if (c == '.' && !(d >= '0' && d <= '9')) {
		p->pos++;
		if (p->pos < p->n &&
		    (is_ident_char(s[p->pos]) || (unsigned char)s[p->pos] >= 0x80)) {
			while (p->pos < p->n && (is_ident_char(s[p->pos]) || s[p->pos] == '.' ||
			                         (unsigned char)s[p->pos] >= 0x80))
				p->pos++;
			t->k = T_FIELD;
		} else {
			t->k = T_DOT;
		}
		t->len = p->pos - st;
		return 0;
	}
	if (c == '$')
		return perr(p, "undefined variable \"$%.*s\" (variables are not supported)",
		            (int)strcspn(s + p->pos + 1, " }|)"), s + p->pos + 1);
	if (is_ident_start(c)) {
		while (p->pos < p->n && is_ident_char(s[p->pos]))
			p->pos++;
		t->k = T_IDENT;
		t->len = p->pos - st;
		return 0;
	}
	if (c == '"' || c == '`' || c == '\'') {
		p->pos++;
		while (p->pos < p->n && s[p->pos] != c) {
			if (c != '`' && s[p->pos] == '\n')
				break;
			if (c != '`' && s[p->pos] == '\\' && p->pos + 1 < p->n)
				p->pos++;
			p->pos++;
		}
		if (p->pos >= p->n || s[p->pos] != c)
			return perr(p, c == '\''  ? "unterminated character constant"
			               : c == '`' ? "unterminated raw quoted string"
			                          : "unterminated quoted string");
		p->pos++;
		t->k = c == '\'' ? T_CHAR : T_STRING;
		t->len = p->pos - st;
		if (c == '`')
			count_lines(p, st, p->pos);
		return 0;
	}
	if ((c >= '0' && c <= '9') ||
	    ((c == '-' || c == '+' || c == '.') && d >= '0' && d <= '9')) {
		p->pos++;
		while (p->pos < p->n && (is_ident_char(s[p->pos]) || s[p->pos] == '.' ||
		                         ((s[p->pos] == '+' || s[p->pos] == '-') &&
		                          (s[p->pos - 1] == 'e' || s[p->pos - 1] == 'E'))))
			p->pos++;
		t->k = T_NUMBER;
		t->len = p->pos - st;
		return 0;
	}
	p->pos++;
	t->len = 1;
	switch (c) {
	case '|':
		t->k = T_PIPE;
		return 0;
	case '(':
		t->k = T_LPAREN;
		return 0;
	case ')':
		t->k = T_RPAREN;
		return 0;
	default:
		return perr(p, "unexpected \"%c\" in command", c);
	}
}

static bool tok_is(const struct parser *p, const char *word)
{
	size_t n = strlen(word);
	return p->tok.k == T_IDENT && p->tok.len == n && memcmp(p->s + p->tok.off, word, n) == 0;
}

static void pipe_free(struct pipe *pp);

static void arg_free(struct arg *a)
{
	free(a->s);
	if (a->p)
		pipe_free(a->p);
}

static void pipe_free(struct pipe *pp)
{
	if (!pp)
		return;
	for (size_t i = 0; i < pp->n; i++) {
		for (size_t j = 0; j < pp->cmds[i].n; j++)
			arg_free(&pp->cmds[i].args[j]);
		free(pp->cmds[i].args);
		lf_regex_free(pp->cmds[i].re);
	}
	free(pp->cmds);
	free(pp->text);
	free(pp);
}

static void nlist_free(struct nlist *l);

static void node_free(struct node *nd)
{
	if (!nd)
		return;
	pipe_free(nd->pipe);
	nlist_free(&nd->body);
	nlist_free(&nd->els);
	free(nd);
}

static void nlist_free(struct nlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		node_free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int nlist_add(struct nlist *l, struct node *nd)
{
	struct node **nv = realloc(l->v, (l->n + 1) * sizeof *nv);
	if (!nv)
		return -1;
	l->v = nv;
	l->v[l->n++] = nd;
	return 0;
}

static int add_field(struct lf_template *t, const char *name)
{
	for (size_t i = 0; i < t->nfields; i++)
		if (strcmp(t->fields[i], name) == 0)
			return 0;
	char **nf = realloc(t->fields, (t->nfields + 2) * sizeof *nf);
	if (!nf)
		return -1;
	t->fields = nf;
	if (!(t->fields[t->nfields] = strdup(name)))
		return -1;
	t->fields[++t->nfields] = NULL;
	return 0;
}

static int parse_pipe(struct parser *p, bool in_paren, struct pipe **out);

/* Parses an operand at the current token into a. */
static int parse_operand(struct parser *p, struct arg *a, bool first)
{
	memset(a, 0, sizeof *a);
	struct ptok *t = &p->tok;
	a->col = t->col;
	const char *txt = p->s + t->off;
	switch (t->k) {
	case T_FIELD: {
		/* ".a" or ".a.b": name is the first element */
		const char *nm = txt + 1;
		size_t nl = strcspn(nm, ".");
		if (nl > t->len - 1)
			nl = t->len - 1;
		a->k = A_FIELD;
		a->n = nl;
		if (!(a->s = dupn(nm, nl)))
			return perr(p, "out of memory");
		for (size_t i = 1 + nl; i < t->len; i++)
			if (txt[i] == '.')
				a->nchain++;
		if (add_field(p->t, a->s) < 0)
			return perr(p, "out of memory");
		return 0;
	}
	case T_DOT:
		a->k = A_DOT;
		return 0;
	case T_STRING: {
		struct lf_buf b = LF_BUF_INIT;
		struct lf_error uerr;
		if (lf_lq_unquote(txt + 1, t->len - 2, txt[0], &b, &uerr) < 0) {
			lf_buf_free(&b);
			return perr(p, "%s", uerr.msg);
		}
		a->k = A_STR;
		a->n = b.len;
		a->s = b.data ? lf_buf_take(&b) : strdup("");
		if (!a->s)
			return perr(p, "out of memory");
		return 0;
	}
	case T_CHAR: {
		struct lf_buf b = LF_BUF_INIT;
		struct lf_error uerr;
		if (lf_lq_unquote(txt + 1, t->len - 2, '\'', &b, &uerr) < 0 || b.len == 0) {
			lf_buf_free(&b);
			return perr(p, "malformed character constant: %.*s", (int)t->len, txt);
		}
		uint32_t cp;
		size_t w = lf_utf8_decode((const unsigned char *)b.data, b.len, &cp);
		if (w == 0)
			cp = (unsigned char)b.data[0];
		lf_buf_free(&b);
		a->k = A_INT; /* Go: a rune constant is an int */
		a->i = cp;
		return 0;
	}
	case T_NUMBER: {
		char tmp[64];
		if (t->len >= sizeof tmp)
			return perr(p, "bad number syntax: \"%.*s\"", (int)t->len, txt);
		memcpy(tmp, txt, t->len);
		tmp[t->len] = '\0';
		char *end;
		errno = 0;
		long long iv = strtoll(tmp, &end, 0);
		if (*end == '\0' && errno == 0) {
			a->k = A_INT;
			a->i = iv;
			return 0;
		}
		double dv = strtod(tmp, &end);
		if (*end != '\0')
			return perr(p, "bad number syntax: \"%s\"", tmp);
		a->k = A_FLOAT;
		a->f = dv;
		return 0;
	}
	case T_IDENT: {
		if (tok_is(p, "true") || tok_is(p, "false")) {
			a->k = A_BOOL;
			a->b = tok_is(p, "true");
			return 0;
		}
		if (tok_is(p, "nil")) {
			a->k = A_NIL;
			return 0;
		}
		int fi = find_func(txt, t->len);
		if (fi < 0)
			return perr(p, "function \"%.*s\" not defined", (int)t->len, txt);
		(void)first; /* a non-niladic function as an argument is refused by
		              * parse_pipe (Go would pass it uncalled) */
		a->k = A_FUNC;
		a->fn = fi;
		return 0;
	}
	case T_LPAREN: {
		struct pipe *pp;
		if (next_tok(p) < 0 || parse_pipe(p, true, &pp) < 0)
			return -1;
		a->k = A_PIPE;
		a->p = pp;
		return 0;
	}
	default:
		return perr(p, "unexpected %.*s in operand", (int)(t->len ? t->len : 3),
		            t->len ? txt : "EOF");
	}
}

/* Parses commands until RDELIM (or RPAREN when in_paren); the current
 * token is the first of the pipeline. Leaves the terminator consumed. */
static int parse_pipe_inner(struct parser *p, bool in_paren, struct pipe **out);

static int parse_pipe(struct parser *p, bool in_paren, struct pipe **out)
{
	if (p->depth >= MAX_PARSE_DEPTH)
		return perr(p, "template nested deeper than %d levels", MAX_PARSE_DEPTH);
	p->depth++;
	int r = parse_pipe_inner(p, in_paren, out);
	p->depth--;
	return r;
}

static int parse_pipe_inner(struct parser *p, bool in_paren, struct pipe **out)
{
	struct pipe *pp = calloc(1, sizeof *pp);
	if (!pp)
		return perr(p, "out of memory");
	pp->line = p->tok.line;
	pp->col = p->tok.col;
	size_t text_start = p->tok.off;
	for (;;) {
		struct cmd c = {0};
		for (;;) {
			enum tk k = p->tok.k;
			if (k == T_RDELIM || k == T_PIPE || (k == T_RPAREN && in_paren) ||
			    k == T_EOF)
				break;
			if (k == T_RPAREN) {
				arg_free(&(struct arg){0});
				perr(p, "unexpected right paren");
				goto fail_cmd;
			}
			struct arg *na = realloc(c.args, (c.n + 1) * sizeof *na);
			if (!na) {
				perr(p, "out of memory");
				goto fail_cmd;
			}
			c.args = na;
			if (parse_operand(p, &c.args[c.n], c.n == 0) < 0) {
				goto fail_cmd;
			}
			c.n++;
			if (next_tok(p) < 0)
				goto fail_cmd;
		}
		if (c.n == 0) {
			perr(p, "missing value for command");
			goto fail_cmd;
		}
		if (c.args[0].k != A_FUNC && c.n > 1) {
			perr(p, "can't give argument to non-function %.*s",
			     (int)(c.args[0].s ? c.args[0].n : 1), c.args[0].s ? c.args[0].s : ".");
			goto fail_cmd;
		}
		for (size_t i = 1; i < c.n; i++)
			if (c.args[i].k == A_FUNC && funcs[c.args[i].fn].max != 0) {
				perr(p, "function \"%s\" used as an argument: use parentheses",
				     funcs[c.args[i].fn].name);
				goto fail_cmd;
			}
		/* literal regex argument (regexReplaceAll, regexMatch...): compile once */
		if (c.args[0].k == A_FUNC && funcs[c.args[0].fn].re0 && c.n >= 2 &&
		    c.args[1].k == A_STR) {
			struct lf_error rerr;
			if (lf_regex_new(c.args[1].s, 0, &c.re, &rerr) < 0) {
				perr(p, "%s", rerr.msg);
				goto fail_cmd;
			}
		}
		struct cmd *nc = realloc(pp->cmds, (pp->n + 1) * sizeof *nc);
		if (!nc) {
			perr(p, "out of memory");
			goto fail_cmd;
		}
		pp->cmds = nc;
		pp->cmds[pp->n++] = c;
		if (p->tok.k == T_PIPE) {
			if (next_tok(p) < 0)
				goto fail;
			continue;
		}
		if (p->tok.k == T_EOF) {
			perr(p, "unclosed action");
			goto fail;
		}
		break;
	fail_cmd:
		for (size_t i = 0; i < c.n; i++)
			arg_free(&c.args[i]);
		free(c.args);
		lf_regex_free(c.re);
		goto fail;
	}
	if (in_paren && p->tok.k != T_RPAREN) {
		perr(p, "unclosed left paren");
		goto fail;
	}
	if (!in_paren && p->tok.k != T_RDELIM) {
		perr(p, "unexpected %s in operand", "right delimiter");
		goto fail;
	}
	size_t tend = p->tok.off;
	while (tend > text_start && is_tspace(p->s[tend - 1]))
		tend--;
	pp->text = dupn(p->s + text_start, tend - text_start);
	if (!pp->text) {
		perr(p, "out of memory");
		goto fail;
	}
	*out = pp;
	return 0;
fail:
	pipe_free(pp);
	return -1;
}

/* terminators of a list */
enum term { TERM_EOF, TERM_END, TERM_ELSE };

static int parse_list(struct parser *p, struct nlist *l, enum term *how);

/* after "{{if" / "{{with" / "{{else if": the current token is the first of
 * the pipeline */
static int parse_branch_inner(struct parser *p, enum nkind k, struct node **out);

static int parse_branch(struct parser *p, enum nkind k, struct node **out)
{
	if (p->depth >= MAX_PARSE_DEPTH)
		return perr(p, "template nested deeper than %d levels", MAX_PARSE_DEPTH);
	p->depth++;
	int r = parse_branch_inner(p, k, out);
	p->depth--;
	return r;
}

static int parse_branch_inner(struct parser *p, enum nkind k, struct node **out)
{
	struct node *nd = calloc(1, sizeof *nd);
	if (!nd)
		return perr(p, "out of memory");
	nd->k = k;
	if (p->tok.k == T_RDELIM) {
		perr(p, "missing value for %s", k == NK_IF ? "if" : "with");
		goto fail;
	}
	if (parse_pipe(p, false, &nd->pipe) < 0)
		goto fail;
	enum term how;
	if (parse_list(p, &nd->body, &how) < 0)
		goto fail;
	if (how == TERM_EOF) {
		perr(p, "unexpected EOF");
		goto fail;
	}
	if (how == TERM_ELSE) {
		/* current token: the one after "else" */
		if (tok_is(p, "if") || tok_is(p, "with")) {
			enum nkind k2 = tok_is(p, "if") ? NK_IF : NK_WITH;
			struct node *sub;
			if (next_tok(p) < 0 || parse_branch(p, k2, &sub) < 0)
				goto fail;
			if (nlist_add(&nd->els, sub) < 0) {
				node_free(sub);
				perr(p, "out of memory");
				goto fail;
			}
			*out = nd;
			return 0; /* the nested branch consumed {{end}} */
		}
		if (p->tok.k != T_RDELIM) {
			perr(p, "unexpected %.*s in else", (int)p->tok.len, p->s + p->tok.off);
			goto fail;
		}
		if (parse_list(p, &nd->els, &how) < 0)
			goto fail;
		if (how != TERM_END) {
			perr(p, how == TERM_EOF ? "unexpected EOF" : "unexpected {{else}}");
			goto fail;
		}
	}
	*out = nd;
	return 0;
fail:
	node_free(nd);
	return -1;
}

/* Parses nodes until EOF, {{end}} or {{else}}; sets *how. For END the
 * closing delimiter is consumed; for ELSE the current token is the one
 * after "else". */
static int parse_list(struct parser *p, struct nlist *l, enum term *how)
{
	for (;;) {
		if (next_tok(p) < 0)
			return -1;
		struct ptok *t = &p->tok;
		if (t->k == T_EOF) {
			*how = TERM_EOF;
			return 0;
		}
		if (t->k == T_TEXT) {
			if (t->len == 0)
				continue;
			struct node *nd = calloc(1, sizeof *nd);
			if (!nd || nlist_add(l, nd) < 0) {
				free(nd);
				return perr(p, "out of memory");
			}
			nd->k = NK_TEXT;
			nd->text = p->s + t->off;
			nd->len = t->len;
			continue;
		}
		/* T_LDELIM */
		if (next_tok(p) < 0)
			return -1;
		if (tok_is(p, "end")) {
			if (next_tok(p) < 0)
				return -1;
			if (p->tok.k != T_RDELIM)
				return perr(p, "unexpected %.*s in end", (int)p->tok.len,
				            p->s + p->tok.off);
			*how = TERM_END;
			return 0;
		}
		if (tok_is(p, "else")) {
			if (next_tok(p) < 0)
				return -1;
			*how = TERM_ELSE;
			return 0;
		}
		if (tok_is(p, "if") || tok_is(p, "with")) {
			enum nkind k = tok_is(p, "if") ? NK_IF : NK_WITH;
			struct node *nd;
			if (next_tok(p) < 0 || parse_branch(p, k, &nd) < 0)
				return -1;
			if (nlist_add(l, nd) < 0) {
				node_free(nd);
				return perr(p, "out of memory");
			}
			continue;
		}
		if (tok_is(p, "range") || tok_is(p, "define") || tok_is(p, "template") ||
		    tok_is(p, "block") || tok_is(p, "break") || tok_is(p, "continue"))
			return perr(p, "{{%.*s}} is not supported", (int)p->tok.len,
			            p->s + p->tok.off);
		if (p->tok.k == T_RDELIM)
			return perr(p, "missing value for command");
		struct node *nd = calloc(1, sizeof *nd);
		if (!nd)
			return perr(p, "out of memory");
		nd->k = NK_ACTION;
		if (parse_pipe(p, false, &nd->pipe) < 0) {
			free(nd);
			return -1;
		}
		if (nlist_add(l, nd) < 0) {
			node_free(nd);
			return perr(p, "out of memory");
		}
	}
}

void lf_template_free(struct lf_template *t)
{
	if (!t)
		return;
	nlist_free(&t->root);
	if (t->fields)
		for (size_t i = 0; i < t->nfields; i++)
			free(t->fields[i]);
	free(t->fields);
	arena_free(&t->arena);
	lf_buf_free(&t->tmp);
	lf_buf_free(&t->tmp2);
	lf_buf_free(&t->tmp3);
	lf_buf_free(&t->tmp4);
	if (t->md)
		EVP_MD_CTX_free(t->md);
	lf_regex_match_free(&t->m);
	free(t->name);
	free(t->src);
	free(t);
}

int lf_template_new(const char *name, const char *text, unsigned flags, struct lf_template **out,
                    struct lf_error *err)
{
	*out = NULL;
	struct lf_template *t = calloc(1, sizeof *t);
	if (!t)
		return lf_err(err, "out of memory");
	t->flags = flags;
	t->name = strdup(name ? name : "template");
	t->src = strdup(text ? text : "");
	t->fields = calloc(1, sizeof *t->fields);
	if (!t->name || !t->src || !t->fields) {
		lf_template_free(t);
		return lf_err(err, "out of memory");
	}
	struct parser p = {0};
	p.t = t;
	p.s = t->src;
	p.n = strlen(t->src);
	p.line = 1;
	p.err = err;
	enum term how;
	if (parse_list(&p, &t->root, &how) < 0) {
		lf_template_free(t);
		return -1;
	}
	if (how != TERM_EOF) {
		perr(&p, how == TERM_END ? "unexpected {{end}}" : "unexpected {{else}}");
		lf_template_free(t);
		return -1;
	}
	*out = t;
	return 0;
}
