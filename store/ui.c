/* ui.c — see ui.h. */
#include "ui.h"

#include <string.h>

const struct lf_ui_asset *lf_ui_find(const char *path)
{
	for (size_t i = 0; i < lf_ui_n_assets; i++)
		if (!strcmp(lf_ui_assets[i].path, path))
			return &lf_ui_assets[i];
	return NULL;
}

bool lf_ui_etag_matches(const char *inm, const char *etag)
{
	if (!inm)
		return false;
	size_t el = strlen(etag);
	for (const char *p = inm; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		if (*p == '*')
			return true;
		if (!strncmp(p, "W/", 2))
			p += 2;
		if (!strncmp(p, etag, el) && (p[el] == 0 || p[el] == ',' || p[el] == ' '))
			return true;
		while (*p && *p != ',')
			p++;
	}
	return false;
}

bool lf_ui_serve(const struct lf_http_request *req, struct lf_http_response *resp)
{
	const struct lf_ui_asset *a = lf_ui_find(req->path);
	if (!a)
		return false;
	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
		lf_http_set_header(resp, "Allow", "GET, HEAD");
		lf_http_text(resp, 405, "method not allowed\n");
		return true;
	}
	lf_http_set_header(resp, "ETag", a->etag);
	/* Revalidate every time: a new binary must never run an old page. */
	lf_http_set_header(resp, "Cache-Control", "no-cache");
	lf_http_set_header(resp, "Content-Security-Policy", LF_UI_CSP);
	lf_http_set_header(resp, "X-Content-Type-Options", "nosniff");
	lf_http_set_header(resp, "Referrer-Policy", "no-referrer");
	if (lf_ui_etag_matches(lf_http_header(req, "If-None-Match"), a->etag)) {
		resp->status = 304;
		return true;
	}
	resp->status = 200;
	resp->content_type = a->content_type;
	if (lf_buf_append(&resp->body, a->data, a->len) < 0)
		lf_http_text(resp, 500, "out of memory\n");
	return true;
}
