/* gotime.c — Go time layouts and TZif zones (see gotime.h). */
#include "gotime.h"

#include "timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECS_PER_DAY INT64_C(86400)

/* ------------------------------------------------------------------ */
/* calendar arithmetic (proleptic Gregorian, days since 1970-01-01)    */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Howard Hinnant's days_from_civil; m 1..12, d may overflow the month. */
static int64_t days_from_civil(int64_t y, int m, int64_t d)
{
	y -= m <= 2;
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;
	int64_t mp = (m + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468 + (d - 1);
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in(int m, int64_t y)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && is_leap(y))
		return 29;
	return dm[m - 1];
}

static const char *const long_month[] = {"January",   "February", "March",    "April",
                                         "May",       "June",     "July",     "August",
                                         "September", "October",  "November", "December"};
static const char *const long_day[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                       "Thursday", "Friday", "Saturday"};

/* ------------------------------------------------------------------ */
/* time zones                                                          */

struct tz_type {
	int32_t off;
	bool isdst;
	char abbr[16];
};

/* POSIX TZ rule of the TZif footer ("EST5EDT,M3.2.0,M11.1.0"): gives the
 * offset after the last transition of the table. */
struct tz_rule_date {
	char kind; /* 'J' (1..365, no Feb 29), 'D' (0..365), 'M' (month.week.day) */
	int n, mon, week, day;
	int32_t time; /* seconds after local midnight */
};

struct tz_rule {
	bool valid, has_dst;
	char std_abbr[16], dst_abbr[16];
	int32_t std_off, dst_off; /* seconds east of UTC */
	struct tz_rule_date start, end;
};

struct lf_tz {
	char *name;
	int64_t *trans;
	uint8_t *idx;
	size_t ntrans;
	struct tz_type *types;
	size_t ntypes;
	size_t first; /* type used before the first transition */
	struct tz_rule rule;
	struct lf_tz *next; /* cache chain */
};

static struct tz_type utc_type = {0, false, "UTC"};
static struct lf_tz utc_zone = {.name = "UTC", .types = &utc_type, .ntypes = 1, .first = 0};

static pthread_mutex_t tz_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lf_tz *tz_cache;       /* loaded zones, never freed (see header) */
static const struct lf_tz *tz_local; /* resolved once */

const struct lf_tz *lf_tz_utc(void)
{
	return &utc_zone;
}

const char *lf_tz_name(const struct lf_tz *tz)
{
	return tz->name;
}

/* --- POSIX rule parsing --- */

static const char *rule_abbr(const char *s, char *out)
{
	size_t n = 0;
	if (*s == '<') {
		s++;
		while (*s && *s != '>') {
			if (n < 15)
				out[n++] = *s;
			s++;
		}
		if (*s != '>')
			return NULL;
		s++;
	} else {
		while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) {
			if (n < 15)
				out[n++] = *s;
			s++;
		}
	}
	out[n] = '\0';
	return n >= 3 ? s : NULL;
}

/* [+-]hh[:mm[:ss]] -> seconds */
static const char *rule_hms(const char *s, int32_t *out)
{
	int sign = 1;
	if (*s == '+' || *s == '-') {
		if (*s == '-')
			sign = -1;
		s++;
	}
	int32_t parts[3] = {0, 0, 0};
	for (int k = 0; k < 3; k++) {
		if (*s < '0' || *s > '9')
			return k == 0 ? NULL : s;
		int32_t v = 0;
		while (*s >= '0' && *s <= '9')
			v = v * 10 + (*s++ - '0');
		parts[k] = v;
		if (k < 2 && *s == ':' && s[1] >= '0' && s[1] <= '9')
			s++;
		else
			break;
	}
	*out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
	return s;
}

static const char *rule_date(const char *s, struct tz_rule_date *d)
{
	d->time = 7200;
	if (*s == 'J') {
		d->kind = 'J';
		s++;
		d->n = 0;
		if (*s < '0' || *s > '9')
			return NULL;
		while (*s >= '0' && *s <= '9')
			d->n = d->n * 10 + (*s++ - '0');
	} else if (*s == 'M') {
		d->kind = 'M';
		if (sscanf(s, "M%d.%d.%d", &d->mon, &d->week, &d->day) != 3)
			return NULL;
		if (d->mon < 1 || d->mon > 12 || d->week < 1 || d->week > 5 || d->day < 0 ||
		    d->day > 6)
			return NULL;
		s++;
		for (int dots = 0; *s && (*s == '.' || (*s >= '0' && *s <= '9'));) {
			if (*s == '.' && ++dots > 2)
				break;
			s++;
		}
	} else if (*s >= '0' && *s <= '9') {
		d->kind = 'D';
		d->n = 0;
		while (*s >= '0' && *s <= '9')
			d->n = d->n * 10 + (*s++ - '0');
	} else {
		return NULL;
	}
	if (*s == '/') {
		s = rule_hms(s + 1, &d->time);
		if (!s)
			return NULL;
	}
	return s;
}

static void parse_rule(const char *s, struct tz_rule *r)
{
	memset(r, 0, sizeof *r);
	int32_t v;
	s = rule_abbr(s, r->std_abbr);
	if (!s || !(s = rule_hms(s, &v)))
		return;
	r->std_off = -v; /* POSIX offsets are west of UTC */
	if (*s == '\0') {
		r->valid = true;
		return;
	}
	s = rule_abbr(s, r->dst_abbr);
	if (!s)
		return;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (*s && *s != ',') {
		if (!(s = rule_hms(s, &v)))
			return;
		r->dst_off = -v;
	}
	if (*s == '\0') { /* POSIX default: US rules */
		s = ",M3.2.0,M11.1.0";
	}
	if (*s != ',' || !(s = rule_date(s + 1, &r->start)))
		return;
	if (*s != ',' || !(s = rule_date(s + 1, &r->end)))
		return;
	if (*s != '\0')
		return;
	r->valid = true;
}

/* Seconds from the start of `year` (UTC) to the rule's instant, given the
 * offset in effect before it. */
static int64_t rule_time(int64_t year, const struct tz_rule_date *d, int32_t off)
{
	int64_t day = 0;
	switch (d->kind) {
	case 'J':
		day = d->n - 1;
		if (is_leap(year) && d->n >= 60)
			day++;
		break;
	case 'D':
		day = d->n;
		break;
	default: {
		int64_t first = days_from_civil(year, d->mon, 1);
		int dow = (int)(((first + 4) % 7 + 7) % 7);
		int dd = d->day - dow;
		if (dd < 0)
			dd += 7;
		for (int i = 1; i < d->week; i++) {
			if (dd + 7 >= days_in(d->mon, year))
				break;
			dd += 7;
		}
		day = first + dd - days_from_civil(year, 1, 1);
	}
	}
	return day * SECS_PER_DAY + d->time - off;
}

static bool rule_lookup(const struct tz_rule *r, int64_t sec, int32_t *off, const char **abbr,
                        int64_t *start, int64_t *end)
{
	if (!r->valid)
		return false;
	if (!r->has_dst) {
		*off = r->std_off;
		*abbr = r->std_abbr;
		return true;
	}
	int64_t y;
	int m, d;
	civil_from_days(floor_div(sec, SECS_PER_DAY), &y, &m, &d);
	int64_t ystart = days_from_civil(y, 1, 1) * SECS_PER_DAY;
	int64_t ysec = sec - ystart;
	int64_t s = rule_time(y, &r->start, r->std_off);
	int64_t e = rule_time(y, &r->end, r->dst_off);
	bool dst_inside = true;
	if (e < s) { /* southern hemisphere: DST spans the new year */
		int64_t t = s;
		s = e;
		e = t;
		dst_inside = false;
	}
	bool in = ysec >= s && ysec < e;
	bool dst = dst_inside ? in : !in;
	*off = dst ? r->dst_off : r->std_off;
	*abbr = dst ? r->dst_abbr : r->std_abbr;
	if (ysec < s) {
		*start = ystart;
		*end = ystart + s;
	} else if (ysec >= e) {
		*start = ystart + e;
		*end = ystart + (is_leap(y) ? 366 : 365) * SECS_PER_DAY;
	} else {
		*start = ystart + s;
		*end = ystart + e;
	}
	return true;
}

/* Offset, abbreviation and validity range [start, end) at instant sec. */
static int32_t tz_lookup(const struct lf_tz *tz, int64_t sec, const char **abbr, int64_t *start,
                         int64_t *end)
{
	int64_t s0 = INT64_MIN, e0 = INT64_MAX;
	const char *ab = NULL;
	int32_t off;
	if (tz->ntrans == 0 || sec < tz->trans[0]) {
		if (tz->ntrans == 0 && tz->rule.valid &&
		    rule_lookup(&tz->rule, sec, &off, &ab, &s0, &e0))
			goto out;
		const struct tz_type *t = &tz->types[tz->first];
		off = t->off;
		ab = t->abbr;
		if (tz->ntrans)
			e0 = tz->trans[0];
		goto out;
	}
	size_t lo = 0, hi = tz->ntrans;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (tz->trans[mid] <= sec)
			lo = mid;
		else
			hi = mid;
	}
	const struct tz_type *t = &tz->types[tz->idx[lo]];
	off = t->off;
	ab = t->abbr;
	s0 = tz->trans[lo];
	if (lo + 1 < tz->ntrans) {
		e0 = tz->trans[lo + 1];
	} else if (tz->rule.valid) {
		int64_t rs, re;
		int32_t roff;
		const char *rab;
		if (rule_lookup(&tz->rule, sec, &roff, &rab, &rs, &re)) {
			off = roff;
			ab = rab;
			s0 = rs > s0 ? rs : s0;
			e0 = re;
		}
	}
out:
	if (abbr)
		*abbr = ab;
	if (start)
		*start = s0;
	if (end)
		*end = e0;
	return off;
}

int lf_tz_offset(const struct lf_tz *tz, int64_t unix_sec, const char **abbr)
{
	return tz_lookup(tz ? tz : &utc_zone, unix_sec, abbr, NULL, NULL);
}

static uint32_t be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)(((uint64_t)be32(p) << 32) | be32(p + 4));
}

static void tz_free(struct lf_tz *tz)
{
	if (!tz || tz == &utc_zone)
		return;
	free(tz->name);
	free(tz->trans);
	free(tz->idx);
	free(tz->types);
	free(tz);
}

/* Parses a TZif file (RFC 8536), versions 1-4. */
static struct lf_tz *tzif_parse(const char *name, const unsigned char *p, size_t n)
{
	if (n < 44 || memcmp(p, "TZif", 4) != 0)
		return NULL;
	int version = p[4] ? p[4] - '0' : 1;
	const unsigned char *h = p;
	size_t tsize = 4;
	for (int pass = 0; pass < 2; pass++) {
		if ((size_t)(h - p) + 44 > n)
			return NULL;
		uint32_t isutcnt = be32(h + 20), isstdcnt = be32(h + 24), leapcnt = be32(h + 28),
		         timecnt = be32(h + 32), typecnt = be32(h + 36), charcnt = be32(h + 40);
		size_t body = (size_t)timecnt * tsize + timecnt + (size_t)typecnt * 6 + charcnt +
		              (size_t)leapcnt * (tsize + 4) + isstdcnt + isutcnt;
		if ((size_t)(h - p) + 44 + body > n)
			return NULL;
		if (pass == 0 && version >= 2) {
			h += 44 + body; /* skip the 32-bit block */
			tsize = 8;
			continue;
		}
		if (typecnt == 0)
			return NULL;
		struct lf_tz *tz = calloc(1, sizeof *tz);
		if (!tz)
			return NULL;
		tz->name = strdup(name);
		tz->trans = calloc(timecnt ? timecnt : 1, sizeof *tz->trans);
		tz->idx = calloc(timecnt ? timecnt : 1, 1);
		tz->types = calloc(typecnt, sizeof *tz->types);
		if (!tz->name || !tz->trans || !tz->idx || !tz->types) {
			tz_free(tz);
			return NULL;
		}
		const unsigned char *q = h + 44;
		for (uint32_t i = 0; i < timecnt; i++, q += tsize)
			tz->trans[i] = tsize == 8 ? be64(q) : (int64_t)(int32_t)be32(q);
		for (uint32_t i = 0; i < timecnt; i++, q++) {
			if (*q >= typecnt) {
				tz_free(tz);
				return NULL;
			}
			tz->idx[i] = *q;
		}
		tz->ntrans = timecnt;
		const unsigned char *types = q;
		const char *chars = (const char *)(q + (size_t)typecnt * 6);
		for (uint32_t i = 0; i < typecnt; i++) {
			const unsigned char *t = types + (size_t)i * 6;
			tz->types[i].off = (int32_t)be32(t);
			tz->types[i].isdst = t[4] != 0;
			unsigned ai = t[5];
			if (ai < charcnt) {
				size_t k = 0;
				while (ai + k < charcnt && chars[ai + k] && k < 15) {
					tz->types[i].abbr[k] = chars[ai + k];
					k++;
				}
				tz->types[i].abbr[k] = '\0';
			}
		}
		tz->ntypes = typecnt;
		/* type before the first transition: type 0 unless a transition
		 * uses it, then the first standard-time type (Go's rule) */
		bool used0 = false;
		for (size_t i = 0; i < tz->ntrans; i++)
			if (tz->idx[i] == 0)
				used0 = true;
		tz->first = 0;
		if (used0) {
			for (size_t i = 0; i < tz->ntypes; i++)
				if (!tz->types[i].isdst) {
					tz->first = i;
					break;
				}
		}
		/* footer */
		const unsigned char *f = h + 44 + body;
		if (version >= 2 && f < p + n && *f == '\n') {
			const unsigned char *e = memchr(f + 1, '\n', (size_t)(p + n - f - 1));
			if (e && e - f - 1 < 128) {
				char rule[128];
				memcpy(rule, f + 1, (size_t)(e - f - 1));
				rule[e - f - 1] = '\0';
				if (rule[0])
					parse_rule(rule, &tz->rule);
			}
		}
		return tz;
	}
	return NULL;
}

static bool tz_name_safe(const char *name)
{
	if (!name[0] || name[0] == '/' || strstr(name, ".."))
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || strchr("/_-+", *c)))
			return false;
	return true;
}

static struct lf_tz *tz_load_path(const char *name, const char *path)
{
	FILE *f = fopen(path, "rbe");
	if (!f)
		return NULL;
	unsigned char *data = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > (1u << 22))
				break; /* no real zone file is this big */
			unsigned char *nd = realloc(data, cap);
			if (!nd)
				break;
			data = nd;
		}
		size_t r = fread(data + len, 1, cap - len, f);
		len += r;
		if (r == 0)
			break;
	}
	fclose(f);
	struct lf_tz *tz = data ? tzif_parse(name, data, len) : NULL;
	free(data);
	return tz;
}

static const char *zoneinfo_dir(void)
{
	const char *d = getenv("ZONEINFO");
	return d && d[0] ? d : "/usr/share/zoneinfo";
}

static const struct lf_tz *load_local_locked(void)
{
	if (tz_local)
		return tz_local;
	const char *tzenv = getenv("TZ");
	struct lf_tz *tz = NULL;
	if (tzenv && (tzenv[0] == '\0' || strcmp(tzenv, "UTC") == 0)) {
		tz_local = &utc_zone;
		return tz_local;
	}
	if (tzenv) {
		if (tzenv[0] == ':')
			tzenv++;
		char path[1024];
		if (tzenv[0] == '/')
			snprintf(path, sizeof path, "%s", tzenv);
		else if (tz_name_safe(tzenv))
			snprintf(path, sizeof path, "%s/%s", zoneinfo_dir(), tzenv);
		else
			path[0] = '\0';
		if (path[0])
			tz = tz_load_path("Local", path);
	}
	if (!tz)
		tz = tz_load_path("Local", "/etc/localtime");
	if (tz) {
		tz->next = tz_cache;
		tz_cache = tz;
		tz_local = tz;
	} else {
		tz_local = &utc_zone;
	}
	return tz_local;
}

static pthread_once_t local_once = PTHREAD_ONCE_INIT;

static void local_init(void)
{
	pthread_mutex_lock(&tz_mu);
	(void)load_local_locked();
	pthread_mutex_unlock(&tz_mu);
}

const struct lf_tz *lf_tz_local(void)
{
	/* resolved once: the per-line parse path asks for it */
	pthread_once(&local_once, local_init);
	return tz_local;
}

int lf_tz_load(const char *name, const struct lf_tz **out, struct lf_error *err)
{
	*out = NULL;
	if (!name || !name[0] || strcmp(name, "UTC") == 0) {
		*out = &utc_zone;
		return 0;
	}
	if (strcmp(name, "Local") == 0) {
		*out = lf_tz_local();
		return 0;
	}
	if (!tz_name_safe(name))
		return lf_err(err, "unknown time zone %s", name);
	pthread_mutex_lock(&tz_mu);
	for (struct lf_tz *t = tz_cache; t; t = t->next)
		if (strcmp(t->name, name) == 0) {
			*out = t;
			pthread_mutex_unlock(&tz_mu);
			return 0;
		}
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", zoneinfo_dir(), name);
	struct lf_tz *tz = tz_load_path(name, path);
	if (tz) {
		tz->next = tz_cache;
		tz_cache = tz;
	}
	pthread_mutex_unlock(&tz_mu);
	if (!tz)
		return lf_err(err, "unknown time zone %s", name);
	*out = tz;
	return 0;
}

/* Go's Date(): the instant whose wall clock in tz is `wall` (seconds, as if
 * UTC). Ambiguous/skipped wall times resolve as Go does. */
static int64_t wall_to_unix(const struct lf_tz *tz, int64_t wall)
{
	int64_t start, end;
	int32_t off = tz_lookup(tz, wall, NULL, &start, &end);
	if (off != 0) {
		int64_t utc = wall - off;
		if (utc < start || utc >= end)
			off = tz_lookup(tz, utc, NULL, NULL, NULL);
		wall -= off;
	}
	return wall;
}

/* Go's Location.lookupName: offset of abbreviation `name` in tz near `usec`. */
static bool tz_lookup_name(const struct lf_tz *tz, const char *name, size_t n, int64_t usec,
                           int32_t *off)
{
	for (size_t i = 0; i < tz->ntypes; i++) {
		const struct tz_type *t = &tz->types[i];
		if (strlen(t->abbr) == n && memcmp(t->abbr, name, n) == 0) {
			const char *ab;
			int32_t o = tz_lookup(tz, usec - t->off, &ab, NULL, NULL);
			if (ab && strlen(ab) == n && memcmp(ab, name, n) == 0) {
				*off = o;
				return true;
			}
		}
	}
	if (tz->rule.valid) {
		if (strlen(tz->rule.std_abbr) == n && memcmp(tz->rule.std_abbr, name, n) == 0) {
			*off = tz->rule.std_off;
			return true;
		}
		if (tz->rule.has_dst && strlen(tz->rule.dst_abbr) == n &&
		    memcmp(tz->rule.dst_abbr, name, n) == 0) {
			*off = tz->rule.dst_off;
			return true;
		}
	}
	for (size_t i = 0; i < tz->ntypes; i++) {
		const struct tz_type *t = &tz->types[i];
		if (strlen(t->abbr) == n && memcmp(t->abbr, name, n) == 0) {
			*off = t->off;
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* layouts                                                             */

enum std {
	STD_NONE = 0,
	STD_LONG_MONTH,
	STD_MONTH,
	STD_NUM_MONTH,
	STD_ZERO_MONTH,
	STD_LONG_WEEKDAY,
	STD_WEEKDAY,
	STD_DAY,
	STD_UNDER_DAY,
	STD_ZERO_DAY,
	STD_UNDER_YEARDAY,
	STD_ZERO_YEARDAY,
	STD_HOUR,
	STD_HOUR12,
	STD_ZERO_HOUR12,
	STD_MINUTE,
	STD_ZERO_MINUTE,
	STD_SECOND,
	STD_ZERO_SECOND,
	STD_LONG_YEAR,
	STD_YEAR,
	STD_PM,
	STD_PM_LOWER,
	STD_TZ,
	STD_ISO_TZ,               /* Z0700 */
	STD_ISO_SECONDS_TZ,       /* Z070000 */
	STD_ISO_SHORT_TZ,         /* Z07 */
	STD_ISO_COLON_TZ,         /* Z07:00 */
	STD_ISO_COLON_SECONDS_TZ, /* Z07:00:00 */
	STD_NUM_TZ,               /* -0700 */
	STD_NUM_SECONDS_TZ,       /* -070000 */
	STD_NUM_SHORT_TZ,         /* -07 */
	STD_NUM_COLON_TZ,         /* -07:00 */
	STD_NUM_COLON_SECONDS_TZ, /* -07:00:00 */
	STD_FRAC0,
	STD_FRAC9,
};

struct chunk {
	size_t lit_off, lit_len; /* literal text before the element (in go) */
	size_t std_off, std_len; /* the element's text (in go) */
	enum std std;
	int ndig; /* FRAC: digits */
	char sep; /* FRAC: '.' or ',' */
};

enum lkind { LK_GO, LK_UNIX, LK_UNIX_MS, LK_UNIX_US, LK_UNIX_NS };

struct lf_gotime_layout {
	char *text;
	const char *go; /* points into text or a static named layout */
	enum lkind kind;
	bool named;    /* a named format: parsed with time.Parse (no location) */
	bool yearless; /* custom layout without "06" */
	struct chunk *chunks;
	size_t n;
	size_t tail_off; /* literal after the last element */
};

static const struct {
	const char *name, *layout;
} named_layouts[] = {
        {"ANSIC", "Mon Jan _2 15:04:05 2006"},
        {"UnixDate", "Mon Jan _2 15:04:05 MST 2006"},
        {"RubyDate", "Mon Jan 02 15:04:05 -0700 2006"},
        {"RFC822", "02 Jan 06 15:04 MST"},
        {"RFC822Z", "02 Jan 06 15:04 -0700"},
        {"RFC850", "Monday, 02-Jan-06 15:04:05 MST"},
        {"RFC1123", "Mon, 02 Jan 2006 15:04:05 MST"},
        {"RFC1123Z", "Mon, 02 Jan 2006 15:04:05 -0700"},
        {"RFC3339", "2006-01-02T15:04:05Z07:00"},
        {"RFC3339Nano", "2006-01-02T15:04:05.999999999Z07:00"},
};

static bool starts_lower(const char *s)
{
	return *s >= 'a' && *s <= 'z';
}

static bool isdig(const char *s, size_t n, size_t i)
{
	return i < n && s[i] >= '0' && s[i] <= '9';
}

/* Go's nextStdChunk: finds the next element in l[0..n); returns its
 * offset (n when none) and sets *std, *len, *ndig, *sep. */
static size_t next_std(const char *l, size_t n, enum std *std, size_t *len, int *ndig, char *sep)
{
#define HAS(i, s) (n - (i) >= sizeof(s) - 1 && memcmp(l + (i), s, sizeof(s) - 1) == 0)
#define RET(st, ln)                                                                                \
	do {                                                                                       \
		*std = (st);                                                                       \
		*len = (ln);                                                                       \
		return i;                                                                          \
	} while (0)
	for (size_t i = 0; i < n; i++) {
		switch (l[i]) {
		case 'J':
			if (HAS(i, "Jan")) {
				if (HAS(i, "January"))
					RET(STD_LONG_MONTH, 7);
				if (!starts_lower(l + i + 3))
					RET(STD_MONTH, 3);
			}
			break;
		case 'M':
			if (HAS(i, "Mon")) {
				if (HAS(i, "Monday"))
					RET(STD_LONG_WEEKDAY, 6);
				if (!starts_lower(l + i + 3))
					RET(STD_WEEKDAY, 3);
			}
			if (HAS(i, "MST"))
				RET(STD_TZ, 3);
			break;
		case '0':
			if (n - i >= 2 && l[i + 1] >= '1' && l[i + 1] <= '6') {
				static const enum std s0[] = {STD_ZERO_MONTH,  STD_ZERO_DAY,
				                              STD_ZERO_HOUR12, STD_ZERO_MINUTE,
				                              STD_ZERO_SECOND, STD_YEAR};
				RET(s0[l[i + 1] - '1'], 2);
			}
			if (HAS(i, "002"))
				RET(STD_ZERO_YEARDAY, 3);
			break;
		case '1':
			if (n - i >= 2 && l[i + 1] == '5')
				RET(STD_HOUR, 2);
			RET(STD_NUM_MONTH, 1);
		case '2':
			if (HAS(i, "2006"))
				RET(STD_LONG_YEAR, 4);
			RET(STD_DAY, 1);
		case '_':
			if (n - i >= 2 && l[i + 1] == '2') {
				if (HAS(i + 1, "2006")) { /* literal '_' then the year */
					i++;
					RET(STD_LONG_YEAR, 4);
				}
				RET(STD_UNDER_DAY, 2);
			}
			if (HAS(i, "__2"))
				RET(STD_UNDER_YEARDAY, 3);
			break;
		case '3':
			RET(STD_HOUR12, 1);
		case '4':
			RET(STD_MINUTE, 1);
		case '5':
			RET(STD_SECOND, 1);
		case 'P':
			if (n - i >= 2 && l[i + 1] == 'M')
				RET(STD_PM, 2);
			break;
		case 'p':
			if (n - i >= 2 && l[i + 1] == 'm')
				RET(STD_PM_LOWER, 2);
			break;
		case '-':
			if (HAS(i, "-070000"))
				RET(STD_NUM_SECONDS_TZ, 7);
			if (HAS(i, "-07:00:00"))
				RET(STD_NUM_COLON_SECONDS_TZ, 9);
			if (HAS(i, "-0700"))
				RET(STD_NUM_TZ, 5);
			if (HAS(i, "-07:00"))
				RET(STD_NUM_COLON_TZ, 6);
			if (HAS(i, "-07"))
				RET(STD_NUM_SHORT_TZ, 3);
			break;
		case 'Z':
			if (HAS(i, "Z070000"))
				RET(STD_ISO_SECONDS_TZ, 7);
			if (HAS(i, "Z07:00:00"))
				RET(STD_ISO_COLON_SECONDS_TZ, 9);
			if (HAS(i, "Z0700"))
				RET(STD_ISO_TZ, 5);
			if (HAS(i, "Z07:00"))
				RET(STD_ISO_COLON_TZ, 6);
			if (HAS(i, "Z07"))
				RET(STD_ISO_SHORT_TZ, 3);
			break;
		case '.':
		case ',':
			if (i + 1 < n && (l[i + 1] == '0' || l[i + 1] == '9')) {
				char ch = l[i + 1];
				size_t j = i + 1;
				while (j < n && l[j] == ch)
					j++;
				if (!isdig(l, n, j)) {
					*ndig = (int)(j - (i + 1));
					*sep = l[i];
					RET(ch == '0' ? STD_FRAC0 : STD_FRAC9, j - i);
				}
			}
			break;
		default:
			break;
		}
	}
	*std = STD_NONE;
	*len = 0;
	return n;
#undef HAS
#undef RET
}

void lf_gotime_layout_free(struct lf_gotime_layout *l)
{
	if (!l)
		return;
	free(l->text);
	free(l->chunks);
	free(l);
}

int lf_gotime_layout_new(const char *layout, struct lf_gotime_layout **out, struct lf_error *err)
{
	*out = NULL;
	if (!layout || !layout[0])
		return lf_err(err, "empty time layout");
	struct lf_gotime_layout *l = calloc(1, sizeof *l);
	if (!l || !(l->text = strdup(layout))) {
		free(l);
		return lf_err(err, "out of memory");
	}
	l->go = l->text;
	l->kind = LK_GO;
	static const struct {
		const char *name;
		enum lkind k;
	} unix_names[] = {{"Unix", LK_UNIX},
	                  {"UnixMs", LK_UNIX_MS},
	                  {"UnixUs", LK_UNIX_US},
	                  {"UnixNs", LK_UNIX_NS}};
	for (size_t i = 0; i < sizeof unix_names / sizeof unix_names[0]; i++)
		if (strcmp(layout, unix_names[i].name) == 0) {
			l->kind = unix_names[i].k;
			*out = l;
			return 0;
		}
	for (size_t i = 0; i < sizeof named_layouts / sizeof named_layouts[0]; i++)
		if (strcmp(layout, named_layouts[i].name) == 0) {
			l->go = named_layouts[i].layout;
			l->named = true;
		}
	if (!l->named)
		l->yearless = strstr(layout, "06") == NULL;

	const char *g = l->go;
	size_t n = strlen(g), pos = 0, cap = 0;
	for (;;) {
		enum std std;
		size_t len = 0;
		int ndig = 0;
		char sep = '.';
		size_t at = next_std(g + pos, n - pos, &std, &len, &ndig, &sep);
		if (std == STD_NONE)
			break;
		if (l->n == cap) {
			cap = cap ? cap * 2 : 16;
			struct chunk *nc = realloc(l->chunks, cap * sizeof *nc);
			if (!nc) {
				lf_gotime_layout_free(l);
				return lf_err(err, "out of memory");
			}
			l->chunks = nc;
		}
		struct chunk *c = &l->chunks[l->n++];
		c->lit_off = pos;
		c->lit_len = at;
		c->std_off = pos + at;
		c->std_len = len;
		c->std = std;
		c->ndig = ndig;
		c->sep = sep;
		pos += at + len;
	}
	l->tail_off = pos;
	*out = l;
	return 0;
}

const char *lf_gotime_layout_text(const struct lf_gotime_layout *l)
{
	return l->text;
}

const char *lf_gotime_layout_go(const struct lf_gotime_layout *l)
{
	return l->go;
}

/* ---- parsing ---- */

static void quote_into(char *dst, size_t cap, const char *s, size_t n)
{
	size_t o = 0;
	if (cap < 4)
		return;
	dst[o++] = '"';
	for (size_t i = 0; i < n && o + 6 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o++] = '"';
	dst[o] = '\0';
}

static int perr_msg(struct lf_error *err, const char *value, size_t vlen, const char *msg)
{
	char qv[512];
	quote_into(qv, sizeof qv, value, vlen);
	return lf_err(err, "parsing time %s%s", qv, msg);
}

static int perr_elem(struct lf_error *err, const char *layout, const char *value, size_t vlen,
                     const char *lelem, size_t lelen, const char *velem, size_t velen)
{
	char qv[512], ql[256], qle[128], qve[256];
	quote_into(qv, sizeof qv, value, vlen);
	quote_into(ql, sizeof ql, layout, strlen(layout));
	quote_into(qle, sizeof qle, lelem, lelen);
	quote_into(qve, sizeof qve, velem, velen);
	return lf_err(err, "parsing time %s as %s: cannot parse %s as %s", qv, ql, qve, qle);
}

/* Go getnum: one or two digits (exactly two when fixed). */
static bool getnum(const char **v, const char *end, bool fixed, int *out)
{
	const char *s = *v;
	if (s >= end || *s < '0' || *s > '9')
		return false;
	if (s + 1 >= end || s[1] < '0' || s[1] > '9') {
		if (fixed)
			return false;
		*out = *s - '0';
		*v = s + 1;
		return true;
	}
	*out = (s[0] - '0') * 10 + (s[1] - '0');
	*v = s + 2;
	return true;
}

static bool getnum3(const char **v, const char *end, bool fixed, int *out)
{
	const char *s = *v;
	int k = 0, val = 0;
	while (k < 3 && s + k < end && s[k] >= '0' && s[k] <= '9') {
		val = val * 10 + (s[k] - '0');
		k++;
	}
	if (k == 0 || (fixed && k != 3))
		return false;
	*out = val;
	*v = s + k;
	return true;
}

/* ASCII case-insensitive prefix match of a name table. */
static int lookup_name(const char *const *tab, int count, size_t cut, const char **v,
                       const char *end)
{
	for (int i = 0; i < count; i++) {
		size_t n = cut ? cut : strlen(tab[i]);
		if ((size_t)(end - *v) >= n && strncasecmp(*v, tab[i], n) == 0) {
			*v += n;
			return i;
		}
	}
	return -1;
}

static const char *cutspace(const char *s, const char *end)
{
	while (s < end && *s == ' ')
		s++;
	return s;
}

/* Go skip(): literal prefix; a space in the layout matches one or more
 * spaces in the value. Returns NULL on mismatch. */
static const char *skip_lit(const char *v, const char *end, const char *p, size_t pn)
{
	const char *pe = p + pn;
	while (p < pe) {
		if (*p == ' ') {
			if (v < end && *v != ' ')
				return NULL;
			while (p < pe && *p == ' ')
				p++;
			v = cutspace(v, end);
			continue;
		}
		if (v >= end || *v != *p)
			return NULL;
		p++;
		v++;
	}
	return v;
}

/* Go parseTimeZone: length of a zone abbreviation at v, 0 if none. */
static size_t parse_tz_name(const char *v, const char *end)
{
	size_t n = (size_t)(end - v);
	if (n < 3)
		return 0;
	if (n >= 4 && (memcmp(v, "ChST", 4) == 0 || memcmp(v, "MeST", 4) == 0))
		return 4;
	if (memcmp(v, "GMT", 3) == 0) {
		size_t k = 3;
		if (k < n && (v[k] == '+' || v[k] == '-')) {
			size_t j = k + 1;
			while (j < n && j < k + 3 && v[j] >= '0' && v[j] <= '9')
				j++;
			if (j > k + 1)
				k = j;
		}
		return k;
	}
	if (v[0] == '+' || v[0] == '-') {
		size_t j = 1;
		while (j < n && j < 3 && v[j] >= '0' && v[j] <= '9')
			j++;
		return j > 1 ? j : 0;
	}
	size_t up = 0;
	while (up < 6 && up < n && v[up] >= 'A' && v[up] <= 'Z')
		up++;
	switch (up) {
	case 3:
		return 3;
	case 4:
		return (v[3] == 'T' || memcmp(v, "WITA", 4) == 0) ? 4 : 0;
	case 5:
		return v[4] == 'T' ? 5 : 0;
	default:
		return 0;
	}
}

/* Go parseNanoseconds: v[0] is '.' or ',', then nbytes-1 digits. */
static bool parse_nanos(const char *v, size_t nbytes, int *ns)
{
	if (v[0] != '.' && v[0] != ',')
		return false;
	if (nbytes > 10)
		nbytes = 10;
	int x = 0;
	size_t i = 1;
	for (; i < nbytes; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (v[i] - '0');
	}
	for (; i < 10; i++)
		x *= 10;
	*ns = x;
	return true;
}

static int parse_unix(const struct lf_gotime_layout *l, const char *v, size_t n, int64_t *out,
                      struct lf_error *err)
{
	char qv[256];
	quote_into(qv, sizeof qv, v, n);
	const char *dot = l->kind == LK_UNIX ? memchr(v, '.', n) : NULL;
	if (dot && memchr(dot + 1, '.', n - (size_t)(dot + 1 - v)))
		dot = NULL; /* more than one '.': parse the whole, which fails */
	size_t ilen = dot ? (size_t)(dot - v) : n;
	int64_t sec = 0;
	size_t i = 0;
	bool neg = false;
	if (ilen > 0 && (v[0] == '+' || v[0] == '-')) {
		neg = v[0] == '-';
		i = 1;
	}
	if (i == ilen)
		goto bad;
	/* Accumulate unsigned against the exact bound so both INT64_MIN and
	 * INT64_MAX parse (fuzz_gotime: our own UnixNs output did not). */
	uint64_t acc = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < ilen; i++) {
		if (v[i] < '0' || v[i] > '9')
			goto bad;
		unsigned d = (unsigned)(v[i] - '0');
		if (acc > (lim - d) / 10)
			return lf_err(err, "parsing time %s as \"%s\": value out of range", qv,
			              l->text);
		acc = acc * 10 + d;
	}
	if (neg)
		sec = acc > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)acc;
	else
		sec = (int64_t)acc;
	int64_t frac = 0;
	if (dot) {
		size_t fl = n - ilen - 1;
		if (fl == 0)
			goto bad;
		int64_t f = 0;
		for (size_t k = 0; k < fl; k++) {
			char c = dot[1 + k];
			if (c < '0' || c > '9')
				goto bad;
			if (k < 9)
				f = f * 10 + (c - '0');
		}
		for (size_t k = fl; k < 9; k++)
			f *= 10;
		frac = f;
	}
	int64_t mul = l->kind == LK_UNIX      ? LF_NS_PER_SEC
	              : l->kind == LK_UNIX_MS ? 1000000
	              : l->kind == LK_UNIX_US ? 1000
	                                      : 1;
	if (mul > 1 && (sec > INT64_MAX / mul || sec < INT64_MIN / mul))
		return lf_err(err, "parsing time %s as \"%s\": value out of range", qv, l->text);
	int64_t base = sec * mul;
	if ((neg && base < INT64_MIN + frac) || (!neg && base > INT64_MAX - frac))
		return lf_err(err, "parsing time %s as \"%s\": value out of range", qv, l->text);
	*out = base + (neg ? -frac : frac);
	return 0;
bad:
	return lf_err(err, "parsing time %s as \"%s\": invalid syntax", qv, l->text);
}

int lf_gotime_parse(const struct lf_gotime_layout *l, const char *value, size_t vlen,
                    const struct lf_tz *loc, int64_t now_ns, int64_t *out_ns, struct lf_error *err)
{
	if (l->kind != LK_GO)
		return parse_unix(l, value, vlen, out_ns, err);
	const char *g = l->go;
	const char *v = value, *end = value + vlen;
	const struct lf_tz *deflt = (l->named || !loc) ? &utc_zone : loc;

	int64_t year = 0;
	int month = -1, day = -1, yday = -1, hour = 0, min = 0, sec = 0, nsec = 0;
	bool pm = false, am = false, have_off = false, utc = false;
	int32_t zoff = 0;
	const char *zname = NULL;
	size_t znlen = 0;
	const char *range = NULL;

	for (size_t ci = 0; ci < l->n; ci++) {
		const struct chunk *c = &l->chunks[ci];
		const char *nv = skip_lit(v, end, g + c->lit_off, c->lit_len);
		if (!nv)
			return perr_elem(err, g, value, vlen, g + c->lit_off, c->lit_len, v,
			                 (size_t)(end - v));
		v = nv;
		const char *hold = v;
		bool ok = true;
		int x = 0;
		switch (c->std) {
		case STD_YEAR:
			if (end - v < 2 || !getnum(&v, end, true, &x)) {
				ok = false;
				break;
			}
			year = x >= 69 ? 1900 + x : 2000 + x;
			break;
		case STD_LONG_YEAR:
			if (end - v < 4 || !isdig(v, 4, 0) || !isdig(v, 4, 1) || !isdig(v, 4, 2) ||
			    !isdig(v, 4, 3)) {
				ok = false;
				break;
			}
			year = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 +
			       (v[3] - '0');
			v += 4;
			break;
		case STD_MONTH:
			x = lookup_name(long_month, 12, 3, &v, end);
			if (x < 0)
				ok = false;
			else
				month = x + 1;
			break;
		case STD_LONG_MONTH:
			x = lookup_name(long_month, 12, 0, &v, end);
			if (x < 0)
				ok = false;
			else
				month = x + 1;
			break;
		case STD_NUM_MONTH:
		case STD_ZERO_MONTH:
			ok = getnum(&v, end, c->std == STD_ZERO_MONTH, &month);
			if (ok && (month <= 0 || month > 12))
				range = "month";
			break;
		case STD_WEEKDAY:
			ok = lookup_name(long_day, 7, 3, &v, end) >= 0;
			break;
		case STD_LONG_WEEKDAY:
			ok = lookup_name(long_day, 7, 0, &v, end) >= 0;
			break;
		case STD_DAY:
		case STD_UNDER_DAY:
		case STD_ZERO_DAY:
			if (c->std == STD_UNDER_DAY && v < end && *v == ' ')
				v++;
			ok = getnum(&v, end, c->std == STD_ZERO_DAY, &day);
			break;
		case STD_UNDER_YEARDAY:
		case STD_ZERO_YEARDAY:
			for (int k = 0; k < 2 && c->std == STD_UNDER_YEARDAY; k++)
				if (v < end && *v == ' ')
					v++;
			ok = getnum3(&v, end, c->std == STD_ZERO_YEARDAY, &yday);
			if (ok && (yday < 1 || yday > 366))
				range = "day-of-year";
			break;
		case STD_HOUR:
			ok = getnum(&v, end, false, &hour);
			if (ok && (hour < 0 || hour >= 24))
				range = "hour";
			break;
		case STD_HOUR12:
		case STD_ZERO_HOUR12:
			ok = getnum(&v, end, c->std == STD_ZERO_HOUR12, &hour);
			if (ok && (hour < 0 || hour > 12))
				range = "hour";
			break;
		case STD_MINUTE:
		case STD_ZERO_MINUTE:
			ok = getnum(&v, end, c->std == STD_ZERO_MINUTE, &min);
			if (ok && (min < 0 || min >= 60))
				range = "minute";
			break;
		case STD_SECOND:
		case STD_ZERO_SECOND:
			ok = getnum(&v, end, c->std == STD_ZERO_SECOND, &sec);
			if (!ok)
				break;
			if (sec < 0 || sec >= 60) {
				range = "second";
				break;
			}
			/* a fraction in the value that the layout does not have */
			if (end - v >= 2 && (*v == '.' || *v == ',') && isdig(v, 2, 1) &&
			    !(ci + 1 < l->n && (l->chunks[ci + 1].std == STD_FRAC0 ||
			                        l->chunks[ci + 1].std == STD_FRAC9))) {
				size_t k = 2;
				while (v + k < end && *(v + k) >= '0' && *(v + k) <= '9')
					k++;
				ok = parse_nanos(v, k, &nsec);
				v += k;
			}
			break;
		case STD_PM:
		case STD_PM_LOWER:
			if (end - v < 2) {
				ok = false;
				break;
			}
			if (c->std == STD_PM ? memcmp(v, "PM", 2) == 0 : memcmp(v, "pm", 2) == 0)
				pm = true;
			else if (c->std == STD_PM ? memcmp(v, "AM", 2) == 0
			                          : memcmp(v, "am", 2) == 0)
				am = true;
			else
				ok = false;
			v += 2;
			break;
		case STD_ISO_TZ:
		case STD_ISO_SHORT_TZ:
		case STD_ISO_COLON_TZ:
		case STD_ISO_SECONDS_TZ:
		case STD_ISO_COLON_SECONDS_TZ:
			if (v < end && *v == 'Z') {
				v++;
				utc = true;
				break;
			}
			/* fallthrough */
		case STD_NUM_TZ:
		case STD_NUM_SHORT_TZ:
		case STD_NUM_COLON_TZ:
		case STD_NUM_SECONDS_TZ:
		case STD_NUM_COLON_SECONDS_TZ: {
			size_t avail = (size_t)(end - v);
			const char *hh, *mm = "00", *ss = "00";
			char sign = v < end ? *v : 0;
			size_t used;
			enum std s = c->std;
			if (s == STD_ISO_COLON_TZ || s == STD_NUM_COLON_TZ) {
				if (avail < 6 || v[3] != ':') {
					ok = false;
					break;
				}
				hh = v + 1, mm = v + 4, used = 6;
			} else if (s == STD_ISO_SHORT_TZ || s == STD_NUM_SHORT_TZ) {
				if (avail < 3) {
					ok = false;
					break;
				}
				hh = v + 1, used = 3;
			} else if (s == STD_ISO_COLON_SECONDS_TZ || s == STD_NUM_COLON_SECONDS_TZ) {
				if (avail < 9 || v[3] != ':' || v[6] != ':') {
					ok = false;
					break;
				}
				hh = v + 1, mm = v + 4, ss = v + 7, used = 9;
			} else if (s == STD_ISO_SECONDS_TZ || s == STD_NUM_SECONDS_TZ) {
				if (avail < 7) {
					ok = false;
					break;
				}
				hh = v + 1, mm = v + 3, ss = v + 5, used = 7;
			} else {
				if (avail < 5) {
					ok = false;
					break;
				}
				hh = v + 1, mm = v + 3, used = 5;
			}
			int h2, m2, s2;
			const char *t;
			if (!(t = hh, getnum(&t, hh + 2, true, &h2)) ||
			    !(t = mm, getnum(&t, mm + 2, true, &m2)) ||
			    !(t = ss, getnum(&t, ss + 2, true, &s2))) {
				ok = false;
				break;
			}
			if (h2 > 24)
				range = "time zone offset hour";
			if (m2 > 60)
				range = "time zone offset minute";
			if (s2 > 60)
				range = "time zone offset second";
			zoff = (h2 * 60 + m2) * 60 + s2;
			if (sign == '-')
				zoff = -zoff;
			else if (sign != '+')
				ok = false;
			have_off = true;
			v += used;
			break;
		}
		case STD_TZ:
			if (end - v >= 3 && memcmp(v, "UTC", 3) == 0) {
				utc = true;
				v += 3;
				break;
			}
			znlen = parse_tz_name(v, end);
			if (!znlen) {
				ok = false;
				break;
			}
			zname = v;
			v += znlen;
			break;
		case STD_FRAC0: {
			size_t nd = 1 + (size_t)c->ndig;
			if ((size_t)(end - v) < nd) {
				ok = false;
				break;
			}
			ok = parse_nanos(v, nd, &nsec);
			v += nd;
			break;
		}
		case STD_FRAC9: {
			if (end - v < 2 || (*v != '.' && *v != ',') || v[1] < '0' || v[1] > '9')
				break; /* fraction omitted */
			size_t k = 0;
			while (v + k + 1 < end && v[k + 1] >= '0' && v[k + 1] <= '9')
				k++;
			ok = parse_nanos(v, 1 + k, &nsec);
			v += 1 + k;
			break;
		}
		case STD_NONE:
			break;
		}
		if (range) {
			char msg[64];
			snprintf(msg, sizeof msg, ": %s out of range", range);
			return perr_msg(err, value, vlen, msg);
		}
		if (!ok)
			return perr_elem(err, g, value, vlen, g + c->std_off, c->std_len, hold,
			                 (size_t)(end - hold));
	}
	/* trailing literal */
	{
		size_t tl = strlen(g + l->tail_off);
		const char *nv = skip_lit(v, end, g + l->tail_off, tl);
		if (!nv)
			return perr_elem(err, g, value, vlen, g + l->tail_off, tl, v,
			                 (size_t)(end - v));
		v = nv;
	}
	if (v < end) {
		char q[300], msg[320];
		quote_into(q, sizeof q, v, (size_t)(end - v));
		snprintf(msg, sizeof msg, ": extra text: %s", q);
		return perr_msg(err, value, vlen, msg);
	}
	if (pm && hour < 12)
		hour += 12;
	else if (am && hour == 12)
		hour = 0;

	/* year-less layouts: Promtail puts the value in the current year */
	if (l->yearless) {
		int64_t nowsec = floor_div(now_ns, LF_NS_PER_SEC);
		const struct lf_tz *lz = lf_tz_local();
		int32_t noff = tz_lookup(lz, nowsec, NULL, NULL, NULL);
		int64_t ny;
		int nm, nd;
		civil_from_days(floor_div(nowsec + noff, SECS_PER_DAY), &ny, &nm, &nd);
		int pmon = month < 0 ? 1 : month;
		if (yday >= 0)
			pmon = 1;
		if (pmon == 12 && nm == 1)
			year = ny - 1;
		else if (pmon == 1 && nm == 12)
			year = ny + 1;
		else
			year = ny;
	}
	int64_t days;
	if (yday >= 0) {
		if (yday > (is_leap(year) ? 366 : 365))
			return perr_msg(err, value, vlen, ": day-of-year out of range");
		if (month >= 0 || day >= 0) {
			int64_t y2;
			int m2, d2;
			civil_from_days(days_from_civil(year, 1, yday), &y2, &m2, &d2);
			if ((month >= 0 && month != m2) || (day >= 0 && day != d2))
				return perr_msg(err, value, vlen,
				                ": day-of-year does not match month");
			if (day >= 0 && day != d2)
				return perr_msg(err, value, vlen,
				                ": day-of-year does not match day");
		}
		days = days_from_civil(year, 1, yday);
	} else {
		if (month < 0)
			month = 1;
		if (day < 0)
			day = 1;
		if (day < 1 || day > days_in(month, l->yearless ? 0 : year))
			return perr_msg(err, value, vlen, ": day out of range");
		days = days_from_civil(year, month, day);
	}
	int64_t wall = days * SECS_PER_DAY + hour * 3600 + min * 60 + sec;
	int64_t usec;
	if (utc)
		usec = wall;
	else if (have_off)
		usec = wall - zoff;
	else if (zname) {
		int32_t off = 0;
		/* time.Parse looks abbreviations up in the machine zone */
		const struct lf_tz *names = (l->named || !loc) ? lf_tz_local() : loc;
		if (tz_lookup_name(names, zname, znlen, wall, &off))
			usec = wall - off;
		else
			usec = wall; /* unknown abbreviation (also "GMT+3"): Go keeps the
			              * wall clock as UTC in a fabricated zone */
	} else {
		usec = wall_to_unix(deflt, wall);
	}
	/* int64 ns covers 1677-09-21..2262-04-11. Checked arithmetic so every
	 * instant in that range parses, up to both ends (fuzz_gotime: our own
	 * output for INT64_MIN did not parse back). */
	int64_t frac = nsec, ns;
	if (usec < 0 && frac > 0) { /* keep the product in range near INT64_MIN */
		usec++;
		frac -= LF_NS_PER_SEC;
	}
	if (__builtin_mul_overflow(usec, LF_NS_PER_SEC, &ns) ||
	    __builtin_add_overflow(ns, frac, &ns))
		return perr_msg(err, value, vlen, ": time out of range for nanoseconds");
	*out_ns = ns;
	return 0;
}

/* ---- formatting ---- */

static int put_int(struct lf_buf *b, int64_t v, int width)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%0*lld", width, (long long)v);
	return lf_buf_append(b, tmp, (size_t)n);
}

int lf_gotime_format(const struct lf_gotime_layout *l, int64_t ns, const struct lf_tz *loc,
                     struct lf_buf *out)
{
	int64_t sec = floor_div(ns, LF_NS_PER_SEC);
	/* Not ns - sec * 1e9: that product overflows near INT64_MIN (fuzz_gotime). */
	int64_t nsec = ns % LF_NS_PER_SEC;
	if (nsec < 0)
		nsec += LF_NS_PER_SEC;
	switch (l->kind) {
	case LK_UNIX:
		return lf_buf_printf(out, "%lld", (long long)sec);
	case LK_UNIX_MS:
		return lf_buf_printf(out, "%lld", (long long)floor_div(ns, 1000000));
	case LK_UNIX_US:
		return lf_buf_printf(out, "%lld", (long long)floor_div(ns, 1000));
	case LK_UNIX_NS:
		return lf_buf_printf(out, "%lld", (long long)ns);
	case LK_GO:
		break;
	}
	if (!loc)
		loc = &utc_zone;
	const char *abbr = NULL;
	int32_t off = tz_lookup(loc, sec, &abbr, NULL, NULL);
	int64_t local = sec + off;
	int64_t days = floor_div(local, SECS_PER_DAY);
	int64_t sod = local - days * SECS_PER_DAY;
	int64_t year;
	int month, day;
	civil_from_days(days, &year, &month, &day);
	int wday = (int)(((days + 4) % 7 + 7) % 7);
	int yday = (int)(days - days_from_civil(year, 1, 1)) + 1;
	int hour = (int)(sod / 3600), min = (int)(sod / 60 % 60), s = (int)(sod % 60);
	const char *g = l->go;
	int rc = 0;
	for (size_t ci = 0; ci < l->n && rc == 0; ci++) {
		const struct chunk *c = &l->chunks[ci];
		rc = lf_buf_append(out, g + c->lit_off, c->lit_len);
		if (rc)
			break;
		switch (c->std) {
		case STD_YEAR:
			rc = put_int(out, ((year % 100) + 100) % 100, 2);
			break;
		case STD_LONG_YEAR:
			rc = put_int(out, year, 4);
			break;
		case STD_MONTH:
			rc = lf_buf_append(out, long_month[month - 1], 3);
			break;
		case STD_LONG_MONTH:
			rc = lf_buf_appends(out, long_month[month - 1]);
			break;
		case STD_NUM_MONTH:
			rc = put_int(out, month, 0);
			break;
		case STD_ZERO_MONTH:
			rc = put_int(out, month, 2);
			break;
		case STD_WEEKDAY:
			rc = lf_buf_append(out, long_day[wday], 3);
			break;
		case STD_LONG_WEEKDAY:
			rc = lf_buf_appends(out, long_day[wday]);
			break;
		case STD_DAY:
			rc = put_int(out, day, 0);
			break;
		case STD_UNDER_DAY:
			if (day < 10)
				rc = lf_buf_putc(out, ' ');
			if (!rc)
				rc = put_int(out, day, 0);
			break;
		case STD_ZERO_DAY:
			rc = put_int(out, day, 2);
			break;
		case STD_UNDER_YEARDAY:
			rc = lf_buf_printf(out, "%3d", yday);
			break;
		case STD_ZERO_YEARDAY:
			rc = put_int(out, yday, 3);
			break;
		case STD_HOUR:
			rc = put_int(out, hour, 2);
			break;
		case STD_HOUR12:
		case STD_ZERO_HOUR12: {
			int h = hour % 12;
			if (h == 0)
				h = 12;
			rc = put_int(out, h, c->std == STD_ZERO_HOUR12 ? 2 : 0);
			break;
		}
		case STD_MINUTE:
			rc = put_int(out, min, 0);
			break;
		case STD_ZERO_MINUTE:
			rc = put_int(out, min, 2);
			break;
		case STD_SECOND:
			rc = put_int(out, s, 0);
			break;
		case STD_ZERO_SECOND:
			rc = put_int(out, s, 2);
			break;
		case STD_PM:
			rc = lf_buf_appends(out, hour >= 12 ? "PM" : "AM");
			break;
		case STD_PM_LOWER:
			rc = lf_buf_appends(out, hour >= 12 ? "pm" : "am");
			break;
		case STD_ISO_TZ:
		case STD_ISO_SHORT_TZ:
		case STD_ISO_COLON_TZ:
		case STD_ISO_SECONDS_TZ:
		case STD_ISO_COLON_SECONDS_TZ:
			if (off == 0) {
				rc = lf_buf_putc(out, 'Z');
				break;
			}
			/* fallthrough */
		case STD_NUM_TZ:
		case STD_NUM_SHORT_TZ:
		case STD_NUM_COLON_TZ:
		case STD_NUM_SECONDS_TZ:
		case STD_NUM_COLON_SECONDS_TZ: {
			int32_t z = off / 60, abs = off;
			char sign = '+';
			if (z < 0 || off < 0) {
				sign = '-';
				z = -z;
				abs = -abs;
			}
			enum std st = c->std;
			bool colon = st == STD_ISO_COLON_TZ || st == STD_NUM_COLON_TZ ||
			             st == STD_ISO_COLON_SECONDS_TZ ||
			             st == STD_NUM_COLON_SECONDS_TZ;
			bool shrt = st == STD_ISO_SHORT_TZ || st == STD_NUM_SHORT_TZ;
			bool secs = st == STD_ISO_SECONDS_TZ || st == STD_NUM_SECONDS_TZ ||
			            st == STD_ISO_COLON_SECONDS_TZ ||
			            st == STD_NUM_COLON_SECONDS_TZ;
			rc = lf_buf_putc(out, sign);
			if (!rc)
				rc = put_int(out, z / 60, 2);
			if (!rc && colon)
				rc = lf_buf_putc(out, ':');
			if (!rc && !shrt)
				rc = put_int(out, z % 60, 2);
			if (!rc && secs) {
				if (colon)
					rc = lf_buf_putc(out, ':');
				if (!rc)
					rc = put_int(out, abs % 60, 2);
			}
			break;
		}
		case STD_TZ:
			if (abbr && abbr[0]) {
				rc = lf_buf_appends(out, abbr);
			} else {
				int32_t z = off / 60;
				char sign = '+';
				if (z < 0) {
					sign = '-';
					z = -z;
				}
				rc = lf_buf_putc(out, sign);
				if (!rc)
					rc = put_int(out, z / 60, 2);
				if (!rc)
					rc = put_int(out, z % 60, 2);
			}
			break;
		case STD_FRAC0:
		case STD_FRAC9: {
			char digits[16];
			snprintf(digits, sizeof digits, "%09lld", (long long)nsec);
			int nd = c->ndig > 9 ? 9 : c->ndig;
			if (c->std == STD_FRAC9) {
				while (nd > 0 && digits[nd - 1] == '0')
					nd--;
				if (nd == 0)
					break;
			}
			rc = lf_buf_putc(out, c->sep);
			if (!rc)
				rc = lf_buf_append(out, digits, (size_t)nd);
			break;
		}
		case STD_NONE:
			break;
		}
	}
	if (!rc)
		rc = lf_buf_appends(out, g + l->tail_off);
	return rc;
}

int lf_gotime_parse_str(const char *layout, const char *value, const struct lf_tz *loc,
                        int64_t now_ns, int64_t *out_ns, struct lf_error *err)
{
	struct lf_gotime_layout *l;
	if (lf_gotime_layout_new(layout, &l, err) < 0)
		return -1;
	int rc = lf_gotime_parse(l, value, strlen(value), loc, now_ns, out_ns, err);
	lf_gotime_layout_free(l);
	return rc;
}

int lf_gotime_format_str(const char *layout, int64_t ns, const struct lf_tz *loc,
                         struct lf_buf *out)
{
	struct lf_gotime_layout *l;
	if (lf_gotime_layout_new(layout, &l, NULL) < 0)
		return -1;
	int rc = lf_gotime_format(l, ns, loc, out);
	lf_gotime_layout_free(l);
	return rc;
}

static struct lf_gotime_layout *dry_layout;

static void dry_init(void)
{
	(void)lf_gotime_layout_new("2006-01-02T15:04:05.999999999-0700", &dry_layout, NULL);
}

int lf_gotime_format_dryrun(int64_t ns, struct lf_buf *out)
{
	/* compiled once for the process: dry-run prints every line */
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, dry_init);
	if (!dry_layout)
		return -1;
	return lf_gotime_format(dry_layout, ns, lf_tz_local(), out);
}
