/* stage_json.c — `json: {expressions, source, drop_malformed}`: parses the
 * line (or an extracted value) as a JSON object and sets one extracted
 * value per expression, as Promtail does:
 *   string -> the string; number -> Go's shortest decimal form (no
 *   exponent); true/false; null or missing -> the key is removed (Promtail
 *   stores nil, which every later stage treats as absent); object/array ->
 *   compact JSON (keys sorted, Go's escaping).
 * Malformed JSON leaves the entry unchanged (counted), or drops it with
 * drop_malformed (counted in logentry_dropped_lines_total{reason=
 * "json_malformed"}: Promtail drops it without counting).
 *
 * Expressions are the JMESPath subset users write in Promtail configs:
 * identifiers joined by dots (a.b.c), quoted identifiers ("a.b" or
 * a."x-y"), and array indexes ([0], [-1], a.b[2][0]). Anything else
 * (functions, filters, projections) is rejected at load time.
 *
 * The parser is specialised (no jansson here): it builds a flat node array
 * in a buffer reused across lines, so a line costs no malloc once warm.
 * It accepts exactly the JSON Go's encoding/json accepts (strict grammar,
 * invalid UTF-8 inside strings tolerated and decoded as U+FFFD).
 *
 * Per line, after the parse (strings scanned 16 bytes per step with SSE2
 * where available): one pass over the root object's members finds the
 * first step of every expression (root_lookup), and the values are stored
 * in name order, mostly appended in place into the extracted map
 * (lf_labels_put_sorted, stage.h). tests/unit/lang/test_pipeline_fastpaths.c checks these
 * against the general paths. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/jsonscan.h"
#include "stage.h"

/* ---- JMESPath subset ---- */

enum step_kind { STEP_FIELD, STEP_INDEX };
struct step {
	enum step_kind kind;
	char *field;
	size_t field_len;
	long index;
};
struct jpath {
	struct step *steps;
	size_t n;
};

static void jpath_free(struct jpath *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->steps[i].field);
	free(p->steps);
	p->steps = NULL;
	p->n = 0;
}

static int jpath_push(struct jpath *p, struct step st)
{
	struct step *v = realloc(p->steps, (p->n + 1) * sizeof *v);
	if (!v)
		return -1;
	p->steps = v;
	p->steps[p->n++] = st;
	return 0;
}

/* Parses the JMESPath subset; returns the offset of the first unsupported
 * character, or -1 when fine. */
static long jpath_parse(const char *e, struct jpath *p)
{
	size_t i = 0, n = strlen(e);
	bool need_field = true; /* at start or after '.' */
	bool first = true;
	while (i < n) {
		char c = e[i];
		if (c == '[') {
			if (need_field && !first)
				return (long)i;
			size_t j = i + 1;
			bool neg = false;
			if (j < n && e[j] == '-') {
				neg = true;
				j++;
			}
			size_t ds = j;
			while (j < n && e[j] >= '0' && e[j] <= '9')
				j++;
			if (j == ds || j >= n || e[j] != ']')
				return (long)i;
			long v = strtol(e + ds, NULL, 10);
			struct step st = {.kind = STEP_INDEX, .index = neg ? -v : v};
			if (jpath_push(p, st) < 0)
				return (long)i;
			i = j + 1;
			need_field = false;
			first = false;
			continue;
		}
		if (c == '.') {
			if (need_field)
				return (long)i;
			need_field = true;
			i++;
			continue;
		}
		if (!need_field)
			return (long)i;
		struct lf_buf f = LF_BUF_INIT;
		if (c == '"') {
			size_t j = i + 1;
			bool bad = false;
			while (j < n && e[j] != '"') {
				if (e[j] == '\\') {
					/* a JSON string escape, as JMESPath's lexer wants */
					char x = j + 1 < n ? e[j + 1] : 0;
					if (x == 'u')
						bad |= lf_json_hex4(e + j + 2, n - j - 2) < 0;
					else if (!x || !strchr("\"\\/bfnrt", x))
						bad = true;
					j++;
				}
				j++;
			}
			if (j >= n || bad) {
				lf_buf_free(&f);
				return (long)i;
			}
			lf_json_unescape_go(e + i + 1, j - i - 1, &f);
			i = j + 1;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
			size_t j = i;
			while (j < n &&
			       ((e[j] >= 'a' && e[j] <= 'z') || (e[j] >= 'A' && e[j] <= 'Z') ||
			        (e[j] >= '0' && e[j] <= '9') || e[j] == '_'))
				j++;
			lf_buf_append(&f, e + i, j - i);
			i = j;
		} else {
			return (long)i;
		}
		struct step st = {.kind = STEP_FIELD,
		                  .field = f.data ? f.data : strdup(""),
		                  .field_len = f.len};
		if (!st.field || jpath_push(p, st) < 0) {
			free(st.field);
			return (long)i;
		}
		need_field = false;
		first = false;
	}
	if (need_field)
		return (long)n;
	return -1;
}

/* ---- JSON parser into a flat node array ---- */

/* The JSON parser (node tree, strict, Go encoding/json grammar) is
 * common/jsonscan.c, shared with LogQL's `| json l="path"`. */

/* ---- evaluation and rendering ---- */

/* One expression, as the per-line loop needs it. The stage keeps them
 * sorted by name (see json_create). */
struct jexpr {
	const char *name; /* the extracted name (owned by exprs) */
	size_t name_len;
	const struct jpath *path;
	const char *key0; /* first step's key when it is a field shorter than
	                   * 64 bytes (found by root_lookup), else NULL */
	size_t key0_len;
	long first; /* per line: the root member key0 names, or -1 */
	bool live;  /* may a later stage read it? */
};

struct json_stage {
	struct lf_strmap exprs; /* name -> expression text */
	struct jpath *paths;
	char *source;
	bool drop_malformed;
	/* Expressions sorted by name (stable). Values are stored in name
	 * order: into an extracted map that holds no later name (the usual
	 * case) each store is then an append. Setting distinct names
	 * commutes (and the YAML loader rejects duplicate names). */
	struct jexpr *ex;
	bool distinct; /* no two expressions share a name (YAML rejects it) */
	bool any_live;
	/* First steps that are short fields, bucketed by key length, so that
	 * one pass over the root object's members finds them all. */
	uint64_t root_lens; /* bit L: some key0 has length L */
	uint32_t *by_len;   /* indexes into ex, grouped by key0 length */
	uint32_t by_len_start[65];
	struct lf_jparser jp;
	struct lf_buf val, key, tmp, src;
	struct lf_pipe_shared *sh;
};

static bool key_equals(struct json_stage *s, const struct lf_jnode *x, const char *f, size_t fl)
{
	if (!x->key_esc)
		return x->key_len == fl && lf_bytes_eq(x->key, f, fl);
	lf_buf_reset(&s->key);
	lf_json_unescape_go(x->key, x->key_len, &s->key);
	return s->key.len == fl && memcmp(s->key.data, f, fl) == 0;
}

/* Returns the node index the path leads to from node `cur` after its
 * first `from` steps, or -1 (null). */
static long eval_from(struct json_stage *s, const struct jpath *p, long cur, size_t from)
{
	const struct lf_jnode *v = s->jp.v;
	for (size_t i = from; i < p->n; i++) {
		const struct step *st = &p->steps[i];
		const struct lf_jnode *x = &v[cur];
		if (st->kind == STEP_FIELD) {
			if (x->type != LF_J_OBJ)
				return -1;
			long found = -1;
			/* the last duplicate wins, as in a Go map */
			for (uint32_t c = x->child; c; c = v[c].next)
				if (key_equals(s, &v[c], st->field, st->field_len))
					found = c;
			if (found < 0)
				return -1;
			cur = found;
		} else {
			if (x->type != LF_J_ARR)
				return -1;
			long idx = st->index;
			if (idx < 0)
				idx += (long)x->count;
			if (idx < 0 || idx >= (long)x->count)
				return -1;
			uint32_t c = x->child;
			for (long k = 0; k < idx; k++)
				c = v[c].next;
			cur = c;
		}
	}
	return v[cur].type == LF_J_NULL ? -1 : cur;
}

/* For every expression with a key0, sets its `first` to the root member
 * with that key (the last duplicate wins, as in a Go map) or -1, in one
 * pass over the root object's members. */
static void root_lookup(struct json_stage *s)
{
	const struct lf_jnode *v = s->jp.v;
	struct jexpr *ex = s->ex;
	for (uint32_t k = 0; k < s->by_len_start[64]; k++)
		ex[s->by_len[k]].first = -1;
	for (uint32_t c = v[0].child; c; c = v[c].next) {
		const struct lf_jnode *x = &v[c];
		if (x->key_esc) {
			/* compare the unescaped key with every candidate */
			for (uint32_t k = 0; k < s->by_len_start[64]; k++) {
				struct jexpr *j = &ex[s->by_len[k]];
				if (key_equals(s, x, j->key0, j->key0_len))
					j->first = c;
			}
			continue;
		}
		if (x->key_len >= 64 || !(s->root_lens >> x->key_len & 1))
			continue;
		for (uint32_t k = s->by_len_start[x->key_len]; k < s->by_len_start[x->key_len + 1];
		     k++) {
			struct jexpr *j = &ex[s->by_len[k]];
			if (lf_bytes_eq(x->key, j->key0, x->key_len))
				j->first = c;
		}
	}
}

/* Where expression j leads in the parsed document (root object or null),
 * or -1. */
static inline long eval_expr(struct json_stage *s, const struct jexpr *j)
{
	if (s->jp.v[0].type == LF_J_NULL)
		return -1;
	if (j->key0) {
		long c = j->first;
		if (c < 0)
			return -1;
		if (j->path->n == 1) /* a plain member: the common expression */
			return s->jp.v[c].type == LF_J_NULL ? -1 : c;
		return eval_from(s, j->path, c, 1);
	}
	return eval_from(s, j->path, 0, 0);
}

static double num_value(const struct lf_jnode *x)
{
	char b[64];
	if (x->len < sizeof b) {
		memcpy(b, x->s, x->len);
		b[x->len] = '\0';
		return strtod(b, NULL);
	}
	char *d = strndup(x->s, x->len);
	double r = d ? strtod(d, NULL) : 0;
	free(d);
	return r;
}

struct member {
	const char *key;
	size_t key_len;
	uint32_t node;
	size_t pos;
};

static int member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);
	if (c)
		return c;
	if (x->key_len != y->key_len)
		return x->key_len < y->key_len ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* True when the JSON number token is already what Go's FormatFloat(v, 'f',
 * -1) prints for its value: no exponent, no trailing fraction zeros, at most
 * 15 significant digits (then the token's digits are the shortest ones that
 * round-trip). Saves the float conversion in the common case. */
static bool num_canonical(const struct lf_jnode *x)
{
	const char *p = x->s, *end = x->s + x->len;
	if (p < end && *p == '-')
		p++;
	int sig = 0;
	bool seen_nonzero = false;
	const char *dot = NULL;
	for (const char *q = p; q < end; q++) {
		if (*q == '.') {
			dot = q;
			continue;
		}
		if (*q < '0' || *q > '9')
			return false; /* exponent */
		if (*q != '0')
			seen_nonzero = true;
		if (seen_nonzero)
			sig++;
	}
	if (dot && (dot + 1 == end || end[-1] == '0'))
		return false;
	return sig <= 15;
}

/* Go json.Marshal of the decoded value (map keys sorted). */
static void render(struct json_stage *s, uint32_t idx, struct lf_buf *out)
{
	const struct lf_jnode *x = &s->jp.v[idx];
	switch (x->type) {
	case LF_J_NULL:
		lf_buf_appends(out, "null");
		return;
	case LF_J_TRUE:
		lf_buf_appends(out, "true");
		return;
	case LF_J_FALSE:
		lf_buf_appends(out, "false");
		return;
	case LF_J_NUM:
		lf_fmt_json_float(out, num_value(x));
		return;
	case LF_J_STR: {
		struct lf_buf u = LF_BUF_INIT;
		lf_json_unescape_go(x->s, x->len, &u);
		lf_json_append_string(out, u.data ? u.data : "", u.len);
		lf_buf_free(&u);
		return;
	}
	case LF_J_ARR:
		lf_buf_putc(out, '[');
		for (uint32_t c = x->child; c; c = s->jp.v[c].next) {
			if (c != x->child)
				lf_buf_putc(out, ',');
			render(s, c, out);
		}
		lf_buf_putc(out, ']');
		return;
	case LF_J_OBJ: {
		size_t n = x->count;
		struct member *m = calloc(n ? n : 1, sizeof *m);
		struct lf_buf keys = LF_BUF_INIT;
		if (!m)
			return;
		/* unescape keys into one buffer; offsets first, pointers after */
		size_t k = 0;
		size_t *offs = calloc(n ? n : 1, sizeof *offs);
		for (uint32_t c = x->child; c && offs; c = s->jp.v[c].next, k++) {
			offs[k] = keys.len;
			lf_json_unescape_go(s->jp.v[c].key, s->jp.v[c].key_len, &keys);
			m[k].key_len = keys.len - offs[k];
			m[k].node = c;
			m[k].pos = k;
		}
		for (size_t i = 0; offs && i < n; i++)
			m[i].key = keys.data ? keys.data + offs[i] : "";
		qsort(m, n, sizeof *m, member_cmp);
		lf_buf_putc(out, '{');
		bool any = false;
		for (size_t i = 0; offs && i < n; i++) {
			/* duplicates: keep the last one */
			if (i + 1 < n && m[i + 1].key_len == m[i].key_len &&
			    memcmp(m[i + 1].key, m[i].key, m[i].key_len) == 0)
				continue;
			if (any)
				lf_buf_putc(out, ',');
			any = true;
			lf_json_append_string(out, m[i].key, m[i].key_len);
			lf_buf_putc(out, ':');
			render(s, m[i].node, out);
		}
		lf_buf_putc(out, '}');
		free(offs);
		free(m);
		lf_buf_free(&keys);
		return;
	}
	}
}

static const char *const json_keys[] = {"expressions", "source", "drop_malformed", NULL};

static void json_free(void *state)
{
	struct json_stage *s = state;
	for (size_t i = 0; s->paths && i < s->exprs.n; i++)
		jpath_free(&s->paths[i]);
	free(s->paths);
	free(s->ex);
	free(s->by_len);
	lf_strmap_free(&s->exprs);
	free(s->source);
	free(s->jp.v);
	lf_buf_free(&s->val);
	lf_buf_free(&s->key);
	lf_buf_free(&s->tmp);
	lf_buf_free(&s->src);
	free(s);
}

static int json_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                       struct lf_error *err)
{
	if (!cfg || cfg->kind == LF_Y_NULL)
		return lf_y_err(err, cfg, ctx->path, "empty json stage configuration");
	if (lf_ymap_check(cfg, ctx->path, json_keys, err) < 0)
		return -1;
	struct json_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->sh = ctx->sh;
	char epath[600];
	snprintf(epath, sizeof epath, "%s.expressions", ctx->path);
	const struct lf_ynode *ex = lf_ymap_get(cfg, "expressions");
	if (lf_strmap_read(ex, epath, &s->exprs, err) < 0 ||
	    lf_stage_source(cfg, ctx, &s->source, err) < 0 ||
	    lf_ymap_bool(cfg, ctx->path, "drop_malformed", &s->drop_malformed, err) < 0) {
		json_free(s);
		return -1;
	}
	if (!s->exprs.n) {
		json_free(s);
		return lf_y_err(err, ex ? ex : cfg, ctx->path, "JMES expression is required");
	}
	s->paths = calloc(s->exprs.n, sizeof *s->paths);
	s->ex = calloc(s->exprs.n, sizeof *s->ex);
	s->by_len = malloc(s->exprs.n * sizeof *s->by_len);
	if (!s->paths || !s->ex || !s->by_len) {
		json_free(s);
		return lf_err(err, "out of memory");
	}
	for (size_t i = 0; i < s->exprs.n; i++) {
		const char *e =
		        s->exprs.vals[i] && *s->exprs.vals[i] ? s->exprs.vals[i] : s->exprs.keys[i];
		long bad = jpath_parse(e, &s->paths[i]);
		if (bad >= 0) {
			const struct lf_ynode *n =
			        ex->pairs[i].value && ex->pairs[i].value->kind == LF_Y_SCALAR
			                ? ex->pairs[i].value
			                : ex->pairs[i].key;
			char kp[700];
			snprintf(kp, sizeof kp, "%s.%s", epath, s->exprs.keys[i]);
			lf_y_err(err, n, kp,
			         "could not compile JMES expression %s: unsupported syntax at "
			         "offset "
			         "%ld (supported: a.b.c, \"quoted.key\", [index])",
			         e, bad);
			json_free(s);
			return -1;
		}
	}
	/* ex: the expressions sorted by name (insertion sort, stable) */
	for (size_t i = 0; i < s->exprs.n; i++) {
		size_t k = i;
		for (; k > 0 && strcmp(s->ex[k - 1].name, s->exprs.keys[i]) > 0; k--)
			s->ex[k] = s->ex[k - 1];
		const struct jpath *p = &s->paths[i];
		bool key0 = p->steps[0].kind == STEP_FIELD && p->steps[0].field_len < 64;
		s->ex[k] = (struct jexpr){.name = s->exprs.keys[i],
		                          .name_len = strlen(s->exprs.keys[i]),
		                          .path = p,
		                          .key0 = key0 ? p->steps[0].field : NULL,
		                          .key0_len = key0 ? p->steps[0].field_len : 0,
		                          .first = -1,
		                          .live = true};
	}
	s->distinct = true;
	for (size_t k = 1; k < s->exprs.n; k++)
		if (strcmp(s->ex[k - 1].name, s->ex[k].name) == 0)
			s->distinct = false;
	/* bucket the key0s by length (counting sort) */
	for (size_t k = 0; k < s->exprs.n; k++) {
		if (s->ex[k].key0) {
			s->root_lens |= 1ull << s->ex[k].key0_len;
			s->by_len_start[s->ex[k].key0_len + 1]++;
		}
	}
	for (size_t l = 1; l <= 64; l++)
		s->by_len_start[l] += s->by_len_start[l - 1];
	uint32_t fill[64];
	memcpy(fill, s->by_len_start, sizeof fill);
	for (size_t k = 0; k < s->exprs.n; k++)
		if (s->ex[k].key0)
			s->by_len[fill[s->ex[k].key0_len]++] = (uint32_t)k;
	s->any_live = true;
	*state = s;
	return 0;
}

static enum lf_pipe_result json_process(void *state, struct lf_entry *e,
                                        const struct lf_chain *rest)
{
	(void)rest;
	struct json_stage *s = state;
	const char *in;
	size_t n;
	if (!s->any_live && !s->drop_malformed)
		return LF_PIPE_EMITTED; /* nothing it sets is ever read */
	/* The parse tree points into the input: a source value is copied
	 * (extracted changes below); the line is not touched by them. */
	if (!lf_stage_input(s->sh, "json", s->source, e, &s->src, &in, &n))
		return LF_PIPE_EMITTED;
	if (in[n] != '\0') {
		/* lf_buf keeps its data NUL-terminated; copy in case a stage
		 * wrote the line buffer without it (json_parse needs the NUL) */
		lf_buf_reset(&s->src);
		lf_buf_append(&s->src, in, n);
		in = s->src.data ? s->src.data : "";
		n = s->src.len; /* shorter only on ENOMEM */
	}
	if (lf_jparse(&s->jp, in, n) < 0 ||
	    (s->jp.v[0].type != LF_J_OBJ && s->jp.v[0].type != LF_J_NULL)) {
		if (s->drop_malformed) {
			lf_stage_count_drop(s->sh, "json_malformed");
			return LF_PIPE_DROPPED;
		}
		lf_stage_count_error(s->sh, "json", "malformed_json");
		return LF_PIPE_EMITTED;
	}
	if (s->jp.v[0].type == LF_J_OBJ)
		root_lookup(s);
	/* n_mine: ls->n right after this stage appended the previous value in
	 * place; while it still holds, the next (greater) name is known to
	 * sort after every present one */
	size_t n_mine = SIZE_MAX;
	for (size_t k = 0; k < s->exprs.n; k++) {
		const struct jexpr *j = &s->ex[k];
		if (!j->live)
			continue;
		long idx = eval_expr(s, j);
		if (idx < 0) {
			lf_labels_del(&e->extracted, j->name);
			continue;
		}
		const struct lf_jnode *x = &s->jp.v[idx];
		/* Stored directly (lf_labels_put_sorted, stage.h) when the value holds no NUL: a
		 * string without escapes (the scan rejects control bytes), a
		 * number token, true/false. Decoded values go through
		 * lf_labels_setn, which cuts them at a NUL (from \u0000). */
		const char *v;
		size_t vn;
		switch (x->type) {
		case LF_J_STR:
			if (!x->esc && (x->ascii || lf_utf8_valid(x->s, x->len))) {
				v = x->s;
				vn = x->len;
				goto put;
			}
			lf_buf_reset(&s->val);
			lf_json_unescape_go(x->s, x->len, &s->val);
			break;
		case LF_J_NUM:
			if (num_canonical(x)) {
				v = x->s;
				vn = x->len;
				goto put;
			}
			lf_buf_reset(&s->val);
			lf_fmt_go_float(&s->val, num_value(x));
			break;
		case LF_J_TRUE:
			v = "true";
			vn = 4;
			goto put;
		case LF_J_FALSE:
			v = "false";
			vn = 5;
			goto put;
		default:
			lf_buf_reset(&s->val);
			render(s, (uint32_t)idx, &s->val);
		}
		lf_labels_setn(&e->extracted, j->name, j->name_len, s->val.data ? s->val.data : "",
		               s->val.len);
		n_mine = SIZE_MAX;
		continue;
	put:
		n_mine = lf_labels_put_sorted(&e->extracted, j->name, j->name_len, v, vn,
		                              s->distinct && e->extracted.n == n_mine) > 0
		                 ? e->extracted.n
		                 : SIZE_MAX;
	}
	return LF_PIPE_EMITTED;
}

static void json_reads(void *state, struct lf_keyset *ks)
{
	struct json_stage *s = state;
	lf_keyset_add(ks, s->source);
}

static void json_set_live(void *state, const struct lf_keyset *live)
{
	struct json_stage *s = state;
	s->any_live = false;
	for (size_t k = 0; k < s->exprs.n; k++) {
		s->ex[k].live = lf_keyset_has(live, s->ex[k].name);
		s->any_live |= s->ex[k].live;
	}
}

const struct lf_stage_ops lf_stage_json = {
        .kind = "json",
        .create = json_create,
        .process = json_process,
        .free = json_free,
        .reads = json_reads,
        .set_live = json_set_live,
};
