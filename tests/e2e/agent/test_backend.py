"""Backend failures: (4) down for 20 s then up: every line arrives and the
agent's RSS stays flat meanwhile (reading pauses; the files are the buffer);
(5) 429 for a while: retried, nothing lost; 400: that batch is dropped,
counted in logferry_dropped_entries_total{reason} and logged."""
import os
import time

from agentlib import (Agent, Env, Receiver, check, main, missing, positions_offsets,
                      static_scrape, write_lines)


def test_backend_down_20s():
    with Env() as env:
        rc = Receiver(env)
        d = env.path("logs")
        os.makedirs(d)
        f = os.path.join(d, "app.log")
        ag = Agent(env, rc, static_scrape(d + "/*.log", job="down"))
        first = ["up-%d" % i for i in range(100)]
        write_lines(f, first)
        env.wait_until(lambda: not missing(first, rc.lines()), what="lines before the outage")
        rc.stop()
        t_down = time.monotonic()
        # ~60 MB while the backend is down: more than the client queues hold,
        # so memory can only stay flat if reading pauses.
        pad = "p" * 190
        expected = list(first)
        chunk = 20000
        samples = []
        i = 0
        while time.monotonic() - t_down < 20:
            batch = ["down-%07d %s" % (i + k, pad) for k in range(chunk)]
            i += chunk
            if i <= 300000:
                write_lines(f, batch)
                expected.extend(batch)
            samples.append((time.monotonic() - t_down, ag.rss_kib()))
            time.sleep(0.5)  # sampling interval of the RSS probe, not a wait for a condition
        ag.alive()
        rc.start()
        env.wait_until(lambda: len(set(rc.lines())) >= len(expected), timeout=120,
                       interval=0.5, what="%d lines after the outage" % len(expected))
        lost = missing(expected, rc.lines())
        check(not lost, "lost %d lines, e.g. %r" % (len(lost), lost[:3]))
        # flat: the second half of the outage grows by less than 8 MiB over the
        # first half's peak (a queue filling up is allowed, unbounded growth not)
        half = [r for t, r in samples if t < 10]
        late = [r for t, r in samples if t >= 10]
        print("  RSS KiB during outage: first half max %d, second half max %d, written %d MB"
              % (max(half), max(late), len(expected) * 200 // 1000000))
        check(max(late) - max(half) < 8 * 1024,
              "RSS grew during the outage: %r" % samples)
        check(ag.stop() == 0, "exit code")


def test_429_then_400():
    with Env() as env:
        rc = Receiver(env)
        d = env.path("logs")
        os.makedirs(d)
        f = os.path.join(d, "app.log")
        ag = Agent(env, rc, static_scrape(d + "/*.log", job="codes"))
        rc.control("429", count=5)
        lines = ["rl-%d" % i for i in range(2000)]
        write_lines(f, lines)
        env.wait_until(lambda: not missing(lines, rc.lines()), what="lines after 429s")
        check(rc.stats()["status"].get("429", 0) == 5, "429 answered: %r" % rc.stats())
        retries = ag.metric("logferry_batch_retries_total")
        check(retries is not None and retries >= 5, "batch retries counted: %r" % retries)

        rc.control("400")
        bad = ["bad-%d" % i for i in range(10)]
        write_lines(f, bad)
        env.wait_until(lambda: (ag.metric("logferry_dropped_entries_total") or 0) >= 10,
                       what="400 batch counted as dropped")
        rc.control("ok")
        reasons = [l for l in ag.metrics().splitlines()
                   if l.startswith("logferry_dropped_entries_total{")]
        check(any('reason="' in l for l in reasons), "dropped reason label: %r" % reasons)
        env.wait_until(lambda: "400" in ag.log(), what="400 logged")
        good = ["good-%d" % i for i in range(10)]
        write_lines(f, good)
        env.wait_until(lambda: not missing(good, rc.lines()), what="lines after the 400")
        check(not set(bad) & set(rc.lines()), "400'd batch was stored")
        check(ag.stop() == 0, "exit code")


def test_two_clients():
    """Every line goes to every client; the positions file only moves past a
    line once both acknowledged it."""
    with Env() as env:
        a = Receiver(env, name="recv-a")
        b = Receiver(env, name="recv-b")
        d = env.path("logs")
        os.makedirs(d)
        f = os.path.join(d, "app.log")
        ag = Agent(env, [a, b], static_scrape(d + "/*.log", job="two"), sync_period="200ms")
        first = ["two-a-%d" % i for i in range(500)]
        write_lines(f, first)
        env.wait_until(lambda: not missing(first, a.lines()) and not missing(first, b.lines()),
                       what="first lines at both receivers")
        size1 = os.path.getsize(f)
        env.wait_until(lambda: positions_offsets(ag.positions).get(f) == size1,
                       what="positions after both acks")
        b.control("500")  # b refuses (retried), a keeps accepting
        second = ["two-b-%d" % i for i in range(500)]
        write_lines(f, second)
        env.wait_until(lambda: not missing(second, a.lines()), what="second lines at a")
        env.wait_until(lambda: b.stats()["status"].get("500", 0) >= 2, what="b retried")
        # a acknowledged, b did not: the position must not move
        sync = ag.metric("logferry_sent_entries_total")
        check(sync is not None, "sent entries metric")
        env.wait_until(lambda: os.path.getmtime(ag.positions) > 0, what="positions file")
        check(positions_offsets(ag.positions).get(f) == size1,
              "positions advanced before client b acknowledged: %r" % positions_offsets(ag.positions))
        b.control("ok")
        env.wait_until(lambda: not missing(second, b.lines()), what="second lines at b")
        env.wait_until(lambda: positions_offsets(ag.positions).get(f) == os.path.getsize(f),
                       what="positions after b recovered")
        check(ag.stop() == 0, "exit code")


if __name__ == "__main__":
    main([test_backend_down_20s, test_429_then_400, test_two_clients])
