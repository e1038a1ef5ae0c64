"""kill -9 while 4 writers push: after every restart each entry that got a
2xx is readable, nothing that was never sent appears, nothing is doubled.
20 random kill points; small batches and small chunks so kills land in WAL
appends, fsyncs, chunk writes and WAL checkpoints."""
import json
import random
import threading
import time

from storelib import Env, Store, check, now_ns

CONFIG = """
limits_config:
  ingestion_rate_mb: 1000
  ingestion_burst_size_mb: 1000
  max_entries_limit_per_query: 10000000
ingester:
  chunk_target_size: 4096
  chunk_block_size: 1024
  chunk_idle_period: 300ms
  flush_check_period: 50ms
"""
ROUNDS = 20
WRITERS = 4


def writer(s, wid, rnd, stop, sent, acked, lock, clock):
    b = 0
    while not stop.is_set():
        entries = []
        for i in range(5):
            with lock:
                clock[0] += 1
                ts = clock[0]
            entries.append((ts, "w%d r%d b%d e%d %s" % (wid, rnd, b, i, "x" * random.randint(0, 200))))
        shared = b % 3 == 0
        labels = {"job": "crash", "writer": "w%d" % wid} if not shared else \
            {"job": "crash", "writer": "shared"}
        key = json.dumps(labels, sort_keys=True)
        with lock:
            for ts, line in entries:
                sent.add((key, ts, line))
        try:
            if wid % 2 == 0:
                text = "{" + ", ".join('%s="%s"' % kv for kv in sorted(labels.items())) + "}"
                st, _ = s.push_proto([(text, entries)])
            else:
                st, _ = s.push_json([(labels, [[str(ts), line] for ts, line in entries])])
        except OSError:
            st = 0
        if 200 <= st < 300:
            with lock:
                for ts, line in entries:
                    acked.add((key, ts, line))
        elif st == 0:
            time.sleep(0.01)
        b += 1


def verify(s, sent, acked, what):
    got = s.entries('{job="crash"}', start=1, limit=10000000)
    gotset = set(got)
    check(len(got) == len(gotset), "%s: %d duplicate entries" % (what, len(got) - len(gotset)))
    invented = gotset - sent
    check(not invented, "%s: %d entries never sent, e.g. %r" % (what, len(invented),
                                                                 list(invented)[:2]))
    lost = acked - gotset
    check(not lost, "%s: %d acknowledged entries lost, e.g. %r" % (what, len(lost),
                                                                   sorted(lost)[:3]))
    return len(got)


def test_kill9_during_pushes():
    random.seed(int(time.time()))
    with Env() as env:
        s = Store(env, CONFIG)
        sent, acked = set(), set()
        lock = threading.Lock()
        clock = [now_ns() - 60 * 10**9]
        for rnd in range(ROUNDS):
            s.start()
            if rnd:
                verify(s, sent, acked, "round %d after restart" % rnd)
            stop = threading.Event()
            ts = [threading.Thread(target=writer,
                                   args=(s, w, rnd, stop, sent, acked, lock, clock))
                  for w in range(WRITERS)]
            for t in ts:
                t.start()
            # wait for some traffic, then kill at a random moment
            base = len(acked)
            env.wait_until(lambda: len(acked) >= base + 20, what="writers making progress")
            time.sleep(random.uniform(0.0, 0.4))
            s.kill9()
            stop.set()
            for t in ts:
                t.join()
        s.start()
        n = verify(s, sent, acked, "final")
        check(len(acked) > ROUNDS * 20, "enough acknowledged entries: %d" % len(acked))
        print("acked %d, sent %d, readable %d" % (len(acked), len(sent), n))
        # a clean stop (SIGTERM) flushes every head to chunks: the next start
        # replays nothing into memory, and everything is still there
        s.stop()
        s.start()
        opened = [l for l in env.log_of(s.name).splitlines() if "tenant fake: opened" in l][-1]
        check(" 0 entries to head" in opened, "graceful stop flushed the heads: " + opened)
        verify(s, sent, acked, "after clean restart")
        s.stop()


if __name__ == "__main__":
    from lfe2e import main
    main([test_kill9_during_pushes])
