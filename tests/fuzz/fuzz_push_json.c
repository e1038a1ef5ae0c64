/* fuzz_push_json.c — the store's JSON push body (POST /loki/api/v1/push
 * with Content-Type application/json; the agent's loki_push_api target
 * accepts the same), optionally gzip/deflate-encoded, then validated as
 * the store validates it.
 *
 * Input: byte 0 chooses the Content-Encoding (none, gzip, deflate) for the
 * rest, the body. Properties: decode succeeds or fails with a status and a
 * message; the streams' entry ranges and the entries' metadata ranges lie
 * inside the batch and every line is readable (ASan checks its ends);
 * validation removes at most every entry and leaves a consistent batch; a
 * reused batch (reset, decoded again) gives the same counts.
 */
#include <stdbool.h>

#include "fuzz.h"

#include "config.h"
#include "ingest.h"
#include "timeutil.h"

#define MAX_DECODED ((size_t)1 << 20)

static struct lf_store_config cfg;
static bool cfg_ok;

static void on_discard(void *ctx, const char *reason, uint64_t lines, uint64_t bytes)
{
	(void)ctx, (void)lines, (void)bytes;
	FUZZ_CHECK(reason && reason[0], "discard without a reason");
}

static void check_batch(const struct lf_ingest_batch *b)
{
	size_t total = 0;
	for (size_t i = 0; i < b->n_streams; i++) {
		const struct lf_ingest_stream *s = &b->streams[i];
		FUZZ_CHECK(s->first + s->n <= b->n_entries, "stream %zu: entries %zu+%zu of %zu", i,
		           s->first, s->n, b->n_entries);
		total += s->n;
		for (size_t j = s->first; j < s->first + s->n; j++) {
			const struct lf_ingest_entry *e = &b->entries[j];
			FUZZ_CHECK(e->sm_first + e->n_sm <= b->n_sm, "entry %zu: metadata range",
			           j);
			if (e->line_len) {
				volatile char c1 = e->line[0], c2 = e->line[e->line_len - 1];
				(void)c1, (void)c2;
			}
		}
	}
	FUZZ_CHECK(total <= b->n_entries, "streams claim %zu of %zu entries", total, b->n_entries);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const enc[] = {NULL, "gzip", "deflate"};
	if (!cfg_ok) {
		FUZZ_CHECK(lf_store_config_defaults(&cfg) == 0, "config defaults");
		cfg_ok = true;
	}
	if (size < 1)
		return 0;
	const char *ce = enc[data[0] % 3];
	const char *body = (const char *)data + 1;
	size_t len = size - 1;

	struct lf_ingest_batch b;
	memset(&b, 0, sizeof b);
	struct lf_error err = {{0}};
	int st = lf_ingest_decode(body, len, "application/json", ce, MAX_DECODED, &b, &err);
	if (st != 0) {
		FUZZ_CHECK(st >= 400 && st < 600, "decode status %d", st);
		FUZZ_CHECK(err.msg[0], "decode failed without a message");
		lf_ingest_batch_free(&b);
		return 0;
	}
	check_batch(&b);
	size_t n_streams = b.n_streams, n_entries = b.n_entries;

	struct lf_ingest_ctx ic = {&cfg, INT64_C(1700000000000000000), on_discard, NULL};
	struct lf_buf errors = LF_BUF_INIT;
	size_t removed = lf_ingest_validate(&ic, &b, &errors);
	FUZZ_CHECK(removed <= n_entries, "validation removed %zu of %zu entries", removed,
	           n_entries);
	check_batch(&b);
	lf_buf_free(&errors);

	/* a reused batch decodes the same body to the same counts */
	lf_ingest_batch_reset(&b, 64);
	err.msg[0] = '\0';
	st = lf_ingest_decode(body, len, "application/json", ce, MAX_DECODED, &b, &err);
	FUZZ_CHECK(st == 0, "second decode failed: %s", err.msg);
	FUZZ_CHECK(b.n_streams == n_streams && b.n_entries == n_entries,
	           "second decode: %zu/%zu streams/entries, first %zu/%zu", b.n_streams,
	           b.n_entries, n_streams, n_entries);
	lf_ingest_batch_free(&b);
	return 0;
}
