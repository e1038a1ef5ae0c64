/* fuzz_regex.c — user regexes (Go RE2 syntax translated for pcre2) and the
 * matching helpers: relabel rules, regex/replace stages, LogQL `|~` and
 * `=~` all compile patterns that arrive in configs and queries.
 *
 * Input: flags byte, pattern, NUL, replacement template, NUL, subject (the
 * subject may hold any bytes, NUL and invalid UTF-8 included). Properties:
 *   - compile either succeeds or says why;
 *   - successive matches stay inside the subject, group 0 is a real span,
 *     every group lies inside the subject, names map back to indices;
 *   - expand and replace_all do not crash, and replace_all with no match
 *     copies the subject unchanged;
 *   - lf_regex_quote(s) compiled with LF_REGEX_FULL matches s, and so does s
 *     compiled with LF_REGEX_LITERAL | LF_REGEX_FULL (valid UTF-8 s).
 */
#include "fuzz.h"

#include <stdbool.h>

#include "regex.h"

static struct lf_regex_match m = LF_REGEX_MATCH_INIT;

static bool utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t w = c < 0x80             ? 1
		           : (c & 0xe0) == 0xc0 ? 2
		           : (c & 0xf0) == 0xe0 ? 3
		           : (c & 0xf8) == 0xf0 ? 4
		                                : 0;
		if (!w || i + w > n)
			return false;
		unsigned cp = w == 1 ? c : c & (0x7f >> w);
		for (size_t k = 1; k < w; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
		if (cp < min[w] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += w;
	}
	return true;
}

static void check_literal(const char *s, size_t n)
{
	if (memchr(s, '\0', n) || !utf8_valid((const unsigned char *)s, n))
		return;
	struct lf_buf q = LF_BUF_INIT;
	struct lf_error err;
	struct lf_regex *re = NULL;
	FUZZ_CHECK(lf_regex_quote(s, n, &q) == 0, "quote failed");
	FUZZ_CHECK(lf_regex_new(q.data ? q.data : "", LF_REGEX_FULL, &re, &err) == 0,
	           "quoted pattern %s does not compile: %s", q.data, err.msg);
	FUZZ_CHECK(lf_regex_test(re, s, n), "QuoteMeta(s) does not match s: %s", q.data);
	lf_regex_free(re);
	lf_buf_free(&q);
	char *z = fuzz_strdup((const uint8_t *)s, n);
	FUZZ_CHECK(lf_regex_new(z, LF_REGEX_LITERAL | LF_REGEX_FULL, &re, &err) == 0,
	           "literal pattern does not compile: %s", err.msg);
	FUZZ_CHECK(lf_regex_test(re, s, n), "a literal pattern does not match its own text");
	lf_regex_free(re);
	free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned flags = data[0] & (LF_REGEX_FULL | LF_REGEX_LITERAL | LF_REGEX_CASELESS);
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	const char *z1 = memchr(p, '\0', (size_t)(end - p));
	size_t plen = z1 ? (size_t)(z1 - p) : (size_t)(end - p);
	const char *tmpl = z1 ? z1 + 1 : end;
	const char *z2 = memchr(tmpl, '\0', (size_t)(end - tmpl));
	size_t tlen = z2 ? (size_t)(z2 - tmpl) : (size_t)(end - tmpl);
	const char *subj = z2 ? z2 + 1 : end;
	size_t slen = (size_t)(end - subj);

	char *pattern = fuzz_strdup((const uint8_t *)p, plen);
	struct lf_regex *re = NULL;
	struct lf_error err = {{0}};
	if (lf_regex_new(pattern, flags, &re, &err) < 0) {
		FUZZ_CHECK(re == NULL, "failed compile left a regex");
		FUZZ_CHECK(err.msg[0], "compile failed without a message");
		check_literal(p, plen);
		free(pattern);
		return 0;
	}
	FUZZ_CHECK(strcmp(lf_regex_pattern(re), pattern) == 0, "pattern text changed");
	int ng = lf_regex_ngroups(re);
	FUZZ_CHECK(ng >= 0, "negative group count");
	for (int i = 1; i <= ng; i++) {
		const char *name = lf_regex_group_name(re, i);
		if (name)
			FUZZ_CHECK(lf_regex_group_index(re, name, strlen(name)) >= 1,
			           "group name %s has no index", name);
	}

	/* Find all matches, as a replace or a LogQL filter walks a line. */
	size_t start = 0;
	for (int iter = 0; iter < 64 && start <= slen; iter++) {
		int rc = lf_regex_exec(re, subj, slen, start, &m, &err);
		if (rc <= 0)
			break;
		const char *g;
		size_t gl;
		FUZZ_CHECK(lf_regex_group(&m, 0, &g, &gl), "match without group 0");
		FUZZ_CHECK(g >= subj + start && g + gl <= subj + slen, "group 0 outside subject");
		for (int i = 1; i <= ng + 1; i++) {
			if (lf_regex_group(&m, i, &g, &gl))
				FUZZ_CHECK(i <= ng && g >= subj && g + gl <= subj + slen,
				           "group %d outside subject", i);
		}
		struct lf_buf ex = LF_BUF_INIT;
		FUZZ_CHECK(lf_regex_expand(re, &m, tmpl, tlen, &ex) == 0, "expand failed");
		lf_buf_free(&ex);
		lf_regex_group(&m, 0, &g, &gl);
		size_t next = (size_t)(g - subj) + gl;
		start = gl ? next : next + 1;
	}
	bool any = lf_regex_test(re, subj, slen);

	struct lf_buf out = LF_BUF_INIT;
	for (int literal = 0; literal < 2; literal++) {
		lf_buf_reset(&out);
		if (lf_regex_replace_all(re, subj, slen, tmpl, tlen, literal, &out, &m) == 0 &&
		    !any)
			FUZZ_CHECK(out.len == slen &&
			                   (slen == 0 || memcmp(out.data, subj, slen) == 0),
			           "replace_all without a match changed the subject");
	}
	lf_buf_free(&out);
	lf_regex_free(re);
	free(pattern);
	check_literal(subj, slen);
	return 0;
}
