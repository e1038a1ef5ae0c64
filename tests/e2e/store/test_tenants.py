"""Tenants: two tenants pushing the same labels never see each other's data
(queries, labels, values, series, also after a restart); a missing org id is
401 `no org id`; hostile tenant ids are refused with 400 before any path is
built from them; with auth disabled everything lands in tenant `fake`."""
import json
import os
import socket

from storelib import Env, Store, check, now_ns

AUTH = "auth_enabled: true\n"


def raw_push(port, tenant_bytes):
    """POST with an arbitrary X-Scope-OrgID header value (bytes)."""
    body = b'{"streams":[{"stream":{"job":"h"},"values":[["%d","x"]]}]}' % now_ns()
    req = (b"POST /loki/api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"X-Scope-OrgID: " + tenant_bytes + b"\r\nContent-Length: %d\r\n"
           b"Connection: close\r\n\r\n" % len(body)) + body
    with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
        c.sendall(req)
        data = b""
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
    line = data.split(b"\r\n", 1)[0]
    return int(line.split()[1]) if line.startswith(b"HTTP/") else 0, data


def check_isolated(s, t0, lines):
    for tenant in ("alpha", "beta"):
        got = s.entries('{app="web"}', tenant=tenant)
        want = [(json.dumps({"app": "web", "env": "prod"}), t0 + i, "%s %d" % (tenant, i))
                for i in range(lines)]
        check(got == sorted(want), "tenant %s sees only its own %d lines, got %d: %r"
              % (tenant, lines, len(got), got[:3]))
        st, body = s.get("/loki/api/v1/label/only/values", {"start": 1}, tenant)
        check(json.loads(body)["data"] == [tenant], "label values of %s: %s" % (tenant, body))
        st, body = s.get("/loki/api/v1/series", {"match[]": '{app="web"}', "start": 1}, tenant)
        check(len(json.loads(body)["data"]) == 1, "series of %s: %s" % (tenant, body))
    got = s.entries('{app="web"}', tenant="gamma")
    check(got == [], "unknown tenant sees nothing: %r" % got[:3])


def test_tenants():
    with Env() as env:
        s = Store(env, AUTH).start()
        t0 = now_ns()
        n = 50
        for tenant in ("alpha", "beta"):
            st, body = s.push_json([({"app": "web", "env": "prod"},
                                     [[str(t0 + i), "%s %d" % (tenant, i)] for i in range(n)]),
                                    ({"only": tenant}, [[str(t0), "marker"]])], tenant=tenant)
            check(st == 204, "push %s: %d %s" % (tenant, st, body))
        check_isolated(s, t0, n)

        # no org id
        st, body = s.push_json([({"app": "web"}, [[str(t0), "x"]])])
        check(st == 401 and b"no org id" in body, "missing tenant: %d %s" % (st, body))
        st, body = s.get("/loki/api/v1/query_range", {"query": '{app="web"}'})
        check(st == 401 and b"no org id" in body, "query without tenant: %d %s" % (st, body))

        # hostile tenant ids
        for bad in (b"..", b".", b"a/b", b"../../etc", b"x" * 10240, b"%2e%2e", b"a b"):
            st, body = raw_push(s.port, bad)
            check(st == 400 or (st in (0, 431) and s.ready()),
                  "tenant %r: want 400, got %d %r" % (bad[:20], st, body[:200]))
        tenants = sorted(os.listdir(os.path.join(s.data, "tenants")))
        check(tenants == ["alpha", "beta"], "tenant directories: %r" % tenants)
        # A NUL inside the header never reaches the handler: libmicrohttpd
        # cuts the value at the NUL, so "a\0b" arrives as the valid ID "a".
        # What matters here: no path is built from the raw bytes, it stays up.
        st, body = raw_push(s.port, b"a\x00b")
        check(st in (204, 400), "tenant with NUL: %d %r" % (st, body[:200]))
        for d in os.listdir(os.path.join(s.data, "tenants")):
            check("\0" not in d and d in ("alpha", "beta", "a"), "tenant dir %r" % d)
        check(s.ready(), "still up after NUL tenant")
        check(not os.path.exists(os.path.join(s.data, "etc")), "no path escaped")
        check(s.ready(), "still up")

        # isolation survives a restart (WAL replay) and chunk flushes
        s.stop()
        s.start()
        check_isolated(s, t0, n)
        s.stop()
        s.start()
        check_isolated(s, t0, n)

        # auth disabled: the header is ignored, everything is tenant "fake"
        s2 = Store(env, "auth_enabled: false\n", name="single").start()
        st, _ = s2.push_json([({"app": "one"}, [[str(t0), "single"]])], tenant="alpha")
        check(st == 204, "single-tenant push")
        check(s2.entries('{app="one"}')[0][2] == "single", "read back in single-tenant mode")
        check(os.listdir(os.path.join(s2.data, "tenants")) == ["fake"], "tenant fake")
        s2.stop()
        s.stop()


if __name__ == "__main__":
    from lfe2e import main
    main([test_tenants])
