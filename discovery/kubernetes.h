/* kubernetes.h — `kubernetes_sd_configs` with `role: pod`: the config
 * entry, the kubelet's PodList, the __meta_kubernetes_* labels Prometheus
 * produces per container, the labels the file names give when no PodList
 * knows the pod, and the kubelet source (a background thread).
 *
 * Config keys of one entry (Promtail/Prometheus keys plus logferry's
 * `source` and `kubelet_url`):
 *   role: pod (required; other roles are rejected)
 *   source: kubelet (default) | api_server
 *   kubelet_url: default https://$NODE_IP:10250, else https://<hostname>:10250
 *   api_server: for source api_server; default https://$KUBERNETES_SERVICE_HOST:
 *     $KUBERNETES_SERVICE_PORT (in-cluster), else https://kubernetes.default.svc
 *   bearer_token, bearer_token_file (default the service-account token,
 *     re-read whenever the file changes: projected tokens rotate)
 *   tls_config: ca_file (default the service-account ca.crt when present),
 *     cert_file, key_file, server_name, insecure_skip_verify (false)
 *   namespaces: {names: [...]} (honoured for kubelet and file-name pods)
 *   selectors: rejected when non-empty (not supported yet)
 *
 * Threads: a source runs one thread. For the kubelet it waits for its next
 * poll time (the sync period; on errors a backoff from 1s doubling up to
 * the sync period) or a poke (rate-limited to 1 request/s), fetches
 * GET <kubelet_url>/pods with libcurl (connection kept alive) and parses it
 * with jansson. For the API server it lists
 * /api/v1/pods?fieldSelector=spec.nodeName=<node> and then watches from the
 * list's resourceVersion (relisting on 410 Gone or errors, with the same
 * backoff); each batch of watch events publishes a new PodList. Results are
 * published under the source's mutex, then the notify eventfd is written.
 * The event-loop thread only takes a reference to the published PodList.
 */
#ifndef LF_KUBERNETES_H
#define LF_KUBERNETES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/error.h"
#include "../common/labels.h"
#include "../common/metrics.h"
#include "../common/yamlcfg.h"

/* ---- PodList ---- */

struct lf_k8s_kv {
	char *key, *value;
};

struct lf_k8s_container {
	char *name, *image;
	char *id; /* status containerID ("containerd://<hex>"), NULL if none yet */
	bool init;
};

struct lf_k8s_pod {
	char *ns, *name, *uid;
	char *ip, *host_ip, *node, *phase; /* NULL when absent */
	const char *ready;                 /* "true", "false" or "unknown" (static) */
	char *config_hash;                 /* annotation kubernetes.io/config.hash, NULL if none */
	char *controller_kind, *controller_name; /* NULL without a controller ref */
	struct lf_k8s_kv *labels, *annotations;
	size_t n_labels, n_annotations;
	struct lf_k8s_container *containers; /* spec containers, then init containers */
	size_t n_containers;
};

/* Immutable once parsed; shared between threads by reference count. */
struct lf_k8s_podlist {
	struct lf_k8s_pod *pods;
	size_t n;
	int refs;                  /* managed by ref/unref (atomic) */
	char resource_version[64]; /* metadata.resourceVersion ("" if none) */
};

/* Parses one Pod object (a PodList item or a watch event's object). */
int lf_k8s_pod_parse(const char *json, size_t len, struct lf_k8s_pod *out, struct lf_error *err);

/* Parses a PodList JSON document. Errors name the problem ("items[3]: ..."). */
int lf_k8s_podlist_parse(const char *json, size_t len, struct lf_k8s_podlist **out,
                         struct lf_error *err);
struct lf_k8s_podlist *lf_k8s_podlist_ref(struct lf_k8s_podlist *pl);
void lf_k8s_podlist_unref(struct lf_k8s_podlist *pl); /* frees at 0; NULL ok */

/* Deep copy of one pod (for pods kept after they leave the PodList). */
int lf_k8s_pod_dup(const struct lf_k8s_pod *src, struct lf_k8s_pod *dst);
void lf_k8s_pod_clear(struct lf_k8s_pod *p);
/* Whether two pods would give the same meta labels. */
bool lf_k8s_pod_equal(const struct lf_k8s_pod *a, const struct lf_k8s_pod *b);

/* Prometheus' SanitizeLabelName: every char not [a-zA-Z0-9_] becomes '_'. */
void lf_k8s_sanitize(const char *in, char *out, size_t outsz);

/* Sets the __meta_kubernetes_* labels (and __address__ = pod IP) of
 * container ci of pod into out (cleared first). Absent values are not set
 * (relabeling reads a missing label as ""). */
int lf_k8s_meta_labels(const struct lf_k8s_pod *pod, size_t ci, struct lf_labels *out);

/* Labels the file names give for a container whose pod no PodList knows:
 * namespace, pod name, pod uid (the directory's uid part; the config hash
 * for static pods), container name, container id (bare hex from the
 * /var/log/containers link; NULL if none), node name (may be NULL). */
int lf_k8s_file_meta_labels(const char *ns, const char *pod, const char *uid, const char *container,
                            const char *container_id, const char *node, struct lf_labels *out);

/* ---- config ---- */

enum lf_k8s_source_kind { LF_K8S_SOURCE_KUBELET, LF_K8S_SOURCE_API_SERVER };

struct lf_k8s_sd_config {
	enum lf_k8s_source_kind source;
	char *kubelet_url;       /* source kubelet: without trailing '/' */
	char *api_server;        /* source api_server: without trailing '/' */
	char *node_name;         /* source api_server: spec.nodeName to select */
	const char *base_url;    /* kubelet_url or api_server (borrowed) */
	char *bearer_token;      /* inline token, or NULL */
	char *bearer_token_file; /* NULL when bearer_token is set */
	bool token_file_default; /* missing default file = no Authorization */
	char *ca_file;           /* NULL: system CAs */
	char *cert_file, *key_file, *server_name;
	bool insecure_skip_verify;
	char **namespaces; /* NULL-terminated, NULL = all */
	size_t n_namespaces;
};

/* Parses one kubernetes_sd_configs entry. `node_name` fills the kubelet URL
 * default when $NODE_IP is unset. */
int lf_k8s_sd_config_parse(const struct lf_ynode *n, const char *path, const char *node_name,
                           struct lf_k8s_sd_config *out, struct lf_error *err);
void lf_k8s_sd_config_free(struct lf_k8s_sd_config *c);
bool lf_k8s_namespace_allowed(const struct lf_k8s_sd_config *c, const char *ns, size_t ns_len);

/* ---- kubelet source ---- */

struct lf_k8s_source;

/* notify_fd: an eventfd written (value 1) whenever the published PodList or
 * the up/down state changes; borrowed. period_ns: poll period. metrics may
 * be NULL. The config is borrowed until lf_k8s_source_free. */
int lf_k8s_source_new(const struct lf_k8s_sd_config *cfg, int64_t period_ns, int notify_fd,
                      struct lf_metrics *metrics, struct lf_k8s_source **out, struct lf_error *err);
int lf_k8s_source_start(struct lf_k8s_source *s, struct lf_error *err);
/* Waits until the first request has an answer (success or failure) or
 * until deadline_ns (CLOCK_MONOTONIC) passes. */
void lf_k8s_source_wait_first(struct lf_k8s_source *s, int64_t deadline_ns);
void lf_k8s_source_free(struct lf_k8s_source *s);
/* Ask for a fetch now (rate-limited to 1/s; ignored while backing off).
 * An API-server source ignores it: its watch already delivers new pods. */
void lf_k8s_source_poke(struct lf_k8s_source *s);
/* The latest PodList (a new reference, or NULL before the first success)
 * and its generation (increments per published PodList). */
struct lf_k8s_podlist *lf_k8s_source_get(struct lf_k8s_source *s, uint64_t *generation);
/* Health. */
struct lf_k8s_source_state {
	bool up;
	uint64_t ok, errors;
	uint64_t events; /* increments per PodList or state change */
};
void lf_k8s_source_state(struct lf_k8s_source *s, struct lf_k8s_source_state *out);

#endif
