"""The run file's SQL connection: every statement bounded, every error one line.

A run file is a database anyone can edit. Before its first read or write,
:func:`verimath.storage.check_objects` makes sure it holds only verimath's own tables, and
:func:`verimath.storage.bound_connection` caps every value at
:data:`~verimath.storage.MAX_VALUE_BYTES`. :class:`RunConnection` then bounds every statement:
a SQLite progress handler interrupts one that has run more than :func:`step_budget`
virtual-machine steps (a query that runs away, whatever slipped the checks). Either is a
one-line StoreError naming the file, as is every other SQLite error.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from verimath.errors import StoreError
from verimath.storage import store_error

__all__ = [
    "MIN_STEPS",
    "STEPS_PER_PAGE",
    "RunConnection",
    "RunCursor",
    "step_budget",
]

MIN_STEPS = 20_000_000
"""Virtual-machine steps any one statement may take, whatever the file's size (about a
second of SQLite's time)."""
STEPS_PER_PAGE = 5_000
"""Further steps a statement may take per 4 KiB of the file (and its WAL). Every query
verimath makes reads each row a bounded number of times, so its cost grows with the file: on
a run of 80,000 samples (1 GiB) the costliest takes 32 steps per page, and a page of the
smallest rows (failures) costs under 1,500."""
PAGE_BYTES = 4096
PROGRESS_EVERY = 10_000
"""Steps between two calls of the progress handler."""


def step_budget(path: Path) -> int:
    """Steps one statement on the run file ``path`` may take (see :data:`STEPS_PER_PAGE`)."""
    size = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):
            size += Path(f"{path}{suffix}").stat().st_size
    return MIN_STEPS + STEPS_PER_PAGE * (size // PAGE_BYTES + 1)


class _Meter:
    """The steps one statement has taken, over every call that advanced it."""

    def __init__(self, budget: int) -> None:
        self.steps = 0
        self.budget = budget


class RunConnection:
    """The run file's connection: each statement metered, every SQLite error a StoreError.
    Not thread-safe (nor is the store): one statement advances at a time."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._running: _Meter | None = None
        db.set_progress_handler(self._progress, PROGRESS_EVERY)

    def _progress(self) -> int:
        meter = self._running
        if meter is None:
            return 0
        meter.steps += PROGRESS_EVERY
        return int(meter.steps > meter.budget)

    @contextlib.contextmanager
    def advancing(self, meter: _Meter) -> Iterator[None]:
        """Run SQLite for the statement ``meter`` counts; its errors as StoreErrors."""
        outer, self._running = self._running, meter
        try:
            yield
        except sqlite3.Error as exc:
            raise self._error(exc, meter) from None
        finally:
            self._running = outer

    def _error(self, exc: sqlite3.Error, meter: _Meter) -> StoreError:
        if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT:
            return StoreError(
                f"a query on the run file {self.path} ran past {meter.budget:,} steps and was "
                "stopped: the file holds more, or other, than verimath wrote. Check where it "
                "came from, or start a new run (--new)"
            )
        return store_error(self.path, exc)

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> RunCursor:
        meter = _Meter(step_budget(self.path))
        with self.advancing(meter):
            cursor = self._db.execute(sql, parameters)
        return RunCursor(cursor, self, meter)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.advancing(_Meter(step_budget(self.path))):
            self._db.executemany(sql, rows)

    def executescript(self, script: str) -> None:
        with self.advancing(_Meter(step_budget(self.path))):
            self._db.executescript(script)

    def close(self) -> None:
        with self.advancing(_Meter(MIN_STEPS)):
            self._db.close()


class RunCursor:
    """One statement's rows, fetched lazily, each fetch metered against its statement."""

    def __init__(self, cursor: sqlite3.Cursor, connection: RunConnection, meter: _Meter) -> None:
        self._cursor = cursor
        self._connection = connection
        self._meter = meter
        self.columns: tuple[str, ...] = tuple(d[0] for d in cursor.description or ())

    def fetchone(self) -> Any:
        with self._connection.advancing(self._meter):
            return self._cursor.fetchone()

    def __iter__(self) -> Iterator[Any]:
        while True:
            with self._connection.advancing(self._meter):
                row = self._cursor.fetchone()
            if row is None:
                return
            yield row
