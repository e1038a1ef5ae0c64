/* regex.c — Go/RE2 regexes on pcre2 (see regex.h for the contract). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "regex.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct lf_regex {
	pcre2_code *code;
	char *pattern;
	unsigned flags;
	int ngroups;
	char **names; /* [0..ngroups], names[i] = name of group i or NULL */
};

/* ---- per-thread scratch ---- */

struct thread_block {
	struct lf_regex_match m;
	pcre2_match_context *mctx; /* with a large JIT stack, made on demand */
	pcre2_jit_stack *jstack;
};

static pthread_key_t tkey;
static pthread_once_t tonce = PTHREAD_ONCE_INIT;

static void thread_block_free(void *p)
{
	struct thread_block *tb = p;
	if (!tb)
		return;
	lf_regex_match_free(&tb->m);
	if (tb->mctx)
		pcre2_match_context_free(tb->mctx);
	if (tb->jstack)
		pcre2_jit_stack_free(tb->jstack);
	free(tb);
}

static void tkey_make(void)
{
	(void)pthread_key_create(&tkey, thread_block_free);
}

static struct thread_block *thread_block(void)
{
	pthread_once(&tonce, tkey_make);
	struct thread_block *tb = pthread_getspecific(tkey);
	if (!tb) {
		tb = calloc(1, sizeof *tb);
		if (!tb)
			return NULL;
		if (pthread_setspecific(tkey, tb) != 0) {
			free(tb);
			return NULL;
		}
	}
	return tb;
}

/* A match context with a JIT stack big enough for heavy patterns on long
 * lines; only used to retry after PCRE2_ERROR_JIT_STACKLIMIT, so normal
 * matches use pcre2's default 32 KiB machine-stack area. */
static pcre2_match_context *big_stack_ctx(void)
{
	struct thread_block *tb = thread_block();
	if (!tb)
		return NULL;
	if (!tb->mctx) {
		tb->jstack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, NULL);
		tb->mctx = pcre2_match_context_create(NULL);
		if (!tb->jstack || !tb->mctx) {
			if (tb->jstack)
				pcre2_jit_stack_free(tb->jstack);
			if (tb->mctx)
				pcre2_match_context_free(tb->mctx);
			tb->jstack = NULL;
			tb->mctx = NULL;
			return NULL;
		}
		pcre2_jit_stack_assign(tb->mctx, NULL, tb->jstack);
	}
	return tb->mctx;
}

/* ---- translation RE2 -> pcre2 ---- */

struct xlat {
	struct lf_buf out;
	size_t *map; /* map[i] = offset in the user pattern of out byte i */
	size_t map_cap;
};

static int xput(struct xlat *x, const char *s, size_t n, size_t src_off)
{
	if (x->out.len + n > x->map_cap) {
		size_t nc = x->map_cap ? x->map_cap * 2 : 64;
		while (nc < x->out.len + n)
			nc *= 2;
		size_t *nm = realloc(x->map, nc * sizeof *nm);
		if (!nm)
			return -1;
		x->map = nm;
		x->map_cap = nc;
	}
	for (size_t i = 0; i < n; i++)
		x->map[x->out.len + i] = src_off;
	return lf_buf_append(&x->out, s, n);
}

/* Rewrites the escapes whose meaning differs between RE2 and pcre2 (see
 * regex.h). Everything else is copied: pcre2 accepts RE2's syntax. Returns
 * 0, -1 on ENOMEM, or -2 with *bad_off set for an escape RE2 rejects and
 * pcre2 would accept with another meaning. */
static int translate(const char *p, size_t n, struct xlat *x, size_t *bad_off)
{
	bool in_class = false;
	size_t class_start = 0; /* offset just after '[' or '[^' */
	for (size_t i = 0; i < n;) {
		char c = p[i];
		if (c == '\\' && i + 1 < n) {
			char e = p[i + 1];
			if (e == 'Q') { /* literal text up to \E: copy untouched */
				const char *end = NULL;
				for (size_t j = i + 2; j + 1 < n; j++)
					if (p[j] == '\\' && p[j + 1] == 'E') {
						end = p + j + 2;
						break;
					}
				size_t len = end ? (size_t)(end - (p + i)) : n - i;
				if (xput(x, p + i, len, i) < 0)
					return -1;
				i += len;
				continue;
			}
			const char *rep = NULL;
			switch (e) {
			case 's':
				rep = in_class ? "\\t\\n\\f\\r " : "[\\t\\n\\f\\r ]";
				break;
			case 'S':
				/* inside a class pcre2's \S differs only on \v */
				rep = in_class ? NULL : "[^\\t\\n\\f\\r ]";
				break;
			case 'v':
				rep = "\\x0B";
				break;
			case 'C':
				rep = in_class ? NULL : "(?s:.)";
				break;
			case 'Z':
				*bad_off = i;
				return -2;
			default:
				break;
			}
			if (rep) {
				if (xput(x, rep, strlen(rep), i) < 0)
					return -1;
			} else if (xput(x, p + i, 2, i) < 0) {
				return -1;
			}
			i += 2;
			continue;
		}
		if (in_class) {
			if (c == '[' && i + 1 < n && p[i + 1] == ':') {
				/* POSIX class [:name:] : copy through its ']' */
				const char *end = NULL;
				for (size_t j = i + 2; j + 1 < n; j++)
					if (p[j] == ':' && p[j + 1] == ']') {
						end = p + j + 2;
						break;
					}
				if (end) {
					size_t len = (size_t)(end - (p + i));
					if (xput(x, p + i, len, i) < 0)
						return -1;
					i += len;
					continue;
				}
			} else if (c == ']' && i != class_start) {
				in_class = false;
			}
		} else if (c == '[') {
			in_class = true;
			class_start = i + 1;
			if (class_start < n && p[class_start] == '^')
				class_start++;
		}
		if (xput(x, p + i, 1, i) < 0)
			return -1;
		i++;
	}
	return 0;
}

static int build_names(struct lf_regex *re)
{
	uint32_t cap = 0, count = 0, esize = 0;
	PCRE2_SPTR table = NULL;
	pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &cap);
	pcre2_pattern_info(re->code, PCRE2_INFO_NAMECOUNT, &count);
	pcre2_pattern_info(re->code, PCRE2_INFO_NAMEENTRYSIZE, &esize);
	pcre2_pattern_info(re->code, PCRE2_INFO_NAMETABLE, &table);
	re->ngroups = (int)cap;
	re->names = calloc((size_t)cap + 1, sizeof *re->names);
	if (!re->names)
		return -1;
	for (uint32_t k = 0; k < count; k++) {
		PCRE2_SPTR e = table + (size_t)k * esize;
		unsigned idx = ((unsigned)e[0] << 8) | e[1];
		if (idx <= cap && !re->names[idx]) {
			re->names[idx] = strdup((const char *)e + 2);
			if (!re->names[idx])
				return -1;
		}
	}
	return 0;
}

int lf_regex_new(const char *pattern, unsigned flags, struct lf_regex **out, struct lf_error *err)
{
	*out = NULL;
	if (!pattern)
		return lf_err(err, "invalid regex: no pattern");
	struct lf_regex *re = calloc(1, sizeof *re);
	if (!re)
		return lf_err(err, "out of memory");
	re->flags = flags;
	re->pattern = strdup(pattern);
	if (!re->pattern) {
		free(re);
		return lf_err(err, "out of memory");
	}
	size_t plen = strlen(pattern);

	/* subjects are made valid UTF-8 before matching (see regex.h), so no
	 * PCRE2_MATCH_INVALID_UTF: the JIT code is faster without it */
	uint32_t opts = PCRE2_UTF | PCRE2_DOLLAR_ENDONLY;
	if (flags & LF_REGEX_FULL)
		opts |= PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOTALL;
	if (flags & LF_REGEX_CASELESS)
		opts |= PCRE2_CASELESS;

	struct xlat x = {0};
	const char *src = pattern;
	size_t srclen = plen;
	if (flags & LF_REGEX_LITERAL) {
		opts |= PCRE2_LITERAL;
		opts &= ~(uint32_t)(PCRE2_DOLLAR_ENDONLY | PCRE2_DOTALL);
	} else {
		size_t bad = 0;
		int rc = translate(pattern, plen, &x, &bad);
		if (rc == -2) {
			lf_err(err,
			       "invalid regex \"%s\": invalid escape sequence: \\Z at offset %zu",
			       pattern, bad);
			goto fail;
		}
		if (rc < 0) {
			lf_err(err, "out of memory");
			goto fail;
		}
		src = x.out.data ? x.out.data : "";
		srclen = x.out.len;
	}

	pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
	if (!cctx) {
		lf_err(err, "out of memory");
		goto fail;
	}
	pcre2_set_newline(cctx, PCRE2_NEWLINE_LF);
	int ecode = 0;
	PCRE2_SIZE eoff = 0;
	re->code = pcre2_compile((PCRE2_SPTR)src, srclen, opts, &ecode, &eoff, cctx);
	pcre2_compile_context_free(cctx);
	if (!re->code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ecode, msg, sizeof msg);
		size_t uoff = eoff;
		if (!(flags & LF_REGEX_LITERAL))
			uoff = eoff < x.out.len ? x.map[eoff] : plen;
		lf_err(err, "invalid regex \"%s\": %s at offset %zu", pattern, (const char *)msg,
		       uoff);
		goto fail;
	}
	/* JIT failure (e.g. no executable memory) is not an error: the
	 * interpreter gives the same results, only slower. */
	(void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
	if (build_names(re) < 0) {
		lf_err(err, "out of memory");
		goto fail;
	}
	lf_buf_free(&x.out);
	free(x.map);
	*out = re;
	return 0;
fail:
	lf_buf_free(&x.out);
	free(x.map);
	lf_regex_free(re);
	return -1;
}

void lf_regex_free(struct lf_regex *re)
{
	if (!re)
		return;
	if (re->names)
		for (int i = 0; i <= re->ngroups; i++)
			free(re->names[i]);
	free(re->names);
	if (re->code)
		pcre2_code_free(re->code);
	free(re->pattern);
	free(re);
}

const char *lf_regex_pattern(const struct lf_regex *re)
{
	return re->pattern;
}

int lf_regex_ngroups(const struct lf_regex *re)
{
	return re->ngroups;
}

int lf_regex_group_index(const struct lf_regex *re, const char *name, size_t name_len)
{
	for (int i = 1; i <= re->ngroups; i++) {
		const char *n = re->names[i];
		if (n && strlen(n) == name_len && memcmp(n, name, name_len) == 0)
			return i;
	}
	return -1;
}

const char *lf_regex_group_name(const struct lf_regex *re, int i)
{
	if (i < 1 || i > re->ngroups)
		return NULL;
	return re->names[i];
}

/* ---- matching ---- */

/* Width of the UTF-8 sequence at s (1 for an invalid byte), as Go's
 * utf8.DecodeRune reports it; 0 at the end. */
static size_t utf8_width(const unsigned char *s, size_t n)
{
	if (n == 0)
		return 0;
	unsigned char c = s[0];
	size_t w;
	uint32_t min;
	if (c < 0x80)
		return 1;
	else if (c >= 0xC2 && c <= 0xDF)
		w = 2, min = 0x80;
	else if (c >= 0xE0 && c <= 0xEF)
		w = 3, min = 0x800;
	else if (c >= 0xF0 && c <= 0xF4)
		w = 4, min = 0x10000;
	else
		return 1;
	if (n < w)
		return 1;
	uint32_t cp = c & (0x7F >> w);
	for (size_t k = 1; k < w; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 1;
		cp = (cp << 6) | (s[k] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 1;
	return w;
}

static int ensure_md(struct lf_regex_match *m, int pairs)
{
	if (m->md && m->md_pairs >= (unsigned)pairs)
		return 0;
	unsigned want = m->md_pairs ? m->md_pairs : 8;
	while (want < (unsigned)pairs)
		want *= 2;
	pcre2_match_data *md = pcre2_match_data_create(want, NULL);
	if (!md)
		return -1;
	if (m->md)
		pcre2_match_data_free(m->md);
	m->md = md;
	m->md_pairs = want;
	m->ov = pcre2_get_ovector_pointer(md);
	return 0;
}

/* true when s[0..n) is valid UTF-8 */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		/* fast path: 8 ASCII bytes at a time */
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (w & UINT64_C(0x8080808080808080))
				break;
			i += 8;
		}
		if (i >= n)
			break;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		size_t w = utf8_width(s + i, n - i);
		if (w == 1)
			return false; /* a lone byte >= 0x80 */
		i += w;
	}
	return true;
}

/* Makes m->san a copy of subject with each invalid byte replaced by U+FFFD
 * (EF BF BD), which is what Go's regexp sees, and records the invalid
 * bytes' positions in m->inv to map offsets between the two. */
static const char *sanitize(struct lf_regex_match *m, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t bad = 0;
	for (size_t i = 0; i < n;) {
		size_t w = u[i] < 0x80 ? 1 : utf8_width(u + i, n - i);
		if (w == 1 && u[i] >= 0x80)
			bad++;
		i += w;
	}
	size_t sn = n + 2 * bad;
	if (sn + 1 > m->san_cap) {
		size_t cap = m->san_cap ? m->san_cap : 256;
		while (cap < sn + 1)
			cap *= 2;
		char *p = realloc(m->san, cap);
		if (!p)
			return NULL;
		m->san = p;
		m->san_cap = cap;
	}
	if (bad > m->inv_cap) {
		size_t cap = m->inv_cap ? m->inv_cap : 16;
		while (cap < bad)
			cap *= 2;
		size_t *p = realloc(m->inv, cap * sizeof *p);
		if (!p)
			return NULL;
		m->inv = p;
		m->inv_cap = cap;
	}
	size_t o = 0, k = 0;
	for (size_t i = 0; i < n;) {
		if (u[i] < 0x80) {
			m->san[o++] = s[i++];
			continue;
		}
		size_t w = utf8_width(u + i, n - i);
		if (w == 1) {
			m->inv[k++] = i;
			m->san[o++] = (char)0xEF;
			m->san[o++] = (char)0xBF;
			m->san[o++] = (char)0xBD;
			i++;
			continue;
		}
		memcpy(m->san + o, s + i, w);
		o += w;
		i += w;
	}
	m->san[o] = '\0';
	m->inv_n = bad;
	m->san_len = sn;
	return m->san;
}

/* offset in the original subject -> offset in m->san */
static size_t to_san(const struct lf_regex_match *m, size_t off)
{
	size_t lo = 0, hi = m->inv_n; /* count invalid bytes before off */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->inv[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return off + 2 * lo;
}

/* offset in m->san -> offset in the original subject */
static size_t from_san(const struct lf_regex_match *m, size_t off)
{
	size_t lo = 0, hi = m->inv_n; /* count expansions that end at or before off */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->inv[mid] + 2 * mid + 3 <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return off - 2 * lo;
}

/* pcre2_match on a subject known to be valid UTF-8: the caller's subject
 * itself, or (san) m->san with offsets mapped back and forth. */
static int exec_valid(const struct lf_regex *re, const char *subject, size_t len, size_t start,
                      bool san, struct lf_regex_match *m, struct lf_error *err)
{
	if (ensure_md(m, re->ngroups + 1) < 0)
		return lf_err(err, "out of memory");
	if (start > len || (start > 0 && (re->flags & LF_REGEX_FULL)))
		return 0; /* a fully anchored regex matches the whole subject only */
	const char *ms = san ? m->san : subject;
	size_t mlen = san ? m->san_len : len;
	size_t mstart = san ? to_san(m, start) : start;
	int rc = pcre2_match(re->code, (PCRE2_SPTR)ms, mlen, mstart, PCRE2_NO_UTF_CHECK, m->md,
	                     NULL);
	if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
		pcre2_match_context *ctx = big_stack_ctx();
		if (ctx)
			rc = pcre2_match(re->code, (PCRE2_SPTR)ms, mlen, mstart, PCRE2_NO_UTF_CHECK,
			                 m->md, ctx);
	}
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(rc, msg, sizeof msg);
		return lf_err(err, "regex \"%s\": matching failed: %s", re->pattern,
		              (const char *)msg);
	}
	m->subject = subject;
	m->subject_len = len;
	m->ngroups = re->ngroups;
	m->ov = pcre2_get_ovector_pointer(m->md);
	if (san)
		for (int i = 0; i <= re->ngroups; i++)
			for (int j = 0; j < 2; j++)
				if (m->ov[2 * i + j] != PCRE2_UNSET)
					m->ov[2 * i + j] = from_san(m, m->ov[2 * i + j]);
	return 1;
}

/* Checks subject; returns 0 (valid: match it directly), 1 (invalid: m->san
 * holds the U+FFFD copy) or -1 (ENOMEM). */
static int check_subject(struct lf_regex_match *m, const char *subject, size_t len)
{
	m->checked = subject;
	m->checked_len = len;
	m->checked_san = false;
	if (utf8_valid((const unsigned char *)subject, len))
		return 0;
	if (!sanitize(m, subject, len)) {
		m->checked = NULL;
		return -1;
	}
	m->checked_san = true;
	return 1;
}

int lf_regex_exec(const struct lf_regex *re, const char *subject, size_t len, size_t start,
                  struct lf_regex_match *m, struct lf_error *err)
{
	if (!subject)
		subject = "";
	int san;
	if (start > 0 && m->checked == subject && m->checked_len == len)
		san = m->checked_san; /* "find next": checked already */
	else if ((san = check_subject(m, subject, len)) < 0)
		return lf_err(err, "out of memory");
	return exec_valid(re, subject, len, start, san, m, err);
}

bool lf_regex_test(const struct lf_regex *re, const char *subject, size_t len)
{
	struct thread_block *tb = thread_block();
	if (!tb)
		return false;
	return lf_regex_exec(re, subject, len, 0, &tb->m, NULL) == 1;
}

bool lf_regex_group(const struct lf_regex_match *m, int i, const char **p, size_t *n)
{
	*p = NULL;
	*n = 0;
	if (!m->ov || i < 0 || i > m->ngroups)
		return false;
	size_t s = m->ov[2 * i], e = m->ov[2 * i + 1];
	if (s == PCRE2_UNSET || e == PCRE2_UNSET || e < s)
		return false;
	*p = m->subject + s;
	*n = e - s;
	return true;
}

void lf_regex_match_free(struct lf_regex_match *m)
{
	if (m->md)
		pcre2_match_data_free(m->md);
	free(m->san);
	free(m->inv);
	memset(m, 0, sizeof *m);
}

/* ---- Expand / ReplaceAll (Go semantics) ---- */

static bool name_byte(unsigned char c)
{
	/* Go accepts Unicode letters and digits; bytes >= 0x80 approximate
	 * the multi-byte letters (group names can only be ASCII anyway). */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c >= 0x80;
}

/* Parses a reference after '$' at t[0..n): `name` or `{name}`. On success
 * returns the number of bytes consumed and sets name/num (num -1 when the
 * name is not a plain group number). Returns 0 when malformed. */
static size_t extract_ref(const char *t, size_t n, const char **name, size_t *name_len, long *num)
{
	size_t i = 0;
	bool brace = false;
	if (n > 0 && t[0] == '{') {
		brace = true;
		i = 1;
	}
	size_t s = i;
	while (i < n && name_byte((unsigned char)t[i]))
		i++;
	if (i == s)
		return 0;
	*name = t + s;
	*name_len = i - s;
	if (brace) {
		if (i >= n || t[i] != '}')
			return 0;
		i++;
	}
	long v = 0;
	for (size_t j = 0; j < *name_len; j++) {
		char c = (*name)[j];
		if (c < '0' || c > '9' || v >= 100000000) {
			v = -1;
			break;
		}
		v = v * 10 + (c - '0');
	}
	if ((*name)[0] == '0' && *name_len > 1)
		v = -1;
	*num = v;
	return i;
}

int lf_regex_expand(const struct lf_regex *re, const struct lf_regex_match *m, const char *tmpl,
                    size_t tmpl_len, struct lf_buf *out)
{
	size_t i = 0;
	while (i < tmpl_len) {
		const char *d = memchr(tmpl + i, '$', tmpl_len - i);
		if (!d)
			break;
		size_t di = (size_t)(d - tmpl);
		if (lf_buf_append(out, tmpl + i, di - i) < 0)
			return -1;
		i = di + 1;
		if (i < tmpl_len && tmpl[i] == '$') {
			if (lf_buf_putc(out, '$') < 0)
				return -1;
			i++;
			continue;
		}
		const char *name;
		size_t nlen;
		long num;
		size_t used = extract_ref(tmpl + i, tmpl_len - i, &name, &nlen, &num);
		if (!used) {
			if (lf_buf_putc(out, '$') < 0)
				return -1;
			continue;
		}
		i += used;
		int g = -1;
		if (num >= 0)
			g = num <= re->ngroups ? (int)num : -1;
		else
			g = lf_regex_group_index(re, name, nlen);
		const char *gp;
		size_t gn;
		if (g >= 0 && lf_regex_group(m, g, &gp, &gn) && lf_buf_append(out, gp, gn) < 0)
			return -1;
	}
	if (lf_buf_append(out, tmpl + i, tmpl_len - i) < 0)
		return -1;
	return 0;
}

int lf_regex_replace_all(const struct lf_regex *re, const char *subject, size_t len,
                         const char *repl, size_t repl_len, bool literal, struct lf_buf *out,
                         struct lf_regex_match *m)
{
	if (!m) {
		struct thread_block *tb = thread_block();
		if (!tb)
			return -1;
		m = &tb->m;
	}
	if (!subject)
		subject = "";
	int san = check_subject(m, subject, len); /* once, not per match */
	if (san < 0)
		return -1;
	size_t last_end = 0, pos = 0;
	while (pos <= len) {
		int rc = exec_valid(re, subject, len, pos, san, m, NULL);
		if (rc < 0)
			return -1;
		if (rc == 0)
			break;
		size_t a0 = m->ov[0], a1 = m->ov[1];
		if (lf_buf_append(out, subject + last_end, a0 - last_end) < 0)
			return -1;
		/* Go: no replacement for an empty match right after a match */
		if (a1 > last_end || a0 == 0) {
			int r = literal ? lf_buf_append(out, repl, repl_len)
			                : lf_regex_expand(re, m, repl, repl_len, out);
			if (r < 0)
				return -1;
		}
		last_end = a1;
		size_t w = utf8_width((const unsigned char *)subject + pos, len - pos);
		if (pos + w > a1)
			pos += w;
		else if (pos + 1 > a1)
			pos++;
		else
			pos = a1;
	}
	if (lf_buf_append(out, subject + last_end, len - last_end) < 0)
		return -1;
	if (!out->data && lf_buf_reserve(out, 1) < 0)
		return -1;
	return 0;
}

int lf_regex_quote(const char *s, size_t n, struct lf_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (strchr("\\.+*?()|[]{}^$", s[i]) && s[i] != '\0' && lf_buf_putc(out, '\\') < 0)
			return -1;
		if (lf_buf_putc(out, s[i]) < 0)
			return -1;
	}
	if (!out->data && lf_buf_reserve(out, 1) < 0)
		return -1;
	return 0;
}
