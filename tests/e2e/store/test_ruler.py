"""logferry-store's ruler against real Debian components: Prometheus'
Alertmanager (alerts POSTed to /api/v2/alerts, read back from its API and
from a webhook receiver it notifies) and Prometheus (remote-write receiver
for recording rules). Also the rules APIs, restarts and hostile rule files.
No fixed sleeps: every wait is a condition with a generous deadline."""
import http.server
import json
import os
import shutil
import ssl
import subprocess
import threading
import time
import urllib.parse
import urllib.request

from storelib import Env, Store, check, now_ns
from lfe2e import main  # noqa: E402 (storelib puts it on sys.path)

AM_BIN = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
PROM_BIN = shutil.which("prometheus") or "/usr/bin/prometheus"
SLOW = 120  # deadline (s) for conditions that span several evaluations


def http_json(url, method="GET", body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


class Webhook:
    """Collects Alertmanager webhook notifications."""

    def __init__(self):
        self.msgs = []
        hook = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length", 0))
                hook.msgs.append(json.loads(self.rfile.read(n)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def statuses(self, alertname):
        out = []
        for m in self.msgs:
            for a in m.get("alerts", []):
                if a["labels"].get("alertname") == alertname:
                    out.append(a["status"])
        return out

    def close(self):
        self.srv.shutdown()


# bcrypt of "s3cret-pw" (cost 4), for Alertmanager's basic_auth_users
AM_PW_HASH = "$2b$04$a1Bn9e7ArLmo8rXRoNZmgesS3EMfJ817gWQUuFKGeBsArmVXaYjtK"


def make_certs(directory):
    """ca.crt and server.{crt,key} for 127.0.0.1, made with the openssl CLI."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, cwd=directory,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=test-ca")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=am")
    with open(os.path.join(directory, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")


class Alertmanager:
    def __init__(self, env, webhook_port=None, name="am", tls_dir=None):
        self.env = env
        self.name = name
        self.port = env.free_port()
        self.tls_dir = tls_dir
        self.web = None
        if tls_dir:
            self.web = env.write(name + "-web.yml", (
                "tls_server_config:\n  cert_file: %s/server.crt\n  key_file: %s/server.key\n"
                "basic_auth_users:\n  ruler: '%s'\n") % (tls_dir, tls_dir, AM_PW_HASH))
        recv = "  - name: hook\n"
        if webhook_port:
            recv += ("    webhook_configs:\n      - url: http://127.0.0.1:%d/\n"
                     "        send_resolved: true\n" % webhook_port)
        self.cfg = env.write(name + ".yml",
                             "route:\n  receiver: hook\n  group_wait: 0s\n"
                             "  group_interval: 1s\n  repeat_interval: 1h\n"
                             "receivers:\n" + recv)
        self.proc = None

    def start(self):
        self.proc = self.env.spawn(
            [AM_BIN, "--config.file=" + self.cfg,
             "--storage.path=" + self.env.path(self.name + "-data"),
             "--web.listen-address=127.0.0.1:%d" % self.port,
             "--cluster.listen-address="] +
            (["--web.config.file=" + self.web] if self.web else []), name=self.name)
        self.env.wait_until(self.ready, what="alertmanager ready")
        return self

    def _get(self, path):
        if not self.tls_dir:
            return urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path),
                                          timeout=10)
        ctx = ssl.create_default_context(cafile=os.path.join(self.tls_dir, "ca.crt"))
        import base64
        req = urllib.request.Request(
            "https://127.0.0.1:%d%s" % (self.port, path),
            headers={"Authorization": "Basic " +
                     base64.b64encode(b"ruler:s3cret-pw").decode()})
        return urllib.request.urlopen(req, timeout=10, context=ctx)

    def ready(self):
        try:
            with self._get("/-/ready") as r:
                return r.status == 200
        except OSError:
            return False

    def alerts(self):
        with self._get("/api/v2/alerts") as r:
            return json.loads(r.read())

    def stop(self):
        self.env.stop(self.proc)


def ruler_config(env, rules_dir, am_port=None, extra=""):
    am = "  alertmanager_url: http://127.0.0.1:%d\n" % am_port if am_port else ""
    return ("ruler:\n  storage:\n    type: local\n    local:\n      directory: %s\n"
            "  rule_path: %s\n  evaluation_interval: 1s\n  poll_interval: 1s\n"
            "  resend_delay: 1s\n%s%s" % (rules_dir, env.path("scratch"), am, extra))


ALERT_RULES = """groups:
  - name: web
    rules:
      - alert: HighErrors
        expr: sum by (app) (count_over_time({app="web"} |= "error" [%s])) > 2
        for: 2s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.app }} has {{ $value }} errors"
          human: "{{ humanize 1234567 }} / {{ $value | humanizePercentage }}"
"""


def push_errors(store, n=5):
    t = now_ns()
    st, body = store.push_json([({"app": "web"}, [[str(t + i), "level=error boom %d" % i]
                                                  for i in range(n)])])
    check(st == 204, "push: %d %s" % (st, body))


def store_alerts(store):
    st, body = store.get("/prometheus/api/v1/alerts")
    check(st == 200, "alerts API: %d %s" % (st, body))
    return json.loads(body)["data"]["alerts"]


def test_alert_fires_and_resolves():
    with Env() as env:
        hook = Webhook()
        try:
            am = Alertmanager(env, hook.port).start()
            rules = env.path("rules")
            env.write("rules/fake/web.yaml", ALERT_RULES % "15s")
            store = Store(env, ruler_config(env, rules, am.port)).start()
            push_errors(store)

            def am_has():
                for a in am.alerts():
                    if a["labels"].get("alertname") == "HighErrors":
                        return a
                return None
            a = env.wait_until(am_has, what="alert in Alertmanager", timeout=SLOW)
            check(a["labels"] == {"alertname": "HighErrors", "app": "web",
                                  "severity": "page"}, "labels: %r" % a["labels"])
            check(a["annotations"]["summary"] == "web has 5 errors",
                  "annotations: %r" % a["annotations"])
            check(a["annotations"]["human"] == "1.235M / 500%",
                  "humanize: %r" % a["annotations"])
            check("/graph?g0.expr=" in a["generatorURL"], a["generatorURL"])
            sa = store_alerts(store)
            check(len(sa) == 1 and sa[0]["state"] == "firing" and sa[0]["value"] == "5e+00",
                  "store alerts: %r" % sa)
            env.wait_until(lambda: "firing" in hook.statuses("HighErrors"),
                           what="firing notification at the webhook", timeout=SLOW)
            # the lines leave the 15s window: the alert resolves
            env.wait_until(lambda: "resolved" in hook.statuses("HighErrors"),
                           what="resolved notification at the webhook", timeout=SLOW)
            check(not am_has(), "alert still active in Alertmanager")
            check(store_alerts(store) == [], "store alerts after resolve")
            m = store.metrics()
            check('logferry_store_ruler_evaluations_total{tenant="fake",rule_group="web.yaml;web"}'
                  in m, "evaluation metric missing")
            check('logferry_store_ruler_alerts_sent_total{tenant="fake",rule_group="web.yaml;web"}'
                  in m,
                  "alerts sent metric missing")
            store.stop()
            am.stop()
        finally:
            hook.close()


def test_alertmanager_outage():
    with Env() as env:
        am = Alertmanager(env)
        rules = env.path("rules")
        env.write("rules/fake/web.yaml", ALERT_RULES % "10m")
        # Alertmanager is down while the alert fires
        store = Store(env, ruler_config(env, rules, am.port)).start()
        push_errors(store)
        env.wait_until(lambda: [a for a in store_alerts(store) if a["state"] == "firing"],
                       what="alert firing in the store", timeout=SLOW)
        env.wait_until(lambda: "logferry_store_ruler_notification_errors_total{" in
                       store.metrics(), what="failed notification attempts", timeout=SLOW)
        am.start()

        def arrived():
            return [a for a in am.alerts() if a["labels"].get("alertname") == "HighErrors"]
        env.wait_until(arrived, what="alert after Alertmanager came back", timeout=SLOW)
        # down again for a while, then back: still delivered (resent while firing)
        am.stop()
        before = _metric(store.metrics(), "logferry_store_ruler_notification_errors_total")
        check(before >= 1, "no failed attempt counted during the first outage")
        am2 = Alertmanager(env, name="am2")
        am2.port = am.port
        env.wait_until(lambda: _metric(store.metrics(),
                       "logferry_store_ruler_notification_errors_total") > before,
                       what="errors while down again", timeout=SLOW)
        am2.start()
        env.wait_until(lambda: [a for a in am2.alerts()
                                if a["labels"].get("alertname") == "HighErrors"],
                       what="alert in the restarted Alertmanager", timeout=SLOW)
        store.stop()
        am2.stop()


def test_alertmanager_tls_basic_auth():
    with Env() as env:
        tls = env.path("tls")
        os.makedirs(tls)
        make_certs(tls)
        am = Alertmanager(env, tls_dir=tls).start()
        rules = env.path("rules")
        env.write("rules/fake/web.yaml", ALERT_RULES % "10m")
        client = ("  alertmanager_client:\n    tls_ca_path: %s/ca.crt\n"
                  "    basic_auth_username: ruler\n    basic_auth_password: s3cret-pw\n"
                  "  external_labels:\n    cluster: c1\n" % tls)
        cfg = ruler_config(env, rules, extra=client).replace(
            "  resend_delay", "  alertmanager_url: https://127.0.0.1:%d\n  resend_delay" % am.port)
        store = Store(env, cfg).start()
        push_errors(store)

        def arrived():
            return [a for a in am.alerts() if a["labels"].get("alertname") == "HighErrors"]
        a = env.wait_until(arrived, what="alert over TLS with basic auth", timeout=SLOW)[0]
        check(a["labels"].get("cluster") == "c1", "external label: %r" % a["labels"])
        store.stop()
        am.stop()


def _rfc3339(s):
    """Seconds since the epoch of an RFC 3339 UTC time with up to 9 fraction digits."""
    import datetime
    base, _, frac = s.rstrip("Z").partition(".")
    t = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    return t + (float("0." + frac) if frac else 0.0)


def _metric(text, name):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_restart_keeps_firing():
    with Env() as env:
        rules = env.path("rules")
        env.write("rules/fake/web.yaml", ALERT_RULES.replace("for: 2s", "for: 3s") % "10m")
        store = Store(env, ruler_config(env, rules)).start()
        push_errors(store)
        a = env.wait_until(lambda: [x for x in store_alerts(store) if x["state"] == "firing"],
                           what="firing", timeout=SLOW)[0]
        store.stop()
        store.start()
        # right after the restart the alert is firing again with its first activeAt
        # (without the restored state it would be pending for 3s with a new activeAt)
        b = env.wait_until(lambda: store_alerts(store), what="alert after restart",
                           timeout=SLOW)[0]
        check(b["state"] == "firing", "state after restart: %r" % b)
        check(b["activeAt"] == a["activeAt"], "activeAt %s != %s" % (b["activeAt"],
                                                                    a["activeAt"]))
        # a changed group (new annotation) keeps the rule's firing alert
        env.write("rules/fake/web.yaml", (ALERT_RULES.replace("for: 2s", "for: 3s") % "10m")
                  .replace("human:", "changed:"))

        def changed():
            al = store_alerts(store)
            return al and "changed" in al[0]["annotations"] and al[0]
        c = env.wait_until(changed, what="changed annotation", timeout=SLOW)
        check(c["state"] == "firing" and c["activeAt"] == a["activeAt"],
              "after the change: %r" % c)
        store.stop()


def test_restart_while_pending():
    with Env() as env:
        rules = env.path("rules")
        env.write("rules/fake/web.yaml", ALERT_RULES.replace("for: 2s", "for: 1h") % "10m")
        store = Store(env, ruler_config(env, rules)).start()
        push_errors(store)
        a = env.wait_until(lambda: store_alerts(store), what="pending", timeout=SLOW)[0]
        check(a["state"] == "pending", "state: %r" % a)
        t_down = time.time()
        store.stop()
        store.start()
        t_up = time.time()
        b = env.wait_until(lambda: store_alerts(store), what="pending after restart",
                           timeout=SLOW)[0]
        # Prometheus' restore: still pending, activeAt moved on by the downtime only
        # (a new alert would start at the first evaluation after the restart)
        check(b["state"] == "pending", "after restart: %r" % b)
        down = (t_up - t_down)
        shift = _rfc3339(b["activeAt"]) - _rfc3339(a["activeAt"])
        check(0 < shift <= down + 5, "activeAt moved by %.3fs, downtime %.3fs" % (shift, down))
        store.stop()


def test_recording_rule_remote_write():
    with Env() as env:
        pport = env.free_port()
        pcfg = env.write("prom.yml", "global:\n  scrape_interval: 1h\n")

        def start_prom():
            p = env.spawn([PROM_BIN, "--config.file=" + pcfg,
                           "--storage.tsdb.path=" + env.path("prom-data"),
                           "--web.listen-address=127.0.0.1:%d" % pport,
                           "--web.enable-remote-write-receiver"], name="prometheus")

            def prom_ready():
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % pport,
                                                timeout=5) as r:
                        return r.status == 200
                except OSError:
                    return False
            env.wait_until(prom_ready, what="prometheus ready", timeout=SLOW)
            return p
        rules = env.path("rules")
        env.write("rules/fake/rec.yaml", """groups:
  - name: rec
    rules:
      - record: app:errors:count10m
        expr: sum by (app) (count_over_time({app="web"} |= "error" [10m]))
        labels:
          source: logferry
  - name: alerts
    rules:
      - alert: AlwaysOn
        expr: vector(1)
""")
        extra = ("  remote_write:\n    enabled: true\n    client:\n"
                 "      url: http://127.0.0.1:%d/api/v1/write\n" % pport)
        # the receiver is down at first: remote write retries, evaluation goes on
        store = Store(env, ruler_config(env, rules, extra=extra)).start()
        push_errors(store, 4)
        env.wait_until(lambda: _metric(store.metrics(),
                                       "logferry_store_ruler_remote_write_failures_total") > 0,
                       what="remote write failing while prometheus is down", timeout=SLOW)
        env.wait_until(lambda: _metric(store.metrics(),
                                       "logferry_store_ruler_evaluations_total") > 6,
                       what="evaluations continue", timeout=SLOW)
        prom = start_prom()

        def series():
            q = urllib.parse.urlencode({"query": "app:errors:count10m"})
            d = http_json("http://127.0.0.1:%d/api/v1/query?%s" % (pport, q))
            r = d["data"]["result"]
            return r if r and r[0]["value"][1] == "4" else None
        r = env.wait_until(series, what="recorded series in prometheus", timeout=SLOW)
        check(r[0]["metric"] == {"__name__": "app:errors:count10m", "app": "web",
                                 "source": "logferry"}, "metric: %r" % r[0]["metric"])

        def alerts_series():
            q = urllib.parse.urlencode({"query": 'ALERTS{alertname="AlwaysOn"}'})
            d = http_json("http://127.0.0.1:%d/api/v1/query?%s" % (pport, q))
            return d["data"]["result"]
        r = env.wait_until(alerts_series, what="ALERTS series in prometheus", timeout=SLOW)
        check(r[0]["metric"]["alertstate"] == "firing" and r[0]["value"][1] == "1",
              "ALERTS: %r" % r)
        st, body = store.get("/prometheus/api/v1/rules")
        g = json.loads(body)["data"]["groups"][1]
        check(g["name"] == "rec" and g["file"] == "rec.yaml" and
              g["rules"][0]["type"] == "recording" and g["rules"][0]["health"] == "ok",
              "rules: %r" % g)
        store.stop()
        env.stop(prom)


def test_rules_api():
    with Env() as env:
        rules = env.path("rules")
        os.makedirs(rules)
        store = Store(env, ruler_config(env, rules)).start()
        st, body = store.get("/loki/api/v1/rules")
        check(st == 404 and b"no rule groups found" in body, "empty: %d %s" % (st, body))
        grp = ("name: g1\ninterval: 2s\nrules:\n  - alert: A\n    expr: "
               "count_over_time({app=\"x\"}[1m]) > 0\n    for: 1m\n"
               "    labels:\n      team: a\n")
        st, body = store.request("POST", "/loki/api/v1/rules/ns1", grp.encode(),
                                 {"Content-Type": "application/yaml"})
        check(st == 202 and json.loads(body)["status"] == "success", "post: %d %s" % (st, body))
        st, body = store.get("/loki/api/v1/rules")
        check(st == 200 and body.startswith(b"ns1:\n") and b"name: g1" in body and b"alert: A" in body,
              "list: %d %s" % (st, body))
        st, body = store.get("/api/prom/rules/ns1/g1")
        check(st == 200 and body.startswith(b"name: g1") and b"for: 1m\n" in body,
              "get group: %d %s" % (st, body))
        st, body = store.request("POST", "/loki/api/v1/rules/ns1", b"[not: a group")
        check(st == 400 and body == b"unable to decoded rule group\n", "bad yaml: %d %s" % (st, body))
        st, body = store.get("/loki/api/v1/rules/ns1/nope")
        check(st == 404, "missing group: %d" % st)
        # invalid expression: 400 naming the rule and the parse error
        bad = grp.replace("count_over_time({app=\"x\"}[1m]) > 0", "'{app=\"x\"} |= \"a\"'")
        st, body = store.request("POST", "/loki/api/v1/rules/ns1", bad.encode())
        check(st == 400 and b"could not parse expression for alert 'A' in group 'g1'" in body,
              "bad post: %d %s" % (st, body))

        def in_prom_api():
            st, body = store.get("/prometheus/api/v1/rules")
            gs = json.loads(body)["data"]["groups"]
            return gs and gs[0]["name"] == "g1" and gs[0]["interval"] == 2 and \
                gs[0]["rules"][0]["labels"] == {"team": "a"}
        env.wait_until(in_prom_api, what="posted group evaluated", timeout=SLOW)
        st, body = store.request("DELETE", "/loki/api/v1/rules/ns1/g1")
        check(st == 202, "delete: %d %s" % (st, body))
        st, body = store.request("DELETE", "/loki/api/v1/rules/ns1/g1")
        check(st == 404, "delete again: %d" % st)
        env.wait_until(lambda: json.loads(store.get("/prometheus/api/v1/rules")[1])
                       ["data"]["groups"] == [], what="group gone", timeout=SLOW)
        # readers while groups come and go (each change re-polls the rules at once)
        stop = threading.Event()
        errors = []

        def reader():
            while not stop.is_set():
                for path in ("/prometheus/api/v1/rules", "/prometheus/api/v1/alerts",
                             "/loki/api/v1/rules"):
                    st, _ = store.get(path)
                    if st not in (200, 404):
                        errors.append((path, st))
        th = threading.Thread(target=reader)
        th.start()
        try:
            for i in range(20):
                g = grp.replace("name: g1", "name: g%d" % (i % 3))
                st, _ = store.request("POST", "/loki/api/v1/rules/ns%d" % (i % 2), g.encode())
                check(st == 202, "post %d: %d" % (i, st))
                if i % 4 == 3:
                    st, _ = store.request("DELETE", "/loki/api/v1/rules/ns%d" % (i % 2))
                    check(st == 202, "delete %d: %d" % (i, st))
        finally:
            stop.set()
            th.join()
        check(not errors, "reader errors: %r" % errors[:5])
        store.stop()


def test_tenants():
    with Env() as env:
        rules = env.path("rules")
        env.write("rules/t1/web.yaml", ALERT_RULES % "10m")
        env.write("rules/t2/web.yaml", ALERT_RULES % "10m")
        store = Store(env, "auth_enabled: true\n" + ruler_config(env, rules)).start()
        st, body = store.get("/prometheus/api/v1/rules")
        check(st == 500 and b"no valid org id found" in body, "no org id: %d %s" % (st, body))
        t = now_ns()
        st, _ = store.push_json([({"app": "web"}, [[str(t + i), "error %d" % i]
                                                   for i in range(5)])], tenant="t1")
        check(st == 204, "push t1")

        def alerts(tenant):
            st, body = store.get("/prometheus/api/v1/alerts", tenant=tenant)
            check(st == 200, "alerts %s: %d" % (tenant, st))
            return json.loads(body)["data"]["alerts"]
        env.wait_until(lambda: [a for a in alerts("t1") if a["state"] == "firing"],
                       what="t1 alert firing", timeout=SLOW)

        def t2_evaluated():
            st, body = store.get("/prometheus/api/v1/rules", tenant="t2")
            r = json.loads(body)["data"]["groups"][0]["rules"][0]
            return r["health"] == "ok"
        env.wait_until(t2_evaluated, what="t2 rules evaluated", timeout=SLOW)
        check(alerts("t2") == [], "t2 sees t1's data")
        st, body = store.request("POST", "/loki/api/v1/rules/extra",
                                 b"name: x\nrules:\n  - record: r\n    expr: vector(1)\n",
                                 {"X-Scope-OrgID": "t3"})
        check(st == 202, "post t3: %d %s" % (st, body))
        check(os.path.exists(env.path("rules/t3/extra")), "t3 namespace file not written")
        st, body = store.get("/loki/api/v1/rules", tenant="t1")
        check(st == 200 and b"extra" not in body, "t1 sees t3's rules")
        store.stop()


def test_bad_and_hostile_rule_files():
    with Env() as env:
        rules = env.path("rules")
        good = ALERT_RULES % "10m"
        env.write("rules/fake/web.yaml", good)
        store = Store(env, ruler_config(env, rules)).start()

        def groups():
            return json.loads(store.get("/prometheus/api/v1/rules")[1])["data"]["groups"]
        env.wait_until(lambda: groups() and groups()[0]["rules"][0]["health"] == "ok",
                       what="good rules evaluated", timeout=SLOW)
        # a bad expression: reported, the last good version is kept
        env.write("rules/fake/web.yaml", good.replace("> 2", "> "))
        env.wait_until(lambda: "could not parse expression for alert 'HighErrors'" in
                       env.log_of("store"), what="parse error logged", timeout=SLOW)
        check(groups()[0]["rules"][0]["name"] == "HighErrors", "last good version lost")
        # a 10 MB file
        env.write("rules/fake/big.yaml", "# " + "x" * (10 << 20) + "\n")
        env.wait_until(lambda: "exceeds the limit of" in env.log_of("store"),
                       what="big file refused", timeout=SLOW)
        os.unlink(env.path("rules/fake/big.yaml"))
        # 10,000 rules
        many = "groups:\n  - name: many\n    rules:\n" + "".join(
            "      - record: r%d\n        expr: vector(1)\n" % i for i in range(10000))
        env.write("rules/fake/web.yaml", good)
        env.write("rules/fake/many.yaml", many)
        env.wait_until(lambda: "rules exceed the limit of 1000 rules per tenant" in
                       env.log_of("store"), what="10000 rules refused", timeout=SLOW)
        os.unlink(env.path("rules/fake/many.yaml"))
        # a query over everything every second, and a template that would explode
        push_errors(store)
        env.write("rules/fake/heavy.yaml", """groups:
  - name: heavy
    interval: 1s
    rules:
      - record: everything
        expr: sum(count_over_time({app=~".+"}[720h]))
      - alert: Explode
        expr: vector(1)
        annotations:
          big: '{{ repeat 100000000 "x" }}'
""")
        env.wait_until(lambda: 'logferry_store_ruler_evaluation_failures_total{tenant="fake",'
                       'rule_group="heavy.yaml;heavy"}' in store.metrics(),
                       what="exploding template fails", timeout=SLOW)

        def heavy_rules():
            for g in groups():
                if g["name"] == "heavy":
                    return g["rules"]
            return None
        hr = env.wait_until(heavy_rules, what="heavy group listed", timeout=SLOW)
        check(hr[0]["health"] == "ok", "scan-all rule: %r" % hr[0])
        check(hr[1]["health"] == "err" and "too large" in hr[1]["lastError"],
              "exploding template: %r" % hr[1])
        st, body = store.get("/ready")
        check(st == 200, "store not ready after hostile rules")
        check(store.get("/loki/api/v1/labels")[0] == 200, "store stopped answering")
        store.stop()


if __name__ == "__main__":
    main([test_alert_fires_and_resolves, test_alertmanager_outage,
          test_alertmanager_tls_basic_auth, test_restart_keeps_firing,
          test_restart_while_pending, test_recording_rule_remote_write, test_rules_api,
          test_tenants,
          test_bad_and_hostile_rule_files])
