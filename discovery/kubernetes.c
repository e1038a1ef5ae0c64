/* kubernetes.c — role: pod meta labels, PodList parsing, the kubelet source. */
#include "kubernetes.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/buf.h"
#include "../common/log.h"
#include "../common/timeutil.h"

#define SA_DIR             "/var/run/secrets/kubernetes.io/serviceaccount"
#define DEFAULT_TOKEN_FILE SA_DIR "/token"
#define DEFAULT_CA_FILE    SA_DIR "/ca.crt"
/* A node's PodList is a few MB at most; refuse to buffer something absurd. */
#define MAX_BODY          (256u << 20)
#define POKE_INTERVAL_NS  LF_NS_PER_SEC
#define REQUEST_TIMEOUT_S 10L
#define WATCH_TIMEOUT_S   300

/* ---- PodList parsing ---- */

static char *jdup(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? strdup(s) : NULL;
}

static int parse_kv(json_t *obj, struct lf_k8s_kv **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!json_is_object(obj))
		return 0;
	size_t cnt = json_object_size(obj);
	if (cnt == 0)
		return 0;
	*out = calloc(cnt, sizeof(**out));
	if (!*out)
		return -1;
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		const char *s = json_string_value(v);
		(*out)[*n].key = strdup(k);
		(*out)[*n].value = strdup(s ? s : "");
		(*n)++;
		if (!(*out)[*n - 1].key || !(*out)[*n - 1].value)
			return -1;
	}
	return 0;
}

static const char *status_id(json_t *statuses, const char *name)
{
	size_t i;
	json_t *st;
	json_array_foreach(statuses, i, st)
	{
		const char *n = json_string_value(json_object_get(st, "name"));
		if (n && strcmp(n, name) == 0)
			return json_string_value(json_object_get(st, "containerID"));
	}
	return NULL;
}

static int parse_containers(struct lf_k8s_pod *p, json_t *specs, json_t *statuses, bool init)
{
	size_t i;
	json_t *c;
	json_array_foreach(specs, i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		if (!name)
			continue;
		struct lf_k8s_container *v =
		        realloc(p->containers, (p->n_containers + 1) * sizeof(*v));
		if (!v)
			return -1;
		p->containers = v;
		struct lf_k8s_container *k = &v[p->n_containers++];
		memset(k, 0, sizeof(*k));
		k->init = init;
		k->name = strdup(name);
		k->image = jdup(c, "image");
		const char *id = status_id(statuses, name);
		k->id = id && *id ? strdup(id) : NULL;
		if (!k->name)
			return -1;
	}
	return 0;
}

static const char *ready_of(json_t *status)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(status, "conditions"), i, c)
	{
		const char *t = json_string_value(json_object_get(c, "type"));
		if (t && strcmp(t, "Ready") == 0) {
			const char *s = json_string_value(json_object_get(c, "status"));
			if (s && strcasecmp(s, "true") == 0)
				return "true";
			if (s && strcasecmp(s, "false") == 0)
				return "false";
			return "unknown";
		}
	}
	return "unknown";
}

static int parse_pod(json_t *item, struct lf_k8s_pod *p, size_t idx, struct lf_error *err)
{
	json_t *md = json_object_get(item, "metadata");
	json_t *spec = json_object_get(item, "spec");
	json_t *status = json_object_get(item, "status");
	p->ready = "unknown";
	p->name = jdup(md, "name");
	p->ns = jdup(md, "namespace");
	p->uid = jdup(md, "uid");
	if (!p->name || !p->ns || !p->uid)
		return lf_err(err, "items[%zu]: metadata.name, .namespace and .uid are required",
		              idx);
	if (parse_kv(json_object_get(md, "labels"), &p->labels, &p->n_labels) < 0 ||
	    parse_kv(json_object_get(md, "annotations"), &p->annotations, &p->n_annotations) < 0)
		return lf_err(err, "items[%zu]: out of memory", idx);
	for (size_t i = 0; i < p->n_annotations; i++)
		if (strcmp(p->annotations[i].key, "kubernetes.io/config.hash") == 0)
			p->config_hash = strdup(p->annotations[i].value);
	size_t i;
	json_t *ref;
	json_array_foreach(json_object_get(md, "ownerReferences"), i, ref)
	{
		if (json_is_true(json_object_get(ref, "controller"))) {
			p->controller_kind = jdup(ref, "kind");
			p->controller_name = jdup(ref, "name");
			break;
		}
	}
	p->node = jdup(spec, "nodeName");
	p->phase = jdup(status, "phase");
	p->ip = jdup(status, "podIP");
	p->host_ip = jdup(status, "hostIP");
	p->ready = ready_of(status);
	if (parse_containers(p, json_object_get(spec, "containers"),
	                     json_object_get(status, "containerStatuses"), false) < 0 ||
	    parse_containers(p, json_object_get(spec, "initContainers"),
	                     json_object_get(status, "initContainerStatuses"), true) < 0)
		return lf_err(err, "items[%zu]: out of memory", idx);
	return 0;
}

int lf_k8s_podlist_parse(const char *json, size_t len, struct lf_k8s_podlist **out,
                         struct lf_error *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr);
	if (!root)
		return lf_err(err, "invalid PodList JSON at line %d column %d: %s", jerr.line,
		              jerr.column, jerr.text);
	json_t *items = json_object_get(root, "items");
	if (!json_is_object(root) || (items && !json_is_array(items) && !json_is_null(items))) {
		json_decref(root);
		return lf_err(err, "invalid PodList: \"items\" must be an array");
	}
	struct lf_k8s_podlist *pl = calloc(1, sizeof(*pl));
	size_t n = json_array_size(items);
	if (!pl || !(pl->pods = calloc(n ? n : 1, sizeof(*pl->pods)))) {
		free(pl);
		json_decref(root);
		return lf_err(err, "PodList: out of memory");
	}
	pl->refs = 1;
	const char *rv = json_string_value(
	        json_object_get(json_object_get(root, "metadata"), "resourceVersion"));
	if (rv)
		snprintf(pl->resource_version, sizeof(pl->resource_version), "%s", rv);
	for (size_t i = 0; i < n; i++) {
		pl->n++;
		if (parse_pod(json_array_get(items, i), &pl->pods[i], i, err) < 0) {
			json_decref(root);
			lf_k8s_podlist_unref(pl);
			return lf_err_prefix(err, "PodList");
		}
	}
	json_decref(root);
	*out = pl;
	return 0;
}

int lf_k8s_pod_parse(const char *json, size_t len, struct lf_k8s_pod *out, struct lf_error *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr);
	if (!root)
		return lf_err(err, "invalid Pod JSON at line %d column %d: %s", jerr.line,
		              jerr.column, jerr.text);
	memset(out, 0, sizeof(*out));
	int rc = parse_pod(root, out, 0, err);
	json_decref(root);
	if (rc < 0)
		lf_k8s_pod_clear(out);
	return rc;
}

struct lf_k8s_podlist *lf_k8s_podlist_ref(struct lf_k8s_podlist *pl)
{
	if (pl)
		__atomic_add_fetch(&pl->refs, 1, __ATOMIC_RELAXED);
	return pl;
}

static void kv_free(struct lf_k8s_kv *v, size_t n)
{
	/* NULL with n > 0: lf_k8s_pod_dup failed to allocate the array. */
	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

void lf_k8s_pod_clear(struct lf_k8s_pod *p)
{
	free(p->ns);
	free(p->name);
	free(p->uid);
	free(p->ip);
	free(p->host_ip);
	free(p->node);
	free(p->phase);
	free(p->config_hash);
	free(p->controller_kind);
	free(p->controller_name);
	kv_free(p->labels, p->n_labels);
	kv_free(p->annotations, p->n_annotations);
	for (size_t i = 0; i < p->n_containers; i++) {
		free(p->containers[i].name);
		free(p->containers[i].image);
		free(p->containers[i].id);
	}
	free(p->containers);
	memset(p, 0, sizeof(*p));
}

void lf_k8s_podlist_unref(struct lf_k8s_podlist *pl)
{
	if (!pl || __atomic_sub_fetch(&pl->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (size_t i = 0; i < pl->n; i++)
		lf_k8s_pod_clear(&pl->pods[i]);
	free(pl->pods);
	free(pl);
}

static int sdup(const char *s, char **out)
{
	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -1;
}

static int kv_dup(const struct lf_k8s_kv *src, size_t n, struct lf_k8s_kv **out)
{
	*out = NULL;
	if (n == 0)
		return 0;
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (sdup(src[i].key, &(*out)[i].key) < 0 ||
		    sdup(src[i].value, &(*out)[i].value) < 0)
			return -1;
	return 0;
}

int lf_k8s_pod_dup(const struct lf_k8s_pod *s, struct lf_k8s_pod *d)
{
	memset(d, 0, sizeof(*d));
	d->ready = s->ready;
	d->n_labels = s->n_labels;
	d->n_annotations = s->n_annotations;
	if (sdup(s->ns, &d->ns) < 0 || sdup(s->name, &d->name) < 0 || sdup(s->uid, &d->uid) < 0 ||
	    sdup(s->ip, &d->ip) < 0 || sdup(s->host_ip, &d->host_ip) < 0 ||
	    sdup(s->node, &d->node) < 0 || sdup(s->phase, &d->phase) < 0 ||
	    sdup(s->config_hash, &d->config_hash) < 0 ||
	    sdup(s->controller_kind, &d->controller_kind) < 0 ||
	    sdup(s->controller_name, &d->controller_name) < 0 ||
	    kv_dup(s->labels, s->n_labels, &d->labels) < 0 ||
	    kv_dup(s->annotations, s->n_annotations, &d->annotations) < 0)
		goto nomem;
	if (s->n_containers) {
		d->containers = calloc(s->n_containers, sizeof(*d->containers));
		if (!d->containers)
			goto nomem;
		d->n_containers = s->n_containers;
		for (size_t i = 0; i < s->n_containers; i++) {
			d->containers[i].init = s->containers[i].init;
			if (sdup(s->containers[i].name, &d->containers[i].name) < 0 ||
			    sdup(s->containers[i].image, &d->containers[i].image) < 0 ||
			    sdup(s->containers[i].id, &d->containers[i].id) < 0)
				goto nomem;
		}
	}
	return 0;
nomem:
	lf_k8s_pod_clear(d);
	return -1;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool kv_equal(const struct lf_k8s_kv *a, size_t na, const struct lf_k8s_kv *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!str_eq(a[i].key, b[i].key) || !str_eq(a[i].value, b[i].value))
			return false;
	return true;
}

bool lf_k8s_pod_equal(const struct lf_k8s_pod *a, const struct lf_k8s_pod *b)
{
	if (!str_eq(a->ns, b->ns) || !str_eq(a->name, b->name) || !str_eq(a->uid, b->uid) ||
	    !str_eq(a->ip, b->ip) || !str_eq(a->host_ip, b->host_ip) || !str_eq(a->node, b->node) ||
	    !str_eq(a->phase, b->phase) || !str_eq(a->ready, b->ready) ||
	    !str_eq(a->config_hash, b->config_hash) ||
	    !str_eq(a->controller_kind, b->controller_kind) ||
	    !str_eq(a->controller_name, b->controller_name) ||
	    !kv_equal(a->labels, a->n_labels, b->labels, b->n_labels) ||
	    !kv_equal(a->annotations, a->n_annotations, b->annotations, b->n_annotations) ||
	    a->n_containers != b->n_containers)
		return false;
	for (size_t i = 0; i < a->n_containers; i++) {
		const struct lf_k8s_container *x = &a->containers[i], *y = &b->containers[i];
		if (x->init != y->init || !str_eq(x->name, y->name) ||
		    !str_eq(x->image, y->image) || !str_eq(x->id, y->id))
			return false;
	}
	return true;
}

/* ---- meta labels ---- */

void lf_k8s_sanitize(const char *in, char *out, size_t outsz)
{
	size_t i = 0;
	for (; in[i] && i + 1 < outsz; i++) {
		char c = in[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_';
		out[i] = ok ? c : '_';
	}
	out[i] = '\0';
}

#define META "__meta_kubernetes_"

static int set_opt(struct lf_labels *ls, const char *name, const char *value)
{
	if (!value || !*value)
		return 0;
	return lf_labels_set(ls, name, value);
}

static int set_kv(struct lf_labels *ls, const char *prefix, const char *present_prefix,
                  const struct lf_k8s_kv *kv, size_t n)
{
	char name[512], san[400];
	for (size_t i = 0; i < n; i++) {
		lf_k8s_sanitize(kv[i].key, san, sizeof(san));
		snprintf(name, sizeof(name), "%s%s", prefix, san);
		if (set_opt(ls, name, kv[i].value) < 0)
			return -1;
		snprintf(name, sizeof(name), "%s%s", present_prefix, san);
		if (lf_labels_set(ls, name, "true") < 0)
			return -1;
	}
	return 0;
}

int lf_k8s_meta_labels(const struct lf_k8s_pod *p, size_t ci, struct lf_labels *out)
{
	lf_labels_clear(out);
	const struct lf_k8s_container *c = &p->containers[ci];
	if (set_opt(out, "__address__", p->ip) < 0 || set_opt(out, META "namespace", p->ns) < 0 ||
	    set_opt(out, META "pod_name", p->name) < 0 ||
	    set_opt(out, META "pod_uid", p->uid) < 0 || set_opt(out, META "pod_ip", p->ip) < 0 ||
	    set_opt(out, META "pod_host_ip", p->host_ip) < 0 ||
	    set_opt(out, META "pod_node_name", p->node) < 0 ||
	    set_opt(out, META "pod_phase", p->phase) < 0 ||
	    set_opt(out, META "pod_ready", p->ready) < 0 ||
	    set_opt(out, META "pod_controller_kind", p->controller_kind) < 0 ||
	    set_opt(out, META "pod_controller_name", p->controller_name) < 0 ||
	    set_kv(out, META "pod_label_", META "pod_labelpresent_", p->labels, p->n_labels) < 0 ||
	    set_kv(out, META "pod_annotation_", META "pod_annotationpresent_", p->annotations,
	           p->n_annotations) < 0 ||
	    set_opt(out, META "pod_container_name", c->name) < 0 ||
	    set_opt(out, META "pod_container_image", c->image) < 0 ||
	    set_opt(out, META "pod_container_id", c->id) < 0 ||
	    lf_labels_set(out, META "pod_container_init", c->init ? "true" : "false") < 0)
		return -1;
	return 0;
}

int lf_k8s_file_meta_labels(const char *ns, const char *pod, const char *uid, const char *container,
                            const char *container_id, const char *node, struct lf_labels *out)
{
	lf_labels_clear(out);
	if (set_opt(out, META "namespace", ns) < 0 || set_opt(out, META "pod_name", pod) < 0 ||
	    set_opt(out, META "pod_uid", uid) < 0 ||
	    set_opt(out, META "pod_container_name", container) < 0 ||
	    set_opt(out, META "pod_container_id", container_id) < 0 ||
	    set_opt(out, META "pod_node_name", node) < 0)
		return -1;
	return 0;
}

/* ---- config ---- */

void lf_k8s_sd_config_free(struct lf_k8s_sd_config *c)
{
	free(c->kubelet_url);
	free(c->api_server);
	free(c->node_name);
	free(c->bearer_token);
	free(c->bearer_token_file);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->server_name);
	if (c->namespaces)
		lf_strv_free(c->namespaces);
	memset(c, 0, sizeof(*c));
}

bool lf_k8s_namespace_allowed(const struct lf_k8s_sd_config *c, const char *ns, size_t ns_len)
{
	if (!c->namespaces)
		return true;
	for (size_t i = 0; i < c->n_namespaces; i++)
		if (strlen(c->namespaces[i]) == ns_len && memcmp(c->namespaces[i], ns, ns_len) == 0)
			return true;
	return false;
}

int lf_k8s_sd_config_parse(const struct lf_ynode *n, const char *path, const char *node_name,
                           struct lf_k8s_sd_config *out, struct lf_error *err)
{
	static const char *const allowed[] = {"role",       "source",       "kubelet_url",
	                                      "api_server", "bearer_token", "bearer_token_file",
	                                      "tls_config", "namespaces",   "selectors",
	                                      NULL};
	static const char *const tls_allowed[] = {
	        "ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify", NULL};
	memset(out, 0, sizeof(*out));
	if (lf_ymap_check(n, path, allowed, err) < 0)
		return -1;
	char sub[300];
	const struct lf_ynode *role = lf_ymap_get(n, "role");
	if (!role || role->kind != LF_Y_SCALAR)
		return lf_y_err(err, role ? role : n, path,
		                "role is required (only \"pod\" is supported)");
	if (strcasecmp(role->str, "pod") != 0)
		return lf_y_err(err, role, path, "role \"%s\" is not supported (only \"pod\")",
		                role->str);
	char *source = NULL;
	if (lf_ymap_str(n, path, "source", &source, err) < 0)
		return -1;
	out->source = LF_K8S_SOURCE_KUBELET;
	if (source && strcmp(source, "api_server") == 0)
		out->source = LF_K8S_SOURCE_API_SERVER;
	else if (source && strcmp(source, "kubelet") != 0) {
		int rc = lf_y_err(err, lf_ymap_get(n, "source"), path,
		                  "unknown source \"%s\" (kubelet or api_server)", source);
		free(source);
		return rc;
	}
	free(source);
	const struct lf_ynode *api = lf_ymap_get(n, "api_server");
	const struct lf_ynode *kurl = lf_ymap_get(n, "kubelet_url");
	if (out->source == LF_K8S_SOURCE_KUBELET && api && api->kind != LF_Y_NULL)
		return lf_y_err(err, api, path,
		                "api_server is only used with source: api_server (the default "
		                "source is kubelet; set kubelet_url for it)");
	if (out->source == LF_K8S_SOURCE_API_SERVER && kurl && kurl->kind != LF_Y_NULL)
		return lf_y_err(err, kurl, path, "kubelet_url is only used with source: kubelet");
	const struct lf_ynode *sel = lf_ymap_get(n, "selectors");
	if (sel && sel->kind != LF_Y_NULL && !(sel->kind == LF_Y_SEQ && sel->n == 0))
		return lf_y_err(err, sel, path, "selectors are not supported yet");

	if (lf_ymap_str(n, path, "kubelet_url", &out->kubelet_url, err) < 0 ||
	    lf_ymap_str(n, path, "api_server", &out->api_server, err) < 0 ||
	    lf_ymap_str(n, path, "bearer_token", &out->bearer_token, err) < 0 ||
	    lf_ymap_str(n, path, "bearer_token_file", &out->bearer_token_file, err) < 0)
		goto fail;
	if (out->bearer_token && out->bearer_token_file) {
		lf_y_err(err, n, path,
		         "at most one of bearer_token and bearer_token_file may be set");
		goto fail;
	}
	if (!out->kubelet_url || !*out->kubelet_url) {
		free(out->kubelet_url);
		const char *ip = getenv("NODE_IP");
		struct lf_buf b = LF_BUF_INIT;
		if (ip && *ip)
			lf_buf_printf(&b,
			              strchr(ip, ':') ? "https://[%s]:10250" : "https://%s:10250",
			              ip);
		else
			lf_buf_printf(&b, "https://%s:10250", node_name ? node_name : "localhost");
		out->kubelet_url = lf_buf_take(&b);
	} else if (strncmp(out->kubelet_url, "https://", 8) != 0 &&
	           strncmp(out->kubelet_url, "http://", 7) != 0) {
		lf_y_err(err, lf_ymap_get(n, "kubelet_url"), path,
		         "kubelet_url \"%s\" must start with https:// or http://",
		         out->kubelet_url);
		goto fail;
	}
	if (!out->kubelet_url)
		goto nomem;
	size_t ul = strlen(out->kubelet_url);
	while (ul > 0 && out->kubelet_url[ul - 1] == '/')
		out->kubelet_url[--ul] = '\0';
	if (out->source == LF_K8S_SOURCE_API_SERVER) {
		if (!out->api_server || !*out->api_server) {
			free(out->api_server);
			const char *h = getenv("KUBERNETES_SERVICE_HOST");
			const char *p = getenv("KUBERNETES_SERVICE_PORT");
			struct lf_buf b = LF_BUF_INIT;
			if (h && *h)
				lf_buf_printf(&b,
				              strchr(h, ':') ? "https://[%s]:%s" : "https://%s:%s",
				              h, p && *p ? p : "443");
			else
				lf_buf_appends(&b, "https://kubernetes.default.svc");
			out->api_server = lf_buf_take(&b);
		} else if (strncmp(out->api_server, "https://", 8) != 0 &&
		           strncmp(out->api_server, "http://", 7) != 0) {
			lf_y_err(err, api, path,
			         "api_server \"%s\" must start with https:// or http://",
			         out->api_server);
			goto fail;
		}
		if (!out->api_server)
			goto nomem;
		size_t al = strlen(out->api_server);
		while (al > 0 && out->api_server[al - 1] == '/')
			out->api_server[--al] = '\0';
		const char *nn = getenv("NODE_NAME");
		out->node_name = strdup(nn && *nn ? nn : node_name ? node_name : "localhost");
		if (!out->node_name)
			goto nomem;
	}
	out->base_url =
	        out->source == LF_K8S_SOURCE_API_SERVER ? out->api_server : out->kubelet_url;
	if (!out->bearer_token && !out->bearer_token_file) {
		out->bearer_token_file = strdup(DEFAULT_TOKEN_FILE);
		out->token_file_default = true;
		if (!out->bearer_token_file)
			goto nomem;
	}
	const struct lf_ynode *tls = lf_ymap_get(n, "tls_config");
	snprintf(sub, sizeof(sub), "%s.tls_config", path);
	if (tls && lf_ymap_check(tls, sub, tls_allowed, err) < 0)
		goto fail;
	if (lf_ymap_str(tls, sub, "ca_file", &out->ca_file, err) < 0 ||
	    lf_ymap_str(tls, sub, "cert_file", &out->cert_file, err) < 0 ||
	    lf_ymap_str(tls, sub, "key_file", &out->key_file, err) < 0 ||
	    lf_ymap_str(tls, sub, "server_name", &out->server_name, err) < 0 ||
	    lf_ymap_bool(tls, sub, "insecure_skip_verify", &out->insecure_skip_verify, err) < 0)
		goto fail;
	if ((out->cert_file != NULL) != (out->key_file != NULL)) {
		lf_y_err(err, tls, sub, "cert_file and key_file must be set together");
		goto fail;
	}
	if (!out->ca_file && access(DEFAULT_CA_FILE, R_OK) == 0 &&
	    !(out->ca_file = strdup(DEFAULT_CA_FILE)))
		goto nomem;
	const struct lf_ynode *ns = lf_ymap_get(n, "namespaces");
	snprintf(sub, sizeof(sub), "%s.namespaces", path);
	if (ns && ns->kind != LF_Y_NULL) {
		static const char *const ns_allowed[] = {"names", "own_namespace", NULL};
		if (lf_ymap_check(ns, sub, ns_allowed, err) < 0)
			goto fail;
		bool own = false;
		if (lf_ymap_bool(ns, sub, "own_namespace", &own, err) < 0)
			goto fail;
		if (own) {
			lf_y_err(err, lf_ymap_get(ns, "own_namespace"), sub,
			         "own_namespace is not supported yet; list the namespace in names");
			goto fail;
		}
		if (lf_ymap_strlist(ns, sub, "names", &out->namespaces, &out->n_namespaces, err) <
		    0)
			goto fail;
		if (out->namespaces && out->n_namespaces == 0) {
			lf_strv_free(out->namespaces);
			out->namespaces = NULL;
		}
	}
	return 0;
nomem:
	lf_err(err, "%s: out of memory", path);
fail:
	lf_k8s_sd_config_free(out);
	return -1;
}

/* ---- kubelet source ---- */

struct lf_k8s_source {
	const struct lf_k8s_sd_config *cfg;
	int64_t period_ns;
	int notify_fd;
	struct lf_metric_family *m_requests, *m_up;
	const char *what; /* "kubelet" or "API server", for messages */

	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* guarded by mu (stop is also read without it by the curl progress
	 * callback, through atomics) */
	bool stop, poked;
	struct lf_k8s_podlist *latest;
	uint64_t generation;
	struct lf_k8s_source_state st;
	int64_t backoff_ns; /* 0 while healthy */
	uint64_t attempts;  /* finished first requests (list or GET /pods) */

	/* thread-only */
	CURL *curl;
	struct lf_buf body;
	char *token;
	struct stat token_st;
	bool token_loaded;
	char last_problem[64]; /* kind of the last problem ("" when healthy) */
	char *base;            /* base URL, host rewritten for server_name */
	char *url;             /* URL of the current request */
	struct curl_slist *connect_to;
	/* API server watch state */
	struct lf_k8s_pod *wpods;
	size_t n_wpods, cap_wpods;
	char rv[64];
	bool watch_gone;    /* the watch said 410 Gone: relist */
	bool watch_changed; /* events applied since the last publish */
	struct lf_buf line; /* partial watch event line */
};

static bool stopping(struct lf_k8s_source *s)
{
	return __atomic_load_n(&s->stop, __ATOMIC_RELAXED);
}

static void notify(struct lf_k8s_source *s)
{
	uint64_t one = 1;
	if (s->notify_fd >= 0 && write(s->notify_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		lf_debug("discovery: eventfd write: %s", strerror(errno));
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct lf_k8s_source *s = ctx;
	size_t n = size * nmemb;
	if (s->body.len + n > MAX_BODY || lf_buf_append(&s->body, p, n) < 0)
		return 0;
	return n;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	return stopping(ctx) ? 1 : 0; /* non-zero aborts the transfer */
}

/* Re-reads the token file when it changed (projected tokens rotate). */
static int load_token(struct lf_k8s_source *s, char *problem, size_t psz)
{
	const struct lf_k8s_sd_config *c = s->cfg;
	if (c->bearer_token) {
		if (!s->token)
			s->token = strdup(c->bearer_token);
		return 0;
	}
	struct stat st;
	if (stat(c->bearer_token_file, &st) < 0) {
		if (c->token_file_default && errno == ENOENT) {
			free(s->token);
			s->token = NULL;
			return 0;
		}
		snprintf(problem, psz, "bearer_token_file %s: %s", c->bearer_token_file,
		         strerror(errno));
		return -1;
	}
	if (s->token_loaded && st.st_ino == s->token_st.st_ino && st.st_dev == s->token_st.st_dev &&
	    st.st_size == s->token_st.st_size && st.st_mtim.tv_sec == s->token_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == s->token_st.st_mtim.tv_nsec)
		return 0;
	FILE *f = fopen(c->bearer_token_file, "re");
	if (!f) {
		snprintf(problem, psz, "bearer_token_file %s: %s", c->bearer_token_file,
		         strerror(errno));
		return -1;
	}
	struct lf_buf b = LF_BUF_INIT;
	char chunk[4096];
	size_t r;
	while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
		lf_buf_append(&b, chunk, r);
	fclose(f);
	while (b.len > 0 &&
	       (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' || b.data[b.len - 1] == ' '))
		b.data[--b.len] = '\0';
	free(s->token);
	s->token = lf_buf_take(&b);
	s->token_st = st;
	s->token_loaded = true;
	return 0;
}

static int setup_curl(struct lf_k8s_source *s)
{
	const struct lf_k8s_sd_config *c = s->cfg;
	s->curl = curl_easy_init();
	if (!s->curl)
		return -1;
	struct lf_buf u = LF_BUF_INIT;
	if (c->server_name && *c->server_name) {
		/* Connect to the configured host but name server_name in SNI and
		 * certificate checks: rewrite the URL host, and map it back with
		 * CONNECT_TO ("server_name:port:real_host:port"). */
		CURLU *cu = curl_url();
		char *host = NULL, *port = NULL;
		if (cu && curl_url_set(cu, CURLUPART_URL, c->base_url, 0) == CURLUE_OK &&
		    curl_url_get(cu, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
		    curl_url_get(cu, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
			struct lf_buf ct = LF_BUF_INIT;
			lf_buf_printf(&ct, "%s:%s:%s:%s", c->server_name, port, host, port);
			s->connect_to = curl_slist_append(NULL, ct.data);
			lf_buf_free(&ct);
			curl_url_set(cu, CURLUPART_HOST, c->server_name, 0);
			char *nu = NULL;
			if (curl_url_get(cu, CURLUPART_URL, &nu, 0) == CURLUE_OK) {
				lf_buf_appends(&u, nu);
				curl_free(nu);
			}
		}
		curl_free(host);
		curl_free(port);
		curl_url_cleanup(cu);
		while (u.len > 0 && u.data[u.len - 1] == '/')
			u.data[--u.len] = '\0';
	}
	if (u.len == 0)
		lf_buf_appends(&u, c->base_url);
	s->base = lf_buf_take(&u);
	if (!s->base)
		return -1;
	if (s->connect_to)
		curl_easy_setopt(s->curl, CURLOPT_CONNECT_TO, s->connect_to);
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(s->curl, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "logferry/" LF_VERSION);
	curl_easy_setopt(s->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(s->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(s->curl, CURLOPT_XFERINFODATA, s);
	curl_easy_setopt(s->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	if (c->ca_file)
		curl_easy_setopt(s->curl, CURLOPT_CAINFO, c->ca_file);
	if (c->cert_file) {
		curl_easy_setopt(s->curl, CURLOPT_SSLCERT, c->cert_file);
		curl_easy_setopt(s->curl, CURLOPT_SSLKEY, c->key_file);
	}
	if (c->insecure_skip_verify) {
		curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return 0;
}

static const char *status_label_of(long code)
{
	static const char *const codes[] = {"200", "401", "403", "404", "410", "500", "502", "503"};
	static const long code_v[] = {200, 401, 403, 404, 410, 500, 502, 503};
	for (size_t i = 0; i < sizeof(code_v) / sizeof(code_v[0]); i++)
		if (code == code_v[i])
			return codes[i];
	return "other";
}

/* GET s->url with the token. The body goes to write_fn (s->body by
 * default). Returns the HTTP status (200...), or -1 when there was none
 * (problem, kind and status_label say why). A non-200 status fills them
 * too, with the first line of the server's answer. */
static long http_get(struct lf_k8s_source *s, long timeout_s, curl_write_callback write_fn,
                     char *problem, size_t psz, const char **status_label, char *kind, size_t ksz)
{
	*status_label = "failed";
	snprintf(kind, ksz, "token");
	if (load_token(s, problem, psz) < 0)
		return -1;
	struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (s->token) {
		struct lf_buf h = LF_BUF_INIT;
		lf_buf_printf(&h, "Authorization: Bearer %s", s->token);
		hdrs = curl_slist_append(hdrs, h.data);
		lf_buf_free(&h);
	}
	curl_easy_setopt(s->curl, CURLOPT_URL, s->url);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, write_fn ? write_fn : on_body);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
	lf_buf_reset(&s->body);
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode rc = curl_easy_perform(s->curl);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs);
	long code = 0;
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK && !(code == 200 && write_fn && rc == CURLE_WRITE_ERROR)) {
		/* One kind for every transport failure (refused, reset, timeout,
		 * TLS): they are one state for the log-once rule. */
		snprintf(kind, ksz, "network");
		snprintf(problem, psz, "GET %s: %s", s->url,
		         errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return -1;
	}
	*status_label = status_label_of(code);
	if (code != 200) {
		snprintf(kind, ksz, "http %ld", code);
		size_t n = s->body.len;
		const char *nl = s->body.data ? memchr(s->body.data, '\n', n) : NULL;
		if (nl)
			n = (size_t)(nl - s->body.data);
		if (n > 200)
			n = 200;
		snprintf(problem, psz, "GET %s: HTTP %ld%s%.*s", s->url, code, n ? ": " : "",
		         (int)n, s->body.data ? s->body.data : "");
	}
	return code;
}

/* GET + parse a PodList (kubelet /pods, API server list). */
static struct lf_k8s_podlist *fetch_list(struct lf_k8s_source *s, char *problem, size_t psz,
                                         const char **status_label, char *kind, size_t ksz)
{
	if (http_get(s, REQUEST_TIMEOUT_S, NULL, problem, psz, status_label, kind, ksz) != 200)
		return NULL;
	struct lf_error perr;
	struct lf_k8s_podlist *pl = NULL;
	if (lf_k8s_podlist_parse(s->body.data ? s->body.data : "", s->body.len, &pl, &perr) < 0) {
		snprintf(problem, psz, "GET %s: %s", s->url, perr.msg);
		*status_label = "invalid";
		snprintf(kind, ksz, "invalid");
		return NULL;
	}
	return pl;
}

static void count_request(struct lf_k8s_source *s, const char *status)
{
	if (s->m_requests) {
		const char *lv[] = {s->cfg->base_url, status};
		lf_metric_inc(s->m_requests, lv);
	}
}

/* Publishes a PodList (taken) with s->mu held. */
static void publish_locked(struct lf_k8s_source *s, struct lf_k8s_podlist *pl)
{
	lf_k8s_podlist_unref(s->latest);
	s->latest = pl;
	s->generation++;
	s->st.events++;
	notify(s);
}

/* Records the outcome of a list (pl, taken) or a failure (pl NULL), with
 * s->mu held: state, backoff, metrics, and one log line per state change. */
static void record_locked(struct lf_k8s_source *s, struct lf_k8s_podlist *pl, const char *problem,
                          const char *kind)
{
	bool was_up = s->st.up;
	if (pl) {
		s->st.ok++;
		s->st.up = true;
		s->backoff_ns = 0;
		if (!was_up || s->last_problem[0])
			lf_info("discovery: %s %s reachable: %zu pods", s->what, s->cfg->base_url,
			        pl->n);
		s->last_problem[0] = '\0';
		publish_locked(s, pl);
	} else {
		s->st.errors++;
		s->st.up = false;
		int64_t cap = s->period_ns > LF_NS_PER_SEC ? s->period_ns : LF_NS_PER_SEC;
		s->backoff_ns = s->backoff_ns ? s->backoff_ns * 2 : LF_NS_PER_SEC;
		if (s->backoff_ns > cap)
			s->backoff_ns = cap;
		/* Log once per state change: up -> down, or a new kind of
		 * problem (connect error vs 401 vs 5xx...), not per retry. */
		if (was_up || strcmp(s->last_problem, kind) != 0)
			lf_warn("discovery: %s unavailable, using file-name labels for new pods "
			        "and "
			        "retrying with backoff: %s",
			        s->what, problem);
		snprintf(s->last_problem, sizeof(s->last_problem), "%s", kind);
		if (was_up) {
			s->st.events++;
			notify(s);
		}
	}
	if (s->m_up) {
		const char *lv[] = {s->cfg->base_url};
		lf_metric_set(s->m_up, lv, s->st.up ? 1 : 0);
	}
	s->attempts++;
	pthread_cond_broadcast(&s->cv); /* lf_k8s_source_wait_first */
}

/* Waits (mu held) until deadline, a stop, or - when poke_ok - a poke. */
static void wait_until_locked(struct lf_k8s_source *s, int64_t deadline)
{
	int64_t now = lf_monotonic_ns();
	if (now >= deadline)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t wait = deadline - now;
	ts.tv_sec += wait / LF_NS_PER_SEC;
	ts.tv_nsec += wait % LF_NS_PER_SEC;
	if (ts.tv_nsec >= LF_NS_PER_SEC) {
		ts.tv_sec++;
		ts.tv_nsec -= LF_NS_PER_SEC;
	}
	pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

static void *kubelet_main(void *arg)
{
	struct lf_k8s_source *s = arg;
	int64_t next_at = 0, last_req = INT64_MIN / 2;
	struct lf_buf u = LF_BUF_INIT;
	lf_buf_printf(&u, "%s/pods", s->base);
	s->url = lf_buf_take(&u);
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		int64_t now = lf_monotonic_ns();
		int64_t due = next_at;
		if (s->poked && s->backoff_ns == 0) {
			int64_t p = last_req + POKE_INTERVAL_NS;
			if (p < due)
				due = p;
		}
		if (now < due) {
			wait_until_locked(s, due);
			continue;
		}
		s->poked = false;
		last_req = now;
		pthread_mutex_unlock(&s->mu);

		char problem[512] = "", kind[64] = "";
		const char *status = "failed";
		struct lf_k8s_podlist *pl = s->url ? fetch_list(s, problem, sizeof(problem),
		                                                &status, kind, sizeof(kind))
		                                   : NULL;
		count_request(s, status);

		pthread_mutex_lock(&s->mu);
		record_locked(s, pl, problem, kind);
		next_at = lf_monotonic_ns() + (pl ? s->period_ns : s->backoff_ns);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- API server: list + watch ---- */

static void wpods_clear(struct lf_k8s_source *s)
{
	for (size_t i = 0; i < s->n_wpods; i++)
		lf_k8s_pod_clear(&s->wpods[i]);
	s->n_wpods = 0;
}

static struct lf_k8s_pod *wpod_find(struct lf_k8s_source *s, const char *uid)
{
	for (size_t i = 0; i < s->n_wpods; i++)
		if (strcmp(s->wpods[i].uid, uid) == 0)
			return &s->wpods[i];
	return NULL;
}

/* Takes p (moved into the table). */
static int wpod_put(struct lf_k8s_source *s, struct lf_k8s_pod *p)
{
	struct lf_k8s_pod *old = wpod_find(s, p->uid);
	if (old) {
		lf_k8s_pod_clear(old);
		*old = *p;
		return 0;
	}
	if (s->n_wpods == s->cap_wpods) {
		size_t nc = s->cap_wpods ? s->cap_wpods * 2 : 64;
		struct lf_k8s_pod *v = realloc(s->wpods, nc * sizeof(*v));
		if (!v)
			return -1;
		s->wpods = v;
		s->cap_wpods = nc;
	}
	s->wpods[s->n_wpods++] = *p;
	return 0;
}

static void wpod_del(struct lf_k8s_source *s, const char *uid)
{
	struct lf_k8s_pod *p = wpod_find(s, uid);
	if (!p)
		return;
	lf_k8s_pod_clear(p);
	*p = s->wpods[--s->n_wpods];
}

/* A PodList snapshot of the watched pods. */
static struct lf_k8s_podlist *wpods_snapshot(struct lf_k8s_source *s)
{
	struct lf_k8s_podlist *pl = calloc(1, sizeof(*pl));
	if (!pl || !(pl->pods = calloc(s->n_wpods ? s->n_wpods : 1, sizeof(*pl->pods)))) {
		free(pl);
		return NULL;
	}
	pl->refs = 1;
	for (size_t i = 0; i < s->n_wpods; i++) {
		if (lf_k8s_pod_dup(&s->wpods[i], &pl->pods[i]) < 0) {
			lf_k8s_podlist_unref(pl);
			return NULL;
		}
		pl->n++;
	}
	snprintf(pl->resource_version, sizeof(pl->resource_version), "%s", s->rv);
	return pl;
}

/* Applies one watch event line. */
static void apply_event(struct lf_k8s_source *s, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *ev = json_loadb(line, len, 0, &jerr);
	if (!ev) {
		lf_debug("discovery: API server watch: bad event: %s", jerr.text);
		return;
	}
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *obj = json_object_get(ev, "object");
	const char *rv = json_string_value(
	        json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	if (!type) {
		json_decref(ev);
		return;
	}
	if (strcmp(type, "ERROR") == 0) {
		/* A Status object; 410 Gone = our resourceVersion is too old. */
		json_int_t code = json_integer_value(json_object_get(obj, "code"));
		const char *msg = json_string_value(json_object_get(obj, "message"));
		lf_debug("discovery: API server watch error %lld: %s", (long long)code,
		         msg ? msg : "");
		s->watch_gone = true;
		json_decref(ev);
		return;
	}
	if (rv)
		snprintf(s->rv, sizeof(s->rv), "%s", rv);
	if (strcmp(type, "BOOKMARK") == 0) {
		json_decref(ev);
		return;
	}
	struct lf_k8s_pod p;
	struct lf_error err;
	memset(&p, 0, sizeof(p));
	if (parse_pod(obj, &p, 0, &err) < 0) {
		lf_k8s_pod_clear(&p);
		lf_debug("discovery: API server watch: %s", err.msg);
		json_decref(ev);
		return;
	}
	if (strcmp(type, "DELETED") == 0) {
		wpod_del(s, p.uid);
		lf_k8s_pod_clear(&p);
	} else if (wpod_put(s, &p) < 0) {
		lf_k8s_pod_clear(&p);
	}
	s->watch_changed = true;
	json_decref(ev);
}

/* Streaming body of a watch: newline-delimited events. */
static size_t on_watch(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct lf_k8s_source *s = ctx;
	size_t n = size * nmemb;
	long code = 0;
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200)
		return on_body(data, size, nmemb, ctx); /* an error answer: keep it */
	if (s->line.len + n > MAX_BODY || lf_buf_append(&s->line, data, n) < 0)
		return 0;
	size_t start = 0;
	for (;;) {
		char *nl = memchr(s->line.data + start, '\n', s->line.len - start);
		if (!nl)
			break;
		size_t end = (size_t)(nl - s->line.data);
		if (end > start)
			apply_event(s, s->line.data + start, end - start);
		start = end + 1;
	}
	memmove(s->line.data, s->line.data + start, s->line.len - start);
	s->line.len -= start;
	s->line.data[s->line.len] = '\0';
	if (s->watch_changed) {
		struct lf_k8s_podlist *pl = wpods_snapshot(s);
		if (pl) {
			pthread_mutex_lock(&s->mu);
			publish_locked(s, pl);
			pthread_mutex_unlock(&s->mu);
		}
		s->watch_changed = false;
	}
	return s->watch_gone ? 0 : n; /* 0 ends the transfer: relist */
}

static char *selector_url(struct lf_k8s_source *s, bool watch)
{
	struct lf_buf u = LF_BUF_INIT;
	char *node = curl_easy_escape(s->curl, s->cfg->node_name, 0);
	lf_buf_printf(&u, "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", s->base,
	              node ? node : "");
	curl_free(node);
	if (watch)
		lf_buf_printf(&u,
		              "&watch=1&allowWatchBookmarks=true&timeoutSeconds=%d"
		              "&resourceVersion=%s",
		              WATCH_TIMEOUT_S, s->rv);
	return lf_buf_take(&u);
}

static void *api_main(void *arg)
{
	struct lf_k8s_source *s = arg;
	bool need_list = true;
	int64_t last_list = INT64_MIN / 2;
	while (!stopping(s)) {
		char problem[512] = "", kind[64] = "";
		const char *status = "failed";
		if (need_list) {
			/* At most one list per second, even if watches keep failing
			 * at once (410 right after a list). */
			int64_t earliest = last_list + LF_NS_PER_SEC;
			if (lf_monotonic_ns() < earliest) {
				pthread_mutex_lock(&s->mu);
				if (!s->stop)
					wait_until_locked(s, earliest);
				pthread_mutex_unlock(&s->mu);
				continue;
			}
			last_list = lf_monotonic_ns();
			free(s->url);
			s->url = selector_url(s, false);
			struct lf_k8s_podlist *pl = s->url ? fetch_list(s, problem, sizeof(problem),
			                                                &status, kind, sizeof(kind))
			                                   : NULL;
			count_request(s, status);
			if (pl) {
				/* The watch table starts as the list. */
				wpods_clear(s);
				snprintf(s->rv, sizeof(s->rv), "%s", pl->resource_version);
				for (size_t i = 0; i < pl->n; i++) {
					struct lf_k8s_pod p;
					if (lf_k8s_pod_dup(&pl->pods[i], &p) == 0 &&
					    wpod_put(s, &p) < 0)
						lf_k8s_pod_clear(&p);
				}
			}
			pthread_mutex_lock(&s->mu);
			record_locked(s, pl, problem, kind);
			if (!pl) {
				/* A stop during the list aborted it (on_progress): its
				 * broadcast came before this wait, do not sleep out
				 * the backoff. */
				if (!s->stop)
					wait_until_locked(s, lf_monotonic_ns() + s->backoff_ns);
				pthread_mutex_unlock(&s->mu);
				continue;
			}
			pthread_mutex_unlock(&s->mu);
			need_list = false;
		}
		free(s->url);
		s->url = selector_url(s, true);
		s->watch_gone = false;
		lf_buf_reset(&s->line);
		int64_t watch_start = lf_monotonic_ns();
		long code = s->url ? http_get(s, WATCH_TIMEOUT_S + 30, on_watch, problem,
		                              sizeof(problem), &status, kind, sizeof(kind))
		                   : -1;
		count_request(s, status);
		if (stopping(s))
			break;
		if (code == 200 && !s->watch_gone) {
			/* The server ended the watch (its timeout): watch again, but
			 * not in a tight loop if something keeps cutting it short. */
			int64_t again = watch_start + LF_NS_PER_SEC;
			pthread_mutex_lock(&s->mu);
			if (!s->stop && lf_monotonic_ns() < again)
				wait_until_locked(s, again);
			pthread_mutex_unlock(&s->mu);
			continue;
		}
		need_list = true;
		if (code == 200 || code == 410)
			continue; /* 410 Gone: relist at once */
		pthread_mutex_lock(&s->mu);
		record_locked(s, NULL, problem, kind);
		if (!s->stop)
			wait_until_locked(s, lf_monotonic_ns() + s->backoff_ns);
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

/* curl_global_init is thread-safe in Debian 12's libcurl (>= 7.84), and a
 * second call by the agent's client only bumps a counter. */
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int lf_k8s_source_new(const struct lf_k8s_sd_config *cfg, int64_t period_ns, int notify_fd,
                      struct lf_metrics *metrics, struct lf_k8s_source **out, struct lf_error *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, curl_init_once);
	struct lf_k8s_source *s = calloc(1, sizeof(*s));
	if (!s)
		return lf_err(err, "kubelet source: out of memory");
	s->cfg = cfg;
	s->period_ns = period_ns > 0 ? period_ns : 10 * LF_NS_PER_SEC;
	s->notify_fd = notify_fd;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	bool api = cfg->source == LF_K8S_SOURCE_API_SERVER;
	s->what = api ? "API server" : "kubelet";
	if (metrics) {
		static const char *const req_labels[] = {"url", "status_code", NULL};
		static const char *const up_labels[] = {"url", NULL};
		s->m_requests = lf_metrics_family(
		        metrics, LF_METRIC_COUNTER,
		        api ? "logferry_kubernetes_api_requests_total"
		            : "logferry_kubelet_requests_total",
		        api ? "Pod list/watch requests to the API server by result (status code, "
		              "failed, invalid)."
		            : "Requests to the kubelet's /pods by result (status code, failed, "
		              "invalid).",
		        req_labels, NULL, 0);
		s->m_up = lf_metrics_family(
		        metrics, LF_METRIC_GAUGE,
		        api ? "logferry_kubernetes_api_up" : "logferry_kubelet_up",
		        api ? "1 when the last pod list or watch of the API server succeeded."
		            : "1 when the last request to the kubelet's /pods succeeded.",
		        up_labels, NULL, 0);
		if (s->m_up) {
			const char *lv[] = {cfg->base_url};
			lf_metric_set(s->m_up, lv, 0);
		}
	}
	if (setup_curl(s) < 0) {
		lf_err(err, "%s source %s: cannot set up libcurl", s->what, cfg->base_url);
		lf_k8s_source_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int lf_k8s_source_start(struct lf_k8s_source *s, struct lf_error *err)
{
	int rc = pthread_create(
	        &s->thread, NULL,
	        s->cfg->source == LF_K8S_SOURCE_API_SERVER ? api_main : kubelet_main, s);
	if (rc != 0)
		return lf_err(err, "%s source %s: pthread_create: %s", s->what, s->cfg->base_url,
		              strerror(rc));
	s->started = true;
	return 0;
}

void lf_k8s_source_free(struct lf_k8s_source *s)
{
	if (!s)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		__atomic_store_n(&s->stop, true, __ATOMIC_RELAXED);
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
	}
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	lf_k8s_podlist_unref(s->latest);
	if (s->curl)
		curl_easy_cleanup(s->curl);
	curl_slist_free_all(s->connect_to);
	lf_buf_free(&s->body);
	lf_buf_free(&s->line);
	wpods_clear(s);
	free(s->wpods);
	free(s->token);
	free(s->url);
	free(s->base);
	free(s);
}

void lf_k8s_source_wait_first(struct lf_k8s_source *s, int64_t deadline_ns)
{
	pthread_mutex_lock(&s->mu);
	while (s->attempts == 0 && !s->stop) {
		int64_t now = lf_monotonic_ns();
		if (now >= deadline_ns)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t wait = deadline_ns - now;
		ts.tv_sec += wait / LF_NS_PER_SEC;
		ts.tv_nsec += wait % LF_NS_PER_SEC;
		if (ts.tv_nsec >= LF_NS_PER_SEC) {
			ts.tv_sec++;
			ts.tv_nsec -= LF_NS_PER_SEC;
		}
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	pthread_mutex_unlock(&s->mu);
}

void lf_k8s_source_poke(struct lf_k8s_source *s)
{
	pthread_mutex_lock(&s->mu);
	s->poked = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

struct lf_k8s_podlist *lf_k8s_source_get(struct lf_k8s_source *s, uint64_t *generation)
{
	pthread_mutex_lock(&s->mu);
	struct lf_k8s_podlist *pl = lf_k8s_podlist_ref(s->latest);
	if (generation)
		*generation = s->generation;
	pthread_mutex_unlock(&s->mu);
	return pl;
}

void lf_k8s_source_state(struct lf_k8s_source *s, struct lf_k8s_source_state *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->st;
	pthread_mutex_unlock(&s->mu);
}
