"""The run store: one SQLite file per run, crash-safe and resumable.

Everything a run produces goes here as soon as it exists: the config and package versions
(``meta``), the problems, every finished sample with its turns, cells, answer, verification
state and grade (one transaction per sample, so a sample is either wholly there or absent),
the voted result per problem, and every model request/response pair keyed by a hash of the
exact request (the response cache that makes a resumed sample replay its model calls).

The file is in WAL mode: a run killed at any moment (SIGKILL included) keeps every committed
sample, and readers (reports, the viewer: ``RunStore.read``) can open it while the run goes on.
One process writes it at a time, and only a file that is a run (its application id) is ever
written; every SQLite error is a one-line StoreError naming the file (see
:mod:`verimath.storage`).

A run file is a database anyone can edit: it is opened only if it holds nothing but
verimath's own tables, every statement is bounded (:mod:`verimath.run_sql`) and every row is
checked as it is decoded into its record (:mod:`verimath.run_rows`), so that a value that does
not fit is a StoreError naming the table, the row and the column.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from verimath.datasets import Problem
from verimath.datasets.identity import problem_digest
from verimath.errors import RunConfigMismatchError, StoreError
from verimath.grading import Status
from verimath.models import Message
from verimath.run_records import (
    CellRecord,
    FailureRecord,
    ProblemRecord,
    RecordedConfig,
    SampleRecord,
    SampleStats,
    TurnRecord,
    Versions,
    VoteRecord,
    checked_config,
    results_config,
)
from verimath.run_rows import (
    CHANGED_OUTSIDE,
    StoredRow,
    cell_record,
    failure_record,
    message_list,
    problem_record,
    sample_record,
    turn_record,
    vote_record,
)
from verimath.run_sql import RunConnection
from verimath.storage import WriterLock, open_for_reading, open_for_writing
from verimath.trajectory import Trajectory

__all__ = ["SCHEMA_VERSION", "RunStore", "VoteRecord", "request_key"]

SCHEMA_VERSION = 4
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS problems (
    problem_id TEXT PRIMARY KEY, position INTEGER NOT NULL, question TEXT NOT NULL,
    gold TEXT NOT NULL, dataset TEXT NOT NULL, subject TEXT, level INTEGER, meta TEXT,
    content_sha256 TEXT
);
CREATE TABLE IF NOT EXISTS samples (
    problem_id TEXT NOT NULL, sample_index INTEGER NOT NULL, answer TEXT, answer_method TEXT,
    state TEXT NOT NULL, evidence TEXT, grade TEXT NOT NULL, code_executions INTEGER NOT NULL,
    code_refusals INTEGER NOT NULL, rule_violations INTEGER NOT NULL, revisions INTEGER NOT NULL,
    stop_reason TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
    cost_usd REAL, duration_s REAL NOT NULL, messages TEXT NOT NULL, finished_at REAL NOT NULL,
    sandbox_seed INTEGER, PRIMARY KEY (problem_id, sample_index)
);
CREATE TABLE IF NOT EXISTS turns (
    problem_id TEXT NOT NULL, sample_index INTEGER NOT NULL, turn_index INTEGER NOT NULL,
    content TEXT NOT NULL, tool_calls TEXT, finish_reason TEXT, prompt_tokens INTEGER,
    completion_tokens INTEGER, cost_usd REAL, latency_s REAL,
    PRIMARY KEY (problem_id, sample_index, turn_index)
);
CREATE TABLE IF NOT EXISTS cells (
    problem_id TEXT NOT NULL, sample_index INTEGER NOT NULL, cell_index INTEGER NOT NULL,
    turn_index INTEGER NOT NULL, code TEXT NOT NULL, output TEXT NOT NULL, status TEXT NOT NULL,
    duration_s REAL NOT NULL, cpu_s REAL NOT NULL,
    PRIMARY KEY (problem_id, sample_index, cell_index)
);
CREATE TABLE IF NOT EXISTS votes (
    problem_id TEXT PRIMARY KEY, answer TEXT, grade TEXT NOT NULL, plain_answer TEXT,
    plain_grade TEXT NOT NULL, samples_used INTEGER NOT NULL, classes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    problem_id TEXT NOT NULL, sample_index INTEGER NOT NULL, error TEXT NOT NULL,
    failed_at REAL NOT NULL, kind TEXT
);
CREATE TABLE IF NOT EXISTS responses (
    request_key TEXT PRIMARY KEY, request BLOB NOT NULL, response BLOB NOT NULL,
    created_at REAL NOT NULL
);
"""


def _add_failure_kinds(db: RunConnection) -> None:
    # Version 1 files made by 0.1 have no kind; later version 1 files may have added it.
    if "kind" not in {row[1] for row in db.execute("PRAGMA table_info(failures)")}:
        db.execute("ALTER TABLE failures ADD COLUMN kind TEXT")


def _add_sandbox_seeds(db: RunConnection) -> None:
    # The seed of each sample's sandbox random generators; NULL for samples stored before.
    if "sandbox_seed" not in {row[1] for row in db.execute("PRAGMA table_info(samples)")}:
        db.execute("ALTER TABLE samples ADD COLUMN sandbox_seed INTEGER")


def _add_problem_digests(db: RunConnection) -> None:
    # Older files know their problems by id only: the digests are filled in on resume.
    if "content_sha256" not in {row[1] for row in db.execute("PRAGMA table_info(problems)")}:
        db.execute("ALTER TABLE problems ADD COLUMN content_sha256 TEXT")


MIGRATIONS: dict[int, Callable[[RunConnection], None]] = {
    1: _add_failure_kinds,
    2: _add_sandbox_seeds,
    3: _add_problem_digests,
}
"""What brings a run file of schema version v (the key) to version v + 1, in one transaction."""

SAMPLE_COLUMNS = (
    "problem_id", "sample_index", "answer", "answer_method", "state", "evidence", "grade",
    "code_executions", "code_refusals", "rule_violations", "revisions", "stop_reason",
    "prompt_tokens", "completion_tokens", "cost_usd", "duration_s", "finished_at",
)  # fmt: skip
"""The ``samples`` columns of a :class:`SampleRecord`: all but ``messages``."""
TURN_COLUMNS = (
    "problem_id, sample_index, turn_index, content, tool_calls, finish_reason, prompt_tokens, "
    "completion_tokens, cost_usd, latency_s"
)
CELL_COLUMNS = (
    "problem_id, sample_index, cell_index, turn_index, code, output, status, duration_s, cpu_s"
)
_Record = TypeVar("_Record")
_Checked = TypeVar("_Checked")


def request_key(request: Mapping[str, object]) -> str:
    """The cache key of a model request: sha256 of its canonical JSON."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, ensure_ascii=False).encode(), 6)


class RunStore:
    """One run's SQLite file. Not thread-safe: use it from one thread (the event loop's)."""

    def __init__(self, path: str | Path, *, readonly: bool = False, new: bool = False) -> None:
        """Open (or create) the run at ``path`` for writing, under its writer lock; with
        ``new``, an earlier run there is first moved aside; with ``readonly``, open an existing
        run for reading only, without lock, leaving the file exactly as it was. StoreError (one
        line naming the file and what to do) if the file is not a run verimath can use (another
        kind of file, a run of a newer schema, damaged pages); RunLockedError if another
        process writes it."""
        self.path = Path(path)
        self._lock: WriterLock | None = None
        if readonly:
            self._db = RunConnection(open_for_reading(self.path), self.path)
        else:
            db, self._lock = open_for_writing(self.path, fresh=new)
            self._db = RunConnection(db, self.path)
        try:
            if not readonly:
                self._db.executescript(SCHEMA)
            self._check_schema(readonly)
        except BaseException:
            self.close()
            raise
        self._files = None if readonly else _file_ids(self.path)

    @classmethod
    def read(cls, path: str | Path) -> RunStore:
        """The run at ``path`` for reading (reports, the viewer, replay): nothing is written;
        StoreError if it is missing or not a verimath run."""
        path = Path(path)
        if not path.is_file():
            raise StoreError(
                f"{path}: no such run file; runs are made by 'verimath eval ... --run'"
            )
        return cls(path, readonly=True)

    def _check_schema(self, readonly: bool) -> None:
        """A file of another kind, or of a schema this version cannot read, is refused."""
        found = self.meta("schema_version")
        is_run = found is not None or self.meta("config") is not None
        if readonly and not is_run:
            raise StoreError(
                f"{self.path} is not a verimath run (no config in a meta table); pass a file "
                "written by 'verimath eval'"
            )
        if found is None and is_run:
            found = 1  # the first runs recorded no version
        if found is not None and (type(found) is not int or found < 1):
            raise StoreError(
                f"{self.path}: its schema_version ({found!r}) is not a version number; "
                + CHANGED_OUTSIDE
            )
        if found is not None and found > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} is a run of schema version {found}, written by a newer verimath; "
                f"this one reads versions up to {SCHEMA_VERSION}. Upgrade verimath, or start a "
                "new run (--new)."
            )
        if found is not None and found < SCHEMA_VERSION and not readonly:
            self._migrate(found)

    def _migrate(self, found: int) -> None:
        """Bring a run of an older schema to this one, one version at a time (readers cope
        with older files as they are: nothing is written to a file opened for reading)."""
        with self._transaction():
            for version in range(found, SCHEMA_VERSION):
                MIGRATIONS[version](self._db)
            self.set_meta("schema_version", SCHEMA_VERSION)

    def check_in_place(self) -> None:
        """StoreError when the run file (or its write-ahead log) was deleted or replaced
        since this store opened it: what is written now would reach no file."""
        if self._files is None:
            return
        now = _file_ids(self.path)
        if all(old is None or old == new for old, new in zip(self._files, now, strict=True)):
            self._files = now  # a log created since the file was opened is the run's own
            return
        raise StoreError(
            f"{self.path} was deleted or replaced while this run was writing it, so the "
            "samples it held are no longer there and new ones would be lost; the run stops. "
            "Restore the file, or rerun the same command to start again in a new file there"
        )

    def close(self) -> None:
        try:
            self._db.close()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def _kind(self) -> str:
        """The failures' kind column, or NULL in a run file (read as it is) from before it."""
        return "kind" if "kind" in self._columns("failures") else "NULL AS kind"

    def _columns(self, table: str) -> set[str]:
        return {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- config -----------------------------------------------------------------------------

    def meta(self, key: str) -> Any:
        row = self._meta_row(key)
        return None if row is None else row.json("value")

    def _meta_row(self, key: str) -> StoredRow | None:
        cursor = self._db.execute("SELECT key, value FROM meta WHERE key = ?", (key,))
        row = cursor.fetchone()
        return None if row is None else StoredRow.of(self.path, "meta", cursor.columns, row)

    def config(self) -> RecordedConfig:
        """The run's recorded config (empty before ``bind_config``)."""
        return self._checked_config()

    def _checked_config(self) -> RecordedConfig:
        row = self._meta_row("config")
        if row is None:
            return checked_config({})
        return row.shaped("value", row.json("value"), checked_config)

    def versions(self) -> Versions:
        """The package versions recorded when the run started."""
        versions = self.meta("versions") or {}
        if not isinstance(versions, dict):
            raise StoreError(f"{self.path}: its recorded versions are not a JSON object")
        return {str(k): None if v is None else str(v) for k, v in versions.items()}

    def set_meta(self, key: str, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def bind_config(self, config: RecordedConfig, versions: Versions) -> bool:
        """Record the run's config, or check it equals the recorded one; True when resuming."""
        if self._meta_row("config") is None:
            with self._transaction():
                self.set_meta("schema_version", SCHEMA_VERSION)
                self.set_meta("config", config)
                self.set_meta("versions", versions)
                self.set_meta("created_at", time.time())
            return False
        recorded = cast(dict[str, object], self._checked_config())
        before, now = results_config(recorded), results_config(cast(dict[str, object], config))
        if before != now:
            changed = sorted(k for k in {*before, *now} if before.get(k) != now.get(k))
            details = "; ".join(f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in changed)
            raise RunConfigMismatchError(
                f"{self.path} holds a run with a different config ({details}). Rerun with the "
                "same options to resume it, pass --new to start over (the old file is kept "
                "beside it), or choose another file with --run."
            )
        self.set_meta("resumed_versions", versions)
        return True

    def record_start(self, served: Mapping[str, object]) -> None:
        """Where a new run is served (URLs, concurrency, retries...): see :meth:`record_resume`."""
        self.set_meta("served", dict(served))

    def record_resume(self, served: Mapping[str, object], versions: Versions) -> list[str]:
        """Record a resume: where the run is served now and the versions resuming it, each
        change appended to the run's ``resumes`` history; one line per change, to tell."""
        before = self.meta("served")
        before = before if isinstance(before, dict) else {}
        moved = {
            key: [before.get(key), value]
            for key, value in served.items()
            if key in before and before[key] != value
        }
        lines = [f"{key} changed: {old!r} -> {new!r}" for key, (old, new) in moved.items()]
        last = self._last_versions().get("verimath")
        if last != versions.get("verimath"):
            lines.append(
                f"resumed with verimath {versions.get('verimath')} (the run was last written "
                f"by verimath {last}); both are recorded"
            )
        resumes = self.meta("resumes")
        resumes = resumes if isinstance(resumes, list) else []
        resumes.append({"at": time.time(), "versions": versions, "served_changes": moved})
        with self._transaction():
            self.set_meta("resumes", resumes)
            self.set_meta("served", dict(served))
        return lines

    def _last_versions(self) -> Versions:
        """The versions that last wrote the run: of its last resume, else of its start."""
        resumes = self.meta("resumes")
        if isinstance(resumes, list) and resumes and isinstance(resumes[-1], dict):
            last = resumes[-1].get("versions")
            if isinstance(last, dict):
                return {str(k): None if v is None else str(v) for k, v in last.items()}
        return self.versions()

    # --- problems ---------------------------------------------------------------------------

    def add_problems(self, problems: Sequence[Problem]) -> None:
        """Store the run's problems with their content digests (those stored are kept as they
        are: see :meth:`problem_contents` and :meth:`replace_problem`)."""
        rows = [
            (
                p.id,
                i,
                p.question,
                p.answer,
                p.dataset,
                p.subject,
                p.level,
                json.dumps(p.to_dict().get("meta") or {}),
                problem_digest(p.question, p.answer),
            )
            for i, p in enumerate(problems)
        ]
        with self._transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO problems (problem_id, position, question, gold, dataset, "
                "subject, level, meta, content_sha256) VALUES (?,?,?,?,?,?,?,?,?)",
                rows,
            )
            self._fill_digests()

    def _fill_digests(self) -> None:
        """Digests of problems stored by a version that did not record them."""
        query = "SELECT problem_id, question, gold FROM problems WHERE content_sha256 IS NULL"
        rows = [(problem_digest(q, g), p) for p, q, g in self._db.execute(query)]
        self._db.executemany("UPDATE problems SET content_sha256 = ? WHERE problem_id = ?", rows)

    def problem_contents(self) -> dict[str, tuple[str, str]]:
        """(question, gold) of every stored problem, by id."""
        query = "SELECT problem_id, question, gold FROM problems"
        return {str(p): (str(q), str(g)) for p, q, g in self._db.execute(query)}

    def replace_problem(self, problem: Problem) -> None:
        """Store a problem's new question and gold (a resume with ``--regrade``)."""
        digest = problem_digest(problem.question, problem.answer)
        self._db.execute(
            "UPDATE problems SET question = ?, gold = ?, content_sha256 = ? WHERE problem_id = ?",
            (problem.question, problem.answer, digest, problem.id),
        )

    def set_grade(self, problem_id: str, index: int, grade: Status) -> None:
        """Replace a stored sample's grade (its problem's gold changed)."""
        self._db.execute(
            "UPDATE samples SET grade = ? WHERE problem_id = ? AND sample_index = ?",
            (str(grade), problem_id, index),
        )

    def drop_samples(self, problem_id: str) -> None:
        """Forget a problem's samples, vote and failures (its question changed): they are
        drawn again."""
        with self._transaction():
            for table in ("samples", "turns", "cells", "votes", "failures"):
                self._db.execute(f"DELETE FROM {table} WHERE problem_id = ?", (problem_id,))

    def problems(self) -> list[ProblemRecord]:
        """The run's problems in run order."""
        query = (
            "SELECT problem_id, position, question, gold, dataset, subject, level FROM problems "
            "ORDER BY position"
        )
        return self._records(query, (), "problems", problem_record)

    # --- samples ----------------------------------------------------------------------------

    def finished_samples(self) -> dict[str, set[int]]:
        """Sample indices already stored, by problem id."""
        done: dict[str, set[int]] = {}
        for row in self._rows("SELECT problem_id, sample_index FROM samples", (), "samples"):
            done.setdefault(row.text("problem_id"), set()).add(row.integer("sample_index"))
        return done

    def add_sample(
        self,
        problem_id: str,
        index: int,
        trajectory: Trajectory,
        grade: Status,
        *,
        sandbox_seed: int | None = None,
    ) -> None:
        """Store one finished sample with its turns and cells, atomically; ``sandbox_seed``:
        the seed its sandbox session's random generators were given."""
        t = trajectory
        row = (
            problem_id,
            index,
            t.answer,
            t.answer_method,
            str(t.verification.state),
            json.dumps(list(t.verification.evidence)),
            str(grade),
            t.code_executions,
            t.code_refusals,
            t.rule_violations,
            t.revisions,
            t.stop_reason,
            t.prompt_tokens,
            t.completion_tokens,
            t.cost_usd,
            t.duration_s,
            json.dumps([_message_dict(m) for m in t.messages], ensure_ascii=False),
            time.time(),
            sandbox_seed,
        )
        turns = [
            (
                problem_id,
                index,
                i,
                turn.content,
                json.dumps([c.__dict__ for c in turn.tool_calls]) if turn.tool_calls else None,
                turn.finish_reason,
                turn.prompt_tokens,
                turn.completion_tokens,
                turn.cost_usd,
                turn.latency_s,
            )
            for i, turn in enumerate(t.turns)
        ]
        cells = [
            (problem_id, index, i, c.turn, c.code, c.output, c.status, c.duration_s, c.cpu_s)
            for i, c in enumerate(t.cells)
        ]
        with self._transaction():
            self._db.execute(f"INSERT INTO samples VALUES ({','.join('?' * len(row))})", row)
            self._db.executemany("INSERT INTO turns VALUES (?,?,?,?,?,?,?,?,?,?)", turns)
            self._db.executemany("INSERT INTO cells VALUES (?,?,?,?,?,?,?,?,?)", cells)

    def add_failure(self, problem_id: str, index: int, kind: str, error: str) -> None:
        """Record that a sample attempt failed: ``kind`` (the error's class) and message."""
        self._db.execute(
            "INSERT INTO failures (problem_id, sample_index, kind, error, failed_at) "
            "VALUES (?,?,?,?,?)",
            (problem_id, index, kind, error, time.time()),
        )

    def missing_failures(self) -> list[tuple[str, int, str, str]]:
        """The last failure of every sample still missing: (problem id, index, kind, error),
        in problem then sample order."""
        # one pass over the failures: SQLite takes a bare column of a MAX() group from the
        # row that holds the maximum (a correlated subquery per row would be quadratic)
        query = (
            f"SELECT f.problem_id, f.sample_index, COALESCE(f.kind, 'error') AS kind, f.error, "
            "f.failed_at FROM (SELECT problem_id, sample_index, "
            f"{self._kind()}, error, MAX(failed_at) AS failed_at FROM failures "
            "GROUP BY problem_id, sample_index) f JOIN problems p USING (problem_id) "
            "WHERE NOT EXISTS (SELECT 1 FROM samples s WHERE s.problem_id = f.problem_id "
            "AND s.sample_index = f.sample_index) ORDER BY p.position, f.sample_index"
        )
        return [
            (r.text("problem_id"), r.integer("sample_index"), r.text("kind"), r.text("error"))
            for r in self._rows(query, (), "failures")
        ]

    def samples(
        self, problem_id: str | None = None, *, below: int | None = None
    ) -> list[SampleRecord]:
        """Stored samples (without messages), in problem then sample order; ``below``: only
        sample indices under it (a run's k)."""
        # every column but the conversation, which is the bulk of a row and read on its own
        columns = ", ".join(f"s.{name}" for name in SAMPLE_COLUMNS)
        where, arguments = _where(("s.problem_id = ?", problem_id), ("s.sample_index < ?", below))
        query = (
            f"SELECT {columns} FROM samples s JOIN problems p USING (problem_id){where} "
            "ORDER BY p.position, s.sample_index"
        )
        return self._records(query, arguments, "samples", sample_record)

    def sandbox_seeds(self) -> dict[tuple[str, int], int]:
        """The seed each stored sample's sandbox session was given, by (problem id, index);
        samples stored before seeds were recorded are absent."""
        if "sandbox_seed" not in self._columns("samples"):
            return {}
        query = (
            "SELECT problem_id, sample_index, sandbox_seed FROM samples "
            "WHERE sandbox_seed IS NOT NULL"
        )
        rows = self._rows(query, (), "samples")
        return {
            (row.text("problem_id"), row.integer("sample_index")): row.integer("sandbox_seed")
            for row in rows
        }

    def messages(self, problem_id: str, index: int) -> tuple[Message, ...]:
        """The sample's conversation as sent to and received from the model."""
        query = (
            "SELECT problem_id, sample_index, messages FROM samples "
            "WHERE problem_id = ? AND sample_index = ?"
        )
        rows = self._records(query, (problem_id, index), "samples", message_list)
        return rows[0] if rows else ()

    def cells(self, problem_id: str, index: int) -> list[CellRecord]:
        """The sample's cells in the order they ran."""
        query = (
            f"SELECT {CELL_COLUMNS} FROM cells WHERE problem_id = ? AND sample_index = ? "
            "ORDER BY cell_index"
        )
        return self._records(query, (problem_id, index), "cells", cell_record)

    def iter_turns(self) -> Iterator[TurnRecord]:
        """Every model turn of the run, in problem, sample and turn order, read lazily."""
        columns = ", ".join(f"t.{c}" for c in TURN_COLUMNS.split(", "))
        query = (
            f"SELECT {columns} FROM turns t JOIN problems p USING (problem_id) "
            "ORDER BY p.position, t.sample_index, t.turn_index"
        )
        return (turn_record(row) for row in self._rows(query, (), "turns"))

    def iter_cells(self) -> Iterator[CellRecord]:
        """Every cell of the run, in problem, sample and cell order, read lazily."""
        columns = ", ".join(f"c.{c}" for c in CELL_COLUMNS.split(", "))
        query = (
            f"SELECT {columns} FROM cells c JOIN problems p USING (problem_id) "
            "ORDER BY p.position, c.sample_index, c.cell_index"
        )
        return (cell_record(row) for row in self._rows(query, (), "cells"))

    def sample_stats(self) -> dict[tuple[str, int], SampleStats]:
        """Per (problem id, sample index): turns, model and code time, cells per status;
        one aggregate query each, not one per sample."""
        statuses: dict[tuple[str, int], dict[str, int]] = {}
        query = (
            "SELECT problem_id, sample_index, status, COUNT(*) AS cells FROM cells GROUP BY 1, 2, 3"
        )
        for row in self._rows(query, (), "cells"):
            key = (row.text("problem_id"), row.integer("sample_index"))
            statuses.setdefault(key, {})[row.text("status")] = row.integer("cells")
        code_time = self._sums("cells", "duration_s")
        model_time = self._sums("turns", "COALESCE(latency_s, 0)")
        turns = self._sums("turns", "1")
        return {
            key: SampleStats(
                int(turns.get(key, 0)),
                model_time.get(key, 0.0),
                code_time.get(key, 0.0),
                statuses.get(key, {}),
            )
            for key in {*statuses, *code_time, *model_time, *turns}
        }

    def _sums(self, table: str, expression: str) -> dict[tuple[str, int], float]:
        query = (
            f"SELECT problem_id, sample_index, TOTAL({expression}) AS {table}_total FROM {table} "
            "GROUP BY 1, 2"
        )
        return {
            (row.text("problem_id"), row.integer("sample_index")): row.number(f"{table}_total")
            for row in self._rows(query, (), table)
        }

    def failures(self) -> list[FailureRecord]:
        """Failed sample attempts in the order they happened."""
        query = (
            f"SELECT problem_id, sample_index, error, failed_at, {self._kind()} FROM failures "
            "ORDER BY failed_at"
        )
        return self._records(query, (), "failures", failure_record)

    def _records(
        self,
        query: str,
        arguments: Sequence[object],
        table: str,
        make: Callable[[StoredRow], _Record],
    ) -> list[_Record]:
        """Every row of ``query`` (on ``table``) decoded by ``make``, which checks its values."""
        return [make(row) for row in self._rows(query, arguments, table)]

    def _rows(self, query: str, arguments: Sequence[object], table: str) -> Iterator[StoredRow]:
        cursor = self._db.execute(query, arguments)
        for row in cursor:
            yield StoredRow.of(self.path, table, cursor.columns, row)

    # --- votes ------------------------------------------------------------------------------

    def set_vote(self, vote: VoteRecord) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO votes VALUES (?,?,?,?,?,?,?)",
            (
                vote.problem_id,
                vote.answer,
                str(vote.grade),
                vote.plain_answer,
                str(vote.plain_grade),
                vote.samples_used,
                json.dumps([c.to_dict() for c in vote.classes], ensure_ascii=False),
            ),
        )

    def votes(self) -> list[VoteRecord]:
        """The voted problems in run order."""
        columns = "problem_id, answer, grade, plain_answer, plain_grade, samples_used, classes"
        query = (
            f"SELECT {', '.join(f'v.{c}' for c in columns.split(', '))} FROM votes v "
            "JOIN problems p USING (problem_id) ORDER BY p.position"
        )
        return self._records(query, (), "votes", vote_record)

    # --- response cache -----------------------------------------------------------------------

    def cached_response(self, key: str, check: Callable[[Any], _Checked]) -> _Checked | None:
        """The response cached under ``key`` (None if there is none), as ``check`` makes it of
        the stored JSON; what ``check`` refuses (``ValueError``, ``TypeError``, ``KeyError``)
        is a StoreError naming the row. The blob inflates to at most
        :data:`~verimath.run_rows.MAX_BLOB_BYTES`."""
        query = "SELECT request_key, response FROM responses WHERE request_key = ?"
        row = next(self._rows(query, (key,), "responses"), None)
        return None if row is None else row.shaped("response", row.packed("response"), check)

    def cache_response(self, key: str, request: Mapping[str, object], response: Any) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO responses VALUES (?,?,?,?)",
            (key, _pack(request), _pack(response), time.time()),
        )

    def counts(self) -> dict[str, int]:
        tables = ("problems", "samples", "turns", "cells", "votes", "failures", "responses")
        return {t: self._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: RunConnection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
            return
        with contextlib.suppress(StoreError):  # the error that got us here is the one to tell
            self._db.execute("ROLLBACK")


def _file_ids(path: Path) -> tuple[tuple[int, int] | None, ...]:
    """(device, inode) of the run file and its write-ahead log; None for one that is absent."""
    ids: list[tuple[int, int] | None] = []
    for suffix in ("", "-wal"):
        try:
            found = os.stat(f"{path}{suffix}")
        except OSError:
            ids.append(None)
        else:
            ids.append((found.st_dev, found.st_ino))
    return tuple(ids)


def _message_dict(message: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        data["tool_calls"] = [c.__dict__ for c in message.tool_calls]
    if message.tool_call_id:
        data["tool_call_id"] = message.tool_call_id
    return data


def _where(*conditions: tuple[str, object]) -> tuple[str, tuple[object, ...]]:
    """A WHERE clause of the conditions whose argument is not None, and those arguments."""
    used = [(clause, argument) for clause, argument in conditions if argument is not None]
    if not used:
        return "", ()
    return " WHERE " + " AND ".join(c for c, _ in used), tuple(a for _, a in used)
