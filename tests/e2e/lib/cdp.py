"""cdp — drive Debian's headless Chromium over the DevTools protocol from a
test, with the Python standard library only.

Chromium is started with --remote-debugging-pipe: commands go in on its fd 3
and answers come out on its fd 4, as NUL-terminated JSON messages, so no
websocket client is needed. One page (a flattened target session) per
Browser.

    with Browser(env) as b:
        b.goto("http://127.0.0.1:3100/")
        b.wait(env, "document.querySelectorAll('li').length > 3")
        b.screenshot("/tmp/page.png")
"""
import base64
import fcntl
import json
import os
import shutil
import subprocess
import threading
import time

CHROMIUM = os.environ.get("LF_CHROMIUM", "/usr/bin/chromium")


def available():
    return os.access(CHROMIUM, os.X_OK) or shutil.which("chromium") is not None


class CDPError(Exception):
    pass


class Browser:
    def __init__(self, env, width=1280, height=900, name="chromium"):
        self.env = env
        self.width, self.height = width, height
        self.name = name
        self.proc = None
        self._next = 0
        self._answers = {}
        self._events = []
        self._cv = threading.Condition()
        self._closed = False
        self.session = None

    # ---- process and transport ----
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def start(self):
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # Move the child's ends above 10 so dup2 onto 3 and 4 cannot clobber them.
        cr = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
        cw = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
        os.close(to_chrome_r)
        os.close(from_chrome_w)

        def child():
            os.dup2(cr, 3)
            os.dup2(cw, 4)

        profile = self.env.path(self.name + "-profile")
        os.makedirs(profile, exist_ok=True)
        argv = [CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium"),
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--remote-debugging-pipe",
                "--user-data-dir=" + profile, "about:blank"]
        err = open(self.env.path(self.name + ".stderr"), "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                     preexec_fn=child, pass_fds=(3, 4))
        os.close(cr)
        os.close(cw)
        self._w = to_chrome_w
        self._r = from_chrome_r
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()
        tid = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": tid, "flatten": True})["sessionId"]
        self.page("Page.enable")
        self.page("Runtime.enable")
        self.page("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1,
                   "mobile": False})

    def close(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.call("Browser.close", timeout=10)
            except Exception:  # noqa: BLE001 - already gone
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._closed = True
        for fd in (getattr(self, "_w", None),):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _read_loop(self):
        buf = b""
        while True:
            try:
                data = os.read(self._r, 1 << 16)
            except OSError:
                data = b""
            if not data:
                with self._cv:
                    self._closed = True
                    self._cv.notify_all()
                return
            buf += data
            while b"\0" in buf:
                msg, buf = buf.split(b"\0", 1)
                try:
                    m = json.loads(msg)
                except ValueError:
                    continue
                with self._cv:
                    if "id" in m:
                        self._answers[m["id"]] = m
                    else:
                        self._events.append(m)
                    self._cv.notify_all()

    def call(self, method, params=None, session=None, timeout=60):
        with self._cv:
            self._next += 1
            mid = self._next
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            n = os.write(self._w, data)
            data = data[n:]
        deadline = time.monotonic() + timeout
        with self._cv:
            while mid not in self._answers:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    raise CDPError("%s: no answer (browser %s)" % (
                        method, "closed" if self._closed else "timed out"))
                self._cv.wait(left)
            m = self._answers.pop(mid)
        if "error" in m:
            raise CDPError("%s: %s" % (method, m["error"]))
        return m.get("result", {})

    def page(self, method, params=None, timeout=60):
        return self.call(method, params, session=self.session, timeout=timeout)

    # ---- page helpers ----
    def goto(self, url):
        self.page("Page.navigate", {"url": url})
        self.wait_js("document.readyState === 'complete'", what="page load of " + url)

    def js(self, expr):
        """Evaluates expr in the page (promises awaited) and returns its value."""
        r = self.page("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise CDPError("JS error in %r: %s" % (expr[:200], json.dumps(r["exceptionDetails"])[:800]))
        return r.get("result", {}).get("value")

    def wait_js(self, expr, what=None, timeout=None):
        kw = {} if timeout is None else {"timeout": timeout}
        return self.env.wait_until(lambda: self.js(expr), what=what or expr, interval=0.1, **kw)

    def events(self, method):
        with self._cv:
            return [e for e in self._events if e.get("method") == method]

    def screenshot(self, path):
        r = self.page("Page.captureScreenshot", {"format": "png"})
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
        return path

    def dark(self, on=True):
        self.page("Emulation.setEmulatedMedia", {"features": [
            {"name": "prefers-color-scheme", "value": "dark" if on else "light"}]})

    def mouse(self, kind, x, y, buttons=1):
        self.page("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left",
                                               "buttons": buttons, "clickCount": 1})

    def drag(self, x0, y, x1, steps=8):
        self.mouse("mouseMoved", x0, y, 0)
        self.mouse("mousePressed", x0, y)
        for i in range(1, steps + 1):
            self.mouse("mouseMoved", x0 + (x1 - x0) * i / steps, y)
        self.mouse("mouseReleased", x1, y, 0)

    def key(self, key, code=None, text=None):
        p = {"type": "keyDown", "key": key, "code": code or key}
        if text:
            p["text"] = text
        self.page("Input.dispatchKeyEvent", p)
        self.page("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code or key})
