/* discovery_dump — runs discovery as the agent would and prints the targets
 * as JSON, for the discovery e2e tests.
 *
 *   discovery_dump -config.file=F [-pods-dir=D] [-containers-dir=D]
 *                  [-hostname=H] [-sync-period-ms=N]
 *
 * F holds `scrape_configs:` (env-expanded). The program syncs every
 * sync period and whenever discovery's fd says a PodList arrived, and
 * prints one line of JSON each time the result changes:
 *   {"targets":[{"path":..,"job":..,"labels":{..}},..],
 *    "watch_dirs":[..],"kubelet":{"up":n,"ok":n,"errors":n}}
 * It runs until stdin closes or SIGTERM.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "discovery.h"
#include "log.h"
#include "timeutil.h"
#include "yamlcfg.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const char *opt(int argc, char **argv, const char *name)
{
	size_t n = strlen(name);
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=')
			return argv[i] + n + 1;
	return NULL;
}

static void render(const struct lf_targets *t, const struct lf_discovery_status *st,
                   struct lf_buf *out)
{
	lf_buf_reset(out);
	lf_buf_appends(out, "{\"targets\":[");
	for (size_t i = 0; i < t->n; i++) {
		lf_buf_appends(out, i ? ",{\"path\":" : "{\"path\":");
		lf_buf_append_json_string(out, t->v[i].path, strlen(t->v[i].path));
		lf_buf_printf(out, ",\"job\":%zu,\"labels\":{", t->v[i].job);
		const struct lf_labels *ls = t->v[i].labels;
		for (size_t k = 0; k < ls->n; k++) {
			if (k)
				lf_buf_putc(out, ',');
			lf_buf_append_json_string(out, ls->v[k].name, strlen(ls->v[k].name));
			lf_buf_putc(out, ':');
			lf_buf_append_json_string(out, ls->v[k].value, strlen(ls->v[k].value));
		}
		lf_buf_appends(out, "}}");
	}
	lf_buf_appends(out, "],\"watch_dirs\":[");
	for (size_t i = 0; i < t->n_watch_dirs; i++) {
		if (i)
			lf_buf_putc(out, ',');
		lf_buf_append_json_string(out, t->watch_dirs[i], strlen(t->watch_dirs[i]));
	}
	lf_buf_printf(out, "],\"kubelet\":{\"sources\":%zu,\"up\":%zu,\"updates\":%llu}}\n",
	              st->sources, st->sources_up, (unsigned long long)st->updates);
}

int main(int argc, char **argv)
{
	const char *cfg = opt(argc, argv, "-config.file");
	if (!cfg) {
		fprintf(stderr,
		        "usage: %s -config.file=F [-pods-dir=D] [-containers-dir=D] "
		        "[-hostname=H] [-sync-period-ms=N]\n",
		        argv[0]);
		return 2;
	}
	lf_log_set_level(LF_LOG_DEBUG);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	const char *sp = opt(argc, argv, "-sync-period-ms");
	int64_t period_ms = sp ? atoll(sp) : 1000;
	struct lf_discovery_opts o = {
	        .hostname = opt(argc, argv, "-hostname"),
	        .pods_dir = opt(argc, argv, "-pods-dir"),
	        .containers_dir = opt(argc, argv, "-containers-dir"),
	        .sync_period_ns = period_ms * LF_NS_PER_MS,
	};
	struct lf_error err;
	struct lf_ydoc *doc = NULL;
	struct lf_discovery *d = NULL;
	if (lf_ydoc_load_file(cfg, true, &doc, &err) < 0 || lf_discovery_new(&o, &d, &err) < 0)
		goto fail;
	const struct lf_ynode *scs = lf_ymap_get(lf_ydoc_root(doc), "scrape_configs");
	for (size_t i = 0; scs && scs->kind == LF_Y_SEQ && i < scs->n; i++) {
		char *name = NULL;
		int rc = lf_ymap_str(scs->items[i], "scrape_configs", "job_name", &name, &err);
		if (rc == 0)
			rc = lf_discovery_add_job(d, i, name ? name : "", scs->items[i], &err);
		free(name);
		if (rc < 0)
			goto fail;
	}
	lf_ydoc_free(doc);
	doc = NULL;
	if (lf_discovery_start(d, &err) < 0)
		goto fail;
	struct lf_targets t = LF_TARGETS_INIT;
	struct lf_buf cur = LF_BUF_INIT, last = LF_BUF_INIT;
	int64_t next_sync = 0;
	while (!stop) {
		int64_t now = lf_monotonic_ns();
		if (now >= next_sync || lf_discovery_pending(d)) {
			if (lf_discovery_sync(d, &t, &err) < 0) {
				lf_targets_free(&t);
				lf_buf_free(&cur);
				lf_buf_free(&last);
				goto fail;
			}
			struct lf_discovery_status st;
			lf_discovery_status(d, &st);
			render(&t, &st, &cur);
			if (last.len != cur.len || memcmp(last.data, cur.data, cur.len) != 0) {
				fwrite(cur.data, 1, cur.len, stdout);
				fflush(stdout);
				lf_buf_reset(&last);
				lf_buf_append(&last, cur.data, cur.len);
			}
			next_sync = now + period_ms * LF_NS_PER_MS;
		}
		struct pollfd p[2] = {{.fd = lf_discovery_fd(d), .events = POLLIN},
		                      {.fd = 0, .events = POLLIN}};
		int64_t wait_ms = (next_sync - lf_monotonic_ns()) / LF_NS_PER_MS;
		int r = poll(p, 2, wait_ms > 0 ? (int)wait_ms : 0);
		if (r > 0 && (p[1].revents & (POLLIN | POLLHUP))) {
			char b[256];
			if (read(0, b, sizeof(b)) <= 0)
				break; /* stdin closed: the test is done */
		}
	}
	lf_targets_free(&t);
	lf_buf_free(&cur);
	lf_buf_free(&last);
	lf_discovery_free(d);
	return 0;
fail:
	fprintf(stderr, "%s\n", err.msg);
	lf_ydoc_free(doc);
	lf_discovery_free(d);
	return 1;
}
