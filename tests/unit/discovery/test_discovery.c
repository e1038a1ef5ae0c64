/* test_discovery.c — the sync: static_configs with globs, the Helm chart's
 * kubernetes-pods job over the fixture PodList (exact label sets), pods
 * leaving the PodList, file-name labels for unknown pods, namespaces, and a
 * rough timing of a 250 pods x 3 containers sync (printed, not asserted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "discovery.h"
#include "timeutil.h"
#include "yamlcfg.h"

static char root[256];

static void mkpath(const char *rel, bool dir)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (char *s = p + strlen(root) + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	if (dir) {
		mkdir(p, 0755);
		return;
	}
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
}

static void rmpath(const char *rel)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s'", root, rel);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/lf-disc-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	setenv("LF_TEST_ROOT", root, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static struct lf_discovery *new_disc(void)
{
	char pods[512], conts[512];
	snprintf(pods, sizeof(pods), "%s/var/log/pods", root);
	snprintf(conts, sizeof(conts), "%s/var/log/containers", root);
	struct lf_discovery_opts o = {
	        .hostname = "node-a", .pods_dir = pods, .containers_dir = conts};
	struct lf_discovery *d;
	struct lf_error err;
	if (lf_discovery_new(&o, &d, &err) < 0)
		fail_msg("%s", err.msg);
	return d;
}

/* Adds a job from YAML text (env-expanded: ${LF_TEST_ROOT}). */
static int add_job_yaml(struct lf_discovery *d, size_t idx, const char *yaml, struct lf_error *err)
{
	struct lf_ydoc *doc;
	if (lf_ydoc_load_string(yaml, strlen(yaml), "test.yaml", true, &doc, err) < 0)
		return -1;
	const struct lf_ynode *r = lf_ydoc_root(doc);
	char *name = NULL;
	lf_ymap_str(r, "x", "job_name", &name, err);
	int rc = lf_discovery_add_job(d, idx, name ? name : "", r, err);
	free(name);
	lf_ydoc_free(doc);
	return rc;
}

static void add_helm_job(struct lf_discovery *d, size_t idx)
{
	struct lf_ydoc *doc;
	struct lf_error err;
	if (lf_ydoc_load_file(LF_FIXTURES "/helm-kubernetes-pods.yaml", true, &doc, &err) < 0)
		fail_msg("%s", err.msg);
	if (lf_discovery_add_job(d, idx, "kubernetes-pods", lf_ydoc_root(doc), &err) < 0)
		fail_msg("%s", err.msg);
	lf_ydoc_free(doc);
}

/* Renders the targets as "<path relative to root> <job> {labels}\n". */
static const char *render(struct lf_discovery *d, struct lf_targets *t)
{
	static struct lf_buf out;
	struct lf_error err;
	if (lf_discovery_sync(d, t, &err) < 0)
		fail_msg("%s", err.msg);
	lf_buf_reset(&out);
	for (size_t i = 0; i < t->n; i++) {
		const char *p = t->v[i].path;
		if (strncmp(p, root, strlen(root)) == 0)
			p += strlen(root);
		lf_buf_printf(&out, "%s %zu ", p, t->v[i].job);
		lf_labels_render(t->v[i].labels, &out);
		lf_buf_putc(&out, '\n');
	}
	return out.data ? out.data : "";
}

static void assert_text(const char *got, const char *want)
{
	if (strcmp(got, want) != 0)
		fail_msg("\n--- got ---\n%s--- want ---\n%s", got, want);
}

/* A kubernetes_sd job on a node whose /var/log/pods does not exist (yet):
 * no targets, no error, and no qsort/bsearch on a NULL array (UBSan halts
 * this test in the sanitizer build if there is). */
static void test_kubernetes_without_pods_dir(void **state)
{
	(void)state;
	rmpath("var");
	struct lf_discovery *d = new_disc();
	add_helm_job(d, 0);
	struct lf_targets t = {0};
	assert_text(render(d, &t), "");
	lf_targets_free(&t);
	lf_discovery_free(d);
}

static void test_static(void **state)
{
	(void)state;
	mkpath("app/a.log", false);
	mkpath("app/b.log", false);
	mkpath("app/skip.log", false);
	mkpath("app/sub/c.log", false);
	mkpath("app/d.txt", false);
	struct lf_discovery *d = new_disc();
	struct lf_error err;
	assert_int_equal(
	        add_job_yaml(
	                d, 0,
	                "job_name: app\n"
	                "static_configs:\n"
	                "  - targets: [localhost]\n"
	                "    labels:\n"
	                "      job: app\n"
	                "      __path__: ${LF_TEST_ROOT}/app/**/*.log\n"
	                "      __path_exclude__: ${LF_TEST_ROOT}/app/skip.log\n"
	                "  - labels: {job: other, __path__: '${LF_TEST_ROOT}/app/*.{log,txt}'}\n"
	                "  - labels: {job: elsewhere, __host__: node-b, __path__: /x}\n"
	                "  - labels: {job: nopath}\n"
	                "relabel_configs:\n"
	                "  - source_labels: [__address__]\n"
	                "    target_label: host\n",
	                &err),
	        0);
	assert_int_equal(
	        add_job_yaml(d, 1,
	                     "job_name: second\n"
	                     "static_configs:\n"
	                     "  - targets: [a, b]\n" /* two targets, same files */
	                     "    labels: {__path__: '${LF_TEST_ROOT}/app/a.log'}\n"
	                     "relabel_configs:\n"
	                     "  - {source_labels: [__address__], regex: b, action: drop}\n",
	                     &err),
	        0);
	struct lf_targets t = LF_TARGETS_INIT;
	/* Job 0: the first static entry wins over the second for a.log, b.log
	 * (same job, same path); d.txt only matches the second, and so does
	 * skip.log: an exclude applies to its own entry only. */
	assert_text(render(d, &t), "/app/a.log 0 {host=\"localhost\", job=\"app\"}\n"
	                           "/app/a.log 1 {}\n"
	                           "/app/b.log 0 {host=\"localhost\", job=\"app\"}\n"
	                           "/app/d.txt 0 {host=\"localhost\", job=\"other\"}\n"
	                           "/app/skip.log 0 {host=\"localhost\", job=\"other\"}\n"
	                           "/app/sub/c.log 0 {host=\"localhost\", job=\"app\"}\n");
	assert_int_equal(t.dropped.exists, 2);
	assert_int_equal(t.dropped.wrong_host, 1);
	assert_int_equal(t.dropped.no_path, 1);
	assert_int_equal(t.dropped.dropped, 1);
	/* Watched: app (listed by ** and *) and app/sub (listed by **). */
	char want0[600], want1[600];
	snprintf(want0, sizeof(want0), "%s/app", root);
	snprintf(want1, sizeof(want1), "%s/app/sub", root);
	bool w0 = false, w1 = false;
	for (size_t i = 0; i < t.n_watch_dirs; i++) {
		w0 |= strcmp(t.watch_dirs[i], want0) == 0;
		w1 |= strcmp(t.watch_dirs[i], want1) == 0;
	}
	assert_true(w0 && w1);
	/* A new file shows up at the next sync; a removed one goes. */
	mkpath("app/e.log", false);
	rmpath("app/b.log");
	assert_text(render(d, &t), "/app/a.log 0 {host=\"localhost\", job=\"app\"}\n"
	                           "/app/a.log 1 {}\n"
	                           "/app/d.txt 0 {host=\"localhost\", job=\"other\"}\n"
	                           "/app/e.log 0 {host=\"localhost\", job=\"app\"}\n"
	                           "/app/skip.log 0 {host=\"localhost\", job=\"other\"}\n"
	                           "/app/sub/c.log 0 {host=\"localhost\", job=\"app\"}\n");
	lf_targets_free(&t);
	lf_discovery_free(d);
	rmpath("app");
}

static void test_job_errors(void **state)
{
	(void)state;
	struct {
		const char *yaml, *want;
	} cases[] = {
	        {"static_configs:\n  - labels: {a: b}\n    target: [x]\n",
	         "test.yaml:3:5: unknown key \"target\" in scrape_configs[3].static_configs[0]"},
	        {"static_configs:\n  - labels: {a-b: c}\n", "invalid label name \"a-b\""},
	        {"static_configs:\n  - labels: {a: [1]}\n", "value must be a string"},
	        {"kubernetes_sd_configs:\n  - role: pod\n    source: magic\n",
	         "scrape_configs[3].kubernetes_sd_configs[0]: unknown source \"magic\""},
	        {"kubernetes_sd_configs: {role: pod}\n", "kubernetes_sd_configs: must be a list"},
	        {"relabel_configs:\n  - action: nope\n", "scrape_configs[3].relabel_configs"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lf_discovery *d = new_disc();
		struct lf_error err;
		if (add_job_yaml(d, 3, cases[i].yaml, &err) == 0)
			fail_msg("accepted: %s", cases[i].yaml);
		if (!strstr(err.msg, cases[i].want))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, cases[i].want);
		lf_discovery_free(d);
	}
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	struct lf_buf b = LF_BUF_INIT;
	char chunk[8192];
	size_t r;
	while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
		lf_buf_append(&b, chunk, r);
	fclose(f);
	*len = b.len;
	return lf_buf_take(&b);
}

#define WEB     "var/log/pods/shop_web-7d9f8b6c5d-x2k4q_1a2b3c4d-0000-4000-8000-000000000001"
#define DB      "var/log/pods/data_db-0_2b3c4d5e-0000-4000-8000-000000000002"
#define NODEEXP "var/log/pods/monitoring_node-exporter-abcde_3c4d5e6f-0000-4000-8000-000000000003"
#define BACKUP  "var/log/pods/data_backup-28312345-qwert_4d5e6f70-0000-4000-8000-000000000004"
#define ETCD    "var/log/pods/kube-system_etcd-node-a_9f2c1b0a7e6d5c4b3a29180716f5e4d3"
#define ORPHAN  "var/log/pods/shop_orphan-abc_77777777-0000-4000-8000-000000000007"

static void make_pod_tree(void)
{
	mkpath(WEB "/web/1.log", false);
	mkpath(WEB "/web/2.log", false);
	mkpath(WEB "/web/2.log.20261121-170000", false);    /* rotated: not *.log */
	mkpath(WEB "/web/2.log.20261121-160000.gz", false); /* compressed */
	mkpath(WEB "/metrics-exporter/0.log", false);
	mkpath(WEB "/init-config/0.log", false);
	mkpath(DB "/postgres/0.log", false);
	mkpath(NODEEXP "/node-exporter/0.log", false);
	mkpath(BACKUP "/backup/0.log", false);
	mkpath(ETCD "/etcd/0.log", false);
	mkpath("var/log/containers", true);
}

#define L_WEB(c)                                                                                   \
	"{app=\"web\", container=\"" c "\", instance=\"shop-web\", job=\"shop/web\", "             \
	"namespace=\"shop\", node_name=\"node-a\", pod=\"web-7d9f8b6c5d-x2k4q\"}\n"
#define T_DB                                                                                       \
	"/" DB                                                                                     \
	"/postgres/0.log 0 {app=\"postgres\", container=\"postgres\", job=\"data/postgres\", "     \
	"namespace=\"data\", node_name=\"node-a\", pod=\"db-0\"}\n"
#define T_BACKUP                                                                                   \
	"/" BACKUP "/backup/0.log 0 {app=\"backup\", container=\"backup\", job=\"data/backup\", "  \
	"namespace=\"data\", node_name=\"node-a\", pod=\"backup-28312345-qwert\"}\n"
#define T_ETCD                                                                                     \
	"/" ETCD "/etcd/0.log 0 {app=\"node-a\", component=\"etcd\", container=\"etcd\", "         \
	"job=\"kube-system/node-a\", namespace=\"kube-system\", node_name=\"node-a\", "            \
	"pod=\"etcd-node-a\"}\n"
#define T_NODEEXP                                                                                  \
	"/" NODEEXP "/node-exporter/0.log 0 {app=\"node-exporter\", component=\"exporter\", "      \
	"container=\"node-exporter\", job=\"monitoring/node-exporter\", "                          \
	"namespace=\"monitoring\", "                                                               \
	"node_name=\"node-a\", pod=\"node-exporter-abcde\"}\n"
#define T_WEB                                                                                      \
	"/" WEB                                                                                    \
	"/init-config/0.log 0 " L_WEB("init-config") "/" WEB "/metrics-exporter/0.log 0 " L_WEB(   \
	        "metrics-exporter") "/" WEB                                                        \
	                            "/web/1.log 0 " L_WEB("web") "/" WEB                           \
	                                                         "/web/2.log 0 " L_WEB("web")

/* Sorted by path: data_backup, data_db, kube-system, monitoring, shop. */
#define T_ALL T_BACKUP T_DB T_ETCD T_NODEEXP T_WEB

static void test_helm_chart(void **state)
{
	(void)state;
	make_pod_tree();
	struct lf_discovery *d = new_disc();
	add_helm_job(d, 0);
	struct lf_error err;
	size_t len;
	char *json = slurp(LF_FIXTURES "/podlist.json", &len);
	assert_int_equal(lf_discovery_inject_podlist(d, json, len, &err), 0);
	struct lf_targets t = LF_TARGETS_INIT;
	assert_text(render(d, &t), T_ALL);
	/* The worker pod has no directory yet: its glob matches nothing, and
	 * the pods root is watched so its directory will be noticed. */
	char pods[600];
	snprintf(pods, sizeof(pods), "%s/var/log/pods", root);
	bool watched = false;
	for (size_t i = 0; i < t.n_watch_dirs; i++)
		watched |= strcmp(t.watch_dirs[i], pods) == 0;
	assert_true(watched);

	/* The backup pod leaves the PodList but its directory stays: its file
	 * keeps its target and label set (drained, not dropped). */
	const char *cut_from = strstr(json, "{\n   \"metadata\": {\n    \"name\": \"backup-");
	assert_non_null(cut_from);
	const char *cut_to = strstr(cut_from, "{\n   \"metadata\": {\n    \"name\": \"etcd-");
	assert_non_null(cut_to);
	struct lf_buf b = LF_BUF_INIT;
	lf_buf_append(&b, json, (size_t)(cut_from - json));
	lf_buf_appends(&b, cut_to);
	assert_null(strstr(b.data, "backup-28312345-qwert"));
	assert_int_equal(lf_discovery_inject_podlist(d, b.data, b.len, &err), 0);
	assert_text(render(d, &t), T_ALL);
	/* Its directory goes (kubelet cleanup): the target goes. */
	rmpath(BACKUP);
	assert_text(render(d, &t), T_DB T_ETCD T_NODEEXP T_WEB);
	/* And it does not come back if the directory reappears: the pod is
	 * forgotten, so the directory gets file-name labels. */
	mkpath(BACKUP "/backup/0.log", false);
	assert_text(render(d, &t),
	            "/" BACKUP
	            "/backup/0.log 0 {app=\"backup-28312345-qwert\", container=\"backup\", "
	            "job=\"data/backup-28312345-qwert\", namespace=\"data\", node_name=\"node-a\", "
	            "pod=\"backup-28312345-qwert\"}\n" T_DB T_ETCD T_NODEEXP T_WEB);
	rmpath(BACKUP);
	lf_buf_free(&b);
	free(json);
	lf_targets_free(&t);
	lf_discovery_free(d);
}

/* No PodList at all (kubelet unreachable): labels from the file names. */
static void test_file_name_labels(void **state)
{
	(void)state;
	make_pod_tree();
	mkpath(ORPHAN "/app/0.log", false);
	mkpath(ORPHAN "/app/1.log", false);
	/* /var/log/containers links: the one to the newest restart gives the id. */
	const char *old_id = "1111111111111111111111111111111111111111111111111111111111111111";
	const char *new_id = "2222222222222222222222222222222222222222222222222222222222222222";
	char link[1024], target[1024];
	snprintf(link, sizeof(link), "%s/var/log/containers/orphan-abc_shop_app-%s.log", root,
	         old_id);
	snprintf(target, sizeof(target), "%s/" ORPHAN "/app/0.log", root);
	assert_int_equal(symlink(target, link), 0);
	snprintf(link, sizeof(link), "%s/var/log/containers/orphan-abc_shop_app-%s.log", root,
	         new_id);
	snprintf(target, sizeof(target), "%s/" ORPHAN "/app/1.log", root);
	assert_int_equal(symlink(target, link), 0);

	struct lf_discovery *d = new_disc();
	struct lf_error err;
	assert_int_equal(
	        add_job_yaml(d, 0,
	                     "job_name: raw\n"
	                     "kubernetes_sd_configs: [{role: pod, namespaces: {names: [shop]}}]\n"
	                     "relabel_configs:\n"
	                     "  - {action: labelmap, regex: __meta_kubernetes_(.+)}\n"
	                     "  - {source_labels: [__meta_kubernetes_pod_uid, "
	                     "__meta_kubernetes_pod_container_name], separator: /, "
	                     "target_label: __path__, "
	                     "replacement: '${LF_TEST_ROOT}/var/log/pods/*$1/*.log'}\n",
	                     &err),
	        0);
	struct lf_targets t = LF_TARGETS_INIT;
	/* Only namespace shop; the web pod and the orphan both from file names. */
	assert_text(
	        render(d, &t),
	        "/" ORPHAN "/app/0.log 0 {namespace=\"shop\", pod_container_id=\""
	        "2222222222222222222222222222222222222222222222222222222222222222\", "
	        "pod_container_name=\"app\", pod_name=\"orphan-abc\", pod_node_name=\"node-a\", "
	        "pod_uid=\"77777777-0000-4000-8000-000000000007\"}\n"
	        "/" ORPHAN "/app/1.log 0 {namespace=\"shop\", pod_container_id=\""
	        "2222222222222222222222222222222222222222222222222222222222222222\", "
	        "pod_container_name=\"app\", pod_name=\"orphan-abc\", pod_node_name=\"node-a\", "
	        "pod_uid=\"77777777-0000-4000-8000-000000000007\"}\n"
	        "/" WEB
	        "/init-config/0.log 0 {namespace=\"shop\", pod_container_name=\"init-config\", "
	        "pod_name=\"web-7d9f8b6c5d-x2k4q\", pod_node_name=\"node-a\", "
	        "pod_uid=\"1a2b3c4d-0000-4000-8000-000000000001\"}\n"
	        "/" WEB "/metrics-exporter/0.log 0 {namespace=\"shop\", "
	        "pod_container_name=\"metrics-exporter\", pod_name=\"web-7d9f8b6c5d-x2k4q\", "
	        "pod_node_name=\"node-a\", pod_uid=\"1a2b3c4d-0000-4000-8000-000000000001\"}\n"
	        "/" WEB "/web/1.log 0 {namespace=\"shop\", pod_container_name=\"web\", "
	        "pod_name=\"web-7d9f8b6c5d-x2k4q\", pod_node_name=\"node-a\", "
	        "pod_uid=\"1a2b3c4d-0000-4000-8000-000000000001\"}\n"
	        "/" WEB "/web/2.log 0 {namespace=\"shop\", pod_container_name=\"web\", "
	        "pod_name=\"web-7d9f8b6c5d-x2k4q\", pod_node_name=\"node-a\", "
	        "pod_uid=\"1a2b3c4d-0000-4000-8000-000000000001\"}\n");
	lf_targets_free(&t);
	lf_discovery_free(d);
	rmpath("var");
}

static int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * LF_NS_PER_SEC + ts.tv_nsec;
}

/* Rough cost of a sync with 250 pods x 3 containers (printed only). */
static void test_sync_cost(void **state)
{
	(void)state;
	struct lf_buf json = LF_BUF_INIT;
	lf_buf_appends(&json, "{\"kind\":\"PodList\",\"items\":[");
	char rel[512];
	for (int p = 0; p < 250; p++) {
		char uid[64];
		snprintf(uid, sizeof(uid), "%08d-0000-4000-8000-%012d", p, p);
		lf_buf_printf(&json,
		              "%s{\"metadata\":{\"name\":\"app%d-5d9f8b6c5d-abcde\",\"namespace\":"
		              "\"ns%d\","
		              "\"uid\":\"%s\",\"labels\":{\"app.kubernetes.io/name\":\"app%d\","
		              "\"app.kubernetes.io/"
		              "instance\":\"inst%d\",\"pod-template-hash\":\"5d9f8b6c5d\"},"
		              "\"annotations\":{\"prometheus.io/scrape\":\"true\"},"
		              "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"app%d-"
		              "5d9f8b6c5d\","
		              "\"controller\":true}]},"
		              "\"spec\":{\"nodeName\":\"node-a\",\"containers\":[{\"name\":"
		              "\"main\",\"image\":\"i\"},"
		              "{\"name\":\"sidecar\",\"image\":\"i\"},{\"name\":\"proxy\","
		              "\"image\":\"i\"}]},"
		              "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.1.%d.%d\","
		              "\"hostIP\":\"10.0.0.1\","
		              "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
		              p ? "," : "", p, p % 10, uid, p, p, p, p / 250, p % 250);
		const char *cs[] = {"main", "sidecar", "proxy"};
		for (int c = 0; c < 3; c++) {
			snprintf(rel, sizeof(rel),
			         "var/log/pods/ns%d_app%d-5d9f8b6c5d-abcde_%s/%s/0.log", p % 10, p,
			         uid, cs[c]);
			mkpath(rel, false);
		}
	}
	lf_buf_appends(&json, "]}");
	struct lf_discovery *d = new_disc();
	add_helm_job(d, 0);
	struct lf_error err;
	assert_int_equal(lf_discovery_inject_podlist(d, json.data, json.len, &err), 0);
	struct lf_targets t = LF_TARGETS_INIT;
	/* Directory listings are reused across syncs only once their directory
	 * has been quiet for 2s (timestamp granularity); a node's log dirs are
	 * quiet most of the time, so measure that state. */
	usleep(2100 * 1000);
	int64_t c0 = cpu_ns(), t0 = lf_monotonic_ns();
	assert_int_equal(lf_discovery_sync(d, &t, &err), 0); /* absorbs the PodList */
	int64_t c1 = cpu_ns(), t1 = lf_monotonic_ns();
	assert_int_equal(t.n, 750);
	const char *r_env = getenv("LF_BENCH_ROUNDS");
	const int rounds = r_env && atoi(r_env) > 0 ? atoi(r_env) : 5;
	for (int i = 0; i < rounds; i++)
		assert_int_equal(lf_discovery_sync(d, &t, &err), 0);
	int64_t c2 = cpu_ns(), t2 = lf_monotonic_ns();
	assert_int_equal(t.n, 750);
	printf("# sync cost, 250 pods x 3 containers: first (new PodList) %.2f ms CPU "
	       "(%.2f ms wall), steady %.2f ms CPU (%.2f ms wall) per sync\n",
	       (double)(c1 - c0) / 1e6, (double)(t1 - t0) / 1e6, (double)(c2 - c1) / rounds / 1e6,
	       (double)(t2 - t1) / rounds / 1e6);
	/* The kubelet answers again with the same pods (every sync period). */
	assert_int_equal(lf_discovery_inject_podlist(d, json.data, json.len, &err), 0);
	int64_t c3 = cpu_ns();
	assert_int_equal(lf_discovery_sync(d, &t, &err), 0);
	int64_t c4 = cpu_ns();
	assert_int_equal(t.n, 750);
	printf("# sync cost after an unchanged PodList: %.2f ms CPU\n", (double)(c4 - c3) / 1e6);
	/* No PodList at all (kubelet down since start): file-name labels. */
	struct lf_discovery *d2 = new_disc();
	add_helm_job(d2, 0);
	struct lf_targets tf = LF_TARGETS_INIT;
	assert_int_equal(lf_discovery_sync(d2, &tf, &err), 0);
	int64_t c5 = cpu_ns();
	assert_int_equal(lf_discovery_sync(d2, &tf, &err), 0);
	int64_t c6 = cpu_ns();
	assert_int_equal(tf.n, 750);
	printf("# sync cost with file-name labels only: %.2f ms CPU\n", (double)(c6 - c5) / 1e6);
	lf_targets_free(&tf);
	lf_discovery_free(d2);
	lf_targets_free(&t);
	lf_discovery_free(d);
	lf_buf_free(&json);
	rmpath("var");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_kubernetes_without_pods_dir),
	        cmocka_unit_test(test_static),
	        cmocka_unit_test(test_job_errors),
	        cmocka_unit_test(test_helm_chart),
	        cmocka_unit_test(test_file_name_labels),
	        cmocka_unit_test(test_sync_cost),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
