/* fuzz_selector.c — LogQL stream selectors and line filters, parsed from
 * every query the store answers and from `match` stage configs.
 *
 * Input: query text. Properties:
 *   - the lexer's tokens lie inside the input, in order, and it ends (EOF or
 *     a positioned error);
 *   - parse either succeeds or leaves a message; with
 *     LF_SELECTOR_REQUIRE_NONEMPTY it accepts a subset of what flags 0
 *     accepts;
 *   - a parsed selector has >= 1 matcher, and render -> parse -> render is a
 *     fixed point (the store renders selectors back in responses);
 *   - an `=` matcher holds for its own value, a `!=` matcher does not;
 *   - matching labels and lines does not crash.
 */
#include "fuzz.h"

#include "selector.h"

static void lex_all(const char *s, size_t len)
{
	struct lf_lq_lexer lx;
	struct lf_lq_token tok;
	struct lf_error err = {{0}};
	lf_lq_lexer_init(&lx, s, len);
	size_t last_end = 0;
	for (size_t n = 0; n <= len + 1; n++) {
		if (lf_lq_next(&lx, &tok, &err) < 0) {
			FUZZ_CHECK(err.msg[0], "lexer error without a message");
			break;
		}
		FUZZ_CHECK(tok.pos >= last_end && tok.pos + tok.len <= len,
		           "token [%zu,+%zu) outside input or out of order", tok.pos, tok.len);
		FUZZ_CHECK(tok.line >= 1 && tok.col >= 1, "bad token position");
		FUZZ_CHECK(lf_lq_tok_name(tok.kind) != NULL, "token without a name");
		last_end = tok.pos + tok.len;
		if (tok.kind == LF_LQ_EOF)
			break;
		FUZZ_CHECK(n < len + 1, "lexer does not reach the end");
	}
	lf_lq_lexer_free(&lx);
}

static void check_selector(const struct lf_selector *sel, unsigned flags, const char *line,
                           size_t line_len)
{
	FUZZ_CHECK(sel->n_matchers >= 1, "selector without matchers");
	struct lf_buf r1 = LF_BUF_INIT, r2 = LF_BUF_INIT;
	FUZZ_CHECK(lf_selector_render(sel, &r1) == 0, "render failed");
	struct lf_selector *back = NULL;
	struct lf_error err = {{0}};
	int rc = lf_selector_parse(r1.data, r1.len, flags, &back, &err);
	FUZZ_CHECK(rc == 0, "rendered selector %s does not parse: %s", r1.data, err.msg);
	FUZZ_CHECK(lf_selector_render(back, &r2) == 0, "render failed");
	FUZZ_CHECK(r1.len == r2.len && memcmp(r1.data, r2.data, r1.len) == 0,
	           "render is not a fixed point: %s -> %s", r1.data, r2.data);
	FUZZ_CHECK(back->n_matchers == sel->n_matchers && back->n_filters == sel->n_filters,
	           "round trip changed the shape of %s", r1.data);
	lf_selector_free(back);
	lf_buf_free(&r1);
	lf_buf_free(&r2);

	struct lf_labels ls = LF_LABELS_INIT;
	for (size_t i = 0; i < sel->n_matchers; i++) {
		const struct lf_matcher *m = &sel->matchers[i];
		FUZZ_CHECK(m->name && m->value, "matcher without name/value");
		bool self = lf_matcher_match(m, m->value, m->value_len);
		if (m->op == LF_MATCH_EQ)
			FUZZ_CHECK(self, "%s=\"%s\" does not match its own value", m->name,
			           m->value);
		if (m->op == LF_MATCH_NEQ)
			FUZZ_CHECK(!self, "%s!=\"%s\" matches its own value", m->name, m->value);
		if (m->op == LF_MATCH_RE || m->op == LF_MATCH_NRE)
			FUZZ_CHECK(m->re != NULL, "regex matcher without a regex");
		lf_matcher_match(m, NULL, 0);
		lf_labels_setn(&ls, m->name, strlen(m->name), m->value, m->value_len);
	}
	lf_selector_match_labels(sel, &ls);
	lf_labels_free(&ls);
	lf_selector_match_line(sel, line, line_len);
	for (size_t i = 0; i < sel->n_filters; i++)
		FUZZ_CHECK(sel->filters[i].n_alts >= 1, "line filter without alternatives");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	lex_all(s, size);

	struct lf_buf un = LF_BUF_INIT;
	struct lf_error err = {{0}};
	lf_lq_unquote(s, size, '"', &un, &err);
	lf_buf_reset(&un);
	lf_lq_unquote(s, size, '`', &un, &err);
	lf_buf_free(&un);

	struct lf_selector *sel = NULL;
	bool ok_plain = false;
	static const unsigned flag_sets[] = {0, LF_SELECTOR_REQUIRE_NONEMPTY,
	                                     LF_SELECTOR_NO_FILTERS};
	for (size_t f = 0; f < sizeof flag_sets / sizeof flag_sets[0]; f++) {
		err.msg[0] = '\0';
		sel = NULL;
		if (lf_selector_parse(s, size, flag_sets[f], &sel, &err) < 0) {
			FUZZ_CHECK(sel == NULL, "failed parse returned a selector");
			FUZZ_CHECK(err.msg[0], "parse failed without a message");
			continue;
		}
		if (f == 0)
			ok_plain = true;
		else
			FUZZ_CHECK(ok_plain, "accepted with flags %u but not with 0", flag_sets[f]);
		if (flag_sets[f] == LF_SELECTOR_NO_FILTERS)
			FUZZ_CHECK(sel->n_filters == 0, "NO_FILTERS parse has filters");
		check_selector(sel, flag_sets[f], s, size);
		lf_selector_free(sel);
	}
	return 0;
}
