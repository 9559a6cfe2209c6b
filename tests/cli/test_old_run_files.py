"""A run file written by verimath 0.1.0 (schema version 1, no failure kinds, ``wave`` 2 recorded
for a plain run) is read as it is and resumed by this version: migrated once, never refused.

The file is rebuilt from ``tests/data/runs/schema1-0.1.0.sql``: the SQL dump of a real 0.1.0
replay run of three MATH problems, where the last sample failed (its row removed and a 0.1.0
failure row written in its place), so resuming has one sample left to draw.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.cli.cli_helpers import error_line, rows, run_cli
from tests.shared import TRANSCRIPTS
from verimath.store import SCHEMA_VERSION, RunStore

DUMP = Path(__file__).parent.parent / "data" / "runs" / "schema1-0.1.0.sql"
FAILED = "test/algebra/1019.json"


def old_run(tmp_path: Path) -> Path:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(DUMP.read_text(encoding="utf-8").replace("@TRANSCRIPTS@", str(TRANSCRIPTS)))
    db.close()
    return path


def resume_args(run: Path, *extra: str) -> list[str]:
    model = f"replay:{TRANSCRIPTS}/mathcoder/MathCoder-L-7b/MATH"
    return ["eval", "math", "--model", model, "-k", "1", "--limit", "12", "--run", str(run), *extra]


def test_an_old_run_is_read_as_it_is(tmp_path: Path) -> None:
    run = old_run(tmp_path)
    before = run.read_bytes()
    with RunStore.read(run) as store:
        assert store.meta("schema_version") == 1
        [failure] = store.failures()
        assert (failure.problem_id, failure.kind) == (FAILED, None)
        assert len(store.samples()) == 2
    report = run_cli("report", str(run))
    assert report.returncode == 0, report.stderr
    assert "ModelConnectionError" in report.stdout + report.stderr
    assert run.read_bytes() == before


def test_the_same_command_resumes_an_old_run_and_draws_only_what_is_missing(
    tmp_path: Path,
) -> None:
    run = old_run(tmp_path)
    kept = rows(run, "SELECT problem_id, answer, grade, state FROM samples ORDER BY problem_id")
    result = run_cli(*resume_args(run))
    assert result.returncode == 0, result.stderr
    assert "resuming" in result.stderr
    assert rows(run, "SELECT value FROM meta WHERE key = 'schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]
    samples = rows(run, "SELECT problem_id, answer, grade, state FROM samples ORDER BY problem_id")
    assert [s for s in samples if s[0] != FAILED] == kept
    assert [s[0] for s in samples].count(FAILED) == 1
    assert rows(run, "SELECT COUNT(*) FROM votes") == [(3,)]
    assert rows(run, "SELECT problem_id, kind FROM failures") == [(FAILED, None)]
    again = run_cli(*resume_args(run))
    assert again.returncode == 0, again.stderr
    assert rows(run, "SELECT COUNT(*) FROM samples") == [(3,)]


@pytest.mark.parametrize(
    ("extra", "named"),
    [(("--adaptive", "exact"), "adaptive: None -> 'exact'"), (("-k", "2"), "samples: 1 -> 2")],
)
def test_a_changed_option_is_still_refused_by_name(
    tmp_path: Path, extra: tuple[str, ...], named: str
) -> None:
    run = old_run(tmp_path)
    columns = ", ".join(row[1] for row in rows(run, "PRAGMA table_info(samples)"))
    kept = rows(run, f"SELECT {columns} FROM samples")
    line = error_line(run_cli(*resume_args(run, *extra)))
    assert named in line
    assert "--new" in line
    assert rows(run, f"SELECT {columns} FROM samples") == kept  # migrated columns may be added
    assert not list(tmp_path.glob("old.sqlite.*")), "nothing is moved aside"


def test_a_hand_edited_config_is_one_line_everywhere(tmp_path: Path) -> None:
    run = old_run(tmp_path)
    db = sqlite3.connect(run)
    db.execute("UPDATE meta SET value = json_set(value, '$.samples', 'abc') WHERE key = 'config'")
    db.commit()
    db.close()
    commands = [
        ("report", str(run), "--no-plots"),
        ("view", str(run), "--out", str(tmp_path / "view.html")),
        tuple(resume_args(run)),
    ]
    for command in commands:
        line = error_line(run_cli(*command))
        assert str(run) in line and "samples = 'abc'" in line and "--new" in line, command
