/* pipeline_target.h — the body shared by the one-stage pipeline targets
 * (fuzz_cri, fuzz_docker, fuzz_json, fuzz_logfmt, fuzz_regex,
 * fuzz_multiline): log lines are what anyone who can write to a tailed file
 * controls.
 *
 * A target defines, before including this file:
 *   STAGE          the stage name ("cri")
 *   MERGES         1 when the stage holds and merges lines (cri, multiline)
 *   configs[]      stage bodies (YAML, a flow mapping), NULL-terminated
 *
 * Input: byte 0 chooses the configuration. Below 0xF0 it is
 * configs[byte % n] (built once and reused, as the agent reuses a pipeline);
 * from 0xF0 on, the bytes up to the next NUL are the stage's own YAML body
 * (each of its lines indented under `- STAGE:`), so the config loader is
 * fuzzed too. The rest is split at '\n' into log lines, pushed in order
 * with the labels {job="fuzz"}, then the pipeline is ticked far in the
 * future and flushed (nothing stays held between inputs).
 *
 * A final `template` stage reads every extracted value (stages skip work
 * no later stage reads).
 *
 * Properties:
 *   - every call returns EMITTED, DROPPED or HELD;
 *   - a stage that does not merge emits exactly one entry for EMITTED and
 *     none otherwise, and that entry carries the pushed line's sequence;
 *   - every emitted entry's sequence range lies within the pushed lines,
 *     seq_first <= seq_last, and its label names are valid and unique;
 *   - after the flush, nothing more comes out on a second flush.
 */
#ifndef LF_FUZZ_PIPELINE_TARGET_H
#define LF_FUZZ_PIPELINE_TARGET_H

#include <stdbool.h>

#include "fuzz.h"

#include "../../common/labels.h"
#include "../../common/yamlcfg.h"
#include "../../pipeline/entry.h"
#include "../../pipeline/pipeline.h"

#define TAIL "- template: {source: __fuzz, template: ''}\n"

struct sink {
	size_t emitted;   /* entries emitted in total */
	size_t this_call; /* entries emitted during the current call */
	uint64_t nlines;  /* lines pushed so far */
	uint64_t last_seq;
};

static void check_labels(const struct lf_labels *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		const struct lf_label *l = &ls->v[i];
		FUZZ_CHECK(lf_label_name_valid(l->name, l->name_len), "invalid label name '%s'",
		           l->name);
		FUZZ_CHECK(strlen(l->name) == l->name_len && strlen(l->value) == l->value_len,
		           "label %s: cached length wrong", l->name);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(ls->v[j].name, l->name) != 0, "label %s twice", l->name);
	}
}

static void on_emit(void *ctx, struct lf_entry *e)
{
	struct sink *s = ctx;
	s->emitted++;
	s->this_call++;
	FUZZ_CHECK(e->seq_first <= e->seq_last, "seq range %llu..%llu",
	           (unsigned long long)e->seq_first, (unsigned long long)e->seq_last);
	FUZZ_CHECK(e->seq_first >= 1 && e->seq_last <= s->nlines,
	           "seq range %llu..%llu outside 1..%llu", (unsigned long long)e->seq_first,
	           (unsigned long long)e->seq_last, (unsigned long long)s->nlines);
	FUZZ_CHECK(e->line.len == 0 || e->line.data != NULL, "line without data");
	check_labels(&e->labels);
	s->last_seq = e->seq_last;
}

struct built {
	struct lf_ydoc *doc;
	struct lf_pipeline *p;
	struct lf_metrics *reg;
};

static void built_free(struct built *b)
{
	lf_pipeline_free(b->p);
	lf_ydoc_free(b->doc);
	lf_metrics_free(b->reg);
	memset(b, 0, sizeof *b);
}

/* 0 built, -1 rejected (with a message) */
static int build(const char *yaml, struct built *b)
{
	struct lf_error err = {{0}};
	memset(b, 0, sizeof *b);
	b->reg = lf_metrics_new();
	FUZZ_CHECK(b->reg != NULL, "metrics");
	if (lf_ydoc_load_string(yaml, strlen(yaml), "fuzz.yaml", false, &b->doc, &err) < 0) {
		FUZZ_CHECK(err.msg[0], "YAML load failed without a message");
		built_free(b);
		return -1;
	}
	struct lf_pipeline_env env = {.metrics = b->reg, .job_name = "fuzz"};
	if (lf_pipeline_new(lf_ydoc_root(b->doc), &env, &b->p, &err) < 0) {
		FUZZ_CHECK(err.msg[0], "pipeline build failed without a message");
		FUZZ_CHECK(b->p == NULL, "failed build returned a pipeline");
		built_free(b);
		return -1;
	}
	return 0;
}

static char *fixed_yaml(const char *body)
{
	size_t n = strlen(STAGE) + strlen(body) + sizeof TAIL + 16;
	char *y = malloc(n);
	FUZZ_CHECK(y != NULL, "malloc");
	snprintf(y, n, "- " STAGE ": %s\n" TAIL, body);
	return y;
}

/* the stage body from the input: every line indented by 4 */
static char *custom_yaml(const uint8_t *p, size_t n)
{
	size_t cap = strlen(STAGE) + 8 + n * 5 + sizeof TAIL + 8;
	char *y = malloc(cap), *o = y;
	FUZZ_CHECK(y != NULL, "malloc");
	o += sprintf(o, "- " STAGE ":\n    ");
	for (size_t i = 0; i < n; i++) {
		*o++ = (char)p[i];
		if (p[i] == '\n') {
			memcpy(o, "    ", 4);
			o += 4;
		}
	}
	*o++ = '\n';
	strcpy(o, TAIL);
	return y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct built fixed[16];
	static bool fixed_ok[16], fixed_tried[16];
	size_t nconf = 0;
	while (configs[nconf])
		nconf++;
	if (size < 1)
		return 0;

	struct built own = {0}, *b;
	const uint8_t *p = data + 1, *end = data + size;
	if (!fixed_tried[0]) { /* every fixed config builds (checked by any input) */
		for (size_t k = 0; k < nconf; k++) {
			char *y = fixed_yaml(configs[k]);
			fixed_ok[k] = build(y, &fixed[k]) == 0;
			FUZZ_CHECK(fixed_ok[k], "fixed config %zu does not build: %s", k, y);
			free(y);
			fixed_tried[k] = true;
		}
	}
	if (data[0] < 0xF0) {
		b = &fixed[data[0] % nconf];
	} else {
		const uint8_t *z = memchr(p, '\0', (size_t)(end - p));
		size_t cn = z ? (size_t)(z - p) : (size_t)(end - p);
		char *y = custom_yaml(p, cn);
		int rc = build(y, &own);
		free(y);
		if (rc < 0)
			return 0;
		b = &own;
		p = z ? z + 1 : end;
	}

	struct sink s = {0};
	struct lf_entry e;
	lf_entry_init(&e);
	struct lf_error err;
	int64_t ts = INT64_C(1700000000000000000);
	while (p <= end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ln = nl ? (size_t)(nl - p) : (size_t)(end - p);
		lf_entry_reset(&e);
		FUZZ_CHECK(lf_labels_parse("{job=\"fuzz\"}", 12, &e.labels, &err) == 0, "labels");
		FUZZ_CHECK(lf_buf_append(&e.line, (const char *)p, ln) == 0, "append");
		e.ts_ns = ts;
		ts += 1000;
		s.nlines++;
		e.origin = (void *)(uintptr_t)s.nlines;
		e.seq_first = e.seq_last = s.nlines;
		s.this_call = 0;
		enum lf_pipe_result r = lf_pipeline_process(b->p, &e, on_emit, &s);
		FUZZ_CHECK(r == LF_PIPE_EMITTED || r == LF_PIPE_DROPPED || r == LF_PIPE_HELD,
		           "result %d", (int)r);
		if (!MERGES) {
			FUZZ_CHECK(r != LF_PIPE_HELD, "a non-merging stage held a line");
			FUZZ_CHECK(s.this_call == (r == LF_PIPE_EMITTED ? 1u : 0u),
			           "result %d but %zu entries emitted", (int)r, s.this_call);
			FUZZ_CHECK(r != LF_PIPE_EMITTED || s.last_seq == s.nlines,
			           "emitted entry has seq %llu, pushed %llu",
			           (unsigned long long)s.last_seq, (unsigned long long)s.nlines);
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	lf_pipeline_tick(b->p, ts + INT64_C(3600000000000), on_emit, &s);
	lf_pipeline_flush(b->p, on_emit, &s);
	size_t before = s.emitted;
	lf_pipeline_flush(b->p, on_emit, &s);
	FUZZ_CHECK(s.emitted == before, "a second flush emitted %zu entries", s.emitted - before);
	lf_entry_free(&e);
	if (b == &own)
		built_free(&own);
	return 0;
}

#endif
