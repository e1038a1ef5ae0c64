/* stage_logfmt.c — `logfmt: {mapping, source}`: extracts the mapped keys of
 * a logfmt line (mapping {extracted_name: logfmt_key}; an empty key means
 * the same name). The scanner follows go-logfmt's decoder, which Promtail
 * uses: a syntax error (e.g. `=` or `"` inside a bare value, an unterminated
 * quote) stops the scan; values found before it are kept. A key without
 * `=` yields "". Quoted values are unquoted with JSON-style escapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"

struct logfmt_stage {
	struct lf_strmap map; /* extracted name -> logfmt key */
	char *source;
	struct lf_buf src, val;
	struct lf_pipe_shared *sh;
	bool *live; /* per mapping entry: may a later stage read it? */
	bool any_live;
};

static const char *const logfmt_keys[] = {"mapping", "source", NULL};

static void logfmt_free(void *state)
{
	struct logfmt_stage *s = state;
	lf_strmap_free(&s->map);
	free(s->source);
	lf_buf_free(&s->src);
	lf_buf_free(&s->val);
	free(s->live);
	free(s);
}

static int logfmt_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                         struct lf_error *err)
{
	if (!cfg || cfg->kind == LF_Y_NULL)
		return lf_y_err(err, cfg, ctx->path, "empty logfmt stage configuration");
	if (lf_ymap_check(cfg, ctx->path, logfmt_keys, err) < 0)
		return -1;
	struct logfmt_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->sh = ctx->sh;
	char mpath[600];
	snprintf(mpath, sizeof mpath, "%s.mapping", ctx->path);
	if (lf_strmap_read(lf_ymap_get(cfg, "mapping"), mpath, &s->map, err) < 0 ||
	    lf_stage_source(cfg, ctx, &s->source, err) < 0) {
		logfmt_free(s);
		return -1;
	}
	if (!s->map.n) {
		logfmt_free(s);
		return lf_y_err(err, cfg, ctx->path, "logfmt mapping is required");
	}
	for (size_t i = 0; i < s->map.n; i++) {
		if (!s->map.vals[i] || !*s->map.vals[i]) {
			free(s->map.vals[i]);
			s->map.vals[i] = strdup(s->map.keys[i]);
			if (!s->map.vals[i]) {
				logfmt_free(s);
				return lf_err(err, "out of memory");
			}
		}
	}
	s->live = malloc(s->map.n * sizeof *s->live);
	if (!s->live) {
		logfmt_free(s);
		return lf_err(err, "out of memory");
	}
	for (size_t i = 0; i < s->map.n; i++)
		s->live[i] = true;
	s->any_live = true;
	*state = s;
	return 0;
}

/* JSON-style unquote of a quoted body (without the quotes). */
static bool unquote(const char *s, size_t n, struct lf_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\') {
			if (++i >= n)
				return false;
			switch (s[i]) {
			case '"':
			case '\\':
			case '/':
				lf_buf_putc(out, s[i]);
				break;
			case 'b':
				lf_buf_putc(out, '\b');
				break;
			case 'f':
				lf_buf_putc(out, '\f');
				break;
			case 'n':
				lf_buf_putc(out, '\n');
				break;
			case 'r':
				lf_buf_putc(out, '\r');
				break;
			case 't':
				lf_buf_putc(out, '\t');
				break;
			case 'u': {
				if (i + 4 >= n)
					return false;
				int a = lf_hexval(s[i + 1]), b = lf_hexval(s[i + 2]),
				    c2 = lf_hexval(s[i + 3]), d = lf_hexval(s[i + 4]);
				if (a < 0 || b < 0 || c2 < 0 || d < 0)
					return false;
				unsigned cp = (unsigned)(a << 12 | b << 8 | c2 << 4 | d);
				i += 4;
				if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < n && s[i + 1] == '\\' &&
				    s[i + 2] == 'u') {
					int a2 = lf_hexval(s[i + 3]), b2 = lf_hexval(s[i + 4]),
					    c3 = lf_hexval(s[i + 5]), d2 = lf_hexval(s[i + 6]);
					/* A digit may be -1 (checked below): shift unsigned. */
					unsigned lo = (unsigned)a2 << 12 | (unsigned)b2 << 8 |
					              (unsigned)c3 << 4 | (unsigned)d2;
					if (a2 >= 0 && b2 >= 0 && c3 >= 0 && d2 >= 0 &&
					    lo >= 0xdc00 && lo < 0xe000) {
						cp = 0x10000 + ((cp - 0xd800) << 10) +
						     (lo - 0xdc00);
						i += 6;
					} else {
						cp = 0xfffd;
					}
				} else if (cp >= 0xd800 && cp < 0xe000) {
					cp = 0xfffd;
				}
				lf_utf8_append(out, cp);
				break;
			}
			default:
				return false;
			}
			continue;
		}
		if (c < ' ')
			return false;
		lf_buf_putc(out, (char)c);
	}
	return true;
}

/* Looks key up in the mapping and stores value for each name mapped to it. */
static void store(struct logfmt_stage *s, struct lf_entry *e, const char *k, size_t kl,
                  const char *v, size_t vl)
{
	for (size_t i = 0; i < s->map.n; i++) {
		if (!s->live[i])
			continue;
		const char *want = s->map.vals[i];
		if (strlen(want) == kl && memcmp(want, k, kl) == 0)
			lf_labels_setn(&e->extracted, s->map.keys[i], strlen(s->map.keys[i]), v,
			               vl);
	}
}

/* Scans one record (a line without '\n'); false on a syntax error. */
static bool scan_record(struct logfmt_stage *s, struct lf_entry *e, const char *line, size_t n)
{
	size_t pos = 0;
	for (;;) {
		while (pos < n && (unsigned char)line[pos] <= ' ')
			pos++;
		if (pos >= n)
			return true;
		size_t ks = pos;
		while (pos < n) {
			unsigned char c = (unsigned char)line[pos];
			if (c == '=' || c == '"' || c <= ' ')
				break;
			pos++;
		}
		if (pos < n && line[pos] == '"')
			return false; /* unexpected '"' */
		const char *key = line + ks;
		size_t kl = pos - ks;
		if (pos >= n || line[pos] != '=') {
			store(s, e, key, kl, "", 0);
			continue;
		}
		if (kl == 0)
			return false; /* unexpected '=' */
		pos++;                /* '=' */
		if (pos >= n || (unsigned char)line[pos] <= ' ') {
			store(s, e, key, kl, "", 0);
			continue;
		}
		if (line[pos] == '"') {
			size_t qs = pos + 1;
			bool esc = false, has_esc = false;
			size_t j = qs;
			for (; j < n; j++) {
				if (esc) {
					esc = false;
				} else if (line[j] == '\\') {
					esc = has_esc = true;
				} else if (line[j] == '"') {
					break;
				}
			}
			if (j >= n)
				return false; /* unterminated quoted value */
			if (has_esc) {
				lf_buf_reset(&s->val);
				if (!unquote(line + qs, j - qs, &s->val))
					return false; /* invalid quoted value */
				store(s, e, key, kl, s->val.data ? s->val.data : "", s->val.len);
			} else {
				store(s, e, key, kl, line + qs, j - qs);
			}
			pos = j + 1;
			continue;
		}
		size_t vs = pos;
		while (pos < n) {
			unsigned char c = (unsigned char)line[pos];
			if (c == '=' || c == '"')
				return false; /* unexpected byte in value */
			if (c <= ' ')
				break;
			pos++;
		}
		store(s, e, key, kl, line + vs, pos - vs);
	}
}

static enum lf_pipe_result logfmt_process(void *state, struct lf_entry *e,
                                          const struct lf_chain *rest)
{
	(void)rest;
	struct logfmt_stage *s = state;
	const char *in;
	size_t n;
	if (!s->any_live)
		return LF_PIPE_EMITTED; /* nothing it sets is ever read */
	if (!lf_stage_input(s->sh, "logfmt", s->source, e, &s->src, &in, &n))
		return LF_PIPE_EMITTED;
	/* go-logfmt reads records line by line. */
	size_t start = 0;
	while (start <= n) {
		const char *nl = memchr(in + start, '\n', n - start);
		size_t end = nl ? (size_t)(nl - in) : n;
		if (!scan_record(s, e, in + start, end - start)) {
			lf_stage_count_error(s->sh, "logfmt", "logfmt_syntax");
			break;
		}
		if (!nl)
			break;
		start = end + 1;
	}
	return LF_PIPE_EMITTED;
}

static void logfmt_reads(void *state, struct lf_keyset *ks)
{
	struct logfmt_stage *s = state;
	lf_keyset_add(ks, s->source);
}

static void logfmt_set_live(void *state, const struct lf_keyset *live)
{
	struct logfmt_stage *s = state;
	s->any_live = false;
	for (size_t i = 0; i < s->map.n; i++) {
		s->live[i] = lf_keyset_has(live, s->map.keys[i]);
		s->any_live |= s->live[i];
	}
}

const struct lf_stage_ops lf_stage_logfmt = {
        .kind = "logfmt",
        .create = logfmt_create,
        .process = logfmt_process,
        .free = logfmt_free,
        .reads = logfmt_reads,
        .set_live = logfmt_set_live,
};
