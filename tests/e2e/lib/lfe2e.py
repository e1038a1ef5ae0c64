"""lfe2e — what every logferry e2e test needs: temp dirs, free loopback
ports, processes that are always cleaned up, and waiting for a condition
with a generous deadline (never a fixed sleep).

Usage:
    import sys, os; sys.path.insert(0, os.environ["LF_E2E_LIB"])
    from lfe2e import Env
    with Env() as env:
        port = env.free_port()
        p = env.spawn([binary, "-config.file=" + cfg], name="agent")
        env.wait_until(lambda: ready(port), what="agent ready")
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

# Deadlines are generous: a busy 2-core CI machine running an ASan build is slow.
DEFAULT_TIMEOUT = float(os.environ.get("LF_E2E_TIMEOUT", "60"))


class Env:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lfe2e-")
        self.procs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p, _ in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if exc[0] is None or not os.environ.get("LF_E2E_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def write(self, rel, text, mode="w"):
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, mode) as f:
            f.write(text)
        return p

    @staticmethod
    def free_port():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def spawn(self, argv, name="proc", env=None, stdin=None):
        """Starts argv with stdout/stderr to files under the temp dir."""
        out = open(self.path(name + ".stdout"), "ab")
        err = open(self.path(name + ".stderr"), "ab")
        p = subprocess.Popen(argv, stdout=out, stderr=err, stdin=stdin,
                             env=dict(os.environ, **(env or {})))
        self.procs.append((p, name))
        return p

    def log_of(self, name):
        try:
            with open(self.path(name + ".stderr"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stop(self, p, sig=signal.SIGTERM, timeout=DEFAULT_TIMEOUT):
        if p.poll() is None:
            p.send_signal(sig)
        return p.wait(timeout=timeout)

    def wait_until(self, cond, what="condition", timeout=DEFAULT_TIMEOUT, interval=0.05):
        """Polls cond() until it returns a truthy value; fails the test with
        `what` and the process logs when the deadline passes."""
        deadline = time.monotonic() + timeout
        last_exc = None
        while time.monotonic() < deadline:
            try:
                v = cond()
                if v:
                    return v
            except Exception as e:  # noqa: BLE001 - condition may raise while starting
                last_exc = e
            time.sleep(interval)
        logs = "\n".join("--- %s stderr ---\n%s" % (n, self.log_of(n)[-4000:])
                         for _, n in self.procs)
        raise AssertionError("timed out after %.0fs waiting for %s (last error: %r)\n%s"
                             % (timeout, what, last_exc, logs))


def check(cond, msg):
    """Assertion that survives python -O and prints a clear message."""
    if not cond:
        raise AssertionError(msg)


def main(tests):
    """Runs test functions, prints one line each; exits 1 if any failed."""
    failed = 0
    for t in tests:
        t0 = time.monotonic()
        try:
            t()
            print("ok   %s (%.1fs)" % (t.__name__, time.monotonic() - t0), flush=True)
        except Exception as e:  # noqa: BLE001
            failed += 1
            print("FAIL %s: %s" % (t.__name__, e), flush=True)
    sys.exit(1 if failed else 0)
