"""Builds both images with packaging/images.sh, then runs them with buildah
(chroot isolation, host network; no container engine needed):

- the images: a logferry or logferry-store binary whose libraries are all
  there, no compiler and no headers, the store's non-root USER, a
  HEALTHCHECK on /ready;
- the store from its image as its own non-root user, config and data volume
  mounted, writing nothing outside its data volume;
- the agent from its image as root with every capability dropped but
  DAC_READ_SEARCH, a host folder of CRI logs (owned by another user, mode
  0640) mounted at /var/log/pods, writing nothing outside its positions
  volume: every line written there is read back from the store;
- then `kill -9` of the agent's process in the middle of shipping and a
  restart of the same container: every line arrives, and the restarted agent
  sends again exactly what its positions file had not committed (the
  unacknowledged window), nothing earlier.

Skipped (exit 77) without root or buildah. Containers are removed at the end.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.environ["LF_E2E_LIB"])
from lfe2e import Env, check, main  # noqa: E402

SRC = os.environ["LF_SOURCE_ROOT"]
TAG = os.environ.get("LF_IMAGE_TAG", "e2e")
AGENT_IMAGE = "localhost/logferry:" + TAG
STORE_IMAGE = "localhost/logferry-store:" + TAG
RUN = ["buildah", "run", "--isolation", "chroot", "--network", "host"]
STORE_UID = 10001
LOG_UID = 12345  # owns the CRI log files: only DAC_READ_SEARCH lets root read them
CAP_DAC_READ_SEARCH = 2
# `buildah run --cap-drop ALL --cap-add X` ends with no capability at all
# (buildah 1.28): drop every capability by name instead, then add the one.
CAPS = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
        "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN",
        "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE",
        "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME",
        "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
        "PERFMON", "BPF", "CHECKPOINT_RESTORE"]
AGENT_CAPS = [a for c in CAPS if c != "DAC_READ_SEARCH" for a in ("--cap-drop", "CAP_" + c)] + \
    ["--cap-add", "CAP_DAC_READ_SEARCH"]
BUILD_TIMEOUT = 3600

containers = []  # every container made, removed at the end
runs = []  # every `buildah run` started: its processes are killed at the end
state = {}


def sh(argv, timeout=300, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    check(r.returncode == 0, "%s failed (%d): %s%s" % (" ".join(argv), r.returncode,
                                                        r.stdout[-2000:], r.stderr[-4000:]))
    return r.stdout


def new_container(image, name):
    name = "%s-%d" % (name, os.getpid())
    subprocess.run(["buildah", "rm", name], capture_output=True)
    sh(["buildah", "from", "--pull-never", "--name", name, image])
    containers.append(name)
    return name


def spawn_run(env, args, name):
    p = env.spawn(RUN + args, name=name)
    runs.append(p)
    return p


def stop_run(run_proc, comm, timeout=120):
    """SIGTERM to the container's process (buildah does not pass it on);
    returns its `buildah run`'s exit status."""
    pid = container_process(run_proc, comm)
    if pid:
        os.kill(pid, signal.SIGTERM)
    return run_proc.wait(timeout=timeout)


def http_get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def children(pid):
    """Every descendant of pid (from /proc)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def container_process(run_proc, comm):
    """The pid of the process called comm that `buildah run` started."""
    for p in children(run_proc.pid):
        try:
            with open("/proc/%d/comm" % p) as f:
                if f.read().strip() == comm:
                    return p
        except OSError:
            pass
    return None


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)


def rootfs_writes(mnt, since, allowed_dirs):
    """Files and directories of a container's root filesystem (its mount
    point) changed after `since`, outside the given mount targets."""
    out = []
    for d, dirs, files in os.walk(mnt):
        rel_d = "/" + os.path.relpath(d, mnt).lstrip(".")
        if any(rel_d == a or rel_d.startswith(a.rstrip("/") + "/") for a in allowed_dirs):
            dirs[:] = []
            continue
        for n in files + dirs:
            p = os.path.join(d, n)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            # file times come from a coarse clock: a margin of 50 ms
            if max(st.st_mtime, st.st_ctime) > since - 0.05:
                out.append("/" + os.path.relpath(p, mnt))
    # a mount target itself may have its times touched by the mount
    return [p for p in out if p not in allowed_dirs]


def buildah_own_writes(ctr, mnt, vols, allowed):
    """What a `buildah run` of `true` (same mounts) changes in the root
    filesystem: buildah's own doing (e.g. /run), not the program's."""
    t = time.time()
    sh(RUN + vols + [ctr, "--", "true"])
    return rootfs_writes(mnt, t, allowed)


def image_config(image):
    return json.loads(sh(["buildah", "inspect", "--type", "image", image]))["Docker"]["config"]


def human(n):
    return "%.1f MB" % (n / 1e6)


# ---------------------------------------------------------------------------

def test_images_build():
    """packaging/images.sh builds both images; each is a slim Debian with its
    binary, its libraries and nothing to compile with."""
    t0 = time.monotonic()
    r = subprocess.run([os.path.join(SRC, "packaging", "images.sh"), TAG], capture_output=True,
                       text=True, timeout=BUILD_TIMEOUT)
    check(r.returncode == 0, "images.sh failed: %s" % r.stderr[-6000:])
    print("  images.sh %s: %.0fs (%s)" % (TAG, time.monotonic() - t0,
                                         r.stderr.strip().splitlines()[1] if r.stderr else ""))
    for image, binary in ((AGENT_IMAGE, "logferry"), (STORE_IMAGE, "logferry-store")):
        size = sh(["buildah", "images", "--format", "{{.Size}}", image]).strip()
        check(size, "no image %s" % image)
        print("  %s: %s (buildah images)" % (image, size))
        c = new_container(image, "lf-e2e-inspect-" + binary)
        mnt = sh(["buildah", "mount", c]).strip()
        try:
            total = 0
            headers = []
            for d, _, files in os.walk(mnt):
                for n in files:
                    p = os.path.join(d, n)
                    total += os.lstat(p).st_size
                    if n.endswith(".h") and "/usr/include" in p:
                        headers.append(p[len(mnt):])
            print("  %s: %s of files" % (image, human(total)))
            state["size_" + binary] = total
            check(not headers, "%s has headers: %r" % (image, headers[:5]))
            for tool in ("gcc", "cc", "cpp", "ld", "as", "meson", "ninja", "apt-utils"):
                check(not os.path.exists(os.path.join(mnt, "usr/bin", tool)),
                      "%s has /usr/bin/%s" % (image, tool))
            check(os.path.isfile(os.path.join(mnt, "usr/local/bin", binary)),
                  "%s has no /usr/local/bin/%s" % (image, binary))
        finally:
            sh(["buildah", "umount", c])
        # Every library loads: the binary runs.
        out = sh(RUN + [c, "--", "/usr/local/bin/" + binary, "-version"])
        check("version" in out, "%s -version printed %r" % (binary, out))
        cfg = image_config(image)
        hc = (cfg.get("Healthcheck") or {}).get("Test") or []
        check(any("/ready" in t for t in hc), "%s: no HEALTHCHECK on /ready: %r" % (image, hc))
        check(cfg.get("Entrypoint") == ["/usr/local/bin/" + binary],
              "%s: entrypoint %r" % (image, cfg.get("Entrypoint")))
    for image in (AGENT_IMAGE, STORE_IMAGE):
        check(not image_config(image).get("Volumes"),
              "%s declares VOLUMEs (buildah run may hide a -v of the same path)" % image)
    check(image_config(STORE_IMAGE).get("User") == "%d:%d" % (STORE_UID, STORE_UID),
          "store image does not run as %d" % STORE_UID)
    check(image_config(AGENT_IMAGE).get("User") in (None, "", "0", "root"),
          "agent image is not root")
    state["built"] = True


def store_config(port):
    return ("auth_enabled: false\n"
            "server:\n  http_listen_address: 127.0.0.1\n  http_listen_port: %d\n"
            "common:\n  path_prefix: /var/lib/logferry-store\n"
            "limits_config:\n  max_entries_limit_per_query: 200000\n"
            "  reject_old_samples: false\n" % port)


def agent_config(port, store_port):
    # readline_rate (blocking) paces reading so the kill lands mid-file.
    return ("server:\n  http_listen_address: 127.0.0.1\n  http_listen_port: %d\n"
            "positions:\n  filename: /var/lib/logferry/positions.yaml\n  sync_period: 500ms\n"
            "clients:\n  - url: http://127.0.0.1:%d/loki/api/v1/push\n"
            "    batchwait: 100ms\n"
            "    backoff_config: {min_period: 100ms, max_period: 1s, max_retries: 1000}\n"
            "limits_config:\n  readline_rate_enabled: true\n  readline_rate: 8000\n"
            "  readline_burst: 1000\n  readline_rate_drop: false\n"
            "scrape_configs:\n  - job_name: pods\n    pipeline_stages:\n      - cri: {}\n"
            "    static_configs:\n      - targets: [localhost]\n        labels:\n"
            "          job: image-e2e\n          __path__: /var/log/pods/*/*/*.log\n"
            % (port, store_port))


def query_lines(store_port, t_from, t_to):
    q = urllib.parse.urlencode({"query": '{job="image-e2e"}', "start": str(t_from),
                                "end": str(t_to), "limit": "200000", "direction": "forward"})
    st, body = http_get("http://127.0.0.1:%d/loki/api/v1/query_range?%s" % (store_port, q),
                        timeout=30)
    check(st == 200, "query: %d %r" % (st, body[:300]))
    out = []
    for s in json.loads(body)["data"]["result"]:
        out.extend(v[1] for v in s["values"])
    return out


def sent_entries(agent_port):
    st, body = http_get("http://127.0.0.1:%d/metrics" % agent_port)
    if st != 200:
        return -1
    return sum(float(m.group(1)) for m in
               re.finditer(rb"^logferry_sent_entries_total(?:\{[^}]*\})? (\S+)$", body, re.M))


def positions_offset(path, key):
    if not os.path.exists(path):
        return 0
    for line in open(path):
        m = re.match(r'^\s+"?(.+?)"?:\s+"?(\d+)"?\s*$', line)
        if m and m.group(1) == key:
            return int(m.group(2))
    return 0


def cri_lines(start, n, t0_ns):
    out = []
    for i in range(start, start + n):
        ts = t0_ns + i * 1000
        secs, ns = divmod(ts, 10**9)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + ".%09dZ" % ns
        out.append(("%s stdout F image-e2e-%06d" % (stamp, i), "image-e2e-%06d" % i))
    return out


def append(path, entries):
    with open(path, "a") as f:
        for cri, _ in entries:
            f.write(cri + "\n")


def test_store_and_agent_from_their_images():
    check(state.get("built"), "images not built")
    with Env() as env:
        try:
            store_and_agent(env)
        finally:
            kill_runs()  # before Env kills the buildah processes only


def store_and_agent(env):
    """The body of test_store_and_agent_from_their_images."""
    sport, aport = env.free_port(), env.free_port()
    health = {}
    for image, port in ((STORE_IMAGE, 3100), (AGENT_IMAGE, 3101)):
        t = image_config(image)["Healthcheck"]["Test"]
        check(t[0] == "CMD" and ("/%d" % port) in t[-1], "%s: healthcheck %r" % (image, t))
        health[image] = t[1:-1] + [t[-1].replace("/%d" % port, "/%d")]
    # The store: its config and data volume; the data belongs to its user.
    scfg = env.path("store-config")
    os.makedirs(scfg)
    env.write("store-config/config.yaml", store_config(sport))
    data = env.path("store-data")
    os.makedirs(data)
    os.chown(data, STORE_UID, STORE_UID)
    os.chmod(env.dir, 0o755)
    store_c = new_container(STORE_IMAGE, "lf-e2e-store")
    smnt = sh(["buildah", "mount", store_c]).strip()
    s_vols = ["-v", scfg + ":/etc/logferry-store:ro", "-v", data + ":/var/lib/logferry-store"]
    s_allowed = ["/var/lib/logferry-store", "/etc/logferry-store"]
    s_buildah = buildah_own_writes(store_c, smnt, s_vols, s_allowed)
    t_store = time.time()
    store = spawn_run(env, s_vols + [
                             store_c, "--", "/usr/local/bin/logferry-store",
                             "-config.file=/etc/logferry-store/config.yaml"], name="store")
    env.wait_until(lambda: store.poll() is None and
                   http_get("http://127.0.0.1:%d/ready" % sport)[0] == 200,
                   timeout=120, what="store ready")
    # The image's HEALTHCHECK command (on this run's port) passes.
    hc = health[STORE_IMAGE]
    sh(RUN + [store_c, "--"] + hc[:-1] + [hc[-1] % sport])
    spid = container_process(store, "logferry-store")
    check(spid, "no logferry-store process under buildah run")
    uid = proc_status(spid)["Uid"].split()
    check(uid[0] == str(STORE_UID) and uid[1] == str(STORE_UID),
          "store runs as uid %r, not %d" % (uid, STORE_UID))

    # The agent: CRI logs owned by another user, mode 0640; positions volume.
    pods = env.path("pods")
    cdir = os.path.join(pods, "shop_web-0_1f2e3d4c-0000-4000-8000-000000000001", "web")
    os.makedirs(cdir)
    log = os.path.join(cdir, "0.log")
    open(log, "w").close()
    for p in (os.path.dirname(cdir), cdir, log):
        os.chown(p, LOG_UID, LOG_UID)
    for p in (os.path.dirname(cdir), cdir):
        os.chmod(p, 0o750)
    os.chmod(log, 0o640)
    acfg = env.path("agent-config")
    os.makedirs(acfg)
    env.write("agent-config/config.yaml", agent_config(aport, sport))
    posdir = env.path("positions")
    os.makedirs(posdir)
    positions = os.path.join(posdir, "positions.yaml")
    in_ctr_log = "/var/log/pods/" + os.path.relpath(log, pods)
    agent_c = new_container(AGENT_IMAGE, "lf-e2e-agent")
    amnt = sh(["buildah", "mount", agent_c]).strip()
    a_vols = ["-v", acfg + ":/etc/logferry:ro", "-v", pods + ":/var/log/pods:ro",
              "-v", posdir + ":/var/lib/logferry"]
    a_allowed = ["/var/lib/logferry", "/var/log/pods", "/etc/logferry"]
    a_buildah = buildah_own_writes(agent_c, amnt, a_vols, a_allowed)
    t_agent = time.time()

    def start_agent(name):
        a = spawn_run(env, AGENT_CAPS + a_vols + [
                             agent_c, "--", "/usr/local/bin/logferry",
                             "-config.file=/etc/logferry/config.yaml"], name=name)
        env.wait_until(lambda: a.poll() is None and
                       http_get("http://127.0.0.1:%d/ready" % aport)[0] == 200,
                       timeout=120, what=name + " ready")
        pid = container_process(a, "logferry")
        check(pid, "no logferry process under buildah run")
        st = proc_status(pid)
        check(st["Uid"].split()[0] == "0", "agent not root: %s" % st["Uid"])
        for capset in ("CapEff", "CapPrm", "CapBnd"):
            check(int(st[capset], 16) == 1 << CAP_DAC_READ_SEARCH,
                  "agent %s is %s, want only DAC_READ_SEARCH" % (capset, st[capset].strip()))
        return a, pid

    t0_ns = time.time_ns() - 3600 * 10**9
    q_from, q_to = t0_ns - 10**9, time.time_ns() + 3600 * 10**9
    agent, apid = start_agent("agent")
    hc = health[AGENT_IMAGE]
    sh(RUN + [agent_c, "--"] + hc[:-1] + [hc[-1] % aport])

    # 1. Lines written while the agent runs are all read back.
    first = cri_lines(0, 2000, t0_ns)
    append(log, first)
    want = [m for _, m in first]
    env.wait_until(lambda: len(set(query_lines(sport, q_from, q_to))) >= len(want),
                   timeout=120, what="the first %d lines in the store" % len(want))
    got = query_lines(sport, q_from, q_to)
    check(sorted(set(got)) == want, "store lines differ from the file's")
    check(len(got) == len(want), "%d duplicates in the store" % (len(got) - len(want)))
    size1 = os.path.getsize(log)
    env.wait_until(lambda: positions_offset(positions, in_ctr_log) == size1,
                   what="positions at the end of the first lines")

    # 2. kill -9 of the agent's process in the middle of shipping more.
    more = cri_lines(2000, 20000, t0_ns)
    append(log, more)
    n = len(first) + len(more)
    env.wait_until(lambda: len(query_lines(sport, q_from, q_to)) >= len(first) + 4000 and
                   positions_offset(positions, in_ctr_log) > size1,
                   timeout=120, what="shipping under way")
    os.kill(apid, signal.SIGKILL)
    env.wait_until(lambda: agent.poll() is not None, what="buildah run of the agent ends")
    received_before = len(set(query_lines(sport, q_from, q_to)))
    committed = positions_offset(positions, in_ctr_log)
    with open(log, "rb") as f:
        committed_lines = f.read(committed).count(b"\n")
    window = received_before - committed_lines
    check(window >= 0, "positions (%d lines) ahead of the store (%d): at-least-once broken"
          % (committed_lines, received_before))
    check(received_before < n, "the kill came after everything was shipped")

    # 3. Restart the same container: everything arrives, only the window again.
    agent2, _ = start_agent("agent2")
    env.wait_until(lambda: len(set(query_lines(sport, q_from, q_to))) >= n, timeout=180,
                   what="all %d lines after the restart" % n)
    want = [m for _, m in first + more]
    got = query_lines(sport, q_from, q_to)
    lost = sorted(set(want) - set(got))
    check(not lost, "lost %d lines, e.g. %r" % (len(lost), lost[:3]))
    check(len(set(got)) == n, "unexpected lines in the store")
    dups = len(got) - n
    resend = n - committed_lines
    env.wait_until(lambda: sent_entries(aport) >= resend, what="restarted agent's sends")
    sent2 = sent_entries(aport)
    print("  kill -9 at %d/%d lines in the store; positions had %d lines; the restarted "
          "agent sent %d (window %d re-sent); %d duplicates visible in the store"
          % (received_before, n, committed_lines, sent2, window, dups))
    check(sent2 == resend, "restarted agent sent %d lines, want %d (from its positions)"
          % (sent2, resend))
    check(dups <= window, "%d duplicates exceed the unacknowledged window %d" % (dups, window))

    # 4. Neither wrote its root filesystem (only its volumes).
    check(stop_run(agent2, "logferry") == 0, "agent exit status after SIGTERM")
    check(stop_run(store, "logferry-store") == 0, "store exit status after SIGTERM")
    w = [p for p in rootfs_writes(amnt, t_agent, a_allowed) if p not in a_buildah]
    check(not w, "the agent wrote its root filesystem: %r" % w[:10])
    w = [p for p in rootfs_writes(smnt, t_store, s_allowed) if p not in s_buildah]
    check(not w, "the store wrote its root filesystem: %r" % w[:10])
    print("  root filesystems unchanged but for what `buildah run` itself touches: %r"
          % sorted(set(a_buildah) | set(s_buildah)))
    check(os.listdir(data), "the store wrote nothing to its data volume")


def kill_runs():
    """kill -9 of what each `buildah run` started, then of buildah itself
    (killing buildah alone would leave the container process running)."""
    for r in runs:
        if r.poll() is None:
            for pid in reversed(children(r.pid)):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            r.kill()
            r.wait()


def cleanup():
    kill_runs()
    for c in containers:
        subprocess.run(["buildah", "umount", c], capture_output=True)
        subprocess.run(["buildah", "rm", c], capture_output=True)


if __name__ == "__main__":
    if os.geteuid() != 0 or not shutil.which("buildah"):
        print("SKIP: building and running the images needs root and buildah "
              "(scripts/deps.sh installs buildah and debootstrap)")
        sys.exit(77)
    probe = subprocess.run(["buildah", "from", "scratch"], capture_output=True, text=True)
    if probe.returncode != 0:
        print("SKIP: buildah cannot make containers here (%s)" % probe.stderr.strip()[-300:])
        sys.exit(77)
    subprocess.run(["buildah", "rm", probe.stdout.strip()], capture_output=True)
    try:
        main([test_images_build, test_store_and_agent_from_their_images])
    finally:
        cleanup()
