"""The agent's status pages in a real browser (headless Chromium, driven
with --dump-dom and --screenshot): /service-discovery marks a target that
relabeling dropped (with its discovered labels and the rule index), /targets
lists only the kept one, /config hides the basic_auth password; the same
with a kubelet job (fake kubelet) where a `keep` rule on the namespace drops
a pod. A label value holding <script> stays text. Screenshots of the main
pages are saved under $LF_ARTIFACTS (the build dir)."""
import html.parser
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "discovery"))
from agentlib import Agent, Receiver, Env, check, main, get, http  # noqa: E402
from fake_kubelet import FakeKubelet, make_pod  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = os.environ.get("LF_ARTIFACTS", "")
HELM_JOB = os.environ["HELM_JOB"]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1280,900"]


def chromium(env, url, screenshot=None):
    """Loads url in a fresh headless Chromium; returns the DOM as serialized
    after parsing (or writes a PNG when screenshot is a path)."""
    check(os.access(CHROMIUM, os.X_OK), "chromium not installed at %s (scripts/deps.sh)"
          % CHROMIUM)
    prof = tempfile.mkdtemp(prefix="chromium-", dir=env.dir)
    argv = [CHROMIUM] + FLAGS + ["--user-data-dir=" + prof]
    argv += ["--screenshot=" + screenshot] if screenshot else ["--dump-dom"]
    p = subprocess.run(argv + [url], capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, "chromium %s: rc %s %s" % (url, p.returncode, p.stderr[-2000:]))
    if screenshot:
        check(os.path.getsize(screenshot) > 1000, "screenshot %s is empty" % screenshot)
        return None
    check("<html" in p.stdout, "chromium gave no DOM for %s: %r" % (url, p.stdout[:300]))
    return p.stdout


def shoot(env, url, name):
    if not ARTIFACTS:
        return
    os.makedirs(ARTIFACTS, exist_ok=True)
    chromium(env, url, os.path.join(ARTIFACTS, name + ".png"))


class Dom(html.parser.HTMLParser):
    """What the tests look at in a DOM: the table rows (class + cell
    texts), the headings, every element name, the whole text."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.rows, self.heads, self.tags, self.text = [], [], [], []
        self._row = self._cell = self._head = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self._row = {"class": dict(attrs).get("class") or "", "cells": []}
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "h2":
            self._head = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row["cells"].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        elif tag == "h2" and self._head is not None:
            self.heads.append("".join(self._head).strip())
            self._head = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._head is not None:
            self._head.append(data)

    def all_text(self):
        return "".join(self.text)


def page(env, ag, path):
    return Dom(chromium(env, ag.url(path)))


EVIL = "<script>document.title='pwned'</script>"


def test_static_job():
    with Env() as env:
        rx = Receiver(env)
        logs = env.path("logs")
        os.makedirs(logs)
        keep = env.write("logs/keep.log", "kept line\n")
        gone = env.write("logs/gone.log", "dropped line\n")
        pipe = env.path("logs", "pipe.log")  # a FIFO: an unreadable target with an error
        os.mkfifo(pipe)
        scrape = ("scrape_configs:\n"
                  "  - job_name: files\n"
                  "    static_configs:\n"
                  "      - targets: [localhost]\n"
                  "        labels: {app: keep, __path__: %s, evil: \"%s\"}\n"
                  "      - targets: [localhost]\n"
                  "        labels: {app: gone, __path__: %s}\n"
                  "      - targets: [localhost]\n"
                  "        labels: {app: pipe, __path__: %s}\n"
                  "    relabel_configs:\n"
                  "      - {source_labels: [app], target_label: team, replacement: core}\n"
                  "      - {source_labels: [app], regex: gone, action: drop}\n"
                  % (keep, EVIL, gone, pipe))
        ag = Agent(env, rx, scrape=scrape, start=False,
                   client_extra="basic_auth: {username: bob, password: Hunter2-PW}")
        with open(ag.config) as f:
            cfgtext = f.read().replace("server:\n", "server:\n  enable_runtime_reload: true\n", 1)
        env.write(os.path.basename(ag.config), cfgtext)
        ag.start()
        env.wait_until(lambda: any(e["line"] == "kept line" for e in rx.entries()),
                       what="kept target shipped")

        # tools still get the JSON of /targets, unchanged
        st, body = http("GET", ag.url("/targets"), headers={"Accept": "application/json"})
        check(st == 200, "/targets json: %s" % st)
        js = json.loads(body)
        check(sorted(t["path"] for t in js["targets"]) == [keep, pipe], "json targets: %s" % js)
        check([t["labels"]["evil"] for t in js["targets"] if t["path"] == keep] == [EVIL],
              "json label value")
        check(all(set(t) == {"job", "path", "labels", "state", "offset", "acked_offset", "size",
                             "lines", "inflight", "polled", "error"} for t in js["targets"]),
              "json fields unchanged: %s" % js)
        st, body = get(ag.url("/targets?format=json"))
        check(json.loads(body) == json.loads(get(ag.url("/targets"))[1]), "?format=json")

        sd = page(env, ag, "/service-discovery")
        check("script" not in sd.tags, "a <script> element made it into the DOM")
        check("files (2/3 active targets)" in sd.heads, "sd heading: %s" % sd.heads)
        data = [r for r in sd.rows if len(r["cells"]) == 2 and "__address__" in r["cells"][0]]
        dropped = [r for r in data if r["class"] == "drop"]
        check(len(dropped) == 1, "one dropped row: %s" % data)
        d = dropped[0]["cells"]
        check('app="gone"' in d[0] and '__path__="%s"' % gone in d[0], "discovered: %s" % d)
        check("Dropped by relabel_configs[1]" in d[1], "verdict: %s" % d[1])
        kept = [r for r in data if r["class"] != "drop" and 'app="keep"' in r["cells"][0]]
        check(len(kept) == 1 and len(data) == 3, "kept rows: %s" % data)
        k = kept[0]["cells"]
        check('evil="%s"' % EVIL in k[0], "the <script> value is shown as text: %s" % k[0])
        check('team="core"' in k[1] and "team" not in k[0], "target labels: %s" % k)

        tg = page(env, ag, "/targets")
        check("script" not in tg.tags, "no <script> on /targets")
        check("files (1/2 ready)" in tg.heads, "targets heading: %s" % tg.heads)
        paths = [r["cells"][0] for r in tg.rows if r["cells"] and r["cells"][0].startswith("/")]
        check(paths == [keep, pipe], "/targets shows only the kept files: %s" % paths)
        check('evil="%s"' % EVIL in tg.all_text(), "label as text on /targets")
        # the filter form (GET) and "only unready"
        f = page(env, ag, "/targets?search=app%3D%22keep%22")
        check([r["cells"][0] for r in f.rows if r["cells"][0].startswith("/")] == [keep],
              "filter keeps the match")
        f = page(env, ag, "/targets?search=nomatch&unready=1")
        check("No target matches the filter." in f.all_text(), "filter excludes")
        # only unready: the FIFO, with its error and since when
        f = page(env, ag, "/targets?unready=1")
        rows = [r["cells"] for r in f.rows if r["cells"] and r["cells"][0].startswith("/")]
        check(len(rows) == 1 and rows[0][0] == pipe and rows[0][1] == "unreadable",
              "only unready: %s" % rows)
        check("not a regular file" in rows[0][-1] and "since 20" in rows[0][-1],
              "last error with its time: %s" % rows[0][-1])

        cf = page(env, ag, "/config")
        txt = cf.all_text()
        check("Hunter2-PW" not in txt, "/config shows the password")
        check('password: "<secret>"' in txt and 'username: "bob"' in txt, "/config: %s" % txt)
        st, body = get(ag.url("/config"))
        check(st == 200 and b"Hunter2-PW" not in body and b"<secret>" in body
              and b"job_name: files" in body, "/config as YAML: %s" % body[:200])

        # navigation: / goes to /targets; the bar links every page
        root = page(env, ag, "/")
        check("files (1/2 ready)" in root.heads, "/ redirects to the targets page")
        for link in ("Targets", "Service Discovery", "Configuration", "Metrics", "Ready"):
            check(link in root.all_text(), "nav link %s" % link)

        shoot(env, ag.url("/targets"), "static-targets")
        shoot(env, ag.url("/service-discovery"), "static-service-discovery")
        shoot(env, ag.url("/config"), "static-config")

        # POST /reload answers with the outcome
        st, body = http("POST", ag.url("/reload"), b"")
        check(st == 200, "reload: %s %r" % (st, body))
        env.write(os.path.basename(ag.config), cfgtext + "bogus_key: 1\n")
        st, body = http("POST", ag.url("/reload"), b"")
        check(st == 500 and b"bogus_key" in body, "bad reload: %s %r" % (st, body))
        env.write(os.path.basename(ag.config), cfgtext)
        st, body = http("POST", ag.url("/reload"), b"")
        check(st == 200, "reload again: %s %r" % (st, body))


def kube_config(env, kubelet, token_file, receiver_url, port):
    with open(HELM_JOB) as f:
        job = f.read()
    job = job.replace("kubernetes_sd_configs:\n  - role: pod\n",
                      "kubernetes_sd_configs:\n"
                      "  - role: pod\n"
                      "    kubelet_url: https://127.0.0.1:%d\n"
                      "    bearer_token_file: %s\n"
                      "    tls_config: {ca_file: %s}\n" % (kubelet.port, token_file,
                                                          kubelet.ca_file))
    # rule 0: keep only namespace shop
    job = job.replace("relabel_configs:\n",
                      "relabel_configs:\n"
                      "  - source_labels: [__meta_kubernetes_namespace]\n"
                      "    regex: shop\n"
                      "    action: keep\n", 1)
    jobs = "".join("    " + ln + "\n" for ln in job.splitlines() if ln.strip())
    jobs = jobs.replace("    job_name:", "  - job_name:", 1)
    return ("server:\n  http_listen_port: %d\n  http_listen_address: 127.0.0.1\n"
            "positions:\n  filename: %s\n"
            "clients:\n  - url: %s\n    batchwait: 100ms\n"
            "target_config:\n  sync_period: 500ms\n"
            "scrape_configs:\n%s" % (port, env.path("positions.yaml"), receiver_url, jobs))


def write_pod_log(env, ns, name, uid, container):
    d = env.path("var", "log", "pods", "%s_%s_%s" % (ns, name, uid), container)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "0.log")
    with open(path, "a") as f:
        f.write("2026-11-21T18:00:00.000000000Z stdout F hello from %s\n" % name)
    return path


def test_kubelet_job():
    with Env() as env:
        token = "tok-status"
        kubelet = FakeKubelet(env.dir, token)
        web = ("shop", "web-5f7c9d8b6-abcde", "0e1f2a3b-0000-4000-8000-00000000000a")
        batch = ("other", "batch-1a2b3c-xyz12", "0e1f2a3b-0000-4000-8000-00000000000b")
        side = ("other", "side-9f8e7d-qwe34", "0e1f2a3b-0000-4000-8000-00000000000d")
        kubelet.set_pods([
            make_pod(*web, ["web"], labels={"app.kubernetes.io/name": "web"}),
            make_pod(*batch, ["batch", "sidecar"], labels={"app": "batch"}),
            make_pod(*side, ["side"], labels={"app": "side"}),
        ])
        kubelet.start()
        token_file = env.write("token", token + "\n")
        rx = Receiver(env)
        web_log = write_pod_log(env, *web, "web")
        write_pod_log(env, *batch, "batch")
        port = env.free_port()
        cfg = env.write("agent.yaml", kube_config(env, kubelet, token_file, rx.url(), port))
        env.spawn([os.environ["LOGFERRY"], "-config.file=" + cfg, "-config.expand-env=true",
                   "-server.enable-runtime-reload", "-discovery.hostname=node-a",
                   "-discovery.pods-dir=" + env.path("var", "log", "pods"),
                   "-discovery.containers-dir=" + env.path("var", "log", "containers")],
                  name="agent", env={"LF_TEST_ROOT": env.dir})

        class A:
            @staticmethod
            def url(p):
                return "http://127.0.0.1:%d%s" % (port, p)
        env.wait_until(lambda: any("hello from web" in e["line"] for e in rx.entries()),
                       what="web pod shipped")

        st, body = get(A.url("/service-discovery"))
        js = json.loads(body)
        job = js["jobs"][0]
        check(job["job"] == "kubernetes-pods" and job["total"] == 4 and job["active"] == 1,
              "sd json counts: %s" % {k: job[k] for k in ("job", "active", "total")})
        drops = [t for t in job["targets"] if t["state"] == "dropped"]
        check(len(drops) == 3 and all(t["dropped_by_rule"] == 0 for t in drops),
              "dropped by rule 0: %s" % drops)
        check({t["discovered_labels"]["__meta_kubernetes_pod_container_name"] for t in drops}
              == {"batch", "sidecar", "side"}, "dropped containers")

        sd = page(env, A, "/service-discovery")
        check("kubernetes-pods (1/4 active targets)" in sd.heads, "heading: %s" % sd.heads)
        dropped = [r for r in sd.rows if r["class"] == "drop"]
        check(len(dropped) == 3, "three dropped rows: %d" % len(dropped))
        for r in dropped:
            check('__meta_kubernetes_namespace="other"' in r["cells"][0]
                  and "Dropped by relabel_configs[0]" in r["cells"][1], "row: %s" % r)
        kept = [r for r in sd.rows if r["class"] == "" and len(r["cells"]) == 2
                and "__meta_kubernetes_namespace" in r["cells"][0]]
        check(len(kept) == 1 and 'namespace="shop"' in kept[0]["cells"][1]
              and 'pod="%s"' % web[1] in kept[0]["cells"][1], "kept row: %s" % kept)

        tg = page(env, A, "/targets")
        paths = [r["cells"][0] for r in tg.rows if r["cells"] and r["cells"][0].startswith("/")]
        check(paths == [web_log], "/targets: only the shop pod's file: %s" % paths)
        row = [r for r in tg.rows if r["cells"] and r["cells"][0] == web_log][0]
        check("shop/" + web[1] in row["cells"], "pod column: %s" % row)

        # Promtail's flag turns POST /reload on; the pages survive a reload
        st, body = http("POST", A.url("/reload"), b"")
        check(st == 200, "reload through -server.enable-runtime-reload: %s %r" % (st, body))
        env.wait_until(lambda: json.loads(get(A.url("/service-discovery"))[1])["jobs"][0]
                       ["total"] == 4, what="discovered targets after the reload")
        st, body = get(A.url("/config"))
        check(b"enable_runtime_reload: true" in body, "flag in /config")

        shoot(env, A.url("/targets"), "kubelet-targets")
        shoot(env, A.url("/service-discovery"), "kubelet-service-discovery")


if __name__ == "__main__":
    main([test_static_job, test_kubelet_job])
