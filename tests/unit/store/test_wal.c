/* test_wal.c — WAL append/replay, group commit across threads, torn tails. */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "wal.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/lf-wal-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

struct seen {
	int n;
	char recs[64][64];
	struct lf_wal_pos pos[64];
};

static int collect(void *ctx, struct lf_wal_pos pos, const unsigned char *rec, size_t len)
{
	struct seen *s = ctx;
	if (s->n < 64) {
		memcpy(s->recs[s->n], rec, len < 63 ? len : 63);
		s->recs[s->n][len < 63 ? len : 63] = 0;
		s->pos[s->n] = pos;
	}
	s->n++;
	return 0;
}

static void test_append_replay(void **state)
{
	(void)state;
	char wdir[300];
	snprintf(wdir, sizeof(wdir), "%s/wal", dir);
	struct lf_wal *w;
	struct lf_error err;
	struct seen s = {0};
	assert_int_equal(lf_wal_open(wdir, 0, &w, &err), 0);
	assert_int_equal(lf_wal_replay(w, 1, collect, &s, NULL, &err), 0);
	assert_int_equal(s.n, 0);
	uint64_t seq;
	struct lf_wal_pos pos;
	for (int i = 0; i < 5; i++) {
		char rec[32];
		int n = snprintf(rec, sizeof(rec), "record-%d", i);
		assert_int_equal(lf_wal_append(w, rec, (size_t)n, &pos, &seq, &err), 0);
		assert_int_equal(seq, (uint64_t)i + 1);
	}
	assert_int_equal(lf_wal_sync(w, seq, &err), 0);
	lf_wal_close(w);

	/* reopen: all five come back in order, positions increase */
	assert_int_equal(lf_wal_open(wdir, 0, &w, &err), 0);
	struct lf_wal_replay_stats st;
	assert_int_equal(lf_wal_replay(w, 1, collect, &s, &st, &err), 0);
	assert_int_equal(s.n, 5);
	assert_int_equal(st.records, 5);
	assert_int_equal(st.torn_segments, 0);
	for (int i = 0; i < 5; i++) {
		char want[32];
		snprintf(want, sizeof(want), "record-%d", i);
		assert_string_equal(s.recs[i], want);
		if (i)
			assert_true(lf_wal_pos_cmp(s.pos[i - 1], s.pos[i]) < 0);
	}
	/* appends go to a new segment above the replayed one */
	assert_true(lf_wal_segment(w) > s.pos[4].seg);
	lf_wal_close(w);
}

static void test_torn_tail(void **state)
{
	(void)state;
	char wdir[300];
	snprintf(wdir, sizeof(wdir), "%s/torn", dir);
	struct lf_wal *w;
	struct lf_error err;
	struct seen s = {0};
	assert_int_equal(lf_wal_open(wdir, 0, &w, &err), 0);
	assert_int_equal(lf_wal_replay(w, 7, collect, &s, NULL, &err), 0);
	assert_int_equal(lf_wal_segment(w), 7); /* min_next honoured */
	uint64_t seq;
	struct lf_wal_pos pos;
	assert_int_equal(lf_wal_append(w, "first", 5, &pos, &seq, &err), 0);
	assert_int_equal(lf_wal_append(w, "second-record", 13, &pos, &seq, &err), 0);
	assert_int_equal(lf_wal_sync(w, seq, &err), 0);
	lf_wal_close(w);
	/* cut 3 bytes off the last record */
	char seg[400];
	snprintf(seg, sizeof(seg), "%s/00000007", wdir);
	struct stat sb;
	assert_int_equal(stat(seg, &sb), 0);
	assert_int_equal(truncate(seg, sb.st_size - 3), 0);

	assert_int_equal(lf_wal_open(wdir, 0, &w, &err), 0);
	struct lf_wal_replay_stats st;
	assert_int_equal(lf_wal_replay(w, 1, collect, &s, &st, &err), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.recs[0], "first");
	assert_int_equal(st.torn_segments, 1);
	assert_int_equal(st.skipped_bytes, 8 + 13 - 3);
	lf_wal_close(w);
	/* the torn tail was cut: a second replay is clean */
	s.n = 0;
	assert_int_equal(lf_wal_open(wdir, 0, &w, &err), 0);
	assert_int_equal(lf_wal_replay(w, 1, collect, &s, &st, &err), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(st.torn_segments, 0);
	lf_wal_close(w);
}

static void test_corrupt_byte(void **state)
{
	(void)state;
	char wdir[300];
	snprintf(wdir, sizeof(wdir), "%s/flip", dir);
	struct lf_wal *w;
	struct lf_error err;
	struct seen s = {0};
	assert_int_equal(lf_wal_open(wdir, 0, &w, &err), 0);
	assert_int_equal(lf_wal_replay(w, 1, collect, &s, NULL, &err), 0);
	uint64_t seq;
	struct lf_wal_pos pos;
	assert_int_equal(lf_wal_append(w, "aaaa", 4, &pos, &seq, &err), 0);
	assert_int_equal(lf_wal_append(w, "bbbb", 4, &pos, &seq, &err), 0);
	assert_int_equal(lf_wal_sync(w, seq, &err), 0);
	lf_wal_close(w);
	char seg[400];
	snprintf(seg, sizeof(seg), "%s/00000001", wdir);
	int fd = open(seg, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 12 + 8 + 1), 1); /* inside "bbbb" */
	close(fd);
	assert_int_equal(lf_wal_open(wdir, 0, &w, &err), 0);
	assert_int_equal(lf_wal_replay(w, 1, collect, &s, NULL, &err), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.recs[0], "aaaa");
	lf_wal_close(w);
}

struct thr {
	struct lf_wal *w;
	int id;
};

static void *writer(void *arg)
{
	struct thr *t = arg;
	struct lf_error err;
	for (int i = 0; i < 200; i++) {
		char rec[32];
		int n = snprintf(rec, sizeof(rec), "t%d-%d", t->id, i);
		uint64_t seq;
		struct lf_wal_pos pos;
		if (lf_wal_append(t->w, rec, (size_t)n, &pos, &seq, &err) < 0 ||
		    lf_wal_sync(t->w, seq, &err) < 0)
			return (void *)1;
	}
	return NULL;
}

static int count_only(void *ctx, struct lf_wal_pos pos, const unsigned char *rec, size_t len)
{
	(void)pos, (void)rec, (void)len;
	(*(int *)ctx)++;
	return 0;
}

static void test_group_commit_threads(void **state)
{
	(void)state;
	char wdir[300];
	snprintf(wdir, sizeof(wdir), "%s/threads", dir);
	struct lf_wal *w;
	struct lf_error err;
	int n = 0;
	/* small segments: rotation happens under concurrent appends */
	assert_int_equal(lf_wal_open(wdir, 1024, &w, &err), 0);
	assert_int_equal(lf_wal_replay(w, 1, count_only, &n, NULL, &err), 0);
	pthread_t th[4];
	struct thr t[4];
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){w, i};
		pthread_create(&th[i], NULL, writer, &t[i]);
	}
	for (int i = 0; i < 4; i++) {
		void *rv;
		pthread_join(th[i], &rv);
		assert_null(rv);
	}
	lf_wal_close(w);
	assert_int_equal(lf_wal_open(wdir, 0, &w, &err), 0);
	struct lf_wal_replay_stats st;
	assert_int_equal(lf_wal_replay(w, 1, count_only, &n, &st, &err), 0);
	assert_int_equal(n, 800);
	assert_true(st.segments > 1);
	/* removing old segments keeps the current one */
	assert_true(lf_wal_remove_before(w, UINT32_MAX) >= (int)st.segments);
	lf_wal_close(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_append_replay),
	        cmocka_unit_test(test_torn_tail),
	        cmocka_unit_test(test_corrupt_byte),
	        cmocka_unit_test(test_group_commit_threads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
