/* journal_fields.c — see journal_fields.h. */
#include "journal_fields.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const prio_kw[] = {"emerg",   "alert",  "crit", "error",
                                      "warning", "notice", "info", "debug"};

bool lf_journal_field_labels(const void *data, size_t len, struct lf_labels *ls, struct lf_buf *msg)
{
	const char *p = data;
	const char *eq = memchr(p, '=', len);
	if (!eq)
		return false;
	size_t fl = (size_t)(eq - p);
	const char *v = eq + 1;
	size_t vl = len - fl - 1;
	bool is_msg = fl == 7 && memcmp(p, "MESSAGE", 7) == 0;
	if (is_msg && msg) {
		lf_buf_reset(msg);
		lf_buf_append(msg, v, vl);
	}
	char name[128];
	if (fl + 10 >= sizeof name)
		return is_msg;
	memcpy(name, "__journal_", 10);
	for (size_t i = 0; i < fl; i++)
		name[10 + i] = (char)tolower((unsigned char)p[i]);
	name[10 + fl] = 0;
	if (!lf_label_name_valid(name, 10 + fl) || memchr(v, 0, vl))
		return is_msg;
	lf_labels_setn(ls, name, 10 + fl, v, vl);
	if (fl == 8 && memcmp(p, "PRIORITY", 8) == 0) {
		if (vl == 1 && v[0] >= '0' && v[0] <= '7')
			lf_labels_set(ls, "__journal_priority_keyword", prio_kw[v[0] - '0']);
		else
			lf_labels_setn(ls, "__journal_priority_keyword", 26, v, vl);
	}
	return is_msg;
}

void lf_journal_json_init(struct lf_journal_json *j)
{
	j->bytes = (struct lf_buf)LF_BUF_INIT;
	j->n = 0;
}

void lf_journal_json_free(struct lf_journal_json *j)
{
	lf_buf_free(&j->bytes);
	j->n = 0;
}

void lf_journal_json_reset(struct lf_journal_json *j)
{
	lf_buf_reset(&j->bytes);
	j->n = 0;
}

int lf_journal_json_add(struct lf_journal_json *j, const void *data, size_t len)
{
	const char *eq = memchr(data, '=', len);
	if (!eq || j->n >= LF_JOURNAL_JSON_MAX_FIELDS)
		return 0;
	size_t off = j->bytes.len;
	if (lf_buf_append(&j->bytes, data, len) < 0)
		return -1;
	j->v[j->n++] = (struct lf_journal_json_field){off, (size_t)(eq - (const char *)data), len};
	return 0;
}

static int field_cmp(const void *a, const void *b, void *bytes)
{
	const struct lf_journal_json_field *x = a, *y = b;
	const char *sort_bytes = bytes;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(sort_bytes + x->off, sort_bytes + y->off, n);
	if (c)
		return c;
	if (x->name_len != y->name_len)
		return x->name_len < y->name_len ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off; /* stable: later field last */
}

void lf_journal_json_finish(struct lf_journal_json *j, struct lf_buf *out)
{
	const char *b = j->bytes.data;
	if (j->n > 1)
		qsort_r(j->v, j->n, sizeof j->v[0], field_cmp, (void *)b);
	lf_buf_putc(out, '{');
	bool first = true;
	for (size_t i = 0; i < j->n; i++) {
		const struct lf_journal_json_field *f = &j->v[i];
		if (i + 1 < j->n && j->v[i + 1].name_len == f->name_len &&
		    !memcmp(b + f->off, b + j->v[i + 1].off, f->name_len))
			continue; /* a later value of the same name follows */
		if (!first)
			lf_buf_putc(out, ',');
		first = false;
		lf_buf_append_json_string(out, b + f->off, f->name_len);
		lf_buf_putc(out, ':');
		lf_buf_append_json_string(out, b + f->off + f->name_len + 1,
		                          f->len - f->name_len - 1);
	}
	lf_buf_putc(out, '}');
}
