/* fuzz_yaml.c — YAML configuration documents (agent and store configs,
 * Promtail-style, possibly with -config.expand-env).
 *
 * Input: a document. It is loaded without and with environment expansion
 * (a few variables are set in LLVMFuzzerInitialize so ${VAR} and
 * ${VAR:-default} take both branches); every tree that loads is walked and
 * every node is read with every typed reader, as config code does with
 * values of the wrong type. Properties: no crash or leak; a failed load or
 * read leaves a message; node kinds and positions are sane; a reader that
 * fails leaves its output untouched where the header promises it. Aliases
 * make the tree a DAG, so the walk is bounded by a visit budget instead of
 * following billion-laughs documents exponentially.
 */
#include "fuzz.h"

#include <stdbool.h>

#include "yamlcfg.h"

#define VISIT_BUDGET 4000

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("LF_FUZZ_A", "alpha", 1);
	setenv("LF_FUZZ_EMPTY", "", 1);
	setenv("LF_FUZZ_DUR", "1m30s", 1);
	setenv("HOSTNAME", "node-1", 1);
	return 0;
}

static const char *const allowed[] = {"server", "clients",  "positions", "scrape_configs",
                                      "url",    "job_name", "labels",    "a",
                                      "b",      NULL};

static void read_scalar_all_ways(const struct lf_ynode *n, const char *path)
{
	struct lf_error err = {{0}};
	char *s = NULL;
	if (lf_y_str(n, path, &s, &err) == 0) {
		FUZZ_CHECK(s != NULL, "lf_y_str gave NULL");
		if (n->kind == LF_Y_SCALAR)
			FUZZ_CHECK(memcmp(s, n->str, n->str_len) == 0, "lf_y_str changed the text");
		free(s);
	} else {
		FUZZ_CHECK(err.msg[0], "lf_y_str failed without a message");
	}
	/* A typed value must not hide bytes after an embedded NUL ("1\0x" is
	 * not the integer 1). */
	bool has_nul = n && n->kind == LF_Y_SCALAR && strlen(n->str) != n->str_len;
	bool b;
	int64_t i;
	double d;
	err.msg[0] = '\0';
	if (lf_y_bool(n, path, &b, &err) < 0)
		FUZZ_CHECK(err.msg[0], "lf_y_bool failed without a message");
	else
		FUZZ_CHECK(!has_nul, "lf_y_bool accepted a scalar with a NUL byte");
	err.msg[0] = '\0';
	if (lf_y_int(n, path, &i, &err) < 0)
		FUZZ_CHECK(err.msg[0], "lf_y_int failed without a message");
	else
		FUZZ_CHECK(!has_nul, "lf_y_int accepted a scalar with a NUL byte");
	err.msg[0] = '\0';
	if (lf_y_double(n, path, &d, &err) < 0)
		FUZZ_CHECK(err.msg[0], "lf_y_double failed without a message");
	else
		FUZZ_CHECK(!has_nul, "lf_y_double accepted a scalar with a NUL byte");
	err.msg[0] = '\0';
	if (lf_y_duration(n, path, &i, &err) < 0)
		FUZZ_CHECK(err.msg[0], "lf_y_duration failed without a message");
	else
		FUZZ_CHECK(!has_nul, "lf_y_duration accepted a scalar with a NUL byte");
	err.msg[0] = '\0';
	if (lf_y_size(n, path, &i, &err) < 0)
		FUZZ_CHECK(err.msg[0], "lf_y_size failed without a message");
	else
		FUZZ_CHECK(!has_nul, "lf_y_size accepted a scalar with a NUL byte");
	char **list = NULL;
	size_t cnt = 99;
	err.msg[0] = '\0';
	if (lf_y_strlist(n, path, &list, &cnt, &err) == 0) {
		FUZZ_CHECK(list != NULL, "lf_y_strlist gave NULL");
		FUZZ_CHECK(list[cnt] == NULL, "lf_y_strlist list not NULL-terminated at %zu", cnt);
		lf_strv_free(list);
	} else {
		FUZZ_CHECK(err.msg[0], "lf_y_strlist failed without a message");
	}
}

static void walk(const struct lf_ynode *n, int depth, int *budget)
{
	if (--*budget < 0)
		return;
	FUZZ_CHECK(n != NULL, "NULL node in tree");
	FUZZ_CHECK(n->line >= 1 && n->col >= 1, "bad position %d:%d", n->line, n->col);
	FUZZ_CHECK(n->file != NULL, "node without a file name");
	read_scalar_all_ways(n, "x");
	struct lf_error err = {{0}};
	switch (n->kind) {
	case LF_Y_NULL:
	case LF_Y_SCALAR:
		if (n->kind == LF_Y_SCALAR)
			FUZZ_CHECK(n->str && n->str[n->str_len] == '\0', "scalar not terminated");
		break;
	case LF_Y_SEQ:
		for (size_t i = 0; i < n->n; i++)
			walk(n->items[i], depth + 1, budget);
		break;
	case LF_Y_MAP:
		if (lf_ymap_check(n, "m", allowed, &err) < 0)
			FUZZ_CHECK(err.msg[0], "lf_ymap_check failed without a message");
		for (size_t i = 0; i<n->n && * budget> 0; i++) {
			const struct lf_ynode *k = n->pairs[i].key;
			FUZZ_CHECK(k && (k->kind == LF_Y_SCALAR || k->kind == LF_Y_NULL),
			           "map key is not a scalar");
			FUZZ_CHECK(k->str != NULL, "map key without text");
			/* The first pair with this key wins (keys are unique). */
			FUZZ_CHECK(lf_ymap_get(n, k->str) == n->pairs[i].value ||
			                   strlen(k->str) != k->str_len,
			           "lf_ymap_get(\"%s\") is not the pair's value", k->str);
			char *s = NULL;
			char **list = NULL;
			bool b = false;
			int64_t v = 0;
			double d = 0;
			lf_ymap_str(n, "m", k->str, &s, &err);
			lf_ymap_strlist(n, "m", k->str, &list, NULL, &err);
			lf_ymap_bool(n, "m", k->str, &b, &err);
			lf_ymap_int(n, "m", k->str, &v, &err);
			lf_ymap_double(n, "m", k->str, &d, &err);
			lf_ymap_duration(n, "m", k->str, &v, &err);
			lf_ymap_size(n, "m", k->str, &v, &err);
			free(s);
			lf_strv_free(list);
			walk(n->pairs[i].value, depth + 1, budget);
		}
		break;
	default:
		FUZZ_CHECK(0, "unknown node kind %d", (int)n->kind);
	}
}

static void load(const uint8_t *data, size_t size, bool expand)
{
	struct lf_ydoc *doc = NULL;
	struct lf_error err = {{0}};
	if (lf_ydoc_load_string((const char *)data, size, "fuzz.yaml", expand, &doc, &err) < 0) {
		FUZZ_CHECK(err.msg[0], "load failed without a message");
		return;
	}
	struct lf_ynode *root = lf_ydoc_root(doc);
	FUZZ_CHECK(root != NULL, "loaded document without a root");
	int budget = VISIT_BUDGET;
	walk(root, 0, &budget);
	lf_ydoc_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	load(data, size, false);
	load(data, size, true);
	char *out = NULL;
	size_t out_len = 0;
	struct lf_error err = {{0}};
	if (lf_expand_env((const char *)data, size, &out, &out_len, &err) == 0) {
		FUZZ_CHECK(out && out[out_len] == '\0', "expansion not NUL-terminated");
		free(out);
	} else {
		FUZZ_CHECK(err.msg[0], "expansion failed without a message");
	}
	return 0;
}
