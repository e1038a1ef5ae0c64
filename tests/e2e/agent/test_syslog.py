"""The `syslog` source: real senders (logger from bsdutils, rsyslog
forwarding) over TCP (octet counting and newline framing) and UDP, RFC 5424
and RFC 3164, ending in logferry-store (or the test receiver) with exact
labels after Promtail-style relabel_configs; malformed input, a 10 MB line
without a newline, and many connections at once."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time

from agentlib import STORE, Agent, Env, Receiver, Store, check, get, main

RELABEL = """    relabel_configs:
      - source_labels: [__syslog_message_hostname]
        target_label: host
      - source_labels: [__syslog_message_app_name]
        target_label: app
      - source_labels: [__syslog_message_severity]
        target_label: level
      - source_labels: [__syslog_message_facility]
        target_label: facility
      - source_labels: [__syslog_connection_ip_address]
        regex: '([0-9.]+).*'
        target_label: peer
"""


def backend(env):
    if STORE and os.path.exists(STORE):
        return Store(env)
    return Receiver(env)


def syslog_scrape(port, proto="tcp", extra="", job="syslog", relabel=RELABEL):
    return ("scrape_configs:\n  - job_name: %s\n    syslog:\n"
            "      listen_address: 127.0.0.1:%d\n      listen_protocol: %s\n"
            "      labels:\n        job: %s\n%s%s"
            % (job, port, proto, job, "".join("      %s\n" % l for l in extra.splitlines()),
               relabel))


def logger(port, msg, *flags):
    subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(port), "-t", "myapp",
                    "-p", "local3.warning", "--id=4242"] + list(flags) + [msg],
                   check=True, timeout=30)


def by_line(entries, line):
    return [e for e in entries if e["line"] == line]


def test_logger_tcp_udp_rfc5424():
    with Env() as env:
        be = backend(env)
        tport, uport = env.free_port(), env.free_port()
        scrape = syslog_scrape(tport) + syslog_scrape(uport, "udp", job="syslog_udp")[
            len("scrape_configs:\n"):]
        ag = Agent(env, be, scrape)
        host = socket.gethostname()
        logger(tport, "hello over tcp octet", "--rfc5424", "--tcp", "--octet-count")
        logger(tport, "hello over tcp newline", "--rfc5424", "--tcp")
        logger(uport, "hello over udp", "--rfc5424", "--udp")
        want = ["hello over tcp octet", "hello over tcp newline", "hello over udp"]
        env.wait_until(lambda: all(by_line(be.entries(), w) for w in want),
                       what="three logger messages in the backend")
        for w in want:
            e = by_line(be.entries(), w)
            check(len(e) == 1, "%s: %d copies" % (w, len(e)))
            lab = dict(e[0]["labels"])
            exp = {"job": "syslog_udp" if "udp" in w else "syslog", "host": host,
                   "app": "myapp", "level": "warning", "facility": "local3",
                   "peer": "127.0.0.1"}
            check(lab == exp, "%s: labels %r, want %r" % (w, lab, exp))
        check((ag.metric("logferry_syslog_target_entries_total", job="syslog") or 0) == 2,
              "entries metric:\n" + ag.metrics())
        # a reload (SIGHUP) rebuilds pipelines; the listeners keep running
        ag.proc.send_signal(signal.SIGHUP)
        env.wait_until(lambda: (ag.metric("logferry_config_reload_success_total") or 0) >= 1,
                       what="reload")
        logger(tport, "after reload", "--rfc5424", "--tcp", "--octet-count")
        env.wait_until(lambda: by_line(be.entries(), "after reload"), what="after reload")
        st, body = get(ag.url("/targets"))
        ts = {x["job"]: x for x in json.loads(body)["targets"] if x.get("type") == "syslog"}
        check(st == 200 and ts["syslog"]["protocol"] == "tcp" and
              ts["syslog_udp"]["protocol"] == "udp" and ts["syslog"]["entries"] == 3 and
              ts["syslog"]["path"] == "127.0.0.1:%d" % tport, "targets: %r" % body[:600])
        check(ag.stop() == 0, "exit code")


def test_structured_data_and_timestamp():
    with Env() as env:
        be = backend(env)
        port = env.free_port()
        ag = Agent(env, be, syslog_scrape(port, extra="label_structured_data: true\n"
                                           "use_incoming_timestamp: true",
                                           relabel="""    relabel_configs:
      - source_labels: [__syslog_message_sd_custom_99770_example]
        target_label: example
      - source_labels: [__syslog_message_msg_id]
        target_label: msgid
      - source_labels: [__syslog_message_proc_id]
        target_label: pid
"""))
        s = socket.create_connection(("127.0.0.1", port))
        t = int(time.time()) - 3600
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)).encode()
        msg = (b'<165>1 ' + stamp + b'.003Z mymachine.example.com evntslog 77 ID47 '
               b'[custom@99770 example="va\\"l\\]ue" other="2"] An application event')
        s.sendall(b"%d " % len(msg) + msg)
        env.wait_until(lambda: by_line(be.entries(), "An application event"),
                       what="the sd message")
        e = by_line(be.entries(), "An application event")[0]
        check(dict(e["labels"]) == {"job": "syslog", "example": 'va"l]ue', "msgid": "ID47",
                                    "pid": "77"}, "labels %r" % e["labels"])
        check(int(e["ts"]) == t * 10**9 + 3000000, "incoming timestamp: %s" % e["ts"])
        s.close()
        check(ag.stop() == 0, "exit code")


def test_malformed_long_and_many():
    with Env() as env:
        be = backend(env)
        port = env.free_port()
        ag = Agent(env, be, syslog_scrape(port, extra="max_message_length: 4096"))
        # newline framing: a bad message, then a good one on the same connection
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"<13>this is not rfc5424\n<13>1 - h a - - - good after bad\n")
        env.wait_until(lambda: by_line(be.entries(), "good after bad"), what="good after bad")
        check((ag.metric("logferry_syslog_target_parsing_errors_total", job="syslog") or 0)
              >= 1, "parsing error counted")
        # 10 MB without a newline on one connection while others keep working
        big = socket.create_connection(("127.0.0.1", port))
        big.sendall(b"<13>1 - h a - - - " + b"x" * (10 * 1024 * 1024))
        others = []
        for i in range(50):
            c = socket.create_connection(("127.0.0.1", port))
            c.sendall(b"<13>1 - h a - - - many %d\n" % i)
            others.append(c)
        env.wait_until(lambda: all(by_line(be.entries(), "many %d" % i) for i in range(50)),
                       what="50 connections' messages")
        big.sendall(b"\n<13>1 - h a - - - after the long one\n")
        env.wait_until(lambda: by_line(be.entries(), "after the long one"),
                       what="the message after the 10 MB line")
        check(not [e for e in be.entries() if e["line"].startswith("xxxx")],
              "the long line was not shipped")
        check(ag.rss_kib() < 150 * 1024, "RSS %d KiB" % ag.rss_kib())
        # the bad connection still works
        s.sendall(b"<13>1 - h a - - - still open\n")
        env.wait_until(lambda: by_line(be.entries(), "still open"), what="still open")
        # octet counting: a bad count closes that connection only
        o = socket.create_connection(("127.0.0.1", port))
        o.sendall(b"99999999 <13>1 - h a - - - too long\n")
        o.settimeout(30)
        check(o.recv(10) == b"", "a too long octet count closes the connection")
        for c in others + [s, big, o]:
            c.close()
        check(ag.stop() == 0, "exit code")


def test_rfc3164_logger_and_rsyslog():
    with Env() as env:
        be = backend(env)
        port = env.free_port()
        ag = Agent(env, be, syslog_scrape(port, extra="syslog_format: rfc3164"))
        logger(port, "bsd style message", "--rfc3164", "--tcp")
        env.wait_until(lambda: by_line(be.entries(), "bsd style message"), what="rfc3164")
        lab = dict(by_line(be.entries(), "bsd style message")[0]["labels"])
        check(lab.get("app") == "myapp" and lab.get("level") == "warning" and
              lab.get("facility") == "local3", "rfc3164 labels %r" % lab)
        ag.stop()

        # rsyslog forwarding RFC 5424 with octet counting from a file (imfile)
        rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
        if not os.path.exists(rsyslogd):
            return
        port2 = env.free_port()
        ag2 = Agent(env, be, syslog_scrape(port2, job="rs"), name="agent2")
        src = env.path("rs-input.log")
        open(src, "w").close()
        work = env.path("rs-work")
        os.makedirs(work)
        conf = env.write("rsyslog.conf", """
global(workDirectory="%s")
module(load="imfile")
input(type="imfile" File="%s" Tag="rsapp" Facility="local4" Severity="error"
      PersistStateInterval="1")
action(type="omfwd" Target="127.0.0.1" Port="%d" Protocol="tcp"
       TCP_Framing="octet-counted" Template="RSYSLOG_SyslogProtocol23Format")
""" % (work, src, port2))
        env.spawn([rsyslogd, "-n", "-f", conf, "-i", env.path("rs.pid")], name="rsyslogd")
        lines = ["rsyslog line %d" % i for i in range(100)]
        with open(src, "a") as f:
            f.write("".join(l + "\n" for l in lines))
        env.wait_until(lambda: all(by_line(be.entries(), l) for l in lines),
                       what="100 lines forwarded by rsyslog")
        lab = dict(by_line(be.entries(), lines[0])[0]["labels"])
        check(lab.get("job") == "rs" and lab.get("app") == "rsapp" and
              lab.get("level") == "error" and lab.get("facility") == "local4",
              "rsyslog labels %r" % lab)
        check(ag2.stop() == 0, "exit code")


def test_backpressure_tcp_pauses_udp_drops():
    with Env() as env:
        rc = Receiver(env)
        tport, uport = env.free_port(), env.free_port()
        scrape = syslog_scrape(tport, relabel="") + syslog_scrape(
            uport, "udp", job="syslog_udp", relabel="")[len("scrape_configs:\n"):]
        ag = Agent(env, rc, scrape)
        rc.stop()  # backend down: clients fill, then the source queues
        pad = "p" * 200
        # TCP: write without blocking until the agent stops reading and the
        # kernel buffers are full
        s = socket.create_connection(("127.0.0.1", tport))
        s.setblocking(False)
        sent, i, pending = [], 0, b""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if not pending:
                line = "tcp %d %s" % (i, pad)
                pending = ("<13>1 - h a - - - %s\n" % line).encode()
            try:
                n = s.send(pending)
            except BlockingIOError:
                break
            pending = pending[n:]
            if not pending:
                sent.append(line)
                i += 1
        check(time.monotonic() < deadline, "the agent never stopped reading TCP")
        check(ag.rss_kib() < 200 * 1024, "RSS %d KiB while paused" % ag.rss_kib())
        # UDP while the queue is full: dropped and counted
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        k = [0]

        def udp_dropped():
            for _ in range(2000):  # ~0.5 MB per round: the queue holds 4 MiB
                u.sendto(b"<13>1 - h a - - - udp %d %s" % (k[0], pad.encode()),
                         ("127.0.0.1", uport))
                k[0] += 1
            return (ag.metric("logferry_syslog_udp_dropped_total", job="syslog_udp")
                    or 0) > 0
        env.wait_until(udp_dropped, what="UDP drops counted")
        rc.start()
        s.setblocking(True)
        if pending:
            s.sendall(pending)
            sent.append(line)
        s.sendall(b"<13>1 - h a - - - the end\n")
        want = set(sent) | {"the end"}
        env.wait_until(lambda: want <= set(rc.lines()), timeout=300,
                       what="every TCP message sent while paused")
        s.close()
        u.close()
        check(ag.stop() == 0, "exit code")


def openssl(env, *args):
    r = subprocess.run(["openssl"] + list(args), cwd=env.path(), capture_output=True,
                       timeout=60)
    check(r.returncode == 0, "openssl %s: %r" % (args[0], r.stderr[-500:]))


def test_tls_and_client_certificates():
    import ssl
    with Env() as env:
        be = backend(env)
        openssl(env, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=test-ca", "-keyout", "ca.key", "-out", "ca.crt")
        for name in ("server", "client"):
            openssl(env, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                    "-keyout", name + ".key", "-out", name + ".csr")
            env.write(name + ".ext", "subjectAltName=IP:127.0.0.1\n")
            openssl(env, "x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey",
                    "ca.key", "-CAcreateserial", "-days", "2", "-extfile", name + ".ext",
                    "-out", name + ".crt")
        port, mport = env.free_port(), env.free_port()
        tls = ("tls_config:\n  cert_file: %s\n  key_file: %s\n"
               % (env.path("server.crt"), env.path("server.key")))
        scrape = syslog_scrape(port, extra=tls, job="tls") + syslog_scrape(
            mport, extra=tls + "  ca_file: %s\n" % env.path("ca.crt"), job="mtls")[
            len("scrape_configs:\n"):]
        ag = Agent(env, be, scrape)

        def send(p, msg, cert=None):
            ctx = ssl.create_default_context(cafile=env.path("ca.crt"))
            if cert:
                ctx.load_cert_chain(env.path(cert + ".crt"), env.path(cert + ".key"))
            with socket.create_connection(("127.0.0.1", p), timeout=30) as raw:
                with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                    m = ("<13>1 - h a - - - %s" % msg).encode()
                    s.sendall(b"%d " % len(m) + m)
        send(port, "over tls")
        send(mport, "over mtls", cert="client")
        env.wait_until(lambda: {"over tls", "over mtls"} <= set(be.lines()), what="TLS lines")
        # without a client certificate the mTLS listener refuses the handshake
        refused = False
        try:
            send(mport, "no client cert")
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError, OSError):
            refused = True
        send(port, "after refused")
        env.wait_until(lambda: "after refused" in be.lines(), what="line after a refused one")
        check(refused or "no client cert" not in be.lines(),
              "a client without a certificate got through")
        check("no client cert" not in be.lines(), "unauthenticated line shipped")
        check(ag.stop() == 0, "exit code")


if __name__ == "__main__":
    main([test_logger_tcp_udp_rfc5424, test_structured_data_and_timestamp,
          test_tls_and_client_certificates,
          test_backpressure_tcp_pauses_udp_drops,
          test_malformed_long_and_many, test_rfc3164_logger_and_rsyslog])
