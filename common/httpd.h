/* httpd.h — a small HTTP server on libmicrohttpd for the agent's endpoints
 * and the store's API.
 *
 * The handler gets a complete request (body buffered up to max_body bytes;
 * a larger Content-Length or body is answered 413 "request body too large"
 * without calling the handler) and fills in a response. Handlers run on
 * MHD's thread pool, so they must be thread-safe.
 */
#ifndef LF_HTTPD_H
#define LF_HTTPD_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

struct lf_http_request {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* URL path without the query string */
	const char *body;   /* may be NULL when empty; not NUL-terminated */
	size_t body_len;
	void *conn; /* opaque (struct MHD_Connection *) */
};

/* A protocol upgrade (RFC 7230 6.7; the websocket handshake): the handler
 * sets resp->status = 101, the headers to send (Upgrade, Connection,
 * Sec-WebSocket-Accept, ...) and resp->upgrade. After the 101 is sent,
 * upgrade->run(ctx, fd, extra, extra_len, h) is called on an MHD thread:
 * fd is the connection's socket, now the callee's to read and write (it
 * must not block the caller: hand it to a thread); extra holds bytes the
 * client sent after its request. When done, the owner calls
 * lf_http_upgrade_close(h), which closes fd. When the upgrade never
 * happens (the client went away first), upgrade->drop(ctx) is called
 * instead. All upgraded connections must be closed before lf_httpd_stop. */
struct lf_http_upgrade;
struct lf_http_upgrade_cb {
	void (*run)(void *ctx, int fd, const char *extra, size_t extra_len,
	            struct lf_http_upgrade *h);
	void (*drop)(void *ctx);
	void *ctx;
};
void lf_http_upgrade_close(struct lf_http_upgrade *h);

struct lf_http_response {
	int status;               /* default 200 */
	const char *content_type; /* default "text/plain; charset=utf-8"; static storage */
	struct lf_buf body;       /* handler appends; freed by the server */
	/* up to 8 extra headers, static or handler-owned until return */
	const char *hdr_names[8];
	char *hdr_values[8]; /* malloc'ed, freed by the server */
	int n_hdrs;
	struct lf_http_upgrade_cb upgrade; /* with status 101, see above */
};

typedef void (*lf_http_handler)(void *ctx, const struct lf_http_request *req,
                                struct lf_http_response *resp);

struct lf_httpd;

struct lf_httpd_config {
	const char *address; /* "" or NULL = all interfaces; "127.0.0.1"; "::1" */
	int port;            /* 0 = pick a free port (see lf_httpd_port) */
	size_t max_body;     /* bytes; 0 = 4 MiB */
	unsigned threads;    /* 0 = 4 */
};

int lf_httpd_start(const struct lf_httpd_config *cfg, lf_http_handler h, void *ctx,
                   struct lf_httpd **out, struct lf_error *err);
int lf_httpd_port(const struct lf_httpd *s); /* the port actually bound */
void lf_httpd_stop(struct lf_httpd *s);      /* stops and frees */

/* Request accessors (valid during the handler). Names are case-insensitive
 * for headers. Query args are URL-decoded. For POSTed
 * application/x-www-form-urlencoded bodies, lf_http_arg also looks in the
 * body (Loki accepts query params in POST forms). */
const char *lf_http_header(const struct lf_http_request *r, const char *name);
const char *lf_http_arg(const struct lf_http_request *r, const char *name);
/* Calls fn for every value of a repeatable arg (e.g. "match[]"). Returns the count. */
int lf_http_args(const struct lf_http_request *r, const char *name,
                 void (*fn)(void *ctx, const char *value), void *ctx);

/* Response helpers. */
void lf_http_set_header(struct lf_http_response *resp, const char *name, const char *value);
void lf_http_text(struct lf_http_response *resp, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
