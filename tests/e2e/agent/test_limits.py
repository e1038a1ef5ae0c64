"""(6) a 10 MiB line with max_line_size 256KB is truncated or dropped per
config and the next lines ship; (7) 1000 files tailed at once, and a file
with invalid UTF-8 / NUL bytes ships without corrupting the others."""
import os

from agentlib import (Agent, Env, Receiver, backends, check, main, missing, static_scrape,
                      write_lines)


def long_line(truncate):
    with Env() as env:
        rc = Receiver(env)
        d = env.path("logs")
        os.makedirs(d)
        f = os.path.join(d, "app.log")
        limits = ("limits_config:\n  max_line_size: 256KB\n  max_line_size_truncate: %s\n"
                  % ("true" if truncate else "false"))
        ag = Agent(env, rc, static_scrape(d + "/*.log", job="long"), extra=limits)
        huge = "H" * (10 * 1024 * 1024)
        write_lines(f, ["before", huge, "after-1", "after-2"])
        env.wait_until(lambda: "after-2" in rc.lines(), what="lines after the 10 MiB line")
        got = rc.lines()
        check(got[0] == "before" and got[-2:] == ["after-1", "after-2"], "order: %r" %
              [g[:20] for g in got])
        if truncate:
            check(len(got) == 4, "truncate: expected 4 lines, got %d" % len(got))
            check(got[1] == "H" * 256000, "truncated to %d bytes" % len(got[1]))
        else:
            check(len(got) == 3, "drop: expected 3 lines, got %d" % len(got))
        check(ag.rss_kib() < 200 * 1024, "RSS %d KiB after a 10 MiB line" % ag.rss_kib())
        check(ag.stop() == 0, "exit code")


def test_long_line_truncate():
    long_line(True)


def test_long_line_drop():
    long_line(False)


def test_readline_rate_drop():
    with Env() as env:
        rc = Receiver(env)
        d = env.path("logs")
        os.makedirs(d)
        f = os.path.join(d, "app.log")
        limits = ("limits_config:\n  readline_rate_enabled: true\n  readline_rate: 50\n"
                  "  readline_burst: 100\n  readline_rate_drop: true\n")
        ag = Agent(env, rc, static_scrape(d + "/*.log", job="rate"), extra=limits)
        lines = ["rate-%d" % i for i in range(2000)]
        write_lines(f, lines)
        env.wait_until(lambda: (ag.metric("logferry_readline_rate_dropped_lines_total") or 0)
                       + len(rc.lines()) >= len(lines), what="every line shipped or dropped")
        dropped = ag.metric("logferry_readline_rate_dropped_lines_total")
        got = len(rc.lines())
        check(dropped >= 1000 and got >= 100 and got < 1000,
              "rate limit: %d shipped, %d dropped" % (got, dropped))
        check(ag.stop() == 0, "exit code")


def many_files(backend_cls):
    with Env() as env:
        be = backend_cls(env)
        d = env.path("logs")
        os.makedirs(d)
        n_files, per = 1000, 20
        expected = []
        for k in range(n_files):
            lines = ["f%04d-%02d" % (k, i) for i in range(per)]
            write_lines(os.path.join(d, "f%04d.log" % k), lines)
            expected.extend(lines)
        # the odd file: invalid UTF-8, NUL bytes, a CR
        odd = os.path.join(d, "odd.log")
        with open(odd, "wb") as fh:
            fh.write(b"odd-1 \xff\xfe bad utf8\nodd-2 nul\x00inside\nodd-3 cr\r\n")
        ag = Agent(env, be, static_scrape(d + "/*.log", job="many"))
        env.wait_until(lambda: len(set(be.lines())) >= len(expected) + 3, timeout=90,
                       what="%d lines from %d files" % (len(expected), n_files))
        # more lines into every file while all are open
        more = []
        for k in range(n_files):
            lines = ["g%04d" % k]
            write_lines(os.path.join(d, "f%04d.log" % k), lines)
            more.extend(lines)
        env.wait_until(lambda: not missing(more, be.lines()), timeout=90,
                       what="appends to 1000 open files")
        ents = be.entries()
        lost = missing(expected + more, [e["line"] for e in ents])
        check(not lost, "lost %d lines" % len(lost))
        for e in ents:
            line = e["line"]
            if line.startswith("f") or line.startswith("g"):
                fname = (line[:5] if line.startswith("f") else "f" + line[1:5]) + ".log"
                lab = e["labels"]
                check(fname in (lab if isinstance(lab, str) else lab.get("filename", "")),
                      "line %r came with labels %r" % (line, lab))
        odd_lines = sorted(l for l in (e["line"] for e in ents) if l.startswith("odd-"))
        check(len(odd_lines) == 3, "odd file lines: %r" % odd_lines)
        if be.name == "receiver":
            # bytes pass through: NUL kept, invalid UTF-8 shows up (as U+FFFD
            # after the receiver's JSON rendering or as the raw bytes)
            check("odd-2 nul\x00inside" in odd_lines, "NUL byte lost: %r" % odd_lines)
            check(any(l.startswith("odd-3 cr") for l in odd_lines), "CR line: %r" % odd_lines)
        files_active = ag.metric("logferry_files_active_total")
        print("  %s: %d files, files_active=%r, RSS %d KiB"
              % (be.name, n_files + 1, files_active, ag.rss_kib()))
        check(ag.stop() == 0, "exit code")


def test_1000_files_and_odd_bytes():
    for b in backends():
        many_files(b)


if __name__ == "__main__":
    main([test_long_line_truncate, test_long_line_drop, test_readline_rate_drop,
          test_1000_files_and_odd_bytes])
