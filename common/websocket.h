/* websocket.h — RFC 6455 server-side websocket framing, independent of the
 * HTTP server: the opening handshake check and Sec-WebSocket-Accept value
 * (SHA-1 via OpenSSL libcrypto + base64), a frame encoder, and an
 * incremental reader that turns received bytes into messages (reassembling
 * fragments) and control frames (ping, pong, close), enforcing the RFC's
 * rules: client frames masked, no RSV bits (no extensions are negotiated),
 * known opcodes only, control frames unfragmented and <= 125 bytes, minimal
 * length encoding, valid close codes, UTF-8 text and close reasons, and a
 * size limit per message. A violation gives the close code to answer with
 * (1002 protocol error, 1007 invalid data, 1009 too big) and a message.
 *
 * Also two small blocking-socket helpers with deadlines (write everything,
 * read what is there) used by the store's tail sessions. No global state.
 */
#ifndef LF_WEBSOCKET_H
#define LF_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

#define LF_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */

enum lf_ws_opcode {
	LF_WS_OP_CONT = 0x0,
	LF_WS_OP_TEXT = 0x1,
	LF_WS_OP_BINARY = 0x2,
	LF_WS_OP_CLOSE = 0x8,
	LF_WS_OP_PING = 0x9,
	LF_WS_OP_PONG = 0xA,
};

enum lf_ws_close_code {
	LF_WS_CLOSE_NORMAL = 1000,
	LF_WS_CLOSE_GOING_AWAY = 1001,
	LF_WS_CLOSE_PROTOCOL = 1002,
	LF_WS_CLOSE_UNSUPPORTED = 1003,
	LF_WS_CLOSE_NO_STATUS = 1005, /* never sent: "the close frame had no code" */
	LF_WS_CLOSE_INVALID_DATA = 1007,
	LF_WS_CLOSE_POLICY = 1008,
	LF_WS_CLOSE_TOO_BIG = 1009,
	LF_WS_CLOSE_INTERNAL = 1011,
};

/* Computes Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64 of
 * SHA-1(key + the RFC's GUID). The key must be base64 of 16 bytes (24
 * chars); otherwise -1 with the key in the message. out gets 28 chars + NUL. */
int lf_ws_accept_key(const char *key, char out[LF_WS_ACCEPT_LEN + 1], struct lf_error *err);

/* Checks an opening handshake's request line and headers (any may be
 * NULL = absent): a `Connection` list holding `upgrade`, `Upgrade:
 * websocket`, GET, `Sec-WebSocket-Version: 13` and a valid key, in the
 * order and with the texts of Go's gorilla/websocket (Loki's server).
 * Returns 0, or the HTTP status to answer (400; 405 for another method)
 * with the reason in err; answers should carry Sec-WebSocket-Version: 13. */
int lf_ws_check_handshake(const char *method, const char *upgrade, const char *connection,
                          const char *version, const char *key, struct lf_error *err);

/* True when code may appear in a received close frame (RFC 6455 7.4). */
bool lf_ws_close_code_valid(unsigned code);

/* Appends one frame. mask NULL = unmasked (server to client); otherwise the
 * payload is masked with these 4 bytes (client to server). 0 / -1 (ENOMEM). */
int lf_ws_encode(struct lf_buf *out, enum lf_ws_opcode op, bool fin, const void *payload,
                 size_t len, const uint8_t *mask);
/* Appends a close frame with code and reason (reason cut to the 123 bytes
 * a control frame allows, on a UTF-8 boundary). */
int lf_ws_encode_close(struct lf_buf *out, unsigned code, const char *reason, const uint8_t *mask);

/* XORs p[0..n) with mask, starting at mask offset `offset` (mod 4). */
void lf_ws_mask(uint8_t *p, size_t n, const uint8_t mask[4], size_t offset);

/* A parsed frame header. */
struct lf_ws_frame {
	bool fin;
	uint8_t rsv;    /* RSV1..3 bits, as 0..7 */
	uint8_t opcode; /* 0..15 */
	bool masked;
	uint8_t mask[4];
	uint64_t len;   /* payload length */
	size_t hdr_len; /* 2..14 */
};

/* Parses the frame header at p[0..n): 1 = complete (f filled), 0 = more
 * bytes needed, -1 = a length field that is not minimally encoded or has
 * its top bit set (message in err). Opcode/flag rules are checked by the
 * reader, not here. */
int lf_ws_parse_header(const uint8_t *p, size_t n, struct lf_ws_frame *f, struct lf_error *err);

enum lf_ws_event_kind {
	LF_WS_EV_MESSAGE = 1, /* a complete text or binary message */
	LF_WS_EV_PING,
	LF_WS_EV_PONG,
	LF_WS_EV_CLOSE,
};

struct lf_ws_event {
	enum lf_ws_event_kind kind;
	enum lf_ws_opcode opcode; /* MESSAGE: TEXT or BINARY */
	const uint8_t *data;      /* payload (unmasked); CLOSE: the reason */
	size_t len;
	unsigned close_code; /* CLOSE: the code, LF_WS_CLOSE_NO_STATUS when absent */
};

/* Incremental reader. Set require_mask (a server reading a client) and
 * max_message (bytes of one assembled message; 0 = 1 MiB) before use. */
struct lf_ws_reader {
	bool require_mask;
	size_t max_message;
	struct lf_buf in;  /* received, not yet consumed */
	size_t in_off;     /* consumed prefix of in */
	struct lf_buf msg; /* fragments of the message in progress */
	uint8_t msg_op;    /* 0 = none in progress */
	struct lf_buf ctl; /* the last control frame's payload */
	bool failed;
};

void lf_ws_reader_init(struct lf_ws_reader *r, bool require_mask, size_t max_message);
void lf_ws_reader_free(struct lf_ws_reader *r);
/* Appends received bytes. 0 / -1 (ENOMEM). */
int lf_ws_reader_feed(struct lf_ws_reader *r, const void *data, size_t n);
/* Takes the next event: 1 = *ev filled (its data valid until the next call
 * or feed), 0 = need more bytes, -1 = protocol violation: *close_code is
 * what to send before closing, err says why. After -1 the reader stays
 * failed. */
int lf_ws_reader_next(struct lf_ws_reader *r, struct lf_ws_event *ev, unsigned *close_code,
                      struct lf_error *err);

/* Writes all n bytes to a socket (any blocking mode), waiting at most
 * timeout_ms without progress. 0, or -1 with errno (ETIMEDOUT when the
 * peer stopped reading). */
int lf_ws_write_all(int fd, const void *p, size_t n, int timeout_ms);

#endif
