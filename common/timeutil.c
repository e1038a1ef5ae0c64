/* timeutil.c — see timeutil.h. */
#include "timeutil.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t lf_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * LF_NS_PER_SEC + ts.tv_nsec;
}

int64_t lf_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * LF_NS_PER_SEC + ts.tv_nsec;
}

struct unit {
	const char *name;
	int64_t ns;
};

/* Longest names first so "ms" is not read as "m" + "s". */
static const struct unit duration_units[] = {
        {"ns", 1},
        {"us", 1000},
        {"\xc2\xb5s", 1000}, /* µs U+00B5 */
        {"\xce\xbcs", 1000}, /* μs U+03BC */
        {"ms", 1000000},
        {"s", LF_NS_PER_SEC},
        {"m", 60 * LF_NS_PER_SEC},
        {"h", 3600 * LF_NS_PER_SEC},
        {"d", 86400 * LF_NS_PER_SEC},
        {"w", 7 * 86400 * LF_NS_PER_SEC},
        {"y", 365 * 86400 * LF_NS_PER_SEC},
};

int lf_parse_prom_duration(const char *s, int64_t *out_ns, struct lf_error *err)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} u[] = {{"y", INT64_C(1000) * 60 * 60 * 24 * 365},
	         {"w", INT64_C(1000) * 60 * 60 * 24 * 7},
	         {"d", INT64_C(1000) * 60 * 60 * 24},
	         {"h", INT64_C(1000) * 60 * 60},
	         {"m", INT64_C(1000) * 60},
	         {"s", 1000},
	         {"ms", 1}};
	if (!strcmp(s, "0")) {
		*out_ns = 0;
		return 0;
	}
	if (!*s)
		return lf_err(err, "empty duration string");
	const char *p = s;
	size_t next = 0; /* units must come in the table's order */
	int64_t ms = 0;
	while (*p) {
		if (*p < '0' || *p > '9')
			return lf_err(err, "not a valid duration string: \"%s\"", s);
		int64_t v = 0;
		bool big = false;
		for (; *p >= '0' && *p <= '9'; p++)
			if (__builtin_mul_overflow(v, 10, &v) ||
			    __builtin_add_overflow(v, *p - '0', &v))
				big = true;
		size_t k = next;
		/* "ms" before "m": the longest unit that matches here */
		for (; k < sizeof(u) / sizeof(u[0]); k++) {
			size_t l = strlen(u[k].unit);
			if (!strncmp(p, u[k].unit, l) &&
			    !(l == 1 && u[k].unit[0] == 'm' && p[1] == 's'))
				break;
		}
		if (k == sizeof(u) / sizeof(u[0]))
			return lf_err(err, "not a valid duration string: \"%s\"", s);
		p += strlen(u[k].unit);
		next = k + 1;
		int64_t part;
		if (big || __builtin_mul_overflow(v, u[k].ms, &part) ||
		    __builtin_add_overflow(ms, part, &ms) || ms > INT64_MAX / LF_NS_PER_MS)
			return lf_err(err, "duration out of range");
	}
	*out_ns = ms * LF_NS_PER_MS;
	return 0;
}

int lf_parse_duration(const char *s, int64_t *out_ns, struct lf_error *err)
{
	const char *orig = s;
	int neg = 0;
	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (strcmp(s, "0") == 0) {
		*out_ns = 0;
		return 0;
	}
	if (!*s)
		return lf_err(err, "invalid duration \"%s\"", orig);
	double total = 0;
	while (*s) {
		if (!isdigit((unsigned char)*s) && *s != '.')
			return lf_err(err, "invalid duration \"%s\"", orig);
		/* Go's number is digits[.digits]: strtod must not also take an
		 * exponent or hex ("1e3s", "0x1p3s"; found by fuzz_timeutil). */
		const char *num_end = s;
		while (isdigit((unsigned char)*num_end))
			num_end++;
		if (*num_end == '.')
			for (num_end++; isdigit((unsigned char)*num_end); num_end++)
				;
		char *end;
		double v = strtod(s, &end);
		if (end == s || end != num_end)
			return lf_err(err, "invalid duration \"%s\"", orig);
		s = end;
		const struct unit *u = NULL;
		size_t best = 0;
		for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++) {
			size_t l = strlen(duration_units[i].name);
			if (l > best && strncmp(s, duration_units[i].name, l) == 0) {
				u = &duration_units[i];
				best = l;
			}
		}
		if (!u)
			return lf_err(err, "invalid duration \"%s\": missing or unknown unit",
			              orig);
		s += best;
		total += v * (double)u->ns;
		if (total > 9.2e18)
			return lf_err(err, "invalid duration \"%s\": overflow", orig);
	}
	*out_ns = (int64_t)llround(neg ? -total : total);
	return 0;
}

/* Appends v/scale with up to `prec` fractional digits, trailing zeros cut. */
static size_t fmt_frac(char *out, size_t sz, uint64_t v, uint64_t scale, int prec)
{
	uint64_t ip = v / scale, fp = v % scale;
	size_t n = (size_t)snprintf(out, sz, "%llu", (unsigned long long)ip);
	if (fp && n < sz) {
		char frac[24];
		snprintf(frac, sizeof frac, "%0*llu", prec, (unsigned long long)fp);
		size_t l = strlen(frac);
		while (l > 0 && frac[l - 1] == '0')
			frac[--l] = '\0';
		n += (size_t)snprintf(out + n, sz - n, ".%s", frac);
	}
	return n;
}

void lf_format_duration(int64_t ns, char *out, size_t outsz)
{
	size_t n = 0;
	uint64_t u;
	if (ns < 0) {
		n += (size_t)snprintf(out, outsz, "-");
		u = (uint64_t)(-(ns + 1)) + 1;
	} else {
		u = (uint64_t)ns;
	}
	if (u == 0) {
		snprintf(out, outsz, "0s");
		return;
	}
	if (u < 1000) {
		snprintf(out + n, outsz - n, "%lluns", (unsigned long long)u);
		return;
	}
	if (u < 1000000) {
		n += fmt_frac(out + n, outsz - n, u, 1000, 3);
		snprintf(out + n, outsz - n, "\xc2\xb5s");
		return;
	}
	if (u < 1000000000) {
		n += fmt_frac(out + n, outsz - n, u, 1000000, 6);
		snprintf(out + n, outsz - n, "ms");
		return;
	}
	uint64_t secs = u / 1000000000, h = secs / 3600, m = (secs / 60) % 60;
	if (h)
		n += (size_t)snprintf(out + n, outsz - n, "%lluh", (unsigned long long)h);
	if (h || m)
		n += (size_t)snprintf(out + n, outsz - n, "%llum", (unsigned long long)m);
	n += fmt_frac(out + n, outsz - n, u % 60000000000ULL, 1000000000, 9);
	snprintf(out + n, outsz - n, "s");
}

int lf_parse_size(const char *s, int64_t *out_bytes, struct lf_error *err)
{
	const char *p = s;
	while (isspace((unsigned char)*p))
		p++;
	char num[64];
	size_t nl = 0;
	while ((isdigit((unsigned char)*p) || *p == '.' || *p == ',') && nl < sizeof num - 1) {
		if (*p != ',')
			num[nl++] = *p;
		p++;
	}
	num[nl] = '\0';
	if (!nl)
		return lf_err(err, "invalid size \"%s\"", s);
	char *end;
	double v = strtod(num, &end);
	if (*end)
		return lf_err(err, "invalid size \"%s\"", s);
	while (isspace((unsigned char)*p))
		p++;
	char unit[8];
	size_t ul = 0;
	while (*p && !isspace((unsigned char)*p) && ul < sizeof unit - 1)
		unit[ul++] = (char)tolower((unsigned char)*p++);
	unit[ul] = '\0';
	while (isspace((unsigned char)*p))
		p++;
	if (*p)
		return lf_err(err, "invalid size \"%s\"", s);
	static const struct {
		const char *u;
		double mul;
	} units[] = {
	        {"", 1},
	        {"b", 1},
	        {"k", 1e3},
	        {"kb", 1e3},
	        {"ki", 1024.0},
	        {"kib", 1024.0},
	        {"m", 1e6},
	        {"mb", 1e6},
	        {"mi", 1048576.0},
	        {"mib", 1048576.0},
	        {"g", 1e9},
	        {"gb", 1e9},
	        {"gi", 1073741824.0},
	        {"gib", 1073741824.0},
	        {"t", 1e12},
	        {"tb", 1e12},
	        {"ti", 1099511627776.0},
	        {"tib", 1099511627776.0},
	};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(unit, units[i].u) == 0) {
			double r = v * units[i].mul;
			if (r > 9.2e18)
				return lf_err(err, "invalid size \"%s\": too large", s);
			*out_bytes = (int64_t)r;
			return 0;
		}
	}
	return lf_err(err, "invalid size \"%s\": unknown unit \"%s\"", s, unit);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, size_t n, size_t at, size_t cnt, int *out)
{
	if (at + cnt > n)
		return -1;
	int v = 0;
	for (size_t i = 0; i < cnt; i++) {
		if (!isdigit((unsigned char)s[at + i]))
			return -1;
		v = v * 10 + (s[at + i] - '0');
	}
	*out = v;
	return 0;
}

int lf_parse_rfc3339(const char *s, size_t n, int64_t *out_ns)
{
	int Y, M, D, h, m, sec;
	if (digits(s, n, 0, 4, &Y) || n < 19 || s[4] != '-' || digits(s, n, 5, 2, &M) ||
	    s[7] != '-' || digits(s, n, 8, 2, &D) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || digits(s, n, 11, 2, &h) ||
	    s[13] != ':' || digits(s, n, 14, 2, &m) || s[16] != ':' || digits(s, n, 17, 2, &sec))
		return -1;
	/* Go's time.Parse ranges: no day 31 in April or Feb 29 in 2023, no leap
	 * second 60 (fuzz_timeutil found all three accepted). */
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (M < 1 || M > 12 || h > 23 || m > 59 || sec > 59)
		return -1;
	bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
	if (D < 1 || D > mdays[M - 1] + (M == 2 && leap))
		return -1;
	size_t i = 19;
	int64_t frac = 0;
	if (i < n && (s[i] == '.' || s[i] == ',')) {
		i++;
		int nd = 0;
		while (i < n && isdigit((unsigned char)s[i])) {
			if (nd < 9) {
				frac = frac * 10 + (s[i] - '0');
				nd++;
			}
			i++;
		}
		if (nd == 0)
			return -1;
		for (; nd < 9; nd++)
			frac *= 10;
	}
	int64_t off = 0;
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		int oh, om;
		if (digits(s, n, i + 1, 2, &oh) || i + 3 >= n || s[i + 3] != ':' ||
		    digits(s, n, i + 4, 2, &om) || oh > 24 || om > 60) /* Go's limits */
			return -1;
		off = (int64_t)(oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
		i += 6;
	} else {
		return -1;
	}
	if (i != n)
		return -1;
	int64_t days = days_from_civil(Y, (unsigned)M, (unsigned)D);
	int64_t secs = days * 86400 + h * 3600 + m * 60 + sec - off;
	/* Checked arithmetic: every instant that fits in int64 ns parses, up to
	 * the ends of the range (found by fuzz_timeutil: the formatted
	 * INT64_MAX ns did not parse back). */
	int64_t ns;
	if (secs < 0 && frac > 0) {
		/* Keeps the product in range: INT64_MIN is -9223372037 s + frac. */
		secs++;
		frac -= LF_NS_PER_SEC;
	}
	if (__builtin_mul_overflow(secs, LF_NS_PER_SEC, &ns) ||
	    __builtin_add_overflow(ns, frac, &ns))
		return -1;
	*out_ns = ns;
	return 0;
}

size_t lf_format_rfc3339nano(int64_t ns, char *out)
{
	int64_t secs = ns / LF_NS_PER_SEC, frac = ns % LF_NS_PER_SEC;
	if (frac < 0) {
		frac += LF_NS_PER_SEC;
		secs--;
	}
	time_t t = (time_t)secs;
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac) {
		char f[16];
		snprintf(f, sizeof f, "%09lld", (long long)frac);
		size_t l = 9;
		while (l > 0 && f[l - 1] == '0')
			l--;
		f[l] = '\0';
		n += (size_t)snprintf(out + n, 40 - n, ".%s", f);
	}
	out[n++] = 'Z';
	out[n] = '\0';
	return n;
}
