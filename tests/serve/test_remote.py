"""``RemoteInterpreter`` against a real server: the executor protocol of the local interpreter,
identical results on the shipped transcripts' replay, clear statuses when a session is lost."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.cli.cli_helpers import error_line, run_cli
from tests.serve.conftest import LIMITS, Server, start_server
from tests.shared import TRANSCRIPTS
from verimath.errors import ConfigError, SandboxUnavailableError
from verimath.interpreter import CellStatus, Executor, Interpreter, Limits, RemoteInterpreter

REPLAY = f"replay:{TRANSCRIPTS / 'mathcoder' / 'MathCoder-CL-34b' / 'GSM8K'}"
CELLS = (
    "SELECT problem_id, sample_index, cell_index, code, output, status FROM cells ORDER BY 1, 2, 3"
)
SAMPLES = (
    "SELECT problem_id, sample_index, answer, state, grade, code_executions FROM samples "
    "ORDER BY 1, 2"
)


def test_it_is_an_executor_with_notebook_sessions(server: Server) -> None:
    remote: Executor = RemoteInterpreter(server.url, token=server.token)
    with remote.start(), remote.session() as session:
        assert session.run("x = 20").ok
        assert session.run("x * 2 + 2").output == "42\n"
        crashed = session.run("import os\nos._exit(0)")
        assert crashed.status is CellStatus.KILLED and "status 0" in (crashed.detail or "")
        after = session.run("'fresh'")
        assert after.restarted and "variables from earlier cells are gone" in after.output
        assert session.cell_count == 4
    remote.close()


def test_arun_on_the_event_loop(server: Server) -> None:
    async def notebook() -> list[str]:
        async with RemoteInterpreter(server.url, token=server.token) as remote:
            with remote.session() as first, remote.session() as second:
                await asyncio.gather(first.arun("a = 1"), second.arun("a = 2"))
                results = await asyncio.gather(first.arun("a"), second.arun("a"))
        return [r.output for r in results]

    assert asyncio.run(notebook()) == ["1\n", "2\n"]


def test_a_session_the_server_lost_restarts_and_says_so(server: Server) -> None:
    with RemoteInterpreter(server.url, token=server.token) as remote, remote.session() as session:
        session.run("kept = 1")
        assert session.session_id is not None
        server.client.delete(f"/v1/sessions/{session.session_id}")  # as the TTL would
        result = session.run("kept")
        assert result.restarted and result.cell_index == 2
        assert result.status is CellStatus.ERROR and "NameError" in result.output
        assert result.output.startswith("[new session:")


def test_wrong_token_and_too_large_limits_are_one_line_config_errors(server: Server) -> None:
    with pytest.raises(ConfigError, match="refused the token"):
        RemoteInterpreter(server.url, token="not-the-token-at-all").start()
    with pytest.raises(ConfigError, match="memory_mb 4096 > 1024"):
        RemoteInterpreter(server.url, token=server.token, limits=Limits(memory_mb=4096)).start()


def test_an_unreachable_host_is_sandbox_unavailable() -> None:
    with pytest.raises(SandboxUnavailableError, match="cannot be reached"):
        RemoteInterpreter("http://127.0.0.1:9").start()


def test_eval_with_a_wrong_token_says_so_in_one_line(server: Server, tmp_path: Path) -> None:
    result = run_cli(
        "eval", "gsm8k", "--model", REPLAY, "--limit", "1", "--run", str(tmp_path / "r.sqlite"),
        "--sandbox", server.url, "--sandbox-token", "not-the-token-at-all",
    )  # fmt: skip
    assert "refused the token" in error_line(result)


@pytest.mark.slow
def test_a_host_lost_mid_cell_kills_the_cell_with_the_reason() -> None:
    doomed = start_server(*LIMITS)
    remote = RemoteInterpreter(doomed.url, token=doomed.token).start()
    session = remote.session()
    session.run("x = 1")
    outcome: list[object] = []
    cell = threading.Thread(
        target=lambda: outcome.append(session.run("import time; time.sleep(30)"))
    )
    cell.start()
    while not doomed.client.get(f"/v1/sessions/{session.session_id}").json()["busy"]:
        time.sleep(0.01)
    doomed.stop(signal.SIGKILL)
    cell.join()
    (result,) = outcome
    assert result.status is CellStatus.KILLED  # type: ignore[attr-defined]
    assert "sandbox host was lost" in (result.detail or "")  # type: ignore[attr-defined]
    with pytest.raises(SandboxUnavailableError, match="cannot be reached"):
        session.run("x")
    remote.close()


@pytest.mark.slow
def test_replay_through_a_remote_sandbox_is_identical_to_local(
    server: Server, tmp_path: Path
) -> None:
    runs = {}
    for where, extra in [
        ("local", []),
        ("remote", ["--sandbox", server.url, "--sandbox-token", str(server.token)]),
    ]:
        runs[where] = tmp_path / f"{where}.sqlite"
        result = run_cli(
            "eval", "gsm8k", "--model", REPLAY, "--limit", "12", "-k", "2", "--json",
            "--run", str(runs[where]), *LIMITS, *extra,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    local, remote = (sqlite3.connect(runs[w]) for w in ("local", "remote"))
    cells = local.execute(CELLS).fetchall()
    assert len(cells) > 20
    assert remote.execute(CELLS).fetchall() == cells
    assert remote.execute(SAMPLES).fetchall() == local.execute(SAMPLES).fetchall()
    assert str(server.token).encode() not in runs["remote"].read_bytes(), "the token is secret"


SOLVE_PROBLEM = "What is the sum of the squares of the first ten positive integers?"
SOLVE_TURNS = [
    "```python\ns = sum(i * i for i in range(1, 11))\nprint(s)\n```",
    "Let me verify.\n```python\nprint(s == 10 * 11 * 21 // 6)\n```",
    "The verification confirms it: \\boxed{385}.",
]


def test_solve_runs_its_cells_on_the_sandbox_host(server: Server, tmp_path: Path) -> None:
    replay = tmp_path / "samples.jsonl"
    replay.write_text(json.dumps({"problem": SOLVE_PROBLEM, "turns": SOLVE_TURNS}) + "\n")
    before = _cells_run(server)
    result = run_cli(
        "solve", SOLVE_PROBLEM, "--model", f"replay:{replay}", "--samples", "1", "--json",
        *LIMITS, "--sandbox", server.url, "--sandbox-token", str(server.token),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    solution = json.loads(result.stdout)
    assert solution["answer"] == "385" and solution["samples"][0]["verification"] == "True"
    assert _cells_run(server) - before == 2  # both cells ran there, state kept between them


def _cells_run(server: Server) -> float:
    lines = server.client.get("/metrics").text.splitlines()
    return sum(float(line.split()[-1]) for line in lines if line.startswith("verimath_cells_total"))


DRAWS = (
    "import random, numpy, sympy\n"
    "(random.random(), float(numpy.random.rand()), int(sympy.randprime(1, 10**9)))"
)


def test_a_seed_gives_the_remote_session_the_local_sessions_numbers(server: Server) -> None:
    with RemoteInterpreter(server.url, token=server.token) as remote:
        with remote.session(seed=11) as first, remote.session(seed=11) as second:
            drawn = [first.run(DRAWS).output, second.run(DRAWS).output]
        with remote.session(seed=12) as other:
            different = other.run(DRAWS).output
    with (
        Interpreter(Limits(timeout_s=3, memory_mb=1024)) as local,
        local.session(seed=11) as session,
    ):
        expected = session.run(DRAWS).output
    assert drawn == [expected, expected]
    assert different != expected


@pytest.mark.parametrize("seed", [-1, 2**63, 1.5, True, "7"])
def test_a_seed_out_of_range_is_refused(server: Server, seed: object) -> None:
    reply = server.client.post("/v1/sessions", json={"seed": seed})
    assert reply.status_code == 400
    assert reply.json()["error"] == "bad_request" and "seed must be" in reply.json()["message"]
