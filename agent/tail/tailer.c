/* tailer.c — files, offsets, reading, rotation; see tailer.h. */
#include "tailer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "inflight.h"
#include "log.h"
#include "timeutil.h"
#include "watch.h"

#define DEF_READ_SIZE     (256u << 10)
#define MIN_READ_SIZE     (64u << 10)
#define DEF_PARTIAL_FLUSH (5 * LF_NS_PER_SEC)
#define DEF_ROTATE_WAIT   (5 * LF_NS_PER_SEC)
#define DEF_POLL          (250 * LF_NS_PER_MS)
#define DEF_SYNC          (10 * LF_NS_PER_SEC)
#define DEF_POS_FLUSH     (100 * LF_NS_PER_MS)
#define DEF_RECHECK       (10 * LF_NS_PER_SEC)
#define DEF_MAX_INFLIGHT  (1u << 20)
#define DEF_BUDGET        (4u << 20)

struct tpath;

struct lf_tail_file {
	struct lf_tailer *t;
	struct lf_tail_file *prev, *next; /* t->files, oldest first */
	int fd;
	uint64_t dev, ino;
	char *path;            /* primary path (owned copy; kept after the path left) */
	void *target;          /* ref'd through target_ref */
	struct tpath *primary; /* NULL when no wanted path reaches the file */
	int n_paths;           /* wanted paths whose current file this is */

	bool orphan;            /* no wanted path reaches it: drain and close */
	bool unwanted;          /* orphaned because its path left the set: no rotate wait */
	const char *orphan_why; /* "rotated" | "deleted" | "draining" */

	uint64_t offset;    /* read position: end of the last complete line */
	uint64_t size;      /* size at the last fstat */
	size_t partial_len; /* bytes after offset seen without '\n' */
	int64_t partial_since;
	int64_t last_growth_ns;
	bool skipping; /* inside a too-long line: discard up to its '\n' */
	bool want_read;
	bool at_eof;
	bool inflight_full;

	struct lf_inflight ring;
	uint64_t lines;
	uint32_t fplen;
	uint64_t fp;

	int wd; /* inotify watch, 0 = none */
	bool polled;
	struct lf_poll poll;
	bool need_path_check;

	/* Published for the collector / list on other threads. */
	_Atomic uint64_t pub_offset, pub_size, pub_lines, pub_committed, pub_inflight;
};

struct tpath {
	struct tpath *hnext;
	char *path;
	void *target;
	struct lf_tail_file *file;
	bool wanted;
	bool seen; /* in the current sync set */
	size_t sync_idx;
	bool first_open_done;
	bool dirty;
	bool blocked; /* positions: an older file of this path is still pending */
	int dir_wd[2];
	bool dir_polled; /* no directory watch: its file is polled */
	bool real_done;  /* the symlink target's directory was looked at */
	int err;         /* last stat/open errno, 0 = fine */
	char errmsg[160];
	int64_t err_at; /* when err was set (lf_now_ns), for the status page */
};

struct tdir {
	struct tdir *next; /* t->dirs */
	char *dir;
	int wd;
	int refs;
};

struct wdent {
	int wd;    /* 0 = empty */
	bool file; /* else directory */
	void *ptr; /* struct lf_tail_file * or struct tdir * */
};

struct lf_tailer {
	struct lf_tailer_opts o;
	size_t cap; /* effective max line size */
	bool truncate;

	pthread_mutex_t mu; /* guards structure seen by list()/collector */

	struct lf_tail_file *files, *files_tail;
	size_t n_files;
	struct lf_tail_file *rr; /* round-robin cursor for reading */

	struct tpath **ptab; /* chained hash by path */
	size_t pcap, npaths;

	struct wdent *wtab; /* open addressing by wd */
	size_t wcap, wn;

	struct lf_watch *watch;
	/* Watched directories by name: libinotifytools leaks its record when a
	 * watched path is added a second time, so each is added once. */
	struct tdir *dirs;
	bool enospc_logged;
	bool dir_changed;
	bool kick; /* work became possible outside run_once (acks) */
	bool paused;
	bool recheck_all;
	bool paths_dirty; /* some path has dirty set */
	bool check_files; /* some file asked for its paths to be checked */

	char *buf;
	size_t bufcap;

	int64_t next_recheck_ns, next_sync_ns;
	bool pos_dirty;            /* a committed offset moved since the last save */
	int64_t last_save_ns;      /* when positions were last saved by run_once */
	int64_t next_path_poll_ns; /* missing paths without a directory watch */
	int64_t now;               /* time of the current run_once / sync */

	struct lf_metric_family *m_open_err, *m_long;
	bool collector_added;
	struct lf_ratelimit rl_read;
};

/* ---------------------------------------------------------------- maps */

static uint64_t hash_s(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static struct tpath *path_find(struct lf_tailer *t, const char *path)
{
	if (!t->pcap)
		return NULL;
	for (struct tpath *p = t->ptab[hash_s(path) & (t->pcap - 1)]; p; p = p->hnext)
		if (strcmp(p->path, path) == 0)
			return p;
	return NULL;
}

static int path_table_grow(struct lf_tailer *t)
{
	size_t ncap = t->pcap ? t->pcap * 2 : 64;
	struct tpath **nt = calloc(ncap, sizeof(*nt));
	if (!nt)
		return -1;
	/* lf_tailer_list() walks the table (and the hnext links rewritten
	 * below) on the HTTP thread under mu. */
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->pcap; i++) {
		struct tpath *p = t->ptab[i];
		while (p) {
			struct tpath *nx = p->hnext;
			size_t j = hash_s(p->path) & (ncap - 1);
			p->hnext = nt[j];
			nt[j] = p;
			p = nx;
		}
	}
	free(t->ptab);
	t->ptab = nt;
	t->pcap = ncap;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

static void path_unlink(struct lf_tailer *t, struct tpath *p)
{
	struct tpath **pp = &t->ptab[hash_s(p->path) & (t->pcap - 1)];
	while (*pp && *pp != p)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = p->hnext;
	t->npaths--;
}

#define FOREACH_PATH(t, p)                                                                         \
	for (size_t _i = 0; _i < (t)->pcap; _i++)                                                  \
		for (struct tpath *p = (t)->ptab[_i], *_nx = p ? p->hnext : NULL; p;               \
		     p = _nx, _nx = p ? p->hnext : NULL)

static struct wdent *wd_find(struct lf_tailer *t, int wd)
{
	if (!t->wcap || wd <= 0)
		return NULL;
	size_t mask = t->wcap - 1;
	for (size_t i = ((size_t)wd * 2654435761u) & mask;; i = (i + 1) & mask) {
		if (t->wtab[i].wd == wd)
			return &t->wtab[i];
		if (t->wtab[i].wd == 0)
			return NULL;
	}
}

static int wd_put(struct lf_tailer *t, int wd, bool file, void *ptr);

static int wd_grow(struct lf_tailer *t)
{
	struct wdent *old = t->wtab;
	size_t ocap = t->wcap;
	size_t ncap = ocap ? ocap * 2 : 256;
	t->wtab = calloc(ncap, sizeof(*t->wtab));
	if (!t->wtab) {
		t->wtab = old;
		return -1;
	}
	t->wcap = ncap;
	t->wn = 0;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].wd > 0)
			wd_put(t, old[i].wd, old[i].file, old[i].ptr);
	free(old);
	return 0;
}

static int wd_put(struct lf_tailer *t, int wd, bool file, void *ptr)
{
	if ((t->wn + 1) * 2 > t->wcap && wd_grow(t) < 0)
		return -1;
	size_t mask = t->wcap - 1;
	size_t i = ((size_t)wd * 2654435761u) & mask;
	while (t->wtab[i].wd != 0 && t->wtab[i].wd != wd)
		i = (i + 1) & mask;
	if (t->wtab[i].wd == 0)
		t->wn++;
	t->wtab[i] = (struct wdent){wd, file, ptr};
	return 0;
}

/* Deletion with backward shift keeps probe chains intact without tombs. */
static void wd_del(struct lf_tailer *t, int wd)
{
	struct wdent *e = wd_find(t, wd);
	if (!e)
		return;
	size_t mask = t->wcap - 1;
	size_t i = (size_t)(e - t->wtab);
	t->wtab[i].wd = 0;
	t->wn--;
	for (size_t j = (i + 1) & mask; t->wtab[j].wd != 0; j = (j + 1) & mask) {
		struct wdent moved = t->wtab[j];
		t->wtab[j].wd = 0;
		t->wn--;
		wd_put(t, moved.wd, moved.file, moved.ptr);
	}
}

/* ------------------------------------------------------------- helpers */

static void note_enospc(struct lf_tailer *t, const char *what)
{
	if (t->enospc_logged)
		return;
	t->enospc_logged = true;
	lf_warn("inotify watch for %s failed: %s; falling back to polling for files without a "
	        "watch (raise fs.inotify.max_user_watches)",
	        what, strerror(ENOSPC));
}

static void dir_forget(struct lf_tailer *t, struct tdir *d)
{
	for (struct tdir **pp = &t->dirs; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	wd_del(t, d->wd);
	free(d->dir);
	free(d);
}

static int dir_watch(struct lf_tailer *t, const char *dir)
{
	if (!t->watch)
		return -1;
	for (struct tdir *d = t->dirs; d; d = d->next)
		if (strcmp(d->dir, dir) == 0) {
			d->refs++;
			return d->wd;
		}
	int wd = lf_watch_add_path(t->watch, dir, LF_WATCH_DIR_EVENTS);
	if (wd <= 0) {
		if (errno == ENOSPC)
			note_enospc(t, dir);
		return -1;
	}
	struct wdent *e = wd_find(t, wd);
	if (e && !e->file) {
		/* Same directory under another name (symlinked dir): share. */
		((struct tdir *)e->ptr)->refs++;
		return wd;
	}
	struct tdir *d = calloc(1, sizeof(*d));
	if (!d || !(d->dir = strdup(dir)) || wd_put(t, wd, false, d) < 0) {
		if (d)
			free(d->dir);
		free(d);
		lf_watch_rm(t->watch, wd);
		return -1;
	}
	d->wd = wd;
	d->refs = 1;
	d->next = t->dirs;
	t->dirs = d;
	return wd;
}

static void dir_unwatch(struct lf_tailer *t, int wd)
{
	struct wdent *e = wd_find(t, wd);
	if (!e || e->file)
		return;
	struct tdir *d = e->ptr;
	if (--d->refs > 0)
		return;
	lf_watch_rm(t->watch, wd);
	dir_forget(t, d);
}

static void dirname_of(const char *path, char *out, size_t outsz)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(out, outsz, ".");
	else if (slash == path)
		snprintf(out, outsz, "/");
	else
		snprintf(out, outsz, "%.*s", (int)(slash - path), path);
}

/* Watches the directory of the path and, for a symlink, the directory of
 * the file it resolves to (where the rotation actually happens). A failure
 * other than ENOSPC is retried at the next check; ENOSPC makes the path's
 * file polled for good. */
static void path_watch_dirs(struct lf_tailer *t, struct tpath *p)
{
	if (!t->watch || p->dir_polled)
		return;
	char d[4096];
	dirname_of(p->path, d, sizeof(d));
	if (p->dir_wd[0] <= 0) {
		p->dir_wd[0] = dir_watch(t, d);
		if (p->dir_wd[0] <= 0) {
			p->dir_polled = errno == ENOSPC;
			p->dir_wd[0] = 0;
			return;
		}
	}
	if (p->dir_wd[1] > 0 || p->real_done)
		return;
	char *real = realpath(p->path, NULL);
	if (!real)
		return;
	char d2[4096];
	dirname_of(real, d2, sizeof(d2));
	free(real);
	p->real_done = true;
	if (strcmp(d, d2) == 0)
		return;
	p->dir_wd[1] = dir_watch(t, d2);
	if (p->dir_wd[1] <= 0) {
		p->dir_polled = errno == ENOSPC;
		p->dir_wd[1] = 0;
	}
}

static void path_unwatch_dirs(struct lf_tailer *t, struct tpath *p)
{
	for (int i = 0; i < 2; i++) {
		if (p->dir_wd[i] > 0)
			dir_unwatch(t, p->dir_wd[i]);
		p->dir_wd[i] = 0;
	}
}

static const char *errno_reason(int e)
{
	if (e == EACCES || e == EPERM)
		return "permission";
	if (e == ENOENT || e == ENOTDIR)
		return "not_found";
	return "other";
}

/* Records a stat/open problem for a path; logged and counted once per
 * change of state. */
static void path_set_error(struct lf_tailer *t, struct tpath *p, int e, const char *what)
{
	if (p->err == e)
		return;
	pthread_mutex_lock(&t->mu);
	p->err = e;
	p->err_at = lf_now_ns();
	snprintf(p->errmsg, sizeof(p->errmsg), "%s: %s", what, e ? strerror(e) : "");
	pthread_mutex_unlock(&t->mu);
	if (e == 0)
		return;
	if (e == ENOENT)
		lf_debug("tail: %s %s: %s", what, p->path, strerror(e));
	else
		lf_warn("tail: cannot %s %s: %s (retried at every sync)", what, p->path,
		        strerror(e));
	if (t->m_open_err) {
		const char *lv[] = {errno_reason(e)};
		lf_metric_inc(t->m_open_err, lv);
	}
}

static void path_clear_error(struct lf_tailer *t, struct tpath *p)
{
	if (p->err == 0)
		return;
	if (p->err != ENOENT)
		lf_info("tail: %s is readable again", p->path);
	pthread_mutex_lock(&t->mu);
	p->err = 0;
	p->errmsg[0] = 0;
	pthread_mutex_unlock(&t->mu);
}

static void publish(struct lf_tail_file *f)
{
	atomic_store_explicit(&f->pub_offset, f->offset, memory_order_relaxed);
	atomic_store_explicit(&f->pub_size, f->size, memory_order_relaxed);
	atomic_store_explicit(&f->pub_lines, f->lines, memory_order_relaxed);
	atomic_store_explicit(&f->pub_committed, lf_inflight_committed(&f->ring),
	                      memory_order_relaxed);
	atomic_store_explicit(&f->pub_inflight, lf_inflight_pending(&f->ring),
	                      memory_order_relaxed);
}

static void compute_fp(struct lf_tail_file *f)
{
	unsigned char b[LF_POS_FP_MAX];
	ssize_t n = pread(f->fd, b, sizeof(b), 0);
	if (n < 0)
		n = 0;
	f->fplen = (uint32_t)n;
	f->fp = lf_pos_fingerprint(b, (size_t)n);
}

/* ---------------------------------------------------------------- files */

static struct lf_tail_file *file_find(struct lf_tailer *t, uint64_t dev, uint64_t ino)
{
	for (struct lf_tail_file *f = t->files; f; f = f->next)
		if (f->dev == dev && f->ino == ino)
			return f;
	return NULL;
}

static void file_set_primary(struct lf_tailer *t, struct lf_tail_file *f, struct tpath *p)
{
	f->primary = p;
	if (!p)
		return;
	if (strcmp(f->path, p->path) != 0) {
		char *np = strdup(p->path);
		if (np) {
			pthread_mutex_lock(&t->mu);
			free(f->path);
			f->path = np;
			pthread_mutex_unlock(&t->mu);
		}
	}
	if (f->target != p->target) {
		if (t->o.target_ref && p->target)
			t->o.target_ref(t->o.cb_ctx, p->target);
		if (t->o.target_unref && f->target)
			t->o.target_unref(t->o.cb_ctx, f->target);
		pthread_mutex_lock(&t->mu); /* read by lf_tailer_list() */
		f->target = p->target;
		pthread_mutex_unlock(&t->mu);
	}
}

static void file_start_poll(struct lf_tailer *t, struct lf_tail_file *f)
{
	pthread_mutex_lock(&t->mu); /* read by lf_tailer_list() */
	f->polled = true;
	pthread_mutex_unlock(&t->mu);
	lf_poll_start(&f->poll, t->now, t->o.poll_min_ns);
}

/* Decides where a freshly opened file starts: its saved position when the
 * saved identity matches (Promtail files without identity: by path), else
 * 0 (a new file is read from the beginning, as Promtail does). */
static uint64_t start_offset(struct lf_tailer *t, struct tpath *p, struct lf_tail_file *f)
{
	struct lf_pos_entry e;
	if (!t->o.positions || !lf_positions_get(t->o.positions, p->path, &e))
		return 0;
	if (e.offset > f->size) {
		lf_info("tail: %s is smaller (%" PRIu64 ") than its saved position %" PRIu64
		        ", reading from the start",
		        p->path, f->size, e.offset);
		return 0;
	}
	if (e.has_id) {
		/* dev is not compared: device numbers can change across reboots
		 * (dm/btrfs), which would re-ship every file; inode + fingerprint
		 * identify the file. */
		bool same = e.ino == f->ino;
		if (same && e.fplen > 0) {
			unsigned char b[LF_POS_FP_MAX];
			ssize_t n = pread(f->fd, b, e.fplen, 0);
			same = n == (ssize_t)e.fplen && lf_pos_fingerprint(b, e.fplen) == e.fp;
		}
		if (!same) {
			lf_info("tail: %s is another file than the saved position (inode %" PRIu64
			        " vs %" PRIu64 " or different content), reading from the start",
			        p->path, f->ino, e.ino);
			return 0;
		}
	}
	return e.offset;
}

static struct lf_tail_file *file_open(struct lf_tailer *t, struct tpath *p, int fd,
                                      const struct stat *st)
{
	struct lf_tail_file *f = calloc(1, sizeof(*f));
	char *path = strdup(p->path);
	if (!f || !path) {
		free(f);
		free(path);
		close(fd);
		lf_error("tail: out of memory opening %s", p->path);
		return NULL;
	}
	f->t = t;
	f->fd = fd;
	f->dev = (uint64_t)st->st_dev;
	f->ino = (uint64_t)st->st_ino;
	f->path = path;
	f->size = (uint64_t)st->st_size;
	compute_fp(f);
	f->offset = p->first_open_done ? 0 : start_offset(t, p, f);
	p->first_open_done = true;
	lf_inflight_init(&f->ring, f->offset);
	f->want_read = true;
	f->last_growth_ns = t->now;
	if (t->watch && !t->o.force_poll) {
		f->wd = lf_watch_add_fd(t->watch, fd, LF_WATCH_FILE_EVENTS);
		if (f->wd <= 0) {
			if (errno == ENOSPC)
				note_enospc(t, p->path);
			f->wd = 0;
		} else if (wd_put(t, f->wd, true, f) < 0) {
			lf_watch_rm(t->watch, f->wd);
			f->wd = 0;
		}
	}
	if (f->wd == 0 || p->dir_polled)
		file_start_poll(t, f);
	f->target = NULL;
	file_set_primary(t, f, p);
	f->n_paths = 1;
	pthread_mutex_lock(&t->mu); /* read by lf_tailer_list() */
	p->file = f;
	pthread_mutex_unlock(&t->mu);
	publish(f);
	pthread_mutex_lock(&t->mu);
	f->prev = t->files_tail;
	if (t->files_tail)
		t->files_tail->next = f;
	else
		t->files = f;
	t->files_tail = f;
	t->n_files++;
	pthread_mutex_unlock(&t->mu);
	lf_info("tail: start %s at offset %" PRIu64 " (inode %" PRIu64 "%s)", p->path, f->offset,
	        f->ino, f->polled ? ", polled" : "");
	return f;
}

static void entry_of(struct lf_tail_file *f, struct lf_pos_entry *e);
static struct tpath *path_find(struct lf_tailer *t, const char *path);

static void file_close(struct lf_tailer *t, struct lf_tail_file *f)
{
	if (t->o.positions && f->orphan && f->unwanted) {
		/* The path left the set: record where it ended, so that it
		 * resumes there if it comes back (the entry is dropped at a later
		 * save once the file is gone). */
		struct tpath *p = path_find(t, f->path);
		if (!p || !p->wanted) {
			struct lf_pos_entry e;
			entry_of(f, &e);
			lf_positions_put(t->o.positions, f->path, &e);
		}
	}
	if (f->wd > 0) {
		wd_del(t, f->wd);
		lf_watch_rm(t->watch, f->wd);
	}
	lf_info("tail: stop %s at offset %" PRIu64 " (inode %" PRIu64 ", %s)", f->path, f->offset,
	        f->ino, f->orphan_why ? f->orphan_why : "closed");
	pthread_mutex_lock(&t->mu);
	if (f->prev)
		f->prev->next = f->next;
	else
		t->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		t->files_tail = f->prev;
	t->n_files--;
	if (t->rr == f)
		t->rr = f->next;
	pthread_mutex_unlock(&t->mu);
	close(f->fd);
	if (t->o.target_unref && f->target)
		t->o.target_unref(t->o.cb_ctx, f->target);
	lf_inflight_free(&f->ring);
	pthread_mutex_lock(&t->mu);
	free(f->path);
	pthread_mutex_unlock(&t->mu);
	free(f);
}

static void file_orphan(struct lf_tailer *t, struct lf_tail_file *f, bool unwanted)
{
	struct stat st;
	const char *why = unwanted                                     ? "draining"
	                  : fstat(f->fd, &st) == 0 && st.st_nlink == 0 ? "deleted"
	                                                               : "rotated";
	pthread_mutex_lock(&t->mu); /* read by lf_tailer_list() and collect() */
	f->orphan = true;
	f->orphan_why = why;
	pthread_mutex_unlock(&t->mu);
	f->unwanted = unwanted;
	f->want_read = true;
	/* rotate_wait counts from now: the writer may still append to the old
	 * file for a moment after the rename. */
	f->last_growth_ns = t->now;
	lf_debug("tail: %s (inode %" PRIu64 ") %s, reading it to the end", f->path, f->ino,
	         f->orphan_why);
}

/* p stops reaching its file. */
static void path_detach(struct lf_tailer *t, struct tpath *p, bool unwanted)
{
	struct lf_tail_file *f = p->file;
	if (!f)
		return;
	pthread_mutex_lock(&t->mu); /* read by lf_tailer_list() */
	p->file = NULL;
	pthread_mutex_unlock(&t->mu);
	f->n_paths--;
	if (f->primary == p) {
		struct tpath *other = NULL;
		for (size_t k = 0; k < t->pcap && !other; k++)
			for (struct tpath *q = t->ptab[k]; q && !other; q = q->hnext)
				if (q != p && q->file == f && q->wanted)
					other = q;
		file_set_primary(t, f, other);
	}
	if (f->n_paths <= 0)
		file_orphan(t, f, unwanted);
}

static void path_attach(struct lf_tailer *t, struct tpath *p, struct lf_tail_file *f)
{
	pthread_mutex_lock(&t->mu); /* read by lf_tailer_list() and collect() */
	p->file = f;
	if (f->orphan) {
		f->orphan = false;
		f->unwanted = false;
		f->orphan_why = NULL;
	}
	pthread_mutex_unlock(&t->mu);
	p->first_open_done = true;
	f->n_paths++;
	if (!f->primary)
		file_set_primary(t, f, p);
	f->want_read = true;
}

/* Re-evaluates what p names now: same file, grown, rotated, new file,
 * gone, unreadable. */
static void path_check(struct lf_tailer *t, struct tpath *p)
{
	p->dirty = false;
	struct stat st;
	if (stat(p->path, &st) < 0) {
		int e = errno;
		path_detach(t, p, false);
		path_set_error(t, p, e, "stat");
		/* Watch the directory so that the file's creation is seen. */
		path_watch_dirs(t, p);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		path_detach(t, p, false);
		path_set_error(t, p, EINVAL, "tail (not a regular file)");
		return;
	}
	path_watch_dirs(t, p);
	struct lf_tail_file *f = p->file;
	if (f && f->dev == (uint64_t)st.st_dev && f->ino == (uint64_t)st.st_ino) {
		if ((uint64_t)st.st_size != f->offset + f->partial_len)
			f->want_read = true;
		path_clear_error(t, p);
		return;
	}
	if (f)
		path_detach(t, p, false);
	struct lf_tail_file *same = file_find(t, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	if (same) {
		/* Another path (symlink) or an earlier name already tails it. */
		path_attach(t, p, same);
		path_clear_error(t, p);
		return;
	}
	/* O_NONBLOCK: if the path became a FIFO since the stat, open must not
	 * wait for a writer on the event loop (no effect on regular files). */
	int fd = open(p->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		path_set_error(t, p, errno, "open");
		return;
	}
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		path_set_error(t, p, e, "fstat");
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		path_set_error(t, p, EINVAL, "tail (not a regular file)");
		return;
	}
	/* The path may have changed between stat and open: the fd is the truth. */
	same = file_find(t, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	if (same) {
		close(fd);
		path_attach(t, p, same);
		path_clear_error(t, p);
		return;
	}
	path_clear_error(t, p);
	file_open(t, p, fd, &st);
}

/* -------------------------------------------------------------- reading */

static void count_long(struct lf_tailer *t, const char *action)
{
	if (t->m_long) {
		const char *lv[] = {action};
		lf_metric_inc(t->m_long, lv);
	}
}

static void deliver(struct lf_tailer *t, struct lf_tail_file *f, const char *data, size_t len,
                    uint64_t end, bool truncated, bool partial)
{
	uint64_t seq = lf_inflight_push(&f->ring, end, false);
	if (seq == 0) {
		/* Out of memory for the slot: the line cannot be tracked, so it is
		 * not handed out (logged; rare enough not to deserve a retry). */
		lf_error("tail: out of memory tracking a line of %s, line skipped", f->path);
		return;
	}
	f->lines++;
	struct lf_tail_line l = {
	        .file = f,
	        .target = f->target,
	        .path = f->path,
	        .data = data,
	        .len = len,
	        .seq = seq,
	        .end_offset = end,
	        .truncated = truncated,
	        .partial = partial,
	};
	t->o.on_line(t->o.cb_ctx, &l);
}

static bool can_read(struct lf_tailer *t, struct lf_tail_file *f)
{
	if (t->paused)
		return false;
	if (lf_inflight_pending(&f->ring) >= t->o.max_inflight_lines) {
		f->inflight_full = true;
		return false;
	}
	f->inflight_full = false;
	return true;
}

static int ensure_buf(struct lf_tailer *t, size_t want)
{
	if (t->bufcap >= want)
		return 0;
	char *nb = realloc(t->buf, want);
	if (!nb)
		return -1;
	t->buf = nb;
	t->bufcap = want;
	return 0;
}

/* A line longer than the cap starts at `start` (file offset) and `avail`
 * bytes of it are in the buffer at `p`, without its '\n' in view. */
static void begin_long_line(struct lf_tailer *t, struct lf_tail_file *f, const char *p,
                            uint64_t start)
{
	if (t->truncate) {
		count_long(t, "truncated");
		deliver(t, f, p, t->cap, start + t->cap, true, false);
	} else {
		count_long(t, "dropped");
	}
	f->skipping = true;
}

/* Restarts at 0 after copytruncate. */
static void file_truncated(struct lf_tailer *t, struct lf_tail_file *f, uint64_t size)
{
	lf_info("tail: %s was truncated (size now %" PRIu64 ", offset was %" PRIu64
	        "), reading from the start",
	        f->path, size, f->offset);
	f->offset = 0;
	f->partial_len = 0;
	f->skipping = false;
	/* A done marker at offset 0: once the lines before it are done, the
	 * committed offset drops to 0 too. */
	lf_inflight_push(&f->ring, 0, true);
	compute_fp(f);
	(void)t;
}

/* Reads f until EOF, the budget, pause or the in-flight cap. Returns the
 * bytes read. */
/* copytruncate followed by enough new writes to pass our offset (likely
 * while paused by back-pressure) leaves a file that is not smaller than the
 * offset but has new content: its first bytes no longer match the
 * fingerprint. Returns true when the file was restarted at 0. */
static bool check_rewritten(struct lf_tailer *t, struct lf_tail_file *f)
{
	if (f->offset == 0)
		return false;
	unsigned char b[LF_POS_FP_MAX];
	size_t want = f->fplen < LF_POS_FP_MAX ? LF_POS_FP_MAX : f->fplen;
	ssize_t n = pread(f->fd, b, want, 0);
	if (n < 0)
		return false;
	if ((size_t)n >= f->fplen && lf_pos_fingerprint(b, f->fplen) == f->fp) {
		if (f->fplen < LF_POS_FP_MAX && (size_t)n > f->fplen) {
			/* Still small when first seen: extend the fingerprint. */
			f->fplen = (uint32_t)n;
			f->fp = lf_pos_fingerprint(b, (size_t)n);
		}
		return false;
	}
	struct stat st;
	file_truncated(t, f, fstat(f->fd, &st) == 0 ? (uint64_t)st.st_size : 0);
	return true;
}

static size_t file_read(struct lf_tailer *t, struct lf_tail_file *f, size_t budget)
{
	size_t total = 0;
	if (can_read(t, f))
		check_rewritten(t, f);
	while (total < budget && can_read(t, f)) {
		if (ensure_buf(t, t->o.read_size) < 0)
			break;
		size_t want = t->bufcap;
		ssize_t n = pread(f->fd, t->buf, want, (off_t)f->offset);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			lf_log_rl(&t->rl_read, LF_LOG_WARN, "tail: read %s: %s", f->path,
			          strerror(errno));
			f->want_read = false;
			break;
		}
		if (n == 0) {
			struct stat st;
			if (fstat(f->fd, &st) == 0) {
				f->size = (uint64_t)st.st_size;
				if ((uint64_t)st.st_size < f->offset) {
					file_truncated(t, f, (uint64_t)st.st_size);
					continue;
				}
			}
			f->partial_len = 0;
			f->at_eof = true;
			f->want_read = false;
			break;
		}
		total += (size_t)n;
		if (f->offset + (uint64_t)n > f->size)
			f->size = f->offset + (uint64_t)n;
		const char *buf = t->buf, *end = t->buf + n, *p = buf;
		if (f->skipping) {
			const char *nl = memchr(p, '\n', (size_t)n);
			if (!nl) {
				f->offset += (uint64_t)n;
				f->last_growth_ns = t->now;
				continue;
			}
			p = nl + 1;
			f->skipping = false;
			lf_inflight_push(&f->ring, f->offset + (uint64_t)(p - buf), true);
		}
		bool stop = false;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl)
				break;
			size_t len = (size_t)(nl - p);
			uint64_t line_end = f->offset + (uint64_t)(nl + 1 - buf);
			if (len > t->cap) {
				if (t->truncate) {
					count_long(t, "truncated");
					deliver(t, f, p, t->cap, line_end, true, false);
				} else {
					count_long(t, "dropped");
					lf_inflight_push(&f->ring, line_end, true);
				}
			} else {
				deliver(t, f, p, len, line_end, false, false);
			}
			p = nl + 1;
			if (lf_inflight_pending(&f->ring) >= t->o.max_inflight_lines)
				f->inflight_full = true;
			if (t->paused || f->inflight_full) {
				stop = true;
				break;
			}
		}
		size_t consumed = (size_t)(p - buf);
		if (consumed > 0)
			f->last_growth_ns = t->now;
		f->offset += consumed;
		if (stop)
			break;
		size_t rest = (size_t)(end - p);
		if (rest == 0)
			continue;
		if (rest > t->cap) {
			/* The line is already longer than the cap and its '\n' is
			 * not in view: hand out (or drop) its head and skip the rest
			 * without buffering it. */
			begin_long_line(t, f, p, f->offset);
			f->offset += rest;
			f->partial_len = 0;
			continue;
		}
		if ((size_t)n < want) {
			/* Short read: we are at EOF with a partial line. */
			if (rest != f->partial_len) {
				f->partial_len = rest;
				f->partial_since = t->now;
				f->last_growth_ns = t->now;
			}
			f->at_eof = true;
			f->want_read = false;
			break;
		}
		if (consumed == 0) {
			/* One partial line fills the whole buffer but is within the
			 * cap: grow the buffer (bounded by the cap) and read again. */
			size_t nc = t->bufcap * 2;
			if (nc > t->cap + 1)
				nc = t->cap + 1;
			if (nc <= t->bufcap || ensure_buf(t, nc) < 0) {
				begin_long_line(t, f, p, f->offset);
				f->offset += rest;
			}
		}
	}
	publish(f);
	return total;
}

/* Hands out a waiting partial line (timeout or end of a closing file). */
static void flush_partial(struct lf_tailer *t, struct lf_tail_file *f)
{
	if (f->partial_len == 0 || t->paused)
		return;
	if (ensure_buf(t, f->partial_len) < 0)
		return;
	ssize_t n = pread(f->fd, t->buf, f->partial_len, (off_t)f->offset);
	if (n <= 0) {
		f->partial_len = 0;
		return;
	}
	size_t len = (size_t)n;
	const char *nl = memchr(t->buf, '\n', len);
	if (nl) {
		/* It was completed meanwhile: the normal read path handles it. */
		f->partial_len = 0;
		f->want_read = true;
		return;
	}
	f->offset += len;
	f->partial_len = 0;
	deliver(t, f, t->buf, len, f->offset, false, true);
	publish(f);
}

/* --------------------------------------------------------------- events */

static void mark_dir_dirty(struct lf_tailer *t, int wd)
{
	FOREACH_PATH(t, p)
	{
		if (p->dir_wd[0] == wd || p->dir_wd[1] == wd) {
			p->dirty = true;
			t->paths_dirty = true;
		}
	}
}

static void drain_events(struct lf_tailer *t)
{
	if (!t->watch)
		return;
	struct lf_watch_event ev;
	int dirty_dirs[64];
	int ndd = 0;
	bool all = false;
	for (int guard = 0; guard < 100000; guard++) {
		int rc = lf_watch_next(t->watch, &ev);
		if (rc <= 0)
			break;
		if (ev.mask & IN_Q_OVERFLOW) {
			lf_warn("tail: inotify queue overflowed; re-checking every file");
			all = true;
			continue;
		}
		struct wdent *e = wd_find(t, ev.wd);
		if (!e)
			continue;
		if (e->file) {
			struct lf_tail_file *f = e->ptr;
			if (ev.mask & IN_IGNORED) {
				/* The kernel dropped the watch (unmount): poll. */
				wd_del(t, f->wd);
				f->wd = 0;
				file_start_poll(t, f);
				continue;
			}
			f->want_read = true;
			if (ev.mask & (IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)) {
				f->need_path_check = true;
				t->check_files = true;
			}
		} else {
			if (ev.mask & IN_IGNORED) {
				/* The directory is gone (pod deleted): forget the
				 * watch without removing it (the kernel did). */
				struct tdir *d = e->ptr;
				int wd = d->wd;
				dir_forget(t, d);
				FOREACH_PATH(t, p)
				{
					for (int i = 0; i < 2; i++)
						if (p->dir_wd[i] == wd)
							p->dir_wd[i] = 0;
					if (!p->dir_wd[0]) {
						p->dirty = true;
						t->paths_dirty = true;
					}
				}
				continue;
			}
			if (ev.mask & (IN_CREATE | IN_MOVED_TO))
				t->dir_changed = true;
			bool known = false;
			for (int i = 0; i < ndd; i++)
				known |= dirty_dirs[i] == ev.wd;
			if (!known) {
				if (ndd < (int)(sizeof(dirty_dirs) / sizeof(dirty_dirs[0])))
					dirty_dirs[ndd++] = ev.wd;
				else
					all = true;
			}
		}
	}
	if (all) {
		FOREACH_PATH(t, p)
		{
			{
				p->dirty = true;
				t->paths_dirty = true;
			}
		}
		for (struct lf_tail_file *f = t->files; f; f = f->next)
			f->want_read = true;
		return;
	}
	for (int i = 0; i < ndd; i++)
		mark_dir_dirty(t, dirty_dirs[i]);
}

static void check_dirty_paths(struct lf_tailer *t)
{
	if (!t->paths_dirty && !t->recheck_all && !t->check_files)
		return;
	t->paths_dirty = false;
	if (t->check_files) {
		t->check_files = false;
		FOREACH_PATH(t, p)
		{
			if (p->file && p->file->need_path_check) {
				p->dirty = true;
				t->paths_dirty = true;
			}
		}
		for (struct lf_tail_file *f = t->files; f; f = f->next)
			f->need_path_check = false;
	}
	FOREACH_PATH(t, p)
	{
		if (p->wanted && (p->dirty || t->recheck_all))
			path_check(t, p);
	}
	t->recheck_all = false;
}

static void poll_files(struct lf_tailer *t)
{
	for (struct lf_tail_file *f = t->files; f; f = f->next) {
		if (!f->polled || !lf_poll_due(&f->poll, t->now))
			continue;
		struct stat st;
		bool changed = false;
		if (fstat(f->fd, &st) == 0) {
			changed = (uint64_t)st.st_size != f->size ||
			          (uint64_t)st.st_size != f->offset + f->partial_len;
			if (changed)
				f->want_read = true;
			if (st.st_nlink == 0 || !f->orphan) {
				/* Rotation/deletion shows only on the path. */
				f->need_path_check = true;
				t->check_files = true;
			}
		}
		lf_poll_done(&f->poll, t->now, changed, t->o.poll_min_ns, t->o.poll_max_ns);
	}
}

/* Closes orphans that are drained and done. */
static void reap_files(struct lf_tailer *t)
{
	for (struct lf_tail_file *f = t->files, *nx; f; f = nx) {
		nx = f->next;
		if (!f->orphan)
			continue;
		if (f->want_read || !f->at_eof)
			continue;
		if (!f->unwanted && t->now - f->last_growth_ns < t->o.rotate_wait_ns)
			continue;
		/* Final: the last partial line goes out now. */
		if (f->partial_len > 0) {
			flush_partial(t, f);
			continue;
		}
		if (f->skipping) {
			f->skipping = false;
			lf_inflight_push(&f->ring, f->offset, true);
		}
		if (lf_inflight_pending(&f->ring) > 0)
			continue;
		/* Last look: data appended since the last event must not be lost. */
		struct stat st;
		if (fstat(f->fd, &st) == 0 && (uint64_t)st.st_size > f->offset) {
			f->want_read = true;
			continue;
		}
		file_close(t, f);
	}
}

static void flush_partials(struct lf_tailer *t)
{
	if (t->o.partial_flush_ns < 0)
		return;
	for (struct lf_tail_file *f = t->files; f; f = f->next)
		if (f->partial_len > 0 && f->at_eof && !f->want_read &&
		    t->now - f->partial_since >= t->o.partial_flush_ns)
			flush_partial(t, f);
}

/* ------------------------------------------------------------ positions */

static void entry_of(struct lf_tail_file *f, struct lf_pos_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->offset = lf_inflight_committed(&f->ring);
	e->has_id = true;
	e->dev = f->dev;
	e->ino = f->ino;
	e->size = f->size;
	if (f->fplen < LF_POS_FP_MAX && f->size > f->fplen)
		compute_fp(f);
	e->fplen = f->fplen;
	e->fp = f->fp;
}

struct cleanup_ctx {
	struct lf_tailer *t;
	char **rm;
	size_t n, cap;
};

static int cleanup_cb(void *ctx, const char *path, const struct lf_pos_entry *e)
{
	(void)e;
	struct cleanup_ctx *c = ctx;
	struct tpath *p = path_find(c->t, path);
	if (p && p->wanted)
		return 0;
	for (struct lf_tail_file *f = c->t->files; f; f = f->next)
		if (strcmp(f->path, path) == 0)
			return 0;
	/* Not tailed: keep it while the file exists (a target that comes back
	 * resumes instead of re-shipping), drop it once the file is gone. */
	struct stat st;
	if (stat(path, &st) == 0 || errno != ENOENT)
		return 0;
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 16;
		char **nv = realloc(c->rm, nc * sizeof(*nv));
		if (!nv)
			return 1;
		c->rm = nv;
		c->cap = nc;
	}
	c->rm[c->n] = strdup(path);
	if (c->rm[c->n])
		c->n++;
	return 0;
}

static void update_positions(struct lf_tailer *t)
{
	struct lf_positions *pos = t->o.positions;
	if (!pos)
		return;
	struct lf_pos_entry e;
	FOREACH_PATH(t, p)
	{
		p->blocked = false;
	}
	/* An older file of a path (rotated, still in flight) keeps the path's
	 * entry until it is done: after a crash the saved identity then does
	 * not match the new file, which is read from 0 (nothing lost). */
	for (struct lf_tail_file *f = t->files; f; f = f->next) {
		if (!f->orphan || f->unwanted)
			continue;
		struct tpath *p = path_find(t, f->path);
		if (!p || !p->wanted || p->blocked)
			continue;
		if (p->file == f)
			continue;
		if (lf_inflight_pending(&f->ring) == 0)
			continue;
		p->blocked = true;
		entry_of(f, &e);
		lf_positions_put(pos, f->path, &e);
	}
	for (struct lf_tail_file *f = t->files; f; f = f->next) {
		if (f->orphan && !f->unwanted)
			continue;
		struct tpath *p = f->primary ? f->primary : path_find(t, f->path);
		if (p && p->blocked)
			continue;
		entry_of(f, &e);
		lf_positions_put(pos, f->path, &e);
	}
	struct cleanup_ctx c = {t, NULL, 0, 0};
	lf_positions_foreach(pos, cleanup_cb, &c);
	for (size_t i = 0; i < c.n; i++) {
		lf_positions_remove(pos, c.rm[i]);
		free(c.rm[i]);
	}
	free(c.rm);
}

int lf_tailer_save_positions(struct lf_tailer *t, bool force, struct lf_error *err)
{
	if (!t->o.positions)
		return 0;
	update_positions(t);
	return lf_positions_save(t->o.positions, force, err);
}

/* ------------------------------------------------------------- metrics */

static void collect(void *ctx, struct lf_buf *out)
{
	struct lf_tailer *t = ctx;
	pthread_mutex_lock(&t->mu);
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
	        {"logferry_read_bytes_total", "gauge", "Current read offset of a tailed file."},
	        {"logferry_read_lines_total", "counter", "Lines read from a tailed file."},
	        {"logferry_file_bytes_total", "gauge", "Size of a tailed file."},
	        {"logferry_stream_lag_bytes", "gauge",
	         "Bytes of a tailed file not read yet (size minus read offset)."},
	};
	for (size_t k = 0; k < 4; k++) {
		lf_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", fam[k].name, fam[k].help,
		              fam[k].name, fam[k].type);
		for (struct lf_tail_file *f = t->files; f; f = f->next) {
			/* A rotated file shares its path with its successor: one
			 * series per path, the current file's. */
			if (f->orphan)
				continue;
			uint64_t off = atomic_load(&f->pub_offset),
			         size = atomic_load(&f->pub_size);
			uint64_t v = k == 0   ? off
			             : k == 1 ? atomic_load(&f->pub_lines)
			             : k == 2 ? size
			                      : (size > off ? size - off : 0);
			lf_buf_printf(out, "%s{path=", fam[k].name);
			lf_buf_append_quoted(out, f->path, strlen(f->path));
			lf_buf_printf(out, "} %" PRIu64 "\n", v);
		}
	}
	lf_buf_printf(out,
	              "# HELP logferry_files_active_total Number of files being tailed.\n"
	              "# TYPE logferry_files_active_total gauge\n"
	              "logferry_files_active_total %zu\n",
	              t->n_files);
	pthread_mutex_unlock(&t->mu);
}

/* ----------------------------------------------------------------- API */

int lf_tailer_new(const struct lf_tailer_opts *opts, struct lf_tailer **out, struct lf_error *err)
{
	if (!opts->on_line)
		return lf_err(err, "tailer: on_line callback is required");
	struct lf_tailer *t = calloc(1, sizeof(*t));
	if (!t)
		return lf_err(err, "tailer: out of memory");
	t->o = *opts;
	struct lf_tailer_opts *o = &t->o;
	if (!o->read_size)
		o->read_size = DEF_READ_SIZE;
	if (o->read_size < MIN_READ_SIZE)
		o->read_size = MIN_READ_SIZE;
	if (!o->partial_flush_ns)
		o->partial_flush_ns = DEF_PARTIAL_FLUSH;
	if (!o->rotate_wait_ns)
		o->rotate_wait_ns = DEF_ROTATE_WAIT;
	if (o->poll_min_ns <= 0)
		o->poll_min_ns = DEF_POLL;
	if (o->poll_max_ns <= 0)
		o->poll_max_ns = DEF_POLL;
	if (o->poll_max_ns < o->poll_min_ns)
		o->poll_max_ns = o->poll_min_ns;
	if (!o->positions_sync_ns)
		o->positions_sync_ns = DEF_SYNC;
	if (!o->positions_flush_ns)
		o->positions_flush_ns = DEF_POS_FLUSH;
	if (o->positions_sync_ns < 0)
		o->positions_flush_ns = -1;
	else if (o->positions_flush_ns > o->positions_sync_ns)
		o->positions_flush_ns = o->positions_sync_ns;
	if (!o->recheck_ns)
		o->recheck_ns = DEF_RECHECK;
	if (!o->max_inflight_lines)
		o->max_inflight_lines = DEF_MAX_INFLIGHT;
	if (!o->read_budget)
		o->read_budget = DEF_BUDGET;
	t->cap = o->max_line_size ? o->max_line_size : LF_TAIL_HARD_MAX_LINE;
	t->truncate = o->max_line_size ? o->max_line_size_truncate : true;
	t->rl_read.interval_ns = 10 * LF_NS_PER_SEC;
	pthread_mutex_init(&t->mu, NULL);
	t->now = lf_monotonic_ns();
	t->next_recheck_ns = o->recheck_ns > 0 ? t->now + o->recheck_ns : INT64_MAX;
	t->next_sync_ns = o->positions_sync_ns > 0 ? t->now + o->positions_sync_ns : INT64_MAX;
	if (!o->force_poll) {
		struct lf_error werr;
		if (lf_watch_open(&t->watch, &werr) < 0) {
			lf_warn("tail: %s; polling files instead", werr.msg);
			t->watch = NULL;
		}
	}
	if (o->metrics) {
		static const char *const reason[] = {"reason", NULL};
		static const char *const action[] = {"action", NULL};
		t->m_open_err = lf_metrics_family(
		        o->metrics, LF_METRIC_COUNTER, "logferry_file_open_errors_total",
		        "Files that could not be opened or stat'ed, by reason.", reason, NULL, 0);
		t->m_long = lf_metrics_family(
		        o->metrics, LF_METRIC_COUNTER, "logferry_tail_long_lines_total",
		        "Lines longer than max_line_size, by action taken.", action, NULL, 0);
		if (lf_metrics_add_collector(o->metrics, collect, t) == 0)
			t->collector_added = true;
	}
	*out = t;
	return 0;
}

void lf_tailer_free(struct lf_tailer *t)
{
	if (!t)
		return;
	if (t->collector_added)
		lf_metrics_remove_collector(t->o.metrics, collect, t);
	while (t->files)
		file_close(t, t->files);
	FOREACH_PATH(t, p)
	{
		path_unwatch_dirs(t, p);
		free(p->path);
		free(p);
	}
	while (t->dirs) {
		lf_watch_rm(t->watch, t->dirs->wd);
		dir_forget(t, t->dirs);
	}
	free(t->ptab);
	free(t->wtab);
	lf_watch_close(t->watch);
	free(t->buf);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

int lf_tailer_sync(struct lf_tailer *t, const struct lf_tail_target *targets, size_t n,
                   struct lf_error *err)
{
	t->now = lf_monotonic_ns();
	FOREACH_PATH(t, p)
	{
		p->seen = false;
	}
	for (size_t i = 0; i < n; i++) {
		const char *path = targets[i].path;
		if (!path || !*path)
			continue;
		struct tpath *p = path_find(t, path);
		if (!p) {
			if ((t->npaths + 1) * 2 > t->pcap && path_table_grow(t) < 0)
				return lf_err(err, "tailer: out of memory adding %s", path);
			p = calloc(1, sizeof(*p));
			if (!p || !(p->path = strdup(path))) {
				free(p);
				return lf_err(err, "tailer: out of memory adding %s", path);
			}
			p->target = targets[i].target;
			pthread_mutex_lock(&t->mu);
			size_t j = hash_s(path) & (t->pcap - 1);
			p->hnext = t->ptab[j];
			t->ptab[j] = p;
			t->npaths++;
			pthread_mutex_unlock(&t->mu);
		}
		p->seen = true;
		if (!p->wanted) {
			pthread_mutex_lock(&t->mu); /* read by lf_tailer_list() */
			p->wanted = true;
			pthread_mutex_unlock(&t->mu);
		}
		{
			p->dirty = true;
			t->paths_dirty = true;
		}
		p->sync_idx = i;
		if (p->target != targets[i].target) {
			pthread_mutex_lock(&t->mu); /* read by lf_tailer_list() */
			p->target = targets[i].target;
			pthread_mutex_unlock(&t->mu);
			if (p->file && p->file->primary == p)
				file_set_primary(t, p->file, p);
		}
	}
	FOREACH_PATH(t, p)
	{
		if (p->seen)
			continue;
		pthread_mutex_lock(&t->mu); /* read by lf_tailer_list() */
		p->wanted = false;
		pthread_mutex_unlock(&t->mu);
		path_detach(t, p, true);
		path_unwatch_dirs(t, p);
		pthread_mutex_lock(&t->mu);
		path_unlink(t, p);
		pthread_mutex_unlock(&t->mu);
		free(p->path);
		free(p);
	}
	/* Paths in error are retried here (dirty), as are all others, in the
	 * order given, so that of two paths reaching one file the first one
	 * given becomes its primary path. */
	for (size_t i = 0; i < n; i++) {
		struct tpath *p = targets[i].path ? path_find(t, targets[i].path) : NULL;
		if (p && p->dirty && p->sync_idx == i)
			path_check(t, p);
	}
	check_dirty_paths(t);
	return 0;
}

/* When a moved committed offset is saved: at once when the last save is
 * positions_flush_ns old, else that long after it (coalescing). */
static int64_t flush_due(const struct lf_tailer *t)
{
	return t->last_save_ns + t->o.positions_flush_ns;
}

int lf_tailer_run_once(struct lf_tailer *t, int64_t now_ns)
{
	t->now = now_ns;
	t->kick = false;
	drain_events(t);
	if (t->recheck_all == false && now_ns >= t->next_recheck_ns) {
		t->recheck_all = true;
		t->next_recheck_ns = now_ns + t->o.recheck_ns;
	}
	/* Paths without a directory watch are checked on their poll tick
	 * through their file (poll_files); without inotify at all, every
	 * wanted path without a file is re-checked at the poll rate too. */
	poll_files(t);
	if (now_ns >= t->next_path_poll_ns) {
		/* Without a directory watch nothing tells us that a missing path
		 * appeared (or a rotation left it empty for a moment): poll. */
		FOREACH_PATH(t, p)
		{
			if (p->wanted && !p->file &&
			    (!t->watch || p->dir_polled || !p->dir_wd[0])) {
				p->dirty = true;
				t->paths_dirty = true;
			}
		}
		t->next_path_poll_ns = now_ns + t->o.poll_max_ns;
	}
	check_dirty_paths(t);

	size_t budget = t->o.read_budget;
	size_t quota = budget / 4 > t->o.read_size ? budget / 4 : t->o.read_size;
	bool more = false;
	if (!t->paused && t->files) {
		struct lf_tail_file *start = t->rr ? t->rr : t->files;
		struct lf_tail_file *f = start;
		do {
			struct lf_tail_file *nx = f->next ? f->next : t->files;
			if (f->want_read && budget > 0) {
				size_t q = quota < budget ? quota : budget;
				size_t got = file_read(t, f, q);
				budget -= got < budget ? got : budget;
				if (f->want_read && !t->paused && !f->inflight_full)
					more = true;
			}
			f = nx;
		} while (f != start && !t->paused);
		t->rr = f;
	}
	flush_partials(t);
	reap_files(t);
	bool flush = t->pos_dirty && now_ns >= flush_due(t);
	if (t->o.positions && (now_ns >= t->next_sync_ns || flush)) {
		struct lf_error err;
		t->pos_dirty = false;
		t->last_save_ns = now_ns;
		/* Rendered here, written (fsync) by the positions writer
		 * thread: the loop keeps reading meanwhile. */
		update_positions(t);
		if (lf_positions_save_async(t->o.positions, false, &err) < 0)
			lf_error("%s", err.msg);
		if (now_ns >= t->next_sync_ns)
			t->next_sync_ns = now_ns + t->o.positions_sync_ns;
	}
	for (struct lf_tail_file *f = t->files; f; f = f->next)
		if (f->want_read && !t->paused && !f->inflight_full)
			more = true;
	return more ? 1 : 0;
}

int lf_tailer_fd(const struct lf_tailer *t)
{
	return t->watch ? lf_watch_fd(t->watch) : -1;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

int64_t lf_tailer_next_wakeup_ns(const struct lf_tailer *t)
{
	int64_t w = min64(t->next_recheck_ns, t->next_sync_ns);
	if (t->pos_dirty)
		w = min64(w, flush_due(t));
	if (t->kick)
		return t->now;
	if (t->watch && lf_watch_fd(t->watch) < 0)
		w = min64(w, t->now + t->o.poll_min_ns);
	for (size_t k = 0; k < t->pcap; k++)
		for (const struct tpath *p = t->ptab[k]; p; p = p->hnext)
			if (p->wanted && !p->file && (!t->watch || p->dir_polled || !p->dir_wd[0]))
				w = min64(w, t->next_path_poll_ns);
	for (const struct lf_tail_file *f = t->files; f; f = f->next) {
		if (f->polled)
			w = min64(w, f->poll.next_ns);
		/* While paused nothing is delivered: resume kicks. */
		if (t->paused)
			continue;
		if (f->partial_len > 0 && t->o.partial_flush_ns >= 0)
			w = min64(w, f->partial_since + t->o.partial_flush_ns);
		/* An orphan waiting for acks needs no timer: the last ack kicks. */
		if (f->orphan &&
		    (lf_inflight_pending(&f->ring) == 0 || f->partial_len > 0 || f->skipping))
			w = min64(w,
			          f->unwanted ? t->now : f->last_growth_ns + t->o.rotate_wait_ns);
		if (f->inflight_full)
			w = min64(w, t->now + t->o.poll_min_ns);
	}
	return w;
}

bool lf_tailer_take_dir_changed(struct lf_tailer *t)
{
	bool v = t->dir_changed;
	t->dir_changed = false;
	return v;
}

void lf_tailer_pause(struct lf_tailer *t)
{
	t->paused = true;
}

void lf_tailer_resume(struct lf_tailer *t)
{
	if (t->paused)
		t->kick = true;
	t->paused = false;
}

bool lf_tailer_paused(const struct lf_tailer *t)
{
	return t->paused;
}

static void after_resolve(struct lf_tail_file *f)
{
	if (f->inflight_full || (f->orphan && lf_inflight_pending(&f->ring) == 0))
		f->t->kick = true;
	uint64_t committed = lf_inflight_committed(&f->ring);
	if (committed != atomic_load_explicit(&f->pub_committed, memory_order_relaxed)) {
		if (f->t->o.positions && f->t->o.positions_flush_ns >= 0)
			f->t->pos_dirty = true;
		atomic_store_explicit(&f->pub_committed, committed, memory_order_relaxed);
	}
	atomic_store_explicit(&f->pub_inflight, lf_inflight_pending(&f->ring),
	                      memory_order_relaxed);
}

void lf_tail_release(struct lf_tail_file *f, uint64_t first, uint64_t last)
{
	lf_inflight_release(&f->ring, first, last);
	after_resolve(f);
}

void lf_tail_claim(struct lf_tail_file *f, uint64_t first, uint64_t last, unsigned k)
{
	lf_inflight_claim(&f->ring, first, last, k);
	after_resolve(f);
}

void lf_tail_ack(struct lf_tail_file *f, uint64_t first, uint64_t last)
{
	lf_inflight_ack(&f->ring, first, last);
	after_resolve(f);
}

void lf_tailer_list(struct lf_tailer *t, void (*fn)(void *ctx, const struct lf_tail_file_info *),
                    void *ctx)
{
	pthread_mutex_lock(&t->mu);
	for (struct lf_tail_file *f = t->files; f; f = f->next) {
		struct lf_tail_file_info i = {
		        .path = f->path,
		        .target = f->target,
		        .dev = f->dev,
		        .ino = f->ino,
		        .offset = atomic_load(&f->pub_offset),
		        .committed = atomic_load(&f->pub_committed),
		        .size = atomic_load(&f->pub_size),
		        .lines = atomic_load(&f->pub_lines),
		        .inflight = atomic_load(&f->pub_inflight),
		        .polled = f->polled,
		        .state = f->orphan ? f->orphan_why : "reading",
		        .error = "",
		};
		fn(ctx, &i);
	}
	for (size_t k = 0; k < t->pcap; k++)
		for (struct tpath *p = t->ptab[k]; p; p = p->hnext) {
			if (p->file || !p->wanted)
				continue;
			struct lf_tail_file_info i = {
			        .path = p->path,
			        .target = p->target,
			        .state = p->err == ENOENT ? "missing" : "unreadable",
			        .error = p->errmsg,
			        .error_time_ns = p->err ? p->err_at : 0,
			};
			fn(ctx, &i);
		}
	pthread_mutex_unlock(&t->mu);
}

size_t lf_tailer_active_files(const struct lf_tailer *t)
{
	return t->n_files;
}
