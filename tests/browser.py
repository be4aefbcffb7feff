"""Headless Chromium for browser tests: open a local page offline, collect errors, take a screenshot.

Uses Debian's ``chromium`` and talks the Chrome DevTools Protocol over ``--remote-debugging-pipe``
(file descriptors 3 and 4, messages separated by NUL bytes), so it needs no Python package and
opens no port. Through the protocol it records every console error, uncaught exception and
browser log error, and every URL the page requests — a stronger check than parsing
``--enable-logging`` output, which misses requests. The network is off twice over: host names
resolve to nothing (``--host-resolver-rules``) and every connection goes to a proxy on a closed
loopback port.

When chromium is missing, :func:`require_chromium` fails the test with a clear message, unless
``WORKBOOK_SKIP_BROWSER=1`` is set (then it skips). ``make test`` installs chromium.
"""
from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
)


def find_chromium() -> str | None:
    """The chromium executable, or None."""
    for candidate in CANDIDATES:
        path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if path and os.access(path, os.X_OK):
            return path
    return None


def require_chromium() -> str:
    """The chromium executable; fails the calling test when it is missing (skips with WORKBOOK_SKIP_BROWSER=1)."""
    import pytest

    path = find_chromium()
    if path:
        return path
    if os.environ.get("WORKBOOK_SKIP_BROWSER") == "1":
        pytest.skip("chromium not installed and WORKBOOK_SKIP_BROWSER=1")
    pytest.fail("browser test needs Debian's chromium (/usr/bin/chromium): run `apt-get install -y chromium` "
                "(make test does) or set WORKBOOK_SKIP_BROWSER=1 to skip it", pytrace=False)


@dataclass
class PageReport:
    """What a page did when opened: errors, requests, the screenshot written."""

    url: str
    title: str = ""
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    height: int = 0
    headings: list[str] = field(default_factory=list)   # text of every h1 and h2, in order
    text_length: int = 0                                  # characters of visible text in <body>
    images: int = 0                                       # <img> elements on the page
    images_loaded: int = 0                                # ... of which decoded with a non-zero size
    values: dict = field(default_factory=dict)            # results of the ``evaluate`` expressions

    @property
    def remote_requests(self) -> list[str]:
        """Requests for anything but the page's own file and inline data."""
        return [u for u in self.requests if not u.startswith(("file:", "data:", "about:"))]


class _Pipe:
    """A DevTools Protocol connection over chromium's debugging pipe."""

    def __init__(self, read_fd: int, write_fd: int):
        self._write_fd = write_fd
        self._reader = os.fdopen(read_fd, "rb", buffering=0)
        self._messages: queue.Queue = queue.Queue()
        self._next_id = 0
        self.events: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = self._reader.read(65536)
            if not chunk:
                self._messages.put(None)
                return
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                self._messages.put(json.loads(raw))

    def send(self, method: str, params: dict | None = None, *, session: str | None = None,
             timeout: float = 30) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write_fd, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._get(deadline, method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, *, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._get(deadline, method)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                event = self._messages.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return
            if event is None:
                return
            self.events.append(event)

    def _get(self, deadline: float, waiting_for: str) -> dict:
        try:
            message = self._messages.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"chromium did not answer {waiting_for} in time") from None
        if message is None:
            raise RuntimeError(f"chromium closed the pipe while waiting for {waiting_for}")
        return message


def open_page(path: str | os.PathLike, screenshot: str | os.PathLike, *, width: int = 1280,
              height: int = 2000, settle: float = 1.0, timeout: float = 60, script: str | None = None,
              evaluate: dict[str, str] | None = None) -> PageReport:
    """Open ``path`` in headless chromium with no network; return what happened and save a screenshot.

    After the page loads, ``script`` (JavaScript, e.g. typing into a search box) runs and the page
    settles again; then each expression of ``evaluate`` is evaluated and its value kept under its
    key in ``PageReport.values``. The screenshot covers the whole page (up to 16,000 px high) at
    ``width`` CSS pixels.
    """
    chromium = find_chromium()
    if chromium is None:
        raise FileNotFoundError("chromium is not installed")
    url = Path(path).resolve().as_uri()
    cmd_read, cmd_write = os.pipe()
    res_read, res_write = os.pipe()
    with tempfile.TemporaryDirectory(prefix="wb-chromium-") as profile:
        args = [chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                "--remote-debugging-pipe", "about:blank"]
        # chromium reads commands on fd 3 and writes replies on fd 4.
        wrapper = ["/bin/bash", "-c", f'exec "$@" 3<&{cmd_read} 4>&{res_write}', "chromium", *args]
        process = subprocess.Popen(wrapper, pass_fds=(cmd_read, res_write), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(cmd_read)
        os.close(res_write)
        pipe = _Pipe(res_read, cmd_write)
        try:
            report = _visit(pipe, url, screenshot, width, height, settle, timeout, script, evaluate or {})
            try:
                pipe.send("Browser.close", timeout=10)
            except (RuntimeError, TimeoutError):
                pass
        finally:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            os.close(cmd_write)
            if process.stderr is not None:
                process.stderr.close()
    return report


_PAGE_FACTS = """JSON.stringify({
  headings: Array.from(document.querySelectorAll('h1, h2')).map(h => h.textContent.replace(/\\u00b6/g, '').trim()),
  text_length: (document.body ? document.body.innerText : '').trim().length,
  images: document.images.length,
  images_loaded: Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length,
})"""


def _visit(pipe: _Pipe, url: str, screenshot, width: int, height: int, settle: float, timeout: float,
           script: str | None = None, evaluate: dict[str, str] | None = None) -> PageReport:
    target = pipe.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
    session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        pipe.send(f"{domain}.enable", session=session)
    pipe.send("Emulation.setDeviceMetricsOverride",
              {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=session)
    pipe.events.clear()
    pipe.send("Page.navigate", {"url": url}, session=session, timeout=timeout)
    pipe.wait_event("Page.loadEventFired", timeout=timeout)
    pipe.drain(settle)
    report = PageReport(url=url)

    def run(expression: str):
        reply = pipe.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                               "awaitPromise": True}, session=session, timeout=timeout)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"script failed in the page: {reply['exceptionDetails'].get('text')} "
                               f"{reply['exceptionDetails'].get('exception', {}).get('description', '')}")
        return reply["result"].get("value")

    if script:
        run(script)
        pipe.drain(settle)
    report.title = run("document.title") or ""
    facts = json.loads(run(_PAGE_FACTS))
    report.headings, report.text_length = facts["headings"], facts["text_length"]
    report.images, report.images_loaded = facts["images"], facts["images_loaded"]
    report.values = {key: run(expression) for key, expression in (evaluate or {}).items()}
    metrics = pipe.send("Page.getLayoutMetrics", session=session)
    report.height = int(metrics.get("cssContentSize", metrics.get("contentSize", {})).get("height", height))
    shot = pipe.send("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": max(1, min(report.height, 16000)), "scale": 1},
    }, session=session, timeout=timeout)
    report.screenshot = Path(screenshot)
    report.screenshot.write_bytes(base64.b64decode(shot["data"]))
    pipe.drain(0.1)
    for event in pipe.events:
        _collect(event, report)
    return report


def _collect(event: dict, report: PageReport) -> None:
    method, params = event.get("method"), event.get("params", {})
    if method == "Network.requestWillBeSent":
        url = params["request"]["url"]
        report.requests.append(url if len(url) <= 200 else url[:200] + "...")
    elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
        report.console_errors.append(f"console.{params['type']}: {text}")
    elif method == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails", {})
        description = details.get("exception", {}).get("description", "")
        report.console_errors.append(f"uncaught: {details.get('text', '')} {description}".strip())
    elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
        entry = params["entry"]
        report.console_errors.append(f"log: {entry.get('text', '')} {entry.get('url', '')}".strip())
