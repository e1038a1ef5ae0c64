/* journal_fields.h — what the journal source makes of one entry's data
 * fields: the `__journal_<field>` meta labels (+ `__journal_priority_keyword`),
 * the MESSAGE line, and the `json: true` line (every field as one JSON
 * object). A field is "NAME=value" as sd_journal_enumerate_data() returns
 * it: any bytes, not NUL-terminated, the value possibly binary.
 *
 * Kept apart from journal.c (which owns sd-journal) so that the decoding
 * of bytes written by any local process is fuzzed and unit-tested without
 * a journal (tests/fuzz/fuzz_journal_fields.c).
 *
 * sd-journal only guarantees a field's bytes until the next enumerate
 * call (a compressed field is decompressed into one shared buffer), so
 * nothing here keeps a pointer to a field: the message and the JSON
 * fields are copied as they arrive, into buffers reused from entry to
 * entry (no allocation per entry once they have grown).
 */
#ifndef LF_AGENT_JOURNAL_FIELDS_H
#define LF_AGENT_JOURNAL_FIELDS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "labels.h"

/* At most this many fields go into one JSON line (later ones are left out). */
#define LF_JOURNAL_JSON_MAX_FIELDS 512

/* Adds the meta labels of one field to ls: `__journal_` + the field name
 * lowercased, when that is a valid label name and the value has no NUL;
 * for PRIORITY also `__journal_priority_keyword` (emerg..debug, or the raw
 * value when it is not 0-7). When the field is MESSAGE and msg is not
 * NULL, msg is replaced by its value (the last MESSAGE of an entry wins).
 * Returns true when the field was a MESSAGE. A field without '=' is ignored. */
bool lf_journal_field_labels(const void *data, size_t len, struct lf_labels *ls,
                             struct lf_buf *msg);

/* The `json: true` line of one entry, built field by field. */
struct lf_journal_json {
	struct lf_buf bytes; /* copies of the fields, "NAME=value" back to back */
	struct lf_journal_json_field {
		size_t off, name_len, len; /* in bytes: offset, name length, whole length */
	} v[LF_JOURNAL_JSON_MAX_FIELDS];
	size_t n;
};

void lf_journal_json_init(struct lf_journal_json *j);
void lf_journal_json_free(struct lf_journal_json *j);
/* Starts a new entry (keeps the buffers). */
void lf_journal_json_reset(struct lf_journal_json *j);
/* Copies one field (ignored without '=' or past the maximum). -1 on ENOMEM. */
int lf_journal_json_add(struct lf_journal_json *j, const void *data, size_t len);
/* Appends the object to out: keys sorted (as Go's encoding/json writes a
 * map), a name repeated in the entry keeps its last value, values as JSON
 * strings (invalid UTF-8 as U+FFFD). Sorts j's fields in place. */
void lf_journal_json_finish(struct lf_journal_json *j, struct lf_buf *out);

#endif
