/* bench_pipeline.c — pipeline throughput in lines per CPU-second and heap
 * allocations per line, for the stage combinations that matter on a node:
 *   cri                                     target >= 5M lines/s
 *   cri + regex (4 named groups) + labels   target >= 1M lines/s
 *   cri + json (5 fields) + timestamp + labels
 *   cri + logfmt + labels + match (drop half)
 * Extracted values no later stage reads are skipped (pipeline liveness), so
 * the json case is also measured with all five fields read.
 * Lines are 200 bytes. Each iteration does what the agent does per line:
 * reset the reused entry, copy the target's labels, set line and read time,
 * run the pipeline.
 *
 * Allocations are counted by interposing malloc/calloc/realloc (they call
 * glibc's __libc_* versions), so the count covers everything the pipeline
 * and common/ do. Not built with sanitizers (they interpose malloc too).
 *
 * Usage: bench_pipeline [seconds per case, default 1] [case name]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/timeutil.h"
#include "../../common/yamlcfg.h"
#include "pipeline.h"

#ifdef LF_BENCH_COUNT_ALLOCS
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static unsigned long long n_allocs;
void *malloc(size_t n)
{
	n_allocs++;
	return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
	n_allocs++;
	return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
	n_allocs++;
	return __libc_realloc(p, n);
}
#else
static unsigned long long n_allocs;
#endif

#define NLINES   4096
#define LINE_LEN 200

struct bcase {
	const char *name;
	const char *yaml;
	const char *content_fmt; /* printf format with %d, padded to 200 bytes */
	double target;
};

static const struct bcase cases[] = {
        /* baseline: the per-line work of the harness (entry reset, target
         * labels copy, line copy, read time) with an empty pipeline */
        {"(empty pipeline)", "[]\n", "GET /api/v1/items/%d served in 12ms by worker-7", 0},
        {"cri", "- cri: {}\n", "GET /api/v1/items/%d served in 12ms by worker-7", 5e6},
        {"cri+regex+labels",
         "- cri: {}\n"
         "- regex:\n    expression: '^(?P<ip>\\S+) (?P<method>[A-Z]+) (?P<path>\\S+) "
         "(?P<status>\\d{3})'\n"
         "- labels:\n    method:\n    status:\n",
         "10.1.2.3 GET /api/v1/items/%d 200 served in 12ms by worker-7", 1e6},
        {"cri+json+timestamp+labels",
         "- cri: {}\n"
         "- json:\n    expressions:\n      level:\n      ts:\n      user:\n      msg:\n"
         "      dur: latency.ms\n"
         "- timestamp:\n    source: ts\n    format: RFC3339Nano\n"
         "- labels:\n    level:\n",
         "{\"level\":\"info\",\"ts\":\"2024-05-01T10:00:00.123456789Z\",\"user\":\"alice\","
         "\"msg\":\"request %d done\",\"latency\":{\"ms\":12.5}}",
         1e6},
        /* every field live: structured_metadata reads the three that the json
         * stage would otherwise skip as unread */
        {"cri+json(5 live)+ts+labels+sm",
         "- cri: {}\n"
         "- json:\n    expressions:\n      level:\n      ts:\n      user:\n      msg:\n"
         "      dur: latency.ms\n"
         "- timestamp:\n    source: ts\n    format: RFC3339Nano\n"
         "- labels:\n    level:\n"
         "- structured_metadata:\n    user:\n    msg:\n    dur:\n",
         "{\"level\":\"info\",\"ts\":\"2024-05-01T10:00:00.123456789Z\",\"user\":\"alice\","
         "\"msg\":\"request %d done\",\"latency\":{\"ms\":12.5}}",
         1e6},
        /* logfmt's level is read (labels), then half the lines are dropped */
        {"cri+logfmt+labels+match(drop)",
         "- cri: {}\n"
         "- logfmt:\n    mapping:\n      level:\n      msg:\n"
         "- labels:\n    level:\n"
         "- match:\n    selector: '{level=\"debug\"}'\n    action: drop\n",
         "level=%s ts=2024-05-01T10:00:00.123Z caller=server.go:42 msg=\"request %d done\" "
         "dur=12ms",
         1e6},
};

static unsigned long long emitted;
static void emit(void *ctx, struct lf_entry *e)
{
	(void)ctx;
	(void)e;
	emitted++;
}

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_lines(const struct bcase *c, char (*lines)[LINE_LEN + 1])
{
	for (int i = 0; i < NLINES; i++) {
		char content[LINE_LEN + 1];
		if (strstr(c->content_fmt, "%s"))
			snprintf(content, sizeof content, c->content_fmt, i % 2 ? "debug" : "info",
			         i);
		else
			snprintf(content, sizeof content, c->content_fmt, i);
		char *l = lines[i];
		/* 64 lines per second of log time, as a busy container writes */
		int n = snprintf(l, LINE_LEN + 1, "2024-05-01T10:%02d:%02d.%09dZ stdout F %s",
		                 i / 64 / 60, (i / 64) % 60, i * 15625, content);
		/* pad the content to exactly 200 bytes (spaces for logfmt/regex,
		 * inside-JSON padding would change the document: append spaces,
		 * which JSON allows after the value) */
		while (n < LINE_LEN)
			l[n++] = ' ';
		l[LINE_LEN] = '\0';
	}
}

/* One pass over the lines, doing per line what the agent does. Kept out of
 * line so that instruction counts can be taken for exactly this work:
 *   valgrind --tool=callgrind --toggle-collect='run_batch*' bench_pipeline 0 cri
 * (seconds 0: one warm-up pass plus one measured pass, 2 * NLINES lines). */
__attribute__((noinline)) static void run_batch(struct lf_pipeline *p, struct lf_entry *e,
                                                const struct lf_labels *target,
                                                char (*lines)[LINE_LEN + 1])
{
	for (int i = 0; i < NLINES; i++) {
		lf_entry_reset(e);
		lf_labels_copy(&e->labels, target);
		lf_buf_append(&e->line, lines[i], LINE_LEN);
		e->ts_ns = lf_now_ns();
		lf_pipeline_process(p, e, emit, NULL);
	}
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	static char lines[NLINES][LINE_LEN + 1];
	int failed = 0;
	/* "pipeline-only": the harness's own per-line work (the empty pipeline
	 * case, measured first) subtracted, i.e. what lf_pipeline_process costs */
	double base_ns = 0;
	printf("%-30s %12s %14s %12s %9s %s\n", "case", "lines/cpu-s", "pipeline-only",
	       "allocs/line", "emitted%", "target");
	for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
		const struct bcase *c = &cases[ci];
		if (argc > 2 && strcmp(c->name, argv[2]) != 0)
			continue;
		struct lf_error err;
		struct lf_ydoc *doc;
		struct lf_pipeline *p;
		if (lf_ydoc_load_string(c->yaml, strlen(c->yaml), c->name, false, &doc, &err) < 0 ||
		    lf_pipeline_new(lf_ydoc_root(doc), &(struct lf_pipeline_env){NULL, "bench"}, &p,
		                    &err) < 0) {
			fprintf(stderr, "%s: %s\n", c->name, err.msg);
			return 1;
		}
		make_lines(c, lines);
		struct lf_labels target = LF_LABELS_INIT;
		lf_labels_set(&target, "job", "bench");
		lf_labels_set(&target, "namespace", "default");
		lf_labels_set(&target, "pod", "web-7d9f8c6b5-x2x7k");
		lf_labels_set(&target, "container", "web");
		lf_labels_set(&target, "filename", "/var/log/pods/default_web_1234/web/0.log");
		struct lf_entry e;
		lf_entry_init(&e);
		/* warm up: buffers reach their final size */
		run_batch(p, &e, &target, lines);
		unsigned long long n = 0, a0 = n_allocs;
		emitted = 0;
		double t0 = cpu_now(), t1;
		do {
			run_batch(p, &e, &target, lines);
			n += NLINES;
			t1 = cpu_now();
		} while (t1 - t0 < secs);
		double rate = (double)n / (t1 - t0);
		double per_ns = (t1 - t0) * 1e9 / (double)n;
		if (ci == 0)
			base_ns = per_ns;
		double only = per_ns > base_ns ? 1e9 / (per_ns - base_ns) : 0;
		double apl = (double)(n_allocs - a0) / (double)n;
		printf("%-30s %12.0f %14.0f %12.3f %8.1f%% >= %.0fM %s\n", c->name, rate,
		       ci == 0 ? 0.0 : only, apl, 100.0 * (double)emitted / (double)n,
		       c->target / 1e6, rate >= c->target ? "ok" : "MISSED");
		if (rate < c->target)
			failed = 1;
		lf_entry_free(&e);
		lf_labels_free(&target);
		lf_pipeline_free(p);
		lf_ydoc_free(doc);
	}
#ifndef LF_BENCH_COUNT_ALLOCS
	printf("(allocation counting disabled in this build)\n");
#else
	printf("(%llu allocations in total, setup included)\n", n_allocs);
#endif
	(void)failed; /* figures are reported, not enforced: machines differ */
	return 0;
}
