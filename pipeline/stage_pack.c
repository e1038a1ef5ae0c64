/* stage_pack.c — `pack: {labels, ingest_timestamp}`: wraps the line into a
 * JSON object {"<name>":"<value>",...,"_entry":"<line>"} (names sorted, as
 * Promtail writes them) with the listed extracted values (the extracted map
 * also holds the labels); those names are removed from the labels. With
 * ingest_timestamp (default true) the timestamp becomes the current time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/timeutil.h"
#include "stage.h"

struct pack_stage {
	char **names; /* sorted, unique */
	size_t n;
	bool ingest_ts;
	struct lf_buf out;
};

static const char *const pack_keys[] = {"labels", "ingest_timestamp", NULL};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void pack_free(void *state)
{
	struct pack_stage *s = state;
	lf_strv_free(s->names);
	lf_buf_free(&s->out);
	free(s);
}

static int pack_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                       struct lf_error *err)
{
	if (lf_ymap_check(cfg, ctx->path, pack_keys, err) < 0)
		return -1;
	struct pack_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->ingest_ts = true;
	if (lf_ymap_strlist(cfg, ctx->path, "labels", &s->names, &s->n, err) < 0 ||
	    lf_ymap_bool(cfg, ctx->path, "ingest_timestamp", &s->ingest_ts, err) < 0) {
		pack_free(s);
		return -1;
	}
	if (s->n) {
		qsort(s->names, s->n, sizeof *s->names, cmp_str);
		size_t w = 1;
		for (size_t i = 1; i < s->n; i++) {
			if (strcmp(s->names[i], s->names[w - 1]) == 0)
				free(s->names[i]);
			else
				s->names[w++] = s->names[i];
		}
		s->n = w;
		s->names[w] = NULL;
	}
	*state = s;
	return 0;
}

static enum lf_pipe_result pack_process(void *state, struct lf_entry *e,
                                        const struct lf_chain *rest)
{
	(void)rest;
	struct pack_stage *s = state;
	struct lf_buf *o = &s->out;
	lf_buf_reset(o);
	lf_buf_putc(o, '{');
	bool any = false;
	for (size_t i = 0; i < s->n; i++) {
		const char *v = lf_extracted_get(e, s->names[i]);
		if (!v)
			continue;
		if (any)
			lf_buf_putc(o, ',');
		any = true;
		lf_json_append_string(o, s->names[i], strlen(s->names[i]));
		lf_buf_putc(o, ':');
		lf_json_append_string(o, v, strlen(v));
	}
	if (any)
		lf_buf_putc(o, ',');
	lf_buf_appends(o, "\"_entry\":");
	lf_json_append_string(o, e->line.data ? e->line.data : "", e->line.len);
	lf_buf_putc(o, '}');
	for (size_t i = 0; i < s->n; i++)
		if (lf_extracted_get(e, s->names[i]))
			lf_labels_del(&e->labels, s->names[i]);
	lf_buf_reset(&e->line);
	lf_buf_append(&e->line, o->data, o->len);
	if (s->ingest_ts)
		e->ts_ns = lf_now_ns();
	return LF_PIPE_EMITTED;
}

static void pack_reads(void *state, struct lf_keyset *ks)
{
	struct pack_stage *s = state;
	for (size_t i = 0; i < s->n; i++)
		lf_keyset_add(ks, s->names[i]);
}

const struct lf_stage_ops lf_stage_pack = {
        .kind = "pack",
        .create = pack_create,
        .process = pack_process,
        .free = pack_free,
        .reads = pack_reads,
};
