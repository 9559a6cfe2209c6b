"""Storage problems are one line naming the file and what to do, and lose nothing: a full disk
(a real tiny tmpfs), a read-only directory (a real read-only mount), unwritable outputs, damaged
pages, a SQLite file of another program, a grade input that is not UTF-8."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.cli_helpers import SAMPLES, VOTES, error_line, rows, run_cli, write_problems
from tests.models.chat_fault_server import FaultyChatServer

needs_mounts = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare to mount a private tmpfs or read-only bind mount",
)


@pytest.fixture(scope="module")
def server() -> Iterator[FaultyChatServer]:
    with FaultyChatServer() as running:
        yield running


def eval_args(data: Path, run: Path, server: FaultyChatServer) -> list[str]:
    return [
        "eval", str(data), "--model", f"openai:tiny@{server.base_url}", "--run", str(run),
        "-k", "2", "--concurrency", "4", "--retries", "0",
    ]  # fmt: skip


def in_private_mounts(setup: str, after: str = "") -> tuple[str, ...]:
    """A command prefix: run the command in a private mount namespace after ``setup``."""
    script = f'{setup} && "$@"; rc=$?; {after or ":"}; exit $rc'
    return ("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def finished_run(tmp_path: Path, server: FaultyChatServer, problems: int = 6) -> tuple[Path, Path]:
    data = write_problems(tmp_path / "problems.jsonl", problems)
    run = tmp_path / "runs" / "run.sqlite"
    result = run_cli(*eval_args(data, run, server))
    assert result.returncode == 0, result.stderr
    return data, run


@needs_mounts
def test_full_disk_is_one_line_and_a_resume_elsewhere_loses_nothing(
    tmp_path: Path, server: FaultyChatServer
) -> None:
    data = write_problems(tmp_path / "problems.jsonl", 150)
    clean = tmp_path / "clean.sqlite"
    assert run_cli(*eval_args(data, clean, server)).returncode == 0
    small, saved = tmp_path / "small", tmp_path / "saved"
    small.mkdir()
    saved.mkdir()
    run = small / "run.sqlite"
    prefix = in_private_mounts(
        f"mount -t tmpfs -o size=256k tmpfs {small}", after=f"cp -a {small}/. {saved}/"
    )
    line = error_line(run_cli(*eval_args(data, run, server), prefix=prefix))
    assert "disk is full" in line and str(run) in line and "rerun" in line
    moved = saved / "run.sqlite"
    stored = len(rows(moved, SAMPLES))
    assert 0 < stored < 300
    resumed = run_cli(*eval_args(data, moved, server))
    assert resumed.returncode == 0, resumed.stderr
    assert rows(moved, SAMPLES) == rows(clean, SAMPLES)
    assert rows(moved, VOTES) == rows(clean, VOTES)


@needs_mounts
def test_a_read_only_directory_refuses_writes_in_one_line_and_still_reads(
    tmp_path: Path, server: FaultyChatServer
) -> None:
    data, run = finished_run(tmp_path, server)
    before = digest(run)
    read_only = in_private_mounts(f"mount --bind -o ro {run.parent} {run.parent}")
    line = error_line(run_cli(*eval_args(data, run, server), prefix=read_only))
    assert str(run) in line and "read-only" in line and "--run" in line
    line = error_line(run_cli("view", str(run), prefix=read_only))
    assert str(run.with_suffix(".html")) in line and "read-only" in line and "--out" in line
    report = run_cli("report", str(run), "--no-plots", "--resamples", "0", prefix=read_only)
    assert report.returncode == 0, report.stderr
    assert "Accuracy" in report.stdout or "accuracy" in report.stdout
    assert digest(run) == before
    assert sorted(p.name for p in run.parent.iterdir()) == ["run.sqlite"]


def test_report_to_an_unwritable_place_is_one_line(
    tmp_path: Path, server: FaultyChatServer
) -> None:
    _, run = finished_run(tmp_path, server)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    out = blocker / "report"
    line = error_line(run_cli("report", str(run), "--no-plots", "--out", str(out)))
    assert str(blocker) in line and "--out" in line


def _damage(run: Path) -> None:
    """Overwrite every page but the first (the header and the schema stay readable)."""
    page = int.from_bytes(run.read_bytes()[16:18], "big")
    size = run.stat().st_size
    assert size > 2 * page
    with run.open("r+b") as sink:
        sink.seek(page)
        sink.write(b"\xa5" * (size - page))


def test_damaged_pages_are_one_line_everywhere(tmp_path: Path, server: FaultyChatServer) -> None:
    data, run = finished_run(tmp_path, server)
    _damage(run)
    commands = [
        eval_args(data, run, server),
        ["report", str(run), "--no-plots"],
        ["view", str(run), "--out", str(tmp_path / "page.html")],
        ["tune-weights", str(run)],
    ]
    for args in commands:
        line = error_line(run_cli(*args))
        assert str(run) in line and "damaged" in line, (args[0], line)


def test_a_sqlite_file_of_another_program_is_never_touched(
    tmp_path: Path, server: FaultyChatServer
) -> None:
    data = write_problems(tmp_path / "problems.jsonl", 3)
    other = tmp_path / "notes.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
        db.execute("INSERT INTO notes VALUES ('keep me')")
    db.close()
    before, files = digest(other), sorted(os.listdir(tmp_path))
    commands = [
        eval_args(data, other, server),
        [*eval_args(data, other, server), "--new"],
        ["report", str(other)],
        ["view", str(other)],
        ["tune-weights", str(other)],
    ]
    for args in commands:
        line = error_line(run_cli(*args))
        assert str(other) in line and "not a verimath run" in line, (args[0], line)
    assert digest(other) == before
    assert sorted(os.listdir(tmp_path)) == files


def test_grade_input_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    source = tmp_path / "preds.jsonl"
    source.write_bytes(b'{"gold": "1", "pred": "1"}\n{"gold": "2", "pred": "\xff2"}\n')
    line = error_line(run_cli("grade", str(source), "-o", str(tmp_path / "graded.jsonl")))
    assert f"{source}:2" in line and "UTF-8" in line
