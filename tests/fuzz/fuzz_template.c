/* fuzz_template.c — Go text/template subset: Promtail `template` stages
 * (configs) and LogQL `line_format` / `label_format` (queries sent to the
 * store by anyone who can query it).
 *
 * Input: flags byte, template text, NUL, then the value of field `a` (any
 * bytes). Properties:
 *   - parse either succeeds or leaves a message;
 *   - text without "{{" is static and executes to itself;
 *   - fields() is a NULL-terminated list of non-NULL names;
 *   - execution (twice, to exercise the reused scratch space) either
 *     succeeds or leaves a message, and gives the same output both times
 *     (unless the template calls `now`).
 */
#include "fuzz.h"

#include <stdbool.h>

#include "template.h"

struct ctx {
	const char *a;
	size_t a_len;
};

static bool lookup(void *vctx, const char *name, size_t name_len, const char **val, size_t *len)
{
	const struct ctx *c = vctx;
	static const struct {
		const char *name, *value;
	} fixed[] = {
	        {"b", "B value"},         {"num", "42"},
	        {"float", "-1.5e3"},      {"empty", ""},
	        {"Value", "the value"},   {"Entry", "level=info msg=\"hello\""},
	        {"__line__", "the line"}, {"__timestamp__", "1763754190123456789"},
	};
	if (name_len == 1 && name[0] == 'a') {
		*val = c->a;
		*len = c->a_len;
		return true;
	}
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		if (strlen(fixed[i].name) == name_len &&
		    memcmp(fixed[i].name, name, name_len) == 0) {
			*val = fixed[i].value;
			*len = strlen(fixed[i].value);
			return true;
		}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned flags = data[0] & LF_TMPL_MISSING_EMPTY;
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	const char *z = memchr(p, '\0', (size_t)(end - p));
	size_t tlen = z ? (size_t)(z - p) : (size_t)(end - p);
	char *text = fuzz_strdup((const uint8_t *)p, tlen);
	struct ctx c = {z ? z + 1 : end, z ? (size_t)(end - z - 1) : 0};

	struct lf_template *t = NULL;
	struct lf_error err = {{0}};
	if (lf_template_new("fuzz", text, flags, &t, &err) < 0) {
		FUZZ_CHECK(t == NULL, "failed parse returned a template");
		FUZZ_CHECK(err.msg[0], "parse failed without a message");
		FUZZ_CHECK(strstr(text, "{{") != NULL, "text without actions failed to parse: %s",
		           err.msg);
		free(text);
		return 0;
	}
	const char *const *fields = lf_template_fields(t);
	FUZZ_CHECK(fields != NULL, "fields() is NULL");
	for (size_t i = 0; fields[i]; i++)
		FUZZ_CHECK(i < 100000, "fields() not terminated");

	struct lf_buf o1 = LF_BUF_INIT, o2 = LF_BUF_INIT;
	int r1 = lf_template_exec(t, lookup, &c, &o1, &err);
	if (r1 < 0)
		FUZZ_CHECK(err.msg[0], "exec failed without a message");
	if (!strstr(text, "{{")) {
		FUZZ_CHECK(lf_template_is_static(t), "text without actions is not static");
		FUZZ_CHECK(r1 == 0 && o1.len == tlen &&
		                   (tlen == 0 || memcmp(o1.data, text, tlen) == 0),
		           "static text did not execute to itself");
	}
	int r2 = lf_template_exec(t, lookup, &c, &o2, &err);
	/* `now` reads the clock: the only function whose result may differ. */
	bool deterministic = !strstr(text, "now");
	FUZZ_CHECK(r1 == r2, "second execution gave a different status");
	if (r1 == 0 && deterministic)
		FUZZ_CHECK(o1.len == o2.len &&
		                   (o1.len == 0 || memcmp(o1.data, o2.data, o1.len) == 0),
		           "second execution gave different output");
	lf_buf_free(&o1);
	lf_buf_free(&o2);
	lf_template_free(t);
	free(text);
	return 0;
}
