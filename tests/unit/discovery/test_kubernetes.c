/* test_kubernetes.c — PodList parsing, __meta_kubernetes_* labels per
 * container, kubernetes_sd_configs validation, kubelet source errors. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "buf.h"
#include "kubernetes.h"
#include "metrics.h"
#include "timeutil.h"

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

static struct lf_k8s_podlist *load_fixture(void)
{
	size_t len;
	char *json = slurp(LF_FIXTURES "/podlist.json", &len);
	struct lf_k8s_podlist *pl = NULL;
	struct lf_error err;
	if (lf_k8s_podlist_parse(json, len, &pl, &err) < 0)
		fail_msg("%s", err.msg);
	free(json);
	return pl;
}

static const struct lf_k8s_pod *find_pod(const struct lf_k8s_podlist *pl, const char *name)
{
	for (size_t i = 0; i < pl->n; i++)
		if (strcmp(pl->pods[i].name, name) == 0)
			return &pl->pods[i];
	fail_msg("pod %s not in fixture", name);
	return NULL;
}

static size_t find_container(const struct lf_k8s_pod *p, const char *name)
{
	for (size_t i = 0; i < p->n_containers; i++)
		if (strcmp(p->containers[i].name, name) == 0)
			return i;
	fail_msg("container %s not in pod %s", name, p->name);
	return 0;
}

static void assert_labels(const struct lf_labels *ls, const char *want)
{
	struct lf_buf b = LF_BUF_INIT;
	lf_labels_render(ls, &b);
	if (strcmp(b.data, want) != 0)
		fail_msg("labels\n got: %s\nwant: %s", b.data, want);
	lf_buf_free(&b);
}

static void test_parse_podlist(void **state)
{
	(void)state;
	struct lf_k8s_podlist *pl = load_fixture();
	assert_int_equal(pl->n, 6);
	const struct lf_k8s_pod *web = find_pod(pl, "web-7d9f8b6c5d-x2k4q");
	assert_string_equal(web->ns, "shop");
	assert_string_equal(web->controller_kind, "ReplicaSet");
	assert_string_equal(web->controller_name, "web-7d9f8b6c5d");
	assert_string_equal(web->ready, "true");
	/* Spec containers first, then init containers. */
	assert_int_equal(web->n_containers, 3);
	assert_string_equal(web->containers[0].name, "web");
	assert_false(web->containers[0].init);
	assert_string_equal(web->containers[2].name, "init-config");
	assert_true(web->containers[2].init);
	const struct lf_k8s_pod *worker = find_pod(pl, "worker-6c8d7f9b4-zz9xw");
	assert_null(worker->ip);
	assert_null(worker->containers[0].id); /* not started yet */
	assert_string_equal(worker->ready, "false");
	const struct lf_k8s_pod *etcd = find_pod(pl, "etcd-node-a");
	assert_string_equal(etcd->config_hash, "9f2c1b0a7e6d5c4b3a29180716f5e4d3");
	lf_k8s_podlist_unref(pl);
}

static void test_parse_errors(void **state)
{
	(void)state;
	struct lf_k8s_podlist *pl;
	struct lf_error err;
	assert_int_equal(lf_k8s_podlist_parse("{\"items\":[", 10, &pl, &err), -1);
	assert_non_null(strstr(err.msg, "invalid PodList JSON"));
	const char *noname = "{\"items\":[{\"metadata\":{\"namespace\":\"a\",\"uid\":\"u\"}}]}";
	assert_int_equal(lf_k8s_podlist_parse(noname, strlen(noname), &pl, &err), -1);
	assert_non_null(strstr(err.msg, "items[0]"));
	const char *empty = "{\"kind\":\"PodList\",\"items\":null}";
	assert_int_equal(lf_k8s_podlist_parse(empty, strlen(empty), &pl, &err), 0);
	assert_int_equal(pl->n, 0);
	lf_k8s_podlist_unref(pl);
}

static void test_meta_labels(void **state)
{
	(void)state;
	struct lf_k8s_podlist *pl = load_fixture();
	struct lf_labels ls = LF_LABELS_INIT;
	const struct lf_k8s_pod *web = find_pod(pl, "web-7d9f8b6c5d-x2k4q");
	assert_int_equal(lf_k8s_meta_labels(web, find_container(web, "web"), &ls), 0);
	assert_labels(&ls,
	              "{__address__=\"10.0.1.15\", "
	              "__meta_kubernetes_namespace=\"shop\", "
	              "__meta_kubernetes_pod_annotation_kubectl_kubernetes_io_restartedAt=\"2026-"
	              "11-20T10:00:00Z\", "
	              "__meta_kubernetes_pod_annotation_prometheus_io_scrape=\"true\", "
	              "__meta_kubernetes_pod_annotationpresent_kubectl_kubernetes_io_restartedAt="
	              "\"true\", "
	              "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape=\"true\", "
	              "__meta_kubernetes_pod_container_id=\"containerd://"
	              "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", "
	              "__meta_kubernetes_pod_container_image=\"nginx:1.25\", "
	              "__meta_kubernetes_pod_container_init=\"false\", "
	              "__meta_kubernetes_pod_container_name=\"web\", "
	              "__meta_kubernetes_pod_controller_kind=\"ReplicaSet\", "
	              "__meta_kubernetes_pod_controller_name=\"web-7d9f8b6c5d\", "
	              "__meta_kubernetes_pod_host_ip=\"192.168.1.10\", "
	              "__meta_kubernetes_pod_ip=\"10.0.1.15\", "
	              "__meta_kubernetes_pod_label_app_kubernetes_io_instance=\"shop-web\", "
	              "__meta_kubernetes_pod_label_app_kubernetes_io_name=\"web\", "
	              "__meta_kubernetes_pod_label_pod_template_hash=\"7d9f8b6c5d\", "
	              "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_instance=\"true\", "
	              "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name=\"true\", "
	              "__meta_kubernetes_pod_labelpresent_pod_template_hash=\"true\", "
	              "__meta_kubernetes_pod_name=\"web-7d9f8b6c5d-x2k4q\", "
	              "__meta_kubernetes_pod_node_name=\"node-a\", "
	              "__meta_kubernetes_pod_phase=\"Running\", "
	              "__meta_kubernetes_pod_ready=\"true\", "
	              "__meta_kubernetes_pod_uid=\"1a2b3c4d-0000-4000-8000-000000000001\"}");
	/* Init container of the same pod. */
	assert_int_equal(lf_k8s_meta_labels(web, find_container(web, "init-config"), &ls), 0);
	assert_string_equal(lf_labels_get(&ls, "__meta_kubernetes_pod_container_init"), "true");
	assert_string_equal(lf_labels_get(&ls, "__meta_kubernetes_pod_container_image"),
	                    "busybox:1.36");
	/* Static pod: the config hash annotation and the Node controller. */
	const struct lf_k8s_pod *etcd = find_pod(pl, "etcd-node-a");
	assert_int_equal(lf_k8s_meta_labels(etcd, 0, &ls), 0);
	assert_string_equal(
	        lf_labels_get(&ls, "__meta_kubernetes_pod_annotation_kubernetes_io_config_hash"),
	        "9f2c1b0a7e6d5c4b3a29180716f5e4d3");
	assert_string_equal(
	        lf_labels_get(&ls,
	                      "__meta_kubernetes_pod_annotationpresent_kubernetes_io_config_hash"),
	        "true");
	assert_string_equal(lf_labels_get(&ls, "__meta_kubernetes_pod_controller_kind"), "Node");
	/* Pending pod: no IP, no container id, no __address__. */
	const struct lf_k8s_pod *worker = find_pod(pl, "worker-6c8d7f9b4-zz9xw");
	assert_int_equal(lf_k8s_meta_labels(worker, 0, &ls), 0);
	assert_null(lf_labels_get(&ls, "__address__"));
	assert_null(lf_labels_get(&ls, "__meta_kubernetes_pod_ip"));
	assert_null(lf_labels_get(&ls, "__meta_kubernetes_pod_container_id"));
	assert_string_equal(lf_labels_get(&ls, "__meta_kubernetes_pod_phase"), "Pending");
	/* StatefulSet pod label with a dot and a slash. */
	const struct lf_k8s_pod *db = find_pod(pl, "db-0");
	assert_int_equal(lf_k8s_meta_labels(db, 0, &ls), 0);
	assert_string_equal(
	        lf_labels_get(&ls,
	                      "__meta_kubernetes_pod_label_statefulset_kubernetes_io_pod_name"),
	        "db-0");
	lf_labels_free(&ls);
	lf_k8s_podlist_unref(pl);
}

static void test_file_meta_labels(void **state)
{
	(void)state;
	struct lf_labels ls = LF_LABELS_INIT;
	assert_int_equal(
	        lf_k8s_file_meta_labels("shop", "web-1", "uid-1", "web", "abc", "node-a", &ls), 0);
	assert_labels(&ls, "{__meta_kubernetes_namespace=\"shop\", "
	                   "__meta_kubernetes_pod_container_id=\"abc\", "
	                   "__meta_kubernetes_pod_container_name=\"web\", "
	                   "__meta_kubernetes_pod_name=\"web-1\", "
	                   "__meta_kubernetes_pod_node_name=\"node-a\", "
	                   "__meta_kubernetes_pod_uid=\"uid-1\"}");
	assert_int_equal(lf_k8s_file_meta_labels("shop", "web-1", "uid-1", "web", "", NULL, &ls),
	                 0);
	assert_null(lf_labels_get(&ls, "__meta_kubernetes_pod_container_id"));
	assert_int_equal(ls.n, 4);
	lf_labels_free(&ls);
}

static void test_sanitize(void **state)
{
	(void)state;
	char out[64];
	lf_k8s_sanitize("app.kubernetes.io/name", out, sizeof(out));
	assert_string_equal(out, "app_kubernetes_io_name");
	lf_k8s_sanitize("a-b.c/d_E9", out, sizeof(out));
	assert_string_equal(out, "a_b_c_d_E9");
}

/* ---- config ---- */

/* fopen is interposed to see how the token file is opened: the agent may
 * not leak descriptors into a child, so every open is close-on-exec. */
static int g_token_opens, g_token_opens_no_cloexec;

FILE *fopen(const char *path, const char *mode)
{
	static FILE *(*real)(const char *, const char *);
	/* threads may race here: the same value is stored */
	if (!__atomic_load_n(&real, __ATOMIC_ACQUIRE))
		__atomic_store_n(&real,
		                 (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen"),
		                 __ATOMIC_RELEASE);
	if (strstr(path, "lf_k8s_token")) {
		__atomic_add_fetch(&g_token_opens, 1, __ATOMIC_SEQ_CST);
		if (!strchr(mode, 'e'))
			__atomic_add_fetch(&g_token_opens_no_cloexec, 1, __ATOMIC_SEQ_CST);
	}
	return __atomic_load_n(&real, __ATOMIC_ACQUIRE)(path, mode);
}

/* calloc calls of the code linked into this test (-Wl,--wrap=calloc):
 * g_fail_calloc_at = n > 0 makes the n-th call from now fail. */
static int g_fail_calloc_at;
void *__real_calloc(size_t n, size_t m);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_calloc(size_t n, size_t m)
{
	if (g_fail_calloc_at > 0 && --g_fail_calloc_at == 0)
		return NULL;
	return __real_calloc(n, m);
}

/* curl_easy_init is interposed too, to make lf_k8s_source_new's setup fail. */
static int g_fail_curl_init;

CURL *curl_easy_init(void)
{
	static CURL *(*real)(void);
	/* threads may race here: the same value is stored */
	if (!__atomic_load_n(&real, __ATOMIC_ACQUIRE))
		__atomic_store_n(&real, (CURL * (*)(void)) dlsym(RTLD_NEXT, "curl_easy_init"),
		                 __ATOMIC_RELEASE);
	if (__atomic_load_n(&g_fail_curl_init, __ATOMIC_SEQ_CST))
		return NULL;
	return __atomic_load_n(&real, __ATOMIC_ACQUIRE)();
}

static int parse_cfg(const char *yaml, struct lf_k8s_sd_config *c, struct lf_error *err)
{
	struct lf_ydoc *doc;
	if (lf_ydoc_load_string(yaml, strlen(yaml), "test.yaml", false, &doc, err) < 0)
		return -1;
	int rc = lf_k8s_sd_config_parse(lf_ydoc_root(doc), "kubernetes_sd_configs[0]", "node-a", c,
	                                err);
	lf_ydoc_free(doc);
	return rc;
}

static void test_config(void **state)
{
	(void)state;
	struct lf_k8s_sd_config c;
	struct lf_error err;
	unsetenv("NODE_IP");
	assert_int_equal(parse_cfg("role: pod\n", &c, &err), 0);
	assert_int_equal(c.source, LF_K8S_SOURCE_KUBELET);
	assert_string_equal(c.kubelet_url, "https://node-a:10250");
	assert_string_equal(c.bearer_token_file,
	                    "/var/run/secrets/kubernetes.io/serviceaccount/token");
	assert_true(c.token_file_default);
	assert_false(c.insecure_skip_verify);
	assert_null(c.namespaces);
	lf_k8s_sd_config_free(&c);

	setenv("NODE_IP", "192.168.1.10", 1);
	assert_int_equal(parse_cfg("role: pod\n", &c, &err), 0);
	assert_string_equal(c.kubelet_url, "https://192.168.1.10:10250");
	lf_k8s_sd_config_free(&c);
	setenv("NODE_IP", "fd00::10", 1);
	assert_int_equal(parse_cfg("role: pod\n", &c, &err), 0);
	assert_string_equal(c.kubelet_url, "https://[fd00::10]:10250");
	lf_k8s_sd_config_free(&c);
	unsetenv("NODE_IP");

	assert_int_equal(parse_cfg("role: pod\nsource: kubelet\nkubelet_url: https://127.0.0.1:1/\n"
	                           "bearer_token_file: /tmp/tok\n"
	                           "tls_config: {ca_file: /tmp/ca.crt, insecure_skip_verify: true, "
	                           "server_name: node-a}\n"
	                           "namespaces: {names: [shop, data]}\n",
	                           &c, &err),
	                 0);
	assert_string_equal(c.kubelet_url, "https://127.0.0.1:1");
	assert_string_equal(c.bearer_token_file, "/tmp/tok");
	assert_false(c.token_file_default);
	assert_string_equal(c.ca_file, "/tmp/ca.crt");
	assert_true(c.insecure_skip_verify);
	assert_string_equal(c.server_name, "node-a");
	assert_int_equal(c.n_namespaces, 2);
	assert_true(lf_k8s_namespace_allowed(&c, "data", 4));
	assert_false(lf_k8s_namespace_allowed(&c, "kube-system", 11));
	lf_k8s_sd_config_free(&c);

	/* source: api_server, in-cluster defaults; the node from $NODE_NAME. */
	setenv("KUBERNETES_SERVICE_HOST", "10.100.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	setenv("NODE_NAME", "node-b", 1);
	assert_int_equal(parse_cfg("role: pod\nsource: api_server\n", &c, &err), 0);
	assert_int_equal(c.source, LF_K8S_SOURCE_API_SERVER);
	assert_string_equal(c.api_server, "https://10.100.0.1:443");
	assert_string_equal(c.base_url, "https://10.100.0.1:443");
	assert_string_equal(c.node_name, "node-b");
	lf_k8s_sd_config_free(&c);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("NODE_NAME");
	assert_int_equal(parse_cfg("role: pod\nsource: api_server\n", &c, &err), 0);
	assert_string_equal(c.api_server, "https://kubernetes.default.svc");
	assert_string_equal(c.node_name, "node-a"); /* the hostname */
	lf_k8s_sd_config_free(&c);
	assert_int_equal(parse_cfg("role: pod\nsource: api_server\napi_server: https://k8s:6443/\n",
	                           &c, &err),
	                 0);
	assert_string_equal(c.api_server, "https://k8s:6443");
	lf_k8s_sd_config_free(&c);
}

static void test_config_errors(void **state)
{
	(void)state;
	struct lf_k8s_sd_config c;
	struct lf_error err;
	struct {
		const char *yaml, *want;
	} cases[] = {
	        {"role: pod\nsource: api_server\nkubelet_url: https://x:10250\n",
	         "test.yaml:3:14: kubernetes_sd_configs[0]: kubelet_url is only used with source: "
	         "kubelet"},
	        {"role: pod\nsource: api_server\napi_server: k8s:443\n",
	         "must start with https://"},
	        {"role: node\n", "role \"node\" is not supported"},
	        {"source: kubelet\n", "role is required"},
	        {"role: pod\nfoo: 1\n", "unknown key \"foo\""},
	        {"role: pod\ntls_config: {ca: x}\n", "kubernetes_sd_configs[0].tls_config"},
	        {"role: pod\nkubelet_url: node-a:10250\n", "must start with https://"},
	        {"role: pod\nsource: magic\n", "unknown source \"magic\""},
	        {"role: pod\napi_server: https://k8s\n", "api_server is only used with"},
	        {"role: pod\nselectors: [{role: pod, label: a=b}]\n",
	         "selectors are not supported"},
	        {"role: pod\nbearer_token: a\nbearer_token_file: b\n", "at most one of"},
	        {"role: pod\ntls_config: {cert_file: /x}\n", "cert_file and key_file"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (parse_cfg(cases[i].yaml, &c, &err) == 0)
			fail_msg("accepted: %s", cases[i].yaml);
		if (!strstr(err.msg, cases[i].want))
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.msg,
			         cases[i].want);
	}
}

/* A kubelet that refuses connections: the source reports down, counts
 * errors, and keeps retrying with backoff (1s, 2s, ... capped). */
static void test_source_down(void **state)
{
	(void)state;
	struct lf_k8s_sd_config c;
	struct lf_error err;
	assert_int_equal(parse_cfg("role: pod\nkubelet_url: https://127.0.0.1:1\n"
	                           "bearer_token: t\n",
	                           &c, &err),
	                 0);
	int efd = eventfd(0, EFD_NONBLOCK);
	struct lf_k8s_source *s;
	struct lf_metrics *m = lf_metrics_new();
	assert_int_equal(lf_k8s_source_new(&c, LF_NS_PER_SEC, efd, m, &s, &err), 0);
	assert_int_equal(lf_k8s_source_start(s, &err), 0);
	struct lf_k8s_source_state st = {0};
	int64_t deadline = lf_monotonic_ns() + 30 * LF_NS_PER_SEC;
	while (st.errors < 2 && lf_monotonic_ns() < deadline) {
		usleep(20000);
		lf_k8s_source_state(s, &st);
	}
	assert_true(st.errors >= 2);
	assert_false(st.up);
	assert_int_equal(st.ok, 0);
	uint64_t gen = 99;
	assert_null(lf_k8s_source_get(s, &gen));
	assert_int_equal(gen, 0);
	lf_k8s_source_free(s);
	/* Counted and exported. */
	struct lf_buf text = LF_BUF_INIT;
	lf_metrics_render(m, &text);
	if (!strstr(text.data, "logferry_kubelet_up{url=\"https://127.0.0.1:1\"} 0") ||
	    !strstr(text.data, "logferry_kubelet_requests_total{url=\"https://127.0.0.1:1\","
	                       "status_code=\"failed\"}"))
		fail_msg("metrics:\n%s", text.data);
	lf_buf_free(&text);
	lf_metrics_free(m);
	close(efd);
	lf_k8s_sd_config_free(&c);
}

/* A plain-HTTP kubelet stand-in that answers every request with an empty
 * PodList and counts requests. */
struct tiny_kubelet {
	int fd, port;
	int stop;
	int requests;
	/* > 0: answer the first fail_first requests with HTTP 500 and hold
	 * every later one open without an answer (until tiny_stop). */
	int fail_first;
	int held[8];
	int n_held;
	pthread_t th;
};

static void *tiny_main(void *arg)
{
	struct tiny_kubelet *k = arg;
	static const char body[] = "{\"kind\":\"PodList\",\"items\":[]}";
	while (!__atomic_load_n(&k->stop, __ATOMIC_SEQ_CST)) {
		struct pollfd p = {.fd = k->fd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int c = accept(k->fd, NULL, NULL);
		if (c < 0)
			continue;
		char req[4096];
		size_t got = 0;
		while (got < sizeof(req) - 1) {
			ssize_t r = read(c, req + got, sizeof(req) - 1 - got);
			if (r <= 0)
				break;
			got += (size_t)r;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		/* Counted before the answer: the client may see the answer (and
		 * the test read the count) before this thread runs again. */
		int nreq = __atomic_add_fetch(&k->requests, 1, __ATOMIC_SEQ_CST);
		if (k->fail_first > 0 && nreq > k->fail_first) {
			if (k->n_held < (int)(sizeof(k->held) / sizeof(k->held[0])))
				k->held[k->n_held++] = c;
			else
				close(c);
			continue;
		}
		char resp[256];
		int n = k->fail_first > 0
		                ? snprintf(resp, sizeof(resp),
		                           "HTTP/1.1 500 Internal Server Error\r\n"
		                           "Content-Length: 4\r\nConnection: close\r\n\r\nboom")
		                : snprintf(resp, sizeof(resp),
		                           "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		                           "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		                           sizeof(body) - 1, body);
		if (write(c, resp, (size_t)n) < 0)
			break;
		close(c);
	}
	return NULL;
}

static void tiny_start(struct tiny_kubelet *k)
{
	memset(k, 0, sizeof(*k));
	k->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	assert_int_equal(bind(k->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(k->fd, 16), 0);
	getsockname(k->fd, (struct sockaddr *)&a, &al);
	k->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&k->th, NULL, tiny_main, k), 0);
}

static void tiny_stop(struct tiny_kubelet *k)
{
	__atomic_store_n(&k->stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(k->th, NULL);
	for (int i = 0; i < k->n_held; i++)
		close(k->held[i]);
	close(k->fd);
}

/* Pokes fetch at once but at most once a second; without pokes the source
 * waits for its (here long) poll period. */
static void test_source_poke_rate(void **state)
{
	(void)state;
	struct tiny_kubelet tk;
	tiny_start(&tk);
	char yaml[256];
	snprintf(yaml, sizeof(yaml),
	         "role: pod\nkubelet_url: http://127.0.0.1:%d\nbearer_token: t\n", tk.port);
	struct lf_k8s_sd_config c;
	struct lf_error err;
	assert_int_equal(parse_cfg(yaml, &c, &err), 0);
	int efd = eventfd(0, EFD_NONBLOCK);
	struct lf_k8s_source *s;
	assert_int_equal(lf_k8s_source_new(&c, 3600 * LF_NS_PER_SEC, efd, NULL, &s, &err), 0);
	assert_int_equal(lf_k8s_source_start(s, &err), 0);
	lf_k8s_source_wait_first(s, lf_monotonic_ns() + 30 * LF_NS_PER_SEC);
	struct lf_k8s_source_state st;
	lf_k8s_source_state(s, &st);
	assert_true(st.up);
	assert_int_equal(__atomic_load_n(&tk.requests, __ATOMIC_SEQ_CST), 1);
	uint64_t gen0 = 0;
	struct lf_k8s_podlist *pl = lf_k8s_source_get(s, &gen0);
	assert_non_null(pl);
	assert_int_equal(pl->n, 0);
	lf_k8s_podlist_unref(pl);

	/* 100 pokes over ~2.5 s. */
	int64_t t0 = lf_monotonic_ns();
	for (int i = 0; i < 100; i++) {
		lf_k8s_source_poke(s);
		usleep(25000);
	}
	int64_t elapsed = lf_monotonic_ns() - t0;
	/* Let a fetch that was due at the end finish. */
	usleep(200000);
	int reqs = __atomic_load_n(&tk.requests, __ATOMIC_SEQ_CST) - 1;
	int max = (int)(elapsed / LF_NS_PER_SEC) + 2;
	printf("# %d fetches for 100 pokes in %.1f s (limit 1/s)\n", reqs, (double)elapsed / 1e9);
	assert_true(reqs >= 2);
	assert_true(reqs <= max);
	uint64_t gen1 = 0;
	lf_k8s_podlist_unref(lf_k8s_source_get(s, &gen1));
	assert_true(gen1 > gen0);
	lf_k8s_source_free(s);
	close(efd);
	lf_k8s_sd_config_free(&c);
	tiny_stop(&tk);
}

/* Stopping an API server source while its list request is in flight: the
 * request is aborted and lf_k8s_source_free returns at once; the source
 * used to sleep out its error backoff first (here 8 s after three failed
 * lists: 1 s, 2 s, 4 s), because the stop's wake-up came before that
 * wait. */
static void test_source_stop_during_list(void **state)
{
	(void)state;
	struct tiny_kubelet tk;
	tiny_start(&tk);
	tk.fail_first = 3;
	char yaml[256];
	snprintf(yaml, sizeof(yaml),
	         "role: pod\nsource: api_server\napi_server: http://127.0.0.1:%d\n"
	         "bearer_token: t\n",
	         tk.port);
	struct lf_k8s_sd_config c;
	struct lf_error err;
	assert_int_equal(parse_cfg(yaml, &c, &err), 0);
	struct lf_k8s_source *s;
	assert_int_equal(lf_k8s_source_new(&c, 3600 * LF_NS_PER_SEC, -1, NULL, &s, &err), 0);
	assert_int_equal(lf_k8s_source_start(s, &err), 0);
	/* Three failed lists (backoff 1 s, 2 s, 4 s), then the fourth list is
	 * held open by the server. */
	int64_t deadline = lf_monotonic_ns() + 60 * LF_NS_PER_SEC;
	while (__atomic_load_n(&tk.requests, __ATOMIC_SEQ_CST) < 4 && lf_monotonic_ns() < deadline)
		usleep(10000);
	assert_int_equal(__atomic_load_n(&tk.requests, __ATOMIC_SEQ_CST), 4);
	struct lf_k8s_source_state st;
	lf_k8s_source_state(s, &st);
	assert_int_equal(st.errors, 3);
	int64_t t0 = lf_monotonic_ns();
	lf_k8s_source_free(s);
	int64_t took = lf_monotonic_ns() - t0;
	printf("# lf_k8s_source_free took %.2f s\n", (double)took / 1e9);
	/* The abort itself waits for curl's progress callback (about 1 s at
	 * worst); the backoff that must not be slept out is 8 s. */
	assert_true(took < 5 * LF_NS_PER_SEC);
	lf_k8s_sd_config_free(&c);
	tiny_stop(&tk);
}

/* The bearer_token_file is read (close-on-exec) before the first request. */
static void test_source_token_file_cloexec(void **state)
{
	(void)state;
	char tok[] = "/tmp/lf_k8s_token_XXXXXX";
	int tfd = mkstemp(tok);
	assert_true(tfd >= 0);
	assert_int_equal(write(tfd, "secret\n", 7), 7);
	close(tfd);
	struct tiny_kubelet tk;
	tiny_start(&tk);
	char yaml[512];
	snprintf(yaml, sizeof(yaml),
	         "role: pod\nkubelet_url: http://127.0.0.1:%d\nbearer_token_file: %s\n", tk.port,
	         tok);
	struct lf_k8s_sd_config c;
	struct lf_error err;
	assert_int_equal(parse_cfg(yaml, &c, &err), 0);
	struct lf_k8s_source *s;
	assert_int_equal(lf_k8s_source_new(&c, 3600 * LF_NS_PER_SEC, -1, NULL, &s, &err), 0);
	assert_int_equal(lf_k8s_source_start(s, &err), 0);
	lf_k8s_source_wait_first(s, lf_monotonic_ns() + 30 * LF_NS_PER_SEC);
	struct lf_k8s_source_state st;
	lf_k8s_source_state(s, &st);
	assert_true(st.up);
	lf_k8s_source_free(s);
	assert_true(__atomic_load_n(&g_token_opens, __ATOMIC_SEQ_CST) > 0);
	assert_int_equal(__atomic_load_n(&g_token_opens_no_cloexec, __ATOMIC_SEQ_CST), 0);
	lf_k8s_sd_config_free(&c);
	tiny_stop(&tk);
	unlink(tok);
}

/* A source whose libcurl setup fails: lf_k8s_source_new fails cleanly and
 * names the source (the message used to be built from the freed source:
 * heap-use-after-free under ASan). */
static void test_source_new_setup_fails(void **state)
{
	(void)state;
	struct lf_k8s_sd_config c;
	struct lf_error err;
	assert_int_equal(parse_cfg("role: pod\nkubelet_url: https://127.0.0.1:1\n"
	                           "bearer_token: t\n",
	                           &c, &err),
	                 0);
	struct lf_k8s_source *s = NULL;
	__atomic_store_n(&g_fail_curl_init, 1, __ATOMIC_SEQ_CST);
	int rc = lf_k8s_source_new(&c, LF_NS_PER_SEC, -1, NULL, &s, &err);
	__atomic_store_n(&g_fail_curl_init, 0, __ATOMIC_SEQ_CST);
	assert_int_equal(rc, -1);
	assert_string_equal(err.msg, "kubelet source https://127.0.0.1:1: cannot set up libcurl");
	lf_k8s_sd_config_free(&c);
}

/* lf_k8s_pod_dup out of memory for a label or annotation array: fails with
 * the copy cleared (it used to free a NULL array with a count > 0: crash). */
static void test_pod_dup_oom(void **state)
{
	(void)state;
	struct lf_k8s_podlist *pl = load_fixture();
	const struct lf_k8s_pod *web = find_pod(pl, "web-7d9f8b6c5d-x2k4q");
	assert_true(web->n_labels > 0 && web->n_annotations > 0);
	/* 1st calloc: the labels array; 2nd: the annotations array. */
	for (int k = 1; k <= 2; k++) {
		struct lf_k8s_pod d;
		g_fail_calloc_at = k;
		int rc = lf_k8s_pod_dup(web, &d);
		g_fail_calloc_at = 0;
		assert_int_equal(rc, -1);
		assert_null(d.name);
		assert_null(d.labels);
		assert_int_equal(d.n_labels, 0);
		assert_null(d.annotations);
		assert_int_equal(d.n_annotations, 0);
	}
	struct lf_k8s_pod d;
	assert_int_equal(lf_k8s_pod_dup(web, &d), 0);
	assert_true(lf_k8s_pod_equal(web, &d));
	lf_k8s_pod_clear(&d);
	lf_k8s_podlist_unref(pl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_parse_podlist),
	        cmocka_unit_test(test_parse_errors),
	        cmocka_unit_test(test_meta_labels),
	        cmocka_unit_test(test_file_meta_labels),
	        cmocka_unit_test(test_sanitize),
	        cmocka_unit_test(test_config),
	        cmocka_unit_test(test_config_errors),
	        cmocka_unit_test(test_source_down),
	        cmocka_unit_test(test_source_poke_rate),
	        cmocka_unit_test(test_source_stop_during_list),
	        cmocka_unit_test(test_source_token_file_cloexec),
	        cmocka_unit_test(test_source_new_setup_fails),
	        cmocka_unit_test(test_pod_dup_oom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
