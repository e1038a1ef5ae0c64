/* journal.c — the `journal` source: systemd journal entries through
 * libsystemd's sd-journal, Promtail's journal target.
 *
 * Runs on the event loop (sd-journal is not thread-safe and its inotify fd
 * fits the loop): run_once processes journal changes (new, rotated and
 * vacuumed files are sd-journal's business) and reads up to `budget`
 * entries. Each entry: config `labels` + `__journal_<field lowercased>`
 * meta labels (+ `__journal_priority_keyword`) -> relabel_configs -> `__*`
 * drop; line = MESSAGE, or every field as a JSON object with json: true;
 * timestamp = __REALTIME_TIMESTAMP.
 *
 * Position: the journal cursor, stored in the positions table under
 * `journal-<job_name>` (Promtail's key, raw cursor string). Every
 * delivered entry gets a seq and its cursor is kept in a ring; the seqs go
 * through an in-flight ring (agent/tail/inflight.h) exactly like file
 * lines, and only the cursor of the last entry of the acknowledged prefix
 * is saved. A restart seeks to that cursor and skips the entry at it, so
 * nothing acknowledged is re-shipped and nothing unacknowledged is lost.
 * At the first start (no cursor) or when the saved entry is older than
 * max_age, reading starts at now - max_age. Reading pauses while
 * MAX_INFLIGHT entries are unacknowledged (memory stays bounded).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>

#include "../tail/inflight.h"
#include "journal_fields.h"
#include "log.h"
#include "sources.h"
#include "timeutil.h"

#define MAX_INFLIGHT 32768u /* entries not yet acknowledged */
#define CURSOR_MAX   192    /* bytes of a cursor slot (journald's are ~140) */

struct journal_src {
	struct lf_source base;
	char *job;
	char *path;
	int64_t max_age_ns;
	bool json;
	char **matches;
	size_t n_matches;
	struct lf_labels labels;
	struct lf_relabel *relabel;
	struct lf_source_sink sink;
	struct lf_positions *positions;
	char key[300]; /* journal-<job> */

	sd_journal *j;
	int fd;
	bool stopped;
	struct lf_inflight inf;
	char (*cursors)[CURSOR_MAX]; /* ring, indexed by seq & (cap - 1) */
	size_t ccap;
	char committed[CURSOR_MAX];
	char start_cursor[CURSOR_MAX]; /* skip this entry once (restart) */
	uint64_t min_rt_usec;          /* fresh start: entries older are skipped */
	struct lf_entry e;
	struct lf_journal_json jj; /* json: true line, reused */
	struct lf_buf scratch;
	struct lf_ratelimit rl;
	int64_t next_poll;

	_Atomic uint64_t n_lines, n_no_message, n_empty_labels, n_inflight;
	struct lf_metric_family *m_lines, *m_errors;
};

/* ---------- config ---------- */

static const char *const keys[] = {"path", "max_age", "json", "labels", "matches", NULL};

static int parse_matches(struct journal_src *s, const struct lf_ynode *b, const char *P,
                         struct lf_error *err)
{
	char *m = NULL;
	if (lf_ymap_str(b, P, "matches", &m, err) < 0)
		return -1;
	if (!m)
		return 0;
	for (char *save = NULL, *tok = strtok_r(m, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq || eq == tok || strchr(eq + 1, '=')) {
			lf_y_err(err, lf_ymap_get(b, "matches"), P,
			         "Error parsing journal reader 'matches' config value: \"%s\"",
			         tok);
			free(m);
			return -1;
		}
		char **nv = realloc(s->matches, (s->n_matches + 1) * sizeof *nv);
		if (!nv || !(nv[s->n_matches] = strdup(tok))) {
			if (nv)
				s->matches = nv;
			free(m);
			return lf_err(err, "out of memory");
		}
		s->matches = nv;
		s->n_matches++;
	}
	free(m);
	return 0;
}

static int parse_cfg(struct journal_src *s, const struct lf_source_env *env, struct lf_error *err)
{
	const struct lf_ynode *b = env->block;
	const char *P = env->path;
	if (lf_ymap_check(b, P, keys, err) < 0)
		return -1;
	s->max_age_ns = 7 * 3600 * LF_NS_PER_SEC;
	if (lf_ymap_str(b, P, "path", &s->path, err) < 0 ||
	    lf_ymap_duration(b, P, "max_age", &s->max_age_ns, err) < 0 ||
	    lf_ymap_bool(b, P, "json", &s->json, err) < 0 || parse_matches(s, b, P, err) < 0 ||
	    lf_source_labels(b, P, &s->labels, err) < 0)
		return -1;
	return lf_source_relabel_new(env->scrape, env->path, &s->relabel, err);
}

/* ---------- reading ---------- */

/* The entry's labels, and its line when it has a MESSAGE (json: false).
 * Returns true when the entry had a MESSAGE. Fields are decoded (and
 * copied) one at a time: sd-journal reuses a field's buffer at the next
 * enumerate call. */
static bool entry_fields(struct journal_src *s, struct lf_labels *ls, struct lf_buf *line)
{
	const void *d;
	size_t l;
	bool msg = false;
	SD_JOURNAL_FOREACH_DATA(s->j, d, l)
	{
		if (lf_journal_field_labels(d, l, ls, s->json ? NULL : line))
			msg = true;
	}
	return msg;
}

/* json: true — every data field as one JSON object (journal_fields.h). */
static void entry_json(struct journal_src *s, struct lf_buf *out)
{
	const void *d;
	size_t l;
	lf_journal_json_reset(&s->jj);
	SD_JOURNAL_FOREACH_DATA(s->j, d, l)
	{
		lf_journal_json_add(&s->jj, d, l);
	}
	lf_journal_json_finish(&s->jj, out);
}

static void publish(struct journal_src *s)
{
	if (!s->m_lines)
		return;
	const char *lv[] = {s->job};
	lf_metric_set(s->m_lines, lv, (double)atomic_load(&s->n_lines));
	const char *a[] = {s->job, "no_message"}, *b[] = {s->job, "empty_labels"};
	lf_metric_set(s->m_errors, a, (double)atomic_load(&s->n_no_message));
	lf_metric_set(s->m_errors, b, (double)atomic_load(&s->n_empty_labels));
}

static void advance_commit(struct journal_src *s)
{
	uint64_t c = lf_inflight_committed(&s->inf); /* seq of the last done entry */
	if (c == 0)
		return;
	const char *cur = s->cursors[c & (s->ccap - 1)];
	if (cur[0] && strcmp(cur, s->committed) != 0)
		snprintf(s->committed, sizeof s->committed, "%s", cur);
	atomic_store(&s->n_inflight, lf_inflight_pending(&s->inf));
}

/* Grows the cursor ring to hold `need` in-flight seqs (power of two). */
static int ring_reserve(struct journal_src *s, size_t need)
{
	if (need <= s->ccap)
		return 0;
	size_t nc = s->ccap ? s->ccap : 1024;
	while (nc < need)
		nc *= 2;
	char(*n)[CURSOR_MAX] = calloc(nc, CURSOR_MAX);
	if (!n)
		return -1;
	/* move live seqs: (committed, next) */
	uint64_t first = lf_inflight_committed(&s->inf);
	uint64_t next = lf_inflight_next_seq(&s->inf);
	for (uint64_t q = first; q < next && s->ccap; q++)
		memcpy(n[q & (nc - 1)], s->cursors[q & (s->ccap - 1)], CURSOR_MAX);
	free(s->cursors);
	s->cursors = n;
	s->ccap = nc;
	return 0;
}

static int src_run_once(struct lf_source *base, int64_t now_ns, size_t budget)
{
	struct journal_src *s = (struct journal_src *)base;
	advance_commit(s);
	publish(s);
	if (s->stopped || !s->j)
		return 0;
	if (s->fd >= 0)
		sd_journal_process(s->j);
	s->next_poll = now_ns + LF_NS_PER_SEC;
	size_t done = 0;
	while (done < budget) {
		uint64_t next = lf_inflight_next_seq(&s->inf);
		uint64_t inflight = next - 1 - lf_inflight_committed(&s->inf);
		if (inflight >= MAX_INFLIGHT)
			return 0; /* acks move it on (the agent runs us every turn) */
		int r = sd_journal_next(s->j);
		if (r < 0) {
			lf_log_rl(&s->rl, LF_LOG_ERROR, "journal %s: reading: %s", s->job,
			          strerror(-r));
			return 0;
		}
		if (r == 0)
			return 0;
		char *cur = NULL;
		if (sd_journal_get_cursor(s->j, &cur) < 0 || !cur)
			continue;
		if (s->start_cursor[0]) {
			bool same = strcmp(cur, s->start_cursor) == 0;
			s->start_cursor[0] = 0;
			if (same) { /* the saved entry itself was acknowledged */
				free(cur);
				continue;
			}
		}
		if (ring_reserve(s, (size_t)inflight + 2) < 0) {
			free(cur);
			return 0;
		}
		uint64_t seq = lf_inflight_push(&s->inf, next, false);
		if (seq == 0) {
			free(cur);
			return 0;
		}
		snprintf(s->cursors[seq & (s->ccap - 1)], CURSOR_MAX, "%s", cur);
		free(cur);
		done++;

		struct lf_entry *e = &s->e;
		lf_entry_reset(e);
		if (lf_labels_copy(&e->labels, &s->labels) < 0) {
			lf_inflight_release(&s->inf, seq, seq);
			continue;
		}
		bool msg = entry_fields(s, &e->labels, &e->line);
		if (!s->json && !msg) {
			atomic_fetch_add(&s->n_no_message, 1);
			lf_inflight_release(&s->inf, seq, seq);
			continue;
		}
		if (!lf_source_finish_labels(s->relabel, &e->labels)) {
			atomic_fetch_add(&s->n_empty_labels, 1);
			lf_inflight_release(&s->inf, seq, seq);
			continue;
		}
		uint64_t usec = 0;
		sd_journal_get_realtime_usec(s->j, &usec);
		if (usec < s->min_rt_usec) { /* older than max_age at the first start */
			lf_inflight_release(&s->inf, seq, seq);
			continue;
		}
		e->ts_ns = (int64_t)usec * 1000;
		if (s->json)
			entry_json(s, &e->line);
		e->origin = lf_source_origin(base);
		e->seq_first = e->seq_last = seq;
		atomic_fetch_add(&s->n_lines, 1);
		if (!s->sink.deliver(s->sink.ctx, base->job_index, e))
			return 0;
	}
	return 1;
}

static int src_fd(struct lf_source *base)
{
	return ((struct journal_src *)base)->fd;
}

static int64_t src_next_wakeup(struct lf_source *base)
{
	struct journal_src *s = (struct journal_src *)base;
	/* a periodic look besides inotify (journal files on odd filesystems,
	 * and acks that made room in the window) */
	return s->j && !s->stopped ? s->next_poll : INT64_MAX;
}

static void src_release(struct lf_source *base, uint64_t a, uint64_t b)
{
	lf_inflight_release(&((struct journal_src *)base)->inf, a, b);
}

static void src_claim(struct lf_source *base, uint64_t a, uint64_t b, unsigned k)
{
	lf_inflight_claim(&((struct journal_src *)base)->inf, a, b, k);
}

static void src_ack(struct lf_source *base, uint64_t a, uint64_t b)
{
	lf_inflight_ack(&((struct journal_src *)base)->inf, a, b);
}

static void src_save(struct lf_source *base)
{
	struct journal_src *s = (struct journal_src *)base;
	advance_commit(s);
	if (s->positions && s->committed[0])
		lf_positions_put_cursor(s->positions, s->key, s->committed);
}

static void src_list_json(struct lf_source *base, struct lf_buf *o)
{
	struct journal_src *s = (struct journal_src *)base;
	const char *p = s->path && s->path[0] ? s->path : "(system journal)";
	lf_source_list_json_head(o, s->job, "journal", p, &s->labels);
	lf_buf_printf(o,
	              ",\"state\":\"%s\",\"lines\":%llu,\"inflight\":%llu,"
	              "\"no_message\":%llu,\"empty_labels\":%llu}",
	              s->j ? "reading" : "closed", (unsigned long long)atomic_load(&s->n_lines),
	              (unsigned long long)atomic_load(&s->n_inflight),
	              (unsigned long long)atomic_load(&s->n_no_message),
	              (unsigned long long)atomic_load(&s->n_empty_labels));
}

static void src_stop(struct lf_source *base)
{
	((struct journal_src *)base)->stopped = true;
}

static void src_free(struct lf_source *base)
{
	struct journal_src *s = (struct journal_src *)base;
	if (!s)
		return;
	if (s->j)
		sd_journal_close(s->j);
	lf_inflight_free(&s->inf);
	free(s->cursors);
	for (size_t i = 0; i < s->n_matches; i++)
		free(s->matches[i]);
	free(s->matches);
	lf_labels_free(&s->labels);
	lf_relabel_free(s->relabel);
	lf_entry_free(&s->e);
	lf_journal_json_free(&s->jj);
	lf_buf_free(&s->scratch);
	free(s->path);
	free(s->job);
	free(s);
}

static int seek_start(struct journal_src *s, struct lf_error *err)
{
	uint64_t since = (uint64_t)((lf_now_ns() - s->max_age_ns) / 1000);
	const char *cur = s->positions ? lf_positions_get_cursor(s->positions, s->key) : NULL;
	if (cur && cur[0]) {
		int r = sd_journal_seek_cursor(s->j, cur);
		if (r >= 0 && sd_journal_next(s->j) > 0) {
			uint64_t t = 0;
			sd_journal_get_realtime_usec(s->j, &t);
			if (t >= since && sd_journal_test_cursor(s->j, cur) > 0) {
				/* positioned on the saved entry: run_once's first
				 * sd_journal_next must return it again, so step back */
				sd_journal_previous(s->j);
				snprintf(s->start_cursor, sizeof s->start_cursor, "%s", cur);
				snprintf(s->committed, sizeof s->committed, "%s", cur);
				lf_info("journal %s: resuming after cursor %s", s->job, cur);
				return 0;
			}
			if (t >= since) {
				/* the saved entry is gone (vacuumed): the next one */
				sd_journal_previous(s->j);
				lf_info("journal %s: cursor entry not found, resuming at the "
				        "next entry",
				        s->job);
				return 0;
			}
		}
		lf_info("journal %s: cursor older than max_age or unreadable; starting at "
		        "now - max_age",
		        s->job);
	}
	s->min_rt_usec = since;
	int r = sd_journal_seek_realtime_usec(s->j, since);
	if (r < 0)
		return lf_err(err, "journal %s: seek: %s", s->job, strerror(-r));
	return 0;
}

static int src_create(const struct lf_source_env *env, bool check_only, struct lf_source **out,
                      struct lf_error *err)
{
	struct journal_src *s = calloc(1, sizeof *s);
	if (!s)
		return lf_err(err, "out of memory");
	s->base.ops = &lf_journal_source_ops;
	s->fd = -1;
	s->rl.interval_ns = 5 * LF_NS_PER_SEC;
	lf_entry_init(&s->e);
	lf_journal_json_init(&s->jj);
	lf_inflight_init(&s->inf, 0);
	*out = &s->base;
	if (!(s->job = strdup(env->job_name)))
		return lf_err(err, "out of memory");
	if (parse_cfg(s, env, err) < 0)
		return -1;
	if (check_only)
		return 0;
	s->sink = env->sink;
	s->positions = env->positions;
	snprintf(s->key, sizeof s->key, "journal-%s", s->job);
	int r = s->path && s->path[0] ? sd_journal_open_directory(&s->j, s->path, 0)
	                              : sd_journal_open(&s->j, SD_JOURNAL_LOCAL_ONLY);
	if (r < 0)
		return lf_err(err, "%s: opening the journal%s%s: %s", env->path,
		              s->path && s->path[0] ? " at " : "", s->path ? s->path : "",
		              strerror(-r));
	for (size_t i = 0; i < s->n_matches; i++) {
		r = sd_journal_add_match(s->j, s->matches[i], 0);
		if (r < 0)
			return lf_err(err, "%s: journal match \"%s\": %s", env->path, s->matches[i],
			              strerror(-r));
	}
	if (seek_start(s, err) < 0)
		return -1;
	s->fd = sd_journal_get_fd(s->j);
	if (s->fd < 0) {
		lf_warn("journal %s: no change notification (%s); polling every second", s->job,
		        strerror(-s->fd));
		s->fd = -1;
	}
	if (env->metrics) {
		static const char *const jl[] = {"job", NULL};
		static const char *const je[] = {"job", "error", NULL};
		s->m_lines = lf_metrics_family(
		        env->metrics, LF_METRIC_COUNTER, "logferry_journal_target_lines_total",
		        "Total number of successful journal lines read", jl, NULL, 0);
		s->m_errors = lf_metrics_family(env->metrics, LF_METRIC_COUNTER,
		                                "logferry_journal_target_parsing_errors_total",
		                                "Journal entries skipped, by reason", je, NULL, 0);
		publish(s);
	}
	lf_info("journal target %s reading %s", s->job,
	        s->path && s->path[0] ? s->path : "the system journal");
	return 0;
}

const struct lf_source_ops lf_journal_source_ops = {
        .kind = "journal",
        .create = src_create,
        .fd = src_fd,
        .run_once = src_run_once,
        .next_wakeup = src_next_wakeup,
        .release = src_release,
        .claim = src_claim,
        .ack = src_ack,
        .save = src_save,
        .list_json = src_list_json,
        .stop = src_stop,
        .free = src_free,
};
