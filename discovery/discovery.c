/* discovery.c — jobs, the sync that turns sources into file targets. */
#include "discovery.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../common/buf.h"
#include "../common/log.h"
#include "../common/timeutil.h"
#include "../pipeline/relabel.h"
#include "filenames.h"
#include "glob.h"
#include "kubernetes.h"
#include "sdlist.h"
#include "static.h"

#define FIRST_FETCH_WAIT_NS (3 * LF_NS_PER_SEC)

/* ---- a small string -> pointer map (open addressing) ---- */

struct strmap {
	char **keys;
	void **vals;
	size_t cap, n;
};

static uint64_t strhash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void **strmap_find(struct strmap *m, const char *k)
{
	if (!m->cap)
		return NULL;
	size_t h = (size_t)strhash(k, strlen(k)) & (m->cap - 1);
	while (m->keys[h]) {
		if (strcmp(m->keys[h], k) == 0)
			return &m->vals[h];
		h = (h + 1) & (m->cap - 1);
	}
	return NULL;
}

/* Takes ownership of key. */
static int strmap_put(struct strmap *m, char *key, void *val)
{
	if ((m->n + 1) * 2 > m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 64;
		char **nk = calloc(nc, sizeof(*nk));
		void **nv = calloc(nc, sizeof(*nv));
		if (!nk || !nv) {
			free(nk);
			free(nv);
			return -1;
		}
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->keys[i])
				continue;
			size_t h = (size_t)strhash(m->keys[i], strlen(m->keys[i])) & (nc - 1);
			while (nk[h])
				h = (h + 1) & (nc - 1);
			nk[h] = m->keys[i];
			nv[h] = m->vals[i];
		}
		free(m->keys);
		free(m->vals);
		m->keys = nk;
		m->vals = nv;
		m->cap = nc;
	}
	size_t h = (size_t)strhash(key, strlen(key)) & (m->cap - 1);
	while (m->keys[h])
		h = (h + 1) & (m->cap - 1);
	m->keys[h] = key;
	m->vals[h] = val;
	m->n++;
	return 0;
}

/* ---- state ---- */

/* What relabeling made of one discovered target. Kept per pod container
 * between syncs (relabeling 750 containers every sync would dominate its
 * cost); recomputed when the pod's PodList entry changes. */
enum verdict { V_KEEP, V_DROPPED, V_WRONG_HOST, V_NO_PATH };

struct resolved {
	enum verdict verdict;
	struct lf_labels labels; /* final: no `__*` */
	uint64_t hash;
	size_t drop_rule;     /* V_DROPPED: index of the relabel rule, else SIZE_MAX */
	char *path, *exclude; /* exclude may be NULL */
	/* keep_discovered: the labels before relabeling (lf_sd_labels), kept
	 * with the cached verdict of a pod container so that a sync copies
	 * them instead of rebuilding the meta labels */
	struct lf_buf sd_disc;
};

/* A pod some PodList listed, kept while it is listed or its log directory
 * exists (so an ending pod keeps its labels until its files are gone). */
struct retained {
	struct lf_k8s_pod pod;
	bool in_current;
	bool res_valid;       /* res matches pod and the job's relabel_configs */
	struct resolved *res; /* one per container of pod */
	size_t n_res;
};

static void resolved_free(struct resolved *r)
{
	lf_labels_free(&r->labels);
	free(r->path);
	free(r->exclude);
	lf_buf_free(&r->sd_disc);
	memset(r, 0, sizeof(*r));
}

static void retained_clear(struct retained *r)
{
	lf_k8s_pod_clear(&r->pod);
	for (size_t i = 0; i < r->n_res; i++)
		resolved_free(&r->res[i]);
	free(r->res);
	memset(r, 0, sizeof(*r));
}

struct k8s_sd {
	struct lf_k8s_sd_config cfg;
	struct lf_k8s_source *src;
	struct retained *ret;
	size_t n_ret, cap_ret;
	uint64_t seen_gen;
	struct lf_k8s_podlist *injected; /* lf_discovery_inject_podlist */
	uint64_t injected_gen;
	/* Directory names that no PodList knew at the previous sync: a name
	 * that is new here triggers one poke, not one per sync. */
	char **unknown;
	size_t n_unknown;
};

struct job {
	size_t index;
	char *name;
	struct lf_relabel *relabel;
	struct lf_static_targets statics;
	struct k8s_sd **k8s;
	size_t n_k8s;
};

struct cached_glob {
	struct lf_glob *g;
	bool used;
};

struct lf_discovery {
	char *hostname, *pods_dir, *containers_dir;
	int64_t sync_period_ns;
	struct lf_metrics *metrics;
	struct job *jobs;
	size_t n_jobs;
	int efd;
	bool started;
	struct lf_dircache *dc;
	struct strmap globs; /* pattern -> struct cached_glob */
	struct lf_labels scratch;
	struct lf_labels sd_scratch; /* discovered labels of a listed dropped pod container */
	bool keep_sd;                /* opts.keep_discovered */
	struct resolved scratch_res;
	struct lf_buf tmp;
};

/* ---- lifecycle ---- */

int lf_discovery_new(const struct lf_discovery_opts *opts, struct lf_discovery **out,
                     struct lf_error *err)
{
	struct lf_discovery *d = calloc(1, sizeof(*d));
	if (!d)
		return lf_err(err, "discovery: out of memory");
	d->efd = -1;
	const char *host = opts ? opts->hostname : NULL;
	char hbuf[256];
	if (!host || !*host)
		host = getenv("HOSTNAME");
	if (!host || !*host) {
		if (gethostname(hbuf, sizeof(hbuf)) == 0) {
			hbuf[sizeof(hbuf) - 1] = '\0';
			host = hbuf;
		} else {
			host = "localhost";
		}
	}
	d->hostname = strdup(host);
	d->pods_dir = strdup(opts && opts->pods_dir ? opts->pods_dir : "/var/log/pods");
	d->containers_dir =
	        strdup(opts && opts->containers_dir ? opts->containers_dir : "/var/log/containers");
	d->sync_period_ns =
	        opts && opts->sync_period_ns > 0 ? opts->sync_period_ns : 10 * LF_NS_PER_SEC;
	d->metrics = opts ? opts->metrics : NULL;
	d->keep_sd = opts && opts->keep_discovered;
	d->dc = lf_dircache_new();
	if (!d->hostname || !d->pods_dir || !d->containers_dir || !d->dc) {
		lf_discovery_free(d);
		return lf_err(err, "discovery: out of memory");
	}
	*out = d;
	return 0;
}

static void k8s_sd_free(struct k8s_sd *k)
{
	if (!k)
		return;
	lf_k8s_source_free(k->src);
	lf_k8s_podlist_unref(k->injected);
	for (size_t i = 0; i < k->n_ret; i++)
		retained_clear(&k->ret[i]);
	free(k->ret);
	for (size_t i = 0; i < k->n_unknown; i++)
		free(k->unknown[i]);
	free(k->unknown);
	lf_k8s_sd_config_free(&k->cfg);
	free(k);
}

void lf_discovery_free(struct lf_discovery *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_jobs; i++) {
		struct job *j = &d->jobs[i];
		for (size_t k = 0; k < j->n_k8s; k++)
			k8s_sd_free(j->k8s[k]);
		free(j->k8s);
		lf_relabel_free(j->relabel);
		lf_static_targets_free(&j->statics);
		free(j->name);
	}
	free(d->jobs);
	for (size_t i = 0; i < d->globs.cap; i++) {
		if (!d->globs.keys[i])
			continue;
		free(d->globs.keys[i]);
		struct cached_glob *cg = d->globs.vals[i];
		lf_glob_free(cg->g);
		free(cg);
	}
	free(d->globs.keys);
	free(d->globs.vals);
	if (d->efd >= 0)
		close(d->efd);
	lf_dircache_free(d->dc);
	lf_labels_free(&d->scratch);
	lf_labels_free(&d->sd_scratch);
	resolved_free(&d->scratch_res);
	lf_buf_free(&d->tmp);
	free(d->hostname);
	free(d->pods_dir);
	free(d->containers_dir);
	free(d);
}

int lf_discovery_add_job(struct lf_discovery *d, size_t job_index, const char *job_name,
                         const struct lf_ynode *sc, struct lf_error *err)
{
	if (d->started)
		return lf_err(err, "discovery: jobs must be added before lf_discovery_start");
	struct job *jobs = realloc(d->jobs, (d->n_jobs + 1) * sizeof(*jobs));
	if (!jobs)
		return lf_err(err, "discovery: out of memory");
	d->jobs = jobs;
	struct job *j = &d->jobs[d->n_jobs];
	memset(j, 0, sizeof(*j));
	j->index = job_index;
	j->name = strdup(job_name ? job_name : "");
	d->n_jobs++; /* counted now so lf_discovery_free cleans a half-built job */
	if (!j->name)
		return lf_err(err, "discovery: out of memory");
	char path[128], sub[200];
	snprintf(path, sizeof(path), "scrape_configs[%zu]", job_index);
	snprintf(sub, sizeof(sub), "%s.relabel_configs", path);
	if (lf_relabel_new(lf_ymap_get(sc, "relabel_configs"), sub, &j->relabel, err) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s.static_configs", path);
	if (lf_static_parse(lf_ymap_get(sc, "static_configs"), sub, &j->statics, err) < 0)
		return -1;
	const struct lf_ynode *ks = lf_ymap_get(sc, "kubernetes_sd_configs");
	snprintf(sub, sizeof(sub), "%s.kubernetes_sd_configs", path);
	if (ks && ks->kind != LF_Y_NULL && ks->kind != LF_Y_SEQ)
		return lf_y_err(err, ks, sub, "must be a list");
	for (size_t i = 0; ks && ks->kind == LF_Y_SEQ && i < ks->n; i++) {
		char ipath[240];
		snprintf(ipath, sizeof(ipath), "%s[%zu]", sub, i);
		struct k8s_sd *k = calloc(1, sizeof(*k));
		struct k8s_sd **v = realloc(j->k8s, (j->n_k8s + 1) * sizeof(*v));
		if (!k || !v) {
			free(k);
			if (v)
				j->k8s = v;
			return lf_err(err, "discovery: out of memory");
		}
		j->k8s = v;
		if (lf_k8s_sd_config_parse(ks->items[i], ipath, d->hostname, &k->cfg, err) < 0) {
			free(k);
			return -1;
		}
		j->k8s[j->n_k8s++] = k;
	}
	return 0;
}

int lf_discovery_start(struct lf_discovery *d, struct lf_error *err)
{
	if (d->started)
		return 0;
	bool any = false;
	for (size_t i = 0; i < d->n_jobs; i++)
		any |= d->jobs[i].n_k8s > 0;
	if (any) {
		d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (d->efd < 0)
			return lf_err(err, "discovery: eventfd: %s", strerror(errno));
	}
	for (size_t i = 0; i < d->n_jobs; i++) {
		struct job *j = &d->jobs[i];
		for (size_t k = 0; k < j->n_k8s; k++) {
			if (lf_k8s_source_new(&j->k8s[k]->cfg, d->sync_period_ns, d->efd,
			                      d->metrics, &j->k8s[k]->src, err) < 0 ||
			    lf_k8s_source_start(j->k8s[k]->src, err) < 0)
				return lf_err_prefix(err, "job \"%s\"", j->name);
		}
	}
	/* Wait (bounded) for the first answers, so that files already on disk
	 * at startup get the kubelet's labels from the first sync instead of
	 * shipping their backlog under file-name labels. A refused connection
	 * answers at once; a silent kubelet costs at most FIRST_FETCH_WAIT. */
	int64_t deadline = lf_monotonic_ns() + FIRST_FETCH_WAIT_NS;
	for (size_t i = 0; i < d->n_jobs; i++)
		for (size_t k = 0; k < d->jobs[i].n_k8s; k++)
			lf_k8s_source_wait_first(d->jobs[i].k8s[k]->src, deadline);
	d->started = true;
	return 0;
}

int lf_discovery_fd(const struct lf_discovery *d)
{
	return d->efd;
}

bool lf_discovery_pending(const struct lf_discovery *d)
{
	if (d->efd < 0)
		return false;
	struct pollfd p = {.fd = d->efd, .events = POLLIN};
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

void lf_discovery_poke(struct lf_discovery *d)
{
	for (size_t i = 0; i < d->n_jobs; i++)
		for (size_t k = 0; k < d->jobs[i].n_k8s; k++)
			if (d->jobs[i].k8s[k]->src)
				lf_k8s_source_poke(d->jobs[i].k8s[k]->src);
}

void lf_discovery_status(const struct lf_discovery *d, struct lf_discovery_status *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < d->n_jobs; i++)
		for (size_t k = 0; k < d->jobs[i].n_k8s; k++) {
			struct lf_k8s_source *s = d->jobs[i].k8s[k]->src;
			if (!s)
				continue;
			struct lf_k8s_source_state st;
			lf_k8s_source_state(s, &st);
			out->sources++;
			out->sources_up += st.up;
			out->fetches_ok += st.ok;
			out->fetch_errors += st.errors;
			out->updates += st.events;
		}
}

int lf_discovery_inject_podlist(struct lf_discovery *d, const char *json, size_t len,
                                struct lf_error *err)
{
	struct lf_k8s_podlist *pl;
	if (lf_k8s_podlist_parse(json, len, &pl, err) < 0)
		return -1;
	for (size_t i = 0; i < d->n_jobs; i++)
		for (size_t k = 0; k < d->jobs[i].n_k8s; k++) {
			struct k8s_sd *sd = d->jobs[i].k8s[k];
			lf_k8s_podlist_unref(sd->injected);
			sd->injected = lf_k8s_podlist_ref(pl);
			sd->injected_gen++;
		}
	lf_k8s_podlist_unref(pl);
	return 0;
}

/* ---- targets storage ---- */

void lf_targets_free(struct lf_targets *t)
{
	for (size_t i = 0; i < t->cap_groups; i++)
		lf_labels_free(&t->groups[i].labels);
	free(t->groups);
	free(t->v);
	free(t->watch_dirs);
	lf_buf_free(&t->strings);
	lf_buf_free(&t->sd);
	memset(t, 0, sizeof(*t));
}

/* During a sync, paths are stored as offsets into t->strings (which may
 * move while it grows) and turned into pointers at the end. */
#define OFF2PTR(x) ((const char *)(uintptr_t)(x))
#define PTR2OFF(p) ((size_t)(uintptr_t)(p))

static int add_string(struct lf_targets *t, const char *s, size_t *off)
{
	*off = t->strings.len;
	return lf_buf_append(&t->strings, s, strlen(s) + 1);
}

struct sync_ctx {
	struct lf_discovery *d;
	struct lf_targets *t;
	struct job *job;
	size_t group;
	const struct lf_glob *exclude;
	struct strmap watch; /* dir -> NULL, dedup */
	int rc;
	bool sd_open; /* a discovered-target record awaits its verdict */
	size_t sd_rec_start;
	size_t sd_dropped; /* dropped targets of this job listed with labels */
};

/* Starts the /service-discovery record of a discovered target (before
 * relabeling changes ls). Past the bound, or when memory runs out, the
 * target is only counted. */
static void sd_begin(struct sync_ctx *c, const struct lf_labels *ls)
{
	struct lf_targets *t = c->t;
	c->sd_open = false;
	if (!c->d->keep_sd)
		return;
	if (t->sd.len > LF_SD_MAX_BYTES) {
		t->sd_omitted++;
		return;
	}
	size_t mark = t->sd.len;
	c->sd_rec_start = mark;
	if (lf_sd_begin(&t->sd, c->job->name, ls) < 0) {
		t->sd.len = mark;
		t->sd_omitted++;
		return;
	}
	c->sd_open = true;
}

static void sd_begin_blob(struct sync_ctx *c, const struct lf_buf *blob)
{
	struct lf_targets *t = c->t;
	c->sd_open = false;
	if (t->sd.len > LF_SD_MAX_BYTES) {
		t->sd_omitted++;
		return;
	}
	c->sd_rec_start = t->sd.len;
	if (lf_sd_begin_blob(&t->sd, c->job->name, blob) < 0) {
		t->sd.len = c->sd_rec_start;
		t->sd_omitted++;
		return;
	}
	c->sd_open = true;
}

/* A dropped target past LF_SD_MAX_DROPPED: only counted. */
static void sd_begin_unlisted(struct sync_ctx *c)
{
	c->sd_open = false;
	if (c->t->sd.len > LF_SD_MAX_BYTES) {
		c->t->sd_omitted++;
		return;
	}
	c->sd_rec_start = c->t->sd.len;
	c->sd_open = true;
}

static void sd_end(struct sync_ctx *c, enum lf_sd_verdict v, size_t rule, const char *path,
                   const struct lf_labels *final)
{
	if (!c->sd_open)
		return;
	c->sd_open = false;
	struct lf_targets *t = c->t;
	if (v != LF_SD_KEPT && c->sd_dropped >= LF_SD_MAX_DROPPED) {
		t->sd.len = c->sd_rec_start; /* labels not kept */
		if (lf_sd_unlisted(&t->sd, c->job->name, v, rule) < 0) {
			t->sd.len = c->sd_rec_start;
			t->sd_omitted++;
			return;
		}
		t->n_sd++;
		return;
	}
	if (v != LF_SD_KEPT)
		c->sd_dropped++;
	if (lf_sd_end(&t->sd, v, rule, path, final) < 0) {
		t->sd.len = c->sd_rec_start; /* the whole record goes */
		t->sd_omitted++;
		return;
	}
	t->n_sd++;
}

static int on_file(void *ctx, const char *path)
{
	struct sync_ctx *c = ctx;
	if (c->exclude && lf_glob_match(c->exclude, path))
		return 0;
	struct lf_targets *t = c->t;
	if (t->n == t->cap_v) {
		size_t nc = t->cap_v ? t->cap_v * 2 : 64;
		struct lf_target *v = realloc(t->v, nc * sizeof(*v));
		if (!v)
			return c->rc = -1;
		t->v = v;
		t->cap_v = nc;
	}
	size_t off;
	if (add_string(t, path, &off) < 0)
		return c->rc = -1;
	struct lf_target *x = &t->v[t->n++];
	x->job = c->job->index;
	x->path = OFF2PTR(off);
	x->group = c->group;
	x->labels = NULL;
	x->labels_hash = 0;
	return 0;
}

static void on_dir(void *ctx, const char *dir)
{
	struct sync_ctx *c = ctx;
	if (strmap_find(&c->watch, dir))
		return;
	char *k = strdup(dir);
	if (!k || strmap_put(&c->watch, k, NULL) < 0) {
		free(k);
		c->rc = -1;
	}
}

static const struct lf_glob *get_glob(struct lf_discovery *d, const char *pattern)
{
	void **slot = strmap_find(&d->globs, pattern);
	if (slot) {
		struct cached_glob *cg = *slot;
		cg->used = true;
		return cg->g;
	}
	struct lf_error err;
	struct cached_glob *cg = calloc(1, sizeof(*cg));
	char *key = strdup(pattern);
	if (!cg || !key || lf_glob_new(pattern, &cg->g, &err) < 0) {
		/* A bad __path__ from relabeling: Promtail logs and skips it. */
		static struct lf_ratelimit rl = {.interval_ns = 10 * LF_NS_PER_SEC};
		lf_log_rl(&rl, LF_LOG_WARN, "discovery: %s", cg && key ? err.msg : "out of memory");
		free(cg);
		free(key);
		return NULL;
	}
	cg->used = true;
	if (strmap_put(&d->globs, key, cg) < 0) {
		lf_glob_free(cg->g);
		free(cg);
		free(key);
		return NULL;
	}
	return cg->g;
}

/* Drops compiled globs that the last sync did not use (pods come and go). */
static void sweep_globs(struct lf_discovery *d)
{
	struct strmap keep = {0};
	for (size_t i = 0; i < d->globs.cap; i++) {
		if (!d->globs.keys[i])
			continue;
		struct cached_glob *cg = d->globs.vals[i];
		if (cg->used && strmap_put(&keep, d->globs.keys[i], cg) == 0) {
			cg->used = false;
			continue;
		}
		free(d->globs.keys[i]);
		lf_glob_free(cg->g);
		free(cg);
	}
	free(d->globs.keys);
	free(d->globs.vals);
	d->globs = keep;
}

/* Relabels ls (consumed) into r (whose memory is reused). */
static int resolve_target(struct lf_discovery *d, const struct job *j, struct lf_labels *ls,
                          struct resolved *r)
{
	free(r->path);
	free(r->exclude);
	r->path = r->exclude = NULL;
	lf_labels_clear(&r->labels);
	r->hash = 0;
	r->drop_rule = SIZE_MAX;
	if (!lf_relabel_apply_rule(j->relabel, ls, &r->drop_rule)) {
		r->verdict = V_DROPPED;
		return 0;
	}
	const char *host = lf_labels_get(ls, "__host__");
	if (host && strcmp(host, d->hostname) != 0) {
		r->verdict = V_WRONG_HOST;
		return 0;
	}
	const char *path = lf_labels_get(ls, "__path__");
	if (!path || !*path) {
		r->verdict = V_NO_PATH;
		return 0;
	}
	r->verdict = V_KEEP;
	const char *ex = lf_labels_get(ls, "__path_exclude__");
	if (!(r->path = strdup(path)) || (ex && *ex && !(r->exclude = strdup(ex))))
		return -1;
	/* ls is sorted, so appending in order keeps inserts cheap. */
	for (size_t i = 0; i < ls->n; i++) {
		if (ls->v[i].name[0] == '_' && ls->v[i].name[1] == '_')
			continue;
		if (lf_labels_set(&r->labels, ls->v[i].name, ls->v[i].value) < 0)
			return -1;
	}
	r->hash = lf_labels_hash(&r->labels);
	return 0;
}

/* Counts a dropped target, or expands a kept one's __path__ into files. */
static int emit_target(struct sync_ctx *c, const struct resolved *r)
{
	struct lf_discovery *d = c->d;
	struct lf_targets *t = c->t;
	switch (r->verdict) {
	case V_DROPPED:
		t->dropped.dropped++;
		sd_end(c, LF_SD_DROPPED, r->drop_rule, NULL, NULL);
		return 0;
	case V_WRONG_HOST:
		t->dropped.wrong_host++;
		sd_end(c, LF_SD_WRONG_HOST, SIZE_MAX, NULL, NULL);
		return 0;
	case V_NO_PATH:
		t->dropped.no_path++;
		sd_end(c, LF_SD_NO_PATH, SIZE_MAX, NULL, NULL);
		return 0;
	case V_KEEP:
		break;
	}
	sd_end(c, LF_SD_KEPT, SIZE_MAX, r->path, &r->labels);
	const struct lf_glob *g = get_glob(d, r->path);
	const struct lf_glob *exg = r->exclude ? get_glob(d, r->exclude) : NULL;
	if (!g)
		return 0;
	if (t->n_groups == t->cap_groups) {
		size_t nc = t->cap_groups ? t->cap_groups * 2 : 32;
		struct lf_target_group *v = realloc(t->groups, nc * sizeof(*v));
		if (!v)
			return -1;
		memset(v + t->cap_groups, 0, (nc - t->cap_groups) * sizeof(*v));
		t->groups = v;
		t->cap_groups = nc;
	}
	struct lf_target_group *grp = &t->groups[t->n_groups];
	if (lf_labels_copy(&grp->labels, &r->labels) < 0)
		return -1;
	grp->job = c->job->index;
	grp->labels_hash = r->hash;
	c->group = t->n_groups++;
	c->exclude = exg;
	if (lf_glob_expand(g, d->dc, on_file, on_dir, c) < 0 || c->rc < 0)
		return -1;
	return 0;
}

/* Relabels and emits in one go (static targets, file-name pods). */
static int process_target(struct sync_ctx *c, struct lf_labels *ls)
{
	sd_begin(c, ls);
	if (resolve_target(c->d, c->job, ls, &c->d->scratch_res) < 0)
		return -1;
	return emit_target(c, &c->d->scratch_res);
}

/* ---- kubernetes ---- */

struct diskpod {
	const char *name; /* directory name (in the dircache) */
	struct lf_k8s_pod_dir pd;
	bool matched;
};

static int diskpod_cmp_uid(const void *a, const void *b)
{
	const struct diskpod *x = a, *y = b;
	size_t n = x->pd.uid.n < y->pd.uid.n ? x->pd.uid.n : y->pd.uid.n;
	int r = memcmp(x->pd.uid.p, y->pd.uid.p, n);
	if (r)
		return r;
	return x->pd.uid.n < y->pd.uid.n ? -1 : x->pd.uid.n > y->pd.uid.n;
}

static struct diskpod *diskpod_find(struct diskpod *v, size_t n, const char *uid,
                                    const struct lf_k8s_pod *p)
{
	if (!uid || !n) /* bsearch on (NULL, 0) is undefined (UBSan) */
		return NULL;
	struct diskpod key = {.pd.uid = {uid, strlen(uid)}};
	struct diskpod *hit = bsearch(&key, v, n, sizeof(*v), diskpod_cmp_uid);
	if (!hit)
		return NULL;
	/* Several dirs could share a uid only if someone made them by hand;
	 * scan the equal run for the one with this namespace and name. */
	while (hit > v && diskpod_cmp_uid(hit - 1, &key) == 0)
		hit--;
	for (; hit < v + n && diskpod_cmp_uid(hit, &key) == 0; hit++)
		if (lf_slice_eq(hit->pd.ns, p->ns) && lf_slice_eq(hit->pd.pod, p->name))
			return hit;
	return NULL;
}

/* Brings the retained pods up to date with a new PodList. A pod whose
 * entry did not change keeps its relabeling results. */
static int absorb_podlist(struct k8s_sd *k, const struct lf_k8s_podlist *pl)
{
	struct strmap by_uid = {0};
	int rc = 0;
	for (size_t i = 0; i < k->n_ret && rc == 0; i++) {
		k->ret[i].in_current = false;
		char *key = strdup(k->ret[i].pod.uid);
		if (!key || strmap_put(&by_uid, key, (void *)(uintptr_t)(i + 1)) < 0) {
			free(key);
			rc = -1;
		}
	}
	for (size_t p = 0; p < pl->n && rc == 0; p++) {
		const struct lf_k8s_pod *pod = &pl->pods[p];
		void **slot = strmap_find(&by_uid, pod->uid);
		struct retained *r = slot ? &k->ret[(uintptr_t)*slot - 1] : NULL;
		if (r && lf_k8s_pod_equal(&r->pod, pod)) {
			r->in_current = true;
			continue;
		}
		if (r) {
			retained_clear(r);
		} else {
			if (k->n_ret == k->cap_ret) {
				size_t nc = k->cap_ret ? k->cap_ret * 2 : 64;
				struct retained *v = realloc(k->ret, nc * sizeof(*v));
				if (!v) {
					rc = -1;
					break;
				}
				k->ret = v;
				k->cap_ret = nc;
			}
			r = &k->ret[k->n_ret++];
			memset(r, 0, sizeof(*r));
		}
		if (lf_k8s_pod_dup(pod, &r->pod) < 0) {
			*r = k->ret[--k->n_ret];
			rc = -1;
			break;
		}
		r->in_current = true;
	}
	for (size_t i = 0; i < by_uid.cap; i++)
		free(by_uid.keys[i]);
	free(by_uid.keys);
	free(by_uid.vals);
	return rc;
}

/* Relabels every container of a retained pod once. */
static int resolve_pod(struct lf_discovery *d, const struct job *j, struct retained *r)
{
	if (r->res_valid)
		return 0;
	if (r->n_res < r->pod.n_containers) {
		struct resolved *v = realloc(r->res, r->pod.n_containers * sizeof(*v));
		if (!v)
			return -1;
		memset(v + r->n_res, 0, (r->pod.n_containers - r->n_res) * sizeof(*v));
		r->res = v;
		r->n_res = r->pod.n_containers;
	}
	for (size_t ci = 0; ci < r->pod.n_containers; ci++) {
		if (lf_k8s_meta_labels(&r->pod, ci, &d->scratch) < 0)
			return -1;
		struct resolved *res = &r->res[ci];
		lf_buf_reset(&res->sd_disc);
		if (d->keep_sd && lf_sd_labels(&res->sd_disc, &d->scratch) < 0)
			return -1;
		if (resolve_target(d, j, &d->scratch, res) < 0)
			return -1;
		/* a dropped one is listed only among the first of its job:
		 * its labels are rebuilt then rather than kept */
		if (res->verdict != V_KEEP)
			lf_buf_free(&res->sd_disc);
	}
	r->res_valid = true;
	return 0;
}

/* Container id of `container` in pod dir `dp` from /var/log/containers
 * links (highest restart wins), or "" when no link points there. */
static void link_container_id(struct lf_discovery *d, const struct diskpod *dp,
                              const char *container, char *out, size_t outsz)
{
	out[0] = '\0';
	const struct lf_dirent *ents;
	long n = lf_dircache_list(d->dc, d->containers_dir, &ents);
	long best = -1;
	char link[PATH_MAX], target[PATH_MAX], prefix[600];
	/* Links of this container all start with "<pod>_<ns>_<container>-" and
	 * the listing is sorted: binary-search the start of that run. */
	int pl = snprintf(prefix, sizeof(prefix), "%.*s_%.*s_%s-", (int)dp->pd.pod.n, dp->pd.pod.p,
	                  (int)dp->pd.ns.n, dp->pd.ns.p, container);
	if (pl <= 0 || (size_t)pl >= sizeof(prefix))
		return;
	long lo = 0, hi = n;
	while (lo < hi) {
		long mid = lo + (hi - lo) / 2;
		if (strcmp(ents[mid].name, prefix) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (long i = lo; i < n && strncmp(ents[i].name, prefix, (size_t)pl) == 0; i++) {
		struct lf_k8s_container_link cl;
		if (lf_k8s_parse_container_link(ents[i].name, &cl) < 0 ||
		    !lf_slice_eq_slice(cl.pod, dp->pd.pod) ||
		    !lf_slice_eq_slice(cl.ns, dp->pd.ns) || !lf_slice_eq(cl.container, container))
			continue;
		snprintf(link, sizeof(link), "%s/%s", d->containers_dir, ents[i].name);
		ssize_t tl = readlink(link, target, sizeof(target) - 1);
		if (tl < 0)
			continue;
		target[tl] = '\0';
		struct lf_k8s_pod_file pf;
		if (lf_k8s_parse_pod_file(target, &pf) < 0 ||
		    !lf_slice_eq_slice(pf.dir.uid, dp->pd.uid) ||
		    !lf_slice_eq(pf.container, container))
			continue;
		if ((long)pf.restart > best) {
			best = (long)pf.restart;
			snprintf(out, outsz, "%.*s", (int)cl.id.n, cl.id.p);
		}
	}
}

static int strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* k->unknown is sorted (see the end of sync_k8s). */
static bool was_unknown(const struct k8s_sd *k, const char *name)
{
	return k->n_unknown &&
	       bsearch(&name, k->unknown, k->n_unknown, sizeof(char *), strp_cmp) != NULL;
}

static int sync_k8s(struct sync_ctx *c, struct k8s_sd *k, struct diskpod *disk, size_t n_disk)
{
	struct lf_discovery *d = c->d;
	uint64_t gen = 0;
	struct lf_k8s_podlist *pl = NULL;
	if (k->injected) {
		pl = lf_k8s_podlist_ref(k->injected);
		gen = k->injected_gen | (UINT64_C(1) << 63);
	} else if (k->src) {
		pl = lf_k8s_source_get(k->src, &gen);
	}
	if (pl && gen != k->seen_gen) {
		int rc = absorb_podlist(k, pl);
		k->seen_gen = gen;
		if (rc < 0) {
			lf_k8s_podlist_unref(pl);
			return -1;
		}
	}
	lf_k8s_podlist_unref(pl);
	for (size_t i = 0; i < n_disk; i++)
		disk[i].matched = false;

	for (size_t i = 0; i < k->n_ret;) {
		struct retained *r = &k->ret[i];
		struct diskpod *dp = diskpod_find(disk, n_disk, r->pod.uid, &r->pod);
		if (!dp && r->pod.config_hash)
			dp = diskpod_find(disk, n_disk, r->pod.config_hash, &r->pod);
		if (dp)
			dp->matched = true;
		if (!dp && !r->in_current) {
			/* Gone from the PodList and its files are gone: forget it. */
			retained_clear(r);
			k->ret[i] = k->ret[--k->n_ret];
			continue;
		}
		i++;
		if (!lf_k8s_namespace_allowed(&k->cfg, r->pod.ns, strlen(r->pod.ns)))
			continue;
		if (resolve_pod(d, c->job, r) < 0)
			return -1;
		for (size_t ci = 0; ci < r->pod.n_containers; ci++) {
			const struct resolved *res = &r->res[ci];
			if (d->keep_sd && res->verdict == V_KEEP) {
				sd_begin_blob(c, &res->sd_disc);
			} else if (d->keep_sd && c->sd_dropped < LF_SD_MAX_DROPPED) {
				if (lf_k8s_meta_labels(&r->pod, ci, &d->sd_scratch) < 0)
					return -1;
				sd_begin(c, &d->sd_scratch);
			} else if (d->keep_sd) {
				sd_begin_unlisted(c);
			}
			if (emit_target(c, &r->res[ci]) < 0)
				return -1;
		}
	}

	/* Directories no PodList explains: labels from the file names. */
	char **unknown = NULL;
	size_t n_unknown = 0;
	bool poke = false;
	struct lf_buf *b = &d->tmp;
	for (size_t i = 0; i < n_disk; i++) {
		struct diskpod *dp = &disk[i];
		if (dp->matched || !lf_k8s_namespace_allowed(&k->cfg, dp->pd.ns.p, dp->pd.ns.n))
			continue;
		char **nu = realloc(unknown, (n_unknown + 1) * sizeof(*nu));
		if (!nu)
			break;
		unknown = nu;
		if (!(unknown[n_unknown] = strdup(dp->name)))
			break;
		n_unknown++;
		if (!was_unknown(k, dp->name))
			poke = true;
		lf_buf_reset(b);
		lf_buf_printf(b, "%s/%s", d->pods_dir, dp->name);
		const struct lf_dirent *ents;
		long n = lf_dircache_list(d->dc, b->data, &ents);
		char ns[256], pod[256], uid[256], cid[80];
		snprintf(ns, sizeof(ns), "%.*s", (int)dp->pd.ns.n, dp->pd.ns.p);
		snprintf(pod, sizeof(pod), "%.*s", (int)dp->pd.pod.n, dp->pd.pod.p);
		snprintf(uid, sizeof(uid), "%.*s", (int)dp->pd.uid.n, dp->pd.uid.p);
		for (long e = 0; e < n; e++) {
			if (ents[e].type != DT_DIR)
				continue;
			link_container_id(d, dp, ents[e].name, cid, sizeof(cid));
			if (lf_k8s_file_meta_labels(ns, pod, uid, ents[e].name, cid, d->hostname,
			                            &d->scratch) < 0 ||
			    process_target(c, &d->scratch) < 0) {
				for (size_t u = 0; u < n_unknown; u++)
					free(unknown[u]);
				free(unknown);
				return -1;
			}
		}
	}
	for (size_t i = 0; i < k->n_unknown; i++)
		free(k->unknown[i]);
	free(k->unknown);
	if (n_unknown)
		qsort(unknown, n_unknown, sizeof(*unknown), strp_cmp);
	k->unknown = unknown;
	k->n_unknown = n_unknown;
	if (poke && k->src)
		lf_k8s_source_poke(k->src);
	return 0;
}

/* ---- sync ---- */

static int target_cmp(const void *a, const void *b)
{
	const struct lf_target *x = a, *y = b;
	int r = strcmp(x->path, y->path);
	if (r)
		return r;
	if (x->job != y->job)
		return x->job < y->job ? -1 : 1;
	return x->group < y->group ? -1 : x->group > y->group;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int lf_discovery_sync(struct lf_discovery *d, struct lf_targets *t, struct lf_error *err)
{
	if (d->efd >= 0) {
		uint64_t v;
		while (read(d->efd, &v, sizeof(v)) == sizeof(v))
			;
	}
	lf_dircache_reset(d->dc);
	t->n = 0;
	t->n_groups = 0;
	t->n_watch_dirs = 0;
	memset(&t->dropped, 0, sizeof(t->dropped));
	lf_buf_reset(&t->strings);
	lf_buf_reset(&t->sd);
	t->n_sd = t->sd_omitted = 0;
	struct sync_ctx c = {.d = d, .t = t};

	/* The pod directories, once for every kubernetes job. */
	struct diskpod *disk = NULL;
	size_t n_disk = 0;
	bool any_k8s = false;
	for (size_t i = 0; i < d->n_jobs; i++)
		any_k8s |= d->jobs[i].n_k8s > 0;
	if (any_k8s) {
		const struct lf_dirent *ents;
		long n = lf_dircache_list(d->dc, d->pods_dir, &ents);
		if (n > 0 && !(disk = calloc((size_t)n, sizeof(*disk))))
			goto nomem;
		for (long i = 0; i < n; i++) {
			if (ents[i].type != DT_DIR)
				continue;
			if (lf_k8s_parse_pod_dir(ents[i].name, strlen(ents[i].name),
			                         &disk[n_disk].pd) < 0)
				continue;
			disk[n_disk++].name = ents[i].name;
		}
		if (n_disk) /* disk is NULL when pods_dir does not exist */
			qsort(disk, n_disk, sizeof(*disk), diskpod_cmp_uid);
		on_dir(&c, d->pods_dir);
	}

	for (size_t i = 0; i < d->n_jobs && c.rc == 0; i++) {
		struct job *j = &d->jobs[i];
		c.job = j;
		c.sd_dropped = 0;
		for (size_t s = 0; s < j->statics.n; s++) {
			if (lf_labels_copy(&d->scratch, &j->statics.v[s]) < 0 ||
			    process_target(&c, &d->scratch) < 0)
				goto nomem;
		}
		for (size_t k = 0; k < j->n_k8s; k++)
			if (sync_k8s(&c, j->k8s[k], disk, n_disk) < 0)
				goto nomem;
	}
	if (c.rc < 0)
		goto nomem;
	free(disk);
	disk = NULL;
	sweep_globs(d);

	/* Watch directories go into the same string storage; only then are
	 * offsets turned into pointers (the storage moves while it grows). */
	if (c.watch.n > t->cap_watch) {
		char **v = realloc(t->watch_dirs, c.watch.n * sizeof(*v));
		if (!v)
			goto nomem;
		t->watch_dirs = v;
		t->cap_watch = c.watch.n;
	}
	size_t nw = 0;
	for (size_t i = 0; i < c.watch.cap; i++) {
		if (!c.watch.keys[i])
			continue;
		size_t off;
		if (add_string(t, c.watch.keys[i], &off) < 0)
			goto nomem;
		t->watch_dirs[nw++] = (char *)OFF2PTR(off);
	}
	for (size_t i = 0; i < nw; i++)
		t->watch_dirs[i] = t->strings.data + PTR2OFF(t->watch_dirs[i]);
	t->n_watch_dirs = nw;
	if (nw) /* qsort(NULL, 0) is undefined behaviour */
		qsort(t->watch_dirs, nw, sizeof(*t->watch_dirs), str_cmp);

	/* Sort and drop (path, job) duplicates: the first target in config
	 * order wins. */
	for (size_t i = 0; i < t->n; i++) {
		t->v[i].path = t->strings.data + PTR2OFF(t->v[i].path);
		t->v[i].labels = &t->groups[t->v[i].group].labels;
		t->v[i].labels_hash = t->groups[t->v[i].group].labels_hash;
	}
	if (t->n) /* qsort(NULL, 0, ...) is undefined (UBSan) */
		qsort(t->v, t->n, sizeof(*t->v), target_cmp);
	size_t w = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (w > 0 && t->v[w - 1].job == t->v[i].job &&
		    strcmp(t->v[w - 1].path, t->v[i].path) == 0) {
			t->dropped.exists++;
			continue;
		}
		t->v[w++] = t->v[i];
	}
	t->n = w;
	for (size_t i = 0; i < c.watch.cap; i++)
		free(c.watch.keys[i]);
	free(c.watch.keys);
	free(c.watch.vals);
	return 0;
nomem:
	free(disk);
	for (size_t i = 0; i < c.watch.cap; i++)
		free(c.watch.keys[i]);
	free(c.watch.keys);
	free(c.watch.vals);
	t->n = 0;
	t->n_watch_dirs = 0;
	return lf_err(err, "discovery sync: out of memory");
}
