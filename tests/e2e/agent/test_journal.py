"""The `journal` source without journald: journal files are built from
export-format text with systemd-journal-remote, the agent reads their
directory (`path`) while more files are added, and entries end in
logferry-store (or the test receiver) with exact labels after relabel
rules over __journal_* meta labels. The cursor is kept in the positions
file under journal-<job> and only advances over acknowledged entries: a
restart neither loses nor re-ships; max_age and matches apply."""
import json
import os
import signal
import subprocess
import time
import uuid

from agentlib import STORE, Agent, Env, Receiver, Store, check, get, main

REMOTE = "/lib/systemd/systemd-journal-remote"
BOOT = uuid.uuid4().hex

SCRAPE = """scrape_configs:
  - job_name: %(job)s
    journal:
      path: %(path)s
      max_age: 1h
      json: %(json)s
      matches: _SYSTEMD_UNIT=kubelet.service _SYSTEMD_UNIT=app.service
      labels:
        job: %(job)s
    relabel_configs:
      - source_labels: [__journal__systemd_unit]
        target_label: unit
      - source_labels: [__journal_priority_keyword]
        target_label: level
      - source_labels: [__journal__hostname]
        target_label: host
      - source_labels: [__journal_syslog_identifier]
        target_label: ident
"""

_mono = [1000]


def make_journal(env, d, name, entries):
    """entries: dicts of fields (MESSAGE, _SYSTEMD_UNIT, ...) with an optional
    'age_s' (seconds before now). Returns the realtime (us) of each."""
    now = int(time.time() * 1e6)
    text, stamps = [], []
    for i, e in enumerate(entries):
        rt = now - int(e.get("age_s", 0) * 1e6) + i
        _mono[0] += 1
        stamps.append(rt)
        f = ["__REALTIME_TIMESTAMP=%d" % rt, "__MONOTONIC_TIMESTAMP=%d" % _mono[0],
             "_BOOT_ID=" + BOOT]
        f += ["%s=%s" % kv for kv in e.items() if kv[0] != "age_s"]
        text.append("\n".join(f) + "\n\n")
    stage = env.path("staging")
    os.makedirs(stage, exist_ok=True)
    tmp = os.path.join(stage, name + ".journal")
    r = subprocess.run([REMOTE, "-o", tmp, "-"], input="".join(text).encode(),
                       capture_output=True, timeout=60)
    check(r.returncode == 0, "journal-remote: %r" % r.stderr[-500:])
    os.rename(tmp, os.path.join(d, name + ".journal"))
    return stamps


def kubelet(i, prefix="k"):
    return {"MESSAGE": "%s %d" % (prefix, i), "PRIORITY": str(i % 8),
            "_SYSTEMD_UNIT": "kubelet.service", "_HOSTNAME": "node1",
            "SYSLOG_IDENTIFIER": "kubelet"}


def backend(env):
    return Store(env) if STORE and os.path.exists(STORE) else Receiver(env)


def labels_of(e):
    lab = e["labels"]
    if isinstance(lab, str):  # the receiver's text form
        import re
        return dict(re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"', lab))
    return dict(lab)


def cursor_of(positions, job):
    if not os.path.exists(positions):
        return None
    with open(positions) as f:
        for line in f:
            line = line.strip()
            if line.startswith("journal-%s:" % job):
                v = line.split(":", 1)[1].strip()
                return json.loads(v) if v.startswith('"') else v
    return None


def last_cursor(d):
    out = subprocess.run(["journalctl", "-D", d, "-n", "1", "-o", "export"],
                         capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if l.startswith("__CURSOR=")][0][9:]


def test_labels_matches_max_age():
    with Env() as env:
        be = backend(env)
        d = env.path("journal")
        os.makedirs(d)
        ents = [kubelet(i) for i in range(8)]
        ents.append({"MESSAGE": "too old", "_SYSTEMD_UNIT": "kubelet.service",
                     "age_s": 7200})
        ents.append({"MESSAGE": "other unit", "_SYSTEMD_UNIT": "sshd.service"})
        ents.append({"_SYSTEMD_UNIT": "app.service", "FOO": "no message field"})
        ents.append({"MESSAGE": "app line", "_SYSTEMD_UNIT": "app.service", "PRIORITY": "9"})
        stamps = make_journal(env, d, "one", ents)
        ag = Agent(env, be, SCRAPE % {"job": "journal", "path": d, "json": "false"})
        want = ["k %d" % i for i in range(8)] + ["app line"]
        env.wait_until(lambda: set(want) <= set(be.lines()), what="journal lines")
        got = {e["line"]: e for e in be.entries()}
        check(set(got) == set(want), "lines: %r" % sorted(got))
        kw = ["emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"]
        for i in range(8):
            e = got["k %d" % i]
            check(labels_of(e) == {"job": "journal", "unit": "kubelet.service",
                                   "level": kw[i], "host": "node1", "ident": "kubelet"},
                  "labels of k %d: %r" % (i, labels_of(e)))
            check(int(e["ts"]) == stamps[i] * 1000, "timestamp of k %d" % i)
        check(labels_of(got["app line"]) == {"job": "journal", "unit": "app.service",
                                            "level": "9"}, "app labels")
        # more entries while running, in a new file
        make_journal(env, d, "two", [kubelet(i, "late") for i in range(20)])
        env.wait_until(lambda: all(("late %d" % i) in be.lines() for i in range(20)),
                       what="entries of a file added while running")
        # a file vacuumed while the agent runs, then another one added
        os.remove(os.path.join(d, "one.journal"))
        make_journal(env, d, "three", [kubelet(i, "after-vacuum") for i in range(20)])
        env.wait_until(lambda: all(("after-vacuum %d" % i) in be.lines() for i in range(20)),
                       what="entries after a journal file was removed")
        check((ag.metric("logferry_journal_target_parsing_errors_total", job="journal",
                         error="no_message") or 0) == 1, "no_message counted")
        st, body = get(ag.url("/targets"))
        t = [x for x in json.loads(body)["targets"] if x.get("type") == "journal"]
        check(st == 200 and len(t) == 1 and t[0]["job"] == "journal" and t[0]["path"] == d
              and t[0]["lines"] == 49, "targets: %s %r" % (st, body[:500]))
        check(ag.stop() == 0, "exit code")


def test_cursor_restart_and_crash():
    with Env() as env:
        rc = Receiver(env)
        d = env.path("journal")
        os.makedirs(d)
        pos = env.path("positions.yaml")
        make_journal(env, d, "a", [kubelet(i, "a") for i in range(300)])
        scrape = SCRAPE % {"job": "j", "path": d, "json": "false"}
        ag = Agent(env, rc, scrape, positions=pos, sync_period="200ms")
        env.wait_until(lambda: len(rc.lines()) >= 300, what="300 entries")
        env.wait_until(lambda: cursor_of(pos, "j") == last_cursor(d),
                       what="cursor of the last acknowledged entry in positions")
        check(ag.stop() == 0, "exit code")
        # restart: nothing re-shipped; new entries follow
        make_journal(env, d, "b", [kubelet(i, "b") for i in range(100)])
        ag = Agent(env, rc, scrape, positions=pos, sync_period="200ms")
        env.wait_until(lambda: len(rc.lines()) >= 400, what="100 new entries")
        lines = rc.lines()
        check(len(lines) == len(set(lines)) == 400, "duplicates after a clean restart: %d/%d"
              % (len(lines), len(set(lines))))
        env.wait_until(lambda: cursor_of(pos, "j") == last_cursor(d),
                       what="cursor of the last b entry in positions")
        # backend down, more entries, kill -9: the cursor must not pass the
        # unacknowledged ones
        rc.stop()
        before = cursor_of(pos, "j")
        make_journal(env, d, "c", [kubelet(i, "c") for i in range(200)])
        env.wait_until(lambda: (ag.metric("logferry_journal_target_lines_total", job="j")
                                or 0) >= 300, what="c entries read while the backend is down")
        check(cursor_of(pos, "j") == before, "cursor moved past unacknowledged entries")
        ag.proc.send_signal(signal.SIGKILL)
        ag.proc.wait()
        rc.start()
        ag = Agent(env, rc, scrape, positions=pos, sync_period="200ms", name="agent2")
        env.wait_until(lambda: all(("c %d" % i) in rc.lines() for i in range(200)),
                       what="entries unacknowledged before the crash delivered")
        lines = rc.lines()
        check(len(lines) == len(set(lines)),
              "re-shipped after the crash: %d extra" % (len(lines) - len(set(lines))))
        check(ag.stop() == 0, "exit code")


def test_json_lines():
    with Env() as env:
        rc = Receiver(env)
        d = env.path("journal")
        os.makedirs(d)
        make_journal(env, d, "a", [{"MESSAGE": "m <1> & x", "_SYSTEMD_UNIT": "app.service",
                                    "ZED": "z"}])
        ag = Agent(env, rc, SCRAPE % {"job": "js", "path": d, "json": "true"})
        env.wait_until(lambda: rc.lines(), what="one json line")
        obj = json.loads(rc.lines()[0])
        check(obj["MESSAGE"] == "m <1> & x" and obj["ZED"] == "z" and
              obj["_SYSTEMD_UNIT"] == "app.service", "json line %r" % obj)
        keys = list(obj.keys())
        check(keys == sorted(keys), "sorted keys %r" % keys)
        check(ag.stop() == 0, "exit code")


def test_large_compressed_fields():
    """Fields over journal-remote's compression threshold (512 bytes) are
    stored compressed; sd-journal decompresses each into one shared buffer
    that the next field's read overwrites. The MESSAGE line and every JSON
    value must still be the field's own bytes."""
    big = {"MESSAGE": "m" * 3000 + "-end-of-message",
           "AAA_FIELD": "a" * 4000 + "-a", "ZZZ_FIELD": "z" * 5000 + "-z",
           "MID_FIELD": "q" * 2500 + "-q", "_SYSTEMD_UNIT": "app.service"}
    for mode in ("false", "true"):
        with Env() as env:
            rc = Receiver(env)
            d = env.path("journal")
            os.makedirs(d)
            make_journal(env, d, "a", [big, dict(big, MESSAGE="short second")])
            ag = Agent(env, rc, SCRAPE % {"job": "big", "path": d, "json": mode})
            env.wait_until(lambda: len(rc.lines()) >= 2, what="two lines (json: %s)" % mode)
            lines = rc.lines()
            if mode == "false":
                check(lines[:2] == [big["MESSAGE"], "short second"],
                      "messages %r" % [x[:40] + "..." + x[-20:] for x in lines])
            else:
                for line, msg in zip(lines[:2], (big["MESSAGE"], "short second")):
                    obj = json.loads(line)
                    want = dict(big, MESSAGE=msg)
                    for k, v in want.items():
                        check(obj.get(k) == v, "json field %s: %r" % (k, (obj.get(k) or "")[-30:]))
            check(ag.stop() == 0, "exit code")


if __name__ == "__main__":
    main([test_labels_matches_max_age, test_cursor_restart_and_crash, test_json_lines,
          test_large_compressed_fields])
