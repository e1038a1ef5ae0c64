/* fuzz_k8s_pods.c — the kubelet's /pods PodList (and the API server's pod
 * objects) as kubernetes discovery parses them: JSON from the network.
 *
 * Input: a PodList document (also parsed as a single Pod object).
 * Properties: parsing succeeds or fails with a message; a parsed list holds
 * pods with namespace, name and uid; every container's meta labels build,
 * with valid, unique names; a deep copy of a pod equals the original and
 * gives the same meta labels.
 */
#include <stdbool.h>

#include "fuzz.h"

#include "../../common/labels.h"
#include "../../discovery/kubernetes.h"

static void check_set(const struct lf_labels *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		const struct lf_label *l = &ls->v[i];
		FUZZ_CHECK(lf_label_name_valid(l->name, l->name_len), "invalid label name '%s'",
		           l->name);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(ls->v[j].name, l->name) != 0, "label %s twice", l->name);
	}
}

static void check_pod(const struct lf_k8s_pod *pod)
{
	struct lf_k8s_pod copy;
	memset(&copy, 0, sizeof copy);
	FUZZ_CHECK(lf_k8s_pod_dup(pod, &copy) == 0, "pod_dup failed");
	FUZZ_CHECK(lf_k8s_pod_equal(pod, &copy), "a copy differs from its pod");
	struct lf_labels a = LF_LABELS_INIT, b = LF_LABELS_INIT;
	for (size_t ci = 0; ci < pod->n_containers; ci++) {
		FUZZ_CHECK(lf_k8s_meta_labels(pod, ci, &a) == 0, "meta labels of container %zu",
		           ci);
		check_set(&a);
		FUZZ_CHECK(lf_k8s_meta_labels(&copy, ci, &b) == 0, "meta labels of the copy");
		FUZZ_CHECK(lf_labels_equal(&a, &b), "the copy gives other labels");
	}
	lf_labels_free(&a);
	lf_labels_free(&b);
	lf_k8s_pod_clear(&copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *json = (const char *)data;
	struct lf_error err = {{0}};
	struct lf_k8s_podlist *pl = NULL;
	if (lf_k8s_podlist_parse(json, size, &pl, &err) == 0) {
		FUZZ_CHECK(pl != NULL, "parse ok without a list");
		for (size_t i = 0; i < pl->n; i++) {
			const struct lf_k8s_pod *pod = &pl->pods[i];
			FUZZ_CHECK(pod->ns && pod->name && pod->uid, "pod %zu without ns/name/uid",
			           i);
			check_pod(pod);
		}
		FUZZ_CHECK(memchr(pl->resource_version, '\0', sizeof pl->resource_version),
		           "resourceVersion not terminated");
		lf_k8s_podlist_unref(pl);
	} else {
		FUZZ_CHECK(err.msg[0], "PodList parse failed without a message");
	}
	struct lf_k8s_pod pod;
	memset(&pod, 0, sizeof pod);
	err.msg[0] = '\0';
	if (lf_k8s_pod_parse(json, size, &pod, &err) == 0)
		check_pod(&pod);
	else
		FUZZ_CHECK(err.msg[0], "Pod parse failed without a message");
	lf_k8s_pod_clear(&pod);
	return 0;
}
