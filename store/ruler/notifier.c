/* notifier.c — see notifier.h. */
#include "notifier.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "log.h"
#include "timeutil.h"

#define BATCH_MAX 64

struct item {
	char *tenant;
	char *group; /* "ns;group", for the metrics */
	char *json;
	size_t len;
};

struct lf_notifier {
	const struct lf_ruler_config *cfg;
	char **urls;
	size_t n_urls;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct item *q; /* ring */
	size_t head, n, cap;
	struct lf_metric_family *sent, *dropped, *errors, *qlen;
};

static void item_free(struct item *it)
{
	free(it->tenant);
	free(it->group);
	free(it->json);
}

void lf_notifier_send(struct lf_notifier *n, const char *tenant, const char *group,
                      const char *json, size_t len)
{
	struct item it = {strdup(tenant), strdup(group), malloc(len + 1), len};
	if (!it.tenant || !it.group || !it.json) {
		item_free(&it);
		const char *lv[] = {tenant, group};
		lf_metric_inc(n->dropped, lv);
		return;
	}
	memcpy(it.json, json, len);
	it.json[len] = 0;
	pthread_mutex_lock(&n->mu);
	if (n->n == n->cap) {
		struct item *old = &n->q[n->head];
		const char *lv[] = {old->tenant, old->group};
		lf_metric_inc(n->dropped, lv);
		item_free(old);
		n->head = (n->head + 1) % n->cap;
		n->n--;
	}
	n->q[(n->head + n->n) % n->cap] = it;
	n->n++;
	lf_metric_set(n->qlen, NULL, (double)n->n);
	pthread_cond_signal(&n->cv);
	pthread_mutex_unlock(&n->mu);
}

static size_t discard_body(char *p, size_t s, size_t nm, void *ud)
{
	(void)p, (void)ud;
	return s * nm;
}

/* 0 delivered, 1 retry, -1 give up. */
static int post(struct lf_notifier *n, const char *url, const char *tenant,
                const struct lf_buf *body, long *status, char *cerr)
{
	CURL *c = curl_easy_init();
	if (!c)
		return 1;
	const struct lf_ruler_config *cfg = n->cfg;
	struct curl_slist *h = NULL;
	char org[300];
	snprintf(org, sizeof(org), "X-Scope-OrgID: %s", tenant);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, org);
	char auth[1024];
	char *cred = NULL;
	if (cfg->am_credentials && cfg->am_credentials[0])
		cred = strdup(cfg->am_credentials);
	else if (cfg->am_credentials_file && cfg->am_credentials_file[0]) {
		FILE *f = fopen(cfg->am_credentials_file, "r");
		if (f) {
			char line[900] = "";
			if (fgets(line, sizeof(line), f))
				line[strcspn(line, "\r\n")] = 0;
			fclose(f);
			cred = strdup(line);
		}
	}
	if (cred) {
		snprintf(auth, sizeof(auth), "Authorization: %s %s",
		         cfg->am_auth_type && cfg->am_auth_type[0] ? cfg->am_auth_type : "Bearer",
		         cred);
		h = curl_slist_append(h, auth);
		free(cred);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body->len);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(cfg->notification_timeout / 1000000));
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	if (cfg->am_basic_user && cfg->am_basic_user[0]) {
		curl_easy_setopt(c, CURLOPT_USERNAME, cfg->am_basic_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->am_basic_pass ? cfg->am_basic_pass : "");
	}
	if (cfg->am_tls_ca && cfg->am_tls_ca[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->am_tls_ca);
	if (cfg->am_tls_cert && cfg->am_tls_cert[0])
		curl_easy_setopt(c, CURLOPT_SSLCERT, cfg->am_tls_cert);
	if (cfg->am_tls_key && cfg->am_tls_key[0])
		curl_easy_setopt(c, CURLOPT_SSLKEY, cfg->am_tls_key);
	if (cfg->am_tls_insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	struct curl_slist *resolve = NULL;
	(void)resolve;
	cerr[0] = 0;
	CURLcode rc = curl_easy_perform(c);
	*status = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	else if (!cerr[0])
		snprintf(cerr, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK)
		return 1;
	if (*status >= 200 && *status < 300)
		return 0;
	if (*status == 429 || *status >= 500)
		return 1;
	return -1;
}

static bool wait_ns(struct lf_notifier *n, int64_t ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + ns;
	ts.tv_sec = t / 1000000000;
	ts.tv_nsec = t % 1000000000;
	pthread_mutex_lock(&n->mu);
	while (!n->stop && pthread_cond_timedwait(&n->cv, &n->mu, &ts) == 0)
		;
	bool stop = n->stop;
	pthread_mutex_unlock(&n->mu);
	return stop;
}

static void *run(void *arg)
{
	struct lf_notifier *n = arg;
	struct item batch[BATCH_MAX];
	size_t nb = 0;
	struct lf_buf body = LF_BUF_INIT;
	int64_t backoff = 100 * 1000000LL;
	for (;;) {
		pthread_mutex_lock(&n->mu);
		while (!n->stop && n->n == 0 && nb == 0)
			pthread_cond_wait(&n->cv, &n->mu);
		bool stopping = n->stop;
		if (nb == 0) {
			/* one tenant per batch */
			while (n->n && nb < BATCH_MAX) {
				struct item *it = &n->q[n->head];
				if (nb && strcmp(it->tenant, batch[0].tenant))
					break;
				batch[nb++] = *it;
				n->head = (n->head + 1) % n->cap;
				n->n--;
			}
			lf_metric_set(n->qlen, NULL, (double)n->n);
		}
		pthread_mutex_unlock(&n->mu);
		if (nb == 0)
			break; /* stopping with nothing left */
		lf_buf_reset(&body);
		lf_buf_putc(&body, '[');
		for (size_t i = 0; i < nb; i++) {
			if (i)
				lf_buf_putc(&body, ',');
			lf_buf_append(&body, batch[i].json, batch[i].len);
		}
		lf_buf_putc(&body, ']');
		int delivered = 0, fatal = 0;
		for (size_t u = 0; u < n->n_urls; u++) {
			long st;
			char cerr[CURL_ERROR_SIZE];
			int r = post(n, n->urls[u], batch[0].tenant, &body, &st, cerr);
			if (r == 0)
				delivered++;
			else {
				const char *lv[] = {n->urls[u]};
				lf_metric_inc(n->errors, lv);
				if (r < 0)
					fatal++;
				lf_warn("sending %zu alerts to Alertmanager failed: url=%s "
				        "status=%ld "
				        "err: %s%s",
				        nb, n->urls[u], st, cerr,
				        r < 0 ? " (dropped)" : " (will retry)");
			}
		}
		if (delivered || fatal == (int)n->n_urls || stopping) {
			for (size_t i = 0; i < nb; i++) {
				const char *lv[] = {batch[i].tenant, batch[i].group};
				lf_metric_inc(delivered ? n->sent : n->dropped, lv);
				item_free(&batch[i]);
			}
			nb = 0;
			backoff = 100 * 1000000LL;
			if (stopping) {
				pthread_mutex_lock(&n->mu);
				bool more = n->n > 0;
				pthread_mutex_unlock(&n->mu);
				if (!more || !delivered)
					break;
			}
			continue;
		}
		if (wait_ns(n, backoff))
			continue; /* one last attempt, then out */
		backoff *= 2;
		if (backoff > 10 * 1000000000LL)
			backoff = 10 * 1000000000LL;
	}
	for (size_t i = 0; i < nb; i++)
		item_free(&batch[i]);
	lf_buf_free(&body);
	return NULL;
}

int lf_notifier_start(const struct lf_ruler_config *cfg, struct lf_metrics *reg,
                      struct lf_notifier **out, struct lf_error *err)
{
	struct lf_notifier *n = calloc(1, sizeof(*n));
	if (!n)
		return lf_err(err, "out of memory");
	n->cfg = cfg;
	n->cap = (size_t)cfg->notification_queue_capacity;
	n->q = calloc(n->cap, sizeof(*n->q));
	/* split the URL list */
	const char *s = cfg->alertmanager_url;
	size_t cnt = 1;
	for (const char *p = s; *p; p++)
		cnt += *p == ',';
	n->urls = calloc(cnt + 1, sizeof(*n->urls));
	if (!n->q || !n->urls) {
		free(n->q);
		free(n->urls);
		free(n);
		return lf_err(err, "out of memory");
	}
	while (*s) {
		size_t l = strcspn(s, ",");
		const char *b = s, *e = s + l;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '/'))
			e--;
		if (e > b) {
			struct lf_buf u = LF_BUF_INIT;
			lf_buf_append(&u, b, (size_t)(e - b));
			lf_buf_appends(&u, "/api/v2/alerts");
			n->urls[n->n_urls++] = lf_buf_take(&u);
		}
		s += l;
		if (*s == ',')
			s++;
	}
	const char *tl[] = {"tenant", "rule_group", NULL};
	const char *ul[] = {"alertmanager", NULL};
	n->sent =
	        lf_metrics_family(reg, LF_METRIC_COUNTER, "logferry_store_ruler_alerts_sent_total",
	                          "Alerts delivered to Alertmanager.", tl, NULL, 0);
	n->dropped = lf_metrics_family(
	        reg, LF_METRIC_COUNTER, "logferry_store_ruler_alerts_dropped_total",
	        "Alerts dropped (queue full or refused by Alertmanager).", tl, NULL, 0);
	n->errors = lf_metrics_family(reg, LF_METRIC_COUNTER,
	                              "logferry_store_ruler_notification_errors_total",
	                              "Failed POSTs to an Alertmanager.", ul, NULL, 0);
	n->qlen = lf_metrics_family(reg, LF_METRIC_GAUGE,
	                            "logferry_store_ruler_notification_queue_length",
	                            "Alerts waiting to be sent.", NULL, NULL, 0);
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->cv, NULL);
	if (pthread_create(&n->th, NULL, run, n) != 0) {
		lf_notifier_stop(n);
		return lf_err(err, "cannot start the notifier thread");
	}
	*out = n;
	return 0;
}

void lf_notifier_stop(struct lf_notifier *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->mu);
	bool started = !n->stop;
	n->stop = true;
	pthread_cond_broadcast(&n->cv);
	pthread_mutex_unlock(&n->mu);
	if (started && n->th)
		pthread_join(n->th, NULL);
	while (n->n) {
		item_free(&n->q[n->head]);
		n->head = (n->head + 1) % n->cap;
		n->n--;
	}
	for (size_t i = 0; i < n->n_urls; i++)
		free(n->urls[i]);
	free(n->urls);
	free(n->q);
	pthread_mutex_destroy(&n->mu);
	pthread_cond_destroy(&n->cv);
	free(n);
}
