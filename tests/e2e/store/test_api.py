"""The read API's shapes and errors, as Loki answers them: query_range
(streams, limit, direction, line filters, start/end forms, since), query
(Grafana's `vector(1)+vector(1)` health check), labels, label values,
series, index/stats, parse errors with position, limits, buildinfo,
metrics names; structured metadata comes back merged into the stream."""
import json
import time

from storelib import Env, Store, check, now_ns


def test_read_api():
    with Env() as env:
        s = Store(env, "").start()
        t0 = now_ns() - 60 * 10**9
        check(s.push_json([({"job": "api", "pod": "a"},
                            [[str(t0 + i), "line %d %s" % (i, "ERR" if i % 5 == 0 else "ok")]
                             for i in range(30)]),
                           ({"job": "api", "pod": "b"},
                            [[str(t0 + 100 + i), "b line %d" % i, {"trace_id": "t%d" % (i % 2)}]
                             for i in range(4)])])[0] == 204, "push")
        # streams shape, backward default, limit 100 default
        d = s.query_range('{job="api"}', start=t0 - 1, end=t0 + 10**9)
        check(d["status"] == "success" and d["data"]["resultType"] == "streams", "shape")
        check(set(d["data"]) == {"resultType", "result", "stats"}, "data keys %r" % d["data"].keys())
        check("summary" in d["data"]["stats"], "stats.summary")
        res = d["data"]["result"]
        streams = sorted(json.dumps(r["stream"], sort_keys=True) for r in res)
        check(streams == sorted([json.dumps({"job": "api", "pod": "a"}),
                                 json.dumps({"job": "api", "pod": "b", "trace_id": "t0"}),
                                 json.dumps({"job": "api", "pod": "b", "trace_id": "t1"})]),
              "streams incl. structured metadata: %r" % streams)
        a = [r for r in res if r["stream"] == {"job": "api", "pod": "a"}][0]["values"]
        check([int(v[0]) for v in a] == [t0 + i for i in range(29, -1, -1)], "backward order")
        check(all(isinstance(v[0], str) for v in a), "ts as strings")
        # limit + direction across streams
        d = s.query_range('{job="api"}', start=t0, end=t0 + 10**9, limit=3, direction="forward")
        got = sorted(int(v[0]) for r in d["data"]["result"] for v in r["values"])
        check(got == [t0, t0 + 1, t0 + 2], "forward limit 3: %r" % got)
        d = s.query_range('{job="api"}', start=t0, end=t0 + 10**9, limit=2)
        got = sorted(int(v[0]) for r in d["data"]["result"] for v in r["values"])
        check(got == [t0 + 102, t0 + 103], "backward limit 2: %r" % got)
        # line filters
        d = s.query_range('{job="api", pod="a"} |= "ERR" != "line 10"', start=t0, end=t0 + 10**9)
        got = [v[1] for r in d["data"]["result"] for v in r["values"]]
        check(got == ["line 25 ERR", "line 20 ERR", "line 15 ERR", "line 5 ERR", "line 0 ERR"],
              "filters: %r" % got)
        d = s.query_range('{pod=~"a|b"} |~ "b line [23]"', start=t0, end=t0 + 10**9)
        check(sorted(v[1] for r in d["data"]["result"] for v in r["values"]) ==
              ["b line 2", "b line 3"], "regex filter")
        # end is exclusive; RFC3339 and float seconds accepted
        d = s.query_range('{pod="a"}', start=t0, end=t0 + 5)
        check(len(d["data"]["result"][0]["values"]) == 5, "end exclusive")
        secs = (t0 + 10**9) / 1e9
        d = s.query_range('{pod="a"}', start="%.6f" % (t0 / 1e9 - 1), end="%.6f" % secs)
        check(len(d["data"]["result"][0]["values"]) == 30, "float seconds")
        rfc = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 // 10**9 - 1))
        d = s.query_range('{pod="a"}', start=rfc)
        check(len(d["data"]["result"][0]["values"]) == 30, "RFC3339 start, default end")
        d = s.query_range('{pod="a"}', since="5m")
        check(len(d["data"]["result"][0]["values"]) == 30, "since")
        # errors
        st, body = s.get("/loki/api/v1/query_range", {"query": '{job="api"'})
        check(st == 400 and body.startswith(b"parse error at line 1, col"), "parse error: %s" % body)
        st, body = s.get("/loki/api/v1/query_range", {"query": '{job=~".*"}'})
        check(st == 400 and b"parse error" in body, "empty-compatible matcher: %s" % body)
        st, body = s.get("/loki/api/v1/query_range", {"query": '{job="api"}', "limit": 6000})
        check(st == 400 and b"max entries limit per query exceeded, limit > max_entries_limit "
              b"(6000 > 5000)" in body, "limit: %s" % body)
        st, body = s.get("/loki/api/v1/query_range", {"query": '{job="api"}', "start": "x"})
        check(st == 400 and body == b"could not parse 'start' parameter: strconv.ParseInt: "
              b"parsing \"x\": invalid syntax\n", "bad start: %s" % body)
        # Loki 2.8 answers instant log queries (streams of [time-30s, time))
        st, body = s.get("/loki/api/v1/query", {"query": '{job="api"}'})
        check(st == 200 and json.loads(body)["data"]["resultType"] == "streams",
              "log instant query: %s" % body)
        # Grafana's health check
        st, body = s.get("/loki/api/v1/query", {"query": "vector(1)+vector(1)",
                                                "time": "4000000000"})
        d = json.loads(body)
        check(st == 200 and d["data"]["resultType"] == "vector", "vector: %s" % body)
        check(d["data"]["result"][0]["value"][1] == "2" and d["data"]["result"][0]["metric"] == {},
              "vector value 2: %s" % body)
        st, body = s.get("/loki/api/v1/query_range", {"query": "vector(1)+vector(1)",
                                                      "start": 1, "end": 4, "step": 1})
        d = json.loads(body)
        check(d["data"]["resultType"] == "matrix" and
              [v[1] for v in d["data"]["result"][0]["values"]] == ["2"] * 4, "matrix: %s" % body)
        # metadata endpoints
        st, body = s.get("/loki/api/v1/labels", {"start": t0 - 1})
        check(json.loads(body) == {"status": "success", "data": ["job", "pod"]}, "labels %s" % body)
        st, body = s.get("/loki/api/v1/label/pod/values", {"start": t0 - 1})
        check(json.loads(body)["data"] == ["a", "b"], "values %s" % body)
        st, body = s.get("/loki/api/v1/label/pod/values", {"start": t0 - 1,
                                                           "query": '{pod="b"}'})
        check(json.loads(body)["data"] == ["b"], "values with query %s" % body)
        st, body = s.get("/loki/api/v1/labels", {"start": 1, "end": 2})
        check(json.loads(body)["data"] == [], "labels outside the range %s" % body)
        st, body = s.get("/loki/api/v1/series", {"match[]": ['{pod="a"}', '{pod="b"}'],
                                                 "start": t0 - 1})
        check(json.loads(body)["data"] == [{"job": "api", "pod": "a"}, {"job": "api", "pod": "b"}],
              "series %s" % body)
        st, body = s.get("/loki/api/v1/series", {})
        check(st == 400, "series without match[]")
        st, body = s.get("/loki/api/v1/index/stats", {"query": '{job="api"}', "start": t0 - 1})
        check(json.loads(body) == {"streams": 2, "chunks": 2, "entries": 34,
                                   "bytes": json.loads(body)["bytes"]}, "index stats %s" % body)
        st, body = s.get("/loki/api/v1/status/buildinfo")
        check(st == 200 and "version" in json.loads(body), "buildinfo")
        m = s.metrics()
        check('logferry_store_lines_received_total{tenant="fake"} 34' in m, "lines metric")
        check('logferry_store_request_total{route="loki_api_v1_query_range",status_code="400"}'
              in m, "request metric")
        st, body = s.get("/nope")
        check(st == 404, "404")

        # exact duplicates (same ts and line) in the head are dropped, as in
        # Loki; same ts with another line is kept; replay keeps it so
        batch = [('{job="dup"}', [(t0, "same"), (t0, "other"), (t0 + 1, "same")])]
        for _ in range(3):
            check(s.push_proto(batch)[0] == 204, "push dup batch")
        want = [(json.dumps({"job": "dup"}), t0, "other"), (json.dumps({"job": "dup"}), t0, "same"),
                (json.dumps({"job": "dup"}), t0 + 1, "same")]
        check(s.entries('{job="dup"}') == want, "duplicates dropped: %r" % s.entries('{job="dup"}'))
        s.kill9()
        s.start()
        check(s.entries('{job="dup"}') == want, "duplicates dropped after replay")
        s.stop()


def test_config_errors_and_flags():
    import subprocess
    from storelib import STORE
    with Env() as env:
        bad = env.write("bad.yaml", "server:\n  http_listen_port: 3100\nlimits_config:\n"
                        "  max_line_size: 1KB\n  bogus: 1\n")
        r = subprocess.run([STORE, "-config.file=" + bad], capture_output=True, text=True,
                           timeout=60)
        check(r.returncode == 1, "bad config exit code %d" % r.returncode)
        check("bad.yaml:5:3" in r.stderr and "bogus" in r.stderr, "line:col: %s" % r.stderr)
        r = subprocess.run([STORE, "-config.file=" + env.path("missing.yaml")],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 1 and "missing.yaml" in r.stderr, "missing file: %s" % r.stderr)
        r = subprocess.run([STORE, "-version"], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0 and r.stdout.startswith("logferry-store, version "), "version")
        r = subprocess.run([STORE, "-nope"], capture_output=True, text=True, timeout=60)
        check(r.returncode == 2 and "-nope" in r.stderr, "unknown flag")
        # an empty config file means all defaults; flags override
        s = Store(env, "").start()
        st, body = s.get("/config")
        check(b"auth_enabled: false" in body and b"chunk_target_size: 1572864" in body and
              b"max_line_size: 256000" in body, "defaults in /config: %s" % body)
        s.stop()


if __name__ == "__main__":
    from lfe2e import main
    main([test_read_api, test_config_errors_and_flags])
