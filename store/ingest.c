/* ingest.c — see ingest.h. */
#include "ingest.h"

#include <inttypes.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "push.h"
#include "push_json.h"
#include "timeutil.h"

#define MAX_ERROR_TEXT (64 << 10)
#define MSG_LABELS_MAX 1024 /* label text quoted in messages is cut here */

uint64_t lf_key_hash(const char *s, size_t n)
{
	/* 8 bytes per step (multiply-xorshift); FNV's byte loop showed up at
	 * 13% of ingest CPU when hashing every line for duplicate detection. */
	const uint64_t m = 0x9e3779b97f4a7c15ull;
	uint64_t h = 0x243f6a8885a308d3ull ^ (n * m);
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * m;
		h ^= h >> 29;
		s += 8;
		n -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * m;
	h ^= h >> 32;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 31;
	return h;
}

void lf_ingest_batch_free(struct lf_ingest_batch *b)
{
	for (size_t i = 0; i < b->cap_streams; i++) {
		lf_labels_free(&b->streams[i].labels);
		lf_buf_free(&b->streams[i].key);
	}
	free(b->streams);
	free(b->entries);
	free(b->sm);
	if (b->pb)
		lf_push_request_free(b->pb);
	lf_push_decoder_free(b->pd);
	lf_push_json_free(b->pj);
	lf_buf_free(&b->inflated);
	lf_buf_free(&b->scratch);
	memset(b, 0, sizeof(*b));
}

static void buf_reset_capped(struct lf_buf *buf, size_t keep_max)
{
	if (buf->cap > keep_max)
		lf_buf_free(buf);
	else
		lf_buf_reset(buf);
}

void lf_ingest_batch_reset(struct lf_ingest_batch *b, size_t keep_max)
{
	b->n_streams = b->n_entries = b->n_sm = 0;
	b->created = 0;
	b->bytes = 0;
	if (b->pb)
		lf_push_request_free(b->pb);
	b->pb = NULL;
	lf_push_json_release(b->pj);
	if (lf_push_decoder_retained(b->pd) > keep_max) {
		lf_push_decoder_free(b->pd);
		b->pd = NULL;
	}
	if (lf_push_json_retained(b->pj) > keep_max) {
		lf_push_json_free(b->pj);
		b->pj = NULL;
	}
	buf_reset_capped(&b->inflated, keep_max);
	buf_reset_capped(&b->scratch, keep_max);
	if (b->cap_streams * sizeof(*b->streams) > keep_max / 16) {
		/* each stream also keeps label and key buffers: drop them all */
		for (size_t i = 0; i < b->cap_streams; i++) {
			lf_labels_free(&b->streams[i].labels);
			lf_buf_free(&b->streams[i].key);
		}
		free(b->streams);
		b->streams = NULL;
		b->cap_streams = 0;
	}
	for (size_t i = 0; i < b->cap_streams; i++) {
		buf_reset_capped(&b->streams[i].key, keep_max);
		lf_labels_clear(&b->streams[i].labels);
	}
	if (b->cap_entries * sizeof(*b->entries) > keep_max) {
		free(b->entries);
		b->entries = NULL;
		b->cap_entries = 0;
	}
	if (b->cap_sm * sizeof(*b->sm) > keep_max) {
		free(b->sm);
		b->sm = NULL;
		b->cap_sm = 0;
	}
}

static struct lf_ingest_stream *add_stream(struct lf_ingest_batch *b)
{
	if (b->n_streams == b->cap_streams) {
		size_t nc = b->cap_streams ? b->cap_streams * 2 : 16;
		struct lf_ingest_stream *v = realloc(b->streams, nc * sizeof(*v));
		if (!v)
			return NULL;
		memset(v + b->cap_streams, 0, (nc - b->cap_streams) * sizeof(*v));
		b->streams = v;
		b->cap_streams = nc;
	}
	struct lf_ingest_stream *s = &b->streams[b->n_streams++];
	lf_labels_clear(&s->labels);
	lf_buf_reset(&s->key);
	s->first = b->n_entries;
	s->n = 0;
	s->bytes = 0;
	s->dropped = false;
	return s;
}

static int reserve_entries(struct lf_ingest_batch *b, size_t extra)
{
	if (b->n_entries + extra <= b->cap_entries)
		return 0;
	size_t nc = b->cap_entries ? b->cap_entries : 256;
	while (nc < b->n_entries + extra)
		nc *= 2;
	struct lf_ingest_entry *v = realloc(b->entries, nc * sizeof(*v));
	if (!v)
		return -1;
	b->entries = v;
	b->cap_entries = nc;
	return 0;
}

static int reserve_sm(struct lf_ingest_batch *b, size_t extra)
{
	if (b->n_sm + extra <= b->cap_sm)
		return 0;
	size_t nc = b->cap_sm ? b->cap_sm : 64;
	while (nc < b->n_sm + extra)
		nc *= 2;
	struct lf_skv *v = realloc(b->sm, nc * sizeof(*v));
	if (!v)
		return -1;
	b->sm = v;
	b->cap_sm = nc;
	return 0;
}

/* Wire strings are cut at their first NUL byte, as the protobuf-c path
 * that came before read them as C strings: the same bytes are accepted. */
static size_t c_strlen(const char *s, size_t n)
{
	const char *z = memchr(s, '\0', n);
	return z ? (size_t)(z - s) : n;
}

static int on_pb_stream(void *ctx, const char *labels, size_t labels_len, size_t n_entries,
                        struct lf_error *err)
{
	struct lf_ingest_batch *b = ctx;
	struct lf_ingest_stream *s = add_stream(b);
	if (!s || reserve_entries(b, n_entries) < 0 ||
	    lf_buf_append(&s->key, labels, c_strlen(labels, labels_len)) < 0)
		return lf_err(err, "out of memory");
	return 0;
}

/* cut: metadata cut at the first NUL (protobuf, see c_strlen) or kept
 * whole (JSON, where the strings carry their length). */
static int add_entry(struct lf_ingest_batch *b, int64_t ts_ns, const char *line, size_t line_len,
                     const struct lf_push_sm_view *sm, size_t n_sm, bool cut, struct lf_error *err)
{
	struct lf_ingest_stream *s = &b->streams[b->n_streams - 1];
	if (reserve_entries(b, 1) < 0 || (n_sm && reserve_sm(b, n_sm) < 0))
		return lf_err(err, "out of memory");
	struct lf_ingest_entry *e = &b->entries[b->n_entries++];
	e->ts = ts_ns;
	e->line = line;
	e->line_len = line_len;
	e->sm_first = b->n_sm;
	e->n_sm = n_sm;
	e->dup = false;
	for (size_t k = 0; k < n_sm; k++) {
		struct lf_skv *kv = &b->sm[b->n_sm++];
		kv->name = sm[k].name;
		kv->nlen = cut ? c_strlen(sm[k].name, sm[k].name_len) : sm[k].name_len;
		kv->value = sm[k].value;
		kv->vlen = cut ? c_strlen(sm[k].value, sm[k].value_len) : sm[k].value_len;
	}
	s->n++;
	return 0;
}

static int on_pb_entry(void *ctx, int64_t ts_ns, const char *line, size_t line_len,
                       const struct lf_push_sm_view *sm, size_t n_sm, struct lf_error *err)
{
	return add_entry(ctx, ts_ns, line, line_len, sm, n_sm, true, err);
}

static int on_json_entry(void *ctx, int64_t ts_ns, const char *line, size_t line_len,
                         const struct lf_push_sm_view *sm, size_t n_sm, struct lf_error *err)
{
	return add_entry(ctx, ts_ns, line, line_len, sm, n_sm, false, err);
}

static int decode_proto(const char *body, size_t len, size_t max_decoded, struct lf_ingest_batch *b,
                        struct lf_error *err)
{
	size_t ulen = 0;
	if (len == 0)
		return lf_err(err, "empty push request body"), 400;
	if (snappy_uncompressed_length(body, len, &ulen) != SNAPPY_OK)
		return lf_err(err, "invalid snappy block: bad length header"), 400;
	if (ulen > max_decoded)
		return lf_err(err,
		              "request body too large: snappy block claims %zu decompressed bytes, "
		              "limit %zu",
		              ulen, max_decoded),
		       413;
	if (!b->pd && !(b->pd = lf_push_decoder_new()))
		return lf_err(err, "out of memory"), 413;
	static const struct lf_push_visitor visitor = {on_pb_stream, on_pb_entry};
	if (lf_push_walk(b->pd, body, len, max_decoded, &visitor, b, err) < 0)
		return strncmp(err->msg, "out of memory", 13) ? 400 : 413;
	return 0;
}

/* The label text of both JSON forms goes through on_pb_stream: a `labels`
 * string is cut at its first NUL as before, a rendered `stream` object
 * holds none (lf_buf_append_quoted escapes control bytes). */
static int decode_json(const char *body, size_t len, struct lf_ingest_batch *b,
                       struct lf_error *err)
{
	if (!b->pj && !(b->pj = lf_push_json_new()))
		return lf_err(err, "out of memory"), 413;
	static const struct lf_push_visitor visitor = {on_pb_stream, on_json_entry};
	return lf_push_json_walk(b->pj, body, len, &visitor, b, err);
}

int lf_ingest_decode(const char *body, size_t len, const char *content_type,
                     const char *content_encoding, size_t max_decoded, struct lf_ingest_batch *b,
                     struct lf_error *err)
{
	int st = lf_push_content_decode(content_encoding, &body, &len, max_decoded, &b->inflated,
	                                err);
	if (st)
		return st;
	if (content_type && !strncasecmp(content_type, "application/json", 16))
		return decode_json(body, len, b, err);
	return decode_proto(body, len, max_decoded, b, err);
}

/* ---- validation ---- */

static void add_error(struct lf_buf *errors, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void add_error(struct lf_buf *errors, const char *fmt, ...)
{
	if (!errors || errors->len >= MAX_ERROR_TEXT)
		return;
	if (errors->len)
		lf_buf_putc(errors, '\n');
	va_list ap;
	va_start(ap, fmt);
	lf_buf_vprintf(errors, fmt, ap);
	va_end(ap);
}

static void fmt_rfc3339(int64_t ns, char *out, size_t n)
{
	time_t secs = (time_t)(ns / LF_NS_PER_SEC);
	if (ns < 0 && ns % LF_NS_PER_SEC)
		secs--;
	struct tm tm;
	gmtime_r(&secs, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void discard(const struct lf_ingest_ctx *ctx, const char *reason, uint64_t lines,
                    uint64_t bytes)
{
	if (ctx->discard && lines)
		ctx->discard(ctx->discard_ctx, reason, lines, bytes);
}

static uint64_t entry_bytes(const struct lf_ingest_batch *b, const struct lf_ingest_entry *e)
{
	uint64_t n = e->line_len;
	for (size_t k = 0; k < e->n_sm; k++)
		n += b->sm[e->sm_first + k].nlen + b->sm[e->sm_first + k].vlen;
	return n;
}

static uint64_t stream_bytes(const struct lf_ingest_batch *b, const struct lf_ingest_stream *s)
{
	uint64_t n = 0;
	for (size_t j = 0; j < s->n; j++)
		n += entry_bytes(b, &b->entries[s->first + j]);
	return n;
}

/* Returns the discard reason, or NULL when the stream's labels are fine. */
static const char *validate_labels(const struct lf_ingest_ctx *ctx, struct lf_ingest_batch *b,
                                   struct lf_ingest_stream *s, struct lf_buf *errors)
{
	const struct lf_store_limits *l = &ctx->cfg->limits;
	lf_buf_reset(&b->scratch);
	lf_buf_append(&b->scratch, s->key.data ? s->key.data : "", s->key.len);
	const char *text = b->scratch.data ? b->scratch.data : "";
	size_t tlen = b->scratch.len;
	int tshow = tlen > MSG_LABELS_MAX ? MSG_LABELS_MAX : (int)tlen;
	if (!lf_utf8_valid(text, tlen)) {
		add_error(errors, "error parsing labels '%.*s' with error: invalid UTF-8", tshow,
		          text);
		return "invalid_labels";
	}
	struct lf_error perr;
	if (lf_labels_parse(text, tlen, &s->labels, &perr) < 0) {
		if (!strncmp(perr.msg, "duplicate label name", 20)) {
			const char *q = strchr(perr.msg, '\'');
			add_error(errors, "stream '%.*s' has duplicate label name: %s", tshow, text,
			          q ? q : "?");
			return "duplicate_label_names";
		}
		if (!strncmp(perr.msg, "error parsing labels", 20))
			add_error(errors, "%s", perr.msg);
		else
			add_error(errors, "error parsing labels '%.*s' with error: %s", tshow, text,
			          perr.msg);
		return "invalid_labels";
	}
	lf_buf_reset(&s->key);
	lf_labels_render(&s->labels, &s->key);
	s->hash = lf_key_hash(s->key.data, s->key.len);
	int kshow = s->key.len > MSG_LABELS_MAX ? MSG_LABELS_MAX : (int)s->key.len;
	if (s->labels.n == 0) {
		add_error(errors, "error at least one label pair is required per stream");
		return "missing_labels";
	}
	if (l->max_label_names_per_series > 0 &&
	    (int64_t)s->labels.n > l->max_label_names_per_series) {
		add_error(errors, "entry for stream '%.*s' has %zu label names; limit %lld", kshow,
		          s->key.data, s->labels.n, (long long)l->max_label_names_per_series);
		return "max_label_names_per_series";
	}
	for (size_t i = 0; i < s->labels.n; i++) {
		const struct lf_label *lb = &s->labels.v[i];
		size_t nl = strlen(lb->name), vl = strlen(lb->value);
		if (l->max_label_name_length > 0 && (int64_t)nl > l->max_label_name_length) {
			add_error(errors, "stream '%.*s' has label name too long: '%.*s'", kshow,
			          s->key.data, MSG_LABELS_MAX, lb->name);
			return "label_name_too_long";
		}
		if (l->max_label_value_length > 0 && (int64_t)vl > l->max_label_value_length) {
			add_error(errors, "stream '%.*s' has label value too long: '%.*s'", kshow,
			          s->key.data, MSG_LABELS_MAX, lb->value);
			return "label_value_too_long";
		}
	}
	return NULL;
}

size_t lf_ingest_validate(const struct lf_ingest_ctx *ctx, struct lf_ingest_batch *b,
                          struct lf_buf *errors)
{
	const struct lf_store_limits *l = &ctx->cfg->limits;
	size_t removed = 0, w = 0, ws = 0;
	/* configured durations may reach the int64 limit: saturate (issue 17) */
	int64_t oldest, newest;
	if (__builtin_sub_overflow(ctx->now_ns, l->reject_old_samples_max_age, &oldest))
		oldest = l->reject_old_samples_max_age > 0 ? INT64_MIN : INT64_MAX;
	if (__builtin_add_overflow(ctx->now_ns, l->creation_grace_period, &newest))
		newest = l->creation_grace_period > 0 ? INT64_MAX : INT64_MIN;
	b->bytes = 0;
	for (size_t si = 0; si < b->n_streams; si++) {
		struct lf_ingest_stream *s = &b->streams[si];
		const char *reason = validate_labels(ctx, b, s, errors);
		if (reason) {
			discard(ctx, reason, s->n, stream_bytes(b, s));
			removed += s->n;
			continue;
		}
		int kshow = s->key.len > MSG_LABELS_MAX ? MSG_LABELS_MAX : (int)s->key.len;
		size_t first = w, kept = 0;
		uint64_t bytes = 0;
		for (size_t j = 0; j < s->n; j++) {
			struct lf_ingest_entry e = b->entries[s->first + j];
			uint64_t eb = entry_bytes(b, &e);
			uint64_t smbytes = eb - e.line_len;
			const char *why = NULL;
			char t1[40], t2[40];
			if (l->max_line_size > 0 && (int64_t)e.line_len > l->max_line_size) {
				if (l->max_line_size_truncate) {
					e.line_len = (size_t)l->max_line_size;
				} else {
					why = "line_too_long";
					add_error(errors,
					          "max entry size '%lld' bytes exceeded for stream "
					          "'%.*s' while adding an entry with length '%zu' "
					          "bytes",
					          (long long)l->max_line_size, kshow, s->key.data,
					          e.line_len);
				}
			}
			if (!why && l->reject_old_samples && e.ts < oldest) {
				why = "greater_than_max_sample_age";
				fmt_rfc3339(e.ts, t1, sizeof(t1));
				fmt_rfc3339(oldest, t2, sizeof(t2));
				add_error(
				        errors,
				        "entry for stream '%.*s' has timestamp too old: %s, oldest "
				        "acceptable timestamp is: %s",
				        kshow, s->key.data, t1, t2);
			}
			if (!why && e.ts > newest) {
				why = "too_far_in_future";
				fmt_rfc3339(e.ts, t1, sizeof(t1));
				add_error(errors,
				          "entry for stream '%.*s' has timestamp too new: %s",
				          kshow, s->key.data, t1);
			}
			if (!why && e.n_sm) {
				uint64_t smb = smbytes;
				if (!l->allow_structured_metadata) {
					why = "disallowed_structured_metadata";
					add_error(errors,
					          "stream '%.*s' includes structured metadata, but "
					          "this "
					          "feature is disallowed. Please see "
					          "`limits_config.allow_structured_metadata` or "
					          "contact "
					          "your Loki administrator to enable it.",
					          kshow, s->key.data);
				} else if (l->max_structured_metadata_size > 0 &&
				           (int64_t)smb > l->max_structured_metadata_size) {
					why = "structured_metadata_too_large";
					add_error(
					        errors,
					        "stream '%.*s' has structured metadata too large: "
					        "'%" PRIu64 "' bytes, limit: '%lld' bytes",
					        kshow, s->key.data, smb,
					        (long long)l->max_structured_metadata_size);
				} else if (l->max_structured_metadata_entries_count > 0 &&
				           (int64_t)e.n_sm >
				                   l->max_structured_metadata_entries_count) {
					why = "structured_metadata_too_many";
					add_error(errors,
					          "stream '%.*s' has too many structured metadata "
					          "labels: '%zu', limit: '%lld'",
					          kshow, s->key.data, e.n_sm,
					          (long long)
					                  l->max_structured_metadata_entries_count);
				}
				for (size_t k = 0; !why && k < e.n_sm; k++) {
					const struct lf_skv *kv = &b->sm[e.sm_first + k];
					if (!lf_label_name_valid(kv->name, kv->nlen) ||
					    !lf_utf8_valid(kv->value, kv->vlen)) {
						why = "invalid_labels";
						add_error(errors,
						          "stream '%.*s' has invalid structured "
						          "metadata "
						          "name or value: '%.*s'",
						          kshow, s->key.data,
						          kv->nlen > MSG_LABELS_MAX ? MSG_LABELS_MAX
						                                    : (int)kv->nlen,
						          kv->name);
					}
				}
			}
			if (why) {
				discard(ctx, why, 1, eb);
				removed++;
				continue;
			}
			b->entries[w++] = e;
			kept++;
			bytes += e.line_len + smbytes;
		}
		if (!kept)
			continue;
		/* Compact the stream array in place; swap so buffers are not shared. */
		if (ws != si) {
			struct lf_ingest_stream tmp = b->streams[ws];
			b->streams[ws] = *s;
			b->streams[si] = tmp;
			s = &b->streams[ws];
		}
		s->first = first;
		s->n = kept;
		s->bytes = bytes;
		b->bytes += bytes;
		ws++;
	}
	b->n_streams = ws;
	b->n_entries = w;
	return removed;
}
