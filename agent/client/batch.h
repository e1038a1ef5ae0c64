/* batch.h — one client batch: the entries of one tenant waiting to be sent
 * together, grouped into streams by their label set, and its encoding into
 * Loki's push body. Internal to the client (agent/client/); used only by the
 * sender thread, so there is no locking here.
 *
 * Memory: a batch copies every line, label key and structured-metadata pair
 * into one byte buffer (`data`) and keeps fixed-size records in growable
 * arrays; lf_cbatch_reset() keeps all of it, so a recycled batch does not
 * allocate once its buffers are warm (no malloc per line).
 */
#ifndef LF_CLIENT_BATCH_H
#define LF_CLIENT_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "push.h"

/* One entry as the client's queue hands it over (all pointers borrowed for
 * the duration of lf_cbatch_add). */
struct lf_cbatch_item {
	int64_t ts_ns;
	const char *key; /* rendered label set, `{a="b"}` */
	size_t key_len;
	const char *line;
	size_t line_len;
	const char *sm; /* n_sm pairs, each "name\0value\0" */
	size_t sm_len;
	uint32_t n_sm;
	void *origin;
	uint64_t seq_first, seq_last;
	int64_t qbytes;      /* queue bytes this entry holds (released when done) */
	int64_t enq_mono_ns; /* when it was enqueued (batchwait) */
};

struct lf_cbatch_entry {
	int64_t ts_ns;
	uint32_t stream;
	uint32_t n_sm;
	size_t line_off, line_len;
	size_t sm_off; /* n_sm "name\0value\0" pairs in data */
	void *origin;
	uint64_t seq_first, seq_last;
};

struct lf_cbatch_stream {
	size_t key_off, key_len;
	uint64_t hash;
	uint32_t n_entries;
};

struct lf_cbatch {
	struct lf_buf data;
	struct lf_cbatch_entry *e;
	size_t n, cap;
	struct lf_cbatch_stream *s;
	size_t ns, scap;
	uint32_t *ht; /* open addressing: stream index + 1, 0 = empty */
	size_t ht_cap;
	int64_t bytes;       /* line + structured metadata bytes (batchsize) */
	int64_t qbytes;      /* queue bytes held by the entries */
	int64_t oldest_mono; /* enqueue time of the first entry */
};

void lf_cbatch_init(struct lf_cbatch *b);
void lf_cbatch_reset(struct lf_cbatch *b); /* empty, memory kept */
void lf_cbatch_free(struct lf_cbatch *b);

/* Bytes the item adds to the batch size (line + structured metadata names
 * and values), Promtail's batchsize measure. */
int64_t lf_cbatch_item_size(const struct lf_cbatch_item *it);

/* True when the item's label set is not a stream of the batch yet. */
bool lf_cbatch_is_new_stream(const struct lf_cbatch *b, const struct lf_cbatch_item *it);

/* Appends the item. 0, or -1 when memory runs out (batch unchanged). */
int lf_cbatch_add(struct lf_cbatch *b, const struct lf_cbatch_item *it);

/* Scratch arrays for encoding, reused between batches. */
struct lf_cbatch_scratch {
	struct lf_push_stream *streams;
	size_t streams_cap;
	struct lf_push_entry *entries;
	size_t entries_cap;
	struct lf_push_kv *kv;
	size_t kv_cap;
	uint32_t *pos;
	size_t pos_cap;
};
void lf_cbatch_scratch_free(struct lf_cbatch_scratch *sc);

/* Encodes the batch as snappy(protobuf PushRequest) into out: one stream
 * per label set, in first-seen order, entries in enqueue order. */
int lf_cbatch_encode(const struct lf_cbatch *b, struct lf_push_encoder *enc,
                     struct lf_cbatch_scratch *sc, struct lf_buf *out, struct lf_error *err);

#endif
