/* bench_status.c — cost of the agent's status pages with many targets:
 * discovery of N pod containers (an injected PodList through the Promtail
 * Helm chart's kubernetes-pods job, plus a `keep` rule that drops every
 * second namespace) with and without keep_discovered (the per-target
 * records /service-discovery shows), the bytes those records take, and the
 * time and size of the rendered pages.
 *
 *   bench_status <helm-kubernetes-pods.yaml> [containers=5000] [rounds=15]
 *   BENCH_STATUS_RSS=off|on bench_status ...   only the steady syncs of one
 *       mode, then the process's peak RSS (VmHWM): run both and compare
 *
 * Prints one line per figure; bench/RESULTS.md has the numbers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "discovery.h"
#include "sdlist.h"
#include "status_html.h"
#include "timeutil.h"
#include "yamlcfg.h"

static void podlist(struct lf_buf *b, size_t pods)
{
	lf_buf_appends(b, "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"items\":[");
	for (size_t i = 0; i < pods; i++) {
		const char *ns = i % 2 ? "batch" : "shop";
		lf_buf_printf(b,
		              "%s{\"metadata\":{\"name\":\"app%zu-5f7c9d8b6-abcde\",\"namespace\":"
		              "\"%s\",\"uid\":\"0e1f2a3b-0000-4000-8000-%012zu\","
		              "\"labels\":{\"app.kubernetes.io/name\":\"app%zu\","
		              "\"pod-template-hash\":\"5f7c9d8b6\",\"team\":\"t%zu\",\"tier\":"
		              "\"backend\",\"version\":\"v1.2.%zu\"},"
		              "\"annotations\":{\"prometheus.io/scrape\":\"true\","
		              "\"prometheus.io/port\":\"9102\",\"kubectl.kubernetes.io/"
		              "default-container\":\"main\"},"
		              "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"app%zu-"
		              "5f7c9d8b6\",\"controller\":true}]},"
		              "\"spec\":{\"nodeName\":\"node-a\",\"containers\":[",
		              i ? "," : "", i, ns, i, i, i % 40, i % 10, i);
		static const char *const cn[] = {"main", "sidecar", "proxy"};
		for (int c = 0; c < 3; c++)
			lf_buf_printf(b, "%s{\"name\":\"%s\",\"image\":\"example/%s:1\"}",
			              c ? "," : "", cn[c], cn[c]);
		lf_buf_appends(b, "]},\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.5\","
		                  "\"hostIP\":\"192.168.1.10\",\"conditions\":[{\"type\":\"Ready\","
		                  "\"status\":\"True\"}],\"containerStatuses\":[");
		for (int c = 0; c < 3; c++)
			lf_buf_printf(b,
			              "%s{\"name\":\"%s\",\"ready\":true,\"restartCount\":0,"
			              "\"containerID\":\"containerd://%064zx\"}",
			              c ? "," : "", cn[c], i * 3 + (size_t)c);
		lf_buf_appends(b, "]}}");
	}
	lf_buf_appends(b, "]}");
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Median sync time in µs over `rounds` syncs (the PodList re-injected each
 * round so relabeling runs every time, as after a kubelet change). */
static double sync_us(const char *helm, const struct lf_buf *pl, bool keep, int rounds,
                      bool changed, struct lf_targets *t)
{
	struct lf_error err;
	struct lf_ydoc *doc;
	if (lf_ydoc_load_file(helm, true, &doc, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	/* rule 0: keep namespace shop (drops half of the pods) */
	struct lf_buf y = LF_BUF_INIT;
	lf_ydoc_free(doc);
	FILE *f = fopen(helm, "r");
	char line[1024];
	while (f && fgets(line, sizeof(line), f)) {
		lf_buf_appends(&y, line);
		if (strcmp(line, "relabel_configs:\n") == 0)
			lf_buf_appends(&y, "  - source_labels: [__meta_kubernetes_namespace]\n"
			                   "    regex: shop\n    action: keep\n");
	}
	if (f)
		fclose(f);
	if (lf_ydoc_load_string(y.data, y.len, helm, true, &doc, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	/* empty log roots: the pods have no files, only discovery runs */
	char root[] = "/tmp/lf_bench_statusXXXXXX", pods_dir[64], cont_dir[64];
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(pods_dir, sizeof(pods_dir), "%s/pods", root);
	snprintf(cont_dir, sizeof(cont_dir), "%s/containers", root);
	if (mkdir(pods_dir, 0755) < 0 || mkdir(cont_dir, 0755) < 0 ||
	    mkdir(strcat(strcpy(line, pods_dir), "/x_y_z"), 0755) < 0) {
		perror("mkdir");
		exit(1);
	}
	struct lf_discovery_opts o = {.hostname = "node-a",
	                              .pods_dir = pods_dir,
	                              .containers_dir = cont_dir,
	                              .keep_discovered = keep};
	struct lf_discovery *d;
	if (lf_discovery_new(&o, &d, &err) < 0 ||
	    lf_discovery_add_job(d, 0, "kubernetes-pods", lf_ydoc_root(doc), &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	int64_t *v = calloc((size_t)rounds, sizeof(*v));
	for (int r = 0; r < rounds; r++) {
		/* changed: a new PodList every round (relabeling runs again);
		 * else only the first round has one (steady state) */
		if ((changed || r == 0) &&
		    lf_discovery_inject_podlist(d, pl->data, pl->len, &err) < 0) {
			fprintf(stderr, "%s\n", err.msg);
			exit(1);
		}
		int64_t t0 = lf_monotonic_ns();
		if (lf_discovery_sync(d, t, &err) < 0) {
			fprintf(stderr, "%s\n", err.msg);
			exit(1);
		}
		v[r] = lf_monotonic_ns() - t0;
	}
	if (!changed) /* round 0 absorbed the list */
		v[0] = INT64_MAX;
	qsort(v, (size_t)rounds, sizeof(*v), cmp_i64);
	double med = (double)v[(rounds - !changed) / 2] / 1e3;
	free(v);
	lf_discovery_free(d);
	lf_ydoc_free(doc);
	lf_buf_free(&y);
	rmdir(strcat(strcpy(line, pods_dir), "/x_y_z"));
	rmdir(pods_dir);
	rmdir(cont_dir);
	rmdir(root);
	return med;
}

static long vm_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char ln[256];
	long v = -1;
	while (f && fgets(ln, sizeof(ln), f))
		if (strncmp(ln, key, strlen(key)) == 0)
			v = atol(ln + strlen(key) + 1);
	if (f)
		fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s helm-kubernetes-pods.yaml [containers] [rounds]\n",
		        argv[0]);
		return 2;
	}
	size_t containers = argc > 2 ? strtoul(argv[2], NULL, 10) : 5000;
	int rounds = argc > 3 ? atoi(argv[3]) : 15;
	if (rounds < 1)
		rounds = 1;
	size_t pods = (containers + 2) / 3;
	struct lf_buf pl = LF_BUF_INIT;
	podlist(&pl, pods);

	struct lf_targets t0 = LF_TARGETS_INIT, t1 = LF_TARGETS_INIT;
	const char *rss = getenv("BENCH_STATUS_RSS");
	if (rss && *rss) {
		bool on = strcmp(rss, "on") == 0;
		double us = sync_us(argv[1], &pl, on, rounds, false, &t1);
		printf("records %s: %zu targets, steady sync %.0f us, record bytes %zu, peak RSS "
		       "%ld KiB\n",
		       on ? "on" : "off", pods * 3, us, t1.sd.len, vm_kb("VmHWM:"));
		lf_targets_free(&t1);
		lf_buf_free(&pl);
		return 0;
	}
	double off = sync_us(argv[1], &pl, false, rounds, true, &t0);
	double on = sync_us(argv[1], &pl, true, rounds, true, &t1);
	double soff = sync_us(argv[1], &pl, false, rounds, false, &t0);
	double son = sync_us(argv[1], &pl, true, rounds, false, &t1);
	printf("targets discovered: %zu pod containers (%zu pods), %zu records, %zu omitted\n",
	       pods * 3, pods, t1.n_sd, t1.sd_omitted);
	printf("sync (relabel every container), median of %d: %.0f us without records, %.0f "
	       "us with (+%.0f%%)\n",
	       rounds, off, on, off > 0 ? (on - off) * 100 / off : 0);
	printf("sync (steady: PodList unchanged), median of %d: %.0f us without records, %.0f "
	       "us with (+%.0f%%)\n",
	       rounds - 1, soff, son, soff > 0 ? (son - soff) * 100 / soff : 0);
	printf("records: %zu bytes (%.0f bytes per target), buffer capacity %zu bytes\n", t1.sd.len,
	       (double)t1.sd.len / (double)(t1.n_sd ? t1.n_sd : 1), t1.sd.cap);

	struct lf_buf o = LF_BUF_INIT;
	struct lf_status_query q = {0};
	int64_t a = lf_monotonic_ns();
	lf_status_sd_html(&o, t1.sd.data, t1.sd.len, t1.sd_omitted, &q);
	int64_t b = lf_monotonic_ns();
	printf("/service-discovery HTML (page 1, %d per job): %zu bytes in %.1f ms\n",
	       LF_STATUS_PAGE_SIZE, o.len, (double)(b - a) / 1e6);
	lf_buf_reset(&o);
	q.search = "app4999";
	a = lf_monotonic_ns();
	lf_status_sd_html(&o, t1.sd.data, t1.sd.len, t1.sd_omitted, &q);
	b = lf_monotonic_ns();
	printf("/service-discovery HTML filtered: %zu bytes in %.1f ms\n", o.len,
	       (double)(b - a) / 1e6);
	lf_buf_reset(&o);
	a = lf_monotonic_ns();
	lf_status_sd_json(&o, t1.sd.data, t1.sd.len, t1.sd_omitted);
	b = lf_monotonic_ns();
	printf("/service-discovery JSON (everything): %zu bytes in %.1f ms\n", o.len,
	       (double)(b - a) / 1e6);

	/* /targets: the agent's JSON for as many files, rendered to HTML */
	struct lf_buf js = LF_BUF_INIT;
	lf_buf_appends(&js, "{\"targets\":[");
	for (size_t i = 0; i < containers; i++)
		lf_buf_printf(
		        &js,
		        "%s{\"job\":\"kubernetes-pods\",\"path\":\"/var/log/pods/shop_app%zu-"
		        "5f7c9d8b6-abcde_0e1f2a3b-0000-4000-8000-%012zu/main/0.log\",\"labels\":{"
		        "\"app\":\"app%zu\",\"container\":\"main\",\"job\":\"shop/app%zu\","
		        "\"namespace\":\"shop\",\"node_name\":\"node-a\",\"pod\":\"app%zu-"
		        "5f7c9d8b6-abcde\"},\"state\":\"reading\",\"offset\":1000,"
		        "\"acked_offset\":1000,\"size\":2000,\"lines\":10,\"inflight\":0,"
		        "\"polled\":false,\"error\":\"\"}",
		        i ? "," : "", i, i, i, i, i);
	lf_buf_appends(&js, "]}");
	lf_buf_reset(&o);
	memset(&q, 0, sizeof(q));
	a = lf_monotonic_ns();
	lf_status_targets_html(&o, js.data, js.len, &q);
	b = lf_monotonic_ns();
	printf("/targets HTML (page 1) from %zu bytes of JSON: %zu bytes in %.1f ms\n", js.len,
	       o.len, (double)(b - a) / 1e6);

	lf_buf_free(&js);
	lf_buf_free(&o);
	lf_buf_free(&pl);
	lf_targets_free(&t0);
	lf_targets_free(&t1);
	return 0;
}
