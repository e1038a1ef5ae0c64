/* test_relabel.c — pipeline/relabel: every action, Prometheus edge cases,
 * load-time validation. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../../pipeline/relabel.h"
#include "alloc_count.h"
#include "buf.h"
#include "labels.h"
#include "yamlcfg.h"

/* Applies the relabel_configs YAML (a sequence) to the label set `in`
 * (Prometheus text form) and returns the rendered result, or "DROP". */
static char *run(const char *yaml, const char *in)
{
	struct lf_error err;
	struct lf_ydoc *doc;
	if (lf_ydoc_load_string(yaml, strlen(yaml), "test.yaml", false, &doc, &err) < 0)
		fail_msg("yaml: %s", err.msg);
	struct lf_relabel *r;
	if (lf_relabel_new(lf_ydoc_root(doc), "relabel_configs", &r, &err) < 0)
		fail_msg("load: %s\n%s", err.msg, yaml);
	lf_ydoc_free(doc);
	struct lf_labels ls = LF_LABELS_INIT;
	if (lf_labels_parse(in, strlen(in), &ls, &err) < 0)
		fail_msg("labels: %s", err.msg);
	static char out[1024];
	if (!lf_relabel_apply(r, &ls)) {
		snprintf(out, sizeof out, "DROP");
	} else {
		struct lf_buf b = LF_BUF_INIT;
		lf_labels_render(&ls, &b);
		snprintf(out, sizeof out, "%s", b.data);
		lf_buf_free(&b);
	}
	lf_labels_free(&ls);
	lf_relabel_free(r);
	return out;
}

static void check(const char *yaml, const char *in, const char *want)
{
	const char *got = run(yaml, in);
	if (strcmp(got, want) != 0)
		fail_msg("relabel\n%s\non %s\n got  %s\n want %s", yaml, in, got, want);
}

static void test_replace(void **state)
{
	(void)state;
	/* defaults: regex (.*), replacement $1, action replace */
	check("- source_labels: [a]\n  target_label: b\n", "{a=\"x\"}", "{a=\"x\", b=\"x\"}");
	/* several sources joined with the separator */
	check("- source_labels: [a, c]\n  separator: '/'\n  target_label: t\n",
	      "{a=\"1\", c=\"2\"}", "{a=\"1\", c=\"2\", t=\"1/2\"}");
	check("- source_labels: [a, c]\n  target_label: t\n", "{a=\"1\", c=\"2\"}",
	      "{a=\"1\", c=\"2\", t=\"1;2\"}");
	/* missing source label counts as "" */
	check("- source_labels: [a, missing, c]\n  target_label: t\n", "{a=\"1\", c=\"2\"}",
	      "{a=\"1\", c=\"2\", t=\"1;;2\"}");
	/* regex is fully anchored: "b" does not match "abc", no-op */
	check("- source_labels: [a]\n  regex: b\n  target_label: t\n  replacement: hit\n",
	      "{a=\"abc\"}", "{a=\"abc\"}");
	/* unanchored-looking regex still must match the whole value */
	check("- source_labels: [a]\n  regex: 'a.*'\n  target_label: t\n  replacement: hit\n",
	      "{a=\"xabc\"}", "{a=\"xabc\"}");
	check("- source_labels: [a]\n  regex: 'a.*'\n  target_label: t\n  replacement: hit\n",
	      "{a=\"abc\"}", "{a=\"abc\", t=\"hit\"}");
	/* (?s): . matches a newline inside the value */
	check("- source_labels: [a]\n  regex: 'x(.*)'\n  target_label: t\n", "{a=\"x1\\n2\"}",
	      "{a=\"x1\\n2\", t=\"1\\n2\"}");
	/* $10 is group "10"; ${1}0 is group 1 then "0" */
	check("- source_labels: [a]\n  regex: '(.)(.)'\n  target_label: t\n  replacement: "
	      "'$10'\n",
	      "{a=\"xy\", t=\"old\"}", "{a=\"xy\"}"); /* empty result deletes the target */
	check("- source_labels: [a]\n  regex: '(.)(.)'\n  target_label: t\n  replacement: "
	      "'${1}0'\n",
	      "{a=\"xy\"}", "{a=\"xy\", t=\"x0\"}");
	/* $1x is group "1x" (empty) */
	check("- source_labels: [a]\n  regex: '(.*)'\n  target_label: t\n  replacement: 'p$1x'\n",
	      "{a=\"v\"}", "{a=\"v\", t=\"p\"}");
	/* named groups, in the target label too */
	check("- source_labels: [__address__]\n  regex: '(?P<host>[^:]+):(?P<port>\\d+)'\n"
	      "  target_label: 'port_${host}'\n  replacement: '$port'\n",
	      "{__address__=\"web:8080\"}", "{__address__=\"web:8080\", port_web=\"8080\"}");
	/* expanded target not a valid label name: no-op */
	check("- source_labels: [a]\n  regex: '(.*)'\n  target_label: 'x_$1'\n", "{a=\"b-c\"}",
	      "{a=\"b-c\"}");
	/* empty source value with default regex sets the literal replacement */
	check("- target_label: job\n  replacement: static\n", "{a=\"1\"}",
	      "{a=\"1\", job=\"static\"}");
	/* empty replacement deletes the target */
	check("- source_labels: [a]\n  target_label: a\n  replacement: ''\n", "{a=\"1\", b=\"2\"}",
	      "{b=\"2\"}");
	/* overwrite an existing label */
	check("- source_labels: [a]\n  target_label: b\n  replacement: 'v-$1'\n",
	      "{a=\"1\", b=\"2\"}", "{a=\"1\", b=\"v-1\"}");
	/* rules apply in order and see earlier results */
	check("- source_labels: [a]\n  target_label: b\n- source_labels: [b]\n  target_label: c\n"
	      "  replacement: 'from-$1'\n",
	      "{a=\"1\"}", "{a=\"1\", b=\"1\", c=\"from-1\"}");
	/* action name is case-insensitive */
	check("- source_labels: [a]\n  target_label: b\n  action: Replace\n", "{a=\"1\"}",
	      "{a=\"1\", b=\"1\"}");
}

static void test_keep_drop(void **state)
{
	(void)state;
	const char *keep = "- source_labels: [app]\n  regex: 'web|api'\n  action: keep\n";
	check(keep, "{app=\"web\"}", "{app=\"web\"}");
	check(keep, "{app=\"webx\"}", "DROP");
	check(keep, "{other=\"web\"}", "DROP"); /* missing = "" */
	const char *drop = "- source_labels: [app]\n  regex: 'web|api'\n  action: drop\n";
	check(drop, "{app=\"api\"}", "DROP");
	check(drop, "{app=\"apis\"}", "{app=\"apis\"}");
	/* keep on an empty value with a regex that accepts "" */
	check("- source_labels: [x]\n  regex: '.*'\n  action: keep\n", "{a=\"1\"}", "{a=\"1\"}");
	check("- source_labels: [x]\n  regex: '.+'\n  action: keep\n", "{a=\"1\"}", "DROP");
	/* a drop stops later rules */
	check("- source_labels: [a]\n  action: drop\n- target_label: b\n  replacement: x\n",
	      "{a=\"1\"}", "DROP");
}

static void test_equal(void **state)
{
	(void)state;
	const char *ke = "- source_labels: [a]\n  target_label: b\n  action: keepequal\n";
	check(ke, "{a=\"1\", b=\"1\"}", "{a=\"1\", b=\"1\"}");
	check(ke, "{a=\"1\", b=\"2\"}", "DROP");
	check(ke, "{c=\"1\"}", "{c=\"1\"}"); /* "" == "" */
	const char *de = "- source_labels: [a]\n  target_label: b\n  action: dropequal\n";
	check(de, "{a=\"1\", b=\"1\"}", "DROP");
	check(de, "{a=\"1\", b=\"2\"}", "{a=\"1\", b=\"2\"}");
}

/* Expected values computed independently with Python:
 *   d = hashlib.md5(v.encode()).digest(); int.from_bytes(d[8:16], 'big') % m
 *   md5("foo")           = acbd18db4cc2f85c|edef654fccc4a4d8 -> 17145033699835028696 % 10 = 6
 *   md5("bar;baz")       = a56a821d341628b1|d04a53053d0abd2a -> 15008899990129655082 % 1000 = 82
 *   md5("")              = d41d8cd98f00b204|e9800998ecf8427e -> 16825458760271544958 % 7 = 1
 *   md5("10.0.0.1:9100") = 1eac7f871dc4b32a|4cfeac4083628b3d -> 5548061184049187645 % 3 = 2
 *   md5("a")             = 0cc175b9c0f1b6a8|31c399e269772661 -> 3585878926028121697 % 2^32
 *                          = 1769416289 */
static void test_hashmod(void **state)
{
	(void)state;
	check("- source_labels: [a]\n  modulus: 10\n  target_label: h\n  action: hashmod\n",
	      "{a=\"foo\"}", "{a=\"foo\", h=\"6\"}");
	check("- source_labels: [a, b]\n  modulus: 1000\n  target_label: h\n  action: hashmod\n",
	      "{a=\"bar\", b=\"baz\"}", "{a=\"bar\", b=\"baz\", h=\"82\"}");
	check("- source_labels: [nope]\n  modulus: 7\n  target_label: h\n  action: hashmod\n",
	      "{a=\"x\"}", "{a=\"x\", h=\"1\"}");
	check("- source_labels: [__address__]\n  modulus: 3\n  target_label: __tmp_hash\n"
	      "  action: hashmod\n",
	      "{__address__=\"10.0.0.1:9100\"}",
	      "{__address__=\"10.0.0.1:9100\", __tmp_hash=\"2\"}");
	check("- source_labels: [a]\n  modulus: 4294967296\n  target_label: h\n  action: hashmod\n",
	      "{a=\"a\"}", "{a=\"a\", h=\"1769416289\"}");
}

static void test_labelmap(void **state)
{
	(void)state;
	const char *lm = "- regex: '__meta_kubernetes_pod_label_(.+)'\n  action: labelmap\n";
	check(lm,
	      "{__meta_kubernetes_pod_label_app=\"web\", __meta_kubernetes_pod_label_tier=\"fe\", "
	      "x=\"1\"}",
	      "{__meta_kubernetes_pod_label_app=\"web\", __meta_kubernetes_pod_label_tier=\"fe\", "
	      "app=\"web\", tier=\"fe\", x=\"1\"}");
	/* replacement template; an empty value removes the target */
	check("- regex: 'l_(.+)'\n  replacement: 'new_$1'\n  action: labelmap\n",
	      "{l_a=\"1\", l_b=\"\", new_b=\"old\"}", "{l_a=\"1\", l_b=\"\", new_a=\"1\"}");
	/* anchored: "xl_a" does not match */
	check("- regex: 'l_(.+)'\n  action: labelmap\n", "{xl_a=\"1\"}", "{xl_a=\"1\"}");
	/* works on a snapshot: a label created by this rule is not mapped again */
	check("- regex: 'a(.*)'\n  replacement: 'aa$1'\n  action: labelmap\n", "{ab=\"1\"}",
	      "{aab=\"1\", ab=\"1\"}");
}

static void test_labeldrop_keep(void **state)
{
	(void)state;
	check("- regex: '__meta_.*'\n  action: labeldrop\n",
	      "{__meta_a=\"1\", __meta_b=\"2\", job=\"j\"}", "{job=\"j\"}");
	check("- regex: 'job|instance'\n  action: labelkeep\n",
	      "{__meta_a=\"1\", instance=\"i\", job=\"j\", jobx=\"y\"}",
	      "{instance=\"i\", job=\"j\"}");
	/* anchoring applies to names too */
	check("- regex: 'ob'\n  action: labeldrop\n", "{job=\"j\"}", "{job=\"j\"}");
}

static void test_case(void **state)
{
	(void)state;
	check("- source_labels: [a]\n  target_label: l\n  action: lowercase\n",
	      "{a=\"MiXeD-\xc3\x89T\xc3\x89\"}",
	      "{a=\"MiXeD-\xc3\x89T\xc3\x89\", l=\"mixed-\xc3\xa9t\xc3\xa9\"}");
	check("- source_labels: [a, b]\n  target_label: u\n  action: uppercase\n",
	      "{a=\"x\", b=\"\xc3\xa9y\"}", "{a=\"x\", b=\"\xc3\xa9y\", u=\"X;\xc3\x89Y\"}");
	/* empty result deletes the target */
	check("- source_labels: [none]\n  target_label: u\n  action: uppercase\n", "{u=\"1\"}",
	      "{}");
}

static void test_empty(void **state)
{
	(void)state;
	struct lf_relabel *r;
	struct lf_error err;
	assert_int_equal(lf_relabel_new(NULL, "relabel_configs", &r, &err), 0);
	assert_int_equal(lf_relabel_count(r), 0);
	struct lf_labels ls = LF_LABELS_INIT;
	lf_labels_set(&ls, "a", "1");
	assert_true(lf_relabel_apply(r, &ls));
	assert_true(lf_relabel_apply(NULL, &ls));
	assert_int_equal(ls.n, 1);
	lf_labels_free(&ls);
	lf_relabel_free(r);
}

static void load_err(const char *yaml, const char *want)
{
	struct lf_error err;
	struct lf_ydoc *doc;
	if (lf_ydoc_load_string(yaml, strlen(yaml), "cfg.yaml", false, &doc, &err) < 0)
		fail_msg("yaml: %s", err.msg);
	struct lf_relabel *r = (struct lf_relabel *)1;
	int rc = lf_relabel_new(lf_ydoc_root(doc), "scrape_configs[0].relabel_configs", &r, &err);
	lf_ydoc_free(doc);
	if (rc != -1)
		fail_msg("no error for\n%s", yaml);
	assert_null(r);
	if (!strstr(err.msg, want))
		fail_msg("error \"%s\" lacks \"%s\"", err.msg, want);
}

static void test_validation(void **state)
{
	(void)state;
	load_err("- source_labels: [a]\n  action: hashmod\n  target_label: t\n",
	         "cfg.yaml:1:3: scrape_configs[0].relabel_configs[0]: relabel configuration for "
	         "hashmod requires non-zero modulus");
	load_err("- source_labels: [a]\n  action: replace\n",
	         "relabel configuration for replace action requires 'target_label' value");
	load_err("- source_labels: [a]\n  action: lowercase\n",
	         "relabel configuration for lowercase action requires 'target_label' value");
	load_err("- target_label: 'bad-name'\n", "\"bad-name\" is invalid 'target_label' for "
	                                         "replace action");
	load_err("- target_label: '${1}-x'\n", "\"${1}-x\" is invalid 'target_label'");
	load_err("- target_label: '0abc'\n  action: uppercase\n",
	         "\"0abc\" is invalid 'target_label'");
	load_err("- source_labels: [a]\n  target_label: b\n  replacement: x\n  action: lowercase\n",
	         "'replacement' can not be set for lowercase action");
	load_err("- regex: '(.*)'\n  replacement: 'a-b'\n  action: labelmap\n",
	         "\"a-b\" is invalid 'replacement' for labelmap action");
	load_err("- source_labels: [a]\n  target_label: b\n  separator: ','\n  action: keepequal\n",
	         "keepequal action requires only 'source_labels' and `target_label`, and no other "
	         "fields");
	load_err("- source_labels: [a]\n  target_label: b\n  regex: '(.*)'\n  action: dropequal\n",
	         "dropequal action requires only 'source_labels' and `target_label`, and no other "
	         "fields");
	load_err("- source_labels: [a]\n  regex: x\n  action: labeldrop\n",
	         "labeldrop action requires only 'regex', and no other fields");
	load_err("- target_label: t\n  regex: x\n  action: labelkeep\n",
	         "labelkeep action requires only 'regex', and no other fields");
	load_err("- action: nope\n", "cfg.yaml:1:11: scrape_configs[0].relabel_configs[0]: "
	                             "unknown relabel action \"nope\"");
	load_err("- regex: '(a'\n  action: drop\n",
	         "cfg.yaml:1:10: scrape_configs[0].relabel_configs[0]: invalid regex \"(a\": "
	         "missing closing parenthesis at offset 2");
	load_err("- source_labels: [a]\n  target_label: b\n  unknown_key: 1\n", "unknown_key");
	load_err("- source_labels: ['a-b']\n  target_label: b\n",
	         "\"a-b\" is not a valid label name");
	load_err("- source_labels: [a]\n  target_label: b\n  modulus: x\n", "modulus");
	load_err("- 3\n", "expected a mapping");
	load_err("a: b\n", "expected a sequence");
}

/* repeated application reuses the per-thread scratch; results stay right */
static void test_repeat(void **state)
{
	(void)state;
	const char *yaml = "- source_labels: [a]\n  regex: '(\\w+)-(\\d+)'\n  target_label: t\n"
	                   "  replacement: '$2/$1'\n";
	struct lf_error err;
	struct lf_ydoc *doc;
	assert_int_equal(lf_ydoc_load_string(yaml, strlen(yaml), "t", false, &doc, &err), 0);
	struct lf_relabel *r;
	assert_int_equal(lf_relabel_new(lf_ydoc_root(doc), "rc", &r, &err), 0);
	lf_ydoc_free(doc);
	struct lf_labels ls = LF_LABELS_INIT;
	for (int i = 0; i < 1000; i++) {
		char v[32], want[32];
		snprintf(v, sizeof v, "n%d-%d", i % 7, i);
		snprintf(want, sizeof want, "%d/n%d", i, i % 7);
		lf_labels_clear(&ls);
		lf_labels_set(&ls, "a", v);
		assert_true(lf_relabel_apply(r, &ls));
		assert_string_equal(lf_labels_get(&ls, "t"), want);
	}
	lf_labels_free(&ls);
	lf_relabel_free(r);
}

static void test_no_alloc_when_warm(void **state)
{
	(void)state;
	const char *yaml =
	        "- source_labels: [a, b]\n  regex: '(\\w+);(\\d+)'\n  target_label: t\n"
	        "  replacement: '$2-$1'\n"
	        "- regex: 'x_(.*)'\n  action: labelmap\n"
	        "- source_labels: [a]\n  modulus: 8\n  target_label: h\n  action: hashmod\n"
	        "- source_labels: [a]\n  target_label: u\n  action: uppercase\n"
	        "- regex: 'drop_.*'\n  action: labeldrop\n"
	        "- source_labels: [t]\n  regex: '.+'\n  action: keep\n";
	struct lf_error err;
	struct lf_ydoc *doc;
	assert_int_equal(lf_ydoc_load_string(yaml, strlen(yaml), "t", false, &doc, &err), 0);
	struct lf_relabel *r;
	assert_int_equal(lf_relabel_new(lf_ydoc_root(doc), "rc", &r, &err), 0);
	lf_ydoc_free(doc);
	struct lf_labels src = LF_LABELS_INIT, ls = LF_LABELS_INIT;
	lf_labels_set(&src, "a", "web");
	lf_labels_set(&src, "b", "42");
	lf_labels_set(&src, "x_y", "z");
	lf_labels_set(&src, "drop_me", "1");
	alloc_calls = 0;
	for (int round = 0; round < 2; round++) {
		if (round == 1) {
			assert_true(alloc_calls > 0); /* the wrap does count */
			alloc_calls = 0;
		}
		for (int i = 0; i < 100; i++) {
			assert_int_equal(lf_labels_copy(&ls, &src), 0);
			assert_true(lf_relabel_apply(r, &ls));
		}
	}
	assert_int_equal(alloc_calls, 0);
	assert_string_equal(lf_labels_get(&ls, "t"), "42-web");
	assert_string_equal(lf_labels_get(&ls, "y"), "z");
	assert_string_equal(lf_labels_get(&ls, "u"), "WEB");
	assert_null(lf_labels_get(&ls, "drop_me"));
	lf_labels_free(&ls);
	lf_labels_free(&src);
	lf_relabel_free(r);
}

/* one rule set shared by threads (per-thread scratch inside) */
static struct lf_relabel *shared;

static void *relabel_thread(void *arg)
{
	long id = (long)arg;
	struct lf_labels ls = LF_LABELS_INIT;
	void *rv = NULL;
	for (int i = 0; i < 2000 && !rv; i++) {
		char v[32], want[32];
		snprintf(v, sizeof v, "w%ld-%d", id, i);
		snprintf(want, sizeof want, "%d/w%ld", i, id);
		lf_labels_clear(&ls);
		lf_labels_set(&ls, "a", v);
		lf_labels_set(&ls, "__meta_x", "1");
		if (!lf_relabel_apply(shared, &ls) || !lf_labels_get(&ls, "t") ||
		    strcmp(lf_labels_get(&ls, "t"), want) != 0 || lf_labels_get(&ls, "__meta_x"))
			rv = (void *)1;
	}
	lf_labels_free(&ls);
	return rv;
}

static void test_threads(void **state)
{
	(void)state;
	const char *yaml = "- source_labels: [a]\n  regex: '(\\w+)-(\\d+)'\n  target_label: t\n"
	                   "  replacement: '$2/$1'\n- regex: '__meta_.*'\n  action: labeldrop\n";
	struct lf_error err;
	struct lf_ydoc *doc;
	assert_int_equal(lf_ydoc_load_string(yaml, strlen(yaml), "t", false, &doc, &err), 0);
	assert_int_equal(lf_relabel_new(lf_ydoc_root(doc), "rc", &shared, &err), 0);
	lf_ydoc_free(doc);
	pthread_t th[4];
	for (long i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, relabel_thread, (void *)i), 0);
	for (int i = 0; i < 4; i++) {
		void *rv;
		assert_int_equal(pthread_join(th[i], &rv), 0);
		assert_null(rv);
	}
	lf_relabel_free(shared);
}

/* lf_relabel_apply_rule names the rule that dropped a target (for the
 * agent's /service-discovery page). */
static size_t drop_index(const char *yaml, const char *in, bool *kept)
{
	struct lf_error err;
	struct lf_ydoc *doc;
	if (lf_ydoc_load_string(yaml, strlen(yaml), "test.yaml", false, &doc, &err) < 0)
		fail_msg("yaml: %s", err.msg);
	struct lf_relabel *r;
	if (lf_relabel_new(lf_ydoc_root(doc), "relabel_configs", &r, &err) < 0)
		fail_msg("load: %s", err.msg);
	lf_ydoc_free(doc);
	struct lf_labels ls = LF_LABELS_INIT;
	if (lf_labels_parse(in, strlen(in), &ls, &err) < 0)
		fail_msg("labels: %s", err.msg);
	size_t idx = 12345;
	*kept = lf_relabel_apply_rule(r, &ls, &idx);
	lf_labels_free(&ls);
	lf_relabel_free(r);
	return idx;
}

static void test_drop_rule_index(void **state)
{
	(void)state;
	const char *y = "- {source_labels: [a], target_label: b}\n"
	                "- {source_labels: [ns], regex: keepme, action: keep}\n"
	                "- {source_labels: [b], regex: bad, action: drop}\n";
	bool kept;
	assert_int_equal(drop_index(y, "{ns=\"other\", a=\"x\"}", &kept), 1);
	assert_false(kept);
	assert_int_equal(drop_index(y, "{ns=\"keepme\", a=\"bad\"}", &kept), 2);
	assert_false(kept);
	assert_int_equal(drop_index(y, "{ns=\"keepme\", a=\"ok\"}", &kept), SIZE_MAX);
	assert_true(kept);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_replace),
	        cmocka_unit_test(test_keep_drop),
	        cmocka_unit_test(test_equal),
	        cmocka_unit_test(test_hashmod),
	        cmocka_unit_test(test_labelmap),
	        cmocka_unit_test(test_labeldrop_keep),
	        cmocka_unit_test(test_case),
	        cmocka_unit_test(test_empty),
	        cmocka_unit_test(test_validation),
	        cmocka_unit_test(test_repeat),
	        cmocka_unit_test(test_threads),
	        cmocka_unit_test(test_no_alloc_when_warm),
	        cmocka_unit_test(test_drop_rule_index),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
