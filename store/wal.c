/* wal.c — see wal.h. */
#include "wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "codec.h"
#include "crc32c.h"
#include "log.h"

struct lf_wal {
	char *dir;
	uint64_t segment_size;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fd; /* current segment, -1 before replay */
	uint32_t seg;
	uint64_t off;
	uint64_t written; /* records appended */
	uint64_t synced;  /* records known durable */
	int syncing;
	int sync_failed; /* sticky: a failed fsync leaves the state unknown */
};

static void seg_path(const struct lf_wal *w, uint32_t seg, char *out, size_t n)
{
	snprintf(out, n, "%s/%08" PRIu32, w->dir, seg);
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

int lf_wal_open(const char *dir, uint64_t segment_size, struct lf_wal **out, struct lf_error *err)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return lf_err(err, "wal: mkdir %s: %s", dir, strerror(errno));
	struct lf_wal *w = calloc(1, sizeof(*w));
	if (!w || !(w->dir = strdup(dir))) {
		free(w);
		return lf_err(err, "wal: out of memory");
	}
	w->segment_size = segment_size ? segment_size : (128u << 20);
	w->fd = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	*out = w;
	return 0;
}

void lf_wal_close(struct lf_wal *w)
{
	if (!w)
		return;
	if (w->fd >= 0) {
		fdatasync(w->fd);
		close(w->fd);
	}
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->dir);
	free(w);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Lists segment numbers in ascending order. */
static int list_segments(const char *dir, uint32_t **out, size_t *n, struct lf_error *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return lf_err(err, "wal: opendir %s: %s", dir, strerror(errno));
	uint32_t *v = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *s = de->d_name;
		if (strlen(s) != 8 || strspn(s, "0123456789") != 8)
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			uint32_t *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return lf_err(err, "wal: out of memory");
			}
			v = nv;
		}
		v[cnt++] = (uint32_t)strtoul(s, NULL, 10);
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_u32);
	*out = v;
	*n = cnt;
	return 0;
}

static int open_segment(struct lf_wal *w, uint32_t seg, struct lf_error *err)
{
	char p[PATH_MAX];
	seg_path(w, seg, p, sizeof(p));
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return lf_err(err, "wal: create %s: %s", p, strerror(errno));
	if (fsync_dir(w->dir) < 0) {
		close(fd);
		return lf_err(err, "wal: fsync dir %s: %s", w->dir, strerror(errno));
	}
	w->fd = fd;
	w->seg = seg;
	w->off = 0;
	return 0;
}

static int replay_segment(struct lf_wal *w, uint32_t seg, lf_wal_replay_fn fn, void *ctx,
                          struct lf_wal_replay_stats *st, struct lf_error *err)
{
	char p[PATH_MAX];
	seg_path(w, seg, p, sizeof(p));
	int fd = open(p, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return lf_err(err, "wal: open %s: %s", p, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		close(fd);
		return lf_err(err, "wal: stat %s: %s", p, strerror(errno));
	}
	size_t size = (size_t)sb.st_size;
	const unsigned char *m = NULL;
	if (size) {
		m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED) {
			close(fd);
			return lf_err(err, "wal: mmap %s: %s", p, strerror(errno));
		}
	}
	st->segments++;
	size_t off = 0;
	int rc = 0;
	while (off < size) {
		const char *why = NULL;
		uint32_t len = 0;
		if (size - off < 8) {
			why = "truncated record header";
		} else {
			len = lf_get_le32(m + off);
			uint32_t crc = lf_get_le32(m + off + 4);
			if (len == 0 || len > LF_WAL_MAX_RECORD)
				why = "invalid record length";
			else if (len > size - off - 8)
				why = "truncated record";
			else if (lf_crc32c(0, m + off + 8, len) != crc)
				why = "checksum mismatch";
		}
		if (why) {
			lf_warn("wal: %s: %s at offset %zu, skipped %zu bytes to the end of the "
			        "segment",
			        p, why, off, size - off);
			st->skipped_bytes += size - off;
			st->torn_segments++;
			/* Cut the bad tail so the next start does not report it again. */
			if (ftruncate(fd, (off_t)off) == 0)
				fsync(fd);
			break;
		}
		struct lf_wal_pos pos = {seg, off};
		if (fn(ctx, pos, m + off + 8, len) < 0) {
			rc = lf_err_prefix(err, "wal: replay %s at offset %zu", p, off);
			break;
		}
		st->records++;
		st->bytes += len;
		off += 8 + (size_t)len;
	}
	if (m)
		munmap((void *)m, size);
	close(fd);
	return rc;
}

int lf_wal_replay(struct lf_wal *w, uint32_t min_next, lf_wal_replay_fn fn, void *ctx,
                  struct lf_wal_replay_stats *st, struct lf_error *err)
{
	struct lf_wal_replay_stats dummy;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	uint32_t *segs = NULL;
	size_t n = 0;
	if (list_segments(w->dir, &segs, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (replay_segment(w, segs[i], fn, ctx, st, err) < 0) {
			free(segs);
			return -1;
		}
	}
	uint32_t next = n ? segs[n - 1] + 1 : 1;
	if (next < min_next)
		next = min_next;
	free(segs);
	pthread_mutex_lock(&w->mu);
	int rc = open_segment(w, next, err);
	pthread_mutex_unlock(&w->mu);
	return rc;
}

static int write_all(int fd, const struct iovec *iov_in, int n)
{
	struct iovec iov[2];
	memcpy(iov, iov_in, (size_t)n * sizeof(*iov));
	struct iovec *v = iov;
	while (n > 0) {
		ssize_t k = writev(fd, v, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (n > 0 && (size_t)k >= v->iov_len) {
			k -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n > 0) {
			v->iov_base = (char *)v->iov_base + k;
			v->iov_len -= (size_t)k;
		}
	}
	return 0;
}

int lf_wal_append(struct lf_wal *w, const void *rec, size_t len, struct lf_wal_pos *pos,
                  uint64_t *seq, struct lf_error *err)
{
	if (len == 0 || len > LF_WAL_MAX_RECORD)
		return lf_err(err, "wal: record of %zu bytes out of range", len);
	unsigned char hdr[8];
	lf_put_le32(hdr, (uint32_t)len);
	lf_put_le32(hdr + 4, lf_crc32c(0, rec, len));
	pthread_mutex_lock(&w->mu);
	if (w->fd < 0 || w->sync_failed) {
		pthread_mutex_unlock(&w->mu);
		return lf_err(err, "wal: not writable (%s)",
		              w->fd < 0 ? "not opened" : "an earlier fsync failed");
	}
	if (w->off > 0 && w->off + 8 + len > w->segment_size) {
		/* Rotate: the old segment must be durable before we forget its fd. */
		while (w->syncing)
			pthread_cond_wait(&w->cv, &w->mu);
		if (fdatasync(w->fd) < 0) {
			w->sync_failed = 1;
			pthread_mutex_unlock(&w->mu);
			return lf_err(err, "wal: fdatasync segment %u: %s", w->seg,
			              strerror(errno));
		}
		w->synced = w->written;
		close(w->fd);
		w->fd = -1;
		if (open_segment(w, w->seg + 1, err) < 0) {
			w->sync_failed = 1;
			pthread_mutex_unlock(&w->mu);
			return -1;
		}
	}
	struct iovec iov[2] = {{hdr, 8}, {(void *)rec, len}};
	if (write_all(w->fd, iov, 2) < 0) {
		int e = errno;
		/* A partial record may be on disk; cut it so later records stay readable. */
		if (ftruncate(w->fd, (off_t)w->off) < 0 ||
		    lseek(w->fd, (off_t)w->off, SEEK_SET) < 0)
			w->sync_failed = 1;
		pthread_mutex_unlock(&w->mu);
		return lf_err(err, "wal: write segment %u: %s", w->seg, strerror(e));
	}
	pos->seg = w->seg;
	pos->off = w->off;
	w->off += 8 + len;
	*seq = ++w->written;
	pthread_mutex_unlock(&w->mu);
	return 0;
}

int lf_wal_sync(struct lf_wal *w, uint64_t seq, struct lf_error *err)
{
	pthread_mutex_lock(&w->mu);
	while (w->synced < seq) {
		if (w->sync_failed) {
			pthread_mutex_unlock(&w->mu);
			return lf_err(err, "wal: an earlier fsync failed");
		}
		if (w->syncing) {
			pthread_cond_wait(&w->cv, &w->mu);
			continue;
		}
		w->syncing = 1;
		uint64_t target = w->written;
		int fd = w->fd;
		pthread_mutex_unlock(&w->mu);
		int rc = fdatasync(fd);
		int e = errno;
		pthread_mutex_lock(&w->mu);
		w->syncing = 0;
		if (rc < 0) {
			w->sync_failed = 1;
			pthread_cond_broadcast(&w->cv);
			pthread_mutex_unlock(&w->mu);
			return lf_err(err, "wal: fdatasync segment %u: %s", w->seg, strerror(e));
		}
		if (target > w->synced)
			w->synced = target;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return 0;
}

struct lf_wal_pos lf_wal_end(struct lf_wal *w)
{
	pthread_mutex_lock(&w->mu);
	struct lf_wal_pos p = {w->seg, w->off};
	pthread_mutex_unlock(&w->mu);
	return p;
}

int lf_wal_remove_before(struct lf_wal *w, uint32_t seg)
{
	uint32_t *segs = NULL;
	size_t n = 0;
	struct lf_error err;
	if (list_segments(w->dir, &segs, &n, &err) < 0)
		return 0;
	pthread_mutex_lock(&w->mu);
	uint32_t cur = w->seg;
	pthread_mutex_unlock(&w->mu);
	int removed = 0;
	for (size_t i = 0; i < n; i++) {
		if (segs[i] >= seg || segs[i] >= cur)
			continue;
		char p[PATH_MAX];
		seg_path(w, segs[i], p, sizeof(p));
		if (unlink(p) == 0)
			removed++;
	}
	free(segs);
	if (removed)
		fsync_dir(w->dir);
	return removed;
}

uint32_t lf_wal_segment(struct lf_wal *w)
{
	pthread_mutex_lock(&w->mu);
	uint32_t s = w->seg;
	pthread_mutex_unlock(&w->mu);
	return s;
}
