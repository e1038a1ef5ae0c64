/* fuzz_gotime.c — Go time layouts: the `timestamp` stage parses every log
 * line's time field with a layout from the config, so the value side is
 * untrusted (anything a container writes), the layout side semi-trusted.
 *
 * Input: byte 0 picks the zone, byte 1 picks a layout from a list or (past
 * its end) takes the layout from the input up to the first NUL; the rest is
 * the value. Properties:
 *   - a layout compiles unless it is empty;
 *   - parsing either succeeds or names the problem; formatting what was
 *     parsed does not fail;
 *   - the first 8 input bytes as ns since the epoch survive format -> parse
 *     for the lossless layouts (RFC3339Nano, UnixNs, 9-digit custom ones),
 *     in every zone (minute-only offsets are skipped where a zone's offset
 *     has seconds, as Go cannot round-trip those either).
 */
#include "fuzz.h"

#include <stdbool.h>

#include "gotime.h"

static const char *const layouts[] = {
        "RFC3339",
        "RFC3339Nano",
        "ANSIC",
        "UnixDate",
        "RubyDate",
        "RFC822",
        "RFC822Z",
        "RFC850",
        "RFC1123",
        "RFC1123Z",
        "Unix",
        "UnixMs",
        "UnixUs",
        "UnixNs",
        "2006-01-02T15:04:05.999999999Z07:00",
        "Jan _2 15:04:05",
        "02/Jan/2006:15:04:05 -0700",
        "2006-01-02 15:04:05,000",
        "Monday, 02-Jan-06 3:04:05.000 PM MST",
        "2006-002 15h04",
        "Kitchen",
};
static const char *const lossless[] = {
        "RFC3339Nano",
        "UnixNs",
        "2006-01-02T15:04:05.000000000Z07:00",
        "Mon Jan _2 2006 15:04:05.999999999 -07:00:00",
};
/* Whether lossless[i] prints the zone offset in whole minutes only. */
static const bool lossless_offset_minutes[] = {true, false, true, false};
static const char *const zones[] = {"UTC", "America/New_York", "Asia/Kolkata",
                                    "Australia/Lord_Howe", "Local"};

static const struct lf_tz *pick_zone(uint8_t b)
{
	size_t i = b % (sizeof zones / sizeof zones[0] + 1);
	if (i == sizeof zones / sizeof zones[0])
		return NULL; /* "no location" = UTC */
	const struct lf_tz *tz = NULL;
	struct lf_error err;
	if (lf_tz_load(zones[i], &tz, &err) < 0)
		return NULL; /* zone data missing on this machine */
	FUZZ_CHECK(tz != NULL, "lf_tz_load succeeded without a zone");
	return tz;
}

static void roundtrip(int64_t ns, const struct lf_tz *loc)
{
	/* Zones before standard time have offsets with seconds (New York's LMT
	 * is -4:56:02); Go's Z07:00 drops them, so only layouts that print
	 * offset seconds (or none) can round-trip there, in Go as here. */
	int64_t sec = ns / 1000000000 - (ns % 1000000000 < 0);
	bool odd_offset = loc && lf_tz_offset(loc, sec, NULL) % 60 != 0;
	for (size_t i = 0; i < sizeof lossless / sizeof lossless[0]; i++) {
		if (odd_offset && lossless_offset_minutes[i])
			continue;
		struct lf_gotime_layout *l = NULL;
		struct lf_error err = {{0}};
		FUZZ_CHECK(lf_gotime_layout_new(lossless[i], &l, &err) == 0, "layout %s: %s",
		           lossless[i], err.msg);
		struct lf_buf out = LF_BUF_INIT;
		FUZZ_CHECK(lf_gotime_format(l, ns, loc, &out) == 0, "format failed");
		int64_t back = 0;
		int rc = lf_gotime_parse(l, out.data, out.len, loc, ns, &back, &err);
		FUZZ_CHECK(rc == 0, "%s: own output \"%s\" of %lld does not parse: %s", lossless[i],
		           out.data, (long long)ns, err.msg);
		FUZZ_CHECK(back == ns, "%s: %lld -> \"%s\" -> %lld", lossless[i], (long long)ns,
		           out.data, (long long)back);
		lf_buf_free(&out);
		lf_gotime_layout_free(l);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const struct lf_tz *loc = pick_zone(data[0]);
	const char *p = (const char *)data + 2, *end = (const char *)data + size;
	char *layout_text;
	size_t nl = sizeof layouts / sizeof layouts[0];
	if (data[1] < nl) {
		layout_text =
		        fuzz_strdup((const uint8_t *)layouts[data[1]], strlen(layouts[data[1]]));
	} else {
		const char *z = memchr(p, '\0', (size_t)(end - p));
		size_t ll = z ? (size_t)(z - p) : (size_t)(end - p);
		layout_text = fuzz_strdup((const uint8_t *)p, ll);
		p = z ? z + 1 : end;
	}
	size_t vlen = (size_t)(end - p);

	struct lf_gotime_layout *l = NULL;
	struct lf_error err = {{0}};
	int rc = lf_gotime_layout_new(layout_text, &l, &err);
	FUZZ_CHECK((rc == 0) == (layout_text[0] != '\0'), "layout \"%s\": rc %d (%s)", layout_text,
	           rc, err.msg);
	if (rc == 0) {
		FUZZ_CHECK(strcmp(lf_gotime_layout_text(l), layout_text) == 0,
		           "layout text changed");
		FUZZ_CHECK(lf_gotime_layout_go(l) != NULL, "no Go layout");
		int64_t now = INT64_C(1763754190123456789), ns = 0;
		err.msg[0] = '\0';
		if (lf_gotime_parse(l, p, vlen, loc, now, &ns, &err) == 0) {
			struct lf_buf out = LF_BUF_INIT;
			FUZZ_CHECK(lf_gotime_format(l, ns, loc, &out) == 0, "format failed");
			lf_buf_free(&out);
		} else {
			FUZZ_CHECK(err.msg[0], "parse failed without a message");
		}
		/* Arbitrary instants through an arbitrary layout: must not crash. */
		if (size >= 10) {
			int64_t raw;
			memcpy(&raw, data + 2, sizeof raw);
			struct lf_buf out = LF_BUF_INIT;
			FUZZ_CHECK(lf_gotime_format(l, raw, loc, &out) == 0, "format failed");
			lf_buf_free(&out);
		}
		lf_gotime_layout_free(l);
	}
	if (size >= 10) {
		int64_t raw;
		memcpy(&raw, data + 2, sizeof raw);
		roundtrip(raw, loc);
	}
	free(layout_text);
	return 0;
}
