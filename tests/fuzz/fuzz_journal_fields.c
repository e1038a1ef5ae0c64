/* fuzz_journal_fields.c — the journal source's field decoding
 * (agent/sources/journal_fields.h): any local process writes the journal
 * fields an entry carries, binary values included.
 *
 * Input: the entry's fields, each a length byte L followed by L bytes
 * ("NAME=value", or anything). Both decodings run on every input.
 * Properties:
 *   - nothing crashes or reads outside a field (each field is its own
 *     exact-size allocation, freed before the next is decoded, as
 *     sd-journal may reuse its buffer: ASan catches a kept pointer);
 *   - every label is `__journal_` + a valid label name with a NUL-free
 *     value; the MESSAGE found is the last MESSAGE field's value;
 *     a PRIORITY field (NUL-free) gives `__journal_priority_keyword`;
 *   - the JSON line parses as a JSON object (checked with jansson, which
 *     refuses a NUL in a key: not checked for such names); when every name is valid
 *     UTF-8 it has one key per distinct name among the first 512 fields,
 *     and each valid-UTF-8 value is the last one given for its name.
 */
#include <jansson.h>
#include <stdbool.h>

#include "fuzz.h"

#include "journal_fields.h"
#include "utf8.h"

#define MAX_FIELDS 600

struct field {
	const uint8_t *p;
	size_t n;
};

static struct lf_journal_json jj; /* reused, as the source reuses it */

static const uint8_t *last_value(const struct field *f, size_t nf, const uint8_t *name, size_t nl,
                                 size_t *vl)
{
	const uint8_t *v = NULL;
	size_t seen = 0;
	for (size_t i = 0; i < nf; i++) {
		const uint8_t *eq = memchr(f[i].p, '=', f[i].n);
		if (!eq)
			continue;
		if (++seen > LF_JOURNAL_JSON_MAX_FIELDS)
			break;
		if ((size_t)(eq - f[i].p) == nl && !memcmp(f[i].p, name, nl)) {
			v = eq + 1;
			*vl = f[i].n - nl - 1;
		}
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct field f[MAX_FIELDS];
	size_t nf = 0;
	for (size_t i = 0; i < size && nf < MAX_FIELDS;) {
		size_t l = data[i++];
		if (l > size - i)
			l = size - i;
		f[nf++] = (struct field){data + i, l};
		i += l;
	}

	/* labels and MESSAGE */
	struct lf_labels ls = LF_LABELS_INIT;
	struct lf_buf msg = LF_BUF_INIT;
	bool has_msg = false, prio = false;
	const uint8_t *want_msg = NULL;
	size_t want_ml = 0;
	for (size_t i = 0; i < nf; i++) {
		char *copy = (char *)fuzz_strdup(f[i].p, f[i].n);
		if (lf_journal_field_labels(copy, f[i].n, &ls, &msg))
			has_msg = true;
		free(copy);
		if (f[i].n >= 9 && !memcmp(f[i].p, "PRIORITY=", 9) && !memchr(f[i].p, 0, f[i].n))
			prio = true;
		if (f[i].n >= 8 && !memcmp(f[i].p, "MESSAGE=", 8)) {
			want_msg = f[i].p + 8;
			want_ml = f[i].n - 8;
		}
	}
	FUZZ_CHECK(has_msg == (want_msg != NULL), "MESSAGE found %d", has_msg);
	if (want_msg)
		FUZZ_CHECK(msg.len == want_ml && (!want_ml || !memcmp(msg.data, want_msg, want_ml)),
		           "MESSAGE is not the last one given");
	for (size_t i = 0; i < ls.n; i++) {
		const char *n = ls.v[i].name;
		FUZZ_CHECK(!strncmp(n, "__journal_", 10), "label %s", n);
		FUZZ_CHECK(lf_label_name_valid(n, strlen(n)), "label name %s", n);
	}
	if (prio)
		FUZZ_CHECK(lf_labels_get(&ls, "__journal_priority_keyword") != NULL,
		           "PRIORITY without __journal_priority_keyword");
	lf_labels_free(&ls);
	lf_buf_free(&msg);

	/* json: true */
	if (!jj.bytes.cap)
		lf_journal_json_init(&jj);
	lf_journal_json_reset(&jj);
	bool names_utf8 = true, names_nul = false;
	for (size_t i = 0; i < nf; i++) {
		char *copy = (char *)fuzz_strdup(f[i].p, f[i].n);
		FUZZ_CHECK(lf_journal_json_add(&jj, copy, f[i].n) == 0, "out of memory");
		free(copy);
		const uint8_t *eq = memchr(f[i].p, '=', f[i].n);
		if (eq && !lf_utf8_valid((const char *)f[i].p, (size_t)(eq - f[i].p)))
			names_utf8 = false;
		if (eq && memchr(f[i].p, 0, (size_t)(eq - f[i].p)))
			names_nul = true;
	}
	size_t fields_with_eq = jj.n;
	struct lf_buf out = LF_BUF_INIT;
	lf_journal_json_finish(&jj, &out);
	if (names_nul) { /* valid JSON, but jansson refuses a NUL in a key */
		lf_buf_free(&out);
		return 0;
	}
	json_error_t je;
	json_t *o = json_loadb(out.data, out.len, JSON_ALLOW_NUL, &je);
	FUZZ_CHECK(o && json_is_object(o), "JSON line does not parse: %s: %.*s", je.text,
	           (int)out.len, out.data);
	FUZZ_CHECK(json_object_size(o) <= fields_with_eq, "more keys than fields");
	if (names_utf8) {
		/* distinct names among the kept fields */
		size_t distinct = 0;
		for (size_t i = 0; i < jj.n; i++)
			if (i + 1 == jj.n || jj.v[i].name_len != jj.v[i + 1].name_len ||
			    memcmp(jj.bytes.data + jj.v[i].off, jj.bytes.data + jj.v[i + 1].off,
			           jj.v[i].name_len))
				distinct++;
		FUZZ_CHECK(json_object_size(o) == distinct, "%zu keys for %zu names",
		           json_object_size(o), distinct);
		const char *k;
		size_t kl;
		json_t *v;
		json_object_keylen_foreach(o, k, kl, v)
		{
			size_t vl = 0;
			const uint8_t *want = last_value(f, nf, (const uint8_t *)k, kl, &vl);
			FUZZ_CHECK(want, "key %.*s was not given", (int)kl, k);
			if (lf_utf8_valid((const char *)want, vl))
				FUZZ_CHECK(json_string_length(v) == vl &&
				                   !memcmp(json_string_value(v), want, vl),
				           "value of %.*s is not the last one given", (int)kl, k);
		}
	}
	json_decref(o);
	lf_buf_free(&out);
	return 0;
}
