"""agentlib — what the agent's e2e tests share: a push backend (the test
receiver, or logferry-store when it is built), an agent started on a config
written into the test's temp dir, and readers for what arrived.

Every wait goes through Env.wait_until (generous deadlines, no fixed sleeps).
"""
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.environ["LF_E2E_LIB"])
from lfe2e import Env, check, main  # noqa: E402,F401

LOGFERRY = os.environ["LOGFERRY"]
RECEIVER = os.environ.get("LF_TEST_RECEIVER", "")
STORE = os.environ.get("LOGFERRY_STORE", "")


def http(method, url, body=None, headers=None, timeout=30):
    req = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def get(url, timeout=30):
    return http("GET", url, timeout=timeout)


class Receiver:
    """lf-test-receiver on a fixed port (so it can be stopped and started
    again at the same address)."""

    def __init__(self, env, port=None, store=True, name="receiver"):
        self.env = env
        self.name = name
        self.port = port or env.free_port()
        self.out = env.path(name + ".jsonl") if store else None
        self.proc = None
        self.start()

    def start(self):
        argv = [RECEIVER, "-port=%d" % self.port, "-address=127.0.0.1"]
        if self.out:
            argv.append("-out=" + self.out)
        self.proc = self.env.spawn(argv, name=self.name)
        self.env.wait_until(lambda: get(self.url("/ready"), timeout=2)[0] == 200,
                            what="receiver ready")

    def stop(self):
        self.env.stop(self.proc, signal.SIGKILL)

    def url(self, path="/loki/api/v1/push"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def control(self, mode, count=0, delay_ms=0):
        q = "mode=%s" % mode
        if count:
            q += "&count=%d" % count
        if delay_ms:
            q += "&delay_ms=%d" % delay_ms
        st, body = http("POST", self.url("/control?" + q), b"")
        check(st == 200, "receiver control: %s %r" % (st, body))

    def stats(self):
        st, body = get(self.url("/stats"))
        check(st == 200, "receiver stats: %s" % st)
        return json.loads(body)

    def entries(self):
        """Every entry received so far: dicts with labels, ts, line, tenant."""
        if not self.out or not os.path.exists(self.out):
            return []
        res = []
        with open(self.out, "rb") as f:
            for raw in f:
                if raw.endswith(b"\n"):
                    res.append(json.loads(raw))
        return res

    def lines(self):
        return [e["line"] for e in self.entries()]


class Store:
    """logferry-store as the backend; entries are read back with
    query_range over a wide time window."""

    name = "store"

    def __init__(self, env, port=None):
        self.env = env
        self.port = port or env.free_port()
        self.dir = env.path("store-data")
        os.makedirs(self.dir, exist_ok=True)
        self.cfg = env.write("store.yaml",
                             "auth_enabled: false\n"
                             "server:\n  http_listen_address: 127.0.0.1\n"
                             "  http_listen_port: %d\n"
                             "common:\n  path_prefix: %s\n"
                             "limits_config:\n  ingestion_rate_mb: 1000\n"
                             "  ingestion_burst_size_mb: 1000\n"
                             "  per_stream_rate_limit: 1GB\n"
                             "  per_stream_rate_limit_burst: 1GB\n"
                             "  max_entries_limit_per_query: 100000000\n"
                             % (self.port, self.dir))
        self.proc = None
        self.start()

    def start(self):
        self.proc = self.env.spawn([STORE, "-config.file=" + self.cfg], name="store")
        self.env.wait_until(lambda: get(self.url("/ready"), timeout=2)[0] == 200,
                            what="store ready")

    def stop(self):
        self.env.stop(self.proc, signal.SIGKILL)

    def url(self, path="/loki/api/v1/push"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def entries(self, selector='{job=~".+"}'):
        q = urllib.parse.urlencode({"query": selector, "start": "0",
                                    "end": str(4102444800 * 10**9), "limit": "10000000",
                                    "direction": "forward"})
        st, body = get(self.url("/loki/api/v1/query_range?" + q), timeout=60)
        check(st == 200, "store query_range: %s %r" % (st, body[:300]))
        res = []
        for s in json.loads(body)["data"]["result"]:
            lab = s["stream"]
            for ts, line in s["values"]:
                res.append({"labels": lab, "ts": int(ts), "line": line})
        return res

    def lines(self):
        return [e["line"] for e in self.entries()]


def backends():
    """Backend classes to run a no-loss test against: the receiver always,
    logferry-store too when its binary was built."""
    res = [Receiver]
    if STORE and os.path.exists(STORE) and os.environ.get("LF_E2E_NO_STORE") != "1":
        res.append(Store)
    return res


class Agent:
    def __init__(self, env, backend=None, scrape=None, extra="", name="agent", args=(),
                 client_extra="", positions=None, sync_period="1s", http_port=None,
                 start=True):
        self.env = env
        self.name = name
        self.port = http_port if http_port is not None else env.free_port()
        self.positions = positions or env.path("positions.yaml")
        clients = ""
        bes = backend if isinstance(backend, (list, tuple)) else [backend]
        for i, backend in enumerate(b for b in bes if b is not None):
            opts = {"batchwait": "100ms",
                    "backoff_config": "{min_period: 100ms, max_period: 1s, max_retries: 1000}"}
            for l in client_extra.splitlines():
                if l.strip():
                    k, v = l.split(":", 1)
                    opts[k.strip()] = v.strip()
            clients += ("clients:\n" if i == 0 else "") + "  - url: %s\n" % backend.url()
            clients += "".join("    %s: %s\n" % kv for kv in opts.items())
        self.config = env.write(name + ".yaml",
                                "server:\n  http_listen_address: 127.0.0.1\n"
                                "  http_listen_port: %d\n"
                                "  graceful_shutdown_timeout: 30s\n"
                                "positions:\n  filename: %s\n  sync_period: %s\n"
                                "target_config:\n  sync_period: 1s\n"
                                "%s%s%s"
                                % (self.port, self.positions, sync_period, clients,
                                   scrape or "", extra))
        self.args = list(args)
        self.proc = None
        if start:
            self.start()

    def start(self, wait_ready=True):
        self.proc = self.env.spawn([LOGFERRY, "-config.file=" + self.config] + self.args,
                                   name=self.name)
        if wait_ready:
            self.env.wait_until(lambda: self.alive() and
                                get(self.url("/metrics"), timeout=2)[0] == 200,
                                what="agent http up")
        return self

    def alive(self):
        if self.proc.poll() is not None:
            raise AssertionError("agent exited with %s:\n%s" % (self.proc.returncode,
                                                                self.env.log_of(self.name)[-3000:]))
        return True

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def metrics(self):
        st, body = get(self.url("/metrics"))
        check(st == 200, "metrics: %s" % st)
        return body.decode()

    def metric(self, name, **labels):
        """Sum of the samples of `name` whose labels include `labels`."""
        total = 0.0
        found = False
        for line in self.metrics().splitlines():
            if not line.startswith(name) or line.startswith("#"):
                continue
            m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)$', line)
            if not m or m.group(1) != name:
                continue
            lab = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                  m.group(2) or ""))
            if all(lab.get(k) == v for k, v in labels.items()):
                total += float(m.group(3))
                found = True
        return total if found else None

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def log(self):
        return self.env.log_of(self.name)

    def stop(self, sig=signal.SIGTERM):
        rc = self.env.stop(self.proc, sig)
        self.check_sanitizers()
        return rc

    def check_sanitizers(self):
        """Under -Db_sanitize: fails on an ASan/LSan report, or a UBSan
        report in the agent's own files."""
        log = self.log()
        bad = re.findall(r"ERROR: (?:Address|Leak)Sanitizer.*|"
                         r"\.\./agent/[a-z_]+\.c:\d+:\d+: runtime error.*", log)
        check(not bad, "sanitizer report from %s: %s\n%s" % (self.name, bad[:3], log[-4000:]))


def static_scrape(glob, job="test", stages="", labels=None):
    lab = {"job": job}
    lab.update(labels or {})
    s = "scrape_configs:\n  - job_name: %s\n" % job
    if stages:
        s += "    pipeline_stages:\n" + "".join("      %s\n" % l for l in stages.splitlines())
    s += "    static_configs:\n      - targets: [localhost]\n        labels:\n"
    for k, v in lab.items():
        s += "          %s: %s\n" % (k, json.dumps(v))
    s += "          __path__: %s\n" % json.dumps(glob)
    return s


def write_lines(path, lines, mode="a"):
    with open(path, mode + "b") as f:
        for l in lines:
            f.write(l if isinstance(l, bytes) else l.encode())
            f.write(b"\n")
        f.flush()


def positions_offsets(path):
    """Parses a Promtail positions file into {path: offset}."""
    res = {}
    if not os.path.exists(path):
        return res
    with open(path) as f:
        for line in f:
            m = re.match(r'^\s+(.+?):\s+"?(\d+)"?\s*$', line)
            if m:
                k = m.group(1)
                if k.startswith('"'):
                    k = json.loads(k)
                res[k] = int(m.group(2))
    return res


def missing(expected, got):
    """Lines of `expected` not in `got` (a list), for messages."""
    s = set(got)
    return [l for l in expected if l not in s]
