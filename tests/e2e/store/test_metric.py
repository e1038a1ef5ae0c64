"""LogQL metric queries over HTTP against the real store: query_range and
query answers (matrix / vector / scalar JSON, step grid, end-exclusive
windows), once on the in-memory head right after the push and again once
every stream was flushed to chunk files; then the errors Loki gives
(pipeline error, series limit, parse error, step checks) with their status
codes and exact bodies."""
import glob
import json
import os
import time

from storelib import Env, Store, check

CONFIG = """
ingester:
  chunk_idle_period: 100ms
  flush_check_period: 50ms
limits_config:
  max_query_series: 3
"""


def answers(s, b):
    """(query, params, expected data) triples; b is a multiple of 60 s."""
    ts = lambda off: b + off
    return [
        ('count_over_time({job="m"}[1m])',
         {"start": ts(60), "end": ts(120), "step": "60"},
         {"resultType": "matrix", "result": [
             {"metric": {"app": "a", "job": "m"}, "values": [[ts(60), "3"], [ts(120), "1"]]},
             {"metric": {"app": "b", "job": "m"}, "values": [[ts(60), "1"]]}]}),
        ('sum by (job) (rate({job="m"} |= "error" [1m]))',
         {"start": ts(60), "end": ts(120), "step": "60"},
         {"resultType": "matrix", "result": [
             {"metric": {"job": "m"}, "values": [[ts(60), "0.05"]]}]}),
        ('sum by (level) (count_over_time({job="m"} | logfmt [1m]))',
         {"time": ts(61)},
         {"resultType": "vector", "result": [
             {"metric": {"level": "error"}, "value": [ts(61), "3"]},
             {"metric": {"level": "info"}, "value": [ts(61), "1"]}]}),
        ('sum by (app) (sum_over_time({job="m"} | logfmt | unwrap duration(took) | __error__="" [1m]))',
         {"time": ts(61)},
         {"resultType": "vector", "result": [
             {"metric": {"app": "a"}, "value": [ts(61), "1.75"]}]}),
        ('avg_over_time({job="m"} | logfmt | unwrap duration(took) | __error__="" [1m]) by (app)',
         {"time": ts(61)},
         {"resultType": "vector", "result": [
             {"metric": {"app": "a"}, "value": [ts(61), "0.875"]}]}),
        ('topk(1, count_over_time({job="m"}[1m])) > bool 2',
         {"time": ts(61)},
         {"resultType": "vector", "result": [
             {"metric": {"app": "a", "job": "m"}, "value": [ts(61), "1"]}]}),
        ('1 + 1', {"time": ts(61)}, {"resultType": "scalar", "result": [ts(61), "2"]}),
        # structured metadata joins the labels, as in log queries
        ('sum by (trace_id) (count_over_time({job="sm"}[1m]))', {"time": ts(61)},
         {"resultType": "vector", "result": [
             {"metric": {"trace_id": "t1"}, "value": [ts(61), "2"]},
             {"metric": {"trace_id": "t2"}, "value": [ts(61), "1"]}]}),
        ('count_over_time({job="sm"}[1m])', {"time": ts(61)},
         {"resultType": "vector", "result": [
             {"metric": {"job": "sm", "trace_id": "t1"}, "value": [ts(61), "2"]},
             {"metric": {"job": "sm", "trace_id": "t2"}, "value": [ts(61), "1"]}]}),
    ]


def run_all(s, b, where):
    for q, params, want in answers(s, b):
        p = dict(params)
        p["query"] = q
        path = "/loki/api/v1/query" if "time" in p else "/loki/api/v1/query_range"
        st, body = s.get(path, p)
        check(st == 200, "%s: %s -> %d %s" % (where, q, st, body[:500]))
        d = json.loads(body)
        check(d["status"] == "success" and "stats" in d["data"], "%s: envelope %s" % (where, body))
        got = {"resultType": d["data"]["resultType"], "result": d["data"]["result"]}
        check(got == want, "%s: %s\n  got  %s\n  want %s" % (where, q, json.dumps(got),
                                                            json.dumps(want)))


def test_metric():
    with Env() as env:
        s = Store(env, CONFIG).start()
        b = (int(time.time()) // 60) * 60 - 600
        ns = lambda off: str((b + off) * 10**9)
        streams = [
            ({"job": "m", "app": "a"}, [[ns(10), "level=error took=1.5s"],
                                        [ns(20), "level=error took=250ms"],
                                        [ns(30), "level=info took=oops"],
                                        [ns(70), "level=info took=1s"]]),
            ({"job": "m", "app": "b"}, [[ns(15), "level=error msg=x"]]),
            ({"job": "sm"}, [[ns(10), "a", {"trace_id": "t1"}], [ns(20), "b", {"trace_id": "t2"}],
                             [ns(30), "c", {"trace_id": "t1"}]]),
            ({"job": "many", "n": "1"}, [[ns(10), "x"]]),
            ({"job": "many", "n": "2"}, [[ns(10), "x"]]),
            ({"job": "many", "n": "3"}, [[ns(10), "x"]]),
            ({"job": "many", "n": "4"}, [[ns(10), "x"]]),
        ]
        check(s.push_json(streams)[0] == 204, "push")
        run_all(s, b, "head")
        chunks = os.path.join(s.data, "tenants", "fake", "chunks", "*.chk")
        env.wait_until(lambda: len(glob.glob(chunks)) >= len(streams),
                       what="every stream flushed to a chunk")
        run_all(s, b, "chunks")

        # errors: status and exact body
        def err(path, params, status, body):
            st, got = s.get(path, params)
            check((st, got.decode()) == (status, body),
                  "%s -> %d %r, want %d %r" % (params, st, got, status, body))

        err("/loki/api/v1/query",
            {"query": 'sum_over_time({job="m"} | logfmt | unwrap duration(took) [1m])',
             "time": b + 61}, 400,
            "pipeline error: 'SampleExtractionErr' for series: '{__error__=\"SampleExtractionErr\", "
            "__error_details__=\"time: invalid duration \\\"oops\\\"\", app=\"a\", job=\"m\", "
            "level=\"info\", took=\"oops\"}'.\n"
            "Use a label filter to intentionally skip this error. (e.g | "
            "__error__!=\"SampleExtractionErr\").\n"
            "To skip all potential errors you can match empty errors.(e.g __error__=\"\")\n"
            "The label filter can also be specified after unwrap. (e.g | unwrap latency | "
            "__error__=\"\" )\n\n")
        err("/loki/api/v1/query", {"query": 'count_over_time({job="many"}[1m])', "time": b + 61},
            400, "maximum of series (3) reached for a single query\n")
        st, body = s.get("/loki/api/v1/query",
                         {"query": 'sum(count_over_time({job="many"}[1m]))', "time": b + 61})
        check(st == 200 and json.loads(body)["data"]["result"][0]["value"][1] == "4",
              "an aggregate of many series is one series: %s" % body)
        err("/loki/api/v1/query", {"query": 'sum(rate({job="m"}[1m])', "time": b + 61}, 400,
            "parse error at line 1, col 24: syntax error: unexpected $end\n")
        err("/loki/api/v1/query", {"query": 'sum_over_time({job="m"}[1m])', "time": b + 61}, 400,
            "parse error : invalid aggregation sum_over_time without unwrap\n")
        err("/loki/api/v1/query_range",
            {"query": 'count_over_time({job="m"}[1m])', "start": b, "end": b + 60, "step": "0"},
            400, "zero or negative query resolution step widths are not accepted. "
                 "Try a positive integer\n")
        err("/loki/api/v1/query_range",
            {"query": 'count_over_time({job="m"}[1m])', "start": b, "end": b + 20000,
             "step": "1"}, 400,
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
            "query resolution (?step=XX)\n")
        s.stop()


if __name__ == "__main__":
    test_metric()
    print("ok")
