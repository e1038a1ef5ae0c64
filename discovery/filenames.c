/* filenames.c — parsing the kubelet's log file names. */
#include "filenames.h"

#include <string.h>

bool lf_slice_eq(struct lf_slice s, const char *cstr)
{
	return strlen(cstr) == s.n && memcmp(s.p, cstr, s.n) == 0;
}

bool lf_slice_eq_slice(struct lf_slice a, struct lf_slice b)
{
	return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

/* Namespaces and pod names: DNS subdomains (lower-case alnum, '-', '.'). */
static bool dns_name(const char *p, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return true;
}

static bool all_digits(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int lf_k8s_parse_pod_dir(const char *name, size_t len, struct lf_k8s_pod_dir *out)
{
	const char *end = name + len;
	const char *u1 = memchr(name, '_', len);
	if (!u1)
		return -1;
	const char *u2 = memchr(u1 + 1, '_', (size_t)(end - u1 - 1));
	if (!u2)
		return -1;
	out->ns = (struct lf_slice){name, (size_t)(u1 - name)};
	out->pod = (struct lf_slice){u1 + 1, (size_t)(u2 - u1 - 1)};
	out->uid = (struct lf_slice){u2 + 1, (size_t)(end - u2 - 1)};
	if (!dns_name(out->ns.p, out->ns.n) || !dns_name(out->pod.p, out->pod.n) ||
	    out->uid.n == 0 || memchr(out->uid.p, '/', out->uid.n) ||
	    memchr(out->uid.p, '_', out->uid.n))
		return -1;
	return 0;
}

int lf_k8s_parse_log_name(const char *name, size_t len, unsigned long *restart,
                          enum lf_k8s_file_kind *kind, struct lf_slice *rotated_at)
{
	const char *dot = memchr(name, '.', len);
	if (!dot || !all_digits(name, (size_t)(dot - name)) || dot - name > 9)
		return -1;
	size_t rest = len - (size_t)(dot - name);
	if (rest < 4 || memcmp(dot, ".log", 4) != 0)
		return -1;
	unsigned long r = 0;
	for (const char *p = name; p < dot; p++)
		r = r * 10 + (unsigned long)(*p - '0');
	*restart = r;
	*rotated_at = (struct lf_slice){NULL, 0};
	if (rest == 4) {
		*kind = LF_K8S_FILE_LOG;
		return 0;
	}
	if (dot[4] != '.')
		return -1;
	const char *ts = dot + 5;
	size_t ts_len = rest - 5;
	*kind = LF_K8S_FILE_ROTATED;
	if (ts_len > 3 && memcmp(ts + ts_len - 3, ".gz", 3) == 0) {
		*kind = LF_K8S_FILE_COMPRESSED;
		ts_len -= 3;
	}
	if (ts_len == 0)
		return -1;
	/* The kubelet writes YYYYMMDD-hhmmss; accept digits and '-' only. */
	for (size_t i = 0; i < ts_len; i++)
		if (!((ts[i] >= '0' && ts[i] <= '9') || ts[i] == '-'))
			return -1;
	*rotated_at = (struct lf_slice){ts, ts_len};
	return 0;
}

/* Finds the start of the component that ends at `end` (exclusive). */
static const char *comp_start(const char *path, const char *end)
{
	const char *p = end;
	while (p > path && p[-1] != '/')
		p--;
	return p;
}

int lf_k8s_parse_pod_file(const char *path, struct lf_k8s_pod_file *out)
{
	const char *end = path + strlen(path);
	const char *file = comp_start(path, end);
	if (file == path)
		return -1;
	const char *cend = file - 1;
	const char *cont = comp_start(path, cend);
	if (cont == path)
		return -1;
	const char *dend = cont - 1;
	const char *dir = comp_start(path, dend);
	if (lf_k8s_parse_pod_dir(dir, (size_t)(dend - dir), &out->dir) < 0)
		return -1;
	out->container = (struct lf_slice){cont, (size_t)(cend - cont)};
	if (!dns_name(out->container.p, out->container.n))
		return -1;
	return lf_k8s_parse_log_name(file, (size_t)(end - file), &out->restart, &out->kind,
	                             &out->rotated_at);
}

int lf_k8s_parse_container_link(const char *path, struct lf_k8s_container_link *out)
{
	const char *end = path + strlen(path);
	const char *name = comp_start(path, end);
	size_t len = (size_t)(end - name);
	/* at least "p_n_c-" + 64 hex + ".log" */
	if (len < 6 + 64 + 4 || memcmp(end - 4, ".log", 4) != 0)
		return -1;
	const char *id = end - 4 - 64;
	for (size_t i = 0; i < 64; i++)
		if (!is_hex(id[i]))
			return -1;
	if (id[-1] != '-')
		return -1;
	const char *body_end = id - 1; /* the '-' before the id */
	const char *u1 = memchr(name, '_', (size_t)(body_end - name));
	if (!u1)
		return -1;
	const char *u2 = memchr(u1 + 1, '_', (size_t)(body_end - u1 - 1));
	if (!u2)
		return -1;
	out->pod = (struct lf_slice){name, (size_t)(u1 - name)};
	out->ns = (struct lf_slice){u1 + 1, (size_t)(u2 - u1 - 1)};
	out->container = (struct lf_slice){u2 + 1, (size_t)(body_end - u2 - 1)};
	out->id = (struct lf_slice){id, 64};
	if (!dns_name(out->pod.p, out->pod.n) || !dns_name(out->ns.p, out->ns.n) ||
	    !dns_name(out->container.p, out->container.n))
		return -1;
	return 0;
}
