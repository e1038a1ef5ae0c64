"""LogQL log pipelines over query_range, against a golden file
(logql_pipeline_golden.json): the data set, each query and Loki's exact
answer (streams keyed by the label set after the pipeline). Each query runs
twice: on the in-memory head right after the push, and again once every
stream was flushed to chunk files (chunk_idle_period 100ms). The whole run
is done twice: with the default head blocks (these small streams stay in the
open block) and with ingester.head_block_size: 128 (a few entries per sealed,
compressed block: heads read through their sealed blocks, and chunks built
from them)."""
import glob
import json
import os

from storelib import Env, Store, check, now_ns

CONFIG = """
ingester:
  chunk_idle_period: 100ms
  flush_check_period: 50ms
"""

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "logql_pipeline_golden.json")


def norm(result, t0):
    out = []
    for s in result:
        out.append({"stream": s["stream"],
                    "values": [[int(ts) - t0, line] for ts, line in s["values"]]})
    return sorted(out, key=lambda s: json.dumps(s["stream"], sort_keys=True))


def run_all(s, g, t0, where):
    for c in g["queries"]:
        p = {"start": t0, "end": t0 + 10**9, "limit": 100, "direction": "forward"}
        p.update(c["params"])
        d = s.query_range(c["query"], **p)
        got = norm(d["data"]["result"], t0)
        want = sorted(c["result"], key=lambda s: json.dumps(s["stream"], sort_keys=True))
        check(got == want, "%s: %s\n  got  %s\n  want %s\n  (%s)" % (
            where, c["query"], json.dumps(got), json.dumps(want), c["note"]))
        check(d["data"]["stats"]["summary"]["totalEntriesReturned"] ==
              sum(len(x["values"]) for x in want), "%s: entries returned" % c["query"])
    for e in g["errors"]:
        st, body = s.get("/loki/api/v1/query_range", {"query": e["query"], "start": t0,
                                                       "end": t0 + 10**9})
        check((st, body.decode()) == (e["status"], e["body"]),
              "%s: %s -> %d %r, want %d %r" % (where, e["query"], st, body, e["status"],
                                               e["body"]))


def test_golden(config=CONFIG):
    with open(GOLDEN) as f:
        g = json.load(f)
    with Env() as env:
        s = Store(env, config).start()
        t0 = now_ns() - 60 * 10**9
        streams = [(labels, [[str(t0 + off), line] for off, line in entries])
                   for labels, entries in g["data"]]
        check(s.push_json(streams)[0] == 204, "push")
        run_all(s, g, t0, "head")
        chunks = os.path.join(s.data, "tenants", "fake", "chunks", "*.chk")
        env.wait_until(lambda: len(glob.glob(chunks)) >= len(g["data"]),
                       what="every stream flushed to a chunk")
        run_all(s, g, t0, "chunks")
        s.stop()


def test_golden_sealed_head_blocks():
    test_golden(CONFIG + "  head_block_size: 128\n")


if __name__ == "__main__":
    from lfe2e import main
    main([test_golden, test_golden_sealed_head_blocks])
