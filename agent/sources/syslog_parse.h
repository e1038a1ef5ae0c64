/* syslog_parse.h — syslog messages off the wire: RFC 5424 and RFC 3164
 * parsing, structured-data iteration and the TCP framings (RFC 6587
 * octet counting and newline termination).
 *
 * What this module owns: turning bytes into a struct lf_syslog_msg whose
 * fields are slices into the input (no allocation), and splitting a byte
 * stream into messages with bounded memory. It does not own sockets,
 * labels or timestamps policy (agent/sources/syslog.c does).
 *
 * Untrusted input: every function checks lengths before reading; a
 * malformed message is an error with a short reason, never a crash
 * (tests/fuzz/fuzz_syslog.c). No global state; thread-safe.
 */
#ifndef LF_SYSLOG_PARSE_H
#define LF_SYSLOG_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lf_slice {
	const char *p; /* NULL = absent ("-" in RFC 5424) */
	size_t n;
};

struct lf_syslog_msg {
	int facility; /* 0..23 */
	int severity; /* 0..7 */
	int version;  /* 1 for RFC 5424, 0 for RFC 3164 */
	bool has_ts;
	int64_t ts_ns; /* when has_ts */
	struct lf_slice hostname, app_name, proc_id, msg_id;
	struct lf_slice sd;  /* raw STRUCTURED-DATA ("[...]..."), absent for "-" */
	struct lf_slice msg; /* MSG without a leading UTF-8 BOM; absent/empty when none */
};

/* RFC 5424. Returns 0, or -1 with *why set to a static reason. */
int lf_syslog_parse_5424(const char *p, size_t n, struct lf_syslog_msg *m, const char **why);

/* RFC 3164 (BSD): "<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG"; the year is
 * taken from now_ns (UTC); a message whose header does not parse keeps
 * PRI and has the rest as MSG. Returns 0 / -1 (no valid PRI). */
int lf_syslog_parse_3164(const char *p, size_t n, int64_t now_ns, struct lf_syslog_msg *m,
                         const char **why);

/* Structured data: iterate elements and params of m->sd. The value is the
 * raw wire form; lf_syslog_sd_unescape() removes the \" \\ \] escapes. */
struct lf_syslog_sd_iter {
	const char *p, *end;
	struct lf_slice id; /* current element */
	bool in_elem;
};
void lf_syslog_sd_iter_init(struct lf_syslog_sd_iter *it, struct lf_slice sd);
/* 1 = a param (id, name, value set), 0 = end, -1 = malformed. */
int lf_syslog_sd_next(struct lf_syslog_sd_iter *it, struct lf_slice *id, struct lf_slice *name,
                      struct lf_slice *value);
/* Checks that sd is well formed (every element and param). */
bool lf_syslog_sd_valid(struct lf_slice sd);
/* Unescapes into out (at least v.n bytes); returns the length. */
size_t lf_syslog_sd_unescape(struct lf_slice v, char *out);

/* Names for meta labels ("" for out-of-range numbers). */
const char *lf_syslog_severity_name(int sev);
const char *lf_syslog_facility_name(int fac);

/* ---- framing of a TCP byte stream ---- */
enum lf_syslog_framing {
	LF_FRAME_UNKNOWN = 0, /* decided by the first byte */
	LF_FRAME_OCTET,       /* "MSGLEN SP MSG" */
	LF_FRAME_NEWLINE,     /* messages end with '\n' */
};

struct lf_syslog_framer {
	enum lf_syslog_framing mode;
	size_t max_len;    /* max_message_length */
	bool discarding;   /* newline mode: skipping the rest of a too-long line */
	uint64_t too_long; /* newline-mode lines cut off for being too long */
};

enum lf_frame_rc {
	LF_FRAME_MSG = 1,  /* msg and msg_len set; consumed bytes used */
	LF_FRAME_MORE = 0, /* need more bytes; consumed bytes can be dropped */
	LF_FRAME_ERR = -1, /* unrecoverable framing error: close the stream */
};

void lf_syslog_framer_init(struct lf_syslog_framer *f, size_t max_len);
/* Looks at buf[0..len): sets *consumed (bytes the caller may discard) and
 * on LF_FRAME_MSG the message slice. In newline mode a line longer than
 * max_len is skipped up to its '\n' without buffering (too_long counts
 * it); the caller never needs to buffer more than max_len + 32 bytes.
 * With at_eof, a trailing unterminated newline-mode message is returned. */
enum lf_frame_rc lf_syslog_frame_next(struct lf_syslog_framer *f, const char *buf, size_t len,
                                      bool at_eof, const char **msg, size_t *msg_len,
                                      size_t *consumed, const char **why);

#endif
