/* rules.c — see rules.h. */
#include "rules.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mparse.h"
#include "rtemplate.h"
#include "template.h"
#include "timeutil.h"
#include "yamlcfg.h"

static void rule_free(struct lf_rule *r)
{
	free(r->name);
	free(r->expr);
	lf_labels_free(&r->labels);
	lf_labels_free(&r->annotations);
	memset(r, 0, sizeof(*r));
}

void lf_rule_group_free(struct lf_rule_group *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n_rules; i++)
		rule_free(&g->rules[i]);
	free(g->rules);
	free(g->ns);
	free(g->name);
	memset(g, 0, sizeof(*g));
}

void lf_rule_groups_free(struct lf_rule_groups *gs)
{
	for (size_t i = 0; i < gs->n; i++)
		lf_rule_group_free(&gs->v[i]);
	free(gs->v);
	memset(gs, 0, sizeof(*gs));
}

static int groups_push(struct lf_rule_groups *gs, struct lf_rule_group *g)
{
	if (gs->n == gs->cap) {
		size_t nc = gs->cap ? gs->cap * 2 : 8;
		struct lf_rule_group *nv = realloc(gs->v, nc * sizeof(*nv));
		if (!nv)
			return -1;
		gs->v = nv;
		gs->cap = nc;
	}
	gs->v[gs->n++] = *g;
	memset(g, 0, sizeof(*g));
	return 0;
}

int lf_rule_group_copy(struct lf_rule_group *d, const struct lf_rule_group *s)
{
	memset(d, 0, sizeof(*d));
	d->ns = strdup(s->ns ? s->ns : "");
	d->name = strdup(s->name ? s->name : "");
	d->interval = s->interval;
	d->limit = s->limit;
	d->rules = calloc(s->n_rules ? s->n_rules : 1, sizeof(*d->rules));
	if (!d->ns || !d->name || !d->rules)
		goto oom;
	for (size_t i = 0; i < s->n_rules; i++) {
		struct lf_rule *a = &d->rules[i];
		const struct lf_rule *b = &s->rules[i];
		d->n_rules++;
		a->alerting = b->alerting;
		a->for_ns = b->for_ns;
		a->keep_firing_for = b->keep_firing_for;
		a->name = strdup(b->name);
		a->expr = strdup(b->expr);
		if (!a->name || !a->expr || lf_labels_copy(&a->labels, &b->labels) < 0 ||
		    lf_labels_copy(&a->annotations, &b->annotations) < 0)
			goto oom;
	}
	return 0;
oom:
	lf_rule_group_free(d);
	return -1;
}

bool lf_rule_group_equal(const struct lf_rule_group *a, const struct lf_rule_group *b)
{
	if (strcmp(a->ns, b->ns) || strcmp(a->name, b->name) || a->interval != b->interval ||
	    a->limit != b->limit || a->n_rules != b->n_rules)
		return false;
	for (size_t i = 0; i < a->n_rules; i++) {
		const struct lf_rule *x = &a->rules[i], *y = &b->rules[i];
		if (x->alerting != y->alerting || strcmp(x->name, y->name) ||
		    strcmp(x->expr, y->expr) || x->for_ns != y->for_ns ||
		    x->keep_firing_for != y->keep_firing_for ||
		    !lf_labels_equal(&x->labels, &y->labels) ||
		    !lf_labels_equal(&x->annotations, &y->annotations))
			return false;
	}
	return true;
}

/* Prometheus' metric name charset. */
static bool metric_name_valid(const char *s)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		          c == ':' || (p != s && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

static bool utf8_valid(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c < 0x80         ? 1
		           : (c >> 5) == 6  ? 2
		           : (c >> 4) == 14 ? 3
		           : (c >> 3) == 30 ? 4
		                            : 0;
		if (!k || i + k > n)
			return false;
		for (size_t j = 1; j < k; j++)
			if (((unsigned char)s[i + j] >> 6) != 2)
				return false;
		i += k;
	}
	return true;
}

/* A Prometheus duration under key (absent: *out unchanged). Rule files
 * are decoded as Prometheus' rulefmt does: model.Duration, not Go's
 * time.Duration, so "1us" or "1.5m" are refused as Loki refuses them
 * (found by fuzz_rules: "for: 1us" loaded, then rendered back as 0s). */
static int prom_duration_of(const struct lf_ynode *map, const char *path, const char *key,
                            int64_t *out, struct lf_error *err)
{
	const struct lf_ynode *v = lf_ymap_get(map, key);
	if (!v || v->kind == LF_Y_NULL)
		return 0;
	struct lf_error de;
	if (v->kind != LF_Y_SCALAR)
		return lf_y_err(err, v, key, "must be a duration");
	if (lf_parse_prom_duration(v->str, out, &de) < 0)
		return lf_y_err(err, v, path, "%s", de.msg);
	return 0;
}

#define RULE_ERR(fmt, ...)                                                                         \
	lf_err(err, "%s:%d:%d: group \"%s\", rule %zu, \"%s\": " fmt, file, rn->line, rn->col,     \
	       gname, idx + 1, rname, ##__VA_ARGS__)

static int read_kv(const struct lf_ynode *m, const char *what, struct lf_labels *out,
                   const char *file, const struct lf_ynode *rn, const char *gname, size_t idx,
                   const char *rname, bool annotations, struct lf_error *err)
{
	if (!m || m->kind == LF_Y_NULL)
		return 0;
	if (m->kind != LF_Y_MAP)
		return RULE_ERR("%s must be a map", what);
	for (size_t i = 0; i < m->n; i++) {
		const struct lf_ynode *k = m->pairs[i].key, *v = m->pairs[i].value;
		if (!lf_label_name_valid(k->str, k->str_len))
			return RULE_ERR("invalid %s name: %s", annotations ? "annotation" : "label",
			                k->str);
		if (!annotations && !strcmp(k->str, "__name__"))
			return RULE_ERR("invalid label name: %s", k->str);
		if (v->kind == LF_Y_NULL) {
			if (lf_labels_set(out, k->str, "") < 0)
				return lf_err(err, "out of memory");
			continue;
		}
		if (v->kind != LF_Y_SCALAR)
			return RULE_ERR("%s %s must be a string", what, k->str);
		if (!annotations && !utf8_valid(v->str, v->str_len))
			return RULE_ERR("invalid label value: %s", v->str);
		struct lf_template *t = NULL;
		struct lf_error te;
		char tname[300];
		snprintf(tname, sizeof(tname), "__alert_%s", rname);
		if (lf_rtmpl_new(tname, v->str, &t, &te) < 0)
			return RULE_ERR("%s", te.msg);
		lf_template_free(t);
		if (lf_labels_setn(out, k->str, k->str_len, v->str, v->str_len) < 0)
			return lf_err(err, "out of memory");
	}
	return 0;
}

static int parse_rule(const struct lf_ynode *rn, const char *file, const char *gname, size_t idx,
                      struct lf_rule *r, struct lf_error *err)
{
	static const char *const keys[] = {"record",          "alert",  "expr",        "for",
	                                   "keep_firing_for", "labels", "annotations", NULL};
	const char *rname = "";
	if (rn->kind != LF_Y_MAP)
		return RULE_ERR("a rule must be a map");
	const struct lf_ynode *rec = lf_ymap_get(rn, "record"), *al = lf_ymap_get(rn, "alert");
	if (rec && rec->kind == LF_Y_SCALAR)
		rname = rec->str;
	else if (al && al->kind == LF_Y_SCALAR)
		rname = al->str;
	struct lf_error ce;
	if (lf_ymap_check(rn, "rule", keys, &ce) < 0)
		return lf_err(err, "%s (group \"%s\", rule %zu)", ce.msg, gname, idx + 1);
	bool has_rec = rec && rec->kind == LF_Y_SCALAR && rec->str[0];
	bool has_al = al && al->kind == LF_Y_SCALAR && al->str[0];
	if (has_rec && has_al)
		return RULE_ERR("only one of 'record' and 'alert' must be set");
	if (!has_rec && !has_al)
		return RULE_ERR("one of 'record' or 'alert' must be set");
	const struct lf_ynode *ex = lf_ymap_get(rn, "expr");
	if (!ex || ex->kind != LF_Y_SCALAR || !ex->str[0])
		return RULE_ERR("field 'expr' must be set in rule");
	r->alerting = has_al;
	r->name = strdup(rname);
	r->expr = strdup(ex->str);
	if (!r->name || !r->expr)
		return lf_err(err, "out of memory");
	struct lf_mq_node *ast = NULL;
	struct lf_error pe;
	if (lf_mq_parse(ex->str, ex->str_len, &ast, &pe) < 0)
		return RULE_ERR("could not parse expression for %s '%s' in group '%s': %s",
		                has_al ? "alert" : "record", rname, gname, pe.msg);
	lf_mq_free(ast);
	if (has_rec) {
		if (lf_ymap_get(rn, "annotations"))
			return RULE_ERR("invalid field 'annotations' in recording rule");
		if (lf_ymap_get(rn, "for"))
			return RULE_ERR("invalid field 'for' in recording rule");
		if (lf_ymap_get(rn, "keep_firing_for"))
			return RULE_ERR("invalid field 'keep_firing_for' in recording rule");
		if (!metric_name_valid(rname))
			return RULE_ERR("invalid recording rule name: %s", rname);
	}
	struct lf_error de;
	if (prom_duration_of(rn, "for", "for", &r->for_ns, &de) < 0 ||
	    prom_duration_of(rn, "keep_firing_for", "keep_firing_for", &r->keep_firing_for, &de) <
	            0)
		return RULE_ERR("%s", de.msg);
	if (r->for_ns < 0 || r->keep_firing_for < 0)
		return RULE_ERR("durations must not be negative");
	if (read_kv(lf_ymap_get(rn, "labels"), "labels", &r->labels, file, rn, gname, idx, rname,
	            false, err) < 0 ||
	    read_kv(lf_ymap_get(rn, "annotations"), "annotations", &r->annotations, file, rn, gname,
	            idx, rname, true, err) < 0)
		return -1;
	return 0;
}

static int parse_group(const struct lf_ynode *gn, const char *file, const char *ns, size_t gi,
                       struct lf_rule_group *g, struct lf_error *err)
{
	static const char *const keys[] = {"name", "interval", "limit", "rules", NULL};
	if (gn->kind != LF_Y_MAP)
		return lf_err(err, "%s:%d:%d: group %zu: must be a map", file, gn->line, gn->col,
		              gi);
	struct lf_error ce;
	if (lf_ymap_check(gn, "groups", keys, &ce) < 0)
		return lf_err(err, "%s", ce.msg);
	const struct lf_ynode *nm = lf_ymap_get(gn, "name");
	if (!nm || nm->kind != LF_Y_SCALAR || !nm->str[0])
		return lf_err(err, "%s:%d:%d: group %zu: Groupname must not be empty", file,
		              gn->line, gn->col, gi);
	g->ns = strdup(ns);
	g->name = strdup(nm->str);
	if (!g->ns || !g->name)
		return lf_err(err, "out of memory");
	if (prom_duration_of(gn, "interval", "interval", &g->interval, err) < 0 ||
	    lf_ymap_int(gn, "groups", "limit", &g->limit, err) < 0)
		return -1;
	if (g->interval < 0)
		return lf_y_err(err, lf_ymap_get(gn, "interval"), "interval",
		                "must not be negative");
	const struct lf_ynode *rs = lf_ymap_get(gn, "rules");
	if (!rs || rs->kind == LF_Y_NULL)
		return 0;
	if (rs->kind != LF_Y_SEQ)
		return lf_y_err(err, rs, "rules", "must be a list");
	g->rules = calloc(rs->n ? rs->n : 1, sizeof(*g->rules));
	if (!g->rules)
		return lf_err(err, "out of memory");
	for (size_t i = 0; i < rs->n; i++) {
		g->n_rules++;
		if (parse_rule(rs->items[i], file, g->name, i, &g->rules[i], err) < 0)
			return -1;
	}
	return 0;
}

int lf_rules_parse(const char *text, size_t len, const char *name, const char *ns,
                   struct lf_rule_groups *out, struct lf_error *err)
{
	struct lf_ydoc *doc = NULL;
	if (lf_ydoc_load_string(text, len, name, false, &doc, err) < 0)
		return -1;
	struct lf_ynode *root = lf_ydoc_root(doc);
	struct lf_rule_groups tmp = {0};
	int rc = -1;
	static const char *const top[] = {"groups", NULL};
	if (root && root->kind != LF_Y_NULL) {
		if (lf_ymap_check(root, "top level", top, err) < 0)
			goto done;
		const struct lf_ynode *gs = lf_ymap_get(root, "groups");
		if (gs && gs->kind != LF_Y_NULL) {
			if (gs->kind != LF_Y_SEQ) {
				lf_y_err(err, gs, "groups", "must be a list");
				goto done;
			}
			for (size_t i = 0; i < gs->n; i++) {
				struct lf_rule_group g = {0};
				if (parse_group(gs->items[i], name, ns, i, &g, err) < 0) {
					lf_rule_group_free(&g);
					goto done;
				}
				for (size_t j = 0; j < tmp.n; j++)
					if (!strcmp(tmp.v[j].name, g.name)) {
						lf_err(err,
						       "%s: groupname: \"%s\" is repeated in the "
						       "same file",
						       name, g.name);
						lf_rule_group_free(&g);
						goto done;
					}
				if (groups_push(&tmp, &g) < 0) {
					lf_rule_group_free(&g);
					lf_err(err, "out of memory");
					goto done;
				}
			}
		}
	}
	for (size_t i = 0; i < tmp.n; i++)
		if (groups_push(out, &tmp.v[i]) < 0) {
			lf_err(err, "out of memory");
			for (size_t j = i; j < tmp.n; j++)
				lf_rule_group_free(&tmp.v[j]);
			tmp.n = 0;
			goto done;
		}
	tmp.n = 0;
	rc = 0;
done:
	lf_rule_groups_free(&tmp);
	lf_ydoc_free(doc);
	return rc;
}

int lf_rules_parse_group(const char *text, size_t len, const char *ns, struct lf_rule_group *out,
                         struct lf_error *err)
{
	struct lf_ydoc *doc = NULL;
	memset(out, 0, sizeof(*out));
	if (lf_ydoc_load_string(text, len, "body", false, &doc, err) < 0)
		return -1;
	struct lf_ynode *root = lf_ydoc_root(doc);
	int rc;
	if (!root || root->kind != LF_Y_MAP)
		rc = lf_err(err, "a rule group (a map with name and rules) is expected");
	else
		rc = parse_group(root, "body", ns, 0, out, err);
	if (rc < 0)
		lf_rule_group_free(out);
	lf_ydoc_free(doc);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of the entries of dir that pass want (sorted, NULL-terminated). */
static int list_dir(const char *dir, bool dirs, char ***out, struct lf_error *err)
{
	*out = NULL;
	DIR *d = opendir(dir);
	size_t n = 0, cap = 8;
	char **v = calloc(cap, sizeof(*v));
	if (!v)
		return lf_err(err, "out of memory");
	if (!d) {
		if (errno == ENOENT) {
			*out = v;
			return 0;
		}
		free(v);
		return lf_err(err, "reading %s: %s", dir, strerror(errno));
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) < 0)
			continue;
		if (dirs ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
			continue;
		if (n + 1 >= cap) {
			char **nv = realloc(v, (cap *= 2) * sizeof(*nv));
			if (!nv)
				goto oom;
			v = nv;
		}
		if (!(v[n++] = strdup(e->d_name)))
			goto oom;
		v[n] = NULL;
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp_str);
	*out = v;
	return 0;
oom:
	closedir(d);
	lf_strv_free(v);
	return lf_err(err, "out of memory");
}

int lf_rules_list_tenants(const char *dir, char ***out, struct lf_error *err)
{
	return list_dir(dir, true, out, err);
}

static int read_file(const char *path, int64_t max, char **out, size_t *len, struct lf_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lf_err(err, "open %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return lf_err(err, "stat %s: %s", path, strerror(errno));
	}
	if (max > 0 && st.st_size > max) {
		close(fd);
		return lf_err(err, "%s: rule file of %lld bytes exceeds the limit of %lld bytes",
		              path, (long long)st.st_size, (long long)max);
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	char *b = malloc(cap);
	if (!b) {
		close(fd);
		return lf_err(err, "out of memory");
	}
	for (;;) {
		if (n + 1 >= cap) {
			if (max > 0 && (int64_t)n > max) {
				free(b);
				close(fd);
				return lf_err(err, "%s: rule file exceeds the limit of %lld bytes",
				              path, (long long)max);
			}
			char *nb = realloc(b, cap *= 2);
			if (!nb) {
				free(b);
				close(fd);
				return lf_err(err, "out of memory");
			}
			b = nb;
		}
		ssize_t r = read(fd, b + n, cap - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(b);
			close(fd);
			return lf_err(err, "read %s: %s", path, strerror(errno));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	b[n] = 0;
	*out = b;
	*len = n;
	return 0;
}

int lf_rules_load_tenant(const char *dir, const char *tenant, const struct lf_rule_limits *lim,
                         struct lf_rule_groups *out, struct lf_error *err)
{
	char tdir[4096];
	snprintf(tdir, sizeof(tdir), "%s/%s", dir, tenant);
	char **files = NULL;
	if (list_dir(tdir, false, &files, err) < 0)
		return -1;
	struct lf_rule_groups tmp = {0};
	int rc = 0;
	size_t rules = 0;
	for (size_t i = 0; files[i] && rc == 0; i++) {
		char path[4096 + 256];
		snprintf(path, sizeof(path), "%s/%s", tdir, files[i]);
		char *text = NULL;
		size_t len = 0;
		if (read_file(path, lim ? lim->max_file_size : 0, &text, &len, err) < 0) {
			rc = -1;
			break;
		}
		size_t before = tmp.n;
		rc = lf_rules_parse(text, len, path, files[i], &tmp, err);
		free(text);
		for (size_t j = before; rc == 0 && j < tmp.n; j++)
			rules += tmp.v[j].n_rules;
		if (rc == 0 && lim && lim->max_rules > 0 && (int64_t)rules > lim->max_rules)
			rc = lf_err(
			        err,
			        "tenant %s: %zu rules exceed the limit of %lld rules per tenant "
			        "(ruler.max_rules_per_tenant)",
			        tenant, rules, (long long)lim->max_rules);
	}
	lf_strv_free(files);
	if (rc < 0) {
		lf_rule_groups_free(&tmp);
		return -1;
	}
	*out = tmp;
	return 0;
}

/* Prometheus model.Duration's text: 1m, 1h30m, 90d, 500ms, 0s. */
static void prom_duration(int64_t ns, char *out, size_t n)
{
	int64_t ms = ns / 1000000;
	size_t len = 0;
	out[0] = 0;
	if (ms == 0) {
		snprintf(out, n, "0s");
		return;
	}
	static const struct {
		const char *unit;
		int64_t mult;
		bool exact;
	} u[] = {{"y", 1000LL * 60 * 60 * 24 * 365, true},
	         {"w", 1000LL * 60 * 60 * 24 * 7, true},
	         {"d", 1000LL * 60 * 60 * 24, false},
	         {"h", 1000LL * 60 * 60, false},
	         {"m", 1000LL * 60, false},
	         {"s", 1000, false},
	         {"ms", 1, false}};
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		if (u[i].exact && ms % u[i].mult)
			continue;
		int64_t v = ms / u[i].mult;
		if (v > 0 && len < n) {
			len += (size_t)snprintf(out + len, n - len, "%lld%s", (long long)v,
			                        u[i].unit);
			ms -= v * u[i].mult;
		}
	}
}

static void ind(struct lf_buf *o, int n)
{
	for (int i = 0; i < n; i++)
		lf_buf_putc(o, ' ');
}

/* Words a YAML reader resolves to null or a boolean, not to the string. */
static bool yaml_special_word(const char *s)
{
	static const char *const w[] = {"null", "true", "false", "yes", "no",
	                                "on",   "off",  "y",     "n"};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (!strcasecmp(s, w[i]))
			return true;
	return false;
}

static void yaml_str(struct lf_buf *o, const char *s)
{
	/* plain when it is obviously a string to any YAML reader: it starts
	 * with a letter, '_' or '/' (not a number, not "-", which would start
	 * a list item), uses only safe characters and is not a null or
	 * boolean word (found by fuzz_rules: a label value NULL came back as
	 * null); else double-quoted */
	bool plain = (isalpha((unsigned char)*s) || *s == '_' || *s == '/') &&
	             strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
	                       "-./") == strlen(s) &&
	             !yaml_special_word(s);
	if (plain)
		lf_buf_appends(o, s);
	else
		lf_buf_append_yaml_quoted(o, s, strlen(s));
}

static void render_map(struct lf_buf *o, int indent, const char *key, const struct lf_labels *ls)
{
	if (!ls->n)
		return;
	ind(o, indent);
	lf_buf_printf(o, "%s:\n", key);
	for (size_t i = 0; i < ls->n; i++) {
		ind(o, indent + 4);
		yaml_str(o, ls->v[i].name);
		lf_buf_appends(o, ": ");
		yaml_str(o, ls->v[i].value);
		lf_buf_putc(o, '\n');
	}
}

void lf_rule_group_render(const struct lf_rule_group *g, int indent, bool first_dash,
                          struct lf_buf *o)
{
	char d[40];
	ind(o, indent);
	lf_buf_appends(o, first_dash ? "- name: " : "name: ");
	int in = indent + (first_dash ? 2 : 0);
	yaml_str(o, g->name);
	lf_buf_putc(o, '\n');
	if (g->interval) {
		prom_duration(g->interval, d, sizeof(d));
		ind(o, in);
		lf_buf_printf(o, "interval: %s\n", d);
	}
	if (g->limit) {
		ind(o, in);
		lf_buf_printf(o, "limit: %lld\n", (long long)g->limit);
	}
	ind(o, in);
	lf_buf_appends(o, "rules:\n");
	for (size_t i = 0; i < g->n_rules; i++) {
		const struct lf_rule *r = &g->rules[i];
		ind(o, in + 2);
		lf_buf_appends(o, r->alerting ? "- alert: " : "- record: ");
		yaml_str(o, r->name);
		lf_buf_putc(o, '\n');
		ind(o, in + 4);
		lf_buf_appends(o, "expr: ");
		lf_buf_append_yaml_quoted(o, r->expr, strlen(r->expr));
		lf_buf_putc(o, '\n');
		if (r->for_ns) {
			prom_duration(r->for_ns, d, sizeof(d));
			ind(o, in + 4);
			lf_buf_printf(o, "for: %s\n", d);
		}
		if (r->keep_firing_for) {
			prom_duration(r->keep_firing_for, d, sizeof(d));
			ind(o, in + 4);
			lf_buf_printf(o, "keep_firing_for: %s\n", d);
		}
		render_map(o, in + 4, "labels", &r->labels);
		render_map(o, in + 4, "annotations", &r->annotations);
	}
}

int lf_rules_write_ns(const char *dir, const char *tenant, const char *ns,
                      const struct lf_rule_group *groups, size_t n, struct lf_error *err)
{
	char tdir[4096], path[4400], tmp[4500];
	snprintf(tdir, sizeof(tdir), "%s/%s", dir, tenant);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return lf_err(err, "mkdir %s: %s", dir, strerror(errno));
	if (mkdir(tdir, 0755) < 0 && errno != EEXIST)
		return lf_err(err, "mkdir %s: %s", tdir, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s", tdir, ns);
	if (n == 0) {
		if (unlink(path) < 0 && errno != ENOENT)
			return lf_err(err, "unlink %s: %s", path, strerror(errno));
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", tdir, ns);
	struct lf_buf b = LF_BUF_INIT;
	lf_buf_appends(&b, "groups:\n");
	for (size_t i = 0; i < n; i++)
		lf_rule_group_render(&groups[i], 2, true, &b);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		lf_buf_free(&b);
		return lf_err(err, "open %s: %s", tmp, strerror(errno));
	}
	size_t off = 0;
	while (off < b.len) {
		ssize_t w = write(fd, b.data + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = errno;
			close(fd);
			unlink(tmp);
			lf_buf_free(&b);
			return lf_err(err, "write %s: %s", tmp, strerror(e));
		}
		off += (size_t)w;
	}
	lf_buf_free(&b);
	if (fsync(fd) < 0 || close(fd) < 0) {
		unlink(tmp);
		return lf_err(err, "fsync %s: %s", tmp, strerror(errno));
	}
	if (rename(tmp, path) < 0)
		return lf_err(err, "rename %s: %s", path, strerror(errno));
	return 0;
}
