#!/usr/bin/env python3
"""Agent throughput benchmark (issue 11): 4 files x 250,000 CRI lines of 200 bytes
(1M lines), one job with the `cri` stage, default client settings (batchwait 1s,
batchsize 1 MiB), pushing to lf-test-receiver on loopback (decodes every push:
snappy + protobuf, answers 204, stores nothing).

Runs (pick with arguments; default all three):
  fast    the receiver answers as fast as it can
  slow20  the receiver waits 20 ms before every answer
  outage  the receiver answers 503 for 30 s (the files are written meanwhile),
          then recovers: the measured figure is the drain of the backlog

    LOGFERRY=build-release/agent/logferry \
    LF_TEST_RECEIVER=build-release/tests/e2e/receiver/lf-test-receiver \
        python3 bench/agent/throughput.py [fast slow20 outage] [--lines N]

Prints one line per run and a JSON summary (lines/s over wall time, agent
CPU-s from /proc/<pid>/stat, peak RSS from VmHWM, the load average).
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

LOGFERRY = os.environ.get("LOGFERRY", "build-release/agent/logferry")
RECEIVER = os.environ.get("LF_TEST_RECEIVER", "build-release/tests/e2e/receiver/lf-test-receiver")
CLK = os.sysconf("SC_CLK_TCK")
N_FILES = 4


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def post(url):
    req = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status


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


def write_cri(path, prefix, n):
    """n CRI lines of exactly 200 bytes including the newline."""
    head = "2026-11-21T19:43:10.123456789Z stdout F "
    with open(path, "a") as f:
        for s in range(0, n, 50000):
            out = []
            for i in range(s, min(n, s + 50000)):
                body = "%s %09d " % (prefix, i)
                body += "x" * (199 - len(head) - len(body))
                out.append(head + body + "\n")
            f.write("".join(out))


def request_seconds(aport):
    """Seconds the agent's 204-answered requests took in all (its histogram
    logferry_request_duration_seconds): wall time minus this is time the
    agent's connection was not busy."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % aport, timeout=30) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("logferry_request_duration_seconds_sum") and '"204"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait(cond, timeout, what, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise SystemExit("timed out waiting for " + what)


class Run:
    def __init__(self, tmp):
        self.tmp = tmp
        self.logs = os.path.join(tmp, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.rport = free_port()
        self.aport = free_port()
        self.rbase = "http://127.0.0.1:%d" % self.rport

    def start_receiver(self):
        self.recv = subprocess.Popen([RECEIVER, "-port=%d" % self.rport, "-address=127.0.0.1"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait(lambda: self._ok(self.rbase + "/ready"), 30, "receiver")

    def start_agent(self, client_extra=""):
        cfg = os.path.join(self.tmp, "agent.yaml")
        with open(cfg, "w") as f:
            f.write("server: {http_listen_address: 127.0.0.1, http_listen_port: %d}\n"
                    "positions: {filename: %s/pos.yaml}\n"
                    "clients:\n  - url: %s/loki/api/v1/push\n"
                    "%s"
                    "scrape_configs:\n  - job_name: bench\n    pipeline_stages: [cri: {}]\n"
                    "    static_configs:\n"
                    "      - labels: {job: bench, __path__: '%s/*.log'}\n"
                    % (self.aport, self.tmp, self.rbase, client_extra, self.logs))
        self.agent = subprocess.Popen([LOGFERRY, "-config.file=" + cfg, "-log.level=error"],
                                      stderr=open(os.path.join(self.tmp, "agent.log"), "w"))

    @staticmethod
    def _ok(url):
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status == 200
        except Exception:  # noqa: BLE001 - starting up
            return False

    def stats(self):
        return get_json(self.rbase + "/stats")

    def stop(self):
        for p in (getattr(self, "agent", None), getattr(self, "recv", None)):
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def one(name, per_file, tmp):
    r = Run(tmp)
    total = N_FILES * per_file
    r.start_receiver()
    if name == "slow20":
        post(r.rbase + "/control?mode=ok&delay_ms=20")
    if name == "outage":
        post(r.rbase + "/control?mode=503")
        # retried forever, at most 1 s apart: the drain starts within 1 s
        # of the recovery instead of after a long backoff
        r.start_agent("    backoff_config: {min_period: 500ms, max_period: 1s, "
                      "max_retries: 0}\n")
        t_out = time.monotonic()
        for k in range(N_FILES):
            write_cri(os.path.join(r.logs, "f%d.log" % k), "f%d" % k, per_file)
        # the agent reads up to its memory bound, then waits for the backend
        while time.monotonic() - t_out < 30:
            time.sleep(0.2)
        failed = r.stats()["requests"]
        post(r.rbase + "/control?mode=ok")
        t_ok = time.monotonic()
        # the drain is timed from the first accepted push (the retry of
        # the batch that was failing comes up to max_period later)
        wait(lambda: r.stats()["status"].get("204", 0) >= 1, 60, "first accepted push", 0.005)
        t0 = time.monotonic()
        c0 = cpu_seconds(r.agent.pid)
        rc0 = cpu_seconds(r.recv.pid)
        first_retry_s = t0 - t_ok
    else:
        for k in range(N_FILES):
            write_cri(os.path.join(r.logs, "f%d.log" % k), "f%d" % k, per_file)
        c0 = 0.0
        rc0 = cpu_seconds(r.recv.pid)
        failed = 0
        first_retry_s = None
        t0 = time.monotonic()
        r.start_agent()
    wait(lambda: r.stats()["entries"] >= total, 3600, "%d lines" % total)
    wall = time.monotonic() - t0
    cpu = cpu_seconds(r.agent.pid) - c0
    hwm = status_kib(r.agent.pid, "VmHWM")
    st = r.stats()
    busy = request_seconds(r.aport)
    rcpu = cpu_seconds(r.recv.pid) - rc0
    load = os.getloadavg()
    r.stop()
    res = {"run": name, "lines": total, "wall_s": round(wall, 2),
           "lines_per_s": round(total / wall), "agent_cpu_s": round(cpu, 2),
           "peak_rss_mib": round(hwm / 1024, 1), "requests": st["requests"] - failed,
           "loadavg_1m": round(load[0], 2),
           "request_s_204": round(busy, 2), "receiver_cpu_s": round(rcpu, 2),
           "first_retry_s": first_retry_s}
    print("%-7s %8d lines: %5.2f s wall, %9.0f lines/s, %.2f CPU-s, peak RSS %.1f MiB, "
          "%d requests (%.2f s answering 204), receiver %.2f CPU-s, load %.2f"
          % (name, total, wall, res["lines_per_s"], cpu, res["peak_rss_mib"], res["requests"],
             busy, rcpu, load[0]),
          flush=True)
    return res


def main():
    argv = sys.argv[1:]
    per_file = 250000
    if "--lines" in argv:
        i = argv.index("--lines")
        per_file = int(argv[i + 1]) // N_FILES
        del argv[i:i + 2]
    todo = argv or ["fast", "slow20", "outage"]
    results = []
    for w in todo:
        if w not in ("fast", "slow20", "outage"):
            raise SystemExit("unknown run " + w)
        tmp = tempfile.mkdtemp(prefix="lftp-")
        try:
            results.append(one(w, per_file, tmp))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
