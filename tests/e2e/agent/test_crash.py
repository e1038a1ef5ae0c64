"""kill -9 of the agent in the middle of shipping, then restart: every line
arrives, and the duplicates are bounded by what was sent but not yet
committed to the positions file at the moment of the kill."""
import os
import signal

from agentlib import (Agent, Env, backends, check, main, missing, positions_offsets,
                      static_scrape, write_lines)


def crash(backend_cls):
    with Env() as env:
        be = backend_cls(env)
        d = env.path("logs")
        os.makedirs(d)
        f = os.path.join(d, "app.log")
        n = 60000
        width = 120
        lines = ["crash-%06d %s" % (i, "z" * (width - 13)) for i in range(n)]
        write_lines(f, lines)
        # readline_rate in blocking mode paces shipping (~8 s for the file) so
        # the kill lands in the middle, whatever the backend
        limits = ("limits_config:\n  readline_rate_enabled: true\n  readline_rate: 8000\n"
                  "  readline_burst: 1000\n  readline_rate_drop: false\n")
        ag = Agent(env, be, static_scrape(d + "/*.log", job="crash"), sync_period="500ms",
                   extra=limits)
        # kill once part of the file shipped and positions were saved at least once
        env.wait_until(lambda: len(be.lines()) >= n // 4 and
                       positions_offsets(ag.positions).get(f, 0) > 0,
                       what="shipping under way")
        ag.stop(signal.SIGKILL)
        received_before = len(be.lines())
        committed = positions_offsets(ag.positions).get(f, 0)
        check(committed % (width + 1) == 0, "committed offset %d is not a line boundary" % committed)
        committed_lines = committed // (width + 1)
        window = received_before - committed_lines
        check(window >= 0, "positions (%d lines) ahead of what the backend had (%d): at-least-once "
              "broken" % (committed_lines, received_before))

        ag2 = Agent(env, be, static_scrape(d + "/*.log", job="crash"), name="agent2",
                    positions=ag.positions, sync_period="500ms")
        env.wait_until(lambda: len(set(be.lines())) >= n, timeout=90, what="all lines after restart")
        got = be.lines()
        lost = missing(lines, got)
        check(not lost, "lost %d lines after kill -9, e.g. %r" % (len(lost), lost[:3]))
        dups = len(got) - len(set(got))
        print("  %s: killed at %d/%d received, positions had %d lines: %d duplicates "
              "(unacknowledged window %d)" % (be.name, received_before, n, committed_lines, dups,
                                              window))
        check(dups <= window, "%d duplicates exceed the unacknowledged window %d" % (dups, window))
        check(ag2.stop() == 0, "restarted agent exit code")


def test_kill9_restart():
    for b in backends():
        crash(b)


if __name__ == "__main__":
    main([test_kill9_restart])
