#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above */
#include <cmocka.h>

#include "labels.h"

static void test_sorted_set_get_del(void **state)
{
	(void)state;
	struct lf_labels ls = LF_LABELS_INIT;
	assert_int_equal(lf_labels_set(&ls, "job", "x"), 0);
	assert_int_equal(lf_labels_set(&ls, "app", "a"), 0);
	assert_int_equal(lf_labels_set(&ls, "zone", "z"), 0);
	assert_int_equal(lf_labels_set(&ls, "app", "b"), 0); /* replace */
	assert_int_equal(ls.n, 3);
	assert_string_equal(ls.v[0].name, "app");
	assert_string_equal(ls.v[1].name, "job");
	assert_string_equal(ls.v[2].name, "zone");
	assert_string_equal(lf_labels_get(&ls, "app"), "b");
	assert_null(lf_labels_get(&ls, "nope"));
	assert_int_equal(lf_labels_del(&ls, "job"), 1);
	assert_int_equal(lf_labels_del(&ls, "job"), 0);
	assert_int_equal(ls.n, 2);
	assert_string_equal(ls.v[1].name, "zone");
	/* the deleted slot's buffers are reused by the next insert */
	assert_int_equal(lf_labels_set(&ls, "b", "1"), 0);
	assert_string_equal(ls.v[1].name, "b");
	lf_labels_free(&ls);
}

static void test_render_parse_roundtrip(void **state)
{
	(void)state;
	struct lf_labels ls = LF_LABELS_INIT, back = LF_LABELS_INIT;
	lf_labels_set(&ls, "namespace", "default");
	lf_labels_set(&ls, "app", "we\"ird\\val\nue");
	struct lf_buf b = LF_BUF_INIT;
	assert_int_equal(lf_labels_render(&ls, &b), 0);
	assert_string_equal(b.data, "{app=\"we\\\"ird\\\\val\\nue\", namespace=\"default\"}");
	struct lf_error err;
	assert_int_equal(lf_labels_parse(b.data, b.len, &back, &err), 0);
	assert_true(lf_labels_equal(&ls, &back));
	assert_int_equal(lf_labels_hash(&ls), lf_labels_hash(&back));
	lf_buf_free(&b);
	lf_labels_free(&ls);
	lf_labels_free(&back);
}

static void test_parse_unsorted_and_spacing(void **state)
{
	(void)state;
	struct lf_labels ls = LF_LABELS_INIT;
	struct lf_error err;
	const char *s = " { b = \"2\",a=\"1\" , } ";
	assert_int_equal(lf_labels_parse(s, strlen(s), &ls, &err), 0);
	assert_int_equal(ls.n, 2);
	assert_string_equal(ls.v[0].name, "a");
	assert_string_equal(lf_labels_get(&ls, "b"), "2");
	assert_int_equal(lf_labels_parse("{}", 2, &ls, &err), 0);
	assert_int_equal(ls.n, 0);
	lf_labels_free(&ls);
}

static void test_parse_errors(void **state)
{
	(void)state;
	struct lf_labels ls = LF_LABELS_INIT;
	struct lf_error err;
	const char *dup = "{a=\"1\", a=\"2\"}";
	assert_int_equal(lf_labels_parse(dup, strlen(dup), &ls, &err), -1);
	assert_non_null(strstr(err.msg, "duplicate label name: 'a'"));
	const char *badname = "{my-label=\"1\"}";
	assert_int_equal(lf_labels_parse(badname, strlen(badname), &ls, &err), -1);
	assert_non_null(strstr(err.msg, "invalid label name \"my-label\""));
	const char *digit = "{1abc=\"1\"}";
	assert_int_equal(lf_labels_parse(digit, strlen(digit), &ls, &err), -1);
	const char *unterminated = "{a=\"1}";
	assert_int_equal(lf_labels_parse(unterminated, strlen(unterminated), &ls, &err), -1);
	assert_non_null(strstr(err.msg, "unterminated"));
	assert_int_equal(lf_labels_parse("a=1", 3, &ls, &err), -1);
	lf_labels_free(&ls);
}

static void test_copy_merge_cmp(void **state)
{
	(void)state;
	struct lf_labels a = LF_LABELS_INIT, b = LF_LABELS_INIT;
	lf_labels_set(&a, "x", "1");
	lf_labels_set(&a, "y", "2");
	assert_int_equal(lf_labels_copy(&b, &a), 0);
	assert_true(lf_labels_equal(&a, &b));
	lf_labels_set(&b, "x", "9");
	assert_true(lf_labels_cmp(&a, &b) < 0);
	struct lf_labels c = LF_LABELS_INIT;
	lf_labels_set(&c, "x", "keep");
	assert_int_equal(lf_labels_merge(&c, &a, false), 0);
	assert_string_equal(lf_labels_get(&c, "x"), "keep");
	assert_string_equal(lf_labels_get(&c, "y"), "2");
	assert_int_equal(lf_labels_merge(&c, &a, true), 0);
	assert_string_equal(lf_labels_get(&c, "x"), "1");
	assert_int_not_equal(lf_labels_hash(&a), lf_labels_hash(&b));
	lf_labels_free(&a);
	lf_labels_free(&b);
	lf_labels_free(&c);
}

static void test_name_valid(void **state)
{
	(void)state;
	assert_true(lf_label_name_valid("_a1", 3));
	assert_false(lf_label_name_valid("1a", 2));
	assert_false(lf_label_name_valid("a-b", 3));
	assert_false(lf_label_name_valid("", 0));
}

/* Regression (found while writing fuzz_labels' seeds): Go's octal escape
 * \ooo was decoded as the literal digits ("\101" gave "101", not "A"). */
static void test_parse_octal_escape(void **state)
{
	(void)state;
	struct lf_labels ls = LF_LABELS_INIT;
	struct lf_error err;
	const char *in = "{a=\"\\101\\0610\\377\", b=\"\\8\\19\"}";
	assert_int_equal(lf_labels_parse(in, strlen(in), &ls, &err), 0);
	assert_string_equal(lf_labels_get(&ls, "a"), "A10\xff");
	/* Not three octal digits: the escaped character stays as it was. */
	assert_string_equal(lf_labels_get(&ls, "b"), "819");
	/* Rendering escapes nothing here and parses back to the same set. */
	struct lf_buf out = LF_BUF_INIT;
	assert_int_equal(lf_labels_render(&ls, &out), 0);
	struct lf_labels back = LF_LABELS_INIT;
	assert_int_equal(lf_labels_parse(out.data, out.len, &back, &err), 0);
	assert_true(lf_labels_equal(&ls, &back));
	lf_buf_free(&out);
	lf_labels_free(&back);
	lf_labels_free(&ls);
}

/* Every slot's name_len/value_len must equal strlen of its strings. */
static void assert_lens(const struct lf_labels *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		assert_int_equal(ls->v[i].name_len, strlen(ls->v[i].name));
		assert_int_equal(ls->v[i].value_len, strlen(ls->v[i].value));
	}
}

static void test_lengths_kept_in_sync(void **state)
{
	(void)state;
	struct lf_labels a = LF_LABELS_INIT, b = LF_LABELS_INIT;
	assert_int_equal(lf_labels_set(&a, "job", "varlogs"), 0);
	assert_int_equal(lf_labels_setn(&a, "pod_name", 3, "web-123", 3), 0); /* pod=web */
	assert_int_equal(lf_labels_set(&a, "a", ""), 0);
	assert_lens(&a);
	assert_string_equal(lf_labels_get(&a, "pod"), "web");
	/* replace with a longer, then a shorter value */
	assert_int_equal(lf_labels_set(&a, "job", "a-much-longer-value-than-sixteen-bytes"), 0);
	assert_lens(&a);
	assert_int_equal(lf_labels_set(&a, "job", "x"), 0);
	assert_lens(&a);
	assert_string_equal(lf_labels_get(&a, "job"), "x");
	/* del keeps the removed slot as a spare; reusing it must not keep the
	 * old lengths */
	assert_int_equal(lf_labels_del(&a, "pod"), 1);
	assert_lens(&a);
	assert_int_equal(lf_labels_set(&a, "zz", "0123456789"), 0);
	assert_lens(&a);
	assert_int_equal(lf_labels_copy(&b, &a), 0);
	assert_lens(&b);
	assert_true(lf_labels_equal(&a, &b));
	assert_int_equal(lf_labels_merge(&b, &a, false), 0);
	assert_lens(&b);
	struct lf_error err;
	const char *txt = "{b=\"2\", a=\"1\\n\", c=\"\"}";
	assert_int_equal(lf_labels_parse(txt, strlen(txt), &b, &err), 0);
	assert_lens(&b);
	assert_int_equal(b.n, 3);
	lf_labels_free(&a);
	lf_labels_free(&b);
}

/* lf_labels_copy into a reused set whose slots hold other names/values of
 * equal or different lengths: the result is exactly the source. */
static void test_copy_into_reused_slots(void **state)
{
	(void)state;
	struct lf_labels src1 = LF_LABELS_INIT, src2 = LF_LABELS_INIT, dst = LF_LABELS_INIT;
	lf_labels_set(&src1, "aa", "xyz");
	lf_labels_set(&src1, "bb", "0123456789abcdefXYZ");
	lf_labels_set(&src1, "cc", "same");
	lf_labels_set(&src2, "ab", "xy");                  /* same-length name */
	lf_labels_set(&src2, "bb", "0123456789abcdefXYQ"); /* differs in the last byte */
	lf_labels_set(&src2, "cc", "same");
	for (int round = 0; round < 3; round++) {
		assert_int_equal(lf_labels_copy(&dst, &src1), 0);
		assert_true(lf_labels_equal(&dst, &src1));
		assert_string_equal(dst.v[0].name, "aa");
		assert_string_equal(dst.v[0].value, "xyz");
		assert_lens(&dst);
		assert_int_equal(lf_labels_copy(&dst, &src2), 0);
		assert_true(lf_labels_equal(&dst, &src2));
		assert_false(lf_labels_equal(&dst, &src1));
		assert_string_equal(dst.v[0].name, "ab");
		assert_string_equal(dst.v[0].value, "xy");
		assert_string_equal(dst.v[1].value, "0123456789abcdefXYQ");
		assert_lens(&dst);
	}
	/* a smaller source after a bigger one */
	struct lf_labels one = LF_LABELS_INIT;
	lf_labels_set(&one, "z", "1");
	assert_int_equal(lf_labels_copy(&dst, &one), 0);
	assert_int_equal(dst.n, 1);
	assert_true(lf_labels_equal(&dst, &one));
	assert_int_equal(lf_labels_copy(&dst, &dst), 0);
	assert_int_equal(dst.n, 1);
	lf_labels_free(&one);
	lf_labels_free(&src1);
	lf_labels_free(&src2);
	lf_labels_free(&dst);
}

/* A name or value with an embedded NUL is stored as the C string a reader
 * sees: everything (get, equality, hash, render) treats it as truncated. */
static void test_embedded_nul(void **state)
{
	(void)state;
	struct lf_labels a = LF_LABELS_INIT, b = LF_LABELS_INIT;
	assert_int_equal(lf_labels_setn(&a, "ab\0x", 4, "v\0w", 3), 0);
	assert_int_equal(lf_labels_setn(&a, "long_value", 10, "0123456789abcdefghij\0tail", 25), 0);
	assert_lens(&a);
	assert_int_equal(a.v[0].name_len, 2);
	assert_int_equal(a.v[0].value_len, 1);
	assert_string_equal(lf_labels_get(&a, "ab"), "v");
	assert_string_equal(lf_labels_getn(&a, "ab\0y", 4), "v");
	lf_labels_set(&b, "ab", "v");
	lf_labels_set(&b, "long_value", "0123456789abcdefghij");
	assert_true(lf_labels_equal(&a, &b));
	assert_int_equal(lf_labels_cmp(&a, &b), 0);
	assert_true(lf_labels_hash(&a) == lf_labels_hash(&b));
	struct lf_buf out = LF_BUF_INIT;
	assert_int_equal(lf_labels_render(&a, &out), 0);
	assert_string_equal(out.data, "{ab=\"v\", long_value=\"0123456789abcdefghij\"}");
	lf_buf_free(&out);
	lf_labels_free(&a);
	lf_labels_free(&b);
}

static void test_find_and_order(void **state)
{
	(void)state;
	struct lf_labels a = LF_LABELS_INIT, b = LF_LABELS_INIT;
	/* byte order as strcmp: a prefix sorts first, bytes >= 0x80 after ASCII */
	lf_labels_set(&a, "ab", "1");
	lf_labels_set(&a, "a", "2");
	lf_labels_set(&a, "\xc3\xa9", "3");
	lf_labels_set(&a, "z", "4");
	lf_labels_set(&a, "abcdefghijk", "5"); /* longer than the inline compare */
	lf_labels_set(&a, "abcdefghijj", "6");
	const char *want[] = {"a", "ab", "abcdefghijj", "abcdefghijk", "z", "\xc3\xa9"};
	assert_int_equal(a.n, 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(a.v[i].name, want[i]);
	const struct lf_label *l = lf_labels_find(&a, "abcdefghijk", 11);
	assert_non_null(l);
	assert_string_equal(l->value, "5");
	assert_int_equal(l->value_len, 1);
	assert_null(lf_labels_find(&a, "abcdefghij", 10));
	assert_null(lf_labels_find(&a, "abc", 3));
	assert_non_null(lf_labels_find(&a, "abcx", 2)); /* "ab" */
	/* cmp: values compared by bytes and length like strcmp */
	lf_labels_set(&b, "a", "x");
	struct lf_labels c = LF_LABELS_INIT;
	lf_labels_set(&c, "a", "xy");
	assert_true(lf_labels_cmp(&b, &c) < 0);
	assert_true(lf_labels_cmp(&c, &b) > 0);
	lf_labels_set(&c, "a", "\xff");
	assert_true(lf_labels_cmp(&b, &c) < 0);
	lf_labels_free(&a);
	lf_labels_free(&b);
	lf_labels_free(&c);
}

/* merge into an empty set (which copies) and into a non-empty one agree
 * with setting the labels one by one. */
static void test_merge_empty_and_self(void **state)
{
	(void)state;
	struct lf_labels src = LF_LABELS_INIT, dst = LF_LABELS_INIT, want = LF_LABELS_INIT;
	lf_labels_set(&src, "b", "1");
	lf_labels_set(&src, "a", "2");
	assert_int_equal(lf_labels_merge(&dst, &src, false), 0);
	assert_true(lf_labels_equal(&dst, &src));
	assert_lens(&dst);
	lf_labels_set(&dst, "a", "mine");
	lf_labels_set(&dst, "c", "3");
	assert_int_equal(lf_labels_merge(&dst, &src, false), 0);
	lf_labels_set(&want, "a", "mine");
	lf_labels_set(&want, "b", "1");
	lf_labels_set(&want, "c", "3");
	assert_true(lf_labels_equal(&dst, &want));
	assert_int_equal(lf_labels_merge(&dst, &src, true), 0);
	lf_labels_set(&want, "a", "2");
	assert_true(lf_labels_equal(&dst, &want));
	assert_int_equal(lf_labels_merge(&dst, &dst, true), 0);
	assert_true(lf_labels_equal(&dst, &want));
	assert_lens(&dst);
	lf_labels_free(&src);
	lf_labels_free(&dst);
	lf_labels_free(&want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sorted_set_get_del),
	        cmocka_unit_test(test_render_parse_roundtrip),
	        cmocka_unit_test(test_parse_unsorted_and_spacing),
	        cmocka_unit_test(test_parse_errors),
	        cmocka_unit_test(test_copy_merge_cmp),
	        cmocka_unit_test(test_name_valid),
	        cmocka_unit_test(test_parse_octal_escape),
	        cmocka_unit_test(test_lengths_kept_in_sync),
	        cmocka_unit_test(test_copy_into_reused_slots),
	        cmocka_unit_test(test_embedded_nul),
	        cmocka_unit_test(test_find_and_order),
	        cmocka_unit_test(test_merge_empty_and_self),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
