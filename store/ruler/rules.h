/* rules.h — Loki/Prometheus rule files: parsing, validation, the local
 * store's layout, and rendering back as YAML (reference 5.2).
 *
 * Owns the rule model (struct lf_rule_group / lf_rule) that the evaluator
 * (eval.h) and the API (api_rules.h) borrow. A rule file is
 *   groups:
 *     - name: g
 *       interval: 1m
 *       limit: 0
 *       rules:
 *         - alert: HighErrors            (or record: name)
 *           expr: sum(rate({app="x"} |= "error" [1m])) > 1
 *           for: 5m
 *           keep_firing_for: 1m
 *           labels: {severity: page}
 *           annotations: {summary: "{{ $labels.app }} at {{ $value }}"}
 * Unknown keys are errors (Loki decodes with KnownFields). Every expr must
 * parse as a LogQL metric query (store/logql/mparse.h); label and
 * annotation templates must parse (rtemplate.h). Errors name the file,
 * group, rule and problem with Loki's wording.
 *
 * Bounds (not in Loki): a rule file larger than max_file_size bytes and a
 * tenant with more than max_rules rules are refused with an error.
 */
#ifndef LF_STORE_RULER_RULES_H
#define LF_STORE_RULER_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "labels.h"

struct lf_rule {
	char *name; /* alert or record */
	bool alerting;
	char *expr;
	int64_t for_ns;
	int64_t keep_firing_for;
	struct lf_labels labels;
	struct lf_labels annotations;
};

struct lf_rule_group {
	char *ns; /* namespace: the file name (with its extension) */
	char *name;
	int64_t interval; /* ns; 0 = the ruler's evaluation_interval */
	int64_t limit;
	struct lf_rule *rules;
	size_t n_rules;
};

struct lf_rule_groups {
	struct lf_rule_group *v;
	size_t n, cap;
};

struct lf_rule_limits {
	int64_t max_file_size; /* bytes; <= 0 = none */
	int64_t max_rules;     /* per tenant; <= 0 = none */
};

/* Parses one rule file's text (`groups:` document) as namespace ns and
 * appends its groups to out. name is the file name used in messages. On
 * error nothing is appended. */
int lf_rules_parse(const char *text, size_t len, const char *name, const char *ns,
                   struct lf_rule_groups *out, struct lf_error *err);
/* Parses a single group (the body of POST /loki/api/v1/rules/{ns}). */
int lf_rules_parse_group(const char *text, size_t len, const char *ns, struct lf_rule_group *out,
                         struct lf_error *err);
/* Loads every regular file of dir/tenant (a namespace each; sorted by
 * name). On any error nothing is returned (Loki fails the whole poll). */
int lf_rules_load_tenant(const char *dir, const char *tenant, const struct lf_rule_limits *lim,
                         struct lf_rule_groups *out, struct lf_error *err);
/* Lists the tenant directories under dir (sorted; NULL-terminated, free
 * with lf_strv_free). A missing dir gives an empty list. */
int lf_rules_list_tenants(const char *dir, char ***out, struct lf_error *err);

void lf_rule_group_free(struct lf_rule_group *g);
void lf_rule_groups_free(struct lf_rule_groups *gs);
/* Deep copy. 0 / -1 ENOMEM. */
int lf_rule_group_copy(struct lf_rule_group *dst, const struct lf_rule_group *src);
/* true when both describe the same rules (for keeping state across polls). */
bool lf_rule_group_equal(const struct lf_rule_group *a, const struct lf_rule_group *b);

/* Renders a group as YAML (4-space indent as Loki's yaml.v3), each line
 * prefixed by indent spaces; first_dash starts it as a list item. */
void lf_rule_group_render(const struct lf_rule_group *g, int indent, bool first_dash,
                          struct lf_buf *o);
/* Writes a namespace file (groups: ...) atomically: dir/tenant/ns. */
int lf_rules_write_ns(const char *dir, const char *tenant, const char *ns,
                      const struct lf_rule_group *groups, size_t n, struct lf_error *err);

#endif
