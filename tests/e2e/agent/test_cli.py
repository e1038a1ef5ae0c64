"""The logferry command line: -dry-run output, -stdin through a pipeline,
-check-syntax errors with line:col, -version/-help, SIGHUP reload (good and
bad config), SIGTERM flush + positions, the HTTP endpoints."""
import json
import os
import re
import signal
import socket
import subprocess

from agentlib import (LOGFERRY, Agent, Env, Receiver, check, get, http, main, positions_offsets,
                      static_scrape, write_lines)

DRYRUN_RE = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?[+-]\d{4})\t(\{.*\})\t(.*)$')


def run(argv, stdin=None, timeout=60):
    return subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout)


def test_version_help():
    r = run([LOGFERRY, "-version"])
    check(r.returncode == 0 and b"logferry, version" in r.stdout, "version: %r" % (r,))
    r = run([LOGFERRY, "--help"])
    check(r.returncode == 0, "help rc %d" % r.returncode)
    for f in (b"-config.file", b"-dry-run", b"-stdin", b"-check-syntax", b"-client.url",
              b"-client.external-labels", b"-log.level", b"-print-config-stderr"):
        check(f in r.stdout, "help lacks %r" % f)
    r = run([LOGFERRY, "-log.level=loud", "-stdin", "-dry-run"], stdin=b"")
    check(r.returncode == 2 and b"-log.level" in r.stderr, "bad -log.level: %r" % (r,))
    r = run([LOGFERRY, "-log.level", "debug", "-stdin", "-dry-run"], stdin=b"x\n")
    check(r.returncode == 0 and b"level=debug" in r.stderr, "-log.level debug: %r" % (r,))
    r = run([LOGFERRY, "-no-such-flag"])
    check(r.returncode == 2 and b"flag provided but not defined: -no-such-flag" in r.stderr,
          "unknown flag: %r" % (r,))


def test_check_syntax():
    with Env() as env:
        good = env.write("good.yaml", "clients:\n  - url: http://127.0.0.1:1/loki/api/v1/push\n"
                         + static_scrape("/tmp/x/*.log", stages="- cri: {}"))
        r = run([LOGFERRY, "-check-syntax", "-config.file", good])
        check(r.returncode == 0, "good config: %r" % (r,))
        check(r.stdout.decode().strip() == "Valid config file! No syntax issues found",
              "stdout %r" % r.stdout)

        cases = [
            ("server:\n  http_listen_port: 1\nscrape_config: []\n", ["bad.yaml:3:1", "scrape_config"]),
            ("positions:\n  sync_period: 10x\n", ["bad.yaml:2:", "sync_period"]),
            ("scrape_configs:\n  - job_name: a\n  - job_name: a\n",
             ['found multiple scrape configs with job name "a"', "bad.yaml:3:"]),
            ("scrape_configs:\n  - job_name: a\n    pipeline_stages:\n      - nosuchstage: {}\n",
             ["bad.yaml:4:", "nosuchstage"]),
            ("scrape_configs:\n  - job_name: a\n    static_configs:\n      - labelz: {}\n",
             ["bad.yaml:4:", "labelz"]),
        ]
        for text, needles in cases:
            bad = env.write("bad.yaml", text)
            r = run([LOGFERRY, "--check-syntax", "--config.file=" + bad])
            check(r.returncode == 1, "bad config %r accepted: %r" % (text, r))
            err = r.stderr.decode()
            for n in needles:
                check(n in err, "error for %r lacks %r: %s" % (text, n, err))


def test_print_config_and_expand_env():
    with Env() as env:
        cfg = env.write("c.yaml", "server:\n  http_listen_port: ${LF_T_PORT:-1234}\n"
                        "positions: {filename: /tmp/none/p.yaml}\n")
        r = run([LOGFERRY, "-check-syntax", "-print-config-stderr", "-config.expand-env=true",
                 "-config.file=" + cfg])
        # -check-syntax exits before printing; print through a dry-run stdin instead
        check(r.returncode == 0, "expand-env check: %r" % (r,))
        r = subprocess.run([LOGFERRY, "-stdin", "-dry-run", "-print-config-stderr",
                            "-config.expand-env", "-config.file", cfg],
                           input=b"", capture_output=True, timeout=60,
                           env=dict(os.environ, LF_T_PORT="4321"))
        check(r.returncode == 0, "print-config: %r" % (r,))
        check(b"http_listen_port: 4321" in r.stderr, "expanded port missing: %r" % r.stderr)


def test_stdin_dry_run():
    with Env() as env:
        cfg = env.write("c.yaml", static_scrape("/nonexistent/*.log", job="pipe", stages=(
            "- regex:\n    expression: '^(?P<level>\\w+) (?P<msg>.*)$'\n"
            "- labels:\n    level:\n"
            "- output:\n    source: msg")))
        data = "info hello world\nwarn second line\nno-regex-match\n"
        r = run([LOGFERRY, "-stdin", "-dry-run", "-config.file=" + cfg], stdin=data.encode())
        check(r.returncode == 0, "stdin dry-run: %r" % (r,))
        out = r.stdout.decode().splitlines()
        check(len(out) == 3, "expected 3 lines, got %r" % out)
        parsed = []
        for l in out:
            m = DRYRUN_RE.match(l)
            check(m, "bad dry-run line %r" % l)
            parsed.append((m.group(2), m.group(3)))
        check(parsed[0] == ('{job="pipe", level="info"}', "hello world"), "line 1: %r" % (parsed[0],))
        check(parsed[1] == ('{job="pipe", level="warn"}', "second line"), "line 2: %r" % (parsed[1],))
        check(parsed[2] == ('{job="pipe"}', "no-regex-match"), "line 3: %r" % (parsed[2],))

        # no config: Promtail's default stdin labels
        r = run([LOGFERRY, "-stdin", "-dry-run"], stdin=b"x\n")
        check(r.returncode == 0, "no-config stdin: %r" % (r,))
        m = DRYRUN_RE.match(r.stdout.decode().strip())
        check(m and 'job="stdin"' in m.group(2) and "hostname=" in m.group(2) and m.group(3) == "x",
              "default stdin labels: %r" % r.stdout)


def test_stdin_push():
    with Env() as env:
        rc = Receiver(env)
        lines = ["stdin-push-%d" % i for i in range(500)]
        r = run([LOGFERRY, "-stdin", "-client.url=" + rc.url(), "-client.tenant-id=t9",
                 "-client.external-labels=cluster=c1"], stdin=("\n".join(lines) + "\n").encode())
        check(r.returncode == 0, "stdin push: %r" % (r,))
        got = rc.entries()
        check(sorted(e["line"] for e in got) == sorted(lines), "stdin push lost lines")
        check(all(e["tenant"] == "t9" for e in got), "tenant not sent")
        check(all('cluster="c1"' in e["labels"] for e in got), "external label missing: %r" % got[0])


def test_dry_run_files_positions_untouched():
    with Env() as env:
        d = env.path("logs")
        os.makedirs(d)
        f = os.path.join(d, "a.log")
        write_lines(f, ["first", "second"])
        pos = env.path("pos.yaml")
        # a saved position skips "first\n"
        with open(pos, "w") as p:
            p.write('positions:\n  %s: "6"\n' % f)
        ag = Agent(env, None, static_scrape(d + "/*.log", job="dry"), args=["-dry-run"],
                   positions=pos)
        out = env.path(ag.name + ".stdout")
        write_lines(f, ["third"])

        def lines():
            with open(out) as fh:
                return fh.read().splitlines()
        env.wait_until(lambda: len(lines()) >= 2, what="dry-run output")
        got = lines()
        check(len(got) == 2, "dry-run printed %r" % got)
        for l, want in zip(got, ["second", "third"]):
            m = DRYRUN_RE.match(l)
            check(m, "bad dry-run line %r" % l)
            check(m.group(2) == '{filename="%s", job="dry"}' % f, "labels %r" % m.group(2))
            check(m.group(3) == want, "line %r != %r" % (m.group(3), want))
        before = open(pos).read()
        check(ag.stop() == 0, "dry-run exit code")
        check(open(pos).read() == before, "dry-run wrote the positions file")


def test_endpoints_and_sigterm_flush():
    with Env() as env:
        rc = Receiver(env)
        d = env.path("logs")
        os.makedirs(d)
        # batchwait long: only the shutdown flush can deliver these in time
        ag = Agent(env, rc, static_scrape(d + "/*.log", job="term"),
                   client_extra="batchwait: 5m")
        # no targets yet -> not ready, with Promtail's text
        st, body = get(ag.url("/ready"))
        check(st == 500 and b"Unable to find any logs to tail" in body, "ready without targets: %s %r" % (st, body))
        st, _ = get(ag.url("/"))
        check(st == 200, "/ follows the 303 to /targets: %s" % st)
        f = os.path.join(d, "a.log")
        lines = ["term-%d" % i for i in range(1000)]
        write_lines(f, lines)
        env.wait_until(lambda: get(ag.url("/ready"))[0] == 200, what="ready once a target exists")

        def read_all():
            st, body = get(ag.url("/targets"))
            t = json.loads(body)["targets"]
            return t and t[0]["offset"] == os.path.getsize(f) and t
        t = env.wait_until(read_all, what="file read to its end")[0]
        check(t["path"] == f and t["job"] == "term" and t["labels"]["filename"] == f,
              "/targets item: %r" % t)
        m = ag.metrics()
        for name in ("logferry_build_info", "logferry_config_reload_success_total",
                     "logferry_targets_active_total"):
            check(name in m, "metric %s missing" % name)
        check(rc.lines() == [], "sent before batchwait: the test assumption broke")
        check(ag.stop() == 0, "SIGTERM exit code")
        got = rc.lines()
        check(sorted(got) == sorted(lines), "SIGTERM flush delivered %d/%d" % (len(got), len(lines)))
        offs = positions_offsets(ag.positions)
        check(offs.get(f) == os.path.getsize(f), "positions after SIGTERM: %r" % offs)


def test_server_switches():
    """health_check_target: false -> ready without targets;
    register_instrumentation: false -> no /metrics."""
    with Env() as env:
        ag = Agent(env, None, static_scrape(env.path("none") + "/*.log", job="sw"),
                   args=["-dry-run"], start=False)
        cfg = open(ag.config).read().replace(
            "server:\n", "server:\n  health_check_target: false\n"
            "  register_instrumentation: false\n", 1)
        with open(ag.config, "w") as c:
            c.write(cfg)
        ag.start(wait_ready=False)
        env.wait_until(lambda: ag.alive() and get(ag.url("/ready"), timeout=2)[0] == 200,
                       what="ready without targets")
        check(get(ag.url("/metrics"))[0] == 404, "/metrics served despite "
              "register_instrumentation: false")
        st, body = http("POST", ag.url("/reload"), b"")
        check(st == 400 and b"disabled" in body, "/reload without enable_runtime_reload: %s" % st)
        check(ag.stop() == 0, "exit code")


def test_http_reload():
    with Env() as env:
        ag = Agent(env, None, static_scrape(env.path("none") + "/*.log", job="hr"),
                   args=["-dry-run"], start=False)
        cfg = open(ag.config).read().replace("server:\n", "server:\n  enable_runtime_reload: true\n", 1)
        with open(ag.config, "w") as c:
            c.write(cfg)
        ag.start()
        st, _ = http("POST", ag.url("/reload"), b"")
        check(st == 200, "POST /reload: %s" % st)
        env.wait_until(lambda: ag.metric("logferry_config_reload_success_total") == 1,
                       what="reload through POST /reload")
        check(ag.stop() == 0, "exit code")


def test_sighup_reload():
    with Env() as env:
        rc = Receiver(env)
        d = env.path("logs")
        os.makedirs(d)
        f = os.path.join(d, "a.log")
        ag = Agent(env, rc, static_scrape(d + "/*.log", job="one"))
        write_lines(f, ["before"])
        env.wait_until(lambda: rc.lines() == ["before"], what="first line")
        good = open(ag.config).read().replace("job_name: one", "job_name: two") \
            .replace('job: "one"', 'job: "two"')
        with open(ag.config, "w") as c:
            c.write(good)
        ag.proc.send_signal(signal.SIGHUP)
        env.wait_until(lambda: ag.metric("logferry_config_reload_success_total") == 1,
                       what="reload success counted")
        write_lines(f, ["after"])
        env.wait_until(lambda: len(rc.entries()) == 2, what="line after reload")
        e = rc.entries()[1]
        check(e["line"] == "after" and 'job="two"' in e["labels"], "after reload: %r" % e)

        with open(ag.config, "w") as c:
            c.write(good + "bogus_key: 1\n")
        ag.proc.send_signal(signal.SIGHUP)
        env.wait_until(lambda: ag.metric("logferry_config_reload_fail_total") == 1,
                       what="reload failure counted")
        check("bogus_key" in ag.log(), "bad reload not logged")
        write_lines(f, ["still"])
        env.wait_until(lambda: len(rc.entries()) == 3, what="line after failed reload")
        e = rc.entries()[2]
        check(e["line"] == "still" and 'job="two"' in e["labels"], "kept config: %r" % e)
        # no line read twice across the reloads (positions kept)
        check(rc.lines() == ["before", "after", "still"], "lines: %r" % rc.lines())
        check(ag.stop() == 0, "exit code")


if __name__ == "__main__":
    main([test_version_help, test_check_syntax, test_print_config_and_expand_env,
          test_stdin_dry_run, test_stdin_push, test_dry_run_files_positions_untouched,
          test_endpoints_and_sigterm_flush, test_server_switches, test_http_reload,
          test_sighup_reload])
