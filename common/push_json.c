/* push_json.c — see push_json.h. */
#include "push_json.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

int lf_push_inflate(const void *in, size_t len, bool raw_deflate, size_t cap, struct lf_buf *out,
                    struct lf_error *err)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, raw_deflate ? -15 : 15 + 32) != Z_OK)
		return lf_err(err, "zlib init failed"), 400;
	lf_buf_reset(out);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	for (;;) {
		if (lf_buf_reserve(out, 64 << 10) < 0) {
			inflateEnd(&zs);
			return lf_err(err, "out of memory decompressing the body"), 413;
		}
		zs.next_out = (Bytef *)out->data + out->len;
		zs.avail_out = (uInt)(out->cap - out->len - 1);
		size_t before = zs.avail_out;
		int rc = inflate(&zs, Z_NO_FLUSH);
		out->len += before - zs.avail_out;
		if (out->len > cap) {
			inflateEnd(&zs);
			return lf_err(err,
			              "request body too large: decompressed body exceeds %zu bytes",
			              cap),
			       413;
		}
		if (rc == Z_STREAM_END)
			break;
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			inflateEnd(&zs);
			return lf_err(err, "invalid compressed body: %s",
			              zs.msg ? zs.msg : "error"),
			       400;
		}
		if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
			inflateEnd(&zs);
			return lf_err(err, "invalid compressed body: unexpected end of data"), 400;
		}
	}
	inflateEnd(&zs);
	out->data[out->len] = 0;
	return 0;
}

int lf_push_content_decode(const char *content_encoding, const char **body, size_t *len, size_t cap,
                           struct lf_buf *out, struct lf_error *err)
{
	const char *ce = content_encoding;
	if (!ce || !*ce || !strcasecmp(ce, "identity") || !strcasecmp(ce, "snappy"))
		return 0;
	bool raw;
	if (!strcasecmp(ce, "gzip") || !strcasecmp(ce, "x-gzip"))
		raw = false;
	else if (!strcasecmp(ce, "deflate"))
		raw = true;
	else
		return lf_err(err, "Content-Encoding \"%s\" not supported", ce), 415;
	int st = lf_push_inflate(*body, *len, raw, cap, out, err);
	if (st == 400 && raw) /* some clients send zlib-wrapped "deflate" */
		st = lf_push_inflate(*body, *len, false, cap, out, err);
	if (st)
		return st;
	*body = out->data;
	*len = out->len;
	return 0;
}

struct lf_push_json {
	json_t *root;
	struct lf_buf labels;
	struct lf_push_sm_view *sm;
	size_t cap_sm;
};

struct lf_push_json *lf_push_json_new(void)
{
	return calloc(1, sizeof(struct lf_push_json));
}

void lf_push_json_release(struct lf_push_json *j)
{
	if (j && j->root) {
		json_decref(j->root);
		j->root = NULL;
	}
}

void lf_push_json_free(struct lf_push_json *j)
{
	if (!j)
		return;
	lf_push_json_release(j);
	lf_buf_free(&j->labels);
	free(j->sm);
	free(j);
}

size_t lf_push_json_retained(const struct lf_push_json *j)
{
	return j ? j->labels.cap + j->cap_sm * sizeof(*j->sm) : 0;
}

int lf_push_json_parse_ts(const char *s, int64_t *out)
{
	bool neg = false;
	if (*s == '-') {
		neg = true;
		s++;
	}
	if (!*s)
		return -1;
	int64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

#define BAD(...) (lf_err(err, "invalid JSON push request: " __VA_ARGS__), 400)

static int cb_status(const struct lf_error *err)
{
	return strncmp(err->msg, "out of memory", 13) ? 400 : 413;
}

static int stream_labels(struct lf_push_json *j, json_t *js, size_t i, const char **text,
                         size_t *tlen, struct lf_error *err)
{
	json_t *labels = json_object_get(js, "stream");
	json_t *ltext = json_object_get(js, "labels");
	if (json_is_object(labels)) {
		/* Rendered as the text form so both encodings share one validator. */
		lf_buf_reset(&j->labels);
		lf_buf_putc(&j->labels, '{');
		const char *k;
		json_t *v;
		bool first = true;
		json_object_foreach(labels, k, v)
		{
			if (!json_is_string(v))
				return BAD("streams[%zu].stream.%s must be a string", i, k);
			if (!first)
				lf_buf_appends(&j->labels, ", ");
			first = false;
			lf_buf_appends(&j->labels, k);
			lf_buf_putc(&j->labels, '=');
			lf_buf_append_quoted(&j->labels, json_string_value(v),
			                     json_string_length(v));
		}
		if (lf_buf_putc(&j->labels, '}') < 0)
			return lf_err(err, "out of memory"), 413;
		*text = j->labels.data;
		*tlen = j->labels.len;
		return 0;
	}
	if (json_is_string(ltext)) {
		*text = json_string_value(ltext);
		*tlen = json_string_length(ltext);
		return 0;
	}
	return BAD("streams[%zu].stream must be an object", i);
}

static int walk_entry(struct lf_push_json *j, json_t *jv, size_t i, size_t k,
                      const struct lf_push_visitor *v, void *ctx, struct lf_error *err)
{
	json_t *jts = json_array_get(jv, 0), *jl = json_array_get(jv, 1);
	json_t *jsm = json_array_get(jv, 2);
	if (!json_is_array(jv) || json_array_size(jv) < 2 || json_array_size(jv) > 3)
		return BAD("streams[%zu].values[%zu] must be [\"<unix epoch in nanoseconds>\", "
		           "\"<log line>\"] with an optional metadata object",
		           i, k);
	if (!json_is_string(jts))
		return BAD("streams[%zu].values[%zu]: timestamp must be a string of nanoseconds "
		           "since the epoch",
		           i, k);
	int64_t ts;
	if (lf_push_json_parse_ts(json_string_value(jts), &ts) < 0)
		return BAD("streams[%zu].values[%zu]: invalid timestamp \"%.64s\"", i, k,
		           json_string_value(jts));
	if (!json_is_string(jl))
		return BAD("streams[%zu].values[%zu]: log line must be a string", i, k);
	size_t n_sm = 0;
	if (jsm && !json_is_null(jsm)) {
		if (!json_is_object(jsm))
			return BAD("streams[%zu].values[%zu]: structured metadata must be an "
			           "object",
			           i, k);
		size_t need = json_object_size(jsm);
		if (need > j->cap_sm) {
			size_t nc = j->cap_sm ? j->cap_sm : 16;
			while (nc < need)
				nc *= 2;
			struct lf_push_sm_view *nv = realloc(j->sm, nc * sizeof(*nv));
			if (!nv)
				return lf_err(err, "out of memory"), 413;
			j->sm = nv;
			j->cap_sm = nc;
		}
		const char *name;
		json_t *val;
		json_object_foreach(jsm, name, val)
		{
			if (!json_is_string(val))
				return BAD("streams[%zu].values[%zu]: structured metadata %s must "
				           "be a string",
				           i, k, name);
			struct lf_push_sm_view *sv = &j->sm[n_sm++];
			sv->name = name;
			sv->name_len = strlen(name);
			sv->value = json_string_value(val);
			sv->value_len = json_string_length(val);
		}
	}
	if (v->entry(ctx, ts, json_string_value(jl), json_string_length(jl), n_sm ? j->sm : NULL,
	             n_sm, err) < 0)
		return cb_status(err);
	return 0;
}

int lf_push_json_walk(struct lf_push_json *j, const char *body, size_t len,
                      const struct lf_push_visitor *v, void *ctx, struct lf_error *err)
{
	lf_push_json_release(j);
	if (len == 0)
		return lf_err(err, "empty push request body"), 400;
	json_error_t je;
	json_t *root = json_loadb(body, len, JSON_ALLOW_NUL, &je);
	if (!root)
		return lf_err(err, "invalid JSON push request at line %d, column %d: %s", je.line,
		              je.column, je.text),
		       400;
	j->root = root;
	json_t *streams = json_object_get(root, "streams");
	if (!json_is_array(streams))
		return BAD("\"streams\" must be an array");
	size_t i;
	json_t *js;
	json_array_foreach(streams, i, js)
	{
		const char *text;
		size_t tlen;
		int st = stream_labels(j, js, i, &text, &tlen, err);
		if (st)
			return st;
		json_t *values = json_object_get(js, "values");
		if (!values)
			values = json_object_get(js, "entries");
		if (!json_is_array(values))
			return BAD("streams[%zu].values must be an array", i);
		if (v->stream(ctx, text, tlen, json_array_size(values), err) < 0)
			return cb_status(err);
		size_t k;
		json_t *jv;
		json_array_foreach(values, k, jv)
		{
			if ((st = walk_entry(j, jv, i, k, v, ctx, err)))
				return st;
		}
	}
	return 0;
}
