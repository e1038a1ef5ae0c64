#!/usr/bin/env python3
"""logferry-store memory with many streams (issue 18, first row).

Starts the store on a temp dir, pushes STREAMS streams (default 100,000) with
one short entry each, as JSON pushes of 5,000 streams (Kubernetes-like label
sets: namespace, app, pod, container, job), and reports the store's peak RSS,
its RSS at the end, and the fixed cost per stream beyond an empty store.
Then restarts it (SIGTERM flushes every head) and checks that every entry
reads back (index/stats), reporting the restarted store's RSS.

    LOGFERRY_STORE=build-release/store/logferry-store python3 bench/store/streams_bench.py [STREAMS]
"""
import json
import os
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_bench import CONFIG, cpu_s, peak_rss_mib, start  # noqa: E402

STORE = os.environ.get("LOGFERRY_STORE", "build-release/store/logferry-store")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def labels(i):
    return {"job": "streams", "namespace": "ns-%d" % (i % 50), "app": "app-%d" % (i % 997),
            "pod": "app-%d-%08x-%05d" % (i % 997, i * 2654435761 % (1 << 32), i),
            "container": "main"}


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    d = tempfile.mkdtemp(prefix="lf-streams-")
    cfg = os.path.join(d, "store.yaml")
    with open(cfg, "w") as f:
        f.write(CONFIG + "  max_global_streams_per_user: 0\n")
    port = free_port()
    p, url = start(cfg, port, os.path.join(d, "data"), os.path.join(d, "store.log"))
    base_kib = rss_kib(p.pid)
    t0 = time.time_ns() - 60 * 10**9
    c0 = cpu_s(p.pid)
    for first in range(0, n, 5000):
        body = json.dumps({"streams": [
            {"stream": labels(i), "values": [[str(t0 + i), "short entry %d" % i]]}
            for i in range(first, min(n, first + 5000))]}).encode()
        req = urllib.request.Request(url + "/loki/api/v1/push", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            assert r.status == 204, r.status
    cpu = cpu_s(p.pid) - c0
    peak = peak_rss_mib(p.pid)
    end_kib = rss_kib(p.pid)
    print("streams: %d, store CPU for the pushes: %.2f s" % (n, cpu))
    print("RSS empty store: %.1f MiB; after pushes: %.1f MiB; peak: %d MiB" % (
        base_kib / 1024, end_kib / 1024, peak))
    print("bytes per stream (RSS after - empty) / streams: %.0f" % ((end_kib - base_kib) * 1024 / n))
    w0 = time.monotonic()
    p.terminate()
    p.wait(timeout=3600)
    print("shutdown (flushes every head into a chunk): %.1f s" % (time.monotonic() - w0))
    w0 = time.monotonic()
    p, url = start(cfg, port, os.path.join(d, "data"), os.path.join(d, "store.log"))
    q = urllib.parse.urlencode({"query": '{job="streams"}', "start": str(t0 - 10**9),
                                "end": str(t0 + n + 10**9)})
    with urllib.request.urlopen(url + "/loki/api/v1/index/stats?" + q, timeout=300) as r:
        st = json.loads(r.read())
    print("restart: %.1f s" % (time.monotonic() - w0))
    print("after restart: index/stats %s; RSS %.1f MiB" % (json.dumps(st), rss_kib(p.pid) / 1024))
    ok = st.get("streams") == n and st.get("entries") == n
    print("every entry reads back: %s" % ("yes" if ok else "NO"))
    p.terminate()
    p.wait(timeout=600)
    import shutil
    shutil.rmtree(d, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
