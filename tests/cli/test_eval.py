"""``verimath eval`` end to end on recorded transcripts (real code, real grader, real SQLite),
including crash safety: SIGKILL at arbitrary moments, then resume to identical results."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.shared import SHARED_DATA
from verimath.cli import cli

SHARED = SHARED_DATA
MATHCODER_GSM8K = SHARED / "transcripts" / "mathcoder" / "MathCoder-CL-34b" / "GSM8K"
REPLAY = f"replay:{MATHCODER_GSM8K}"


def eval_args(run: Path, *extra: str, limit: int = 40) -> list[str]:
    return [
        "eval",
        "gsm8k",
        "--model",
        REPLAY,
        "--run",
        str(run),
        "--limit",
        str(limit),
        "-k",
        "2",
        "--concurrency",
        "4",
        *extra,
    ]


def table(run: Path, query: str) -> list[tuple]:
    with sqlite3.connect(run) as db:
        return db.execute(query).fetchall()


SAMPLES_QUERY = (
    "SELECT problem_id, sample_index, answer, state, grade, code_executions "
    "FROM samples ORDER BY problem_id, sample_index"
)
VOTES_QUERY = "SELECT problem_id, answer, grade, plain_answer, samples_used FROM votes ORDER BY 1"


def test_eval_json_summary_and_export(tmp_path: Path) -> None:
    run, export = tmp_path / "run.sqlite", tmp_path / "samples.jsonl"
    result = CliRunner().invoke(cli, [*eval_args(run), "--json", "--export", str(export)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["problems"] == 40
    assert summary["samples"] == 80
    assert 0.0 <= summary["accuracy"] <= 1.0
    # replaying the recording re-executes the recorded code and must agree with its labels
    assert summary["accuracy"] == pytest.approx(summary["recorded_accuracy"])
    lines = [json.loads(line) for line in export.read_text().splitlines()]
    assert len(lines) == 80
    assert {"answer", "gold", "state", "grade", "code_executions"} <= set(lines[0])
    assert sum(line["code_executions"] for line in lines) > 80


def test_rerun_resumes_without_new_work(tmp_path: Path) -> None:
    run = tmp_path / "run.sqlite"
    first = CliRunner().invoke(cli, [*eval_args(run), "--json"])
    before = table(run, SAMPLES_QUERY)
    second = CliRunner().invoke(cli, [*eval_args(run), "--json"])
    assert second.exit_code == 0, second.output
    assert table(run, SAMPLES_QUERY) == before
    assert json.loads(second.stdout)["accuracy"] == json.loads(first.stdout)["accuracy"]


def test_changed_config_is_refused_unless_new(tmp_path: Path) -> None:
    run = tmp_path / "run.sqlite"
    CliRunner().invoke(cli, [*eval_args(run), "--json"])
    changed = CliRunner().invoke(cli, [*eval_args(run, "--temperature", "0.2"), "--json"])
    assert changed.exit_code != 0
    assert "temperature" in str(changed.exception) or "temperature" in changed.output
    fresh = CliRunner().invoke(cli, [*eval_args(run, "--temperature", "0.2", "--new"), "--json"])
    assert fresh.exit_code == 0, fresh.output
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("run.") and p != run]
    assert any(p.suffix == ".sqlite" for p in kept), "the earlier run must be kept"


def test_malformed_dataset_is_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"question": "1+1?", "answer": "2"}\n{"question": "broken"\n')
    result = CliRunner().invoke(
        cli, ["eval", str(data), "--model", REPLAY, "--run", str(tmp_path / "r.sqlite")]
    )
    assert result.exit_code != 0
    message = str(result.exception)
    assert "bad.jsonl" in message and ":2" in message
    assert not (tmp_path / "r.sqlite").exists()


def _spawn(run: Path, limit: int = 40) -> subprocess.Popen[bytes]:
    args = eval_args(run, limit=limit)
    return subprocess.Popen(
        [sys.executable, "-m", "verimath", *args, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=run.parent,
        start_new_session=True,
    )


def _stored(run: Path) -> int:
    try:
        return table(run, "SELECT COUNT(*) FROM samples")[0][0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def _kill_when(run: Path, samples_at_least: int, limit: int) -> bool:
    """Start a run and SIGKILL it once the store holds ``samples_at_least`` samples (0: while
    it starts up); False if it finished first."""
    process = _spawn(run, limit)
    deadline = time.monotonic() + 120
    if samples_at_least == 0:
        time.sleep(0.3)
    while samples_at_least and _stored(run) < samples_at_least and process.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    finished = process.poll() is not None
    if not finished:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return not finished


@pytest.mark.slow
def test_sigkill_at_any_moment_resumes_to_the_same_results(tmp_path: Path) -> None:
    limit = 150
    reference = tmp_path / "reference.sqlite"
    assert CliRunner().invoke(cli, [*eval_args(reference, limit=limit), "--json"]).exit_code == 0
    run = tmp_path / "killed.sqlite"
    kills = [_kill_when(run, threshold, limit) for threshold in (0, 1, 25, 60, 61, 140, 230)]
    assert sum(kills) >= 5, kills
    final = _spawn(run, limit)
    final.communicate(timeout=300)
    assert final.returncode == 0
    assert table(run, SAMPLES_QUERY) == table(reference, SAMPLES_QUERY)
    assert table(run, VOTES_QUERY) == table(reference, VOTES_QUERY)
    assert _stored(run) == 2 * limit


@pytest.mark.slow
def test_ctrl_c_keeps_finished_samples(tmp_path: Path) -> None:
    run = tmp_path / "interrupted.sqlite"
    process = _spawn(run)
    deadline = time.monotonic() + 120
    while _stored(run) < 5:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=60)
    saved = table(run, "SELECT COUNT(*) FROM samples")[0][0]
    assert 0 < saved <= 80
    resumed = _spawn(run)
    resumed.communicate(timeout=300)
    assert resumed.returncode == 0
    assert table(run, "SELECT COUNT(*) FROM samples")[0][0] == 80


def test_a_run_file_replays_to_the_same_samples(tmp_path: Path) -> None:
    first, second = tmp_path / "first.sqlite", tmp_path / "second.sqlite"
    assert CliRunner().invoke(cli, [*eval_args(first, limit=20), "--json"]).exit_code == 0
    args = [
        "eval",
        "gsm8k",
        "--model",
        f"replay:{first}",
        "--run",
        str(second),
        "--limit",
        "20",
        "-k",
        "2",
        "--json",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert table(second, SAMPLES_QUERY) == table(first, SAMPLES_QUERY)
    assert json.loads(result.stdout)["recorded_accuracy"] == pytest.approx(
        json.loads(result.stdout)["sample_accuracy"]
    )
