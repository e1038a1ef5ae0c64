/* fuzz_timeutil.c — durations, byte sizes and RFC3339 timestamps: config
 * values and query parameters (`start`, `end`, `step`, `since`) that arrive
 * from users and HTTP clients.
 *
 * Input: text, given to all three parsers. Properties:
 *   - nothing crashes; failures leave a message;
 *   - an accepted duration is in Go/Prometheus grammar (see go_duration_ok)
 *     and a small duration survives lf_format_duration -> lf_parse_duration;
 *   - an accepted Prometheus duration (rule files) is >= 0, whole
 *     milliseconds, and (below 2^53 ns) what Go's grammar reads too;
 *   - an accepted size is >= 0;
 *   - an accepted RFC3339 value is a real calendar date and time (Go's
 *     time.Parse rules), and lf_format_rfc3339nano -> lf_parse_rfc3339 gives
 *     the same instant back;
 *   - the first 8 bytes read as an int64 ns value survive format -> parse
 *     for both durations (within the exact range of a double) and RFC3339.
 */
#include "fuzz.h"

#include <stdbool.h>

#include "timeutil.h"

/* Go time.ParseDuration's grammar plus Prometheus' d/w/y units:
 * [-+]? ( "0" | ( number unit )+ ), number = digits [. digits] | . digits */
static bool go_duration_ok(const char *s)
{
	static const char *const units[] = {"ns", "us", "\xc2\xb5s", "\xce\xbcs", "ms", "s",
	                                    "m",  "h",  "d",         "w",         "y"};
	if (*s == '-' || *s == '+')
		s++;
	if (strcmp(s, "0") == 0)
		return true;
	if (!*s)
		return false;
	while (*s) {
		size_t pre = 0, post = 0;
		while (*s >= '0' && *s <= '9')
			s++, pre++;
		if (*s == '.') {
			s++;
			while (*s >= '0' && *s <= '9')
				s++, post++;
		}
		if (pre + post == 0)
			return false;
		size_t best = 0;
		for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
			size_t l = strlen(units[i]);
			if (l > best && strncmp(s, units[i], l) == 0)
				best = l;
		}
		if (!best)
			return false;
		s += best;
	}
	return true;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int num(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* Called only on values lf_parse_rfc3339 accepted, so the fixed layout
 * (digits at 0-3, 5-6, 8-9, 11-12, 14-15, 17-18) is known to be there. */
static void check_rfc3339_fields(const char *s, size_t n)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y = num(s, 4), mo = num(s + 5, 2), d = num(s + 8, 2);
	int h = num(s + 11, 2), mi = num(s + 14, 2), sec = num(s + 17, 2);
	FUZZ_CHECK(mo >= 1 && mo <= 12, "month %d accepted", mo);
	int dim = mdays[mo - 1] + (mo == 2 && leap(y));
	FUZZ_CHECK(d >= 1 && d <= dim, "day %d of month %d accepted in \"%.*s\"", d, mo, (int)n, s);
	FUZZ_CHECK(h < 24 && mi < 60 && sec < 60, "time %02d:%02d:%02d accepted", h, mi, sec);
	char last = s[n - 1];
	if (last != 'Z' && last != 'z') {
		/* ...+hh:mm */
		int oh = num(s + n - 5, 2), om = num(s + n - 2, 2);
		/* Go: hour <= 24, minute <= 60 (its general parser's limits). */
		FUZZ_CHECK(oh <= 24 && om <= 60, "zone offset %02d:%02d accepted", oh, om);
	}
}

static void rfc3339_roundtrip(int64_t ns)
{
	char out[40];
	size_t n = lf_format_rfc3339nano(ns, out);
	FUZZ_CHECK(n == strlen(out) && n < sizeof out, "format length");
	int64_t back = 0;
	FUZZ_CHECK(lf_parse_rfc3339(out, n, &back) == 0, "own output %s does not parse", out);
	FUZZ_CHECK(back == ns, "%lld -> %s -> %lld", (long long)ns, out, (long long)back);
}

static void duration_roundtrip(int64_t ns)
{
	char out[64];
	struct lf_error err;
	lf_format_duration(ns, out, sizeof out);
	int64_t back = 0;
	FUZZ_CHECK(lf_parse_duration(out, &back, &err) == 0, "own output %s does not parse: %s",
	           out, err.msg);
	FUZZ_CHECK(back == ns, "%lld -> %s -> %lld", (long long)ns, out, (long long)back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strdup(data, size);
	struct lf_error err = {{0}};
	int64_t v = 0;

	if (lf_parse_duration(s, &v, &err) == 0) {
		FUZZ_CHECK(go_duration_ok(s), "\"%s\" accepted as a duration (%lld ns)", s,
		           (long long)v);
		/* Durations up to 2^53 ns (~104 days) must come back exact. */
		if (v > -(INT64_C(1) << 53) && v < (INT64_C(1) << 53))
			duration_roundtrip(v);
	} else {
		FUZZ_CHECK(err.msg[0], "duration error without a message");
	}

	err.msg[0] = '\0';
	if (lf_parse_prom_duration(s, &v, &err) == 0) {
		FUZZ_CHECK(v >= 0 && v % LF_NS_PER_MS == 0, "prometheus duration \"%s\" = %lld ns",
		           s, (long long)v);
		int64_t g = -1;
		if (v < (INT64_C(1) << 53))
			FUZZ_CHECK(lf_parse_duration(s, &g, &err) == 0 && g == v,
			           "prometheus duration \"%s\" = %lld ns, Go's grammar: %lld", s,
			           (long long)v, (long long)g);
	} else {
		FUZZ_CHECK(err.msg[0], "prometheus duration error without a message");
	}

	err.msg[0] = '\0';
	if (lf_parse_size(s, &v, &err) == 0)
		FUZZ_CHECK(v >= 0, "negative size %lld from \"%s\"", (long long)v, s);
	else
		FUZZ_CHECK(err.msg[0], "size error without a message");

	if (lf_parse_rfc3339((const char *)data, size, &v) == 0) {
		check_rfc3339_fields((const char *)data, size);
		rfc3339_roundtrip(v);
	}

	if (size >= 8) {
		int64_t raw;
		memcpy(&raw, data, sizeof raw);
		rfc3339_roundtrip(raw);
		duration_roundtrip(raw % (INT64_C(1) << 53));
	}
	free(s);
	return 0;
}
