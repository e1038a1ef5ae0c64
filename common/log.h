/* log.h — leveled logfmt logging on stderr.
 *
 * Lines look like: ts=2026-11-21T19:43:10.123Z level=warn msg="open /x: Permission denied"
 * The message is formatted printf-style and quoted; put the offending value in it.
 *
 * Global state: the current level and the output stream are process-wide,
 * because logging is a process-wide concern and every module would otherwise
 * need a logger handle threaded through it. Thread-safe (one write(2) a line).
 */
#ifndef LF_LOG_H
#define LF_LOG_H

#include <stdint.h>

enum lf_log_level { LF_LOG_DEBUG = 0, LF_LOG_INFO, LF_LOG_WARN, LF_LOG_ERROR };

void lf_log_set_level(enum lf_log_level level);
enum lf_log_level lf_log_get_level(void);
/* Parses "debug|info|warn|error" (also "warning"). Returns 0, or -1 if unknown. */
int lf_log_parse_level(const char *s, enum lf_log_level *out);
/* Redirects output to fd (default 2). For tests. */
void lf_log_set_fd(int fd);

void lf_log(enum lf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define lf_debug(...) lf_log(LF_LOG_DEBUG, __VA_ARGS__)
#define lf_info(...)  lf_log(LF_LOG_INFO, __VA_ARGS__)
#define lf_warn(...)  lf_log(LF_LOG_WARN, __VA_ARGS__)
#define lf_error(...) lf_log(LF_LOG_ERROR, __VA_ARGS__)

/* Rate limiting for per-line problems: at most one line per `interval_ns`;
 * the next line that gets through says how many were suppressed.
 * Zero-initialise, set interval_ns. Not thread-safe: one per thread/site. */
struct lf_ratelimit {
	int64_t interval_ns;
	int64_t last_ns;
	uint64_t suppressed;
};
void lf_log_rl(struct lf_ratelimit *rl, enum lf_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif
