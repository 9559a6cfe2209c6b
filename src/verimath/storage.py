"""The run file on disk: who may write it, whether it is a run at all, and its errors in words.

- One writer at a time: :class:`WriterLock` holds an exclusive ``flock`` on ``RUN.lock`` (the
  kernel releases it when the process dies, SIGKILL included) and writes the holder's pid,
  host and start time into it, so that a second writer is refused at once, naming the holder.
  Readers take no lock (WAL lets them read while the writer writes).
- A run file carries :data:`APPLICATION_ID` in its SQLite header. A writer checks it before its
  first write, so a SQLite file of some other program is never modified; readers open files
  read-only (``mode=ro``, or ``immutable`` where the directory is read-only).
- A run file is a database anyone can edit: before its first read or write,
  :func:`check_objects` refuses one holding anything but verimath's own tables (a view, a
  trigger...), and every connection caps the size of a value (:data:`MAX_VALUE_BYTES`) and
  runs no function the schema names (``trusted_schema=OFF``).
- :func:`store_error` and :func:`write_error` turn SQLite and OS errors into one line naming
  the file, what went wrong and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from verimath.bounded import loads_json
from verimath.errors import OutputError, RunLockedError, StoreError

__all__ = [
    "APPLICATION_ID",
    "MAX_VALUE_BYTES",
    "RUN_TABLES",
    "WriterLock",
    "bound_connection",
    "check_objects",
    "guarded",
    "move_aside",
    "open_for_reading",
    "open_for_writing",
    "os_reason",
    "store_error",
    "write_error",
]

APPLICATION_ID = 0x766D7231
"""``PRAGMA application_id`` of a verimath run file ("vmr1")."""

RUN_TABLES = frozenset(
    {"meta", "problems", "samples", "turns", "cells", "votes", "failures", "responses"}
)
"""Tables of a run file; a file with only these (and ``meta``, ``samples``) and no
application id is a run written before the id existed."""

MAX_VALUE_BYTES = 32 << 20
"""Largest text or blob a run file may hold in one cell (SQLite's ``SQLITE_LIMIT_LENGTH``,
32 MiB); a sample's whole conversation is a few hundred KiB."""
STAT_TABLES = frozenset({"sqlite_stat1"})
"""Tables SQLite's ``ANALYZE`` adds: statistics for the query planner, harmless."""
_INDEX_PREFIX = "sqlite_autoindex_"
_LOCK_SUFFIX = ".lock"
NEARLY_FULL_BYTES = 64 * 1024
"""Free space under which an I/O error on the run file is reported as a full disk."""


class WriterLock:
    """An exclusive lock on ``RUN.lock`` for the one process that writes the run."""

    def __init__(self, run: Path) -> None:
        self.run = run
        self.path = Path(f"{run}{_LOCK_SUFFIX}")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise RunLockedError naming the holder."""
        while self._fd is None:
            fd = _open_lock_file(self.path, self.run)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise RunLockedError(_locked_message(self.run, holder)) from None
            if _same_file(fd, self.path):
                self._fd = fd
            else:  # the previous holder removed the file between our open and our lock
                os.close(fd)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, json.dumps(holder).encode(), 0)

    def release(self) -> None:
        """Remove the lock file, then let go of the lock (in that order: see ``acquire``)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


def _open_lock_file(path: Path, run: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StoreError(
            f"cannot write the run file {run}: {os_reason(exc)} in {path.parent}; "
            f"{_relocate_hint(run)}"
        ) from None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def _read_holder(fd: int) -> dict[str, object]:
    for _ in range(20):  # the holder writes its name just after it takes the lock
        try:
            holder = loads_json(os.pread(fd, 4096, 0) or b"null", max_depth=1)
        except (OSError, ValueError):  # BoundsExceeded is a ValueError
            holder = None
        if isinstance(holder, dict) and isinstance(holder.get("since"), int | float):
            return holder
        time.sleep(0.01)
    return {}


def _when(stamp: object) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(float(stamp)))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return f"a time it gave as {stamp!r}"[:80]


def _locked_message(run: Path, holder: dict[str, object]) -> str:
    if holder:
        since = _when(holder["since"])
        who = f"process {holder.get('pid')} on {holder.get('host')}, since {since}"
    else:
        who = "another process"
    return (
        f"{run} is being written by {who}; wait until it ends (or stop it), or choose "
        "another file with --run. 'verimath report' and 'verimath view' can read it meanwhile."
    )


def open_for_writing(path: Path, *, fresh: bool = False) -> tuple[sqlite3.Connection, WriterLock]:
    """The run file opened for writing under its writer lock, created if absent; with
    ``fresh``, an existing run is first moved aside (see :func:`move_aside`).

    StoreError if it is some other SQLite file (left untouched) or cannot be written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the directory of the run file {path}: {os_reason(exc)}; "
            f"{_relocate_hint(path)}"
        ) from None
    lock = WriterLock(path)
    lock.acquire()
    try:
        if fresh and path.exists():
            open_for_reading(path).close()  # only a run is moved aside
            move_aside(path)
        with guarded(path):
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            try:
                _prepare_for_writing(db, path)
            except BaseException:
                db.close()
                raise
    except BaseException:
        lock.release()
        raise
    return db, lock


def move_aside(path: Path) -> None:
    """Keep an earlier run (and its WAL files) under a timestamped name beside it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix in ("", "-wal", "-shm"):
        old = Path(f"{path}{suffix}")
        if old.exists():
            target = path.with_name(f"{path.stem}.{stamp}{path.suffix}{suffix}")
            try:
                old.rename(target)
            except OSError as exc:
                raise StoreError(
                    f"cannot move the earlier run {old} aside to {target.name}: {os_reason(exc)}; "
                    "move it yourself, or choose another file with --run"
                ) from None


def _prepare_for_writing(db: sqlite3.Connection, path: Path) -> None:
    """Check the file is a run (or empty) by reading only; then switch it to WAL and stamp it."""
    application_id = db.execute("PRAGMA application_id").fetchone()[0]
    if application_id != APPLICATION_ID:
        tables = _tables(db)
        if application_id != 0 or (tables and not _is_legacy_run(tables)):
            raise StoreError(_not_a_run(path, tables, "choose another file with --run"))
    bound_connection(db)
    check_objects(db, path, "copy what you need from it, or start a new run (--new)")
    db.execute("PRAGMA busy_timeout=10000")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    if application_id != APPLICATION_ID:
        db.execute(f"PRAGMA application_id={APPLICATION_ID}")


def open_for_reading(path: Path) -> sqlite3.Connection:
    """The run file opened read-only; StoreError if it is missing or not a run."""
    if not path.is_file():
        raise StoreError(f"{path}: no such run file; runs are made by 'verimath eval ... --run'")
    uri = path.resolve().as_uri()
    with guarded(path):
        try:
            db = _checked_reader(path, f"{uri}?mode=ro")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_CANTOPEN:
                raise
            # a WAL file in a read-only directory whose -shm cannot be made: nobody can be
            # writing it there, so it can be read as an immutable file
            db = _checked_reader(path, f"{uri}?immutable=1")
    return db


def _checked_reader(path: Path, uri: str) -> sqlite3.Connection:
    db = sqlite3.connect(uri, uri=True, check_same_thread=False)
    try:
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        if application_id != APPLICATION_ID:
            tables = _tables(db)
            if application_id != 0 or not _is_legacy_run(tables):
                raise StoreError(_not_a_run(path, tables, "pass a file written by 'verimath eval'"))
        bound_connection(db)
        check_objects(db, path, "pass a run file as 'verimath eval' wrote it")
    except BaseException:
        db.close()
        raise
    return db


def _tables(db: sqlite3.Connection) -> set[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def _is_legacy_run(tables: set[str]) -> bool:
    return {"meta", "samples"} <= tables <= RUN_TABLES


def _not_a_run(path: Path, tables: set[str], hint: str) -> str:
    if not tables:
        return f"{path} is not a verimath run (an empty SQLite file): {hint}"
    held = ", ".join(sorted(tables)[:5])
    return (
        f"{path} is not a verimath run but a SQLite file of another program (it holds tables "
        f"{held}); it was left untouched: {hint}"
    )


def check_objects(db: sqlite3.Connection, path: Path, hint: str) -> None:
    """StoreError naming the first object of ``sqlite_master`` that is not one of the run's
    tables (:data:`RUN_TABLES`, ``sqlite_stat1``) or an index SQLite made for their keys."""
    query = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid"
    for kind, name, table, sql in db.execute(query):
        if not _own(kind, name, table, sql):
            raise StoreError(
                f"{path} holds a {kind} {name!r} that verimath did not make (a run file holds "
                f"only its own tables); it was left untouched: {hint}"
            )


def _own(kind: object, name: object, table: object, sql: object) -> bool:
    if kind == "table":
        virtual = isinstance(sql, str) and sql.lstrip().upper().startswith("CREATE VIRTUAL")
        return (name in RUN_TABLES and not virtual) or name in STAT_TABLES
    # the indexes SQLite makes for primary keys have no SQL and a reserved name
    return (
        kind == "index"
        and sql is None
        and table in RUN_TABLES
        and isinstance(name, str)
        and name.startswith(f"{_INDEX_PREFIX}{table}_")
    )


def bound_connection(db: sqlite3.Connection) -> None:
    """Cap the size of every value and keep the schema from running functions on its own."""
    db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    db.execute("PRAGMA trusted_schema=OFF")


@contextlib.contextmanager
def guarded(path: Path) -> Iterator[None]:
    """Turn SQLite errors on the run file ``path`` into one-line StoreErrors."""
    try:
        yield
    except sqlite3.Error as exc:
        raise store_error(path, exc) from None


def store_error(path: Path, exc: sqlite3.Error) -> StoreError:
    """What went wrong with the run file ``path`` and what to do, in one line."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    kept = "finished samples are kept"
    if primary == sqlite3.SQLITE_FULL or (primary == sqlite3.SQLITE_IOERR and _nearly_full(path)):
        return StoreError(
            f"cannot write the run file {path}: the disk is full ({exc}); {kept}: free some "
            "space and rerun the same command to resume"
        )
    if primary == sqlite3.SQLITE_NOTADB:
        return StoreError(
            f"{path} is not a verimath run: not a SQLite file, or its first page is damaged "
            f"({exc}); it was left untouched: pass a run file (eval: with --run), or restore "
            "the run from a copy"
        )
    if primary == sqlite3.SQLITE_CORRUPT:
        return StoreError(
            f"the run file {path} is damaged ({exc}); restore it from a copy, or save what is "
            f"readable with: sqlite3 {path} .recover | sqlite3 recovered.sqlite, and use "
            "recovered.sqlite instead"
        )
    if primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM):
        return StoreError(f"cannot write the run file {path} ({exc}); {_relocate_hint(path)}")
    if primary == sqlite3.SQLITE_IOERR:
        return StoreError(
            f"input/output error on the run file {path} ({exc}); check the disk (is it full?) "
            f"and rerun the same command: {kept}"
        )
    if primary == sqlite3.SQLITE_TOOBIG:
        return StoreError(
            f"the run file {path} holds a value larger than {MAX_VALUE_BYTES >> 20} MiB ({exc}), "
            "more than verimath writes; check where the file came from, or start a new run "
            "(--new)"
        )
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreError(
            f"the run file {path} stayed locked by another connection ({exc}); retry when "
            "the other program is done with it"
        )
    return StoreError(f"the run file {path} cannot be used ({exc})")


def _nearly_full(path: Path) -> bool:
    """Whether the file system of ``path`` has (almost) no room left: the likely cause of an
    I/O error on a write."""
    try:
        return shutil.disk_usage(path.parent).free < NEARLY_FULL_BYTES
    except OSError:
        return False


def _relocate_hint(path: Path) -> str:
    return (
        "check the permissions and free space there, or copy the run file to a writable "
        f"directory and pass the copy with --run (e.g. --run ./{path.name})"
    )


def write_error(path: Path | str, exc: OSError, hint: str) -> OutputError:
    """An output file (report, page, export) cannot be written: one line with ``hint``."""
    return OutputError(f"cannot write {path}: {os_reason(exc)}; {hint}")


def os_reason(exc: OSError) -> str:
    """An OS error's cause in words (``strerror`` where there is no plainer one)."""
    reasons = {
        errno.ENOSPC: "the disk is full",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.ENOTDIR: "a part of the path is not a directory",
        errno.EISDIR: "it is a directory",
        errno.EDQUOT: "the disk quota is exceeded",
    }
    return reasons.get(exc.errno or 0, exc.strerror or str(exc))
