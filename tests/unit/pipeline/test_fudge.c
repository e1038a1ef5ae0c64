/* Timestamp fudging and the pipeline-start label lookup with an entry
 * reused for every line, as the agent does it (reset, copy the target's
 * labels, set the line). Both remember a mark of the entry's labels
 * (common/labels.h) to skip comparing or looking up while the labels stay
 * the same; these tests change the labels between lines in every way a
 * stage or the agent can, and check the results are Promtail's. */
#include "harness.h"

#include "../../../common/timeutil.h"
#include "stage.h"

static int64_t rfc(const char *s)
{
	int64_t ns;
	assert_int_equal(lf_parse_rfc3339(s, strlen(s), &ns), 0);
	return ns;
}

/* Pushes a line the agent's way: the target's labels copied into the
 * reused entry. */
static void push_target(struct h *h, const struct lf_labels *target, const char *line)
{
	lf_entry_reset(&h->in);
	assert_int_equal(lf_labels_copy(&h->in.labels, target), 0);
	lf_buf_append(&h->in.line, line, strlen(line));
	h->in.ts_ns = TS0;
	lf_pipeline_process(h->p, &h->in, h_emit, h);
}

static void target_set(struct lf_labels *t, const char *job, const char *pod)
{
	lf_labels_clear(t);
	lf_labels_set(t, "job", job);
	lf_labels_set(t, "pod", pod);
}

/* cri: a bad timestamp gets the last good one of the same label set + 1ns,
 * per label set, with targets switching between lines and the entry
 * reused. */
static void test_cri_fudge_switching_targets(void **st)
{
	(void)st;
	struct h h;
	h_new_raw(&h, "- cri: {}\n");
	struct lf_labels a = LF_LABELS_INIT, b = LF_LABELS_INIT;
	target_set(&a, "j", "a");
	target_set(&b, "j", "b"); /* same names and count, another value */
	int64_t t1 = rfc("2024-05-01T10:00:01Z"), t2 = rfc("2024-05-01T10:00:02Z");
	push_target(&h, &a, "2024-05-01T10:00:01Z stdout F a1");
	push_target(&h, &a, "bad stdout F a2");
	push_target(&h, &b, "2024-05-01T10:00:02Z stdout F b1");
	push_target(&h, &a, "bad stdout F a3");
	push_target(&h, &b, "bad stdout F b2");
	push_target(&h, &b, "bad stderr F b3"); /* stream is part of the set */
	push_target(&h, &a, "2024-05-01T10:00:02Z stderr F a4");
	push_target(&h, &a, "bad stderr F a5");
	push_target(&h, &a, "bad stdout F a6");
	assert_int_equal(h.n, 9);
	assert_true(h.out[0].ts_ns == t1);
	assert_true(h.out[1].ts_ns == t1 + 1);
	assert_true(h.out[2].ts_ns == t2);
	assert_true(h.out[3].ts_ns == t1 + 2);
	assert_true(h.out[4].ts_ns == t2 + 1);
	assert_true(h.out[5].ts_ns == TS0); /* {b, stderr} never had a good one */
	assert_true(h.out[6].ts_ns == t2);
	assert_true(h.out[7].ts_ns == t2 + 1);
	assert_true(h.out[8].ts_ns == t1 + 3);
	assert_string_equal(h_labels(&h, 5), "{job=\"j\", pod=\"b\", stream=\"stderr\"}");
	/* the target itself changes in place between lines */
	lf_labels_set(&a, "pod", "a2");
	push_target(&h, &a, "bad stdout F a7");
	assert_true(h.out[9].ts_ns == TS0); /* {pod=a2} is a new set */
	lf_labels_set(&a, "pod", "a");
	push_target(&h, &a, "bad stdout F a8");
	assert_true(h.out[10].ts_ns == t1 + 4);
	lf_labels_free(&a);
	lf_labels_free(&b);
	h_free(&h);
}

/* A stage between cri and timestamp changes the labels on every line
 * (labels from a regex): the timestamp stage's fudge must see each line's
 * own set, not the previous line's. */
static void test_timestamp_fudge_labels_changed_by_stage(void **st)
{
	(void)st;
	struct h h;
	h_new_raw(&h, "- cri: {}\n"
	              "- regex: {expression: '^(?P<lvl>\\w+) (?P<ts>\\S+)'}\n"
	              "- labels: {lvl: }\n"
	              "- timestamp: {source: ts, format: RFC3339Nano}\n");
	struct lf_labels a = LF_LABELS_INIT;
	target_set(&a, "j", "a");
	int64_t t1 = rfc("2024-05-01T10:00:01Z"), t2 = rfc("2024-05-01T10:00:02Z");
	int64_t c = rfc("2024-05-01T09:00:00Z"); /* the cri time of every line */
	push_target(&h, &a, "2024-05-01T09:00:00Z stdout F info 2024-05-01T10:00:01Z");
	push_target(&h, &a, "2024-05-01T09:00:00Z stdout F warn 2024-05-01T10:00:02Z");
	push_target(&h, &a, "2024-05-01T09:00:00Z stdout F info bad");
	push_target(&h, &a, "2024-05-01T09:00:00Z stdout F warn bad");
	push_target(&h, &a, "2024-05-01T09:00:00Z stdout F warn bad");
	push_target(&h, &a, "2024-05-01T09:00:00Z stdout F info bad");
	push_target(&h, &a, "2024-05-01T09:00:00Z stdout F debug bad");
	assert_int_equal(h.n, 7);
	assert_true(h.out[0].ts_ns == t1);
	assert_true(h.out[1].ts_ns == t2);
	assert_true(h.out[2].ts_ns == t1 + 1);
	assert_true(h.out[3].ts_ns == t2 + 1);
	assert_true(h.out[4].ts_ns == t2 + 2);
	assert_true(h.out[5].ts_ns == t1 + 2);
	assert_true(h.out[6].ts_ns == c); /* {lvl=debug}: no good one, cri's time */
	assert_string_equal(h_labels(&h, 6),
	                    "{job=\"j\", lvl=\"debug\", pod=\"a\", stream=\"stdout\"}");
	lf_labels_free(&a);
	h_free(&h);
}

/* The fudge memory used directly: a caller that changes its set in place
 * (same object, new contents) between calls, including an append from
 * outside labels.c (what stage_structured_metadata.c does to e->sm). */
static void test_fudge_in_place_changes(void **st)
{
	(void)st;
	struct lf_ts_fudge f;
	lf_ts_fudge_init(&f);
	struct lf_labels ls = LF_LABELS_INIT;
	lf_labels_set(&ls, "a", "1");
	lf_ts_fudge_good(&f, &ls, 100);
	int64_t ts = 0;
	lf_ts_fudge_fail(&f, &ls, &ts);
	assert_true(ts == 101);
	lf_labels_set(&ls, "a", "2"); /* same n, other value */
	ts = 0;
	lf_ts_fudge_fail(&f, &ls, &ts);
	assert_true(ts == 0); /* unknown set: unchanged */
	lf_ts_fudge_good(&f, &ls, 200);
	lf_labels_set(&ls, "a", "1"); /* back: from the map */
	lf_ts_fudge_fail(&f, &ls, &ts);
	assert_true(ts == 102);
	lf_ts_fudge_fail(&f, &ls, &ts);
	assert_true(ts == 103);
	/* {a=1} + an in-place append of b=x: another set */
	lf_labels_set(&ls, "b", "y"); /* give slot 1 buffers */
	lf_ts_fudge_good(&f, &ls, 300);
	lf_labels_del(&ls, "b");
	lf_ts_fudge_fail(&f, &ls, &ts);
	assert_true(ts == 104);
	struct lf_label *d = &ls.v[1];
	assert_true(d->name_cap > 1 && d->value_cap > 1);
	memcpy(d->value, "x", 2); /* b=x, appended from outside */
	d->value_len = 1;
	ls.n++;
	ts = 0;
	lf_ts_fudge_fail(&f, &ls, &ts);
	assert_true(ts == 0); /* {a=1,b=x} never had a good one ({b=y} did) */
	lf_ts_fudge_good(&f, &ls, 400);
	lf_labels_set(&ls, "b", "y");
	lf_ts_fudge_fail(&f, &ls, &ts);
	assert_true(ts == 301);
	/* {a=1,b=y} is the current set. Refill in place: a=1 through labels.c
	 * (same bytes, no change), then b=x appended from outside into the
	 * slot that held b=y: the same object and count as the current set,
	 * other contents. */
	lf_labels_clear(&ls);
	lf_labels_set(&ls, "a", "1");
	assert_true(ls.v[1].value_cap > 1);
	memcpy(ls.v[1].value, "x", 2);
	ls.v[1].value_len = 1;
	ls.n++;
	lf_ts_fudge_fail(&f, &ls, &ts);
	assert_true(ts == 401); /* {a=1,b=x}'s own last good + 1, not 302 */
	lf_labels_free(&ls);
	lf_ts_fudge_free(&f);
}

/* Pipeline start: labels named by a later stage's reads are looked up once
 * per label set. Lines alternate sets with the same names and count, a set
 * gains a label, loses the looked-up one. */
static void test_start_lookup_follows_labels(void **st)
{
	(void)st;
	struct h h;
	h_new_raw(&h, "- output: {source: pod}\n");
	struct lf_labels a = LF_LABELS_INIT, b = LF_LABELS_INIT, c = LF_LABELS_INIT,
	                 d = LF_LABELS_INIT;
	target_set(&a, "j", "a");
	target_set(&b, "j", "b");
	lf_labels_set(&c, "job", "j"); /* no pod */
	lf_labels_set(&d, "job", "j");
	lf_labels_set(&d, "zzz", "q");
	push_target(&h, &a, "x");
	push_target(&h, &a, "x");
	push_target(&h, &b, "x");
	push_target(&h, &a, "x");
	push_target(&h, &c, "x");
	push_target(&h, &a, "x");
	push_target(&h, &d, "x");          /* same count as a, no pod */
	lf_labels_set(&a, "aaa", "first"); /* pod moves to another index */
	push_target(&h, &a, "x");
	lf_labels_set(&a, "pod", "a2");
	push_target(&h, &a, "x");
	assert_int_equal(h.n, 9);
	const char *want[] = {"a", "a", "b", "a", "x", "a", "x", "a", "a2"};
	for (size_t i = 0; i < 9; i++)
		assert_string_equal(h_line(&h, i), want[i]);
	lf_labels_free(&a);
	lf_labels_free(&b);
	lf_labels_free(&c);
	lf_labels_free(&d);
	h_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cri_fudge_switching_targets),
	        cmocka_unit_test(test_timestamp_fudge_labels_changed_by_stage),
	        cmocka_unit_test(test_fudge_in_place_changes),
	        cmocka_unit_test(test_start_lookup_follows_labels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
