/* fuzz_websocket.c — common/websocket's frame reader on what a client may
 * send to /loki/api/v1/tail.
 *
 * Input: byte 0 picks the feeding pattern (chunk size 1..16 or all at once)
 * and whether masks are required; the rest is the byte stream. Properties:
 *   - the reader ends in "need more" or a failure with a close code the
 *     RFC allows us to send (1002, 1007, 1009) and a message;
 *   - messages never exceed the limit; text messages and close reasons are
 *     UTF-8; close codes are valid or 1005 (none);
 *   - feeding the same bytes in different chunk sizes gives the same events;
 *   - every event re-encoded as a masked frame and read back is the same;
 *   - lf_ws_accept_key either refuses the key or gives 28 base64 chars.
 */
#include "fuzz.h"

#include "utf8.h"
#include "websocket.h"

#define MAX_MSG 4096

struct rec {
	struct lf_buf ev; /* kind(1) code(2) len(4) data, per event */
	int rc;
	unsigned code;
};

static void run(const uint8_t *p, size_t n, size_t chunk, bool mask, struct rec *out)
{
	static const uint8_t none[1];
	if (!p)
		p = none; /* n == 0 */
	struct lf_ws_reader r;
	lf_ws_reader_init(&r, mask, MAX_MSG);
	out->rc = 0;
	out->code = 0;
	for (size_t off = 0; off < n || off == 0; off += chunk) {
		size_t k = off + chunk > n ? n - off : chunk;
		FUZZ_CHECK(lf_ws_reader_feed(&r, p + off, k) == 0, "feed failed");
		struct lf_ws_event ev;
		struct lf_error err = {{0}};
		unsigned code = 0;
		int rc;
		while ((rc = lf_ws_reader_next(&r, &ev, &code, &err)) == 1) {
			FUZZ_CHECK(ev.kind >= LF_WS_EV_MESSAGE && ev.kind <= LF_WS_EV_CLOSE,
			           "bad kind %d", ev.kind);
			if (ev.kind == LF_WS_EV_MESSAGE) {
				FUZZ_CHECK(ev.len <= MAX_MSG, "message of %zu bytes", ev.len);
				FUZZ_CHECK(ev.opcode == LF_WS_OP_TEXT ||
				                   ev.opcode == LF_WS_OP_BINARY,
				           "message opcode %d", ev.opcode);
				if (ev.opcode == LF_WS_OP_TEXT)
					FUZZ_CHECK(lf_utf8_valid((const char *)ev.data, ev.len),
					           "text message not UTF-8");
			} else {
				FUZZ_CHECK(ev.len <= 125, "control payload of %zu bytes", ev.len);
			}
			if (ev.kind == LF_WS_EV_CLOSE) {
				FUZZ_CHECK(ev.close_code == LF_WS_CLOSE_NO_STATUS ||
				                   lf_ws_close_code_valid(ev.close_code),
				           "close code %u", ev.close_code);
				FUZZ_CHECK(lf_utf8_valid((const char *)ev.data, ev.len),
				           "close reason not UTF-8");
			}
			unsigned c =
			        ev.kind == LF_WS_EV_MESSAGE ? (unsigned)ev.opcode : ev.close_code;
			uint32_t len = (uint32_t)ev.len;
			lf_buf_putc(&out->ev, (char)ev.kind);
			lf_buf_append(&out->ev, &c, sizeof(c));
			lf_buf_append(&out->ev, &len, sizeof(len));
			if (ev.len)
				lf_buf_append(&out->ev, ev.data, ev.len);
		}
		if (rc < 0) {
			FUZZ_CHECK(err.msg[0], "failure without a message");
			FUZZ_CHECK(code == 1002 || code == 1007 || code == 1009, "close code %u",
			           code);
			/* stays failed */
			struct lf_error e2;
			unsigned c2;
			FUZZ_CHECK(lf_ws_reader_next(&r, &ev, &c2, &e2) == -1, "recovered");
			out->rc = -1;
			out->code = code;
			break;
		}
		if (n == 0)
			break;
	}
	lf_ws_reader_free(&r);
}

static void reencode(const struct rec *a, struct lf_buf *wire)
{
	static const uint8_t m[4] = {1, 2, 3, 4};
	if (!a->ev.len)
		return;
	const char *p = a->ev.data, *end = p + a->ev.len;
	while (p < end) {
		int kind = *p++;
		unsigned c;
		uint32_t len;
		memcpy(&c, p, sizeof(c));
		p += sizeof(c);
		memcpy(&len, p, sizeof(len));
		p += sizeof(len);
		if (kind == LF_WS_EV_MESSAGE) {
			lf_ws_encode(wire, (enum lf_ws_opcode)c, true, p, len, m);
		} else if (kind == LF_WS_EV_CLOSE) {
			if (c == LF_WS_CLOSE_NO_STATUS) {
				lf_ws_encode(wire, LF_WS_OP_CLOSE, true, NULL, 0, m);
			} else {
				uint8_t b[125] = {(uint8_t)(c >> 8), (uint8_t)c};
				memcpy(b + 2, p, len);
				lf_ws_encode(wire, LF_WS_OP_CLOSE, true, b, len + 2, m);
			}
		} else {
			lf_ws_encode(wire, kind == LF_WS_EV_PING ? LF_WS_OP_PING : LF_WS_OP_PONG,
			             true, p, len, m);
		}
		p += len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t mode = data[0];
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	bool mask = !(mode & 0x80);
	size_t chunk = (mode & 0x0f) + 1;

	struct rec whole = {LF_BUF_INIT, 0, 0}, parts = {LF_BUF_INIT, 0, 0};
	run(p, n, n ? n : 1, mask, &whole);
	run(p, n, chunk, mask, &parts);
	FUZZ_CHECK(whole.rc == parts.rc && whole.code == parts.code,
	           "chunking changed the outcome (%d/%u vs %d/%u)", whole.rc, whole.code, parts.rc,
	           parts.code);
	FUZZ_CHECK(whole.ev.len == parts.ev.len &&
	                   (!whole.ev.len || !memcmp(whole.ev.data, parts.ev.data, whole.ev.len)),
	           "chunking changed the events");

	struct lf_buf wire = LF_BUF_INIT;
	reencode(&whole, &wire);
	struct rec back = {LF_BUF_INIT, 0, 0};
	run((const uint8_t *)wire.data, wire.len, wire.len ? wire.len : 1, true, &back);
	FUZZ_CHECK(back.rc == 0, "re-encoded events do not read back: code %u", back.code);
	FUZZ_CHECK(back.ev.len == whole.ev.len &&
	                   (!back.ev.len || !memcmp(back.ev.data, whole.ev.data, back.ev.len)),
	           "re-encoded events differ");

	char *key = fuzz_strdup(p, n < 30 ? n : 30);
	char acc[LF_WS_ACCEPT_LEN + 1];
	struct lf_error err;
	if (lf_ws_accept_key(key, acc, &err) == 0)
		FUZZ_CHECK(strlen(acc) == LF_WS_ACCEPT_LEN, "accept value length %zu", strlen(acc));
	free(key);

	lf_buf_free(&whole.ev);
	lf_buf_free(&parts.ev);
	lf_buf_free(&back.ev);
	lf_buf_free(&wire);
	return 0;
}
