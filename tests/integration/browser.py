"""Headless Chromium driven over the DevTools protocol (python3-websocket), for
the dashboard's tests and bench/ui-render: start a browser, open a page, run
JavaScript in it, wait for a condition, type, click, take screenshots."""

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket


def chromium_path():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


class BrowserError(RuntimeError):
    pass


class Browser:
    """One headless Chromium with one page."""

    def __init__(self, width=1280, height=900):
        exe = chromium_path()
        if not exe:
            raise BrowserError("no chromium: install Debian's chromium (scripts/install-deps)")
        self.profile = tempfile.mkdtemp(prefix="rolloutd-chromium-")
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--remote-debugging-port=0",
             "--user-data-dir=" + self.profile, "--window-size=%d,%d" % (width, height), "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 30
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.time() > deadline or self.proc.poll() is not None:
                self.close()
                raise BrowserError("chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(open(port_file).read().split()[0])
        pages = []
        while not pages:
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if not pages:
                time.sleep(0.05)
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self.ids = itertools.count(1)
        self.events = []
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=width < 700)

    def send(self, method, **params):
        i = next(self.ids)
        self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == i:
                if "error" in m:
                    raise BrowserError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def close(self):
        try:
            if getattr(self, "ws", None):
                self.ws.close()
        except Exception:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def goto(self, url):
        self.send("Page.navigate", url=url)
        self.wait("document.readyState === 'complete'")

    def js(self, expr):
        """The value of expr (awaited when it is a promise), as JSON."""
        r = self.send("Runtime.evaluate", expression=expr, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise BrowserError("%s: %s" % (expr, r["exceptionDetails"].get("exception", {}).get(
                "description", r["exceptionDetails"].get("text"))))
        return r.get("result", {}).get("value")

    def wait(self, expr, timeout=30.0, what=None):
        """Until expr is truthy in the page."""
        deadline = time.time() + timeout
        while True:
            try:
                v = self.js("!!(%s)" % expr)
            except BrowserError:
                v = None
            if v:
                return v
            if time.time() > deadline:
                raise BrowserError("timed out waiting for %s; page errors: %s; page text: %s" % (
                    what or expr, self.errors(), (self.text("main") or "")[:2000]))
            time.sleep(0.1)

    def errors(self):
        """Uncaught exceptions in the page so far."""
        return [e["params"]["exceptionDetails"].get("exception", {}).get("description", "")
                for e in self.events if e.get("method") == "Runtime.exceptionThrown"]

    def text(self, selector="body"):
        return self.js("(document.querySelector(%s) || {}).innerText || ''" % json.dumps(selector))

    def exists(self, selector):
        return self.js("!!document.querySelector(%s)" % json.dumps(selector))

    def fill(self, selector, value):
        self.js("(() => { const e = document.querySelector(%s); e.focus(); e.value = %s; "
                "e.dispatchEvent(new Event('input', {bubbles: true})); })()" % (json.dumps(selector), json.dumps(value)))

    def click(self, selector):
        self.js("document.querySelector(%s).click()" % json.dumps(selector))

    def key(self, key, code=None, vk=0, text=None):
        """A key pressed and released in the focused element (Enter: key("Enter", vk=13, text="\\r"))."""
        down = dict(type="keyDown", key=key, code=code or key, windowsVirtualKeyCode=vk)
        if text:
            down["text"] = text
        self.send("Input.dispatchKeyEvent", **down)
        self.send("Input.dispatchKeyEvent", type="keyUp", key=key, code=code or key, windowsVirtualKeyCode=vk)

    def screenshot(self, path):
        r = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))
        return path
