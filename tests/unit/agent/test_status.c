/* test_status.c — what the agent's status pages must never leak or break:
 * every kind of secret in /config is masked (config_mask.h through
 * lf_agent_config_render), every label, value and path on the HTML pages is
 * escaped (status_html.h), and the discovered-target records
 * (discovery/sdlist.h) read back as written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "config_mask.h"
#include "discovery.h"
#include "sdlist.h"
#include "status_html.h"
#include "yamlcfg.h"

#define assert_contains(hay, needle)                                                               \
	do {                                                                                       \
		if (!strstr((hay), (needle)))                                                      \
			fail_msg("expected \"%s\" in:\n%s", (needle), (hay));                      \
	} while (0)
#define assert_absent(hay, needle)                                                                 \
	do {                                                                                       \
		if (strstr((hay), (needle)))                                                       \
			fail_msg("\"%s\" must not appear in:\n%s", (needle), (hay));               \
	} while (0)

static void test_mask_url(void **state)
{
	(void)state;
	struct lf_buf b = LF_BUF_INIT;
	lf_config_mask_url(&b, "https://bob:pa%40ss@loki:3100/loki/api/v1/push");
	assert_string_equal(b.data, "https://bob:<secret>@loki:3100/loki/api/v1/push");
	lf_buf_reset(&b);
	lf_config_mask_url(&b, "http://tok3n@proxy:3128");
	assert_string_equal(b.data, "http://<secret>@proxy:3128");
	lf_buf_reset(&b);
	lf_config_mask_url(&b, "http://loki:3100/push?x=a@b");
	assert_string_equal(b.data, "http://loki:3100/push?x=a@b"); /* '@' after the host */
	lf_buf_reset(&b);
	lf_config_mask_url(&b, "http://u:p@ss@h/x"); /* the last '@' ends the user info */
	assert_string_equal(b.data, "http://u:<secret>@h/x");
	lf_buf_free(&b);
	assert_true(lf_config_url_key("proxy_url"));
	assert_true(lf_config_url_key("api_server"));
	assert_false(lf_config_url_key("urls"));
	assert_true(lf_config_secret_header("authorization"));
	assert_false(lf_config_secret_header("X-Scope-OrgID"));
}

/* Every kind of secret the brief lists, in the client blocks (typed) and in
 * the sections kept as YAML (kubernetes_sd_configs), with env expansion. */
static void test_render_masks_every_secret(void **state)
{
	(void)state;
	char pwfile[] = "/tmp/lf_status_pwXXXXXX";
	int fd = mkstemp(pwfile);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "FILESECRET\n", 11), 11);
	close(fd);
	setenv("LF_TEST_ENV_PW", "ENVSECRET", 1);
	char yaml[4096];
	snprintf(yaml, sizeof(yaml),
	         "clients:\n"
	         "  - url: https://tenant1:URLSECRET@loki.example:3100/loki/api/v1/push\n"
	         "    basic_auth: {username: alice, password: ${LF_TEST_ENV_PW}}\n"
	         "    headers: {Authorization: Bearer HEADERSECRET, X-Team: infra}\n"
	         "    proxy_url: http://px:PROXYSECRET@proxy:3128\n"
	         "    tls_config: {key_file: /etc/tls/client.key, cert_file: /etc/tls/c.crt}\n"
	         "  - url: http://loki2:3100/loki/api/v1/push\n"
	         "    bearer_token: TOKENSECRET\n"
	         "  - url: http://loki3:3100/loki/api/v1/push\n"
	         "    basic_auth: {username: carol, password_file: %s}\n"
	         "scrape_configs:\n"
	         "  - job_name: pods\n"
	         "    kubernetes_sd_configs:\n"
	         "      - role: pod\n"
	         "        api_server: https://sa:APISECRET@10.0.0.1:6443\n"
	         "        bearer_token: SDTOKENSECRET\n"
	         "        basic_auth: {username: dave, password: SDPASSSECRET}\n"
	         "        authorization: {type: Bearer, credentials: CREDSECRET}\n"
	         "        oauth2: {client_id: cid, client_secret: OAUTHSECRET}\n"
	         "        tls_config: {key: INLINEKEYSECRET, key_file: /k.pem}\n"
	         "    pipeline_stages:\n"
	         "      - static_labels: {key: not-a-secret}\n",
	         pwfile);
	struct lf_agent_config *c = NULL;
	struct lf_error err = {{0}};
	if (lf_agent_config_load_string(yaml, strlen(yaml), "t.yaml", true, NULL, &c, &err) != 0)
		fail_msg("load: %s", err.msg);
	struct lf_buf out = LF_BUF_INIT;
	assert_int_equal(lf_agent_config_render(c, &out), 0);
	const char *secrets[] = {
	        "URLSECRET",   "ENVSECRET",       "HEADERSECRET",     "PROXYSECRET",  "TOKENSECRET",
	        "FILESECRET",  "APISECRET",       "SDTOKENSECRET",    "SDPASSSECRET", "CREDSECRET",
	        "OAUTHSECRET", "INLINEKEYSECRET", "${LF_TEST_ENV_PW}"};
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		assert_absent(out.data, secrets[i]);
	/* masked in place, the rest stays readable */
	assert_contains(out.data, "https://tenant1:<secret>@loki.example:3100/loki/api/v1/push");
	assert_contains(out.data, "password: \"<secret>\"");
	assert_contains(out.data, "Authorization: \"<secret>\"");
	assert_contains(out.data, "X-Team: \"infra\"");
	assert_contains(out.data, "http://px:<secret>@proxy:3128");
	assert_contains(out.data, "bearer_token: \"<secret>\"");
	assert_contains(out.data, "key_file: \"/etc/tls/client.key\""); /* a path, not the key */
	assert_contains(out.data, pwfile);                              /* the path only */
	assert_contains(out.data, "https://sa:<secret>@10.0.0.1:6443");
	assert_contains(out.data, "credentials: \"<secret>\"");
	assert_contains(out.data, "client_secret: \"<secret>\"");
	assert_contains(out.data, "    key: \"<secret>\"");
	assert_contains(out.data, "key: not-a-secret"); /* `key` is a secret only in tls_config */
	assert_contains(out.data, "username: \"alice\"");
	assert_contains(out.data, "username: dave");
	/* the masked rendering still loads */
	struct lf_agent_config *c2 = NULL;
	if (lf_agent_config_load_string(out.data, out.len, "r.yaml", false, NULL, &c2, &err) != 0)
		fail_msg("reload of the rendering: %s", err.msg);
	assert_int_equal(c2->n_clients, 3);
	lf_agent_config_free(c2);
	lf_agent_config_free(c);
	lf_buf_free(&out);
	unlink(pwfile);
}

static void test_html_escape(void **state)
{
	(void)state;
	struct lf_buf b = LF_BUF_INIT;
	const char *v = "<script>alert('x')</script>&\"";
	lf_html_escape(&b, v, strlen(v));
	assert_string_equal(b.data, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
	lf_buf_reset(&b);
	lf_url_query_escape(&b, "a b&c=d/é");
	assert_string_equal(b.data, "a%20b%26c%3Dd%2F%C3%A9");
	lf_buf_free(&b);
}

/* A label value holding <script> stays text on both pages. */
static void test_pages_escape_labels(void **state)
{
	(void)state;
	const char *js = "{\"targets\":[{\"job\":\"j<b>\",\"path\":\"/var/log/<i>.log\","
	                 "\"labels\":{\"app\":\"<script>alert(1)</script>\"},\"state\":\"reading\","
	                 "\"offset\":10,\"acked_offset\":10,\"size\":30,\"lines\":2,\"inflight\":0,"
	                 "\"polled\":false,\"error\":\"<img src=x>\","
	                 "\"error_time_ns\":1700000000000000000}]}";
	struct lf_status_query q = {0};
	struct lf_buf o = LF_BUF_INIT;
	assert_int_equal(lf_status_targets_html(&o, js, strlen(js), &q), 0);
	assert_absent(o.data, "<script>");
	assert_absent(o.data, "<img");
	assert_absent(o.data, "<b>");
	assert_absent(o.data, "<i>");
	assert_contains(o.data, "app=&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;");
	assert_contains(o.data, "j&lt;b&gt; (1/1 ready)");
	assert_contains(o.data, "&lt;img src=x&gt;<br><small>since 2023-11-14 22:13:20 UTC");
	/* a search value is echoed escaped in the filter box */
	q.search = "\"><script>";
	lf_buf_reset(&o);
	assert_int_equal(lf_status_targets_html(&o, js, strlen(js), &q), 0);
	assert_absent(o.data, "<script>");
	assert_contains(o.data, "No target matches the filter.");

	struct lf_buf sd = LF_BUF_INIT;
	struct lf_labels disc = LF_LABELS_INIT, fin = LF_LABELS_INIT;
	assert_int_equal(lf_labels_set(&disc, "__meta_x", "<script>x</script>"), 0);
	assert_int_equal(lf_labels_set(&fin, "a", "</td><script>"), 0);
	assert_int_equal(lf_sd_begin(&sd, "job<1>", &disc), 0);
	assert_int_equal(lf_sd_end(&sd, LF_SD_KEPT, SIZE_MAX, "/p/<x>", &fin), 0);
	assert_int_equal(lf_sd_begin(&sd, "job<1>", &disc), 0);
	assert_int_equal(lf_sd_end(&sd, LF_SD_DROPPED, 3, NULL, NULL), 0);
	memset(&q, 0, sizeof(q));
	lf_buf_reset(&o);
	lf_status_sd_html(&o, sd.data, sd.len, 0, &q);
	assert_absent(o.data, "<script>");
	assert_absent(o.data, "</td><script>");
	assert_contains(o.data, "job&lt;1&gt; (1/2 active targets)");
	assert_contains(o.data, "__meta_x=&quot;&lt;script&gt;x&lt;/script&gt;&quot;");
	assert_contains(o.data, "Dropped</span> by relabel_configs[3]");
	lf_labels_free(&disc);
	lf_labels_free(&fin);
	lf_buf_free(&sd);
	lf_buf_free(&o);
}

static void test_sdlist_roundtrip(void **state)
{
	(void)state;
	struct lf_buf sd = LF_BUF_INIT;
	struct lf_labels disc = LF_LABELS_INIT, fin = LF_LABELS_INIT;
	assert_int_equal(lf_labels_set(&disc, "__path__", "/x/*.log"), 0);
	assert_int_equal(lf_labels_set(&disc, "__meta_kubernetes_namespace", "ns"), 0);
	assert_int_equal(lf_labels_set(&fin, "namespace", "ns"), 0);
	assert_int_equal(lf_sd_begin(&sd, "a", &disc), 0);
	assert_int_equal(lf_sd_end(&sd, LF_SD_KEPT, SIZE_MAX, "/x/*.log", &fin), 0);
	assert_int_equal(lf_sd_begin(&sd, "b", NULL), 0);
	assert_int_equal(lf_sd_end(&sd, LF_SD_DROPPED, 0, NULL, NULL), 0);
	assert_int_equal(lf_sd_begin(&sd, "b", &disc), 0);
	assert_int_equal(lf_sd_end(&sd, LF_SD_NO_PATH, SIZE_MAX, NULL, NULL), 0);
	size_t pos = 0;
	struct lf_sd_target t;
	assert_true(lf_sd_next(sd.data, sd.len, &pos, &t));
	assert_string_equal(t.job, "a");
	assert_int_equal(t.verdict, LF_SD_KEPT);
	assert_int_equal(t.n_disc, 2);
	assert_string_equal(lf_sd_disc_get(&t, "__meta_kubernetes_namespace"), "ns");
	assert_null(lf_sd_disc_get(&t, "nope"));
	assert_int_equal(t.n_final, 1);
	assert_string_equal(t.final, "namespace");
	assert_string_equal(t.path, "/x/*.log");
	assert_true(lf_sd_next(sd.data, sd.len, &pos, &t));
	assert_int_equal(t.verdict, LF_SD_DROPPED);
	assert_int_equal(t.rule, 0);
	assert_int_equal(t.n_disc, 0);
	assert_true(lf_sd_next(sd.data, sd.len, &pos, &t));
	assert_int_equal(t.verdict, LF_SD_NO_PATH);
	assert_int_equal(t.rule, SIZE_MAX);
	assert_false(lf_sd_next(sd.data, sd.len, &pos, &t));
	/* a truncated list is not read past its end */
	pos = 0;
	assert_true(lf_sd_next(sd.data, sd.len - 3, &pos, &t));
	assert_true(lf_sd_next(sd.data, sd.len - 3, &pos, &t));
	assert_false(lf_sd_next(sd.data, sd.len - 3, &pos, &t));

	struct lf_buf js = LF_BUF_INIT;
	lf_status_sd_json(&js, sd.data, sd.len, 7);
	assert_contains(js.data, "{\"job\":\"a\",\"active\":1,\"total\":1,");
	assert_contains(js.data, "{\"job\":\"b\",\"active\":0,\"total\":2,");
	assert_contains(js.data, "\"reason\":\"relabel\",\"dropped_by_rule\":0");
	assert_contains(js.data, "\"reason\":\"no_path\"}");
	assert_contains(js.data, "\"omitted\":7}");
	lf_buf_free(&js);
	lf_labels_free(&disc);
	lf_labels_free(&fin);
	lf_buf_free(&sd);
}

/* With more targets than a page holds, a job shows one page and links on. */
static void test_pagination(void **state)
{
	(void)state;
	struct lf_buf sd = LF_BUF_INIT, o = LF_BUF_INIT;
	struct lf_labels disc = LF_LABELS_INIT;
	char v[32];
	for (int i = 0; i < 250; i++) {
		snprintf(v, sizeof(v), "t%03d", i);
		assert_int_equal(lf_labels_set(&disc, "__meta_id", v), 0);
		assert_int_equal(lf_sd_begin(&sd, "big job", &disc), 0);
		assert_int_equal(lf_sd_end(&sd, LF_SD_KEPT, SIZE_MAX, "/x", &disc), 0);
	}
	struct lf_status_query q = {.page = 3};
	lf_status_sd_html(&o, sd.data, sd.len, 0, &q);
	assert_contains(o.data, "(250/250 active targets)");
	assert_contains(o.data, "Page 3 of 3");
	assert_contains(o.data, "t249");
	assert_absent(o.data, "t199&quot;");
	assert_contains(o.data, "href=\"/service-discovery?job=big%20job&amp;page=2\"");
	lf_buf_reset(&o);
	q.page = 1;
	q.search = "t042";
	lf_status_sd_html(&o, sd.data, sd.len, 0, &q);
	assert_contains(o.data, "t042");
	assert_absent(o.data, "t043");
	assert_absent(o.data, "Page ");
	lf_labels_free(&disc);
	lf_buf_free(&sd);
	lf_buf_free(&o);
}

/* Discovery with keep_discovered: every discovered target has a record;
 * as Promtail, at most LF_SD_MAX_DROPPED dropped ones per job keep their
 * labels, the rest are counted. */
static void test_discovery_records(void **state)
{
	(void)state;
	struct lf_buf y = LF_BUF_INIT;
	lf_buf_appends(&y, "job_name: many\nstatic_configs:\n");
	for (int i = 0; i < 150; i++)
		lf_buf_printf(&y,
		              "  - targets: [localhost]\n"
		              "    labels: {n: \"%d\", __path__: /nonexistent/%d.log}\n",
		              i, i);
	lf_buf_appends(&y, "relabel_configs:\n"
	                   "  - {source_labels: [n], target_label: num}\n"
	                   "  - {source_labels: [n], regex: '7', action: keep}\n");
	struct lf_error err;
	struct lf_ydoc *doc;
	if (lf_ydoc_load_string(y.data, y.len, "j.yaml", false, &doc, &err) < 0)
		fail_msg("%s", err.msg);
	struct lf_discovery_opts dopts = {.hostname = "node-a",
	                                  .pods_dir = "/nonexistent",
	                                  .containers_dir = "/nonexistent",
	                                  .keep_discovered = true};
	struct lf_discovery *d;
	assert_int_equal(lf_discovery_new(&dopts, &d, &err), 0);
	if (lf_discovery_add_job(d, 0, "many", lf_ydoc_root(doc), &err) < 0)
		fail_msg("%s", err.msg);
	struct lf_targets t = LF_TARGETS_INIT;
	for (int round = 0; round < 2; round++) { /* the second sync reuses the buffer */
		assert_int_equal(lf_discovery_sync(d, &t, &err), 0);
		assert_int_equal(t.n_sd, 150);
		assert_int_equal(t.sd_omitted, 0);
		size_t pos = 0, listed_drops = 0, unlisted = 0, kept = 0;
		struct lf_sd_target r;
		while (lf_sd_next(t.sd.data, t.sd.len, &pos, &r)) {
			assert_string_equal(r.job, "many");
			if (r.verdict == LF_SD_KEPT) {
				kept++;
				assert_true(r.listed);
				assert_string_equal(lf_sd_disc_get(&r, "n"), "7");
				assert_string_equal(r.path, "/nonexistent/7.log");
				continue;
			}
			assert_int_equal(r.verdict, LF_SD_DROPPED);
			assert_int_equal(r.rule, 1);
			if (r.listed) {
				listed_drops++;
				assert_non_null(lf_sd_disc_get(&r, "__path__"));
				assert_null(lf_sd_disc_get(&r, "num")); /* before relabeling */
			} else {
				unlisted++;
				assert_int_equal(r.n_disc, 0);
			}
		}
		assert_int_equal(pos, t.sd.len);
		assert_int_equal(kept, 1);
		assert_int_equal(listed_drops, LF_SD_MAX_DROPPED);
		assert_int_equal(unlisted, 149 - LF_SD_MAX_DROPPED);
	}
	struct lf_buf o = LF_BUF_INIT;
	lf_status_sd_json(&o, t.sd.data, t.sd.len, t.sd_omitted);
	assert_contains(o.data, "\"active\":1,\"total\":150,\"dropped_not_listed\":49,");
	lf_buf_reset(&o);
	struct lf_status_query q = {0};
	lf_status_sd_html(&o, t.sd.data, t.sd.len, t.sd_omitted, &q);
	assert_contains(o.data, "many (1/150 active targets)");
	assert_contains(o.data, "49 more dropped targets are not listed");
	assert_contains(o.data, "Page 1 of 2");
	lf_buf_free(&o);
	lf_targets_free(&t);
	lf_discovery_free(d);
	lf_ydoc_free(doc);
	lf_buf_free(&y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_mask_url),
	        cmocka_unit_test(test_render_masks_every_secret),
	        cmocka_unit_test(test_html_escape),
	        cmocka_unit_test(test_pages_escape_labels),
	        cmocka_unit_test(test_sdlist_roundtrip),
	        cmocka_unit_test(test_pagination),
	        cmocka_unit_test(test_discovery_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
