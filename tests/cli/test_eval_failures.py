"""``verimath eval`` against a real OpenAI-compatible server on 127.0.0.1 that fails on cue:
one sample's failure is recorded and the run goes on; a run that cannot go on stops with one
line; a rerun after recovery ends where a clean run ends."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.cli_helpers import SAMPLES, VOTES, error_line, rows, run_cli, write_problems
from tests.models.chat_fault_server import DROP, OK, FaultyChatServer, status
from tests.models.model_helpers import free_port

PROBLEMS = 40
K = 2


def eval_args(data: Path, run: Path, base_url: str, *extra: str) -> list[str]:
    return [
        "eval",
        str(data),
        "--model",
        f"openai:tiny@{base_url}",
        "--run",
        str(run),
        "-k",
        str(K),
        "--concurrency",
        "4",
        "--retries",
        "0",
        *extra,
    ]


def test_unreachable_server_is_one_line_and_nothing_is_written(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "problems.jsonl", 3)
    run = tmp_path / "runs" / "run.sqlite"
    url = f"http://127.0.0.1:{free_port()}/v1"
    line = error_line(run_cli(*eval_args(data, run, url)))
    assert url in line and "cannot reach" in line and "rerun" in line
    assert not run.parent.exists()


def test_server_lost_at_start_stops_the_run_at_once(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "problems.jsonl", 10)
    run = tmp_path / "run.sqlite"
    with FaultyChatServer(default=DROP) as server:
        result = run_cli(*eval_args(data, run, server.base_url))
        requests = len(server.seen)
    line = error_line(result)
    assert "unreachable" in line and "rerun the same command" in line and str(run) in line
    assert requests <= 4  # the samples already in flight, not 20 nor 80
    kinds = rows(run, "SELECT DISTINCT kind FROM failures")
    assert kinds == [("ModelConnectionError",)]


def test_refused_key_stops_the_run_with_one_line(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "problems.jsonl", 10)
    run = tmp_path / "run.sqlite"
    with FaultyChatServer(default=status(401)) as server:
        result = run_cli(*eval_args(data, run, server.base_url))
    line = error_line(result)
    assert "401" in line and "OPENAI_API_KEY" in line and "resume" in line
    assert rows(run, "SELECT kind FROM failures")[0] == ("ModelAuthError",)


def test_failing_samples_are_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "problems.jsonl", 10)
    run = tmp_path / "run.sqlite"
    faults = [OK] * 6 + [status(500)] * 3
    with FaultyChatServer(faults) as server:
        result = run_cli(*eval_args(data, run, server.base_url, "--json"))
        rerun = run_cli(*eval_args(data, run, server.base_url))  # the faults are over
    assert result.returncode == 3, result.stderr
    summary = json.loads(result.stdout)
    assert summary["samples"] == 2 * 10 - 3
    assert summary["missing"] == {"ModelConnectionError": 3}
    assert "HTTP 500" in summary["missing_errors"]["ModelConnectionError"]
    assert "Traceback" not in result.stderr
    assert rerun.returncode == 0, rerun.stderr
    assert len(rows(run, SAMPLES)) == 20


def test_server_failing_after_30_answers_then_recovering(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "problems.jsonl", PROBLEMS)
    clean, run = tmp_path / "clean.sqlite", tmp_path / "run.sqlite"
    with FaultyChatServer() as server:
        assert run_cli(*eval_args(data, clean, server.base_url)).returncode == 0
    with FaultyChatServer([OK] * 30, default=status(500)) as server:
        broken = run_cli(*eval_args(data, run, server.base_url))
        line = error_line(broken)
        assert "20 samples in a row failed" in line and "rerun the same command" in line
        assert len(rows(run, SAMPLES)) == 30  # every answered sample is stored
        [(failed, kind)] = rows(run, "SELECT COUNT(*), MIN(kind) FROM failures")
        assert 20 <= failed <= 20 + 4  # the rule, plus samples in flight when it struck
        assert kind == "ModelConnectionError"
        report = run_cli("report", str(run), "--format", "json", "--no-plots", "--resamples", "0")
        assert report.returncode == 0, report.stderr
        failures = json.loads(report.stdout)["sections"]
        text = json.dumps(failures)
        assert "ModelConnectionError" in text and "HTTP 500" in text
        server.default = OK  # the server recovers
        rerun = run_cli(*eval_args(data, run, server.base_url))
    assert rerun.returncode == 0, rerun.stderr
    assert rows(run, SAMPLES) == rows(clean, SAMPLES)
    assert rows(run, VOTES) == rows(clean, VOTES)
    assert len(rows(run, SAMPLES)) == PROBLEMS * K
