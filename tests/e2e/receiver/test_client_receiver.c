/* The real client against the real lf-test-receiver: exercises the
 * receiver's protobuf path (what every agent e2e test relies on) and the
 * client's retry on a scripted 429. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "timeutil.h"

static int origin;

static void ack_cb(void *ctx, void *o, uint64_t a, uint64_t b, bool delivered)
{
	(void)o, (void)a, (void)b;
	int *n = ctx;
	assert_true(delivered);
	(*n)++;
}

static void wait_acks(struct lf_client *c, int *n, int want)
{
	int64_t deadline = lf_monotonic_ns() + 60 * LF_NS_PER_SEC;
	while (*n < want) {
		assert_true(lf_monotonic_ns() < deadline);
		struct pollfd p = {.fd = lf_client_ack_fd(c), .events = POLLIN};
		if (poll(&p, 1, 100) > 0)
			lf_client_drain_acks(c, ack_cb, n);
	}
}

static void enqueue(struct lf_client *c, const char *labels, const char *line, int64_t ts,
                    const char *smk, const char *smv)
{
	struct lf_entry e;
	memset(&e, 0, sizeof(e));
	struct lf_error err;
	assert_int_equal(lf_labels_parse(labels, strlen(labels), &e.labels, &err), 0);
	lf_buf_appends(&e.line, line);
	if (smk)
		lf_labels_set(&e.sm, smk, smv);
	e.ts_ns = ts;
	e.origin = &origin;
	assert_true(lf_client_enqueue(c, &e, &err) >= 0);
	lf_buf_free(&e.line);
	lf_labels_free(&e.labels);
	lf_labels_free(&e.sm);
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
	struct lf_buf *b = ud;
	lf_buf_append(b, p, s * n);
	return s * n;
}

static long http(const char *method, const char *url, struct lf_buf *body)
{
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	long st = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
	curl_easy_cleanup(h);
	return st;
}

static void test_client_to_receiver(void **state)
{
	(void)state;
	const char *bin = getenv("LF_TEST_RECEIVER");
	if (!bin) {
		skip();
		return;
	}
	char dir[] = "/tmp/lf-client-rx-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char out[512], outflag[600];
	snprintf(out, sizeof(out), "%s/rx.jsonl", dir);
	snprintf(outflag, sizeof(outflag), "-out=%s", out);
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		execl(bin, bin, "-port=0", outflag, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	FILE *f = fdopen(p[0], "r");
	char line[128] = "";
	int port = 0;
	if (!fgets(line, sizeof(line), f) || sscanf(line, "listening on 127.0.0.1:%d", &port) != 1)
		fail_msg("receiver did not start: \"%s\"", line);
	fclose(f);

	char url[128], ctl[160];
	snprintf(ctl, sizeof(ctl), "http://127.0.0.1:%d/control?mode=429&count=1", port);
	struct lf_buf body = LF_BUF_INIT;
	assert_int_equal(http("POST", ctl, &body), 200);

	struct lf_client_config cfg;
	lf_client_config_init(&cfg);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/loki/api/v1/push", port);
	cfg.url = url;
	cfg.tenant_id = "team-a";
	cfg.batchwait_ns = 20 * LF_NS_PER_MS;
	cfg.backoff_min_ns = 10 * LF_NS_PER_MS;
	struct lf_client *c = NULL;
	struct lf_error err;
	assert_int_equal(lf_client_new(&cfg, NULL, &c, &err), 0);
	enqueue(c, "{job=\"x\"}", "first line", 1700000000123456789, "trace_id", "t1");
	enqueue(c, "{job=\"x\", __tenant_id__=\"team-b\"}", "to b", 5, NULL, NULL);
	enqueue(c, "{job=\"x\"}", "quote \" and ünïcode", 7, NULL, NULL);
	int n = 0;
	wait_acks(c, &n, 3);
	lf_client_free(c);

	/* stored lines are those acknowledged; fsynced before the 204 */
	FILE *in = fopen(out, "r");
	assert_non_null(in);
	char buf[4096];
	int found = 0;
	while (fgets(buf, sizeof(buf), in)) {
		json_error_t je;
		json_t *j = json_loads(buf, 0, &je);
		assert_non_null(j);
		const char *ln = json_string_value(json_object_get(j, "line"));
		const char *tn = json_string_value(json_object_get(j, "tenant"));
		assert_string_equal(json_string_value(json_object_get(j, "labels")), "{job=\"x\"}");
		if (strcmp(ln, "first line") == 0) {
			assert_string_equal(tn, "team-a");
			assert_true(json_integer_value(json_object_get(j, "ts")) ==
			            1700000000123456789);
			json_t *sm = json_object_get(j, "sm");
			assert_string_equal(json_string_value(json_object_get(sm, "trace_id")),
			                    "t1");
			found |= 1;
		} else if (strcmp(ln, "to b") == 0) {
			assert_string_equal(tn, "team-b");
			found |= 2;
		} else if (strcmp(ln, "quote \" and ünïcode") == 0) {
			found |= 4;
		}
		json_decref(j);
	}
	fclose(in);
	assert_int_equal(found, 7);

	char st[128];
	snprintf(st, sizeof(st), "http://127.0.0.1:%d/stats", port);
	lf_buf_reset(&body);
	assert_int_equal(http("GET", st, &body), 200);
	assert_non_null(strstr(body.data, "\"429\":1")); /* the scripted refusal happened */
	assert_non_null(strstr(body.data, "\"entries\":3"));
	lf_buf_free(&body);

	kill(pid, SIGTERM);
	int ws;
	waitpid(pid, &ws, 0);
	assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	unlink(out);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_client_to_receiver),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
