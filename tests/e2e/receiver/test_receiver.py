"""Checks lf-test-receiver itself: JSON push stored + fsynced before 204,
control modes with counts, stats, bad bodies, and port 0 reporting."""
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.environ["LF_E2E_LIB"])
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lfe2e import Env, check, main  # noqa: E402
from lfreceiver import Receiver  # noqa: E402

RECEIVER = os.environ["LF_TEST_RECEIVER"]


def push(rx, lines, tenant=None):
    return rx.push_json([{"stream": {"job": "t", "app": "a"},
                          "values": [[str(1700000000000000000 + i), l, {"trace_id": "x%d" % i}]
                                     for i, l in enumerate(lines)]}], tenant=tenant)


def test_store_and_modes():
    with Env() as env:
        rx = Receiver(env, RECEIVER)
        st, _ = push(rx, ["hello", "wörld \"q\""], tenant="team-a")
        check(st == 204, "push answered %d" % st)
        got = rx.entries()  # fsynced before the 204: readable now, no waiting
        check(len(got) == 2, "expected 2 stored entries, got %r" % got)
        check(got[0] == {"tenant": "team-a", "labels": '{app="a", job="t"}',
                         "ts": 1700000000000000000, "line": "hello",
                         "sm": {"trace_id": "x0"}}, "entry 0: %r" % got[0])
        check(got[1]["line"] == "wörld \"q\"", "entry 1 line: %r" % got[1]["line"])

        rx.control("429", count=2)
        check(push(rx, ["a"])[0] == 429, "1st push after mode=429")
        check(push(rx, ["a"])[0] == 429, "2nd push after mode=429")
        check(push(rx, ["b"])[0] == 204, "count exhausted: back to ok")

        rx.control("400")
        st, body = push(rx, ["c"])
        check(st == 400 and "timestamp too old" in body, "mode=400: %d %r" % (st, body))
        check(push(rx, ["c"])[0] == 400, "mode=400 without count stays")
        rx.control("500", count=1)
        check(push(rx, ["d"])[0] == 500, "mode=500")
        check(push(rx, ["e"])[0] == 204, "back to ok after count")

        st, _ = rx._post("/control?mode=bogus")
        check(st == 400, "unknown mode rejected, got %d" % st)
        s = rx.stats()
        check(s["requests"] == 8, "requests %r" % s)
        check(s["entries"] == 4 and s["stored_requests"] == 3, "entries %r" % s)
        check(s["status"] == {"204": 3, "429": 2, "400": 2, "500": 1}, "status %r" % s)
        check(rx.lines() == ["hello", "wörld \"q\"", "b", "e"], "rejected pushes are not stored")

        st, body = rx._post("/loki/api/v1/push", b"not snappy")
        check(st == 400, "garbage protobuf body: %d %r" % (st, body))
        env.stop(rx.proc)


if __name__ == "__main__":
    main([test_store_and_modes])
