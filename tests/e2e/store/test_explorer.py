"""The log explorer page that logferry-store serves at "/", in Debian's
headless Chromium (tests/e2e/lib/cdp.py): the files and their headers, the
log view opened from a shared URL (lines newest first, label chips, ANSI
colours, expandable JSON, a <script> line kept as text), the label browser
building a selector, keyboard navigation, the volume histogram and its
drag-to-zoom, a metric chart, parse errors, and the live tail with pause.
Screenshots of the main views are saved in $LF_ARTIFACTS."""
import json
import os
import re
import urllib.parse

from storelib import Env, Store, check, now_ns  # noqa: I100 - sets up LF_E2E_LIB for cdp
import cdp  # noqa: E402

ART = os.environ.get("LF_ARTIFACTS") or "explorer-artifacts"
XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'


def seed(s):
    """Pushes the data set; returns {stream-name: [(ts, line), ...]} oldest first."""
    t0 = now_ns() - 10 * 60 * 10**9
    info = [(t0 + i * 10**9, 'level=info msg="request %d" path=/api/%d' % (i, i)) for i in range(20)]
    errs = [(t0 + 30 * 10**9, json.dumps({"level": "error", "msg": "boom", "user": {"id": 7}})),
            (t0 + 31 * 10**9, "\x1b[31mred\x1b[0m plain \x1b[1mbold\x1b[0m"),
            (t0 + 32 * 10**9, XSS)]
    web = [(t0 + 40 * 10**9 + i, "web line %d" % i) for i in range(5)]
    st, body = s.push_json([
        ({"app": "api", "pod": "a", "level": "info"}, [[str(t), l] for t, l in info]),
        ({"app": "api", "pod": "b", "level": "error"}, [[str(t), l] for t, l in errs]),
        ({"app": "web", "pod": "w"}, [[str(t), l] for t, l in web]),
    ])
    check(st == 204, "push: %d %s" % (st, body))
    return {"info": info, "errs": errs, "web": web}


def page_url(s, query, **params):
    p = {"query": query}
    p.update(params)
    return s.url("/?" + urllib.parse.urlencode(p))


def rows(b):
    return b.js("[...document.querySelectorAll('#results li .line')].map(e => e.textContent)")


def test_files_and_headers():
    with Env() as env:
        s = Store(env, "").start()
        st, body = s.get("/")
        check(st == 200 and b"<title>logferry explorer</title>" in body, "GET / %d" % st)
        import urllib.request
        with urllib.request.urlopen(s.url("/")) as r:
            h = r.headers
        check(h["Content-Type"] == "text/html; charset=utf-8", "html type %r" % h["Content-Type"])
        csp = h["Content-Security-Policy"] or ""
        for part in ("default-src 'none'", "script-src 'self'", "connect-src 'self'",
                     "frame-ancestors 'none'"):
            check(part in csp, "CSP lacks %r: %r" % (part, csp))
        check("unsafe-inline" not in csp and "unsafe-eval" not in csp, "CSP too loose: %r" % csp)
        etag = h["ETag"]
        check(etag and etag.startswith('"') and etag.endswith('"'), "etag %r" % etag)
        st, _ = s.request("GET", "/", headers={"If-None-Match": etag})
        check(st == 304, "If-None-Match -> %d" % st)
        st, _ = s.request("GET", "/", headers={"If-None-Match": '"other", ' + etag})
        check(st == 304, "If-None-Match list -> %d" % st)
        st, _ = s.request("GET", "/", headers={"If-None-Match": '"other"'})
        check(st == 200, "stale etag -> %d" % st)
        for path, ctype in (("/ui/app.js", "text/javascript; charset=utf-8"),
                            ("/ui/style.css", "text/css; charset=utf-8")):
            with urllib.request.urlopen(s.url(path)) as r:
                check(r.headers["Content-Type"] == ctype, "%s type %r" % (path, r.headers["Content-Type"]))
                check(r.headers["X-Content-Type-Options"] == "nosniff", "nosniff")
                check(len(r.read()) > 1000, "%s body" % path)
        check(s.get("/ui/nope.js")[0] == 404, "unknown asset 404")
        check(s.request("POST", "/", b"x")[0] == 405, "POST / 405")
        s.stop()


def test_log_view():
    with Env() as env:
        s = Store(env, "").start()
        data = seed(s)
        os.makedirs(ART, exist_ok=True)
        with cdp.Browser(env) as b:
            b.goto(page_url(s, '{app="api"}', since="1h"))
            b.wait_js("document.querySelectorAll('#results li').length === 23", "23 api rows")
            got = rows(b)
            want = [re.sub(r"\x1b\[[0-9;]*m", "", l)
                    for _, l in sorted(data["info"] + data["errs"], reverse=True)]
            check(got == want, "rows newest first:\n%r\n%r" % (got[:5], want[:5]))
            # the <script> line is text: no element was created and nothing ran
            check(XSS in got, "xss line shown as text")
            check(b.js("document.querySelectorAll('#results script, #results img').length") == 0,
                  "no elements from a line")
            check(b.js("typeof window.__xss") == "undefined", "line markup never ran")
            # label chips: app=api is common to both streams, pod and level differ
            common = b.js("document.getElementById('common-labels').textContent")
            check("app=api" in common, "common labels %r" % common)
            chips = b.js("[...document.querySelectorAll('#results li')][0].querySelector('.chips').textContent")
            check("pod=b" in chips and "level=error" in chips and "app=" not in chips, "chips %r" % chips)
            # ANSI colours became spans, escapes are gone
            red = b.js("[...document.querySelectorAll('#results .a-f1')].map(e => e.textContent)")
            check(red == ["red"], "ansi red span %r" % red)
            check("red plain bold" in got, "ansi stripped %r" % got[1])
            check(b.js("document.querySelector('#results .a-b').textContent") == "bold", "bold span")
            # JSON line expands into its fields (nested keys dotted)
            b.js("""(() => { const li = [...document.querySelectorAll('#results li')]
                    .find(li => li.querySelector('.line').textContent.includes('boom'));
                    li.querySelector('.toggle').click(); })()""")
            fields = b.js("""Object.fromEntries([...document.querySelectorAll('#results .fields tr')]
                    .map(tr => [tr.querySelector('th').textContent, tr.querySelector('td').textContent]))""")
            check(fields == {"level": "error", "msg": "boom", "user.id": "7"}, "json fields %r" % fields)
            # logfmt line expands with keyboard: focus its row, Enter
            b.js("""(() => { const li = [...document.querySelectorAll('#results li')]
                    .find(li => li.querySelector('.line').textContent.includes('request 19'));
                    li.focus(); })()""")
            b.key("Enter", text="\r")
            lf = b.js("""[...document.activeElement.querySelectorAll('.fields th')].map(e => e.textContent)""")
            check(lf == ["level", "msg", "path"], "logfmt fields via keyboard %r" % lf)
            b.key("ArrowDown")
            nxt = b.js("document.activeElement.querySelector('.line').textContent")
            check(nxt == "level=info msg=\"request 18\" path=/api/18", "ArrowDown moves focus: %r" % nxt)
            # the address bar holds the query and range
            q = urllib.parse.parse_qs(urllib.parse.urlparse(b.js("location.href")).query)
            check(q.get("query") == ['{app="api"}'] and q.get("since") == ["1h"], "url %r" % q)
            b.screenshot(os.path.join(ART, "explorer-logs.png"))
            b.dark(True)
            b.screenshot(os.path.join(ART, "explorer-logs-dark.png"))
            bg = b.js("getComputedStyle(document.body).backgroundColor")
            check(bg != "rgb(255, 255, 255)", "dark mode background %r" % bg)
            # history kept in local storage
            hist = b.js("JSON.parse(localStorage.getItem('logferry.explorer.history'))")
            check(hist and hist[0] == '{app="api"}', "history %r" % hist)
        s.stop()


def test_label_browser_and_errors():
    with Env() as env:
        s = Store(env, "").start()
        seed(s)
        with cdp.Browser(env) as b:
            b.goto(s.url("/"))
            b.wait_js("[...document.querySelectorAll('#label-names button')].map(x => x.textContent).join(',') === 'app,level,pod'",
                      "label names")
            b.js("document.querySelector('#label-names button[data-name=\"app\"]').click()")
            b.wait_js("document.querySelectorAll('#label-values button').length === 2", "app values")
            b.js("document.querySelector('#label-values button[data-value=\"web\"]').click()")
            check(b.js("document.getElementById('query').value") == '{app="web"}', "one value")
            b.js("document.querySelector('#label-values button[data-value=\"api\"]').click()")
            check(b.js("document.getElementById('query').value") == '{app=~"api|web"}',
                  "two values: %r" % b.js("document.getElementById('query').value"))
            # pipeline stages after the selector survive a new selection
            b.js("document.getElementById('query').value = '{app=~\"api|web\"} |= \"line\"'")
            b.js("document.querySelector('#label-values button[data-value=\"api\"]').click()")
            check(b.js("document.getElementById('query').value") == '{app="web"} |= "line"', "keeps pipeline")
            # Enter in the query box runs it
            b.js("document.getElementById('query').focus()")
            b.key("Enter", text="\r")
            b.wait_js("document.querySelectorAll('#results li').length === 5", "web rows after Enter")
            # a parse error shows the store's message with its position
            b.js("document.getElementById('query').value = '{app=\"web\"} | bogus ('")
            b.key("Enter", text="\r")
            b.wait_js("!document.getElementById('error').hidden", "error shown")
            msg = b.js("document.getElementById('error').textContent")
            check(msg.startswith("parse error") and "col" in msg, "error text %r" % msg)
        s.stop()


def test_histogram_and_chart():
    with Env() as env:
        s = Store(env, "").start()
        seed(s)
        with cdp.Browser(env) as b:
            b.goto(page_url(s, '{app="api"}', since="1h"))
            b.wait_js("!document.getElementById('volume').hidden && document.querySelectorAll('#volume rect.bar').length > 0",
                      "volume bars")
            total = b.js("[...document.querySelectorAll('#volume rect.bar')].reduce((a, r) => a + Number(r.dataset.count), 0)")
            check(total == 23, "histogram counts every line: %r" % total)
            levels = b.js("[...new Set([...document.querySelectorAll('#volume rect.bar')].map(r => r.dataset.level))].sort()")
            check(levels == ["error", "info"], "stacked by level %r" % levels)
            check(b.js("document.querySelectorAll('#volume rect.lv-error').length") > 0, "error colour")
            # drag across the histogram zooms into that range
            box = b.js("(() => { const r = document.getElementById('volume-svg').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()")
            b.drag(box[0] + box[2] * 0.5, box[1] + box[3] / 2, box[0] + box[2] * 0.95)
            b.wait_js("document.getElementById('range').value === 'abs' && location.search.includes('from=')", "zoomed")
            frm = b.js("Date.parse(document.getElementById('from').value)")
            to = b.js("Date.parse(document.getElementById('to').value)")
            check(0 < to - frm < 3600 * 1000 * 0.6, "zoom narrowed the range: %r..%r" % (frm, to))
            b.screenshot(os.path.join(ART, "explorer-histogram.png"))
            # a metric query draws one series per label set, with a legend
            b.goto(page_url(s, 'sum by (app) (count_over_time({app=~".+"}[5m]))', since="1h"))
            b.wait_js("!document.getElementById('chart').hidden && document.querySelectorAll('#chart-legend li').length === 2",
                      "chart legend")
            legend = b.js("[...document.querySelectorAll('#chart-legend li')].map(e => e.textContent).sort()")
            check(legend == ['{app="api"}', '{app="web"}'], "legend %r" % legend)
            check(b.js("document.querySelectorAll('#chart-svg polyline.series, #chart-svg circle.pt').length") >= 2,
                  "series drawn")
            check(b.js("document.querySelectorAll('#results li').length") == 0, "no rows for a metric query")
            b.screenshot(os.path.join(ART, "explorer-metric.png"))
        s.stop()


def test_live_tail():
    with Env() as env:
        s = Store(env, "").start()
        with cdp.Browser(env) as b:
            b.goto(page_url(s, '{app="tail"}', since="5m"))
            b.js("document.getElementById('tail').click()")
            b.wait_js("document.getElementById('status').textContent.startsWith('Following')", "tail open")

            def push(lines):
                t = now_ns()
                st, body = s.push_json([({"app": "tail"}, [[str(t + i), l] for i, l in enumerate(lines)])])
                check(st == 204, "push %d %s" % (st, body))

            push(["first %d" % i for i in range(3)])
            b.wait_js("document.querySelectorAll('#results li').length === 3", "tailed lines")
            check(rows(b) == ["first 2", "first 1", "first 0"], "newest on top %r" % rows(b))
            b.wait_js("/lines\\/s/.test(document.getElementById('tail-rate').textContent)", "rate shown")
            # pause keeps arriving lines aside; resume shows them
            b.js("document.getElementById('pause').click()")
            push(["second %d" % i for i in range(4)])
            b.wait_js("/4 waiting/.test(document.getElementById('tail-rate').textContent)", "4 lines held while paused")
            check(len(rows(b)) == 3, "paused view unchanged")
            b.js("document.getElementById('pause').click()")
            b.wait_js("document.querySelectorAll('#results li').length === 7", "held lines shown")
            check(rows(b)[0] == "second 3", "held lines on top %r" % rows(b)[:2])
            b.screenshot(os.path.join(ART, "explorer-tail.png"))
            b.js("document.getElementById('tail').click()")
            check(b.js("document.getElementById('tail').getAttribute('aria-pressed')") == "false", "stopped")
        s.stop()


def test_tenant():
    with Env() as env:
        s = Store(env, "auth_enabled: true\n").start()
        t = now_ns() - 60 * 10**9
        st, body = s.push_json([({"app": "t"}, [[str(t), "tenant line"]])], tenant="team-a")
        check(st == 204, "push %d %s" % (st, body))
        with cdp.Browser(env) as b:
            b.goto(page_url(s, '{app="t"}', since="1h"))
            # without a tenant the store refuses, and the page says why
            b.wait_js("!document.getElementById('error').hidden", "error without tenant")
            msg = b.js("document.getElementById('error').textContent")
            check("no org id" in msg, "error text %r" % msg)
            b.js("""(() => { const t = document.getElementById('tenant'); t.value = 'team-a';
                    t.dispatchEvent(new Event('change')); document.getElementById('run').click(); })()""")
            b.wait_js("document.querySelectorAll('#results li').length === 1", "tenant's line")
            check(rows(b) == ["tenant line"], "rows %r" % rows(b))
            b.wait_js("document.querySelectorAll('#label-names button').length === 1", "tenant's labels")
            check(b.js("localStorage.getItem('logferry.explorer.tenant')") == "team-a", "tenant kept")
            # the live tail follows the same tenant (the page names it in the
            # websocket URL), and only that tenant's lines
            b.js("document.getElementById('tail').click()")
            b.wait_js("document.getElementById('status').textContent.startsWith('Following')", "tail open")
            t2 = now_ns()
            st, body = s.push_json([({"app": "t"}, [[str(t2), "other tenant line"]])], tenant="team-b")
            check(st == 204, "push team-b %d %s" % (st, body))
            st, body = s.push_json([({"app": "t"}, [[str(t2 + 1), "tailed tenant line"]])], tenant="team-a")
            check(st == 204, "push team-a %d %s" % (st, body))
            b.wait_js("Array.from(document.querySelectorAll('#results li')).some(li => "
                      "li.textContent.includes('tailed tenant line'))", "tenant's tailed line")
            check(not any("other tenant" in r for r in rows(b)), "rows %r" % rows(b))
            b.js("document.getElementById('tail').click()")
        s.stop()


if __name__ == "__main__":
    from lfe2e import main
    if not cdp.available():
        print("SKIP: chromium is not installed (scripts/deps.sh installs it)")
        raise SystemExit(77)
    main([test_files_and_headers, test_log_view, test_label_browser_and_errors,
          test_histogram_and_chart, test_live_tail, test_tenant])
