/* srcq.c — see srcq.h.
 *
 * Record layout (native endianness, never leaves the process):
 *   u32 total   bytes of the record after this field
 *   i64 ts
 *   u32 nlabels, then per label: u32 nlen, name, u32 vlen, value
 *   u32 nsm, then the structured metadata the same way
 *   u32 line length, line bytes
 */
#include "srcq.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct lf_srcq {
	pthread_mutex_t mu;
	struct lf_buf buf;
	size_t max;
	bool refused; /* a producer was refused since the last take */
	int ready, space;
};

struct lf_srcq *lf_srcq_new(size_t max_bytes)
{
	struct lf_srcq *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	pthread_mutex_init(&q->mu, NULL);
	q->max = max_bytes;
	q->ready = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	q->space = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->ready < 0 || q->space < 0) {
		lf_srcq_free(q);
		return NULL;
	}
	return q;
}

void lf_srcq_free(struct lf_srcq *q)
{
	if (!q)
		return;
	if (q->ready >= 0)
		close(q->ready);
	if (q->space >= 0)
		close(q->space);
	lf_buf_free(&q->buf);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

int lf_srcq_ready_fd(const struct lf_srcq *q)
{
	return q->ready;
}

int lf_srcq_space_fd(const struct lf_srcq *q)
{
	return q->space;
}

static int put32(struct lf_buf *b, uint32_t v)
{
	return lf_buf_append(b, &v, sizeof v);
}

static size_t set_size(const struct lf_labels *ls)
{
	size_t n = 4;
	for (size_t i = 0; ls && i < ls->n; i++)
		n += 8 + ls->v[i].name_len + ls->v[i].value_len;
	return n;
}

static void put_set(struct lf_buf *b, const struct lf_labels *ls)
{
	put32(b, ls ? (uint32_t)ls->n : 0);
	for (size_t i = 0; ls && i < ls->n; i++) {
		size_t nl = ls->v[i].name_len, vl = ls->v[i].value_len;
		put32(b, (uint32_t)nl);
		lf_buf_append(b, ls->v[i].name, nl);
		put32(b, (uint32_t)vl);
		lf_buf_append(b, ls->v[i].value, vl);
	}
}

int lf_srcq_rec_append(struct lf_buf *b, int64_t ts_ns, const struct lf_labels *ls,
                       const struct lf_labels *sm, const char *line, size_t len)
{
	size_t need = 4 + 8 + set_size(ls) + set_size(sm) + 4 + len;
	if (need > UINT32_MAX || lf_buf_reserve(b, need) < 0)
		return -1;
	put32(b, (uint32_t)(need - 4));
	lf_buf_append(b, &ts_ns, sizeof ts_ns);
	put_set(b, ls);
	put_set(b, sm);
	put32(b, (uint32_t)len);
	lf_buf_append(b, line, len);
	return 0;
}

static void efd_signal(int fd)
{
	uint64_t one = 1;
	ssize_t r = write(fd, &one, sizeof one);
	(void)r;
}

static void efd_clear(int fd)
{
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof v);
	(void)r;
}

int lf_srcq_commit(struct lf_srcq *q, struct lf_buf *batch)
{
	if (batch->len == 0)
		return 0;
	pthread_mutex_lock(&q->mu);
	bool was_empty = q->buf.len == 0;
	if (!was_empty && q->buf.len + batch->len > q->max) {
		q->refused = true;
		pthread_mutex_unlock(&q->mu);
		return -1;
	}
	int rc = 0;
	if (was_empty) {
		/* swap: no copy */
		struct lf_buf t = q->buf;
		q->buf = *batch;
		*batch = t;
		lf_buf_reset(batch);
	} else if (lf_buf_append(&q->buf, batch->data, batch->len) < 0) {
		rc = -1;
	} else {
		lf_buf_reset(batch);
	}
	pthread_mutex_unlock(&q->mu);
	if (rc == 0 && was_empty)
		efd_signal(q->ready);
	return rc;
}

size_t lf_srcq_bytes(struct lf_srcq *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->buf.len;
	pthread_mutex_unlock(&q->mu);
	return n;
}

size_t lf_srcq_take(struct lf_srcq *q, struct lf_buf *into)
{
	lf_buf_reset(into);
	pthread_mutex_lock(&q->mu);
	struct lf_buf t = q->buf;
	q->buf = *into;
	*into = t;
	bool refused = q->refused;
	q->refused = false;
	efd_clear(q->ready);
	pthread_mutex_unlock(&q->mu);
	if (refused)
		efd_signal(q->space);
	return into->len;
}

static uint32_t get32(const char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static int get_set(const char **pp, struct lf_labels *ls)
{
	const char *p = *pp;
	uint32_t n = get32(p);
	p += 4;
	lf_labels_clear(ls);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t nl = get32(p);
		const char *name = p + 4;
		p += 4 + nl;
		uint32_t vl = get32(p);
		const char *val = p + 4;
		p += 4 + vl;
		if (lf_labels_setn_nonul(ls, name, nl, val, vl) < 0)
			return -1;
	}
	*pp = p;
	return 0;
}

int lf_srcq_next(const struct lf_buf *b, size_t *off, struct lf_srcq_rec *r, struct lf_labels *ls,
                 struct lf_labels *sm)
{
	if (*off + 4 > b->len)
		return 0;
	const char *p = b->data + *off;
	uint32_t total = get32(p);
	p += 4;
	memcpy(&r->ts_ns, p, 8);
	p += 8;
	if (get_set(&p, ls) < 0 || get_set(&p, sm) < 0)
		return -1;
	r->len = get32(p);
	r->line = p + 4;
	*off += 4 + total;
	return 1;
}
