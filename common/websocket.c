/* websocket.c — see websocket.h. */
#include "websocket.h"

#include <errno.h>
#include <openssl/evp.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "utf8.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

int lf_ws_accept_key(const char *key, char out[LF_WS_ACCEPT_LEN + 1], struct lf_error *err)
{
	/* 16 bytes in base64: 22 significant chars + "==". */
	bool ok = key && strlen(key) == 24 && key[22] == '=' && key[23] == '=';
	for (int i = 0; ok && i < 22; i++)
		ok = b64_char(key[i]);
	/* the last significant char carries only 2 bits: its low 4 bits are 0 */
	if (ok) {
		const char *tab = "AQgw";
		ok = strchr(tab, key[21]) != NULL;
	}
	if (!ok)
		return lf_err(err, "invalid Sec-WebSocket-Key \"%.64s\": not base64 of 16 bytes",
		              key ? key : "");
	char buf[24 + sizeof ws_guid];
	memcpy(buf, key, 24);
	memcpy(buf + 24, ws_guid, sizeof ws_guid - 1);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!EVP_Digest(buf, 24 + sizeof ws_guid - 1, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
		return lf_err(err, "SHA-1 unavailable for the websocket handshake");
	int n = EVP_EncodeBlock((unsigned char *)out, md, 20);
	if (n != LF_WS_ACCEPT_LEN)
		return lf_err(err, "base64 encoding failed for the websocket handshake");
	out[LF_WS_ACCEPT_LEN] = '\0';
	return 0;
}

/* True when the comma-separated header value holds token (case-insensitive). */
static bool has_token(const char *v, const char *token)
{
	size_t tl = strlen(token);
	while (v && *v) {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		const char *e = v;
		while (*e && *e != ',')
			e++;
		const char *te = e;
		while (te > v && (te[-1] == ' ' || te[-1] == '\t'))
			te--;
		if ((size_t)(te - v) == tl && strncasecmp(v, token, tl) == 0)
			return true;
		v = e;
	}
	return false;
}

int lf_ws_check_handshake(const char *method, const char *upgrade, const char *connection,
                          const char *version, const char *key, struct lf_error *err)
{
	/* the order and texts of Go's gorilla/websocket (which Loki uses) */
	static const char bad[] = "websocket: the client is not using the websocket protocol: ";
	if (!connection || !has_token(connection, "upgrade")) {
		lf_err(err, "%s'upgrade' token not found in 'Connection' header", bad);
		return 400;
	}
	if (!upgrade || !has_token(upgrade, "websocket")) {
		lf_err(err, "%s'websocket' token not found in 'Upgrade' header", bad);
		return 400;
	}
	if (!method || strcmp(method, "GET") != 0) {
		lf_err(err, "%srequest method is not GET", bad);
		return 405;
	}
	if (!version || !has_token(version, "13")) {
		lf_err(err,
		       "websocket: unsupported version: 13 not found in 'Sec-Websocket-Version' "
		       "header");
		return 400;
	}
	char acc[LF_WS_ACCEPT_LEN + 1];
	if (lf_ws_accept_key(key, acc, err) < 0) {
		lf_err(err,
		       "websocket: not a websocket handshake: 'Sec-WebSocket-Key' header must be "
		       "Base64 encoded value of 16-byte in length");
		return 400;
	}
	return 0;
}

bool lf_ws_close_code_valid(unsigned code)
{
	if (code >= 3000 && code <= 4999)
		return true;
	if (code < 1000 || code > 1014)
		return false;
	return code != 1004 && code != 1005 && code != 1006;
}

void lf_ws_mask(uint8_t *p, size_t n, const uint8_t mask[4], size_t offset)
{
	for (size_t i = 0; i < n; i++)
		p[i] ^= mask[(i + offset) & 3];
}

int lf_ws_encode(struct lf_buf *out, enum lf_ws_opcode op, bool fin, const void *payload,
                 size_t len, const uint8_t *mask)
{
	uint8_t h[14];
	size_t hl = 0;
	h[hl++] = (uint8_t)((fin ? 0x80 : 0) | (op & 0x0f));
	uint8_t mbit = mask ? 0x80 : 0;
	if (len < 126) {
		h[hl++] = (uint8_t)(mbit | len);
	} else if (len <= 0xffff) {
		h[hl++] = mbit | 126;
		h[hl++] = (uint8_t)(len >> 8);
		h[hl++] = (uint8_t)len;
	} else {
		h[hl++] = mbit | 127;
		for (int i = 7; i >= 0; i--)
			h[hl++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	if (mask) {
		memcpy(h + hl, mask, 4);
		hl += 4;
	}
	if (lf_buf_reserve(out, hl + len) < 0)
		return -1;
	lf_buf_append(out, h, hl);
	size_t at = out->len;
	if (len)
		lf_buf_append(out, payload, len);
	if (mask)
		lf_ws_mask((uint8_t *)out->data + at, len, mask, 0);
	return 0;
}

int lf_ws_encode_close(struct lf_buf *out, unsigned code, const char *reason, const uint8_t *mask)
{
	uint8_t p[125];
	size_t n = 0;
	p[n++] = (uint8_t)(code >> 8);
	p[n++] = (uint8_t)code;
	size_t rl = reason ? strlen(reason) : 0;
	if (rl > 123) {
		rl = 123;
		/* do not cut a UTF-8 sequence: back off continuation bytes */
		while (rl > 0 && ((unsigned char)reason[rl] & 0xc0) == 0x80)
			rl--;
	}
	if (rl)
		memcpy(p + n, reason, rl);
	n += rl;
	return lf_ws_encode(out, LF_WS_OP_CLOSE, true, p, n, mask);
}

int lf_ws_parse_header(const uint8_t *p, size_t n, struct lf_ws_frame *f, struct lf_error *err)
{
	if (n < 2)
		return 0;
	f->fin = (p[0] & 0x80) != 0;
	f->rsv = (uint8_t)((p[0] >> 4) & 7);
	f->opcode = p[0] & 0x0f;
	f->masked = (p[1] & 0x80) != 0;
	uint64_t len = p[1] & 0x7f;
	size_t hl = 2;
	if (len == 126) {
		if (n < 4)
			return 0;
		len = ((uint64_t)p[2] << 8) | p[3];
		hl = 4;
		if (len < 126)
			return lf_err(err, "websocket: frame length %llu not minimally encoded",
			              (unsigned long long)len);
	} else if (len == 127) {
		if (n < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = (len << 8) | p[2 + i];
		hl = 10;
		if (len >> 63)
			return lf_err(err,
			              "websocket: frame length has its most significant bit set");
		if (len <= 0xffff)
			return lf_err(err, "websocket: frame length %llu not minimally encoded",
			              (unsigned long long)len);
	}
	if (f->masked) {
		if (n < hl + 4)
			return 0;
		memcpy(f->mask, p + hl, 4);
		hl += 4;
	} else {
		memset(f->mask, 0, 4);
	}
	f->len = len;
	f->hdr_len = hl;
	return 1;
}

void lf_ws_reader_init(struct lf_ws_reader *r, bool require_mask, size_t max_message)
{
	memset(r, 0, sizeof(*r));
	r->require_mask = require_mask;
	r->max_message = max_message ? max_message : (size_t)1 << 20;
}

void lf_ws_reader_free(struct lf_ws_reader *r)
{
	lf_buf_free(&r->in);
	lf_buf_free(&r->msg);
	lf_buf_free(&r->ctl);
}

int lf_ws_reader_feed(struct lf_ws_reader *r, const void *data, size_t n)
{
	/* drop the consumed prefix before growing */
	if (r->in_off) {
		size_t rest = r->in.len - r->in_off;
		if (rest)
			memmove(r->in.data, r->in.data + r->in_off, rest);
		r->in.len = rest;
		r->in_off = 0;
	}
	return n ? lf_buf_append(&r->in, data, n) : 0;
}

static int fail(struct lf_ws_reader *r, unsigned *close_code, unsigned code)
{
	r->failed = true;
	*close_code = code;
	return -1;
}

int lf_ws_reader_next(struct lf_ws_reader *r, struct lf_ws_event *ev, unsigned *close_code,
                      struct lf_error *err)
{
	if (r->failed) {
		lf_err(err, "websocket: reader already failed");
		*close_code = LF_WS_CLOSE_PROTOCOL;
		return -1;
	}
	for (;;) {
		if (!r->in.data)
			return 0;
		const uint8_t *p = (const uint8_t *)r->in.data + r->in_off;
		size_t n = r->in.len - r->in_off;
		struct lf_ws_frame f;
		int rc = lf_ws_parse_header(p, n, &f, err);
		if (rc < 0)
			return fail(r, close_code, LF_WS_CLOSE_PROTOCOL);
		if (rc == 0)
			return 0;
		if (f.rsv) {
			lf_err(err, "websocket: reserved bits set (0x%x) but no extension agreed",
			       f.rsv);
			return fail(r, close_code, LF_WS_CLOSE_PROTOCOL);
		}
		bool control = f.opcode & 0x8;
		if (f.opcode != LF_WS_OP_CONT && f.opcode != LF_WS_OP_TEXT &&
		    f.opcode != LF_WS_OP_BINARY && f.opcode != LF_WS_OP_CLOSE &&
		    f.opcode != LF_WS_OP_PING && f.opcode != LF_WS_OP_PONG) {
			lf_err(err, "websocket: unknown opcode 0x%x", f.opcode);
			return fail(r, close_code, LF_WS_CLOSE_PROTOCOL);
		}
		if (r->require_mask && !f.masked) {
			lf_err(err, "websocket: client frame (opcode 0x%x) is not masked",
			       f.opcode);
			return fail(r, close_code, LF_WS_CLOSE_PROTOCOL);
		}
		if (control && (!f.fin || f.len > 125)) {
			lf_err(err, "websocket: control frame (opcode 0x%x) %s", f.opcode,
			       f.fin ? "longer than 125 bytes" : "fragmented");
			return fail(r, close_code, LF_WS_CLOSE_PROTOCOL);
		}
		if (!control) {
			if (f.opcode == LF_WS_OP_CONT && !r->msg_op) {
				lf_err(err, "websocket: continuation frame without a message to "
				            "continue");
				return fail(r, close_code, LF_WS_CLOSE_PROTOCOL);
			}
			if (f.opcode != LF_WS_OP_CONT && r->msg_op) {
				lf_err(err,
				       "websocket: new message (opcode 0x%x) before the "
				       "fragmented one ended",
				       f.opcode);
				return fail(r, close_code, LF_WS_CLOSE_PROTOCOL);
			}
			if (f.len > r->max_message || r->msg.len + f.len > r->max_message) {
				lf_err(err,
				       "websocket: message of at least %llu bytes exceeds the "
				       "limit of %zu bytes",
				       (unsigned long long)(r->msg.len + f.len), r->max_message);
				return fail(r, close_code, LF_WS_CLOSE_TOO_BIG);
			}
		}
		if (n - f.hdr_len < f.len)
			return 0; /* wait for the whole payload (bounded by the checks above) */
		uint8_t *pl = (uint8_t *)r->in.data + r->in_off + f.hdr_len;
		size_t plen = (size_t)f.len;
		if (f.masked)
			lf_ws_mask(pl, plen, f.mask, 0);
		r->in_off += f.hdr_len + plen;
		memset(ev, 0, sizeof(*ev));
		if (control) {
			lf_buf_reset(&r->ctl);
			if (plen && lf_buf_append(&r->ctl, pl, plen) < 0) {
				lf_err(err, "websocket: out of memory");
				return fail(r, close_code, LF_WS_CLOSE_INTERNAL);
			}
			const uint8_t *cp = (const uint8_t *)r->ctl.data;
			if (f.opcode == LF_WS_OP_CLOSE) {
				ev->kind = LF_WS_EV_CLOSE;
				ev->close_code = LF_WS_CLOSE_NO_STATUS;
				if (plen == 1) {
					lf_err(err, "websocket: close frame with a 1-byte payload");
					return fail(r, close_code, LF_WS_CLOSE_PROTOCOL);
				}
				if (plen >= 2) {
					unsigned code = ((unsigned)cp[0] << 8) | cp[1];
					if (!lf_ws_close_code_valid(code)) {
						lf_err(err, "websocket: invalid close code %u",
						       code);
						return fail(r, close_code, LF_WS_CLOSE_PROTOCOL);
					}
					if (!lf_utf8_valid((const char *)cp + 2, plen - 2)) {
						lf_err(err, "websocket: close reason is not UTF-8");
						return fail(r, close_code,
						            LF_WS_CLOSE_INVALID_DATA);
					}
					ev->close_code = code;
					ev->data = cp + 2;
					ev->len = plen - 2;
				}
			} else {
				ev->kind =
				        f.opcode == LF_WS_OP_PING ? LF_WS_EV_PING : LF_WS_EV_PONG;
				ev->data = cp;
				ev->len = plen;
			}
			return 1;
		}
		if (f.opcode != LF_WS_OP_CONT)
			r->msg_op = f.opcode;
		if (f.fin && r->msg.len == 0) {
			/* unfragmented (or a fragmented one whose earlier parts were
			 * empty): deliver in place */
			if (r->msg_op == LF_WS_OP_TEXT && !lf_utf8_valid((const char *)pl, plen)) {
				lf_err(err, "websocket: text message is not UTF-8");
				return fail(r, close_code, LF_WS_CLOSE_INVALID_DATA);
			}
			ev->kind = LF_WS_EV_MESSAGE;
			ev->opcode = (enum lf_ws_opcode)r->msg_op;
			ev->data = pl;
			ev->len = plen;
			r->msg_op = 0;
			return 1;
		}
		if (plen && lf_buf_append(&r->msg, pl, plen) < 0) {
			lf_err(err, "websocket: out of memory");
			return fail(r, close_code, LF_WS_CLOSE_INTERNAL);
		}
		if (!f.fin)
			continue;
		if (r->msg_op == LF_WS_OP_TEXT && !lf_utf8_valid(r->msg.data, r->msg.len)) {
			lf_err(err, "websocket: text message is not UTF-8");
			return fail(r, close_code, LF_WS_CLOSE_INVALID_DATA);
		}
		/* hand the assembled message over through ctl-independent storage:
		 * swap msg into a delivered state; it is reset on the next call */
		ev->kind = LF_WS_EV_MESSAGE;
		ev->opcode = (enum lf_ws_opcode)r->msg_op;
		ev->data = (const uint8_t *)r->msg.data;
		ev->len = r->msg.len;
		r->msg_op = 0;
		r->msg.len = 0; /* bytes stay valid until the next append */
		return 1;
	}
}

int lf_ws_write_all(int fd, const void *p, size_t n, int timeout_ms)
{
	const char *c = p;
	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			c += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int pr = poll(&pfd, 1, timeout_ms);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -1;
		if (pr == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (pfd.revents & (POLLERR | POLLNVAL)) {
			errno = EPIPE;
			return -1;
		}
	}
	return 0;
}
