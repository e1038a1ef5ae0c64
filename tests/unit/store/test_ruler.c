/* test_ruler.c — the ruler's pure parts: the alert state machine (pending,
 * firing, resolved, for, keep_firing_for, restore after a restart,
 * sending), recording-rule labels, rule-file validation, the `ruler:`
 * config block, Prometheus template rewriting and functions, value
 * formatting and the remote-write encoding. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "eval.h"
#include "remote.pb-c.h"
#include "remote_write.h"
#include "rtemplate.h"
#include "rules.h"
#include "template.h"

#define S(x) ((int64_t)(x)*1000000000LL)

static const char *RULES =
        "groups:\n"
        "  - name: g\n"
        "    rules:\n"
        "      - alert: High\n"
        "        expr: sum by (app) (rate({a=\"b\"}[1m])) > 1\n"
        "        for: 10s\n"
        "        keep_firing_for: 0s\n"
        "        labels:\n"
        "          severity: '{{ if gt $value 5.0 }}page{{ else }}ticket{{ end }}'\n"
        "        annotations:\n"
        "          summary: '{{ $labels.app }} at {{ $value }}'\n"
        "      - record: app:rate\n"
        "        expr: sum by (app) (rate({a=\"b\"}[1m]))\n"
        "        labels:\n"
        "          app: overridden\n";

static struct lf_rule_groups load(const char *text)
{
	struct lf_rule_groups gs = {0};
	struct lf_error err;
	int rc = lf_rules_parse(text, strlen(text), "t.yaml", "t.yaml", &gs, &err);
	if (rc < 0)
		fail_msg("%s", err.msg);
	return gs;
}

static void sample(struct lf_sample *s, const char *app, double v)
{
	memset(s, 0, sizeof(*s));
	lf_labels_set(&s->metric, "app", app);
	s->value = v;
}

struct sent {
	int n;
	char names[8][64];
	int64_t ends[8];
	enum lf_alert_state st[8];
};

static void on_send(void *ctx, const struct lf_alert *a, int64_t ends_at)
{
	struct sent *s = ctx;
	if (s->n < 8) {
		snprintf(s->names[s->n], 64, "%s", lf_labels_get(&a->labels, "app"));
		s->ends[s->n] = ends_at;
		s->st[s->n] = a->state;
	}
	s->n++;
}

static void test_state_machine(void **state)
{
	(void)state;
	struct lf_rule_groups gs = load(RULES);
	struct lf_rule *r = &gs.v[0].rules[0];
	assert_true(r->alerting);
	assert_int_equal(r->for_ns, S(10));
	struct lf_alert_rule ar;
	struct lf_error err;
	assert_int_equal(lf_alert_rule_init(&ar, r, &err), 0);
	struct lf_sample s;
	sample(&s, "web", 7);
	/* t=0: pending */
	assert_int_equal(lf_alert_rule_eval(&ar, &s, 1, S(100), NULL, &err), 0);
	assert_int_equal(ar.n_alerts, 1);
	assert_int_equal(ar.alerts[0].state, LF_ALERT_PENDING);
	assert_int_equal(ar.alerts[0].active_at, S(100));
	assert_string_equal(lf_labels_get(&ar.alerts[0].labels, "alertname"), "High");
	assert_string_equal(lf_labels_get(&ar.alerts[0].labels, "severity"), "page");
	assert_string_equal(lf_labels_get(&ar.alerts[0].annotations, "summary"), "web at 7");
	struct sent sn = {0};
	assert_int_equal(lf_alert_rule_collect(&ar, S(100), S(60), S(1), on_send, &sn), 0);
	/* 9 s later: still pending */
	assert_int_equal(lf_alert_rule_eval(&ar, &s, 1, S(109), NULL, &err), 0);
	assert_int_equal(ar.alerts[0].state, LF_ALERT_PENDING);
	/* for elapsed: firing, sent with endsAt = ts + 4 x max(resend, interval) */
	s.value = 8; /* the value changes, the label set (severity=page) stays */
	assert_int_equal(lf_alert_rule_eval(&ar, &s, 1, S(110), NULL, &err), 0);
	assert_int_equal(ar.alerts[0].state, LF_ALERT_FIRING);
	assert_int_equal(ar.alerts[0].fired_at, S(110));
	assert_true(ar.alerts[0].value == 8);
	assert_int_equal(lf_alert_rule_collect(&ar, S(110), S(60), S(1), on_send, &sn), 1);
	assert_int_equal(sn.ends[0], S(110) + 4 * S(60));
	/* not re-sent before resend_delay, re-sent after */
	assert_int_equal(lf_alert_rule_eval(&ar, &s, 1, S(111), NULL, &err), 0);
	assert_int_equal(lf_alert_rule_collect(&ar, S(111), S(60), S(1), on_send, &sn), 0);
	assert_int_equal(lf_alert_rule_collect(&ar, S(170), S(60), S(1), on_send, &sn), 1);
	/* gone from the vector: resolved, sent once with endsAt = resolvedAt */
	assert_int_equal(lf_alert_rule_eval(&ar, NULL, 0, S(180), NULL, &err), 0);
	assert_int_equal(ar.alerts[0].state, LF_ALERT_INACTIVE);
	assert_int_equal(ar.alerts[0].resolved_at, S(180));
	sn.n = 0;
	assert_int_equal(lf_alert_rule_collect(&ar, S(180), S(60), S(1), on_send, &sn), 1);
	assert_int_equal(sn.ends[0], S(180));
	assert_int_equal(lf_alert_rule_collect(&ar, S(181), S(60), S(1), on_send, &sn), 0);
	/* while kept, the resolved alert is re-sent every resend_delay */
	assert_int_equal(lf_alert_rule_collect(&ar, S(240), S(60), S(1), on_send, &sn), 1);
	assert_int_equal(sn.ends[1], S(180));
	/* kept 15 minutes, then forgotten */
	assert_int_equal(lf_alert_rule_eval(&ar, NULL, 0, S(180) + S(15 * 60), NULL, &err), 0);
	assert_int_equal(ar.n_alerts, 1);
	assert_int_equal(lf_alert_rule_eval(&ar, NULL, 0, S(181) + S(15 * 60), NULL, &err), 0);
	assert_int_equal(ar.n_alerts, 0);
	/* a pending alert that disappears is dropped at once */
	assert_int_equal(lf_alert_rule_eval(&ar, &s, 1, S(2000), NULL, &err), 0);
	assert_int_equal(lf_alert_rule_eval(&ar, NULL, 0, S(2001), NULL, &err), 0);
	assert_int_equal(ar.n_alerts, 0);
	lf_samples_free(&s, 1);
	lf_alert_rule_fini(&ar);
	lf_rule_groups_free(&gs);
}

static void test_for_zero_and_keep_firing(void **state)
{
	(void)state;
	struct lf_rule_groups gs = load("groups:\n  - name: g\n    rules:\n"
	                                "      - alert: A\n        expr: vector(1)\n"
	                                "        keep_firing_for: 5s\n");
	struct lf_alert_rule ar;
	struct lf_error err;
	assert_int_equal(lf_alert_rule_init(&ar, &gs.v[0].rules[0], &err), 0);
	struct lf_sample s;
	sample(&s, "x", 1);
	/* for = 0: firing at the first evaluation */
	assert_int_equal(lf_alert_rule_eval(&ar, &s, 1, S(10), NULL, &err), 0);
	assert_int_equal(ar.alerts[0].state, LF_ALERT_FIRING);
	/* missing, but keep_firing_for holds it for 5 s from the first miss */
	assert_int_equal(lf_alert_rule_eval(&ar, NULL, 0, S(11), NULL, &err), 0);
	assert_int_equal(ar.alerts[0].state, LF_ALERT_FIRING);
	assert_int_equal(lf_alert_rule_eval(&ar, NULL, 0, S(15), NULL, &err), 0);
	assert_int_equal(ar.alerts[0].state, LF_ALERT_FIRING);
	/* back: the keep-firing clock resets */
	assert_int_equal(lf_alert_rule_eval(&ar, &s, 1, S(16), NULL, &err), 0);
	assert_int_equal(lf_alert_rule_eval(&ar, NULL, 0, S(17), NULL, &err), 0);
	assert_int_equal(lf_alert_rule_eval(&ar, NULL, 0, S(21), NULL, &err), 0);
	assert_int_equal(ar.alerts[0].state, LF_ALERT_FIRING);
	assert_int_equal(lf_alert_rule_eval(&ar, NULL, 0, S(22), NULL, &err), 0);
	assert_int_equal(ar.alerts[0].state, LF_ALERT_INACTIVE);
	assert_int_equal(ar.alerts[0].resolved_at, S(22));
	lf_samples_free(&s, 1);
	lf_alert_rule_fini(&ar);
	lf_rule_groups_free(&gs);
}

static void test_restore(void **state)
{
	(void)state;
	struct lf_rule_groups gs = load(RULES);
	struct lf_rule *r = &gs.v[0].rules[0];
	struct lf_error err;
	struct lf_sample s;
	sample(&s, "web", 7);
	struct lf_labels l = LF_LABELS_INIT;
	lf_labels_set(&l, "app", "web");
	lf_labels_set(&l, "alertname", "High");
	lf_labels_set(&l, "severity", "page");
	/* restart while pending: for counts from the first activeAt */
	struct lf_alert_rule ar;
	assert_int_equal(lf_alert_rule_init(&ar, r, &err), 0);
	assert_int_equal(lf_alert_rule_restore(&ar, &l, LF_ALERT_PENDING, S(100), 0, 7), 0);
	assert_int_equal(lf_alert_rule_eval(&ar, &s, 1, S(105), NULL, &err), 0);
	assert_int_equal(ar.n_alerts, 1);
	assert_int_equal(ar.alerts[0].state, LF_ALERT_PENDING);
	assert_int_equal(ar.alerts[0].active_at, S(100));
	assert_int_equal(lf_alert_rule_eval(&ar, &s, 1, S(110), NULL, &err), 0);
	assert_int_equal(ar.alerts[0].state, LF_ALERT_FIRING);
	lf_alert_rule_fini(&ar);
	/* restart while firing: firing at once, sent again at once */
	assert_int_equal(lf_alert_rule_init(&ar, r, &err), 0);
	assert_int_equal(lf_alert_rule_restore(&ar, &l, LF_ALERT_FIRING, S(100), S(110), 7), 0);
	assert_int_equal(lf_alert_rule_eval(&ar, &s, 1, S(200), NULL, &err), 0);
	assert_int_equal(ar.alerts[0].state, LF_ALERT_FIRING);
	assert_int_equal(ar.alerts[0].fired_at, S(110));
	struct sent sn = {0};
	assert_int_equal(lf_alert_rule_collect(&ar, S(200), S(60), S(1), on_send, &sn), 1);
	/* a restored firing alert that is gone is resolved (and sent) */
	assert_int_equal(lf_alert_rule_eval(&ar, NULL, 0, S(201), NULL, &err), 0);
	assert_int_equal(ar.alerts[0].state, LF_ALERT_INACTIVE);
	assert_int_equal(lf_alert_rule_collect(&ar, S(201), S(60), S(1), on_send, &sn), 1);
	assert_int_equal(sn.ends[1], S(201));
	lf_alert_rule_fini(&ar);
	lf_labels_free(&l);
	lf_samples_free(&s, 1);
	lf_rule_groups_free(&gs);
}

static void test_restore_for_state(void **state)
{
	(void)state;
	int64_t at;
	/* for 1h, pending 10m, down 5m: the downtime does not count */
	at = S(1000);
	assert_true(lf_alert_restore_active_at(S(3600), S(600), S(1600), S(1900), &at));
	assert_int_equal(at, S(1300));
	/* due 2m after the store went down (< grace 10m): fires at restart + grace */
	at = S(1000);
	assert_true(lf_alert_restore_active_at(S(3600), S(600), S(1000) + S(3480), S(10000), &at));
	assert_int_equal(at, S(10000) + S(600) - S(3600));
	/* already due before the restart: fires at the first evaluation */
	at = S(1000);
	assert_true(lf_alert_restore_active_at(S(3600), S(600), S(5000), S(6000), &at));
	assert_int_equal(at, S(1000));
	/* for shorter than the grace period: not restored */
	at = S(1000);
	assert_false(lf_alert_restore_active_at(S(60), S(600), S(1030), S(1100), &at));
}

static void test_duplicates_and_recording(void **state)
{
	(void)state;
	struct lf_rule_groups gs = load(RULES);
	struct lf_error err;
	struct lf_sample in[2], out[2];
	sample(&in[0], "a", 1);
	sample(&in[1], "b", 2);
	assert_int_equal(lf_record_samples(&gs.v[0].rules[1], in, 2, out, &err), -1);
	assert_non_null(strstr(err.msg, "same labelset after applying rule labels"));
	assert_int_equal(lf_record_samples(&gs.v[0].rules[1], in, 1, out, &err), 0);
	assert_string_equal(lf_labels_get(&out[0].metric, "__name__"), "app:rate");
	assert_string_equal(lf_labels_get(&out[0].metric, "app"), "overridden");
	lf_samples_free(out, 1);
	/* an alert rule whose labels collapse two samples into one alert */
	struct lf_rule_groups g2 = load("groups:\n  - name: g\n    rules:\n"
	                                "      - alert: A\n        expr: vector(1)\n"
	                                "        labels:\n          app: same\n");
	struct lf_alert_rule ar;
	assert_int_equal(lf_alert_rule_init(&ar, &g2.v[0].rules[0], &err), 0);
	assert_int_equal(lf_alert_rule_eval(&ar, in, 2, S(1), NULL, &err), -1);
	assert_non_null(strstr(err.msg, "same labelset after applying alert labels"));
	assert_int_equal(ar.n_alerts, 0);
	lf_alert_rule_fini(&ar);
	lf_samples_free(in, 2);
	lf_rule_groups_free(&g2);
	lf_rule_groups_free(&gs);
}

static void expect_error(const char *text, const char *want)
{
	struct lf_rule_groups gs = {0};
	struct lf_error err;
	assert_int_equal(lf_rules_parse(text, strlen(text), "f.yaml", "f.yaml", &gs, &err), -1);
	if (!strstr(err.msg, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err.msg, want);
	assert_int_equal(gs.n, 0);
}

static void test_validation(void **state)
{
	(void)state;
	expect_error("groups:\n  - rules: []\n", "Groupname must not be empty");
	expect_error("groups:\n  - name: a\n  - name: a\n", "groupname: \"a\" is repeated");
	expect_error("groups:\n  - name: a\n    rules:\n      - expr: vector(1)\n",
	             "one of 'record' or 'alert' must be set");
	expect_error("groups:\n  - name: a\n    rules:\n      - alert: x\n        record: y\n"
	             "        expr: vector(1)\n",
	             "only one of 'record' and 'alert' must be set");
	expect_error("groups:\n  - name: a\n    rules:\n      - alert: x\n",
	             "field 'expr' must be set in rule");
	expect_error("groups:\n  - name: g\n    rules:\n      - alert: x\n"
	             "        expr: '{a=\"b\"} |= \"c\"'\n",
	             "f.yaml:4:9: group \"g\", rule 1, \"x\": could not parse expression for alert "
	             "'x' in group 'g': ");
	expect_error(
	        "groups:\n  - name: g\n    rules:\n      - record: x\n        expr: vector(1)\n"
	        "        for: 1m\n",
	        "invalid field 'for' in recording rule");
	expect_error("groups:\n  - name: g\n    rules:\n      - record: 'bad name'\n"
	             "        expr: vector(1)\n",
	             "invalid recording rule name: bad name");
	expect_error("groups:\n  - name: g\n    rules:\n      - alert: x\n        expr: vector(1)\n"
	             "        labels:\n          __name__: y\n",
	             "invalid label name: __name__");
	expect_error("groups:\n  - name: g\n    rules:\n      - alert: x\n        expr: vector(1)\n"
	             "        annotations:\n          s: '{{ nope }}'\n",
	             "function \"nope\" not defined");
	expect_error("groups:\n  - name: g\n    bogus: 1\n", "unknown key \"bogus\"");
	/* rule durations are Prometheus durations (model.Duration) */
	expect_error("groups:\n  - name: g\n    rules:\n      - alert: x\n        expr: vector(1)\n"
	             "        for: 1us\n",
	             "not a valid duration string: \"1us\"");
	expect_error("groups:\n  - name: g\n    interval: 1.5m\n    rules: []\n",
	             "not a valid duration string: \"1.5m\"");
	/* templates cannot loop: range and recursive define/template are refused */
	expect_error("groups:\n  - name: g\n    rules:\n      - alert: x\n        expr: vector(1)\n"
	             "        annotations:\n          s: '{{ range $labels }}x{{ end }}'\n",
	             "{{range}} is not supported");
	expect_error("groups:\n  - name: g\n    rules:\n      - alert: x\n        expr: vector(1)\n"
	             "        annotations:\n          s: '{{ define \"a\" }}{{ template \"a\" }}"
	             "{{ end }}'\n",
	             "{{define}} is not supported");
	/* a good file renders back to YAML that parses to the same groups */
	struct lf_rule_groups gs = load(RULES);
	struct lf_buf b = LF_BUF_INIT;
	lf_buf_appends(&b, "groups:\n");
	lf_rule_group_render(&gs.v[0], 2, true, &b);
	struct lf_rule_groups back = load(b.data);
	assert_true(lf_rule_group_equal(&gs.v[0], &back.v[0]));
	assert_non_null(strstr(b.data, "for: 10s\n"));
	lf_buf_free(&b);
	lf_rule_groups_free(&back);
	lf_rule_groups_free(&gs);

	/* names YAML would fold or misread (U+2028/U+2029/U+0085 are line
	 * breaks to YAML, "-" starts a list item) come back unchanged
	 * (found by fuzz_rules) */
	gs = load("groups:\n  - name: \"a\\Pb\\Lc\\Nd\\x7f\"\n    rules:\n"
	          "      - alert: \"-\"\n        expr: vector(1)\n"
	          "        labels:\n          a: \"NULL\"\n          b: \"True\"\n          c: "
	          "\"12\"\n"
	          "          d: \"~\"\n");
	assert_string_equal(gs.v[0].name, "a\xe2\x80\xa9"
	                                  "b\xe2\x80\xa8"
	                                  "c\xc2\x85"
	                                  "d\x7f");
	assert_string_equal(gs.v[0].rules[0].name, "-");
	assert_string_equal(lf_labels_get(&gs.v[0].rules[0].labels, "a"), "NULL");
	b = (struct lf_buf)LF_BUF_INIT;
	lf_buf_appends(&b, "groups:\n");
	lf_rule_group_render(&gs.v[0], 2, true, &b);
	assert_non_null(strstr(b.data, "name: \"a\\Pb\\Lc\\Nd\\x7f\"\n"));
	assert_non_null(strstr(b.data, "a: \"NULL\"\n"));
	assert_non_null(strstr(b.data, "b: \"True\"\n"));
	back = load(b.data);
	assert_true(lf_rule_group_equal(&gs.v[0], &back.v[0]));
	lf_buf_free(&b);
	lf_rule_groups_free(&back);
	lf_rule_groups_free(&gs);
}

static void test_config(void **state)
{
	(void)state;
	struct lf_store_config c;
	struct lf_error err;
	assert_int_equal(lf_store_config_defaults(&c), 0);
	assert_false(lf_ruler_enabled(&c.ruler));
	assert_int_equal(c.ruler.evaluation_interval, S(60));
	assert_int_equal(c.ruler.poll_interval, S(60));
	assert_true(c.ruler.enable_api);
	const char *y = "ruler:\n  storage:\n    type: local\n    local:\n      directory: /r\n"
	                "  alertmanager_url: http://a:9093,http://b:9093\n"
	                "  evaluation_interval: 5s\n  enable_sharding: true\n"
	                "  ring:\n    kvstore:\n      store: inmemory\n"
	                "  external_labels:\n    cluster: c1\n"
	                "  alertmanager_client:\n    basic_auth_username: u\n"
	                "  remote_write:\n    enabled: true\n    client:\n      url: http://p/w\n";
	assert_int_equal(lf_store_config_load_string(&c, y, strlen(y), "c.yaml", &err), 0);
	assert_true(lf_ruler_enabled(&c.ruler));
	assert_string_equal(c.ruler.local_directory, "/r");
	assert_int_equal(c.ruler.evaluation_interval, S(5));
	assert_string_equal(lf_labels_get(&c.ruler.external_labels, "cluster"), "c1");
	assert_string_equal(c.ruler.am_basic_user, "u");
	assert_string_equal(c.ruler.rw_url, "http://p/w");
	lf_store_config_free(&c);
	assert_int_equal(lf_store_config_defaults(&c), 0);
	const char *bad = "ruler:\n  storage:\n    type: s3\n";
	assert_int_equal(lf_store_config_load_string(&c, bad, strlen(bad), "c.yaml", &err), -1);
	assert_non_null(strstr(err.msg, "unsupported rule storage \"s3\""));
	lf_store_config_free(&c);
	assert_int_equal(lf_store_config_defaults(&c), 0);
	const char *rw = "ruler:\n  remote_write:\n    enabled: true\n";
	assert_int_equal(lf_store_config_load_string(&c, rw, strlen(rw), "c.yaml", &err), -1);
	assert_non_null(strstr(err.msg, "remote-write enabled but no clients URL are configured"));
	lf_store_config_free(&c);
}

static void expand(const char *tmpl, double v, const char *want)
{
	struct lf_template *t = NULL;
	struct lf_error err;
	struct lf_labels l = LF_LABELS_INIT, ext = LF_LABELS_INIT;
	lf_labels_set(&l, "instance", "host1:9100");
	lf_labels_set(&ext, "cluster", "c1");
	if (lf_rtmpl_new("__alert_x", tmpl, &t, &err) < 0)
		fail_msg("parse %s: %s", tmpl, err.msg);
	struct lf_rtmpl_data d = {&l, &ext, v, "http://ruler"};
	struct lf_buf out = LF_BUF_INIT;
	if (lf_rtmpl_exec(t, &d, &out, &err) < 0)
		fail_msg("exec %s: %s", tmpl, err.msg);
	if (strcmp(out.data ? out.data : "", want))
		fail_msg("%s gave \"%s\", want \"%s\"", tmpl, out.data ? out.data : "", want);
	lf_buf_free(&out);
	lf_template_free(t);
	lf_labels_free(&l);
	lf_labels_free(&ext);
}

static void test_templates(void **state)
{
	(void)state;
	expand("{{ $labels.instance }} {{ $value }}", 2.5, "host1:9100 2.5");
	expand("{{ .Labels.instance }}/{{ .Value }}/{{ $externalLabels.cluster }}/{{ $externalURL "
	       "}}",
	       1, "host1:9100/1/c1/http://ruler");
	expand("{{ \"$labels.instance\" }}", 0, "$labels.instance"); /* strings untouched */
	expand("$labels.instance", 0, "$labels.instance");           /* text untouched */
	expand("{{ $value | humanize }}", 1234567, "1.235M");
	expand("{{ humanize 0.00012 }}", 0, "120u");
	expand("{{ humanize 0 }}", 0, "0");
	expand("{{ humanize1024 1048576 }}", 0, "1Mi");
	expand("{{ humanize1024 512 }}", 0, "512");
	expand("{{ humanizeDuration 3725 }}", 0, "1h 2m 5s");
	expand("{{ humanizeDuration 90061 }}", 0, "1d 1h 1m 1s");
	expand("{{ humanizeDuration 12.3456 }}", 0, "12.35s");
	expand("{{ humanizeDuration 0.0015 }}", 0, "1.5ms");
	expand("{{ humanizeDuration 0 }}", 0, "0s");
	expand("{{ humanizePercentage 0.1234 }}", 0, "12.34%");
	expand("{{ humanizeTimestamp 1435065584.128 }}", 0, "2015-06-23 13:19:44.128 +0000 UTC");
	expand("{{ $labels.instance | stripPort }}", 0, "host1");
	expand("{{ stripPort \"[::1]:80\" }}", 0, "::1");
	expand("{{ toUpper \"ab\" }}{{ toLower \"CD\" }}", 0, "ABcd");
	expand("{{ if match \"^host\" $labels.instance }}yes{{ end }}", 0, "yes");
	expand("{{ reReplaceAll \":.*\" \"\" $labels.instance }}", 0, "host1");
	expand("{{ parseDuration \"1m30s\" }}", 0, "90");
	expand("{{ if gt $value 10.0 }}big{{ else }}small{{ end }}", 11, "big");
	/* bounded output */
	struct lf_template *t = NULL;
	struct lf_error err;
	assert_int_equal(lf_rtmpl_new("x", "{{ repeat 100000 \"xy\" }}", &t, &err), 0);
	struct lf_rtmpl_data d = {NULL, NULL, 0, ""};
	struct lf_buf out = LF_BUF_INIT;
	assert_int_equal(lf_rtmpl_exec(t, &d, &out, &err), -1);
	assert_non_null(strstr(err.msg, "exceeds the limit"));
	lf_buf_free(&out);
	lf_template_free(t);
}

static void test_format_value(void **state)
{
	(void)state;
	char b[64];
	struct {
		double v;
		const char *s;
	} c[] = {{3, "3"},
	         {0.5, "0.5"},
	         {123456, "123456"},
	         {1e6, "1e+06"},
	         {1234567, "1.234567e+06"},
	         {0.0001, "0.0001"},
	         {0.00001, "1e-05"},
	         {-2.25, "-2.25"},
	         {NAN, "NaN"},
	         {INFINITY, "+Inf"},
	         {0, "0"}};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		lf_rtmpl_format_value(c[i].v, b, sizeof(b));
		assert_string_equal(b, c[i].s);
	}
}

static void test_remote_write_encoding(void **state)
{
	(void)state;
	struct lf_sample s[2];
	sample(&s[0], "a", 1.5);
	sample(&s[1], "b", 2);
	lf_labels_set(&s[0].metric, "__name__", "m");
	lf_labels_set(&s[1].metric, "__name__", "m");
	struct lf_buf b = LF_BUF_INIT;
	assert_int_equal(lf_rw_encode(s, 2, 1700000000123, &b), 0);
	Prometheus__WriteRequest *wr =
	        prometheus__write_request__unpack(NULL, b.len, (const uint8_t *)b.data);
	assert_non_null(wr);
	assert_int_equal(wr->n_timeseries, 2);
	assert_int_equal(wr->timeseries[0]->n_labels, 2);
	assert_string_equal(wr->timeseries[0]->labels[0]->name, "__name__");
	assert_string_equal(wr->timeseries[0]->labels[1]->value, "a");
	assert_int_equal(wr->timeseries[1]->samples[0]->timestamp, 1700000000123);
	assert_true(wr->timeseries[0]->samples[0]->value == 1.5);
	prometheus__write_request__free_unpacked(wr, NULL);
	lf_buf_free(&b);
	lf_samples_free(s, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_state_machine),
	        cmocka_unit_test(test_for_zero_and_keep_firing),
	        cmocka_unit_test(test_restore),
	        cmocka_unit_test(test_restore_for_state),
	        cmocka_unit_test(test_duplicates_and_recording),
	        cmocka_unit_test(test_validation),
	        cmocka_unit_test(test_config),
	        cmocka_unit_test(test_templates),
	        cmocka_unit_test(test_format_value),
	        cmocka_unit_test(test_remote_write_encoding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
