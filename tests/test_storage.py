"""The run file on disk: the writer lock, the application id, and errors in one line."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from verimath.errors import RunLockedError, StoreError
from verimath.storage import APPLICATION_ID, store_error
from verimath.store import RunStore


def _application_id(path: Path) -> int:
    return int.from_bytes(path.read_bytes()[68:72], "big")


def test_a_new_run_carries_the_application_id_and_leaves_no_lock(tmp_path: Path) -> None:
    run = tmp_path / "run.sqlite"
    with RunStore(run) as store:
        store.set_meta("config", {"samples": 1})
        assert Path(f"{run}.lock").exists()
    assert _application_id(run) == APPLICATION_ID
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.sqlite"]


def test_a_second_writer_is_refused_naming_the_holder(tmp_path: Path) -> None:
    run = tmp_path / "run.sqlite"
    with RunStore(run), pytest.raises(RunLockedError) as refused:
        RunStore(run)
    message = str(refused.value)
    assert f"process {os.getpid()} on {socket.gethostname()}, since " in message
    assert str(run) in message and "--run" in message
    with RunStore(run):  # released on close
        pass


def test_readers_need_no_lock_and_write_nothing(tmp_path: Path) -> None:
    run = tmp_path / "run.sqlite"
    with RunStore(run) as writer:
        writer.set_meta("config", {"samples": 1})
        with RunStore.read(run) as reader:
            assert reader.meta("config") == {"samples": 1}
    before = hashlib.sha256(run.read_bytes()).hexdigest()
    with RunStore.read(run) as reader:
        reader.counts()
    assert hashlib.sha256(run.read_bytes()).hexdigest() == before


def test_the_lock_of_a_killed_writer_is_free(tmp_path: Path) -> None:
    run = tmp_path / "run.sqlite"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from verimath.store import RunStore; "
            f"s = RunStore({str(run)!r}); print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    with pytest.raises(RunLockedError, match=f"process {holder.pid} "):
        RunStore(run)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with RunStore(run) as store:  # the kernel let go of the dead holder's lock
        assert store.counts()["samples"] == 0


def test_a_run_from_before_the_application_id_is_still_a_run(tmp_path: Path) -> None:
    run = tmp_path / "old.sqlite"
    with sqlite3.connect(run) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute(
            "CREATE TABLE samples (problem_id TEXT, sample_index INTEGER, PRIMARY KEY "
            "(problem_id, sample_index))"
        )
        db.execute("CREATE TABLE failures (problem_id TEXT NOT NULL, sample_index INTEGER "
                   "NOT NULL, error TEXT NOT NULL, failed_at REAL NOT NULL)")  # fmt: skip
        db.execute("""INSERT INTO meta VALUES ('config', '{"samples": 2}')""")
    db.close()
    with RunStore.read(run) as reader:
        assert reader.meta("config") == {"samples": 2}
    assert _application_id(run) == 0
    with RunStore(run) as writer:
        writer.add_failure("p", 0, "ModelConnectionError", "down")
    assert _application_id(run) == APPLICATION_ID


def test_a_full_disk_is_named_as_such() -> None:
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
    message = str(store_error(Path("runs/a.sqlite"), full))
    assert "runs/a.sqlite" in message and "disk is full" in message and "rerun" in message


def test_a_missing_run_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such run file"):
        RunStore.read(tmp_path / "absent.sqlite")
