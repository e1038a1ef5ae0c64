"""Real npm Loki clients push to logferry-store: winston-loki in JSON mode
(with structured metadata) and protobuf mode (snappy, unsorted label text),
both batching, and pino-loki. Every entry is read back with its exact
labels, line and ns timestamp. `npm ci` (tests/clients/package-lock.json)
is part of the test; node_modules is gitignored."""
import json
import os
import shutil
import subprocess

from storelib import Env, Store, check

CLIENTS = os.environ.get("LF_CLIENTS_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients")
COUNT = 60


def npm_ci():
    npm = shutil.which("npm")
    check(npm is not None, "npm not found on PATH")
    r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=CLIENTS,
                       capture_output=True, text=True, timeout=600)
    check(r.returncode == 0, "npm ci failed:\n%s\n%s" % (r.stdout[-2000:], r.stderr[-2000:]))


def run_client(env, store, mode):
    r = subprocess.run(["node", "push_clients.cjs", store.url(""), mode, str(COUNT)],
                       cwd=CLIENTS, capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "%s client failed:\n%s" % (mode, r.stderr[-3000:]))
    check(r.stderr.strip() == "", "%s client reported errors:\n%s" % (mode, r.stderr[-3000:]))
    exp = json.loads(r.stdout.strip().splitlines()[-1])
    check(len(exp) == COUNT, "%s logged %d entries" % (mode, len(exp)))
    return sorted((json.dumps(e["stream"], sort_keys=True), int(e["ts"]), e["line"])
                  for e in exp)


def test_npm_clients():
    npm_ci()
    with Env() as env:
        s = Store(env, "").start()
        for mode, app in (("winston-json", "winston-json"), ("winston-proto", "winston-proto"),
                          ("pino", "pino")):
            want = run_client(env, s, mode)
            query = '{app="%s"}' % app
            env.wait_until(lambda: len(s.entries(query)) >= len(want),
                           what="%s entries readable" % mode)
            got = s.entries(query)
            check(got == want, "%s: read back differs:\n got %r\nwant %r"
                  % (mode, got[:3], want[:3]))
        # and again after a restart (WAL replay) and a clean stop (chunks)
        s.stop()
        s.start()
        s.stop()
        s.start()
        for app in ("winston-json", "winston-proto", "pino"):
            check(len(s.entries('{app="%s"}' % app)) == COUNT, "%s after restarts" % app)
        s.stop()


if __name__ == "__main__":
    from lfe2e import main
    main([test_npm_clients])
