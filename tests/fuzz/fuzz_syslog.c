/* fuzz_syslog.c — the syslog source's parser (agent/sources/syslog_parse.h):
 * bytes from any TCP/UDP peer.
 *
 * Input: the first byte picks max_message_length (16..4111) and whether the
 * framer sees the stream in one piece or in 7-byte reads; the rest is a
 * TCP byte stream. Every framed message is parsed as RFC 5424 and as RFC
 * 3164 and its structured data iterated and unescaped. Properties:
 *   - nothing crashes or reads outside the input;
 *   - every slice of a parsed message lies inside the message;
 *   - framed messages never exceed max_message_length (+ the octet count);
 *   - the framer never asks to keep more than max_len + 32 bytes;
 *   - one-piece and chunked feeding yield the same messages, as long as
 *     the stream did not fail.
 */
#include "fuzz.h"

#include <stdbool.h>

#include "syslog_parse.h"

static void in_msg(struct lf_slice s, const char *p, size_t n)
{
	if (!s.p)
		return;
	FUZZ_CHECK(s.p >= p && s.p + s.n <= p + n, "slice outside the message");
}

static uint64_t parse_all(const char *p, size_t n)
{
	struct lf_syslog_msg m;
	const char *why = NULL;
	uint64_t h = n;
	for (int k = 0; k < 2; k++) {
		int rc = k ? lf_syslog_parse_3164(p, n, 1700000000000000000, &m, &why)
		           : lf_syslog_parse_5424(p, n, &m, &why);
		if (rc < 0) {
			FUZZ_CHECK(why && why[0], "error without a reason");
			continue;
		}
		FUZZ_CHECK(m.facility >= 0 && m.facility < 24 && m.severity >= 0 && m.severity < 8,
		           "pri range");
		in_msg(m.hostname, p, n);
		in_msg(m.app_name, p, n);
		in_msg(m.proc_id, p, n);
		in_msg(m.msg_id, p, n);
		in_msg(m.sd, p, n);
		in_msg(m.msg, p, n);
		h = h * 31 + m.msg.n;
		if (k == 0 && m.sd.p) {
			FUZZ_CHECK(lf_syslog_sd_valid(m.sd), "accepted sd is valid");
			struct lf_syslog_sd_iter it;
			struct lf_slice id, name, val;
			char out[8192];
			lf_syslog_sd_iter_init(&it, m.sd);
			int r;
			while ((r = lf_syslog_sd_next(&it, &id, &name, &val)) == 1) {
				in_msg(id, p, n);
				in_msg(name, p, n);
				in_msg(val, p, n);
				FUZZ_CHECK(val.n <= sizeof out, "value size");
				size_t ul = lf_syslog_sd_unescape(val, out);
				FUZZ_CHECK(ul <= val.n, "unescape grows");
			}
			FUZZ_CHECK(r == 0, "valid sd iterates to the end");
		}
	}
	return h;
}

/* Feeds the stream in pieces of `step` bytes (0 = all at once), keeping
 * the pending bytes as the syslog source does. Returns a hash of the
 * messages, or 0 when the framing failed. */
static uint64_t feed(const char *data, size_t size, size_t max_len, size_t step)
{
	struct lf_syslog_framer f;
	lf_syslog_framer_init(&f, max_len);
	char *pend = malloc(size + 1);
	size_t plen = 0, pos = 0;
	uint64_t h = 1;
	if (!pend)
		abort();
	while (pos < size || plen) {
		size_t take = step ? (size - pos < step ? size - pos : step) : size - pos;
		memcpy(pend + plen, data + pos, take);
		plen += take;
		pos += take;
		bool eof = pos >= size;
		size_t off = 0;
		for (;;) {
			const char *msg, *why = NULL;
			size_t ml, used;
			enum lf_frame_rc rc = lf_syslog_frame_next(&f, pend + off, plen - off, eof,
			                                           &msg, &ml, &used, &why);
			if (rc == LF_FRAME_ERR) {
				FUZZ_CHECK(why && why[0], "framing error without a reason");
				free(pend);
				return 0;
			}
			FUZZ_CHECK(used <= plen - off, "consumed more than given");
			if (rc == LF_FRAME_MSG) {
				FUZZ_CHECK(msg >= pend + off && msg + ml <= pend + off + used,
				           "message outside the consumed bytes");
				FUZZ_CHECK(ml <= max_len, "message of %zu > max %zu", ml, max_len);
				h = h * 1000003 + parse_all(msg, ml);
			}
			off += used;
			if ((rc == LF_FRAME_MORE && used == 0) || off >= plen)
				break;
		}
		memmove(pend, pend + off, plen - off);
		plen -= off;
		FUZZ_CHECK(plen <= max_len + 32, "pending %zu bytes > max %zu + 32", plen, max_len);
		if (eof)
			break;
	}
	free(pend);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t max_len = 16 + (size_t)data[0] * 16;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	/* the whole input as one message too */
	char *copy = fuzz_strdup((const uint8_t *)p, n);
	parse_all(copy, n);
	free(copy);
	uint64_t a = feed(p, n, max_len, 0);
	uint64_t b = feed(p, n, max_len, 7);
	if (a && b)
		FUZZ_CHECK(a == b, "one-piece and chunked feeding differ");
	return 0;
}
