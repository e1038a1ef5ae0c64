/* query.c — see query.h. */
#include "query.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunk.h"
#include "codec.h"
#include "log.h"
#include "memfind.h"
#include "timeutil.h"

/* ---- JSON ---- */

static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t k;
	uint32_t cp;
	if (c >= 0xc2 && c <= 0xdf) {
		k = 1;
		cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		k = 2;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 3;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (k >= n)
		return 0;
	for (size_t j = 1; j <= k; j++) {
		if ((s[j] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[j] & 0x3f);
	}
	if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k + 1;
}

void lf_json_str(struct lf_buf *b, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	if (lf_buf_reserve(b, n + 2) < 0)
		return;
	lf_buf_putc(b, '"');
	size_t i = 0, run = 0;
	while (i < n) {
		unsigned char c = s[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			run++;
			continue;
		}
		if (run) {
			lf_buf_append(b, s + i - run, run);
			run = 0;
		}
		if (c < 0x80) {
			char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			if (c == '"' || c == '\\') {
				esc[1] = (char)c;
				lf_buf_append(b, esc, 2);
			} else if (c == '\n') {
				lf_buf_append(b, "\\n", 2);
			} else if (c == '\r') {
				lf_buf_append(b, "\\r", 2);
			} else if (c == '\t') {
				lf_buf_append(b, "\\t", 2);
			} else {
				lf_buf_append(b, esc, 6);
			}
			i++;
			continue;
		}
		size_t k = utf8_seq(s + i, n - i);
		if (!k) {
			lf_buf_append(b, "\\ufffd", 6);
			i++;
			continue;
		}
		lf_buf_append(b, s + i, k);
		i += k;
	}
	if (run)
		lf_buf_append(b, s + n - run, run);
	lf_buf_putc(b, '"');
}

void lf_json_labels(struct lf_buf *b, const struct lf_labels *ls)
{
	lf_buf_putc(b, '{');
	for (size_t i = 0; i < ls->n; i++) {
		if (i)
			lf_buf_putc(b, ',');
		lf_json_str(b, ls->v[i].name, strlen(ls->v[i].name));
		lf_buf_putc(b, ':');
		lf_json_str(b, ls->v[i].value, strlen(ls->v[i].value));
	}
	lf_buf_putc(b, '}');
}

/* ---- the collector: a bounded heap of the best entries ---- */

struct hit {
	int64_t ts;
	uint64_t seq; /* scan order, breaks ties */
	uint32_t sidx;
	uint32_t n_sm; /* with a pipeline (sidx = PIPE_SIDX): the full output label set */
	char *data;    /* line then encoded metadata, one allocation */
	size_t line_len, sm_len;
};

struct qstream {
	struct lf_stream *s;
};

/* With a label-changing pipeline, hits carry their whole output label set
 * (encoded where the metadata goes) and share this stream index, so that
 * equal output sets group into one result stream, as Loki's do. */
#define PIPE_SIDX UINT32_MAX

struct coll {
	struct hit *h;
	size_t n, cap, limit;
	bool forward;
	uint64_t seq;
	int64_t start, end;
	const struct lf_selector *sel;
	struct lf_query_stats *st;
	/* A `|= "x"` filter every matching line must pass: a block whose bytes
	 * do not contain x at all is skipped without walking its entries. */
	const char *needle;
	size_t needle_len;
	/* the LogQL pipeline after the selector (NULL: none) and its scratch */
	struct lf_lq_pipeline *pipe;
	bool pipe_labels; /* the pipeline may change labels */
	const struct qstream *qs;
	struct lf_labels in;
	struct lf_buf enc;
	struct lf_buf raw; /* sealed head blocks decompress here */
};

/* a is better than b: kept in preference. */
static inline bool better(const struct coll *c, int64_t ats, uint64_t aseq, int64_t bts,
                          uint64_t bseq)
{
	if (ats != bts)
		return c->forward ? ats < bts : ats > bts;
	return aseq < bseq;
}

/* Could an entry at ts enter the heap? */
static inline bool can_accept(const struct coll *c, int64_t ts)
{
	if (c->n < c->limit)
		return true;
	const struct hit *w = &c->h[0];
	return c->forward ? ts < w->ts : ts > w->ts;
}

/* Could anything in [from, through] enter? */
static inline bool range_can_accept(const struct coll *c, int64_t from, int64_t through)
{
	if (from >= c->end || through < c->start)
		return false;
	return can_accept(c, c->forward ? from : through);
}

static void sift_down(struct coll *c, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, w = i;
		/* parent must be worse than children: pick the worst child */
		if (l < c->n && better(c, c->h[w].ts, c->h[w].seq, c->h[l].ts, c->h[l].seq))
			w = l;
		if (r < c->n && better(c, c->h[w].ts, c->h[w].seq, c->h[r].ts, c->h[r].seq))
			w = r;
		if (w == i)
			return;
		struct hit t = c->h[i];
		c->h[i] = c->h[w];
		c->h[w] = t;
		i = w;
	}
}

static void sift_up(struct coll *c, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!better(c, c->h[p].ts, c->h[p].seq, c->h[i].ts, c->h[i].seq))
			return;
		struct hit t = c->h[i];
		c->h[i] = c->h[p];
		c->h[p] = t;
		i = p;
	}
}

/* Considers one entry (already known to be in range). */
static void offer(struct coll *c, uint32_t sidx, const struct lf_sentry *e)
{
	uint64_t seq = c->seq++;
	if (!can_accept(c, e->ts))
		return;
	if (c->sel && !lf_selector_match_line(c->sel, e->line, e->line_len))
		return;
	const char *line = e->line, *sm = (const char *)e->sm;
	size_t line_len = e->line_len, smlen = (size_t)(e->sm_end - e->sm);
	uint32_t n_sm = (uint32_t)e->n_sm;
	if (c->pipe) {
		const struct lf_labels *in = &c->qs[sidx].s->labels;
		if (e->n_sm && c->pipe_labels) {
			/* structured metadata joins the labels the pipeline sees */
			lf_labels_copy(&c->in, in);
			struct lf_rd r = {e->sm, e->sm_end, 0};
			for (size_t k = 0; k < e->n_sm && !r.bad; k++) {
				size_t nl, vl;
				const char *n = lf_rd_bytes(&r, &nl);
				const char *v = lf_rd_bytes(&r, &vl);
				if (!r.bad)
					lf_labels_setn(&c->in, n, nl, v, vl);
			}
			in = &c->in;
		}
		struct lf_lq_out o;
		if (lf_lq_pipeline_process(c->pipe, e->ts, e->line, e->line_len, in, &o) != 1)
			return;
		line = o.line;
		line_len = o.len;
		if (c->pipe_labels) {
			lf_buf_reset(&c->enc);
			for (size_t k = 0; k < o.labels->n; k++) {
				const struct lf_label *l = &o.labels->v[k];
				lf_buf_bytes(&c->enc, l->name, l->name_len);
				lf_buf_bytes(&c->enc, l->value, l->value_len);
			}
			sidx = PIPE_SIDX;
			sm = c->enc.data;
			smlen = c->enc.len;
			n_sm = (uint32_t)o.labels->n;
		}
	}
	c->st->post_filter_lines++;
	char *data = malloc(line_len + smlen + 1);
	if (!data)
		return;
	memcpy(data, line, line_len);
	if (smlen)
		memcpy(data + line_len, sm, smlen);
	struct hit h = {e->ts, seq, sidx, n_sm, data, line_len, smlen};
	if (c->n < c->limit) {
		if (c->n == c->cap) {
			/* grown on demand: a big limit costs nothing until it is filled */
			size_t nc = c->cap * 2 < c->limit ? c->cap * 2 : c->limit;
			struct hit *v = realloc(c->h, nc * sizeof(*v));
			if (!v) {
				free(data);
				return;
			}
			c->h = v;
			c->cap = nc;
		}
		c->h[c->n++] = h;
		sift_up(c, c->n - 1);
	} else {
		free(c->h[0].data);
		c->h[0] = h;
		sift_down(c, 0);
	}
}

/* With a needle, lines are only handed to the filters when the next
 * occurrence of the needle in the buffer falls inside them: one search over
 * the buffer replaces one per line. */
static inline bool needle_may_match(const struct coll *c, const char **next, const char *end,
                                    const struct lf_sentry *e)
{
	if (!c->needle)
		return true;
	if (*next < e->line) {
		const char *p =
		        lf_memfind(e->line, (size_t)(end - e->line), c->needle, c->needle_len);
		*next = p ? p : end;
	}
	return *next < e->line + e->line_len;
}

static void scan_head(struct coll *c, uint32_t sidx, const struct lf_head *h, uint64_t *lines,
                      uint64_t *bytes)
{
	struct lf_head_iter it;
	struct lf_sentry e;
	lf_head_iter_init(&it, h, c->start, c->end - 1, &c->raw);
	while (lf_head_iter_span(&it)) {
		const char *end = (const char *)it.rd.end, *next = NULL;
		while (lf_head_iter_entry(&it, &e)) {
			if (e.ts < c->start || e.ts >= c->end)
				continue;
			(*lines)++;
			*bytes += e.line_len;
			if (needle_may_match(c, &next, end, &e))
				offer(c, sidx, &e);
		}
	}
	if (it.damaged)
		lf_warn("query: %u damaged head blocks skipped", it.damaged);
}

struct cref {
	uint32_t sidx;
	int64_t from, through;
	char *path;
};

static int cref_cmp_fwd(const void *a, const void *b)
{
	const struct cref *x = a, *y = b;
	return x->from < y->from ? -1 : x->from > y->from;
}

static int cref_cmp_bwd(const void *a, const void *b)
{
	const struct cref *x = a, *y = b;
	return x->through > y->through ? -1 : x->through < y->through;
}

static void scan_chunk(struct coll *c, struct lf_tenant *t, const struct cref *cr,
                       struct lf_chunk_reader *rd)
{
	struct lf_error err;
	if (lf_chunk_open(cr->path, rd, &err) < 0) {
		if (errno != ENOENT || access(cr->path, F_OK) == 0) {
			lf_warn("query: %s; chunk skipped", err.msg);
			c->st->corrupt_blocks++;
			const char *lv[] = {t->id};
			lf_metric_inc(t->m->corrupt_blocks, lv);
		}
		return;
	}
	c->st->chunks_read++;
	for (uint32_t k = 0; k < rd->n_blocks; k++) {
		uint32_t i = c->forward ? k : rd->n_blocks - 1 - k;
		struct lf_chunk_block_info bi;
		lf_chunk_block(rd, i, &bi);
		if (!range_can_accept(c, bi.min_ts, bi.max_ts)) {
			c->st->blocks_skipped++;
			continue;
		}
		if (lf_chunk_read_block(rd, i, &err) < 0) {
			lf_warn("query: chunk %s: %s; block skipped (%u entries)", cr->path,
			        err.msg, bi.entries);
			c->st->corrupt_blocks++;
			const char *lv[] = {t->id};
			lf_metric_inc(t->m->corrupt_blocks, lv);
			continue;
		}
		c->st->blocks_read++;
		c->st->compressed_bytes += bi.comp_len;
		if (c->needle && bi.min_ts >= c->start && bi.max_ts < c->end &&
		    !lf_memfind(rd->raw.data, rd->raw.len, c->needle, c->needle_len)) {
			c->st->chunk_lines += bi.entries;
			c->st->chunk_bytes += bi.raw_len;
			continue;
		}
		struct lf_chunk_iter it;
		lf_chunk_iter_init(&it, rd, &bi);
		struct lf_sentry e;
		int rc;
		const char *end = rd->raw.data + rd->raw.len, *next = NULL;
		while ((rc = lf_chunk_iter_next(&it, &e)) == 1) {
			if (e.ts < c->start || e.ts >= c->end)
				continue;
			c->st->chunk_lines++;
			c->st->chunk_bytes += e.line_len;
			if (needle_may_match(c, &next, end, &e))
				offer(c, cr->sidx, &e);
		}
		if (rc < 0)
			lf_warn("query: chunk %s: block %u: malformed entry, rest of block skipped",
			        cr->path, i);
	}
	lf_chunk_close(rd);
}

/* Sort for output: by stream, then metadata, then time per direction.
 * qsort has no context argument: the direction is per thread. */
static __thread bool t_forward;
static int hit_cmp(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	if (x->sidx != y->sidx)
		return x->sidx < y->sidx ? -1 : 1;
	if (x->sm_len != y->sm_len)
		return x->sm_len < y->sm_len ? -1 : 1;
	int m = memcmp(x->data + x->line_len, y->data + y->line_len, x->sm_len);
	if (m)
		return m;
	if (x->ts != y->ts)
		return (x->ts < y->ts) == t_forward ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int qstream_cmp(const void *a, const void *b)
{
	const struct qstream *x = a, *y = b;
	return strcmp(x->s->key, y->s->key);
}

int lf_query_logs(struct lf_tenant *t, const struct lf_log_query *q, struct lf_buf *out,
                  struct lf_query_stats *st, struct lf_error *err)
{
	int64_t t0 = lf_monotonic_ns();
	memset(st, 0, sizeof(*st));
	lf_buf_putc(out, '[');
	if (!t || q->limit == 0 || q->start >= q->end) {
		lf_buf_putc(out, ']');
		st->exec_ns = lf_monotonic_ns() - t0;
		return 0;
	}
	struct coll c = {.limit = q->limit,
	                 .forward = q->forward,
	                 .start = q->start,
	                 .end = q->end,
	                 .sel = q->sel,
	                 .st = st,
	                 .pipe = q->pipe};
	c.pipe_labels = q->pipe && !lf_lq_pipeline_is_filter_only(q->pipe);
	const struct lf_line_filter *lead = q->sel ? q->sel->filters : NULL;
	size_t n_lead = q->sel ? q->sel->n_filters : 0;
	if (q->pipe && !n_lead)
		n_lead = lf_lq_pipeline_leading_filters(q->pipe, &lead);
	for (size_t i = 0; i < n_lead; i++) {
		const struct lf_line_filter *f = &lead[i];
		if (f->op == LF_FILTER_CONTAINS && f->n_alts == 1 && f->alts[0].len > 0) {
			c.needle = f->alts[0].value;
			c.needle_len = f->alts[0].len;
			break;
		}
	}
	c.cap = q->limit < 256 ? q->limit : 256;
	c.h = malloc(c.cap * sizeof(*c.h));
	struct qstream *qs = NULL;
	size_t nqs = 0;
	struct cref *cr = NULL;
	size_t ncr = 0, capcr = 0;
	if (!c.h)
		return lf_err(err, "out of memory");

	pthread_rwlock_rdlock(&t->lock);
	qs = malloc((t->n_streams ? t->n_streams : 1) * sizeof(*qs));
	if (!qs) {
		pthread_rwlock_unlock(&t->lock);
		free(c.h);
		return lf_err(err, "out of memory");
	}
	for (size_t i = 0; i < t->n_streams; i++) {
		struct lf_stream *s = t->streams[i];
		if (!lf_stream_overlaps(s, q->start, q->end - 1) ||
		    !lf_selector_match_labels(q->sel, &s->labels))
			continue;
		qs[nqs++].s = s;
	}
	/* stable stream numbering: sorted by labels */
	if (nqs)
		qsort(qs, nqs, sizeof(*qs), qstream_cmp);
	c.qs = qs;
	for (size_t i = 0; i < nqs; i++) {
		struct lf_stream *s = qs[i].s;
		for (size_t j = 0; j < s->cold->n_chunks; j++) {
			const struct lf_chunk_ref *r = &s->cold->chunks[j];
			if (r->from >= q->end || r->through < q->start)
				continue;
			if (ncr == capcr) {
				capcr = capcr ? capcr * 2 : 64;
				struct cref *v = realloc(cr, capcr * sizeof(*v));
				if (!v)
					break;
				cr = v;
			}
			cr[ncr].sidx = (uint32_t)i;
			cr[ncr].from = r->from;
			cr[ncr].through = r->through;
			cr[ncr].path = lf_chunk_ref_path_new(t, s, r);
			if (cr[ncr].path)
				ncr++;
		}
	}
	/* Newest data is in the head: scanning it first fills a backward
	 * query's heap with the best candidates, so older chunks get skipped. */
	for (size_t i = 0; i < nqs; i++) {
		struct lf_stream *s = qs[i].s;
		scan_head(&c, (uint32_t)i, &s->head, &st->head_lines, &st->head_bytes);
		scan_head(&c, (uint32_t)i, &s->cold->flushing, &st->head_lines, &st->head_bytes);
	}
	pthread_rwlock_unlock(&t->lock);

	st->chunks_ref = ncr;
	if (ncr)
		qsort(cr, ncr, sizeof(*cr), q->forward ? cref_cmp_fwd : cref_cmp_bwd);
	struct lf_chunk_reader rd;
	memset(&rd, 0, sizeof(rd));
	for (size_t i = 0; i < ncr; i++) {
		if (range_can_accept(&c, cr[i].from, cr[i].through))
			scan_chunk(&c, t, &cr[i], &rd);
		free(cr[i].path);
	}
	free(cr);

	/* Render: group by stream + metadata. */
	t_forward = q->forward;
	if (c.n)
		qsort(c.h, c.n, sizeof(*c.h), hit_cmp);
	struct lf_labels ls = LF_LABELS_INIT;
	struct lf_buf nb = LF_BUF_INIT, vb = LF_BUF_INIT;
	bool first = true;
	for (size_t i = 0; i < c.n;) {
		size_t j = i + 1;
		while (j < c.n && c.h[j].sidx == c.h[i].sidx && c.h[j].sm_len == c.h[i].sm_len &&
		       !memcmp(c.h[j].data + c.h[j].line_len, c.h[i].data + c.h[i].line_len,
		               c.h[i].sm_len))
			j++;
		if (c.h[i].sidx == PIPE_SIDX)
			lf_labels_clear(&ls);
		else
			lf_labels_copy(&ls, &qs[c.h[i].sidx].s->labels);
		struct lf_rd r = {
		        (const unsigned char *)c.h[i].data + c.h[i].line_len,
		        (const unsigned char *)c.h[i].data + c.h[i].line_len + c.h[i].sm_len, 0};
		for (uint32_t k = 0; k < c.h[i].n_sm && !r.bad; k++) {
			size_t nl, vl;
			const char *n = lf_rd_bytes(&r, &nl);
			const char *v = lf_rd_bytes(&r, &vl);
			if (!r.bad)
				lf_labels_setn(&ls, n, nl, v, vl);
		}
		if (!first)
			lf_buf_putc(out, ',');
		first = false;
		lf_buf_appends(out, "{\"stream\":");
		lf_json_labels(out, &ls);
		lf_buf_appends(out, ",\"values\":[");
		for (size_t k = i; k < j; k++) {
			char ts[32];
			int tl = snprintf(ts, sizeof(ts), "%" PRId64, c.h[k].ts);
			if (k > i)
				lf_buf_putc(out, ',');
			lf_buf_appends(out, "[\"");
			lf_buf_append(out, ts, (size_t)tl);
			lf_buf_appends(out, "\",");
			lf_json_str(out, c.h[k].data, c.h[k].line_len);
			lf_buf_putc(out, ']');
		}
		lf_buf_appends(out, "]}");
		i = j;
	}
	lf_buf_putc(out, ']');
	st->returned = c.n;
	for (size_t i = 0; i < c.n; i++)
		free(c.h[i].data);
	free(c.h);
	free(qs);
	lf_labels_free(&ls);
	lf_labels_free(&c.in);
	lf_buf_free(&c.enc);
	lf_buf_free(&c.raw);
	lf_buf_free(&nb);
	lf_buf_free(&vb);
	st->exec_ns = lf_monotonic_ns() - t0;
	return 0;
}

/* Loki 2.8's stats.Result (logqlmodel/stats/stats.proto of v2.8): no
 * splits/shards, post-filter, structured-metadata or chunk-ref-time
 * fields yet (they came with 2.9 and 3.x); caches chunk/index/result. */
void lf_query_stats_json(const struct lf_query_stats *st, struct lf_buf *o)
{
	double secs = (double)st->exec_ns / 1e9;
	uint64_t lines = st->head_lines + st->chunk_lines;
	uint64_t bytes = st->head_bytes + st->chunk_bytes;
	double bps = secs > 0 ? (double)bytes / secs : 0, lps = secs > 0 ? (double)lines / secs : 0;
	lf_buf_printf(
	        o,
	        "{\"summary\":{\"bytesProcessedPerSecond\":%.0f,\"linesProcessedPerSecond\":%.0f,"
	        "\"totalBytesProcessed\":%" PRIu64 ",\"totalLinesProcessed\":%" PRIu64
	        ",\"execTime\":%.9f,\"queueTime\":0,\"subqueries\":0,\"totalEntriesReturned\":"
	        "%" PRIu64 "},",
	        bps, lps, bytes, lines, secs, st->returned);
	lf_buf_printf(o,
	              "\"querier\":{\"store\":{\"totalChunksRef\":%" PRIu64
	              ",\"totalChunksDownloaded\":%" PRIu64 ",\"chunksDownloadTime\":0,"
	              "\"chunk\":{\"headChunkBytes\":0,\"headChunkLines\":0,\"decompressedBytes\":"
	              "%" PRIu64 ",\"decompressedLines\":%" PRIu64 ",\"compressedBytes\":%" PRIu64
	              ",\"totalDuplicates\":0}}},",
	              st->chunks_ref, st->chunks_read, st->chunk_bytes, st->chunk_lines,
	              st->compressed_bytes);
	lf_buf_printf(
	        o,
	        "\"ingester\":{\"totalReached\":1,\"totalChunksMatched\":0,\"totalBatches\":0,"
	        "\"totalLinesSent\":0,\"store\":{\"totalChunksRef\":0,"
	        "\"totalChunksDownloaded\":0,\"chunksDownloadTime\":0,"
	        "\"chunk\":{\"headChunkBytes\":%" PRIu64 ",\"headChunkLines\":%" PRIu64
	        ",\"decompressedBytes\":0,\"decompressedLines\":0,\"compressedBytes\":0,"
	        "\"totalDuplicates\":0}}},",
	        st->head_bytes, st->head_lines);
	lf_buf_appends(o, "\"cache\":{");
	static const char *const caches[] = {"chunk", "index", "result"};
	for (size_t i = 0; i < 3; i++)
		lf_buf_printf(o,
		              "%s\"%s\":{\"entriesFound\":0,\"entriesRequested\":0,"
		              "\"entriesStored\":0,\"bytesReceived\":0,\"bytesSent\":0,"
		              "\"requests\":0,\"downloadTime\":0}",
		              i ? "," : "", caches[i]);
	lf_buf_appends(o, "}}");
}

/* ---- labels, values, series ---- */

static int cstr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void json_sorted_unique(struct lf_buf *out, const char **v, size_t n)
{
	if (n)
		qsort(v, n, sizeof(*v), cstr_cmp);
	lf_buf_putc(out, '[');
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (i && !strcmp(v[i], v[i - 1]))
			continue;
		if (w++)
			lf_buf_putc(out, ',');
		lf_json_str(out, v[i], strlen(v[i]));
	}
	lf_buf_putc(out, ']');
}

static int collect_labels(struct lf_tenant *t, const char *name, const struct lf_selector *sel,
                          int64_t start, int64_t end, struct lf_buf *out)
{
	if (!t) {
		lf_buf_appends(out, "[]");
		return 0;
	}
	const char **v = NULL;
	size_t n = 0, cap = 0;
	/* strings borrowed from immutable stream labels: valid after unlock */
	pthread_rwlock_rdlock(&t->lock);
	for (size_t i = 0; i < t->n_streams; i++) {
		struct lf_stream *s = t->streams[i];
		if (!lf_stream_overlaps(s, start, end))
			continue;
		if (sel && !lf_selector_match_labels(sel, &s->labels))
			continue;
		for (size_t k = 0; k < s->labels.n; k++) {
			const char *x;
			if (name) {
				if (strcmp(s->labels.v[k].name, name))
					continue;
				x = s->labels.v[k].value;
			} else {
				x = s->labels.v[k].name;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				const char **nv = realloc(v, cap * sizeof(*nv));
				if (!nv)
					break;
				v = nv;
			}
			v[n++] = x;
		}
	}
	pthread_rwlock_unlock(&t->lock);
	json_sorted_unique(out, v, n);
	free(v);
	return 0;
}

int lf_query_label_names(struct lf_tenant *t, const struct lf_selector *sel, int64_t start,
                         int64_t end, struct lf_buf *out)
{
	return collect_labels(t, NULL, sel, start, end, out);
}

int lf_query_label_values(struct lf_tenant *t, const char *name, const struct lf_selector *sel,
                          int64_t start, int64_t end, struct lf_buf *out)
{
	return collect_labels(t, name, sel, start, end, out);
}

int lf_query_series(struct lf_tenant *t, struct lf_selector *const *sels, size_t n_sels,
                    int64_t start, int64_t end, struct lf_buf *out)
{
	lf_buf_putc(out, '[');
	if (!t) {
		lf_buf_putc(out, ']');
		return 0;
	}
	struct qstream *v = NULL;
	size_t n = 0;
	pthread_rwlock_rdlock(&t->lock);
	v = malloc((t->n_streams ? t->n_streams : 1) * sizeof(*v));
	for (size_t i = 0; v && i < t->n_streams; i++) {
		struct lf_stream *s = t->streams[i];
		if (!lf_stream_overlaps(s, start, end))
			continue;
		for (size_t k = 0; k < n_sels; k++) {
			if (lf_selector_match_labels(sels[k], &s->labels)) {
				v[n++].s = s;
				break;
			}
		}
	}
	pthread_rwlock_unlock(&t->lock);
	if (v && n)
		qsort(v, n, sizeof(*v), qstream_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i)
			lf_buf_putc(out, ',');
		lf_json_labels(out, &v[i].s->labels);
	}
	free(v);
	lf_buf_putc(out, ']');
	return 0;
}

/* Loki's index keeps a chunk's size as KB = round(uncompressed / 1024) and
 * its stats report KB * 1024. */
static uint64_t kb_bytes(uint64_t n)
{
	return (n + 512) / 1024 * 1024;
}

int lf_query_index_stats(struct lf_tenant *t, const struct lf_selector *sel, int64_t start,
                         int64_t end, struct lf_buf *out)
{
	uint64_t streams = 0, chunks = 0, entries = 0, bytes = 0;
	if (t) {
		pthread_rwlock_rdlock(&t->lock);
		for (size_t i = 0; i < t->n_streams; i++) {
			struct lf_stream *s = t->streams[i];
			if (!lf_stream_overlaps(s, start, end) ||
			    !lf_selector_match_labels(sel, &s->labels))
				continue;
			streams++;
			for (size_t j = 0; j < s->cold->n_chunks; j++) {
				const struct lf_chunk_ref *r = &s->cold->chunks[j];
				if (r->from > end || r->through < start)
					continue;
				chunks++;
				entries += (uint64_t)r->entries;
				bytes += kb_bytes((uint64_t)r->bytes);
			}
			const struct lf_head *hs[2] = {&s->head, &s->cold->flushing};
			for (int k = 0; k < 2; k++) {
				if (!lf_head_n(hs[k]))
					continue;
				chunks++;
				entries += lf_head_n(hs[k]);
				bytes += kb_bytes(lf_head_raw(hs[k]));
			}
		}
		pthread_rwlock_unlock(&t->lock);
	}
	return lf_buf_printf(out,
	                     "{\"streams\":%" PRIu64 ",\"chunks\":%" PRIu64 ",\"entries\":%" PRIu64
	                     ",\"bytes\":%" PRIu64 "}",
	                     streams, chunks, entries, bytes);
}
