/* test_inflight.c — the ack ring: committed offset = longest done prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "inflight.h"

/* Pushes n lines of 10 bytes each after `start`. */
static void push_lines(struct lf_inflight *r, uint64_t start, int n)
{
	for (int i = 1; i <= n; i++)
		assert_int_not_equal(lf_inflight_push(r, start + (uint64_t)i * 10, false), 0);
}

static void test_in_order_release(void **state)
{
	(void)state;
	struct lf_inflight r;
	lf_inflight_init(&r, 100);
	assert_int_equal(lf_inflight_next_seq(&r), 1);
	push_lines(&r, 100, 3);
	assert_int_equal(lf_inflight_committed(&r), 100);
	assert_int_equal(lf_inflight_pending(&r), 3);
	lf_inflight_release(&r, 1, 1);
	assert_int_equal(lf_inflight_committed(&r), 110);
	lf_inflight_release(&r, 2, 3);
	assert_int_equal(lf_inflight_committed(&r), 130);
	assert_int_equal(lf_inflight_pending(&r), 0);
	assert_int_equal(lf_inflight_next_seq(&r), 4);
	lf_inflight_free(&r);
}

static void test_out_of_order_acks(void **state)
{
	(void)state;
	struct lf_inflight r;
	lf_inflight_init(&r, 0);
	push_lines(&r, 0, 5);
	/* Five entries, one line each, one client. */
	for (uint64_t s = 1; s <= 5; s++)
		lf_inflight_claim(&r, s, s, 1);
	lf_inflight_ack(&r, 3, 3);
	lf_inflight_ack(&r, 5, 5);
	assert_int_equal(lf_inflight_committed(&r), 0);
	lf_inflight_ack(&r, 2, 2);
	assert_int_equal(lf_inflight_committed(&r), 0);
	lf_inflight_ack(&r, 1, 1);
	/* 1,2,3 done; 4 pending: commit stops at line 3's end. */
	assert_int_equal(lf_inflight_committed(&r), 30);
	lf_inflight_ack(&r, 4, 4);
	assert_int_equal(lf_inflight_committed(&r), 50);
	assert_int_equal(lf_inflight_pending(&r), 0);
	lf_inflight_free(&r);
}

static void test_two_clients(void **state)
{
	(void)state;
	struct lf_inflight r;
	lf_inflight_init(&r, 0);
	push_lines(&r, 0, 4);
	/* Entry A covers seqs 1-2, entry B 3-4; both went to K=2 clients. */
	lf_inflight_claim(&r, 1, 2, 2);
	lf_inflight_claim(&r, 3, 4, 2);
	lf_inflight_ack(&r, 1, 2); /* client 1 acks A */
	assert_int_equal(lf_inflight_committed(&r), 0);
	lf_inflight_ack(&r, 3, 4); /* client 1 acks B */
	lf_inflight_ack(&r, 3, 4); /* client 2 acks B */
	assert_int_equal(lf_inflight_committed(&r), 0);
	lf_inflight_ack(&r, 1, 2); /* client 2 acks A */
	assert_int_equal(lf_inflight_committed(&r), 40);
	lf_inflight_free(&r);
}

static void test_held_ranges(void **state)
{
	(void)state;
	struct lf_inflight r;
	lf_inflight_init(&r, 0);
	push_lines(&r, 0, 6);
	/* Line 1 emitted alone; 2-4 held by multiline; 5 dropped; 6 held. */
	lf_inflight_claim(&r, 1, 1, 1);
	lf_inflight_release(&r, 5, 5);
	lf_inflight_ack(&r, 1, 1);
	assert_int_equal(lf_inflight_committed(&r), 10);
	/* An ack for an entry that never claimed (owner mismatch) changes
	 * nothing: the held lines stay pending. */
	lf_inflight_ack(&r, 2, 4);
	assert_int_equal(lf_inflight_committed(&r), 10);
	assert_int_equal(lf_inflight_pending(&r), 4);
	/* The multiline block [2,4] comes out, then [6,6] merged with nothing. */
	lf_inflight_claim(&r, 2, 4, 1);
	/* A claim over a range with a done slot (5) leaves it done; an
	 * overlapping later claim [4,6] does not steal slot 4 (already owned). */
	lf_inflight_claim(&r, 4, 6, 1);
	lf_inflight_ack(&r, 4, 6);
	assert_int_equal(lf_inflight_committed(&r), 10);
	lf_inflight_ack(&r, 2, 4);
	assert_int_equal(lf_inflight_committed(&r), 60);
	assert_int_equal(lf_inflight_pending(&r), 0);
	lf_inflight_free(&r);
}

static void test_markers_and_claim_zero(void **state)
{
	(void)state;
	struct lf_inflight r;
	lf_inflight_init(&r, 0);
	/* A done marker with nothing pending commits at once. */
	uint64_t s = lf_inflight_push(&r, 500, true);
	assert_int_equal(s, 1);
	assert_int_equal(lf_inflight_committed(&r), 500);
	push_lines(&r, 500, 1);                             /* seq 2, end 510 */
	assert_int_equal(lf_inflight_push(&r, 0, true), 3); /* truncation marker */
	assert_int_equal(lf_inflight_committed(&r), 500);
	lf_inflight_claim(&r, 2, 2, 0); /* k = 0 is a release */
	/* Line 2 done, then the marker resets the committed offset to 0. */
	assert_int_equal(lf_inflight_committed(&r), 0);
	/* Seqs outside the ring are ignored. */
	lf_inflight_ack(&r, 1, 99);
	lf_inflight_release(&r, 50, 60);
	assert_int_equal(lf_inflight_committed(&r), 0);
	lf_inflight_free(&r);
}

static void test_growth_and_wrap(void **state)
{
	(void)state;
	struct lf_inflight r;
	lf_inflight_init(&r, 0);
	uint64_t next = 1, end = 0;
	/* Keep ~100 lines in flight while pushing 100000: the ring wraps
	 * around many times and grows past its initial capacity. */
	for (int i = 0; i < 100000; i++) {
		end += 7;
		assert_int_equal(lf_inflight_push(&r, end, false), (uint64_t)i + 1);
		lf_inflight_claim(&r, (uint64_t)i + 1, (uint64_t)i + 1, 1);
		if (i >= 100) {
			lf_inflight_ack(&r, next, next);
			next++;
		}
	}
	assert_int_equal(lf_inflight_pending(&r), 100);
	assert_int_equal(lf_inflight_committed(&r), (next - 1) * 7);
	/* Ack the rest in reverse order. */
	for (uint64_t q = 100000; q >= next; q--)
		lf_inflight_ack(&r, q, q);
	assert_int_equal(lf_inflight_committed(&r), end);
	assert_int_equal(lf_inflight_pending(&r), 0);
	lf_inflight_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_in_order_release),
	        cmocka_unit_test(test_out_of_order_acks),
	        cmocka_unit_test(test_two_clients),
	        cmocka_unit_test(test_held_ranges),
	        cmocka_unit_test(test_markers_and_claim_zero),
	        cmocka_unit_test(test_growth_and_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
