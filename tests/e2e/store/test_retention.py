"""Retention: with compactor.retention_enabled and a retention_period, whole
chunks whose newest entry is older than the period are deleted (files and
index rows); newer chunks stay; a restart does not bring them back."""
import glob
import json
import os

from storelib import Env, Store, check, now_ns

CONFIG = """
compactor:
  retention_enabled: true
  compaction_interval: 200ms
limits_config:
  retention_period: 1h
ingester:
  chunk_idle_period: 100ms
  flush_check_period: 50ms
"""


def test_retention_deletes_old_chunks():
    with Env() as env:
        s = Store(env, CONFIG).start()
        now = now_ns()
        old = [(now - 3 * 3600 * 10**9 + i, "old %d" % i) for i in range(10)]
        new = [(now - 60 * 10**9 + i, "new %d" % i) for i in range(10)]
        check(s.push_proto([('{job="old"}', old)])[0] == 204, "push old")
        check(s.push_proto([('{job="new"}', new)])[0] == 204, "push new")
        chunks = os.path.join(s.data, "tenants", "fake", "chunks", "*.chk")
        # the old chunk is written, then deleted by retention; the new stays
        env.wait_until(lambda: 'logferry_store_compactor_deleted_chunks_total{tenant="fake"} 1'
                       in s.metrics(), what="retention deleted the old chunk")
        env.wait_until(lambda: len(glob.glob(chunks)) == 1, what="one chunk file left")
        check(s.entries('{job="old"}') == [], "old entries gone")
        got = [(ts, line) for _, ts, line in s.entries('{job="new"}')]
        check(got == new, "new entries kept")
        s.stop()
        s.start()
        check(s.entries('{job="old"}') == [], "old entries still gone after restart")
        check(len(s.entries('{job="new"}')) == 10, "new entries after restart")
        st, body = s.get("/config")
        check(b"retention_enabled: true" in body and b"retention_period: 1h" in body,
              "/config shows retention: %s" % body)
        check(json.loads(s.get("/loki/api/v1/status/buildinfo")[1])["version"], "buildinfo")
        s.stop()


if __name__ == "__main__":
    from lfe2e import main
    main([test_retention_deletes_old_chunks])
