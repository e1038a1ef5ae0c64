"""Loki 2.8 conformance of the query HTTP parameters, checked against the
real store: how query / query_range read time, limit, direction, since and
step (Go's texts for bad values, Loki's order of the checks), instant log
queries (Loki 2.8 answers them with the streams of [time-30s, time)), and
format_query. Table-driven: (path, params, status, expected body or
result)."""
import json
import time

from storelib import Env, Store, check


def table(b):
    """b: a whole minute about 10 minutes ago."""
    sel = '{job="c"}'
    q = "/loki/api/v1/query"
    qr = "/loki/api/v1/query_range"
    fq = "/loki/api/v1/format_query"
    both = []
    for path in (q, qr):
        both += [
            (path, {"query": sel, "limit": "0"}, 400, "limit must be a positive value\n"),
            (path, {"query": sel, "limit": "-3"}, 400, "limit must be a positive value\n"),
            (path, {"query": sel, "limit": "x"}, 400,
             'strconv.Atoi: parsing "x": invalid syntax\n'),
            (path, {"query": sel, "direction": "sideways"}, 400,
             "invalid direction 'sideways'\n"),
            # a metric query still parses limit (Loki parses all parameters first)
            (path, {"query": "count_over_time(%s[1m])" % sel, "limit": "0"}, 400,
             "limit must be a positive value\n"),
            (path, {}, 400, "parse error : syntax error: unexpected $end\n"),
            (path, {"query": ""}, 400, "parse error : syntax error: unexpected $end\n"),
            # parameters are checked before the query is parsed
            (path, {"query": "{", "direction": "up"}, 400, "invalid direction 'up'\n"),
        ]
    return both + [
        (q, {"query": sel, "time": "yesterday"}, 400,
         'strconv.ParseInt: parsing "yesterday": invalid syntax\n'),
        (qr, {"query": sel, "start": "yesterday"}, 400,
         "could not parse 'start' parameter: strconv.ParseInt: parsing \"yesterday\": "
         "invalid syntax\n"),
        (qr, {"query": sel, "end": "soon"}, 400,
         "could not parse 'end' parameter: strconv.ParseInt: parsing \"soon\": "
         "invalid syntax\n"),
        (qr, {"query": sel, "since": "5minutes"}, 400,
         "could not parse 'since' parameter: not a valid duration string: \"5minutes\"\n"),
        (qr, {"query": sel, "start": b + 10, "end": b}, 400,
         "end timestamp must not be before or equal to start time\n"),
        # log range queries check step too
        (qr, {"query": sel, "start": b, "end": b + 60, "step": "0"}, 400,
         "zero or negative query resolution step widths are not accepted. "
         "Try a positive integer\n"),
        (qr, {"query": sel, "start": b, "end": b + 20000, "step": "1"}, 400,
         "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
         "query resolution (?step=XX)\n"),
        # keywords of Loki's lexer are named by their text in syntax errors
        (qr, {"query": 'sum(count_over_time(%s[1m])) by (x) by (y)' % sel}, 400,
         "parse error at line 1, col 44: syntax error: unexpected by\n"),
        (qr, {"query": '%s | json | x > 1 | unwrap x' % sel}, 400,
         "parse error at line 1, col 28: syntax error: unexpected unwrap\n"),
        (qr, {"query": 'abs(rate(%s[1m]))' % sel}, 400,
         "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER\n"),
        # max_entries_limit_per_query applies to log queries only
        (qr, {"query": sel, "limit": "5001"}, 400,
         "max entries limit per query exceeded, limit > max_entries_limit (5001 > 5000)\n"),
        (qr, {"query": "count_over_time(%s[1m])" % sel, "limit": "5001", "start": b,
              "end": b + 60, "step": "60"}, 200,
         {"resultType": "matrix", "result": [
             {"metric": {"job": "c"}, "values": [[b + 60, "3"]]}]}),
        # instant log queries: the entries of [time-30s, time), backward
        (q, {"query": sel, "time": b + 30}, 200,
         {"resultType": "streams", "result": [
             {"stream": {"job": "c"}, "values": [[str((b + 20) * 10**9), "two"],
                                                 [str((b + 10) * 10**9), "one"]]}]}),
        (q, {"query": sel, "time": b + 45, "direction": "FORWARD"}, 200,
         {"resultType": "streams", "result": [
             {"stream": {"job": "c"}, "values": [[str((b + 20) * 10**9), "two"],
                                                 [str((b + 40) * 10**9), "three"]]}]}),
        (q, {"query": sel, "time": str((b + 20) * 10**9)}, 200,
         {"resultType": "streams", "result": [
             {"stream": {"job": "c"}, "values": [[str((b + 10) * 10**9), "one"]]}]}),
        # float seconds: the fraction is rounded to milliseconds (b+19.9996 is
        # read as b+20, so the entry at b+20 is in [start, end))
        (qr, {"query": sel, "start": "%d.9996" % (b + 19), "end": b + 21,
              "direction": "forward"}, 200,
         {"resultType": "streams", "result": [
             {"stream": {"job": "c"}, "values": [[str((b + 20) * 10**9), "two"]]}]}),
        # format_query answers metric queries as Loki 2.8's String() writes them
        (fq, {"query": 'sum by (app) (rate({a="b"} |= "x" | json [5m]))'}, 200,
         'sum by(app)(rate({a="b"} |= "x" | json[5m]))'),
        (fq, {"query": 'quantile_over_time(0.99, {a="b"} | logfmt | unwrap duration(d) '
                       '| __error__="" [90m] offset 1h) by (x)'}, 200,
         'quantile_over_time(0.99,{a="b"} | logfmt | unwrap duration(d) | __error__=""'
         '[1h30m] offset 1h0m0s) by(x)'),
        (fq, {"query": 'topk(3, count_over_time({a="b"}[1d])) > bool 2'}, 200,
         '(topk(3,count_over_time({a="b"}[1d])) > bool 2)'),
        (fq, {"query": 'sum(rate({a="b"}[1m])) / on (x) group_left (y) sum(rate({a="b"}[14d]))'},
         200, '(sum(rate({a="b"}[1m])) / on (x) group_left (y) sum(rate({a="b"}[2w])))'),
        (fq, {"query": 'vector(1) + 1.5e7 * 2'}, 200, '(vector(1.000000) + 3e+07)'),
        (fq, {"query": 'label_replace(rate({a="b"}[1m]), "d", "$1", "s", "(.*)")'}, 200,
         'label_replace(rate({a="b"}[1m]),"d","$1","s","(.*)")'),
        (fq, {"query": 'sum without () (rate({a="b"}[1m])) + 0.0001'}, 200,
         '(sum without(rate({a="b"}[1m])) + 0.0001)'),
    ]


CACHE = ["entriesFound", "entriesRequested", "entriesStored", "bytesReceived", "bytesSent",
         "requests", "downloadTime"]
STORE = {"totalChunksRef": None, "totalChunksDownloaded": None, "chunksDownloadTime": None,
         "chunk": ["headChunkBytes", "headChunkLines", "decompressedBytes", "decompressedLines",
                   "compressedBytes", "totalDuplicates"]}
# Loki 2.8's stats.Result, key by key (later fields such as splits/shards
# and structured metadata do not exist yet)
STATS = {"summary": ["bytesProcessedPerSecond", "linesProcessedPerSecond",
                     "totalBytesProcessed", "totalLinesProcessed", "execTime", "queueTime",
                     "subqueries", "totalEntriesReturned"],
         "querier": {"store": STORE},
         "ingester": {"totalReached": None, "totalChunksMatched": None, "totalBatches": None,
                      "totalLinesSent": None, "store": STORE},
         "cache": {"chunk": CACHE, "index": CACHE, "result": CACHE}}


def shape(v):
    """The key structure of a stats object (leaves as None), in order."""
    if isinstance(v, dict):
        if all(not isinstance(x, dict) for x in v.values()) and all(
                isinstance(x, (int, float)) for x in v.values()):
            return list(v)
        return {k: shape(x) for k, x in v.items()}
    return None


def test_logql_conf():
    with Env() as env:
        s = Store(env).start()
        b = (int(time.time()) // 60) * 60 - 600
        ns = lambda off: str((b + off) * 10**9)
        check(s.push_json([({"job": "c"}, [[ns(10), "one"], [ns(20), "two"],
                                            [ns(40), "three"]])])[0] == 204, "push")
        for path, params, status, want in table(b):
            st, body = s.get(path, params)
            if path.endswith("format_query"):
                check(st == status and json.loads(body) == {"status": "success", "data": want},
                      "%s -> %d %s, want %r" % (params, st, body, want))
                continue
            if isinstance(want, str):
                check((st, body.decode()) == (status, want),
                      "%s %s -> %d %r, want %d %r" % (path, params, st, body, status, want))
                continue
            check(st == status, "%s %s -> %d %s" % (path, params, st, body[:300]))
            d = json.loads(body)
            got = {"resultType": d["data"]["resultType"], "result": d["data"]["result"]}
            check(shape(d["data"]["stats"]) == STATS and
                  list(d["data"]["stats"]) == list(STATS), "stats shape: %s" % d["data"]["stats"])
            check(got == want and "stats" in d["data"],
                  "%s %s\n  got  %s\n  want %s" % (path, params, json.dumps(got),
                                                    json.dumps(want)))


if __name__ == "__main__":
    test_logql_conf()
    print("ok")
