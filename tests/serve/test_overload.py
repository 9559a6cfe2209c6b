"""Back-pressure: past its live sessions or queued cells the server answers 429 with
Retry-After, never a 5xx; the client backs off and gets through once there is room."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tests.serve.conftest import LIMITS, Server, start_server
from verimath.interpreter import CellStatus, RemoteInterpreter


@pytest.fixture(scope="module")
def small() -> Iterator[Server]:
    running = start_server(*LIMITS, "--max-sessions", "2", "--cell-slots", "1", "--max-queued", "0")
    yield running
    running.stop()


class Opened:
    """Sessions a test opened on ``small``, closed at its end (the server holds only two)."""

    def __init__(self, server: Server) -> None:
        self.server, self.ids = server, list[str]()

    def new(self) -> str:
        self.ids.append(self.server.create())
        return self.ids[-1]

    def close_all(self) -> None:
        for sid in self.ids:
            self.server.client.delete(f"/v1/sessions/{sid}")
        self.ids.clear()


@pytest.fixture
def opened(small: Server) -> Iterator[Opened]:
    sessions = Opened(small)
    yield sessions
    sessions.close_all()


def test_sessions_past_the_bound_are_429_with_retry_after(small: Server, opened: Opened) -> None:
    opened.new(), opened.new()
    refused = small.client.post("/v1/sessions", json={})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert refused.json()["error"] == "overloaded"
    opened.close_all()
    opened.new()  # room again


def test_cells_past_the_queue_are_429_not_5xx(small: Server, opened: Opened) -> None:
    busy, other = opened.new(), opened.new()
    running = threading.Thread(target=small.cell, args=(busy, "import time; time.sleep(2)"))
    running.start()
    statuses = set()
    while running.is_alive():
        reply = small.client.post(f"/v1/sessions/{other}/cells", json={"code": "1"})
        statuses.add(reply.status_code)
        if reply.status_code == 429:
            assert reply.headers["Retry-After"] == "1"
            break
    running.join()
    assert 429 in statuses and not any(status >= 500 for status in statuses)
    assert small.cell(other, "'room again'")["output"] == "'room again'\n"
    metrics = small.client.get("/metrics").text
    assert 'verimath_rejections_total{kind="overloaded"}' in metrics


def test_the_client_backs_off_until_there_is_room(small: Server, opened: Opened) -> None:
    holders = [opened.new(), opened.new()]  # the server is full
    before = _rejections(small)

    def release_once_refused() -> None:
        while _rejections(small) == before:
            time.sleep(0.01)
        opened.close_all()

    release = threading.Thread(target=release_once_refused)
    with RemoteInterpreter(small.url, token=small.token) as remote, remote.session() as session:
        release.start()
        result = session.run("'got in'")
    release.join()
    assert result.status is CellStatus.OK and result.output == "'got in'\n"
    assert _rejections(small) > before, "the client never met a 429"
    assert all(small.client.get(f"/v1/sessions/{sid}").status_code == 404 for sid in holders)


def _rejections(server: Server) -> float:
    for line in server.client.get("/metrics").text.splitlines():
        if line.startswith('verimath_rejections_total{kind="overloaded"}'):
            return float(line.split()[-1])
    return 0.0
