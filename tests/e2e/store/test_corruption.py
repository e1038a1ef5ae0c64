"""A truncated WAL tail and a chunk with a flipped byte: the store starts,
reports what it skipped (file and offset / block), and serves the rest."""
import glob
import json
import os

from storelib import Env, Store, check, now_ns

FLUSH_FAST = """
ingester:
  chunk_block_size: 1024
  chunk_idle_period: 200ms
  flush_check_period: 50ms
"""
NO_FLUSH = """
ingester:
  chunk_idle_period: 1h
"""


def lines(prefix, t0, n):
    return [(t0 + i, "%s %04d %s" % (prefix, i, "p" * 40)) for i in range(n)]


def test_torn_wal_and_flipped_chunk_byte():
    with Env() as env:
        data = env.path("data")
        t0 = now_ns() - 10 * 10**9
        # 1. batch A ends up in a chunk (many blocks of ~1 KiB)
        s = Store(env, FLUSH_FAST, name="s1", data=data).start()
        a = lines("A", t0, 400)
        check(s.push_proto([('{job="c"}', a)])[0] == 204, "push A")
        chunks_glob = os.path.join(data, "tenants", "fake", "chunks", "*.chk")
        env.wait_until(lambda: glob.glob(chunks_glob), what="chunk of A written")
        s.stop()
        # 2. batches B1, B2 only in the WAL (no flush), then kill -9
        s = Store(env, NO_FLUSH, name="s2", data=data).start()
        b1 = lines("B1", t0 + 1000, 50)
        b2 = lines("B2", t0 + 2000, 50)
        check(s.push_proto([('{job="c"}', b1)])[0] == 204, "push B1")
        check(s.push_proto([('{job="c"}', b2)])[0] == 204, "push B2")
        s.kill9()
        # 3. tear the WAL tail (cut into B2's record) and flip a chunk byte
        segs = sorted(glob.glob(os.path.join(data, "tenants", "fake", "wal", "*")),
                      key=lambda p: (os.path.getsize(p) > 0, p))
        seg = [p for p in segs if os.path.getsize(p) > 0][-1]
        size = os.path.getsize(seg)
        with open(seg, "r+b") as f:
            f.truncate(size - 7)
        chunk = glob.glob(chunks_glob)[0]
        with open(chunk, "r+b") as f:
            f.seek(os.path.getsize(chunk) // 2)
            c = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([c[0] ^ 0x40]))
        # 4. restart: starts, reports, serves the rest
        s = Store(env, NO_FLUSH, name="s3", data=data).start()
        log = env.log_of("s3")
        check("wal:" in log and os.path.basename(seg) in log and "offset" in log,
              "torn WAL tail reported with file and offset:\n" + log[-2000:])
        got = s.entries('{job="c"}')
        key = json.dumps({"job": "c"})
        gotset = set((ts, line) for k, ts, line in got if k == key)
        check(set(b1) <= gotset, "B1 fully served")
        check(not (set(b2) & gotset), "torn B2 not served (its record was cut)")
        check(gotset <= set(a) | set(b1), "nothing invented")
        got_a = gotset & set(a)
        check(0 < len(got_a) < len(a), "A served except the corrupt block: %d of %d"
              % (len(got_a), len(a)))
        log = env.log_of("s3")
        check("checksum mismatch" in log and os.path.basename(chunk) in log,
              "corrupt block reported with the chunk file:\n" + log[-2000:])
        m = s.metrics()
        check('logferry_store_corrupt_chunk_blocks_total{tenant="fake"} 1' in m,
              "corrupt block metric")
        check(s.ready(), "still up")
        s.stop()


if __name__ == "__main__":
    from lfe2e import main
    main([test_torn_wal_and_flipped_chunk_byte])
