/* Change tracking of label sets (common/labels.h: lf_labels_mark,
 * lf_labels_has_mark, the lf_labels_copy memo, lf_labels_setn_nonul):
 * every function that changes a set invalidates its marks, a refill with
 * the same labels keeps them, and a mark that still matches always means
 * the same labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "labels.h"

static char *render(const struct lf_labels *ls)
{
	struct lf_buf b = LF_BUF_INIT;
	assert_int_equal(lf_labels_render(ls, &b), 0);
	char *s = strdup(b.data ? b.data : "");
	lf_buf_free(&b);
	return s;
}

static void assert_renders(const struct lf_labels *ls, const char *want)
{
	char *got = render(ls);
	assert_string_equal(got, want);
	free(got);
}

/* What stage_structured_metadata.c's put_sorted does: write the spare slot
 * at n in place (when its buffers are big enough), then n++. Returns false
 * when that is not possible. */
static bool foreign_append(struct lf_labels *ls, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value);
	if (ls->n >= ls->cap)
		return false;
	struct lf_label *d = &ls->v[ls->n];
	if (d->name_cap <= nl || d->value_cap <= vl)
		return false;
	if (ls->n && strcmp(ls->v[ls->n - 1].name, name) >= 0)
		return false;
	memcpy(d->name, name, nl + 1);
	d->name_len = nl;
	memcpy(d->value, value, vl + 1);
	d->value_len = vl;
	ls->n++;
	return true;
}

/* The per-line pattern of the agent: clear the reused entry's labels, copy
 * the target's, add stream. Same labels every line: the mark stays. */
static void test_refill_keeps_mark(void **st)
{
	(void)st;
	struct lf_labels target = LF_LABELS_INIT, e = LF_LABELS_INIT;
	lf_labels_set(&target, "job", "bench");
	lf_labels_set(&target, "pod", "web-1");
	lf_labels_set(&target, "container", "web");
	struct lf_labels_mark m = {0};
	for (int line = 0; line < 4; line++) {
		lf_labels_clear(&e);
		assert_int_equal(lf_labels_copy(&e, &target), 0);
		assert_int_equal(lf_labels_setn_nonul(&e, "stream", 6, "stdout", 6), 0);
		assert_renders(
		        &e, "{container=\"web\", job=\"bench\", pod=\"web-1\", stream=\"stdout\"}");
		if (line == 0) {
			assert_false(lf_labels_has_mark(&e, &m)); /* zero mark: never */
			m = lf_labels_mark(&e);
			assert_true(m.id != 0);
		}
		assert_true(lf_labels_has_mark(&e, &m));
		assert_true(lf_labels_equal(&e, &e));
	}
	/* another stream: a different set, the old mark does not match */
	lf_labels_clear(&e);
	lf_labels_copy(&e, &target);
	lf_labels_setn_nonul(&e, "stream", 6, "stderr", 6);
	assert_false(lf_labels_has_mark(&e, &m));
	assert_renders(&e, "{container=\"web\", job=\"bench\", pod=\"web-1\", stream=\"stderr\"}");
	/* same n, other content: still no match */
	struct lf_labels_mark m2 = lf_labels_mark(&e);
	assert_true(m2.id != 0);
	assert_int_equal(m2.n, m.n);
	lf_labels_clear(&e);
	lf_labels_copy(&e, &target);
	lf_labels_setn_nonul(&e, "stream", 6, "stdout", 6);
	assert_false(lf_labels_has_mark(&e, &m2));
	/* the prefix without stream is a different n: no match either */
	lf_labels_clear(&e);
	lf_labels_copy(&e, &target);
	assert_false(lf_labels_has_mark(&e, &m));
	/* the target changes: the copy sees it */
	lf_labels_set(&target, "pod", "web-2");
	lf_labels_clear(&e);
	lf_labels_copy(&e, &target);
	lf_labels_setn_nonul(&e, "stream", 6, "stdout", 6);
	assert_renders(&e, "{container=\"web\", job=\"bench\", pod=\"web-2\", stream=\"stdout\"}");
	assert_false(lf_labels_has_mark(&e, &m));
	lf_labels_free(&target);
	lf_labels_free(&e);
}

/* Every function that changes a set makes its earlier marks stop matching. */
static void test_mutators_invalidate(void **st)
{
	(void)st;
	struct lf_labels ls = LF_LABELS_INIT, other = LF_LABELS_INIT;
	struct lf_labels_mark m;
	lf_labels_set(&other, "x", "1");
#define FRESH()                                                                                    \
	do {                                                                                       \
		lf_labels_clear(&ls);                                                              \
		lf_labels_set(&ls, "a", "1");                                                      \
		lf_labels_set(&ls, "m", "2");                                                      \
		lf_labels_set(&ls, "z", "3");                                                      \
		m = lf_labels_mark(&ls);                                                           \
		assert_true(lf_labels_has_mark(&ls, &m));                                          \
	} while (0)
	FRESH();
	lf_labels_set(&ls, "m", "changed"); /* replace a value */
	assert_false(lf_labels_has_mark(&ls, &m));
	FRESH();
	lf_labels_set(&ls, "m", "2"); /* the same value: may keep the mark */
	assert_renders(&ls, "{a=\"1\", m=\"2\", z=\"3\"}");
	FRESH();
	lf_labels_set(&ls, "b", "new"); /* insert in the middle */
	assert_false(lf_labels_has_mark(&ls, &m));
	FRESH();
	lf_labels_setn(&ls, "zz", 2, "v", 1); /* append */
	assert_false(lf_labels_has_mark(&ls, &m));
	FRESH();
	lf_labels_setn_nonul(&ls, "a", 1, "9", 1); /* replace the first */
	assert_false(lf_labels_has_mark(&ls, &m));
	FRESH();
	assert_int_equal(lf_labels_del(&ls, "a"), 1);
	assert_false(lf_labels_has_mark(&ls, &m));
	FRESH();
	assert_int_equal(lf_labels_del(&ls, "z"), 1); /* the last: n changes */
	assert_false(lf_labels_has_mark(&ls, &m));
	FRESH();
	assert_int_equal(lf_labels_del(&ls, "nope"), 0); /* no change: mark stays */
	assert_true(lf_labels_has_mark(&ls, &m));
	FRESH();
	lf_labels_copy(&ls, &other);
	assert_false(lf_labels_has_mark(&ls, &m));
	FRESH();
	lf_labels_merge(&ls, &other, false);
	assert_false(lf_labels_has_mark(&ls, &m));
	FRESH();
	lf_labels_clear(&ls);
	assert_false(lf_labels_has_mark(&ls, &m));
	FRESH();
	struct lf_error err;
	const char *txt = "{a=\"1\", m=\"2\", z=\"4\"}";
	assert_int_equal(lf_labels_parse(txt, strlen(txt), &ls, &err), 0);
	assert_false(lf_labels_has_mark(&ls, &m));
	FRESH();
	lf_labels_touch(&ls);
	assert_false(lf_labels_has_mark(&ls, &m));
	FRESH();
	/* in-place value edit by outside code, reported with touch */
	ls.v[1].value[0] = '7';
	lf_labels_touch(&ls);
	assert_false(lf_labels_has_mark(&ls, &m));
	assert_renders(&ls, "{a=\"1\", m=\"7\", z=\"3\"}");
	FRESH();
	lf_labels_free(&ls);
	assert_false(lf_labels_has_mark(&ls, &m));
	lf_labels_set(&ls, "a", "1");
	lf_labels_set(&ls, "m", "2");
	lf_labels_set(&ls, "z", "3");
	assert_false(lf_labels_has_mark(&ls, &m)); /* a new id after free */
#undef FRESH
	lf_labels_free(&ls);
	lf_labels_free(&other);
}

/* Two sets with the same labels have different marks: a mark names its set. */
static void test_marks_name_their_set(void **st)
{
	(void)st;
	struct lf_labels a = LF_LABELS_INIT, b = LF_LABELS_INIT;
	lf_labels_set(&a, "job", "x");
	lf_labels_set(&b, "job", "x");
	struct lf_labels_mark ma = lf_labels_mark(&a), mb = lf_labels_mark(&b);
	assert_true(ma.id != 0 && mb.id != 0);
	assert_true(ma.id != mb.id);
	assert_false(lf_labels_has_mark(&b, &ma));
	assert_false(lf_labels_has_mark(&a, &mb));
	assert_true(lf_labels_equal(&a, &b)); /* compared, not assumed */
	/* an empty never-changed set has no valid mark */
	struct lf_labels z = LF_LABELS_INIT;
	struct lf_labels_mark mz = lf_labels_mark(&z);
	assert_int_equal(mz.id, 0);
	assert_false(lf_labels_has_mark(&z, &mz));
	lf_labels_free(&a);
	lf_labels_free(&b);
}

/* An append from outside labels.c (put_sorted) rewrites a spare slot
 * without going through these functions: the set then has no valid mark,
 * and the next function here starts a new version. The case that matters:
 * the rewritten slot later becomes part of the set again by an in-place
 * "same bytes" append, which must not bring an old mark back. */
static void test_foreign_append(void **st)
{
	(void)st;
	struct lf_labels ls = LF_LABELS_INIT;
	lf_labels_set(&ls, "a", "1");
	lf_labels_set(&ls, "b", "first");
	struct lf_labels_mark m = lf_labels_mark(&ls); /* slot 1 = b=first */
	lf_labels_clear(&ls);
	lf_labels_set(&ls, "a", "1"); /* same bytes: mark kept for n=1 */
	assert_true(foreign_append(&ls, "b", "other"));
	assert_int_equal(ls.n, 2);
	assert_false(lf_labels_has_mark(&ls, &m));
	assert_int_equal(lf_labels_mark(&ls).id, 0);
	lf_labels_clear(&ls);
	lf_labels_set(&ls, "a", "1");
	lf_labels_setn_nonul(&ls, "b", 1, "other", 5); /* slot already holds it */
	assert_renders(&ls, "{a=\"1\", b=\"other\"}");
	assert_int_equal(m.n, ls.n);
	assert_false(lf_labels_has_mark(&ls, &m));
	/* a copy from a set appended to from outside copies what is there */
	struct lf_labels src = LF_LABELS_INIT, dst = LF_LABELS_INIT;
	lf_labels_set(&src, "a", "1");
	lf_labels_set(&src, "b", "2");
	lf_labels_copy(&dst, &src);
	lf_labels_clear(&src);
	lf_labels_set(&src, "a", "1");
	assert_true(foreign_append(&src, "b", "3"));
	lf_labels_copy(&dst, &src);
	assert_renders(&dst, "{a=\"1\", b=\"3\"}");
	assert_true(lf_labels_equal(&dst, &src));
	/* and from outside into the destination: the next copy repairs it */
	lf_labels_set(&src, "c", "x"); /* src: a=1 b=3 c=x */
	lf_labels_copy(&dst, &src);
	lf_labels_clear(&dst);
	lf_labels_set(&dst, "a", "1");
	lf_labels_set(&dst, "b", "3");
	assert_true(foreign_append(&dst, "c", "y"));
	assert_false(lf_labels_equal(&dst, &src));
	lf_labels_copy(&dst, &src);
	assert_renders(&dst, "{a=\"1\", b=\"3\", c=\"x\"}");
	lf_labels_free(&src);
	lf_labels_free(&dst);
	lf_labels_free(&ls);
}

/* The copy memo: a repeated copy only sets n while neither side changed,
 * and copies again as soon as either did. */
static void test_copy_memo(void **st)
{
	(void)st;
	struct lf_labels src = LF_LABELS_INIT, dst = LF_LABELS_INIT;
	lf_labels_set(&src, "job", "a");
	lf_labels_set(&src, "pod", "p1");
	assert_int_equal(lf_labels_copy(&dst, &src), 0);
	assert_true(lf_labels_equal(&dst, &src));
	lf_labels_clear(&dst);
	assert_int_equal(lf_labels_copy(&dst, &src), 0);
	assert_renders(&dst, "{job=\"a\", pod=\"p1\"}");
	/* the source changes */
	lf_labels_set(&src, "pod", "p2");
	assert_false(lf_labels_equal(&dst, &src));
	assert_int_equal(lf_labels_copy(&dst, &src), 0);
	assert_renders(&dst, "{job=\"a\", pod=\"p2\"}");
	/* the destination changes */
	lf_labels_set(&dst, "job", "zzz");
	assert_false(lf_labels_equal(&dst, &src));
	assert_int_equal(lf_labels_copy(&dst, &src), 0);
	assert_renders(&dst, "{job=\"a\", pod=\"p2\"}");
	/* the destination grows past the copy: not equal, then copied back */
	lf_labels_set(&dst, "zone", "z");
	assert_false(lf_labels_equal(&dst, &src));
	assert_int_equal(lf_labels_copy(&dst, &src), 0);
	assert_renders(&dst, "{job=\"a\", pod=\"p2\"}");
	assert_true(lf_labels_equal(&dst, &src));
	/* a source freed and rebuilt (maybe at the same address) */
	lf_labels_free(&src);
	lf_labels_set(&src, "job", "a");
	lf_labels_set(&src, "pod", "p3");
	assert_int_equal(lf_labels_copy(&dst, &src), 0);
	assert_renders(&dst, "{job=\"a\", pod=\"p3\"}");
	/* an empty source */
	struct lf_labels empty = LF_LABELS_INIT;
	assert_int_equal(lf_labels_copy(&dst, &empty), 0);
	assert_int_equal(dst.n, 0);
	assert_int_equal(lf_labels_copy(&dst, &empty), 0);
	assert_int_equal(dst.n, 0);
	assert_int_equal(lf_labels_copy(&dst, &src), 0);
	assert_renders(&dst, "{job=\"a\", pod=\"p3\"}");
	lf_labels_free(&src);
	lf_labels_free(&dst);
}

/* Random operations on a few sets. Whenever a remembered mark still
 * matches, the set must render as it did when the mark was taken; copies
 * must equal their source; lf_labels_equal must agree with the renderings. */
static unsigned rnd_state = 12345;
static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

#define NSETS  4
#define NMARKS 16
#define NNAMES 8

static void test_random_ops(void **st)
{
	(void)st;
	/* sorted; prefixes of each other, and two that share their first 8
	 * bytes and more */
	static const char *names[] = {
	        "a", "app", "job", "kubernetes_pod_a", "kubernetes_pod_b", "pod", "stream", "zone"};
	static const char *values[] = {
	        "", "1", "x", "stdout", "stderr", "a-longer-value-of-40-bytes-0123456789ab"};
	struct lf_labels sets[NSETS];
	memset(sets, 0, sizeof sets);
	/* reference model: per set, the value of each name or NULL */
	const char *model[NSETS][NNAMES];
	memset(model, 0, sizeof model);
	struct {
		struct lf_labels_mark m;
		int set;
		char *text;
	} marks[NMARKS];
	memset(marks, 0, sizeof marks);
	size_t hits = 0;
	for (int step = 0; step < 200000; step++) {
		int si = (int)rnd(NSETS);
		struct lf_labels *ls = &sets[si];
		unsigned ni = rnd(NNAMES);
		const char *nm = names[ni], *val = values[rnd(6)];
		switch (rnd(11)) {
		case 0:
		case 1:
			assert_int_equal(lf_labels_set(ls, nm, val), 0);
			model[si][ni] = val;
			break;
		case 2:
			assert_int_equal(lf_labels_setn_nonul(ls, nm, strlen(nm), val, strlen(val)),
			                 0);
			model[si][ni] = val;
			break;
		case 3:
			lf_labels_del(ls, nm);
			model[si][ni] = NULL;
			break;
		case 4:
			lf_labels_clear(ls);
			memset(model[si], 0, sizeof model[si]);
			break;
		case 5:
		case 6: {
			int from = (int)rnd(NSETS);
			assert_int_equal(lf_labels_copy(ls, &sets[from]), 0);
			memcpy(model[si], model[from], sizeof model[si]);
			assert_true(lf_labels_equal(ls, &sets[from]));
			char *a = render(ls), *b = render(&sets[from]);
			assert_string_equal(a, b);
			free(a);
			free(b);
			break;
		}
		case 7: {
			int from = (int)rnd(NSETS);
			bool over = rnd(2);
			lf_labels_merge(ls, &sets[from], over);
			for (int k = 0; k < NNAMES; k++)
				if (model[from][k] && (over || !model[si][k]))
					model[si][k] = model[from][k];
			break;
		}
		case 8:
			if (foreign_append(ls, nm, val))
				model[si][ni] = val;
			break;
		case 9:
			if (rnd(50) == 0) {
				lf_labels_free(ls);
				memset(model[si], 0, sizeof model[si]);
			}
			break;
		case 10: {
			int k = (int)rnd(NMARKS);
			free(marks[k].text);
			marks[k].m = lf_labels_mark(ls);
			marks[k].set = si;
			marks[k].text = render(ls);
			break;
		}
		}
		/* the set holds what the model says, sorted and unique */
		char want[1024] = "{";
		for (int k = 0; k < NNAMES; k++) {
			if (!model[si][k])
				continue;
			if (want[1])
				strcat(want, ", ");
			strcat(want, names[k]);
			strcat(want, "=\"");
			strcat(want, model[si][k]);
			strcat(want, "\"");
		}
		strcat(want, "}");
		assert_renders(ls, want);
		for (size_t i = 1; i < ls->n; i++)
			assert_true(strcmp(ls->v[i - 1].name, ls->v[i].name) < 0);
		/* every mark that still matches describes its set */
		for (int k = 0; k < NMARKS; k++) {
			if (!marks[k].text)
				continue;
			for (int j = 0; j < NSETS; j++) {
				if (!lf_labels_has_mark(&sets[j], &marks[k].m))
					continue;
				assert_int_equal(j, marks[k].set);
				char *now = render(&sets[j]);
				assert_string_equal(now, marks[k].text);
				free(now);
				hits++;
			}
		}
		/* equality agrees with the renderings */
		int x = (int)rnd(NSETS), y = (int)rnd(NSETS);
		char *rx = render(&sets[x]), *ry = render(&sets[y]);
		assert_int_equal(lf_labels_equal(&sets[x], &sets[y]), strcmp(rx, ry) == 0);
		free(rx);
		free(ry);
		/* lengths stay exact */
		for (size_t i = 0; i < ls->n; i++) {
			assert_int_equal(ls->v[i].name_len, strlen(ls->v[i].name));
			assert_int_equal(ls->v[i].value_len, strlen(ls->v[i].value));
		}
	}
	assert_true(hits > 1000); /* the check above did run */
	for (int k = 0; k < NMARKS; k++)
		free(marks[k].text);
	for (int i = 0; i < NSETS; i++)
		lf_labels_free(&sets[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_refill_keeps_mark),
	        cmocka_unit_test(test_mutators_invalidate),
	        cmocka_unit_test(test_marks_name_their_set),
	        cmocka_unit_test(test_foreign_append),
	        cmocka_unit_test(test_copy_memo),
	        cmocka_unit_test(test_random_ops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
