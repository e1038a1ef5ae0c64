/* test_websocket.c — common/websocket: the accept value of RFC 6455's own
 * example (section 1.3), handshake checks, frame encoding (7/16/64-bit
 * lengths, masking), the reader on masked client frames delivered byte by
 * byte, fragmentation with interleaved control frames, and every protocol
 * violation with the close code it must produce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "websocket.h"

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

static void test_accept_key(void **state)
{
	(void)state;
	char out[LF_WS_ACCEPT_LEN + 1];
	struct lf_error err;
	/* RFC 6455 section 1.3 */
	assert_int_equal(lf_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out, &err), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	/* not base64 of 16 bytes */
	assert_int_equal(lf_ws_accept_key("short", out, &err), -1);
	assert_non_null(strstr(err.msg, "short"));
	assert_int_equal(lf_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=", out, &err), -1);
	assert_int_equal(lf_ws_accept_key("dGhlIHNhbXBsZSBub25j!Q==", out, &err), -1);
	assert_int_equal(lf_ws_accept_key("dGhlIHNhbXBsZSBub25jZR==", out, &err), -1);
	assert_int_equal(lf_ws_accept_key(NULL, out, &err), -1);
}

static void test_handshake(void **state)
{
	(void)state;
	struct lf_error err;
	const char *k = "dGhlIHNhbXBsZSBub25jZQ==";
	assert_int_equal(lf_ws_check_handshake("GET", "websocket", "Upgrade", "13", k, &err), 0);
	/* case-insensitive tokens in lists */
	assert_int_equal(
	        lf_ws_check_handshake("GET", "WebSocket", "keep-alive, UPGRADE", "13", k, &err), 0);
	assert_int_equal(lf_ws_check_handshake("POST", "websocket", "Upgrade", "13", k, &err), 405);
	assert_string_equal(err.msg, "websocket: the client is not using the websocket protocol: "
	                             "request method is not GET");
	assert_int_equal(lf_ws_check_handshake("GET", NULL, "Upgrade", "13", k, &err), 400);
	assert_int_equal(lf_ws_check_handshake("GET", "h2c", "Upgrade", "13", k, &err), 400);
	assert_int_equal(lf_ws_check_handshake("GET", "websocket", "keep-alive", "13", k, &err),
	                 400);
	assert_int_equal(lf_ws_check_handshake("GET", "websocket", "upgraded", "13", k, &err), 400);
	assert_int_equal(lf_ws_check_handshake("GET", "websocket", "Upgrade", "8", k, &err), 400);
	assert_string_equal(
	        err.msg,
	        "websocket: unsupported version: 13 not found in 'Sec-Websocket-Version' header");
	assert_int_equal(lf_ws_check_handshake("GET", "websocket", "Upgrade", NULL, k, &err), 400);
	/* the Connection header is checked first, as gorilla does */
	assert_int_equal(lf_ws_check_handshake("POST", NULL, NULL, NULL, NULL, &err), 400);
	assert_string_equal(err.msg, "websocket: the client is not using the websocket protocol: "
	                             "'upgrade' token not found in 'Connection' header");
	assert_int_equal(lf_ws_check_handshake("GET", "websocket", "Upgrade", "13", "x", &err),
	                 400);
	assert_non_null(strstr(err.msg, "'Sec-WebSocket-Key' header must be Base64 encoded"));
}

static void test_encode_lengths(void **state)
{
	(void)state;
	struct lf_buf b = LF_BUF_INIT;
	char big[70000];
	memset(big, 'x', sizeof(big));
	/* 7-bit */
	assert_int_equal(lf_ws_encode(&b, LF_WS_OP_TEXT, true, "Hello", 5, NULL), 0);
	const uint8_t hello[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}; /* RFC 6455 5.7 */
	assert_int_equal(b.len, sizeof(hello));
	assert_memory_equal(b.data, hello, sizeof(hello));
	/* masked, RFC 6455 5.7's example */
	lf_buf_reset(&b);
	assert_int_equal(lf_ws_encode(&b, LF_WS_OP_TEXT, true, "Hello", 5, MASK), 0);
	const uint8_t mhello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	assert_int_equal(b.len, sizeof(mhello));
	assert_memory_equal(b.data, mhello, sizeof(mhello));
	/* 16-bit: 256 bytes binary (RFC: 0x82 0x7E 0x0100) */
	lf_buf_reset(&b);
	lf_ws_encode(&b, LF_WS_OP_BINARY, true, big, 256, NULL);
	assert_int_equal(b.len, 4 + 256);
	assert_int_equal((uint8_t)b.data[0], 0x82);
	assert_int_equal((uint8_t)b.data[1], 126);
	assert_int_equal((uint8_t)b.data[2], 0x01);
	assert_int_equal((uint8_t)b.data[3], 0x00);
	/* boundaries: 125 stays 7-bit, 126 goes 16-bit, 65536 goes 64-bit */
	lf_buf_reset(&b);
	lf_ws_encode(&b, LF_WS_OP_TEXT, true, big, 125, NULL);
	assert_int_equal(b.len, 2 + 125);
	lf_buf_reset(&b);
	lf_ws_encode(&b, LF_WS_OP_TEXT, true, big, 126, NULL);
	assert_int_equal(b.len, 4 + 126);
	lf_buf_reset(&b);
	lf_ws_encode(&b, LF_WS_OP_TEXT, false, big, 65536, NULL);
	assert_int_equal(b.len, 10 + 65536);
	assert_int_equal((uint8_t)b.data[0], 0x01); /* no FIN */
	assert_int_equal((uint8_t)b.data[1], 127);
	assert_int_equal((uint8_t)b.data[7], 0x01); /* 0x0000000000010000 */
	assert_int_equal((uint8_t)b.data[8], 0x00);
	struct lf_ws_frame f;
	struct lf_error err;
	assert_int_equal(lf_ws_parse_header((const uint8_t *)b.data, b.len, &f, &err), 1);
	assert_false(f.fin);
	assert_int_equal(f.len, 65536);
	assert_int_equal(f.hdr_len, 10);
	/* a header cut anywhere needs more bytes */
	for (size_t n = 0; n < 10; n++)
		assert_int_equal(lf_ws_parse_header((const uint8_t *)b.data, n, &f, &err), 0);
	lf_buf_free(&b);
}

static void test_close_encode(void **state)
{
	(void)state;
	struct lf_buf b = LF_BUF_INIT;
	assert_int_equal(lf_ws_encode_close(&b, 1011, "reached tail max duration limit", NULL), 0);
	assert_int_equal((uint8_t)b.data[0], 0x88);
	assert_int_equal((uint8_t)b.data[1], 2 + 31);
	assert_int_equal((uint8_t)b.data[2], 0x03);
	assert_int_equal((uint8_t)b.data[3], 0xf3);
	assert_memory_equal(b.data + 4, "reached", 7);
	/* a long reason is cut to 123 bytes, not inside a UTF-8 sequence */
	char reason[300] = "";
	for (int i = 0; i < 100; i++)
		strcat(reason, "\xc3\xa9"); /* é: 2 bytes */
	lf_buf_reset(&b);
	lf_ws_encode_close(&b, 1000, reason, NULL);
	assert_int_equal((uint8_t)b.data[1], 2 + 122);
	lf_buf_free(&b);
	assert_true(lf_ws_close_code_valid(1000));
	assert_true(lf_ws_close_code_valid(1011));
	assert_true(lf_ws_close_code_valid(3000));
	assert_true(lf_ws_close_code_valid(4999));
	assert_false(lf_ws_close_code_valid(999));
	assert_false(lf_ws_close_code_valid(1004));
	assert_false(lf_ws_close_code_valid(1005));
	assert_false(lf_ws_close_code_valid(1006));
	assert_false(lf_ws_close_code_valid(1015));
	assert_false(lf_ws_close_code_valid(2000));
	assert_false(lf_ws_close_code_valid(5000));
}

/* Feeds the bytes one at a time and collects the events. */
struct got {
	int kinds[16];
	char data[16][256];
	size_t lens[16];
	unsigned codes[16];
	int n;
	int rc; /* last rc */
	unsigned close_code;
	char err[LF_ERROR_MAX];
};

static void run_reader(const void *bytes, size_t n, bool bytewise, size_t max, struct got *g)
{
	struct lf_ws_reader r;
	lf_ws_reader_init(&r, true, max);
	memset(g, 0, sizeof(*g));
	const uint8_t *p = bytes;
	size_t step = bytewise ? 1 : n;
	for (size_t off = 0; off < n || off == 0; off += step) {
		size_t k = off + step > n ? n - off : step;
		assert_int_equal(lf_ws_reader_feed(&r, p + off, k), 0);
		struct lf_ws_event ev;
		struct lf_error err = {{0}};
		int rc;
		while ((rc = lf_ws_reader_next(&r, &ev, &g->close_code, &err)) == 1) {
			assert_true(g->n < 16);
			g->kinds[g->n] = ev.kind;
			assert_true(ev.len < sizeof(g->data[0]));
			memcpy(g->data[g->n], ev.data ? (const char *)ev.data : "", ev.len);
			g->lens[g->n] = ev.len;
			g->codes[g->n] = ev.kind == LF_WS_EV_CLOSE ? ev.close_code : ev.opcode;
			g->n++;
		}
		g->rc = rc;
		if (rc < 0) {
			strcpy(g->err, err.msg);
			break;
		}
		if (n == 0)
			break;
	}
	lf_ws_reader_free(&r);
}

static void test_reader_fragments(void **state)
{
	(void)state;
	struct lf_buf b = LF_BUF_INIT;
	/* "Hel" + ping("hi") + "lo" + pong + a binary message + close 1000 "bye" */
	lf_ws_encode(&b, LF_WS_OP_TEXT, false, "Hel", 3, MASK);
	lf_ws_encode(&b, LF_WS_OP_PING, true, "hi", 2, MASK);
	lf_ws_encode(&b, LF_WS_OP_CONT, false, "", 0, MASK);
	lf_ws_encode(&b, LF_WS_OP_CONT, true, "lo", 2, MASK);
	lf_ws_encode(&b, LF_WS_OP_PONG, true, NULL, 0, MASK);
	lf_ws_encode(&b, LF_WS_OP_BINARY, true, "\x00\xff", 2, MASK);
	lf_ws_encode_close(&b, 1000, "bye", MASK);
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct got g;
		run_reader(b.data, b.len, bytewise, 0, &g);
		assert_int_equal(g.rc, 0);
		assert_int_equal(g.n, 5);
		assert_int_equal(g.kinds[0], LF_WS_EV_PING);
		assert_int_equal(g.lens[0], 2);
		assert_memory_equal(g.data[0], "hi", 2);
		assert_int_equal(g.kinds[1], LF_WS_EV_MESSAGE);
		assert_int_equal(g.codes[1], LF_WS_OP_TEXT);
		assert_int_equal(g.lens[1], 5);
		assert_memory_equal(g.data[1], "Hello", 5);
		assert_int_equal(g.kinds[2], LF_WS_EV_PONG);
		assert_int_equal(g.kinds[3], LF_WS_EV_MESSAGE);
		assert_int_equal(g.codes[3], LF_WS_OP_BINARY);
		assert_memory_equal(g.data[3], "\x00\xff", 2);
		assert_int_equal(g.kinds[4], LF_WS_EV_CLOSE);
		assert_int_equal(g.codes[4], 1000);
		assert_int_equal(g.lens[4], 3);
		assert_memory_equal(g.data[4], "bye", 3);
	}
	/* a close frame without a payload reports 1005 */
	lf_buf_reset(&b);
	lf_ws_encode(&b, LF_WS_OP_CLOSE, true, NULL, 0, MASK);
	struct got g;
	run_reader(b.data, b.len, false, 0, &g);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.codes[0], LF_WS_CLOSE_NO_STATUS);
	lf_buf_free(&b);
}

/* One violation: the reader fails with want_code and a message. */
static void expect_fail(const void *bytes, size_t n, size_t max, unsigned want_code,
                        const char *want_msg)
{
	struct got g;
	run_reader(bytes, n, false, max, &g);
	assert_int_equal(g.rc, -1);
	assert_int_equal(g.close_code, want_code);
	if (!strstr(g.err, want_msg))
		fail_msg("error \"%s\" does not contain \"%s\"", g.err, want_msg);
}

static void test_reader_violations(void **state)
{
	(void)state;
	struct lf_buf b = LF_BUF_INIT;
	/* unmasked client frame */
	lf_ws_encode(&b, LF_WS_OP_TEXT, true, "x", 1, NULL);
	expect_fail(b.data, b.len, 0, 1002, "not masked");
	/* RSV bit */
	lf_buf_reset(&b);
	lf_ws_encode(&b, LF_WS_OP_TEXT, true, "x", 1, MASK);
	b.data[0] |= 0x40;
	expect_fail(b.data, b.len, 0, 1002, "reserved bits");
	/* unknown opcode */
	lf_buf_reset(&b);
	lf_ws_encode(&b, (enum lf_ws_opcode)0x3, true, "x", 1, MASK);
	expect_fail(b.data, b.len, 0, 1002, "unknown opcode 0x3");
	/* fragmented and oversized control frames */
	lf_buf_reset(&b);
	lf_ws_encode(&b, LF_WS_OP_PING, false, "x", 1, MASK);
	expect_fail(b.data, b.len, 0, 1002, "fragmented");
	char big[200];
	memset(big, 'a', sizeof(big));
	lf_buf_reset(&b);
	lf_ws_encode(&b, LF_WS_OP_PING, true, big, 126, MASK);
	expect_fail(b.data, b.len, 0, 1002, "longer than 125");
	/* continuation without a message, new message inside a fragmented one */
	lf_buf_reset(&b);
	lf_ws_encode(&b, LF_WS_OP_CONT, true, "x", 1, MASK);
	expect_fail(b.data, b.len, 0, 1002, "without a message");
	lf_buf_reset(&b);
	lf_ws_encode(&b, LF_WS_OP_TEXT, false, "x", 1, MASK);
	lf_ws_encode(&b, LF_WS_OP_TEXT, true, "y", 1, MASK);
	expect_fail(b.data, b.len, 0, 1002, "before the fragmented one ended");
	/* oversize: one frame over the limit, and fragments adding up past it */
	lf_buf_reset(&b);
	lf_ws_encode(&b, LF_WS_OP_BINARY, true, big, 200, MASK);
	expect_fail(b.data, b.len, 100, 1009, "exceeds the limit of 100 bytes");
	lf_buf_reset(&b);
	lf_ws_encode(&b, LF_WS_OP_BINARY, false, big, 60, MASK);
	lf_ws_encode(&b, LF_WS_OP_CONT, true, big, 60, MASK);
	expect_fail(b.data, b.len, 100, 1009, "exceeds");
	/* the size check happens on the header: a 2^62-byte frame is refused
	 * before any payload arrives */
	const uint8_t huge[] = {0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
	expect_fail(huge, sizeof(huge), 0, 1009, "exceeds");
	const uint8_t msb[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
	expect_fail(msb, sizeof(msb), 0, 1002, "most significant bit");
	/* non-minimal lengths */
	const uint8_t nm16[] = {0x82, 0xfe, 0x00, 0x05, 1, 2, 3, 4};
	expect_fail(nm16, sizeof(nm16), 0, 1002, "not minimally encoded");
	const uint8_t nm64[] = {0x82, 0xff, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 1, 2, 3, 4};
	expect_fail(nm64, sizeof(nm64), 0, 1002, "not minimally encoded");
	/* invalid UTF-8 text, also across fragments */
	lf_buf_reset(&b);
	lf_ws_encode(&b, LF_WS_OP_TEXT, true, "\xc3\x28", 2, MASK);
	expect_fail(b.data, b.len, 0, 1007, "not UTF-8");
	lf_buf_reset(&b);
	lf_ws_encode(&b, LF_WS_OP_TEXT, false, "ok\xc3", 3, MASK);
	lf_ws_encode(&b, LF_WS_OP_CONT, true, "(", 1, MASK);
	expect_fail(b.data, b.len, 0, 1007, "not UTF-8");
	/* but a sequence split between fragments is fine */
	lf_buf_reset(&b);
	lf_ws_encode(&b, LF_WS_OP_TEXT, false, "\xc3", 1, MASK);
	lf_ws_encode(&b, LF_WS_OP_CONT, true, "\xa9", 1, MASK);
	struct got g;
	run_reader(b.data, b.len, true, 0, &g);
	assert_int_equal(g.rc, 0);
	assert_int_equal(g.n, 1);
	assert_memory_equal(g.data[0], "\xc3\xa9", 2);
	/* close frames: 1-byte payload, invalid codes, bad reason */
	lf_buf_reset(&b);
	lf_ws_encode(&b, LF_WS_OP_CLOSE, true, "\x03", 1, MASK);
	expect_fail(b.data, b.len, 0, 1002, "1-byte");
	const unsigned bad_codes[] = {0, 999, 1004, 1005, 1006, 1015, 2999, 5000};
	for (size_t i = 0; i < sizeof(bad_codes) / sizeof(bad_codes[0]); i++) {
		lf_buf_reset(&b);
		lf_ws_encode_close(&b, bad_codes[i], "", MASK);
		expect_fail(b.data, b.len, 0, 1002, "invalid close code");
	}
	lf_buf_reset(&b);
	lf_ws_encode(&b, LF_WS_OP_CLOSE, true, "\x03\xe8\xff", 3, MASK);
	expect_fail(b.data, b.len, 0, 1007, "close reason");
	lf_buf_free(&b);
}

static void test_mask_offsets(void **state)
{
	(void)state;
	uint8_t d[9] = "abcdefghi";
	lf_ws_mask(d, 9, MASK, 0);
	/* unmasking in two pieces with the right offset gives the original back */
	lf_ws_mask(d, 3, MASK, 0);
	lf_ws_mask(d + 3, 6, MASK, 3);
	assert_memory_equal(d, "abcdefghi", 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_accept_key),       cmocka_unit_test(test_handshake),
	        cmocka_unit_test(test_encode_lengths),   cmocka_unit_test(test_close_encode),
	        cmocka_unit_test(test_reader_fragments), cmocka_unit_test(test_reader_violations),
	        cmocka_unit_test(test_mask_offsets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
