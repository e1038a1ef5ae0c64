#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sorted_set_get_del),
		cmocka_unit_test(test_render_parse_roundtrip),
		cmocka_unit_test(test_parse_unsorted_and_spacing),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_copy_merge_cmp),
		cmocka_unit_test(test_name_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
