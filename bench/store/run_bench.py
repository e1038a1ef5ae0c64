#!/usr/bin/env python3
"""logferry-store benchmark runner: starts the store (WAL fsync on, default
chunking, limits raised so the load is not rate-limited) on a temp dir and
runs store_bench (ingest 100 streams x 200-byte lines in 1 MiB protobuf
batches from 4 clients, then `{job="x"} |= "needle"` three times).

Targets: ingest >= 150 MB/s per core, scan >= 1 GB/s warm, RSS <= 256 MiB.

    LOGFERRY_STORE=build/store/logferry-store STORE_BENCH=build/bench/store/store_bench \
        python3 bench/store/run_bench.py [TOTAL_MB=256] [split|shared]

split (default): each stream has one writer (as with agents); shared: all 4
clients write all 100 streams with interleaved timestamps (out-of-order
arrivals, so the store's duplicate check works on every entry).
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
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


def main():
    total_mb = sys.argv[1] if len(sys.argv) > 1 else "256"
    mode = sys.argv[2] if len(sys.argv) > 2 else "split"
    d = tempfile.mkdtemp(prefix="lf-store-bench-")
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cfg = os.path.join(d, "cfg.yaml")
        with open(cfg, "w") as f:
            f.write(CONFIG)
        p = subprocess.Popen([STORE, "-config.file=" + cfg, "-server.http-listen-port=%d" % port,
                              "-common.path-prefix=" + os.path.join(d, "data")],
                             stderr=open(os.path.join(d, "store.log"), "w"))
        url = "http://127.0.0.1:%d" % port
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        rc = subprocess.call([BENCH, url, str(p.pid), total_mb, "4", "100", "200", "1048576",
                              mode])
        du = subprocess.run(["du", "-sm", os.path.join(d, "data")], capture_output=True,
                            text=True).stdout.split()[0]
        print("on disk after ingest: %s MB" % du)
        p.terminate()
        p.wait(timeout=300)
        sys.exit(rc)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
