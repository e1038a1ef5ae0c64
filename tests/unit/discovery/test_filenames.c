/* test_filenames.c — kubelet log file names → namespace, pod, uid,
 * container, restart, container id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "filenames.h"

#define assert_slice(s, str) assert_true(lf_slice_eq((s), (str)))

static void test_pod_file(void **state)
{
	(void)state;
	struct lf_k8s_pod_file f;
	assert_int_equal(lf_k8s_parse_pod_file("/var/log/pods/shop_web-7d9f8b6c5d-x2k4q_1a2b3c4d-"
	                                       "0000-4000-8000-000000000001/web/2.log",
	                                       &f),
	                 0);
	assert_slice(f.dir.ns, "shop");
	assert_slice(f.dir.pod, "web-7d9f8b6c5d-x2k4q");
	assert_slice(f.dir.uid, "1a2b3c4d-0000-4000-8000-000000000001");
	assert_slice(f.container, "web");
	assert_int_equal(f.restart, 2);
	assert_int_equal(f.kind, LF_K8S_FILE_LOG);
	assert_null(f.rotated_at.p);
}

static void test_pod_file_rotated(void **state)
{
	(void)state;
	struct lf_k8s_pod_file f;
	assert_int_equal(lf_k8s_parse_pod_file(
	                         "/var/log/pods/data_db-0_2b3c/postgres/0.log.20261121-194310", &f),
	                 0);
	assert_int_equal(f.kind, LF_K8S_FILE_ROTATED);
	assert_slice(f.rotated_at, "20261121-194310");
	assert_int_equal(f.restart, 0);
	assert_int_equal(
	        lf_k8s_parse_pod_file(
	                "/var/log/pods/data_db-0_2b3c/postgres/13.log.20261121-194310.gz", &f),
	        0);
	assert_int_equal(f.kind, LF_K8S_FILE_COMPRESSED);
	assert_int_equal(f.restart, 13);
	assert_slice(f.rotated_at, "20261121-194310");
	/* A static pod's directory carries the config hash in the uid place. */
	assert_int_equal(
	        lf_k8s_parse_pod_file("kube-system_etcd-node-a_9f2c1b0a7e6d5c4b3a29180716f5e"
	                              "4d3/etcd/0.log",
	                              &f),
	        0);
	assert_slice(f.dir.uid, "9f2c1b0a7e6d5c4b3a29180716f5e4d3");
}

static void test_pod_file_invalid(void **state)
{
	(void)state;
	struct lf_k8s_pod_file f;
	const char *bad[] = {
	        "/var/log/pods/shop_web_uid/web/x.log",     /* restart not a number */
	        "/var/log/pods/shop_web_uid/web/0.txt",     /* not .log */
	        "/var/log/pods/shop_web_uid/web/0.logx",    /* suffix glued */
	        "/var/log/pods/shop_web_uid/web/0.log.",    /* empty timestamp */
	        "/var/log/pods/shop_web_uid/web/0.log.abc", /* not a timestamp */
	        "/var/log/pods/shopweb/web/0.log",          /* dir lacks two '_' */
	        "/var/log/pods/Shop_web_uid/web/0.log",     /* upper case namespace */
	        "/var/log/pods/shop_web_uid/We_b/0.log",    /* invalid container */
	        "web/0.log",                                /* too short */
	        "0.log",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (lf_k8s_parse_pod_file(bad[i], &f) == 0)
			fail_msg("accepted %s", bad[i]);
	}
}

static void test_pod_dir(void **state)
{
	(void)state;
	struct lf_k8s_pod_dir d;
	const char *n = "monitoring_node-exporter-abcde_3c4d5e6f-0000-4000-8000-000000000003";
	assert_int_equal(lf_k8s_parse_pod_dir(n, strlen(n), &d), 0);
	assert_slice(d.ns, "monitoring");
	assert_slice(d.pod, "node-exporter-abcde");
	assert_slice(d.uid, "3c4d5e6f-0000-4000-8000-000000000003");
	assert_int_equal(lf_k8s_parse_pod_dir("a_b", 3, &d), -1);
	assert_int_equal(lf_k8s_parse_pod_dir("a_b_", 4, &d), -1);
	assert_int_equal(lf_k8s_parse_pod_dir("_b_c", 4, &d), -1);
	assert_int_equal(lf_k8s_parse_pod_dir("a_b_c_d", 7, &d), -1);
}

static void test_container_link(void **state)
{
	(void)state;
	struct lf_k8s_container_link l;
	const char *id = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
	char path[512];
	snprintf(path, sizeof(path), "/var/log/containers/web-7d9f8b6c5d-x2k4q_shop_web-%s.log",
	         id);
	assert_int_equal(lf_k8s_parse_container_link(path, &l), 0);
	assert_slice(l.pod, "web-7d9f8b6c5d-x2k4q");
	assert_slice(l.ns, "shop");
	assert_slice(l.container, "web");
	assert_slice(l.id, id);
	/* Container names may contain '-': the id is the last 64 hex digits. */
	snprintf(path, sizeof(path), "web-7d9f8b6c5d-x2k4q_shop_metrics-exporter-%s.log", id);
	assert_int_equal(lf_k8s_parse_container_link(path, &l), 0);
	assert_slice(l.container, "metrics-exporter");
	/* Pod names may contain dots (DNS subdomains). */
	snprintf(path, sizeof(path), "my.pod-0_default_c-%s.log", id);
	assert_int_equal(lf_k8s_parse_container_link(path, &l), 0);
	assert_slice(l.pod, "my.pod-0");

	snprintf(path, sizeof(path), "web_shop_web-%.63s.log", id); /* 63 digits */
	assert_int_equal(lf_k8s_parse_container_link(path, &l), -1);
	snprintf(path, sizeof(path), "web_shop_web-%.63sZ.log", id); /* not hex */
	assert_int_equal(lf_k8s_parse_container_link(path, &l), -1);
	snprintf(path, sizeof(path), "webshop_web-%s.log", id); /* one '_' */
	assert_int_equal(lf_k8s_parse_container_link(path, &l), -1);
	snprintf(path, sizeof(path), "web_shop_web-%s.log.gz", id);
	assert_int_equal(lf_k8s_parse_container_link(path, &l), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pod_file),         cmocka_unit_test(test_pod_file_rotated),
	        cmocka_unit_test(test_pod_file_invalid), cmocka_unit_test(test_pod_dir),
	        cmocka_unit_test(test_container_link),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
