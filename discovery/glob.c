/* glob.c — doublestar glob compile, match and file-system expansion. */
#include "glob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/buf.h"

/* Brace expansion could explode ({a,b}{c,d}... doubles each time); a
 * pattern that needs more alternatives than this is rejected. */
#define MAX_ALTERNATIVES 256

enum comp_kind {
	COMP_LITERAL,    /* no wildcard: compare (after unescaping) */
	COMP_SUFFIX,     /* "*<literal>": the common "*<pod uid>" case */
	COMP_PREFIX,     /* "<literal>*" */
	COMP_PATTERN,    /* anything else with * ? [ */
	COMP_DOUBLESTAR, /* "**" */
};

struct comp {
	enum comp_kind kind;
	char *text; /* LITERAL/SUFFIX/PREFIX: the unescaped literal; PATTERN: raw */
	size_t len;
};

struct alt {
	bool absolute;
	struct comp *comps;
	size_t n;
};

struct lf_glob {
	char *pattern;
	struct alt *alts;
	size_t n_alts;
};

/* ---- component matching ---- */

/* Matches one `[...]` class at p (p points after '['); sets *end past ']'.
 * Returns whether c is in the class; *ok=false on an unterminated class. */
static bool match_class(const char *p, char c, const char **end, bool *ok)
{
	bool neg = false, hit = false;
	if (*p == '!' || *p == '^') {
		neg = true;
		p++;
	}
	bool first = true;
	while (*p && (*p != ']' || first)) {
		first = false;
		char lo = *p;
		if (lo == '\\' && p[1])
			lo = *++p;
		p++;
		char hi = lo;
		if (*p == '-' && p[1] && p[1] != ']') {
			p++;
			hi = *p;
			if (hi == '\\' && p[1])
				hi = *++p;
			p++;
		}
		if ((unsigned char)c >= (unsigned char)lo && (unsigned char)c <= (unsigned char)hi)
			hit = true;
	}
	if (*p != ']') {
		*ok = false;
		*end = p;
		return false;
	}
	*ok = true;
	*end = p + 1;
	return hit != neg;
}

/* Wildcard match of one path component (no '/' in either). Iterative with
 * one backtrack point per '*', which is exact for single-character atoms. */
static bool match_pattern(const char *p, const char *s)
{
	const char *star_p = NULL, *star_s = NULL;
	while (*s) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (!*p)
				return true;
			star_p = p;
			star_s = s;
			continue;
		}
		bool ok = true, step = false;
		const char *next = p + 1;
		if (*p == '?') {
			step = true;
		} else if (*p == '[') {
			step = match_class(p + 1, *s, &next, &ok);
			if (!ok)
				return false;
		} else if (*p == '\\' && p[1]) {
			step = p[1] == *s;
			next = p + 2;
		} else if (*p) {
			step = *p == *s;
		}
		if (step) {
			p = next;
			s++;
		} else if (star_p) {
			p = star_p;
			s = ++star_s;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

static bool comp_match_n(const struct comp *c, const char *name, size_t n)
{
	switch (c->kind) {
	case COMP_LITERAL:
		return n == c->len && memcmp(c->text, name, n) == 0;
	case COMP_SUFFIX:
		return n >= c->len && memcmp(name + n - c->len, c->text, c->len) == 0;
	case COMP_PREFIX:
		return strncmp(name, c->text, c->len) == 0;
	case COMP_PATTERN:
		return match_pattern(c->text, name);
	case COMP_DOUBLESTAR:
		return true;
	}
	return false;
}

static bool comp_match(const struct comp *c, const char *name)
{
	return comp_match_n(c, name, strlen(name));
}

/* ---- compile ---- */

static bool is_meta(char c)
{
	return c == '*' || c == '?' || c == '[';
}

/* Classifies a raw component text [s, s+n). */
static int comp_init(struct comp *c, const char *s, size_t n)
{
	if (n == 2 && s[0] == '*' && s[1] == '*') {
		c->kind = COMP_DOUBLESTAR;
		c->text = strdup("**");
		c->len = 2;
		return c->text ? 0 : -1;
	}
	/* Unescaped literal and the positions of unescaped metacharacters. */
	char *lit = malloc(n + 1);
	if (!lit)
		return -1;
	size_t lit_len = 0, metas = 0, star_at = SIZE_MAX;
	bool other_meta = false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			lit[lit_len++] = s[++i];
			continue;
		}
		if (is_meta(s[i])) {
			metas++;
			if (s[i] == '*')
				star_at = lit_len;
			else
				other_meta = true;
			continue;
		}
		lit[lit_len++] = s[i];
	}
	lit[lit_len] = '\0';
	if (metas == 0) {
		c->kind = COMP_LITERAL;
		c->text = lit;
		c->len = lit_len;
		return 0;
	}
	if (metas == 1 && !other_meta && (star_at == 0 || star_at == lit_len)) {
		c->kind = star_at == 0 ? COMP_SUFFIX : COMP_PREFIX;
		c->text = lit;
		c->len = lit_len;
		return 0;
	}
	free(lit);
	c->kind = COMP_PATTERN;
	c->text = strndup(s, n);
	c->len = n;
	return c->text ? 0 : -1;
}

static int alt_init(struct alt *a, const char *p)
{
	a->absolute = p[0] == '/';
	size_t cap = 8;
	a->comps = calloc(cap, sizeof(*a->comps));
	if (!a->comps)
		return -1;
	const char *s = p;
	while (*s) {
		while (*s == '/')
			s++;
		if (!*s)
			break;
		const char *e = s;
		while (*e && *e != '/') {
			if (*e == '\\' && e[1])
				e++;
			e++;
		}
		/* "." components are no-ops; keep ".." (it names a real directory). */
		if (!(e - s == 1 && s[0] == '.')) {
			if (a->n == cap) {
				struct comp *nc = realloc(a->comps, cap * 2 * sizeof(*nc));
				if (!nc)
					return -1;
				a->comps = nc;
				cap *= 2;
			}
			/* Collapse "**" followed by "**". */
			bool ds = e - s == 2 && s[0] == '*' && s[1] == '*';
			if (!(ds && a->n > 0 && a->comps[a->n - 1].kind == COMP_DOUBLESTAR)) {
				if (comp_init(&a->comps[a->n], s, (size_t)(e - s)) < 0)
					return -1;
				a->n++;
			}
		}
		s = e;
	}
	return 0;
}

/* Checks brackets and braces; returns a problem text or NULL. */
static const char *syntax_problem(const char *p)
{
	int depth = 0;
	for (const char *s = p; *s; s++) {
		if (*s == '\\') {
			if (s[1])
				s++;
			continue;
		}
		if (*s == '[') {
			const char *q = s + 1;
			if (*q == '!' || *q == '^')
				q++;
			if (*q == ']')
				q++;
			while (*q && *q != ']') {
				if (*q == '\\' && q[1])
					q++;
				q++;
			}
			if (*q != ']')
				return "unterminated '['";
			s = q;
			continue;
		}
		if (*s == '{')
			depth++;
		else if (*s == '}' && depth > 0)
			depth--;
	}
	return depth ? "unterminated '{'" : NULL;
}

/* Appends every brace alternative of p to *out. */
static int expand_braces(const char *p, char ***out, size_t *n, size_t *cap)
{
	/* Find the first top-level '{' that is not inside a class. */
	const char *open = NULL;
	for (const char *s = p; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			continue;
		}
		if (*s == '[') {
			const char *q = s + 1;
			if (*q == '!' || *q == '^')
				q++;
			if (*q == ']')
				q++;
			while (*q && *q != ']')
				q += (*q == '\\' && q[1]) ? 2 : 1;
			s = q;
			if (!*s)
				break;
			continue;
		}
		if (*s == '{') {
			open = s;
			break;
		}
	}
	if (!open) {
		if (*n >= MAX_ALTERNATIVES)
			return -2;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 4;
			char **v = realloc(*out, nc * sizeof(*v));
			if (!v)
				return -1;
			*out = v;
			*cap = nc;
		}
		if (!((*out)[*n] = strdup(p)))
			return -1;
		(*n)++;
		return 0;
	}
	/* Split the group into alternatives at depth-1 commas. */
	int depth = 0;
	const char *alt_start = open + 1, *close = NULL;
	const char *starts[MAX_ALTERNATIVES + 1], *ends[MAX_ALTERNATIVES + 1];
	size_t n_alt = 0;
	for (const char *s = open; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			continue;
		}
		if (*s == '{') {
			depth++;
		} else if (*s == '}') {
			if (--depth == 0) {
				close = s;
				break;
			}
		} else if (*s == ',' && depth == 1) {
			if (n_alt >= MAX_ALTERNATIVES)
				return -2;
			starts[n_alt] = alt_start;
			ends[n_alt++] = s;
			alt_start = s + 1;
		}
	}
	if (!close)
		return -3;
	starts[n_alt] = alt_start;
	ends[n_alt++] = close;
	struct lf_buf b = LF_BUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < n_alt && rc == 0; i++) {
		lf_buf_reset(&b);
		if (lf_buf_append(&b, p, (size_t)(open - p)) < 0 ||
		    lf_buf_append(&b, starts[i], (size_t)(ends[i] - starts[i])) < 0 ||
		    lf_buf_appends(&b, close + 1) < 0) {
			rc = -1;
			break;
		}
		rc = expand_braces(b.data, out, n, cap);
	}
	lf_buf_free(&b);
	return rc;
}

static void strv_free_n(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int lf_glob_new(const char *pattern, struct lf_glob **out, struct lf_error *err)
{
	const char *prob = syntax_problem(pattern);
	if (prob)
		return lf_err(err, "invalid glob \"%s\": %s", pattern, prob);
	char **alts = NULL;
	size_t n = 0, cap = 0;
	int rc = expand_braces(pattern, &alts, &n, &cap);
	if (rc < 0) {
		strv_free_n(alts, n);
		if (rc == -2)
			return lf_err(err, "invalid glob \"%s\": more than %d brace alternatives",
			              pattern, MAX_ALTERNATIVES);
		if (rc == -3)
			return lf_err(err, "invalid glob \"%s\": unterminated '{'", pattern);
		return lf_err(err, "glob \"%s\": out of memory", pattern);
	}
	struct lf_glob *g = calloc(1, sizeof(*g));
	if (!g || !(g->pattern = strdup(pattern)) ||
	    !(g->alts = calloc(n ? n : 1, sizeof(*g->alts))))
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		g->n_alts++;
		if (alt_init(&g->alts[i], alts[i]) < 0)
			goto nomem;
	}
	strv_free_n(alts, n);
	*out = g;
	return 0;
nomem:
	lf_glob_free(g);
	strv_free_n(alts, n);
	return lf_err(err, "glob \"%s\": out of memory", pattern);
}

void lf_glob_free(struct lf_glob *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n_alts; i++) {
		for (size_t j = 0; j < g->alts[i].n; j++)
			free(g->alts[i].comps[j].text);
		free(g->alts[i].comps);
	}
	free(g->alts);
	free(g->pattern);
	free(g);
}

const char *lf_glob_pattern(const struct lf_glob *g)
{
	return g->pattern;
}

/* ---- string match ---- */

#define MAX_PARTS 128

static bool match_parts(const struct comp *c, size_t nc, char **parts, size_t np)
{
	if (nc == 0)
		return np == 0;
	if (c[0].kind == COMP_DOUBLESTAR) {
		for (size_t skip = 0; skip <= np; skip++)
			if (match_parts(c + 1, nc - 1, parts + skip, np - skip))
				return true;
		return false;
	}
	if (np == 0 || !comp_match(&c[0], parts[0]))
		return false;
	return match_parts(c + 1, nc - 1, parts + 1, np - 1);
}

bool lf_glob_match(const struct lf_glob *g, const char *path)
{
	char stackbuf[4096];
	size_t len = strlen(path);
	char *copy = len < sizeof(stackbuf) ? stackbuf : malloc(len + 1);
	if (!copy)
		return false;
	memcpy(copy, path, len + 1);
	char *parts[MAX_PARTS];
	size_t np = 0;
	bool too_deep = false;
	for (char *s = copy; *s;) {
		while (*s == '/')
			*s++ = '\0';
		if (!*s)
			break;
		char *e = s;
		while (*e && *e != '/')
			e++;
		bool end = *e == '\0';
		*e = '\0';
		if (!(e - s == 1 && s[0] == '.')) {
			if (np == MAX_PARTS) {
				too_deep = true;
				break;
			}
			parts[np++] = s;
		}
		s = end ? e : e + 1;
	}
	bool abs = path[0] == '/', hit = false;
	for (size_t i = 0; !too_deep && !hit && i < g->n_alts; i++)
		if (g->alts[i].absolute == abs)
			hit = match_parts(g->alts[i].comps, g->alts[i].n, parts, np);
	if (copy != stackbuf)
		free(copy);
	return hit;
}

bool lf_glob_match_str(const char *pattern, const char *path)
{
	struct lf_glob *g;
	if (lf_glob_new(pattern, &g, NULL) < 0)
		return false;
	bool r = lf_glob_match(g, path);
	lf_glob_free(g);
	return r;
}

/* ---- directory cache ----
 *
 * Listings survive lf_dircache_reset: at the first use in a sync, a
 * listing is checked with one stat() of its directory (same inode, mtime
 * and ctime) instead of being read again (open, fstat, getdents x2, close).
 * Directory timestamps have a coarse granularity, so a listing whose
 * directory changed less than RECENT_NS ago is always read again: an entry
 * created in the same clock tick as the previous read cannot be missed.
 * Listings unused for a whole sync are freed.
 */

/* Suffix index: "*<uid>" over /var/log/pods is matched once per pod
 * container, so a scan of the whole directory each time would cost
 * O(pods^2) per sync. Entries are hashed by their last SFX_KEY bytes; a
 * suffix pattern at least that long looks up candidates directly. */
#define SFX_KEY         16
#define SFX_MIN_ENTRIES 32
#define RECENT_NS       (2 * 1000000000LL)

struct listing {
	char *dir;
	struct lf_dirent *ents;
	long n; /* -1: could not open */
	char *names;
	size_t *sfx; /* open addressing: entry index + 1, 0 = empty; built lazily */
	size_t n_sfx;
	/* validation */
	dev_t dev;
	ino_t ino;
	struct timespec mtime, ctime;
	unsigned gen; /* sync generation of the last use */
	bool checked; /* validated (or read) in generation gen */
};

struct lf_dircache {
	struct listing *v;
	size_t n, cap;
	size_t *slots; /* open addressing: index+1 into v, 0 = empty */
	size_t n_slots;
	unsigned gen;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

struct lf_dircache *lf_dircache_new(void)
{
	struct lf_dircache *c = calloc(1, sizeof(struct lf_dircache));
	if (c)
		c->gen = 1;
	return c;
}

static void listing_free_data(struct listing *l)
{
	free(l->ents);
	free(l->names);
	free(l->sfx);
	l->ents = NULL;
	l->names = NULL;
	l->sfx = NULL;
	l->n_sfx = 0;
	l->n = -1;
}

static void slots_rebuild(struct lf_dircache *c)
{
	if (!c->slots)
		return;
	memset(c->slots, 0, c->n_slots * sizeof(*c->slots));
	for (size_t i = 0; i < c->n; i++) {
		size_t h = (size_t)hash_str(c->v[i].dir) & (c->n_slots - 1);
		while (c->slots[h])
			h = (h + 1) & (c->n_slots - 1);
		c->slots[h] = i + 1;
	}
}

void lf_dircache_reset(struct lf_dircache *c)
{
	/* Keep what the sync that just ended used; drop the rest. */
	size_t w = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (c->v[i].gen == c->gen) {
			c->v[i].checked = false;
			c->v[w++] = c->v[i];
			continue;
		}
		free(c->v[i].dir);
		listing_free_data(&c->v[i]);
	}
	c->n = w;
	c->gen++;
	slots_rebuild(c);
}

void lf_dircache_free(struct lf_dircache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].dir);
		listing_free_data(&c->v[i]);
	}
	free(c->v);
	free(c->slots);
	free(c);
}

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lf_dirent *)a)->name, ((const struct lf_dirent *)b)->name);
}

static bool ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static int64_t ts_ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int read_listing(const char *dir, struct listing *l)
{
	listing_free_data(l);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return 0;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	l->dev = st.st_dev;
	l->ino = st.st_ino;
	l->mtime = st.st_mtim;
	l->ctime = st.st_ctim;
	struct lf_buf names = LF_BUF_INIT;
	size_t cap = 0, n = 0;
	struct {
		size_t off;
		unsigned char type;
	} *tmp = NULL;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			void *t = realloc(tmp, nc * sizeof(*tmp));
			if (!t)
				goto nomem;
			tmp = t;
			cap = nc;
		}
		unsigned char type = de->d_type;
		if (type == DT_UNKNOWN) {
			struct stat est;
			if (fstatat(dirfd(d), de->d_name, &est, AT_SYMLINK_NOFOLLOW) == 0)
				type = S_ISDIR(est.st_mode)   ? DT_DIR
				       : S_ISLNK(est.st_mode) ? DT_LNK
				       : S_ISREG(est.st_mode) ? DT_REG
				                              : DT_UNKNOWN;
		}
		tmp[n].off = names.len;
		tmp[n].type = type;
		if (lf_buf_append(&names, de->d_name, strlen(de->d_name) + 1) < 0)
			goto nomem;
		n++;
	}
	closedir(d);
	l->ents = calloc(n ? n : 1, sizeof(*l->ents));
	if (!l->ents) {
		free(tmp);
		lf_buf_free(&names);
		return -1;
	}
	l->names = lf_buf_take(&names);
	for (size_t i = 0; i < n; i++) {
		l->ents[i].name = l->names + tmp[i].off;
		l->ents[i].len = strlen(l->ents[i].name);
		l->ents[i].type = tmp[i].type;
	}
	free(tmp);
	qsort(l->ents, n, sizeof(*l->ents), ent_cmp);
	l->n = (long)n;
	return 0;
nomem:
	closedir(d);
	free(tmp);
	lf_buf_free(&names);
	return -1;
}

/* Whether a listing read in an earlier sync still describes its directory. */
static bool listing_still_valid(const struct listing *l)
{
	if (l->n < 0)
		return false; /* was missing: look again */
	struct stat st;
	if (stat(l->dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_dev != l->dev ||
	    st.st_ino != l->ino || !ts_eq(st.st_mtim, l->mtime) || !ts_eq(st.st_ctim, l->ctime))
		return false;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t changed =
	        ts_ns(st.st_mtim) > ts_ns(st.st_ctim) ? ts_ns(st.st_mtim) : ts_ns(st.st_ctim);
	return ts_ns(now) - changed >= RECENT_NS;
}

static int slots_grow(struct lf_dircache *c)
{
	size_t ns = c->n_slots ? c->n_slots * 2 : 64;
	size_t *s = calloc(ns, sizeof(*s));
	if (!s)
		return -1;
	free(c->slots);
	c->slots = s;
	c->n_slots = ns;
	slots_rebuild(c);
	return 0;
}

static struct listing *dircache_get(struct lf_dircache *c, const char *dir);

long lf_dircache_list(struct lf_dircache *c, const char *dir, const struct lf_dirent **ents)
{
	struct listing *l = dircache_get(c, dir);
	if (!l)
		return -1;
	*ents = l->ents;
	return l->n;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int sfx_build(struct listing *l)
{
	size_t cap = 64;
	while (cap < (size_t)l->n * 2)
		cap *= 2;
	l->sfx = calloc(cap, sizeof(*l->sfx));
	if (!l->sfx)
		return -1;
	l->n_sfx = cap;
	for (long i = 0; i < l->n; i++) {
		const struct lf_dirent *e = &l->ents[i];
		if (e->len < SFX_KEY)
			continue; /* can never end with a >= SFX_KEY suffix */
		size_t h = (size_t)hash_bytes(e->name + e->len - SFX_KEY, SFX_KEY) & (cap - 1);
		while (l->sfx[h])
			h = (h + 1) & (cap - 1);
		l->sfx[h] = (size_t)i + 1;
	}
	return 0;
}

static int idx_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

/* Indices (sorted) of the entries ending with lit (len >= SFX_KEY), at most
 * max; returns the count, or -1 when the index cannot be used. */
static long sfx_lookup(struct listing *l, const char *lit, size_t len, size_t *out, size_t max)
{
	if (!l->sfx && sfx_build(l) < 0)
		return -1;
	size_t h = (size_t)hash_bytes(lit + len - SFX_KEY, SFX_KEY) & (l->n_sfx - 1);
	size_t n = 0;
	while (l->sfx[h]) {
		const struct lf_dirent *e = &l->ents[l->sfx[h] - 1];
		if (e->len >= len && memcmp(e->name + e->len - len, lit, len) == 0) {
			if (n == max)
				return -1;
			out[n++] = l->sfx[h] - 1;
		}
		h = (h + 1) & (l->n_sfx - 1);
	}
	qsort(out, n, sizeof(*out), idx_cmp);
	return (long)n;
}

static struct listing *dircache_get(struct lf_dircache *c, const char *dir)
{
	if (c->n_slots) {
		size_t h = (size_t)hash_str(dir) & (c->n_slots - 1);
		while (c->slots[h]) {
			struct listing *l = &c->v[c->slots[h] - 1];
			if (strcmp(l->dir, dir) == 0) {
				if (!l->checked || l->gen != c->gen) {
					if (!listing_still_valid(l) && read_listing(dir, l) < 0)
						return NULL;
					l->checked = true;
					l->gen = c->gen;
				}
				return l;
			}
			h = (h + 1) & (c->n_slots - 1);
		}
	}
	if ((c->n + 1) * 2 > c->n_slots && slots_grow(c) < 0)
		return NULL;
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 32;
		struct listing *v = realloc(c->v, nc * sizeof(*v));
		if (!v)
			return NULL;
		c->v = v;
		c->cap = nc;
	}
	struct listing *l = &c->v[c->n];
	memset(l, 0, sizeof(*l));
	l->n = -1;
	if (!(l->dir = strdup(dir)) || read_listing(dir, l) < 0) {
		free(l->dir);
		listing_free_data(l);
		return NULL;
	}
	l->checked = true;
	l->gen = c->gen;
	size_t h = (size_t)hash_str(dir) & (c->n_slots - 1);
	while (c->slots[h])
		h = (h + 1) & (c->n_slots - 1);
	c->slots[h] = ++c->n;
	return l;
}

/* ---- expansion ---- */

struct walk {
	const struct alt *a;
	struct lf_dircache *cache;
	lf_glob_file_fn on_file;
	lf_glob_dir_fn on_dir;
	void *ctx;
	struct lf_buf path;
};

/* Type of path following symlinks: DT_DIR, DT_REG (any non-dir), or 0. */
static unsigned char stat_type(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return 0;
	return S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
}

static unsigned char resolve(const char *path, unsigned char dtype)
{
	if (dtype == DT_DIR)
		return DT_DIR;
	if (dtype == DT_LNK || dtype == DT_UNKNOWN)
		return stat_type(path);
	return DT_REG;
}

static int walk(struct walk *w, size_t i);

/* Appends "/name" (or "name" at an empty relative root) and recurses. */
static int descend(struct walk *w, size_t i, const char *name, unsigned char dtype, bool last)
{
	size_t saved = w->path.len;
	if (w->path.len > 0 && w->path.data[w->path.len - 1] != '/')
		lf_buf_putc(&w->path, '/');
	if (lf_buf_appends(&w->path, name) < 0)
		return -1;
	int rc = 0;
	unsigned char t = resolve(w->path.data, dtype);
	if (last) {
		if (t == DT_REG)
			rc = w->on_file(w->ctx, w->path.data);
	} else if (t == DT_DIR) {
		rc = walk(w, i);
	}
	w->path.len = saved;
	w->path.data[saved] = '\0';
	return rc;
}

static const char *cur_dir(struct walk *w)
{
	return w->path.len ? w->path.data : ".";
}

/* Every file below the current directory (trailing "**"). */
static int walk_all(struct walk *w)
{
	const struct lf_dirent *ents;
	long n = lf_dircache_list(w->cache, cur_dir(w), &ents);
	if (n < 0)
		return 0;
	if (w->on_dir)
		w->on_dir(w->ctx, cur_dir(w));
	for (long k = 0; k < n; k++) {
		size_t saved = w->path.len;
		if (w->path.len > 0 && w->path.data[w->path.len - 1] != '/')
			lf_buf_putc(&w->path, '/');
		if (lf_buf_appends(&w->path, ents[k].name) < 0)
			return -1;
		int rc = 0;
		if (ents[k].type == DT_DIR)
			rc = walk_all(w);
		else if (resolve(w->path.data, ents[k].type) == DT_REG)
			rc = w->on_file(w->ctx, w->path.data);
		w->path.len = saved;
		w->path.data[saved] = '\0';
		if (rc)
			return rc;
	}
	return 0;
}

static int walk(struct walk *w, size_t i)
{
	const struct alt *a = w->a;
	if (i == a->n)
		return 0; /* a directory where a file was wanted */
	const struct comp *c = &a->comps[i];
	bool last = i + 1 == a->n;
	if (c->kind == COMP_LITERAL) {
		if (w->on_dir)
			w->on_dir(w->ctx, cur_dir(w));
		/* Look the name up in the (cached, stat-validated) listing rather
		 * than stat it: across syncs that is one stat per directory. */
		struct listing *l = dircache_get(w->cache, cur_dir(w));
		if (!l || l->n < 0)
			return 0;
		struct lf_dirent key = {.name = c->text};
		const struct lf_dirent *e =
		        bsearch(&key, l->ents, (size_t)l->n, sizeof(key), ent_cmp);
		if (!e)
			return 0;
		unsigned char dtype = e->type;
		return descend(w, i + 1, c->text, dtype, last);
	}
	if (c->kind == COMP_DOUBLESTAR) {
		if (last)
			return walk_all(w);
		int rc = walk(w, i + 1); /* zero directories */
		if (rc)
			return rc;
		const struct lf_dirent *ents;
		long n = lf_dircache_list(w->cache, cur_dir(w), &ents);
		for (long k = 0; k < n; k++) {
			if (ents[k].type != DT_DIR) /* symlinked dirs are not followed */
				continue;
			if ((rc = descend(w, i, ents[k].name, DT_DIR, false)))
				return rc;
		}
		return 0;
	}
	struct listing *l = dircache_get(w->cache, cur_dir(w));
	if (!l || l->n < 0)
		return 0;
	if (w->on_dir)
		w->on_dir(w->ctx, cur_dir(w));
	/* l may move when descending adds listings; its entries do not. */
	const struct lf_dirent *ents = l->ents;
	long n = l->n;
	if (c->kind == COMP_SUFFIX && c->len >= SFX_KEY && n >= SFX_MIN_ENTRIES) {
		size_t hits[8];
		long nh = sfx_lookup(l, c->text, c->len, hits, 8);
		if (nh >= 0) {
			for (long k = 0; k < nh; k++) {
				int rc = descend(w, i + 1, ents[hits[k]].name, ents[hits[k]].type,
				                 last);
				if (rc)
					return rc;
			}
			return 0;
		}
	}
	for (long k = 0; k < n; k++) {
		if (!comp_match_n(c, ents[k].name, ents[k].len))
			continue;
		int rc = descend(w, i + 1, ents[k].name, ents[k].type, last);
		if (rc)
			return rc;
	}
	return 0;
}

int lf_glob_expand(const struct lf_glob *g, struct lf_dircache *c, lf_glob_file_fn on_file,
                   lf_glob_dir_fn on_dir, void *ctx)
{
	struct walk w = {.cache = c, .on_file = on_file, .on_dir = on_dir, .ctx = ctx};
	int rc = 0;
	for (size_t ai = 0; ai < g->n_alts && rc == 0; ai++) {
		const struct alt *a = &g->alts[ai];
		w.a = a;
		lf_buf_reset(&w.path);
		if (a->absolute && lf_buf_putc(&w.path, '/') < 0) {
			rc = -1;
			break;
		}
		/* Leading literal components form the base directory: no listing
		 * or watch for its ancestors unless it is missing. */
		size_t i = 0;
		while (i + 1 < a->n && a->comps[i].kind == COMP_LITERAL) {
			if (w.path.len > 0 && w.path.data[w.path.len - 1] != '/')
				lf_buf_putc(&w.path, '/');
			lf_buf_appends(&w.path, a->comps[i].text);
			i++;
		}
		struct listing *bl = i > 0 ? dircache_get(c, w.path.data) : NULL;
		if (i > 0 && (!bl || bl->n < 0)) {
			/* Missing base: watch its deepest existing ancestor. */
			if (on_dir) {
				while (w.path.len > 1) {
					char *slash = strrchr(w.path.data, '/');
					if (!slash)
						break;
					w.path.len = slash == w.path.data
					                     ? 1
					                     : (size_t)(slash - w.path.data);
					w.path.data[w.path.len] = '\0';
					if (stat_type(w.path.data) == DT_DIR) {
						on_dir(ctx, w.path.data);
						break;
					}
				}
			}
			continue;
		}
		if (a->n == 0)
			continue;
		rc = walk(&w, i);
	}
	lf_buf_free(&w.path);
	return rc;
}
