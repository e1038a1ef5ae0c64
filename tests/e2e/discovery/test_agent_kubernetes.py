"""The logferry agent with the Helm chart's kubernetes-pods job, a fake
kubelet and the test receiver: pushed streams carry exactly the labels
Promtail would give (plus filename), from the kubelet while it answers and
from the file names while it is down. Also: the shipped Kubernetes
ConfigMap's config passes -check-syntax."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.environ["LF_E2E_LIB"])
sys.path.insert(0, os.environ["LF_RECEIVER_LIB"])
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lfe2e import Env, check, main  # noqa: E402
from lfreceiver import Receiver  # noqa: E402
from fake_kubelet import FakeKubelet  # noqa: E402
from test_discovery_kubelet import (WEB, API, WEB_LABELS, TOKEN, web_pod,  # noqa: E402
                                    file_labels, write_log)

LOGFERRY = os.environ["LOGFERRY"]
RECEIVER = os.environ["LF_TEST_RECEIVER"]
HELM_JOB = os.environ["HELM_JOB"]
CONFIGMAP = os.environ["K8S_CONFIGMAP"]

LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_labels(s):
    return dict(LABEL_RE.findall(s))


def agent_config(env, kubelet, token_file, receiver):
    with open(HELM_JOB) as f:
        job = f.read()
    job = job.replace("kubernetes_sd_configs:\n  - role: pod\n",
                      "kubernetes_sd_configs:\n"
                      "  - role: pod\n"
                      "    kubelet_url: https://127.0.0.1:%d\n"
                      "    bearer_token_file: %s\n"
                      "    tls_config: {ca_file: %s}\n" % (kubelet.port, token_file,
                                                          kubelet.ca_file))
    jobs = "".join("    " + ln + "\n" for ln in job.splitlines() if ln.strip())
    jobs = jobs.replace("    job_name:", "  - job_name:", 1)
    return ("server:\n  http_listen_port: %d\n  http_listen_address: 127.0.0.1\n"
            "positions:\n  filename: %s\n"
            "clients:\n  - url: %s\n    batchwait: 100ms\n"
            "target_config:\n  sync_period: 500ms\n"
            "scrape_configs:\n%s" % (env.free_port(), env.path("positions.yaml"),
                                     receiver.push_url, jobs))


def streams(rx):
    """{filename: (labels without filename, [lines])}."""
    out = {}
    for e in rx.entries():
        ls = parse_labels(e["labels"])
        fn = ls.pop("filename", None)
        out.setdefault(fn, (ls, []))[1].append(e["line"])
    return out


def test_agent_labels_from_kubelet_and_file_names():
    with Env() as env:
        kubelet = FakeKubelet(env.dir, TOKEN)
        kubelet.set_pods([web_pod()])
        kubelet.start()
        token_file = env.write("token", TOKEN + "\n")
        rx = Receiver(env, RECEIVER)
        web0 = write_log(env, WEB, "web", 0)
        cfg = env.write("agent.yaml", agent_config(env, kubelet, token_file, rx))
        env.spawn([LOGFERRY, "-config.file=" + cfg, "-config.expand-env=true",
                   "-discovery.hostname=node-a",
                   "-discovery.pods-dir=" + env.path("var", "log", "pods"),
                   "-discovery.containers-dir=" + env.path("var", "log", "containers")],
                  name="agent", env={"LF_TEST_ROOT": env.dir})

        # The cri stage adds `stream`; discovery gives the rest. The agent
        # waits for the kubelet's first answer before its first sync, so even
        # the lines already on disk go out with the kubelet's labels.
        want_web = dict(WEB_LABELS, stream="stdout")

        def web_arrived():
            s = streams(rx).get(web0)
            return s and "hello" in s[1]
        env.wait_until(web_arrived, what="web stream")
        check(streams(rx)[web0][0] == want_web, "web labels: %s" % streams(rx)[web0][0])

        # Kubelet down: a new pod is shipped with labels from its file names.
        kubelet.stop()
        api0 = write_log(env, API, "api", 0)
        env.wait_until(lambda: streams(rx).get(api0), what="api stream while kubelet down")
        got = streams(rx)[api0][0]
        check(got == dict(file_labels(API, "api"), stream="stdout"),
              "file-name labels: %s" % got)
        with open(web0, "a") as f:
            f.write("2026-11-21T18:00:01.000000000Z stdout F again\n")
        env.wait_until(lambda: "again" in streams(rx)[web0][1], what="web goes on")
        check(streams(rx)[web0][0] == want_web, "web keeps its kubelet labels")
        check(set(streams(rx)) == {web0, api0}, "streams: %s" % list(streams(rx)))


def test_packaged_config_is_valid():
    """The config embedded in packaging/kubernetes/base/agent/configmap.yaml loads."""
    with Env() as env:
        with open(CONFIGMAP) as f:
            lines = f.read().splitlines()
        start = lines.index("  config.yaml: |") + 1
        body = []
        for ln in lines[start:]:
            if ln.strip() and not ln.startswith("    "):
                break
            body.append(ln[4:])
        cfg = env.write("config.yaml", "\n".join(body) + "\n")
        p = subprocess.run([LOGFERRY, "-config.file=" + cfg, "-config.expand-env=true",
                            "-check-syntax"], capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, "check-syntax failed: %s %s" % (p.stdout, p.stderr))


if __name__ == "__main__":
    main([test_agent_labels_from_kubelet_and_file_names, test_packaged_config_is_valid])
