/* yamlcfg.h — YAML configuration documents as a tree that remembers where
 * every node came from, plus typed readers that produce errors naming the
 * key and its line:column.
 *
 * The whole config surface (agent, store, pipeline stages, discovery) reads
 * YAML through this module so that errors look alike:
 *   config.yaml:12:5: clients[0].batchwait: invalid duration "1x"
 *   config.yaml:3:1: unknown key "scrape_config" in top level
 * A document owns all its nodes; free it with lf_ydoc_free() once the values
 * were copied out (every reader below copies into caller-owned memory).
 */
#ifndef LF_YAMLCFG_H
#define LF_YAMLCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum lf_ykind { LF_Y_NULL, LF_Y_SCALAR, LF_Y_SEQ, LF_Y_MAP };

struct lf_ynode;

struct lf_ypair {
	struct lf_ynode *key; /* always a scalar */
	struct lf_ynode *value;
};

struct lf_ynode {
	enum lf_ykind kind;
	int line, col;  /* 1-based position in the source */
	char *str;      /* SCALAR: the text, NUL-terminated */
	size_t str_len; /* SCALAR: length (a scalar may hold NUL via escapes) */
	bool quoted;    /* SCALAR: was single/double quoted or a block scalar */
	size_t n;       /* SEQ: items; MAP: pairs */
	struct lf_ynode **items;
	struct lf_ypair *pairs;
	const char *file; /* document name for messages (owned by the doc) */
};

struct lf_ydoc;

/* Loads a file. With expand_env, ${VAR} and ${VAR:-default} are replaced
 * before parsing (undefined = empty) and `\\` becomes `\`, as Promtail's
 * -config.expand-env does. An empty file yields a NULL-kind root. */
int lf_ydoc_load_file(const char *path, bool expand_env, struct lf_ydoc **out,
                      struct lf_error *err);
/* Same from memory; `name` is used in messages (e.g. "<stdin>"). */
int lf_ydoc_load_string(const char *text, size_t len, const char *name, bool expand_env,
                        struct lf_ydoc **out, struct lf_error *err);
struct lf_ynode *lf_ydoc_root(struct lf_ydoc *doc);
void lf_ydoc_free(struct lf_ydoc *doc);

/* Variable expansion on its own (used by the loaders). Caller frees *out. */
int lf_expand_env(const char *text, size_t len, char **out, size_t *out_len, struct lf_error *err);

/* ---- reading ----
 * `path` arguments are the dotted key path used in messages, e.g.
 * "clients[0].backoff_config". Every reader writes
 * "<file>:<line>:<col>: <path>: <problem>" into err on failure. */

/* Returns the value node of key in a map node, or NULL (also when map is not
 * a map or is NULL). */
struct lf_ynode *lf_ymap_get(const struct lf_ynode *map, const char *key);

/* Fails if node is not a map (a NULL-kind node counts as an empty map) or
 * has a key not in `allowed` (NULL-terminated list), naming the key. */
int lf_ymap_check(const struct lf_ynode *map, const char *path, const char *const *allowed,
                  struct lf_error *err);

/* Typed conversions of a single node. `path` names it in errors.
 * lf_y_str: a scalar (a null node gives ""); *out is malloc'ed, caller frees. */
int lf_y_str(const struct lf_ynode *n, const char *path, char **out, struct lf_error *err);
int lf_y_bool(const struct lf_ynode *n, const char *path, bool *out, struct lf_error *err);
int lf_y_int(const struct lf_ynode *n, const char *path, int64_t *out, struct lf_error *err);
int lf_y_double(const struct lf_ynode *n, const char *path, double *out, struct lf_error *err);
int lf_y_duration(const struct lf_ynode *n, const char *path, int64_t *out_ns,
                  struct lf_error *err);
/* Accepts a plain integer (bytes) or a size string ("256KB"). */
int lf_y_size(const struct lf_ynode *n, const char *path, int64_t *out_bytes, struct lf_error *err);
/* A sequence of scalars (a single scalar is accepted as a one-item list).
 * *out is a NULL-terminated malloc'ed array of malloc'ed strings; free with
 * lf_strv_free(). */
int lf_y_strlist(const struct lf_ynode *n, const char *path, char ***out, size_t *count,
                 struct lf_error *err);
void lf_strv_free(char **v);

/* Writes "<file>:<line>:<col>: <path>: <formatted>" into err; returns -1.
 * For checks the typed readers cannot express. */
int lf_y_err(struct lf_error *err, const struct lf_ynode *n, const char *path, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Map getters: look key up in map and convert it if present. Return 0 and
 * leave *out untouched when the key is absent (so callers set defaults
 * first), -1 with err on a wrong type/value. lf_ymap_str/lf_ymap_strlist
 * free the previous *out (NULL or malloc'ed) before storing the new value. `path` is the map's
 * path; the key is appended in messages. */
int lf_ymap_str(const struct lf_ynode *map, const char *path, const char *key, char **out,
                struct lf_error *err);
int lf_ymap_bool(const struct lf_ynode *map, const char *path, const char *key, bool *out,
                 struct lf_error *err);
int lf_ymap_int(const struct lf_ynode *map, const char *path, const char *key, int64_t *out,
                struct lf_error *err);
int lf_ymap_double(const struct lf_ynode *map, const char *path, const char *key, double *out,
                   struct lf_error *err);
int lf_ymap_duration(const struct lf_ynode *map, const char *path, const char *key, int64_t *out_ns,
                     struct lf_error *err);
int lf_ymap_size(const struct lf_ynode *map, const char *path, const char *key, int64_t *out_bytes,
                 struct lf_error *err);
int lf_ymap_strlist(const struct lf_ynode *map, const char *path, const char *key, char ***out,
                    size_t *count, struct lf_error *err);

#endif
