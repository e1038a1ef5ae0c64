/* Unit tests for common/push_json.h: Content-Encoding inflation and the
 * JSON push walker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* cmocka needs the headers above */
#include <cmocka.h>

#include "push_json.h"

/* ---- a recording visitor ---- */

struct rec {
	struct lf_buf log; /* one line per callback */
	size_t streams, entries;
	int fail_at_entry; /* 1-based; 0 = never */
	const char *fail_msg;
	const char *first_line; /* view of the first entry's line */
};

static int r_stream(void *ctx, const char *labels, size_t labels_len, size_t n_entries,
                    struct lf_error *err)
{
	(void)err;
	struct rec *r = ctx;
	r->streams++;
	lf_buf_printf(&r->log, "S %.*s n=%zu\n", (int)labels_len, labels, n_entries);
	return 0;
}

static int r_entry(void *ctx, int64_t ts_ns, const char *line, size_t line_len,
                   const struct lf_push_sm_view *sm, size_t n_sm, struct lf_error *err)
{
	struct rec *r = ctx;
	r->entries++;
	if (r->fail_at_entry && (int)r->entries == r->fail_at_entry)
		return lf_err(err, "%s", r->fail_msg);
	if (r->entries == 1)
		r->first_line = line;
	lf_buf_printf(&r->log, "E %lld len=%zu ", (long long)ts_ns, line_len);
	for (size_t i = 0; i < line_len; i++)
		lf_buf_putc(&r->log, line[i] ? line[i] : '0');
	assert_true(n_sm == 0 ? sm == NULL : sm != NULL);
	for (size_t i = 0; i < n_sm; i++) {
		assert_int_equal(strlen(sm[i].name), sm[i].name_len);
		lf_buf_printf(&r->log, " %.*s=", (int)sm[i].name_len, sm[i].name);
		for (size_t k = 0; k < sm[i].value_len; k++)
			lf_buf_putc(&r->log, sm[i].value[k] ? sm[i].value[k] : '0');
	}
	lf_buf_putc(&r->log, '\n');
	return 0;
}

static const struct lf_push_visitor visitor = {r_stream, r_entry};

static int walk(struct lf_push_json *j, const char *body, struct rec *r, struct lf_error *err)
{
	return lf_push_json_walk(j, body, strlen(body), &visitor, r, err);
}

static void test_json_valid(void **state)
{
	(void)state;
	const char *body =
	        "{\"streams\":["
	        "{\"stream\":{\"app\":\"a\",\"msg\":\"q\\\"\\n\"},"
	        " \"values\":[[\"1700000000000000001\",\"hello\"],"
	        "             [\"-5\",\"nul\\u0000x\",{\"trace_id\":\"t1\",\"v\":\"a\\u0000b\"}],"
	        "             [\"7\",\"null sm\",null]]},"
	        "{\"labels\":\"{job=\\\"j\\\"}\",\"entries\":[[\"0\",\"\"]]},"
	        "{\"stream\":{},\"values\":[]}"
	        "]}";
	struct lf_push_json *j = lf_push_json_new();
	assert_non_null(j);
	struct rec r = {.log = LF_BUF_INIT};
	struct lf_error err = {{0}};
	for (int round = 0; round < 2; round++) { /* the walker is reusable */
		lf_buf_reset(&r.log);
		r.streams = r.entries = 0;
		assert_int_equal(walk(j, body, &r, &err), 0);
		assert_string_equal(r.log.data, "S {app=\"a\", msg=\"q\\\"\\n\"} n=3\n"
		                                "E 1700000000000000001 len=5 hello\n"
		                                "E -5 len=5 nul0x trace_id=t1 v=a0b\n"
		                                "E 7 len=7 null sm\n"
		                                "S {job=\"j\"} n=1\n"
		                                "E 0 len=0 \n"
		                                "S {} n=0\n");
		assert_int_equal(r.streams, 3);
		assert_int_equal(r.entries, 4);
		/* views stay valid after the walk: the document is kept */
		assert_memory_equal(r.first_line, "hello", 5);
	}
	assert_true(lf_push_json_retained(j) > 0);
	lf_push_json_release(j);
	lf_push_json_release(j); /* idempotent */
	lf_push_json_free(j);
	lf_push_json_free(NULL);
	lf_buf_free(&r.log);
}

/* Many metadata pairs: the view array grows and is reused. */
static void test_json_many_sm(void **state)
{
	(void)state;
	struct lf_buf b = LF_BUF_INIT;
	lf_buf_appends(&b, "{\"streams\":[{\"stream\":{\"a\":\"b\"},\"values\":[[\"1\",\"l\",{");
	for (int i = 0; i < 100; i++)
		lf_buf_printf(&b, "%s\"k%d\":\"v%d\"", i ? "," : "", i, i);
	lf_buf_appends(&b, "}],[\"2\",\"m\",{\"x\":\"y\"}]]}]}");
	struct lf_push_json *j = lf_push_json_new();
	struct rec r = {.log = LF_BUF_INIT};
	struct lf_error err = {{0}};
	assert_int_equal(lf_push_json_walk(j, b.data, b.len, &visitor, &r, &err), 0);
	assert_int_equal(r.entries, 2);
	assert_non_null(strstr(r.log.data, " k0=v0 k1=v1 "));
	assert_non_null(strstr(r.log.data, " k99=v99\nE 2 len=1 m x=y\n"));
	lf_push_json_free(j);
	lf_buf_free(&r.log);
	lf_buf_free(&b);
}

struct bad_case {
	const char *body;
	const char *msg;
};

static void test_json_bad(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
	        {"", "empty push request body"},
	        {"{\"streams\":[", "invalid JSON push request at line 1, column 12: "},
	        {"not json", "invalid JSON push request at line 1, column 3: "},
	        {"{}", "invalid JSON push request: \"streams\" must be an array"},
	        {"{\"streams\":{}}", "invalid JSON push request: \"streams\" must be an array"},
	        {"{\"streams\":[{\"stream\":{\"a\":1},\"values\":[]}]}",
	         "invalid JSON push request: streams[0].stream.a must be a string"},
	        {"{\"streams\":[{\"values\":[]}]}",
	         "invalid JSON push request: streams[0].stream must be an object"},
	        {"{\"streams\":[{\"stream\":\"x\",\"values\":[]}]}",
	         "invalid JSON push request: streams[0].stream must be an object"},
	        {"{\"streams\":[{\"stream\":{},\"values\":[]},{\"stream\":{}}]}",
	         "invalid JSON push request: streams[1].values must be an array"},
	        {"{\"streams\":[{\"stream\":{},\"values\":[[\"1\"]]}]}",
	         "invalid JSON push request: streams[0].values[0] must be [\"<unix epoch in "
	         "nanoseconds>\", \"<log line>\"] with an optional metadata object"},
	        {"{\"streams\":[{\"stream\":{},\"values\":[[\"1\",\"a\",{},1]]}]}",
	         "invalid JSON push request: streams[0].values[0] must be"},
	        {"{\"streams\":[{\"stream\":{},\"values\":[\"1\"]}]}",
	         "invalid JSON push request: streams[0].values[0] must be"},
	        {"{\"streams\":[{\"stream\":{},\"values\":[[\"1\",\"a\"],[1,\"a\"]]}]}",
	         "invalid JSON push request: streams[0].values[1]: timestamp must be a string "
	         "of nanoseconds since the epoch"},
	        {"{\"streams\":[{\"stream\":{},\"values\":[[\"12a\",\"a\"]]}]}",
	         "invalid JSON push request: streams[0].values[0]: invalid timestamp \"12a\""},
	        {"{\"streams\":[{\"stream\":{},\"values\":[[\"\",\"a\"]]}]}",
	         "invalid JSON push request: streams[0].values[0]: invalid timestamp \"\""},
	        {"{\"streams\":[{\"stream\":{},\"values\":[[\"-\",\"a\"]]}]}",
	         "invalid JSON push request: streams[0].values[0]: invalid timestamp \"-\""},
	        {"{\"streams\":[{\"stream\":{},\"values\":[[\"+5\",\"a\"]]}]}",
	         "invalid JSON push request: streams[0].values[0]: invalid timestamp \"+5\""},
	        {"{\"streams\":[{\"stream\":{},\"values\":[[\" 5\",\"a\"]]}]}",
	         "invalid JSON push request: streams[0].values[0]: invalid timestamp \" 5\""},
	        {"{\"streams\":[{\"stream\":{},\"values\":[[\"99999999999999999999\",\"a\"]]}]}",
	         "invalid JSON push request: streams[0].values[0]: invalid timestamp "
	         "\"99999999999999999999\""},
	        {"{\"streams\":[{\"stream\":{},\"values\":[[\"1\",2]]}]}",
	         "invalid JSON push request: streams[0].values[0]: log line must be a string"},
	        {"{\"streams\":[{\"stream\":{},\"values\":[[\"1\",\"a\",\"sm\"]]}]}",
	         "invalid JSON push request: streams[0].values[0]: structured metadata must be "
	         "an object"},
	        {"{\"streams\":[{\"stream\":{},\"values\":[[\"1\",\"a\",{\"k\":1}]]}]}",
	         "invalid JSON push request: streams[0].values[0]: structured metadata k must "
	         "be a string"},
	};
	struct lf_push_json *j = lf_push_json_new();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct rec r = {.log = LF_BUF_INIT};
		struct lf_error err = {{0}};
		int st = walk(j, cases[i].body, &r, &err);
		if (st != 400 || strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)))
			fail_msg("case %zu (%s): status %d, message \"%s\"", i, cases[i].body, st,
			         err.msg);
		/* a bad entry is never handed to the visitor */
		assert_null(strstr(r.log.data ? r.log.data : "", "E 1 len=1 a\nE"));
		lf_buf_free(&r.log);
	}
	lf_push_json_free(j);
}

static void test_json_callback_error(void **state)
{
	(void)state;
	const char *body = "{\"streams\":[{\"stream\":{\"a\":\"b\"},\"values\":"
	                   "[[\"1\",\"x\"],[\"2\",\"y\"],[\"3\",\"z\"]]}]}";
	struct lf_push_json *j = lf_push_json_new();
	struct rec r = {.log = LF_BUF_INIT, .fail_at_entry = 2, .fail_msg = "label trouble"};
	struct lf_error err = {{0}};
	assert_int_equal(walk(j, body, &r, &err), 400);
	assert_string_equal(err.msg, "label trouble");
	assert_int_equal(r.entries, 2); /* stopped at the failing one */
	struct rec r2 = {.log = LF_BUF_INIT, .fail_at_entry = 1, .fail_msg = "out of memory"};
	assert_int_equal(walk(j, body, &r2, &err), 413);
	assert_int_equal(r2.entries, 1);
	lf_push_json_free(j);
	lf_buf_free(&r.log);
	lf_buf_free(&r2.log);
}

static void test_parse_ts(void **state)
{
	(void)state;
	int64_t v = 1;
	assert_int_equal(lf_push_json_parse_ts("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(lf_push_json_parse_ts("-123", &v), 0);
	assert_int_equal(v, -123);
	assert_int_equal(lf_push_json_parse_ts("9223372036854775799", &v), 0);
	assert_true(v == INT64_C(9223372036854775799));
	assert_int_equal(lf_push_json_parse_ts("1e9", &v), -1);
	assert_int_equal(lf_push_json_parse_ts("1.5", &v), -1);
	assert_int_equal(lf_push_json_parse_ts("--1", &v), -1);
	assert_int_equal(lf_push_json_parse_ts("5 ", &v), -1);
}

/* ---- inflation ---- */

/* windowBits: 31 gzip, 15 zlib, -15 raw deflate. */
static void squeeze(const void *in, size_t len, int window_bits, struct lf_buf *out)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY),
	                 Z_OK);
	size_t bound = deflateBound(&zs, len) + 64;
	lf_buf_reset(out);
	assert_int_equal(lf_buf_reserve(out, bound), 0);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)out->data;
	zs.avail_out = (uInt)bound;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	out->len = bound - zs.avail_out;
	deflateEnd(&zs);
}

static void test_inflate_formats(void **state)
{
	(void)state;
	const char *text = "{\"streams\":[]} and some more text to compress, compress, compress";
	size_t tl = strlen(text);
	struct lf_buf c = LF_BUF_INIT, out = LF_BUF_INIT;
	struct lf_error err = {{0}};
	static const int wb[] = {31, 15};
	for (int i = 0; i < 2; i++) { /* gzip and zlib, detected from the header */
		squeeze(text, tl, wb[i], &c);
		assert_int_equal(lf_push_inflate(c.data, c.len, false, 1 << 20, &out, &err), 0);
		assert_int_equal(out.len, tl);
		assert_memory_equal(out.data, text, tl);
		assert_int_equal(out.data[out.len], 0);
	}
	squeeze(text, tl, -15, &c);
	assert_int_equal(lf_push_inflate(c.data, c.len, true, 1 << 20, &out, &err), 0);
	assert_int_equal(out.len, tl);
	assert_memory_equal(out.data, text, tl);
	/* raw deflate is not gzip/zlib */
	assert_int_equal(lf_push_inflate(c.data, c.len, false, 1 << 20, &out, &err), 400);
	assert_non_null(strstr(err.msg, "invalid compressed body: "));
	/* truncated */
	squeeze(text, tl, 31, &c);
	assert_int_equal(lf_push_inflate(c.data, c.len - 6, false, 1 << 20, &out, &err), 400);
	assert_string_equal(err.msg, "invalid compressed body: unexpected end of data");
	/* garbage */
	assert_int_equal(lf_push_inflate("garbage!", 8, false, 1 << 20, &out, &err), 400);
	assert_non_null(strstr(err.msg, "invalid compressed body: "));
	lf_buf_free(&c);
	lf_buf_free(&out);
}

static void test_inflate_bomb(void **state)
{
	(void)state;
	size_t big = 16u << 20, cap = 1u << 20;
	char *zeros = calloc(1, big);
	assert_non_null(zeros);
	struct lf_buf c = LF_BUF_INIT, out = LF_BUF_INIT;
	struct lf_error err = {{0}};
	squeeze(zeros, big, 31, &c);
	assert_true(c.len < 64 << 10); /* a real bomb: tiny in, huge out */
	assert_int_equal(lf_push_inflate(c.data, c.len, false, cap, &out, &err), 413);
	assert_string_equal(err.msg, "request body too large: decompressed body exceeds 1048576 "
	                             "bytes");
	assert_true(out.len > cap);
	assert_true(out.cap <= 2 * cap + (128 << 10)); /* stopped early, not 16 MiB */
	/* exactly at the cap is fine */
	squeeze(zeros, cap, -15, &c);
	assert_int_equal(lf_push_inflate(c.data, c.len, true, cap, &out, &err), 0);
	assert_int_equal(out.len, cap);
	free(zeros);
	lf_buf_free(&c);
	lf_buf_free(&out);
}

static void test_content_decode(void **state)
{
	(void)state;
	const char *text = "payload payload payload";
	size_t tl = strlen(text);
	struct lf_buf c = LF_BUF_INIT, out = LF_BUF_INIT;
	struct lf_error err = {{0}};
	static const char *const pass[] = {NULL, "", "identity", "SNAPPY"};
	for (size_t i = 0; i < 4; i++) {
		const char *body = text;
		size_t len = tl;
		assert_int_equal(lf_push_content_decode(pass[i], &body, &len, 1 << 20, &out, &err),
		                 0);
		assert_ptr_equal(body, text);
		assert_int_equal(len, tl);
	}
	struct {
		const char *ce;
		int wb;
	} enc[] = {{"gzip", 31}, {"x-gzip", 31}, {"GZIP", 15}, {"deflate", -15}, {"deflate", 15}};
	for (size_t i = 0; i < sizeof enc / sizeof enc[0]; i++) {
		squeeze(text, tl, enc[i].wb, &c);
		const char *body = c.data;
		size_t len = c.len;
		assert_int_equal(
		        lf_push_content_decode(enc[i].ce, &body, &len, 1 << 20, &out, &err), 0);
		assert_ptr_equal(body, out.data);
		assert_int_equal(len, tl);
		assert_memory_equal(body, text, tl);
	}
	const char *body = text;
	size_t len = tl;
	assert_int_equal(lf_push_content_decode("br", &body, &len, 1 << 20, &out, &err), 415);
	assert_string_equal(err.msg, "Content-Encoding \"br\" not supported");
	assert_int_equal(lf_push_content_decode("deflate", &body, &len, 1 << 20, &out, &err), 400);
	squeeze(text, tl, -15, &c);
	body = c.data;
	len = c.len;
	assert_int_equal(lf_push_content_decode("deflate", &body, &len, 4, &out, &err), 413);
	assert_string_equal(err.msg, "request body too large: decompressed body exceeds 4 bytes");
	lf_buf_free(&c);
	lf_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_json_valid),   cmocka_unit_test(test_json_many_sm),
	        cmocka_unit_test(test_json_bad),     cmocka_unit_test(test_json_callback_error),
	        cmocka_unit_test(test_parse_ts),     cmocka_unit_test(test_inflate_formats),
	        cmocka_unit_test(test_inflate_bomb), cmocka_unit_test(test_content_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
