/* httpd.c — see httpd.h. */
#include "httpd.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

/* Request body buffers kept for the next requests: a 1 MiB push body
 * allocated and freed per request made glibc trim and re-fault its heap
 * every time. At most BODY_POOL buffers of at most BODY_KEEP_MAX bytes. */
#define BODY_POOL     8
#define BODY_KEEP_MAX ((size_t)4 << 20)

struct lf_httpd {
	struct MHD_Daemon *d;
	lf_http_handler handler;
	void *ctx;
	size_t max_body;
	int port;
	pthread_mutex_t pool_mu;
	struct lf_buf pool[BODY_POOL];
	size_t n_pool;
};

static void body_take(struct lf_httpd *s, struct lf_buf *b)
{
	pthread_mutex_lock(&s->pool_mu);
	if (s->n_pool)
		*b = s->pool[--s->n_pool];
	pthread_mutex_unlock(&s->pool_mu);
}

static void body_give(struct lf_httpd *s, struct lf_buf *b)
{
	if (b->cap && b->cap <= BODY_KEEP_MAX) {
		lf_buf_reset(b);
		pthread_mutex_lock(&s->pool_mu);
		if (s->n_pool < BODY_POOL) {
			s->pool[s->n_pool++] = *b;
			b->data = NULL;
			b->len = b->cap = 0;
		}
		pthread_mutex_unlock(&s->pool_mu);
	}
	lf_buf_free(b);
}

/* A pending upgrade: created with the 101 response, handed to the callee
 * (and freed) when MHD calls upgrade_handler, dropped in on_completed
 * otherwise. Both run on the connection's MHD thread. */
struct upg {
	struct lf_http_upgrade_cb cb;
};

struct form_pair {
	char *name, *value;
};

/* Per-request state; pub must stay first (lf_http_arg casts back). */
struct req_ctx {
	struct lf_http_request pub;
	struct lf_httpd *srv; /* whose body pool the buffer returns to */
	struct lf_buf body;
	size_t content_length; /* announced, already checked against max_body; 0 if none */
	bool too_large;
	bool form_parsed;
	struct form_pair *form;
	size_t n_form;
	struct upg *upg; /* a 101 response was queued */
};

static void req_free(struct lf_httpd *s, struct req_ctx *r)
{
	if (!r)
		return;
	body_give(s, &r->body);
	for (size_t i = 0; i < r->n_form; i++) {
		free(r->form[i].name);
		free(r->form[i].value);
	}
	free(r->form);
	free(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)c, (void)toe;
	struct req_ctx *r = *con_cls;
	if (r && r->upg) { /* never upgraded (upgrade_handler clears it) */
		if (r->upg->cb.drop)
			r->upg->cb.drop(r->upg->cb.ctx);
		free(r->upg);
		r->upg = NULL;
	}
	if (r)
		req_free(r->srv, r);
	*con_cls = NULL;
}

static void upgrade_handler(void *cls, struct MHD_Connection *connection, void *con_cls,
                            const char *extra_in, size_t extra_in_size, MHD_socket sock,
                            struct MHD_UpgradeResponseHandle *urh)
{
	(void)connection;
	struct upg *u = cls;
	struct req_ctx *rc = con_cls; /* the request's state, still alive */
	if (rc && rc->upg == u)
		rc->upg = NULL;
	struct lf_http_upgrade_cb cb = u->cb;
	free(u);
	cb.run(cb.ctx, sock, extra_in, extra_in_size, (struct lf_http_upgrade *)urh);
}

void lf_http_upgrade_close(struct lf_http_upgrade *h)
{
	MHD_upgrade_action((struct MHD_UpgradeResponseHandle *)h, MHD_UPGRADE_ACTION_CLOSE);
}

static enum MHD_Result send_upgrade(struct MHD_Connection *conn, struct req_ctx *rc,
                                    struct lf_http_response *resp)
{
	lf_buf_free(&resp->body);
	struct upg *u = calloc(1, sizeof(*u));
	struct MHD_Response *r = u ? MHD_create_response_for_upgrade(upgrade_handler, u) : NULL;
	for (int i = 0; i < resp->n_hdrs; i++) {
		if (r)
			MHD_add_response_header(r, resp->hdr_names[i], resp->hdr_values[i]);
		free(resp->hdr_values[i]);
	}
	if (!r) {
		free(u);
		if (resp->upgrade.drop)
			resp->upgrade.drop(resp->upgrade.ctx);
		return MHD_NO;
	}
	u->cb = resp->upgrade;
	rc->upg = u;
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct lf_http_response *resp)
{
	size_t len = resp->body.len;
	char *data = lf_buf_take(&resp->body);
	struct MHD_Response *r = MHD_create_response_from_buffer(len, data ? data : (char *)"",
	                                                         data ? MHD_RESPMEM_MUST_FREE
	                                                              : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		free(data);
		for (int i = 0; i < resp->n_hdrs; i++)
			free(resp->hdr_values[i]);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        resp->content_type ? resp->content_type
	                                           : "text/plain; charset=utf-8");
	for (int i = 0; i < resp->n_hdrs; i++) {
		MHD_add_response_header(r, resp->hdr_names[i], resp->hdr_values[i]);
		free(resp->hdr_values[i]);
	}
	enum MHD_Result ret =
	        MHD_queue_response(conn, (unsigned)(resp->status ? resp->status : 200), r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result too_large(struct MHD_Connection *conn, size_t max)
{
	struct lf_http_response resp = {.status = 413};
	lf_buf_printf(&resp.body, "request body too large (limit %zu bytes)\n", max);
	return send_response(conn, &resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	(void)version;
	struct lf_httpd *s = cls;
	struct req_ctx *r = *con_cls;
	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r)
			return MHD_NO;
		*con_cls = r;
		r->srv = s;
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			unsigned long long n = strtoull(cl, NULL, 10);
			if (n > s->max_body)
				r->too_large = true; /* answered once the upload is consumed */
			else
				r->content_length = (size_t)n;
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!r->too_large) {
			/* Reserve the announced size once: growing by doubling
			 * copied a 1 MiB push body about twice over. A failed
			 * reservation just falls back to growing. */
			if (r->body.cap == 0) {
				body_take(s, &r->body);
				if (r->content_length > r->body.cap)
					(void)lf_buf_reserve(&r->body, r->content_length);
			}
			if (r->body.len + *upload_data_size > s->max_body)
				r->too_large = true;
			else if (lf_buf_append(&r->body, upload_data, *upload_data_size) < 0)
				r->too_large = true;
			if (r->too_large)
				lf_buf_free(&r->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->too_large)
		return too_large(conn, s->max_body);
	r->pub.method = method;
	r->pub.path = url;
	r->pub.body = r->body.data;
	r->pub.body_len = r->body.len;
	r->pub.conn = conn;
	struct lf_http_response resp = {.status = 200};
	s->handler(s->ctx, &r->pub, &resp);
	if (resp.status == 101 && resp.upgrade.run)
		return send_upgrade(conn, r, &resp);
	return send_response(conn, &resp);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t l = strlen(msg);
	while (l && (msg[l - 1] == '\n' || msg[l - 1] == '\r'))
		msg[--l] = '\0';
	lf_debug("http server: %s", msg);
}

int lf_httpd_start(const struct lf_httpd_config *cfg, lf_http_handler h, void *ctx,
                   struct lf_httpd **out, struct lf_error *err)
{
	struct lf_httpd *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->handler = h;
	s->ctx = ctx;
	pthread_mutex_init(&s->pool_mu, NULL);
	s->max_body = cfg->max_body ? cfg->max_body : 4u << 20;
	unsigned threads = cfg->threads ? cfg->threads : 4;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
	                 MHD_ALLOW_UPGRADE;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	bool have_addr = false;
	const char *addr = cfg->address;
	char display[300];
	if (addr && *addr) {
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
		struct addrinfo *res = NULL;
		char port[16];
		snprintf(port, sizeof port, "%d", cfg->port);
		int gai = getaddrinfo(addr, port, &hints, &res);
		if (gai != 0) {
			pthread_mutex_destroy(&s->pool_mu);
			free(s);
			return lf_err(err, "cannot resolve listen address \"%s\": %s", addr,
			              gai_strerror(gai));
		}
		memcpy(&ss, res->ai_addr, res->ai_addrlen);
		if (res->ai_family == AF_INET6)
			flags |= MHD_USE_IPv6;
		freeaddrinfo(res);
		have_addr = true;
		snprintf(display, sizeof display, "%s:%d", addr, cfg->port);
	} else {
		flags |= MHD_USE_DUAL_STACK;
		snprintf(display, sizeof display, ":%d", cfg->port);
	}
	struct MHD_OptionItem opts[] = {
	        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
	        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL},
	        {MHD_OPTION_CONNECTION_TIMEOUT, 120, NULL},
	        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL},
	        {have_addr ? MHD_OPTION_SOCK_ADDR : MHD_OPTION_END, 0, have_addr ? &ss : NULL},
	        {MHD_OPTION_END, 0, NULL},
	};
	s->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, s,
	                        MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!s->d) {
		pthread_mutex_destroy(&s->pool_mu);
		free(s);
		return lf_err(err, "cannot listen on %s (address in use or not permitted?)",
		              display);
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : cfg->port;
	*out = s;
	return 0;
}

int lf_httpd_port(const struct lf_httpd *s)
{
	return s->port;
}

void lf_httpd_stop(struct lf_httpd *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	for (size_t i = 0; i < s->n_pool; i++)
		lf_buf_free(&s->pool[i]);
	pthread_mutex_destroy(&s->pool_mu);
	free(s);
}

const char *lf_http_header(const struct lf_http_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char *url_decode(const char *s, size_t n)
{
	char *o = malloc(n + 1);
	if (!o)
		return NULL;
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			o[j++] = ' ';
		} else if (s[i] == '%' && i + 2 < n && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
			o[j++] = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
			i += 2;
		} else {
			o[j++] = s[i];
		}
	}
	o[j] = '\0';
	return o;
}

/* Parses an application/x-www-form-urlencoded body once. */
static void parse_form(struct req_ctx *r)
{
	r->form_parsed = true;
	const char *ct = MHD_lookup_connection_value(r->pub.conn, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0 || !r->body.len)
		return;
	const char *p = r->body.data, *end = p + r->body.len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		if (!amp)
			amp = end;
		const char *eq = memchr(p, '=', (size_t)(amp - p));
		const char *nend = eq ? eq : amp;
		struct form_pair *nf = realloc(r->form, (r->n_form + 1) * sizeof *nf);
		if (!nf)
			return;
		r->form = nf;
		char *name = url_decode(p, (size_t)(nend - p));
		char *value = eq ? url_decode(eq + 1, (size_t)(amp - eq - 1)) : strdup("");
		if (!name || !value) {
			free(name);
			free(value);
			return;
		}
		r->form[r->n_form].name = name;
		r->form[r->n_form].value = value;
		r->n_form++;
		p = amp + 1;
	}
}

const char *lf_http_arg(const struct lf_http_request *pub, const char *name)
{
	const char *v = MHD_lookup_connection_value(pub->conn, MHD_GET_ARGUMENT_KIND, name);
	if (v)
		return v;
	struct req_ctx *r = (struct req_ctx *)pub;
	if (!r->form_parsed)
		parse_form(r);
	for (size_t i = 0; i < r->n_form; i++)
		if (strcmp(r->form[i].name, name) == 0)
			return r->form[i].value;
	return NULL;
}

struct args_iter {
	const char *name;
	void (*fn)(void *ctx, const char *value);
	void *ctx;
	int count;
};

static enum MHD_Result iter_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
	(void)kind;
	struct args_iter *it = cls;
	if (key && strcmp(key, it->name) == 0) {
		it->fn(it->ctx, value ? value : "");
		it->count++;
	}
	return MHD_YES;
}

int lf_http_args(const struct lf_http_request *pub, const char *name,
                 void (*fn)(void *ctx, const char *value), void *ctx)
{
	struct args_iter it = {name, fn, ctx, 0};
	MHD_get_connection_values(pub->conn, MHD_GET_ARGUMENT_KIND, iter_arg, &it);
	struct req_ctx *r = (struct req_ctx *)pub;
	if (!r->form_parsed)
		parse_form(r);
	for (size_t i = 0; i < r->n_form; i++) {
		if (strcmp(r->form[i].name, name) == 0) {
			fn(ctx, r->form[i].value);
			it.count++;
		}
	}
	return it.count;
}

void lf_http_set_header(struct lf_http_response *resp, const char *name, const char *value)
{
	if (resp->n_hdrs >= 8)
		return;
	char *v = strdup(value);
	if (!v)
		return;
	resp->hdr_names[resp->n_hdrs] = name;
	resp->hdr_values[resp->n_hdrs] = v;
	resp->n_hdrs++;
}

void lf_http_text(struct lf_http_response *resp, int status, const char *fmt, ...)
{
	resp->status = status;
	resp->content_type = "text/plain; charset=utf-8";
	lf_buf_reset(&resp->body);
	va_list ap;
	va_start(ap, fmt);
	lf_buf_vprintf(&resp->body, fmt, ap);
	va_end(ap);
}
