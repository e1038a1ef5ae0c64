/* entry.c — see entry.h. */
#include "entry.h"

#include <string.h>

void lf_entry_init(struct lf_entry *e)
{
	memset(e, 0, sizeof *e);
}

void lf_entry_free(struct lf_entry *e)
{
	lf_buf_free(&e->line);
	lf_labels_free(&e->labels);
	lf_labels_free(&e->sm);
	lf_labels_free(&e->extracted);
	memset(e, 0, sizeof *e);
}

void lf_entry_reset(struct lf_entry *e)
{
	e->ts_ns = 0;
	lf_buf_reset(&e->line);
	lf_labels_clear(&e->labels);
	lf_labels_clear(&e->sm);
	lf_labels_clear(&e->extracted);
	e->origin = NULL;
	e->seq_first = e->seq_last = 0;
}

int lf_entry_copy(struct lf_entry *dst, const struct lf_entry *src)
{
	if (dst == src)
		return 0;
	lf_buf_reset(&dst->line);
	if (lf_buf_append(&dst->line, src->line.data ? src->line.data : "", src->line.len) < 0 ||
	    lf_labels_copy(&dst->labels, &src->labels) < 0 ||
	    lf_labels_copy(&dst->sm, &src->sm) < 0 ||
	    lf_labels_copy(&dst->extracted, &src->extracted) < 0)
		return -1;
	dst->ts_ns = src->ts_ns;
	dst->origin = src->origin;
	dst->seq_first = src->seq_first;
	dst->seq_last = src->seq_last;
	return 0;
}
