"""Real ``verimath serve`` processes on 127.0.0.1 for the service's tests."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

TOKEN = "test-token-0123456789abcdef"
START_TIMEOUT_S = 120.0
# short limits keep the hostile cells quick; the grace still tells a cell that ignores its
# soft limit from one that honours it
LIMITS = ("--timeout", "3", "--memory-mb", "1024")


@dataclass
class Server:
    """A running ``verimath serve`` and an HTTP client that carries its token."""

    url: str
    process: subprocess.Popen[bytes]
    log: str
    token: str | None = TOKEN
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=120)

    def create(self, **body: object) -> str:
        reply = self.client.post("/v1/sessions", json=body)
        assert reply.status_code == 201, reply.text
        session_id: str = reply.json()["session_id"]
        return session_id

    def cell(self, session_id: str, code: str, **extra: object) -> dict[str, object]:
        reply = self.client.post(f"/v1/sessions/{session_id}/cells", json={"code": code, **extra})
        assert reply.status_code == 200, reply.text
        result: dict[str, object] = reply.json()
        return result

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(*args: str, token: str | None = TOKEN) -> Server:
    """``python -m verimath serve --port 0 ARGS``; waits for the URL line it prints."""
    log = Path(tempfile.mkdtemp(prefix="verimath-serve-")) / "serve.log"
    env = dict(os.environ)
    env.pop("VERIMATH_SERVE_TOKEN", None)
    command = [sys.executable, "-m", "verimath", "serve", "--port", "0", *args]
    if token is not None:
        command += ["--token", token]
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace")
        found = re.search(r"on (http://\S+)", text)
        if found:
            server = Server(found.group(1), process, str(log), token)
            _wait_healthy(server)
            return server
        if process.poll() is not None:
            raise AssertionError(f"verimath serve exited with {process.returncode}: {text}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError("verimath serve did not print its URL")


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if server.client.get("/health").status_code == 200:
                return
        time.sleep(0.05)
    raise AssertionError("verimath serve did not answer /health")


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    running = start_server(*LIMITS)
    yield running
    running.stop()
