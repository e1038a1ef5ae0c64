/* test_srcq.c — agent/sources/srcq.h: batches go in whole or not at all,
 * the bound, the ready/space eventfds, and records read back intact. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "srcq.h"

static bool readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) == 1;
}

static void test_roundtrip_and_bound(void **state)
{
	(void)state;
	struct lf_srcq *q = lf_srcq_new(200);
	assert_non_null(q);
	struct lf_labels ls = LF_LABELS_INIT, sm = LF_LABELS_INIT;
	assert_int_equal(lf_labels_set(&ls, "job", "a"), 0);
	assert_int_equal(lf_labels_set(&ls, "z", "zz"), 0);
	assert_int_equal(lf_labels_set(&sm, "trace", "t1"), 0);
	struct lf_buf b = LF_BUF_INIT;
	assert_int_equal(lf_srcq_rec_append(&b, 42, &ls, &sm, "hello", 5), 0);
	assert_int_equal(lf_srcq_rec_append(&b, 43, &ls, NULL, "", 0), 0);
	assert_false(readable(lf_srcq_ready_fd(q)));
	assert_int_equal(lf_srcq_commit(q, &b), 0);
	assert_int_equal(b.len, 0);
	assert_true(readable(lf_srcq_ready_fd(q)));
	size_t used = lf_srcq_bytes(q);
	assert_true(used > 0 && used < 200);
	/* a batch that does not fit is refused whole */
	for (int i = 0; i < 5; i++)
		assert_int_equal(lf_srcq_rec_append(&b, 1, &ls, NULL, "0123456789", 10), 0);
	size_t blen = b.len;
	assert_int_equal(lf_srcq_commit(q, &b), -1);
	assert_int_equal(b.len, blen);
	assert_false(readable(lf_srcq_space_fd(q)));

	struct lf_buf taken = LF_BUF_INIT;
	assert_int_equal(lf_srcq_take(q, &taken), used);
	assert_false(readable(lf_srcq_ready_fd(q)));
	assert_true(readable(lf_srcq_space_fd(q))); /* the refused producer may retry */
	size_t off = 0;
	struct lf_srcq_rec r;
	struct lf_labels gl = LF_LABELS_INIT, gs = LF_LABELS_INIT;
	assert_int_equal(lf_srcq_next(&taken, &off, &r, &gl, &gs), 1);
	assert_int_equal(r.ts_ns, 42);
	assert_int_equal(r.len, 5);
	assert_memory_equal(r.line, "hello", 5);
	assert_true(lf_labels_equal(&gl, &ls));
	assert_string_equal(lf_labels_get(&gs, "trace"), "t1");
	assert_int_equal(lf_srcq_next(&taken, &off, &r, &gl, &gs), 1);
	assert_int_equal(r.ts_ns, 43);
	assert_int_equal(r.len, 0);
	assert_int_equal(gs.n, 0);
	assert_int_equal(lf_srcq_next(&taken, &off, &r, &gl, &gs), 0);

	/* an empty queue takes a batch larger than the bound (no livelock) */
	assert_int_equal(lf_srcq_commit(q, &b), 0);
	assert_true(lf_srcq_bytes(q) > 200);
	lf_buf_free(&b);
	lf_buf_free(&taken);
	lf_labels_free(&ls);
	lf_labels_free(&sm);
	lf_labels_free(&gl);
	lf_labels_free(&gs);
	lf_srcq_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_roundtrip_and_bound)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
