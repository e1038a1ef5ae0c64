/* agent.c — see agent.h.
 *
 * Ownership map:
 *   struct gen     one loaded config; refcounted by the jobs built from it,
 *                  because a pipeline may keep pointing into its YAML
 *   struct job     one scrape config: name + pipeline; refcounted by its
 *                  targets (a file of an old config keeps draining through
 *                  the old pipeline after a reload)
 *   struct atarget one discovered file: job + final labels incl. filename;
 *                  refcounted by the current target list and by the tailer
 *                  (target_ref/unref), freed in the loop under `mu` so the
 *                  HTTP threads can read the labels of listed targets
 *   struct cslot   one client (lf_client) + its epoll registration
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../discovery/discovery.h"
#include "../pipeline/pipeline.h"
#include "client/client.h"
#include "gotime.h"
#include "labels.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "sources/sources.h"
#include "tail/positions.h"
#include "tail/tailer.h"
#include "timeutil.h"

#define TICK_NS         (100 * LF_NS_PER_MS)
#define DIR_DEBOUNCE_NS (50 * LF_NS_PER_MS)

enum fd_kind { FD_SIGNAL, FD_TAILER, FD_DISCOVERY, FD_DIRS, FD_CLIENT, FD_SOURCES };

struct fdh {
	enum fd_kind kind;
	void *p;
};

struct agent;

struct gen {
	int refs;
	struct lf_agent_config *cfg;
};

struct job {
	int refs;
	bool retired; /* its config was replaced: flushed instead of ticked */
	size_t index;
	char *name;
	struct lf_pipeline *pipe;
	struct gen *gen;
	struct job *next_all; /* every live job, for ticking */
};

struct atarget {
	int refs;
	struct job *job;
	char *path;
	struct lf_labels labels; /* discovery labels + filename */
	uint64_t group_hash;
	struct atarget *next_grave;
};

struct cslot {
	struct fdh h;
	struct lf_client *c;
	char *key; /* the client's settings rendered, to keep it across reloads */
	bool retiring;
};

struct dirwatch {
	char *dir;
	int wd;
};

struct agent {
	const struct lf_agent_opts *opts;
	struct gen *gen; /* current config */
	struct lf_metrics *metrics;
	pthread_mutex_t mu; /* guards freeing targets vs /targets readers */

	struct job **jobs; /* current generation, by scrape config index */
	size_t n_jobs;
	struct job *all_jobs;
	struct lf_discovery *disc;
	struct lf_targets dt;
	struct atarget **targets; /* sorted by (path, job index) */
	size_t n_targets;
	atomic_size_t n_targets_pub;
	struct atarget *grave;

	struct cslot **clients; /* active */
	size_t n_clients;
	struct cslot **retiring;
	size_t n_retiring;

	struct lf_positions *pos;
	struct lf_tailer *tailer;
	bool tailer_fd_on;
	struct lf_sources *sources; /* syslog, loki_push_api, journal */
	struct fdh h_src;
	bool src_fd_on;

	int ep, sfd, dir_ifd;
	struct fdh h_sig, h_tail, h_disc, h_dirs;
	int disc_fd_registered;
	struct dirwatch *dw;
	size_t n_dw;

	struct lf_entry e;
	struct lf_buf out; /* -dry-run output, flushed once per loop turn */
	struct lf_buf scratch;

	bool busy_paused, rate_paused, stopping;
	atomic_bool reload_requested;
	/* POST /reload waits for the outcome: a request takes a ticket
	 * (reload_req), the loop publishes reload_done and the result. */
	pthread_mutex_t reload_mu;
	pthread_cond_t reload_cv;
	uint64_t reload_req, reload_done;
	bool reload_ok; /* reload_ok/err: the outcome of reload_done (under reload_mu) */
	char reload_err[1024];
	bool last_ok; /* written by reload() on the loop thread, published by it */
	char last_err[1024];
	int64_t rate_resume_at;
	double tokens;
	int64_t tokens_at;

	int64_t next_tick, next_sync, sync_soon;

	struct lf_ratelimit rl_enqueue;
	struct lf_metric_family *m_reload_ok, *m_reload_fail, *m_build, *m_targets_active,
	        *m_targets_failed, *m_rate_dropped, *m_stdin_lines;

	struct lf_agent_server *srv;
	uint64_t stdin_unacked;
};

/* ---------- generations, jobs, targets ---------- */

static void gen_unref(struct gen *g)
{
	if (g && --g->refs == 0) {
		lf_agent_config_free(g->cfg);
		free(g);
	}
}

static void job_unref(struct agent *a, struct job *j)
{
	if (!j || --j->refs > 0)
		return;
	for (struct job **pp = &a->all_jobs; *pp; pp = &(*pp)->next_all) {
		if (*pp == j) {
			*pp = j->next_all;
			break;
		}
	}
	lf_pipeline_free(j->pipe);
	gen_unref(j->gen);
	free(j->name);
	free(j);
}

static void target_unref(struct agent *a, struct atarget *t)
{
	if (t && --t->refs == 0) {
		/* freed at the end of the loop turn, under mu */
		t->next_grave = a->grave;
		a->grave = t;
	}
}

static void free_grave(struct agent *a)
{
	if (!a->grave)
		return;
	pthread_mutex_lock(&a->mu);
	struct atarget *t = a->grave;
	a->grave = NULL;
	pthread_mutex_unlock(&a->mu);
	while (t) {
		struct atarget *n = t->next_grave;
		lf_labels_free(&t->labels);
		free(t->path);
		job_unref(a, t->job);
		free(t);
		t = n;
	}
}

static void cb_target_ref(void *ctx, void *target)
{
	(void)ctx;
	if (target)
		((struct atarget *)target)->refs++;
}

static void cb_target_unref(void *ctx, void *target)
{
	target_unref(ctx, target);
}

static int build_jobs(struct agent *a, struct gen *g, struct job ***out, struct lf_error *err)
{
	struct lf_agent_config *cfg = g->cfg;
	struct job **jobs = calloc(cfg->n_scrape ? cfg->n_scrape : 1, sizeof *jobs);
	if (!jobs)
		return lf_err(err, "out of memory");
	for (size_t i = 0; i < cfg->n_scrape; i++) {
		struct job *j = calloc(1, sizeof *j);
		if (!j || !(j->name = strdup(cfg->scrape[i].job_name))) {
			free(j);
			lf_err(err, "out of memory");
			goto fail;
		}
		struct lf_pipeline_env env = {.metrics = a ? a->metrics : NULL,
		                              .job_name = j->name};
		if (lf_pipeline_new(cfg->scrape[i].pipeline_stages, &env, &j->pipe, err) < 0) {
			free(j->name);
			free(j);
			goto fail;
		}
		j->refs = 1;
		j->index = i;
		j->gen = g;
		g->refs++;
		jobs[i] = j;
	}
	*out = jobs;
	return 0;
fail:
	for (size_t i = 0; i < cfg->n_scrape; i++) {
		if (jobs[i]) {
			lf_pipeline_free(jobs[i]->pipe);
			g->refs--;
			free(jobs[i]->name);
			free(jobs[i]);
		}
	}
	free(jobs);
	return -1;
}

static int build_discovery(const struct lf_agent_opts *o, const struct lf_agent_config *cfg,
                           struct lf_metrics *m, struct lf_discovery **out, struct lf_error *err)
{
	struct lf_discovery_opts dopts = {
	        .hostname = o ? o->hostname : NULL,
	        .pods_dir = o ? o->pods_dir : NULL,
	        .containers_dir = o ? o->containers_dir : NULL,
	        .sync_period_ns = cfg->target_sync_period_ns,
	        .metrics = m,
	        .keep_discovered = o && !cfg->server.disable, /* /service-discovery */
	};
	struct lf_discovery *d;
	if (lf_discovery_new(&dopts, &d, err) < 0)
		return -1;
	for (size_t i = 0; i < cfg->n_scrape; i++) {
		if (lf_discovery_add_job(d, i, cfg->scrape[i].job_name, cfg->scrape[i].node, err) <
		    0) {
			lf_discovery_free(d);
			return -1;
		}
	}
	*out = d;
	return 0;
}

int lf_agent_validate(const struct lf_agent_config *cfg, struct lf_error *err)
{
	struct gen g = {.refs = 1, .cfg = (struct lf_agent_config *)cfg};
	struct job **jobs;
	if (build_jobs(NULL, &g, &jobs, err) < 0)
		return -1;
	for (size_t i = 0; i < cfg->n_scrape; i++) {
		lf_pipeline_free(jobs[i]->pipe);
		free(jobs[i]->name);
		free(jobs[i]);
	}
	free(jobs);
	struct lf_discovery *d;
	if (build_discovery(NULL, cfg, NULL, &d, err) < 0)
		return -1;
	lf_discovery_free(d);
	return 0;
}

/* ---------- clients ---------- */

static void client_key(const struct lf_client_yaml *c, const struct lf_limits_config *l,
                       struct lf_buf *o)
{
	lf_buf_reset(o);
	lf_buf_printf(o, "%s|%s|%lld|%lld|%lld|%lld|%lld|%lld|", c->url, c->tenant_id,
	              (long long)c->batchwait_ns, (long long)c->batchsize, (long long)c->timeout_ns,
	              (long long)c->backoff_min_ns, (long long)c->backoff_max_ns,
	              (long long)c->max_retries);
	lf_labels_render(&c->external_labels, o);
	lf_labels_render(&c->headers, o);
	lf_buf_printf(o, "|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%d|%d|%lld|%lld|%d",
	              c->basic_auth.username, c->basic_auth.password, c->basic_auth.password_file,
	              c->bearer_token, c->bearer_token_file, c->proxy_url, c->tls.ca_file,
	              c->tls.cert_file, c->tls.key_file, c->tls.server_name,
	              c->tls.insecure_skip_verify, c->drop_rate_limited_batches,
	              (long long)l->max_streams, (long long)l->max_line_size,
	              l->max_line_size_truncate);
}

static const char *nz(const char *s)
{
	return s && s[0] ? s : NULL;
}

static int client_new(struct agent *a, const struct lf_client_yaml *y,
                      const struct lf_limits_config *l, struct cslot **out, struct lf_error *err)
{
	struct lf_client_config cc;
	lf_client_config_init(&cc);
	cc.url = y->url;
	cc.tenant_id = nz(y->tenant_id);
	cc.batchwait_ns = y->batchwait_ns;
	cc.batchsize = y->batchsize;
	cc.timeout_ns = y->timeout_ns;
	cc.backoff_min_ns = y->backoff_min_ns;
	cc.backoff_max_ns = y->backoff_max_ns;
	cc.max_retries = y->max_retries;
	cc.external_labels = &y->external_labels;
	cc.headers = &y->headers;
	cc.basic_auth_username = nz(y->basic_auth.username);
	cc.basic_auth_password = nz(y->basic_auth.password);
	cc.basic_auth_password_file = nz(y->basic_auth.password_file);
	cc.bearer_token = nz(y->bearer_token);
	cc.bearer_token_file = nz(y->bearer_token_file);
	cc.proxy_url = nz(y->proxy_url);
	cc.tls_ca_file = nz(y->tls.ca_file);
	cc.tls_cert_file = nz(y->tls.cert_file);
	cc.tls_key_file = nz(y->tls.key_file);
	cc.tls_server_name = nz(y->tls.server_name);
	cc.tls_insecure_skip_verify = y->tls.insecure_skip_verify;
	cc.drop_rate_limited_batches = y->drop_rate_limited_batches;
	cc.max_streams = l->max_streams;
	cc.max_line_size = l->max_line_size;
	cc.max_line_size_truncate = l->max_line_size_truncate;
	/* The queue bound is what back-pressure holds in memory per client
	 * while the backend is slow; the files are the real buffer. It counts
	 * queued records (line + labels + ~64 bytes of bookkeeping each, about
	 * twice the batchsize measure for 200-byte lines), and must hold one
	 * batch in flight plus a full one building, or the sender waits for
	 * reading after every request: 4 x batchsize (>= 4 MiB). 2 MiB made
	 * sending and reading take turns (bench/agent/throughput.py); the
	 * client's own default (16 MiB) made the peak RSS 50 MiB with 1000
	 * busy files (28 MiB with 4 MiB, bench/agent run_bench.py many). */
	cc.max_queue_bytes = 4 * y->batchsize > (4 << 20) ? 4 * y->batchsize : (4 << 20);

	struct cslot *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	if (lf_client_new(&cc, a->metrics, &s->c, err) < 0) {
		free(s);
		return -1;
	}
	client_key(y, l, &a->scratch);
	s->key = strdup(a->scratch.data ? a->scratch.data : "");
	s->h.kind = FD_CLIENT;
	s->h.p = s;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &s->h};
	if (a->ep >= 0 && epoll_ctl(a->ep, EPOLL_CTL_ADD, lf_client_ack_fd(s->c), &ev) < 0) {
		lf_client_free(s->c);
		free(s->key);
		free(s);
		return lf_err(err, "epoll_ctl(client ack fd): %s", strerror(errno));
	}
	*out = s;
	return 0;
}

static void cb_ack(void *ctx, void *origin, uint64_t first, uint64_t last, bool delivered)
{
	struct agent *a = ctx;
	(void)delivered;
	if (origin) {
		if (!lf_sources_ack(origin, first, last))
			lf_tail_ack(origin, first, last);
	} else if (a->stdin_unacked) {
		a->stdin_unacked--;
	}
}

static void client_slot_free(struct agent *a, struct cslot *s)
{
	if (a->ep >= 0)
		epoll_ctl(a->ep, EPOLL_CTL_DEL, lf_client_ack_fd(s->c), NULL);
	lf_client_drain_acks(s->c, cb_ack, a);
	lf_client_free(s->c);
	free(s->key);
	free(s);
}

static bool any_client_busy(struct agent *a)
{
	for (size_t i = 0; i < a->n_clients; i++)
		if (lf_client_busy(a->clients[i]->c))
			return true;
	return false;
}

/* ---------- flow control ---------- */

static void set_tailer_fd(struct agent *a, bool on)
{
	int fd = a->tailer ? lf_tailer_fd(a->tailer) : -1;
	if (fd < 0 || a->tailer_fd_on == on)
		return;
	struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.ptr = &a->h_tail};
	epoll_ctl(a->ep, EPOLL_CTL_MOD, fd, &ev);
	a->tailer_fd_on = on;
}

static void set_sources_fd(struct agent *a, bool on)
{
	int fd = lf_sources_fd(a->sources);
	if (fd < 0 || a->src_fd_on == on)
		return;
	struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.ptr = &a->h_src};
	epoll_ctl(a->ep, EPOLL_CTL_MOD, fd, &ev);
	a->src_fd_on = on;
}

static void update_pause(struct agent *a)
{
	/* sources stop being drained while clients are busy (their own
	 * bounded queues then push back on their senders) */
	set_sources_fd(a, !(a->busy_paused || a->stopping));
	if (!a->tailer)
		return;
	bool want = a->busy_paused || a->rate_paused || a->stopping;
	if (want && !lf_tailer_paused(a->tailer))
		lf_tailer_pause(a->tailer);
	else if (!want && lf_tailer_paused(a->tailer))
		lf_tailer_resume(a->tailer);
	/* While paused the inotify fd would keep waking us up for nothing. */
	set_tailer_fd(a, !want);
}

/* Readline token bucket (limits_config.readline_rate). Returns true when the
 * line may go on; in blocking mode it always goes on but may pause reading. */
static bool rate_take(struct agent *a, int64_t now)
{
	const struct lf_limits_config *l = &a->gen->cfg->limits;
	double burst = l->readline_burst > 0 ? (double)l->readline_burst : 1.0;
	if (a->tokens_at == 0) {
		a->tokens = burst;
		a->tokens_at = now;
	}
	a->tokens += (double)(now - a->tokens_at) / 1e9 * l->readline_rate;
	if (a->tokens > burst)
		a->tokens = burst;
	a->tokens_at = now;
	if (a->tokens >= 1.0) {
		a->tokens -= 1.0;
		return true;
	}
	if (l->readline_rate_drop)
		return false;
	a->tokens -= 1.0;
	a->rate_paused = true;
	/* A tiny readline_rate would make the wait overflow int64 (issue 17):
	 * re-check at least once a minute, as the limit stage does. */
	double wait_ns = (1.0 - a->tokens) / l->readline_rate * 1e9;
	if (!(wait_ns < 60e9))
		wait_ns = 60e9;
	a->rate_resume_at = now + (int64_t)wait_ns;
	return true;
}

/* ---------- the line path ---------- */

static void print_entry(struct agent *a, const struct lf_entry *e)
{
	lf_gotime_format_dryrun(e->ts_ns, &a->out);
	lf_buf_putc(&a->out, '\t');
	lf_labels_render(&e->labels, &a->out);
	lf_buf_putc(&a->out, '\t');
	lf_buf_append(&a->out, e->line.data, e->line.len);
	lf_buf_putc(&a->out, '\n');
	if (a->out.len >= 64 * 1024) {
		fwrite(a->out.data, 1, a->out.len, stdout);
		fflush(stdout);
		lf_buf_reset(&a->out);
	}
}

static void emit(void *ctx, struct lf_entry *e)
{
	struct agent *a = ctx;
	if (a->opts->dry_run) {
		print_entry(a, e);
		if (e->origin && !lf_sources_release(e->origin, e->seq_first, e->seq_last))
			lf_tail_release(e->origin, e->seq_first, e->seq_last);
		return;
	}
	unsigned k = 0;
	bool busy = false;
	for (size_t i = 0; i < a->n_clients; i++) {
		struct lf_error err;
		int rc = lf_client_enqueue(a->clients[i]->c, e, &err);
		if (rc < 0) {
			lf_log_rl(&a->rl_enqueue, LF_LOG_ERROR, "client enqueue: %s", err.msg);
			continue;
		}
		k++;
		if (rc == LF_CLIENT_BUSY)
			busy = true;
	}
	if (!e->origin)
		a->stdin_unacked += k;
	else if (!lf_sources_claim(e->origin, e->seq_first, e->seq_last, k))
		lf_tail_claim(e->origin, e->seq_first, e->seq_last, k);
	if (busy && !a->busy_paused) {
		a->busy_paused = true;
		update_pause(a);
	}
}

static void on_line(void *ctx, const struct lf_tail_line *l)
{
	struct agent *a = ctx;
	struct atarget *t = l->target;
	if (!t) {
		lf_tail_release(l->file, l->seq, l->seq);
		return;
	}
	if (a->gen->cfg->limits.readline_rate_enabled) {
		int64_t now = lf_monotonic_ns();
		if (!rate_take(a, now)) {
			lf_metric_inc(a->m_rate_dropped, NULL);
			lf_tail_release(l->file, l->seq, l->seq);
			return;
		}
		if (a->rate_paused)
			update_pause(a);
	}
	struct lf_entry *e = &a->e;
	lf_entry_reset(e);
	e->ts_ns = lf_now_ns();
	if (lf_buf_append(&e->line, l->data, l->len) < 0 ||
	    lf_labels_copy(&e->labels, &t->labels) < 0) {
		lf_log_rl(&a->rl_enqueue, LF_LOG_ERROR, "out of memory for a line of %s", l->path);
		lf_tail_release(l->file, l->seq, l->seq);
		return;
	}
	e->origin = l->file;
	e->seq_first = e->seq_last = l->seq;
	if (lf_pipeline_process(t->job->pipe, e, emit, a) == LF_PIPE_DROPPED)
		lf_tail_release(l->file, l->seq, l->seq);
}

/* An entry of a source (sources.h): same path as a file line from the
 * pipeline on. False = the clients are busy, stop delivering. */
static bool source_deliver(void *ctx, size_t job_index, struct lf_entry *e)
{
	struct agent *a = ctx;
	const char *name = lf_sources_job_name(e->origin);
	struct job *j = job_index < a->n_jobs ? a->jobs[job_index] : NULL;
	if (j && name && strcmp(j->name, name) != 0) { /* reordered by a reload */
		j = NULL;
		for (size_t i = 0; i < a->n_jobs && !j; i++)
			if (strcmp(a->jobs[i]->name, name) == 0)
				j = a->jobs[i];
	}
	if (!j || lf_pipeline_process(j->pipe, e, emit, a) == LF_PIPE_DROPPED)
		lf_sources_release(e->origin, e->seq_first, e->seq_last);
	return !a->busy_paused || a->stopping;
}

/* ---------- targets ---------- */

static int target_cmp(const char *path, size_t job, const struct atarget *t)
{
	int c = strcmp(path, t->path);
	if (c)
		return c;
	return job < t->job->index ? -1 : job > t->job->index;
}

static struct atarget *find_target(struct agent *a, const char *path, size_t job)
{
	size_t lo = 0, hi = a->n_targets;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = target_cmp(path, job, a->targets[mid]);
		if (c == 0)
			return a->targets[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static void update_dir_watches(struct agent *a)
{
	if (a->dir_ifd < 0)
		return;
	const struct lf_targets *dt = &a->dt;
	struct dirwatch *nw = calloc(dt->n_watch_dirs ? dt->n_watch_dirs : 1, sizeof *nw);
	if (!nw)
		return;
	size_t i = 0, j = 0, n = 0;
	/* both lists sorted: merge */
	while (i < dt->n_watch_dirs || j < a->n_dw) {
		int c = i >= dt->n_watch_dirs ? 1
		        : j >= a->n_dw        ? -1
		                              : strcmp(dt->watch_dirs[i], a->dw[j].dir);
		if (c == 0) {
			nw[n++] = a->dw[j];
			i++;
			j++;
		} else if (c < 0) {
			int wd = inotify_add_watch(a->dir_ifd, dt->watch_dirs[i],
			                           IN_CREATE | IN_DELETE | IN_MOVED_FROM |
			                                   IN_MOVED_TO | IN_ONLYDIR);
			if (wd < 0) {
				lf_debug("inotify watch on %s: %s (relying on target_config "
				         "sync_period)",
				         dt->watch_dirs[i], strerror(errno));
			} else {
				nw[n].dir = strdup(dt->watch_dirs[i]);
				nw[n].wd = wd;
				if (nw[n].dir)
					n++;
				else
					inotify_rm_watch(a->dir_ifd, wd);
			}
			i++;
		} else {
			inotify_rm_watch(a->dir_ifd, a->dw[j].wd);
			free(a->dw[j].dir);
			j++;
		}
	}
	free(a->dw);
	a->dw = nw;
	a->n_dw = n;
}

static void sync_targets(struct agent *a)
{
	struct lf_error err = {{0}};
	if (lf_discovery_sync(a->disc, &a->dt, &err) < 0) {
		lf_error("target sync: %s", err.msg);
		return;
	}
	lf_agent_server_set_discovered(a->srv, &a->dt.sd, a->dt.sd_omitted);
	const struct lf_targets *dt = &a->dt;
	struct atarget **nt = calloc(dt->n ? dt->n : 1, sizeof *nt);
	struct lf_tail_target *tt = calloc(dt->n ? dt->n : 1, sizeof *tt);
	if (!nt || !tt) {
		free(nt);
		free(tt);
		lf_error("target sync: out of memory");
		return;
	}
	size_t n = 0;
	for (size_t i = 0; i < dt->n; i++) {
		const struct lf_target *d = &dt->v[i];
		if (d->job >= a->n_jobs)
			continue;
		struct job *j = a->jobs[d->job];
		struct atarget *t = find_target(a, d->path, d->job);
		if (t && t->job == j && t->group_hash == d->labels_hash) {
			t->refs++;
		} else {
			t = calloc(1, sizeof *t);
			if (!t || !(t->path = strdup(d->path)) ||
			    lf_labels_copy(&t->labels, d->labels) < 0 ||
			    lf_labels_set(&t->labels, "filename", d->path) < 0) {
				if (t) {
					lf_labels_free(&t->labels);
					free(t->path);
					free(t);
				}
				lf_error("target sync: out of memory");
				continue;
			}
			t->refs = 1;
			t->job = j;
			j->refs++;
			t->group_hash = d->labels_hash;
		}
		nt[n] = t;
		tt[n].path = t->path;
		tt[n].target = t;
		n++;
	}
	if (a->tailer && lf_tailer_sync(a->tailer, tt, n, &err) < 0)
		lf_error("tailer sync: %s", err.msg);
	pthread_mutex_lock(&a->mu);
	struct atarget **old = a->targets;
	size_t n_old = a->n_targets;
	a->targets = nt;
	a->n_targets = n;
	pthread_mutex_unlock(&a->mu);
	atomic_store(&a->n_targets_pub, n);
	for (size_t i = 0; i < n_old; i++)
		target_unref(a, old[i]);
	free(old);
	free(tt);

	lf_debug("target sync: %zu files, %zu watched directories", n, dt->n_watch_dirs);
	lf_metric_set(a->m_targets_active, NULL, (double)n);
	static const char *const reasons[] = {"dropped", "wrong_host", "no_path", "exists"};
	const size_t vals[] = {dt->dropped.dropped, dt->dropped.wrong_host, dt->dropped.no_path,
	                       dt->dropped.exists};
	for (size_t i = 0; i < 4; i++) {
		const char *lv[] = {reasons[i]};
		if (vals[i])
			lf_metric_add(a->m_targets_failed, lv, (double)vals[i]);
	}
	update_dir_watches(a);
}

/* ---------- HTTP callbacks (other threads) ---------- */

static size_t srv_targets(void *ctx)
{
	struct agent *a = ctx;
	return atomic_load(&a->n_targets_pub) + lf_sources_count(a->sources);
}

struct json_ctx {
	struct lf_buf *out;
	bool first;
	bool detail; /* the status page's extra fields */
};

static void json_u64(struct lf_buf *o, const char *k, uint64_t v)
{
	lf_buf_printf(o, ",\"%s\":%llu", k, (unsigned long long)v);
}

static void targets_item(void *ctx, const struct lf_tail_file_info *fi)
{
	struct json_ctx *jc = ctx;
	struct lf_buf *o = jc->out;
	const struct atarget *t = fi->target;
	if (!jc->first)
		lf_buf_putc(o, ',');
	jc->first = false;
	lf_buf_appends(o, "{\"job\":");
	const char *job = t ? t->job->name : "";
	lf_buf_append_json_string(o, job, strlen(job));
	lf_buf_appends(o, ",\"path\":");
	lf_buf_append_json_string(o, fi->path, strlen(fi->path));
	lf_buf_appends(o, ",\"labels\":{");
	if (t) {
		for (size_t i = 0; i < t->labels.n; i++) {
			if (i)
				lf_buf_putc(o, ',');
			const struct lf_label *l = &t->labels.v[i];
			lf_buf_append_json_string(o, l->name, strlen(l->name));
			lf_buf_putc(o, ':');
			lf_buf_append_json_string(o, l->value, strlen(l->value));
		}
	}
	lf_buf_appends(o, "},\"state\":");
	lf_buf_append_json_string(o, fi->state, strlen(fi->state));
	json_u64(o, "offset", fi->offset);
	json_u64(o, "acked_offset", fi->committed);
	json_u64(o, "size", fi->size);
	json_u64(o, "lines", fi->lines);
	json_u64(o, "inflight", fi->inflight);
	lf_buf_printf(o, ",\"polled\":%s,\"error\":", fi->polled ? "true" : "false");
	const char *e = fi->error ? fi->error : "";
	lf_buf_append_json_string(o, e, strlen(e));
	if (jc->detail && fi->error_time_ns > 0)
		lf_buf_printf(o, ",\"error_time_ns\":%lld", (long long)fi->error_time_ns);
	lf_buf_putc(o, '}');
}

static void srv_targets_json(void *ctx, struct lf_buf *out, bool detail)
{
	struct agent *a = ctx;
	struct json_ctx jc = {out, true, detail};
	lf_buf_appends(out, "{\"targets\":[");
	pthread_mutex_lock(&a->mu);
	if (a->tailer)
		lf_tailer_list(a->tailer, targets_item, &jc);
	pthread_mutex_unlock(&a->mu);
	lf_sources_list_json(a->sources, out, &jc.first);
	lf_buf_appends(out, "]}\n");
}

static int srv_reload(void *ctx, struct lf_buf *errmsg)
{
	struct agent *a = ctx;
	pthread_mutex_lock(&a->reload_mu);
	uint64_t ticket = ++a->reload_req;
	pthread_mutex_unlock(&a->reload_mu);
	atomic_store(&a->reload_requested, true);
	kill(getpid(), SIGHUP);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 120;
	int rc = 0;
	pthread_mutex_lock(&a->reload_mu);
	while (a->reload_done < ticket && rc == 0)
		rc = pthread_cond_timedwait(&a->reload_cv, &a->reload_mu, &dl);
	int out = 0;
	if (a->reload_done < ticket) {
		lf_buf_appends(errmsg, "timed out waiting for the reload");
		out = -1;
	} else if (!a->reload_ok) {
		lf_buf_appends(errmsg, a->reload_err);
		out = -1;
	}
	pthread_mutex_unlock(&a->reload_mu);
	return out;
}

/* ---------- reload ---------- */

static void flush_job(struct agent *a, struct job *j)
{
	lf_pipeline_flush(j->pipe, emit, a);
}

static void reload(struct agent *a)
{
	struct lf_error err = {{0}};
	struct lf_agent_config *cfg = NULL;
	struct gen *g = NULL;
	struct job **jobs = NULL;
	struct lf_discovery *disc = NULL;
	struct cslot **ncl = NULL;
	size_t n_ncl = 0;
	bool *reused = NULL;

	lf_info("reloading config file %s", a->opts->config_file);
	if (lf_agent_config_load(a->opts->config_file, a->opts->expand_env, &a->opts->ov, &cfg,
	                         &err) < 0)
		goto fail;
	if (cfg->n_clients == 0 && !a->opts->dry_run) {
		lf_err(&err, "at least one client (clients[].url or -client.url) is required");
		goto fail;
	}
	g = calloc(1, sizeof *g);
	if (!g) {
		lf_err(&err, "out of memory");
		goto fail;
	}
	g->refs = 1; /* the agent's reference, once committed */
	g->cfg = cfg;
	cfg = NULL;
	if (build_jobs(a, g, &jobs, &err) < 0)
		goto fail;
	if (build_discovery(a->opts, g->cfg, a->metrics, &disc, &err) < 0)
		goto fail;
	reused = calloc(a->n_clients + 1, sizeof *reused);
	ncl = calloc(g->cfg->n_clients + 1, sizeof *ncl);
	if (!reused || !ncl) {
		lf_err(&err, "out of memory");
		goto fail;
	}
	if (!a->opts->dry_run) {
		for (size_t i = 0; i < g->cfg->n_clients; i++) {
			client_key(&g->cfg->clients[i], &g->cfg->limits, &a->scratch);
			for (size_t k = 0; k < a->n_clients; k++) {
				if (!reused[k] &&
				    strcmp(a->clients[k]->key, a->scratch.data) == 0) {
					reused[k] = true;
					ncl[i] = a->clients[k];
					break;
				}
			}
			if (!ncl[i] && client_new(a, &g->cfg->clients[i], &g->cfg->limits, &ncl[i],
			                          &err) < 0) {
				lf_err_prefix(&err, "clients[%zu]", i);
				goto fail;
			}
			n_ncl = i + 1;
		}
	}
	if (lf_discovery_start(disc, &err) < 0)
		goto fail;

	/* Commit. Clients first, so entries the old pipelines still hold go to
	 * the new client set. */
	for (size_t k = 0; k < a->n_clients; k++) {
		if (reused[k])
			continue;
		struct cslot **r = realloc(a->retiring, (a->n_retiring + 1) * sizeof *r);
		if (!r) {
			client_slot_free(a, a->clients[k]); /* loses nothing acked; best effort */
			continue;
		}
		a->retiring = r;
		a->clients[k]->retiring = true;
		a->retiring[a->n_retiring++] = a->clients[k];
	}
	free(a->clients);
	a->clients = ncl;
	a->n_clients = n_ncl;
	ncl = NULL;

	for (size_t i = 0; i < a->n_jobs; i++) {
		a->jobs[i]->retired = true;
		flush_job(a, a->jobs[i]);
		job_unref(a, a->jobs[i]);
	}
	free(a->jobs);
	a->jobs = jobs;
	a->n_jobs = g->cfg->n_scrape;
	for (size_t i = 0; i < a->n_jobs; i++) {
		jobs[i]->next_all = a->all_jobs;
		a->all_jobs = jobs[i];
	}
	jobs = NULL;

	if (a->disc_fd_registered >= 0)
		epoll_ctl(a->ep, EPOLL_CTL_DEL, a->disc_fd_registered, NULL);
	a->disc_fd_registered = -1;
	lf_discovery_free(a->disc);
	a->disc = disc;
	disc = NULL;
	int dfd = lf_discovery_fd(a->disc);
	if (dfd >= 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &a->h_disc};
		if (epoll_ctl(a->ep, EPOLL_CTL_ADD, dfd, &ev) == 0)
			a->disc_fd_registered = dfd;
	}

	struct gen *old = a->gen;
	const struct lf_agent_config *oc = old->cfg, *nc = g->cfg;
	if (strcmp(oc->positions.filename, nc->positions.filename) != 0 ||
	    oc->limits.max_line_size != nc->limits.max_line_size ||
	    oc->limits.max_line_size_truncate != nc->limits.max_line_size_truncate ||
	    oc->server.http_listen_port != nc->server.http_listen_port ||
	    strcmp(oc->server.http_listen_address, nc->server.http_listen_address) != 0)
		lf_warn("positions.filename, limits_config.max_line_size* and the server's listen "
		        "address take effect only after a restart");
	a->gen = g;
	gen_unref(old);
	enum lf_log_level lvl;
	if (lf_log_parse_level(g->cfg->server.log_level, &lvl) == 0)
		lf_log_set_level(lvl);
	if (a->srv) {
		lf_agent_server_update(a->srv, &g->cfg->server);
		lf_agent_server_set_config(a->srv, g->cfg);
	}
	a->last_ok = true;
	a->next_sync = 0; /* sync now with the new discovery */
	free(reused);
	lf_metric_inc(a->m_reload_ok, NULL);
	lf_info("config reloaded: %zu scrape configs, %zu clients", a->n_jobs, a->n_clients);
	return;

fail:
	lf_error("reload failed, keeping the current config: %s", err.msg);
	a->last_ok = false;
	snprintf(a->last_err, sizeof(a->last_err), "%s", err.msg);
	lf_metric_inc(a->m_reload_fail, NULL);
	if (ncl) {
		for (size_t i = 0; i < n_ncl; i++) {
			bool was_reused = false;
			for (size_t k = 0; k < a->n_clients; k++)
				was_reused |= ncl[i] == a->clients[k];
			if (ncl[i] && !was_reused)
				client_slot_free(a, ncl[i]);
		}
		free(ncl);
	}
	free(reused);
	lf_discovery_free(disc);
	if (jobs) {
		for (size_t i = 0; i < g->cfg->n_scrape; i++) {
			lf_pipeline_free(jobs[i]->pipe);
			free(jobs[i]->name);
			free(jobs[i]);
		}
		free(jobs);
	}
	if (g) {
		lf_agent_config_free(g->cfg);
		free(g);
	}
	lf_agent_config_free(cfg);
}

/* ---------- loop helpers ---------- */

static void drain_all_acks(struct agent *a)
{
	for (size_t i = 0; i < a->n_clients; i++)
		lf_client_drain_acks(a->clients[i]->c, cb_ack, a);
	for (size_t i = 0; i < a->n_retiring; i++)
		lf_client_drain_acks(a->retiring[i]->c, cb_ack, a);
}

static void reap_retiring(struct agent *a)
{
	for (size_t i = 0; i < a->n_retiring;) {
		struct cslot *s = a->retiring[i];
		if (lf_client_queue_bytes(s->c) == 0) {
			lf_client_stop(s->c, 0);
			client_slot_free(a, s);
			a->retiring[i] = a->retiring[--a->n_retiring];
		} else {
			i++;
		}
	}
}

static void tick_jobs(struct agent *a, int64_t now_mono)
{
	for (struct job *j = a->all_jobs; j; j = j->next_all) {
		if (j->retired)
			lf_pipeline_flush(j->pipe, emit, a);
		else
			lf_pipeline_tick(j->pipe, now_mono, emit, a);
	}
}

static void flush_out(struct agent *a)
{
	if (a->out.len) {
		fwrite(a->out.data, 1, a->out.len, stdout);
		fflush(stdout);
		lf_buf_reset(&a->out);
	}
}

static void drain_dirs(struct agent *a)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	while (read(a->dir_ifd, buf, sizeof buf) > 0)
		;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static int64_t remaining(int64_t deadline)
{
	int64_t d = deadline - lf_monotonic_ns();
	return d > 0 ? d : 0;
}

static void shutdown_flow(struct agent *a)
{
	a->stopping = true;
	update_pause(a);
	/* what sources already took in (and answered for) goes out too */
	lf_sources_stop(a->sources);
	while (lf_sources_run_once(a->sources, lf_monotonic_ns()) > 0)
		;
	for (struct job *j = a->all_jobs; j; j = j->next_all)
		lf_pipeline_flush(j->pipe, emit, a);
	flush_out(a);
	int64_t deadline = lf_monotonic_ns() + a->gen->cfg->server.graceful_shutdown_timeout_ns;
	uint64_t left = 0;
	for (size_t i = 0; i < a->n_clients; i++)
		left += lf_client_stop(a->clients[i]->c, remaining(deadline));
	for (size_t i = 0; i < a->n_retiring; i++)
		left += lf_client_stop(a->retiring[i]->c, remaining(deadline));
	drain_all_acks(a);
	if (left)
		lf_warn("shutdown: %llu entries were not acknowledged within "
		        "graceful_shutdown_timeout; they will be re-read at the next start",
		        (unsigned long long)left);
	lf_sources_save(a->sources);
	if (a->tailer) {
		struct lf_error err = {{0}};
		if (lf_tailer_save_positions(a->tailer, true, &err) < 0)
			lf_error("saving positions: %s", err.msg);
	}
}

/* One turn: due work first (target sync, rate-limit resume, reading, the
 * pipeline tick every 100 ms, reaping), then epoll_wait until the earliest
 * deadline. The timers (tick, target sync, debounced directory changes,
 * rate-limit resume, the tailer's own poll/flush/positions timers) are kept
 * as deadlines and turned into the epoll_wait timeout: a timerfd would add
 * a syscall per turn to express the same thing. */
static int run_loop(struct agent *a)
{
	struct epoll_event evs[32];
	a->next_sync = 0;
	a->next_tick = lf_monotonic_ns() + TICK_NS;
	while (!a->stopping) {
		int64_t now = lf_monotonic_ns();
		const struct lf_agent_config *cfg = a->gen->cfg;
		if (a->next_sync <= now || (a->sync_soon && a->sync_soon <= now)) {
			sync_targets(a);
			a->next_sync = now + cfg->target_sync_period_ns;
			a->sync_soon = 0;
		}
		if (a->rate_paused && now >= a->rate_resume_at) {
			a->rate_paused = false;
			update_pause(a);
		}
		int more = lf_tailer_run_once(a->tailer, now);
		if (lf_tailer_take_dir_changed(a->tailer) && !a->sync_soon)
			a->sync_soon = now + DIR_DEBOUNCE_NS;
		if (!a->busy_paused && lf_sources_run_once(a->sources, now) > 0)
			more = 1;
		if (now >= a->next_tick) {
			lf_sources_save(a->sources);
			tick_jobs(a, now);
			a->next_tick = now + TICK_NS;
		}
		reap_retiring(a);
		free_grave(a);
		flush_out(a);

		int64_t deadline = min64(a->next_tick, a->next_sync);
		if (a->sync_soon)
			deadline = min64(deadline, a->sync_soon);
		if (a->rate_paused)
			deadline = min64(deadline, a->rate_resume_at);
		deadline = min64(deadline, lf_sources_next_wakeup(a->sources));
		if (!lf_tailer_paused(a->tailer))
			deadline = min64(deadline, lf_tailer_next_wakeup_ns(a->tailer));
		else
			/* paused tailer: still let it run its timers (positions) */
			deadline = min64(deadline, lf_tailer_next_wakeup_ns(a->tailer));
		int timeout = 0;
		if (!more || lf_tailer_paused(a->tailer)) {
			now = lf_monotonic_ns();
			int64_t d = deadline - now;
			timeout = d <= 0 ? 0
			                 : (int)min64((d + LF_NS_PER_MS - 1) / LF_NS_PER_MS, 1000);
		}
		int n = epoll_wait(a->ep, evs, 32, timeout);
		if (n < 0 && errno != EINTR) {
			lf_error("epoll_wait: %s", strerror(errno));
			return -1;
		}
		bool acks = false;
		for (int i = 0; i < n; i++) {
			struct fdh *h = evs[i].data.ptr;
			switch (h->kind) {
			case FD_SIGNAL: {
				struct signalfd_siginfo si;
				while (read(a->sfd, &si, sizeof si) == sizeof si) {
					if (si.ssi_signo == SIGHUP) {
						atomic_store(&a->reload_requested, false);
						pthread_mutex_lock(&a->reload_mu);
						uint64_t serves = a->reload_req;
						pthread_mutex_unlock(&a->reload_mu);
						reload(a);
						pthread_mutex_lock(&a->reload_mu);
						a->reload_done = serves;
						a->reload_ok = a->last_ok;
						memcpy(a->reload_err, a->last_err,
						       sizeof(a->reload_err));
						pthread_cond_broadcast(&a->reload_cv);
						pthread_mutex_unlock(&a->reload_mu);
					} else if (si.ssi_signo == SIGTERM ||
					           si.ssi_signo == SIGINT) {
						lf_info("received signal %u, shutting down",
						        si.ssi_signo);
						a->stopping = true;
					}
				}
				break;
			}
			case FD_TAILER:
				break; /* lf_tailer_run_once reads the events */
			case FD_DISCOVERY:
				a->sync_soon = lf_monotonic_ns();
				break;
			case FD_DIRS:
				drain_dirs(a);
				if (!a->sync_soon)
					a->sync_soon = lf_monotonic_ns() + DIR_DEBOUNCE_NS;
				break;
			case FD_CLIENT:
				acks = true;
				break;
			case FD_SOURCES:
				break; /* lf_sources_run_once takes the work */
			}
		}
		if (acks || a->busy_paused)
			drain_all_acks(a);
		if (a->busy_paused && !any_client_busy(a)) {
			a->busy_paused = false;
			update_pause(a);
		}
	}
	shutdown_flow(a);
	return 0;
}

/* ---------- stdin mode ---------- */

static void stdin_labels(struct agent *a, struct lf_labels *ls)
{
	const struct lf_agent_config *cfg = a->gen->cfg;
	if (cfg->n_scrape > 0 && cfg->scrape[0].static_configs) {
		const struct lf_ynode *sc = cfg->scrape[0].static_configs;
		for (size_t i = 0; i < sc->n; i++) {
			const struct lf_ynode *lab = lf_ymap_get(sc->items[i], "labels");
			if (!lab || lab->kind != LF_Y_MAP)
				continue;
			for (size_t k = 0; k < lab->n; k++) {
				const struct lf_ynode *key = lab->pairs[k].key;
				const struct lf_ynode *v = lab->pairs[k].value;
				if (strncmp(key->str, "__", 2) == 0 || v->kind != LF_Y_SCALAR)
					continue;
				lf_labels_set(ls, key->str, v->str);
			}
		}
	}
	if (ls->n == 0) {
		char host[256] = "";
		gethostname(host, sizeof host - 1);
		lf_labels_set(ls, "job", "stdin");
		lf_labels_set(ls, "hostname", host);
	}
}

static void stdin_wait_clients(struct agent *a)
{
	/* Back-pressure in stdin mode: wait for acks while any client is busy. */
	while (any_client_busy(a)) {
		struct epoll_event ev;
		epoll_wait(a->ep, &ev, 1, 100);
		drain_all_acks(a);
	}
}

static void stdin_line(struct agent *a, struct lf_pipeline *p, const struct lf_labels *ls,
                       const char *data, size_t len)
{
	struct lf_entry *e = &a->e;
	lf_entry_reset(e);
	e->ts_ns = lf_now_ns();
	lf_buf_append(&e->line, data, len);
	lf_labels_copy(&e->labels, ls);
	e->origin = NULL;
	e->seq_first = e->seq_last = 0;
	lf_pipeline_process(p, e, emit, a);
	if (a->busy_paused) {
		stdin_wait_clients(a);
		a->busy_paused = false;
	}
}

static int run_stdin(struct agent *a, struct lf_error *err)
{
	struct lf_pipeline *p = NULL, *own = NULL;
	if (a->n_jobs > 0) {
		p = a->jobs[0]->pipe;
	} else {
		struct lf_pipeline_env env = {.metrics = a->metrics, .job_name = "stdin"};
		if (lf_pipeline_new(NULL, &env, &own, err) < 0)
			return -1;
		p = own;
	}
	struct lf_labels ls = LF_LABELS_INIT;
	stdin_labels(a, &ls);
	lf_buf_reset(&a->scratch);
	lf_labels_render(&ls, &a->scratch);
	lf_debug("stdin: reading lines through the pipeline of job \"%s\" with labels %s",
	         a->n_jobs ? a->jobs[0]->name : "stdin", a->scratch.data);

	struct lf_buf buf = LF_BUF_INIT;
	size_t start = 0;
	for (;;) {
		if (lf_buf_reserve(&buf, 64 * 1024) < 0) {
			lf_err(err, "out of memory");
			break;
		}
		ssize_t r = read(0, buf.data + buf.len, buf.cap - buf.len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			lf_err(err, "read stdin: %s", strerror(errno));
			break;
		}
		if (r == 0) {
			if (buf.len > start)
				stdin_line(a, p, &ls, buf.data + start, buf.len - start);
			break;
		}
		buf.len += (size_t)r;
		for (;;) {
			char *nl = memchr(buf.data + start, '\n', buf.len - start);
			if (!nl)
				break;
			size_t len = (size_t)(nl - (buf.data + start));
			stdin_line(a, p, &ls, buf.data + start, len);
			start += len + 1;
		}
		/* keep only the partial line */
		memmove(buf.data, buf.data + start, buf.len - start);
		buf.len -= start;
		start = 0;
		flush_out(a);
	}
	lf_pipeline_flush(p, emit, a);
	flush_out(a);
	uint64_t left = 0;
	int64_t deadline = lf_monotonic_ns() + a->gen->cfg->server.graceful_shutdown_timeout_ns;
	for (size_t i = 0; i < a->n_clients; i++)
		left += lf_client_stop(a->clients[i]->c, remaining(deadline));
	drain_all_acks(a);
	if (left)
		lf_warn("stdin: %llu entries were not delivered before the timeout",
		        (unsigned long long)left);
	lf_labels_free(&ls);
	lf_buf_free(&buf);
	if (own)
		lf_pipeline_free(own);
	return err->msg[0] ? -1 : 0;
}

/* ---------- setup / teardown ---------- */

static void register_metrics(struct agent *a)
{
	static const char *const build_labels[] = {"version", NULL};
	static const char *const reason[] = {"reason", NULL};
	a->m_reload_ok = lf_metrics_family(a->metrics, LF_METRIC_COUNTER,
	                                   "logferry_config_reload_success_total",
	                                   "Number of successful config reloads.", NULL, NULL, 0);
	a->m_reload_fail = lf_metrics_family(a->metrics, LF_METRIC_COUNTER,
	                                     "logferry_config_reload_fail_total",
	                                     "Number of failed config reloads.", NULL, NULL, 0);
	a->m_build = lf_metrics_family(a->metrics, LF_METRIC_GAUGE, "logferry_build_info",
	                               "A metric with a constant '1' value labeled by version.",
	                               build_labels, NULL, 0);
	a->m_targets_active =
	        lf_metrics_family(a->metrics, LF_METRIC_GAUGE, "logferry_targets_active_total",
	                          "Number of active targets (files).", NULL, NULL, 0);
	a->m_targets_failed = lf_metrics_family(
	        a->metrics, LF_METRIC_COUNTER, "logferry_targets_failed_total",
	        "Number of discovered targets that produced no file, by reason.", reason, NULL, 0);
	a->m_rate_dropped = lf_metrics_family(
	        a->metrics, LF_METRIC_COUNTER, "logferry_readline_rate_dropped_lines_total",
	        "Lines dropped by limits_config.readline_rate (readline_rate_drop true).", NULL,
	        NULL, 0);
	const char *v[] = {LF_VERSION};
	lf_metric_set(a->m_build, v, 1);
	lf_metric_add(a->m_reload_ok, NULL, 0); /* shown as 0 from the start */
	lf_metric_add(a->m_reload_fail, NULL, 0);
	lf_metric_add(a->m_rate_dropped, NULL, 0);
	lf_metric_set(a->m_targets_active, NULL, 0);
}

static int epoll_add(struct agent *a, int fd, struct fdh *h, enum fd_kind k, struct lf_error *err)
{
	h->kind = k;
	h->p = a;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = h};
	if (epoll_ctl(a->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return lf_err(err, "epoll_ctl: %s", strerror(errno));
	return 0;
}

static void agent_free(struct agent *a)
{
	/* A POST /reload still waiting gets its answer before the server
	 * stops (which waits for running handlers). */
	pthread_mutex_lock(&a->reload_mu);
	if (a->reload_done < a->reload_req) {
		a->reload_done = a->reload_req;
		a->reload_ok = false;
		snprintf(a->reload_err, sizeof(a->reload_err), "the agent is shutting down");
	}
	pthread_cond_broadcast(&a->reload_cv);
	pthread_mutex_unlock(&a->reload_mu);
	if (a->srv)
		lf_agent_server_stop(a->srv);
	/* The tailer first: it drops its target references. */
	if (a->tailer)
		lf_tailer_free(a->tailer);
	a->tailer = NULL;
	for (size_t i = 0; i < a->n_targets; i++)
		target_unref(a, a->targets[i]);
	free(a->targets);
	a->targets = NULL;
	a->n_targets = 0;
	free_grave(a);
	for (size_t i = 0; i < a->n_jobs; i++)
		job_unref(a, a->jobs[i]);
	free(a->jobs);
	while (a->all_jobs) { /* retired jobs still referenced by nothing */
		struct job *j = a->all_jobs;
		j->refs = 1;
		job_unref(a, j);
	}
	for (size_t i = 0; i < a->n_clients; i++)
		client_slot_free(a, a->clients[i]);
	free(a->clients);
	for (size_t i = 0; i < a->n_retiring; i++)
		client_slot_free(a, a->retiring[i]);
	free(a->retiring);
	/* after the clients: their last acks name sources */
	lf_sources_free(a->sources);
	lf_discovery_free(a->disc);
	lf_targets_free(&a->dt);
	if (a->pos)
		lf_positions_free(a->pos);
	for (size_t i = 0; i < a->n_dw; i++)
		free(a->dw[i].dir);
	free(a->dw);
	if (a->dir_ifd >= 0)
		close(a->dir_ifd);
	if (a->sfd >= 0)
		close(a->sfd);
	if (a->ep >= 0)
		close(a->ep);
	lf_entry_free(&a->e);
	flush_out(a);
	lf_buf_free(&a->out);
	lf_buf_free(&a->scratch);
	gen_unref(a->gen);
	lf_metrics_free(a->metrics);
	pthread_mutex_destroy(&a->mu);
	pthread_mutex_destroy(&a->reload_mu);
	pthread_cond_destroy(&a->reload_cv);
}

int lf_agent_run(const struct lf_agent_opts *opts, struct lf_agent_config *cfg,
                 struct lf_error *err)
{
	struct agent A = {0};
	struct agent *a = &A;
	int rc = 1;
	a->opts = opts;
	a->ep = a->sfd = a->dir_ifd = -1;
	a->disc_fd_registered = -1;
	a->rl_enqueue.interval_ns = 5 * LF_NS_PER_SEC;
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->reload_mu, NULL);
	pthread_cond_init(&a->reload_cv, NULL);
	lf_entry_init(&a->e);
	a->gen = calloc(1, sizeof *a->gen);
	if (!a->gen) {
		lf_agent_config_free(cfg);
		return lf_err(err, "out of memory"), 1;
	}
	a->gen->refs = 1;
	a->gen->cfg = cfg;

	signal(SIGPIPE, SIG_IGN);
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	if (!opts->stdin_mode) {
		/* Before any thread exists, so they all inherit the mask. */
		pthread_sigmask(SIG_BLOCK, &ss, NULL);
	}

	a->metrics = lf_metrics_new();
	a->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!a->metrics || a->ep < 0) {
		lf_err(err, "startup: %s", a->ep < 0 ? strerror(errno) : "out of memory");
		goto out;
	}
	register_metrics(a);

	if (cfg->n_clients == 0 && !opts->dry_run) {
		lf_err(err, "at least one client (clients[].url or -client.url) is required "
		            "(or use -dry-run)");
		goto out;
	}
	if (build_jobs(a, a->gen, &a->jobs, err) < 0)
		goto out;
	a->n_jobs = cfg->n_scrape;
	for (size_t i = 0; i < a->n_jobs; i++) {
		a->jobs[i]->next_all = a->all_jobs;
		a->all_jobs = a->jobs[i];
	}
	if (!opts->dry_run) {
		a->clients = calloc(cfg->n_clients, sizeof *a->clients);
		if (!a->clients) {
			lf_err(err, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < cfg->n_clients; i++) {
			if (client_new(a, &cfg->clients[i], &cfg->limits, &a->clients[i], err) <
			    0) {
				lf_err_prefix(err, "clients[%zu]", i);
				goto out;
			}
			a->n_clients = i + 1;
		}
	}

	if (opts->stdin_mode) {
		rc = run_stdin(a, err) < 0 ? 1 : 0;
		goto out;
	}

	if (build_discovery(opts, cfg, a->metrics, &a->disc, err) < 0 ||
	    lf_discovery_start(a->disc, err) < 0)
		goto out;

	struct lf_positions_opts po = {
	        .filename = cfg->positions.filename,
	        .ignore_invalid_yaml = cfg->positions.ignore_invalid_yaml,
	        .read_only = opts->dry_run,
	};
	if (lf_positions_open(&po, &a->pos, err) < 0)
		goto out;
	struct lf_tailer_opts to = {
	        .on_line = on_line,
	        .cb_ctx = a,
	        .target_ref = cb_target_ref,
	        .target_unref = cb_target_unref,
	        .positions = a->pos,
	        .metrics = a->metrics,
	        .max_line_size = (size_t)cfg->limits.max_line_size,
	        .max_line_size_truncate = cfg->limits.max_line_size_truncate,
	        .poll_min_ns = cfg->min_poll_frequency_ns,
	        .poll_max_ns = cfg->max_poll_frequency_ns,
	        .positions_sync_ns = cfg->positions.sync_period_ns,
	        /* Small reads per file and turn (64 KiB, 256 KiB a turn): a file's
	         * in-flight ring grows with the lines one read delivers and keeps
	         * its size, so 1 MiB reads cost ~200 KiB per busy file (208 MiB
	         * peak RSS with 1000 files in bench/agent). */
	        .read_size = 64 * 1024,
	        .read_budget = 256 * 1024,
	};
	if (lf_tailer_new(&to, &a->tailer, err) < 0)
		goto out;
	struct lf_source_sink sink = {.ctx = a, .deliver = source_deliver};
	if (lf_sources_new(a->pos, a->metrics, sink, &a->sources, err) < 0)
		goto out;
	for (size_t i = 0; i < cfg->n_scrape; i++) {
		char sp[64];
		snprintf(sp, sizeof sp, "scrape_configs[%zu]", i);
		if (lf_sources_add(a->sources, i, cfg->scrape[i].job_name, cfg->scrape[i].node, sp,
		                   err) < 0)
			goto out;
	}

	a->sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->sfd < 0) {
		lf_err(err, "signalfd: %s", strerror(errno));
		goto out;
	}
	if (epoll_add(a, a->sfd, &a->h_sig, FD_SIGNAL, err) < 0)
		goto out;
	int tfd = lf_tailer_fd(a->tailer);
	if (tfd >= 0) {
		if (epoll_add(a, tfd, &a->h_tail, FD_TAILER, err) < 0)
			goto out;
		a->tailer_fd_on = true;
	}
	int srcfd = lf_sources_fd(a->sources);
	if (srcfd >= 0) {
		if (epoll_add(a, srcfd, &a->h_src, FD_SOURCES, err) < 0)
			goto out;
		a->src_fd_on = true;
	}
	int dfd = lf_discovery_fd(a->disc);
	if (dfd >= 0) {
		if (epoll_add(a, dfd, &a->h_disc, FD_DISCOVERY, err) < 0)
			goto out;
		a->disc_fd_registered = dfd;
	}
	a->h_disc.kind = FD_DISCOVERY;
	a->dir_ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->dir_ifd < 0)
		lf_warn("inotify_init1: %s; new files are found every target_config.sync_period",
		        strerror(errno));
	else if (epoll_add(a, a->dir_ifd, &a->h_dirs, FD_DIRS, err) < 0)
		goto out;

	if (!cfg->server.disable) {
		struct lf_agent_server_ops ops = {
		        .ctx = a,
		        .targets = srv_targets,
		        .targets_json = srv_targets_json,
		        .reload = srv_reload,
		};
		if (lf_agent_server_start(&cfg->server, a->metrics, &ops, &a->srv, err) < 0)
			goto out;
		lf_agent_server_set_config(a->srv, cfg);
	}
	lf_info("logferry %s started: %zu scrape configs, %zu clients%s", LF_VERSION, a->n_jobs,
	        a->n_clients, opts->dry_run ? " (dry run)" : "");
	rc = run_loop(a) < 0 ? 1 : 0;
	if (rc)
		lf_err(err, "event loop failed");
out:
	agent_free(a);
	if (!opts->stdin_mode)
		pthread_sigmask(SIG_UNBLOCK, &ss, NULL);
	return rc;
}
