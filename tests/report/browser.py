"""Headless Chromium driven through the DevTools protocol over a pipe (no extra library).

``--remote-debugging-pipe`` makes Chromium read JSON commands, each ended by a NUL byte, on its
file descriptor 3 and answer on descriptor 4. :class:`Browser` opens a page, evaluates
JavaScript in it, takes screenshots, and keeps every console message, uncaught exception and
log entry, so that a test can assert there was none.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""A headless Chromium that stays off the network on its own (no updates, sync, QUIC)."""
FLAGS = (*HEADLESS_FLAGS, "--remote-debugging-pipe")


def _high(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class Browser:
    """One headless Chromium with one page; ``console`` collects what the page reported."""

    def __init__(self, profile: Path, width: int = 1400, height: int = 1000) -> None:
        assert CHROMIUM is not None
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # away from 3 and 4, so that the shell's redirections cannot overwrite one with the other
        to_browser_r, from_browser_w = (_high(fd) for fd in (to_browser_r, from_browser_w))
        args = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"]
        # chromium expects the pipe on descriptors 3 and 4: the shell puts it there, then execs
        redirect = f'exec "$@" about:blank 3<&{to_browser_r} 4>&{from_browser_w}'
        log = (profile.parent / f"{profile.name}.log").open("wb")  # chromium's own messages
        self._process = subprocess.Popen(
            [shutil.which("bash") or "/bin/bash", "-c", redirect, "chromium", *args],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        log.close()
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.console: list[dict[str, Any]] = []
        self.requests: list[str] = []
        target = self.call("Target.createTarget", url="about:blank", newWindow=False)
        attached = self.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)
        self._session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):  # Network: to see any request
            self.call(f"{domain}.enable", session=True)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self.call("Browser.close")
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)

    def call(self, method: str, *, session: bool = False, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer; events seen meanwhile are recorded."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self._record(reply)

    def open(self, url: str, ready: str = "document.body && document.body.dataset.ready") -> None:
        """Navigate and wait until ``ready`` is true in the page."""
        self.call("Page.navigate", session=True, url=url)
        self.wait_for(f"!!({ready})")

    def wait_for(self, expression: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(f"(() => {{ try {{ return {expression}; }} catch (e) {{ }} }})()")
            if value:
                return value
            time.sleep(0.05)
        raise TimeoutError(f"page never satisfied {expression}")

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate",
            session=True,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def errors(self) -> list[dict[str, Any]]:
        """Console messages of level warning or error, uncaught exceptions, error log entries."""
        return [m for m in self.console if m["level"] in ("error", "warning")]

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def _record(self, event: dict[str, Any]) -> None:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            self.console.append({"level": params["type"], "text": text})
        elif method == "Runtime.exceptionThrown":
            self.console.append({"level": "error", "text": str(params["exceptionDetails"])})
        elif method == "Log.entryAdded":
            entry = params["entry"]
            self.console.append({"level": entry["level"], "text": entry.get("text", "")})
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            self.requests.append(url if len(url) < 200 else url[:200] + "...")
