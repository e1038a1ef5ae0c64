#!/usr/bin/env python3
"""Agent sources benchmark: syslog / loki_push_api / journal -> logferry (no
stages) -> null receiver on loopback; figure = lines per agent CPU-second.

Workloads (targets in brackets):
  syslog    N RFC 5424 messages (~150 bytes, octet counting) over 4 TCP
            connections from this script                         [>= 500k]
  push      N 200-byte lines tailed by a first logferry ("edge") that pushes
            snappy protobuf batches to the measured relay's
            loki_push_api; only the relay's CPU counts          [>= 500k]
  journal   one journal file of N entries (7 fields each) built with
            systemd-journal-remote, read from `path`            [>= 200k]

    LOGFERRY=build-release/agent/logferry \\
    LF_TEST_RECEIVER=build-release/tests/e2e/receiver/lf-test-receiver \\
        python3 bench/agent/run_sources_bench.py [syslog push journal] [--lines N]

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
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_bench import (LOGFERRY, RECEIVER, Run, cpu_seconds, cri_lines, free_port,  # noqa
                       status_kib, wait)

REMOTE = "/lib/systemd/systemd-journal-remote"


class SrcRun(Run):
    """Run with a scrape config of our own (a source block)."""

    def __init__(self, tmp, scrape):
        super().__init__(tmp, 0)
        self.scrape = scrape

    def start(self):
        self.recv = subprocess.Popen([RECEIVER, "-port=%d" % self.rport, "-address=127.0.0.1"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait(lambda: self._ok("http://127.0.0.1:%d/ready" % self.rport), 30, "receiver")
        cfg = os.path.join(self.tmp, "agent.yaml")
        with open(cfg, "w") as f:
            f.write("server: {http_listen_address: 127.0.0.1, http_listen_port: %d}\n"
                    "positions: {filename: %s/pos.yaml}\n"
                    "clients:\n  - url: http://127.0.0.1:%d/loki/api/v1/push\n%s"
                    % (self.aport, self.tmp, self.rport, self.scrape))
        self.agent = subprocess.Popen([LOGFERRY, "-config.file=" + cfg, "-log.level=warn"],
                                      stderr=open(os.path.join(self.tmp, "agent.log"), "w"))
        wait(lambda: self._ok("http://127.0.0.1:%d/ready" % self.aport) or
             self._ok("http://127.0.0.1:%d/metrics" % self.aport), 60, "agent")
        self.t0 = time.monotonic()


def report(name, total, r, cpu_pid):
    wall = time.monotonic() - r.t0
    cpu = cpu_seconds(cpu_pid)
    hwm = status_kib(cpu_pid, "VmHWM")
    res = {"workload": name, "lines": total, "wall_s": round(wall, 2),
           "lines_per_s": round(total / wall), "agent_cpu_s": round(cpu, 2),
           "lines_per_cpu_s": round(total / cpu) if cpu else None,
           "peak_rss_mib": round(hwm / 1024, 1)}
    print("%-8s %9d lines: %9.0f lines/s wall, %.2f CPU-s, %s lines/CPU-s, peak RSS %.1f MiB"
          % (name, total, res["lines_per_s"], cpu, res["lines_per_cpu_s"],
             res["peak_rss_mib"]), flush=True)
    return res


def syslog(n, tmp):
    port = free_port()
    r = SrcRun(tmp, "scrape_configs:\n  - job_name: sl\n    syslog:\n"
                    "      listen_address: 127.0.0.1:%d\n      labels: {job: sl}\n"
                    "    relabel_configs:\n"
                    "      - {source_labels: [__syslog_message_app_name], target_label: app}\n"
                    % port)
    conns = 4
    per = n // conns
    payloads = []
    for c in range(conns):
        parts = []
        for i in range(per):
            m = ("<14>1 2026-12-06T20:00:00.000Z host%d app%d 1234 ID - "
                 "message %d %09d lorem ipsum dolor sit amet consectetur" % (c, c % 2, c, i))
            parts.append("%d %s" % (len(m), m))
        payloads.append("".join(parts).encode())
    r.start()

    def send(p):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(p)
    th = [threading.Thread(target=send, args=(p,)) for p in payloads]
    for t in th:
        t.start()
    for t in th:
        t.join()
    wait(lambda: r.received() >= per * conns, 3600, "syslog lines")
    res = report("syslog", per * conns, r, r.agent.pid)
    r.stop()
    return res


def push(n, tmp):
    port = free_port()
    r = SrcRun(tmp, "scrape_configs:\n  - job_name: relay\n    loki_push_api:\n"
                    "      server: {http_listen_address: 127.0.0.1, http_listen_port: %d}\n"
                    "      labels: {relay: r}\n" % port)
    r.start()
    logs = os.path.join(tmp, "edge-logs")
    os.makedirs(logs)
    with open(os.path.join(logs, "a.log"), "w") as f:
        for s in range(0, n, 100000):
            f.write(cri_lines("e", min(100000, n - s)))
    ecfg = os.path.join(tmp, "edge.yaml")
    with open(ecfg, "w") as f:
        f.write("server: {disable: true}\npositions: {filename: %s/epos.yaml}\n"
                "clients:\n  - url: http://127.0.0.1:%d/loki/api/v1/push\n"
                "scrape_configs:\n  - job_name: edge\n    static_configs:\n"
                "      - labels: {job: edge, __path__: '%s/*.log'}\n" % (tmp, port, logs))
    c0 = cpu_seconds(r.agent.pid)
    r.t0 = time.monotonic()
    edge = subprocess.Popen([LOGFERRY, "-config.file=" + ecfg, "-log.level=warn"],
                            stderr=open(os.path.join(tmp, "edge.log"), "w"))
    wait(lambda: r.received() >= n, 3600, "relayed lines")
    res = report("push", n, r, r.agent.pid)
    res["agent_cpu_s"] = round(cpu_seconds(r.agent.pid) - c0, 2)
    res["lines_per_cpu_s"] = round(n / (cpu_seconds(r.agent.pid) - c0))
    edge.send_signal(signal.SIGTERM)
    edge.wait()
    r.stop()
    return res


def journal(n, tmp):
    d = os.path.join(tmp, "journal")
    stage = os.path.join(tmp, "stage")
    os.makedirs(d)
    os.makedirs(stage)
    boot = uuid.uuid4().hex
    now = int(time.time() * 1e6) - n
    p = subprocess.Popen([REMOTE, "-o", os.path.join(stage, "b.journal"), "-"],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    chunk = []
    for i in range(n):
        chunk.append("__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=%s\n"
                     "MESSAGE=journal message %09d lorem ipsum dolor sit amet\nPRIORITY=6\n"
                     "_SYSTEMD_UNIT=app%d.service\n_HOSTNAME=node1\nSYSLOG_IDENTIFIER=app\n"
                     "_PID=%d\n\n" % (now + i, 1000 + i, boot, i, i % 4, 1000 + i % 50))
        if len(chunk) == 10000:
            p.stdin.write("".join(chunk).encode())
            chunk = []
    p.stdin.write("".join(chunk).encode())
    p.stdin.close()
    p.wait()
    for f in os.listdir(stage):  # journal-remote rotates big outputs into several files
        os.rename(os.path.join(stage, f), os.path.join(d, f))
    r = SrcRun(tmp, "scrape_configs:\n  - job_name: jr\n    journal:\n      path: %s\n"
                    "      max_age: 1000h\n      labels: {job: jr}\n"
                    "    relabel_configs:\n"
                    "      - {source_labels: [__journal__systemd_unit], target_label: unit}\n"
                    % d)
    r.start()
    wait(lambda: r.received() >= n, 3600, "journal lines")
    res = report("journal", n, r, r.agent.pid)
    r.stop()
    return res


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = 1000000
    if "--lines" in sys.argv:
        n = int(sys.argv[sys.argv.index("--lines") + 1])
        args = [a for a in args if a != str(n)]
    results = []
    for w in args or ["syslog", "push", "journal"]:
        tmp = tempfile.mkdtemp(prefix="lfsrcbench-")
        try:
            results.append({"syslog": syslog, "push": push, "journal": journal}[w](n, tmp))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
