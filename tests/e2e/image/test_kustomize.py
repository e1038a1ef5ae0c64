"""Renders every kustomization under packaging/kubernetes (the base and each
overlay) with `kubectl kustomize` and checks that each object has what the
cluster needs: names, namespaces, selectors that match, probes on /ready,
volumes that exist, the agent's and store's security settings, and the EKS
overlay's priority, tolerations, resources and host paths. The rendered
agent config must pass `logferry -check-syntax` and the store config
`logferry-store -check-syntax`.

kubectl comes from Debian's kubernetes-client (1.20, kustomize 2.0; the
manifests keep to what it reads) or any newer kubectl on the PATH
(LF_KUBECTL names another). Without one the test is skipped (exit 77).
"""
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.environ["LF_E2E_LIB"])
from lfe2e import check, main  # noqa: E402

SRC = os.environ["LF_SOURCE_ROOT"]
K8S = os.path.join(SRC, "packaging", "kubernetes")
AGENT = os.environ["LOGFERRY"]
STORE = os.environ["LOGFERRY_STORE"]
NS = "logging"
KUBECTL = os.environ.get("LF_KUBECTL") or shutil.which("kubectl")
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PriorityClass"}


def kustomizations():
    """The base (packaging/kubernetes) and every overlay under overlays/."""
    out = [("base", K8S)]
    ov = os.path.join(K8S, "overlays")
    for name in sorted(os.listdir(ov)):
        if os.path.exists(os.path.join(ov, name, "kustomization.yaml")):
            out.append((name, os.path.join(ov, name)))
    return out


def render(path):
    r = subprocess.run([KUBECTL, "kustomize", path], capture_output=True, text=True,
                       timeout=120)
    check(r.returncode == 0, "kubectl kustomize %s failed: %s" % (path, r.stderr))
    objs = [o for o in yaml.safe_load_all(r.stdout) if o]
    check(objs, "kubectl kustomize %s rendered nothing" % path)
    return objs


def index(objs):
    by = {}
    for o in objs:
        for f in ("apiVersion", "kind", "metadata"):
            check(f in o, "object without %s: %r" % (f, o))
        name = o["metadata"].get("name")
        check(name, "%s without metadata.name" % o["kind"])
        if o["kind"] not in CLUSTER_SCOPED:
            check(o["metadata"].get("namespace") == NS,
                  "%s/%s: namespace %r, want %s" % (o["kind"], name,
                                                    o["metadata"].get("namespace"), NS))
        key = (o["kind"], name)
        check(key not in by, "duplicate %s/%s" % key)
        by[key] = o
    check(("Namespace", NS) in by, "no Namespace %s" % NS)
    return by


def one(by, kind):
    objs = [o for (k, _), o in by.items() if k == kind]
    check(len(objs) == 1, "want one %s, have %d" % (kind, len(objs)))
    return objs[0]


def matches(selector, labels, what):
    check(selector, "%s: empty selector" % what)
    for k, v in selector.items():
        check(labels.get(k) == v, "%s: selector %s=%s does not match labels %r"
              % (what, k, v, labels))


def check_pod(by, kind, o):
    """What a workload's pod template needs: selector, image, /ready probe on
    a declared port, mounts of declared volumes, ConfigMaps that exist."""
    name = "%s/%s" % (kind, o["metadata"]["name"])
    spec = o["spec"]
    tmpl = spec["template"]
    matches(spec["selector"]["matchLabels"], tmpl["metadata"]["labels"], name)
    pod = tmpl["spec"]
    check(len(pod["containers"]) == 1, "%s: want one container" % name)
    c = pod["containers"][0]
    check(c.get("image"), "%s: no image" % name)
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    for probe in ("readinessProbe", "livenessProbe"):
        hg = c.get(probe, {}).get("httpGet")
        check(hg and hg.get("path") == "/ready", "%s: %s is not GET /ready" % (name, probe))
        check(hg["port"] in ports or hg["port"] in ports.values(),
              "%s: %s port %r is not a container port %r" % (name, probe, hg["port"], ports))
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    claims = {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
    mounts = {}
    for m in c.get("volumeMounts", []):
        check(m["name"] in vols or m["name"] in claims,
              "%s: mount %s of undeclared volume %s" % (name, m["mountPath"], m["name"]))
        mounts[m["mountPath"]] = m
    for v in vols.values():
        if "configMap" in v:
            cm = by.get(("ConfigMap", v["configMap"]["name"]))
            check(cm and "config.yaml" in cm.get("data", {}),
                  "%s: ConfigMap %s (with config.yaml) missing" % (name, v["configMap"]["name"]))
    sc = c.get("securityContext", {})
    check(sc.get("readOnlyRootFilesystem") is True, "%s: root filesystem not read-only" % name)
    check(sc.get("allowPrivilegeEscalation") is False, "%s: privilege escalation allowed" % name)
    check(pod.get("securityContext", {}).get("seccompProfile", {}).get("type") == "RuntimeDefault",
          "%s: no RuntimeDefault seccomp profile" % name)
    return pod, c, vols, mounts, ports


def check_agent(by):
    ds = one(by, "DaemonSet")
    pod, c, vols, mounts, _ = check_pod(by, "DaemonSet", ds)
    sa = pod.get("serviceAccountName")
    check(("ServiceAccount", sa) in by, "DaemonSet: ServiceAccount %s missing" % sa)
    crb = one(by, "ClusterRoleBinding")
    check(("ClusterRole", crb["roleRef"]["name"]) in by, "ClusterRoleBinding: role missing")
    check({"kind": "ServiceAccount", "name": sa, "namespace": NS} in crb["subjects"],
          "ClusterRoleBinding does not bind ServiceAccount %s" % sa)
    rules = by[("ClusterRole", crb["roleRef"]["name"])]["rules"]
    check(any("nodes/proxy" in r["resources"] and "get" in r["verbs"] for r in rules),
          "ClusterRole: no get on nodes/proxy (kubelet source)")
    # Root, every capability dropped but DAC_READ_SEARCH.
    check(pod["securityContext"].get("runAsUser") == 0, "agent: not uid 0")
    caps = c["securityContext"]["capabilities"]
    check(caps.get("drop") == ["ALL"] and caps.get("add") == ["DAC_READ_SEARCH"],
          "agent: capabilities %r, want drop ALL add DAC_READ_SEARCH" % caps)
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
           for e in c.get("env", [])}
    check(env.get("HOSTNAME") == "spec.nodeName", "agent: HOSTNAME not from spec.nodeName")
    # The logs and the positions directory are on the host.
    for path in ("/var/log/pods", "/var/log/containers"):
        m = [p for p in mounts if path == p or path.startswith(p.rstrip("/") + "/")]
        check(m, "agent: %s not mounted" % path)
        v = vols[mounts[m[0]]["name"]]
        check("hostPath" in v, "agent: %s not from the host" % path)
        check(mounts[m[0]].get("readOnly") is True, "agent: %s mounted read-write" % path)
    return ds, c, vols, mounts


def check_store(by):
    sts = one(by, "StatefulSet")
    pod, c, vols, mounts, ports = check_pod(by, "StatefulSet", sts)
    spec = sts["spec"]
    check(spec.get("replicas") == 1, "store: replicas %r, want 1" % spec.get("replicas"))
    psc = pod["securityContext"]
    check(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) != 0,
          "store: not a non-root user: %r" % psc)
    check(psc.get("fsGroup") == psc.get("runAsGroup"), "store: fsGroup is not its group")
    check(c["securityContext"]["capabilities"].get("drop") == ["ALL"], "store: capabilities kept")
    # Data on a claim, mounted at the config's path_prefix.
    claims = {t["metadata"]["name"]: t for t in spec["volumeClaimTemplates"]}
    data = [p for p, m in mounts.items() if m["name"] in claims]
    check(len(data) == 1, "store: want one claim mounted, have %r" % data)
    t = claims[mounts[data[0]]["name"]]
    check(t["spec"].get("accessModes") == ["ReadWriteOnce"]
          and t["spec"]["resources"]["requests"].get("storage"), "store: claim incomplete")
    # Services: the governing one is headless; both select the pod, on a named port.
    labels = spec["template"]["metadata"]["labels"]
    gov = by.get(("Service", spec["serviceName"]))
    check(gov and gov["spec"].get("clusterIP") == "None",
          "store: serviceName %s is not a headless Service" % spec["serviceName"])
    svcs = [o for (k, _), o in by.items() if k == "Service"]
    for s in svcs:
        matches(s["spec"]["selector"], labels, "Service/" + s["metadata"]["name"])
        for p in s["spec"]["ports"]:
            check(p["targetPort"] in ports, "Service/%s: targetPort %r not a container port"
                  % (s["metadata"]["name"], p["targetPort"]))
    pdb = one(by, "PodDisruptionBudget")
    matches(pdb["spec"]["selector"]["matchLabels"], labels, "PodDisruptionBudget")
    check("maxUnavailable" in pdb["spec"] or "minAvailable" in pdb["spec"], "PDB: no budget")
    return sts, c, mounts, svcs


def check_configs(by, ds_c, store_c, store_mounts, svcs, tmp):
    """The rendered configs load in the real binaries; the agent ships to the
    store's Service; the store writes where its claim is mounted."""
    def cm_of(container, mount_dir):
        arg = [a for a in container["args"] if a.startswith("-config.file=")]
        check(arg, "%s: no -config.file" % container["name"])
        path = arg[0].split("=", 1)[1]
        check(os.path.dirname(path) == mount_dir, "%s: config %s not under %s"
              % (container["name"], path, mount_dir))
        return path

    ds = one(by, "DaemonSet")
    agent_cfg_path = cm_of(ds_c, "/etc/logferry")
    agent_cm = [v["configMap"]["name"] for v in ds["spec"]["template"]["spec"]["volumes"]
                if "configMap" in v][0]
    agent_text = by[("ConfigMap", agent_cm)]["data"][os.path.basename(agent_cfg_path)]
    sts = one(by, "StatefulSet")
    store_cfg_path = cm_of(store_c, "/etc/logferry-store")
    store_cm = [v["configMap"]["name"] for v in sts["spec"]["template"]["spec"]["volumes"]
                if "configMap" in v][0]
    store_text = by[("ConfigMap", store_cm)]["data"][os.path.basename(store_cfg_path)]

    af = os.path.join(tmp, "agent.yaml")
    sf = os.path.join(tmp, "store.yaml")
    open(af, "w").write(agent_text)
    open(sf, "w").write(store_text)
    env = dict(os.environ, HOSTNAME="node-1", NODE_IP="10.0.0.1")
    r = subprocess.run([AGENT, "-check-syntax", "-config.file=" + af, "-config.expand-env=true"],
                       capture_output=True, text=True, env=env, timeout=60)
    check(r.returncode == 0, "agent config fails -check-syntax: %s %s" % (r.stdout, r.stderr))
    r = subprocess.run([STORE, "-check-syntax", "-config.file=" + sf, "-config.expand-env=true"],
                       capture_output=True, text=True, env=env, timeout=60)
    check(r.returncode == 0, "store config fails -check-syntax: %s %s" % (r.stdout, r.stderr))

    acfg = yaml.safe_load(agent_text)
    scfg = yaml.safe_load(store_text)
    port = scfg["server"]["http_listen_port"]
    svc = by[("Service", "logferry-store")]
    check(any(p["port"] == port for p in svc["spec"]["ports"]),
          "store Service does not expose the config's port %d" % port)
    want = "http://logferry-store.%s.svc:%d/loki/api/v1/push" % (NS, port)
    urls = [c["url"] for c in acfg["clients"]]
    check(urls == [want], "agent clients %r, want the store Service %s" % (urls, want))
    check(acfg["positions"]["filename"].startswith("/var/lib/logferry/"),
          "agent positions not in /var/lib/logferry")
    check(scfg["common"]["path_prefix"] in store_mounts,
          "store path_prefix %s is not its data mount %r"
          % (scfg["common"]["path_prefix"], sorted(store_mounts)))
    jobs = [j["job_name"] for j in acfg["scrape_configs"]]
    check("kubernetes-pods" in jobs, "agent: no kubernetes-pods job in %r" % jobs)


def check_eks(by, ds_c, ds_vols, ds_mounts):
    pod = one(by, "DaemonSet")["spec"]["template"]["spec"]
    check(pod.get("priorityClassName") == "system-node-critical",
          "eks: agent priority %r" % pod.get("priorityClassName"))
    check({"operator": "Exists"} in pod.get("tolerations", []),
          "eks: agent does not tolerate every taint: %r" % pod.get("tolerations"))
    for path in ("/var/log/pods", "/var/log/containers", "/var/lib/logferry"):
        m = ds_mounts.get(path)
        check(m, "eks: no mount at %s (have %r)" % (path, sorted(ds_mounts)))
        check(ds_vols[m["name"]].get("hostPath", {}).get("path") == path,
              "eks: %s is not hostPath %s" % (m["name"], path))
    check("/var/log" not in ds_mounts, "eks: the whole /var/log is still mounted")
    sts_c = one(by, "StatefulSet")["spec"]["template"]["spec"]["containers"][0]
    for c in (ds_c, sts_c):
        res = c.get("resources", {})
        for part in ("requests", "limits"):
            for r in ("cpu", "memory"):
                check(res.get(part, {}).get(r), "eks: %s has no %s.%s" % (c["name"], part, r))


def test_base_lists_both_parts():
    """base/kustomization.yaml lists files (kustomize 2.0 takes directories
    only as `bases`): the same files as the agent/ and store/ parts."""
    base = os.path.join(K8S, "base")
    want = ["namespace.yaml"]
    for part in ("agent", "store"):
        k = yaml.safe_load(open(os.path.join(base, part, "kustomization.yaml")))
        want += [part + "/" + r for r in k["resources"]]
    got = yaml.safe_load(open(os.path.join(base, "kustomization.yaml")))["resources"]
    check(got == want, "base resources %r, want those of namespace + agent/ + store/ %r"
          % (got, want))


def test_render_every_kustomization():
    tmp = tempfile.mkdtemp(prefix="lf-kustomize-")
    try:
        seen = []
        for name, path in kustomizations():
            by = index(render(path))
            ds, ds_c, ds_vols, ds_mounts = check_agent(by)
            sts, sts_c, sts_mounts, svcs = check_store(by)
            check_configs(by, ds_c, sts_c, sts_mounts, svcs, tmp)
            if name == "eks":
                check_eks(by, ds_c, ds_vols, ds_mounts)
            seen.append(name)
        check("eks" in seen, "no eks overlay among %r" % seen)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if not KUBECTL:
        print("SKIP: kubectl not found: install Debian's kubernetes-client "
              "(scripts/deps.sh does) or another kubectl to render the manifests")
        sys.exit(77)
    print("  %s" % subprocess.run([KUBECTL, "version", "--client"], capture_output=True,
                                   text=True).stdout.strip().splitlines()[0][:120])
    main([test_base_lists_both_parts, test_render_every_kustomization])
