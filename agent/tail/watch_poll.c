/* watch_poll.c — polling schedule for files without an inotify watch. */
#include "watch.h"

void lf_poll_start(struct lf_poll *p, int64_t now_ns, int64_t min_ns)
{
	p->interval_ns = min_ns;
	p->next_ns = now_ns + min_ns;
}

void lf_poll_done(struct lf_poll *p, int64_t now_ns, bool changed, int64_t min_ns, int64_t max_ns)
{
	if (changed) {
		p->interval_ns = min_ns;
	} else {
		/* Back off while idle: a quiet file costs one stat per max_ns. */
		int64_t n = p->interval_ns * 2;
		p->interval_ns = n > max_ns ? max_ns : (n < min_ns ? min_ns : n);
	}
	p->next_ns = now_ns + p->interval_ns;
}
