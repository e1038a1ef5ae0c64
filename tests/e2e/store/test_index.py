"""Index endpoints: /loki/api/v1/index/volume and /index/volume_range (Loki
2.9+ shapes: grouping by the selector's labels or targetLabels,
aggregateBy=labels, limit, sort by volume, vector vs matrix, errors),
/loki/api/v1/index/stats (query_range's time defaults, matchers only),
labels and label values honouring query=, /loki/api/v1/format_query."""
import json

from storelib import Env, Store, check, now_ns

S = 10**9


def get_json(s, path, params, status=200):
    st, body = s.get(path, params)
    check(st == status, "%s %r: %d %s" % (path, params, st, body[:300]))
    return json.loads(body) if status == 200 else body.decode()


def test_volume():
    with Env() as env:
        s = Store(env, "").start()
        t0 = (now_ns() // (60 * S) - 30) * 60 * S  # a minute boundary, 30 min ago
        streams = {
            ("a", "prod"): [(t0, "a" * 100), (t0 + 10 * S, "a" * 50)],
            ("b", "prod"): [(t0 + 20 * S, "b" * 30)],
            ("a", "dev"): [(t0 + 5 * S, "c" * 7)],
        }
        for (app, envv), vals in streams.items():
            st, _ = s.push_json([({"app": app, "env": envv}, [[str(t), ln] for t, ln in vals])])
            check(st == 204, "push")
        start, end = t0 - S, t0 + 60 * S
        base = {"start": start, "end": end}
        # grouped by the selector's label names
        d = get_json(s, "/loki/api/v1/index/volume", dict(base, query='{env="prod"}'))
        check(d["status"] == "success" and d["data"]["resultType"] == "vector", "shape %r" % d)
        check(d["data"]["result"] == [{"metric": {"env": "prod"}, "value": [end // S, "180"]}],
              "env=prod volume: %r" % d["data"]["result"])
        # targetLabels; sorted by volume, descending
        d = get_json(s, "/loki/api/v1/index/volume",
                     dict(base, query='{env=~".+"}', targetLabels="app"))
        check([(r["metric"], r["value"][1]) for r in d["data"]["result"]] ==
              [({"app": "a"}, "157"), ({"app": "b"}, "30")], "by app: %r" % d["data"]["result"])
        d = get_json(s, "/loki/api/v1/index/volume",
                     dict(base, query='{app=~"a|b", env=~".+"}'))
        check([(r["metric"], r["value"][1]) for r in d["data"]["result"]] ==
              [({"app": "a", "env": "prod"}, "150"), ({"app": "b", "env": "prod"}, "30"),
               ({"app": "a", "env": "dev"}, "7")], "by series: %r" % d["data"]["result"])
        # limit
        d = get_json(s, "/loki/api/v1/index/volume",
                     dict(base, query='{app=~"a|b", env=~".+"}', limit=2))
        check(len(d["data"]["result"]) == 2 and d["data"]["result"][0]["value"][1] == "150",
              "limit 2: %r" % d["data"]["result"])
        # aggregateBy=labels: one series per label name
        d = get_json(s, "/loki/api/v1/index/volume",
                     dict(base, query='{app="a"}', aggregateBy="labels"))
        check([(r["metric"], r["value"][1]) for r in d["data"]["result"]] ==
              [({"app": ""}, "157"), ({"env": ""}, "157")], "labels: %r" % d["data"]["result"])
        # time range: only entries in [start, end]
        d = get_json(s, "/loki/api/v1/index/volume",
                     {"query": '{app="a", env="prod"}', "start": t0 + S, "end": end})
        check(d["data"]["result"][0]["value"][1] == "50", "time range: %r" % d)
        # nothing matches: empty vector
        d = get_json(s, "/loki/api/v1/index/volume", dict(base, query='{app="none"}'))
        check(d["data"] == {"resultType": "vector", "result": []}, "empty: %r" % d)
        # volume_range: one point per step bucket with data, at the bucket's end
        d = get_json(s, "/loki/api/v1/index/volume_range",
                     {"query": '{env="prod"}', "start": t0, "end": t0 + 30 * S, "step": "10s"})
        check(d["data"]["resultType"] == "matrix", "matrix: %r" % d)
        check(d["data"]["result"] == [{"metric": {"env": "prod"},
                                       "values": [[t0 // S + 10, "100"], [t0 // S + 20, "50"],
                                                  [t0 // S + 30, "30"]]}],
              "buckets: %r" % d["data"]["result"])
        # one point only: a vector
        d = get_json(s, "/loki/api/v1/index/volume_range",
                     {"query": '{app="b"}', "start": t0, "end": t0 + 30 * S, "step": "10s"})
        check(d["data"]["resultType"] == "vector" and
              d["data"]["result"][0]["value"] == [t0 // S + 30, "30"], "single point: %r" % d)
        # errors
        msg = get_json(s, "/loki/api/v1/index/volume",
                       dict(base, query='{app="a"}', aggregateBy="pods"), 400)
        check("invalid aggregation option" in msg, msg)
        msg = get_json(s, "/loki/api/v1/index/volume", dict(base, query='{app="a"} |= "x"'), 400)
        check("only label matchers is supported" in msg, msg)
        msg = get_json(s, "/loki/api/v1/index/volume", dict(base, query='{app="a"'), 400)
        check("parse error" in msg, msg)
        msg = get_json(s, "/loki/api/v1/index/volume_range",
                       dict(base, query='{app="a"}', step="0"), 400)
        check("zero or negative query resolution step" in msg, msg)
        # extreme times and steps (issue 17): errors or saturated answers, no overflow
        msg = get_json(s, "/loki/api/v1/index/volume_range",
                       dict(base, query='{app="a"}', step="1e20"), 400)
        check("It overflows int64" in msg, msg)
        wide = {"query": '{env="prod"}', "start": "-9223372036854775808",
                "end": "9223372036854775807"}
        d = get_json(s, "/loki/api/v1/index/volume", wide)
        check([r["value"][1] for r in d["data"]["result"]] == ["180"], "widest volume: %r" % d)
        d = get_json(s, "/loki/api/v1/index/volume_range", wide)
        check(sum(int(v[1]) for r in d["data"]["result"] for v in r.get("values", [r.get("value")]))
              == 180, "widest volume_range: %r" % d)
        d = get_json(s, "/loki/api/v1/index/volume_range",
                     {"query": '{env="prod"}', "start": "-9223372036854775808", "end": str(end),
                      "step": "9223372036"})
        check(sum(int(v[1]) for r in d["data"]["result"] for v in r.get("values", [r.get("value")]))
              == 180, "huge step: %r" % d)
        d = get_json(s, "/loki/api/v1/index/volume",
                     {"query": '{env="prod"}', "end": "-9223372036854775807", "since": "2h"})
        check(d["data"]["result"] == [], "end - since before 1678: %r" % d)
        s.stop()


def test_labels_stats_format():
    with Env() as env:
        s = Store(env, "").start()
        t = now_ns() - 60 * S
        for labels in ({"app": "a", "env": "prod", "team": "x"}, {"app": "a", "env": "dev"},
                       {"app": "b", "env": "prod"}):
            st, _ = s.push_json([(labels, [[str(t), "l1"], [str(t + 1), "l2"]])])
            check(st == 204, "push")
        d = get_json(s, "/loki/api/v1/labels", {"query": '{app="b"}'})
        check(d["data"] == ["app", "env"], "labels with query: %r" % d)
        d = get_json(s, "/loki/api/v1/labels", {})
        check(d["data"] == ["app", "env", "team"], "all labels: %r" % d)
        d = get_json(s, "/loki/api/v1/label/env/values", {"query": '{app="a"}'})
        check(d["data"] == ["dev", "prod"], "values with query: %r" % d)
        d = get_json(s, "/loki/api/v1/label/env/values", {"query": '{team="x"}'})
        check(d["data"] == ["prod"], "values with query team: %r" % d)
        d = get_json(s, "/loki/api/v1/label/team/values", {"query": '{app="b"}'})
        check(d["data"] == [], "no values: %r" % d)
        msg = get_json(s, "/loki/api/v1/labels", {"query": '{app="b"'}, 400)
        check("parse error" in msg, msg)
        # index/stats: unwrapped, matchers only, default start = now-1h
        st, body = s.get("/loki/api/v1/index/stats", {"query": '{env="prod"}'})
        d = json.loads(body)
        check(st == 200 and d["streams"] == 2 and d["entries"] == 4 and d["chunks"] == 2 and
              set(d) == {"streams", "chunks", "entries", "bytes"}, "stats %r" % d)
        check(d["bytes"] % 1024 == 0, "bytes are whole KB per chunk, as Loki's index: %r" % d)
        # a stream of ~3 KB: its chunk counts round(3.x) KB
        st, _ = s.push_json([({"app": "kb"}, [[str(t + i), "k" * 99] for i in range(30)])])
        check(st == 204, "push kb")
        d = json.loads(s.get("/loki/api/v1/index/stats", {"query": '{app="kb"}'})[1])
        check(d["streams"] == 1 and d["entries"] == 30 and d["bytes"] == 3072,
              "KB rounding: %r" % d)
        st, body = s.get("/loki/api/v1/index/stats",
                         {"query": '{env="prod"}', "start": t - 2 * 3600 * S,
                          "end": t - 3600 * S})
        check(json.loads(body)["streams"] == 0, "stats outside the range: %r" % body)
        st, body = s.get("/loki/api/v1/index/stats", {"query": '{env="prod"} |= "x"'})
        check(st == 400 and b"only label matchers is supported" in body, "stats filter")
        # format_query
        for q, want in (('{app="a",env=~"p.*"}|="x"   !~   "y"', '{app="a", env=~"p.*"} |= "x" !~ "y"'),
                        ('{ app = "a" }', '{app="a"}'),
                        ('{app="a"}|json|level="error"|line_format "{{.msg}}"',
                         '{app="a"} | json | level="error" | line_format "{{.msg}}"')):
            d = get_json(s, "/loki/api/v1/format_query", {"query": q})
            check(d == {"status": "success", "data": want}, "format %r: %r" % (q, d))
        st, body = s.request("POST", "/loki/api/v1/format_query",
                             b"query=%7Bapp%3D%22a%22%7D",
                             {"Content-Type": "application/x-www-form-urlencoded"})
        check(st == 200 and json.loads(body)["data"] == '{app="a"}', "POST form: %r" % body)
        msg = get_json(s, "/loki/api/v1/format_query", {"query": '{app="a"'}, 400)
        check("parse error" in msg, msg)
        s.stop()


def test_volume_disabled():
    with Env() as env:
        s = Store(env, "limits_config:\n  volume_enabled: false\n").start()
        for path in ("/loki/api/v1/index/volume", "/loki/api/v1/index/volume_range"):
            st, body = s.get(path, {"query": '{app="a"}'})
            check(st == 404 and b"not found" in body, "%s disabled: %d %r" % (path, st, body))
        s.stop()


if __name__ == "__main__":
    test_volume()
    test_labels_stats_format()
    test_volume_disabled()
