"""kill -9 of the agent in the middle of shipping, then restart: every line
arrives, and the duplicates are bounded by what was sent but not yet
committed to the positions file at the moment of the kill."""
import os
import signal
import threading
import time

from agentlib import (Agent, Env, Receiver, backends, check, main, missing, positions_offsets,
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


def test_repeated_kill9_few_duplicates():
    """Six kill -9 while a file grows at ~7,000 lines/s (issue 11): every
    line arrives, and a crash re-sends only what was not acknowledged plus
    what was acknowledged in the last ~100 ms (positions are saved soon
    after an acknowledgement moves them, not only every sync_period).
    Before that change this scenario gave ~17,000-45,000 duplicates; the
    bound is 6,000 in all (1,000 per crash). The kills follow the writer's
    progress (its own clock), spread over the growth, each once the
    restarted agent has caught up with the backlog of its predecessor."""
    with Env() as env:
        be = Receiver(env)
        d = env.path("logs")
        os.makedirs(d)
        f = os.path.join(d, "grow.log")
        n, rate, kills = 60000, 7000, 6
        lines = ["grow-%06d %s" % (i, "g" * 100) for i in range(n)]
        open(f, "w").close()
        stop = threading.Event()
        written = [0]

        def writer():
            # paced writer: 1/100 s worth of lines per step on a monotonic
            # schedule (this paces the load; no test step waits on time)
            step = rate // 100
            t0 = time.monotonic()
            for k in range(0, n, step):
                if stop.is_set():
                    return
                write_lines(f, lines[k:k + step])
                written[0] = min(n, k + step)
                delay = t0 + (k + step) / rate - time.monotonic()
                if delay > 0:
                    stop.wait(delay)

        wt = threading.Thread(target=writer, daemon=True)
        wt.start()
        scrape = static_scrape(d + "/*.log", job="grow")

        def agent(i, positions=None):
            return Agent(env, be, scrape, name="agent%d" % i, positions=positions,
                         sync_period="1s", client_extra="batchwait: 200ms")

        per_kill = []
        try:
            ag = agent(0)
            pos = ag.positions
            for k in range(kills):
                backlog = written[0]
                target = (k + 1) * (n - n // 10) // kills
                env.wait_until(lambda: be.stats()["entries"] >= backlog and
                               written[0] >= target, timeout=120,
                               what="kill %d: backlog of %d shipped, %d lines written"
                               % (k + 1, backlog, target), interval=0.01)
                ag.stop(signal.SIGKILL)
                recv = be.stats()["entries"]
                committed = positions_offsets(pos).get(f, 0) // (len(lines[0]) + 1)
                per_kill.append((written[0], recv, committed))
                ag = agent(k + 1, positions=pos)
            env.wait_until(lambda: be.stats()["entries"] >= n and
                           len(set(be.lines())) >= n, timeout=180,
                           what="all %d lines after %d kills" % (n, kills))
        finally:
            stop.set()
            wt.join()
        got = be.lines()
        lost = missing(lines, got)
        check(not lost, "lost %d lines after %d kill -9, e.g. %r" % (len(lost), kills, lost[:3]))
        dups = len(got) - len(set(got))
        print("  %d kill -9 while growing: %d lines, %d duplicates; at each kill (written, "
              "received, in positions): %s" % (kills, len(got), dups, per_kill))
        check(dups <= 6000, "%d duplicates after %d kill -9 (at most 6000)" % (dups, kills))
        check(ag.stop() == 0, "last agent exit code")


if __name__ == "__main__":
    main([test_kill9_restart, test_repeated_kill9_few_duplicates])
