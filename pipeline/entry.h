/* entry.h — the Entry: one log line on its way through a pipeline.
 *
 * Every buffer here is owned by the entry and reused between lines: callers
 * keep one entry per reader and reset it (lf_entry_reset) instead of
 * allocating per line. Stages mutate the entry in place.
 */
#ifndef LF_ENTRY_H
#define LF_ENTRY_H

#include <stdint.h>

#include "../common/buf.h"
#include "../common/labels.h"

/* Reserved label carrying the tenant chosen by the `tenant` stage; the
 * batcher removes it and uses it as X-Scope-OrgID. */
#define LF_TENANT_LABEL "__tenant_id__"

struct lf_entry {
	int64_t ts_ns;             /* entry timestamp; the reader sets read time */
	struct lf_buf line;        /* the log line (no trailing newline) */
	struct lf_labels labels;   /* stream labels */
	struct lf_labels sm;       /* structured metadata */
	struct lf_labels extracted; /* the extracted map (name -> string value);
				     * JSON objects/arrays are stored as JSON text */

	/* Bookkeeping for at-least-once delivery, opaque to the pipeline. Stages
	 * that merge entries (cri partials, multiline) must set the merged
	 * entry's origin to the first part's and seq_first to the first part's
	 * seq_first, seq_last to the last part's seq_last. */
	void *origin;
	uint64_t seq_first, seq_last;
};

void lf_entry_init(struct lf_entry *e);
void lf_entry_free(struct lf_entry *e);
/* Empties line/labels/sm/extracted, keeps their memory. */
void lf_entry_reset(struct lf_entry *e);
/* dst := src, reusing dst's memory. 0 / -1 (ENOMEM). */
int lf_entry_copy(struct lf_entry *dst, const struct lf_entry *src);

#endif
