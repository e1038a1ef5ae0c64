/* ui.h — the log explorer page that logferry-store serves at "/": one HTML,
 * one JS and one CSS file from store/ui/, compiled into the binary by
 * store/ui/embed.c (so the page works offline and needs no files at run
 * time). The page only calls the store's own API.
 *
 * lf_ui_serve() answers GET and HEAD for "/" and "/ui/<file>" with the
 * file's content type, an ETag (304 on a matching If-None-Match), and a
 * restrictive Content-Security-Policy: scripts, styles and connections
 * from the store itself only, no inline script, no frames.
 */
#ifndef LF_STORE_UI_H
#define LF_STORE_UI_H

#include <stdbool.h>
#include <stddef.h>

#include "httpd.h"

struct lf_ui_asset {
	const char *path;         /* "/" or "/ui/app.js" */
	const char *content_type; /* with charset for text */
	const unsigned char *data;
	size_t len;
	const char *etag; /* quoted, e.g. "\"0123456789abcdef\"" */
};

/* The generated table (build dir: ui_assets.c). */
extern const struct lf_ui_asset lf_ui_assets[];
extern const size_t lf_ui_n_assets;

/* The Content-Security-Policy sent with every asset. */
#define LF_UI_CSP                                                                                  \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* The asset for a request path, or NULL. */
const struct lf_ui_asset *lf_ui_find(const char *path);

/* True when an If-None-Match header value lists etag (or is "*"). */
bool lf_ui_etag_matches(const char *if_none_match, const char *etag);

/* Answers the request when req->path is one of the page's files and returns
 * true; returns false (resp untouched) for any other path. */
bool lf_ui_serve(const struct lf_http_request *req, struct lf_http_response *resp);

#endif
