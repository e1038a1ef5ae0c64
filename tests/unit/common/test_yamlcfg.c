#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above */
#include <cmocka.h>

#include "yamlcfg.h"

static struct lf_ydoc *load(const char *text)
{
	struct lf_ydoc *d = NULL;
	struct lf_error err;
	if (lf_ydoc_load_string(text, strlen(text), "cfg.yaml", false, &d, &err) < 0)
		fail_msg("load failed: %s", err.msg);
	return d;
}

static void test_tree_and_positions(void **state)
{
	(void)state;
	struct lf_ydoc *d = load("server:\n  http_listen_port: 9080\nclients:\n  - url: http://x\n"
	                         "    batchwait: 2s\n");
	struct lf_ynode *root = lf_ydoc_root(d);
	assert_int_equal(root->kind, LF_Y_MAP);
	struct lf_ynode *server = lf_ymap_get(root, "server");
	assert_non_null(server);
	struct lf_ynode *port = lf_ymap_get(server, "http_listen_port");
	assert_int_equal(port->line, 2);
	assert_int_equal(port->col, 21);
	int64_t v = 0;
	struct lf_error err;
	assert_int_equal(lf_ymap_int(server, "server", "http_listen_port", &v, &err), 0);
	assert_int_equal(v, 9080);
	struct lf_ynode *clients = lf_ymap_get(root, "clients");
	assert_int_equal(clients->kind, LF_Y_SEQ);
	assert_int_equal(clients->n, 1);
	int64_t bw = 0;
	assert_int_equal(lf_ymap_duration(clients->items[0], "clients[0]", "batchwait", &bw, &err),
	                 0);
	assert_int_equal(bw, INT64_C(2000000000));
	/* absent key leaves the default */
	int64_t dflt = 7;
	assert_int_equal(lf_ymap_int(server, "server", "nope", &dflt, &err), 0);
	assert_int_equal(dflt, 7);
	lf_ydoc_free(d);
}

static void test_errors_name_key_and_position(void **state)
{
	(void)state;
	struct lf_ydoc *d = load("clients:\n  - url: http://x\n    batchwait: 1x\n");
	struct lf_ynode *c0 = lf_ymap_get(lf_ydoc_root(d), "clients")->items[0];
	int64_t bw;
	struct lf_error err;
	assert_int_equal(lf_ymap_duration(c0, "clients[0]", "batchwait", &bw, &err), -1);
	assert_non_null(
	        strstr(err.msg, "cfg.yaml:3:16: clients[0].batchwait: invalid duration \"1x\""));
	static const char *const allowed[] = {"url", NULL};
	assert_int_equal(lf_ymap_check(c0, "clients[0]", allowed, &err), -1);
	assert_non_null(strstr(err.msg, "cfg.yaml:3:5: unknown key \"batchwait\" in clients[0]"));
	lf_ydoc_free(d);
}

static void test_types(void **state)
{
	(void)state;
	struct lf_ydoc *d = load("a: yes\nb: 'true'\nc: 1.5\nd: [x, y]\ne: single\nf: ~\ng: 256KB\n"
	                         "h: {k: v}\n");
	struct lf_ynode *r = lf_ydoc_root(d);
	struct lf_error err;
	bool b = false;
	assert_int_equal(lf_ymap_bool(r, "", "a", &b, &err), 0);
	assert_true(b);
	assert_int_equal(lf_ymap_bool(r, "", "b", &b, &err), 0);
	double dv = 0;
	assert_int_equal(lf_ymap_double(r, "", "c", &dv, &err), 0);
	assert_true(dv == 1.5);
	char **list = NULL;
	size_t n = 0;
	assert_int_equal(lf_ymap_strlist(r, "", "d", &list, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[1], "y");
	assert_null(list[2]);
	assert_int_equal(lf_ymap_strlist(r, "", "e", &list, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0], "single");
	lf_strv_free(list);
	assert_int_equal(lf_ymap_get(r, "f")->kind, LF_Y_NULL);
	int64_t sz = 0;
	assert_int_equal(lf_ymap_size(r, "", "g", &sz, &err), 0);
	assert_int_equal(sz, 256000);
	int64_t iv;
	assert_int_equal(lf_ymap_int(r, "", "h", &iv, &err), -1);
	assert_non_null(strstr(err.msg, "h: expected a scalar value, got a mapping"));
	char *s = NULL;
	assert_int_equal(lf_ymap_str(r, "", "c", &s, &err), 0);
	assert_string_equal(s, "1.5");
	free(s);
	lf_ydoc_free(d);
}

static void test_invalid_yaml_and_duplicates(void **state)
{
	(void)state;
	struct lf_ydoc *d = NULL;
	struct lf_error err;
	const char *bad = "a: [1, 2\nb: c\n";
	assert_int_equal(lf_ydoc_load_string(bad, strlen(bad), "bad.yaml", false, &d, &err), -1);
	assert_non_null(strstr(err.msg, "bad.yaml:"));
	assert_non_null(strstr(err.msg, "invalid YAML"));
	const char *dup = "a: 1\na: 2\n";
	assert_int_equal(lf_ydoc_load_string(dup, strlen(dup), "dup.yaml", false, &d, &err), -1);
	assert_non_null(strstr(err.msg, "dup.yaml:2:1: duplicate key \"a\""));
	/* empty document is a null root */
	assert_int_equal(lf_ydoc_load_string("", 0, "empty.yaml", false, &d, &err), 0);
	assert_int_equal(lf_ydoc_root(d)->kind, LF_Y_NULL);
	lf_ydoc_free(d);
}

static void test_anchors_merge_and_bomb(void **state)
{
	(void)state;
	struct lf_ydoc *d = load("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n");
	struct lf_ynode *use = lf_ymap_get(lf_ydoc_root(d), "use");
	assert_string_equal(lf_ymap_get(use, "x")->str, "1");
	assert_string_equal(lf_ymap_get(use, "y")->str, "3");
	lf_ydoc_free(d);
	/* aliases are shared, not copied: an alias bomb loads instantly */
	d = load("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
	         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
	         "e: &e [*d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e]\n");
	assert_int_equal(lf_ymap_get(lf_ydoc_root(d), "f")->n, 8);
	lf_ydoc_free(d);
}

static void test_env_expansion(void **state)
{
	(void)state;
	setenv("LF_TEST_URL", "http://loki:3100", 1);
	unsetenv("LF_TEST_UNSET");
	const char *text = "url: ${LF_TEST_URL}/push\nd: ${LF_TEST_UNSET:-dflt}\n"
	                   "e: ${LF_TEST_UNSET}\nf: keep $1 and \\\\d\n";
	struct lf_ydoc *d = NULL;
	struct lf_error err;
	assert_int_equal(lf_ydoc_load_string(text, strlen(text), "env.yaml", true, &d, &err), 0);
	struct lf_ynode *r = lf_ydoc_root(d);
	assert_string_equal(lf_ymap_get(r, "url")->str, "http://loki:3100/push");
	assert_string_equal(lf_ymap_get(r, "d")->str, "dflt");
	assert_int_equal(lf_ymap_get(r, "e")->kind, LF_Y_NULL);
	assert_string_equal(lf_ymap_get(r, "f")->str, "keep $1 and \\d");
	lf_ydoc_free(d);
}

/* Regression (fuzz_yaml): expanding an empty text returned memory without
 * its terminating NUL. */
static void test_expand_env_empty_text(void **state)
{
	(void)state;
	char *out = NULL;
	size_t len = 99;
	struct lf_error err;
	assert_int_equal(lf_expand_env("", 0, &out, &len, &err), 0);
	assert_non_null(out);
	assert_int_equal(len, 0);
	assert_string_equal(out, "");
	free(out);
}

/* Regression (fuzz_yaml): typed readers used the scalar's C string, so a
 * value with an escaped NUL ("8080\0junk") read as 8080. They now refuse
 * it, naming the key; lf_y_str still returns the whole text (str_len). */
static void test_typed_readers_refuse_nul(void **state)
{
	(void)state;
	struct lf_ydoc *d = load("port: \"8080\\0junk\"\nenabled: \"true\\0\"\nwait: \"1s\\0x\"\n"
	                         "size: \"1KB\\0\"\nratio: \"1.5\\0\"\n");
	struct lf_ynode *r = lf_ydoc_root(d);
	struct lf_error err;
	int64_t iv = 7;
	assert_int_equal(lf_ymap_int(r, "server", "port", &iv, &err), -1);
	assert_non_null(strstr(err.msg, "server.port: value contains a NUL byte"));
	assert_int_equal(iv, 7);
	bool b = false;
	assert_int_equal(lf_ymap_bool(r, "", "enabled", &b, &err), -1);
	assert_non_null(strstr(err.msg, "enabled: value contains a NUL byte"));
	assert_int_equal(lf_ymap_duration(r, "", "wait", &iv, &err), -1);
	assert_non_null(strstr(err.msg, "wait: value contains a NUL byte"));
	assert_int_equal(lf_ymap_size(r, "", "size", &iv, &err), -1);
	assert_non_null(strstr(err.msg, "size: value contains a NUL byte"));
	double dv = 0;
	assert_int_equal(lf_ymap_double(r, "", "ratio", &dv, &err), -1);
	assert_non_null(strstr(err.msg, "ratio: value contains a NUL byte"));
	assert_int_equal(iv, 7);
	struct lf_ynode *port = lf_ymap_get(r, "port");
	assert_int_equal(port->str_len, 9);
	assert_memory_equal(port->str, "8080\0junk", 9);
	lf_ydoc_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_tree_and_positions),
	        cmocka_unit_test(test_errors_name_key_and_position),
	        cmocka_unit_test(test_types),
	        cmocka_unit_test(test_invalid_yaml_and_duplicates),
	        cmocka_unit_test(test_anchors_merge_and_bomb),
	        cmocka_unit_test(test_env_expansion),
	        cmocka_unit_test(test_expand_env_empty_text),
	        cmocka_unit_test(test_typed_readers_refuse_nul),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
