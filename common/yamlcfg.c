/* yamlcfg.c — see yamlcfg.h.
 *
 * libyaml's document API resolves aliases into shared node indices; we build
 * our tree with one converted node per index (a DAG), so an alias bomb
 * ("billion laughs") costs nothing. Merge keys (`<<: *anchor`) are applied
 * while converting maps.
 */
#include "yamlcfg.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "buf.h"
#include "timeutil.h"

#define MAX_DEPTH 200

struct lf_ydoc {
	char *name;
	struct lf_ynode *root;
	void **allocs; /* every allocation owned by the doc */
	size_t n_allocs, cap_allocs;
};

static void *doc_alloc(struct lf_ydoc *d, size_t sz)
{
	if (d->n_allocs == d->cap_allocs) {
		size_t c = d->cap_allocs ? d->cap_allocs * 2 : 64;
		void **a = realloc(d->allocs, c * sizeof *a);
		if (!a)
			return NULL;
		d->allocs = a;
		d->cap_allocs = c;
	}
	void *p = calloc(1, sz ? sz : 1);
	if (p)
		d->allocs[d->n_allocs++] = p;
	return p;
}

void lf_ydoc_free(struct lf_ydoc *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_allocs; i++)
		free(d->allocs[i]);
	free(d->allocs);
	free(d->name);
	free(d);
}

struct lf_ynode *lf_ydoc_root(struct lf_ydoc *d)
{
	return d->root;
}

static bool is_null_scalar(const yaml_node_t *n)
{
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = (const char *)n->data.scalar.value;
	return n->data.scalar.length == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

struct conv {
	struct lf_ydoc *doc;
	yaml_document_t *ydoc;
	struct lf_ynode **memo; /* per libyaml node index (1-based) */
	size_t n_nodes;
	struct lf_error *err;
};

static struct lf_ynode *convert(struct conv *c, int idx, int depth);

static int add_pair(struct conv *c, struct lf_ynode *m, size_t *cap, struct lf_ynode *k,
                    struct lf_ynode *v)
{
	if (m->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct lf_ypair *p = doc_alloc(c->doc, nc * sizeof *p);
		if (!p)
			return -1;
		if (m->n)
			memcpy(p, m->pairs, m->n * sizeof *p);
		m->pairs = p; /* the old array stays owned by the doc; small waste */
		*cap = nc;
	}
	m->pairs[m->n].key = k;
	m->pairs[m->n].value = v;
	m->n++;
	return 0;
}

static bool map_has(const struct lf_ynode *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->pairs[i].key->str && strcmp(m->pairs[i].key->str, key) == 0)
			return true;
	return false;
}

static struct lf_ynode *convert(struct conv *c, int idx, int depth)
{
	if (idx < 1 || (size_t)idx > c->n_nodes) {
		lf_err(c->err, "%s: invalid YAML node reference", c->doc->name);
		return NULL;
	}
	if (c->memo[idx - 1])
		return c->memo[idx - 1];
	yaml_node_t *yn = yaml_document_get_node(c->ydoc, idx);
	if (depth > MAX_DEPTH) {
		lf_err(c->err, "%s:%zu:%zu: YAML nested too deeply", c->doc->name,
		       yn->start_mark.line + 1, yn->start_mark.column + 1);
		return NULL;
	}
	struct lf_ynode *n = doc_alloc(c->doc, sizeof *n);
	if (!n)
		goto oom;
	n->line = (int)yn->start_mark.line + 1;
	n->col = (int)yn->start_mark.column + 1;
	n->file = c->doc->name;
	c->memo[idx - 1] = n;
	switch (yn->type) {
	case YAML_SCALAR_NODE:
		n->kind = is_null_scalar(yn) ? LF_Y_NULL : LF_Y_SCALAR;
		n->str_len = yn->data.scalar.length;
		n->str = doc_alloc(c->doc, n->str_len + 1);
		if (!n->str)
			goto oom;
		memcpy(n->str, yn->data.scalar.value, n->str_len);
		n->quoted = yn->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		break;
	case YAML_SEQUENCE_NODE: {
		n->kind = LF_Y_SEQ;
		size_t cnt = (size_t)(yn->data.sequence.items.top - yn->data.sequence.items.start);
		n->items = doc_alloc(c->doc, cnt * sizeof *n->items);
		if (!n->items)
			goto oom;
		for (size_t i = 0; i < cnt; i++) {
			n->items[i] = convert(c, yn->data.sequence.items.start[i], depth + 1);
			if (!n->items[i])
				return NULL;
		}
		n->n = cnt;
		break;
	}
	case YAML_MAPPING_NODE: {
		n->kind = LF_Y_MAP;
		size_t cap = 0;
		struct lf_ynode *merges[16];
		size_t n_merges = 0;
		for (yaml_node_pair_t *p = yn->data.mapping.pairs.start;
		     p < yn->data.mapping.pairs.top; p++) {
			struct lf_ynode *k = convert(c, p->key, depth + 1);
			if (!k)
				return NULL;
			struct lf_ynode *v = convert(c, p->value, depth + 1);
			if (!v)
				return NULL;
			if (k->kind != LF_Y_SCALAR && k->kind != LF_Y_NULL) {
				lf_err(c->err, "%s:%d:%d: mapping keys must be scalars",
				       c->doc->name, k->line, k->col);
				return NULL;
			}
			if (k->kind == LF_Y_SCALAR && !k->quoted && strcmp(k->str, "<<") == 0) {
				if (v->kind == LF_Y_MAP && n_merges < 16) {
					merges[n_merges++] = v;
				} else if (v->kind == LF_Y_SEQ) {
					for (size_t i = 0; i < v->n && n_merges < 16; i++)
						if (v->items[i]->kind == LF_Y_MAP)
							merges[n_merges++] = v->items[i];
				}
				continue;
			}
			if (k->str && map_has(n, k->str)) {
				lf_err(c->err, "%s:%d:%d: duplicate key \"%s\"", c->doc->name,
				       k->line, k->col, k->str);
				return NULL;
			}
			if (add_pair(c, n, &cap, k, v) < 0)
				goto oom;
		}
		for (size_t m = 0; m < n_merges; m++)
			for (size_t i = 0; i < merges[m]->n; i++)
				if (!map_has(n, merges[m]->pairs[i].key->str) &&
				    add_pair(c, n, &cap, merges[m]->pairs[i].key,
				             merges[m]->pairs[i].value) < 0)
					goto oom;
		break;
	}
	default:
		n->kind = LF_Y_NULL;
	}
	return n;
oom:
	lf_err(c->err, "%s: out of memory loading YAML", c->doc->name);
	return NULL;
}

int lf_expand_env(const char *text, size_t len, char **out, size_t *out_len, struct lf_error *err)
{
	struct lf_buf b = LF_BUF_INIT;
	size_t i = 0;
	while (i < len) {
		char ch = text[i];
		if (ch == '\\' && i + 1 < len && (text[i + 1] == '\\' || text[i + 1] == '$')) {
			if (lf_buf_putc(&b, text[i + 1]) < 0)
				goto oom;
			i += 2;
			continue;
		}
		if (ch == '$' && i + 1 < len && text[i + 1] == '{') {
			size_t end = i + 2;
			while (end < len && text[end] != '}' && text[end] != '\n')
				end++;
			if (end >= len || text[end] != '}') {
				lf_buf_free(&b);
				return lf_err(err, "unterminated ${ at offset %zu", i);
			}
			char name[256];
			size_t nl = end - (i + 2);
			const char *def = NULL;
			size_t def_len = 0;
			const char *body = text + i + 2;
			const char *sep = memchr(body, ':', nl);
			const char *dash = memchr(body, '-', nl);
			size_t name_len = nl;
			bool colon = false;
			if (sep && sep + 1 < body + nl && sep[1] == '-' && (!dash || sep < dash)) {
				name_len = (size_t)(sep - body);
				def = sep + 2;
				colon = true;
			} else if (dash) {
				name_len = (size_t)(dash - body);
				def = dash + 1;
			}
			if (def)
				def_len = (size_t)(body + nl - def);
			if (name_len >= sizeof name) {
				lf_buf_free(&b);
				return lf_err(err, "variable name too long at offset %zu", i);
			}
			memcpy(name, body, name_len);
			name[name_len] = '\0';
			const char *v = getenv(name);
			int r;
			if (def && (!v || (colon && !*v)))
				r = lf_buf_append(&b, def, def_len);
			else
				r = v ? lf_buf_appends(&b, v) : 0;
			if (r < 0)
				goto oom;
			i = end + 1;
			continue;
		}
		if (ch == '$' && i + 1 < len &&
		    (isalpha((unsigned char)text[i + 1]) || text[i + 1] == '_')) {
			size_t end = i + 1;
			while (end < len && (isalnum((unsigned char)text[end]) || text[end] == '_'))
				end++;
			char name[256];
			size_t nl = end - i - 1;
			if (nl >= sizeof name)
				nl = sizeof name - 1;
			memcpy(name, text + i + 1, nl);
			name[nl] = '\0';
			const char *v = getenv(name);
			if (v && lf_buf_appends(&b, v) < 0)
				goto oom;
			i = end;
			continue;
		}
		if (lf_buf_putc(&b, ch) < 0)
			goto oom;
		i++;
	}
	*out_len = b.len;
	if (!b.data && lf_buf_reserve(&b, 1) < 0)
		goto oom;
	*out = lf_buf_take(&b);
	return 0;
oom:
	lf_buf_free(&b);
	return lf_err(err, "out of memory expanding environment variables");
}

int lf_ydoc_load_string(const char *text, size_t len, const char *name, bool expand_env,
                        struct lf_ydoc **out, struct lf_error *err)
{
	char *expanded = NULL;
	size_t exp_len = 0;
	if (expand_env) {
		if (lf_expand_env(text, len, &expanded, &exp_len, err) < 0)
			return lf_err_prefix(err, "%s", name);
		text = expanded;
		len = exp_len;
	}
	struct lf_ydoc *d = calloc(1, sizeof *d);
	if (!d || !(d->name = strdup(name))) {
		free(d);
		free(expanded);
		return lf_err(err, "out of memory");
	}
	yaml_parser_t parser;
	yaml_document_t ydoc;
	int rc = -1;
	if (!yaml_parser_initialize(&parser)) {
		lf_err(err, "%s: cannot initialise YAML parser", name);
		goto out_doc;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &ydoc)) {
		lf_err(err, "%s:%zu:%zu: invalid YAML: %s%s%s", name, parser.problem_mark.line + 1,
		       parser.problem_mark.column + 1, parser.problem ? parser.problem : "error",
		       parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		goto out_doc;
	}
	yaml_node_t *root = yaml_document_get_root_node(&ydoc);
	if (!root) {
		d->root = doc_alloc(d, sizeof *d->root);
		if (!d->root) {
			lf_err(err, "out of memory");
		} else {
			d->root->kind = LF_Y_NULL;
			d->root->line = d->root->col = 1;
			d->root->file = d->name;
			rc = 0;
		}
	} else {
		struct conv c = {.doc = d, .ydoc = &ydoc, .err = err};
		c.n_nodes = (size_t)(ydoc.nodes.top - ydoc.nodes.start);
		c.memo = calloc(c.n_nodes ? c.n_nodes : 1, sizeof *c.memo);
		if (!c.memo) {
			lf_err(err, "out of memory");
		} else {
			d->root = convert(&c, 1, 0);
			rc = d->root ? 0 : -1;
			free(c.memo);
		}
	}
	/* A second document in the stream is a mistake in a config file. */
	if (rc == 0) {
		yaml_document_t extra;
		if (yaml_parser_load(&parser, &extra)) {
			if (yaml_document_get_root_node(&extra)) {
				lf_err(err, "%s: more than one YAML document", name);
				rc = -1;
			}
			yaml_document_delete(&extra);
		}
	}
	yaml_document_delete(&ydoc);
	yaml_parser_delete(&parser);
out_doc:
	free(expanded);
	if (rc < 0) {
		lf_ydoc_free(d);
		return -1;
	}
	*out = d;
	return 0;
}

int lf_ydoc_load_file(const char *path, bool expand_env, struct lf_ydoc **out, struct lf_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return lf_err(err, "cannot read config file %s: %s", path, strerror(errno));
	struct lf_buf b = LF_BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (lf_buf_append(&b, chunk, n) < 0) {
			fclose(f);
			lf_buf_free(&b);
			return lf_err(err, "out of memory reading %s", path);
		}
	}
	int rerr = ferror(f);
	fclose(f);
	if (rerr) {
		lf_buf_free(&b);
		return lf_err(err, "cannot read config file %s", path);
	}
	int rc = lf_ydoc_load_string(b.data ? b.data : "", b.len, path, expand_env, out, err);
	lf_buf_free(&b);
	return rc;
}

/* ---- readers ---- */

int lf_y_err(struct lf_error *err, const struct lf_ynode *n, const char *path, const char *fmt, ...)
{
	if (!err)
		return -1;
	char msg[LF_ERROR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n)
		snprintf(err->msg, sizeof err->msg, "%s:%d:%d: %s: %s",
		         n->file ? n->file : "<config>", n->line, n->col,
		         path && *path ? path : "(top level)", msg);
	else
		snprintf(err->msg, sizeof err->msg, "%s: %s", path && *path ? path : "(top level)",
		         msg);
	return -1;
}

struct lf_ynode *lf_ymap_get(const struct lf_ynode *map, const char *key)
{
	if (!map || map->kind != LF_Y_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (map->pairs[i].key->str && strcmp(map->pairs[i].key->str, key) == 0)
			return map->pairs[i].value;
	return NULL;
}

int lf_ymap_check(const struct lf_ynode *map, const char *path, const char *const *allowed,
                  struct lf_error *err)
{
	if (!map || map->kind == LF_Y_NULL)
		return 0;
	if (map->kind != LF_Y_MAP)
		return lf_y_err(err, map, path, "expected a mapping");
	for (size_t i = 0; i < map->n; i++) {
		const struct lf_ynode *k = map->pairs[i].key;
		bool ok = false;
		for (const char *const *a = allowed; a && *a; a++)
			if (k->str && strcmp(k->str, *a) == 0) {
				ok = true;
				break;
			}
		if (!ok) {
			if (err)
				snprintf(err->msg, sizeof err->msg,
				         "%s:%d:%d: unknown key \"%s\" in %s",
				         k->file ? k->file : "<config>", k->line, k->col,
				         k->str ? k->str : "", path && *path ? path : "top level");
			return -1;
		}
	}
	return 0;
}

static int need_scalar(const struct lf_ynode *n, const char *path, struct lf_error *err)
{
	if (!n || n->kind != LF_Y_SCALAR)
		return lf_y_err(err, n, path, "expected a scalar value, got a %s",
		                !n || n->kind == LF_Y_NULL ? "null"
		                : n->kind == LF_Y_SEQ      ? "sequence"
		                                           : "mapping");
	return 0;
}

/* A scalar read as a typed value: its C string must be all of it, or
 * "8080\0junk" would read as 8080 (found by fuzz_yaml). */
static int need_text(const struct lf_ynode *n, const char *path, struct lf_error *err)
{
	if (need_scalar(n, path, err) < 0)
		return -1;
	if (strlen(n->str) != n->str_len)
		return lf_y_err(err, n, path, "value contains a NUL byte");
	return 0;
}

int lf_y_str(const struct lf_ynode *n, const char *path, char **out, struct lf_error *err)
{
	const char *s = "";
	size_t l = 0;
	if (n && n->kind == LF_Y_NULL && !n->str) {
		s = "";
	} else if (n && n->kind == LF_Y_NULL) {
		s = "";
	} else {
		if (need_scalar(n, path, err) < 0)
			return -1;
		s = n->str;
		l = n->str_len;
	}
	char *p = malloc(l + 1);
	if (!p)
		return lf_y_err(err, n, path, "out of memory");
	memcpy(p, s, l);
	p[l] = '\0';
	*out = p;
	return 0;
}

int lf_y_bool(const struct lf_ynode *n, const char *path, bool *out, struct lf_error *err)
{
	if (need_text(n, path, err) < 0)
		return -1;
	static const char *const t[] = {"true", "yes", "on", "y"};
	static const char *const f[] = {"false", "no", "off", "n"};
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(n->str, t[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(n->str, f[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return lf_y_err(err, n, path, "expected true or false, got \"%s\"", n->str);
}

int lf_y_int(const struct lf_ynode *n, const char *path, int64_t *out, struct lf_error *err)
{
	if (need_text(n, path, err) < 0)
		return -1;
	errno = 0;
	char *end;
	long long v = strtoll(n->str, &end, 0);
	if (errno || end == n->str || *end)
		return lf_y_err(err, n, path, "expected an integer, got \"%s\"", n->str);
	*out = v;
	return 0;
}

int lf_y_double(const struct lf_ynode *n, const char *path, double *out, struct lf_error *err)
{
	if (need_text(n, path, err) < 0)
		return -1;
	errno = 0;
	char *end;
	double v = strtod(n->str, &end);
	if (errno || end == n->str || *end)
		return lf_y_err(err, n, path, "expected a number, got \"%s\"", n->str);
	*out = v;
	return 0;
}

int lf_y_duration(const struct lf_ynode *n, const char *path, int64_t *out_ns, struct lf_error *err)
{
	if (need_text(n, path, err) < 0)
		return -1;
	struct lf_error e;
	if (lf_parse_duration(n->str, out_ns, &e) < 0)
		return lf_y_err(err, n, path, "%s (use a unit, e.g. 500ms, 10s, 1m30s, 720h)",
		                e.msg);
	return 0;
}

int lf_y_size(const struct lf_ynode *n, const char *path, int64_t *out_bytes, struct lf_error *err)
{
	if (need_text(n, path, err) < 0)
		return -1;
	struct lf_error e;
	if (lf_parse_size(n->str, out_bytes, &e) < 0)
		return lf_y_err(err, n, path, "%s (e.g. 1048576, 256KB, 1MiB)", e.msg);
	return 0;
}

void lf_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

int lf_y_strlist(const struct lf_ynode *n, const char *path, char ***out, size_t *count,
                 struct lf_error *err)
{
	size_t cnt = 0;
	if (!n || n->kind == LF_Y_NULL)
		cnt = 0;
	else if (n->kind == LF_Y_SCALAR)
		cnt = 1;
	else if (n->kind == LF_Y_SEQ)
		cnt = n->n;
	else
		return lf_y_err(err, n, path, "expected a list of strings");
	char **v = calloc(cnt + 1, sizeof *v);
	if (!v)
		return lf_y_err(err, n, path, "out of memory");
	for (size_t i = 0; i < cnt; i++) {
		const struct lf_ynode *it = n->kind == LF_Y_SEQ ? n->items[i] : n;
		char ipath[256];
		snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
		if (lf_y_str(it, ipath, &v[i], err) < 0) {
			lf_strv_free(v);
			return -1;
		}
	}
	*out = v;
	if (count)
		*count = cnt;
	return 0;
}

static void key_path(char *buf, size_t sz, const char *path, const char *key)
{
	if (path && *path)
		snprintf(buf, sz, "%s.%s", path, key);
	else
		snprintf(buf, sz, "%s", key);
}

#define MAP_GETTER(fname, type, conv)                                                              \
	int fname(const struct lf_ynode *map, const char *path, const char *key, type out,         \
	          struct lf_error *err)                                                            \
	{                                                                                          \
		const struct lf_ynode *v = lf_ymap_get(map, key);                                  \
		if (!v || v->kind == LF_Y_NULL)                                                    \
			return 0;                                                                  \
		char kp[512];                                                                      \
		key_path(kp, sizeof kp, path, key);                                                \
		return conv(v, kp, out, err);                                                      \
	}

MAP_GETTER(lf_ymap_bool, bool *, lf_y_bool)
MAP_GETTER(lf_ymap_int, int64_t *, lf_y_int)
MAP_GETTER(lf_ymap_double, double *, lf_y_double)
MAP_GETTER(lf_ymap_duration, int64_t *, lf_y_duration)
MAP_GETTER(lf_ymap_size, int64_t *, lf_y_size)

int lf_ymap_str(const struct lf_ynode *map, const char *path, const char *key, char **out,
                struct lf_error *err)
{
	const struct lf_ynode *v = lf_ymap_get(map, key);
	if (!v)
		return 0;
	char kp[512];
	key_path(kp, sizeof kp, path, key);
	char *s;
	if (lf_y_str(v, kp, &s, err) < 0)
		return -1;
	free(*out);
	*out = s;
	return 0;
}

int lf_ymap_strlist(const struct lf_ynode *map, const char *path, const char *key, char ***out,
                    size_t *count, struct lf_error *err)
{
	const struct lf_ynode *v = lf_ymap_get(map, key);
	if (!v)
		return 0;
	char kp[512];
	key_path(kp, sizeof kp, path, key);
	char **list;
	if (lf_y_strlist(v, kp, &list, count, err) < 0)
		return -1;
	lf_strv_free(*out);
	*out = list;
	return 0;
}
