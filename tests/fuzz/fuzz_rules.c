/* fuzz_rules.c — the ruler's rule files (store/ruler/rules.h): YAML from
 * the rules directory and the body of POST /loki/api/v1/rules/{ns}, both
 * written by any tenant.
 *
 * Input: byte 0 chooses the parser (even: a whole `groups:` file, odd: one
 * group as the API receives it); the rest is the text. Properties:
 *   - nothing crashes, leaks or reads outside the text;
 *   - a refusal carries a message;
 *   - every accepted group survives the way the store keeps it: rendered
 *     as the rules API and lf_rules_write_ns render it, parsed again, it
 *     is equal (lf_rule_group_equal) to the original — a group the API
 *     accepted never becomes a file the ruler cannot load;
 *   - a deep copy is equal to its original.
 */
#include <stdbool.h>

#include "fuzz.h"

#include "rules.h"

static void check_group(const struct lf_rule_group *g)
{
	struct lf_rule_group c = {0};
	FUZZ_CHECK(lf_rule_group_copy(&c, g) == 0, "copy failed");
	FUZZ_CHECK(lf_rule_group_equal(&c, g), "copy differs");
	lf_rule_group_free(&c);

	struct lf_buf y = LF_BUF_INIT;
	lf_buf_appends(&y, "groups:\n");
	lf_rule_group_render(g, 2, true, &y);
	struct lf_rule_groups back = {0};
	struct lf_error err = {0};
	int rc = lf_rules_parse(y.data, y.len, "rendered", g->ns, &back, &err);
	FUZZ_CHECK(rc == 0, "rendered group does not parse again: %s\n%.*s", err.msg, (int)y.len,
	           y.data);
	FUZZ_CHECK(back.n == 1, "rendered group parsed as %zu groups", back.n);
	FUZZ_CHECK(lf_rule_group_equal(&back.v[0], g), "rendered group differs:\n%.*s", (int)y.len,
	           y.data);
	lf_rule_groups_free(&back);
	lf_buf_free(&y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 65536)
		return 0;
	bool one = data[0] & 1;
	char *text = fuzz_strdup(data + 1, size - 1);
	struct lf_error err = {0};
	if (one) {
		struct lf_rule_group g = {0};
		if (lf_rules_parse_group(text, size - 1, "ns.yaml", &g, &err) == 0) {
			check_group(&g);
			lf_rule_group_free(&g);
		} else {
			FUZZ_CHECK(err.msg[0], "refused without a message");
		}
	} else {
		struct lf_rule_groups gs = {0};
		if (lf_rules_parse(text, size - 1, "rules.yaml", "rules.yaml", &gs, &err) == 0) {
			for (size_t i = 0; i < gs.n; i++)
				check_group(&gs.v[i]);
			lf_rule_groups_free(&gs);
		} else {
			FUZZ_CHECK(err.msg[0], "refused without a message");
			FUZZ_CHECK(gs.n == 0, "groups appended on error");
		}
	}
	free(text);
	return 0;
}
