"""Discovery against a fake kubelet (HTTPS, bearer token) and a temporary
/var/log/pods + /var/log/containers tree, through the discovery_dump
program: exact label sets from the Promtail Helm chart's kubernetes-pods
job while pods appear, restart, end, while the kubelet goes down and comes
back, and with a wrong token."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.environ["LF_E2E_LIB"])
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lfe2e import Env, check, main  # noqa: E402
from fake_kubelet import FakeKubelet, make_pod, container_id  # noqa: E402

DUMP = os.environ.get("DISCOVERY_DUMP", "")  # optional: test_agent_kubernetes imports this
HELM_JOB = os.environ["HELM_JOB"]
TOKEN = "s3cr3t-token"

WEB = ("shop", "web-5f7c9d8b6-abcde", "0e1f2a3b-0000-4000-8000-00000000000a")
DB = ("data", "db-0", "0e1f2a3b-0000-4000-8000-00000000000b")
API = ("shop", "api-7b8c9d0e1-fghij", "0e1f2a3b-0000-4000-8000-00000000000c")


def web_pod(restarts=0):
    return make_pod(*WEB, ["web"], labels={"app.kubernetes.io/name": "web",
                                            "pod-template-hash": "5f7c9d8b6"},
                    owner=("ReplicaSet", "web-5f7c9d8b6"), restarts={"web": restarts})


def db_pod():
    return make_pod(*DB, ["postgres"], labels={"app": "postgres"},
                    owner=("StatefulSet", "db"))


def api_pod():
    return make_pod(*API, ["api"], labels={"app.kubernetes.io/name": "api",
                                            "app.kubernetes.io/instance": "shop-api"},
                    owner=("ReplicaSet", "api-7b8c9d0e1"))


# What the Helm chart's relabel_configs make of them (kubelet labels) ...
WEB_LABELS = {"app": "web", "container": "web", "job": "shop/web", "namespace": "shop",
              "node_name": "node-a", "pod": WEB[1]}
DB_LABELS = {"app": "postgres", "container": "postgres", "job": "data/postgres",
             "namespace": "data", "node_name": "node-a", "pod": "db-0"}
API_LABELS = {"app": "api", "container": "api", "instance": "shop-api", "job": "shop/api",
              "namespace": "shop", "node_name": "node-a", "pod": API[1]}


# ... and of a pod known only by its file names: no pod labels, no
# controller, so app falls back to the pod name.
def file_labels(pod, container):
    ns, name, _ = pod
    return {"app": name, "container": container, "job": ns + "/" + name, "namespace": ns,
            "node_name": "node-a", "pod": name}


def pod_dir(env, pod):
    ns, name, uid = pod
    return env.path("var", "log", "pods", "%s_%s_%s" % (ns, name, uid))


def write_log(env, pod, container, restart, link=True):
    """Creates <pod dir>/<container>/<restart>.log and its
    /var/log/containers symlink, as the kubelet does."""
    d = os.path.join(pod_dir(env, pod), container)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "%d.log" % restart)
    with open(path, "a") as f:
        f.write("2026-11-21T18:00:00.000000000Z stdout F hello\n")
    if link:
        cdir = env.path("var", "log", "containers")
        os.makedirs(cdir, exist_ok=True)
        lname = "%s_%s_%s-%s.log" % (pod[1], pod[0], container,
                                      container_id("%x" % (restart + 10)))
        lpath = os.path.join(cdir, lname)
        if not os.path.islink(lpath):
            os.symlink(path, lpath)
    return path


def remove_pod_dir(env, pod):
    import shutil
    shutil.rmtree(pod_dir(env, pod))
    cdir = env.path("var", "log", "containers")
    for n in os.listdir(cdir):
        if n.startswith(pod[1] + "_" + pod[0] + "_"):
            os.unlink(os.path.join(cdir, n))


class Dump:
    """discovery_dump running against env's tree; .state() is the last JSON."""

    def __init__(self, env, kubelet, token_file, extra_sd="", sd=None):
        with open(HELM_JOB) as f:
            job = f.read()
        if sd is None:
            sd = ("kubernetes_sd_configs:\n"
                  "  - role: pod\n"
                  "    kubelet_url: https://127.0.0.1:%d\n"
                  "    bearer_token_file: %s\n"
                  "    tls_config:\n"
                  "      ca_file: %s\n"
                  "      server_name: node-a\n%s" % (kubelet.port, token_file,
                                                      kubelet.ca_file, extra_sd))
        job = job.replace("kubernetes_sd_configs:\n  - role: pod\n", sd)
        check("role: pod\n    " in job, "helm job fixture layout changed")
        cfg = "scrape_configs:\n" + "".join("  " + line + "\n" if line else "\n"
                                              for line in job.splitlines())
        cfg = cfg.replace("  job_name:", "- job_name:", 1)
        path = env.write("dump.yaml", cfg)
        self.env = env
        self.out = env.path("dump.stdout")
        self.proc = env.spawn([DUMP, "-config.file=" + path,
                               "-pods-dir=" + env.path("var", "log", "pods"),
                               "-containers-dir=" + env.path("var", "log", "containers"),
                               "-hostname=node-a", "-sync-period-ms=300"],
                              name="dump", env={"LF_TEST_ROOT": env.dir},
                              stdin=subprocess.PIPE)

    def state(self):
        check(self.proc.poll() is None, "discovery_dump exited: " + self.env.log_of("dump"))
        try:
            with open(self.out) as f:
                lines = [ln for ln in f.read().splitlines() if ln.strip()]
        except FileNotFoundError:
            return None
        return json.loads(lines[-1]) if lines else None

    def targets(self):
        """{path relative to the temp dir: labels}."""
        s = self.state()
        if s is None:
            return None
        return {os.path.relpath(t["path"], self.env.dir): t["labels"] for t in s["targets"]}

    def wait_targets(self, want, what):
        def ok():
            return self.targets() == want
        try:
            self.env.wait_until(ok, what=what)
        except AssertionError:
            raise AssertionError("%s\nlast targets: %s\nwant: %s" % (
                what, json.dumps(self.targets(), indent=1, sort_keys=True),
                json.dumps(want, indent=1, sort_keys=True)))

    def close(self):
        """Stops discovery_dump (stdin EOF) and checks it exited cleanly
        (under ASan that includes no leaks)."""
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=60)
        check(rc == 0, "discovery_dump exit status %d:\n%s" % (rc, self.env.log_of("dump")))


def rel(env, path):
    return os.path.relpath(path, env.dir)


def setup(env, pods, token=TOKEN):
    kubelet = FakeKubelet(env.dir, TOKEN)
    kubelet.set_pods(pods)
    kubelet.start()
    token_file = env.write("token", token + "\n")
    return kubelet, token_file


def test_pods_lifecycle():
    with Env() as env:
        kubelet, token_file = setup(env, [web_pod()])
        web0 = rel(env, write_log(env, WEB, "web", 0))
        os.makedirs(env.path("var", "log", "containers"), exist_ok=True)
        dump = Dump(env, kubelet, token_file)
        dump.wait_targets({web0: WEB_LABELS}, "web pod with kubelet labels")

        # A pod appears: kubelet lists it, its log directory is created.
        kubelet.set_pods([web_pod(), db_pod()])
        db0 = rel(env, write_log(env, DB, "postgres", 0))
        dump.wait_targets({web0: WEB_LABELS, db0: DB_LABELS}, "db pod added")

        # The web container restarts: a new <restart>.log, same labels.
        kubelet.set_pods([web_pod(restarts=1), db_pod()])
        web1 = rel(env, write_log(env, WEB, "web", 1))
        dump.wait_targets({web0: WEB_LABELS, web1: WEB_LABELS, db0: DB_LABELS},
                          "web restarted")

        # The db pod ends: gone from the PodList, but its files are still
        # on disk, so its target stays (with its labels) until they go.
        kubelet.set_pods([web_pod(restarts=1)])
        before, _ = kubelet.counts()
        env.wait_until(lambda: kubelet.counts()[0] >= before + 3, what="3 more polls")
        check(dump.targets() == {web0: WEB_LABELS, web1: WEB_LABELS, db0: DB_LABELS},
              "db target kept while its files exist: %s" % dump.targets())
        remove_pod_dir(env, DB)
        dump.wait_targets({web0: WEB_LABELS, web1: WEB_LABELS}, "db files removed")

        # Polling stays near one request per sync period (300 ms here).
        dump.close()
        kubelet.stop()


def test_kubelet_down_and_back():
    with Env() as env:
        kubelet, token_file = setup(env, [web_pod()])
        web0 = rel(env, write_log(env, WEB, "web", 0))
        dump = Dump(env, kubelet, token_file)
        dump.wait_targets({web0: WEB_LABELS}, "web pod with kubelet labels")

        kubelet.stop()
        env.wait_until(lambda: dump.state()["kubelet"]["up"] == 0, what="kubelet seen down")
        # Known pods keep their labels; a new pod gets labels from file names.
        api0 = rel(env, write_log(env, API, "api", 0))
        dump.wait_targets({web0: WEB_LABELS, api0: file_labels(API, "api")},
                          "new pod labelled from file names while the kubelet is down")

        kubelet.set_pods([web_pod(), api_pod()])
        kubelet.start()
        dump.wait_targets({web0: WEB_LABELS, api0: API_LABELS},
                          "kubelet back: new pod gets kubelet labels")
        check(dump.state()["kubelet"]["up"] == 1, "kubelet up again")
        dump.close()
        kubelet.stop()
        log = env.log_of("dump")
        # One warning per state change (down once), not one per retry.
        n = log.count("kubelet unavailable")
        check(n == 1, "expected 1 'kubelet unavailable' warning, got %d:\n%s" % (n, log))


def test_wrong_token():
    with Env() as env:
        kubelet, token_file = setup(env, [web_pod()], token="wrong")
        web0 = rel(env, write_log(env, WEB, "web", 0))
        dump = Dump(env, kubelet, token_file)
        # Rejected: tailing goes on with file-name labels.
        dump.wait_targets({web0: file_labels(WEB, "web")}, "file-name labels on 401")
        env.wait_until(lambda: kubelet.counts()[1] >= 3, what="3 rejected requests")
        log = env.log_of("dump")
        check(log.count("HTTP 401") == 1, "401 logged once:\n" + log)
        # The token file is re-read when it changes (projected tokens rotate).
        with open(token_file + ".new", "w") as f:
            f.write(TOKEN + "\n")
        os.rename(token_file + ".new", token_file)
        dump.wait_targets({web0: WEB_LABELS}, "kubelet labels after the token was fixed")
        dump.close()
        kubelet.stop()


def test_namespaces_filter():
    with Env() as env:
        kubelet, token_file = setup(env, [web_pod(), db_pod()])
        rel(env, write_log(env, WEB, "web", 0))
        db0 = rel(env, write_log(env, DB, "postgres", 0))
        dump = Dump(env, kubelet, token_file, extra_sd="    namespaces:\n      names: [data]\n")
        dump.wait_targets({db0: DB_LABELS}, "only namespace data")
        dump.close()
        kubelet.stop()


if __name__ == "__main__":
    main([test_pods_lifecycle, test_kubelet_down_and_back, test_wrong_token,
          test_namespaces_filter])
