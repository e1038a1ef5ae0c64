/* labels.h — a label set: the identity of a log stream.
 *
 * A set is kept sorted by name with unique names, so equal sets have equal
 * renderings and hashes. Each slot owns its name/value buffers and keeps them
 * across lf_labels_clear(), so copying a target's labels into a per-line
 * entry does not allocate once the slots are warm (hot-path rule).
 *
 * Pointers returned by lf_labels_get() stay valid until the next change of
 * that set. A zero-initialised struct is a valid empty set.
 */
#ifndef LF_LABELS_H
#define LF_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

/* name and value are NUL-terminated; name_len/value_len are their strlen,
 * kept by every function here so that lookups, copies, comparisons and
 * hashing need no strlen (hot path). A name or value given with an embedded
 * NUL is stored up to that NUL, as a C-string reader would see it. */
struct lf_label {
	char *name;
	char *value;
	size_t name_cap;
	size_t value_cap;
	size_t name_len;
	size_t value_len;
};

struct lf_labels {
	struct lf_label *v;
	size_t n;   /* labels in use */
	size_t cap; /* slots allocated (slots >= n keep their buffers) */
};

#define LF_LABELS_INIT                                                                             \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

void lf_labels_free(struct lf_labels *ls);
void lf_labels_clear(struct lf_labels *ls); /* n = 0, buffers kept */

/* Sets name=value, inserting in sorted position or replacing. 0 / -1 (ENOMEM). */
int lf_labels_set(struct lf_labels *ls, const char *name, const char *value);
int lf_labels_setn(struct lf_labels *ls, const char *name, size_t name_len, const char *value,
                   size_t value_len);
/* Returns the value, or NULL when absent. */
const char *lf_labels_get(const struct lf_labels *ls, const char *name);
const char *lf_labels_getn(const struct lf_labels *ls, const char *name, size_t name_len);
/* Returns the label (value and value_len), or NULL when absent. */
const struct lf_label *lf_labels_find(const struct lf_labels *ls, const char *name,
                                      size_t name_len);
/* Removes name. Returns 1 if it was there, 0 if not. */
int lf_labels_del(struct lf_labels *ls, const char *name);
/* dst := src (dst's buffers reused). 0 / -1. */
int lf_labels_copy(struct lf_labels *dst, const struct lf_labels *src);
/* dst gains every label of src that dst does not have (merge, dst wins)
 * or, with overwrite, every label of src replaces dst's. */
int lf_labels_merge(struct lf_labels *dst, const struct lf_labels *src, bool overwrite);

int lf_labels_cmp(const struct lf_labels *a, const struct lf_labels *b);
bool lf_labels_equal(const struct lf_labels *a, const struct lf_labels *b);
/* 64-bit hash of the sorted set (stable across runs and processes). */
uint64_t lf_labels_hash(const struct lf_labels *ls);

/* Appends the Prometheus text form `{a="b", c="d"}` (values Go-quoted), the
 * form Loki's push API and Promtail's dry-run use. An empty set is `{}`. */
int lf_labels_render(const struct lf_labels *ls, struct lf_buf *out);
/* Parses the text form (`{a="b",c="d"}`, spaces allowed, escapes \" \\ \n).
 * Fails with a message naming the position on malformed input, on an invalid
 * label name, and on duplicate names (message names the label). */
int lf_labels_parse(const char *s, size_t len, struct lf_labels *out, struct lf_error *err);

/* Prometheus label name rule [a-zA-Z_][a-zA-Z0-9_]*. */
bool lf_label_name_valid(const char *name, size_t len);

#endif
