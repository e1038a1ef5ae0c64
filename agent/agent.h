/* agent.h — the agent's runtime: one event-loop thread that wires
 * discovery -> tailer -> pipeline -> clients -> acks -> positions.
 *
 * What it owns: the epoll loop (tailer inotify fd, client ack eventfds, the
 * discovery eventfd, an inotify instance of its own for the directories the
 * globs depend on, a signalfd, timers), the targets (one per discovered
 * file, refcounted because a file keeps draining after it left the set),
 * one pipeline per scrape config, the readline rate limiter, back-pressure
 * (the tailer is paused while any client is busy), reload on SIGHUP and the
 * graceful shutdown on SIGTERM/SIGINT (stop reading, flush pipelines and
 * clients within server.graceful_shutdown_timeout, save positions, exit 0).
 * -dry-run prints entries instead of sending; -stdin reads standard input
 * through the first scrape config's pipeline.
 *
 * Global state: none of its own. Signals are blocked in the calling thread
 * (before any helper thread is created, so every thread inherits the mask)
 * and read through a signalfd.
 */
#ifndef LF_AGENT_AGENT_H
#define LF_AGENT_AGENT_H

#include <stdbool.h>

#include "config.h"
#include "error.h"

struct lf_agent_opts {
	const char *config_file; /* required (reloads re-read it) */
	bool expand_env;
	struct lf_config_overrides ov;
	bool dry_run;    /* print entries on stdout; positions read, never written */
	bool stdin_mode; /* read stdin through the first scrape config's pipeline */
	/* For tests: discovery's hostname and kubelet log roots (NULL = defaults). */
	const char *hostname;
	const char *pods_dir;
	const char *containers_dir;
};

/* Runs the agent with an already loaded config (ownership of cfg passes to
 * the agent). Returns the process exit code: 0 after a clean shutdown, 1 on
 * a startup error (message in err). */
int lf_agent_run(const struct lf_agent_opts *opts, struct lf_agent_config *cfg,
                 struct lf_error *err);

/* Deep validation for -check-syntax and reload: builds every pipeline and
 * hands every scrape config to discovery (without starting it), then frees
 * them. 0 / -1 with the first error. */
int lf_agent_validate(const struct lf_agent_config *cfg, struct lf_error *err);

#endif
