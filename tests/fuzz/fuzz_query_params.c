/* fuzz_query_params.c — the store's query parameters: `start`, `end`,
 * `time` (lf_api_parse_time: integer s/ns, float seconds, RFC3339Nano),
 * `since` (a duration), `step` (lf_mq_parse_step: float seconds or a
 * duration, or the default), `limit` and `direction`, combined as
 * query_range combines them (store/api.c handle_query). Anyone who can
 * query the store sends these.
 *
 * Input: the six values separated by NUL bytes, in the order start, end,
 * step, limit, direction, since (missing ones are absent).
 * Properties: parsing fails cleanly or gives a value; an all-digit value
 * of at most 10 digits is seconds (saturated), longer is nanoseconds; a
 * float value is within 1 ms of its seconds (when in range); the step
 * check never divides by zero or overflows and the step loop of a range
 * query visits at most 11001 points, the last one <= end; whatever the
 * values, no undefined behaviour (UBSan).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <strings.h>

#include "fuzz.h"

#include "api.h"
#include "meval.h"
#include "timeutil.h"

static int64_t sat_sub(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static void check_time(const char *s, int64_t v)
{
	size_t n = strlen(s);
	if (n && strspn(s, "0123456789") == n) {
		errno = 0;
		long long x = strtoll(s, NULL, 10);
		FUZZ_CHECK(errno == 0, "accepted an out-of-range integer %s", s);
		if (n <= 10) {
			int64_t want;
			if (__builtin_mul_overflow((int64_t)x, LF_NS_PER_SEC, &want))
				want = INT64_MAX;
			FUZZ_CHECK(v == want, "%s: %lld, want %lld", s, (long long)v,
			           (long long)want);
		} else {
			FUZZ_CHECK(v == x, "%s: %lld", s, (long long)v);
		}
	} else if (strchr(s, '.') && strspn(s, "0123456789.-+eE") == n) {
		double d = strtod(s, NULL);
		if (fabs(d) < 9e9) /* well inside int64 ns */
			FUZZ_CHECK(fabs((double)v / 1e9 - d) <= 0.0011, "%s: %lld", s,
			           (long long)v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_strdup(data, size);
	const char *f[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
	size_t k = 0;
	for (const char *p = buf; k < 6 && p <= buf + size; k++) {
		f[k] = p;
		p += strlen(p) + 1;
	}
	const char *start_s = f[0], *end_s = f[1], *step_s = f[2], *limit_s = f[3], *dir_s = f[4],
	           *since_s = f[5];
	int64_t now = INT64_C(1700000000000000000), start, end;

	/* limit: a non-negative integer, 0 = default */
	if (limit_s && *limit_s) {
		char *e;
		errno = 0;
		long long lim = strtoll(limit_s, &e, 10);
		(void)lim;
	}
	/* direction: forward|backward, any case */
	bool forward = dir_s && !strcasecmp(dir_s, "forward");
	(void)forward;

	if (lf_api_parse_time(end_s, now, &end) < 0)
		goto out;
	if (end_s && *end_s)
		check_time(end_s, end);
	int64_t since = 3600 * LF_NS_PER_SEC;
	struct lf_error err = {{0}};
	if (since_s && *since_s && lf_parse_duration(since_s, &since, &err) < 0) {
		FUZZ_CHECK(err.msg[0], "duration failed without a message");
		goto out;
	}
	if (lf_api_parse_time(start_s, sat_sub(end, since), &start) < 0)
		goto out;
	if (start_s && *start_s)
		check_time(start_s, start);
	if (end < start)
		goto out;
	int64_t step = 0;
	err.msg[0] = '\0';
	if (lf_mq_parse_step(step_s, start, end, &step, &err) < 0) {
		FUZZ_CHECK(err.msg[0], "step failed without a message");
		goto out;
	}
	FUZZ_CHECK(step > 0, "default step %lld", (long long)step);
	if (((uint64_t)end - (uint64_t)start) / (uint64_t)step > 11000)
		goto out;
	size_t points = 0;
	for (int64_t x = start;;) {
		points++;
		FUZZ_CHECK(x <= end && points <= 11001, "point %zu at %lld (end %lld)", points,
		           (long long)x, (long long)end);
		if ((uint64_t)end - (uint64_t)x < (uint64_t)step)
			break;
		x += step;
	}
out:
	free(buf);
	return 0;
}
