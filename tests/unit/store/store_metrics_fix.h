/* store_metrics_fix.h — unit-test helper: the store's metric families
 * registered in reg (names m0.., d1, d2), for tests that open a tenant
 * without a whole store. Header-only, included by the store tests. */
#ifndef LF_TEST_STORE_METRICS_FIX_H
#define LF_TEST_STORE_METRICS_FIX_H

#include <stdio.h>

#include "metrics.h"
#include "tenant.h"

static inline void store_metrics(struct lf_metrics *reg, struct lf_store_metrics *m)
{
	static const char *const t1[] = {"tenant", NULL};
	static const char *const t2[] = {"reason", "tenant", NULL};
	struct lf_metric_family **fams[] = {
	        &m->lines_received, &m->bytes_received, &m->chunks_flushed,    &m->chunk_bytes,
	        &m->chunks_deleted, &m->wal_replayed,   &m->wal_skipped_bytes, &m->corrupt_blocks};
	char name[32];
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		snprintf(name, sizeof(name), "m%zu", i);
		*fams[i] = lf_metrics_family(reg, LF_METRIC_COUNTER, name, "h", t1, NULL, 0);
	}
	m->discarded_samples = lf_metrics_family(reg, LF_METRIC_COUNTER, "d1", "h", t2, NULL, 0);
	m->discarded_bytes = lf_metrics_family(reg, LF_METRIC_COUNTER, "d2", "h", t2, NULL, 0);
}

#endif
