"""One writer per run file, readers alongside it, and an eval with nothing to do."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.cli_helpers import error_line, rows, run_cli, write_problems
from tests.cli.test_eval import MATHCODER_GSM8K
from tests.models.chat_fault_server import FaultyChatServer

WAIT_S = 120


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _stored(run: Path) -> int:
    try:
        return int(rows(run, "SELECT COUNT(*) FROM samples")[0][0])  # type: ignore[arg-type]
    except sqlite3.Error:  # not created yet
        return 0


def test_a_second_writer_is_refused_at_once_and_readers_keep_working(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "problems.jsonl", 8)
    run = tmp_path / "run.sqlite"
    # 3 s per call, one call at a time: the first run outlasts the checks, then speeds up
    with FaultyChatServer(delay_s=3.0) as server:
        args = [
            "eval", str(data), "--model", f"openai:tiny@{server.base_url}", "--run", str(run),
            "-k", "2", "--concurrency", "1",
        ]  # fmt: skip
        first = subprocess.Popen(
            [sys.executable, "-m", "verimath", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            _wait_for(lambda: _stored(run) >= 1, "the first run's samples")
            second = run_cli(*args)
            line = error_line(second)
            report = run_cli("report", str(run), "--format", "json", "--no-plots")
            view = run_cli("view", str(run), "--out", str(tmp_path / "page.html"))
            still_running = first.poll() is None
            server.delay_s = 0.0
        finally:
            if first.poll() is None and not still_running:
                os.killpg(first.pid, signal.SIGKILL)
            _, first_err = first.communicate(timeout=WAIT_S)
        requests = len(server.seen)
    assert f"process {first.pid} on {socket.gethostname()}" in line and "since" in line
    assert "--run" in line
    assert still_running, "the first run must outlive the refused one"
    assert requests == 16  # the refused run asked the model nothing
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)
    assert view.returncode == 0, view.stderr
    assert first.returncode == 0, first_err
    assert _stored(run) == 16
    assert not Path(f"{run}.lock").exists()


def test_the_lock_dies_with_its_holder(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "problems.jsonl", 40)
    run = tmp_path / "run.sqlite"
    with FaultyChatServer(delay_s=0.2) as server:
        args = [
            "eval", str(data), "--model", f"openai:tiny@{server.base_url}", "--run", str(run),
            "-k", "1", "--concurrency", "1",
        ]  # fmt: skip
        first = subprocess.Popen(
            [sys.executable, "-m", "verimath", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for(lambda: _stored(run) >= 1, "the first run's samples")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        server.delay_s = 0.0
        resumed = run_cli(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert _stored(run) == 40


def test_eval_with_no_problem_to_do_says_so_and_exits(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "run.sqlite"
    result = run_cli(
        "eval", "math500", "--model", f"replay:{MATHCODER_GSM8K}", "--limit", "5",
        "--run", str(run),
    )  # fmt: skip
    line = error_line(result)
    assert "nothing to evaluate" in line and "recording" in line
    assert not run.parent.exists()
