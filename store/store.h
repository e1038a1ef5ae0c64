/* store.h — the store as a whole: the tenants (one directory each under
 * <path_prefix>/tenants/), the store's metrics, and the background flusher
 * (chunk cutting, WAL checkpoints, retention).
 *
 * Tenants are opened at startup (WAL replay) and created on first push.
 * The tenant list only grows while the store runs, guarded by `mu`.
 */
#ifndef LF_STORE_STORE_H
#define LF_STORE_STORE_H

#include <pthread.h>
#include <stdbool.h>

#include "config.h"
#include "error.h"
#include "metrics.h"
#include "tenant.h"

struct lf_store {
	const struct lf_store_config *cfg;
	struct lf_metrics *reg;
	struct lf_store_metrics m;
	char *tenants_dir;
	pthread_mutex_t mu;
	struct lf_tenant **tenants;
	size_t n_tenants, cap_tenants;
	pthread_t flusher;
	bool flusher_running;
	pthread_mutex_t fmu;
	pthread_cond_t fcv;
	bool stop;
	bool kicked;                /* a head is full: flush without waiting for the tick */
	_Atomic int64_t head_bytes; /* every tenant's heads (ingester.max_head_bytes) */
	/* every tenant's on_push hook (tenant.h), see lf_store_set_push_hook */
	void (*on_push)(void *ctx, struct lf_tenant *t, const struct lf_ingest_batch *b);
	void *on_push_ctx;
};

/* Creates the data directories and opens every existing tenant. */
int lf_store_open(const struct lf_store_config *cfg, struct lf_metrics *reg, struct lf_store **out,
                  struct lf_error *err);
/* Returns the tenant, opening it when create is set (id must be valid:
 * lf_tenant_id_valid). NULL without create means "no data". */
struct lf_tenant *lf_store_tenant(struct lf_store *s, const char *id, bool create,
                                  struct lf_error *err);
/* Sets the push hook of every open and future tenant (live tails). Call
 * before the HTTP server starts: pushes read the hook without a lock. */
void lf_store_set_push_hook(struct lf_store *s,
                            void (*fn)(void *ctx, struct lf_tenant *t,
                                       const struct lf_ingest_batch *b),
                            void *ctx);
int lf_store_start_flusher(struct lf_store *s, struct lf_error *err);
/* One flush pass over every tenant (the flusher's loop body). */
void lf_store_flush_all(struct lf_store *s, bool force);
/* Stops the flusher, flushes every head to chunks, closes everything. */
void lf_store_close(struct lf_store *s);

#endif
