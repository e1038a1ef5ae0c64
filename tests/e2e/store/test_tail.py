"""/loki/api/v1/tail over a websocket, as Loki 2.8 answers it: the history
(newest `limit` entries since `start`, oldest first) then pushes followed as
they arrive; one `streams` element per entry; line filters and the legacy
`regexp`; structured metadata merged into the labels; `delay_for` holds
entries back; parameter errors are HTTP 400 before the upgrade, query
errors and the concurrency limit close with 1011; pings every second; a
client ping gets its pong; a protocol violation closes with 1002; a client
close is echoed; a slow client gets dropped_entries while pushes go on;
shutdown closes sessions with 1001. The wire format was checked against
the reference only (logcli is not packaged in Debian)."""
import json
import os
import struct
import subprocess
import threading
import time

from storelib import Env, Store, check, now_ns
from wslib import WS, HandshakeError, WSClosed

TAIL = "/loki/api/v1/tail"


def push(s, labels, lines, ts=None, sm=None):
    t = ts if ts is not None else now_ns()
    vals = []
    for i, ln in enumerate(lines):
        v = [str(t + i), ln]
        if sm:
            v.append(sm)
        vals.append(v)
    st, body = s.push_json([(labels, vals)])
    check(st == 204, "push: %d %s" % (st, body))
    return [t + i for i in range(len(lines))]


def expect_handshake_error(port, params, status, text):
    try:
        WS(port, TAIL, params).abort()
    except HandshakeError as e:
        check(e.status == status and text in e.body.decode(),
              "%r: want %d %r, got %d %r" % (params, status, text, e.status, e.body))
        return
    raise AssertionError("%r: upgrade accepted" % (params,))


def expect_close(ws, code, text):
    try:
        m = ws.message(30)
        raise AssertionError("got a frame instead of close %d: %r" % (code, m))
    except WSClosed as e:
        check(e.code == code and text in e.reason,
              "want close %d %r, got %d %r" % (code, text, e.code, e.reason))


def test_follow():
    with Env() as env:
        s = Store(env, "").start()
        t0 = now_ns() - 30 * 10**9
        push(s, {"app": "x", "env": "a"}, ["old 0", "old 1 err", "old 2"], ts=t0)
        push(s, {"app": "y"}, ["other old"], ts=t0 + 10)
        w = WS(s.port, TAIL, {"query": '{app="x"}'})
        f = WS(s.port, TAIL, {"query": '{app=~"x|y"} |= "err"'})
        frames = []
        hist = w.entries(3, frames=frames)
        check([(e[1], e[2]) for e in hist] == [(t0, "old 0"), (t0 + 1, "old 1 err"),
                                               (t0 + 2, "old 2")],
              "history oldest first: %r" % hist)
        check(all(e[0] == {"app": "x", "env": "a"} for e in hist), "history labels %r" % hist)
        for fr in frames:
            check(set(fr) <= {"streams", "dropped_entries"}, "frame keys %r" % fr.keys())
            check(all(len(el["values"]) == 1 for el in fr["streams"]),
                  "one entry per streams element: %r" % fr)
            check(all(isinstance(el["values"][0][0], str) for el in fr["streams"]),
                  "ts as string")
        check(f.entries(1)[0][2] == "old 1 err", "filtered history")
        # live pushes, several batches and streams
        live = []
        for k in range(3):
            ts = push(s, {"app": "x", "env": "b"}, ["live %d.%d%s" % (k, i, " err" if i == 1 else "")
                                                    for i in range(3)])
            live += ts
            push(s, {"app": "z"}, ["not followed %d" % k])
        got = w.entries(9)
        check([e[2] for e in got] == ["live %d.%d%s" % (k, i, " err" if i == 1 else "")
                                      for k in range(3) for i in range(3)],
              "live lines in order: %r" % [e[2] for e in got])
        check([e[1] for e in got] == live, "live timestamps")
        check(all(e[0] == {"app": "x", "env": "b"} for e in got), "live labels")
        got = f.entries(3)
        check([e[2] for e in got] == ["live %d.1 err" % k for k in range(3)],
              "line filter on live entries: %r" % got)
        # structured metadata comes back as labels, as query_range does
        push(s, {"app": "x", "env": "c"}, ["with meta"], sm={"trace_id": "abc"})
        got = w.entries(1)
        check(got[0][0] == {"app": "x", "env": "c", "trace_id": "abc"} and
              got[0][2] == "with meta", "metadata labels: %r" % got)
        # an exact duplicate push is not followed again
        dts = push(s, {"app": "x", "env": "d"}, ["dup"])[0]
        check(w.entries(1)[0][2] == "dup", "first copy")
        push(s, {"app": "x", "env": "d"}, ["dup"], ts=dts)
        push(s, {"app": "x", "env": "d"}, ["after dup"])
        check(w.entries(1)[0][2] == "after dup", "duplicate not followed")
        # the server pings every second; a client ping gets its pong
        deadline = time.monotonic() + 30
        while w.pings < 2 and time.monotonic() < deadline:
            op, _, p = w.frame(30)
            if op == 9:
                w.pings += 1
                w.send(10, p)
        check(w.pings >= 2, "server pings")
        w.send(9, b"are you there")
        while True:
            op, _, p = w.frame(30)
            if op == 10:
                check(p == b"are you there", "pong payload %r" % p)
                break
        # client close: echoed, then the TCP connection ends
        code, rest = w.close(1000)
        check(code == 1000 and rest == b"", "clean close: %r %r" % (code, rest))
        code, rest = f.close(4000, b"bye")
        check(code == 4000 and rest == b"", "close code echoed: %r" % code)
        # the sessions are gone: a new tail still works
        w = WS(s.port, TAIL, {"query": '{app="y"}'})
        check(w.entries(1)[0][2] == "other old", "new session")
        w.close()
        s.stop()


def test_pipeline():
    """`{app="j"} | json | level="error"` tails with the extracted labels;
    line_format rewrites the line; the history goes through the pipeline too."""
    with Env() as env:
        s = Store(env, "").start()
        t0 = now_ns() - 10 * 10**9
        push(s, {"app": "j"}, ['{"level":"error","msg":"old boom"}',
                               '{"level":"info","msg":"old fine"}'], ts=t0)
        w = WS(s.port, TAIL, {"query": '{app="j"} | json | level="error"'})
        f = WS(s.port, TAIL, {"query": '{app="j"} |= "boom" | json | line_format "{{.msg}}!"'})
        got = w.entries(1)
        check(got[0][0] == {"app": "j", "level": "error", "msg": "old boom"} and
              got[0][2] == '{"level":"error","msg":"old boom"}', "history via pipeline: %r" % got)
        check(f.entries(1)[0][2] == "old boom!", "history line_format")
        push(s, {"app": "j"}, ['{"level":"info","msg":"fine"}', '{"level":"error","msg":"boom"}',
                               'not json boom'])
        got = w.entries(1)
        check(got[0][0] == {"app": "j", "level": "error", "msg": "boom"} and
              got[0][2] == '{"level":"error","msg":"boom"}', "live via pipeline: %r" % got)
        got = f.entries(2)
        check([e[2] for e in got] == ["boom!", "!"], "live line_format: %r" % got)
        check(got[1][0].get("__error__") == "JSONParserErr", "parser error label: %r" % got[1][0])
        w.close()
        f.close()
        s.stop()


def test_node_client():
    """Node's own WebSocket client (undici) follows the tail: an RFC 6455
    implementation independent of wslib. Skipped without node >= 20."""
    try:
        ok = subprocess.run(["node", "--experimental-websocket", "-e",
                             "process.exit(typeof WebSocket === 'function' ? 0 : 1)"],
                            capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        print("skip: node with --experimental-websocket not available")
        return
    clients = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients")
    with Env() as env:
        s = Store(env, "").start()
        t0 = now_ns() - 5 * 10**9
        push(s, {"app": "n"}, ["hist é 0", "hist 1"], ts=t0)
        url = "ws://127.0.0.1:%d%s?query=%s" % (s.port, TAIL, "%7Bapp%3D%22n%22%7D")
        p = subprocess.Popen(["node", "--experimental-websocket", "tail_client.cjs", url, "5"],
                             cwd=clients, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            check(json.loads(p.stdout.readline()) == {"open": True}, "node client opened")
            lines = [json.loads(p.stdout.readline()) for _ in range(2)]
            push(s, {"app": "n"}, ["live %d" % i for i in range(3)])
            lines += [json.loads(p.stdout.readline()) for _ in range(3)]
            out = p.stdout.read()  # to EOF (the client exits after its close)
            p.wait(timeout=60)
            err = p.stderr.read()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        check(p.returncode == 0, "node client exit %s: %s" % (p.returncode, err))
        check([x["line"] for x in lines] == ["hist é 0", "hist 1", "live 0", "live 1", "live 2"]
              and all(x["labels"] == {"app": "n"} for x in lines), "node client got %r" % lines)
        check(json.loads(out.splitlines()[-1])["closed"] == 1000, "node close: %r" % out)
        s.stop()


def test_params():
    with Env() as env:
        s = Store(env, "limits_config:\n  max_entries_limit_per_query: 500\n").start()
        t0 = now_ns() - 100 * 10**9
        push(s, {"app": "p"}, ["e%d" % i for i in range(5)], ts=t0)
        push(s, {"app": "p"}, ["late%d" % i for i in range(2)], ts=t0 + 50 * 10**9)
        # limit: the newest `limit` entries of the history, oldest first
        w = WS(s.port, TAIL, {"query": '{app="p"}', "limit": 3})
        got = [e[2] for e in w.entries(3)]
        check(got == ["e4", "late0", "late1"], "limit 3: %r" % got)
        w.close()
        # start (ns, float seconds, RFC3339)
        for start in (str(t0 + 40 * 10**9), "%.3f" % ((t0 + 40 * 10**9) / 1e9),
                      time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((t0 + 41 * 10**9) // 10**9))):
            w = WS(s.port, TAIL, {"query": '{app="p"}', "start": start})
            got = [e[2] for e in w.entries(2)]
            check(got == ["late0", "late1"], "start %s: %r" % (start, got))
            w.close()
        # default start is now-1h: entries 2h old are not replayed
        push(s, {"app": "q"}, ["ancient"], ts=now_ns() - 2 * 3600 * 10**9)
        push(s, {"app": "q"}, ["recent"], ts=now_ns() - 10**9)
        w = WS(s.port, TAIL, {"query": '{app="q"}'})
        got = w.entries(1)
        check([e[2] for e in got] == ["recent"], "default start: %r" % got)
        w.close()
        # legacy regexp parameter
        w = WS(s.port, TAIL, {"query": '{app="p"}', "regexp": "late[1]"})
        check([e[2] for e in w.entries(1)] == ["late1"], "regexp param")
        w.close()
        # delay_for: an entry is released only once now > ts + delay_for
        w = WS(s.port, TAIL, {"query": '{app="d"}', "delay_for": 2})
        w0 = WS(s.port, TAIL, {"query": '{app="d"}'})
        ts = push(s, {"app": "d"}, ["delayed"])[0]
        got = w.entries(1)
        arrived = time.time_ns()
        check(got[0][2] == "delayed" and arrived > ts + 2 * 10**9,
              "delay_for 2: arrived %.3fs after ts" % ((arrived - ts) / 1e9))
        check(w0.entries(1)[0][2] == "delayed", "no delay")
        w.close()
        w0.close()
        # parameter errors: HTTP 400 before the upgrade
        expect_handshake_error(s.port, {"query": '{app="p"}', "delay_for": 6}, 400,
                               "delay_for can't be greater than 5")
        expect_handshake_error(s.port, {"query": '{app="p"}', "limit": 0}, 400,
                               "limit must be a positive value")
        expect_handshake_error(s.port, {"query": '{app="p"}', "limit": "x"}, 400,
                               "invalid syntax")
        expect_handshake_error(s.port, {"query": '{app="p"}', "start": "yesterday"}, 400,
                               'strconv.ParseInt: parsing "yesterday": invalid syntax')
        st, body = s.get(TAIL, {"query": '{app="p"}'})
        check(st == 400 and b"websocket: the client is not using the websocket protocol: "
              b"'upgrade' token not found in 'Connection' header" in body,
              "plain GET: %d %r" % (st, body))
        # errors after the upgrade close with 1011 and the text
        w = WS(s.port, TAIL, {"query": '{app="p"'})
        expect_close(w, 1011, "parse error")
        w = WS(s.port, TAIL, {"query": '{app=~".*"}'})
        expect_close(w, 1011, "queries require at least one regexp or equality matcher")
        w = WS(s.port, TAIL, {"query": '{app="p"}', "limit": 501})
        expect_close(w, 1011, "max entries limit per query exceeded, limit > max_entries_limit "
                              "(501 > 500)")
        # at most 10 concurrent tails per tenant
        ws = [WS(s.port, TAIL, {"query": '{app="p"}', "limit": 1}) for _ in range(10)]
        for x in ws:
            check(x.entries(1)[0][2] == "late1", "tail within the limit")
        extra = WS(s.port, TAIL, {"query": '{app="p"}'})
        expect_close(extra, 1011,
                     "max concurrent tail requests limit exceeded, count > limit (11 > 10)")
        ws[0].close()
        deadline = time.monotonic() + 30
        while True:  # the slot frees once the session is gone
            again = WS(s.port, TAIL, {"query": '{app="p"}', "limit": 1})
            try:
                check(again.entries(1, timeout=10)[0][2] == "late1", "slot reused")
                break
            except WSClosed:
                check(time.monotonic() < deadline, "slot never freed")
        again.close()
        for x in ws[1:]:
            x.close()
        # frames sent right behind the handshake are read: a ping gets its pong
        # and a close its echo, before anything else is sent
        w = WS(s.port, TAIL, {"query": '{app="p"}'},
               early=WS.encode(9, b"early") + WS.encode(8, struct.pack(">H", 4001)))
        op, _, p = w.frame(30)
        check(op == 10 and p == b"early", "pong to an early ping: %d %r" % (op, p))
        op, _, p = w.frame(30)
        check(op == 8 and p[:2] == struct.pack(">H", 4001), "early close echoed: %d %r" % (op, p))
        w.abort()
        # protocol violation: an unmasked client frame closes with 1002
        w = WS(s.port, TAIL, {"query": '{app="p"}', "limit": 1})
        w.entries(1)
        w.send(1, b"hi", mask=False)
        expect_close(w, 1002, "not masked")
        # shutdown closes open sessions with 1001
        w = WS(s.port, TAIL, {"query": '{app="p"}', "limit": 1})
        w.entries(1)
        stopper = threading.Thread(target=s.stop)
        stopper.start()
        expect_close(w, 1001, "")
        stopper.join()


def test_auth():
    with Env() as env:
        s = Store(env, "auth_enabled: true\n").start()
        expect_handshake_error(s.port, {"query": '{app="a"}'}, 401, "no org id")
        w1 = WS(s.port, TAIL, {"query": '{app="a"}'}, headers={"X-Scope-OrgID": "t1"})
        w2 = WS(s.port, TAIL, {"query": '{app="a"}'}, headers={"X-Scope-OrgID": "t2"})
        st, _ = s.push_json([({"app": "a"}, [[str(now_ns()), "for t2"]])], tenant="t2")
        check(st == 204, "push t2")
        st, _ = s.push_json([({"app": "a"}, [[str(now_ns()), "for t1"]])], tenant="t1")
        check(st == 204, "push t1")
        check(w1.entries(1)[0][2] == "for t1", "tenant t1 sees only its entries")
        check(w2.entries(1)[0][2] == "for t2", "tenant t2 sees only its entries")
        w1.close()
        w2.close()
        # a browser cannot set headers on a websocket: the tenant may come
        # in the `tenant` query argument (logferry only; the header wins)
        w3 = WS(s.port, TAIL, {"query": '{app="a"}', "tenant": "t1"})
        check(w3.entries(1)[0][2] == "for t1", "tenant from the query argument")
        w3.close()
        w4 = WS(s.port, TAIL, {"query": '{app="a"}', "tenant": "t1"}, headers={"X-Scope-OrgID": "t2"})
        check(w4.entries(1)[0][2] == "for t2", "the header wins over the argument")
        w4.close()
        expect_handshake_error(s.port, {"query": '{app="a"}', "tenant": "../x"}, 400, "tenant ID")
        expect_handshake_error(s.port, {"query": '{app="a"}', "tenant": "t1\x00evil"}, 400,
                               "unsupported character 0x00")
        s.stop()


def test_config_limit():
    """limits_config.max_concurrent_tail_requests (Loki's key) sets the limit."""
    with Env() as env:
        s = Store(env, "limits_config:\n  max_concurrent_tail_requests: 2\n").start()
        push(s, {"app": "c"}, ["one"])
        ws = [WS(s.port, TAIL, {"query": '{app="c"}'}) for _ in range(2)]
        for x in ws:
            check(x.entries(1)[0][2] == "one", "within the limit")
        expect_close(WS(s.port, TAIL, {"query": '{app="c"}'}), 1011,
                     "max concurrent tail requests limit exceeded, count > limit (3 > 2)")
        st, body = s.get("/config")
        check(b"max_concurrent_tail_requests: 2" in body, "/config shows the limit")
        for x in ws:
            x.close()
        s.stop()


def test_slow_client():
    with Env() as env:
        s = Store(env, "limits_config:\n  ingestion_rate_mb: 1000\n"
                       "  ingestion_burst_size_mb: 1000\n"
                       "  per_stream_rate_limit: 1GB\n  per_stream_rate_limit_burst: 2GB\n").start()
        slow = WS(s.port, TAIL, {"query": '{app="slow"}'}, rcvbuf=4096)
        # make sure the session is subscribed before pushing: one entry through
        push(s, {"app": "slow"}, ["first"])
        check(slow.entries(1)[0][2] == "first", "first entry")
        line = "x" * 1000
        pushed = 0
        t_start = time.monotonic()
        for k in range(40):
            # each push must be answered while the client reads nothing
            st, body = s.push_json([({"app": "slow"}, [[str(now_ns() + i), "%d %d %s" % (k, i, line)]
                                                       for i in range(500)])])
            check(st == 204, "push %d while the client stalls: %d %s" % (k, st, body[:200]))
            pushed += 500
        elapsed = time.monotonic() - t_start
        # now read everything that comes, until an idle second
        got, dropped = [], []
        frames = []
        while True:
            try:
                got += slow.entries(1, timeout=3, frames=frames, dropped=dropped)
            except TimeoutError:
                break
        check(dropped, "no dropped_entries reported after %d entries" % pushed)
        check(len(got) < pushed, "everything delivered (%d): no backpressure?" % len(got))
        check(len(dropped) <= 1000, "at most 1000 dropped entries per frame: %d" % len(dropped))
        for d in dropped[:20]:
            check(set(d) == {"timestamp", "labels"} and d["labels"] == {"app": "slow"} and
                  int(d["timestamp"]) > 0, "dropped entry shape %r" % d)
        body = [e for e in got if e[2] != "first"]
        check(all(e[2].endswith(" " + line) and e[0] == {"app": "slow"} for e in body) and
              len({e[2] for e in body}) == len(body), "delivered entries intact and unique")
        check([e[1] for e in body] == sorted(e[1] for e in body), "delivered in time order")
        seen = {int(e[1]) for e in got}
        check(not seen & {int(d["timestamp"]) for d in dropped}, "dropped entries were sent")
        # pushes afterwards are followed again
        push(s, {"app": "slow"}, ["after"])
        deadline = time.monotonic() + 30
        while True:
            e = slow.entries(1, timeout=max(1, deadline - time.monotonic()))
            if e[0][2] == "after":
                break
        code, rest = slow.close()
        check(code == 1000 and rest == b"", "clean close")
        print("slow client: %d pushed in %.1fs, %d delivered, %d reported dropped" %
              (pushed, elapsed, len(got), len(dropped)))
        s.stop()


if __name__ == "__main__":
    test_follow()
    test_pipeline()
    test_node_client()
    test_params()
    test_auth()
    test_config_limit()
    test_slow_client()
