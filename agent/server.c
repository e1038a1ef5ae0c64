/* server.c — see server.h. */
#include "server.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "log.h"
#include "status_html.h"

/* The discovered targets of one sync (discovery/sdlist.h records), shared
 * read-only by the requests that render it. */
struct sd_snap {
	atomic_int refs;
	struct lf_buf data;
	size_t omitted;
};

static void sd_snap_unref(struct sd_snap *sn)
{
	if (sn && atomic_fetch_sub(&sn->refs, 1) == 1) {
		lf_buf_free(&sn->data);
		free(sn);
	}
}

struct lf_agent_server {
	struct lf_httpd *httpd;
	struct lf_metrics *metrics;
	struct lf_agent_server_ops ops;
	atomic_bool health_check_target;
	atomic_bool register_instrumentation;
	atomic_bool enable_runtime_reload;
	pthread_mutex_t mu; /* guards sd and config */
	struct sd_snap *sd;
	struct lf_buf config; /* rendered YAML, secrets masked */
};

/* Browsers (Accept: text/html) get HTML; tools get JSON as before.
 * ?format=json|html overrides. */
static bool wants_html(const struct lf_http_request *req)
{
	const char *f = lf_http_arg(req, "format");
	if (f && *f)
		return strcmp(f, "html") == 0;
	const char *acc = lf_http_header(req, "Accept");
	return acc && strstr(acc, "text/html") != NULL;
}

static void read_query(const struct lf_http_request *req, struct lf_status_query *q)
{
	q->search = lf_http_arg(req, "search");
	const char *u = lf_http_arg(req, "unready");
	q->unready = u && *u && strcmp(u, "0") != 0 && strcmp(u, "false") != 0;
	q->job = lf_http_arg(req, "job");
	const char *pg = lf_http_arg(req, "page");
	q->page = pg ? strtoul(pg, NULL, 10) : 0;
	if (q->page > 1000000)
		q->page = 0;
}

static struct sd_snap *sd_get(struct lf_agent_server *s)
{
	pthread_mutex_lock(&s->mu);
	struct sd_snap *sn = s->sd;
	if (sn)
		atomic_fetch_add(&sn->refs, 1);
	pthread_mutex_unlock(&s->mu);
	return sn;
}

static void html_resp(struct lf_http_response *resp)
{
	resp->status = 200;
	resp->content_type = "text/html; charset=utf-8";
}

static void handle(void *ctx, const struct lf_http_request *req, struct lf_http_response *resp)
{
	struct lf_agent_server *s = ctx;
	bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;

	if (strcmp(req->path, "/ready") == 0 && get) {
		if (!atomic_load(&s->health_check_target) || s->ops.targets(s->ops.ctx) > 0)
			lf_http_text(resp, 200, "Ready");
		else
			lf_http_text(resp, 500, "%s", LF_READY_NOT_READY_TEXT);
		return;
	}
	if (strcmp(req->path, "/metrics") == 0 && get) {
		if (!atomic_load(&s->register_instrumentation)) {
			lf_http_text(resp, 404, "404 page not found");
			return;
		}
		resp->status = 200;
		resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
		if (lf_metrics_render(s->metrics, &resp->body) < 0)
			lf_http_text(resp, 500, "out of memory");
		return;
	}
	if (strcmp(req->path, "/targets") == 0 && get) {
		if (wants_html(req)) {
			struct lf_buf js = LF_BUF_INIT;
			struct lf_status_query q;
			read_query(req, &q);
			s->ops.targets_json(s->ops.ctx, &js, true);
			html_resp(resp);
			lf_status_targets_html(&resp->body, js.data ? js.data : "", js.len, &q);
			lf_buf_free(&js);
			return;
		}
		resp->status = 200;
		resp->content_type = "application/json";
		s->ops.targets_json(s->ops.ctx, &resp->body, false);
		return;
	}
	if (strcmp(req->path, "/service-discovery") == 0 && get) {
		struct sd_snap *sn = sd_get(s);
		const char *d = sn && sn->data.data ? sn->data.data : "";
		size_t len = sn ? sn->data.len : 0, omitted = sn ? sn->omitted : 0;
		if (wants_html(req)) {
			struct lf_status_query q;
			read_query(req, &q);
			html_resp(resp);
			lf_status_sd_html(&resp->body, d, len, omitted, &q);
		} else {
			resp->status = 200;
			resp->content_type = "application/json";
			lf_status_sd_json(&resp->body, d, len, omitted);
		}
		sd_snap_unref(sn);
		return;
	}
	if (strcmp(req->path, "/config") == 0 && get) {
		struct lf_buf y = LF_BUF_INIT;
		pthread_mutex_lock(&s->mu);
		lf_buf_append(&y, s->config.data ? s->config.data : "", s->config.len);
		pthread_mutex_unlock(&s->mu);
		const char *f = lf_http_arg(req, "format");
		if (wants_html(req) && !(f && strcmp(f, "yaml") == 0)) {
			html_resp(resp);
			lf_status_config_html(&resp->body, y.data ? y.data : "", y.len);
		} else {
			resp->status = 200;
			resp->content_type = "text/plain; charset=utf-8";
			lf_buf_append(&resp->body, y.data ? y.data : "", y.len);
		}
		lf_buf_free(&y);
		return;
	}
	if (strcmp(req->path, "/") == 0 && get) {
		resp->status = 303;
		lf_http_set_header(resp, "Location", "/targets");
		lf_buf_appends(&resp->body, "<a href=\"/targets\">See Other</a>.\n");
		resp->content_type = "text/html; charset=utf-8";
		return;
	}
	if (strcmp(req->path, "/reload") == 0) {
		if (!atomic_load(&s->enable_runtime_reload)) {
			lf_http_text(resp, 400,
			             "failed to reload config: runtime reload is disabled "
			             "(server.enable_runtime_reload)");
			return;
		}
		struct lf_buf e = LF_BUF_INIT;
		if (s->ops.reload(s->ops.ctx, &e) < 0)
			lf_http_text(resp, 500, "failed to reload config: %s",
			             e.data ? e.data : "unknown error");
		else
			lf_http_text(resp, 200, "config reloaded");
		lf_buf_free(&e);
		return;
	}
	lf_http_text(resp, 404, "404 page not found");
}

void lf_agent_server_update(struct lf_agent_server *s, const struct lf_server_config *cfg)
{
	atomic_store(&s->health_check_target, cfg->health_check_target);
	atomic_store(&s->register_instrumentation, cfg->register_instrumentation);
	atomic_store(&s->enable_runtime_reload, cfg->enable_runtime_reload);
}

int lf_agent_server_start(const struct lf_server_config *cfg, struct lf_metrics *metrics,
                          const struct lf_agent_server_ops *ops, struct lf_agent_server **out,
                          struct lf_error *err)
{
	struct lf_agent_server *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->metrics = metrics;
	s->ops = *ops;
	pthread_mutex_init(&s->mu, NULL);
	lf_agent_server_update(s, cfg);
	struct lf_httpd_config hc = {
	        .address = cfg->http_listen_address,
	        .port = (int)cfg->http_listen_port,
	        .max_body = 64 * 1024,
	        .threads = 2,
	};
	if (lf_httpd_start(&hc, handle, s, &s->httpd, err) < 0) {
		pthread_mutex_destroy(&s->mu);
		free(s);
		return lf_err_prefix(err, "server");
	}
	lf_info("http server listening on %s:%d",
	        cfg->http_listen_address[0] ? cfg->http_listen_address : "0.0.0.0",
	        lf_httpd_port(s->httpd));
	*out = s;
	return 0;
}

int lf_agent_server_port(const struct lf_agent_server *s)
{
	return lf_httpd_port(s->httpd);
}

void lf_agent_server_stop(struct lf_agent_server *s)
{
	if (!s)
		return;
	lf_httpd_stop(s->httpd);
	sd_snap_unref(s->sd);
	lf_buf_free(&s->config);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void lf_agent_server_set_config(struct lf_agent_server *s, const struct lf_agent_config *cfg)
{
	if (!s)
		return;
	struct lf_buf y = LF_BUF_INIT;
	if (lf_agent_config_render(cfg, &y) < 0 || !y.data) {
		lf_buf_free(&y);
		return;
	}
	pthread_mutex_lock(&s->mu);
	struct lf_buf old = s->config;
	s->config = y;
	pthread_mutex_unlock(&s->mu);
	lf_buf_free(&old);
}

void lf_agent_server_set_discovered(struct lf_agent_server *s, struct lf_buf *sd, size_t omitted)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	bool same = s->sd && s->sd->omitted == omitted && s->sd->data.len == sd->len &&
	            (sd->len == 0 || memcmp(s->sd->data.data, sd->data, sd->len) == 0);
	pthread_mutex_unlock(&s->mu);
	if (same)
		return;
	struct sd_snap *sn = calloc(1, sizeof(*sn));
	if (!sn)
		return;
	atomic_init(&sn->refs, 1);
	sn->data = *sd; /* take the buffer; discovery grows a new one */
	char *fit = sn->data.cap > sn->data.len + 4096 ? realloc(sn->data.data, sn->data.len + 1)
	                                               : NULL;
	if (fit) {
		sn->data.data = fit;
		sn->data.cap = sn->data.len + 1;
	}
	sn->omitted = omitted;
	memset(sd, 0, sizeof(*sd));
	pthread_mutex_lock(&s->mu);
	struct sd_snap *old = s->sd;
	s->sd = sn;
	pthread_mutex_unlock(&s->mu);
	sd_snap_unref(old);
}
