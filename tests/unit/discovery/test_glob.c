/* test_glob.c — doublestar matching and expansion on a temp tree. */
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
#include <dirent.h>

#include "glob.h"

struct mcase {
	const char *pattern, *path;
	bool match;
};

static void test_match(void **state)
{
	(void)state;
	static const struct mcase cases[] = {
	        {"/var/log/*.log", "/var/log/syslog.log", true},
	        {"/var/log/*.log", "/var/log/a/b.log", false}, /* * stops at '/' */
	        {"/var/log/*.log", "/var/log/.hidden.log", true},
	        {"/var/log/?.log", "/var/log/a.log", true},
	        {"/var/log/?.log", "/var/log/ab.log", false},
	        {"/var/log/[ab].log", "/var/log/b.log", true},
	        {"/var/log/[!ab].log", "/var/log/b.log", false},
	        {"/var/log/[^ab].log", "/var/log/c.log", true},
	        {"/var/log/[a-c]x.log", "/var/log/bx.log", true},
	        {"/var/log/[a-c]x.log", "/var/log/dx.log", false},
	        {"/var/log/{app,web}/*.log", "/var/log/web/1.log", true},
	        {"/var/log/{app,web}/*.log", "/var/log/db/1.log", false},
	        {"/var/log/{a/b,c}/x", "/var/log/a/b/x", true},   /* braces may hold '/' */
	        {"/var/log/{a,{b,c}d}/x", "/var/log/cd/x", true}, /* nested */
	        {"/var/log/**/*.log", "/var/log/x.log", true},    /* ** = zero dirs */
	        {"/var/log/**/*.log", "/var/log/a/b/c/x.log", true},
	        {"/var/log/**", "/var/log/a/b/c", true},
	        {"/var/log/**/c/*.log", "/var/log/a/b/c/x.log", true},
	        {"/var/log/**/c/*.log", "/var/log/a/b/d/x.log", false},
	        {"/var/log/pods/*1a2b/web/*.log", "/var/log/pods/shop_web_1a2b/web/0.log", true},
	        {"/var/log/pods/*1a2b/web/*.log", "/var/log/pods/shop_web_1a2c/web/0.log", false},
	        {"/var/log/pods/*1a2b/web/*.log",
	         "/var/log/pods/shop_web_1a2b/web/0.log.20261121-1", false},
	        {"/var/log/a\\*b", "/var/log/a*b", true}, /* escaped star is literal */
	        {"/var/log/a\\*b", "/var/log/axb", false},
	        {"/var/log/*x*y*", "/var/log/aaxbbyy", true},
	        {"/var/log/*x*y*", "/var/log/aaybbx", false},
	        {"var/log/*.log", "/var/log/a.log", false}, /* relative vs absolute */
	        {"/var//log/./*.log", "/var/log/a.log", true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = lf_glob_match_str(cases[i].pattern, cases[i].path);
		if (got != cases[i].match)
			fail_msg("pattern %s path %s: got %d want %d", cases[i].pattern,
			         cases[i].path, got, cases[i].match);
	}
}

static void test_bad_patterns(void **state)
{
	(void)state;
	struct lf_glob *g;
	struct lf_error err;
	assert_int_equal(lf_glob_new("/var/log/[ab.log", &g, &err), -1);
	assert_non_null(strstr(err.msg, "/var/log/[ab.log"));
	assert_non_null(strstr(err.msg, "unterminated '['"));
	assert_int_equal(lf_glob_new("/var/log/{a,b.log", &g, &err), -1);
	assert_non_null(strstr(err.msg, "unterminated '{'"));
}

/* ---- expansion ---- */

static char root[256];

static void mk(const char *rel, bool dir)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	/* mkdir -p for the parent */
	for (char *s = p + strlen(root) + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	if (dir) {
		mkdir(p, 0755);
	} else {
		FILE *f = fopen(p, "w");
		assert_non_null(f);
		fclose(f);
	}
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/lf-glob-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	mk("a/x.log", false);
	mk("a/y.txt", false);
	mk("a/sub/z.log", false);
	mk("a/sub/deep/w.log", false);
	mk("b/x.log", false);
	mk("b/dir.log", true); /* a directory named like a file: never a result */
	char t[512], l[512];
	snprintf(t, sizeof(t), "%s/b/x.log", root);
	snprintf(l, sizeof(l), "%s/a/link.log", root);
	if (symlink(t, l) < 0) /* symlinked file: a result */
		return -1;
	snprintf(t, sizeof(t), "%s/a", root);
	snprintf(l, sizeof(l), "%s/b/loop", root);
	if (symlink(t, l) < 0) /* symlinked dir: ** does not follow it */
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

struct collect {
	char files[32][512];
	size_t n;
	char dirs[32][512];
	size_t nd;
};

static int on_file(void *ctx, const char *path)
{
	struct collect *c = ctx;
	assert_true(c->n < 32);
	assert_true(strncmp(path, root, strlen(root)) == 0);
	snprintf(c->files[c->n++], 512, "%s", path + strlen(root));
	return 0;
}

static void on_dir(void *ctx, const char *dir)
{
	struct collect *c = ctx;
	for (size_t i = 0; i < c->nd; i++)
		if (strcmp(c->dirs[i], dir + strlen(root)) == 0)
			return;
	assert_true(c->nd < 32);
	snprintf(c->dirs[c->nd++], 512, "%s", dir + strlen(root));
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* Expands root+rel and returns the sorted results joined by ','. */
static const char *expand(struct lf_dircache *dc, const char *rel, struct collect *c)
{
	static char out[4096];
	char pat[512];
	snprintf(pat, sizeof(pat), "%s%s", root, rel);
	struct lf_glob *g;
	struct lf_error err;
	assert_int_equal(lf_glob_new(pat, &g, &err), 0);
	memset(c, 0, sizeof(*c));
	assert_int_equal(lf_glob_expand(g, dc, on_file, on_dir, c), 0);
	lf_glob_free(g);
	qsort(c->files, c->n, 512, cmpstr);
	qsort(c->dirs, c->nd, 512, cmpstr);
	out[0] = '\0';
	for (size_t i = 0; i < c->n; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, c->files[i]);
	}
	return out;
}

static const char *dirs_of(struct collect *c)
{
	static char out[4096];
	out[0] = '\0';
	for (size_t i = 0; i < c->nd; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, c->dirs[i][0] ? c->dirs[i] : "<root>");
	}
	return out;
}

static void test_expand(void **state)
{
	(void)state;
	struct lf_dircache *dc = lf_dircache_new();
	struct collect c;
	assert_string_equal(expand(dc, "/a/*.log", &c), "/a/link.log,/a/x.log");
	assert_string_equal(dirs_of(&c), "/a");
	assert_string_equal(expand(dc, "/*/x.log", &c), "/a/x.log,/b/x.log");
	/* The root (listed) and a, b (where x.log was looked up). */
	assert_string_equal(dirs_of(&c), "<root>,/a,/b");
	assert_string_equal(expand(dc, "/**/*.log", &c),
	                    "/a/link.log,/a/sub/deep/w.log,/a/sub/z.log,/a/x.log,/b/x.log");
	assert_string_equal(expand(dc, "/a/**", &c),
	                    "/a/link.log,/a/sub/deep/w.log,/a/sub/z.log,/a/x.log,/a/y.txt");
	assert_string_equal(expand(dc, "/{a,b}/{x,y}.*", &c), "/a/x.log,/a/y.txt,/b/x.log");
	assert_string_equal(expand(dc, "/a/sub/deep/w.log", &c), "/a/sub/deep/w.log");
	assert_string_equal(expand(dc, "/b/*.log", &c), "/b/x.log"); /* not dir.log */
	/* A literal path through a symlinked directory works. */
	assert_string_equal(expand(dc, "/b/loop/x.log", &c), "/b/loop/x.log");
	/* A missing base: nothing, and its deepest existing ancestor is watched. */
	assert_string_equal(expand(dc, "/missing/dir/*.log", &c), "");
	assert_string_equal(dirs_of(&c), "<root>");
	lf_dircache_free(dc);
}

static void test_dircache(void **state)
{
	(void)state;
	struct lf_dircache *dc = lf_dircache_new();
	char d[512];
	snprintf(d, sizeof(d), "%s/a", root);
	const struct lf_dirent *e1, *e2;
	long n = lf_dircache_list(dc, d, &e1);
	assert_int_equal(n, 4); /* link.log sub x.log y.txt */
	assert_string_equal(e1[0].name, "link.log");
	assert_int_equal(e1[1].type, DT_DIR);
	/* Same listing from the cache until reset, even if the dir changes. */
	mk("a/new.log", false);
	assert_int_equal(lf_dircache_list(dc, d, &e2), 4);
	assert_ptr_equal(e1, e2);
	lf_dircache_reset(dc);
	assert_int_equal(lf_dircache_list(dc, d, &e2), 5);
	char p[512];
	snprintf(p, sizeof(p), "%s/a/new.log", root);
	unlink(p);
	snprintf(d, sizeof(d), "%s/nope", root);
	assert_int_equal(lf_dircache_list(dc, d, &e2), -1);
	lf_dircache_free(dc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_match),
	        cmocka_unit_test(test_bad_patterns),
	        cmocka_unit_test(test_expand),
	        cmocka_unit_test(test_dircache),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
