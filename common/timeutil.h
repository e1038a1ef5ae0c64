/* timeutil.h — clocks, durations, byte sizes and RFC3339 timestamps.
 *
 * Durations use Go/Prometheus forms ("500ms", "1m30s", "720h", "1d", "1w",
 * "0"). Byte sizes use the forms Promtail/Loki accept through go-humanize
 * ("256KB" = 256000, "256KiB" = 262144, "1MB", "1048576", case-insensitive).
 */
#ifndef LF_TIMEUTIL_H
#define LF_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define LF_NS_PER_SEC INT64_C(1000000000)
#define LF_NS_PER_MS  INT64_C(1000000)

int64_t lf_now_ns(void);       /* CLOCK_REALTIME in ns since the epoch */
int64_t lf_monotonic_ns(void); /* CLOCK_MONOTONIC in ns */

/* Parses a duration into ns. Accepts Go units (ns us µs ms s m h) and
 * Prometheus units (d w y), combined ("1h30m"), and a bare "0". */
int lf_parse_duration(const char *s, int64_t *out_ns, struct lf_error *err);
/* Parses a Prometheus duration (model.ParseDuration, what rule files'
 * `for`, `keep_firing_for` and `interval` are): a bare "0", or whole
 * numbers with the units y w d h m s ms, each at most once and in that
 * order ("1h30m", "90s", "1d"); millisecond precision, so "1us" or "1.5h"
 * are errors, as in Prometheus: `not a valid duration string: "1us"`. */
int lf_parse_prom_duration(const char *s, int64_t *out_ns, struct lf_error *err);
/* Renders ns as Go does ("1m30s", "500ms", "0s") into out (>= 32 bytes). */
void lf_format_duration(int64_t ns, char *out, size_t outsz);

/* Parses a byte size ("256KB", "1MiB", "1048576", "8kb"). */
int lf_parse_size(const char *s, int64_t *out_bytes, struct lf_error *err);

/* Parses RFC3339 / RFC3339Nano ("2026-11-21T19:43:10.123456789Z",
 * "...+02:00"). Returns 0 or -1. */
int lf_parse_rfc3339(const char *s, size_t n, int64_t *out_ns);
/* Formats ns as RFC3339Nano in UTC with trailing zeros of the fraction
 * removed, as Go's time.RFC3339Nano does. out must hold >= 40 bytes.
 * Returns the length written. */
size_t lf_format_rfc3339nano(int64_t ns, char *out);

/* Time arithmetic on user-supplied values saturates: an instant outside
 * int64 nanoseconds (Loki's time.Time holds it) stays the earliest/latest
 * representable one instead of wrapping (or being undefined in C). */
static inline int64_t lf_sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static inline int64_t lf_sat_sub(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

#endif
