"""The images install exactly what scripts/deps.sh lists for building, so a
library added to the build cannot be missing from the image build again (the
liblz4 bug): both Dockerfiles' build stages run `deps.sh build`, are the
same, and `deps.sh --list build` keeps working (and keeps appended packages)
when lines are appended to PKGS, as other changes do.
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.environ["LF_E2E_LIB"])
from lfe2e import check, main  # noqa: E402

SRC = os.environ["LF_SOURCE_ROOT"]
DEPS = os.path.join(SRC, "scripts", "deps.sh")
DOCKERFILES = [os.path.join(SRC, "packaging", f) for f in ("Dockerfile.agent", "Dockerfile.store")]


def listing(script, which):
    r = subprocess.run(["bash", script, "--list", which], capture_output=True, text=True,
                       timeout=60)
    check(r.returncode == 0, "%s --list %s: %s" % (script, which, r.stderr))
    return r.stdout.split()


def build_stage(path):
    text = open(path).read()
    m = re.search(r"^FROM debian:12 AS build\n(.*?)^FROM ", text, re.S | re.M)
    check(m, "%s: no `FROM debian:12 AS build` stage" % path)
    return m.group(1)


def test_dockerfiles_install_the_build_list():
    stages = [build_stage(p) for p in DOCKERFILES]
    check(stages[0] == stages[1], "the build stages of %s differ" % " and ".join(DOCKERFILES))
    s = stages[0]
    check("COPY scripts/deps.sh /tmp/deps.sh" in s and "RUN /tmp/deps.sh build" in s,
          "the build stage does not install `scripts/deps.sh build`")
    # Nothing else is installed there with apt.
    check("apt-get install" not in s, "the build stage installs packages besides deps.sh's")
    check("-Dtests=disabled" in s, "the build stage builds the tests")


def test_build_list_is_pkgs_minus_not_for_build():
    every = listing(DEPS, "all")
    build = listing(DEPS, "build")
    check(set(build) <= set(every), "build list has packages outside PKGS")
    for p in ("meson", "gcc", "liblz4-dev", "libsnappy-dev", "libcurl4-openssl-dev"):
        check(p in build, "%s not in the build list %r" % (p, build))
    for p in ("libcmocka-dev", "nodejs", "npm"):
        check(p not in build, "test-only %s in the build list" % p)


def owner(path):
    r = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True, timeout=60)
    if r.returncode != 0 and path.startswith("/usr/"):
        r = subprocess.run(["dpkg", "-S", path[4:]], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "no package holds %s" % path)
    return r.stdout.split(":")[0]


def test_every_meson_dependency_is_in_the_build_list():
    """Each dependency(), header and program the top-level meson.build asks
    for comes from a package of `deps.sh --list build` (as installed here)."""
    build = set(listing(DEPS, "build"))
    meson = open(os.path.join(SRC, "meson.build")).read()
    needs = {}
    for name, rest in re.findall(r"dependency\('([^']+)'(.*)", meson):
        if name == "threads" or "get_option('tests')" in rest:
            continue
        r = subprocess.run(["pkg-config", "--variable=pcfiledir", name], capture_output=True,
                           text=True, timeout=60)
        check(r.returncode == 0, "pkg-config does not know %s" % name)
        needs[name] = owner(os.path.join(r.stdout.strip(), name + ".pc"))
    for hdr in re.findall(r"has_headers : \['([^']+)'\]", meson):
        needs[hdr] = owner("/usr/include/" + hdr)
    for prog in re.findall(r"find_program\('([^']+)'\)", meson):
        r = subprocess.run(["sh", "-c", "command -v " + prog], capture_output=True, text=True)
        needs[prog] = owner(os.path.realpath(r.stdout.strip()))
    check("liblz4" in needs, "meson.build no longer asks for liblz4? %r" % sorted(needs))
    missing = {k: v for k, v in needs.items() if v not in build}
    check(not missing, "meson.build needs packages missing from `deps.sh --list build`: %r"
          % missing)


def test_appended_packages_join_the_build_list():
    text = open(DEPS).read()
    start = text.index("PKGS=(")
    end = text.index("\n)\n", start)
    appended = text[:end] + "\n  # appended by another change\n  libfoo-dev bar-tool\n" + text[end:]
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
        f.write(appended)
    try:
        build = listing(f.name, "build")
        every = listing(f.name, "all")
        check("libfoo-dev" in build and "bar-tool" in build,
              "appended packages missing from the build list: %r" % build)
        check(every[-2:] == ["libfoo-dev", "bar-tool"], "appended packages missing from all")
        check(build[:-2] == listing(DEPS, "build"), "appending changed the rest of the list")
    finally:
        os.unlink(f.name)


def test_store_check_syntax():
    """logferry-store -check-syntax loads the config (with the flags) and
    exits: 0 for the image's config, 1 naming the bad key; it opens and
    creates nothing."""
    store = os.environ["LOGFERRY_STORE"]
    with tempfile.TemporaryDirectory() as d:
        data = os.path.join(d, "data")
        good = os.path.join(d, "good.yaml")
        with open(good, "w") as f:
            f.write("common:\n  path_prefix: %s\n" % data)
        r = subprocess.run([store, "-check-syntax", "-config.file=" + good], capture_output=True,
                           text=True, timeout=60)
        check(r.returncode == 0 and "Valid config file" in r.stdout,
              "good config: %d %r %r" % (r.returncode, r.stdout, r.stderr))
        check(not os.path.exists(data), "-check-syntax created the data directory")
        r = subprocess.run([store, "-check-syntax",
                            "-config.file=" + os.path.join(SRC, "packaging", "store-config.yaml")],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "the image's store-config.yaml: %r" % r.stderr)
        bad = os.path.join(d, "bad.yaml")
        with open(bad, "w") as f:
            f.write("server:\n  http_listen_prot: 3100\n")
        r = subprocess.run([store, "-check-syntax", "-config.file=" + bad], capture_output=True,
                           text=True, timeout=60)
        check(r.returncode == 1 and "Invalid config file" in r.stdout and
              "http_listen_prot" in r.stderr, "bad config: %d %r %r"
              % (r.returncode, r.stdout, r.stderr))
        r = subprocess.run([store, "-check-syntax", "-config.file=" + good, "-log.level=loud"],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 1 and "Invalid config file" in r.stdout and "loud" in r.stderr, "bad flag value: %r" % r.stderr)


if __name__ == "__main__":
    main([test_dockerfiles_install_the_build_list, test_build_list_is_pkgs_minus_not_for_build,
          test_every_meson_dependency_is_in_the_build_list,
          test_appended_packages_join_the_build_list, test_store_check_syntax])
