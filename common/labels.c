/* labels.c — see labels.h. */
#include "labels.h"
#include "utf8.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Set ids (see struct lf_labels). Process-wide because a mark names its set
 * by id, and a freed set's memory may come back as another set: ids must
 * never repeat. A set draws one at its first change, so this atomic is off
 * the per-line path. */
static _Atomic uint64_t next_id = 1;

/* Every change to slot bytes or order goes through here. */
static inline void bump(struct lf_labels *ls)
{
	if (__builtin_expect(ls->id == 0, 0))
		ls->id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
	ls->ver++;
}

/* Called first by every function that changes ls: an append from outside
 * (n moved away from n_seen) wrote a slot without bumping ver. */
static inline void sync_seen(struct lf_labels *ls)
{
	if (ls->n != ls->n_seen) {
		bump(ls);
		ls->n_seen = ls->n;
	}
}

void lf_labels_touch(struct lf_labels *ls)
{
	bump(ls);
	ls->n_seen = ls->n;
}

void lf_labels_free(struct lf_labels *ls)
{
	for (size_t i = 0; i < ls->cap; i++) {
		free(ls->v[i].name);
		free(ls->v[i].value);
	}
	free(ls->v);
	memset(ls, 0, sizeof *ls); /* a new id at the next change */
}

void lf_labels_clear(struct lf_labels *ls)
{
	/* the slots keep their bytes: ver stays (see struct lf_labels) */
	sync_seen(ls);
	ls->n = ls->n_seen = 0;
}

/* Length of s[0..n) as a C string: up to the first NUL. glibc's memchr
 * checks 32 bytes per step; very short strings are cheaper inline. */
static inline size_t cstr_len(const char *s, size_t n)
{
	if (n <= 8) {
		for (size_t i = 0; i < n; i++)
			if (s[i] == '\0')
				return i;
		return n;
	}
	const char *z = memchr(s, '\0', n);
	return z ? (size_t)(z - s) : n;
}

/* a[0..n) == b[0..n). Label names and values are mostly short: up to 16
 * bytes are compared with two overlapping word loads, no call. */
static inline bool mem_eq(const char *a, const char *b, size_t n)
{
	if (n >= 8) {
		if (n > 16) {
			if (n > 32)
				return memcmp(a, b, n) == 0;
			/* 17..32: two 16-byte halves, overlapping */
			return mem_eq(a, b, 16) && mem_eq(a + n - 16, b + n - 16, 16);
		}
		uint64_t x1, y1, x2, y2;
		memcpy(&x1, a, 8);
		memcpy(&y1, b, 8);
		memcpy(&x2, a + n - 8, 8);
		memcpy(&y2, b + n - 8, 8);
		return ((x1 ^ y1) | (x2 ^ y2)) == 0;
	}
	if (n >= 4) {
		uint32_t x1, y1, x2, y2;
		memcpy(&x1, a, 4);
		memcpy(&y1, b, 4);
		memcpy(&x2, a + n - 4, 4);
		memcpy(&y2, b + n - 4, 4);
		return ((x1 ^ y1) | (x2 ^ y2)) == 0;
	}
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* Copies s (len bytes, no NUL among them) into *dst (capacity *cap),
 * growing only when needed, and records the length in *dlen. */
static int slot_store(char **dst, size_t *cap, size_t *dlen, const char *s, size_t len)
{
	if (len + 1 > *cap) {
		size_t c = *cap ? *cap : 16;
		while (c < len + 1)
			c *= 2;
		char *p = realloc(*dst, c);
		if (!p)
			return -1;
		*dst = p;
		*cap = c;
	}
	memcpy(*dst, s, len);
	(*dst)[len] = '\0';
	*dlen = len;
	return 0;
}

/* Byte order of two strings given with their lengths (no NULs inside):
 * the order strcmp gives. */
static inline int str_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	/* names mostly differ early or are short: the first 8 bytes inline */
	size_t m = alen < blen ? alen : blen, i = 0;
	for (; i < m && i < 8; i++)
		if (a[i] != b[i])
			return (unsigned char)a[i] - (unsigned char)b[i];
	if (i < m) {
		int c = memcmp(a + i, b + i, m - i);
		if (c)
			return c;
	}
	return (alen > blen) - (alen < blen);
}

static inline bool str_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && mem_eq(a, b, alen);
}

/* Binary search; returns index of name or insertion point with *found=0.
 * len must already be the C-string length (see cstr_len). */
static size_t find(const struct lf_labels *ls, const char *name, size_t len, int *found)
{
	size_t lo = 0, hi = ls->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = str_cmp(ls->v[mid].name, ls->v[mid].name_len, name, len);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

static int ensure_slot(struct lf_labels *ls)
{
	if (ls->n < ls->cap)
		return 0;
	size_t c = ls->cap ? ls->cap * 2 : 8;
	struct lf_label *v = realloc(ls->v, c * sizeof *v);
	if (!v)
		return -1;
	memset(v + ls->cap, 0, (c - ls->cap) * sizeof *v);
	ls->v = v;
	ls->cap = c;
	return 0;
}

/* Appends name=value at index n (name sorts after every present name),
 * into the spare slot there. A set refilled per line in the same order
 * finds the same bytes in that slot: then nothing is copied and ver stays. */
static int append_clean(struct lf_labels *ls, const char *name, size_t name_len, const char *value,
                        size_t value_len)
{
	if (ensure_slot(ls) < 0)
		return -1;
	struct lf_label *d = &ls->v[ls->n];
	bool name_same = d->name_cap && str_eq(d->name, d->name_len, name, name_len);
	bool value_same = d->value_cap && str_eq(d->value, d->value_len, value, value_len);
	if (!(name_same && value_same)) {
		bump(ls);
		if ((!name_same &&
		     slot_store(&d->name, &d->name_cap, &d->name_len, name, name_len) < 0) ||
		    (!value_same &&
		     slot_store(&d->value, &d->value_cap, &d->value_len, value, value_len) < 0))
			return -1; /* the slot stays a spare */
	}
	ls->n_seen = ++ls->n;
	return 0;
}

/* lf_labels_setn for lengths that are already C-string lengths. Not
 * inlined: the fast paths that call it keep a light frame. */
__attribute__((noinline)) static int set_clean(struct lf_labels *ls, const char *name,
                                               size_t name_len, const char *value, size_t value_len)
{
	sync_seen(ls);
	size_t n = ls->n;
	int found;
	size_t i;
	/* sets are mostly built in name order: try "after the last" first */
	int c = n ? str_cmp(ls->v[n - 1].name, ls->v[n - 1].name_len, name, name_len) : -1;
	if (c < 0)
		return append_clean(ls, name, name_len, value, value_len);
	if (c == 0) {
		found = 1;
		i = n - 1;
	} else {
		i = find(ls, name, name_len, &found);
	}
	bump(ls);
	if (found)
		return slot_store(&ls->v[i].value, &ls->v[i].value_cap, &ls->v[i].value_len, value,
		                  value_len);
	if (ensure_slot(ls) < 0)
		return -1;
	/* Rotate the spare slot at index n into position i, keeping buffers. */
	struct lf_label spare = ls->v[n];
	memmove(&ls->v[i + 1], &ls->v[i], (n - i) * sizeof spare);
	ls->v[i] = spare;
	ls->n_seen = ++ls->n;
	struct lf_label *d = &ls->v[i];
	if (slot_store(&d->name, &d->name_cap, &d->name_len, name, name_len) < 0 ||
	    slot_store(&d->value, &d->value_cap, &d->value_len, value, value_len) < 0) {
		/* Undo: move the slot back to the spare area. */
		spare = ls->v[i];
		memmove(&ls->v[i], &ls->v[i + 1], (ls->n - i - 1) * sizeof spare);
		ls->n_seen = --ls->n;
		ls->v[ls->n] = spare;
		return -1;
	}
	return 0;
}

int lf_labels_setn_nonul(struct lf_labels *ls, const char *name, size_t name_len, const char *value,
                         size_t value_len)
{
	/* The per-line refill (cri's stream label): the spare slot at n
	 * already holds name=value and name sorts last. Checked here for
	 * short names and values, without calls (a light frame), before
	 * set_clean does the general case. */
	size_t n = ls->n;
	if (n < ls->cap && n == ls->n_seen && name_len <= 16 && value_len <= 16) {
		const struct lf_label *d = &ls->v[n];
		if (d->name_cap && d->value_cap && d->name_len == name_len &&
		    d->value_len == value_len && mem_eq(d->name, name, name_len) &&
		    mem_eq(d->value, value, value_len)) {
			/* name after the last one: decided in its first 8 bytes */
			int c = -1;
			if (n) {
				const struct lf_label *last = &ls->v[n - 1];
				size_t m = last->name_len < name_len ? last->name_len : name_len;
				size_t i = 0;
				for (; i < m && i < 8 && last->name[i] == name[i]; i++)
					;
				if (i < m && i < 8)
					c = (unsigned char)last->name[i] - (unsigned char)name[i];
				else if (i == m)
					c = last->name_len < name_len ? -1 : 0;
				else
					c = 0; /* undecided: the general path */
			}
			if (c < 0) {
				ls->n = ls->n_seen = n + 1;
				return 0;
			}
		}
	}
	return set_clean(ls, name, name_len, value, value_len);
}

int lf_labels_setn(struct lf_labels *ls, const char *name, size_t name_len, const char *value,
                   size_t value_len)
{
	return set_clean(ls, name, cstr_len(name, name_len), value, cstr_len(value, value_len));
}

int lf_labels_set(struct lf_labels *ls, const char *name, const char *value)
{
	return set_clean(ls, name, strlen(name), value, strlen(value));
}

const struct lf_label *lf_labels_find(const struct lf_labels *ls, const char *name, size_t name_len)
{
	int found;
	size_t i = find(ls, name, cstr_len(name, name_len), &found);
	return found ? &ls->v[i] : NULL;
}

const char *lf_labels_getn(const struct lf_labels *ls, const char *name, size_t name_len)
{
	const struct lf_label *l = lf_labels_find(ls, name, name_len);
	return l ? l->value : NULL;
}

const char *lf_labels_get(const struct lf_labels *ls, const char *name)
{
	int found;
	size_t i = find(ls, name, strlen(name), &found);
	return found ? ls->v[i].value : NULL;
}

int lf_labels_del(struct lf_labels *ls, const char *name)
{
	int found;
	size_t i = find(ls, name, strlen(name), &found);
	if (!found)
		return 0;
	sync_seen(ls);
	bump(ls);
	struct lf_label gone = ls->v[i];
	memmove(&ls->v[i], &ls->v[i + 1], (ls->n - i - 1) * sizeof gone);
	ls->n_seen = --ls->n;
	ls->v[ls->n] = gone; /* keep its buffers as a spare slot */
	return 1;
}

static int copy_slots(struct lf_labels *dst, const struct lf_labels *src, struct lf_labels_mark sm);

int lf_labels_copy(struct lf_labels *dst, const struct lf_labels *src)
{
	if (dst == src)
		return 0;
	sync_seen(dst);
	struct lf_labels_mark sm = lf_labels_mark(src);
	/* The usual copy is a target's labels into the entry reused for each
	 * of its lines: neither changed since the last copy. */
	if (sm.id && sm.id == dst->copy_src.id && sm.ver == dst->copy_src.ver &&
	    sm.n == dst->copy_src.n && dst->ver == dst->copy_self_ver) {
		dst->n = dst->n_seen = sm.n;
		return 0;
	}
	return copy_slots(dst, src, sm);
}

/* lf_labels_copy without the memo shortcut. Not inlined: the shortcut
 * keeps a light frame. */
__attribute__((noinline)) static int copy_slots(struct lf_labels *dst, const struct lf_labels *src,
                                                struct lf_labels_mark sm)
{
	dst->n = dst->n_seen = 0;
	while (dst->cap < src->n) {
		dst->n = dst->cap; /* ensure_slot grows when n == cap */
		int r = ensure_slot(dst);
		dst->n = 0;
		if (r < 0)
			return -1;
	}
	/* locals: the stores below cannot make the compiler reload them */
	struct lf_label *dv = dst->v;
	const struct lf_label *sv = src->v;
	size_t n = src->n, i;
	bool changed = false;
	for (i = 0; i < n; i++) {
		struct lf_label *d = &dv[i];
		const struct lf_label *l = &sv[i];
		/* A reused destination's slots mostly still hold the same names
		 * and values: comparing inline is cheaper than a memcpy call,
		 * and an unchanged slot keeps ver. */
		if (!(d->name_cap && str_eq(d->name, d->name_len, l->name, l->name_len))) {
			changed = true;
			if (slot_store(&d->name, &d->name_cap, &d->name_len, l->name, l->name_len) <
			    0)
				goto fail;
		}
		if (!(d->value_cap && str_eq(d->value, d->value_len, l->value, l->value_len))) {
			changed = true;
			if (slot_store(&d->value, &d->value_cap, &d->value_len, l->value,
			               l->value_len) < 0)
				goto fail;
		}
	}
	dst->n = dst->n_seen = n;
	if (changed)
		bump(dst);
	/* an empty destination never bumped: its id may still be 0 (no memo) */
	dst->copy_src = sm;
	dst->copy_self_ver = dst->ver;
	return 0;
fail:
	dst->n = dst->n_seen = i; /* the slots copied in full */
	bump(dst);
	return -1;
}

int lf_labels_merge(struct lf_labels *dst, const struct lf_labels *src, bool overwrite)
{
	if (dst == src)
		return 0;
	if (dst->n == 0)
		return lf_labels_copy(dst, src); /* both sorted and unique */
	for (size_t i = 0; i < src->n; i++) {
		const struct lf_label *l = &src->v[i];
		if (!overwrite && lf_labels_find(dst, l->name, l->name_len))
			continue;
		if (set_clean(dst, l->name, l->name_len, l->value, l->value_len) < 0)
			return -1;
	}
	return 0;
}

int lf_labels_cmp(const struct lf_labels *a, const struct lf_labels *b)
{
	size_t n = a->n < b->n ? a->n : b->n;
	for (size_t i = 0; i < n; i++) {
		const struct lf_label *x = &a->v[i], *y = &b->v[i];
		int c = str_cmp(x->name, x->name_len, y->name, y->name_len);
		if (c)
			return c;
		c = str_cmp(x->value, x->value_len, y->value, y->value_len);
		if (c)
			return c;
	}
	return (a->n > b->n) - (a->n < b->n);
}

/* d was copied from s (lf_labels_copy's memo) and neither changed since. */
static inline bool copy_of(const struct lf_labels *d, const struct lf_labels *s)
{
	struct lf_labels_mark sm = lf_labels_mark(s);
	return sm.id && sm.id == d->copy_src.id && sm.ver == d->copy_src.ver &&
	       sm.n == d->copy_src.n && d->ver == d->copy_self_ver && d->n == sm.n &&
	       d->n_seen == d->n;
}

bool lf_labels_equal(const struct lf_labels *a, const struct lf_labels *b)
{
	if (a->n != b->n)
		return false;
	if (copy_of(b, a) || copy_of(a, b))
		return true;
	for (size_t i = 0; i < a->n; i++) {
		const struct lf_label *x = &a->v[i], *y = &b->v[i];
		if (!str_eq(x->value, x->value_len, y->value, y->value_len) ||
		    !str_eq(x->name, x->name_len, y->name, y->name_len))
			return false;
	}
	return true;
}

/* FNV-1a 64 with 0xff separators (0xff never occurs in valid UTF-8). */
uint64_t lf_labels_hash(const struct lf_labels *ls)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < ls->n; i++) {
		const unsigned char *p = (const unsigned char *)ls->v[i].name;
		for (size_t k = 0; k < ls->v[i].name_len; k++)
			h = (h ^ p[k]) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
		p = (const unsigned char *)ls->v[i].value;
		for (size_t k = 0; k < ls->v[i].value_len; k++)
			h = (h ^ p[k]) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
	}
	return h;
}

int lf_labels_render(const struct lf_labels *ls, struct lf_buf *out)
{
	if (lf_buf_putc(out, '{') < 0)
		return -1;
	for (size_t i = 0; i < ls->n; i++) {
		if (i && lf_buf_append(out, ", ", 2) < 0)
			return -1;
		if (lf_buf_append(out, ls->v[i].name, ls->v[i].name_len) < 0 ||
		    lf_buf_putc(out, '=') < 0 ||
		    lf_buf_append_quoted(out, ls->v[i].value, ls->v[i].value_len) < 0)
			return -1;
	}
	return lf_buf_putc(out, '}');
}

bool lf_label_name_valid(const char *name, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		          (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

int lf_labels_parse(const char *s, size_t len, struct lf_labels *out, struct lf_error *err)
{
	struct lf_buf name = LF_BUF_INIT, val = LF_BUF_INIT;
	size_t i = 0;
	int rc = -1;
	lf_labels_clear(out);
#define SKIPWS()                                                                                   \
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))           \
	i++
	SKIPWS();
	if (i >= len || s[i] != '{') {
		lf_err(err, "error parsing labels '%.*s': expected '{' at position %zu",
		       (int)(len > 200 ? 200 : len), s, i);
		goto out;
	}
	i++;
	for (;;) {
		SKIPWS();
		if (i < len && s[i] == '}') {
			i++;
			break;
		}
		lf_buf_reset(&name);
		lf_buf_reset(&val);
		size_t ns = i;
		while (i < len && s[i] != '=' && s[i] != ' ' && s[i] != '\t' && s[i] != '}' &&
		       s[i] != ',')
			i++;
		if (lf_buf_append(&name, s + ns, i - ns) < 0)
			goto oom;
		if (!lf_label_name_valid(name.data ? name.data : "", name.len)) {
			lf_err(err, "error parsing labels '%.*s': invalid label name \"%.*s\"",
			       (int)(len > 200 ? 200 : len), s,
			       (int)(name.len > 200 ? 200 : name.len), name.data ? name.data : "");
			goto out;
		}
		SKIPWS();
		if (i >= len || s[i] != '=') {
			lf_err(err, "error parsing labels '%.*s': expected '=' after \"%s\"",
			       (int)(len > 200 ? 200 : len), s, name.data);
			goto out;
		}
		i++;
		SKIPWS();
		if (i >= len || s[i] != '"') {
			lf_err(err,
			       "error parsing labels '%.*s': expected '\"' for the value of \"%s\"",
			       (int)(len > 200 ? 200 : len), s, name.data);
			goto out;
		}
		i++;
		for (;;) {
			if (i >= len) {
				lf_err(err,
				       "error parsing labels '%.*s': unterminated value of \"%s\"",
				       (int)(len > 200 ? 200 : len), s, name.data);
				goto out;
			}
			char c = s[i++];
			if (c == '"')
				break;
			if (c != '\\') {
				if (lf_buf_putc(&val, c) < 0)
					goto oom;
				continue;
			}
			if (i >= len)
				continue;
			char e = s[i++];
			int r = 0;
			switch (e) {
			case 'n':
				r = lf_buf_putc(&val, '\n');
				break;
			case 't':
				r = lf_buf_putc(&val, '\t');
				break;
			case 'r':
				r = lf_buf_putc(&val, '\r');
				break;
			case 'a':
				r = lf_buf_putc(&val, '\a');
				break;
			case 'b':
				r = lf_buf_putc(&val, '\b');
				break;
			case 'f':
				r = lf_buf_putc(&val, '\f');
				break;
			case 'v':
				r = lf_buf_putc(&val, '\v');
				break;
			case 'x':
				if (i + 2 <= len && lf_hexval(s[i]) >= 0 &&
				    lf_hexval(s[i + 1]) >= 0) {
					r = lf_buf_putc(&val, (char)(lf_hexval(s[i]) * 16 +
					                             lf_hexval(s[i + 1])));
					i += 2;
				} else {
					r = lf_buf_append(&val, "\\x", 2);
				}
				break;
			case '0':
			case '1':
			case '2':
			case '3':
				/* Go's \ooo (three octal digits, <= \377): "\101" is "A",
				 * not "101" as the default branch made it. */
				if (i + 2 <= len && s[i] >= '0' && s[i] <= '7' && s[i + 1] >= '0' &&
				    s[i + 1] <= '7') {
					r = lf_buf_putc(&val,
					                (char)((e - '0') * 64 + (s[i] - '0') * 8 +
					                       (s[i + 1] - '0')));
					i += 2;
				} else {
					r = lf_buf_putc(&val, e);
				}
				break;
			case 'u':
			case 'U': {
				size_t nd = e == 'u' ? 4 : 8;
				unsigned cp = 0;
				size_t k = 0;
				for (; k < nd && i + k < len && lf_hexval(s[i + k]) >= 0; k++)
					cp = cp * 16 + (unsigned)lf_hexval(s[i + k]);
				if (k == nd && cp <= 0x10ffff) {
					r = lf_utf8_append(&val, cp);
					i += nd;
				} else {
					r = lf_buf_putc(&val, e);
				}
				break;
			}
			default:
				r = lf_buf_putc(&val, e); /* \" \\ and unknown: the char */
			}
			if (r < 0)
				goto oom;
		}
		if (lf_labels_getn(out, name.data, name.len)) {
			lf_err(err, "duplicate label name: '%s'", name.data);
			goto out;
		}
		if (lf_labels_setn(out, name.data, name.len, val.data ? val.data : "", val.len) < 0)
			goto oom;
		SKIPWS();
		if (i < len && s[i] == ',') {
			i++;
			continue;
		}
		SKIPWS();
		if (i < len && s[i] == '}') {
			i++;
			break;
		}
		lf_err(err, "error parsing labels '%.*s': expected ',' or '}' at position %zu",
		       (int)(len > 200 ? 200 : len), s, i);
		goto out;
	}
	SKIPWS();
	if (i != len) {
		lf_err(err, "error parsing labels '%.*s': unexpected text after '}'",
		       (int)(len > 200 ? 200 : len), s);
		goto out;
	}
#undef SKIPWS
	rc = 0;
	goto out;
oom:
	lf_err(err, "out of memory parsing labels");
out:
	lf_buf_free(&name);
	lf_buf_free(&val);
	return rc;
}
