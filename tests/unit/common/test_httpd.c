#include <curl/curl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above */
#include <cmocka.h>

#include "httpd.h"

static void collect_match(void *ctx, const char *v)
{
	struct lf_buf *b = ctx;
	lf_buf_printf(b, "[%s]", v);
}

static void handler(void *ctx, const struct lf_http_request *req, struct lf_http_response *resp)
{
	(void)ctx;
	if (strcmp(req->path, "/echo") == 0) {
		const char *q = lf_http_arg(req, "query");
		const char *h = lf_http_header(req, "X-Scope-OrgID");
		lf_buf_printf(&resp->body, "%s %s q=%s org=%s len=%zu ", req->method, req->path,
		              q ? q : "-", h ? h : "-", req->body_len);
		lf_http_args(req, "match[]", collect_match, &resp->body);
		lf_http_set_header(resp, "X-Test", "yes");
		return;
	}
	if (strcmp(req->path, "/sum") == 0) {
		/* length, checksum and the terminating NUL of the received body */
		uint64_t h = 1469598103934665603ull;
		for (size_t i = 0; i < req->body_len; i++)
			h = (h ^ (unsigned char)req->body[i]) * 1099511628211ull;
		lf_buf_printf(&resp->body, "len=%zu sum=%llx nul=%d", req->body_len,
		              (unsigned long long)h, req->body ? req->body[req->body_len] == 0 : 1);
		return;
	}
	lf_http_text(resp, 404, "404 page not found\n");
}

struct fetched {
	long status;
	char body[4096];
	size_t len;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
	struct fetched *f = ud;
	size_t l = sz * n;
	if (f->len + l < sizeof f->body) {
		memcpy(f->body + f->len, p, l);
		f->len += l;
		f->body[f->len] = '\0';
	}
	return l;
}

static void fetch(const char *url, const char *post, size_t post_len, const char *ctype,
                  struct fetched *f)
{
	memset(f, 0, sizeof *f);
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	h = curl_slist_append(h, "X-Scope-OrgID: tenant-1");
	if (ctype)
		h = curl_slist_append(h, ctype);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	if (post) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)post_len);
	}
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static void test_requests(void **state)
{
	(void)state;
	struct lf_httpd_config cfg = {.address = "127.0.0.1", .port = 0, .max_body = 1000};
	struct lf_httpd *s = NULL;
	struct lf_error err;
	assert_int_equal(lf_httpd_start(&cfg, handler, NULL, &s, &err), 0);
	int port = lf_httpd_port(s);
	assert_true(port > 0);
	char url[256];
	struct fetched f;
	snprintf(url, sizeof url,
	         "http://127.0.0.1:%d/echo?query=%%7Bapp%%3D%%22x%%22%%7D&match[]=a&match[]=b",
	         port);
	fetch(url, NULL, 0, NULL, &f);
	assert_int_equal(f.status, 200);
	assert_string_equal(f.body, "GET /echo q={app=\"x\"} org=tenant-1 len=0 [a][b]");
	/* POST form parameters are visible as args */
	snprintf(url, sizeof url, "http://127.0.0.1:%d/echo", port);
	const char *form = "query=%7Bjob%3D%22y%22%7D&match%5B%5D=c";
	fetch(url, form, strlen(form), "Content-Type: application/x-www-form-urlencoded", &f);
	assert_int_equal(f.status, 200);
	assert_non_null(strstr(f.body, "POST /echo q={job=\"y\"}"));
	assert_non_null(strstr(f.body, "[c]"));
	/* body over max_body: 413 without calling the handler */
	char big[2000];
	memset(big, 'x', sizeof big);
	fetch(url, big, sizeof big, NULL, &f);
	assert_int_equal(f.status, 413);
	assert_non_null(strstr(f.body, "request body too large"));
	snprintf(url, sizeof url, "http://127.0.0.1:%d/nope", port);
	fetch(url, NULL, 0, NULL, &f);
	assert_int_equal(f.status, 404);
	lf_httpd_stop(s);
}

struct upload {
	const char *p;
	size_t left;
};

static size_t on_read(char *buf, size_t sz, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t l = sz * n < u->left ? sz * n : u->left;
	if (l > 10000) /* many small chunks */
		l = 10000;
	memcpy(buf, u->p, l);
	u->p += l;
	u->left -= l;
	return l;
}

/* Large bodies arrive whole, with Content-Length (the buffer is reserved
 * up front) and chunked (no length: the buffer grows). */
static void test_large_bodies(void **state)
{
	(void)state;
	struct lf_httpd_config cfg = {.address = "127.0.0.1", .port = 0, .max_body = 4u << 20};
	struct lf_httpd *s = NULL;
	struct lf_error err;
	assert_int_equal(lf_httpd_start(&cfg, handler, NULL, &s, &err), 0);
	char url[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/sum", lf_httpd_port(s));
	size_t n = (3u << 20) + 12345;
	char *body = malloc(n);
	assert_non_null(body);
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		body[i] = (char)(i * 7 + (i >> 13));
		h = (h ^ (unsigned char)body[i]) * 1099511628211ull;
	}
	char want[128];
	snprintf(want, sizeof want, "len=%zu sum=%llx nul=1", n, (unsigned long long)h);
	struct fetched f;
	for (int round = 0; round < 2; round++) {
		fetch(url, body, n, NULL, &f);
		assert_int_equal(f.status, 200);
		assert_string_equal(f.body, want);
	}
	/* chunked */
	memset(&f, 0, sizeof f);
	struct upload u = {body, n};
	CURL *c = curl_easy_init();
	struct curl_slist *hd = curl_slist_append(NULL, "Transfer-Encoding: chunked");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &u);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f.status);
	curl_slist_free_all(hd);
	curl_easy_cleanup(c);
	assert_int_equal(f.status, 200);
	assert_string_equal(f.body, want);
	/* over the limit with a Content-Length: still refused */
	char *big = calloc(1, (4u << 20) + 1);
	assert_non_null(big);
	fetch(url, big, (4u << 20) + 1, NULL, &f);
	assert_int_equal(f.status, 413);
	free(big);
	free(body);
	lf_httpd_stop(s);
}

static void test_bind_error(void **state)
{
	(void)state;
	struct lf_httpd_config cfg = {.address = "127.0.0.1", .port = 0};
	struct lf_httpd *a = NULL, *b = NULL;
	struct lf_error err;
	assert_int_equal(lf_httpd_start(&cfg, handler, NULL, &a, &err), 0);
	cfg.port = lf_httpd_port(a);
	assert_int_equal(lf_httpd_start(&cfg, handler, NULL, &b, &err), -1);
	assert_non_null(strstr(err.msg, "cannot listen on 127.0.0.1:"));
	cfg.address = "no-such-host.invalid";
	assert_int_equal(lf_httpd_start(&cfg, handler, NULL, &b, &err), -1);
	assert_non_null(strstr(err.msg, "no-such-host.invalid"));
	lf_httpd_stop(a);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_requests),
	        cmocka_unit_test(test_large_bodies),
	        cmocka_unit_test(test_bind_error),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return r;
}
