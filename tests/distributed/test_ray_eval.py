"""``verimath eval --ray`` against the plain engine, on recorded transcripts (real code, real
grader, real SQLite) and on real HTTP model servers, on a real local Ray cluster."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.models.chat_fault_server import FaultyChatServer
from tests.models.test_model_endpoints import write_problems
from verimath.cli import cli

SAMPLES = (
    "SELECT problem_id, sample_index, answer, answer_method, state, evidence, grade, "
    "code_executions, stop_reason, messages FROM samples ORDER BY 1, 2"
)
CELLS = (
    "SELECT problem_id, sample_index, cell_index, code, output, status FROM cells ORDER BY 1,2,3"
)
VOTES = "SELECT * FROM votes ORDER BY 1"


def rows(run: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(run) as db:
        return db.execute(query).fetchall()


def same_results(first: Path, second: Path) -> None:
    for query in (SAMPLES, CELLS, VOTES):
        assert rows(first, query) == rows(second, query), query


def run_eval(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["eval", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def replay_args(spec: str, run: Path, limit: int, k: int) -> list[str]:
    return ["gsm8k", "--model", spec, "-k", str(k), "--limit", str(limit), "--run", str(run)]


def forget_samples(run: Path, count: int) -> None:
    """As if the run had died before these samples were stored."""
    with sqlite3.connect(run) as db:
        doomed = db.execute(
            "SELECT problem_id, sample_index FROM samples ORDER BY finished_at DESC LIMIT ?",
            (count,),
        ).fetchall()
        for table in ("samples", "turns", "cells"):
            db.executemany(f"DELETE FROM {table} WHERE problem_id = ? AND sample_index = ?", doomed)
        db.executemany("DELETE FROM votes WHERE problem_id = ?", [(p,) for p, _ in doomed])


@pytest.mark.slow
def test_200_problem_replay_gives_the_same_results_with_and_without_ray(
    ray_cluster: Any, replay_spec: str, tmp_path: Path
) -> None:
    plain = run_eval(*replay_args(replay_spec, tmp_path / "plain.sqlite", 200, 1))
    on_ray = run_eval(*replay_args(replay_spec, tmp_path / "ray.sqlite", 200, 1), "--ray")
    assert plain["samples"] == on_ray["samples"] == 200
    same_results(tmp_path / "plain.sqlite", tmp_path / "ray.sqlite")
    drop = ("run",)
    assert {k: v for k, v in plain.items() if k not in drop} == {
        k: v for k, v in on_ray.items() if k not in drop
    }


def test_votes_over_several_samples_are_the_same_on_ray(
    ray_cluster: Any, replay_spec: str, tmp_path: Path
) -> None:
    run_eval(*replay_args(replay_spec, tmp_path / "plain.sqlite", 30, 3))
    run_eval(*replay_args(replay_spec, tmp_path / "ray.sqlite", 30, 3), "--ray")
    same_results(tmp_path / "plain.sqlite", tmp_path / "ray.sqlite")
    assert len(rows(tmp_path / "ray.sqlite", VOTES)) == 30


def test_a_plain_run_resumes_on_ray_and_back(
    ray_cluster: Any, replay_spec: str, tmp_path: Path
) -> None:
    reference, run = tmp_path / "reference.sqlite", tmp_path / "run.sqlite"
    run_eval(*replay_args(replay_spec, reference, 40, 2))
    run_eval(*replay_args(replay_spec, run, 40, 2))
    forget_samples(run, 30)
    resumed = run_eval(*replay_args(replay_spec, run, 40, 2), "--ray")
    assert resumed["samples"] == 80
    same_results(reference, run)
    forget_samples(run, 7)
    run_eval(*replay_args(replay_spec, run, 40, 2))
    same_results(reference, run)


def test_model_calls_go_to_the_drivers_store_and_are_replayed_on_resume(
    ray_cluster: Any, tmp_path: Path
) -> None:
    data = write_problems(tmp_path / "gsm8k.jsonl", 8)
    with FaultyChatServer() as a, FaultyChatServer() as b:
        spec = f"openai:tiny@{a.base_url},{b.base_url}"
        run = tmp_path / "run.sqlite"
        args = [str(data), "--model", spec, "-k", "2", "--run", str(run), "--ray"]
        summary = run_eval(*args)
        calls = len(a.seen) + len(b.seen)
        assert summary["samples"] == 16 and calls == 16
        assert len(a.seen) >= 4 and len(b.seen) >= 4, "both endpoints must be used"
        assert rows(run, "SELECT COUNT(*) FROM responses") == [(calls,)]
        assert sorted(e["base_url"] for e in summary["endpoints"]) == sorted(
            [a.base_url, b.base_url]
        )
        assert sum(e["requests"] for e in summary["endpoints"]) == calls
        before = rows(run, SAMPLES)

        forget_samples(run, 5)
        resumed = CliRunner().invoke(cli, ["eval", *args])
        assert resumed.exit_code == 0, resumed.output
        assert len(a.seen) + len(b.seen) == calls, "cached calls must not reach the servers"
        assert "(5 model calls answered from the run's cache)" in resumed.output
        assert rows(run, SAMPLES) == before


def test_cache_keys_are_shared_between_plain_and_ray_runs(ray_cluster: Any, tmp_path: Path) -> None:
    data = write_problems(tmp_path / "gsm8k.jsonl", 5)
    with FaultyChatServer() as server:
        run = tmp_path / "run.sqlite"
        args = [str(data), "--model", f"openai:tiny@{server.base_url}", "--run", str(run)]
        run_eval(*args, "-k", "2")
        forget_samples(run, 4)
        run_eval(*args, "-k", "2", "--ray")
    assert len(server.seen) == 10
    assert rows(run, "SELECT COUNT(*) FROM samples") == [(10,)]


@pytest.mark.slow
def test_ray_without_an_address_starts_a_local_runtime(replay_spec: str, tmp_path: Path) -> None:
    """The real command line, in its own process: it starts and stops its own Ray runtime."""
    run = tmp_path / "run.sqlite"
    command = [sys.executable, "-m", "verimath", "eval", *replay_args(replay_spec, run, 20, 1)]
    done = subprocess.run(
        [*command, "--ray", "--json"], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["samples"] == 20
    assert summary["accuracy"] == pytest.approx(summary["recorded_accuracy"], abs=0.051)
