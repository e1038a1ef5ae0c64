/* labels.h — a label set: the identity of a log stream.
 *
 * A set is kept sorted by name with unique names, so equal sets have equal
 * renderings and hashes. Each slot owns its name/value buffers and keeps them
 * across lf_labels_clear(), so copying a target's labels into a per-line
 * entry does not allocate once the slots are warm (hot-path rule).
 *
 * Pointers returned by lf_labels_get() stay valid until the next change of
 * that set. A zero-initialised struct is a valid empty set.
 *
 * Sets track their changes (id, version: see struct lf_labels), so per-line
 * code can tell "the same labels as last time" without comparing them. The
 * one global is the source of set ids in labels.c: an atomic counter, drawn
 * from once per set lifetime, so that ids never repeat across sets and
 * threads.
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

/* What a set held at one moment, for cheap "has it changed?" checks (see
 * lf_labels_mark). id 0 means "unknown": such a mark matches nothing. */
struct lf_labels_mark {
	uint64_t id;  /* the set's id */
	uint64_t ver; /* its version */
	size_t n;     /* its label count */
};

struct lf_labels {
	struct lf_label *v;
	size_t n;   /* labels in use */
	size_t cap; /* slots allocated (slots >= n keep their buffers) */

	/* Change tracking, kept by the functions below (read-only for others).
	 * Per-line code copies a target's labels into a reused entry and then
	 * asks "is this the label set of the previous line?" (timestamp fudge,
	 * pipeline start): with these, both are a few compares instead of a
	 * walk over every name and value.
	 *   id   unique among all sets of the process (drawn at the set's
	 *        first change; 0 until then; lf_labels_free resets it);
	 *   ver  bumped by every change to the bytes or the order of any slot,
	 *        also the spare ones at n and beyond. A write that leaves the
	 *        bytes as they were (the usual per-line copy into a reused set)
	 *        does not bump it. So at one (id, ver), slots [0, n) hold the
	 *        same bytes for a given n: lf_labels_clear keeps ver;
	 *   n_seen  n as these functions last left it. Code outside labels.c
	 *        that appends in place (writes the spare slot at n, then n++,
	 *        as stage_structured_metadata.c does) makes n differ from
	 *        n_seen: the set then counts as changed (no valid mark) until a
	 *        function here bumps ver. Any other direct write to a slot must
	 *        be followed by lf_labels_touch(). */
	uint64_t id;
	uint64_t ver;
	size_t n_seen;
	/* lf_labels_copy's memo: while ver == copy_self_ver, slots
	 * [0, copy_src.n) equal those of the set marked copy_src. A copy from
	 * an unchanged source into an unchanged destination then only sets n. */
	struct lf_labels_mark copy_src;
	uint64_t copy_self_ver;
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

/* ---- change tracking (see the fields of struct lf_labels) ---- */

/* A mark of ls as it is now: equal valid marks mean equal label sets (the
 * same names and values), so a caller that remembers the mark of a set it
 * has compared (or copied) can later skip the comparison while the mark
 * still matches. The mark is invalid (id 0) when ls was never changed by
 * these functions or was appended to from outside since. */
static inline struct lf_labels_mark lf_labels_mark(const struct lf_labels *ls)
{
	struct lf_labels_mark m = {ls->n == ls->n_seen ? ls->id : 0, ls->ver, ls->n};
	return m;
}

/* True when m is a valid mark taken from ls and ls holds the same labels
 * as then. False means "unknown", not "different": compare to find out. */
static inline bool lf_labels_has_mark(const struct lf_labels *ls, const struct lf_labels_mark *m)
{
	return m->id != 0 && ls->id == m->id && ls->ver == m->ver && ls->n == m->n &&
	       ls->n_seen == ls->n;
}

/* Records that code outside labels.c wrote into ls's slots directly: every
 * earlier mark of ls stops matching. */
void lf_labels_touch(struct lf_labels *ls);

/* lf_labels_setn for a name and value the caller knows contain no NUL (no
 * scan for one). Appending a name that sorts after every present name
 * into a spare slot that already holds it (a set refilled per line) costs
 * a compare and no copy. 0 / -1 (ENOMEM). */
int lf_labels_setn_nonul(struct lf_labels *ls, const char *name, size_t name_len, const char *value,
                         size_t value_len);

/* Prometheus label name rule [a-zA-Z_][a-zA-Z0-9_]*. */
bool lf_label_name_valid(const char *name, size_t len);

#endif
