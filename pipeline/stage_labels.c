/* stage_labels.c — `labels`: sets stream labels from extracted values.
 * `{label: source}`; an empty source means the label's own name. Values
 * that are not valid UTF-8 are skipped, as Promtail does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"

struct labels_stage {
	struct lf_strmap m; /* label -> source (never NULL after create) */
	size_t *key_len;    /* strlen of each label name (looked up per line) */
	size_t *src_len;    /* strlen of each source */
	size_t *hint;       /* per source: its index in the extracted map on the
	                     * last line (maps mostly keep their shape) */
};

int lf_labels_cfg_read(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, struct lf_strmap *m,
                       struct lf_error *err)
{
	if (!cfg || cfg->kind == LF_Y_NULL)
		return lf_y_err(err, cfg, ctx->path, "label stage config cannot be empty");
	if (lf_strmap_read(cfg, ctx->path, m, err) < 0)
		return -1;
	for (size_t i = 0; i < m->n; i++) {
		if (!lf_label_name_valid(m->keys[i], strlen(m->keys[i]))) {
			lf_y_err(err, cfg->pairs[i].key, ctx->path, "invalid label name: %s",
			         m->keys[i]);
			lf_strmap_free(m);
			return -1;
		}
		if (!m->vals[i] || !*m->vals[i]) {
			free(m->vals[i]);
			m->vals[i] = strdup(m->keys[i]);
			if (!m->vals[i]) {
				lf_strmap_free(m);
				return lf_err(err, "out of memory");
			}
		}
	}
	return 0;
}

static void labels_free(void *state)
{
	struct labels_stage *s = state;
	lf_strmap_free(&s->m);
	free(s->key_len);
	free(s->src_len);
	free(s->hint);
	free(s);
}

/* lf_labels_setn_nonul(ls, name, nlen, val, vlen) for the usual case of a
 * small stream label set (a target's handful of labels): a linear scan
 * finds the place, and when the spare slot at ls->n already has room (it
 * kept an earlier line's buffers) the slots are shifted and the label is
 * written in place, without the calls of the general path (binary search,
 * memmove, two memcpy). Direct writes are followed by lf_labels_touch(),
 * as labels.h requires, so marks and lf_labels_copy's memo stay right.
 * Anything else (a larger set, no spare room) goes to the general path. */
static void labels_put(struct lf_labels *ls, const char *name, size_t nlen, const char *val,
                       size_t vlen)
{
	size_t n = ls->n, i = 0;
	int c = 1;
	if (n > 16)
		goto general;
	for (; i < n; i++)
		if ((c = lf_name_cmp(ls->v[i].name, ls->v[i].name_len, name, nlen)) >= 0)
			break;
	if (i < n && c == 0) {
		struct lf_label *d = &ls->v[i];
		if (d->value_len == vlen && memcmp(d->value, val, vlen) == 0)
			return; /* already so: nothing changes */
		if (d->value_cap <= vlen)
			goto general;
		lf_copy_short(d->value, val, vlen);
		d->value[vlen] = '\0';
		d->value_len = vlen;
		lf_labels_touch(ls);
		return;
	}
	if (n >= ls->cap || ls->v[n].name_cap <= nlen || ls->v[n].value_cap <= vlen)
		goto general;
	/* rotate the spare slot at n into position i, keeping its buffers */
	struct lf_label spare = ls->v[n];
	for (size_t k = n; k > i; k--)
		ls->v[k] = ls->v[k - 1];
	lf_copy_short(spare.name, name, nlen);
	spare.name[nlen] = '\0';
	spare.name_len = nlen;
	lf_copy_short(spare.value, val, vlen);
	spare.value[vlen] = '\0';
	spare.value_len = vlen;
	ls->v[i] = spare;
	ls->n = n + 1;
	lf_labels_touch(ls);
	return;
general:
	lf_labels_setn_nonul(ls, name, nlen, val, vlen);
}

static int labels_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                         struct lf_error *err)
{
	struct labels_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	if (lf_labels_cfg_read(cfg, ctx, &s->m, err) < 0) {
		free(s);
		return -1;
	}
	size_t n = s->m.n ? s->m.n : 1;
	s->key_len = malloc(n * sizeof *s->key_len);
	s->src_len = malloc(n * sizeof *s->src_len);
	s->hint = calloc(n, sizeof *s->hint);
	if (!s->key_len || !s->src_len || !s->hint) {
		labels_free(s);
		return lf_err(err, "out of memory");
	}
	for (size_t i = 0; i < s->m.n; i++) {
		s->key_len[i] = strlen(s->m.keys[i]);
		s->src_len[i] = strlen(s->m.vals[i]);
	}
	*state = s;
	return 0;
}

static enum lf_pipe_result labels_process(void *state, struct lf_entry *e,
                                          const struct lf_chain *rest)
{
	(void)rest;
	struct labels_stage *s = state;
	for (size_t i = 0; i < s->m.n; i++) {
		const struct lf_label *l = lf_small_find_hinted(&e->extracted, s->m.vals[i],
		                                                s->src_len[i], &s->hint[i]);
		if (!l || !lf_utf8_valid_fast(l->value, l->value_len))
			continue;
		/* neither holds a NUL: a configured name, a stored value */
		labels_put(&e->labels, s->m.keys[i], s->key_len[i], l->value, l->value_len);
	}
	return LF_PIPE_EMITTED;
}

static void labels_reads(void *state, struct lf_keyset *ks)
{
	struct labels_stage *s = state;
	for (size_t i = 0; i < s->m.n; i++)
		lf_keyset_add(ks, s->m.vals[i]);
}

const struct lf_stage_ops lf_stage_labels = {
        .kind = "labels",
        .create = labels_create,
        .process = labels_process,
        .free = labels_free,
        .reads = labels_reads,
};
