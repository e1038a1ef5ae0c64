/* watch.h — how the tailer learns that files changed: inotify
 * (watch_inotify.c) with a per-file polling fallback (watch_poll.c).
 *
 * The tailer owns the mapping from watch descriptors to its paths and
 * files; this layer only adds/removes watches and hands out raw events.
 *
 * Global state (watch_inotify.c): libinotifytools keeps one inotify
 * instance and its watch table in static variables and offers no handle,
 * so there is at most one lf_watch per process. lf_watch_open() fails when
 * one is already open (the second tailer then polls). Watches are added
 * through the library; the inotify fd itself is not exported by the
 * library, so it is found in /proc/self/fd right after initialisation (an
 * `anon_inode:inotify` link that was not there before) to let the agent's
 * epoll wait on it; when that fails, lf_watch_fd() is -1 and the tailer
 * drains events on its poll timer instead.
 */
#ifndef LF_TAIL_WATCH_H
#define LF_TAIL_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* ---- inotify (watch_inotify.c) ---- */

struct lf_watch;

struct lf_watch_event {
	int wd;
	uint32_t mask;    /* IN_* bits */
	const char *name; /* entry name for directory events, else "" */
};

/* Events asked for on directories and on files. */
#define LF_WATCH_DIR_EVENTS                                                                        \
	(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF |     \
	 IN_ATTRIB)
#define LF_WATCH_FILE_EVENTS (IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)

/* Initialises libinotifytools (once per process). Fails when another
 * lf_watch is open or inotify cannot be initialised (EMFILE: too many
 * instances), naming the reason. */
int lf_watch_open(struct lf_watch **out, struct lf_error *err);
void lf_watch_close(struct lf_watch *w);

/* fd that becomes readable when events are pending, or -1 (see above). */
int lf_watch_fd(const struct lf_watch *w);

/* Adds a watch; returns the wd (>= 1) or -1 with errno set (ENOSPC when
 * fs.inotify.max_user_watches is exhausted, ENOENT, EACCES...). */
int lf_watch_add_path(struct lf_watch *w, const char *path, uint32_t mask);
/* Watches the inode behind an open fd (via /proc/self/fd/N), so a rename
 * or a new file at the same path cannot make the watch follow the wrong
 * file. */
int lf_watch_add_fd(struct lf_watch *w, int fd, uint32_t mask);
/* Removes a watch. Call before closing the fd it watches. Do not call
 * after IN_IGNORED for that wd (the kernel already removed it). */
void lf_watch_rm(struct lf_watch *w, int wd);

/* Next pending event without blocking: 1 = *ev filled (valid until the next
 * call), 0 = none pending, -1 = read error (errno). IN_Q_OVERFLOW arrives as
 * an event with wd -1. */
int lf_watch_next(struct lf_watch *w, struct lf_watch_event *ev);

/* ---- polling (watch_poll.c) ---- */

/* When to stat a polled file next: every min_ns while it changes, doubling
 * up to max_ns while it does not (Promtail's file_watch_config). */
struct lf_poll {
	int64_t next_ns;
	int64_t interval_ns;
};

void lf_poll_start(struct lf_poll *p, int64_t now_ns, int64_t min_ns);
static inline bool lf_poll_due(const struct lf_poll *p, int64_t now_ns)
{
	return now_ns >= p->next_ns;
}
/* Records the outcome of a check and schedules the next one. */
void lf_poll_done(struct lf_poll *p, int64_t now_ns, bool changed, int64_t min_ns, int64_t max_ns);

#endif
