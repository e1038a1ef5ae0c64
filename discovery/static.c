/* static.c — static_configs → label sets. */
#include "static.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int push_target(struct lf_static_targets *out, const struct lf_labels *group,
                       const char *address, struct lf_error *err)
{
	struct lf_labels *v = realloc(out->v, (out->n + 1) * sizeof(*v));
	if (!v)
		return lf_err(err, "static_configs: out of memory");
	out->v = v;
	struct lf_labels *ls = &out->v[out->n];
	*ls = (struct lf_labels)LF_LABELS_INIT;
	out->n++;
	/* Group labels win over __address__ only if the user set it there,
	 * which Prometheus also allows (labels are merged over the target). */
	if (lf_labels_set(ls, "__address__", address) < 0 || lf_labels_merge(ls, group, true) < 0)
		return lf_err(err, "static_configs: out of memory");
	return 0;
}

int lf_static_parse(const struct lf_ynode *seq, const char *path, struct lf_static_targets *out,
                    struct lf_error *err)
{
	if (!seq || seq->kind == LF_Y_NULL)
		return 0;
	if (seq->kind != LF_Y_SEQ)
		return lf_y_err(err, seq, path, "must be a list");
	static const char *const allowed[] = {"targets", "labels", NULL};
	char sub[256];
	for (size_t i = 0; i < seq->n; i++) {
		const struct lf_ynode *e = seq->items[i];
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (lf_ymap_check(e, sub, allowed, err) < 0)
			return -1;
		struct lf_labels group = LF_LABELS_INIT;
		const struct lf_ynode *labels = lf_ymap_get(e, "labels");
		char lpath[300];
		snprintf(lpath, sizeof(lpath), "%s.labels", sub);
		if (labels && labels->kind != LF_Y_NULL) {
			if (labels->kind != LF_Y_MAP) {
				lf_labels_free(&group);
				return lf_y_err(err, labels, lpath,
				                "must be a map of label names to values");
			}
			for (size_t k = 0; k < labels->n; k++) {
				const struct lf_ynode *key = labels->pairs[k].key;
				const struct lf_ynode *val = labels->pairs[k].value;
				if (!lf_label_name_valid(key->str, key->str_len)) {
					lf_labels_free(&group);
					return lf_y_err(err, key, lpath,
					                "invalid label name \"%s\"", key->str);
				}
				if (val->kind != LF_Y_SCALAR && val->kind != LF_Y_NULL) {
					lf_labels_free(&group);
					return lf_y_err(err, val, lpath,
					                "label \"%s\": value must be a string",
					                key->str);
				}
				const char *v = val->kind == LF_Y_SCALAR ? val->str : "";
				if (lf_labels_setn(&group, key->str, key->str_len, v,
				                   val->kind == LF_Y_SCALAR ? val->str_len : 0) <
				    0) {
					lf_labels_free(&group);
					return lf_err(err, "%s: out of memory", lpath);
				}
			}
		}
		char **targets = NULL;
		size_t n_targets = 0;
		if (lf_ymap_strlist(e, sub, "targets", &targets, &n_targets, err) < 0) {
			lf_labels_free(&group);
			return -1;
		}
		int rc = 0;
		if (n_targets == 0)
			rc = push_target(out, &group, "localhost", err);
		for (size_t t = 0; t < n_targets && rc == 0; t++)
			rc = push_target(out, &group, targets[t], err);
		if (targets)
			lf_strv_free(targets);
		lf_labels_free(&group);
		if (rc < 0)
			return -1;
	}
	return 0;
}

void lf_static_targets_free(struct lf_static_targets *t)
{
	for (size_t i = 0; i < t->n; i++)
		lf_labels_free(&t->v[i]);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}
