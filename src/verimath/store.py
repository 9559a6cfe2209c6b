"""The run store: one SQLite file per run, crash-safe and resumable.

Everything a run produces goes here as soon as it exists: the config and package versions
(``meta``), the problems, every finished sample with its turns, cells, answer, verification
state and grade (one transaction per sample, so a sample is either wholly there or absent),
the voted result per problem, and every model request/response pair keyed by a hash of the
exact request (the response cache that makes a resumed sample replay its model calls).

The file is in WAL mode: a run killed at any moment (SIGKILL included) keeps every committed
sample, and readers (reports, the viewer) can open it while the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verimath.datasets import Problem
from verimath.errors import RunConfigMismatchError, StoreError
from verimath.trajectory import Trajectory

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS problems (
    problem_id TEXT PRIMARY KEY, position INTEGER NOT NULL, question TEXT NOT NULL,
    gold TEXT NOT NULL, dataset TEXT NOT NULL, subject TEXT, level INTEGER, meta TEXT
);
CREATE TABLE IF NOT EXISTS samples (
    problem_id TEXT NOT NULL, sample_index INTEGER NOT NULL, answer TEXT, answer_method TEXT,
    state TEXT NOT NULL, evidence TEXT, grade TEXT NOT NULL, code_executions INTEGER NOT NULL,
    code_refusals INTEGER NOT NULL, rule_violations INTEGER NOT NULL, revisions INTEGER NOT NULL,
    stop_reason TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
    cost_usd REAL, duration_s REAL NOT NULL, messages TEXT NOT NULL, finished_at REAL NOT NULL,
    PRIMARY KEY (problem_id, sample_index)
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
    failed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS responses (
    request_key TEXT PRIMARY KEY, request BLOB NOT NULL, response BLOB NOT NULL,
    created_at REAL NOT NULL
);
"""


SAMPLE_SUMMARY_COLUMNS = (
    "problem_id", "sample_index", "answer", "answer_method", "state", "evidence", "grade",
    "code_executions", "code_refusals", "rule_violations", "revisions", "stop_reason",
    "prompt_tokens", "completion_tokens", "cost_usd", "duration_s", "finished_at",
)  # fmt: skip
"""The ``samples`` columns ``RunStore.samples`` returns: all but ``messages``."""


def request_key(request: dict[str, Any]) -> str:
    """The cache key of a model request: sha256 of its canonical JSON."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, ensure_ascii=False).encode(), 6)


def _unpack(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))


@dataclass(frozen=True)
class VoteRecord:
    """The voted outcome of one problem, as stored."""

    problem_id: str
    answer: str | None
    grade: str
    plain_answer: str | None
    plain_grade: str
    samples_used: int
    classes: list[dict[str, Any]]


class RunStore:
    """One run's SQLite file. Not thread-safe: use it from one thread (the event loop's)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open run store {self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- config -----------------------------------------------------------------------------

    def meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def bind_config(self, config: dict[str, Any], versions: dict[str, Any]) -> bool:
        """Record the run's config, or check it equals the recorded one; True when resuming."""
        recorded = self.meta("config")
        if recorded is None:
            with self._transaction():
                self.set_meta("schema_version", SCHEMA_VERSION)
                self.set_meta("config", config)
                self.set_meta("versions", versions)
                self.set_meta("created_at", time.time())
            return False
        if recorded != config:
            changed = sorted(k for k in {*recorded, *config} if recorded.get(k) != config.get(k))
            details = "; ".join(f"{k}: {recorded.get(k)!r} -> {config.get(k)!r}" for k in changed)
            raise RunConfigMismatchError(
                f"{self.path} holds a run with a different config ({details}). Rerun with the "
                "same options to resume it, pass --new to start over (the old file is kept "
                "beside it), or choose another file with --run."
            )
        self.set_meta("resumed_versions", versions)
        return True

    # --- problems ---------------------------------------------------------------------------

    def add_problems(self, problems: Sequence[Problem]) -> None:
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
            )
            for i, p in enumerate(problems)
        ]
        with self._transaction():
            self._db.executemany("INSERT OR IGNORE INTO problems VALUES (?,?,?,?,?,?,?,?)", rows)

    def problems(self) -> list[dict[str, Any]]:
        cursor = self._db.execute(
            "SELECT problem_id, question, gold, dataset, subject, level FROM problems "
            "ORDER BY position"
        )
        keys = ("problem_id", "question", "gold", "dataset", "subject", "level")
        return [dict(zip(keys, row, strict=True)) for row in cursor]

    # --- samples ----------------------------------------------------------------------------

    def finished_samples(self) -> dict[str, set[int]]:
        """Sample indices already stored, by problem id."""
        done: dict[str, set[int]] = {}
        for problem_id, index in self._db.execute("SELECT problem_id, sample_index FROM samples"):
            done.setdefault(problem_id, set()).add(index)
        return done

    def add_sample(self, problem_id: str, index: int, trajectory: Trajectory, grade: str) -> None:
        """Store one finished sample with its turns and cells, atomically."""
        t = trajectory
        row = (
            problem_id,
            index,
            t.answer,
            t.answer_method,
            str(t.verification.state),
            json.dumps(list(t.verification.evidence)),
            grade,
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

    def add_failure(self, problem_id: str, index: int, error: str) -> None:
        self._db.execute(
            "INSERT INTO failures VALUES (?,?,?,?)", (problem_id, index, error, time.time())
        )

    def samples(self, problem_id: str | None = None) -> list[dict[str, Any]]:
        """Stored samples (without messages), in problem then sample order."""
        # every column but the conversation, which is the bulk of a row and read on its own
        columns = ", ".join(f"s.{name}" for name in SAMPLE_SUMMARY_COLUMNS)
        query = (
            f"SELECT {columns}, p.position FROM samples s JOIN problems p USING (problem_id)"
            + (" WHERE s.problem_id = ?" if problem_id else "")
            + " ORDER BY p.position, s.sample_index"
        )
        cursor = self._db.execute(query, (problem_id,) if problem_id else ())
        names = [d[0] for d in cursor.description]
        rows = []
        for row in cursor:
            record = dict(zip(names, row, strict=True))
            record["evidence"] = json.loads(record["evidence"] or "[]")
            rows.append(record)
        return rows

    def messages(self, problem_id: str, index: int) -> list[dict[str, Any]]:
        row = self._db.execute(
            "SELECT messages FROM samples WHERE problem_id = ? AND sample_index = ?",
            (problem_id, index),
        ).fetchone()
        return json.loads(row[0]) if row else []

    def cells(self, problem_id: str, index: int) -> list[dict[str, Any]]:
        cursor = self._db.execute(
            "SELECT turn_index, code, output, status, duration_s, cpu_s FROM cells "
            "WHERE problem_id = ? AND sample_index = ? ORDER BY cell_index",
            (problem_id, index),
        )
        keys = ("turn_index", "code", "output", "status", "duration_s", "cpu_s")
        return [dict(zip(keys, row, strict=True)) for row in cursor]

    # --- votes ------------------------------------------------------------------------------

    def set_vote(self, vote: VoteRecord) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO votes VALUES (?,?,?,?,?,?,?)",
            (
                vote.problem_id,
                vote.answer,
                vote.grade,
                vote.plain_answer,
                vote.plain_grade,
                vote.samples_used,
                json.dumps(vote.classes, ensure_ascii=False),
            ),
        )

    def votes(self) -> list[VoteRecord]:
        cursor = self._db.execute(
            "SELECT v.* FROM votes v JOIN problems p USING (problem_id) ORDER BY p.position"
        )
        return [
            VoteRecord(pid, answer, grade, plain, plain_grade, used, json.loads(classes))
            for pid, answer, grade, plain, plain_grade, used, classes in cursor
        ]

    # --- response cache -----------------------------------------------------------------------

    def cached_response(self, key: str) -> Any:
        row = self._db.execute(
            "SELECT response FROM responses WHERE request_key = ?", (key,)
        ).fetchone()
        return _unpack(row[0]) if row else None

    def cache_response(self, key: str, request: dict[str, Any], response: Any) -> None:
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
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


def _message_dict(message: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        data["tool_calls"] = [c.__dict__ for c in message.tool_calls]
    if message.tool_call_id:
        data["tool_call_id"] = message.tool_call_id
    return data


def iter_rows(store: RunStore, query: str) -> Iterator[tuple[Any, ...]]:
    """Read-only access for reports: rows of an arbitrary SELECT."""
    yield from store._db.execute(query)
