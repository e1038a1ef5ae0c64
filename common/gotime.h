/* gotime.h — Go time layouts (parse and format) and IANA time zones.
 *
 * Promtail's `timestamp` stage takes a Go reference layout
 * ("2006-01-02T15:04:05.999999999Z07:00", "Jan _2 15:04:05",
 * "02/Jan/2006:15:04:05 -0700"), a named Go format (ANSIC UnixDate RubyDate
 * RFC822 RFC822Z RFC850 RFC1123 RFC1123Z RFC3339 RFC3339Nano — exactly the
 * names Promtail's timestamp stage knows; other Go names such as "Kitchen"
 * are layouts there too) or one of the numeric formats Unix (seconds,
 * optional ".fraction"), UnixMs, UnixUs, UnixNs. A layout is compiled once
 * (lf_gotime_layout_new) and used per line without allocation.
 *
 * Parsing follows Go's time.ParseInLocation:
 *   - a value with a numeric offset (-0700, Z07:00, ...) uses that offset;
 *   - a zone abbreviation (MST) known to `loc` at about that time takes the
 *     location's offset, "UTC"/"GMT" is UTC, an unknown abbreviation gives
 *     offset 0 (Go fabricates a zero-offset zone);
 *   - no zone in the layout: the wall time is read in `loc` (UTC if NULL);
 *     as in Promtail, the *named* formats ignore `loc` (time.Parse: ANSIC
 *     values are UTC) and, with loc == NULL, abbreviations are looked up in
 *     the machine's local zone (Go's time.Parse does that);
 *   - a custom layout without "06" (so without a year, e.g. "Jan _2
 *     15:04:05") gets the year of now_ns (local zone), except that a December
 *     value read in January gets the previous year and a January value read
 *     in December the next year (Promtail's parseTimestampWithoutYear);
 *   - fractional seconds: ".000"/",000" need exactly that many digits,
 *     ".999" accept any number; a fraction after seconds in the value is
 *     accepted even when the layout has none (Go does this too).
 * Errors name the layout and the value, in Go's words, e.g.
 *   parsing time "2020-13-01" as "2006-01-02": month out of range
 *
 * Time zones: lf_tz_load reads the TZif file under /usr/share/zoneinfo
 * (or $ZONEINFO) itself: no setenv("TZ")/localtime_r, so it is thread-safe.
 * Loaded zones are cached per name in a process-wide table (mutex-protected,
 * never freed before exit) because a zone is shared by every stage and
 * target that names it; pointers returned stay valid for the process life.
 * The dry-run layout is likewise compiled once (pthread_once).
 */
#ifndef LF_GOTIME_H
#define LF_GOTIME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

struct lf_tz; /* opaque, immutable, lives until exit */

/* Loads "UTC", "Local" (the machine zone: /etc/localtime, UTC if missing),
 * or an IANA name such as "America/New_York". Cached. Error:
 * `unknown time zone Foo/Bar`. */
int lf_tz_load(const char *name, const struct lf_tz **out, struct lf_error *err);
const struct lf_tz *lf_tz_utc(void);
const struct lf_tz *lf_tz_local(void);
const char *lf_tz_name(const struct lf_tz *tz);
/* Offset east of UTC in seconds at the instant unix_sec; *abbr (may be
 * NULL) receives the abbreviation ("EST", "CEST"). */
int lf_tz_offset(const struct lf_tz *tz, int64_t unix_sec, const char **abbr);

/* ---- layouts ---- */

struct lf_gotime_layout; /* compiled layout, immutable */

/* Compiles a Go layout, a named format ("RFC3339", "UnixMs", ...), case as
 * Promtail spells it. Fails only for an empty layout. */
int lf_gotime_layout_new(const char *layout, struct lf_gotime_layout **out, struct lf_error *err);
void lf_gotime_layout_free(struct lf_gotime_layout *l);
/* The layout text as given ("RFC3339" stays "RFC3339"). */
const char *lf_gotime_layout_text(const struct lf_gotime_layout *l);
/* The Go reference layout behind it ("2006-01-02T15:04:05Z07:00" for
 * RFC3339); for Unix* formats the name itself. */
const char *lf_gotime_layout_go(const struct lf_gotime_layout *l);

/* Parses value[0..len) with layout l. loc: zone for values without one
 * (NULL = UTC). now_ns: "now" for year-less layouts. *out_ns: ns since the
 * epoch. 0 / -1 (err: see above). No allocation. */
int lf_gotime_parse(const struct lf_gotime_layout *l, const char *value, size_t len,
                    const struct lf_tz *loc, int64_t now_ns, int64_t *out_ns, struct lf_error *err);

/* Formats ns in zone loc (NULL = UTC) with layout l, appending to out (Go
 * time.Format; for Unix* formats the number: Unix = seconds). 0 / -1 ENOMEM. */
int lf_gotime_format(const struct lf_gotime_layout *l, int64_t ns, const struct lf_tz *loc,
                     struct lf_buf *out);

/* One-shot helpers that compile the layout each call (not for hot paths). */
int lf_gotime_parse_str(const char *layout, const char *value, const struct lf_tz *loc,
                        int64_t now_ns, int64_t *out_ns, struct lf_error *err);
int lf_gotime_format_str(const char *layout, int64_t ns, const struct lf_tz *loc,
                         struct lf_buf *out);

/* The timestamp form of `logferry -dry-run` (Promtail prints Go's
 * time.Time): layout "2006-01-02T15:04:05.999999999-0700" in the machine's
 * local zone. Appends to out. */
int lf_gotime_format_dryrun(int64_t ns, struct lf_buf *out);

#endif
