"""Pipes a mixed CRI / docker json-file / JSON / logfmt / plain log through
`logferry -stdin -dry-run -config.file=mixed.yaml` (23 stage kinds) and
compares the printed entries (timestamp instant, labels, line) exactly with
what Promtail's stage semantics give. The expected values were derived by
hand from the stage definitions; see the comments next to each one."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.environ["LF_E2E_LIB"])
from lfe2e import Env  # noqa: E402

LOGFERRY = os.environ["LOGFERRY"]
HERE = os.path.dirname(os.path.abspath(__file__))

ESC = "\x1b"
INPUT = [
    # 1 CRI + JSON content; timestamp from the JSON "ts"
    '2024-05-01T10:00:00.000000001Z stdout F {"level":"info","msg":"user logged in",'
    '"user":{"name":"alice"},"ts":"2024-05-01T10:00:00.5Z"}',
    # 2 docker + logfmt content; output replaced by msg
    '{"log":"level=warn msg=\\"disk almost full\\" duration=1.5s\\n","stream":"stderr",'
    '"time":"2024-05-01T10:00:01.25Z"}',
    # 3-4 CRI stderr stack trace: joined by multiline
    '2024-05-01T10:00:02Z stderr F java.lang.RuntimeException: boom',
    '2024-05-01T10:00:02.1Z stderr F \tat com.example.Foo.bar(Foo.java:42)',
    # 5-6 CRI partial line joined with its F line; password masked
    '2024-05-01T10:00:03Z stdout P partial one, ',
    '2024-05-01T10:00:03Z stdout F partial two password=hunter2',
    # 7 dropped by the drop stage (level debug)
    '2024-05-01T10:00:04Z stdout F {"level":"debug","msg":"noise"}',
    # 8 decolorized, then dropped by match action drop (level trace)
    ESC + '[32mplain colored line' + ESC + '[0m level=trace',
    # 9 plain: regex user, structured metadata; read time
    'plain line with user=bob',
    # 10 CRI stderr first line: releases the stack trace, held until EOF
    '2024-05-01T10:00:05Z stderr F second exception',
    # 11 docker + JSON with a tenant: packed
    '{"log":"{\\"level\\":\\"error\\",\\"msg\\":\\"bad request\\",\\"http.code\\":400,'
    '\\"tenant\\":\\"team-a\\"}\\n","stream":"stdout","time":"2024-05-01T10:00:06Z"}',
    # 12 raw JSON with its own timestamp
    '{"level":"info","msg":"raw json","ts":"2024-05-01T10:00:07.123456789Z"}',
]

ANY = None  # read time: not compared
EXPECTED = [
    ("2024-05-01T10:00:00.5Z",
     '{env="e2e", format="cri", job="e2e", level="info", stream="stdout"}',
     '{"level":"info","msg":"user logged in","user":{"name":"alice"},'
     '"ts":"2024-05-01T10:00:00.5Z"}'),
    ("2024-05-01T10:00:01.25Z",
     '{env="e2e", format="docker", job="e2e", level="warn", stream="stderr"}',
     "disk almost full"),
    # the F entry (its time) with the P content in front
    ("2024-05-01T10:00:03Z",
     '{env="e2e", format="cri", job="e2e", stream="stdout"}',
     "partial one, partial two password=****"),
    (ANY, '{env="e2e", job="e2e"}', "plain line with user=bob"),
    # the block has the first line's time and labels
    ("2024-05-01T10:00:02Z",
     '{env="e2e", format="cri", job="e2e", stream="stderr"}',
     "java.lang.RuntimeException: boom\n\tat com.example.Foo.bar(Foo.java:42)"),
    ("2024-05-01T10:00:06Z",
     '{__tenant_id__="team-a", env="e2e", format="docker", job="e2e", level="error", '
     'stream="stdout"}',
     '{"summary":"BAD REQUEST","_entry":"{\\"level\\":\\"error\\",\\"msg\\":\\"bad request\\",'
     '\\"http.code\\":400,\\"tenant\\":\\"team-a\\"}\\n"}'),
    ("2024-05-01T10:00:07.123456789Z",
     '{env="e2e", job="e2e", level="info"}',
     '{"level":"info","msg":"raw json","ts":"2024-05-01T10:00:07.123456789Z"}'),
    # released by the flush at end of input
    ("2024-05-01T10:00:05Z",
     '{env="e2e", format="cri", job="e2e", stream="stderr"}',
     "second exception"),
]

RECORD = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?)(Z|[+-]\d\d:?\d\d)\t(\{.*?\})\t(.*)$')


def to_ns(date_time, zone):
    """RFC3339-like text with a zone to ns since the epoch (no datetime:
    it cannot hold nanoseconds)."""
    m = re.match(r'(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?$', date_time)
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    frac = (m.group(7) or "").ljust(9, "0")
    # days from civil (Howard Hinnant)
    y2 = y - (mo <= 2)
    era = y2 // 400
    yoe = y2 - era * 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    secs = days * 86400 + h * 3600 + mi * 60 + s
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        z = zone[1:].replace(":", "")
        secs -= sign * (int(z[:2]) * 3600 + int(z[2:]) * 60)
    return secs * 10**9 + int(frac)


def parse_records(out):
    """Splits dry-run output into (ts_ns, labels, line). A line holding
    newlines continues on the next physical lines."""
    recs = []
    phys = out.split("\n")
    if phys and phys[-1] == "":
        phys.pop()
    for p in phys:
        m = RECORD.match(p)
        if m:
            recs.append([to_ns(m.group(1), m.group(2)), m.group(3), m.group(4)])
        elif recs:
            recs[-1][2] += "\n" + p
        else:
            raise AssertionError("output does not start with an entry: %r" % p)
    return recs


def main():
    with Env() as env:
        cfg = open(os.path.join(HERE, "mixed.yaml")).read()
        cfg = cfg.replace("POSITIONS", env.path("positions.yaml"))
        path = env.write("mixed.yaml", cfg)
        data = ("\n".join(INPUT) + "\n").encode()
        r = subprocess.run([LOGFERRY, "-stdin", "-dry-run", "-config.file=" + path],
                           input=data, capture_output=True, timeout=120,
                           env=dict(os.environ, TZ="UTC"))
        if r.returncode != 0:
            raise AssertionError("logferry exited %d: %s" % (r.returncode, r.stderr.decode()))
        got = parse_records(r.stdout.decode())
        want = [[None if ts is ANY else to_ns(ts[:-1], "Z"), labels, line]
                for ts, labels, line in EXPECTED]
        problems = []
        if len(got) != len(want):
            problems.append("got %d entries, want %d" % (len(got), len(want)))
        for i, (g, w) in enumerate(zip(got, want)):
            if w[0] is None:
                g = [None] + g[1:]
            if g != w:
                problems.append("entry %d:\n  got  %r\n  want %r" % (i, g, w))
        if problems:
            raise AssertionError("\n".join(problems) + "\n--- stdout:\n" + r.stdout.decode()
                                 + "\n--- stderr:\n" + r.stderr.decode())
    print("ok")


if __name__ == "__main__":
    main()
