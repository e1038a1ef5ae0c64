"""storelib — helpers for logferry-store e2e tests (Python stdlib only):
start the store on a free loopback port with a temp data dir, push JSON or
snappy+protobuf bodies (a tiny protobuf writer and a literal-only snappy
block encoder are enough to produce valid Loki push requests), and query.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.environ["LF_E2E_LIB"])
from lfe2e import Env, check  # noqa: E402,F401

STORE = os.environ.get("LOGFERRY_STORE", "logferry-store")


# ---- protobuf (Loki's push.proto) ----

def _varint(v):
    out = bytearray()
    v &= (1 << 64) - 1
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _field(num, wire, payload):
    key = _varint((num << 3) | wire)
    if wire == 0:
        return key + _varint(payload)
    return key + _varint(len(payload)) + payload


def _s(x):
    return x if isinstance(x, bytes) else x.encode("utf-8")


def encode_push(streams):
    """streams: [(labels_text, [(ts_ns, line, {sm}), ...]), ...] -> protobuf bytes."""
    req = b""
    for labels, entries in streams:
        sa = _field(1, 2, _s(labels))
        for e in entries:
            ts_ns, line = e[0], e[1]
            sm = e[2] if len(e) > 2 else {}
            tsm = b""
            secs, nanos = divmod(ts_ns, 1_000_000_000)
            if secs:
                tsm += _field(1, 0, secs)
            if nanos:
                tsm += _field(2, 0, nanos)
            ea = _field(1, 2, tsm) + _field(2, 2, _s(line))
            for k, v in sm.items():
                ea += _field(3, 2, _field(1, 2, _s(k)) + _field(2, 2, _s(v)))
            sa += _field(2, 2, ea)
        req += _field(1, 2, sa)
    return req


def snappy_literal(data):
    """A valid snappy block made only of literals (no compression)."""
    out = bytearray(_varint(len(data)))
    i = 0
    while i < len(data):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2, n & 0xFF, n >> 8])
        out += chunk
        i += len(chunk)
    return bytes(out)


# ---- the store process ----

class Store:
    def __init__(self, env, config="", name="store", data=None, extra_args=()):
        self.env = env
        self.name = name
        self.port = env.free_port()
        self.data = data or env.path(name + "-data")
        self.cfg = env.write(name + ".yaml", config)
        self.extra = list(extra_args)
        self.proc = None

    def start(self):
        self.proc = self.env.spawn(
            [STORE, "-config.file=" + self.cfg,
             "-server.http-listen-port=%d" % self.port,
             "-common.path-prefix=" + self.data] + self.extra, name=self.name)
        self.env.wait_until(self.ready, what="%s ready" % self.name)
        return self

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("%s exited with %s:\n%s" % (
                self.name, self.proc.returncode, self.env.log_of(self.name)[-3000:]))
        try:
            return self.get("/ready")[0] == 200
        except OSError:
            return False

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def request(self, method, path, body=None, headers=None, timeout=30):
        req = urllib.request.Request(self.url(path), data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get(self, path, params=None, tenant=None):
        if params:
            path += "?" + urllib.parse.urlencode(params, doseq=True)
        h = {"X-Scope-OrgID": tenant} if tenant else {}
        return self.request("GET", path, headers=h)

    def push_json(self, streams, tenant=None, headers=None):
        """streams: [({labels}, [[ts_str, line, {sm}?], ...]), ...]"""
        body = json.dumps({"streams": [{"stream": l, "values": v} for l, v in streams]})
        return self.push_raw(body.encode(), "application/json", tenant, headers)

    def push_proto(self, streams, tenant=None):
        return self.push_raw(snappy_literal(encode_push(streams)),
                             "application/x-protobuf", tenant)

    def push_raw(self, body, content_type, tenant=None, headers=None):
        h = {"Content-Type": content_type} if content_type else {}
        if tenant:
            h["X-Scope-OrgID"] = tenant
        h.update(headers or {})
        return self.request("POST", "/loki/api/v1/push", body, h)

    def query_range(self, query, tenant=None, **params):
        p = {"query": query}
        p.update(params)
        st, body = self.get("/loki/api/v1/query_range", p, tenant)
        check(st == 200, "query %s: %d %s" % (query, st, body[:500]))
        return json.loads(body)

    def entries(self, query, tenant=None, start=None, end=None, limit=5000):
        """All (labels-json, ts, line) of a log query, sorted."""
        p = {"limit": limit, "direction": "forward"}
        p["start"] = start if start is not None else 1
        p["end"] = end if end is not None else time.time_ns() + 3600 * 10**9
        d = self.query_range(query, tenant, **p)
        out = []
        for s in d["data"]["result"]:
            key = json.dumps(s["stream"], sort_keys=True)
            for ts, line in s["values"]:
                out.append((key, int(ts), line))
        out.sort()
        return out

    def metrics(self):
        st, body = self.get("/metrics")
        check(st == 200, "metrics: %d" % st)
        return body.decode()

    def stop(self, sig=None):
        """Graceful stop: must exit 0 with no sanitizer report in its log."""
        import signal
        rc = self.env.stop(self.proc, sig or signal.SIGTERM)
        log = self.env.log_of(self.name)
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            check(bad not in log, "%s log reports %s:\n%s" % (self.name, bad, log[-4000:]))
        check(rc == 0, "%s exited with %s:\n%s" % (self.name, rc, log[-3000:]))
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()


def now_ns():
    return time.time_ns()
