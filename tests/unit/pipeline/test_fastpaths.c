/* test_fastpaths.c — the per-line fast paths of the json, labels
 * and structured_metadata stages, each checked against a general path:
 *   - json stores its values in name order, appending into the extracted
 *     map in place when it can (lf_labels_put_sorted); the result must equal setting
 *     the same values with lf_labels_setn in configured order, whatever the
 *     map already holds and whatever the reused slots held on earlier lines;
 *   - json finds first-level members in one pass (root_lookup): duplicates,
 *     escaped keys, keys longer than 63 bytes, nested and indexed paths;
 *   - the JSON string scan checks 16 bytes per step while they are inside
 *     the input: every stop byte at every offset, documents that end right
 *     after the string, compared with jansson's decoder;
 *   - structured_metadata appends in sorted order and checks "is a source a
 *     stream label" in one pass: compared with the original three-loop
 *     algorithm written here with the plain lf_labels API;
 *   - labels and structured_metadata skip values that are not UTF-8 (the
 *     inline ASCII check must defer to lf_utf8_valid for the rest);
 *   - labels writes small stream label sets in place: compared with
 *     lf_labels_setn, also through a reused lf_labels_copy;
 *   - timestamp, labels and structured_metadata look where their source
 *     was on the last line first: the map's shape changes between lines.
 * Built in tests/unit/lang (its meson.build is this helper's), with the
 * pipeline harness. */
#include <jansson.h>

#include "utf8.h"
#include "harness.h"

/* Pushes line[0..n) (may hold NUL bytes) with labels. */
static enum lf_pipe_result push_n(struct h *h, const char *labels, const char *line, size_t n)
{
	struct lf_error err;
	lf_entry_reset(&h->in);
	if (lf_labels_parse(labels, strlen(labels), &h->in.labels, &err) < 0)
		fail_msg("labels %s: %s", labels, err.msg);
	lf_buf_append(&h->in.line, line, n);
	h->in.ts_ns = TS0;
	return lf_pipeline_process(h->p, &h->in, h_emit, h);
}

static char *render(const struct lf_labels *ls)
{
	struct lf_buf b = LF_BUF_INIT;
	lf_labels_render(ls, &b);
	return b.data ? b.data : strdup("");
}

static void assert_labels_eq(const struct lf_labels *got, const struct lf_labels *want)
{
	char *g = render(got), *w = render(want);
	assert_string_equal(g, w);
	free(g);
	free(w);
}

/* ---- json: store order and reused slots ---- */

struct kv {
	const char *name;  /* extracted name */
	const char *value; /* expected value, NULL = absent (null or missing) */
};

/* One line: labels (text form), the JSON document, and the values the
 * json stage's expressions yield, in configured order. */
struct jcase {
	const char *labels;
	const char *doc;
	struct kv want[8];
};

static void test_json_store_order(void **st)
{
	(void)st;
	/* Names in no particular order; some sort before, between and after
	 * the labels copied into the extracted map (h_new makes every key
	 * live, so the map starts with all labels), one equals a label. */
	struct h h;
	h_new(&h, "- json:\n    expressions:\n"
	          "      zeta: z\n      alpha: a\n      mid: m\n      job: j\n"
	          "      b: nested.x\n      yy: arr[1]\n      c0: t\n");
	static const struct jcase cases[] = {
	        {"{job=\"lj\", namespace=\"ns\"}",
	         "{\"z\":\"last\",\"a\":\"first\",\"m\":12.5,\"j\":\"json-job\","
	         "\"nested\":{\"x\":\"nx\"},\"arr\":[1,\"two\"],\"t\":true}",
	         {{"zeta", "last"},
	          {"alpha", "first"},
	          {"mid", "12.5"},
	          {"job", "json-job"},
	          {"b", "nx"},
	          {"yy", "two"},
	          {"c0", "true"}}},
	        /* shorter and longer values into the reused slots; null and
	         * missing members remove the key (also a label's copy) */
	        {"{job=\"lj\", zzz=\"after-all\"}",
	         "{\"z\":\"a much longer value than the last one, past 32 bytes\","
	         "\"a\":\"\",\"m\":null,\"j\":null,\"arr\":[0],\"t\":false}",
	         {{"zeta", "a much longer value than the last one, past 32 bytes"},
	          {"alpha", ""},
	          {"mid", NULL},
	          {"job", NULL},
	          {"b", NULL},
	          {"yy", NULL},
	          {"c0", "false"}}},
	        /* escapes, non-ASCII, numbers that are reformatted, an object */
	        {"{a=\"label-a\", mid=\"label-mid\"}",
	         "{\"z\":\"q\\\"uo\\u0041\",\"a\":\"\xc3\xa9t\xc3\xa9\",\"m\":1e3,"
	         "\"j\":{\"k\":[1,2]},\"nested\":{\"x\":0.10},\"arr\":[1,-0],\"t\":\"x\"}",
	         {{"zeta", "q\"uoA"},
	          {"alpha", "\xc3\xa9t\xc3\xa9"},
	          {"mid", "1000"},
	          {"job", "{\"k\":[1,2]}"},
	          {"b", "0.1"},
	          {"yy", "-0"},
	          {"c0", "x"}}},
	        /* no labels at all: every store is an append */
	        {"{}",
	         "{\"t\":\"t\",\"arr\":[\"a\",\"b\"],\"nested\":{\"x\":\"y\"},\"j\":\"j\","
	         "\"m\":\"m\",\"a\":\"a\",\"z\":\"z\"}",
	         {{"zeta", "z"},
	          {"alpha", "a"},
	          {"mid", "m"},
	          {"job", "j"},
	          {"b", "y"},
	          {"yy", "b"},
	          {"c0", "t"}}},
	        /* malformed: the map keeps the labels only */
	        {"{job=\"lj\"}", "{\"z\":\"x\",", {{NULL, NULL}}},
	};
	/* twice through, so that every case also runs after every other */
	for (int round = 0; round < 2; round++) {
		for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
			const struct jcase *jc = &cases[c];
			h_clear_out(&h);
			assert_int_equal(push_n(&h, jc->labels, jc->doc, strlen(jc->doc)),
			                 LF_PIPE_EMITTED);
			assert_int_equal(h.n, 1);
			/* the general path: labels, then each value with
			 * lf_labels_setn (or a removal) in configured order */
			struct lf_labels want = LF_LABELS_INIT;
			struct lf_error err;
			assert_int_equal(
			        lf_labels_parse(jc->labels, strlen(jc->labels), &want, &err), 0);
			for (size_t k = 0; k < 8 && jc->want[k].name; k++) {
				if (jc->want[k].value)
					lf_labels_setn(&want, jc->want[k].name,
					               strlen(jc->want[k].name), jc->want[k].value,
					               strlen(jc->want[k].value));
				else
					lf_labels_del(&want, jc->want[k].name);
			}
			assert_labels_eq(&h.out[0].extracted, &want);
			lf_labels_free(&want);
		}
	}
	h_free(&h);
}

/* ---- json: first-level member lookup ---- */

static void test_json_root_lookup(void **st)
{
	(void)st;
	char longkey[100];
	memset(longkey, 'k', 70);
	longkey[70] = '\0';
	char yaml[512];
	snprintf(yaml, sizeof yaml,
	         "- json:\n    expressions:\n"
	         "      dup: d\n      esc: e\n      long: %s\n      long2: '\"%s\"'\n"
	         "      deep: a.b.c\n      idx: l[0]\n      neg: l[-1]\n      same: d\n"
	         "      quoted: '\"x.y\"'\n      empty: '\"\"'\n",
	         longkey, longkey);
	struct h h;
	h_new(&h, yaml);
	char doc[1024];
	/* duplicates: the last wins; escaped keys are compared decoded; a key
	 * of 70 bytes (beyond the length buckets); an empty key */
	snprintf(doc, sizeof doc,
	         "{\"d\":1,\"\\u0065\":\"escaped\",\"%s\":\"L\",\"a\":{\"b\":{\"c\":\"C\"}},"
	         "\"l\":[\"l0\",\"l1\"],\"x.y\":\"dots\",\"\":\"nokey\",\"d\":\"second\","
	         "\"a\":{\"b\":{\"c\":\"C2\"}}}",
	         longkey);
	push_n(&h, "{}", doc, strlen(doc));
	assert_string_equal(h_ex(&h, 0, "dup"), "second");
	assert_string_equal(h_ex(&h, 0, "same"), "second");
	assert_string_equal(h_ex(&h, 0, "esc"), "escaped");
	assert_string_equal(h_ex(&h, 0, "long"), "L");
	assert_string_equal(h_ex(&h, 0, "long2"), "L");
	assert_string_equal(h_ex(&h, 0, "deep"), "C2");
	assert_string_equal(h_ex(&h, 0, "idx"), "l0");
	assert_string_equal(h_ex(&h, 0, "neg"), "l1");
	assert_string_equal(h_ex(&h, 0, "quoted"), "dots");
	assert_string_equal(h_ex(&h, 0, "empty"), "nokey");
	/* the escaped duplicate of a plain key wins when it comes last */
	const char *d2 = "{\"e\":\"plain\",\"\\u0065\":\"esc-last\",\"d\":null}";
	push_n(&h, "{}", d2, strlen(d2));
	assert_string_equal(h_ex(&h, 1, "esc"), "esc-last");
	assert_null(h_ex(&h, 1, "dup"));
	assert_null(h_ex(&h, 1, "long"));
	/* a null document and non-object documents */
	push_n(&h, "{}", "null", 4);
	assert_null(h_ex(&h, 2, "dup"));
	push_n(&h, "{d=\"kept\"}", "[1]", 3);
	assert_string_equal(h_ex(&h, 3, "d"), "kept");
	assert_null(h_ex(&h, 3, "dup"));
	h_free(&h);
}

/* ---- json: the string scan at every offset ---- */

/* What jansson decodes for doc's member "v" (NULL when it rejects doc). */
static char *jansson_value(const char *doc, size_t n, size_t *len)
{
	json_error_t jerr;
	json_t *j = json_loadb(doc, n, 0, &jerr);
	if (!j)
		return NULL;
	json_t *v = json_object_get(j, "v");
	char *r = NULL;
	if (json_is_string(v)) {
		*len = json_string_length(v);
		r = malloc(*len + 1);
		memcpy(r, json_string_value(v), *len + 1);
	}
	json_decref(j);
	return r;
}

static void test_json_scan_offsets(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- json:\n    expressions:\n      v:\n      p:\n");
	/* What goes inside the string body at offset k: escapes the scan must
	 * step over, bytes that end it, bytes >= 0x80 that it must flag. */
	static const char *const specials[] = {"\\\"", "\\\\", "\\/", "\\n", "\\u0041", "\\u00e9",
	                                       "\\ud83d\\ude00", "\xc3\xa9", "\xe2\x82\xac",
	                                       "\xf0\x9f\x98\x80", "\x7f", " ", "~",
	                                       /* rejected by both decoders: */
	                                       "\x01", "\x1f", "\t", "\\x", "\\u12", "\\uZZZZ"};
	size_t nspecial = sizeof specials / sizeof specials[0];
	size_t out = 0;
	char doc[256], body[128];
	for (size_t sp = 0; sp < nspecial; sp++) {
		for (size_t len = 0; len <= 40; len += (len < 20 ? 1 : 7)) {
			for (size_t k = 0; k <= len; k++) {
				for (size_t pad = 0; pad < 3; pad++) {
					/* body: len letters with the special at k */
					size_t b = 0;
					for (size_t i = 0; i < k; i++)
						body[b++] = (char)('a' + i % 26);
					size_t sl = strlen(specials[sp]);
					memcpy(body + b, specials[sp], sl);
					b += sl;
					for (size_t i = k; i < len; i++)
						body[b++] = (char)('A' + i % 26);
					body[b] = '\0';
					/* pad shifts the string against the 16-byte
					 * steps; trailing: none, or spaces */
					int n = snprintf(doc, sizeof doc,
					                 "{\"p\":\"%.*s\",\"v\":\"%s\"}%s",
					                 (int)(pad * 5), "0123456789abcdef", body,
					                 pad == 2 ? "   " : "");
					size_t wlen = 0;
					char *want = jansson_value(doc, (size_t)n, &wlen);
					push_n(&h, "{}", doc, (size_t)n);
					assert_int_equal(h.n, out + 1);
					const char *got = h_ex(&h, out, "v");
					if (!want) {
						if (got)
							fail_msg(
							        "accepted what jansson rejects: %s",
							        doc);
					} else {
						if (!got)
							fail_msg(
							        "rejected what jansson accepts: %s",
							        doc);
						assert_int_equal(strlen(got), wlen);
						assert_memory_equal(got, want, wlen);
					}
					free(want);
					out++;
					if (out == MAX_OUT) {
						h_clear_out(&h);
						out = 0;
					}
				}
			}
		}
	}
	h_free(&h);
}

/* A document with a NUL byte or a truncation anywhere is malformed; the
 * same prefix followed by the NUL the stage relies on is too. */
static void test_json_nul_and_truncation(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- json:\n    expressions:\n      v:\n");
	const char *doc = "{\"v\":\"0123456789abcdefghijklmnopqrstuvwxyz\",\"w\":[1,2.5,true]}";
	size_t n = strlen(doc);
	char buf[128];
	size_t out = 0;
	for (size_t cut = 0; cut < n; cut++) {
		/* truncated */
		push_n(&h, "{}", doc, cut);
		assert_null(h_ex(&h, out, "v"));
		out++;
		/* a NUL at position cut */
		memcpy(buf, doc, n);
		buf[cut] = '\0';
		push_n(&h, "{}", buf, n);
		assert_null(h_ex(&h, out, "v"));
		out++;
		if (out + 2 > MAX_OUT) {
			h_clear_out(&h);
			out = 0;
		}
	}
	push_n(&h, "{}", doc, n);
	assert_string_equal(h_ex(&h, out, "v"), "0123456789abcdefghijklmnopqrstuvwxyz");
	h_free(&h);
}

/* ---- structured_metadata and labels ---- */

/* The original algorithm with the plain lf_labels API: every name from
 * the extracted map (UTF-8 values only), then every source that is a stream
 * label into structured metadata, then those labels removed. */
static void sm_reference(struct lf_labels *labels, struct lf_labels *sm,
                         const struct lf_labels *extracted, const char *const (*m)[2], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = lf_labels_get(extracted, m[i][1]);
		if (v && lf_utf8_valid(v, strlen(v)))
			lf_labels_set(sm, m[i][0], v);
	}
	for (size_t i = 0; i < n; i++) {
		const char *v = lf_labels_get(labels, m[i][1]);
		if (v)
			lf_labels_set(sm, m[i][0], v);
	}
	for (size_t i = 0; i < n; i++)
		if (lf_labels_get(labels, m[i][1]))
			lf_labels_del(labels, m[i][1]);
}

static void test_sm_against_reference(void **st)
{
	(void)st;
	/* two structured_metadata stages: the second one writes into a
	 * non-empty set (not appends only); a labels stage between them */
	static const char *const m1[][2] = {
	        {"user", "user"}, {"msg", "msg"}, {"dur", "dur"}, {"app", "job"}, {"zz", "zz"}};
	static const char *const m2[][2] = {{"aa", "msg"}, {"user", "level"}, {"zzz", "pod"}};
	struct h h;
	h_new(&h, "- json:\n    expressions:\n      user:\n      msg:\n      dur:\n"
	          "      zz:\n      level:\n      job:\n      pod:\n"
	          "- structured_metadata:\n    user:\n    msg:\n    dur:\n    app: job\n"
	          "    zz:\n"
	          "- labels:\n    level:\n"
	          "- structured_metadata:\n    aa: msg\n    user: level\n    zzz: pod\n");
	static const char *const labelsets[] = {
	        "{container=\"c\", job=\"j\", namespace=\"n\", pod=\"p\"}",
	        "{namespace=\"n\"}",
	        "{}",
	        "{dur=\"label-dur\", msg=\"label-msg\", user=\"label-user\"}",
	        "{aaa=\"1\", bbb=\"2\", ccc=\"3\", ddd=\"4\", eee=\"5\", fff=\"6\", ggg=\"7\", "
	        "hhh=\"8\", iii=\"9\", zz=\"label-zz\"}",
	};
	static const char *const docs[] = {
	        "{\"user\":\"alice\",\"msg\":\"request 1 done\",\"dur\":12.5,\"level\":\"info\"}",
	        "{\"user\":\"b\\u00e9\",\"msg\":\"\\ud800 lone surrogate\",\"zz\":\"a\xff"
	        "b\",\"level\":\"warn\",\"job\":\"json-job\"}",
	        "{\"user\":\"a longer user name, more than 32 bytes long\",\"dur\":null,"
	        "\"pod\":\"json-pod\"}",
	        "{\"msg\":\"\xc3\xa9t\xc3\xa9 \xe2\x82\xac\",\"zz\":\"\",\"level\":\"\"}",
	        "{}",
	};
	size_t nl = sizeof labelsets / sizeof labelsets[0], nd = sizeof docs / sizeof docs[0];
	for (int round = 0; round < 2; round++) {
		for (size_t li = 0; li < nl; li++) {
			for (size_t di = 0; di < nd; di++) {
				h_clear_out(&h);
				push_n(&h, labelsets[li], docs[di], strlen(docs[di]));
				assert_int_equal(h.n, 1);
				/* reference: replay the stages with the plain API
				 * on the extracted map the json stage produced */
				struct lf_labels labels = LF_LABELS_INIT, sm = LF_LABELS_INIT,
				                 ex = LF_LABELS_INIT;
				struct lf_error err;
				assert_int_equal(lf_labels_parse(labelsets[li],
				                                 strlen(labelsets[li]), &labels,
				                                 &err),
				                 0);
				lf_labels_copy(&ex, &h.out[0].extracted);
				sm_reference(&labels, &sm, &ex, m1, sizeof m1 / sizeof m1[0]);
				const char *lv = lf_labels_get(&ex, "level");
				if (lv && lf_utf8_valid(lv, strlen(lv)))
					lf_labels_set(&labels, "level", lv);
				sm_reference(&labels, &sm, &ex, m2, sizeof m2 / sizeof m2[0]);
				assert_labels_eq(&h.out[0].sm, &sm);
				assert_labels_eq(&h.out[0].labels, &labels);
				lf_labels_free(&labels);
				lf_labels_free(&sm);
				lf_labels_free(&ex);
			}
		}
	}
	h_free(&h);
}

/* The inline ASCII check passes everything else to lf_utf8_valid: a value
 * is skipped exactly when it is not UTF-8, wherever the bad byte is. */
static void test_utf8_check_positions(void **st)
{
	(void)st;
	struct h h;
	/* the value comes from a stream label through a template (which keeps
	 * its bytes; JSON would decode bad UTF-8 to U+FFFD) into extracted w:
	 * w is no stream label, so structured_metadata does not move it */
	h_new(&h, "- template:\n    source: w\n    template: '{{ .v }}'\n"
	          "- labels:\n    lv: w\n"
	          "- structured_metadata:\n    sv: w\n");
	static const char *const bytes[] = {
	        "\xff", "\xc3", "\xc3\xa9", "\xed\xa0\x80", "\xf0\x9f\x98\x80", "\xe2\x82"};
	char val[64];
	size_t out = 0;
	for (size_t bi = 0; bi < sizeof bytes / sizeof bytes[0]; bi++) {
		for (size_t len = 0; len <= 20; len++) {
			for (size_t k = 0; k <= len; k++) {
				size_t b = 0;
				for (size_t i = 0; i < k; i++)
					val[b++] = 'x';
				memcpy(val + b, bytes[bi], strlen(bytes[bi]));
				b += strlen(bytes[bi]);
				for (size_t i = k; i < len; i++)
					val[b++] = 'y';
				val[b] = '\0';
				struct lf_labels ls = LF_LABELS_INIT;
				lf_labels_set(&ls, "v", val);
				lf_entry_reset(&h.in);
				lf_labels_copy(&h.in.labels, &ls);
				lf_buf_appends(&h.in.line, "not json");
				h.in.ts_ns = TS0;
				lf_pipeline_process(h.p, &h.in, h_emit, &h);
				assert_int_equal(h.n, out + 1);
				bool valid = lf_utf8_valid(val, strlen(val));
				const char *lv = lf_labels_get(&h.out[out].labels, "lv");
				const char *sv = lf_labels_get(&h.out[out].sm, "sv");
				if (valid) {
					assert_non_null(lv);
					assert_string_equal(lv, val);
					assert_non_null(sv);
					assert_string_equal(sv, val);
				} else {
					assert_null(lv);
					assert_null(sv);
				}
				lf_labels_free(&ls);
				out++;
				if (out == MAX_OUT) {
					h_clear_out(&h);
					out = 0;
				}
			}
		}
	}
	h_free(&h);
}

/* The timestamp, labels and structured_metadata stages first look where
 * their source was in the extracted map on the last line: the map's shape
 * changes from line to line here (keys before the source come and go, the
 * source itself is missing on some lines), and every line must still find
 * exactly its own values. */
static void test_lookup_hints_follow_shape(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- json:\n    expressions:\n      a:\n      b:\n      ts:\n      lvl:\n"
	          "      zz:\n"
	          "- timestamp:\n    source: ts\n    format: RFC3339\n    action_on_failure: skip\n"
	          "- labels:\n    lvl:\n"
	          "- structured_metadata:\n    zz:\n");
	static const struct {
		const char *doc;
		int64_t ts;      /* 0: the read time stays */
		const char *lvl; /* NULL: no label */
		const char *zz;  /* NULL: no structured metadata */
	} lines[] = {
	        {"{\"a\":1,\"b\":2,\"ts\":\"2024-05-01T10:00:00Z\",\"lvl\":\"info\",\"zz\":\"z1\"}",
	         INT64_C(1714557600000000000), "info", "z1"},
	        {"{\"ts\":\"2024-05-01T10:00:01Z\",\"lvl\":\"warn\"}", INT64_C(1714557601000000000),
	         "warn", NULL},
	        {"{\"a\":1,\"zz\":\"z3\"}", 0, NULL, "z3"},
	        {"{\"b\":\"x\",\"ts\":\"2024-05-01T10:00:02+01:00\",\"zz\":\"z4\"}",
	         INT64_C(1714554002000000000), NULL, "z4"},
	        {"{\"a\":1,\"b\":2,\"ts\":\"2024-05-01T10:00:00Z\",\"lvl\":\"info\",\"zz\":\"z1\"}",
	         INT64_C(1714557600000000000), "info", "z1"},
	        {"{\"lvl\":\"debug\"}", 0, "debug", NULL},
	};
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
			h_clear_out(&h);
			/* a label that sorts before the json names on some lines
			 * shifts every index of the extracted map */
			push_n(&h, (i + (size_t)round) % 2 ? "{aa=\"1\"}" : "{}", lines[i].doc,
			       strlen(lines[i].doc));
			assert_int_equal(h.n, 1);
			assert_true(h.out[0].ts_ns == (lines[i].ts ? lines[i].ts : TS0));
			const char *lvl = lf_labels_get(&h.out[0].labels, "lvl");
			const char *zz = lf_labels_get(&h.out[0].sm, "zz");
			if (lines[i].lvl) {
				assert_non_null(lvl);
				assert_string_equal(lvl, lines[i].lvl);
			} else {
				assert_null(lvl);
			}
			if (lines[i].zz) {
				assert_non_null(zz);
				assert_string_equal(zz, lines[i].zz);
			} else {
				assert_null(zz);
			}
		}
	}
	h_free(&h);
}

/* The labels stage writes small label sets in place (then
 * lf_labels_touch): the result must equal lf_labels_setn on the same set,
 * for new names at the start, middle and end, existing names with the same,
 * a shorter or a much longer value, and sets too large for the in-place
 * path; and copies of the reused entry's labels (lf_labels_copy keeps a
 * memo of unchanged sets) must see every change. */
static void test_labels_put_against_reference(void **st)
{
	(void)st;
	struct h h;
	h_new(&h, "- json:\n    expressions:\n      v:\n      w:\n"
	          "- labels:\n    a0: v\n    mm: w\n    zzzz: v\n    job: w\n");
	static const char *const labelsets[] = {
	        "{}",
	        "{job=\"j\"}",
	        "{container=\"c\", job=\"j\", namespace=\"n\", pod=\"p\", stream=\"stdout\"}",
	        "{a0=\"same\", job=\"same\", mm=\"x\", zzzz=\"same\"}",
	        "{l01=\"1\", l02=\"2\", l03=\"3\", l04=\"4\", l05=\"5\", l06=\"6\", l07=\"7\", "
	        "l08=\"8\", l09=\"9\", l10=\"10\", l11=\"11\", l12=\"12\", l13=\"13\", "
	        "l14=\"14\", l15=\"15\", l16=\"16\", l17=\"17\", mm=\"old\"}",
	};
	static const char *const docs[] = {
	        "{\"v\":\"same\",\"w\":\"same\"}",
	        "{\"v\":\"a value longer than the sixteen bytes of a fresh slot\",\"w\":\"s\"}",
	        "{\"v\":\"\",\"w\":\"x\"}",
	        "{\"w\":\"only w\"}",
	        "{}",
	};
	struct lf_labels mirror = LF_LABELS_INIT;
	for (int round = 0; round < 3; round++) {
		for (size_t li = 0; li < sizeof labelsets / sizeof labelsets[0]; li++) {
			for (size_t di = 0; di < sizeof docs / sizeof docs[0]; di++) {
				h_clear_out(&h);
				push_n(&h, labelsets[li], docs[di], strlen(docs[di]));
				assert_int_equal(h.n, 1);
				/* reference: the plain API on a fresh set */
				struct lf_labels want = LF_LABELS_INIT;
				struct lf_error err;
				assert_int_equal(lf_labels_parse(labelsets[li],
				                                 strlen(labelsets[li]), &want,
				                                 &err),
				                 0);
				const char *v = lf_labels_get(&h.out[0].extracted, "v");
				const char *w = lf_labels_get(&h.out[0].extracted, "w");
				if (v)
					lf_labels_set(&want, "a0", v);
				if (w)
					lf_labels_set(&want, "mm", w);
				if (v)
					lf_labels_set(&want, "zzzz", v);
				if (w)
					lf_labels_set(&want, "job", w);
				assert_labels_eq(&h.out[0].labels, &want);
				/* the reused entry itself, through a reused copy */
				assert_int_equal(lf_labels_copy(&mirror, &h.in.labels), 0);
				assert_labels_eq(&mirror, &want);
				assert_true(lf_labels_equal(&mirror, &want));
				lf_labels_free(&want);
			}
		}
	}
	lf_labels_free(&mirror);
	/* a mark taken before the stage must stop matching when the stage
	 * changed the set: a value replaced in place, a label inserted */
	static const struct {
		const char *labels, *doc;
	} changes[] = {
	        {"{job=\"j\", mm=\"old\"}", "{\"w\":\"new\"}"},
	        {"{job=\"j\", mm=\"old\"}", "{\"w\":\"new value longer than sixteen\"}"},
	        {"{job=\"j\"}", "{\"v\":\"a\"}"},
	};
	for (size_t c = 0; c < sizeof changes / sizeof changes[0]; c++) {
		struct lf_error err;
		lf_entry_reset(&h.in);
		assert_int_equal(lf_labels_parse(changes[c].labels, strlen(changes[c].labels),
		                                 &h.in.labels, &err),
		                 0);
		lf_buf_appends(&h.in.line, changes[c].doc);
		struct lf_labels_mark m = lf_labels_mark(&h.in.labels);
		h_clear_out(&h);
		lf_pipeline_process(h.p, &h.in, h_emit, &h);
		assert_false(lf_labels_has_mark(&h.in.labels, &m));
	}
	h_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_json_store_order),
	        cmocka_unit_test(test_json_root_lookup),
	        cmocka_unit_test(test_json_scan_offsets),
	        cmocka_unit_test(test_json_nul_and_truncation),
	        cmocka_unit_test(test_sm_against_reference),
	        cmocka_unit_test(test_utf8_check_positions),
	        cmocka_unit_test(test_lookup_hints_follow_shape),
	        cmocka_unit_test(test_labels_put_against_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
