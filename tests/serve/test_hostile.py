"""The interpreter's attack cells, sent through HTTP: each hostile cell ends (at most) its own
session, while the server, its process and the other sessions go on."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest

from tests.interpreter import DEAF
from tests.serve.conftest import Server

KILL_EVERYONE = (
    "import os, signal\n"
    "for name in os.listdir('/proc'):\n"
    "    if name.isdigit() and int(name) != os.getpid():\n"
    "        try:\n"
    "            os.kill(int(name), signal.SIGKILL)\n"
    "        except OSError:\n"
    "            pass\n"
    "'done'"
)
FORK_BOMB = (
    "import os\nstarted = 0\nfor i in range(300):\n    try:\n        os.fork()\n"
    "    except OSError as exc:\n        print('stopped', type(exc).__name__)\n        break\n"
)
CATCH_THE_TIMEOUT = (
    "while True:\n    try:\n        while True:\n            pass\n"
    "    except BaseException:\n        pass"
)

# code, the status the cell must end with, a piece of its output or detail
ATTACKS = [
    ("import ctypes\nctypes.string_at(0)", "killed", "segmentation fault"),
    ("import os\nos._exit(3)", "killed", "exited with status 3"),
    # a few CPU seconds past the limit, many more of wall-clock on a busy machine
    pytest.param(DEAF + "while True:\n    pass", "killed", "time limit", marks=pytest.mark.slow),
    pytest.param(CATCH_THE_TIMEOUT, "killed", "time limit", marks=pytest.mark.slow),
    ("def down(n):\n    return down(n + 1)\ndown(0)", "error", "RecursionError"),
    ("x = bytearray(8 * 1024**3)", "memory", "MemoryError"),
    (FORK_BOMB, "ok", "stopped PermissionError"),
    ("import subprocess\nsubprocess.run(['id'])", "error", "PermissionError"),
    # the session is PID 1 of its own namespace: it has no parent it could name
    (
        "import os, signal\nparent = os.getppid()\nos.kill(parent, signal.SIGKILL)\nprint(parent)",
        "ok",
        "0\n",
    ),
    (KILL_EVERYONE, "ok", "'done'"),
    ("print('x' * 50_000_000)", "ok", "characters omitted"),
]


@pytest.fixture(scope="module")
def bystander(server: Server) -> str:
    sid = server.create()
    server.cell(sid, "kept = 'still here'")
    return sid


@pytest.mark.parametrize(("code", "status", "evidence"), ATTACKS)
def test_a_hostile_cell_ends_only_its_own_session(
    server: Server, bystander: str, code: str, status: str, evidence: str
) -> None:
    sid = server.create(limits={"grace_s": 1})  # a session may ask for less than the server's
    server.cell(sid, "mine = 1")
    result = server.cell(sid, code, timeout_s=1)
    assert result["status"] == status, result
    assert evidence in f"{result['output']} {result['detail']}"
    state = server.client.get(f"/v1/sessions/{sid}").json()
    assert state["alive"] is (status != "killed")
    after = server.cell(sid, "'next'")
    assert after["status"] == "ok" and str(after["output"]).endswith("'next'\n")
    assert after["restarted"] is (status == "killed")
    # the server, its process and the other sessions go on
    assert server.process.poll() is None
    assert server.client.get("/health").json()["status"] == "ok"
    assert server.cell(bystander, "kept")["output"] == "'still here'\n"


def test_a_cell_cannot_reach_the_server_it_runs_in(server: Server) -> None:
    port = urlsplit(server.url).port
    sid = server.create()
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"
    result = server.cell(sid, code)
    assert result["status"] == "error"
    assert "PermissionError" in str(result["output"]) or "refused" in str(result["output"])


def test_a_cell_sees_neither_the_token_nor_the_servers_environment(server: Server) -> None:
    sid = server.create()
    result = server.cell(sid, "import os\nsorted(os.environ)")
    assert server.token is not None and server.token not in str(result["output"])
    assert "VERIMATH" not in str(result["output"])
    assert os.environ.get("PATH", "") not in ("", str(result["output"]))
