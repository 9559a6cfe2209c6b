"""The run file's connection bounds every statement, whatever slips past the schema check."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_store import PROBLEMS, trajectory
from verimath.caching import checked_entries
from verimath.errors import RunLockedError, StoreError
from verimath.grading import Status
from verimath.run_rows import MAX_BLOB_BYTES
from verimath.run_sql import MIN_STEPS, STEPS_PER_PAGE, step_budget
from verimath.storage import MAX_VALUE_BYTES
from verimath.store import RunStore
from verimath.verification import VerificationState

RUNAWAY = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) FROM n"


@pytest.fixture
def run(tmp_path: Path) -> Path:
    path = tmp_path / "run.sqlite"
    with RunStore(path) as store:
        store.bind_config({"samples": 1}, {"verimath": "test"})
        store.add_problems(PROBLEMS)
        store.add_sample("p0", 0, trajectory("3", VerificationState.TRUE), Status.CORRECT)
    return path


@pytest.fixture
def reader(run: Path) -> Iterator[RunStore]:
    with RunStore.read(run) as store:
        yield store


def test_a_runaway_query_is_stopped_after_its_step_budget(reader: RunStore, run: Path) -> None:
    with pytest.raises(StoreError, match="steps and was stopped") as caught:
        reader._db.execute(RUNAWAY).fetchone()
    assert str(run) in str(caught.value)
    assert "\n" not in str(caught.value)
    # the connection stays usable for the next statement
    assert {p.problem_id for p in reader.problems()} >= {"p0"}


def test_a_runaway_row_stream_is_stopped_too(reader: RunStore) -> None:
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n"
    cursor = reader._db.execute(endless)
    with pytest.raises(StoreError, match="steps"):
        for _ in cursor:
            pass


def test_interleaved_statements_are_metered_each_on_its_own(reader: RunStore) -> None:
    # a lazy read interleaved with other statements keeps its own count
    turns = reader.iter_turns()
    problems = [reader.problems() for _ in range(50)]
    assert list(turns) and len(problems) == 50


def test_the_budget_grows_with_the_file(run: Path) -> None:
    pages = run.stat().st_size // 4096 + 1
    assert step_budget(run) >= MIN_STEPS + STEPS_PER_PAGE * pages


def test_a_value_larger_than_the_cap_is_a_store_error(run: Path) -> None:
    db = sqlite3.connect(run)
    db.execute("UPDATE problems SET question = ?", ("x" * (MAX_VALUE_BYTES + 1),))
    db.commit()
    db.close()
    with RunStore.read(run) as store, pytest.raises(StoreError, match="larger than 32 MiB"):
        store.problems()


def test_a_blob_inflating_past_its_cap_is_refused_naming_the_row(run: Path) -> None:
    blob = zlib.compress(b"[" + b" " * (MAX_BLOB_BYTES + 10) + b"]", 9)
    db = sqlite3.connect(run)
    db.execute("INSERT INTO responses VALUES ('k', x'00', ?, 0)", (blob,))
    db.commit()
    db.close()
    with RunStore.read(run) as store, pytest.raises(StoreError) as caught:
        store.cached_response("k", checked_entries)
    message = str(caught.value)
    assert "table responses, row (request_key 'k'), column response" in message
    assert "inflates to more than 32 MiB" in message


@pytest.mark.parametrize(
    "response",
    [b"not zlib", zlib.compress(b"[1, 2]"), zlib.compress(b"[" * 100 + b"]" * 100)],
)
def test_a_cached_response_of_another_shape_is_refused(run: Path, response: bytes) -> None:
    db = sqlite3.connect(run)
    db.execute("INSERT INTO responses VALUES ('k', x'00', ?, 0)", (response,))
    db.commit()
    db.close()
    with RunStore.read(run) as store, pytest.raises(StoreError, match="column response"):
        store.cached_response("k", checked_entries)


@pytest.mark.parametrize(
    "holder", [b"[" * 3000 + b"]" * 3000, b'{"pid": 1, "since": "noon"}', b'{"since": 1e999}']
)
def test_a_hostile_lock_file_still_gives_one_line(run: Path, holder: bytes) -> None:
    lock = Path(f"{run}.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.pwrite(fd, holder, 0)
        with pytest.raises(RunLockedError) as caught:
            RunStore(run)
    finally:
        os.close(fd)
    assert "\n" not in str(caught.value) and str(run) in str(caught.value)
