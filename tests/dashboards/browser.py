"""A small Chrome DevTools Protocol client for headless Chromium (test helper).

Every JavaScript exception, console error and failed-resource log of the page is
collected in :attr:`Browser.errors`, so a test can fail on any of them.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import websocket

from hms_otel import http


class Browser:
    def __init__(self, width: int = 1400, height: int = 1000) -> None:
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if binary is None:
            raise RuntimeError("chromium not found: apt-get install -y --no-install-recommends chromium")
        self._profile = tempfile.mkdtemp(prefix="hms-chromium-")
        # A file, not a pipe: chromium keeps logging and would block on a full pipe nobody reads.
        self.log_path = Path(self._profile) / "chromium.log"
        self._log = self.log_path.open("w")
        self._process = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--remote-debugging-port=0",
             f"--user-data-dir={self._profile}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=self._log,
        )
        self.errors: list[str] = []
        self._ids = itertools.count(1)
        try:
            port = self._devtools_port()
            deadline = time.monotonic() + 30
            while True:
                pages = [t for t in http.get_json(f"http://127.0.0.1:{port}/json/list") if t["type"] == "page"]
                if pages or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            self._socket = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30,
                                                       suppress_origin=True)
            for domain in ("Page", "Runtime", "Log"):
                self.call(f"{domain}.enable")
        except BaseException:
            self.close()
            raise

    def _devtools_port(self) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self._process.poll() is None:
            match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", self.log_path.read_text())
            if match:
                return int(match.group(1))
            time.sleep(0.05)
        raise RuntimeError(f"chromium did not open its DevTools port: {self.log_path.read_text()[-2000:]}")

    # -- protocol -------------------------------------------------------------------------------------
    def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            self.errors.append(f"exception: {text}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append("console.error: " + " ".join(str(a.get("value", a.get("description")))
                                                            for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            self.errors.append(f"log: {entry.get('text')} {entry.get('url', '')}")

    def pump(self, seconds: float = 0.0) -> None:
        """Read the events that arrived (waiting up to ``seconds``)."""
        deadline = time.monotonic() + seconds
        while True:
            self._socket.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                self._event(json.loads(self._socket.recv()))
            except websocket.WebSocketTimeoutException:
                break
            finally:
                self._socket.settimeout(30)
            if time.monotonic() > deadline:
                break

    # -- page -----------------------------------------------------------------------------------------
    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                state = self.evaluate("JSON.stringify(window.hmsDashboard || null)")
                raise AssertionError(f"page never satisfied {expression!r} within {timeout} s; "
                                     f"page state {state}; errors {self.errors}")
            self.pump(0.2)

    def hover(self, selector: str, x_fraction: float = 0.9, y_fraction: float = 0.5) -> None:
        """Move the mouse over the element ``selector`` (at the given fractions of its box)."""
        box = self.evaluate(f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                            ".getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })()")
        x, y = box[0] + box[2] * x_fraction, box[1] + box[3] * y_fraction
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)

    def screenshot(self, path: Path) -> Path:
        """The whole page (not only the window) as PNG."""
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        socket = getattr(self, "_socket", None)
        if socket is not None:
            socket.close()
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
