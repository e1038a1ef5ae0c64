/* server.c — see server.h. */
#include "server.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "log.h"

struct lf_agent_server {
	struct lf_httpd *httpd;
	struct lf_metrics *metrics;
	struct lf_agent_server_ops ops;
	atomic_bool health_check_target;
	atomic_bool register_instrumentation;
	atomic_bool enable_runtime_reload;
};

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
		resp->status = 200;
		resp->content_type = "application/json";
		s->ops.targets_json(s->ops.ctx, &resp->body);
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
		s->ops.reload(s->ops.ctx);
		lf_http_text(resp, 200, "reload requested");
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
	lf_agent_server_update(s, cfg);
	struct lf_httpd_config hc = {
	        .address = cfg->http_listen_address,
	        .port = (int)cfg->http_listen_port,
	        .max_body = 64 * 1024,
	        .threads = 2,
	};
	if (lf_httpd_start(&hc, handle, s, &s->httpd, err) < 0) {
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
	free(s);
}
