/* log.c — see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "timeutil.h"

static _Atomic int g_level = LF_LOG_INFO;
static _Atomic int g_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void lf_log_set_level(enum lf_log_level level)
{
	g_level = (int)level;
}

enum lf_log_level lf_log_get_level(void)
{
	return (enum lf_log_level)g_level;
}

void lf_log_set_fd(int fd)
{
	g_fd = fd;
}

int lf_log_parse_level(const char *s, enum lf_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum lf_log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LF_LOG_WARN;
		return 0;
	}
	return -1;
}

static void vlog(enum lf_log_level level, const char *suffix, const char *fmt, va_list ap)
{
	char msg[2048];
	vsnprintf(msg, sizeof msg, fmt, ap);

	char line[4608];
	int64_t now = lf_now_ns();
	time_t secs = (time_t)(now / LF_NS_PER_SEC);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(line, sizeof line, "ts=%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof line - n, ".%03dZ level=%s msg=\"",
	                      (int)((now % LF_NS_PER_SEC) / LF_NS_PER_MS), level_names[level]);
	/* logfmt quoting of the message: escape quote, backslash, controls. */
	for (const char *p = msg; *p && n < sizeof line - 8; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			line[n++] = '\\';
			line[n++] = (char)c;
		} else if (c == '\n') {
			line[n++] = '\\';
			line[n++] = 'n';
		} else if (c < 0x20) {
			line[n++] = ' ';
		} else {
			line[n++] = (char)c;
		}
	}
	line[n++] = '"';
	if (suffix)
		n += (size_t)snprintf(line + n, sizeof line - n - 1, " %s", suffix);
	if (n > sizeof line - 1)
		n = sizeof line - 1;
	line[n++] = '\n';
	/* One write(2) per line so concurrent threads never interleave. */
	ssize_t w = write(g_fd, line, n);
	(void)w;
}

void lf_log(enum lf_log_level level, const char *fmt, ...)
{
	if ((int)level < g_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(level, NULL, fmt, ap);
	va_end(ap);
}

void lf_log_rl(struct lf_ratelimit *rl, enum lf_log_level level, const char *fmt, ...)
{
	if ((int)level < g_level)
		return;
	int64_t now = lf_monotonic_ns();
	if (rl->last_ns && now - rl->last_ns < rl->interval_ns) {
		rl->suppressed++;
		return;
	}
	char suffix[64] = "";
	if (rl->suppressed)
		snprintf(suffix, sizeof suffix, "suppressed=%llu",
		         (unsigned long long)rl->suppressed);
	rl->last_ns = now;
	rl->suppressed = 0;
	va_list ap;
	va_start(ap, fmt);
	vlog(level, suffix[0] ? suffix : NULL, fmt, ap);
	va_end(ap);
}
