/* stage_cri.c — `cri: {}`: the CRI log format of containerd and CRI-O,
 *   <RFC3339Nano time> <stdout|stderr> <flags> <content>
 * with Promtail's semantics: the line must match
 *   ^(?s)(?P<time>\S+?) (?P<stream>stdout|stderr) (?P<flags>\S+?) (?P<content>.*)$
 * (parsed here by hand, no regex: this is the hottest stage), then
 * extracted {time, stream, flags, content}, label stream, timestamp from
 * time (RFC3339Nano; on failure the last good timestamp of the stream + 1ns,
 * "fudge"), line := content. A line that does not match passes unchanged
 * (timestamp fudged when the stream had a good one).
 *
 * Partial lines (flags "P") are joined per label set until the "F" line:
 * the joined entry is the F entry with the concatenated line. At most
 * max_partial_lines (100) label sets are held; one more releases all of
 * them. max_partial_line_size with max_partial_line_size_truncate cuts the
 * joined line. Promtail has no time-based release and neither has this
 * stage; lf_pipeline_flush releases what is held. Memory guard (not in
 * Promtail): a held line that would grow past 4 MiB without truncation is
 * released as is and a new one is started (counted as a runtime error). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/gotime.h"
#include "../common/timeutil.h"
#include "stage.h"

#define CRI_HARD_MAX (4u << 20)

struct cri_stage {
	int64_t max_partial_lines;
	int64_t max_line_size;
	bool truncate;
	struct lf_smap partials; /* label set -> struct lf_entry * */
	struct lf_ts_fudge fudge;
	struct lf_rfc3339_cache tcache;
	struct lf_pipe_shared *sh;
	bool at_start;                        /* first stage: extracted map is fresh */
	struct lf_gotime_layout *rfc3339nano; /* for the shapes the fast parser refuses */
	/* Which of its extracted values later stages may read (all until
	 * set_live says otherwise). */
	bool live_time, live_stream, live_flags, live_content;
};

static const char *const cri_keys[] = {"max_partial_lines", "max_partial_line_size",
                                       "max_partial_line_size_truncate", NULL};

static void held_free(void *p)
{
	lf_entry_free(p);
	free(p);
}

static void cri_free(void *state)
{
	struct cri_stage *s = state;
	lf_smap_free(&s->partials);
	lf_ts_fudge_free(&s->fudge);
	lf_gotime_layout_free(s->rfc3339nano);
	free(s);
}

static int cri_create(const struct lf_ynode *cfg, struct lf_stage_ctx *ctx, void **state,
                      struct lf_error *err)
{
	if (lf_ymap_check(cfg, ctx->path, cri_keys, err) < 0)
		return -1;
	struct cri_stage *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->sh = ctx->sh;
	s->at_start = ctx->at_start;
	s->live_time = s->live_stream = s->live_flags = s->live_content = true;
	lf_smap_init(&s->partials, 0, held_free);
	lf_ts_fudge_init(&s->fudge);
	if (lf_ymap_int(cfg, ctx->path, "max_partial_lines", &s->max_partial_lines, err) < 0 ||
	    lf_ymap_size(cfg, ctx->path, "max_partial_line_size", &s->max_line_size, err) < 0 ||
	    lf_ymap_bool(cfg, ctx->path, "max_partial_line_size_truncate", &s->truncate, err) < 0) {
		cri_free(s);
		return -1;
	}
	if (s->max_partial_lines == 0)
		s->max_partial_lines = 100;
	if (lf_gotime_layout_new("RFC3339Nano", &s->rfc3339nano, err) < 0) {
		cri_free(s);
		return -1;
	}
	*state = s;
	return 0;
}

/* RE2 \s is [\t\n\f\r ]; \S is everything else. */
static inline bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/* Length of the \S+ run at p (RE2 \s is [\t\n\f\r ]); p[result] is the
 * whitespace byte after it, or result == n. Bytes above ' ' are the fast
 * case: 8 at a time, and the first byte <= ' ' of a word is found with
 * ctz (the classic "has a byte less than 0x21" mask is exact for its
 * lowest set bit: a borrow only runs towards higher bytes). */
static inline size_t nonspace_run(const char *p, size_t n)
{
	size_t i = 0;
	for (;;) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		for (; i + 8 <= n; i += 8) {
			uint64_t w;
			memcpy(&w, p + i, 8);
			uint64_t m = (w - 0x2121212121212121ULL) & ~w & 0x8080808080808080ULL;
			if (m) {
				i += (size_t)__builtin_ctzll(m) / 8;
				goto found;
			}
		}
#endif
		while (i < n && (unsigned char)p[i] > ' ')
			i++;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	found:
#endif
		if (i < n && !is_space((unsigned char)p[i]))
			i++; /* a control byte other than whitespace is \S too */
		else
			return i;
	}
}

/* Splits a CRI line. Returns false when it does not match the regex. */
static bool cri_split(const char *p, size_t n, size_t *time_len, size_t *stream_off,
                      size_t *flags_off, size_t *flags_len, size_t *content_off)
{
	/* time: \S+? followed by " " -- the lazy run can only end at the first
	 * space, and must not meet another whitespace byte first */
	size_t t = nonspace_run(p, n);
	if (t == 0 || t >= n || p[t] != ' ')
		return false;
	size_t so = t + 1;
	if (n - so < 7 || p[so + 6] != ' ' ||
	    (memcmp(p + so, "stdout", 6) != 0 && memcmp(p + so, "stderr", 6) != 0))
		return false;
	size_t fo = so + 7;
	size_t fl = nonspace_run(p + fo, n - fo);
	if (fl == 0 || fo + fl >= n || p[fo + fl] != ' ')
		return false;
	*time_len = t;
	*stream_off = so;
	*flags_off = fo;
	*flags_len = fl;
	*content_off = fo + fl + 1;
	return true;
}

static void truncate_line(struct cri_stage *s, struct lf_entry *e)
{
	if (s->truncate && (int64_t)e->line.len > s->max_line_size) {
		e->line.len = (size_t)s->max_line_size;
		e->line.data[e->line.len] = '\0';
	}
}

/* Releases every held entry (insertion order) through rest. */
static void release_all(struct cri_stage *s, const struct lf_chain *rest)
{
	size_t n;
	struct lf_smap_slot **v = lf_smap_ordered(&s->partials, &n);
	if (!v)
		return;
	struct lf_entry **held = malloc((n ? n : 1) * sizeof *held);
	if (!held) {
		free(v);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		held[i] = v[i]->val;
		v[i]->val = NULL; /* ownership moves here */
	}
	free(v);
	lf_smap_free(&s->partials);
	lf_smap_init(&s->partials, 0, held_free);
	for (size_t i = 0; i < n; i++) {
		lf_chain_run(rest, held[i]);
		held_free(held[i]);
	}
	free(held);
}

static enum lf_pipe_result hold_new(struct cri_stage *s, struct lf_entry *e, uint64_t h)
{
	bool created;
	struct lf_smap_slot *slot = lf_smap_put(&s->partials, &e->labels, h, &created);
	if (!slot)
		return LF_PIPE_EMITTED; /* out of memory: let it through unjoined */
	struct lf_entry *held = slot->val;
	if (!held) {
		held = malloc(sizeof *held);
		if (!held) {
			lf_smap_del(&s->partials, slot);
			return LF_PIPE_EMITTED;
		}
		lf_entry_init(held);
		slot->val = held;
	}
	lf_entry_copy(held, e);
	truncate_line(s, held);
	return LF_PIPE_HELD;
}

static enum lf_pipe_result cri_process(void *state, struct lf_entry *e, const struct lf_chain *rest)
{
	struct cri_stage *s = state;
	/* Promtail's cri is a nested pipeline: the extracted map gets the
	 * labels again (they may have changed since the pipeline started). */
	if (!s->at_start)
		lf_extracted_init(e);
	const char *p = e->line.data ? e->line.data : "";
	size_t n = e->line.len;
	size_t tl, so, fo, fl, co;
	bool ok = cri_split(p, n, &tl, &so, &fo, &fl, &co);
	bool partial;
	if (ok) {
		if (s->live_time)
			lf_labels_setn(&e->extracted, "time", 4, p, tl);
		if (s->live_stream)
			lf_labels_setn_nonul(&e->extracted, "stream", 6, p + so, 6);
		if (s->live_flags)
			lf_labels_setn(&e->extracted, "flags", 5, p + fo, fl);
		if (s->live_content)
			lf_labels_setn(&e->extracted, "content", 7, p + co, n - co);
		partial = fl == 1 && p[fo] == 'P';
		/* "stdout" or "stderr": no NUL to look for */
		lf_labels_setn_nonul(&e->labels, "stream", 6, p + so, 6);
		int64_t ts;
		if (lf_parse_rfc3339_fast(&s->tcache, p, tl, &ts) == 0 ||
		    (s->rfc3339nano &&
		     lf_gotime_parse(s->rfc3339nano, p, tl, NULL, 0, &ts, NULL) == 0)) {
			e->ts_ns = ts;
			lf_ts_fudge_good(&s->fudge, &e->labels, ts);
		} else {
			lf_stage_count_error(s->sh, "cri", "bad_timestamp");
			lf_ts_fudge_fail(&s->fudge, &e->labels, &e->ts_ns);
		}
		/* line := content (a suffix of the line). */
		memmove(e->line.data, e->line.data + co, n - co);
		e->line.len = n - co;
		e->line.data[e->line.len] = '\0';
	} else {
		lf_stage_count_error(s->sh, "cri", "not_cri_format");
		lf_ts_fudge_fail(&s->fudge, &e->labels, &e->ts_ns);
		/* Promtail tests extracted["flags"], here whatever was there */
		const char *flags = lf_extracted_get(e, "flags");
		partial = flags && flags[0] == 'P' && flags[1] == '\0';
	}

	if (!partial && s->partials.n == 0)
		return LF_PIPE_EMITTED; /* the common case */
	uint64_t h = lf_labels_hash(&e->labels);
	struct lf_smap_slot *slot = lf_smap_get(&s->partials, &e->labels, h);
	if (partial) {
		if (!slot && (int64_t)s->partials.n >= s->max_partial_lines) {
			/* Promtail: flush every held stream, hold the new one. */
			release_all(s, rest);
			return hold_new(s, e, h);
		}
		if (!slot)
			return hold_new(s, e, h);
		struct lf_entry *held = slot->val;
		if (!s->truncate && held->line.len + e->line.len > CRI_HARD_MAX) {
			lf_stage_count_error(s->sh, "cri", "partial_line_too_long");
			struct lf_entry *out = held;
			slot->val = NULL;
			lf_smap_del(&s->partials, slot);
			lf_chain_run(rest, out);
			held_free(out);
			return hold_new(s, e, h);
		}
		lf_buf_append(&held->line, e->line.data, e->line.len);
		lf_entry_copy_meta(held, e);
		truncate_line(s, held);
		return LF_PIPE_HELD;
	}
	if (!slot)
		return LF_PIPE_EMITTED;
	/* F line: the F entry with the held line in front. */
	struct lf_entry *held = slot->val;
	lf_buf_append(&held->line, e->line.data, e->line.len);
	struct lf_buf tmp = e->line;
	e->line = held->line;
	held->line = tmp;
	e->origin = held->origin;
	e->seq_first = held->seq_first;
	truncate_line(s, e);
	lf_smap_del(&s->partials, slot);
	return LF_PIPE_EMITTED;
}

static void cri_flush(void *state, const struct lf_chain *rest)
{
	release_all(state, rest);
}

static void cri_reads(void *state, struct lf_keyset *ks)
{
	(void)state;
	lf_keyset_add(ks, "flags");
}

static void cri_set_live(void *state, const struct lf_keyset *live)
{
	struct cri_stage *s = state;
	s->live_time = lf_keyset_has(live, "time");
	s->live_stream = lf_keyset_has(live, "stream");
	s->live_flags = lf_keyset_has(live, "flags");
	s->live_content = lf_keyset_has(live, "content");
}

const struct lf_stage_ops lf_stage_cri = {
        .kind = "cri",
        .create = cri_create,
        .process = cri_process,
        .flush = cri_flush,
        .free = cri_free,
        .reads = cri_reads,
        .set_live = cri_set_live,
};
