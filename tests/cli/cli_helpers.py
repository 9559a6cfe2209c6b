"""Running the real ``verimath`` command in a child process, and what its errors must look like."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

CLI_TIMEOUT_S = 300


def run_cli(
    *args: str, cwd: Path | None = None, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """``python -m verimath ARGS`` (after ``prefix``, e.g. an ``unshare`` command line)."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "verimath", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one ``Error:`` line of a failed command; fails unless it is exactly one line, with
    no traceback, and the exit code is non-zero."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def write_problems(path: Path, count: int) -> Path:
    """``count`` problems whose question holds its own boxed answer: a server that echoes the
    prompt answers each one correctly, in one model call per sample."""
    lines = [
        json.dumps(
            {"id": f"p{i}", "question": f"Add {i} and 1. \\boxed{{{i + 1}}}", "answer": i + 1}
        )
        for i in range(count)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rows(run: Path, query: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(f"{run.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


SAMPLES = (
    "SELECT problem_id, sample_index, answer, state, grade, code_executions FROM samples "
    "ORDER BY problem_id, sample_index"
)
VOTES = "SELECT problem_id, answer, grade, plain_answer, samples_used FROM votes ORDER BY 1"
