"""The `loki_push_api` source (the agent as a relay): real npm clients
(winston-loki JSON and protobuf, pino-loki) push through the agent into
logferry-store and are read back with exact labels after relabel_configs;
a second agent pushes its file lines to the first agent's push API; the
tenant header is forwarded; a full queue answers 429 and loses nothing it
acknowledged; bad bodies get 400 and the relay keeps working."""
import gzip
import http.client as http_client
import json
import os
import shutil
import subprocess
import time

from agentlib import (STORE, Agent, Env, Receiver, Store, check, http, main, static_scrape,
                      write_lines)

CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients")
COUNT = 60


def push_scrape(port, job="relay", extra=""):
    return ("scrape_configs:\n  - job_name: %s\n    loki_push_api:\n"
            "      server:\n        http_listen_address: 127.0.0.1\n"
            "        http_listen_port: %d\n        grpc_listen_port: 0\n"
            "      use_incoming_timestamp: true\n"
            "      labels:\n        relay: %s\n"
            "    relabel_configs:\n"
            "      - source_labels: [app]\n        target_label: via\n"
            "      - source_labels: [app]\n        regex: drop-me\n        action: drop\n%s"
            % (job, port, job, extra))


def push_url(port, path="/loki/api/v1/push"):
    return "http://127.0.0.1:%d%s" % (port, path)


def wait_push_ready(env, port):
    env.wait_until(lambda: http("GET", push_url(port, "/ready"), timeout=2)[0] == 200,
                   what="push api ready")


def push_json(port, streams, tenant=None, encoding=None):
    body = json.dumps({"streams": streams}).encode()
    h = {"Content-Type": "application/json"}
    if tenant:
        h["X-Scope-OrgID"] = tenant
    if encoding == "gzip":
        body = gzip.compress(body)
        h["Content-Encoding"] = "gzip"
    return http("POST", push_url(port), body, h)


def test_npm_clients_through_relay():
    if not (STORE and os.path.exists(STORE)):
        print("logferry-store not built: skipped")
        return
    npm = shutil.which("npm")
    check(npm is not None, "npm not found on PATH")
    r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=CLIENTS,
                       capture_output=True, text=True, timeout=600)
    check(r.returncode == 0, "npm ci failed:\n%s" % r.stderr[-2000:])
    with Env() as env:
        st = Store(env)
        port = env.free_port()
        ag = Agent(env, st, push_scrape(port))
        wait_push_ready(env, port)
        for mode, app in (("winston-json", "winston-json"), ("winston-proto", "winston-proto"),
                          ("pino", "pino")):
            r = subprocess.run(["node", "push_clients.cjs", push_url(port, ""), mode,
                                str(COUNT)], cwd=CLIENTS, capture_output=True, text=True,
                               timeout=120)
            check(r.returncode == 0 and not r.stderr.strip(),
                  "%s client failed:\n%s" % (mode, r.stderr[-3000:]))
            exp = json.loads(r.stdout.strip().splitlines()[-1])
            want = []
            for e in exp:
                s = dict(e["stream"])
                s["relay"] = "relay"
                s["via"] = app
                want.append((json.dumps(s, sort_keys=True), int(e["ts"]), e["line"]))
            want.sort()
            sel = '{app="%s"}' % app

            def got():
                return sorted((json.dumps(x["labels"], sort_keys=True), x["ts"], x["line"])
                              for x in st.entries(sel))
            env.wait_until(lambda: len(got()) >= len(want), what="%s entries in store" % mode)
            check(got() == want, "%s: differs:\n got %r\nwant %r" % (mode, got()[:2], want[:2]))
        check((ag.metric("logferry_push_api_entries_total", job="relay") or 0) == 3 * COUNT,
              "entries metric")
        check(ag.stop() == 0, "exit code")


def test_agent_to_agent_and_tenant():
    with Env() as env:
        rc = Receiver(env)
        port = env.free_port()
        relay = Agent(env, rc, push_scrape(port), name="relay")
        wait_push_ready(env, port)
        d = env.path("logs")
        os.makedirs(d)
        edge = Agent(env, type("B", (), {"url": lambda self: push_url(port)})(),
                     static_scrape(d + "/*.log", job="edge", labels={"app": "edge"}),
                     name="edge", positions=env.path("edge-pos.yaml"))
        lines = ["edge line %d" % i for i in range(500)]
        write_lines(os.path.join(d, "a.log"), lines)
        env.wait_until(lambda: len([e for e in rc.entries() if e["line"].startswith("edge")])
                       >= len(lines), what="edge lines through the relay")
        got = [e for e in rc.entries() if e["line"].startswith("edge")]
        check(sorted(e["line"] for e in got) == sorted(lines), "edge lines differ")
        check(got[0]["labels"] == '{app="edge", filename="%s", job="edge", relay="relay", '
              'via="edge"}' % os.path.join(d, "a.log"), "labels %r" % got[0]["labels"])
        # tenant header -> __tenant_id__ -> X-Scope-OrgID of the relay's push
        now = str(time.time_ns())
        check(push_json(port, [{"stream": {"app": "t"}, "values": [[now, "for tenant"]]}],
                        tenant="team-a")[0] == 204, "push with tenant")
        # gzip JSON, and a stream dropped by relabel
        check(push_json(port, [{"stream": {"app": "drop-me"}, "values": [[now, "dropped"]]},
                               {"stream": {"app": "gz"}, "values": [[now, "gzipped"]]}],
                        encoding="gzip")[0] == 204, "gzip push")
        env.wait_until(lambda: {"for tenant", "gzipped"} <= set(rc.lines()),
                       what="tenant and gzip entries")
        t = [e for e in rc.entries() if e["line"] == "for tenant"][0]
        check(t["tenant"] == "team-a", "tenant %r" % t["tenant"])
        check("dropped" not in rc.lines(), "relabel drop")
        # bad bodies: 400 with a message, relay still fine
        s, body = http("POST", push_url(port), b"{nope", {"Content-Type": "application/json"})
        check(s == 400 and b"invalid JSON" in body, "bad json: %s %r" % (s, body))
        s, body = http("POST", push_url(port), b"\x00\x01garbage",
                       {"Content-Type": "application/x-protobuf"})
        check(s == 400, "bad protobuf: %s %r" % (s, body))
        c = http_client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.putrequest("POST", "/loki/api/v1/push", skip_accept_encoding=True)
        c.putheader("Content-Length", "2")
        c.endheaders(b"{}")
        resp = c.getresponse()
        body = resp.read()
        c.close()
        check(resp.status == 400 and b"mime: no media type" in body,
              "no content type: %s %r" % (resp.status, body))
        s, _ = http("POST", push_url(port, "/promtail/api/v1/raw"), b"raw one\r\nraw two\n\n",
                    {})
        check(s == 204, "raw: %s" % s)
        env.wait_until(lambda: {"raw one", "raw two"} <= set(rc.lines()), what="raw lines")
        check(edge.stop() == 0 and relay.stop() == 0, "exit codes")


def test_queue_full_429_no_loss():
    with Env() as env:
        rc = Receiver(env)
        port = env.free_port()
        relay = Agent(env, rc, push_scrape(port))
        wait_push_ready(env, port)
        rc.stop()  # backend down: the relay's clients fill, then its queue
        acked, refused, i = [], 0, 0
        line = "x" * 1000
        deadline = time.monotonic() + 120
        while refused == 0 and time.monotonic() < deadline:
            batch = ["q %d %s" % (i + k, line) for k in range(500)]
            i += 500
            now = time.time_ns()
            s, _ = push_json(port, [{"stream": {"app": "q"},
                                     "values": [[str(now + k), l] for k, l in
                                                enumerate(batch)]}])
            if s == 204:
                acked.extend(batch)
            elif s in (429, 503):
                refused += 1
            else:
                check(False, "unexpected status %s" % s)
        check(refused > 0, "no 429 after %d acked entries" % len(acked))
        check(relay.rss_kib() < 300 * 1024, "RSS %d KiB" % relay.rss_kib())
        rc.start()
        want = set(acked)
        env.wait_until(lambda: want <= set(rc.lines()), timeout=300,
                       what="every acknowledged entry delivered once the backend is back")
        check(relay.stop() == 0, "exit code")


if __name__ == "__main__":
    main([test_npm_clients_through_relay, test_agent_to_agent_and_tenant,
          test_queue_full_429_no_loss])
