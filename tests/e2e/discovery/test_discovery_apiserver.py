"""Discovery with `source: api_server` against a fake API server (HTTPS,
bearer token): LIST with fieldSelector=spec.nodeName=<node>, then WATCH
from the list's resourceVersion; ADDED/MODIFIED/DELETED events change the
targets, 410 Gone makes it relist, and an outage falls back to file-name
labels. Exact label sets from the Helm chart's kubernetes-pods job."""
import os
import sys

sys.path.insert(0, os.environ["LF_E2E_LIB"])
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lfe2e import Env, check, main  # noqa: E402
from fake_kubelet import FakeAPIServer, make_pod  # noqa: E402
from test_discovery_kubelet import (API, DB, DB_LABELS, TOKEN, WEB, WEB_LABELS,  # noqa: E402
                                    API_LABELS, Dump, api_pod, db_pod, file_labels, rel,
                                    remove_pod_dir, web_pod, write_log)

OTHER = ("shop", "web-5f7c9d8b6-other", "0e1f2a3b-0000-4000-8000-0000000000ff")


def test_list_watch():
    with Env() as env:
        api = FakeAPIServer(env.dir, TOKEN)
        api.add(web_pod())
        # A pod of another node: the field selector keeps it out.
        api.add(make_pod(*OTHER, ["web"], labels={"app": "other"}, node="node-b"))
        api.start()
        token_file = env.write("token", TOKEN + "\n")
        web0 = rel(env, write_log(env, WEB, "web", 0))
        other0 = rel(env, write_log(env, OTHER, "web", 0))
        sd = ("kubernetes_sd_configs:\n"
              "  - role: pod\n"
              "    source: api_server\n"
              "    api_server: https://127.0.0.1:%d\n"
              "    bearer_token_file: %s\n"
              "    tls_config: {ca_file: %s}\n" % (api.port, token_file, api.ca_file))
        dump = Dump(env, None, None, sd=sd)
        dump.wait_targets({web0: WEB_LABELS, other0: file_labels(OTHER, "web")},
                          "listed pod; other node's pod not listed")
        check(api.bad_selector == 0, "field selector sent")

        # ADDED through the watch (no new list).
        api.add(db_pod())
        db0 = rel(env, write_log(env, DB, "postgres", 0))
        dump.wait_targets({web0: WEB_LABELS, other0: file_labels(OTHER, "web"),
                           db0: DB_LABELS}, "db added by a watch event")
        check(api.counts()[0] == 1, "one list so far: %s" % (api.counts(),))

        # MODIFIED: a new pod label shows up as `instance`.
        web = web_pod()
        web["metadata"]["labels"]["app.kubernetes.io/instance"] = "shop-web"
        api.modify(web)
        web_labels2 = dict(WEB_LABELS, instance="shop-web")
        dump.wait_targets({web0: web_labels2, other0: file_labels(OTHER, "web"),
                           db0: DB_LABELS}, "web modified")

        # DELETED: kept while its files exist, gone with them.
        updates = dump.state()["kubelet"]["updates"]
        api.delete(db_pod())
        env.wait_until(lambda: dump.state()["kubelet"]["updates"] > updates,
                       what="the DELETED event applied")
        check(dump.targets()[db0] == DB_LABELS, "db kept while its files exist")
        lists = api.counts()[0]
        remove_pod_dir(env, DB)
        dump.wait_targets({web0: web_labels2, other0: file_labels(OTHER, "web")},
                          "db files removed")

        # 410 Gone: the agent relists and keeps its targets.
        api.compact_and_drop_watches()
        env.wait_until(lambda: api.counts()[0] >= lists + 1, what="relist after 410")
        dump.wait_targets({web0: web_labels2, other0: file_labels(OTHER, "web")},
                          "same targets after relist")

        # Outage: file-name labels for a new pod; back: API labels.
        api.stop()
        env.wait_until(lambda: dump.state()["kubelet"]["up"] == 0, what="API server down")
        api0 = rel(env, write_log(env, API, "api", 0))
        dump.wait_targets({web0: web_labels2, other0: file_labels(OTHER, "web"),
                           api0: file_labels(API, "api")}, "file-name labels while down")
        api.add(api_pod())
        api.start()
        dump.wait_targets({web0: web_labels2, other0: file_labels(OTHER, "web"),
                           api0: API_LABELS}, "API labels after the outage")
        dump.close()
        api.stop()
        log = env.log_of("dump")
        check(log.count("API server unavailable") == 1, "down logged once:\n" + log)


if __name__ == "__main__":
    main([test_list_watch])
