/* remote_write.c — see remote_write.h. */
#include "remote_write.h"

#include <curl/curl.h>
#include <pthread.h>
#include <snappy-c.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "remote.pb-c.h"
#include "timeutil.h"

#define RW_QUEUE_MAX 10000
#define RW_BATCH_MAX 500

struct rw_item {
	char *tenant;
	struct lf_labels labels;
	double value;
	int64_t ts_ms;
};

struct lf_rw {
	const struct lf_ruler_config *cfg;
	pthread_t th;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct rw_item *q;
	size_t head, n;
	struct lf_metric_family *sent, *dropped, *failed;
};

static void item_free(struct rw_item *it)
{
	free(it->tenant);
	lf_labels_free(&it->labels);
}

void lf_rw_push(struct lf_rw *w, const char *tenant, const struct lf_sample *s, size_t n,
                int64_t ts_ms)
{
	const char *lv[] = {tenant};
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < n; i++) {
		struct rw_item it = {strdup(tenant), LF_LABELS_INIT, s[i].value, ts_ms};
		if (!it.tenant || lf_labels_copy(&it.labels, &s[i].metric) < 0) {
			item_free(&it);
			lf_metric_inc(w->dropped, lv);
			continue;
		}
		if (w->n == RW_QUEUE_MAX) {
			const char *ov[] = {w->q[w->head].tenant};
			lf_metric_inc(w->dropped, ov);
			item_free(&w->q[w->head]);
			w->head = (w->head + 1) % RW_QUEUE_MAX;
			w->n--;
		}
		w->q[(w->head + w->n) % RW_QUEUE_MAX] = it;
		w->n++;
	}
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int lf_rw_encode(const struct lf_sample *s, size_t n, int64_t ts_ms, struct lf_buf *out)
{
	int rc = -1;
	size_t nl = 0;
	for (size_t i = 0; i < n; i++)
		nl += s[i].metric.n;
	Prometheus__TimeSeries *ts = calloc(n ? n : 1, sizeof(*ts));
	Prometheus__TimeSeries **tsp = calloc(n ? n : 1, sizeof(*tsp));
	Prometheus__Sample *sm = calloc(n ? n : 1, sizeof(*sm));
	Prometheus__Sample **smp = calloc(n ? n : 1, sizeof(*smp));
	Prometheus__Label *lb = calloc(nl ? nl : 1, sizeof(*lb));
	Prometheus__Label **lbp = calloc(nl ? nl : 1, sizeof(*lbp));
	if (!ts || !tsp || !sm || !smp || !lb || !lbp)
		goto done;
	size_t li = 0;
	for (size_t i = 0; i < n; i++) {
		prometheus__time_series__init(&ts[i]);
		prometheus__sample__init(&sm[i]);
		sm[i].value = s[i].value;
		sm[i].timestamp = ts_ms;
		smp[i] = &sm[i];
		ts[i].n_samples = 1;
		ts[i].samples = &smp[i];
		ts[i].labels = &lbp[li];
		/* remote write wants labels sorted by name: lf_labels are sorted */
		for (size_t j = 0; j < s[i].metric.n; j++) {
			prometheus__label__init(&lb[li]);
			lb[li].name = s[i].metric.v[j].name;
			lb[li].value = s[i].metric.v[j].value;
			lbp[li] = &lb[li];
			li++;
		}
		ts[i].n_labels = s[i].metric.n;
		tsp[i] = &ts[i];
	}
	Prometheus__WriteRequest wr = PROMETHEUS__WRITE_REQUEST__INIT;
	wr.n_timeseries = n;
	wr.timeseries = tsp;
	size_t sz = prometheus__write_request__get_packed_size(&wr);
	lf_buf_reset(out);
	if (lf_buf_reserve(out, sz + 1) < 0)
		goto done;
	prometheus__write_request__pack(&wr, (uint8_t *)out->data);
	out->len = sz;
	rc = 0;
done:
	free(ts);
	free(tsp);
	free(sm);
	free(smp);
	free(lb);
	free(lbp);
	return rc;
}

static size_t discard_body(char *p, size_t s, size_t nm, void *ud)
{
	(void)p, (void)ud;
	return s * nm;
}

/* 0 sent, 1 retry, -1 drop */
static int post(struct lf_rw *w, const char *tenant, const char *body, size_t len)
{
	CURL *c = curl_easy_init();
	if (!c)
		return 1;
	struct curl_slist *h = NULL;
	char org[300];
	snprintf(org, sizeof(org), "X-Scope-OrgID: %s", tenant);
	h = curl_slist_append(h, "Content-Type: application/x-protobuf");
	h = curl_slist_append(h, "Content-Encoding: snappy");
	h = curl_slist_append(h, "X-Prometheus-Remote-Write-Version: 0.1.0");
	h = curl_slist_append(h, "User-Agent: logferry-store-ruler");
	h = curl_slist_append(h, org);
	char cerr[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, w->cfg->rw_url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(w->cfg->rw_timeout / 1000000));
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	CURLcode rc = curl_easy_perform(c);
	long st = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (rc == CURLE_OK && st >= 200 && st < 300)
		return 0;
	lf_warn("ruler remote write failed: url=%s status=%ld err: %s", w->cfg->rw_url, st,
	        rc == CURLE_OK ? "" : (cerr[0] ? cerr : curl_easy_strerror(rc)));
	if (rc != CURLE_OK || st == 429 || st >= 500)
		return 1;
	return -1;
}

static bool wait_ns(struct lf_rw *w, int64_t ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + ns;
	ts.tv_sec = t / 1000000000;
	ts.tv_nsec = t % 1000000000;
	pthread_mutex_lock(&w->mu);
	while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &ts) == 0)
		;
	bool stop = w->stop;
	pthread_mutex_unlock(&w->mu);
	return stop;
}

static void *run(void *arg)
{
	struct lf_rw *w = arg;
	struct rw_item *batch = calloc(RW_BATCH_MAX, sizeof(*batch));
	struct lf_sample *smp = calloc(RW_BATCH_MAX, sizeof(*smp));
	struct lf_buf pb = LF_BUF_INIT;
	char *comp = NULL;
	size_t comp_cap = 0;
	size_t nb = 0;
	int64_t backoff = 100 * 1000000LL;
	if (!batch || !smp)
		goto out;
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (!w->stop && w->n == 0 && nb == 0)
			pthread_cond_wait(&w->cv, &w->mu);
		bool stopping = w->stop;
		if (nb == 0)
			while (w->n && nb < RW_BATCH_MAX) {
				struct rw_item *it = &w->q[w->head];
				if (nb && (strcmp(it->tenant, batch[0].tenant) ||
				           it->ts_ms != batch[0].ts_ms))
					break;
				batch[nb++] = *it;
				w->head = (w->head + 1) % RW_QUEUE_MAX;
				w->n--;
			}
		pthread_mutex_unlock(&w->mu);
		if (nb == 0)
			break;
		for (size_t i = 0; i < nb; i++) {
			smp[i].metric = batch[i].labels;
			smp[i].value = batch[i].value;
		}
		int r = -1;
		if (lf_rw_encode(smp, nb, batch[0].ts_ms, &pb) == 0) {
			size_t max = snappy_max_compressed_length(pb.len);
			if (max > comp_cap) {
				char *nc = realloc(comp, max);
				if (nc) {
					comp = nc;
					comp_cap = max;
				}
			}
			size_t cl = comp_cap;
			if (comp && max <= comp_cap &&
			    snappy_compress(pb.data, pb.len, comp, &cl) == SNAPPY_OK)
				r = post(w, batch[0].tenant, comp, cl);
		}
		const char *lv[] = {batch[0].tenant};
		if (r == 1 && !stopping) {
			lf_metric_inc(w->failed, lv);
			wait_ns(w, backoff);
			backoff = backoff * 2 > 10 * 1000000000LL ? 10 * 1000000000LL : backoff * 2;
			continue;
		}
		lf_metric_add(r == 0 ? w->sent : w->dropped, lv, (double)nb);
		for (size_t i = 0; i < nb; i++)
			item_free(&batch[i]);
		nb = 0;
		backoff = 100 * 1000000LL;
		if (stopping)
			break;
	}
out:
	for (size_t i = 0; batch && i < nb; i++)
		item_free(&batch[i]);
	free(batch);
	free(smp);
	free(comp);
	lf_buf_free(&pb);
	return NULL;
}

int lf_rw_start(const struct lf_ruler_config *cfg, struct lf_metrics *reg, struct lf_rw **out,
                struct lf_error *err)
{
	struct lf_rw *w = calloc(1, sizeof(*w));
	if (!w || !(w->q = calloc(RW_QUEUE_MAX, sizeof(*w->q)))) {
		free(w);
		return lf_err(err, "out of memory");
	}
	w->cfg = cfg;
	const char *tl[] = {"tenant", NULL};
	w->sent = lf_metrics_family(reg, LF_METRIC_COUNTER,
	                            "logferry_store_ruler_remote_write_samples_total",
	                            "Samples delivered by remote write.", tl, NULL, 0);
	w->dropped = lf_metrics_family(reg, LF_METRIC_COUNTER,
	                               "logferry_store_ruler_remote_write_samples_dropped_total",
	                               "Samples dropped (queue full or refused).", tl, NULL, 0);
	w->failed = lf_metrics_family(reg, LF_METRIC_COUNTER,
	                              "logferry_store_ruler_remote_write_failures_total",
	                              "Failed remote-write POSTs (retried).", tl, NULL, 0);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->th, NULL, run, w) != 0) {
		lf_rw_stop(w);
		return lf_err(err, "cannot start the remote-write thread");
	}
	w->started = true;
	*out = w;
	return 0;
}

void lf_rw_stop(struct lf_rw *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (w->started)
		pthread_join(w->th, NULL);
	while (w->n) {
		item_free(&w->q[w->head]);
		w->head = (w->head + 1) % RW_QUEUE_MAX;
		w->n--;
	}
	free(w->q);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
