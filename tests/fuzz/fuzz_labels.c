/* fuzz_labels.c — the Prometheus text form of a label set (`{a="b"}`), which
 * the store parses from every pushed stream and every query.
 *
 * Properties for every input that parses:
 *   - the set is sorted by name, names are unique and valid;
 *   - render -> parse gives an equal set with the same hash;
 *   - rendering is a fixed point (render(parse(render(x))) == render(x)).
 * Inputs that do not parse must leave a message.
 */
#include "fuzz.h"

#include "labels.h"

static struct lf_labels a, b; /* reused across inputs, as hot paths do */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lf_error err = {{0}};
	if (lf_labels_parse((const char *)data, size, &a, &err) < 0) {
		FUZZ_CHECK(err.msg[0] != '\0', "parse failed without a message");
		return 0;
	}
	for (size_t i = 0; i < a.n; i++) {
		FUZZ_CHECK(lf_label_name_valid(a.v[i].name, strlen(a.v[i].name)),
		           "invalid name \"%s\" accepted", a.v[i].name);
		if (i)
			FUZZ_CHECK(strcmp(a.v[i - 1].name, a.v[i].name) < 0,
			           "names not sorted/unique: \"%s\" then \"%s\"", a.v[i - 1].name,
			           a.v[i].name);
	}
	struct lf_buf r1 = LF_BUF_INIT, r2 = LF_BUF_INIT;
	FUZZ_CHECK(lf_labels_render(&a, &r1) == 0, "render failed");
	int rc = lf_labels_parse(r1.data, r1.len, &b, &err);
	FUZZ_CHECK(rc == 0, "rendered form %s does not parse: %s", r1.data, err.msg);
	FUZZ_CHECK(lf_labels_equal(&a, &b), "render/parse changed the set: %s", r1.data);
	FUZZ_CHECK(lf_labels_hash(&a) == lf_labels_hash(&b), "hash differs after round trip");
	FUZZ_CHECK(lf_labels_render(&b, &r2) == 0, "render failed");
	FUZZ_CHECK(r1.len == r2.len && memcmp(r1.data, r2.data, r1.len) == 0,
	           "rendering is not stable: %s vs %s", r1.data, r2.data);
	lf_buf_free(&r1);
	lf_buf_free(&r2);
	return 0;
}
