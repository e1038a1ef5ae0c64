/* relabel.c — Prometheus relabel_configs (see relabel.h). */
#include "relabel.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/regex.h"
#include "../common/template.h"

enum action {
	A_REPLACE,
	A_KEEP,
	A_DROP,
	A_KEEPEQUAL,
	A_DROPEQUAL,
	A_HASHMOD,
	A_LABELMAP,
	A_LABELDROP,
	A_LABELKEEP,
	A_LOWERCASE,
	A_UPPERCASE,
};

static const char *const action_names[] = {
        "replace",  "keep",      "drop",      "keepequal", "dropequal", "hashmod",
        "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase",
};

struct rule {
	char **source; /* NULL-terminated */
	size_t nsource;
	bool source_set;
	char *separator;
	char *target;
	char *replacement;
	size_t replacement_len;
	struct lf_regex *re;
	uint64_t modulus;
	enum action action;
};

struct lf_relabel {
	struct rule *rules;
	size_t n;
};

#define DEFAULT_REGEX "(.*)"

/* ---- per-thread scratch (see relabel.h) ---- */

struct scratch {
	struct lf_buf val, tgt, res;
	struct lf_labels snap;
	struct lf_regex_match m;
	EVP_MD_CTX *md;
};

static pthread_key_t skey;
static pthread_once_t sonce = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
	struct scratch *s = p;
	if (!s)
		return;
	lf_buf_free(&s->val);
	lf_buf_free(&s->tgt);
	lf_buf_free(&s->res);
	lf_labels_free(&s->snap);
	lf_regex_match_free(&s->m);
	if (s->md)
		EVP_MD_CTX_free(s->md);
	free(s);
}

static void skey_make(void)
{
	(void)pthread_key_create(&skey, scratch_free);
}

static struct scratch *get_scratch(void)
{
	pthread_once(&sonce, skey_make);
	struct scratch *s = pthread_getspecific(skey);
	if (!s) {
		s = calloc(1, sizeof *s);
		if (!s)
			return NULL;
		if (pthread_setspecific(skey, s) != 0) {
			free(s);
			return NULL;
		}
	}
	return s;
}

/* ---- loading ---- */

static void rule_free(struct rule *r)
{
	lf_strv_free(r->source);
	free(r->separator);
	free(r->target);
	free(r->replacement);
	lf_regex_free(r->re);
}

void lf_relabel_free(struct lf_relabel *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		rule_free(&r->rules[i]);
	free(r->rules);
	free(r);
}

size_t lf_relabel_count(const struct lf_relabel *r)
{
	return r ? r->n : 0;
}

static bool name_valid(const char *s)
{
	return lf_label_name_valid(s, strlen(s));
}

/* Prometheus' relabelTarget: ^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$ —
 * a label name that may contain $ references. */
static bool target_template_valid(const char *s)
{
	if (!*s)
		return false;
	bool first = true;
	while (*s) {
		char c = *s;
		if (c == '$') {
			s++;
			if (*s == '{') {
				const char *e = s + 1;
				while ((*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z') ||
				       (*e >= '0' && *e <= '9') || *e == '_')
					e++;
				if (e == s + 1 || *e != '}')
					return false;
				s = e + 1;
			} else {
				const char *e = s;
				while ((*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z') ||
				       (*e >= '0' && *e <= '9') || *e == '_')
					e++;
				if (e == s)
					return false;
				s = e;
			}
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
			s++;
		} else if (c >= '0' && c <= '9' && !first) {
			s++;
		} else {
			return false;
		}
		first = false;
	}
	return true;
}

static int load_rule(const struct lf_ynode *item, const char *path, struct rule *r,
                     struct lf_error *err)
{
	static const char *const allowed[] = {"source_labels", "separator",   "regex",  "modulus",
	                                      "target_label",  "replacement", "action", NULL};
	if (!item || item->kind != LF_Y_MAP)
		return lf_y_err(err, item, path, "expected a mapping");
	if (lf_ymap_check(item, path, allowed, err) < 0)
		return -1;

	char *regex = NULL, *action = NULL;
	int64_t modulus = 0;
	int rc = -1;
	if (lf_ymap_strlist(item, path, "source_labels", &r->source, &r->nsource, err) < 0 ||
	    lf_ymap_str(item, path, "separator", &r->separator, err) < 0 ||
	    lf_ymap_str(item, path, "regex", &regex, err) < 0 ||
	    lf_ymap_int(item, path, "modulus", &modulus, err) < 0 ||
	    lf_ymap_str(item, path, "target_label", &r->target, err) < 0 ||
	    lf_ymap_str(item, path, "replacement", &r->replacement, err) < 0 ||
	    lf_ymap_str(item, path, "action", &action, err) < 0)
		goto out;
	r->source_set = lf_ymap_get(item, "source_labels") != NULL &&
	                lf_ymap_get(item, "source_labels")->kind != LF_Y_NULL;
	for (size_t i = 0; i < r->nsource; i++)
		if (!name_valid(r->source[i])) {
			lf_y_err(err, lf_ymap_get(item, "source_labels"), path,
			         "\"%s\" is not a valid label name", r->source[i]);
			goto out;
		}
	if (modulus < 0) {
		lf_y_err(err, lf_ymap_get(item, "modulus"), path,
		         "modulus must not be negative, got %lld", (long long)modulus);
		goto out;
	}
	r->modulus = (uint64_t)modulus;
	bool sep_default = !r->separator || strcmp(r->separator, ";") == 0;
	bool repl_default = !r->replacement || strcmp(r->replacement, "$1") == 0;
	/* Prometheus compares the compiled regex by pointer: any regex written
	 * in the config, even "(.*)", counts as set */
	bool regex_default = !regex;
	bool target_default = !r->target || !r->target[0];
	if (!r->separator && !(r->separator = strdup(";")))
		goto oom;
	if (!r->replacement && !(r->replacement = strdup("$1")))
		goto oom;
	r->replacement_len = strlen(r->replacement);
	if (!r->target && !(r->target = strdup("")))
		goto oom;

	r->action = A_REPLACE;
	if (action) {
		bool found = false;
		for (size_t i = 0; i < sizeof action_names / sizeof action_names[0]; i++)
			if (strcasecmp(action, action_names[i]) == 0) {
				r->action = (enum action)i;
				found = true;
			}
		if (!found) {
			lf_y_err(err, lf_ymap_get(item, "action"), path,
			         "unknown relabel action \"%s\"", action);
			goto out;
		}
	}
	struct lf_error rerr;
	if (lf_regex_new(regex ? regex : DEFAULT_REGEX, LF_REGEX_FULL, &r->re, &rerr) < 0) {
		lf_y_err(err, lf_ymap_get(item, "regex"), path, "%s", rerr.msg);
		goto out;
	}

	/* Prometheus Config.Validate, same order and words */
	const char *an = action_names[r->action];
	enum action a = r->action;
	bool needs_target = a == A_REPLACE || a == A_HASHMOD || a == A_LOWERCASE ||
	                    a == A_UPPERCASE || a == A_KEEPEQUAL || a == A_DROPEQUAL;
	bool has_var = strchr(r->target, '$') != NULL;
	if (r->modulus == 0 && a == A_HASHMOD) {
		lf_y_err(err, item, path,
		         "relabel configuration for hashmod requires non-zero modulus");
		goto out;
	}
	if (needs_target && target_default) {
		lf_y_err(err, item, path,
		         "relabel configuration for %s action requires 'target_label' value", an);
		goto out;
	}
	if ((a == A_REPLACE && !has_var && !name_valid(r->target)) ||
	    (a == A_REPLACE && has_var && !target_template_valid(r->target)) ||
	    ((a == A_LOWERCASE || a == A_UPPERCASE || a == A_KEEPEQUAL || a == A_DROPEQUAL ||
	      a == A_HASHMOD) &&
	     !name_valid(r->target))) {
		lf_y_err(err, item, path, "\"%s\" is invalid 'target_label' for %s action",
		         r->target, an);
		goto out;
	}
	if ((a == A_LOWERCASE || a == A_UPPERCASE || a == A_KEEPEQUAL || a == A_DROPEQUAL) &&
	    !repl_default) {
		lf_y_err(err, item, path, "'replacement' can not be set for %s action", an);
		goto out;
	}
	if (a == A_LABELMAP && !target_template_valid(r->replacement)) {
		lf_y_err(err, item, path, "\"%s\" is invalid 'replacement' for %s action",
		         r->replacement, an);
		goto out;
	}
	if ((a == A_DROPEQUAL || a == A_KEEPEQUAL) &&
	    (!regex_default || r->modulus != 0 || !sep_default || !repl_default)) {
		lf_y_err(err, item, path,
		         "%s action requires only 'source_labels' and `target_label`, and no other "
		         "fields",
		         an);
		goto out;
	}
	if ((a == A_LABELDROP || a == A_LABELKEEP) &&
	    (r->source_set || !target_default || r->modulus != 0 || !sep_default ||
	     !repl_default)) {
		lf_y_err(err, item, path, "%s action requires only 'regex', and no other fields",
		         an);
		goto out;
	}
	rc = 0;
	goto out;
oom:
	lf_y_err(err, item, path, "out of memory");
out:
	free(regex);
	free(action);
	return rc;
}

int lf_relabel_new(const struct lf_ynode *seq, const char *path, struct lf_relabel **out,
                   struct lf_error *err)
{
	*out = NULL;
	struct lf_relabel *r = calloc(1, sizeof *r);
	if (!r)
		return lf_err(err, "out of memory");
	if (!seq || seq->kind == LF_Y_NULL) {
		*out = r;
		return 0;
	}
	if (seq->kind != LF_Y_SEQ) {
		lf_relabel_free(r);
		return lf_y_err(err, seq, path, "expected a sequence of relabel configs");
	}
	r->rules = calloc(seq->n ? seq->n : 1, sizeof *r->rules);
	if (!r->rules) {
		lf_relabel_free(r);
		return lf_err(err, "out of memory");
	}
	for (size_t i = 0; i < seq->n; i++) {
		char ipath[512];
		snprintf(ipath, sizeof ipath, "%s[%zu]", path ? path : "relabel_configs", i);
		r->n = i + 1;
		if (load_rule(seq->items[i], ipath, &r->rules[i], err) < 0) {
			lf_relabel_free(r);
			return -1;
		}
	}
	*out = r;
	return 0;
}

/* ---- applying ---- */

static int set_label(struct lf_labels *ls, const char *name, size_t nlen, const char *val,
                     size_t vlen)
{
	if (nlen == 0)
		return 0;
	if (vlen == 0) {
		/* lf_labels_del wants a NUL-terminated name: names here come
		 * from NUL-terminated buffers */
		lf_labels_del(ls, name);
		return 0;
	}
	return lf_labels_setn(ls, name, nlen, val, vlen);
}

static bool full_match(const struct rule *r, const char *s, size_t n, struct scratch *sc)
{
	return lf_regex_exec(r->re, s, n, 0, &sc->m, NULL) == 1;
}

static int hashmod(const struct rule *r, const char *val, size_t n, struct scratch *sc,
                   uint64_t *out)
{
	if (!sc->md && !(sc->md = EVP_MD_CTX_new()))
		return -1;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	if (EVP_DigestInit_ex(sc->md, EVP_md5(), NULL) != 1 ||
	    EVP_DigestUpdate(sc->md, val, n) != 1 || EVP_DigestFinal_ex(sc->md, d, &dl) != 1 ||
	    dl != 16)
		return -1;
	uint64_t v = 0;
	for (int i = 8; i < 16; i++)
		v = (v << 8) | d[i];
	*out = v % r->modulus;
	return 0;
}

/* One rule. Returns 1 keep, 0 drop, -1 memory failure. */
static int apply_rule(const struct rule *r, struct lf_labels *ls, struct scratch *sc)
{
	lf_buf_reset(&sc->val);
	for (size_t i = 0; i < r->nsource; i++) {
		if (i && lf_buf_appends(&sc->val, r->separator) < 0)
			return -1;
		const char *v = lf_labels_get(ls, r->source[i]);
		if (v && lf_buf_appends(&sc->val, v) < 0)
			return -1;
	}
	if (lf_buf_reserve(&sc->val, 0) < 0)
		return -1;
	const char *val = sc->val.data;
	size_t vlen = sc->val.len;

	switch (r->action) {
	case A_DROP:
		return full_match(r, val, vlen, sc) ? 0 : 1;
	case A_KEEP:
		return full_match(r, val, vlen, sc) ? 1 : 0;
	case A_DROPEQUAL:
	case A_KEEPEQUAL: {
		const char *t = lf_labels_get(ls, r->target);
		bool eq = strlen(t ? t : "") == vlen && memcmp(t ? t : "", val, vlen) == 0;
		return (r->action == A_KEEPEQUAL) == eq ? 1 : 0;
	}
	case A_REPLACE: {
		if (!full_match(r, val, vlen, sc))
			return 1;
		lf_buf_reset(&sc->tgt);
		lf_buf_reset(&sc->res);
		if (lf_regex_expand(r->re, &sc->m, r->target, strlen(r->target), &sc->tgt) < 0 ||
		    lf_regex_expand(r->re, &sc->m, r->replacement, r->replacement_len, &sc->res) <
		            0 ||
		    lf_buf_reserve(&sc->tgt, 0) < 0 || lf_buf_reserve(&sc->res, 0) < 0)
			return -1;
		if (!lf_label_name_valid(sc->tgt.data, sc->tgt.len))
			return 1;
		return set_label(ls, sc->tgt.data, sc->tgt.len, sc->res.data, sc->res.len) < 0 ? -1
		                                                                               : 1;
	}
	case A_LOWERCASE:
	case A_UPPERCASE:
		lf_buf_reset(&sc->res);
		if ((r->action == A_LOWERCASE ? lf_str_lower(val, vlen, &sc->res)
		                              : lf_str_upper(val, vlen, &sc->res)) < 0 ||
		    lf_buf_reserve(&sc->res, 0) < 0)
			return -1;
		return set_label(ls, r->target, strlen(r->target), sc->res.data, sc->res.len) < 0
		               ? -1
		               : 1;
	case A_HASHMOD: {
		uint64_t h;
		if (hashmod(r, val, vlen, sc, &h) < 0)
			return -1;
		char num[24];
		int n = snprintf(num, sizeof num, "%llu", (unsigned long long)h);
		return set_label(ls, r->target, strlen(r->target), num, (size_t)n) < 0 ? -1 : 1;
	}
	case A_LABELMAP:
	case A_LABELDROP:
	case A_LABELKEEP:
		/* iterate a snapshot: the rule changes ls while it walks */
		if (lf_labels_copy(&sc->snap, ls) < 0)
			return -1;
		for (size_t i = 0; i < sc->snap.n; i++) {
			const struct lf_label *l = &sc->snap.v[i];
			bool m = full_match(r, l->name, strlen(l->name), sc);
			if (r->action == A_LABELMAP) {
				if (!m)
					continue;
				lf_buf_reset(&sc->tgt);
				if (lf_regex_replace_all(r->re, l->name, strlen(l->name),
				                         r->replacement, r->replacement_len, false,
				                         &sc->tgt, &sc->m) < 0 ||
				    lf_buf_reserve(&sc->tgt, 0) < 0)
					return -1;
				if (set_label(ls, sc->tgt.data, sc->tgt.len, l->value,
				              strlen(l->value)) < 0)
					return -1;
			} else if (m == (r->action == A_LABELDROP)) {
				lf_labels_del(ls, l->name);
			}
		}
		return 1;
	}
	return 1;
}

bool lf_relabel_apply(const struct lf_relabel *r, struct lf_labels *ls)
{
	return lf_relabel_apply_rule(r, ls, NULL);
}

bool lf_relabel_apply_rule(const struct lf_relabel *r, struct lf_labels *ls, size_t *dropped_by)
{
	if (dropped_by)
		*dropped_by = SIZE_MAX;
	if (!r || r->n == 0)
		return true;
	struct scratch *sc = get_scratch();
	if (!sc)
		return false;
	for (size_t i = 0; i < r->n; i++) {
		int rc = apply_rule(&r->rules[i], ls, sc);
		if (rc != 1) {
			if (rc == 0 && dropped_by)
				*dropped_by = i;
			return false;
		}
	}
	return true;
}
