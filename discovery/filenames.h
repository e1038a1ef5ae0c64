/* filenames.h — what the kubelet's log file layout tells without any API
 * call (reference §3 "On-node file formats"):
 *
 *   /var/log/pods/<namespace>_<pod>_<pod uid>/<container>/<restart>.log
 *       rotated: <restart>.log.<YYYYMMDD-hhmmss>, older ones .gz
 *       (static pods: the uid part is the kubernetes.io/config.hash)
 *   /var/log/containers/<pod>_<namespace>_<container>-<64 hex id>.log
 *       symlink to the current /var/log/pods file of that container
 *
 * Namespaces, pod names and container names are DNS names and never contain
 * `_`, so splitting at `_` is unambiguous. All results are slices of the
 * input (borrowed, not NUL-terminated); nothing allocates.
 */
#ifndef LF_FILENAMES_H
#define LF_FILENAMES_H

#include <stdbool.h>
#include <stddef.h>

struct lf_slice {
	const char *p;
	size_t n;
};

/* "<namespace>_<pod>_<uid>": a directory name under /var/log/pods. */
struct lf_k8s_pod_dir {
	struct lf_slice ns, pod, uid;
};
/* Parses a base name (no '/'). Returns 0, or -1 when it is not of that form. */
int lf_k8s_parse_pod_dir(const char *name, size_t len, struct lf_k8s_pod_dir *out);

enum lf_k8s_file_kind {
	LF_K8S_FILE_LOG,        /* <restart>.log: the file the container writes */
	LF_K8S_FILE_ROTATED,    /* <restart>.log.<timestamp>: renamed by the kubelet */
	LF_K8S_FILE_COMPRESSED, /* <restart>.log.<timestamp>.gz: never tailed */
};

/* A log file under /var/log/pods: the last three path components are
 * "<ns>_<pod>_<uid>/<container>/<restart>.log[...]". */
struct lf_k8s_pod_file {
	struct lf_k8s_pod_dir dir;
	struct lf_slice container;
	unsigned long restart;
	enum lf_k8s_file_kind kind;
	struct lf_slice rotated_at; /* ROTATED/COMPRESSED: the timestamp part */
};
/* Accepts a full path or one with at least those three components. */
int lf_k8s_parse_pod_file(const char *path, struct lf_k8s_pod_file *out);
/* Just the file name part: "<restart>.log[.<ts>[.gz]]". */
int lf_k8s_parse_log_name(const char *name, size_t len, unsigned long *restart,
                          enum lf_k8s_file_kind *kind, struct lf_slice *rotated_at);

/* "<pod>_<namespace>_<container>-<64 hex>.log" under /var/log/containers. */
struct lf_k8s_container_link {
	struct lf_slice pod, ns, container, id; /* id: the 64 hex digits */
};
/* Accepts a full path or a base name. */
int lf_k8s_parse_container_link(const char *path, struct lf_k8s_container_link *out);

/* Slice helpers. */
bool lf_slice_eq(struct lf_slice s, const char *cstr);
bool lf_slice_eq_slice(struct lf_slice a, struct lf_slice b);

#endif
