/* sdlist.c — see sdlist.h. */
#include "sdlist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int put(struct lf_buf *b, const char *s)
{
	return lf_buf_append(b, s, strlen(s) + 1);
}

static int put_labels(struct lf_buf *b, const struct lf_labels *ls)
{
	size_t n = ls ? ls->n : 0;
	if (lf_buf_printf(b, "%zu", n) < 0 || lf_buf_putc(b, '\0') < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (put(b, ls->v[i].name) < 0 || put(b, ls->v[i].value) < 0)
			return -1;
	return 0;
}

int lf_sd_begin(struct lf_buf *b, const char *job, const struct lf_labels *discovered)
{
	if (put(b, job) < 0)
		return -1;
	return put_labels(b, discovered);
}

int lf_sd_labels(struct lf_buf *blob, const struct lf_labels *ls)
{
	return put_labels(blob, ls);
}

int lf_sd_begin_blob(struct lf_buf *b, const char *job, const struct lf_buf *blob)
{
	if (put(b, job) < 0)
		return -1;
	if (blob->len == 0)
		return put_labels(b, NULL);
	return lf_buf_append(b, blob->data, blob->len);
}

int lf_sd_unlisted(struct lf_buf *b, const char *job, enum lf_sd_verdict v, size_t rule)
{
	if (put(b, job) < 0 || put_labels(b, NULL) < 0)
		return -1;
	/* upper case: not listed */
	if (lf_buf_printf(b, "%c%zu", (char)(v - 'a' + 'A'),
	                  rule == SIZE_MAX ? (size_t)0 : rule + 1) < 0 ||
	    lf_buf_putc(b, '\0') < 0 || put(b, "") < 0)
		return -1;
	return put_labels(b, NULL);
}

int lf_sd_end(struct lf_buf *b, enum lf_sd_verdict v, size_t rule, const char *path,
              const struct lf_labels *final)
{
	if (lf_buf_printf(b, "%c%zu", (char)v, rule == SIZE_MAX ? (size_t)0 : rule + 1) < 0 ||
	    lf_buf_putc(b, '\0') < 0 || put(b, path ? path : "") < 0)
		return -1;
	return put_labels(b, v == LF_SD_KEPT ? final : NULL);
}

/* The string at *pos, or NULL past the end. */
static const char *take(const char *data, size_t len, size_t *pos)
{
	if (*pos >= len)
		return NULL;
	const char *s = data + *pos;
	const char *z = memchr(s, '\0', len - *pos);
	if (!z)
		return NULL;
	*pos = (size_t)(z - data) + 1;
	return s;
}

static bool take_pairs(const char *data, size_t len, size_t *pos, size_t *n, const char **first)
{
	const char *c = take(data, len, pos);
	if (!c)
		return false;
	char *e;
	unsigned long long v = strtoull(c, &e, 10);
	if (*e || v > len)
		return false;
	*n = (size_t)v;
	*first = data + *pos;
	for (size_t i = 0; i < 2 * *n; i++)
		if (!take(data, len, pos))
			return false;
	return true;
}

bool lf_sd_next(const char *data, size_t len, size_t *pos, struct lf_sd_target *out)
{
	memset(out, 0, sizeof(*out));
	if (!(out->job = take(data, len, pos)) ||
	    !take_pairs(data, len, pos, &out->n_disc, &out->disc))
		return false;
	const char *v = take(data, len, pos);
	if (!v || !v[0])
		return false;
	out->listed = !(v[0] >= 'A' && v[0] <= 'Z');
	out->verdict = (enum lf_sd_verdict)(out->listed ? v[0] : v[0] - 'A' + 'a');
	char *e;
	unsigned long long r = strtoull(v + 1, &e, 10);
	if (*e)
		return false;
	out->rule = r == 0 ? SIZE_MAX : (size_t)(r - 1);
	if (!(out->path = take(data, len, pos)))
		return false;
	return take_pairs(data, len, pos, &out->n_final, &out->final);
}

const char *lf_sd_pair_next(const char *s)
{
	return s + strlen(s) + 1;
}

const char *lf_sd_disc_get(const struct lf_sd_target *t, const char *name)
{
	const char *s = t->disc;
	for (size_t i = 0; i < t->n_disc; i++) {
		const char *v = lf_sd_pair_next(s);
		if (strcmp(s, name) == 0)
			return v;
		s = lf_sd_pair_next(v);
	}
	return NULL;
}
