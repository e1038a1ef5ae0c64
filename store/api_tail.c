/* api_tail.c — GET /loki/api/v1/tail: Loki's parameter checks (answered
 * with HTTP 400 before the upgrade), the websocket handshake (common/
 * websocket.h), then a tail session (tail.h) owns the connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "tail.h"
#include "timeutil.h"
#include "websocket.h"

#define ROUTE "loki_api_v1_tail"

static int parse_int(const char *s, long long def, long long *out)
{
	if (!s || !*s) {
		*out = def;
		return 0;
	}
	char *e;
	long long v = strtoll(s, &e, 10);
	if (*e)
		return -1;
	*out = v;
	return 0;
}

void lf_api_tail(struct lf_api *a, const struct lf_http_request *req, struct lf_http_response *resp)
{
	char msg[LF_ERROR_MAX + 64];
	const char *ls = lf_http_arg(req, "limit");
	long long limit;
	if (parse_int(ls, 100, &limit) < 0) {
		snprintf(msg, sizeof(msg), "strconv.ParseInt: parsing \"%.64s\": invalid syntax",
		         ls);
		lf_api_fail(a, ROUTE, resp, 400, msg);
		return;
	}
	if (limit <= 0 || limit > UINT32_MAX) {
		lf_api_fail(a, ROUTE, resp, 400, "limit must be a positive value");
		return;
	}
	int64_t start;
	const char *ss = lf_http_arg(req, "start");
	if (lf_api_time_arg(a, ROUTE, resp, NULL, ss, lf_now_ns() - 3600 * LF_NS_PER_SEC, &start) <
	    0)
		return;
	const char *ds = lf_http_arg(req, "delay_for");
	long long delay;
	if (parse_int(ds, 0, &delay) < 0 || delay < 0) {
		snprintf(msg, sizeof(msg), "strconv.ParseInt: parsing \"%.64s\": invalid syntax",
		         ds);
		lf_api_fail(a, ROUTE, resp, 400, msg);
		return;
	}
	if (delay > LF_TAIL_MAX_DELAY_FOR) {
		snprintf(msg, sizeof(msg), "delay_for can't be greater than %d",
		         LF_TAIL_MAX_DELAY_FOR);
		lf_api_fail(a, ROUTE, resp, 400, msg);
		return;
	}
	const char *tid = lf_api_tenant_ws(a, ROUTE, req, resp);
	if (!tid)
		return;
	struct lf_error err;
	int st = lf_ws_check_handshake(req->method, lf_http_header(req, "Upgrade"),
	                               lf_http_header(req, "Connection"),
	                               lf_http_header(req, "Sec-WebSocket-Version"),
	                               lf_http_header(req, "Sec-WebSocket-Key"), &err);
	if (st) {
		lf_http_set_header(resp, "Sec-WebSocket-Version", "13");
		lf_api_fail(a, ROUTE, resp, st, err.msg);
		return;
	}
	char accept[LF_WS_ACCEPT_LEN + 1];
	if (lf_ws_accept_key(lf_http_header(req, "Sec-WebSocket-Key"), accept, &err) < 0) {
		lf_api_fail(a, ROUTE, resp, 400, err.msg);
		return;
	}
	/* The legacy `regexp` parameter becomes a `|~` filter. */
	const char *q = lf_http_arg(req, "query");
	const char *re = lf_http_arg(req, "regexp");
	struct lf_buf qb = LF_BUF_INIT;
	lf_buf_appends(&qb, q ? q : "");
	if (re && *re) {
		lf_buf_appends(&qb, " |~ ");
		lf_buf_append_quoted(&qb, re, strlen(re));
	}
	struct lf_tail_request rq = {tid, qb.data ? qb.data : "", start, (uint32_t)limit,
	                             (int)delay};
	struct lf_http_upgrade_cb cb;
	if (!a->tails || lf_tail_prepare(a->tails, &rq, &cb) < 0) {
		lf_buf_free(&qb);
		lf_api_fail(a, ROUTE, resp, 503, "tailing is not available (shutting down)");
		return;
	}
	lf_buf_free(&qb);
	lf_buf_reset(&resp->body);
	resp->status = 101;
	resp->upgrade = cb;
	lf_http_set_header(resp, "Upgrade", "websocket");
	lf_http_set_header(resp, "Sec-WebSocket-Accept", accept);
	lf_api_count(a, ROUTE, 101);
}
