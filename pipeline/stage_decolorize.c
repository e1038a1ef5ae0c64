/* stage_decolorize.c — `decolorize: {}`: strips ANSI escape sequences from
 * the line, with the pattern Loki's decolorizer uses (acarl005/stripansi),
 * compiled once per stage. */
#include <stdio.h>
#include <stdlib.h>

#include "../common/regex.h"
#include "stage.h"

/* ESC or CSI (U+009B), then the stripansi body. */
static const char ansi_pattern[] =
        "[\\x{1B}\\x{9B}][\\[\\]()#;?]*(?:(?:(?:[a-zA-Z\\d]*(?:;[a-zA-Z\\d]*)*)?\\x{07})|"
        "(?:(?:\\d{1,4}(?:;\\d{0,4})*)?[\\dA-PRZcf-ntqry=><~]))";

struct decolorize_stage {
	struct lf_regex *re;
	struct lf_regex_match m;
	struct lf_buf out;
};

static int decolorize_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                             struct lf_error *err)
{
	(void)cfg;
	struct decolorize_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	if (lf_regex_new(ansi_pattern, 0, &s->re, err) < 0) {
		free(s);
		return lf_err_prefix(err, "%s", ctx->path);
	}
	*state = s;
	return 0;
}

static enum lf_pipe_result decolorize_process(void *state, struct lf_entry *e,
                                              const struct lf_chain *rest)
{
	(void)rest;
	struct decolorize_stage *s = state;
	/* Fast path: no ESC byte and no C2 9B sequence, nothing to strip. */
	const char *d = e->line.data;
	size_t n = e->line.len, i;
	for (i = 0; i < n; i++)
		if (d[i] == 0x1b || (unsigned char)d[i] == 0xc2)
			break;
	if (i == n)
		return LF_PIPE_EMITTED;
	lf_buf_reset(&s->out);
	if (lf_regex_replace_all(s->re, d, n, "", 0, true, &s->out, &s->m) < 0)
		return LF_PIPE_EMITTED;
	lf_buf_reset(&e->line);
	lf_buf_append(&e->line, s->out.data ? s->out.data : "", s->out.len);
	return LF_PIPE_EMITTED;
}

static void decolorize_free(void *state)
{
	struct decolorize_stage *s = state;
	lf_regex_free(s->re);
	lf_regex_match_free(&s->m);
	lf_buf_free(&s->out);
	free(s);
}

static void reads_nothing(void *state, struct lf_keyset *ks)
{
	(void)state;
	(void)ks;
}

const struct lf_stage_ops lf_stage_decolorize = {
        .kind = "decolorize",
        .create = decolorize_create,
        .process = decolorize_process,
        .reads = reads_nothing,
        .free = decolorize_free,
};
