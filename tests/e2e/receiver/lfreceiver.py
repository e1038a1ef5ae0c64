"""lfreceiver — drive lf-test-receiver from an e2e test (stdlib only).

    sys.path.insert(0, os.environ["LF_RECEIVER_LIB"])   # meson: lf_receiver_py_dir
    from lfreceiver import Receiver
    with Env() as env:
        rx = Receiver(env, os.environ["LF_TEST_RECEIVER"])   # starts on a free port
        ... point the agent at rx.push_url ...
        env.wait_until(lambda: len(rx.entries()) >= 10, what="10 entries")
        rx.control("429", count=3)          # next 3 pushes answered 429
        print(rx.stats())

entries() returns the stored JSON lines as dicts:
{"tenant": str, "labels": '{a="b"}', "ts": int ns, "line": str, "sm": {name: value}}.
Only acknowledged (204) pushes are stored, and they are fsynced before the 204.
"""
import json
import os
import urllib.error
import urllib.request


class Receiver:
    def __init__(self, env, binary, name="receiver"):
        self.env = env
        self.name = name
        self.out = env.path(name + ".jsonl")
        self.proc = env.spawn([binary, "-port=0", "-out=" + self.out], name=name)
        self.port = env.wait_until(self._port, what=name + " listening")
        self.base = "http://127.0.0.1:%d" % self.port
        self.push_url = self.base + "/loki/api/v1/push"

    def _port(self):
        if self.proc.poll() is not None:
            raise AssertionError("%s exited: %s" % (self.name, self.env.log_of(self.name)))
        with open(self.env.path(self.name + ".stdout")) as f:
            for line in f:
                if line.startswith("listening on "):
                    return int(line.rsplit(":", 1)[1])
        return None

    def _post(self, path, body=b"", headers=None):
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {},
                                     method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def control(self, mode, count=0, delay_ms=None):
        """mode: ok|429|400|500|503|401|413; count 0 = until changed."""
        q = "/control?mode=%s" % mode
        if count:
            q += "&count=%d" % count
        if delay_ms is not None:
            q += "&delay_ms=%d" % delay_ms
        st, body = self._post(q)
        if st != 200:
            raise AssertionError("control %s: %d %s" % (q, st, body))

    def stats(self):
        with urllib.request.urlopen(self.base + "/stats", timeout=30) as r:
            return json.loads(r.read())

    def entries(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out, encoding="utf-8", errors="replace") as f:
            # a line being appended right now may be incomplete: skip it
            return [json.loads(l) for l in f if l.endswith("\n")]

    def lines(self):
        return [e["line"] for e in self.entries()]

    def push_json(self, streams, tenant=None):
        """Pushes Loki JSON ({"streams": [...]}) directly; returns (status, body)."""
        h = {"Content-Type": "application/json"}
        if tenant:
            h["X-Scope-OrgID"] = tenant
        return self._post("/loki/api/v1/push", json.dumps({"streams": streams}).encode(), h)
