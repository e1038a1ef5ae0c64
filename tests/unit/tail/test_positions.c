/* test_positions.c — the positions file: Promtail's format, identity
 * comments, atomic write, corrupt files. */
#include <fcntl.h>
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

#include "positions.h"

static char g_dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/lf_test_positions_XXXXXX");
	return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_text(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void test_promtail_format_read(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s/promtail.yaml", g_dir);
	/* As Promtail (yaml.v2) writes it, plus a journal cursor. */
	const char *text = "positions:\n"
	                   "  /var/log/pods/ns_pod_uid/c/0.log: \"12345\"\n"
	                   "  /var/log/syslog: \"7\"\n"
	                   "  journal-systemd: s=abc;i=1f\n";
	write_text(path, text, strlen(text));
	struct lf_positions_opts o = {.filename = path};
	struct lf_positions *p;
	struct lf_error err;
	assert_int_equal(lf_positions_open(&o, &p, &err), 0);
	struct lf_pos_entry e;
	assert_true(lf_positions_get(p, "/var/log/pods/ns_pod_uid/c/0.log", &e));
	assert_int_equal(e.offset, 12345);
	assert_false(e.has_id);
	assert_true(lf_positions_get(p, "/var/log/syslog", &e));
	assert_int_equal(e.offset, 7);
	assert_false(lf_positions_get(p, "journal-systemd", &e)); /* not a file */
	assert_false(lf_positions_get(p, "/nope", &e));
	assert_int_equal(lf_positions_count(p), 3);
	/* Written back: still Promtail's format, cursor kept. */
	assert_int_equal(lf_positions_save(p, true, &err), 0);
	char *out = read_text(path);
	assert_non_null(strstr(out, "positions:\n"));
	assert_non_null(strstr(out, "  /var/log/pods/ns_pod_uid/c/0.log: \"12345\"\n"));
	assert_non_null(strstr(out, "  /var/log/syslog: \"7\"\n"));
	assert_non_null(strstr(out, "  journal-systemd: \"s=abc;i=1f\"\n"));
	lf_positions_free(p);
}

/* The journal source keeps its cursor as a raw string under journal-<job>. */
static void test_cursor_api(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s/cursor.yaml", g_dir);
	const char *text = "positions:\n  journal-j: s=abc;i=1f\n  /var/log/x: \"3\"\n";
	write_text(path, text, strlen(text));
	struct lf_positions_opts o = {.filename = path};
	struct lf_positions *p;
	struct lf_error err;
	assert_int_equal(lf_positions_open(&o, &p, &err), 0);
	assert_string_equal(lf_positions_get_cursor(p, "journal-j"), "s=abc;i=1f");
	assert_null(lf_positions_get_cursor(p, "/var/log/x")); /* a file entry */
	assert_null(lf_positions_get_cursor(p, "journal-other"));
	assert_int_equal(lf_positions_put_cursor(p, "journal-j", "s=abc;i=20;b=x"), 0);
	assert_int_equal(lf_positions_put_cursor(p, "journal-new", "s=1"), 0);
	assert_int_equal(lf_positions_save(p, false, &err), 0);
	lf_positions_free(p);
	assert_int_equal(lf_positions_open(&o, &p, &err), 0);
	assert_string_equal(lf_positions_get_cursor(p, "journal-j"), "s=abc;i=20;b=x");
	assert_string_equal(lf_positions_get_cursor(p, "journal-new"), "s=1");
	struct lf_pos_entry e;
	assert_true(lf_positions_get(p, "/var/log/x", &e));
	assert_int_equal(e.offset, 3);
	lf_positions_free(p);
}

static void test_roundtrip_with_identity(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s/pos.yaml", g_dir);
	unlink(path);
	struct lf_positions_opts o = {.filename = path};
	struct lf_positions *p;
	struct lf_error err;
	assert_int_equal(lf_positions_open(&o, &p, &err), 0); /* missing = empty */
	assert_int_equal(lf_positions_count(p), 0);
	struct lf_pos_entry e = {.offset = 42,
	                         .has_id = true,
	                         .dev = 2049,
	                         .ino = 131,
	                         .size = 100,
	                         .fplen = 5,
	                         .fp = lf_pos_fingerprint("hello", 5)};
	assert_int_equal(lf_positions_put(p, "/var/log/a.log", &e), 0);
	struct lf_pos_entry e2 = {.offset = 9};
	/* Keys that need quoting in YAML. */
	assert_int_equal(lf_positions_put(p, "/var/log/we ird: \"x\".log", &e2), 0);
	assert_int_equal(lf_positions_save(p, false, &err), 0);
	lf_positions_free(p);

	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	char *out = read_text(path);
	assert_non_null(strstr(out, "# logferry-id: dev=2049 ino=131 size=100 fplen=5 fp="));
	assert_non_null(strstr(out, "  /var/log/a.log: \"42\"\n"));

	assert_int_equal(lf_positions_open(&o, &p, &err), 0);
	struct lf_pos_entry r;
	assert_true(lf_positions_get(p, "/var/log/a.log", &r));
	assert_int_equal(r.offset, 42);
	assert_true(r.has_id);
	assert_int_equal(r.dev, 2049);
	assert_int_equal(r.ino, 131);
	assert_int_equal(r.size, 100);
	assert_int_equal(r.fplen, 5);
	assert_int_equal(r.fp, lf_pos_fingerprint("hello", 5));
	assert_true(lf_positions_get(p, "/var/log/we ird: \"x\".log", &r));
	assert_int_equal(r.offset, 9);
	assert_false(r.has_id);
	/* Remove + save drops it from the file. */
	lf_positions_remove(p, "/var/log/a.log");
	assert_int_equal(lf_positions_save(p, false, &err), 0);
	lf_positions_free(p);
	assert_int_equal(lf_positions_open(&o, &p, &err), 0);
	assert_false(lf_positions_get(p, "/var/log/a.log", &r));
	assert_int_equal(lf_positions_count(p), 1);
	lf_positions_free(p);
	/* No temp files left behind. */
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "ls '%s' | grep -q tmp", g_dir);
	assert_int_not_equal(system(cmd), 0);
}

static void test_corrupt_files(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s/corrupt.yaml", g_dir);
	struct lf_positions_opts o = {.filename = path};
	struct lf_positions *p = NULL;
	struct lf_error err;
	char expect[600];
	snprintf(expect, sizeof(expect), "invalid yaml positions file [%s]: ", path);

	/* NUL-filled (what a node crash leaves behind). */
	char zeros[4096] = {0};
	write_text(path, zeros, sizeof(zeros));
	assert_int_equal(lf_positions_open(&o, &p, &err), -1);
	assert_memory_equal(err.msg, expect, strlen(expect));

	/* Truncated YAML (unterminated quote). */
	const char *trunc = "positions:\n  /var/log/a.log: \"123";
	write_text(path, trunc, strlen(trunc));
	assert_int_equal(lf_positions_open(&o, &p, &err), -1);
	assert_memory_equal(err.msg, expect, strlen(expect));

	/* Offset that is not a number. */
	const char *bad = "positions:\n  /var/log/a.log: \"12x\"\n";
	write_text(path, bad, strlen(bad));
	assert_int_equal(lf_positions_open(&o, &p, &err), -1);
	assert_non_null(strstr(err.msg, "/var/log/a.log"));

	/* positions is a list. */
	const char *list = "positions:\n  - a\n";
	write_text(path, list, strlen(list));
	assert_int_equal(lf_positions_open(&o, &p, &err), -1);
	assert_memory_equal(err.msg, expect, strlen(expect));

	/* ignore_invalid_yaml: logged, starts empty, rewritten on save. */
	write_text(path, zeros, sizeof(zeros));
	o.ignore_invalid_yaml = true;
	assert_int_equal(lf_positions_open(&o, &p, &err), 0);
	assert_int_equal(lf_positions_count(p), 0);
	assert_int_equal(lf_positions_save(p, false, &err), 0);
	lf_positions_free(p);
	assert_string_equal(read_text(path), "positions: {}\n");

	/* Empty file and `positions:` alone are valid and empty. */
	o.ignore_invalid_yaml = false;
	write_text(path, "", 0);
	assert_int_equal(lf_positions_open(&o, &p, &err), 0);
	assert_int_equal(lf_positions_count(p), 0);
	lf_positions_free(p);
	write_text(path, "positions:\n", 11);
	assert_int_equal(lf_positions_open(&o, &p, &err), 0);
	assert_int_equal(lf_positions_count(p), 0);
	lf_positions_free(p);
}

static void test_read_only(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s/ro.yaml", g_dir);
	const char *text = "positions:\n  /a: \"5\"\n";
	write_text(path, text, strlen(text));
	struct lf_positions_opts o = {.filename = path, .read_only = true};
	struct lf_positions *p;
	struct lf_error err;
	assert_int_equal(lf_positions_open(&o, &p, &err), 0);
	struct lf_pos_entry e = {.offset = 99};
	assert_int_equal(lf_positions_put(p, "/a", &e), 0);
	assert_int_equal(lf_positions_save(p, true, &err), 0);
	lf_positions_free(p);
	assert_string_equal(read_text(path), text); /* untouched */
}

static void test_bad_comment_ignored(void **state)
{
	(void)state;
	struct lf_positions_opts o = {.filename = ""};
	struct lf_positions *p;
	struct lf_error err;
	assert_int_equal(lf_positions_open(&o, &p, &err), 0);
	const char *text = "# logferry-id: dev=1 ino=zz path=/a\n"
	                   "# logferry-id: dev=1 ino=2 size=3 fplen=4 fp=00000000000000ff path=/b\n"
	                   "# logferry-id: dev=1 ino=2 size=3 fplen=4 fp=ff path=/unknown\n"
	                   "positions:\n  /a: \"1\"\n  /b: \"2\"\n";
	assert_int_equal(lf_positions_parse(p, text, strlen(text), "mem", &err), 0);
	struct lf_pos_entry e;
	assert_true(lf_positions_get(p, "/a", &e));
	assert_false(e.has_id);
	assert_true(lf_positions_get(p, "/b", &e));
	assert_true(e.has_id);
	assert_int_equal(e.ino, 2);
	assert_int_equal(e.fp, 0xff);
	assert_false(lf_positions_get(p, "/unknown", &e));
	lf_positions_free(p);
}

static void test_creates_directory(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s/new/dir/pos.yaml", g_dir);
	struct lf_positions_opts o = {.filename = path};
	struct lf_positions *p;
	struct lf_error err;
	assert_int_equal(lf_positions_open(&o, &p, &err), 0);
	struct lf_pos_entry e = {.offset = 1};
	assert_int_equal(lf_positions_put(p, "/x", &e), 0);
	assert_int_equal(lf_positions_save(p, false, &err), 0);
	lf_positions_free(p);
	assert_string_equal(read_text(path), "positions:\n  /x: \"1\"\n");
}

/* The background writer: a snapshot is on disk once wait_written returns;
 * the newest snapshot wins; a synchronous save after async ones is the
 * last write; free writes what is still pending; read_only writes nothing. */
static void test_save_async(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s/async/pos.yaml", g_dir);
	struct lf_positions_opts o = {.filename = path};
	struct lf_positions *p;
	struct lf_error err;
	assert_int_equal(lf_positions_open(&o, &p, &err), 0);
	struct lf_pos_entry e = {.offset = 1};
	assert_int_equal(lf_positions_put(p, "/x", &e), 0);
	assert_int_equal(lf_positions_save_async(p, false, &err), 0);
	lf_positions_wait_written(p);
	assert_string_equal(read_text(path), "positions:\n  /x: \"1\"\n");
	for (uint64_t i = 2; i <= 50; i++) {
		e.offset = i;
		assert_int_equal(lf_positions_put(p, "/x", &e), 0);
		assert_int_equal(lf_positions_save_async(p, false, &err), 0);
	}
	lf_positions_wait_written(p);
	assert_string_equal(read_text(path), "positions:\n  /x: \"50\"\n");
	e.offset = 51;
	assert_int_equal(lf_positions_put(p, "/x", &e), 0);
	assert_int_equal(lf_positions_save_async(p, false, &err), 0);
	e.offset = 52;
	assert_int_equal(lf_positions_put(p, "/x", &e), 0);
	assert_int_equal(lf_positions_save(p, false, &err), 0);
	assert_string_equal(read_text(path), "positions:\n  /x: \"52\"\n");
	e.offset = 53;
	assert_int_equal(lf_positions_put(p, "/x", &e), 0);
	assert_int_equal(lf_positions_save_async(p, false, &err), 0);
	lf_positions_free(p);
	assert_string_equal(read_text(path), "positions:\n  /x: \"53\"\n");

	struct lf_positions_opts ro = {.filename = path, .read_only = true};
	assert_int_equal(lf_positions_open(&ro, &p, &err), 0);
	e.offset = 54;
	assert_int_equal(lf_positions_put(p, "/x", &e), 0);
	assert_int_equal(lf_positions_save_async(p, true, &err), 0);
	lf_positions_wait_written(p);
	lf_positions_free(p);
	assert_string_equal(read_text(path), "positions:\n  /x: \"53\"\n");
}

static void test_many_entries(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s/many.yaml", g_dir);
	unlink(path);
	struct lf_positions_opts o = {.filename = path};
	struct lf_positions *p;
	struct lf_error err;
	assert_int_equal(lf_positions_open(&o, &p, &err), 0);
	char key[64];
	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof(key), "/var/log/f%d.log", i);
		struct lf_pos_entry e = {.offset = (uint64_t)i * 3};
		assert_int_equal(lf_positions_put(p, key, &e), 0);
	}
	for (int i = 0; i < 3000; i += 2) {
		snprintf(key, sizeof(key), "/var/log/f%d.log", i);
		lf_positions_remove(p, key);
	}
	assert_int_equal(lf_positions_save(p, false, &err), 0);
	lf_positions_free(p);
	assert_int_equal(lf_positions_open(&o, &p, &err), 0);
	assert_int_equal(lf_positions_count(p), 1500);
	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof(key), "/var/log/f%d.log", i);
		struct lf_pos_entry e;
		bool have = lf_positions_get(p, key, &e);
		assert_int_equal(have, i % 2 == 1);
		if (have)
			assert_int_equal(e.offset, (uint64_t)i * 3);
	}
	lf_positions_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_promtail_format_read),
	        cmocka_unit_test(test_cursor_api),
	        cmocka_unit_test(test_roundtrip_with_identity),
	        cmocka_unit_test(test_corrupt_files),
	        cmocka_unit_test(test_read_only),
	        cmocka_unit_test(test_bad_comment_ignored),
	        cmocka_unit_test(test_many_entries),
	        cmocka_unit_test(test_creates_directory),
	        cmocka_unit_test(test_save_async),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
