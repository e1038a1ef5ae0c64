/* test_config.c — the agent's YAML config: defaults, every block, errors
 * with line:column, duplicate job names, flag overrides, rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "config.h"
#include "timeutil.h"

static struct lf_agent_config *load_ok(const char *yaml, const struct lf_config_overrides *ov)
{
	struct lf_agent_config *c = NULL;
	struct lf_error err = {{0}};
	int rc = lf_agent_config_load_string(yaml, strlen(yaml), "t.yaml", false, ov, &c, &err);
	if (rc != 0)
		fail_msg("load failed: %s", err.msg);
	assert_non_null(c);
	return c;
}

/* Loads yaml expecting failure; returns the message (static). */
static const char *load_err(const char *yaml)
{
	static struct lf_error err;
	struct lf_agent_config *c = NULL;
	memset(&err, 0, sizeof err);
	int rc = lf_agent_config_load_string(yaml, strlen(yaml), "t.yaml", false, NULL, &c, &err);
	if (rc == 0) {
		lf_agent_config_free(c);
		fail_msg("expected an error for:\n%s", yaml);
	}
	assert_null(c);
	return err.msg;
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static void test_defaults(void **state)
{
	(void)state;
	struct lf_agent_config *c = load_ok("scrape_configs: []\n", NULL);
	assert_int_equal(c->server.http_listen_port, 9080);
	assert_string_equal(c->server.http_listen_address, "");
	assert_true(c->server.register_instrumentation);
	assert_true(c->server.health_check_target);
	assert_int_equal(c->server.graceful_shutdown_timeout_ns, 30 * LF_NS_PER_SEC);
	assert_string_equal(c->server.log_level, "info");
	assert_string_equal(c->positions.filename, "/var/log/positions.yaml");
	assert_int_equal(c->positions.sync_period_ns, 10 * LF_NS_PER_SEC);
	assert_false(c->positions.ignore_invalid_yaml);
	assert_false(c->limits.readline_rate_enabled);
	assert_true(c->limits.readline_rate == 10000);
	assert_int_equal(c->limits.readline_burst, 10000);
	assert_true(c->limits.readline_rate_drop);
	assert_int_equal(c->limits.max_streams, 0);
	assert_int_equal(c->limits.max_line_size, 0);
	assert_int_equal(c->target_sync_period_ns, 10 * LF_NS_PER_SEC);
	assert_int_equal(c->min_poll_frequency_ns, 250 * LF_NS_PER_MS);
	assert_int_equal(c->n_clients, 0);
	assert_int_equal(c->n_scrape, 0);
	lf_agent_config_free(c);
}

static const char *full_yaml =
        "server:\n"
        "  http_listen_address: 127.0.0.1\n"
        "  http_listen_port: 3101\n"
        "  grpc_listen_port: 0\n"
        "  log_level: debug\n"
        "  health_check_target: false\n"
        "  graceful_shutdown_timeout: 5s\n"
        "positions:\n"
        "  filename: /tmp/pos.yaml\n"
        "  sync_period: 1m30s\n"
        "  ignore_invalid_yaml: true\n"
        "clients:\n"
        "  - url: http://a:3100/loki/api/v1/push\n"
        "    tenant_id: t1\n"
        "    batchwait: 2s\n"
        "    batchsize: 512KB\n"
        "    timeout: 3s\n"
        "    backoff_config: {min_period: 100ms, max_period: 10s, max_retries: 3}\n"
        "    external_labels: {cluster: c1}\n"
        "    headers: {X-Custom: yes}\n"
        "    basic_auth: {username: u, password: p}\n"
        "    tls_config: {ca_file: /ca.pem, insecure_skip_verify: true}\n"
        "    drop_rate_limited_batches: true\n"
        "  - url: https://b/loki/api/v1/push\n"
        "scrape_configs:\n"
        "  - job_name: pods\n"
        "    pipeline_stages:\n"
        "      - cri: {}\n"
        "    relabel_configs:\n"
        "      - source_labels: [__meta_kubernetes_pod_name]\n"
        "        target_label: pod\n"
        "    kubernetes_sd_configs:\n"
        "      - role: pod\n"
        "  - job_name: varlog\n"
        "    static_configs:\n"
        "      - targets: [localhost]\n"
        "        labels: {job: varlog, __path__: /var/log/*.log}\n"
        "limits_config:\n"
        "  readline_rate_enabled: true\n"
        "  readline_rate: 50.5\n"
        "  readline_burst: 100\n"
        "  readline_rate_drop: false\n"
        "  max_streams: 7\n"
        "  max_line_size: 256KB\n"
        "  max_line_size_truncate: true\n"
        "target_config:\n"
        "  sync_period: 3s\n"
        "global:\n"
        "  file_watch_config: {min_poll_frequency: 100ms, max_poll_frequency: 2s}\n"
        "options: {}\n"
        "tracing: {enabled: false}\n";

static void test_full(void **state)
{
	(void)state;
	struct lf_agent_config *c = load_ok(full_yaml, NULL);
	assert_string_equal(c->server.http_listen_address, "127.0.0.1");
	assert_int_equal(c->server.http_listen_port, 3101);
	assert_string_equal(c->server.log_level, "debug");
	assert_false(c->server.health_check_target);
	assert_int_equal(c->server.graceful_shutdown_timeout_ns, 5 * LF_NS_PER_SEC);
	assert_string_equal(c->positions.filename, "/tmp/pos.yaml");
	assert_int_equal(c->positions.sync_period_ns, 90 * LF_NS_PER_SEC);
	assert_true(c->positions.ignore_invalid_yaml);

	assert_int_equal(c->n_clients, 2);
	struct lf_client_yaml *a = &c->clients[0];
	assert_string_equal(a->url, "http://a:3100/loki/api/v1/push");
	assert_string_equal(a->tenant_id, "t1");
	assert_int_equal(a->batchwait_ns, 2 * LF_NS_PER_SEC);
	assert_int_equal(a->batchsize, 512000);
	assert_int_equal(a->timeout_ns, 3 * LF_NS_PER_SEC);
	assert_int_equal(a->backoff_min_ns, 100 * LF_NS_PER_MS);
	assert_int_equal(a->backoff_max_ns, 10 * LF_NS_PER_SEC);
	assert_int_equal(a->max_retries, 3);
	assert_string_equal(lf_labels_get(&a->external_labels, "cluster"), "c1");
	assert_string_equal(lf_labels_get(&a->headers, "X-Custom"), "yes");
	assert_string_equal(a->basic_auth.username, "u");
	assert_string_equal(a->basic_auth.password, "p");
	assert_string_equal(a->tls.ca_file, "/ca.pem");
	assert_true(a->tls.insecure_skip_verify);
	assert_true(a->drop_rate_limited_batches);
	struct lf_client_yaml *b = &c->clients[1];
	assert_string_equal(b->tenant_id, "");
	assert_int_equal(b->batchwait_ns, LF_NS_PER_SEC);
	assert_int_equal(b->batchsize, 1048576);
	assert_int_equal(b->max_retries, 10);
	assert_int_equal(b->backoff_max_ns, 300 * LF_NS_PER_SEC);

	assert_int_equal(c->n_scrape, 2);
	assert_string_equal(c->scrape[0].job_name, "pods");
	assert_non_null(c->scrape[0].pipeline_stages);
	assert_int_equal(c->scrape[0].pipeline_stages->kind, LF_Y_SEQ);
	assert_int_equal(c->scrape[0].pipeline_stages->n, 1);
	assert_non_null(c->scrape[0].relabel_configs);
	assert_non_null(c->scrape[0].kubernetes_sd_configs);
	assert_null(c->scrape[0].static_configs);
	assert_string_equal(c->scrape[1].job_name, "varlog");
	assert_null(c->scrape[1].pipeline_stages);
	assert_non_null(c->scrape[1].static_configs);

	assert_true(c->limits.readline_rate_enabled);
	assert_true(c->limits.readline_rate == 50.5);
	assert_int_equal(c->limits.readline_burst, 100);
	assert_false(c->limits.readline_rate_drop);
	assert_int_equal(c->limits.max_streams, 7);
	assert_int_equal(c->limits.max_line_size, 256000);
	assert_true(c->limits.max_line_size_truncate);
	assert_int_equal(c->target_sync_period_ns, 3 * LF_NS_PER_SEC);
	assert_int_equal(c->min_poll_frequency_ns, 100 * LF_NS_PER_MS);
	assert_int_equal(c->max_poll_frequency_ns, 2 * LF_NS_PER_SEC);
	lf_agent_config_free(c);
}

static void test_unknown_key_line_col(void **state)
{
	(void)state;
	const char *m = load_err("server:\n  http_listen_port: 1\nscrape_config: []\n");
	assert_contains(m, "t.yaml:3:1");
	assert_contains(m, "scrape_config");

	m = load_err("clients:\n  - url: http://x/\n    batch_wait: 1s\n");
	assert_contains(m, "t.yaml:3:5");
	assert_contains(m, "batch_wait");

	m = load_err("scrape_configs:\n  - job_name: a\n    static_config: []\n");
	assert_contains(m, "t.yaml:3:5");
	assert_contains(m, "static_config");
}

/* readline_rate must be a finite number > 0 (issue 17: NaN passed the old
 * `<= 0` check, and a tiny rate made the agent's wait overflow int64). */
static void test_readline_rate_values(void **state)
{
	(void)state;
	const char *bad[] = {".nan", "nan", "inf", "1e999", "-1", "0"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char yaml[200];
		snprintf(yaml, sizeof(yaml),
		         "limits_config:\n  readline_rate_enabled: true\n  readline_rate: %s\n",
		         bad[i]);
		const char *m = load_err(yaml);
		assert_contains(m, "limits_config.readline_rate");
	}
}

/* The source blocks (agent/sources/) are checked at load: unknown keys and
 * bad values with line:column. */
static void test_source_blocks(void **state)
{
	(void)state;
	const char *m = load_err("scrape_configs:\n  - job_name: s\n    syslog:\n"
	                         "      listen_address: 127.0.0.1:0\n      listen_adress: x\n");
	assert_contains(m, "t.yaml:5:7");
	assert_contains(m, "listen_adress");
	m = load_err("scrape_configs:\n  - job_name: s\n    syslog:\n"
	             "      listen_address: 127.0.0.1:0\n      listen_protocol: sctp\n");
	assert_contains(m, "invalid transport protocol. expected 'tcp' or 'udp', got 'sctp'");
	m = load_err("scrape_configs:\n  - job_name: s\n    syslog:\n      labels: {a: b}\n");
	assert_contains(m, "listen_address is required");
	m = load_err("scrape_configs:\n  - job_name: p\n    loki_push_api:\n"
	             "      server:\n        http_listen_prt: 3100\n");
	assert_contains(m, "t.yaml:5:9");
	assert_contains(m, "http_listen_prt");
	struct lf_agent_config *c = load_ok("scrape_configs:\n  - job_name: s\n    syslog:\n"
	                                    "      listen_address: 127.0.0.1:0\n"
	                                    "      idle_timeout: 60s\n"
	                                    "      label_structured_data: true\n"
	                                    "      labels: {job: s}\n"
	                                    "  - job_name: p\n    loki_push_api:\n"
	                                    "      server: {http_listen_port: 0}\n"
	                                    "      use_incoming_timestamp: true\n",
	                                    NULL);
	assert_int_equal(c->n_scrape, 2);
	lf_agent_config_free(c);
}

static void test_bad_values(void **state)
{
	(void)state;
	const char *m = load_err("positions:\n  sync_period: 10x\n");
	assert_contains(m, "t.yaml:2:");
	assert_contains(m, "sync_period");

	m = load_err("clients:\n  - url: http://x/\n    batchwait: soon\n");
	assert_contains(m, "t.yaml:3:");
	assert_contains(m, "batchwait");

	m = load_err("server:\n  http_listen_port: eighty\n");
	assert_contains(m, "t.yaml:2:");
	assert_contains(m, "http_listen_port");

	m = load_err("server:\n  http_listen_port: 70000\n");
	assert_contains(m, "70000");

	m = load_err("server:\n  log_level: loud\n");
	assert_contains(m, "t.yaml:2:");
	assert_contains(m, "loud");

	m = load_err("limits_config:\n  readline_rate_drop: maybe\n");
	assert_contains(m, "readline_rate_drop");

	m = load_err("clients:\n  - tenant_id: x\n");
	assert_contains(m, "url is required");
	assert_contains(m, "clients[0]");

	m = load_err("clients:\n  - url: ftp://x/\n");
	assert_contains(m, "ftp://x/");

	m = load_err("clients:\n  - url: http://x/\n    external_labels: {\"bad-name\": v}\n");
	assert_contains(m, "bad-name");

	m = load_err("clients: {url: http://x/}\n");
	assert_contains(m, "clients");

	m = load_err("scrape_configs:\n  - pipeline_stages: []\n");
	assert_contains(m, "job_name is required");

	m = load_err("scrape_configs:\n  - job_name: a\n    pipeline_stages: {cri: {}}\n");
	assert_contains(m, "t.yaml:3:");
	assert_contains(m, "pipeline_stages");
}

static void test_duplicate_job(void **state)
{
	(void)state;
	const char *m = load_err("scrape_configs:\n"
	                         "  - job_name: x\n"
	                         "  - job_name: y\n"
	                         "  - job_name: x\n");
	assert_contains(m, "found multiple scrape configs with job name \"x\"");
	assert_contains(m, "t.yaml:4:");
}

static void test_ignored_keys_accepted(void **state)
{
	(void)state;
	struct lf_agent_config *c = load_ok("server:\n"
	                                    "  grpc_listen_port: 9095\n"
	                                    "  http_server_read_timeout: 30s\n"
	                                    "  log_format: logfmt\n"
	                                    "wal: {enabled: false}\n"
	                                    "scrape_configs:\n"
	                                    "  - job_name: j\n"
	                                    "    journal: {max_age: 12h}\n",
	                                    NULL);
	assert_int_equal(c->n_scrape, 1);
	lf_agent_config_free(c);
}

static void test_deprecated_client_block(void **state)
{
	(void)state;
	struct lf_agent_config *c = load_ok("client:\n  url: http://one/\n"
	                                    "clients:\n  - url: http://two/\n",
	                                    NULL);
	assert_int_equal(c->n_clients, 2);
	assert_string_equal(c->clients[0].url, "http://one/");
	assert_string_equal(c->clients[1].url, "http://two/");
	lf_agent_config_free(c);
}

static void test_overrides(void **state)
{
	(void)state;
	struct lf_config_overrides ov = LF_CONFIG_OVERRIDES_INIT;
	ov.client_url = "http://flag:3100/loki/api/v1/push";
	ov.client_tenant_id = "ft";
	ov.client_external_labels = "cluster=flag,host=h1";
	ov.log_level = "warn";
	ov.positions_file = "/tmp/p2.yaml";
	ov.http_listen_port = 0;
	struct lf_agent_config *c = load_ok("clients:\n"
	                                    "  - url: http://yaml/\n"
	                                    "    external_labels: {cluster: yaml}\n"
	                                    "server: {log_level: debug}\n",
	                                    &ov);
	assert_int_equal(c->n_clients, 2);
	/* the client's own external label wins over the flag */
	assert_string_equal(lf_labels_get(&c->clients[0].external_labels, "cluster"), "yaml");
	assert_string_equal(lf_labels_get(&c->clients[0].external_labels, "host"), "h1");
	assert_string_equal(c->clients[1].url, "http://flag:3100/loki/api/v1/push");
	assert_string_equal(c->clients[1].tenant_id, "ft");
	assert_string_equal(lf_labels_get(&c->clients[1].external_labels, "cluster"), "flag");
	assert_string_equal(c->server.log_level, "warn");
	assert_string_equal(c->positions.filename, "/tmp/p2.yaml");
	assert_int_equal(c->server.http_listen_port, 0);
	lf_agent_config_free(c);

	struct lf_config_overrides bad = LF_CONFIG_OVERRIDES_INIT;
	bad.client_external_labels = "noequals";
	struct lf_error err = {{0}};
	c = NULL;
	assert_int_equal(lf_agent_config_load_string("{}", 2, "t.yaml", false, &bad, &c, &err), -1);
	assert_contains(err.msg, "noequals");
}

static void test_label_list(void **state)
{
	(void)state;
	struct lf_labels ls = LF_LABELS_INIT;
	struct lf_error err = {{0}};
	assert_int_equal(lf_parse_label_list("a=1,b=x=y,,c=", &ls, &err), 0);
	assert_int_equal(ls.n, 3);
	assert_string_equal(lf_labels_get(&ls, "a"), "1");
	assert_string_equal(lf_labels_get(&ls, "b"), "x=y");
	assert_string_equal(lf_labels_get(&ls, "c"), "");
	assert_int_equal(lf_parse_label_list("1a=b", &ls, &err), -1);
	assert_contains(err.msg, "1a=b");
	lf_labels_free(&ls);
}

static void test_expand_env(void **state)
{
	(void)state;
	setenv("LF_TEST_PORT", "4242", 1);
	const char *y = "server:\n  http_listen_port: ${LF_TEST_PORT}\n"
	                "positions:\n  filename: ${LF_TEST_UNSET:-/tmp/def.yaml}\n";
	struct lf_agent_config *c = NULL;
	struct lf_error err = {{0}};
	assert_int_equal(lf_agent_config_load_string(y, strlen(y), "t.yaml", true, NULL, &c, &err),
	                 0);
	assert_int_equal(c->server.http_listen_port, 4242);
	assert_string_equal(c->positions.filename, "/tmp/def.yaml");
	lf_agent_config_free(c);
	/* without expansion the literal is not a port */
	assert_int_equal(lf_agent_config_load_string(y, strlen(y), "t.yaml", false, NULL, &c, &err),
	                 -1);
}

static void test_render_roundtrip(void **state)
{
	(void)state;
	struct lf_agent_config *c = load_ok(full_yaml, NULL);
	struct lf_buf out = LF_BUF_INIT;
	assert_int_equal(lf_agent_config_render(c, &out), 0);
	assert_contains(out.data, "http_listen_port: 3101");
	assert_contains(out.data, "password: \"<secret>\"");
	assert_null(strstr(out.data, "password: \"p\""));
	assert_contains(out.data, "job_name: pods");
	/* the rendering is itself a valid config that loads to the same values */
	struct lf_agent_config *c2 = load_ok(out.data, NULL);
	assert_int_equal(c2->n_clients, 2);
	assert_int_equal(c2->n_scrape, 2);
	assert_string_equal(c2->scrape[1].job_name, "varlog");
	assert_int_equal(c2->scrape[0].pipeline_stages->n, 1);
	assert_int_equal(c2->positions.sync_period_ns, 90 * LF_NS_PER_SEC);
	assert_int_equal(c2->clients[0].batchsize, 512000);
	assert_int_equal(c2->limits.max_line_size, 256000);
	assert_string_equal(lf_labels_get(&c2->clients[0].external_labels, "cluster"), "c1");
	lf_agent_config_free(c2);
	lf_agent_config_free(c);
	lf_buf_free(&out);
}

/* lf_agent_validate (-check-syntax): builds the pipelines and hands every
 * scrape config to discovery, so errors inside those sections surface. */
static void test_validate(void **state)
{
	(void)state;
	struct lf_agent_config *c = load_ok(full_yaml, NULL);
	struct lf_error err = {{0}};
	if (lf_agent_validate(c, &err) != 0)
		fail_msg("valid config rejected: %s", err.msg);
	lf_agent_config_free(c);

	c = load_ok("scrape_configs:\n"
	            "  - job_name: j1\n"
	            "    pipeline_stages:\n"
	            "      - regex: {expression: '(unclosed'}\n",
	            NULL);
	assert_int_equal(lf_agent_validate(c, &err), -1);
	assert_contains(err.msg, "t.yaml:4:");
	assert_contains(err.msg, "j1");
	lf_agent_config_free(c);

	c = load_ok("scrape_configs:\n"
	            "  - job_name: j2\n"
	            "    static_configs:\n"
	            "      - targets: [localhost]\n"
	            "        labelz: {a: b}\n",
	            NULL);
	assert_int_equal(lf_agent_validate(c, &err), -1);
	assert_contains(err.msg, "t.yaml:5:");
	assert_contains(err.msg, "labelz");
	lf_agent_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_full),
	        cmocka_unit_test(test_unknown_key_line_col),
	        cmocka_unit_test(test_readline_rate_values),
	        cmocka_unit_test(test_source_blocks),
	        cmocka_unit_test(test_bad_values),
	        cmocka_unit_test(test_duplicate_job),
	        cmocka_unit_test(test_ignored_keys_accepted),
	        cmocka_unit_test(test_deprecated_client_block),
	        cmocka_unit_test(test_overrides),
	        cmocka_unit_test(test_label_list),
	        cmocka_unit_test(test_expand_env),
	        cmocka_unit_test(test_render_roundtrip),
	        cmocka_unit_test(test_validate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
