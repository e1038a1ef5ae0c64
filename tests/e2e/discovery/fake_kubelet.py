"""fake_kubelet — a kubelet /pods endpoint for tests: HTTPS on 127.0.0.1
with a CA and server certificate made at start with the openssl CLI,
answering GET /pods with a PodList built from `pods`, and 401 unless the
request carries `Authorization: Bearer <token>`.

Stdlib only. The server runs in a thread of the test process, so a test
changes `pods`, stops it (kubelet down: connections refused) and starts it
again on the same port.
"""
import http.server
import json
import os
import ssl
import subprocess
import threading


def make_certs(directory, names=("node-a", "localhost")):
    """Creates ca.crt and server.{crt,key} (SAN: 127.0.0.1 + names)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, cwd=directory,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=fake-kubelet-ca")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=node-a")
    with open(os.path.join(directory, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1," + ",".join("DNS:" + n for n in names) + "\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")
    return os.path.join(directory, "ca.crt")


def container_id(seed):
    return (seed * 64)[:64]


def make_pod(ns, name, uid, containers, labels=None, annotations=None, owner=None,
             restarts=None, phase="Running", node="node-a", pod_ip="10.0.0.5"):
    """A PodList item as the kubelet returns it. containers: names;
    owner: (kind, name); restarts: {container: restartCount}."""
    restarts = restarts or {}
    md = {"name": name, "namespace": ns, "uid": uid, "labels": labels or {},
          "creationTimestamp": "2026-11-21T17:00:00Z"}
    if annotations:
        md["annotations"] = annotations
    if owner:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1],
                                  "uid": "owner-" + uid, "controller": True}]
    statuses = []
    for c in containers:
        r = restarts.get(c, 0)
        statuses.append({"name": c, "ready": True, "restartCount": r,
                         "image": "example/" + c + ":1",
                         "containerID": "containerd://" + container_id("%x" % (r + 10)),
                         "state": {"running": {"startedAt": "2026-11-21T18:00:00Z"}}})
    return {"metadata": md,
            "spec": {"nodeName": node,
                     "containers": [{"name": c, "image": "example/" + c + ":1"}
                                    for c in containers]},
            "status": {"phase": phase, "podIP": pod_ip, "hostIP": "192.168.1.10",
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": statuses}}


class FakeKubelet:
    def __init__(self, directory, token):
        self.dir = directory
        self.token = token
        self.pods = []
        self.requests = 0        # GET /pods answered 200
        self.unauthorized = 0    # answered 401
        self.lock = threading.Lock()
        self.ca_file = make_certs(directory)
        self.port = None
        self.server = None
        self.thread = None

    def _handler(self):
        kubelet = self

        class Handler(http.server.BaseHTTPRequestHandler):
            # HTTP/1.0: one request per connection, so stop() really takes
            # the kubelet down (no kept-alive connection goes on serving).
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def _send(self, code, body, ctype="application/json"):
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path != "/pods":
                    self._send(404, "404 page not found\n", "text/plain")
                    return
                if self.headers.get("Authorization") != "Bearer " + kubelet.token:
                    with kubelet.lock:
                        kubelet.unauthorized += 1
                    self._send(401, "Unauthorized\n", "text/plain")
                    return
                with kubelet.lock:
                    kubelet.requests += 1
                    doc = {"kind": "PodList", "apiVersion": "v1", "metadata": {},
                           "items": list(kubelet.pods)}
                self._send(200, json.dumps(doc))
        return Handler

    def start(self, port=0):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", port or self.port or 0),
                                              self._handler())
        srv.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(self.dir, "server.crt"),
                            os.path.join(self.dir, "server.key"))
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        self.server = srv
        self.port = srv.server_address[1]
        self.thread = threading.Thread(target=srv.serve_forever, daemon=True)
        self.thread.start()
        return self.port

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def set_pods(self, pods):
        with self.lock:
            self.pods = list(pods)

    def counts(self):
        with self.lock:
            return self.requests, self.unauthorized


class FakeAPIServer:
    """The pods part of a Kubernetes API server: LIST and WATCH of
    /api/v1/pods with fieldSelector=spec.nodeName=<node>, resourceVersions,
    410 Gone for a watch older than the last compaction, bearer token."""

    def __init__(self, directory, token, node="node-a"):
        self.dir = directory
        self.token = token
        self.node = node
        self.cond = threading.Condition()
        self.pods = {}        # uid -> pod
        self.rv = 100
        self.events = []      # (rv, type, pod)
        self.compacted = 0    # watches from an older resourceVersion get 410
        self.generation = 0   # bumped to end open watches
        self.lists = 0
        self.watches = 0
        self.bad_selector = 0
        self.stopping = False
        self.ca_file = os.path.join(directory, "ca.crt")
        if not os.path.exists(self.ca_file):
            make_certs(directory)
        self.server = None
        self.port = None

    # ---- state changes (from the test) ----
    def _event(self, typ, pod):
        with self.cond:
            self.rv += 1
            pod = json.loads(json.dumps(pod))
            pod["metadata"]["resourceVersion"] = str(self.rv)
            uid = pod["metadata"]["uid"]
            if typ == "DELETED":
                self.pods.pop(uid, None)
            else:
                self.pods[uid] = pod
            self.events.append((self.rv, typ, pod))
            self.cond.notify_all()

    def add(self, pod):
        self._event("ADDED", pod)

    def modify(self, pod):
        self._event("MODIFIED", pod)

    def delete(self, pod):
        self._event("DELETED", pod)

    def compact_and_drop_watches(self):
        """History moves on (changes elsewhere) and is compacted, and open
        watches end: a client watching from its last resourceVersion gets
        410 Gone and must relist."""
        with self.cond:
            self.rv += 1
            self.compacted = self.rv
            self.generation += 1
            self.cond.notify_all()

    def counts(self):
        with self.cond:
            return self.lists, self.watches

    # ---- HTTP ----
    def _handler(self):
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def _send(self, code, body):
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                import urllib.parse
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                if u.path != "/api/v1/pods":
                    self._send(404, '{"kind":"Status","code":404}')
                    return
                if self.headers.get("Authorization") != "Bearer " + api.token:
                    self._send(401, '{"kind":"Status","code":401,"message":"Unauthorized"}')
                    return
                if q.get("fieldSelector") != "spec.nodeName=" + api.node:
                    with api.cond:
                        api.bad_selector += 1
                    self._send(400, '{"kind":"Status","code":400,"message":"selector"}')
                    return
                mine = lambda p: p["spec"].get("nodeName") == api.node  # noqa: E731
                if q.get("watch") not in ("1", "true"):
                    with api.cond:
                        api.lists += 1
                        doc = {"kind": "PodList", "apiVersion": "v1",
                               "metadata": {"resourceVersion": str(api.rv)},
                               "items": [p for p in api.pods.values() if mine(p)]}
                    self._send(200, json.dumps(doc))
                    return
                since = int(q.get("resourceVersion") or "0")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                with api.cond:
                    api.watches += 1
                    gen = api.generation
                    if since < api.compacted:
                        ev = {"type": "ERROR", "object": {
                            "kind": "Status", "apiVersion": "v1", "status": "Failure",
                            "message": "too old resource version", "reason": "Expired",
                            "code": 410}}
                        self.wfile.write((json.dumps(ev) + "\n").encode())
                        return
                sent = since
                while True:
                    with api.cond:
                        while (not api.stopping and api.generation == gen
                               and api.rv <= sent):
                            api.cond.wait(1)
                        if api.stopping or api.generation != gen:
                            return
                        batch = [(rv, t, p) for rv, t, p in api.events if rv > sent]
                    for rv, t, p in batch:
                        sent = rv
                        if mine(p):
                            self.wfile.write((json.dumps({"type": t, "object": p}) + "\n")
                                             .encode())
                    self.wfile.flush()
        return Handler

    def start(self, port=0):
        with self.cond:
            self.stopping = False
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", port or self.port or 0),
                                              self._handler())
        srv.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(self.dir, "server.crt"),
                            os.path.join(self.dir, "server.key"))
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        self.server = srv
        self.port = srv.server_address[1]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        return self.port

    def stop(self):
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
