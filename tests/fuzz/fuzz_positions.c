/* fuzz_positions.c — the agent's positions file (Promtail's YAML plus
 * logferry's `# logferry-id:` comments), read at startup: a damaged file
 * must fail cleanly or be read, never crash.
 *
 * Input: the file's text. It is parsed into an empty table (opened
 * read-only on a path that does not exist, so nothing is written).
 * Properties: parse succeeds or fails with a message naming the file;
 * every entry foreach yields is found by get with the same contents; the
 * table counts at least as many entries as foreach yields (non-file keys
 * are kept but not yielded); an identity entry has fplen <= 256; a second
 * parse of the same text into a fresh table gives the same count.
 */
#include <stdbool.h>

#include "fuzz.h"

#include "../../agent/tail/positions.h"

struct walk {
	const struct lf_positions *p;
	size_t n;
};

static int visit(void *ctx, const char *path, const struct lf_pos_entry *e)
{
	struct walk *w = ctx;
	struct lf_pos_entry got;
	w->n++;
	FUZZ_CHECK(lf_positions_get(w->p, path, &got), "foreach path %s not found by get", path);
	FUZZ_CHECK(got.offset == e->offset && got.has_id == e->has_id, "get differs for %s", path);
	if (e->has_id) {
		FUZZ_CHECK(e->fplen <= LF_POS_FP_MAX, "fplen %u", e->fplen);
		FUZZ_CHECK(got.dev == e->dev && got.ino == e->ino && got.size == e->size &&
		                   got.fplen == e->fplen && got.fp == e->fp,
		           "get differs for %s", path);
	}
	return 0;
}

static struct lf_positions *fresh(void)
{
	struct lf_positions_opts o = {
	        .filename = "/nonexistent/logferry-fuzz/positions.yaml",
	        .ignore_invalid_yaml = false,
	        .read_only = true,
	};
	struct lf_positions *p = NULL;
	struct lf_error err = {{0}};
	FUZZ_CHECK(lf_positions_open(&o, &p, &err) == 0, "open: %s", err.msg);
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lf_positions *p = fresh();
	struct lf_error err = {{0}};
	int rc = lf_positions_parse(p, (const char *)data, size, "fuzz.yaml", &err);
	if (rc < 0) {
		FUZZ_CHECK(err.msg[0], "parse failed without a message");
		FUZZ_CHECK(strstr(err.msg, "fuzz.yaml") != NULL,
		           "message without the file name: %s", err.msg);
	} else {
		struct walk w = {p, 0};
		lf_positions_foreach(p, visit, &w);
		FUZZ_CHECK(w.n <= lf_positions_count(p), "foreach yields %zu of %zu", w.n,
		           lf_positions_count(p));
		struct lf_positions *q = fresh();
		FUZZ_CHECK(lf_positions_parse(q, (const char *)data, size, "fuzz.yaml", &err) == 0,
		           "second parse failed: %s", err.msg);
		FUZZ_CHECK(lf_positions_count(q) == lf_positions_count(p), "counts differ");
		lf_positions_free(q);
	}
	lf_positions_free(p);
	return 0;
}
