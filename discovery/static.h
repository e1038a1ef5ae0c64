/* static.h — `static_configs` of a scrape config: each entry's `targets`
 * and `labels` turned into label sets before relabeling, as Promtail's file
 * target manager builds them (Prometheus target groups): one set per entry
 * of `targets` (`__address__=<target>` plus the entry's labels). An entry
 * without `targets` gets the single target "localhost", as Promtail does.
 */
#ifndef LF_STATIC_H
#define LF_STATIC_H

#include <stddef.h>

#include "../common/error.h"
#include "../common/labels.h"
#include "../common/yamlcfg.h"

struct lf_static_targets {
	struct lf_labels *v; /* owned */
	size_t n;
};

/* Parses a `static_configs` sequence node (NULL = none). `path` names it in
 * errors ("scrape_configs[0].static_configs"). Unknown keys, non-scalar
 * values and invalid label names are errors with line:col. Appends to out. */
int lf_static_parse(const struct lf_ynode *seq, const char *path, struct lf_static_targets *out,
                    struct lf_error *err);
void lf_static_targets_free(struct lf_static_targets *t);

#endif
