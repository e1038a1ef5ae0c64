/* discovery.h — target discovery for the agent: which files to tail and
 * with which labels.
 *
 * What it owns (per scrape config handed in by the agent):
 *   - `static_configs` (targets + labels with `__path__`/`__path_exclude__`
 *     doublestar globs: `**`, `{a,b}`, `[..]`, `*`, `?`),
 *   - `kubernetes_sd_configs` with `role: pod`, fed by the kubelet's /pods
 *     (`source: kubelet`, the default) or by a list + watch of this node's
 *     pods on the API server (`source: api_server`), and by the names of the
 *     files under /var/log/pods and /var/log/containers, which give
 *     namespace, pod, uid, container and container id without any API call,
 *   - `relabel_configs` (pipeline/relabel.h), `__host__` filtering against
 *     the hostname, removal of `__*` labels, glob expansion.
 * The agent checks every other scrape_config key.
 *
 * Threads: the agent's event-loop thread calls every function here. Each
 * kubernetes_sd_configs entry runs one background thread that fetches and
 * parses pods (libcurl + jansson) so the event loop never waits on the
 * network; when a new PodList (or a source state change) is ready, the fd
 * from lf_discovery_fd() becomes readable.
 *
 * Metadata when the kubelet is down: tailing never waits for it. A pod whose
 * log directory exists but which the kubelet has not (yet) listed gets the
 * meta labels its file names give (namespace, pod name, uid, container name,
 * container id, node name = hostname); the kubelet is then asked at once
 * (rate-limited to 1 request/s) and the richer label set replaces it at the
 * next sync. The same file may therefore come back from a later sync with a
 * different label set: the agent should keep its offset and switch labels
 * (not re-read the file).
 *
 * Ending pods: a pod that vanishes from the PodList keeps its last known
 * meta labels (and so its target and label set) for as long as its log
 * directory exists on disk; the kubelet removes that directory when the pod
 * is deleted, and only then does the file leave the target list. The agent's
 * tailer reads a removed file to its end before closing it.
 *
 * Rotated kubelet files (`0.log.20261121-194310`) are not targets unless a
 * glob matches them (the Helm chart's `*.log` does not): the tailer keeps
 * reading a renamed file to its end. `.gz` files are never targets of the
 * file-name scan.
 */
#ifndef LF_DISCOVERY_H
#define LF_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/error.h"
#include "../common/metrics.h"
#include "../common/yamlcfg.h"
#include "target.h"

struct lf_discovery;

struct lf_discovery_opts {
	/* Node name for `__host__` filtering, the file-name node label and the
	 * kubelet URL fallback. NULL: $HOSTNAME, else gethostname(). */
	const char *hostname;
	/* Roots of the kubelet's log layout. NULL: "/var/log/pods" and
	 * "/var/log/containers" (tests point them into a temp tree). */
	const char *pods_dir;
	const char *containers_dir;
	/* target_config.sync_period: kubelet poll period (0 = 10s). */
	int64_t sync_period_ns;
	/* Registry for logferry_kubernetes_sd_* metrics; may be NULL. */
	struct lf_metrics *metrics;
	/* Record every discovered target with its labels before relabeling and
	 * its verdict in lf_targets.sd (discovery/sdlist.h), for the agent's
	 * /service-discovery page. Costs a copy of each target's meta labels
	 * per sync. */
	bool keep_discovered;
};

int lf_discovery_new(const struct lf_discovery_opts *opts, struct lf_discovery **out,
                     struct lf_error *err);
/* Stops the background threads (waits for an in-flight request to end,
 * bounded by its timeout) and frees everything. NULL is a no-op. */
void lf_discovery_free(struct lf_discovery *d);

/* Reads and validates `static_configs`, `kubernetes_sd_configs` and
 * `relabel_configs` of one scrape config map (the node stays borrowed only
 * during the call). Other keys of the map are the agent's and are ignored
 * here. Unknown keys inside the three sections are errors naming
 * scrape_configs[job_index].<key> with line:col. job_index is echoed in
 * every target. */
int lf_discovery_add_job(struct lf_discovery *d, size_t job_index, const char *job_name,
                         const struct lf_ynode *scrape_config, struct lf_error *err);

/* Starts the kubelet fetch threads and waits for their first answers
 * (success or failure), at most 3 s, so that the first sync already has the
 * kubelet's labels for the files on disk. Call once after every job was
 * added, before the event loop runs. */
int lf_discovery_start(struct lf_discovery *d, struct lf_error *err);

/* An fd (eventfd) that becomes readable when a background source has new
 * results; lf_discovery_sync() clears it. -1 when no job uses
 * kubernetes_sd_configs. */
int lf_discovery_fd(const struct lf_discovery *d);

/* Non-blocking: true when a background source has results that the last
 * sync did not see (same condition as the fd being readable). */
bool lf_discovery_pending(const struct lf_discovery *d);

/* Recomputes the targets from the latest PodLists, the file names and the
 * globs on disk, into `out` (reused). Never waits on the network. Call it
 * every target_config.sync_period, when a watched directory changes, and
 * when the fd is readable. Cost for 250 pods x 3 containers: a few ms.
 * Fails only when memory runs out. */
int lf_discovery_sync(struct lf_discovery *d, struct lf_targets *out, struct lf_error *err);

/* A log file of a pod the kubelet has not listed appeared: fetch now
 * (rate-limited to 1 request/s per source; never blocks). lf_discovery_sync
 * pokes by itself when it finds such a pod directory, so the agent needs
 * this only when it learns of a file some other way. */
void lf_discovery_poke(struct lf_discovery *d);

/* Feeds a PodList (kubelet /pods JSON) to every kubernetes_sd_configs
 * entry of every job as if its kubelet had returned it; from then on these
 * entries use the injected list instead of their kubelet. For tests and
 * benchmarks; works without lf_discovery_start (no thread runs then). */
int lf_discovery_inject_podlist(struct lf_discovery *d, const char *json, size_t len,
                                struct lf_error *err);

/* Source health, for /ready pages and tests. */
struct lf_discovery_status {
	size_t sources;        /* kubelet and API server sources */
	size_t sources_up;     /* whose last request succeeded */
	uint64_t fetches_ok;   /* successful PodList fetches, all sources */
	uint64_t fetch_errors; /* failed requests, all sources */
	uint64_t updates;      /* PodLists published (incl. per watch event batch) */
};
void lf_discovery_status(const struct lf_discovery *d, struct lf_discovery_status *out);

#endif
