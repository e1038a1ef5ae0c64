/* syslog_parse.c — see syslog_parse.h. */
#include "syslog_parse.h"

#include <string.h>
#include <time.h>

#include "timeutil.h"

static const char *const severities[] = {"emergency", "alert",  "critical",      "error",
                                         "warning",   "notice", "informational", "debug"};
static const char *const facilities[] = {
        "kern",   "user",   "mail",     "daemon", "auth",   "syslog",   "lpr",     "news",
        "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "security", "console", "cron2",
        "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7"};

const char *lf_syslog_severity_name(int sev)
{
	return sev >= 0 && sev < 8 ? severities[sev] : "";
}

const char *lf_syslog_facility_name(int fac)
{
	return fac >= 0 && fac < 24 ? facilities[fac] : "";
}

/* "<PRI>": 1-3 digits, <= 191, no leading zero except "0". */
static int parse_pri(const char *p, size_t n, size_t *pos, struct lf_syslog_msg *m,
                     const char **why)
{
	if (n < 3 || p[0] != '<') {
		*why = "expecting a priority value within angle brackets";
		return -1;
	}
	size_t i = 1;
	int v = 0, digits = 0;
	while (i < n && p[i] >= '0' && p[i] <= '9' && digits < 4) {
		v = v * 10 + (p[i] - '0');
		i++;
		digits++;
	}
	if (digits == 0 || digits > 3 || i >= n || p[i] != '>' || v > 191 ||
	    (digits > 1 && p[1] == '0')) {
		*why = "expecting a priority value in the range 1-191 or equal to 0";
		return -1;
	}
	m->facility = v / 8;
	m->severity = v % 8;
	*pos = i + 1;
	return 0;
}

/* A header field up to the next SP: printable US-ASCII, 1..max bytes;
 * "-" means absent. */
static int field(const char *p, size_t n, size_t *pos, size_t max, struct lf_slice *out)
{
	size_t i = *pos, s = i;
	while (i < n && p[i] != ' ') {
		unsigned char c = (unsigned char)p[i];
		if (c < 33 || c > 126)
			return -1;
		i++;
	}
	if (i == s || i - s > max)
		return -1;
	if (i - s == 1 && p[s] == '-')
		*out = (struct lf_slice){NULL, 0};
	else
		*out = (struct lf_slice){p + s, i - s};
	*pos = i;
	return 0;
}

static int sp(const char *p, size_t n, size_t *pos)
{
	if (*pos >= n || p[*pos] != ' ')
		return -1;
	(*pos)++;
	return 0;
}

/* One SD-ELEMENT starting at p[*pos] == '['; advances past ']'. */
static int sd_element(const char *p, size_t n, size_t *pos)
{
	size_t i = *pos + 1;
	size_t s = i;
	while (i < n && p[i] != ' ' && p[i] != ']' && p[i] != '=' && p[i] != '"' &&
	       (unsigned char)p[i] > 32 && (unsigned char)p[i] < 127)
		i++;
	if (i == s || i - s > 32)
		return -1;
	for (;;) {
		if (i >= n)
			return -1;
		if (p[i] == ']') {
			*pos = i + 1;
			return 0;
		}
		if (p[i] != ' ')
			return -1;
		i++;
		s = i;
		while (i < n && p[i] != ' ' && p[i] != ']' && p[i] != '=' && p[i] != '"' &&
		       (unsigned char)p[i] > 32 && (unsigned char)p[i] < 127)
			i++;
		if (i == s || i - s > 32 || i + 1 >= n || p[i] != '=' || p[i + 1] != '"')
			return -1;
		i += 2;
		while (i < n && p[i] != '"') {
			if (p[i] == '\\' && i + 1 < n)
				i++;
			i++;
		}
		if (i >= n)
			return -1;
		i++; /* closing quote */
	}
}

bool lf_syslog_sd_valid(struct lf_slice sd)
{
	if (!sd.p)
		return true;
	size_t pos = 0;
	while (pos < sd.n) {
		if (sd.p[pos] != '[' || sd_element(sd.p, sd.n, &pos) < 0)
			return false;
	}
	return true;
}

int lf_syslog_parse_5424(const char *p, size_t n, struct lf_syslog_msg *m, const char **why)
{
	memset(m, 0, sizeof *m);
	size_t i;
	if (parse_pri(p, n, &i, m, why) < 0)
		return -1;
	/* VERSION: 1-3 digits, no leading zero */
	size_t s = i;
	int v = 0;
	while (i < n && p[i] >= '0' && p[i] <= '9' && i - s < 3)
		v = v * 10 + (p[i++] - '0');
	if (i == s || p[s] == '0') {
		*why = "expecting a version value in the range 1-999";
		return -1;
	}
	m->version = v;
	struct lf_slice ts;
	if (sp(p, n, &i) < 0 || field(p, n, &i, 64, &ts) < 0) {
		*why = "expecting a RFC3339 timestamp or a nil value";
		return -1;
	}
	if (ts.p) {
		if (lf_parse_rfc3339(ts.p, ts.n, &m->ts_ns) < 0) {
			*why = "expecting a RFC3339 timestamp or a nil value";
			return -1;
		}
		m->has_ts = true;
	}
	if (sp(p, n, &i) < 0 || field(p, n, &i, 255, &m->hostname) < 0) {
		*why = "expecting a hostname (from 1 to max 255 US-ASCII characters) or a nil "
		       "value";
		return -1;
	}
	if (sp(p, n, &i) < 0 || field(p, n, &i, 48, &m->app_name) < 0) {
		*why = "expecting an app-name (from 1 to max 48 US-ASCII characters) or a nil "
		       "value";
		return -1;
	}
	if (sp(p, n, &i) < 0 || field(p, n, &i, 128, &m->proc_id) < 0) {
		*why = "expecting a procid (from 1 to max 128 US-ASCII characters) or a nil value";
		return -1;
	}
	if (sp(p, n, &i) < 0 || field(p, n, &i, 32, &m->msg_id) < 0) {
		*why = "expecting a msgid (from 1 to max 32 US-ASCII characters) or a nil value";
		return -1;
	}
	if (sp(p, n, &i) < 0 || i >= n) {
		*why = "expecting a structured data section containing one or more elements "
		       "(`[id( key=\"value\")*]+`) or a nil value";
		return -1;
	}
	if (p[i] == '-') {
		i++;
	} else {
		s = i;
		while (i < n && p[i] == '[') {
			if (sd_element(p, n, &i) < 0) {
				*why = "expecting a structured data element";
				return -1;
			}
		}
		if (i == s) {
			*why = "expecting a structured data section containing one or more "
			       "elements (`[id( key=\"value\")*]+`) or a nil value";
			return -1;
		}
		m->sd = (struct lf_slice){p + s, i - s};
	}
	if (i < n) {
		if (p[i] != ' ') {
			*why = "expecting a space before the message";
			return -1;
		}
		i++;
		if (n - i >= 3 && memcmp(p + i, "\xef\xbb\xbf", 3) == 0)
			i += 3;
		m->msg = (struct lf_slice){p + i, n - i};
	}
	return 0;
}

static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

static int two(const char *p, int *out)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	*out = (p[0] - '0') * 10 + (p[1] - '0');
	return 0;
}

int lf_syslog_parse_3164(const char *p, size_t n, int64_t now_ns, struct lf_syslog_msg *m,
                         const char **why)
{
	memset(m, 0, sizeof *m);
	size_t i;
	if (parse_pri(p, n, &i, m, why) < 0)
		return -1;
	size_t rest = i;
	/* "Mmm dd hh:mm:ss " (dd may be " d") */
	if (n - i >= 16 && p[i + 3] == ' ' && p[i + 6] == ' ' && p[i + 9] == ':' &&
	    p[i + 12] == ':' && p[i + 15] == ' ') {
		int mon = -1, d, hh, mm, ss;
		for (int k = 0; k < 12; k++)
			if (memcmp(p + i, months + 3 * k, 3) == 0)
				mon = k;
		char dd[2] = {p[i + 4] == ' ' ? '0' : p[i + 4], p[i + 5]};
		if (mon >= 0 && two(dd, &d) == 0 && two(p + i + 7, &hh) == 0 &&
		    two(p + i + 10, &mm) == 0 && two(p + i + 13, &ss) == 0 && d >= 1 && d <= 31 &&
		    hh < 24 && mm < 60 && ss < 61) {
			time_t now = (time_t)(now_ns / LF_NS_PER_SEC);
			struct tm tm;
			gmtime_r(&now, &tm);
			int year = tm.tm_year;
			/* a December message read in January belongs to last year */
			if (mon == 11 && tm.tm_mon == 0)
				year--;
			struct tm t = {.tm_year = year,
			               .tm_mon = mon,
			               .tm_mday = d,
			               .tm_hour = hh,
			               .tm_min = mm,
			               .tm_sec = ss};
			m->ts_ns = (int64_t)timegm(&t) * LF_NS_PER_SEC;
			m->has_ts = true;
			i += 16;
			/* HOSTNAME SP */
			size_t s = i;
			while (i < n && p[i] != ' ' && (unsigned char)p[i] > 32 &&
			       (unsigned char)p[i] < 127)
				i++;
			if (i < n && p[i] == ' ' && i > s) {
				m->hostname = (struct lf_slice){p + s, i - s};
				i++;
			} else {
				i = s;
			}
			rest = i;
			/* TAG: alphanumerics and a few more, up to '[' ':' or ' ' */
			s = i;
			while (i < n && i - s < 48 && p[i] != '[' && p[i] != ':' && p[i] != ' ' &&
			       (unsigned char)p[i] > 32 && (unsigned char)p[i] < 127)
				i++;
			if (i > s && i < n) {
				struct lf_slice tag = {p + s, i - s};
				struct lf_slice pid = {NULL, 0};
				size_t j = i;
				if (p[j] == '[') {
					size_t ps = ++j;
					while (j < n && p[j] != ']' && j - ps < 128)
						j++;
					if (j < n && p[j] == ']' && j > ps) {
						pid = (struct lf_slice){p + ps, j - ps};
						j++;
					} else {
						j = n + 1; /* not a tag */
					}
				}
				if (j < n && p[j] == ':') {
					m->app_name = tag;
					m->proc_id = pid;
					j++;
					if (j < n && p[j] == ' ')
						j++;
					rest = j;
				}
			}
		}
	}
	if (rest < n)
		m->msg = (struct lf_slice){p + rest, n - rest};
	return 0;
}

void lf_syslog_sd_iter_init(struct lf_syslog_sd_iter *it, struct lf_slice sd)
{
	it->p = sd.p;
	it->end = sd.p ? sd.p + sd.n : NULL;
	it->in_elem = false;
	it->id = (struct lf_slice){NULL, 0};
}

static size_t name_len(const char *p, const char *end)
{
	const char *s = p;
	while (p < end && *p != ' ' && *p != ']' && *p != '=' && *p != '"')
		p++;
	return (size_t)(p - s);
}

int lf_syslog_sd_next(struct lf_syslog_sd_iter *it, struct lf_slice *id, struct lf_slice *name,
                      struct lf_slice *value)
{
	for (;;) {
		if (!it->p || it->p >= it->end)
			return 0;
		if (!it->in_elem) {
			if (*it->p != '[')
				return -1;
			it->p++;
			size_t l = name_len(it->p, it->end);
			if (l == 0)
				return -1;
			it->id = (struct lf_slice){it->p, l};
			it->p += l;
			it->in_elem = true;
		}
		if (it->p >= it->end)
			return -1;
		if (*it->p == ']') {
			it->p++;
			it->in_elem = false;
			continue;
		}
		if (*it->p != ' ')
			return -1;
		it->p++;
		size_t l = name_len(it->p, it->end);
		if (l == 0 || it->p + l + 1 >= it->end || it->p[l] != '=' || it->p[l + 1] != '"')
			return -1;
		*name = (struct lf_slice){it->p, l};
		it->p += l + 2;
		const char *vs = it->p;
		while (it->p < it->end && *it->p != '"') {
			if (*it->p == '\\' && it->p + 1 < it->end)
				it->p++;
			it->p++;
		}
		if (it->p >= it->end)
			return -1;
		*value = (struct lf_slice){vs, (size_t)(it->p - vs)};
		it->p++;
		*id = it->id;
		return 1;
	}
}

size_t lf_syslog_sd_unescape(struct lf_slice v, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < v.n; i++) {
		if (v.p[i] == '\\' && i + 1 < v.n &&
		    (v.p[i + 1] == '"' || v.p[i + 1] == '\\' || v.p[i + 1] == ']'))
			i++;
		out[o++] = v.p[i];
	}
	return o;
}

/* ---- framing ---- */

void lf_syslog_framer_init(struct lf_syslog_framer *f, size_t max_len)
{
	memset(f, 0, sizeof *f);
	f->max_len = max_len ? max_len : 8192;
}

enum lf_frame_rc lf_syslog_frame_next(struct lf_syslog_framer *f, const char *buf, size_t len,
                                      bool at_eof, const char **msg, size_t *msg_len,
                                      size_t *consumed, const char **why)
{
	*consumed = 0;
	if (len == 0)
		return LF_FRAME_MORE;
	if (f->mode == LF_FRAME_UNKNOWN) {
		if (buf[0] >= '0' && buf[0] <= '9') {
			f->mode = LF_FRAME_OCTET;
		} else if (buf[0] == '<') {
			f->mode = LF_FRAME_NEWLINE;
		} else {
			*why = "invalid or unsupported framing";
			return LF_FRAME_ERR;
		}
	}
	if (f->mode == LF_FRAME_OCTET) {
		size_t i = 0, v = 0;
		if (buf[0] < '1' || buf[0] > '9') {
			*why = "invalid octet count";
			return LF_FRAME_ERR;
		}
		while (i < len && buf[i] >= '0' && buf[i] <= '9') {
			if (i >= 9) {
				*why = "message too long to parse";
				return LF_FRAME_ERR;
			}
			v = v * 10 + (size_t)(buf[i] - '0');
			i++;
		}
		if (i == len)
			return LF_FRAME_MORE;
		if (buf[i] != ' ') {
			*why = "invalid octet count";
			return LF_FRAME_ERR;
		}
		if (v > f->max_len) {
			*why = "message too long to parse";
			return LF_FRAME_ERR;
		}
		if (len - i - 1 < v)
			return LF_FRAME_MORE;
		*msg = buf + i + 1;
		*msg_len = v;
		*consumed = i + 1 + v;
		return LF_FRAME_MSG;
	}
	/* newline */
	const char *nl = memchr(buf, '\n', len);
	if (f->discarding) {
		if (!nl) {
			*consumed = len;
			return LF_FRAME_MORE;
		}
		f->discarding = false;
		*consumed = (size_t)(nl - buf) + 1;
		return LF_FRAME_MORE;
	}
	if (!nl) {
		if (len > f->max_len) {
			f->discarding = true;
			f->too_long++;
			*consumed = len;
			return LF_FRAME_MORE;
		}
		if (at_eof) {
			*msg = buf;
			*msg_len = len;
			*consumed = len;
			return LF_FRAME_MSG;
		}
		return LF_FRAME_MORE;
	}
	size_t l = (size_t)(nl - buf);
	*consumed = l + 1;
	if (l > f->max_len) {
		f->too_long++;
		return LF_FRAME_MORE;
	}
	if (l > 0 && buf[l - 1] == '\r')
		l--;
	if (l == 0)
		return LF_FRAME_MORE; /* empty line: nothing to parse */
	*msg = buf;
	*msg_len = l;
	return LF_FRAME_MSG;
}
