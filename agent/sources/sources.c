/* sources.c — see sources.h. */
#include "sources.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "srcq.h"

#define RUN_BUDGET 4096 /* entries per source and loop turn */

static const struct lf_source_ops *const kinds[] = {&lf_syslog_source_ops, &lf_pushapi_source_ops,
                                                    &lf_journal_source_ops};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

struct lf_sources {
	struct lf_positions *positions;
	struct lf_metrics *metrics;
	struct lf_source_sink sink;
	struct lf_source **v;
	size_t n;
	int ep;
	size_t rr; /* next source to run first */
};

static int build(const struct lf_ynode *scrape, const char *path, const char *job_name,
                 size_t job_index, struct lf_sources *ss, bool check_only, struct lf_error *err)
{
	for (size_t k = 0; k < N_KINDS; k++) {
		const struct lf_ynode *b = lf_ymap_get(scrape, kinds[k]->kind);
		if (!b || b->kind == LF_Y_NULL)
			continue;
		char p[256];
		snprintf(p, sizeof p, "%s.%s", path, kinds[k]->kind);
		if (b->kind != LF_Y_MAP)
			return lf_y_err(err, b, p, "expected a map");
		struct lf_source_env env = {
		        .job_name = job_name,
		        .job_index = job_index,
		        .scrape = scrape,
		        .block = b,
		        .path = p,
		        .positions = ss ? ss->positions : NULL,
		        .metrics = ss ? ss->metrics : NULL,
		};
		if (ss)
			env.sink = ss->sink;
		struct lf_source *s = NULL;
		if (kinds[k]->create(&env, check_only, &s, err) < 0) {
			if (s)
				kinds[k]->free(s);
			return -1;
		}
		if (check_only) {
			kinds[k]->free(s);
			continue;
		}
		s->ops = kinds[k];
		s->job_index = job_index;
		snprintf(s->job_name, sizeof s->job_name, "%s", job_name);
		struct lf_source **nv = realloc(ss->v, (ss->n + 1) * sizeof *nv);
		if (!nv) {
			kinds[k]->free(s);
			return lf_err(err, "out of memory");
		}
		ss->v = nv;
		int fd = s->ops->fd(s);
		if (fd >= 0) {
			struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
			if (epoll_ctl(ss->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
				kinds[k]->free(s);
				return lf_err(err, "%s: epoll_ctl: %s", p, strerror(errno));
			}
		}
		ss->v[ss->n++] = s;
	}
	return 0;
}

int lf_sources_check(const struct lf_ynode *scrape, const char *path, struct lf_error *err)
{
	const struct lf_ynode *jn = lf_ymap_get(scrape, "job_name");
	return build(scrape, path, jn && jn->kind == LF_Y_SCALAR ? jn->str : "", 0, NULL, true,
	             err);
}

int lf_sources_new(struct lf_positions *positions, struct lf_metrics *metrics,
                   struct lf_source_sink sink, struct lf_sources **out, struct lf_error *err)
{
	struct lf_sources *ss = calloc(1, sizeof *ss);
	if (!ss)
		return lf_err(err, "out of memory");
	ss->positions = positions;
	ss->metrics = metrics;
	ss->sink = sink;
	ss->ep = epoll_create1(EPOLL_CLOEXEC);
	if (ss->ep < 0) {
		free(ss);
		return lf_err(err, "epoll_create1: %s", strerror(errno));
	}
	*out = ss;
	return 0;
}

int lf_sources_add(struct lf_sources *ss, size_t job_index, const char *job_name,
                   const struct lf_ynode *scrape, const char *path, struct lf_error *err)
{
	return build(scrape, path, job_name, job_index, ss, false, err);
}

void lf_sources_free(struct lf_sources *ss)
{
	if (!ss)
		return;
	for (size_t i = 0; i < ss->n; i++)
		ss->v[i]->ops->free(ss->v[i]);
	free(ss->v);
	if (ss->ep >= 0)
		close(ss->ep);
	free(ss);
}

size_t lf_sources_count(const struct lf_sources *ss)
{
	return ss ? ss->n : 0;
}

int lf_sources_fd(const struct lf_sources *ss)
{
	return ss && ss->n ? ss->ep : -1;
}

int lf_sources_run_once(struct lf_sources *ss, int64_t now_ns)
{
	if (!ss || !ss->n)
		return 0;
	/* drain the readiness of the nested epoll (level-triggered fds stay
	 * ready until the sources consume them) */
	struct epoll_event evs[16];
	while (epoll_wait(ss->ep, evs, 16, 0) == 16)
		;
	int more = 0;
	for (size_t k = 0; k < ss->n; k++) {
		struct lf_source *s = ss->v[(ss->rr + k) % ss->n];
		if (s->ops->run_once(s, now_ns, RUN_BUDGET) > 0)
			more = 1;
	}
	ss->rr = (ss->rr + 1) % ss->n;
	return more;
}

int64_t lf_sources_next_wakeup(const struct lf_sources *ss)
{
	int64_t w = INT64_MAX;
	for (size_t i = 0; ss && i < ss->n; i++) {
		int64_t x = ss->v[i]->ops->next_wakeup(ss->v[i]);
		if (x < w)
			w = x;
	}
	return w;
}

bool lf_sources_release(void *origin, uint64_t first, uint64_t last)
{
	struct lf_source *s = lf_source_of_origin(origin);
	if (!s)
		return false;
	s->ops->release(s, first, last);
	return true;
}

bool lf_sources_claim(void *origin, uint64_t first, uint64_t last, unsigned k)
{
	struct lf_source *s = lf_source_of_origin(origin);
	if (!s)
		return false;
	s->ops->claim(s, first, last, k);
	return true;
}

bool lf_sources_ack(void *origin, uint64_t first, uint64_t last)
{
	struct lf_source *s = lf_source_of_origin(origin);
	if (!s)
		return false;
	s->ops->ack(s, first, last);
	return true;
}

const char *lf_sources_job_name(void *origin)
{
	struct lf_source *s = lf_source_of_origin(origin);
	return s ? s->job_name : NULL;
}

void lf_sources_stop(struct lf_sources *ss)
{
	for (size_t i = 0; ss && i < ss->n; i++)
		ss->v[i]->ops->stop(ss->v[i]);
}

void lf_sources_save(struct lf_sources *ss)
{
	for (size_t i = 0; ss && i < ss->n; i++)
		ss->v[i]->ops->save(ss->v[i]);
}

void lf_sources_list_json(struct lf_sources *ss, struct lf_buf *out, bool *first)
{
	for (size_t i = 0; ss && i < ss->n; i++) {
		if (!*first)
			lf_buf_putc(out, ',');
		*first = false;
		ss->v[i]->ops->list_json(ss->v[i], out);
	}
}

/* ---- helpers ---- */

int lf_source_labels(const struct lf_ynode *block, const char *path, struct lf_labels *out,
                     struct lf_error *err)
{
	const struct lf_ynode *n = lf_ymap_get(block, "labels");
	char p[300];
	snprintf(p, sizeof p, "%s.labels", path);
	if (!n || n->kind == LF_Y_NULL)
		return 0;
	if (n->kind != LF_Y_MAP)
		return lf_y_err(err, n, p, "expected a map of strings");
	for (size_t i = 0; i < n->n; i++) {
		const struct lf_ynode *k = n->pairs[i].key;
		if (!lf_label_name_valid(k->str, k->str_len))
			return lf_y_err(err, k, p, "invalid label name \"%s\"", k->str);
		char *v = NULL;
		if (lf_y_str(n->pairs[i].value, p, &v, err) < 0)
			return -1;
		int rc = lf_labels_set(out, k->str, v);
		free(v);
		if (rc < 0)
			return lf_err(err, "out of memory");
	}
	return 0;
}

int lf_source_relabel_new(const struct lf_ynode *scrape, const char *path, struct lf_relabel **out,
                          struct lf_error *err)
{
	char p[300];
	snprintf(p, sizeof p, "%s.relabel_configs", path);
	return lf_relabel_new(lf_ymap_get(scrape, "relabel_configs"), p, out, err);
}

bool lf_source_finish_labels(const struct lf_relabel *r, struct lf_labels *ls)
{
	if (r && lf_relabel_count(r) && !lf_relabel_apply(r, ls))
		return false;
	size_t o = 0;
	bool removed = false;
	for (size_t i = 0; i < ls->n; i++) {
		const char *nm = ls->v[i].name;
		if (nm[0] == '_' && nm[1] == '_' && strcmp(nm, LF_TENANT_LABEL) != 0) {
			removed = true;
			continue;
		}
		if (o != i) {
			struct lf_label t = ls->v[o];
			ls->v[o] = ls->v[i];
			ls->v[i] = t;
		}
		o++;
	}
	if (removed) {
		ls->n = o;
		lf_labels_touch(ls);
	}
	return ls->n > 0;
}

void lf_srcq_reader_init(struct lf_srcq_reader *r)
{
	memset(r, 0, sizeof *r);
	lf_entry_init(&r->e);
}

void lf_srcq_reader_free(struct lf_srcq_reader *r)
{
	lf_buf_free(&r->taken);
	lf_entry_free(&r->e);
}

int lf_source_drain(struct lf_source *src, struct lf_srcq *q, struct lf_srcq_reader *r,
                    const struct lf_source_sink *sink, size_t budget)
{
	size_t done = 0;
	while (done < budget) {
		if (r->off >= r->taken.len) {
			r->off = 0;
			if (lf_srcq_take(q, &r->taken) == 0)
				return 0;
		}
		struct lf_srcq_rec rec;
		lf_entry_reset(&r->e);
		if (lf_srcq_next(&r->taken, &r->off, &rec, &r->e.labels, &r->e.sm) <= 0) {
			r->off = r->taken.len;
			continue;
		}
		r->e.ts_ns = rec.ts_ns;
		lf_buf_append(&r->e.line, rec.line, rec.len);
		r->e.origin = lf_source_origin(src);
		r->e.seq_first = r->e.seq_last = ++r->seq;
		done++;
		if (!sink->deliver(sink->ctx, src->job_index, &r->e))
			return 0; /* busy: the agent runs us again once it is not */
	}
	return 1;
}

int64_t lf_source_no_wakeup(struct lf_source *s)
{
	(void)s;
	return INT64_MAX;
}

void lf_source_noop_range(struct lf_source *s, uint64_t first, uint64_t last)
{
	(void)s, (void)first, (void)last;
}

void lf_source_noop_claim(struct lf_source *s, uint64_t first, uint64_t last, unsigned k)
{
	(void)s, (void)first, (void)last, (void)k;
}

void lf_source_noop_save(struct lf_source *s)
{
	(void)s;
}

void lf_source_list_json_head(struct lf_buf *o, const char *job, const char *type, const char *path,
                              const struct lf_labels *labels)
{
	lf_buf_appends(o, "{\"job\":");
	lf_buf_append_json_string(o, job, strlen(job));
	lf_buf_printf(o, ",\"type\":\"%s\",\"path\":", type);
	lf_buf_append_json_string(o, path, strlen(path));
	lf_buf_appends(o, ",\"labels\":{");
	for (size_t i = 0; i < labels->n; i++) {
		if (i)
			lf_buf_putc(o, ',');
		const struct lf_label *l = &labels->v[i];
		lf_buf_append_json_string(o, l->name, strlen(l->name));
		lf_buf_putc(o, ':');
		lf_buf_append_json_string(o, l->value, strlen(l->value));
	}
	lf_buf_putc(o, '}');
}
