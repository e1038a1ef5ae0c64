#!/usr/bin/env python3
"""Head memory with many busy streams (issue 18): TOTAL_MB of LINE-byte lines
in STREAMS streams from 4 clients in 1 MiB snappy-protobuf batches, with no
flush during the ingest (each stream stays under chunk_target_size), as
`store_bench URL PID TOTAL_MB 4 STREAMS LINE 1048576 split noquery`.

Reports the store's peak RSS (VmHWM) and CPU seconds over the ingest, the
heads' memory (logferry_store_ingester_memory_bytes), then stops the store
(SIGTERM cuts every head into a chunk: the shutdown CPU is reported too),
restarts it and checks that every entry reads back (index/stats entries).

    LOGFERRY_STORE=build/store/logferry-store STORE_BENCH=build/bench/store/store_bench \\
        python3 bench/store/head_mem_bench.py [TOTAL_MB=400] [STREAMS=1000] [LINE=200] [EXTRA_YAML]
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench  # noqa: E402
from run_bench import BENCH, CONFIG, STORE, cpu_s, peak_rss_mib  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cfg, data, log):
    return run_bench.start(cfg, free_port(), data, log)


def metric(url, name):
    total = 0.0
    with urllib.request.urlopen(url + "/metrics", timeout=60) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                total += float(line.split()[-1])
    return total


def main():
    total_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    streams = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    line = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    extra = sys.argv[4] if len(sys.argv) > 4 else ""
    with tempfile.TemporaryDirectory(prefix="lf-headmem-") as tmp:
        cfg = os.path.join(tmp, "store.yaml")
        with open(cfg, "w") as f:
            f.write(CONFIG + "ingester:\n  chunk_idle_period: 1h\n" + extra)
        data, log = os.path.join(tmp, "data"), os.path.join(tmp, "store.log")
        p, url = start(cfg, data, log)
        c0 = cpu_s(p.pid)
        out = subprocess.run([BENCH, url, str(p.pid), str(total_mb), "4", str(streams),
                              str(line), "1048576", "split", "noquery"],
                             capture_output=True, text=True)
        if out.returncode:
            sys.exit("store_bench failed: " + out.stderr)
        cpu = cpu_s(p.pid) - c0
        peak = peak_rss_mib(p.pid)
        held = metric(url, "logferry_store_ingester_memory_bytes")
        lines = metric(url, "logferry_store_lines_received_total")
        print("ingest: %d MB, %d streams, %d-byte lines: store CPU %.2f s, peak RSS %d MiB, "
              "heads hold %.0f MiB" % (total_mb, streams, line, cpu, peak, held / 2**20))
        c1 = cpu_s(p.pid)
        t1 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        _, _, ru = os.wait4(p.pid, 0)  # the store's whole CPU, shutdown flush included
        p.returncode = 0
        print("shutdown flush: %.1f s wall, %.2f s CPU" % (
            time.monotonic() - t1, ru.ru_utime + ru.ru_stime - c1))
        p, url = start(cfg, data, log)
        q = urllib.parse.quote('{job="x"}')
        try:
            with urllib.request.urlopen("%s/loki/api/v1/index/stats?query=%s&start=0&end=%d" % (
                    url, q, time.time_ns() + 3600 * 10**9), timeout=600) as r:
                st = json.load(r)
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait()
        print("after restart: %d entries of %d pushed%s" % (
            st["entries"], lines, "" if st["entries"] == lines else "  MISMATCH"), flush=True)
        return 0 if st["entries"] == lines else 1


if __name__ == "__main__":
    sys.exit(main())
