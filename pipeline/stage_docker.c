/* stage_docker.c — `docker: {}`: Docker's json-file format
 * {"log":"...\n","stream":"stdout","time":"..."}, as Promtail defines it: a
 * nested pipeline of
 *   json {output: log, stream: stream, timestamp: time}
 *   labels {stream}
 *   timestamp {source: timestamp, format: RFC3339Nano}   (fudge on failure)
 *   output {source: output}
 * The trailing "\n" of `log` stays in the line, and 16 KiB partial lines
 * are not joined (Promtail does neither). */
#include <stdio.h>
#include <stdlib.h>

#include "stage.h"

static const char docker_yaml[] = "- json:\n"
                                  "    expressions:\n"
                                  "      output: log\n"
                                  "      stream: stream\n"
                                  "      timestamp: time\n"
                                  "- labels:\n"
                                  "    stream:\n"
                                  "- timestamp:\n"
                                  "    source: timestamp\n"
                                  "    format: RFC3339Nano\n"
                                  "- output:\n"
                                  "    source: output\n";

struct docker_stage {
	struct lf_stage_list sub;
	bool at_start;
};

static int docker_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                         struct lf_error *err)
{
	static const char *const none[] = {NULL};
	if (lf_ymap_check(cfg, ctx->path, none, err) < 0)
		return -1;
	struct docker_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->at_start = ctx->at_start;
	if (lf_stage_list_build_yaml(docker_yaml, ctx->path, ctx->sh, &s->sub, err) < 0) {
		free(s);
		return -1;
	}
	*state = s;
	return 0;
}

static enum lf_pipe_result docker_process(void *state, struct lf_entry *e,
                                          const struct lf_chain *rest)
{
	struct docker_stage *s = state;
	if (s->at_start)
		return lf_stage_run_list(&s->sub, e, rest);
	return lf_stage_run_nested(&s->sub, e, rest);
}

static void docker_free(void *state)
{
	struct docker_stage *s = state;
	lf_stage_list_free(&s->sub);
	free(s);
}

static void docker_reads(void *state, struct lf_keyset *ks)
{
	(void)state;
	lf_keyset_add(ks, "output");
	lf_keyset_add(ks, "stream");
	lf_keyset_add(ks, "timestamp");
}

const struct lf_stage_ops lf_stage_docker = {
        .kind = "docker",
        .create = docker_create,
        .process = docker_process,
        .free = docker_free,
        .reads = docker_reads,
};
