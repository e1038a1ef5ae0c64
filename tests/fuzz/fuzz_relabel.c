/* fuzz_relabel.c — Prometheus relabel_configs (scrape configs and the
 * discovery meta labels of every pod the kubelet lists).
 *
 * Input: byte 0 chooses the rules. Below 0xF0 a fixed rule list (built once
 * and reused); from 0xF0 on, the bytes up to the next NUL are the
 * `relabel_configs` YAML sequence itself. The rest is the label set, one
 * `name=value` per line (names made valid: other bytes become '_'; values
 * any bytes but NUL and newline).
 * Properties: a rule list either builds or fails with a message; when
 * the set is kept its names stay unique and non-empty (not necessarily
 * valid: Prometheus' labelmap does not check its results), and applying the
 * same rules to a copy gives the same result (no hidden state).
 */
#include <stdbool.h>

#include "fuzz.h"

#include "../../common/labels.h"
#include "../../common/yamlcfg.h"
#include "../../pipeline/relabel.h"

static const char *const rules[] = {
        /* Promtail's kubernetes-pods style */
        "- source_labels: [__meta_kubernetes_pod_label_app]\n  target_label: app\n"
        "- source_labels: [__meta_kubernetes_namespace, __meta_kubernetes_pod_name]\n"
        "  separator: /\n  target_label: job\n"
        "- action: labelmap\n  regex: __meta_kubernetes_pod_label_(.+)\n"
        "- action: replace\n  source_labels: [__meta_kubernetes_pod_uid, "
        "__meta_kubernetes_pod_container_name]\n  separator: /\n"
        "  replacement: /var/log/pods/*$1/*.log\n  target_label: __path__\n"
        "- action: labeldrop\n  regex: __meta_.*\n",
        /* every action */
        "- {action: keep, source_labels: [a], regex: 'x.*'}\n"
        "- {action: drop, source_labels: [b], regex: '(y|z)+'}\n",
        "- {action: hashmod, source_labels: [a, b], modulus: 7, target_label: shard}\n"
        "- {action: lowercase, source_labels: [a], target_label: lo}\n"
        "- {action: uppercase, source_labels: [b], target_label: up}\n"
        "- {action: keepequal, source_labels: [a], target_label: c}\n",
        "- {action: dropequal, source_labels: [a], target_label: b}\n"
        "- {action: labelkeep, regex: '[a-c]|lo|up|shard'}\n",
        "- {source_labels: [a], regex: '(.*)=(.*)', target_label: '${1}', replacement: '$2'}\n"
        "- {source_labels: [b], regex: '(?i)(\\w+)', target_label: 'x_$1_y', "
        "replacement: '${1}${2}$0'}\n"
        "- {action: labelmap, regex: '(.)(.*)', replacement: '$2_$1'}\n",
        NULL,
};

static void sanitize_set(struct lf_labels *ls, const uint8_t *p, const uint8_t *end)
{
	char name[128], value[512];
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		const uint8_t *le = nl ? nl : end;
		const uint8_t *eq = memchr(p, '=', (size_t)(le - p));
		size_t nn = 0, vn = 0;
		for (const uint8_t *q = p; q < (eq ? eq : le) && nn < sizeof name - 1; q++) {
			uint8_t c = *q;
			bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			          (nn > 0 && c >= '0' && c <= '9');
			name[nn++] = ok ? (char)c : '_';
		}
		name[nn] = '\0';
		if (eq)
			for (const uint8_t *q = eq + 1; q < le && vn < sizeof value - 1; q++)
				if (*q)
					value[vn++] = (char)*q;
		value[vn] = '\0';
		if (nn)
			FUZZ_CHECK(lf_labels_set(ls, name, value) == 0, "set");
		p = nl ? nl + 1 : end;
	}
}

static void check_set(const struct lf_labels *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		const struct lf_label *l = &ls->v[i];
		FUZZ_CHECK(l->name_len > 0 && strlen(l->name) == l->name_len, "bad name '%s'",
		           l->name);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(ls->v[j].name, l->name) != 0, "label %s twice", l->name);
	}
}

static int build(const char *yaml, struct lf_ydoc **doc, struct lf_relabel **r)
{
	struct lf_error err = {{0}};
	*doc = NULL;
	*r = NULL;
	if (lf_ydoc_load_string(yaml, strlen(yaml), "fuzz.yaml", false, doc, &err) < 0) {
		FUZZ_CHECK(err.msg[0], "YAML load failed without a message");
		return -1;
	}
	if (lf_relabel_new(lf_ydoc_root(*doc), "relabel_configs", r, &err) < 0) {
		FUZZ_CHECK(err.msg[0], "relabel build failed without a message");
		FUZZ_CHECK(*r == NULL, "failed build returned rules");
		lf_ydoc_free(*doc);
		*doc = NULL;
		return -1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lf_relabel *fixed[8];
	static struct lf_ydoc *fixed_doc[8];
	size_t nrules = 0;
	while (rules[nrules])
		nrules++;
	if (size < 1)
		return 0;
	const uint8_t *p = data + 1, *end = data + size;
	struct lf_relabel *r;
	struct lf_ydoc *own_doc = NULL;
	struct lf_relabel *own = NULL;
	if (data[0] < 0xF0) {
		size_t k = data[0] % nrules;
		if (!fixed[k])
			FUZZ_CHECK(build(rules[k], &fixed_doc[k], &fixed[k]) == 0,
			           "fixed rules %zu do not build", k);
		r = fixed[k];
	} else {
		const uint8_t *z = memchr(p, '\0', (size_t)(end - p));
		size_t cn = z ? (size_t)(z - p) : (size_t)(end - p);
		char *y = fuzz_strdup(p, cn);
		int rc = build(y, &own_doc, &own);
		free(y);
		if (rc < 0)
			return 0;
		r = own;
		p = z ? z + 1 : end;
	}

	struct lf_labels a = LF_LABELS_INIT, b = LF_LABELS_INIT;
	sanitize_set(&a, p, end);
	FUZZ_CHECK(lf_labels_copy(&b, &a) == 0, "copy");
	bool ka = lf_relabel_apply(r, &a);
	bool kb = lf_relabel_apply(r, &b);
	FUZZ_CHECK(ka == kb, "same rules, same input: kept %d then %d", ka, kb);
	if (ka) {
		check_set(&a);
		FUZZ_CHECK(lf_labels_equal(&a, &b), "same rules, same input, different labels");
	}
	lf_labels_free(&a);
	lf_labels_free(&b);
	if (own) {
		lf_relabel_free(own);
		lf_ydoc_free(own_doc);
	}
	return 0;
}
