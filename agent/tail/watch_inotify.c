/* watch_inotify.c — inotify through libinotifytools; see watch.h for why
 * this is a process-wide singleton. */
#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <inotifytools/inotifytools.h>

struct lf_watch {
	int fd;
};

/* The library's state is global; so is the "taken" flag guarding it. */
static bool g_open;
static bool g_initialised;
static int g_fd = -1; /* the library's inotify fd, once found */

/* Collects the fds that are inotify instances into a bitmap-ish list. */
static int list_inotify_fds(int *out, int max)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL && n < max) {
		if (de->d_name[0] == '.')
			continue;
		char link[64], target[64];
		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		if (strcmp(target, "anon_inode:inotify") == 0)
			out[n++] = atoi(de->d_name);
	}
	closedir(d);
	return n;
}

int lf_watch_open(struct lf_watch **out, struct lf_error *err)
{
	if (g_open)
		return lf_err(err, "inotify: already in use by another tailer in this process");
	struct lf_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return lf_err(err, "inotify: out of memory");
	w->fd = -1;
	if (!g_initialised) {
		int before[256], after[256];
		int nb = list_inotify_fds(before, 256);
		if (!inotifytools_initialize()) {
			int e = inotifytools_error();
			free(w);
			return lf_err(err, "inotify: initialisation failed: %s%s", strerror(e),
			              e == EMFILE ? " (fs.inotify.max_user_instances reached?)"
			                          : "");
		}
		g_initialised = true;
		int na = list_inotify_fds(after, 256);
		for (int i = 0; i < na && w->fd < 0; i++) {
			bool old = false;
			for (int j = 0; j < nb; j++)
				old |= before[j] == after[i];
			if (!old)
				w->fd = after[i];
		}
	}
	/* Re-opened after a close: the library instance is still the same. */
	if (w->fd < 0)
		w->fd = g_fd;
	/* The library creates its instance without IN_CLOEXEC. */
	if (w->fd >= 0) {
		int fl = fcntl(w->fd, F_GETFD);
		if (fl >= 0 && !(fl & FD_CLOEXEC))
			fcntl(w->fd, F_SETFD, fl | FD_CLOEXEC);
	}
	g_fd = w->fd;
	g_open = true;
	*out = w;
	return 0;
}

void lf_watch_close(struct lf_watch *w)
{
	if (!w)
		return;
	/* The library's instance stays initialised (inotifytools_cleanup is
	 * not safe to pair with a later re-initialisation in every version);
	 * the tailer removed its watches. */
	g_open = false;
	free(w);
}

int lf_watch_fd(const struct lf_watch *w)
{
	return w->fd;
}

int lf_watch_add_path(struct lf_watch *w, const char *path, uint32_t mask)
{
	if (!inotifytools_watch_file(path, (int)mask)) {
		int e = inotifytools_error();
		errno = e ? e : EINVAL;
		return -1;
	}
	/* The library does not return the wd, and its name lookup can find a
	 * stale entry (a watch the kernel dropped keeps its name there). Adding
	 * the same watch again on the same instance is idempotent and returns
	 * the wd, so ask the kernel when we know the fd. */
	if (w->fd >= 0) {
		int wd = inotify_add_watch(w->fd, path, mask);
		if (wd > 0)
			return wd;
	}
	int wd = inotifytools_wd_from_filename(path);
	if (wd <= 0) {
		/* The library keys directories as "dir/"; ask again that way. */
		char buf[PATH_MAX + 2];
		snprintf(buf, sizeof(buf), "%s/", path);
		wd = inotifytools_wd_from_filename(buf);
	}
	if (wd <= 0) {
		errno = EINVAL;
		return -1;
	}
	return wd;
}

int lf_watch_add_fd(struct lf_watch *w, int fd, uint32_t mask)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return lf_watch_add_path(w, path, mask);
}

void lf_watch_rm(struct lf_watch *w, int wd)
{
	(void)w;
	if (wd > 0)
		inotifytools_remove_watch_by_wd(wd);
}

int lf_watch_next(struct lf_watch *w, struct lf_watch_event *ev)
{
	(void)w;
	/* timeout 0 = a non-blocking select inside the library; events it
	 * already read into its own buffer come back without a syscall. */
	struct inotify_event *ie = inotifytools_next_events(0, 1);
	if (!ie) {
		int e = inotifytools_error();
		if (e && e != EINTR && e != EAGAIN) {
			errno = e;
			return -1;
		}
		return 0;
	}
	ev->wd = ie->wd;
	ev->mask = ie->mask;
	ev->name = ie->len > 0 ? ie->name : "";
	return 1;
}
