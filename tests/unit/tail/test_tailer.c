/* test_tailer.c — the tailer against real files in temp dirs.
 *
 * No fixed sleeps: every test drives lf_tailer_run_once() in a loop, waiting
 * on the inotify fd (or the next timer) between rounds, until a condition
 * holds or a generous deadline passes. "Nothing more arrives" is checked
 * with a sentinel line written last.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "metrics.h"
#include "positions.h"
#include "tailer.h"
#include "timeutil.h"

#define DEADLINE (60 * LF_NS_PER_SEC)

static char g_dir[256];

/* ------------------------------------------------------------ helpers */

/* stat() is interposed (it is stat64 with _FILE_OFFSET_BITS=64) so that a
 * test can make a path look like a regular file to the tailer's stat while
 * it is something else when opened: the stat/open race. */
static char g_fake_reg_path[600];

int stat64(const char *restrict path, struct stat64 *restrict st)
{
	static int (*real)(const char *restrict, struct stat64 *restrict);
	/* threads may race here: the same value is stored */
	if (!__atomic_load_n(&real, __ATOMIC_ACQUIRE))
		__atomic_store_n(&real,
		                 (int (*)(const char *restrict, struct stat64 *restrict))dlsym(
		                         RTLD_NEXT, "stat64"),
		                 __ATOMIC_RELEASE);
	int rc = __atomic_load_n(&real, __ATOMIC_ACQUIRE)(path, st);
	if (rc == 0 && g_fake_reg_path[0] && strcmp(path, g_fake_reg_path) == 0)
		st->st_mode = (st->st_mode & ~(mode_t)S_IFMT) | S_IFREG;
	return rc;
}

struct rec {
	char *data;
	size_t len;
	char path[512];
	uint64_t seq, end;
	bool truncated, partial;
	struct lf_tail_file *file;
	void *target;
};

struct coll {
	struct rec *v;
	size_t n, cap;
	bool hold;          /* leave lines held instead of releasing them */
	size_t pause_after; /* pause the tailer when n reaches this (0 = never) */
	struct lf_tailer *t;
};

static void on_line(void *ctx, const struct lf_tail_line *l)
{
	struct coll *c = ctx;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 1024;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
		assert_non_null(c->v);
	}
	struct rec *r = &c->v[c->n++];
	r->data = malloc(l->len + 1);
	assert_non_null(r->data);
	memcpy(r->data, l->data, l->len);
	r->data[l->len] = 0;
	r->len = l->len;
	snprintf(r->path, sizeof(r->path), "%s", l->path);
	r->seq = l->seq;
	r->end = l->end_offset;
	r->truncated = l->truncated;
	r->partial = l->partial;
	r->file = l->file;
	r->target = l->target;
	if (!c->hold)
		lf_tail_release(l->file, l->seq, l->seq);
	if (c->pause_after && c->n == c->pause_after)
		lf_tailer_pause(c->t);
}

static void coll_free(struct coll *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].data);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static size_t coll_count(const struct coll *c, const char *data)
{
	size_t k = 0;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].data, data) == 0)
			k++;
	return k;
}

static bool coll_has(const struct coll *c, const char *data)
{
	return coll_count(c, data) > 0;
}

/* Runs the tailer until cond(arg) or the deadline. Between rounds it waits
 * on the inotify fd, at most until the tailer's next timer (capped at 20 ms
 * so that test-side conditions are rechecked often). */
static bool run_until(struct lf_tailer *t, bool (*cond)(void *), void *arg, int64_t timeout_ns)
{
	int64_t deadline = lf_monotonic_ns() + timeout_ns;
	for (;;) {
		int64_t now = lf_monotonic_ns();
		int more = lf_tailer_run_once(t, now);
		if (cond(arg))
			return true;
		if (now >= deadline)
			return false;
		if (more)
			continue;
		int64_t wait = lf_tailer_next_wakeup_ns(t) - lf_monotonic_ns();
		if (wait > 20 * LF_NS_PER_MS)
			wait = 20 * LF_NS_PER_MS;
		if (wait < 0)
			wait = 0;
		struct pollfd pfd = {.fd = lf_tailer_fd(t), .events = POLLIN};
		poll(&pfd, pfd.fd >= 0 ? 1 : 0, (int)(wait / LF_NS_PER_MS));
	}
}

struct want_n {
	struct coll *c;
	size_t n;
};
static bool cond_n(void *arg)
{
	struct want_n *w = arg;
	return w->c->n >= w->n;
}
static bool run_until_n(struct lf_tailer *t, struct coll *c, size_t n)
{
	struct want_n w = {c, n};
	return run_until(t, cond_n, &w, DEADLINE);
}

struct want_line {
	struct coll *c;
	const char *s;
};
static bool cond_line(void *arg)
{
	struct want_line *w = arg;
	return coll_has(w->c, w->s);
}
static bool run_until_line(struct lf_tailer *t, struct coll *c, const char *s)
{
	struct want_line w = {c, s};
	return run_until(t, cond_line, &w, DEADLINE);
}

struct want_files {
	struct lf_tailer *t;
	size_t n;
};
static bool cond_files(void *arg)
{
	struct want_files *w = arg;
	return lf_tailer_active_files(w->t) == w->n;
}
static bool run_until_files(struct lf_tailer *t, size_t n)
{
	struct want_files w = {t, n};
	return run_until(t, cond_files, &w, DEADLINE);
}

static bool cond_never(void *arg)
{
	(void)arg;
	return false;
}

static void path_of(char *out, size_t sz, const char *name)
{
	snprintf(out, sz, "%s/%s", g_dir, name);
}

static void append(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static void fd_printf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fd_printf(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_int_equal(write(fd, buf, (size_t)n), n);
}

static struct lf_tailer *new_tailer(struct coll *c, struct lf_tailer_opts *o)
{
	if (!o->on_line)
		o->on_line = on_line;
	o->cb_ctx = c;
	if (!o->rotate_wait_ns)
		o->rotate_wait_ns = 200 * LF_NS_PER_MS;
	if (!o->poll_min_ns)
		o->poll_min_ns = 20 * LF_NS_PER_MS;
	if (!o->poll_max_ns)
		o->poll_max_ns = 80 * LF_NS_PER_MS;
	struct lf_tailer *t;
	struct lf_error err;
	assert_int_equal(lf_tailer_new(o, &t, &err), 0);
	c->t = t;
	return t;
}

static void sync1(struct lf_tailer *t, const char *path, void *target)
{
	struct lf_tail_target tg = {path, target};
	struct lf_error err;
	assert_int_equal(lf_tailer_sync(t, &tg, 1, &err), 0);
}

struct find_ctx {
	const char *path;
	struct lf_tail_file_info info;
	char state[32];
	int found;
};
static void find_cb(void *ctx, const struct lf_tail_file_info *i)
{
	struct find_ctx *f = ctx;
	if (strcmp(i->path, f->path) == 0 && strcmp(i->state, "rotated") != 0 &&
	    strcmp(i->state, "deleted") != 0) {
		f->info = *i;
		snprintf(f->state, sizeof(f->state), "%s", i->state);
		f->found++;
	}
}
static struct find_ctx find_info(struct lf_tailer *t, const char *path)
{
	struct find_ctx f = {.path = path};
	lf_tailer_list(t, find_cb, &f);
	return f;
}

static int setup(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/lf_test_tailer_XXXXXX");
	return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* -------------------------------------------------------------- tests */

static void test_big_reads_and_partial(void **state)
{
	(void)state;
	char path[512];
	path_of(path, sizeof(path), "big.log");
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	/* ~3 MiB of lines of varying length: many 256 KiB reads, lines cut at
	 * buffer boundaries. */
	for (int i = 0; i < 30000; i++)
		fprintf(fp, "line %d %.*s\n", i, i % 180,
		        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		        "xxxxxxxxxxxxxxxxxxxxxxxxx");
	fprintf(fp, "partial-no-newline");
	fclose(fp);

	struct coll c = {0};
	struct lf_tailer_opts o = {.partial_flush_ns = -1};
	struct lf_tailer *t = new_tailer(&c, &o);
	int target = 7;
	sync1(t, path, &target);
	assert_true(run_until_n(t, &c, 30000));
	assert_int_equal(c.n, 30000);
	uint64_t end = 0;
	char expect[512];
	for (int i = 0; i < 30000; i++) {
		snprintf(expect, sizeof(expect), "line %d %.*s", i, i % 180,
		         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		         "xxxxxxxxxxxxxxxxxxxxxxxxxxx");
		assert_string_equal(c.v[i].data, expect);
		assert_int_equal(c.v[i].seq, (uint64_t)i + 1);
		end += strlen(expect) + 1;
		assert_int_equal(c.v[i].end, end);
		assert_string_equal(c.v[i].path, path);
		assert_ptr_equal(c.v[i].target, &target);
		assert_false(c.v[i].partial);
	}
	/* The partial line waits for its newline... */
	struct find_ctx fi = find_info(t, path);
	assert_int_equal(fi.found, 1);
	assert_int_equal(fi.info.offset, end);
	assert_int_equal(fi.info.committed, end);
	assert_int_equal(fi.info.lines, 30000);
	append(path, "-completed\nafter\n");
	assert_true(run_until_line(t, &c, "after"));
	assert_string_equal(c.v[30000].data, "partial-no-newline-completed");
	assert_string_equal(c.v[30001].data, "after");
	lf_tailer_free(t);
	coll_free(&c);
}

static void test_partial_flush_timeout(void **state)
{
	(void)state;
	char path[512];
	path_of(path, sizeof(path), "partial.log");
	append(path, "first\nlonely");
	struct coll c = {0};
	struct lf_tailer_opts o = {.partial_flush_ns = 150 * LF_NS_PER_MS};
	struct lf_tailer *t = new_tailer(&c, &o);
	sync1(t, path, NULL);
	assert_true(run_until_line(t, &c, "lonely"));
	assert_int_equal(c.n, 2);
	assert_false(c.v[0].partial);
	assert_true(c.v[1].partial);
	assert_int_equal(c.v[1].end, 12);
	/* What follows is the next line. */
	append(path, " tail\nnext\n");
	assert_true(run_until_line(t, &c, "next"));
	assert_string_equal(c.v[2].data, " tail");
	assert_int_equal(c.n, 4);
	lf_tailer_free(t);
	coll_free(&c);
}

/* Rename rotation while the writer keeps appending to the old fd: every
 * line exactly once. */
static void rotation_case(bool force_poll)
{
	char path[512], rotated[512];
	path_of(path, sizeof(path), force_poll ? "rot-poll.log" : "rot.log");
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	int w = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	assert_true(w >= 0);
	for (int i = 0; i < 1000; i++)
		fd_printf(w, "line-%d\n", i);

	struct coll c = {0};
	struct lf_tailer_opts o = {.force_poll = force_poll};
	struct lf_tailer *t = new_tailer(&c, &o);
	sync1(t, path, NULL);
	assert_true(run_until_n(t, &c, 1000));

	for (int i = 1000; i < 1500; i++)
		fd_printf(w, "line-%d\n", i);
	assert_int_equal(rename(path, rotated), 0);
	/* Appended during the rename, before the writer reopens. */
	for (int i = 1500; i < 2000; i++)
		fd_printf(w, "line-%d\n", i);
	int w2 = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	assert_true(w2 >= 0);
	for (int i = 2000; i < 3000; i++)
		fd_printf(w2, "line-%d\n", i);
	/* The old writer still has a few lines in flight. */
	for (int i = 3000; i < 3100; i++)
		fd_printf(w, "line-%d\n", i);
	close(w);
	fd_printf(w2, "sentinel\n");
	close(w2);

	assert_true(run_until_n(t, &c, 3101));
	/* The rotated file is closed once drained, idle and done. */
	assert_true(run_until_files(t, 1));
	char buf[64];
	for (int i = 0; i < 3100; i++) {
		snprintf(buf, sizeof(buf), "line-%d", i);
		if (coll_count(&c, buf) != 1)
			fail_msg("%s delivered %zu times", buf, coll_count(&c, buf));
	}
	assert_int_equal(c.n, 3101);
	/* The new file restarts seqs at 1 and offsets at 0. */
	for (size_t i = 0; i < c.n; i++)
		if (strcmp(c.v[i].data, "line-2000") == 0) {
			assert_int_equal(c.v[i].seq, 1);
			assert_int_equal(c.v[i].end, strlen("line-2000\n"));
		}
	struct find_ctx fi = find_info(t, path);
	assert_int_equal(fi.found, 1);
	assert_int_equal(fi.info.polled, force_poll);
	lf_tailer_free(t);
	coll_free(&c);
}

static void test_rotation_rename(void **state)
{
	(void)state;
	rotation_case(false);
}

static void test_rotation_poll_fallback(void **state)
{
	(void)state;
	rotation_case(true);
}

static void test_copytruncate(void **state)
{
	(void)state;
	char path[512];
	path_of(path, sizeof(path), "ct.log");
	for (int i = 0; i < 200; i++) {
		char b[64];
		snprintf(b, sizeof(b), "old-%d\n", i);
		append(path, b);
	}
	struct coll c = {0};
	struct lf_tailer_opts o = {0};
	struct lf_tailer *t = new_tailer(&c, &o);
	sync1(t, path, NULL);
	assert_true(run_until_n(t, &c, 200));
	/* copytruncate: the file is copied elsewhere and truncated in place;
	 * the writer (O_APPEND) continues at the new end. */
	assert_int_equal(truncate(path, 0), 0);
	append(path, "new-0\nnew-1\n");
	assert_true(run_until_line(t, &c, "new-1"));
	assert_int_equal(c.n, 202);
	assert_string_equal(c.v[200].data, "new-0");
	assert_int_equal(c.v[200].end, 6);
	assert_int_equal(c.v[201].end, 12);
	struct find_ctx fi = find_info(t, path);
	assert_int_equal(fi.info.offset, 12);
	assert_int_equal(fi.info.committed, 12);
	/* Truncated and rewritten past the old offset while paused (back-
	 * pressure): the changed first bytes reveal it; nothing is skipped. */
	lf_tailer_pause(t);
	assert_int_equal(truncate(path, 0), 0);
	for (int i = 0; i < 20; i++) {
		char b[64];
		snprintf(b, sizeof(b), "again-%d\n", i);
		append(path, b);
	}
	lf_tailer_resume(t);
	assert_true(run_until_line(t, &c, "again-19"));
	assert_int_equal(c.n, 222);
	assert_string_equal(c.v[202].data, "again-0");
	assert_int_equal(c.v[202].end, 8);
	lf_tailer_free(t);
	coll_free(&c);
}

static bool fd_open_to_deleted(const char *path)
{
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd 2>/dev/null | grep -q '%s (deleted)'",
	         (int)getpid(), path);
	return system(cmd) == 0;
}

static void test_delete_and_recreate(void **state)
{
	(void)state;
	char path[512];
	path_of(path, sizeof(path), "del.log");
	append(path, "a1\na2\n");
	struct coll c = {0};
	struct lf_tailer_opts o = {0};
	struct lf_tailer *t = new_tailer(&c, &o);
	sync1(t, path, NULL);
	assert_true(run_until_n(t, &c, 2));
	/* Appended right before the delete: still read from the open fd. */
	append(path, "a3-last\n");
	assert_int_equal(unlink(path), 0);
	assert_true(run_until_line(t, &c, "a3-last"));
	/* Closed after rotate_wait: the disk space is freed. */
	assert_true(run_until_files(t, 0));
	assert_false(fd_open_to_deleted(path));
	/* Recreated (new inode): picked up from offset 0 through the
	 * directory watch, without a sync call. */
	append(path, "b1\nb2\n");
	assert_true(run_until_line(t, &c, "b2"));
	assert_int_equal(c.n, 5);
	assert_string_equal(c.v[3].data, "b1");
	assert_int_equal(c.v[3].seq, 1);
	assert_int_equal(c.v[3].end, 3);
	assert_int_equal(lf_tailer_active_files(t), 1);
	lf_tailer_free(t);
	coll_free(&c);
}

static void test_deleted_file_kept_until_acked(void **state)
{
	(void)state;
	char path[512];
	path_of(path, sizeof(path), "delack.log");
	append(path, "x1\nx2\n");
	struct coll c = {.hold = true};
	struct lf_tailer_opts o = {0};
	struct lf_tailer *t = new_tailer(&c, &o);
	sync1(t, path, NULL);
	assert_true(run_until_n(t, &c, 2));
	lf_tail_claim(c.v[0].file, 1, 2, 1); /* one entry for both lines */
	assert_int_equal(unlink(path), 0);
	/* Drained and idle, but the entry is unacknowledged: stays open. */
	assert_false(run_until(t, cond_never, NULL, 3 * o.rotate_wait_ns));
	assert_int_equal(lf_tailer_active_files(t), 1);
	lf_tail_ack(c.v[0].file, 1, 2);
	assert_true(run_until_files(t, 0));
	lf_tailer_free(t);
	coll_free(&c);
}

static void test_symlink_dedup(void **state)
{
	(void)state;
	char pods[512], ctrs[512], real[512], link1[512];
	path_of(pods, sizeof(pods), "pods");
	path_of(ctrs, sizeof(ctrs), "containers");
	assert_int_equal(mkdir(pods, 0755), 0);
	assert_int_equal(mkdir(ctrs, 0755), 0);
	snprintf(real, sizeof(real), "%s/0.log", pods);
	snprintf(link1, sizeof(link1), "%s/app.log", ctrs);
	append(real, "one\ntwo\n");
	assert_int_equal(symlink(real, link1), 0);

	struct coll c = {0};
	struct lf_tailer_opts o = {0};
	struct lf_tailer *t = new_tailer(&c, &o);
	int ta = 1, tb = 2;
	struct lf_tail_target tg[2] = {{link1, &ta}, {real, &tb}};
	struct lf_error err;
	assert_int_equal(lf_tailer_sync(t, tg, 2, &err), 0);
	assert_true(run_until_n(t, &c, 2));
	assert_int_equal(lf_tailer_active_files(t), 1);
	append(real, "three\n");
	assert_true(run_until_line(t, &c, "three"));
	assert_int_equal(c.n, 3);
	assert_string_equal(c.v[0].path, link1);
	assert_ptr_equal(c.v[0].target, &ta);
	/* The first path leaves: the file is not re-read, the other path
	 * takes over. */
	assert_int_equal(lf_tailer_sync(t, &tg[1], 1, &err), 0);
	append(real, "four\n");
	assert_true(run_until_line(t, &c, "four"));
	assert_int_equal(c.n, 4);
	assert_string_equal(c.v[3].path, real);
	assert_ptr_equal(c.v[3].target, &tb);
	assert_int_equal(lf_tailer_active_files(t), 1);
	lf_tailer_free(t);
	coll_free(&c);
}

static void test_binary_passthrough(void **state)
{
	(void)state;
	char path[512];
	path_of(path, sizeof(path), "bin.log");
	const char data[] = "a\0b\xff\xfe\xc3\x28 \r\nok\n";
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, sizeof(data) - 1), (ssize_t)sizeof(data) - 1);
	close(fd);
	struct coll c = {0};
	struct lf_tailer_opts o = {0};
	struct lf_tailer *t = new_tailer(&c, &o);
	sync1(t, path, NULL);
	assert_true(run_until_n(t, &c, 2));
	assert_int_equal(c.v[0].len, 9);
	assert_memory_equal(c.v[0].data, "a\0b\xff\xfe\xc3\x28 \r", 9);
	assert_string_equal(c.v[1].data, "ok");
	lf_tailer_free(t);
	coll_free(&c);
}

static void long_line_case(bool truncate)
{
	char path[512];
	path_of(path, sizeof(path), truncate ? "long-t.log" : "long-d.log");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	fd_printf(fd, "before\n");
	char *big = malloc(1 << 20);
	assert_non_null(big);
	memset(big, 'L', 1 << 20);
	for (int i = 0; i < 10; i++) /* a 10 MiB line */
		assert_int_equal(write(fd, big, 1 << 20), 1 << 20);
	fd_printf(fd, "\nafter-1\nafter-2\n");
	close(fd);
	free(big);

	struct lf_metrics *m = lf_metrics_new();
	struct coll c = {0};
	struct lf_tailer_opts o = {
	        .max_line_size = 65536, .max_line_size_truncate = truncate, .metrics = m};
	struct lf_tailer *t = new_tailer(&c, &o);
	sync1(t, path, NULL);
	assert_true(run_until_line(t, &c, "after-2"));
	uint64_t long_end = 7 + (10u << 20) + 1;
	if (truncate) {
		assert_int_equal(c.n, 4);
		assert_int_equal(c.v[1].len, 65536);
		assert_true(c.v[1].truncated);
		assert_int_equal(c.v[1].data[0], 'L');
		assert_int_equal(c.v[1].data[65535], 'L');
		assert_string_equal(c.v[2].data, "after-1");
	} else {
		assert_int_equal(c.n, 3);
		assert_string_equal(c.v[1].data, "after-1");
	}
	assert_string_equal(c.v[0].data, "before");
	struct rec *a1 = &c.v[c.n - 2];
	assert_int_equal(a1->end, long_end + 8);
	/* All released: the committed offset went past the long line. */
	struct find_ctx fi = find_info(t, path);
	assert_int_equal(fi.info.committed, long_end + 16);
	const char *lv[] = {truncate ? "truncated" : "dropped"};
	struct lf_metric_family *fam =
	        lf_metrics_family(m, LF_METRIC_COUNTER, "logferry_tail_long_lines_total", "",
	                          (const char *const[]){"action", NULL}, NULL, 0);
	assert_true(lf_metric_value(fam, lv) == 1.0);
	lf_tailer_free(t);
	lf_metrics_free(m);
	coll_free(&c);
}

static void test_long_line_truncate(void **state)
{
	(void)state;
	long_line_case(true);
}

static void test_long_line_drop(void **state)
{
	(void)state;
	long_line_case(false);
}

static void test_positions_resume_and_at_least_once(void **state)
{
	(void)state;
	char path[512], pos[512];
	path_of(path, sizeof(path), "resume.log");
	path_of(pos, sizeof(pos), "positions.yaml");
	append(path, "r1\nr2\nr3\n");
	struct lf_positions_opts po = {.filename = pos};
	struct lf_positions *p;
	struct lf_error err;
	assert_int_equal(lf_positions_open(&po, &p, &err), 0);

	struct coll c = {.hold = true};
	struct lf_tailer_opts o = {.positions = p};
	struct lf_tailer *t = new_tailer(&c, &o);
	sync1(t, path, NULL);
	assert_true(run_until_n(t, &c, 3));
	/* r1 dropped by the pipeline, r2+r3 one entry sent to 2 clients; only
	 * one client acked: the committed offset stops after r1. */
	lf_tail_release(c.v[0].file, 1, 1);
	lf_tail_claim(c.v[1].file, 2, 3, 2);
	lf_tail_ack(c.v[1].file, 2, 3);
	assert_int_equal(lf_tailer_save_positions(t, true, &err), 0);
	struct lf_pos_entry e;
	assert_true(lf_positions_get(p, path, &e));
	assert_int_equal(e.offset, 3);
	assert_true(e.has_id);
	/* "Crash" here: a new tailer resumes after r1 (r2, r3 again). */
	lf_tailer_free(t);
	lf_positions_free(p);
	coll_free(&c);

	assert_int_equal(lf_positions_open(&po, &p, &err), 0);
	c = (struct coll){0};
	o = (struct lf_tailer_opts){.positions = p};
	t = new_tailer(&c, &o);
	sync1(t, path, NULL);
	assert_true(run_until_n(t, &c, 2));
	assert_string_equal(c.v[0].data, "r2");
	assert_string_equal(c.v[1].data, "r3");
	assert_int_equal(lf_tailer_save_positions(t, false, &err), 0);
	lf_tailer_free(t);
	lf_positions_free(p);
	coll_free(&c);

	/* Everything done: a restart delivers only new lines. */
	assert_int_equal(lf_positions_open(&po, &p, &err), 0);
	c = (struct coll){0};
	o = (struct lf_tailer_opts){.positions = p};
	t = new_tailer(&c, &o);
	append(path, "r4\n");
	sync1(t, path, NULL);
	assert_true(run_until_line(t, &c, "r4"));
	assert_int_equal(c.n, 1);
	lf_tailer_free(t);
	lf_positions_free(p);
	coll_free(&c);

	/* Replaced while down (new inode, larger than the saved offset): read
	 * from 0, not from the stale offset. */
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	append(tmp, "n1-aaaaaaaaaaaaaaaaaaaaaaa\nn2\n");
	assert_int_equal(rename(tmp, path), 0);
	assert_int_equal(lf_positions_open(&po, &p, &err), 0);
	c = (struct coll){0};
	o = (struct lf_tailer_opts){.positions = p};
	t = new_tailer(&c, &o);
	sync1(t, path, NULL);
	assert_true(run_until_line(t, &c, "n2"));
	assert_string_equal(c.v[0].data, "n1-aaaaaaaaaaaaaaaaaaaaaaa");
	lf_tailer_free(t);
	lf_positions_free(p);
	coll_free(&c);
}

/* The committed offset on disk (a fresh reader of the positions file). */
static uint64_t disk_offset(const char *pos, const char *path)
{
	struct lf_positions_opts po = {.filename = pos};
	struct lf_positions *p;
	struct lf_error err;
	assert_int_equal(lf_positions_open(&po, &p, &err), 0);
	struct lf_pos_entry e = {0};
	bool found = lf_positions_get(p, path, &e);
	lf_positions_free(p);
	return found ? e.offset : 0;
}

/* Positions are saved soon after an ack moves a committed offset (at once
 * when the last save is positions_flush_ns old, else coalesced to one save
 * that long after it), long before sync_period; off with flush < 0. */
static void test_positions_saved_soon_after_ack(void **state)
{
	(void)state;
	char path[512], pos[512];
	path_of(path, sizeof(path), "flush.log");
	path_of(pos, sizeof(pos), "flush-positions.yaml");
	append(path, "f1\nf2\nf3\n");
	for (int off = 0; off < 2; off++) {
		unlink(pos);
		struct lf_positions_opts po = {.filename = pos};
		struct lf_positions *p;
		struct lf_error err;
		assert_int_equal(lf_positions_open(&po, &p, &err), 0);
		struct coll c = {.hold = true};
		struct lf_tailer_opts o = {.positions = p,
		                           .positions_sync_ns = 3600 * LF_NS_PER_SEC,
		                           .positions_flush_ns = off ? -1 : 200 * LF_NS_PER_MS};
		struct lf_tailer *t = new_tailer(&c, &o);
		sync1(t, path, NULL);
		assert_true(run_until_n(t, &c, 3));
		int64_t now = lf_monotonic_ns();
		assert_true(lf_tailer_next_wakeup_ns(t) > now + LF_NS_PER_SEC);
		assert_int_equal(disk_offset(pos, path), 0);

		lf_tail_claim(c.v[0].file, 1, 1, 1);
		lf_tail_ack(c.v[0].file, 1, 1);
		if (off) {
			/* only the periodic sync (an hour away) would write */
			assert_true(lf_tailer_next_wakeup_ns(t) > now + LF_NS_PER_SEC);
			lf_tailer_run_once(t, now + LF_NS_PER_SEC);
			lf_positions_wait_written(p);
			assert_int_equal(disk_offset(pos, path), 0);
		} else {
			/* nothing saved for 200 ms: the first ack is saved at once */
			assert_true(lf_tailer_next_wakeup_ns(t) <= now);
			lf_tailer_run_once(t, now);
			lf_positions_wait_written(p);
			assert_int_equal(disk_offset(pos, path), 3);
			/* the next one within 200 ms of that save waits for it */
			lf_tail_claim(c.v[1].file, 2, 2, 1);
			lf_tail_ack(c.v[1].file, 2, 2);
			assert_true(lf_tailer_next_wakeup_ns(t) == now + 200 * LF_NS_PER_MS);
			lf_tailer_run_once(t, now + 100 * LF_NS_PER_MS);
			lf_positions_wait_written(p);
			assert_int_equal(disk_offset(pos, path), 3);
			lf_tail_claim(c.v[2].file, 3, 3, 1);
			lf_tail_ack(c.v[2].file, 3, 3);
			lf_tailer_run_once(t, now + 200 * LF_NS_PER_MS);
			lf_positions_wait_written(p);
			assert_int_equal(disk_offset(pos, path), 9);
			/* nothing moved since: no timer for it */
			assert_true(lf_tailer_next_wakeup_ns(t) > now + LF_NS_PER_SEC);
		}
		lf_tailer_free(t);
		lf_positions_free(p);
		coll_free(&c);
	}
}

static void test_promtail_positions_resume(void **state)
{
	(void)state;
	char path[512], pos[512];
	path_of(path, sizeof(path), "promtail.log");
	path_of(pos, sizeof(pos), "promtail-positions.yaml");
	append(path, "p1\np2\np3\n");
	char text[1200];
	snprintf(text, sizeof(text), "positions:\n  %s: \"3\"\n", path);
	append(pos, text);
	struct lf_positions_opts po = {.filename = pos};
	struct lf_positions *p;
	struct lf_error err;
	assert_int_equal(lf_positions_open(&po, &p, &err), 0);
	struct coll c = {0};
	struct lf_tailer_opts o = {.positions = p};
	struct lf_tailer *t = new_tailer(&c, &o);
	sync1(t, path, NULL);
	assert_true(run_until_line(t, &c, "p3"));
	assert_int_equal(c.n, 2);
	assert_string_equal(c.v[0].data, "p2");
	assert_int_equal(lf_tailer_save_positions(t, false, &err), 0);
	lf_tailer_free(t);
	lf_positions_free(p);
	coll_free(&c);
	/* The file we write is still readable as Promtail's format. */
	FILE *f = fopen(pos, "r");
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	snprintf(text, sizeof(text), "positions:\n  %s: \"9\"\n", path);
	assert_non_null(strstr(buf, text));
}

static void test_pause_resume(void **state)
{
	(void)state;
	char path[512];
	path_of(path, sizeof(path), "pause.log");
	for (int i = 0; i < 100; i++) {
		char b[32];
		snprintf(b, sizeof(b), "p-%d\n", i);
		append(path, b);
	}
	struct coll c = {.pause_after = 10};
	struct lf_tailer_opts o = {0};
	struct lf_tailer *t = new_tailer(&c, &o);
	sync1(t, path, NULL);
	assert_true(run_until_n(t, &c, 10));
	assert_true(lf_tailer_paused(t));
	/* While paused nothing is read, however often the loop runs. */
	append(path, "more\n");
	for (int i = 0; i < 50; i++)
		lf_tailer_run_once(t, lf_monotonic_ns());
	assert_int_equal(c.n, 10);
	lf_tailer_resume(t);
	assert_true(run_until_line(t, &c, "more"));
	assert_int_equal(c.n, 101);
	for (int i = 0; i < 100; i++) {
		char b[32];
		snprintf(b, sizeof(b), "p-%d", i);
		assert_string_equal(c.v[i].data, b);
	}
	lf_tailer_free(t);
	coll_free(&c);
}

static void test_inflight_cap(void **state)
{
	(void)state;
	char path[512];
	path_of(path, sizeof(path), "cap.log");
	for (int i = 0; i < 500; i++)
		append(path, "x\n");
	struct coll c = {.hold = true};
	struct lf_tailer_opts o = {.max_inflight_lines = 100};
	struct lf_tailer *t = new_tailer(&c, &o);
	sync1(t, path, NULL);
	assert_true(run_until_n(t, &c, 100));
	for (int i = 0; i < 20; i++)
		lf_tailer_run_once(t, lf_monotonic_ns());
	assert_int_equal(c.n, 100);
	lf_tail_release(c.v[0].file, 1, 100);
	assert_true(run_until_n(t, &c, 200));
	c.hold = false;
	lf_tail_release(c.v[0].file, 101, 200);
	assert_true(run_until_n(t, &c, 500));
	struct find_ctx fi = find_info(t, path);
	assert_int_equal(fi.info.committed, 1000);
	lf_tailer_free(t);
	coll_free(&c);
}

static void test_thousand_files(void **state)
{
	(void)state;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2048) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	char dir[512];
	path_of(dir, sizeof(dir), "many");
	assert_int_equal(mkdir(dir, 0755), 0);
	enum { N = 1000 };
	static char paths[N][600];
	struct lf_tail_target tg[N];
	for (int i = 0; i < N; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/f%04d.log", dir, i);
		char b[64];
		snprintf(b, sizeof(b), "f%d-a\nf%d-b\n", i, i);
		append(paths[i], b);
		tg[i] = (struct lf_tail_target){paths[i], NULL};
	}
	struct coll c = {0};
	struct lf_tailer_opts o = {0};
	struct lf_tailer *t = new_tailer(&c, &o);
	struct lf_error err;
	assert_int_equal(lf_tailer_sync(t, tg, N, &err), 0);
	assert_true(run_until_n(t, &c, 2 * N));
	assert_int_equal(lf_tailer_active_files(t), N);
	/* Growth of one file among 1000 is noticed (inotify per file). */
	append(paths[777], "late\n");
	assert_true(run_until_line(t, &c, "late"));
	assert_int_equal(c.n, 2 * N + 1);
	/* Removing them from the set drains and closes all. */
	assert_int_equal(lf_tailer_sync(t, NULL, 0, &err), 0);
	assert_true(run_until_files(t, 0));
	lf_tailer_free(t);
	coll_free(&c);
}

static void test_metrics_and_list(void **state)
{
	(void)state;
	char path[512];
	path_of(path, sizeof(path), "metrics.log");
	append(path, "m1\nm2\n");
	struct lf_metrics *m = lf_metrics_new();
	struct coll c = {0};
	struct lf_tailer_opts o = {.metrics = m};
	struct lf_tailer *t = new_tailer(&c, &o);
	sync1(t, path, NULL);
	assert_true(run_until_n(t, &c, 2));
	struct lf_buf out = LF_BUF_INIT;
	assert_int_equal(lf_metrics_render(m, &out), 0);
	char line[700];
	snprintf(line, sizeof(line), "logferry_read_lines_total{path=\"%s\"} 2\n", path);
	assert_non_null(strstr(out.data, line));
	snprintf(line, sizeof(line), "logferry_read_bytes_total{path=\"%s\"} 6\n", path);
	assert_non_null(strstr(out.data, line));
	snprintf(line, sizeof(line), "logferry_file_bytes_total{path=\"%s\"} 6\n", path);
	assert_non_null(strstr(out.data, line));
	/* everything read: no lag */
	snprintf(line, sizeof(line), "logferry_stream_lag_bytes{path=\"%s\"} 0\n", path);
	assert_non_null(strstr(out.data, line));
	assert_non_null(strstr(out.data, "logferry_files_active_total 1\n"));
	struct find_ctx fi = find_info(t, path);
	assert_string_equal(fi.state, "reading");
	assert_int_equal(fi.info.size, 6);
	lf_buf_free(&out);
	lf_tailer_free(t);
	lf_metrics_free(m);
	coll_free(&c);
}

static void test_positions_follow_rotation_and_cleanup(void **state)
{
	(void)state;
	char path[512], rotated[600], pos[512], gone[512], other[512];
	path_of(path, sizeof(path), "prot.log");
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	path_of(pos, sizeof(pos), "prot-positions.yaml");
	path_of(gone, sizeof(gone), "gone.log");
	path_of(other, sizeof(other), "other.log");
	append(path, "o1\no2\n");
	append(other, "x\n");
	char text[2000];
	snprintf(text, sizeof(text), "positions:\n  %s: \"5\"\n  %s: \"1\"\n", gone, other);
	append(pos, text);
	struct lf_positions_opts po = {.filename = pos};
	struct lf_positions *p;
	struct lf_error err;
	assert_int_equal(lf_positions_open(&po, &p, &err), 0);
	struct coll c = {.hold = true};
	struct lf_tailer_opts o = {.positions = p};
	struct lf_tailer *t = new_tailer(&c, &o);
	sync1(t, path, NULL);
	assert_true(run_until_n(t, &c, 2));
	struct stat st_old;
	assert_int_equal(stat(path, &st_old), 0);
	/* Rotate while both lines are in flight; the new file's line is done. */
	assert_int_equal(rename(path, rotated), 0);
	append(path, "n1\n");
	c.hold = false;
	assert_true(run_until_line(t, &c, "n1"));
	assert_int_equal(lf_tailer_save_positions(t, false, &err), 0);
	struct lf_pos_entry e;
	assert_true(lf_positions_get(p, path, &e));
	/* Still the old file's identity and committed offset (0). */
	assert_int_equal(e.ino, (uint64_t)st_old.st_ino);
	assert_int_equal(e.offset, 0);
	/* The entry of a file that no longer exists is dropped; the one of an
	 * existing file that is not tailed is kept. */
	assert_false(lf_positions_get(p, gone, &e));
	assert_true(lf_positions_get(p, other, &e));
	/* Old file done: the path's entry moves to the new file. */
	lf_tail_release(c.v[0].file, 1, 2);
	assert_true(run_until_files(t, 1));
	assert_int_equal(lf_tailer_save_positions(t, false, &err), 0);
	struct stat st_new;
	assert_int_equal(stat(path, &st_new), 0);
	assert_true(lf_positions_get(p, path, &e));
	assert_int_equal(e.ino, (uint64_t)st_new.st_ino);
	assert_int_equal(e.offset, 3);
	/* The path leaves the set: drained, closed, its final offset kept. */
	append(path, "n2\n");
	assert_true(run_until_line(t, &c, "n2"));
	assert_int_equal(lf_tailer_sync(t, NULL, 0, &err), 0);
	assert_true(run_until_files(t, 0));
	assert_int_equal(lf_tailer_save_positions(t, false, &err), 0);
	assert_true(lf_positions_get(p, path, &e));
	assert_int_equal(e.offset, 6);
	lf_tailer_free(t);
	lf_positions_free(p);
	coll_free(&c);
}

/* A writer thread appends continuously and rotates five times (rename,
 * a few more lines through the old fd, new file); every line must arrive
 * exactly once. The writer waits until the tailer has seen a new file
 * before rotating it again (two rotations within one loop turn lose the
 * middle file, see tailer.h). */
struct writer_arg {
	char path[512];
	_Atomic int seen_gen; /* highest "gen-N" start line delivered */
	int gens, per_gen;
};

static void *writer_main(void *arg)
{
	struct writer_arg *w = arg;
	int fd = open(w->path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	int64_t deadline = lf_monotonic_ns() + DEADLINE;
	for (int g = 0; g < w->gens; g++) {
		dprintf(fd, "gen-%d\n", g);
		for (int i = 0; i < w->per_gen; i++)
			dprintf(fd, "w-%d-%d\n", g, i);
		if (g == w->gens - 1)
			break;
		while (atomic_load(&w->seen_gen) < g && lf_monotonic_ns() < deadline)
			sched_yield();
		char rot[600];
		snprintf(rot, sizeof(rot), "%s.%d", w->path, g);
		if (rename(w->path, rot) != 0)
			break;
		for (int i = 0; i < 50; i++) /* late writes to the renamed file */
			dprintf(fd, "late-%d-%d\n", g, i);
		int nfd = open(w->path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		close(fd);
		fd = nfd;
	}
	dprintf(fd, "writer-done\n");
	close(fd);
	return NULL;
}

static struct writer_arg *g_writer;

static void on_line_gen(void *ctx, const struct lf_tail_line *l)
{
	int g;
	if (l->len > 4 && memcmp(l->data, "gen-", 4) == 0 && sscanf(l->data, "gen-%d", &g) == 1 &&
	    g > atomic_load(&g_writer->seen_gen))
		atomic_store(&g_writer->seen_gen, g);
	on_line(ctx, l);
}

static void concurrent_rotation_case(bool force_poll)
{
	static struct writer_arg w;
	memset(&w, 0, sizeof(w));
	path_of(w.path, sizeof(w.path), force_poll ? "conc-poll.log" : "conc.log");
	atomic_store(&w.seen_gen, -1);
	w.gens = 6;
	w.per_gen = 3000;
	g_writer = &w;
	append(w.path, "");
	struct coll c = {0};
	struct lf_tailer_opts o = {.force_poll = force_poll, .on_line = on_line_gen};
	struct lf_tailer *t = new_tailer(&c, &o);
	sync1(t, w.path, NULL);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
	bool ok = run_until_line(t, &c, "writer-done");
	pthread_join(th, NULL);
	assert_true(ok);
	/* Late lines of the last rotated file may come after writer-done. */
	size_t total = (size_t)w.gens * (size_t)(w.per_gen + 1) + (size_t)(w.gens - 1) * 50 + 1;
	assert_true(run_until_n(t, &c, total));
	assert_true(run_until_files(t, 1));
	/* Count every line once (a linear scan per line would be quadratic). */
	static int seen[8][3000], late[8][50];
	memset(seen, 0, sizeof(seen));
	memset(late, 0, sizeof(late));
	for (size_t k = 0; k < c.n; k++) {
		int g, i;
		if (sscanf(c.v[k].data, "w-%d-%d", &g, &i) == 2)
			seen[g][i]++;
		else if (sscanf(c.v[k].data, "late-%d-%d", &g, &i) == 2)
			late[g][i]++;
	}
	for (int g = 0; g < w.gens; g++)
		for (int i = 0; i < w.per_gen; i++)
			if (seen[g][i] != 1)
				fail_msg("w-%d-%d delivered %d times", g, i, seen[g][i]);
	for (int g = 0; g < w.gens - 1; g++)
		for (int i = 0; i < 50; i++)
			if (late[g][i] != 1)
				fail_msg("late-%d-%d delivered %d times", g, i, late[g][i]);
	assert_int_equal(c.n, total);
	lf_tailer_free(t);
	coll_free(&c);
}

static void test_concurrent_rotation(void **state)
{
	(void)state;
	concurrent_rotation_case(false);
}

static void test_concurrent_rotation_poll(void **state)
{
	(void)state;
	concurrent_rotation_case(true);
}

/* EACCES needs a non-root user; as root the scenario runs in a child that
 * drops to `nobody`. */
static int unreadable_scenario(const char *dir)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/secret.log", dir);
	append(path, "s1\n");
	if (chmod(path, 0) != 0)
		return 10;
	struct lf_metrics *m = lf_metrics_new();
	struct coll c = {0};
	struct lf_tailer_opts o = {.metrics = m};
	struct lf_tailer *t = new_tailer(&c, &o);
	sync1(t, path, NULL);
	struct find_ctx fi = find_info(t, path);
	if (fi.found != 1 || strcmp(fi.state, "unreadable") != 0)
		return 11;
	struct lf_metric_family *fam =
	        lf_metrics_family(m, LF_METRIC_COUNTER, "logferry_file_open_errors_total", "",
	                          (const char *const[]){"reason", NULL}, NULL, 0);
	const char *lv[] = {"permission"};
	sync1(t, path, NULL); /* retried: same state, counted once */
	if (lf_metric_value(fam, lv) != 1.0)
		return 12;
	if (chmod(path, 0644) != 0)
		return 13;
	sync1(t, path, NULL);
	if (!run_until_line(t, &c, "s1"))
		return 14;
	fi = find_info(t, path);
	if (strcmp(fi.state, "reading") != 0)
		return 15;
	lf_tailer_free(t);
	lf_metrics_free(m);
	coll_free(&c);
	return 0;
}

static void test_unreadable_then_chmod(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		assert_int_equal(unreadable_scenario(g_dir), 0);
		return;
	}
	struct passwd *pw = getpwnam("nobody");
	if (!pw)
		skip();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
			_exit(20);
		char dir[] = "/tmp/lf_test_unreadable_XXXXXX";
		if (!mkdtemp(dir))
			_exit(21);
		int rc = unreadable_scenario(dir);
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0 && rc == 0)
			rc = 22;
		_exit(rc);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* lf_tailer_list() runs on the HTTP thread under the tailer's mutex while
 * lf_tailer_sync() adds paths on the event loop: growing the path table
 * (rehash + free of the old array) must not race with the listing (it did:
 * heap-use-after-free under ASan). Paths are missing files, so the listing
 * walks the path table. */
struct lister {
	struct lf_tailer *t;
	atomic_bool stop;
	atomic_ulong rounds;
	size_t seen;
};
static void count_cb(void *ctx, const struct lf_tail_file_info *i)
{
	struct lister *l = ctx;
	if (i->path[0] == '/')
		l->seen++;
}
static void *lister_main(void *arg)
{
	struct lister *l = arg;
	while (!atomic_load(&l->stop)) {
		lf_tailer_list(l->t, count_cb, l);
		atomic_fetch_add(&l->rounds, 1);
	}
	return NULL;
}

static void test_list_during_sync_growth(void **state)
{
	(void)state;
	enum { N = 1024, ROUNDS = 16 };
	static char paths[N][600];
	static struct lf_tail_target tg[N];
	for (int i = 0; i < N; i++) {
		snprintf(paths[i], sizeof(paths[i]), "%s/missing-%04d.log", g_dir, i);
		tg[i] = (struct lf_tail_target){paths[i], NULL};
	}
	for (int r = 0; r < ROUNDS; r++) {
		struct coll c = {0};
		struct lf_tailer_opts o = {.force_poll = true};
		struct lf_tailer *t = new_tailer(&c, &o);
		struct lister l = {.t = t};
		pthread_t th;
		assert_int_equal(pthread_create(&th, NULL, lister_main, &l), 0);
		/* Wait until the lister runs, then grow the table step by step
		 * (64 -> 128 -> ... -> 4096 buckets) while it lists. */
		while (atomic_load(&l.rounds) == 0)
			sched_yield();
		struct lf_error err;
		for (size_t n = 16; n <= N; n += 16) {
			assert_int_equal(lf_tailer_sync(t, tg, n, &err), 0);
			sched_yield();
		}
		/* Files appear (opened: path -> file), then leave the set
		 * (drained and closed) while the lister runs. */
		if (r == 0)
			for (int i = 0; i < 32; i++)
				append(paths[i], "x\n");
		assert_int_equal(lf_tailer_sync(t, tg, N, &err), 0);
		assert_int_equal(lf_tailer_active_files(t), 32);
		assert_int_equal(lf_tailer_sync(t, tg + 16, N - 16, &err), 0);
		assert_true(run_until_files(t, 16));
		atomic_store(&l.stop, true);
		pthread_join(th, NULL);
		/* The last listings saw every wanted (missing) path. */
		struct lister final = {.t = t};
		lf_tailer_list(t, count_cb, &final);
		assert_int_equal(final.seen, N - 16);
		lf_tailer_free(t);
		coll_free(&c);
	}
}

/* The agent must not leak descriptors into a child: the inotify instance
 * (created by libinotifytools without IN_CLOEXEC) is close-on-exec too. */
static void test_inotify_fd_cloexec(void **state)
{
	(void)state;
	struct coll c = {0};
	struct lf_tailer_opts o = {0};
	struct lf_tailer *t = new_tailer(&c, &o);
	int fd = lf_tailer_fd(t);
	if (fd < 0) {
		lf_tailer_free(t);
		skip(); /* no inotify here: nothing to check */
	}
	int fl = fcntl(fd, F_GETFD);
	assert_true(fl >= 0);
	assert_true(fl & FD_CLOEXEC);
	lf_tailer_free(t);
	coll_free(&c);
}

/* A path that is a regular file when stat'ed but a FIFO when opened (it was
 * replaced in between) must not block the event loop in open() waiting for
 * a writer: it is refused as not a regular file. */
static void test_fifo_race_does_not_block(void **state)
{
	(void)state;
	char path[512];
	path_of(path, sizeof(path), "fifo.log");
	assert_int_equal(mkfifo(path, 0644), 0);
	snprintf(g_fake_reg_path, sizeof(g_fake_reg_path), "%s", path);
	struct coll c = {0};
	struct lf_tailer_opts o = {0};
	struct lf_tailer *t = new_tailer(&c, &o);
	alarm(120);           /* a hang fails the test (SIGALRM) instead of the suite */
	sync1(t, path, NULL); /* used to hang here, in open() */
	alarm(0);
	g_fake_reg_path[0] = 0;
	lf_tailer_run_once(t, lf_monotonic_ns());
	assert_int_equal(lf_tailer_active_files(t), 0);
	struct find_ctx fi = find_info(t, path);
	assert_int_equal(fi.found, 1);
	assert_string_equal(fi.state, "unreadable");
	assert_non_null(strstr(fi.info.error, "not a regular file"));
	assert_true(fi.info.error_time_ns > 0); /* shown on the /targets page */
	lf_tailer_free(t);
	coll_free(&c);
	unlink(path);
}

int main(void)
{
	lf_log_set_level(LF_LOG_WARN);
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_big_reads_and_partial),
	        cmocka_unit_test(test_partial_flush_timeout),
	        cmocka_unit_test(test_rotation_rename),
	        cmocka_unit_test(test_rotation_poll_fallback),
	        cmocka_unit_test(test_concurrent_rotation),
	        cmocka_unit_test(test_concurrent_rotation_poll),
	        cmocka_unit_test(test_copytruncate),
	        cmocka_unit_test(test_delete_and_recreate),
	        cmocka_unit_test(test_deleted_file_kept_until_acked),
	        cmocka_unit_test(test_symlink_dedup),
	        cmocka_unit_test(test_binary_passthrough),
	        cmocka_unit_test(test_long_line_truncate),
	        cmocka_unit_test(test_long_line_drop),
	        cmocka_unit_test(test_positions_resume_and_at_least_once),
	        cmocka_unit_test(test_promtail_positions_resume),
	        cmocka_unit_test(test_positions_saved_soon_after_ack),
	        cmocka_unit_test(test_positions_follow_rotation_and_cleanup),
	        cmocka_unit_test(test_pause_resume),
	        cmocka_unit_test(test_inflight_cap),
	        cmocka_unit_test(test_thousand_files),
	        cmocka_unit_test(test_metrics_and_list),
	        cmocka_unit_test(test_unreadable_then_chmod),
	        cmocka_unit_test(test_list_during_sync_growth),
	        cmocka_unit_test(test_inotify_fd_cloexec),
	        cmocka_unit_test(test_fifo_race_does_not_block),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
