/* receiver.c — lf-test-receiver: a scriptable Loki push endpoint for e2e
 * tests (agent, tail, discovery, client).
 *
 *   lf-test-receiver -port=0 -out=/tmp/x/received.jsonl [-address=127.0.0.1]
 *
 * Prints "listening on ADDRESS:PORT" on stdout once it accepts requests.
 * Endpoints:
 *   POST /loki/api/v1/push   snappy protobuf (default) or application/json.
 *        Each entry is appended to -out as one JSON line
 *        {"tenant":"<X-Scope-OrgID or empty>","labels":"{a=\"b\"}","ts":<ns>,
 *         "line":"...","sm":{"name":"value"}}
 *        and the file is fsynced before 204 is answered, so what a test reads
 *        was acknowledged and what was acknowledged is in the file.
 *   POST /control?mode=ok|429|400|500[&count=N][&delay_ms=D]
 *        the next N pushes (all, when count is absent or 0) are answered with
 *        that status instead of being stored; after N the mode returns to ok.
 *        delay_ms delays every push answer (slow backend, timeouts).
 *   GET  /stats   {"requests":..,"stored_requests":..,"entries":..,
 *                  "status":{"204":..,"429":..},"mode":"ok","remaining":..}
 *   GET  /ready   200
 * Runs until SIGTERM/SIGINT.
 *
 * Global state: none; everything lives in `struct recv` on main's stack,
 * shared with the handler threads behind one mutex.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "error.h"
#include "httpd.h"
#include "labels.h"
#include "log.h"
#include "push.h"

#define MAX_STATUS  600
#define MAX_DECODED (256u * 1024 * 1024)

struct recv {
	pthread_mutex_t mu;
	int out_fd;        /* -1: do not store */
	int mode;          /* 0 = ok, else the status to answer */
	int64_t remaining; /* pushes left in `mode`; -1 = until changed */
	int delay_ms;
	uint64_t requests, stored_requests, entries;
	uint64_t status[MAX_STATUS];
};

static void append_entry(struct lf_buf *out, const char *tenant, const char *labels, int64_t ts,
                         const char *line, size_t line_len, const char *const *sm_names,
                         const char *const *sm_values, size_t n_sm)
{
	lf_buf_appends(out, "{\"tenant\":");
	lf_buf_append_json_string(out, tenant, strlen(tenant));
	lf_buf_appends(out, ",\"labels\":");
	lf_buf_append_json_string(out, labels, strlen(labels));
	lf_buf_printf(out, ",\"ts\":%" PRId64 ",\"line\":", ts);
	lf_buf_append_json_string(out, line, line_len);
	lf_buf_appends(out, ",\"sm\":{");
	for (size_t i = 0; i < n_sm; i++) {
		if (i)
			lf_buf_putc(out, ',');
		lf_buf_append_json_string(out, sm_names[i], strlen(sm_names[i]));
		lf_buf_putc(out, ':');
		lf_buf_append_json_string(out, sm_values[i], strlen(sm_values[i]));
	}
	lf_buf_appends(out, "}}\n");
}

static int render_proto(const Logproto__PushRequest *req, const char *tenant, struct lf_buf *out,
                        uint64_t *n_entries)
{
	const char *names[256], *values[256];
	for (size_t s = 0; s < req->n_streams; s++) {
		const Logproto__StreamAdapter *st = req->streams[s];
		for (size_t i = 0; i < st->n_entries; i++) {
			const Logproto__EntryAdapter *e = st->entries[i];
			size_t n_sm = e->n_structuredmetadata;
			if (n_sm > 256)
				n_sm = 256;
			for (size_t k = 0; k < n_sm; k++) {
				names[k] = e->structuredmetadata[k]->name;
				values[k] = e->structuredmetadata[k]->value;
			}
			append_entry(out, tenant, st->labels,
			             e->timestamp ? lf_push_ts_ns(e->timestamp) : 0,
			             (const char *)e->line.data, e->line.len, names, values, n_sm);
			(*n_entries)++;
		}
	}
	return 0;
}

/* Loki's JSON push: {"streams":[{"stream":{..},"values":[["ns","line",{sm}]]}]} */
static int render_json(const char *body, size_t len, const char *tenant, struct lf_buf *out,
                       uint64_t *n_entries, struct lf_error *err)
{
	json_error_t je;
	json_t *root = json_loadb(body, len, 0, &je);
	if (!root)
		return lf_err(err, "parsing JSON push body: %s (line %d)", je.text, je.line);
	json_t *streams = json_object_get(root, "streams");
	if (!json_is_array(streams)) {
		json_decref(root);
		return lf_err(err, "JSON push body: \"streams\" must be an array");
	}
	size_t si;
	json_t *st;
	struct lf_labels ls = LF_LABELS_INIT;
	struct lf_buf lb = LF_BUF_INIT;
	int rc = 0;
	json_array_foreach(streams, si, st)
	{
		json_t *stream = json_object_get(st, "stream"),
		       *vals = json_object_get(st, "values");
		if (!json_is_object(stream) || !json_is_array(vals)) {
			rc = lf_err(err, "JSON push body: streams[%zu] needs stream and values",
			            si);
			break;
		}
		lf_labels_clear(&ls);
		const char *k;
		json_t *v;
		json_object_foreach(stream, k, v)
		{
			lf_labels_set(&ls, k, json_is_string(v) ? json_string_value(v) : "");
		}
		lf_buf_reset(&lb);
		lf_labels_render(&ls, &lb);
		size_t vi;
		json_t *val;
		json_array_foreach(vals, vi, val)
		{
			json_t *ts = json_array_get(val, 0), *line = json_array_get(val, 1);
			if (!json_is_string(ts) || !json_is_string(line)) {
				rc = lf_err(
				        err,
				        "JSON push body: streams[%zu].values[%zu]: timestamp and "
				        "line must be strings",
				        si, vi);
				goto done;
			}
			const char *names[256], *values[256];
			size_t n_sm = 0;
			json_t *sm = json_array_get(val, 2);
			if (json_is_object(sm)) {
				json_object_foreach(sm, k, v)
				{
					if (n_sm < 256 && json_is_string(v)) {
						names[n_sm] = k;
						values[n_sm++] = json_string_value(v);
					}
				}
			}
			append_entry(out, tenant, lb.data, strtoll(json_string_value(ts), NULL, 10),
			             json_string_value(line), json_string_length(line), names,
			             values, n_sm);
			(*n_entries)++;
		}
	}
done:
	lf_labels_free(&ls);
	lf_buf_free(&lb);
	json_decref(root);
	return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void count_status(struct recv *r, int status)
{
	pthread_mutex_lock(&r->mu);
	if (status > 0 && status < MAX_STATUS)
		r->status[status]++;
	pthread_mutex_unlock(&r->mu);
}

static void handle_push(struct recv *r, const struct lf_http_request *req,
                        struct lf_http_response *resp)
{
	pthread_mutex_lock(&r->mu);
	r->requests++;
	int mode = 0;
	if (r->mode && r->remaining != 0) {
		mode = r->mode;
		if (r->remaining > 0 && --r->remaining == 0)
			r->mode = 0;
	}
	int delay = r->delay_ms;
	pthread_mutex_unlock(&r->mu);
	if (delay > 0)
		usleep((useconds_t)delay * 1000);

	if (mode) {
		switch (mode) {
		case 429:
			lf_http_text(
			        resp, 429,
			        "Ingestion rate limit exceeded for user test (limit: 1 bytes/sec) "
			        "(lf-test-receiver mode=429)\n");
			break;
		case 400:
			lf_http_text(resp, 400,
			             "entry for stream '{job=\"test\"}' has timestamp too old "
			             "(lf-test-receiver mode=400)\nsecond line\n");
			break;
		default:
			lf_http_text(resp, mode, "lf-test-receiver mode=%d\n", mode);
		}
		count_status(r, mode);
		return;
	}

	const char *tenant = lf_http_header(req, "X-Scope-OrgID");
	if (!tenant)
		tenant = "";
	const char *ct = lf_http_header(req, "Content-Type");
	struct lf_buf out = LF_BUF_INIT;
	struct lf_error err;
	uint64_t n = 0;
	int rc;
	if (ct && strncmp(ct, "application/json", 16) == 0) {
		rc = render_json(req->body ? req->body : "", req->body_len, tenant, &out, &n, &err);
	} else {
		Logproto__PushRequest *pr = NULL;
		rc = lf_push_decode(req->body ? req->body : "", req->body_len, MAX_DECODED, &pr,
		                    &err);
		if (rc == 0) {
			render_proto(pr, tenant, &out, &n);
			lf_push_request_free(pr);
		}
	}
	if (rc < 0) {
		lf_buf_free(&out);
		lf_http_text(resp, 400, "%s\n", err.msg);
		count_status(r, 400);
		return;
	}
	pthread_mutex_lock(&r->mu);
	if (r->out_fd >= 0 && out.len) {
		if (write_all(r->out_fd, out.data, out.len) < 0 || fdatasync(r->out_fd) < 0) {
			pthread_mutex_unlock(&r->mu);
			lf_buf_free(&out);
			lf_http_text(resp, 500, "writing output: %s\n", strerror(errno));
			count_status(r, 500);
			return;
		}
	}
	r->stored_requests++;
	r->entries += n;
	if (204 < MAX_STATUS)
		r->status[204]++;
	pthread_mutex_unlock(&r->mu);
	lf_buf_free(&out);
	resp->status = 204;
}

static void handle_control(struct recv *r, const struct lf_http_request *req,
                           struct lf_http_response *resp)
{
	const char *mode = lf_http_arg(req, "mode");
	const char *count = lf_http_arg(req, "count");
	const char *delay = lf_http_arg(req, "delay_ms");
	int m = -1;
	if (mode) {
		if (strcmp(mode, "ok") == 0)
			m = 0;
		else if (strcmp(mode, "429") == 0 || strcmp(mode, "400") == 0 ||
		         strcmp(mode, "500") == 0 || strcmp(mode, "503") == 0 ||
		         strcmp(mode, "401") == 0 || strcmp(mode, "413") == 0)
			m = atoi(mode);
		else {
			lf_http_text(resp, 400,
			             "unknown mode \"%s\" (ok|429|400|500|503|401|413)\n", mode);
			return;
		}
	}
	pthread_mutex_lock(&r->mu);
	if (m >= 0) {
		r->mode = m;
		long long cnt = count ? atoll(count) : 0;
		r->remaining = (m == 0 || cnt <= 0) ? -1 : cnt;
	}
	if (delay)
		r->delay_ms = atoi(delay);
	pthread_mutex_unlock(&r->mu);
	lf_http_text(resp, 200, "ok\n");
}

static void handle_stats(struct recv *r, struct lf_http_response *resp)
{
	pthread_mutex_lock(&r->mu);
	lf_buf_printf(&resp->body,
	              "{\"requests\":%" PRIu64 ",\"stored_requests\":%" PRIu64
	              ",\"entries\":%" PRIu64 ",\"mode\":\"%s%.0d\",\"remaining\":%" PRId64
	              ",\"delay_ms\":%d,\"status\":{",
	              r->requests, r->stored_requests, r->entries, r->mode ? "" : "ok", r->mode,
	              r->mode ? r->remaining : 0, r->delay_ms);
	bool first = true;
	for (int i = 0; i < MAX_STATUS; i++) {
		if (!r->status[i])
			continue;
		lf_buf_printf(&resp->body, "%s\"%d\":%" PRIu64, first ? "" : ",", i, r->status[i]);
		first = false;
	}
	lf_buf_appends(&resp->body, "}}\n");
	pthread_mutex_unlock(&r->mu);
	resp->content_type = "application/json";
	resp->status = 200;
}

static void handler(void *ctx, const struct lf_http_request *req, struct lf_http_response *resp)
{
	struct recv *r = ctx;
	if (strcmp(req->path, "/loki/api/v1/push") == 0 && strcmp(req->method, "POST") == 0)
		handle_push(r, req, resp);
	else if (strcmp(req->path, "/control") == 0 && strcmp(req->method, "POST") == 0)
		handle_control(r, req, resp);
	else if (strcmp(req->path, "/stats") == 0)
		handle_stats(r, resp);
	else if (strcmp(req->path, "/ready") == 0)
		lf_http_text(resp, 200, "ready\n");
	else
		lf_http_text(resp, 404, "404 page not found\n");
}

static const char *flag_value(const char *arg, const char *name)
{
	/* accepts -name=value and --name=value */
	if (arg[0] != '-')
		return NULL;
	arg++;
	if (arg[0] == '-')
		arg++;
	size_t n = strlen(name);
	if (strncmp(arg, name, n) == 0 && arg[n] == '=')
		return arg + n + 1;
	return NULL;
}

int main(int argc, char **argv)
{
	const char *address = "127.0.0.1", *out = NULL;
	int port = 0;
	for (int i = 1; i < argc; i++) {
		const char *v;
		if ((v = flag_value(argv[i], "port")))
			port = atoi(v);
		else if ((v = flag_value(argv[i], "out")))
			out = v;
		else if ((v = flag_value(argv[i], "address")))
			address = v;
		else {
			fprintf(stderr,
			        "usage: %s [-port=N (0 = any)] [-out=FILE.jsonl] "
			        "[-address=127.0.0.1]\nunknown argument: %s\n",
			        argv[0], argv[i]);
			return 2;
		}
	}
	static struct recv r; /* large counters array: keep it off the stack */
	pthread_mutex_init(&r.mu, NULL);
	r.out_fd = -1;
	r.remaining = -1;
	if (out) {
		r.out_fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (r.out_fd < 0) {
			fprintf(stderr, "open %s: %s\n", out, strerror(errno));
			return 1;
		}
	}
	/* Block the stop signals before MHD starts its threads, then wait for
	 * them on this thread. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct lf_httpd_config hc = {
	        .address = address, .port = port, .max_body = 64u * 1024 * 1024, .threads = 4};
	struct lf_httpd *srv;
	struct lf_error err;
	if (lf_httpd_start(&hc, handler, &r, &srv, &err) < 0) {
		fprintf(stderr, "lf-test-receiver: %s\n", err.msg);
		return 1;
	}
	printf("listening on %s:%d\n", address, lf_httpd_port(srv));
	fflush(stdout);
	int sig = 0;
	sigwait(&set, &sig);
	lf_httpd_stop(srv);
	if (r.out_fd >= 0)
		close(r.out_fd);
	return 0;
}
