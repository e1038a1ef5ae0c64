/* client.h — one Loki client of the agent: batching, encoding, sending with
 * retries (DESIGN.md §3 "Batcher/sender"; Promtail's `clients[]`).
 *
 * What it owns: a bounded in-memory queue of entries copied from the event
 * loop, per-tenant batches (streams grouped by their sorted label set),
 * snappy(protobuf) encoding (common/push.h), one sender thread with a curl
 * multi handle, exponential backoff, drop accounting and the client metrics
 * (Promtail's names with the logferry_ prefix).
 *
 * Threads: lf_client_enqueue, lf_client_drain_acks and lf_client_stop/free
 * are called from ONE thread (the agent's event loop); lf_client_busy and
 * lf_client_queue_bytes from any thread.
 * Everything else happens on the client's own sender thread. The two sides
 * meet only in the input queue and the ack queue (each behind a mutex), so
 * there is no shared mutable state beyond those.
 *
 * Ordering: at most one request per tenant is in flight and batches of a
 * tenant are sent in order (Loki's per-stream ordering window, pain point
 * 10), but tenants do not wait for each other: a tenant that is being
 * retried (429/5xx) does not hold back another tenant's batches (pain point
 * 11, Promtail's head-of-line blocking). So acks of different tenants can
 * come back out of enqueue order; within a tenant they are in order.
 *
 * At-least-once: every entry handed to lf_client_enqueue comes back exactly
 * once through lf_client_drain_acks — delivered (2xx) or dropped (4xx,
 * retries exhausted, line too long, stream limit) — except entries still
 * undelivered when lf_client_stop's deadline passes: those are never acked,
 * so the tailer does not persist positions past them.
 */
#ifndef LF_CLIENT_H
#define LF_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "labels.h"
#include "metrics.h"

#include "../../pipeline/entry.h"

/* Configuration of one client. Every pointer is BORROWED: lf_client_new
 * copies what it keeps, so the caller may free its config right after
 * (e.g. point straight into the agent's struct lf_client_yaml).
 * Start from lf_client_config_init(), which fills in Promtail's defaults. */
struct lf_client_config {
	const char *url;        /* required: full push URL, http:// or https:// */
	const char *tenant_id;  /* NULL or "" = no X-Scope-OrgID (unless the
	                         * entry carries __tenant_id__) */
	int64_t batchwait_ns;   /* 1s: flush when the oldest entry is this old */
	int64_t batchsize;      /* 1048576: bytes of line + structured metadata */
	int64_t timeout_ns;     /* 10s: per HTTP request */
	int64_t backoff_min_ns; /* 500ms */
	int64_t backoff_max_ns; /* 5m */
	int64_t max_retries;    /* 10: sends of a batch in all (Promtail/dskit
	                         * counting: 10 sends, 0.5s..256s waits); then
	                         * drop. 0 = retry forever (backpressure then
	                         * holds the tailer instead of losing lines) */
	/* Merged into every entry; the entry's own label wins on conflict
	 * (Promtail's externalLabels.Merge(entry.Labels)). NULL = none. */
	const struct lf_labels *external_labels;
	/* Extra request headers, name -> value. A header the client sets itself
	 * (Content-Type, User-Agent, and X-Scope-OrgID when the batch has a
	 * tenant) is not overridden: the custom one is skipped, as Promtail
	 * does (warned once). NULL = none. */
	const struct lf_labels *headers;
	const char *basic_auth_username; /* NULL = no basic auth */
	const char *basic_auth_password;
	const char *basic_auth_password_file; /* re-read (trimmed) per request,
	                                       * so rotated secrets apply */
	const char *bearer_token;
	const char *bearer_token_file; /* re-read (trimmed) per request */
	const char *proxy_url;         /* NULL = none (curl's env proxies are
	                                * disabled, as Go's client ignores them
	                                * unless configured) */
	const char *tls_ca_file, *tls_cert_file, *tls_key_file, *tls_server_name;
	bool tls_insecure_skip_verify;
	bool drop_rate_limited_batches; /* false; true: a 429'd batch is dropped
	                                 * at once (reason rate_limited)
	                                 * instead of retried */

	/* limits_config parts Promtail applies in its client: */
	int64_t max_streams;         /* 0 = off: streams per batch; over it the
	                              * entry is dropped (reason stream_limited) */
	int64_t max_line_size;       /* 0 = off: bytes */
	bool max_line_size_truncate; /* false: drop (line_too_long); true: cut */

	/* logferry's own: bound of the queue (bytes of queued + in-flight
	 * entries). Over it lf_client_enqueue returns LF_CLIENT_BUSY, and a
	 * tenant's batch that nothing is in flight ahead of is sent at once
	 * (it cannot grow until an ack frees room) instead of after
	 * batchwait. Size it for one batch in flight plus a full one building,
	 * so the next batch is ready when a request returns. */
	int64_t max_queue_bytes; /* 16 MiB */
	/* For log messages; NULL = the URL's host. */
	const char *name;
};

void lf_client_config_init(struct lf_client_config *cfg);

/* lf_client_enqueue results. LF_CLIENT_BUSY: the entry was taken, but the
 * queue is now at/over max_queue_bytes: stop feeding this client until
 * lf_client_busy() is false (watch lf_client_ack_fd: space frees up exactly
 * when acks are produced). The bound is a contract, not a wall: a caller
 * that keeps enqueuing while busy grows memory past it. */
#define LF_CLIENT_OK   0
#define LF_CLIENT_BUSY 1

struct lf_client;

/* Creates a client and starts its sender thread. `metrics` is the registry
 * the client's families are registered in (shared by all clients; the
 * `host` label tells them apart); NULL = a private registry.
 * Fails (message names the key/value) on a missing or non-http(s) URL or
 * an invalid setting (batchsize <= 0, ...). */
int lf_client_new(const struct lf_client_config *cfg, struct lf_metrics *metrics,
                  struct lf_client **out, struct lf_error *err);

/* Copies the entry (line, labels merged with external labels, structured
 * metadata, ts, origin/seq_first/seq_last) into the queue. The entry is not
 * referenced after return. Returns LF_CLIENT_OK, LF_CLIENT_BUSY (taken;
 * see above), or -1 (not taken: out of memory or client stopping; err set).
 * An entry dropped here (line too long) is taken and acked as dropped. */
int lf_client_enqueue(struct lf_client *c, const struct lf_entry *e, struct lf_error *err);

/* True while the queue is at/over max_queue_bytes. */
bool lf_client_busy(struct lf_client *c);

/* An eventfd that is readable while acks are pending. Add it to epoll
 * (EPOLLIN) and call lf_client_drain_acks when it fires. */
int lf_client_ack_fd(const struct lf_client *c);

/* Called once per finished entry, on the caller's thread. delivered: true
 * = acknowledged by the server, false = dropped for good (counted in
 * logferry_dropped_entries_total). Either way the entry is finished. */
typedef void (*lf_client_ack_fn)(void *ctx, void *origin, uint64_t seq_first, uint64_t seq_last,
                                 bool delivered);

/* Calls fn for every pending ack (in the order the sender finished them)
 * and resets the eventfd. Returns the number of acks delivered. */
size_t lf_client_drain_acks(struct lf_client *c, lf_client_ack_fn fn, void *ctx);

/* Bytes currently queued or in flight (the gauge logferry_client_queue_bytes). */
int64_t lf_client_queue_bytes(struct lf_client *c);

/* Flushes everything queued now (batchwait no longer waited for) and keeps
 * sending/retrying until all is finished or `timeout_ns` has passed; then
 * aborts what is left (those entries are NOT acked) and joins the sender
 * thread. Acks of what finished remain drainable until lf_client_free.
 * Returns the number of entries left unacknowledged (0 = all finished).
 * Idempotent; enqueue fails afterwards. */
uint64_t lf_client_stop(struct lf_client *c, int64_t timeout_ns);

/* Starts the same flush without waiting for it, so several clients flush
 * in parallel: call it on every client, then lf_client_stop on each (the
 * earlier of the two deadlines applies). */
void lf_client_stop_begin(struct lf_client *c, int64_t timeout_ns);

/* Stops (with a zero timeout if not stopped yet) and frees. NULL ok. */
void lf_client_free(struct lf_client *c);

/* ---- exposed for tests and for the agent's messages ---- */

/* The delay before retry number `attempt` (1 = first retry):
 * min_period * 2^(attempt-1), capped at max_period. */
int64_t lf_client_backoff_ns(const struct lf_client_config *cfg, int attempt);

/* The `host` metric label of a URL (host[:port], as Go's URL.Host).
 * Writes "" when the URL has no host. */
void lf_client_url_host(const char *url, char *out, size_t outsz);

#endif
