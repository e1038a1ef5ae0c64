/* relabel.h — Prometheus relabel_configs with the semantics Promtail
 * vendors (Prometheus model/relabel), used by discovery for
 * `relabel_configs` of scrape configs.
 *
 * Each rule: source_labels (joined by `separator`, default ";", a missing
 * label counts as ""), regex (default "(.*)", fully anchored as
 * ^(?s:regex)$, Go RE2 syntax via common/regex.h), modulus, target_label,
 * replacement (default "$1", Go Regexp.Expand: $1 ${1} $name ${name}, and
 * `$1x` names group "1x" — write `${1}x`), action (default replace; name is
 * case-insensitive):
 *   replace    on a match: target = Expand(target_label), value =
 *              Expand(replacement); an empty value deletes the target; a
 *              target that is not a valid label name is a no-op; no match =
 *              no-op
 *   keep/drop  drop the target unless / if regex matches the joined value
 *   keepequal/dropequal  keep / drop if joined value == value of target_label
 *   hashmod    target = BigEndianUint64(md5(value)[8:16]) % modulus
 *   labelmap   every label whose name matches regex is copied to
 *              ReplaceAll(name, replacement) (names taken from a snapshot of
 *              the set before the rule)
 *   labeldrop / labelkeep  delete labels whose name matches / does not match
 *   lowercase / uppercase  target = lower/upper(value), Unicode simple case
 *              mapping as Go's strings.ToLower/ToUpper (lf_str_lower)
 * Setting a label to "" deletes it (Prometheus labels.Builder rule).
 *
 * Load-time validation mirrors Prometheus' Config.Validate, with messages
 * prefixed by "<file>:<line>:<col>: <path>[i]: ", e.g.
 *   config.yaml:14:9: scrape_configs[0].relabel_configs[2]:
 *     relabel configuration for hashmod requires non-zero modulus
 *
 * Thread safety: a struct lf_relabel is immutable after lf_relabel_new and
 * may be shared. lf_relabel_apply keeps its scratch (joined value,
 * expansion buffers, label snapshot, regex match block) in a per-thread
 * block (pthread key, freed at thread exit) so that the API can take a
 * const rule set and still not allocate per call once warm.
 */
#ifndef LF_RELABEL_H
#define LF_RELABEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/error.h"
#include "../common/labels.h"
#include "../common/yamlcfg.h"

struct lf_relabel; /* a list of rules, possibly empty */

/* Builds the rule list from a `relabel_configs` sequence node (NULL or a
 * NULL-kind node = no rules, which keeps every target unchanged). `path`
 * names the node in errors ("scrape_configs[0].relabel_configs"). Unknown
 * keys, wrong types, invalid regexes, unknown actions and Prometheus'
 * validation failures are errors with the YAML line:col. */
int lf_relabel_new(const struct lf_ynode *relabel_configs_seq, const char *path,
                   struct lf_relabel **out, struct lf_error *err);
void lf_relabel_free(struct lf_relabel *r); /* NULL ok */

/* Number of rules. */
size_t lf_relabel_count(const struct lf_relabel *r);

/* Applies the rules in order to ls, in place. Returns false when a rule
 * dropped the target (ls is then in an unspecified state), true otherwise.
 * r may be NULL (no rules). A memory failure drops the target (returns
 * false) rather than apply half the rules. */
bool lf_relabel_apply(const struct lf_relabel *r, struct lf_labels *ls);

/* The same, and when a rule dropped the target, *dropped_by is its index in
 * relabel_configs (SIZE_MAX when the target was kept or memory ran out).
 * dropped_by may be NULL. For the agent's /service-discovery page. */
bool lf_relabel_apply_rule(const struct lf_relabel *r, struct lf_labels *ls, size_t *dropped_by);

#endif
