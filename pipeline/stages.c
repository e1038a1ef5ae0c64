/* stages.c — builds pipelines from `pipeline_stages` YAML and runs entries
 * through them (pipeline.h), plus the helpers shared by the stage kinds
 * (stage.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../common/regex.h"
#include "../common/timeutil.h"
#include "stage.h"

struct lf_pipeline {
	struct lf_pipe_shared sh;
	struct lf_stage_list list;
	struct lf_keyset init_keys; /* label names any stage may read as extracted */
	size_t *init_key_len;       /* their lengths: looked up on every line */
	/* Where each init key was found in the labels of the entry marked
	 * init_mark (index, or SIZE_MAX when absent): an entry whose labels
	 * still have that mark needs no lookup. */
	size_t *init_idx;
	struct lf_labels_mark init_mark;
};

/* ---- registry ---- */

static const struct {
	const char *name;
	const struct lf_stage_ops *ops;
} registry[] = {
        {"cri", &lf_stage_cri},
        {"docker", &lf_stage_docker},
        {"regex", &lf_stage_regex},
        {"json", &lf_stage_json},
        {"logfmt", &lf_stage_logfmt},
        {"replace", &lf_stage_replace},
        {"multiline", &lf_stage_multiline},
        {"decolorize", &lf_stage_decolorize},
        {"template", &lf_stage_template},
        {"pack", &lf_stage_pack},
        {"static_labels", &lf_stage_static_labels},
        {"timestamp", &lf_stage_timestamp},
        {"output", &lf_stage_output},
        {"labels", &lf_stage_labels},
        {"labelallow", &lf_stage_labelallow},
        {"labeldrop", &lf_stage_labeldrop},
        {"structured_metadata", &lf_stage_structured_metadata},
        {"non_indexed_labels", &lf_stage_structured_metadata}, /* Promtail's old name */
        {"tenant", &lf_stage_tenant},
        {"metrics", &lf_stage_metrics},
        {"match", &lf_stage_match},
        {"drop", &lf_stage_drop},
        {"limit", &lf_stage_limit},
        {"sampling", &lf_stage_sampling},
};

static const struct lf_stage_ops *find_ops(const char *name)
{
	for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
		if (strcmp(registry[i].name, name) == 0)
			return registry[i].ops;
	return NULL;
}

int lf_stage_list_build(const struct lf_ynode *seq, const char *path_prefix,
                        struct lf_pipe_shared *sh, struct lf_stage_list *out, struct lf_error *err)
{
	out->v = NULL;
	out->n = 0;
	if (!seq || seq->kind == LF_Y_NULL)
		return 0;
	if (seq->kind != LF_Y_SEQ)
		return lf_y_err(err, seq, path_prefix, "must be a list of stages");
	out->v = calloc(seq->n ? seq->n : 1, sizeof *out->v);
	if (!out->v)
		return lf_err(err, "out of memory");
	char path[512];
	for (size_t i = 0; i < seq->n; i++) {
		const struct lf_ynode *st = seq->items[i];
		snprintf(path, sizeof path, "%s[%zu]", path_prefix, i);
		if (st->kind != LF_Y_MAP) {
			lf_y_err(err, st, path,
			         "invalid YAML config, make sure each stage of your pipeline is a "
			         "YAML object (must end with a `:`)");
			goto fail;
		}
		if (st->n != 1) {
			lf_y_err(err, st, path, "pipeline stage must contain only one key");
			goto fail;
		}
		const char *kind = st->pairs[0].key->str;
		const struct lf_stage_ops *ops = find_ops(kind);
		if (!ops) {
			if (strcmp(kind, "geoip") == 0 || strcmp(kind, "eventlogmessage") == 0)
				lf_y_err(err, st->pairs[0].key, path,
				         "stage type %s is not supported by logferry", kind);
			else
				lf_y_err(err, st->pairs[0].key, path, "Unknown stage type: %s",
				         kind);
			goto fail;
		}
		snprintf(path, sizeof path, "%s[%zu].%s", path_prefix, i, kind);
		struct lf_stage_ctx ctx = {.sh = sh,
		                           .path = path,
		                           .at_start = i == 0 &&
		                                       strcmp(path_prefix, "pipeline_stages") == 0};
		void *state = NULL;
		if (ops->create(st->pairs[0].value, &ctx, &state, err) < 0)
			goto fail;
		out->v[out->n].ops = ops;
		out->v[out->n].state = state;
		out->n++;
	}
	return 0;
fail:
	lf_stage_list_free(out);
	return -1;
}

int lf_stage_list_build_yaml(const char *yaml, const char *path_prefix, struct lf_pipe_shared *sh,
                             struct lf_stage_list *out, struct lf_error *err)
{
	struct lf_ydoc *doc;
	if (lf_ydoc_load_string(yaml, strlen(yaml), path_prefix, false, &doc, err) < 0)
		return -1;
	int rc = lf_stage_list_build(lf_ydoc_root(doc), path_prefix, sh, out, err);
	lf_ydoc_free(doc);
	return rc;
}

void lf_stage_list_free(struct lf_stage_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		l->v[i].ops->free(l->v[i].state);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void lf_stage_list_tick(const struct lf_stage_list *l, int64_t now_ns, const struct lf_chain *after)
{
	for (size_t i = 0; i < l->n; i++) {
		if (!l->v[i].ops->tick)
			continue;
		struct lf_chain rest = *after;
		rest.from = i + 1;
		l->v[i].ops->tick(l->v[i].state, now_ns, &rest);
	}
}

void lf_stage_list_flush(const struct lf_stage_list *l, const struct lf_chain *after)
{
	for (size_t i = 0; i < l->n; i++) {
		if (!l->v[i].ops->flush)
			continue;
		struct lf_chain rest = *after;
		rest.from = i + 1;
		l->v[i].ops->flush(l->v[i].state, &rest);
	}
}

/* ---- running ---- */

enum lf_pipe_result lf_chain_run(const struct lf_chain *c, struct lf_entry *e)
{
	for (;;) {
		const struct lf_stage_list *l = c->list;
		for (size_t i = c->from; i < l->n; i++) {
			struct lf_chain rest = *c;
			rest.from = i + 1;
			enum lf_pipe_result r = l->v[i].ops->process(l->v[i].state, e, &rest);
			if (r == LF_PIPE_CONSUMED)
				return LF_PIPE_EMITTED;
			if (r != LF_PIPE_EMITTED)
				return r;
		}
		if (!c->parent)
			break;
		c = c->parent;
	}
	if (c->emit)
		c->emit(c->ctx, e);
	return LF_PIPE_EMITTED;
}

int lf_extracted_init(struct lf_entry *e)
{
	return lf_labels_merge(&e->extracted, &e->labels, true);
}

enum lf_pipe_result lf_stage_run_nested(const struct lf_stage_list *list, struct lf_entry *e,
                                        const struct lf_chain *rest)
{
	lf_extracted_init(e);
	return lf_stage_run_list(list, e, rest);
}

enum lf_pipe_result lf_stage_run_list(const struct lf_stage_list *list, struct lf_entry *e,
                                      const struct lf_chain *rest)
{
	struct lf_chain c = {.list = list, .from = 0, .parent = rest};
	enum lf_pipe_result r = lf_chain_run(&c, e);
	return r == LF_PIPE_EMITTED ? LF_PIPE_CONSUMED : r;
}

/* ---- pipeline.h ---- */

static const char *const drop_labels[] = {"reason", NULL};
static const char *const err_labels[] = {"job", "stage", "reason", NULL};

int lf_pipeline_new(const struct lf_ynode *stages, const struct lf_pipeline_env *env,
                    struct lf_pipeline **out, struct lf_error *err)
{
	*out = NULL;
	struct lf_pipeline *p = calloc(1, sizeof *p);
	if (!p)
		return lf_err(err, "out of memory");
	const char *job = env && env->job_name ? env->job_name : "";
	p->sh.job_name = strdup(job);
	p->sh.metrics = env ? env->metrics : NULL;
	p->sh.clock = lf_monotonic_ns;
	if (!p->sh.job_name) {
		free(p);
		return lf_err(err, "out of memory");
	}
	if (p->sh.metrics) {
		p->sh.drops = lf_metrics_family(
		        p->sh.metrics, LF_METRIC_COUNTER, "logentry_dropped_lines_total",
		        "Lines dropped by a pipeline stage, by reason", drop_labels, NULL, 0);
		p->sh.errors = lf_metrics_family(p->sh.metrics, LF_METRIC_COUNTER,
		                                 "logferry_pipeline_errors_total",
		                                 "Entries a pipeline stage could not process (left "
		                                 "unchanged, as Promtail does)",
		                                 err_labels, NULL, 0);
	}
	if (lf_stage_list_build(stages, "pipeline_stages", &p->sh, &p->list, err) < 0) {
		lf_err_prefix(err, "job \"%s\"", job);
		free((char *)p->sh.job_name);
		free(p);
		return -1;
	}
	/* Liveness, backwards: what may be read after each stage. */
	struct lf_keyset after = {0};
	for (size_t i = p->list.n; i-- > 0;) {
		const struct lf_stage *st = &p->list.v[i];
		if (st->ops->set_live)
			st->ops->set_live(st->state, &after);
		if (st->ops->reads)
			st->ops->reads(st->state, &after);
		else
			after.all = true;
	}
	p->init_keys = after;
	p->init_key_len = malloc((after.n ? after.n : 1) * sizeof *p->init_key_len);
	p->init_idx = malloc((after.n ? after.n : 1) * sizeof *p->init_idx);
	if (!p->init_key_len || !p->init_idx) {
		lf_pipeline_free(p);
		return lf_err(err, "out of memory");
	}
	for (size_t i = 0; i < after.n; i++)
		p->init_key_len[i] = strlen(after.keys[i]);
	*out = p;
	return 0;
}

void lf_pipeline_free(struct lf_pipeline *p)
{
	if (!p)
		return;
	lf_keyset_free(&p->init_keys);
	free(p->init_key_len);
	free(p->init_idx);
	lf_stage_list_free(&p->list);
	free((char *)p->sh.job_name);
	free(p);
}

/* lf_labels_find for the few names looked up at the start of every line,
 * which are mostly absent: a target has a handful of labels, and a linear
 * scan that compares lengths first touches no name bytes for most. */
static const struct lf_label *find_label(const struct lf_labels *ls, const char *name, size_t len)
{
	if (ls->n > 16)
		return lf_labels_find(ls, name, len);
	for (size_t i = 0; i < ls->n; i++)
		if (ls->v[i].name_len == len && memcmp(ls->v[i].name, name, len) == 0)
			return &ls->v[i];
	return NULL;
}

enum lf_pipe_result lf_pipeline_process(struct lf_pipeline *p, struct lf_entry *e,
                                        lf_pipeline_emit_fn emit, void *ctx)
{
	/* Promtail starts every entry with an empty extracted map and then
	 * copies the labels into it (Pipeline.Run). */
	if (p->init_keys.all) {
		lf_labels_copy(&e->extracted, &e->labels);
	} else {
		lf_labels_clear(&e->extracted);
		size_t nk = p->init_keys.n;
		if (nk && lf_labels_has_mark(&e->labels, &p->init_mark)) {
			for (size_t i = 0; i < nk; i++) {
				size_t k = p->init_idx[i];
				if (k != SIZE_MAX)
					lf_labels_setn(&e->extracted, p->init_keys.keys[i],
					               p->init_key_len[i], e->labels.v[k].value,
					               e->labels.v[k].value_len);
			}
		} else if (nk) {
			for (size_t i = 0; i < nk; i++) {
				const struct lf_label *l = find_label(
				        &e->labels, p->init_keys.keys[i], p->init_key_len[i]);
				p->init_idx[i] = l ? (size_t)(l - e->labels.v) : SIZE_MAX;
				if (l)
					lf_labels_setn(&e->extracted, p->init_keys.keys[i],
					               p->init_key_len[i], l->value, l->value_len);
			}
			p->init_mark = lf_labels_mark(&e->labels);
		}
	}
	struct lf_chain c = {.list = &p->list, .from = 0, .emit = emit, .ctx = ctx};
	return lf_chain_run(&c, e);
}

void lf_pipeline_tick(struct lf_pipeline *p, int64_t now_ns, lf_pipeline_emit_fn emit, void *ctx)
{
	struct lf_chain c = {.list = &p->list, .from = 0, .emit = emit, .ctx = ctx};
	lf_stage_list_tick(&p->list, now_ns, &c);
}

void lf_pipeline_flush(struct lf_pipeline *p, lf_pipeline_emit_fn emit, void *ctx)
{
	struct lf_chain c = {.list = &p->list, .from = 0, .emit = emit, .ctx = ctx};
	lf_stage_list_flush(&p->list, &c);
}

/* ---- counters ---- */

void lf_stage_count_drop(struct lf_pipe_shared *sh, const char *reason)
{
	if (sh->drops) {
		const char *v[] = {reason};
		lf_metric_inc(sh->drops, v);
	}
}

void lf_stage_count_error(struct lf_pipe_shared *sh, const char *stage, const char *reason)
{
	sh->runtime_errors++;
	if (sh->errors) {
		const char *v[] = {sh->job_name, stage, reason};
		lf_metric_inc(sh->errors, v);
	}
}

bool lf_stage_input(struct lf_pipe_shared *sh, const char *stage, const char *source,
                    const struct lf_entry *e, struct lf_buf *scratch, const char **in, size_t *n)
{
	if (!source) {
		*in = e->line.data ? e->line.data : "";
		*n = e->line.len;
		return true;
	}
	const char *v = lf_extracted_get(e, source);
	if (!v) {
		lf_stage_count_error(sh, stage, "missing_source");
		return false;
	}
	lf_buf_reset(scratch);
	lf_buf_appends(scratch, v);
	*in = scratch->data ? scratch->data : "";
	*n = scratch->len;
	return true;
}

int lf_entry_copy_meta(struct lf_entry *dst, const struct lf_entry *src)
{
	if (lf_labels_copy(&dst->labels, &src->labels) < 0 ||
	    lf_labels_copy(&dst->sm, &src->sm) < 0 ||
	    lf_labels_copy(&dst->extracted, &src->extracted) < 0)
		return -1;
	dst->ts_ns = src->ts_ns;
	dst->seq_last = src->seq_last;
	return 0;
}

/* ---- time ---- */

/* The 8 bytes of w (little-endian load) are all ASCII digits: the high
 * nibble is 3, and adding 6 does not leave the 0x3_ row. */
static inline bool all_digits8(uint64_t w)
{
	return (w & 0xf0f0f0f0f0f0f0f0ull) == 0x3030303030303030ull &&
	       ((w + 0x0606060606060606ull) & 0xf0f0f0f0f0f0f0f0ull) == 0x3030303030303030ull;
}

/* Value of 8 ASCII digits loaded little-endian (first digit in the low
 * byte): pairs, then quads, then the two halves, with multiplies. */
static inline uint64_t digits8_value(uint64_t w)
{
	w -= 0x3030303030303030ull;
	w = (w * 10) + (w >> 8);
	return (((w & 0x000000ff000000ffull) * (100 + (1000000ull << 32))) +
	        (((w >> 16) & 0x000000ff000000ffull) * (1 + (10000ull << 32)))) >>
	       32;
}

int lf_parse_rfc3339_fast(struct lf_rfc3339_cache *c, const char *s, size_t n, int64_t *out_ns)
{
	if (n < 20 || s[10] != 'T')
		return -1;
	if (!c->valid || memcmp(c->prefix, s, 19) != 0) {
		/* the date and time are checked by timeutil's parser */
		char tmp[20];
		memcpy(tmp, s, 19);
		tmp[19] = 'Z';
		int64_t ns;
		if (lf_parse_rfc3339(tmp, 20, &ns) < 0)
			return -1;
		memcpy(c->prefix, s, 19);
		c->secs = ns / LF_NS_PER_SEC; /* exact: no fraction */
		c->valid = true;
	}
	size_t i = 19;
	int64_t frac = 0;
	if (s[i] == '.' || s[i] == ',') {
		i++;
		int nd = 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		/* 8 digits at once when there are (the usual ms/us/ns fraction) */
		uint64_t w = 0; /* not digits */
		if (i + 8 <= n)
			memcpy(&w, s + i, 8);
		if (all_digits8(w)) {
			frac = (int64_t)digits8_value(w);
			nd = 8;
			i += 8;
			/* the ninth digit of a nanosecond fraction */
			if (i < n && (unsigned char)(s[i] - '0') < 10) {
				frac = frac * 10 + (s[i] - '0');
				nd = 9;
				i++;
			}
		}
#endif
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			if (nd < 9) {
				frac = frac * 10 + (s[i] - '0');
				nd++;
			}
		if (nd == 0)
			return -1;
		for (; nd < 9; nd++)
			frac *= 10;
	}
	int64_t off = 0;
	if (i < n && s[i] == 'Z') {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		if (i + 6 > n || s[i + 3] != ':')
			return -1;
		const char *d = s + i + 1;
		if (d[0] < '0' || d[0] > '9' || d[1] < '0' || d[1] > '9' || d[3] < '0' ||
		    d[3] > '9' || d[4] < '0' || d[4] > '9')
			return -1;
		int oh = (d[0] - '0') * 10 + (d[1] - '0'), om = (d[3] - '0') * 10 + (d[4] - '0');
		if (oh > 24 || om > 60) /* the limits timeutil applies */
			return -1;
		off = (int64_t)(oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
		i += 6;
	} else {
		return -1;
	}
	if (i != n)
		return -1;
	int64_t ns;
	if (__builtin_mul_overflow(c->secs - off, LF_NS_PER_SEC, &ns) ||
	    __builtin_add_overflow(ns, frac, &ns))
		return -1;
	*out_ns = ns;
	return 0;
}

/* ---- numbers ---- */

/* Shortest decimal digits of |v| that round-trip: digits (no dot) and the
 * decimal exponent such that v = 0.d1d2d3... * 10^exp10. */
static int shortest_digits(double v, char *digits, int *exp10)
{
	char tmp[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v || prec == 17)
			break;
	}
	/* tmp: d.ddde[+-]XX */
	int n = 0;
	const char *p = tmp;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[n++] = *p;
	digits[n] = '\0';
	int e = atoi(p + 1);
	/* strip trailing zeros */
	while (n > 1 && digits[n - 1] == '0')
		digits[--n] = '\0';
	*exp10 = e + 1;
	return n;
}

int lf_fmt_go_float(struct lf_buf *out, double v)
{
	if (isnan(v))
		return lf_buf_appends(out, "NaN");
	if (isinf(v))
		return lf_buf_appends(out, v > 0 ? "+Inf" : "-Inf");
	if (signbit(v) && lf_buf_putc(out, '-') < 0)
		return -1;
	v = fabs(v);
	if (v == 0)
		return lf_buf_putc(out, '0');
	char d[32];
	int e;
	int n = shortest_digits(v, d, &e);
	if (e <= 0) {
		if (lf_buf_appends(out, "0.") < 0)
			return -1;
		for (int i = 0; i < -e; i++)
			if (lf_buf_putc(out, '0') < 0)
				return -1;
		return lf_buf_append(out, d, (size_t)n);
	}
	for (int i = 0; i < e; i++)
		if (lf_buf_putc(out, i < n ? d[i] : '0') < 0)
			return -1;
	if (n > e) {
		if (lf_buf_putc(out, '.') < 0 || lf_buf_append(out, d + e, (size_t)(n - e)) < 0)
			return -1;
	}
	return 0;
}

int lf_fmt_go_float_g(struct lf_buf *out, double v)
{
	if (isnan(v) || isinf(v) || v == 0)
		return lf_fmt_go_float(out, v);
	char d[32];
	int e;
	int n = shortest_digits(fabs(v), d, &e);
	int x = e - 1;
	if (x >= -4 && x < 6) /* %f form: Go uses precision 6 for shortest */
		return lf_fmt_go_float(out, v);
	if (signbit(v) && lf_buf_putc(out, '-') < 0)
		return -1;
	if (lf_buf_putc(out, d[0]) < 0)
		return -1;
	if (n > 1 && (lf_buf_putc(out, '.') < 0 || lf_buf_append(out, d + 1, (size_t)(n - 1)) < 0))
		return -1;
	return lf_buf_printf(out, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
}

int lf_fmt_json_float(struct lf_buf *out, double v)
{
	double a = fabs(v);
	if (a == 0 || (a >= 1e-6 && a < 1e21))
		return lf_fmt_go_float(out, v);
	char d[32];
	int e;
	int n = shortest_digits(a, d, &e);
	if (signbit(v) && lf_buf_putc(out, '-') < 0)
		return -1;
	if (lf_buf_putc(out, d[0]) < 0)
		return -1;
	if (n > 1 && (lf_buf_putc(out, '.') < 0 || lf_buf_append(out, d + 1, (size_t)(n - 1)) < 0))
		return -1;
	int x = e - 1;
	/* Go 'e' prints at least two exponent digits; json.Marshal trims
	 * e-07 to e-7. */
	if (x < 0 && x > -10)
		return lf_buf_printf(out, "e-%d", -x);
	return lf_buf_printf(out, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
}

int lf_parse_go_float(const char *s, double *out)
{
	if (!*s)
		return -1;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (*end == '\0' && end != s) {
		/* strtod accepts hex floats and "nan"/"inf" like Go's ParseFloat
		 * mostly does; good enough. */
		*out = v;
		return 0;
	}
	int64_t ns;
	if (lf_parse_duration(s, &ns, NULL) == 0) {
		*out = (double)ns / 1e9;
		return 0;
	}
	return -1;
}

/* ---- UTF-8 and JSON strings ---- */

int lf_json_append_string(struct lf_buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	if (lf_buf_reserve(out, n + 2) < 0 || lf_buf_putc(out, '"') < 0)
		return -1;
	size_t i = 0, start = 0;
	while (i < n) {
		unsigned char c = p[i];
		if (c >= 0x80) {
			unsigned cp;
			size_t l = lf_utf8_decode(p + i, n - i, &cp);
			if (l && cp != 0x2028 && cp != 0x2029) {
				i += l;
				continue;
			}
			if (lf_buf_append(out, s + start, i - start) < 0)
				return -1;
			if (!l) {
				if (lf_buf_appends(out, "\\ufffd") < 0)
					return -1;
				i++;
			} else {
				if (lf_buf_printf(out, "\\u%04x", cp) < 0)
					return -1;
				i += l;
			}
			start = i;
			continue;
		}
		if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
			i++;
			continue;
		}
		if (lf_buf_append(out, s + start, i - start) < 0)
			return -1;
		char esc[7];
		const char *rep = NULL;
		switch (c) {
		case '"':
			rep = "\\\"";
			break;
		case '\\':
			rep = "\\\\";
			break;
		case '\n':
			rep = "\\n";
			break;
		case '\r':
			rep = "\\r";
			break;
		case '\t':
			rep = "\\t";
			break;
		default:
			esc[0] = '\\', esc[1] = 'u', esc[2] = '0', esc[3] = '0';
			esc[4] = hex[c >> 4], esc[5] = hex[c & 15], esc[6] = '\0';
			rep = esc;
		}
		if (lf_buf_appends(out, rep) < 0)
			return -1;
		i++;
		start = i;
	}
	if (lf_buf_append(out, s + start, n - start) < 0)
		return -1;
	return lf_buf_putc(out, '"');
}

/* ---- per-stream map ---- */

void lf_smap_init(struct lf_smap *m, size_t max, void (*free_val)(void *))
{
	memset(m, 0, sizeof *m);
	m->max = max;
	m->free_val = free_val;
}

static void slot_release(struct lf_smap *m, struct lf_smap_slot *s)
{
	lf_labels_free(&s->key);
	if (m->free_val && s->val)
		m->free_val(s->val);
	memset(s, 0, sizeof *s);
}

void lf_smap_free(struct lf_smap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->v[i].live)
			slot_release(m, &m->v[i]);
	free(m->v);
	m->v = NULL;
	m->cap = m->n = 0;
}

struct lf_smap_slot *lf_smap_get(struct lf_smap *m, const struct lf_labels *labels, uint64_t hash)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct lf_smap_slot *s = &m->v[i];
		if (!s->live)
			return NULL;
		if (s->hash == hash && lf_labels_equal(&s->key, labels)) {
			s->used = ++m->clock;
			return s;
		}
	}
}

static int smap_grow(struct lf_smap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
	struct lf_smap_slot *nv = calloc(ncap, sizeof *nv);
	if (!nv)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->v[i].live)
			continue;
		size_t j = m->v[i].hash & (ncap - 1);
		while (nv[j].live)
			j = (j + 1) & (ncap - 1);
		nv[j] = m->v[i];
	}
	free(m->v);
	m->v = nv;
	m->cap = ncap;
	return 0;
}

void lf_smap_del(struct lf_smap *m, struct lf_smap_slot *s)
{
	size_t mask = m->cap - 1;
	size_t i = (size_t)(s - m->v);
	slot_release(m, s);
	m->n--;
	/* Backward-shift deletion keeps probe chains intact without tombstones. */
	size_t j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (!m->v[j].live)
			break;
		size_t home = m->v[j].hash & mask;
		/* Move j to i when its home is not in (i, j] cyclically. */
		bool in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
		if (in_range)
			continue;
		m->v[i] = m->v[j];
		memset(&m->v[j], 0, sizeof m->v[j]);
		i = j;
	}
}

struct lf_smap_slot *lf_smap_put(struct lf_smap *m, const struct lf_labels *labels, uint64_t hash,
                                 bool *created)
{
	struct lf_smap_slot *s = lf_smap_get(m, labels, hash);
	if (s) {
		*created = false;
		return s;
	}
	if (m->max && m->n >= m->max) {
		struct lf_smap_slot *old = NULL;
		for (size_t i = 0; i < m->cap; i++)
			if (m->v[i].live && (!old || m->v[i].used < old->used))
				old = &m->v[i];
		if (old)
			lf_smap_del(m, old);
	}
	if ((m->n + 1) * 4 > m->cap * 3 && smap_grow(m) < 0)
		return NULL;
	size_t mask = m->cap - 1;
	size_t i = hash & mask;
	while (m->v[i].live)
		i = (i + 1) & mask;
	s = &m->v[i];
	memset(s, 0, sizeof *s);
	if (lf_labels_copy(&s->key, labels) < 0) {
		lf_labels_free(&s->key);
		return NULL;
	}
	s->live = true;
	s->hash = hash;
	s->used = ++m->clock;
	s->order = m->order++;
	m->n++;
	*created = true;
	return s;
}

static int slot_order_cmp(const void *a, const void *b)
{
	const struct lf_smap_slot *x = *(const struct lf_smap_slot *const *)a;
	const struct lf_smap_slot *y = *(const struct lf_smap_slot *const *)b;
	return (x->order > y->order) - (x->order < y->order);
}

struct lf_smap_slot **lf_smap_ordered(struct lf_smap *m, size_t *n)
{
	*n = 0;
	struct lf_smap_slot **v = malloc((m->n ? m->n : 1) * sizeof *v);
	if (!v)
		return NULL;
	for (size_t i = 0; i < m->cap; i++)
		if (m->v[i].live)
			v[(*n)++] = &m->v[i];
	qsort(v, *n, sizeof *v, slot_order_cmp);
	return v;
}

/* ---- timestamp fudging ---- */

#define FUDGE_CACHE 10000 /* Promtail's maxLastKnownTimestampsCacheSize */

void lf_ts_fudge_init(struct lf_ts_fudge *f)
{
	memset(f, 0, sizeof *f);
	lf_smap_init(&f->map, FUDGE_CACHE, NULL);
}

void lf_ts_fudge_free(struct lf_ts_fudge *f)
{
	lf_smap_free(&f->map);
	lf_labels_free(&f->last);
}

/* Nonzero when the n bytes at a and b differ. Reads only those bytes:
 * overlapping word loads cover the tail. */
static inline uint64_t bytes_diff(const char *a, const char *b, size_t n)
{
	if (n >= 8) {
		uint64_t d = 0, x, y;
		for (size_t i = 0; i + 8 < n; i += 8) {
			memcpy(&x, a + i, 8);
			memcpy(&y, b + i, 8);
			d |= x ^ y;
		}
		memcpy(&x, a + n - 8, 8);
		memcpy(&y, b + n - 8, 8);
		return d | (x ^ y);
	}
	if (n >= 4) {
		uint32_t x1, y1, x2, y2;
		memcpy(&x1, a, 4);
		memcpy(&y1, b, 4);
		memcpy(&x2, a + n - 4, 4);
		memcpy(&y2, b + n - 4, 4);
		return (x1 ^ y1) | (x2 ^ y2);
	}
	if (n == 0)
		return 0;
	/* 1..3 bytes: first, middle and last cover them all */
	return (uint64_t)((a[0] ^ b[0]) | (a[n / 2] ^ b[n / 2]) | (a[n - 1] ^ b[n - 1]));
}

/* Equality of two label sets, values first: within one pipeline, label
 * sets differ mostly in values (pod, filename), and this runs per line. */
static bool labels_same(const struct lf_labels *a, const struct lf_labels *b)
{
	if (a->n != b->n)
		return false;
	/* lengths first, then the bytes, OR-ing differences without a branch
	 * per word: fewer instructions than lf_labels_equal in the common,
	 * equal case */
	for (size_t i = a->n; i-- > 0;) {
		const struct lf_label *x = &a->v[i], *y = &b->v[i];
		if (x->value_len != y->value_len || x->name_len != y->name_len ||
		    (bytes_diff(x->value, y->value, x->value_len) |
		     bytes_diff(x->name, y->name, x->name_len)))
			return false;
	}
	return true;
}

/* Whether labels is the current set. The caller's set is mostly the entry
 * reused for every line, refilled with the same labels: its mark then
 * still matches, and nothing is compared. */
static inline bool fudge_is_last(struct lf_ts_fudge *f, const struct lf_labels *labels)
{
	if (!f->have_last)
		return false;
	if (lf_labels_has_mark(labels, &f->last_mark))
		return true;
	if (!labels_same(&f->last, labels))
		return false;
	f->last_mark = lf_labels_mark(labels);
	return true;
}

/* Moves the one-slot cache into the map and makes labels the current set. */
static void fudge_switch(struct lf_ts_fudge *f, const struct lf_labels *labels)
{
	if (f->have_last) {
		bool created;
		struct lf_smap_slot *s =
		        lf_smap_put(&f->map, &f->last, lf_labels_hash(&f->last), &created);
		if (s)
			s->ival = f->last_ts;
	}
	f->have_last = lf_labels_copy(&f->last, labels) == 0;
	f->last_mark = lf_labels_mark(labels);
}

void lf_ts_fudge_good(struct lf_ts_fudge *f, const struct lf_labels *labels, int64_t ts)
{
	if (!fudge_is_last(f, labels))
		fudge_switch(f, labels);
	f->last_ts = ts;
}

void lf_ts_fudge_fail(struct lf_ts_fudge *f, const struct lf_labels *labels, int64_t *ts)
{
	if (fudge_is_last(f, labels)) {
		*ts = ++f->last_ts;
		return;
	}
	struct lf_smap_slot *s = lf_smap_get(&f->map, labels, lf_labels_hash(labels));
	if (!s)
		return;
	int64_t v = s->ival + 1;
	/* this label set becomes the current one (Promtail stores it again) */
	lf_smap_del(&f->map, s);
	fudge_switch(f, labels);
	f->last_ts = v;
	*ts = v;
}

/* ---- config helpers ---- */

int lf_strmap_read(const struct lf_ynode *map, const char *path, struct lf_strmap *out,
                   struct lf_error *err)
{
	memset(out, 0, sizeof *out);
	if (!map || map->kind == LF_Y_NULL)
		return 0;
	if (map->kind != LF_Y_MAP)
		return lf_y_err(err, map, path, "must be a map");
	out->keys = calloc(map->n + 1, sizeof *out->keys);
	out->vals = calloc(map->n + 1, sizeof *out->vals);
	if (!out->keys || !out->vals) {
		lf_strmap_free(out);
		return lf_err(err, "out of memory");
	}
	for (size_t i = 0; i < map->n; i++) {
		const struct lf_ynode *v = map->pairs[i].value;
		char sub[512];
		snprintf(sub, sizeof sub, "%s.%s", path, map->pairs[i].key->str);
		out->keys[i] = strdup(map->pairs[i].key->str);
		out->n = i + 1;
		if (!out->keys[i]) {
			lf_strmap_free(out);
			return lf_err(err, "out of memory");
		}
		if (v && v->kind != LF_Y_NULL) {
			if (v->kind != LF_Y_SCALAR) {
				lf_strmap_free(out);
				return lf_y_err(err, v, sub, "must be a string");
			}
			if (lf_y_str(v, sub, &out->vals[i], err) < 0) {
				lf_strmap_free(out);
				return -1;
			}
		}
	}
	return 0;
}

void lf_strmap_free(struct lf_strmap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->keys ? m->keys[i] : NULL);
		free(m->vals ? m->vals[i] : NULL);
	}
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof *m);
}

int lf_stage_compile_regex(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, const char *key,
                           unsigned flags, struct lf_regex **out, struct lf_error *err)
{
	*out = NULL;
	const struct lf_ynode *n = lf_ymap_get(cfg, key);
	if (!n)
		return 0;
	char path[600];
	snprintf(path, sizeof path, "%s.%s", ctx->path, key);
	char *pat = NULL;
	if (lf_y_str(n, path, &pat, err) < 0)
		return -1;
	struct lf_error rerr;
	if (lf_regex_new(pat, flags, out, &rerr) < 0) {
		free(pat);
		return lf_y_err(err, n, path, "%s", rerr.msg);
	}
	free(pat);
	return 0;
}

/* ---- key sets ---- */

bool lf_keyset_has(const struct lf_keyset *ks, const char *key)
{
	if (ks->all)
		return true;
	for (size_t i = 0; i < ks->n; i++)
		if (strcmp(ks->keys[i], key) == 0)
			return true;
	return false;
}

void lf_keyset_add(struct lf_keyset *ks, const char *key)
{
	if (ks->all || !key || lf_keyset_has(ks, key))
		return;
	char **v = realloc(ks->keys, (ks->n + 1) * sizeof *v);
	char *k = strdup(key);
	if (!v || !k) {
		/* out of memory: "all" is always a correct answer */
		free(k);
		if (v)
			ks->keys = v;
		ks->all = true;
		return;
	}
	ks->keys = v;
	ks->keys[ks->n++] = k;
}

void lf_keyset_union(struct lf_keyset *dst, const struct lf_keyset *src)
{
	if (src->all)
		dst->all = true;
	for (size_t i = 0; i < src->n; i++)
		lf_keyset_add(dst, src->keys[i]);
}

void lf_keyset_free(struct lf_keyset *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		free(ks->keys[i]);
	free(ks->keys);
	memset(ks, 0, sizeof *ks);
}

void lf_stage_list_reads(const struct lf_stage_list *l, struct lf_keyset *ks)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].ops->reads)
			l->v[i].ops->reads(l->v[i].state, ks);
		else
			ks->all = true;
	}
}
