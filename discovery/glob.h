/* glob.h — doublestar globs over the file system, as Promtail's `__path__`
 * and `__path_exclude__` use them (bmatcuk/doublestar semantics).
 *
 * Syntax: `*` any run of non-`/` characters, `?` one non-`/` character,
 * `[abc]`, `[a-z]`, `[!a]`/`[^a]` classes, `\x` a literal x, `{a,b}`
 * alternatives (may nest and may contain `/`), and `**` as a whole path
 * component: zero or more directories. `*` and `?` match a leading dot.
 *
 * A compiled glob is immutable. Expansion goes through a directory cache
 * (struct lf_dircache) so that many globs over the same directories (one per
 * pod container under /var/log/pods) list each directory once per sync.
 */
#ifndef LF_GLOB_H
#define LF_GLOB_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/error.h"

struct lf_glob;
struct lf_dircache;

/* Compiles pattern; fails on an unterminated `[` or `{`, naming the pattern. */
int lf_glob_new(const char *pattern, struct lf_glob **out, struct lf_error *err);
void lf_glob_free(struct lf_glob *g);
const char *lf_glob_pattern(const struct lf_glob *g);

/* Pure string match of a whole path (used for __path_exclude__). */
bool lf_glob_match(const struct lf_glob *g, const char *path);

/* One-shot match without keeping the compiled form; false on a bad pattern. */
bool lf_glob_match_str(const char *pattern, const char *path);

/* Directory listings shared by the expansions of one sync. */
struct lf_dircache *lf_dircache_new(void);
/* Forgets every listing (call at the start of each sync). Memory is kept. */
void lf_dircache_reset(struct lf_dircache *c);
void lf_dircache_free(struct lf_dircache *c);

/* Entry of a listed directory. */
struct lf_dirent {
	const char *name;
	size_t len;
	unsigned char type; /* DT_DIR, DT_REG, DT_LNK, ... as readdir gave it */
};
/* Lists dir (cached). Returns the number of entries (sorted by name) with
 * *ents pointing into the cache (valid until reset), or -1 if dir cannot be
 * opened. */
long lf_dircache_list(struct lf_dircache *c, const char *dir, const struct lf_dirent **ents);

/* Called once per matching file (non-directory; a symlink counts when its
 * target is not a directory), in sorted order per directory. */
typedef int (*lf_glob_file_fn)(void *ctx, const char *path);
/* Called once per directory the result depends on (listed, or looked up
 * because a literal component is in it). May repeat across calls. */
typedef void (*lf_glob_dir_fn)(void *ctx, const char *dir);

/* Expands g on the file system. A non-zero return of on_file stops the walk
 * and is returned. `**` does not descend into symlinked directories. */
int lf_glob_expand(const struct lf_glob *g, struct lf_dircache *c, lf_glob_file_fn on_file,
                   lf_glob_dir_fn on_dir, void *ctx);

#endif
