"""The agent's discovery wiring with kubernetes_sd_configs (role: pod) on a
fake /var/log/pods tree, the kubelet unreachable: pods known from their
directory names are tailed with the Helm chart's relabeling, a pod that
appears later is picked up through the directory watch, and the cri stage
runs per file."""
import os

from agentlib import Agent, Env, Receiver, check, main, write_lines

SCRAPE = """scrape_configs:
  - job_name: kubernetes-pods
    pipeline_stages:
      - cri: {}
    kubernetes_sd_configs:
      - role: pod
        kubelet_url: http://127.0.0.1:1
    relabel_configs:
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
      - source_labels: [__meta_kubernetes_pod_container_name]
        target_label: container
      - action: replace
        replacement: %s/*$1/*.log
        separator: /
        source_labels: [__meta_kubernetes_pod_uid, __meta_kubernetes_pod_container_name]
        target_label: __path__
"""


def test_pods_tree():
    with Env() as env:
        rc = Receiver(env)
        pods = env.path("pods")
        conts = env.path("containers")
        os.makedirs(os.path.join(pods, "default_web-1_uid123", "nginx"))
        os.makedirs(conts)
        write_lines(os.path.join(pods, "default_web-1_uid123", "nginx", "0.log"),
                    ["2026-11-21T19:43:10.123456789Z stdout F hello from nginx",
                     "2026-11-21T19:43:10.2Z stdout P part one ",
                     "2026-11-21T19:43:10.3Z stdout F and two"])
        ag = Agent(env, rc, SCRAPE % pods,
                   args=["-discovery.pods-dir=" + pods, "-discovery.containers-dir=" + conts,
                         "-discovery.hostname=node1"])
        env.wait_until(lambda: len(rc.entries()) >= 2, what="existing pod's lines")
        e = rc.entries()
        check([x["line"] for x in e] == ["hello from nginx", "part one and two"],
              "cri lines: %r" % [x["line"] for x in e])
        check(e[0]["ts"] == 1795290190123456789, "cri timestamp: %r" % e[0]["ts"])
        for k in ('namespace="default"', 'pod="web-1"', 'container="nginx"', 'stream="stdout"'):
            check(k in e[0]["labels"], "label %s missing: %s" % (k, e[0]["labels"]))
        # a pod that starts later
        d = os.path.join(pods, "kube-system_dns-2_uid9", "coredns")
        os.makedirs(d)
        write_lines(os.path.join(d, "0.log"), ["2026-11-21T19:43:11Z stderr F new pod line"])
        env.wait_until(lambda: any(x["line"] == "new pod line" for x in rc.entries()),
                       what="new pod picked up")
        n = [x for x in rc.entries() if x["line"] == "new pod line"][0]
        check('pod="dns-2"' in n["labels"] and 'namespace="kube-system"' in n["labels"],
              "new pod labels: %s" % n["labels"])
        check(ag.stop() == 0, "exit code")


if __name__ == "__main__":
    main([test_pods_tree])
