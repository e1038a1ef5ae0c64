/* srcq.h — the bounded hand-off queue between a source's own threads
 * (syslog listener, push API HTTP threads) and the agent's event loop.
 *
 * What it owns: one byte buffer of records (timestamp, final label set,
 * line) guarded by a mutex, bounded by max_bytes, and two eventfds:
 * `ready` (readable while records wait: the loop polls it) and `space`
 * (readable after the loop took records while a producer was refused: a
 * blocked producer polls it). Producers build a batch of records in their
 * own lf_buf (lf_srcq_rec_append, no lock, no per-record malloc once the
 * buffer is warm) and commit it whole or not at all (lf_srcq_commit), so
 * a push request is either fully accepted or refused. The loop takes the
 * whole buffer at once (lf_srcq_take swaps buffers) and walks it with
 * lf_srcq_next.
 *
 * Thread-safe as described; no global state.
 */
#ifndef LF_SRCQ_H
#define LF_SRCQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "labels.h"

struct lf_srcq;

struct lf_srcq *lf_srcq_new(size_t max_bytes);
void lf_srcq_free(struct lf_srcq *q);

int lf_srcq_ready_fd(const struct lf_srcq *q);
int lf_srcq_space_fd(const struct lf_srcq *q);

/* Appends one record to a producer batch; sm (structured metadata) may
 * be NULL. 0 / -1 (ENOMEM). */
int lf_srcq_rec_append(struct lf_buf *batch, int64_t ts_ns, const struct lf_labels *ls,
                       const struct lf_labels *sm, const char *line, size_t len);
/* Moves the batch into the queue (batch is emptied) when it fits, or when
 * the queue is empty (a batch larger than the bound is not refused
 * forever). Returns 0, or -1 when full (batch untouched; `space` will fire
 * once the loop took records). */
int lf_srcq_commit(struct lf_srcq *q, struct lf_buf *batch);
/* Bytes queued now. */
size_t lf_srcq_bytes(struct lf_srcq *q);
/* Swaps the queued records into `into` (its old content is discarded) and
 * clears the ready eventfd. Returns the number of bytes taken. */
size_t lf_srcq_take(struct lf_srcq *q, struct lf_buf *into);
/* Reads the record at *off of a taken buffer: fills ts, labels (replaced)
 * and the line slice (valid while the buffer lives); advances *off.
 * 1 = record, 0 = end, -1 = ENOMEM. */
struct lf_srcq_rec {
	int64_t ts_ns;
	const char *line;
	size_t len;
};
int lf_srcq_next(const struct lf_buf *b, size_t *off, struct lf_srcq_rec *r, struct lf_labels *ls,
                 struct lf_labels *sm);

#endif
