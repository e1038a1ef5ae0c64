/* tail.h — live tailing (Loki's /loki/api/v1/tail): the hub that pushes
 * notify, and one session per websocket client.
 *
 * Push side: lf_tail_on_push (the tenant's on_push hook, called by
 * lf_tenant_push after the entries are durable, no tenant lock held) does
 * nothing when no session follows the tenant (one atomic load). Otherwise,
 * for each of the tenant's sessions, it matches stream labels and the
 * query's leading line filters (thread-safe, no allocation per line) and
 * copies the matching entries into the session's inbox under the session's
 * own mutex. The inbox is bounded (LF_TAIL_INBOX_ENTRIES entries and
 * LF_TAIL_INBOX_BYTES bytes, Loki's 10 frames of 100 entries); entries that
 * do not fit are recorded as dropped (timestamp + labels, at most 1000
 * kept, as Loki) and reported in the next frame. A push never waits for a
 * client: the session thread holds the mutex only to swap the inbox.
 * The session runs the rest of the pipeline on what it takes and keeps the
 * results, ordered by timestamp, until delay_for releases them: at most
 * 20000 entries / 16 MiB more per client, beyond which entries are
 * reported dropped too. Entries dropped from the inbox carry their stream
 * labels: the pipeline after the leading line filters has not run on them.
 *
 * Session side (one thread per client, after the websocket upgrade): parse
 * the query (errors close with 1011 and the text), enforce the per-tenant
 * limit of concurrent tails (limits_config.max_concurrent_tail_requests, 10;
 * 0 = none), send the history (the newest `limit` entries in
 * [start, now), oldest first), then follow: entries are released once
 * now > ts + delay_for, in timestamp order, at most 100 per frame, one
 * `streams` element per entry; ping every second; close 1011 after
 * tail_max_duration (1h) with "reached tail max duration limit". A client's
 * close (any code) is answered with the same code and ends the session. A
 * client that stops reading for LF_TAIL_WRITE_TIMEOUT_MS is disconnected.
 *
 * Shutdown: lf_tail_hub_shutdown ends every session (close 1001) and waits
 * for their threads; it must run before lf_httpd_stop (MHD requires
 * upgraded connections to be closed first) and before lf_store_close.
 */
#ifndef LF_STORE_TAIL_H
#define LF_STORE_TAIL_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "httpd.h"
#include "store.h"

#define LF_TAIL_INBOX_ENTRIES    1000
#define LF_TAIL_INBOX_BYTES      ((size_t)8 << 20)
#define LF_TAIL_MAX_DROPPED      1000
#define LF_TAIL_MAX_PER_FRAME    100
#define LF_TAIL_MAX_DURATION_NS  (3600 * (int64_t)1000000000) /* tail_max_duration */
#define LF_TAIL_WRITE_TIMEOUT_MS 30000
#define LF_TAIL_MAX_DELAY_FOR    5

struct lf_tail_hub;

struct lf_tail_hub *lf_tail_hub_new(struct lf_store *store, const struct lf_store_config *cfg);
/* Ends every session and refuses new ones; returns when their threads are gone. */
void lf_tail_hub_shutdown(struct lf_tail_hub *h);
void lf_tail_hub_free(struct lf_tail_hub *h); /* after shutdown and lf_httpd_stop */

/* The push hook: ctx is the hub. */
void lf_tail_on_push(void *ctx, struct lf_tenant *t, const struct lf_ingest_batch *b);

/* A validated tail request (strings copied). */
struct lf_tail_request {
	const char *tenant;
	const char *query;
	int64_t start; /* ns */
	uint32_t limit;
	int delay_for; /* seconds, 0..5 */
};

/* Prepares a session and fills resp->upgrade with it (status 101 is set by
 * the caller with the handshake headers). -1 when the hub is shutting down
 * or out of memory (the caller answers 503/500). */
int lf_tail_prepare(struct lf_tail_hub *h, const struct lf_tail_request *rq,
                    struct lf_http_upgrade_cb *cb);

#endif
