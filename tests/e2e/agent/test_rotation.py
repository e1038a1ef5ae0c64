"""No loss across rotation: (1) lines appended while the file is renamed
and a new one created all arrive; (2) copytruncate: every line written
after the truncate arrives. Run against every available backend."""
import os

from agentlib import (Agent, Env, backends, check, main, missing, static_scrape, write_lines)


def rename_rotation(backend_cls):
    with Env() as env:
        be = backend_cls(env)
        d = env.path("logs")
        os.makedirs(d)
        f = os.path.join(d, "app.log")
        ag = Agent(env, be, static_scrape(d + "/*.log", job="rot"))
        expected = []
        # A writer that keeps the old file open across the rename, as a
        # process does until it reopens its log: appends after the rename go
        # to the renamed file and must still arrive. A path-based tailer can
        # only follow a new file that lives long enough to be seen, so after
        # each rotation the writer waits until the new file's first line
        # arrived (kubelet rotates at 10 MiB, not every millisecond), but it
        # never stops appending to the old file while the agent catches up.
        n_rot, per = 5, 2000

        def put(fh, line):
            fh.write(line.encode() + b"\n")
            expected.append(line)

        fh = open(f, "ab", buffering=0)
        put(fh, "rot-start")
        env.wait_until(lambda: "rot-start" in be.lines(), what="first line")
        for r in range(n_rot):
            for i in range(per):
                put(fh, "rot-%d-%05d %s" % (r, i, "x" * 100))
                if i == per // 2:
                    os.rename(f, f + ".%d" % r)  # rename mid-stream
                    old = fh
                    fh = open(f, "ab", buffering=0)  # new file at the path
                    put(fh, "rot-%d-new-first" % r)
                    for k in range(50):  # appends to the renamed file
                        put(old, "rot-%d-old-%02d" % (r, k))
                    old.close()
                    env.wait_until(lambda: "rot-%d-new-first" % r in be.lines(),
                                   what="new file after rotation %d" % r)
        fh.close()
        env.wait_until(lambda: len(set(be.lines())) >= len(expected), timeout=90,
                       what="%d rotated lines at %s" % (len(expected), be.name))
        lost = missing(expected, be.lines())
        check(not lost, "lost %d lines, e.g. %r" % (len(lost), lost[:5]))
        check(ag.stop() == 0, "exit code")
        print("  %s: %d lines across %d renames, %d duplicates"
              % (be.name, len(expected), n_rot, len(be.lines()) - len(set(be.lines()))))


def copytruncate(backend_cls):
    with Env() as env:
        be = backend_cls(env)
        d = env.path("logs")
        os.makedirs(d)
        f = os.path.join(d, "app.log")
        ag = Agent(env, be, static_scrape(d + "/*.log", job="ct"))
        first = ["ct-a-%05d" % i for i in range(3000)]
        write_lines(f, first)
        env.wait_until(lambda: len(set(be.lines())) >= len(first), what="first batch")
        # copytruncate: copy then truncate in place; the writer keeps O_APPEND
        with open(f, "rb") as src, open(f + ".1", "wb") as dst:
            dst.write(src.read())
        with open(f, "r+b") as fh:
            fh.truncate(0)
        after = ["ct-b-%05d" % i for i in range(2000)]
        # shorter than before, so the size check alone sees the truncation
        write_lines(f, after)
        env.wait_until(lambda: not missing(after, be.lines()), timeout=90,
                       what="lines written after the truncate")
        more = ["ct-c-%05d %s" % (i, "y" * 300) for i in range(2000)]
        write_lines(f, more)
        env.wait_until(lambda: not missing(more, be.lines()), timeout=90,
                       what="lines after the file grew past the old size")
        check(ag.stop() == 0, "exit code")


def test_rename_rotation():
    for b in backends():
        rename_rotation(b)


def test_copytruncate():
    for b in backends():
        copytruncate(b)


if __name__ == "__main__":
    main([test_rename_rotation, test_copytruncate])
