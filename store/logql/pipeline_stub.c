/* pipeline_stub.c — a stand-in for pipeline.c (owned by the logql-log
 * work) so that the metric engine builds and is tested before the full log
 * pipeline lands: it understands an empty pipeline and `| unwrap <label>`
 * (Go ParseFloat-like conversion) only. store/meson.build compiles it only
 * when logql/pipeline.c does not exist; delete it once pipeline.c is in. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"

struct lf_lq_pipeline {
	char *unwrap;
	struct lf_labels out;
};

int lf_lq_pipeline_parse(struct lf_lq_lexer *lx, unsigned flags, struct lf_lq_pipeline **out,
                         struct lf_error *err)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return lf_err(err, "out of memory");
	struct lf_lq_token t;
	if (lf_lq_peek(lx, &t, err) < 0)
		return -1;
	if (t.kind != LF_LQ_PIPE)
		return 0;
	lf_lq_next(lx, &t, err);
	if (lf_lq_next(lx, &t, err) < 0)
		return -1;
	if (!(flags & LF_LQ_PIPE_METRIC) || !lf_lq_is_ident(lx, &t, "unwrap"))
		return lf_lq_syntax_error(err, &t, NULL);
	if (lf_lq_next(lx, &t, err) < 0)
		return -1;
	if (t.kind != LF_LQ_IDENT)
		return lf_lq_syntax_error(err, &t, "IDENTIFIER");
	(*out)->unwrap = strndup(lx->s + t.pos, t.len);
	return (*out)->unwrap ? 0 : lf_err(err, "out of memory");
}

int lf_lq_pipeline_parse_str(const char *s, size_t len, unsigned flags, struct lf_lq_pipeline **out,
                             struct lf_error *err)
{
	struct lf_lq_lexer lx;
	lf_lq_lexer_init(&lx, s, len);
	int rc = lf_lq_pipeline_parse(&lx, flags, out, err);
	lf_lq_lexer_free(&lx);
	return rc;
}

void lf_lq_pipeline_free(struct lf_lq_pipeline *p)
{
	if (!p)
		return;
	free(p->unwrap);
	lf_labels_free(&p->out);
	free(p);
}

struct lf_lq_pipeline *lf_lq_pipeline_clone(const struct lf_lq_pipeline *p)
{
	struct lf_lq_pipeline *c = calloc(1, sizeof(*c));
	if (c && p->unwrap && !(c->unwrap = strdup(p->unwrap))) {
		free(c);
		return NULL;
	}
	return c;
}

int lf_lq_pipeline_process(struct lf_lq_pipeline *p, int64_t ts_ns, const char *line, size_t len,
                           const struct lf_labels *stream, struct lf_lq_out *out)
{
	(void)ts_ns;
	out->line = line;
	out->len = len;
	out->has_value = false;
	out->labels = stream;
	if (!p->unwrap)
		return 1;
	const char *v = lf_labels_get(stream, p->unwrap);
	if (!v || !*v)
		return 0;
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	out->has_value = true;
	out->value = d;
	if (*end) {
		if (lf_labels_copy(&p->out, stream) < 0 ||
		    lf_labels_set(&p->out, "__error__", "SampleExtractionErr") < 0)
			return -1;
		out->value = 0;
		out->labels = &p->out;
	}
	return 1;
}

bool lf_lq_pipeline_is_filter_only(const struct lf_lq_pipeline *p)
{
	return !p->unwrap;
}

size_t lf_lq_pipeline_leading_filters(const struct lf_lq_pipeline *p,
                                      const struct lf_line_filter **filters)
{
	(void)p;
	*filters = NULL;
	return 0;
}

bool lf_lq_pipeline_has_unwrap(const struct lf_lq_pipeline *p)
{
	return p && p->unwrap;
}

int lf_lq_pipeline_render(const struct lf_lq_pipeline *p, struct lf_buf *out)
{
	if (p->unwrap)
		return lf_buf_printf(out, " | unwrap %s", p->unwrap);
	return 0;
}
