#!/usr/bin/env python3
"""logferry-store benchmark runner.

1. Ingest: starts the store (WAL fsync on, default chunking and codec, limits
   raised so the load is not rate-limited) on a temp dir and runs store_bench:
   100 streams x 200-byte lines in 1 MiB protobuf batches from 4 clients.
   Reports MB/s and lines/s per core of store CPU, and the store's peak RSS.
2. Query: stops the store (SIGTERM flushes every head into chunks), starts it
   again on the same data, so the query reads chunk files only. Then times
   `{job="x"} |= "needle"` over the whole range:
   - cold: after posix_fadvise(DONTNEED) on every file of the data dir, which
     drops their clean pages from the page cache without privileges (the
     store fsyncs everything it writes, so all pages are clean). `fincore`
     shows how much was still cached, when util-linux has it;
   - warm: three more rounds right after.
   Scan rate = Loki's `totalBytesProcessed` / time, per wall second and per
   second of store CPU (utime+stime from /proc). Reports the restarted
   store's peak RSS.
3. Metric query: `sum by (stream) (count_over_time({job="x"} |= "error" [2h]))`
   (the issue's `sum by (app)` over this data set, whose streams are told apart
   by `stream`), 60 s steps over the first hour, three warm rounds: CPU
   seconds and the store's peak RSS after them. With app text, also once
   `avg_over_time({job="x"} | logfmt | unwrap bytes [2h]) by (stream)`.

Targets: ingest >= 150 MB/s per core, scan >= 1 GB/s per core warm,
RSS <= 256 MiB.

    LOGFERRY_STORE=build/store/logferry-store STORE_BENCH=build/bench/store/store_bench \\
        python3 bench/store/run_bench.py [TOTAL_MB=1024] [split|shared] [words|app]

split (default): each stream has one writer (as with agents); shared: all 4
clients write all 100 streams with interleaved timestamps (out-of-order
arrivals, so the store's duplicate check works on every entry).

words (default): lines of random numbers and 14 short words, high-entropy
text that lz4 compresses 1.6x; app: logfmt application log lines with ids,
sizes, durations and a random trace id, which lz4 compresses 2.4x. Chunk
compression is the largest ingest cost, so the two differ a lot.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

STORE = os.environ.get("LOGFERRY_STORE", "build/store/logferry-store")
BENCH = os.environ.get("STORE_BENCH", "build/bench/store/store_bench")
CONFIG = """
limits_config:
  ingestion_rate_mb: 100000
  ingestion_burst_size_mb: 100000
  per_stream_rate_limit: 100GB
  per_stream_rate_limit_burst: 100GB
  reject_old_samples: false
"""


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return 0


def start(cfg, port, data, log):
    p = subprocess.Popen([STORE, "-config.file=" + cfg, "-server.http-listen-port=%d" % port,
                          "-common.path-prefix=" + data], stderr=open(log, "a"))
    url = "http://127.0.0.1:%d" % port
    deadline = time.time() + 300  # a restart replays the WAL
    while time.time() < deadline:
        if p.poll() is not None:
            sys.exit("store exited with %d, see %s" % (p.returncode, log))
        try:
            urllib.request.urlopen(url + "/ready", timeout=2)
            return p, url
        except OSError:
            time.sleep(0.1)
    p.kill()
    sys.exit("store not ready after 300 s, see %s" % log)


def drop_cache(root):
    n = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                n += 1
            finally:
                os.close(fd)
    return n


def cached_fraction(root):
    """Share of the data dir's bytes in the page cache, per fincore; None without it."""
    if not shutil.which("fincore"):
        return None
    files = [os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs]
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--raw",
                          "--output", "RES,SIZE"] + files,
                         capture_output=True, text=True)
    res = size = 0
    for line in out.stdout.split("\n"):
        parts = line.split()
        if len(parts) == 2:
            res += int(parts[0])
            size += int(parts[1])
    return res / size if size else None


def query(pid, url, ts_base, label):
    q = urllib.parse.quote('{job="x"} |= "needle"')
    u = "%s/loki/api/v1/query_range?query=%s&start=%d&end=%d&limit=100" % (
        url, q, ts_base - 10**9, ts_base + 3600 * 10**9)
    c0 = cpu_s(pid)
    t0 = time.monotonic()
    with urllib.request.urlopen(u, timeout=600) as r:
        body = json.load(r)
    dt = time.monotonic() - t0
    cpu = cpu_s(pid) - c0
    hits = sum(len(s["values"]) for s in body["data"]["result"])
    scanned = body["data"]["stats"]["summary"]["totalBytesProcessed"]
    print("query %s: %.3f s wall, %.2f s store CPU, %d hits, %.0f MB scanned, "
          "%.2f GB/s wall, %s per CPU-second" % (
              label, dt, cpu, hits, scanned / 1e6, scanned / dt / 1e9,
              "%.2f GB/s" % (scanned / cpu / 1e9) if cpu > 0 else "n/a (under 1 tick)"))
    return scanned / cpu / 1e9 if cpu > 0 else 0


METRIC_Q = 'sum by (stream) (count_over_time({job="x"} |= "error" [2h]))'


# app text only: an unwrapped range (logfmt parsing, every sample kept per series;
# grouped at extraction, as the random trace_id would make every line a series)
METRIC_UNWRAP_Q = 'avg_over_time({job="x"} | logfmt | unwrap bytes [2h]) by (stream)'


def metric_query(pid, url, ts_base, label, q=METRIC_Q):
    """The metric-query case: a range query, 60 s steps over the first hour
    (every window reaches back 2h, so it covers all the data)."""
    u = "%s/loki/api/v1/query_range?query=%s&start=%d&end=%d&step=60" % (
        url, urllib.parse.quote(q), ts_base - 10**9, ts_base + 3600 * 10**9)
    c0 = cpu_s(pid)
    t0 = time.monotonic()
    with urllib.request.urlopen(u, timeout=600) as r:
        body = json.load(r)
    dt = time.monotonic() - t0
    cpu = cpu_s(pid) - c0
    series = len(body["data"]["result"])
    points = sum(len(s["values"]) for s in body["data"]["result"])
    scanned = body["data"]["stats"]["summary"]["totalBytesProcessed"]
    print("metric %s: %.3f s wall, %.2f s store CPU, %d series, %d points, %.0f MB scanned, "
          "%s per CPU-second" % (
              label, dt, cpu, series, points, scanned / 1e6,
              "%.2f GB/s" % (scanned / cpu / 1e9) if cpu > 0 else "n/a (under 1 tick)"))
    return cpu


def main():
    total_mb = sys.argv[1] if len(sys.argv) > 1 else "1024"
    mode = sys.argv[2] if len(sys.argv) > 2 else "split"
    text = sys.argv[3] if len(sys.argv) > 3 else "words"
    if mode not in ("split", "shared") or text not in ("words", "app"):
        sys.exit("usage: run_bench.py [TOTAL_MB] [split|shared] [words|app]")
    print("store bench: %s MB, %s streams, %s text" % (total_mb, mode, text))
    d = tempfile.mkdtemp(prefix="lf-store-bench-")
    p = None
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cfg = os.path.join(d, "cfg.yaml")
        with open(cfg, "w") as f:
            f.write(CONFIG)
        data = os.path.join(d, "data")
        log = os.path.join(d, "store.log")
        p, url = start(cfg, port, data, log)
        out = subprocess.run([BENCH, url, str(p.pid), total_mb, "4", "100", "200", "1048576",
                              mode, "noquery"], capture_output=True, text=True,
                             env=dict(os.environ, STORE_BENCH_TEXT=text))
        sys.stdout.write(out.stdout)
        sys.stderr.write(out.stderr[-4000:])
        if out.returncode != 0:
            sys.exit("store_bench failed (%d)" % out.returncode)
        ts_base = int(out.stdout.split("ts_base ")[1].split()[0])
        ingest_peak = peak_rss_mib(p.pid)
        t0 = time.monotonic()
        p.terminate()
        p.wait(timeout=600)
        print("store stopped (heads flushed into chunks) in %.1f s; peak RSS during ingest "
              "and flush: %d MiB" % (time.monotonic() - t0, ingest_peak))
        du = subprocess.run(["du", "-sm", data], capture_output=True,
                            text=True).stdout.split()[0]
        print("on disk: %s MB" % du)
        p, url = start(cfg, port, data, log)
        n = drop_cache(data)
        frac = cached_fraction(data)
        print("cold: dropped %d files from the page cache%s" % (
            n, "" if frac is None else " (%.1f%% still cached)" % (100 * frac)))
        query(p.pid, url, ts_base, "cold")
        warm = [query(p.pid, url, ts_base, "warm %d" % r) for r in (1, 2, 3)]
        print("warm scan, median: %.2f GB/s per CPU-second; store peak RSS while querying: "
              "%d MiB" % (sorted(warm)[1], peak_rss_mib(p.pid)))
        print("metric query: %s" % METRIC_Q)
        mcpu = [metric_query(p.pid, url, ts_base, "warm %d" % r) for r in (1, 2, 3)]
        print("metric query, median: %.2f CPU-seconds; store peak RSS after the metric "
              "queries: %d MiB" % (sorted(mcpu)[1], peak_rss_mib(p.pid)))
        if text == "app":
            print("metric query: %s" % METRIC_UNWRAP_Q)
            metric_query(p.pid, url, ts_base, "unwrap", METRIC_UNWRAP_Q)
            print("store peak RSS after the unwrap query: %d MiB" % peak_rss_mib(p.pid))
    finally:
        if p and p.poll() is None:
            p.terminate()
            p.wait(timeout=600)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
