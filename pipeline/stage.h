/* stage.h — the internal stage interface of the pipeline (not for the agent).
 *
 * Every stage kind (stage_<kind>.c) exports one `const struct lf_stage_ops`
 * (a vtable: create from YAML, process, tick, flush, free). stages.c builds
 * lists of stages from `pipeline_stages` and runs entries through them.
 *
 * Running: an entry is pushed through a list with lf_chain_run(). A stage's
 * process() returns EMITTED (go on with the next stage), DROPPED or HELD.
 * Stages that hold entries (cri partials, multiline) release them later by
 * calling lf_chain_run(rest, held) themselves, where `rest` is the chain
 * that starts right after them; nested pipelines (match, docker) run their
 * own list with a chain whose parent is `rest`, so whatever leaves the
 * nested list continues in the outer one. No entry is ever copied except
 * when a stage holds it.
 *
 * Helpers shared by several stages live here too: Promtail's "extracted map
 * starts with the labels" rule, drop/error counters, Go-compatible number
 * formatting, UTF-8 validation and a per-stream hash map.
 */
#ifndef LF_STAGE_H
#define LF_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/error.h"
#include "../common/labels.h"
#include "../common/metrics.h"
#include "../common/utf8.h"
#include "../common/yamlcfg.h"
#include "pipeline.h"

struct lf_stage_list;

/* Shared by all stages of one pipeline (incl. nested ones). */
struct lf_pipe_shared {
	const char *job_name;            /* owned copy */
	struct lf_metrics *metrics;      /* may be NULL */
	struct lf_metric_family *drops;  /* logentry_dropped_lines_total{reason} */
	struct lf_metric_family *errors; /* logferry_pipeline_errors_total{job,stage,reason} */
	/* Clock for wait times (multiline max_wait_time); the same clock the
	 * caller passes to lf_pipeline_tick. Tests replace it. */
	int64_t (*clock)(void);
	uint64_t runtime_errors; /* total, for tests */
};

/* Load-time context handed to create(). */
struct lf_stage_ctx {
	struct lf_pipe_shared *sh;
	const char *path; /* "pipeline_stages[2].regex": the YAML path of the stage */
	/* The stage is the first of the top-level pipeline: the extracted map
	 * was just initialised from the labels, so a nested pipeline (cri,
	 * docker) need not do it again. */
	bool at_start;
};

/* Continuation: the stages still to run. */
struct lf_chain {
	const struct lf_stage_list *list;
	size_t from;
	const struct lf_chain *parent; /* where to go after the list ends */
	lf_pipeline_emit_fn emit;      /* used when parent == NULL */
	void *ctx;
};

/* A set of extracted-map keys (or "all"), for the liveness analysis that
 * lets hot stages skip writing extracted values no later stage reads: the
 * pipeline's behaviour and output are the same, only the final extracted
 * map (which nothing downstream of the pipeline sees) lacks dead keys. */
struct lf_keyset {
	bool all;
	char **keys;
	size_t n;
};
void lf_keyset_add(struct lf_keyset *ks, const char *key);
void lf_keyset_union(struct lf_keyset *dst, const struct lf_keyset *src);
bool lf_keyset_has(const struct lf_keyset *ks, const char *key);
void lf_keyset_free(struct lf_keyset *ks);
/* Adds what list's stages read (for nested lists: match). */
void lf_stage_list_reads(const struct lf_stage_list *l, struct lf_keyset *ks);

/* process() may also return this: the stage already pushed e through the
 * rest of the chain itself (nested pipelines); lf_chain_run reports it to
 * its caller as EMITTED. */
#define LF_PIPE_CONSUMED ((enum lf_pipe_result)3)

struct lf_stage_ops {
	const char *kind;
	/* Reads cfg (the stage's value node, may be NULL-kind), fills *state.
	 * Errors via lf_y_err with ctx->path. */
	int (*create)(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
	              struct lf_error *err);
	/* rest: the chain after this stage (for releasing held entries). */
	enum lf_pipe_result (*process)(void *state, struct lf_entry *e,
	                               const struct lf_chain *rest);
	void (*tick)(void *state, int64_t now_ns, const struct lf_chain *rest); /* may be NULL */
	void (*flush)(void *state, const struct lf_chain *rest);                /* may be NULL */
	void (*free)(void *state);
	/* Adds the extracted keys process() may read to ks; NULL = any key. */
	void (*reads)(void *state, struct lf_keyset *ks);
	/* Told (top-level stages only) which keys later stages may read. */
	void (*set_live)(void *state, const struct lf_keyset *live_after);
};

struct lf_stage {
	const struct lf_stage_ops *ops;
	void *state;
};

struct lf_stage_list {
	struct lf_stage *v;
	size_t n;
};

/* Builds a list from a sequence node (NULL/null = empty). path_prefix is
 * e.g. "pipeline_stages" or "pipeline_stages[3].match.stages". */
int lf_stage_list_build(const struct lf_ynode *seq, const char *path_prefix,
                        struct lf_pipe_shared *sh, struct lf_stage_list *out, struct lf_error *err);
/* Builds a list from YAML text (used by docker/cri composites). */
int lf_stage_list_build_yaml(const char *yaml, const char *path_prefix, struct lf_pipe_shared *sh,
                             struct lf_stage_list *out, struct lf_error *err);
void lf_stage_list_free(struct lf_stage_list *l);
void lf_stage_list_tick(const struct lf_stage_list *l, int64_t now_ns,
                        const struct lf_chain *after);
void lf_stage_list_flush(const struct lf_stage_list *l, const struct lf_chain *after);

/* Runs e through c->list from c->from, then through the parents, then
 * emit(). Returns what happened to e. */
enum lf_pipe_result lf_chain_run(const struct lf_chain *c, struct lf_entry *e);

/* Runs a nested pipeline: copies labels into extracted (Promtail's
 * Pipeline.Run does this on entry to every pipeline) and runs e through
 * list, continuing with `rest` afterwards. Returns CONSUMED when e went all
 * the way (the caller's process() returns that), else DROPPED/HELD. */
enum lf_pipe_result lf_stage_run_nested(const struct lf_stage_list *list, struct lf_entry *e,
                                        const struct lf_chain *rest);
/* Same without the extracted-map initialisation (caller knows it is fresh). */
enum lf_pipe_result lf_stage_run_list(const struct lf_stage_list *list, struct lf_entry *e,
                                      const struct lf_chain *rest);

/* extracted += labels (labels win), Promtail's pipeline entry rule. */
int lf_extracted_init(struct lf_entry *e);

/* Counters. */
void lf_stage_count_drop(struct lf_pipe_shared *sh, const char *reason);
void lf_stage_count_error(struct lf_pipe_shared *sh, const char *stage, const char *reason);
/* The input of a parsing stage (regex, logfmt, json): with `source`, that
 * extracted value copied into `scratch` (setting extracted values may move
 * it); without, the line itself. Returns false when the source is missing,
 * after counting it as a missing_source error of `stage`: the stage then
 * leaves the entry as it is, as Promtail does. */
bool lf_stage_input(struct lf_pipe_shared *sh, const char *stage, const char *source,
                    const struct lf_entry *e, struct lf_buf *scratch, const char **in, size_t *n);

/* Copies every field of src except line, origin and seq_first into dst
 * (used when a held entry absorbs a newer part). 0 / -1. */
int lf_entry_copy_meta(struct lf_entry *dst, const struct lf_entry *src);

/* Go's time.Parse(time.RFC3339Nano, s) on the common shapes, fast: 'T'
 * and 'Z' as Go requires them (timeutil's parser also takes 't', ' ',
 * 'z'). Returns -1 when s is not one of them; callers then ask gotime.
 * Consecutive lines mostly share the date and time up to the second, so the
 * caller-owned cache keeps the last "YYYY-MM-DDTHH:MM:SS" and its epoch
 * second: a hit only parses the fraction and the zone. */
struct lf_rfc3339_cache {
	char prefix[19];
	bool valid;
	int64_t secs;
};
int lf_parse_rfc3339_fast(struct lf_rfc3339_cache *c, const char *s, size_t n, int64_t *out_ns);

/* Go strconv.FormatFloat(v, 'f', -1, 64): shortest digits that round-trip,
 * never an exponent. Appends to out. */
int lf_fmt_go_float(struct lf_buf *out, double v);
/* Go strconv.FormatFloat(v, 'g', -1, 64), the Prometheus text format. */
int lf_fmt_go_float_g(struct lf_buf *out, double v);
/* Go encoding/json float formatting ('f' or 'e' like json.Marshal). */
int lf_fmt_json_float(struct lf_buf *out, double v);
/* Appends s as a Go json.Marshal string (HTML-escaped: <, >, & as \u003c
 * etc., U+2028/2029 escaped, invalid UTF-8 as \ufffd). */
int lf_json_append_string(struct lf_buf *out, const char *s, size_t n);

/* Go time.ParseDuration-like parse of a string to float seconds or a
 * float (metrics getFloat). 0 ok / -1. */
int lf_parse_go_float(const char *s, double *out);

/* ---- per-stream map: label set -> caller state, with LRU eviction ---- */
struct lf_smap_slot {
	uint64_t hash;
	struct lf_labels key;
	void *val;
	int64_t ival;  /* for small values (timestamps) */
	uint64_t used; /* LRU stamp */
	size_t order;  /* insertion order stamp */
	bool live;
};
struct lf_smap {
	struct lf_smap_slot *v; /* open addressing, tombstone-free (backshift) */
	size_t cap, n, max;     /* max: LRU capacity (0 = unbounded) */
	uint64_t clock;
	size_t order;
	void (*free_val)(void *val);
};
void lf_smap_init(struct lf_smap *m, size_t max, void (*free_val)(void *));
void lf_smap_free(struct lf_smap *m);
/* Finds the slot of labels (hash = lf_labels_hash(labels)), or NULL. */
struct lf_smap_slot *lf_smap_get(struct lf_smap *m, const struct lf_labels *labels, uint64_t hash);
/* Finds or inserts (val NULL on insert; evicts the least recently used slot
 * when full). NULL on ENOMEM. *created tells which. */
struct lf_smap_slot *lf_smap_put(struct lf_smap *m, const struct lf_labels *labels, uint64_t hash,
                                 bool *created);
void lf_smap_del(struct lf_smap *m, struct lf_smap_slot *s);
/* Live slots sorted by insertion order (caller frees the array). */
struct lf_smap_slot **lf_smap_ordered(struct lf_smap *m, size_t *n);

/* Timestamp-fudge memory shared by the timestamp stage and cri/docker:
 * last good timestamp per label set (Promtail keeps 10000 in an LRU). */
struct lf_ts_fudge {
	struct lf_smap map;
	/* The most recent label set and its last good timestamp, kept out of
	 * the map: consecutive lines mostly come from one stream, and comparing
	 * labels is cheaper than hashing them. Written back to the map when
	 * another label set comes. */
	struct lf_labels last;
	int64_t last_ts;
	bool have_last;
	/* A mark (common/labels.h) of a caller's set known to equal `last`:
	 * while the caller's set still has it, no comparison is needed. */
	struct lf_labels_mark last_mark;
};
void lf_ts_fudge_init(struct lf_ts_fudge *f);
void lf_ts_fudge_free(struct lf_ts_fudge *f);
void lf_ts_fudge_good(struct lf_ts_fudge *f, const struct lf_labels *labels, int64_t ts);
/* On failure: ts := last + 1ns (and remember it) when a last one exists. */
void lf_ts_fudge_fail(struct lf_ts_fudge *f, const struct lf_labels *labels, int64_t *ts);

/* A YAML map of name -> optional string (labels, static_labels,
 * structured_metadata, json expressions, logfmt mapping). Null values give
 * NULL entries. Frees with lf_strmap_free. */
struct lf_strmap {
	char **keys;
	char **vals;
	size_t n;
};
int lf_strmap_read(const struct lf_ynode *map, const char *path, struct lf_strmap *out,
                   struct lf_error *err);
void lf_strmap_free(struct lf_strmap *m);

/* Reads `source` of a parser stage: may be absent, not empty ("empty
 * source"). *out NULL when absent. */
int lf_stage_source(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, char **out,
                    struct lf_error *err);
/* labels / structured_metadata config: {name: source}, names checked,
 * empty sources default to the name. */
int lf_labels_cfg_read(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, struct lf_strmap *m,
                       struct lf_error *err);

/* Compiles the regex under `key` of cfg (Go RE2 syntax via common/regex.h);
 * errors carry the YAML position, the stage path and pcre2's message. A
 * missing key leaves *out NULL and returns 0. */
struct lf_regex;
int lf_stage_compile_regex(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, const char *key,
                           unsigned flags, struct lf_regex **out, struct lf_error *err);

/* Looks name (len bytes, no NUL among them; name[0] must be readable even
 * when len is 0, e.g. a C string) up in a small label set by a linear scan
 * that compares the stored name lengths first, then the bytes: for the ~10
 * entries of a per-line map this beats the binary search of
 * lf_labels_find. NULL when absent. */
static inline const struct lf_label *lf_small_find(const struct lf_labels *ls, const char *name,
                                                   size_t len)
{
	for (size_t i = 0; i < ls->n; i++) {
		const struct lf_label *l = &ls->v[i];
		if (l->name_len == len && l->name[0] == name[0] && memcmp(l->name, name, len) == 0)
			return l;
	}
	return NULL;
}

/* The value of name in a small label set, or NULL (see lf_small_find). */
static inline const char *lf_small_get(const struct lf_labels *ls, const char *name, size_t len)
{
	const struct lf_label *l = lf_small_find(ls, name, len);
	return l ? l->value : NULL;
}

/* The extracted value of key, or NULL. */
static inline const char *lf_extracted_get(const struct lf_entry *e, const char *key)
{
	return lf_small_get(&e->extracted, key, strlen(key));
}

/* ---- per-line helpers of the json, labels, structured_metadata and
 * timestamp stages: short names and values, handled without a call ---- */

/* a[0..n) == b[0..n). From 4 bytes on, two overlapping loads per 8 (or 4)
 * bytes. */
static inline bool lf_bytes_eq(const char *a, const char *b, size_t n)
{
	if (n >= 8) {
		uint64_t x, y;
		for (size_t i = 0; i + 8 < n; i += 8) {
			memcpy(&x, a + i, 8);
			memcpy(&y, b + i, 8);
			if (x != y)
				return false;
		}
		memcpy(&x, a + n - 8, 8);
		memcpy(&y, b + n - 8, 8);
		return x == y;
	}
	if (n >= 4) {
		uint32_t x1, y1, x2, y2;
		memcpy(&x1, a, 4);
		memcpy(&y1, b, 4);
		memcpy(&x2, a + n - 4, 4);
		memcpy(&y2, b + n - 4, 4);
		return ((x1 ^ y1) | (x2 ^ y2)) == 0;
	}
	if (n >= 2) {
		uint16_t x1, y1;
		memcpy(&x1, a, 2);
		memcpy(&y1, b, 2);
		return x1 == y1 && a[n - 1] == b[n - 1];
	}
	return n == 0 || a[0] == b[0];
}

/* memcpy(d, s, n): overlapping loads and stores that stay inside [0, n). */
static inline void lf_copy_short(char *d, const char *s, size_t n)
{
	if (n > 16) {
		memcpy(d, s, n);
	} else if (n >= 8) {
		uint64_t a, b;
		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else if (n >= 4) {
		uint32_t a, b;
		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		memcpy(d, &a, 4);
		memcpy(d + n - 4, &b, 4);
	} else {
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	}
}

/* Byte order of two names given with their lengths (strcmp's order). */
static inline int lf_name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t m = alen < blen ? alen : blen;
	for (size_t i = 0; i < m; i++)
		if (a[i] != b[i])
			return (unsigned char)a[i] - (unsigned char)b[i];
	return (alen > blen) - (alen < blen);
}

/* lf_small_find(ls, name, len), trying slot *hint first (where name was on
 * the last line: per-line maps mostly keep their shape); updates *hint. */
static inline const struct lf_label *
lf_small_find_hinted(const struct lf_labels *ls, const char *name, size_t len, size_t *hint)
{
	size_t h = *hint;
	if (h < ls->n && ls->v[h].name_len == len && lf_bytes_eq(ls->v[h].name, name, len))
		return &ls->v[h];
	const struct lf_label *l = lf_small_find(ls, name, len);
	if (l)
		*hint = (size_t)(l - ls->v);
	return l;
}

/* lf_labels_setn(ls, name, nlen, val, vlen) where name and val contain no
 * NUL. When name sorts after every name in the set (after_last: the caller
 * knows it does) and the spare slot at ls->n already has room (the usual
 * case for a per-line set cleared and filled in sorted order: the slot kept
 * last line's buffers), the label is appended in place: no search, no
 * shifting, and the name is not copied when the slot already holds it.
 * Otherwise lf_labels_setn does it. Returns 1 after an append in place, 0
 * after lf_labels_setn, -1 on ENOMEM. Appending in place follows labels.h's
 * rule for code outside labels.c: write the spare slot at n, then n++ (the
 * set then counts as changed). */
static inline int lf_labels_put_sorted(struct lf_labels *ls, const char *name, size_t nlen,
                                       const char *val, size_t vlen, bool after_last)
{
	size_t n = ls->n;
	if (n < ls->cap &&
	    (after_last || n == 0 ||
	     lf_name_cmp(ls->v[n - 1].name, ls->v[n - 1].name_len, name, nlen) < 0)) {
		struct lf_label *d = &ls->v[n];
		if (d->name_cap > nlen && d->value_cap > vlen) {
			if (d->name_len != nlen || !lf_bytes_eq(d->name, name, nlen)) {
				memcpy(d->name, name, nlen);
				d->name[nlen] = '\0';
				d->name_len = nlen;
			}
			lf_copy_short(d->value, val, vlen);
			d->value[vlen] = '\0';
			d->value_len = vlen;
			ls->n = n + 1;
			return 1;
		}
	}
	return lf_labels_setn(ls, name, nlen, val, vlen) < 0 ? -1 : 0;
}

/* Stage vtables. */
extern const struct lf_stage_ops lf_stage_cri, lf_stage_docker, lf_stage_regex, lf_stage_json,
        lf_stage_logfmt, lf_stage_replace, lf_stage_multiline, lf_stage_decolorize,
        lf_stage_template, lf_stage_pack, lf_stage_static_labels, lf_stage_timestamp,
        lf_stage_output, lf_stage_labels, lf_stage_labelallow, lf_stage_labeldrop,
        lf_stage_structured_metadata, lf_stage_tenant, lf_stage_metrics, lf_stage_match,
        lf_stage_drop, lf_stage_limit, lf_stage_sampling;

#endif
