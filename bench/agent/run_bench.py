#!/usr/bin/env python3
"""Agent benchmark: file -> logferry (no stages) -> null receiver on loopback.

Workloads (DESIGN targets in brackets):
  single   1 file x 5M lines of 200-byte CRI lines   [>= 1M lines per CPU-second]
  many     1000 files x 5k lines                       [peak RSS <= 32 MiB]
  idle     1000 idle files for 60 s                    [CPU <= 0.5 %]

The receiver is lf-test-receiver without -out: it decodes every push
(snappy + protobuf) and counts entries (GET /stats). The agent's CPU comes
from /proc/<pid>/stat (utime + stime), its peak RSS from VmHWM.

    LOGFERRY=build/agent/logferry LF_TEST_RECEIVER=build/tests/e2e/receiver/lf-test-receiver \
        python3 bench/agent/run_bench.py [single many idle] [--scale 0.1]

--scale shrinks the line counts (and the idle time) for a quick run.
Prints one line per workload and a JSON summary at the end.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

LOGFERRY = os.environ.get("LOGFERRY", "build/agent/logferry")
RECEIVER = os.environ.get("LF_TEST_RECEIVER", "build/tests/e2e/receiver/lf-test-receiver")
CLK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def cri_lines(prefix, n):
    """n CRI lines of exactly 200 bytes including the newline."""
    head = "2026-11-21T19:43:10.123456789Z stdout F "
    out = []
    for i in range(n):
        body = "%s %09d " % (prefix, i)
        body += "x" * (199 - len(head) - len(body))
        out.append(head + body + "\n")
    return "".join(out)


def wait(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise SystemExit("timed out waiting for " + what)


class Run:
    def __init__(self, tmp, n_files):
        self.tmp = tmp
        self.logs = os.path.join(tmp, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.n_files = n_files
        self.rport = free_port()
        self.aport = free_port()

    def start(self):
        self.recv = subprocess.Popen([RECEIVER, "-port=%d" % self.rport, "-address=127.0.0.1"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait(lambda: self._ok("http://127.0.0.1:%d/ready" % self.rport), 30, "receiver")
        cfg = os.path.join(self.tmp, "agent.yaml")
        with open(cfg, "w") as f:
            f.write("server: {http_listen_address: 127.0.0.1, http_listen_port: %d}\n"
                    "positions: {filename: %s/pos.yaml}\n"
                    "clients:\n  - url: http://127.0.0.1:%d/loki/api/v1/push\n"
                    "scrape_configs:\n  - job_name: bench\n    static_configs:\n"
                    "      - labels: {job: bench, __path__: '%s/*.log'}\n"
                    % (self.aport, self.tmp, self.rport, self.logs))
        self.agent = subprocess.Popen([LOGFERRY, "-config.file=" + cfg, "-log.level=warn"],
                                      stderr=open(os.path.join(self.tmp, "agent.log"), "w"))
        self.t0 = time.monotonic()

    @staticmethod
    def _ok(url):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status == 200
        except Exception:  # noqa: BLE001 - starting up
            return False

    def received(self):
        return get_json("http://127.0.0.1:%d/stats" % self.rport)["entries"]

    def stop(self):
        for p in (self.agent, self.recv):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def throughput(name, n_files, per_file, tmp):
    r = Run(tmp, n_files)
    total = n_files * per_file
    for k in range(n_files):
        with open(os.path.join(r.logs, "f%04d.log" % k), "w") as f:
            # write in chunks so the generator's memory stays small
            step = 100000
            for s in range(0, per_file, step):
                f.write(cri_lines("f%04d" % k, min(step, per_file - s)))
    r.start()
    wait(lambda: r.received() >= total, 3600, "%d lines" % total)
    wall = time.monotonic() - r.t0
    cpu = cpu_seconds(r.agent.pid)
    hwm = status_kib(r.agent.pid, "VmHWM")
    r.stop()
    res = {"workload": name, "files": n_files, "lines": total, "wall_s": round(wall, 2),
           "lines_per_s": round(total / wall), "agent_cpu_s": round(cpu, 2),
           "cpu_s_per_million": round(cpu / (total / 1e6), 3),
           "lines_per_cpu_s": round(total / cpu) if cpu else None,
           "peak_rss_mib": round(hwm / 1024, 1)}
    print("%-7s %5d files %9d lines: %9.0f lines/s, %.3f CPU-s per 1M lines (%s lines/CPU-s), "
          "peak RSS %.1f MiB" % (name, n_files, total, res["lines_per_s"],
                                 res["cpu_s_per_million"], res["lines_per_cpu_s"],
                                 res["peak_rss_mib"]), flush=True)
    return res


def idle(n_files, seconds, tmp):
    r = Run(tmp, n_files)
    for k in range(n_files):
        with open(os.path.join(r.logs, "f%04d.log" % k), "w") as f:
            f.write(cri_lines("idle%04d" % k, 1))
    r.start()
    wait(lambda: r.received() >= n_files, 300, "first lines")
    time.sleep(2)  # let the startup work settle before measuring
    c0, t0 = cpu_seconds(r.agent.pid), time.monotonic()
    time.sleep(seconds)  # the measurement window itself
    c1, t1 = cpu_seconds(r.agent.pid), time.monotonic()
    rss = status_kib(r.agent.pid, "VmRSS")
    hwm = status_kib(r.agent.pid, "VmHWM")
    r.stop()
    pct = 100.0 * (c1 - c0) / (t1 - t0)
    res = {"workload": "idle", "files": n_files, "seconds": round(t1 - t0, 1),
           "cpu_percent": round(pct, 3), "rss_mib": round(rss / 1024, 1),
           "peak_rss_mib": round(hwm / 1024, 1)}
    print("idle    %5d files for %.0f s: CPU %.3f %%, RSS %.1f MiB (peak %.1f MiB)"
          % (n_files, t1 - t0, pct, rss / 1024, hwm / 1024), flush=True)
    return res


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    scale = 1.0
    if "--scale" in sys.argv:
        scale = float(sys.argv[sys.argv.index("--scale") + 1])
        args = [a for a in args if a != sys.argv[sys.argv.index("--scale") + 1]]
    todo = args or ["single", "many", "idle"]
    results = []
    for w in todo:
        tmp = tempfile.mkdtemp(prefix="lfbench-")
        try:
            if w == "single":
                results.append(throughput("single", 1, int(5000000 * scale), tmp))
            elif w == "many":
                results.append(throughput("many", 1000, int(5000 * scale), tmp))
            elif w == "idle":
                results.append(idle(1000, max(5.0, 60 * scale), tmp))
            else:
                raise SystemExit("unknown workload " + w)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
