"""Fuzzing the file edges: run files, transcripts, datasets and grade input, as anyone could
make them, through the commands that read them.

Property, for every generated input: the command ends with exit 0, 2 or 3; an error is one
line (a VerimathError, never another exception or a traceback); a run file read by ``report``,
``view`` or ``tune-weights`` is left as it was, and a resumed ``eval`` keeps every finished
sample; memory stays bounded (the test process's peak grows little, and a few real
``verimath`` processes are measured by the kernel). Most examples run in process through
click's CliRunner, for speed; ``test_real_processes_*`` run the real command.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import resource
import socket
import sqlite3
import sys
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile_files import RunMaker, no_traceback, run_maker, run_measured
from verimath.cli import cli
from verimath.errors import VerimathError

MiB = 1 << 20
OUTCOMES: Counter[str] = Counter()
"""How the commands ended, over the session (printed with ``-s``: is the fuzz reaching both
errors and successful runs?)."""
RSS_GROWTH_KIB = 320 * 1024
"""Peak growth allowed while fuzzing in this process: a value at the run file's 32 MiB cap is
held by SQLite, copied, inflated and decoded (several copies at once, about 200 MiB seen in a
full test run); a reader without bounds reaches gigabytes on the bombs."""
"""How much the test process's own peak may grow over a whole fuzz test."""
CHILD_RSS_KIB = 512 * 1024
"""Peak of one real ``verimath`` process on a fuzzed input (a normal run holds about 130 MiB)."""
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def fuzz(examples: int) -> settings:
    """The fuzz settings with ``examples`` inputs: tuned so the whole file runs in about a
    minute on two loaded cores."""
    return settings(FUZZ, max_examples=examples)


BOMB_ZLIB = zlib.compress(b'[{"content": "' + b"A" * 40 * MiB, 9)
"""Inflates past the 32 MiB cap of a run file's blob."""
BOMB_GZIP = gzip.compress(b'{"question": "' + b"A" * 20 * MiB, 9)
"""One line past every line cap of the file readers (8 and 16 MiB)."""


# --- running a command in process ------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    code: int
    output: str
    error: BaseException | None


def invoke(*args: str) -> Outcome:
    """``verimath ARGS`` in this process, with the exit code ``verimath.cli.main`` would give,
    checked against the property: exit 0/2/3, an error is one line, no traceback."""
    result = CliRunner().invoke(cli, list(args), auto_envvar_prefix="VERIMATH")
    error = result.exception
    if error is None or isinstance(error, SystemExit):
        code = result.exit_code
    elif isinstance(error, VerimathError) or (isinstance(error, OSError) and error.filename):
        code = 2
        assert "\n" not in str(error), str(error)
    else:  # what main() would let through as a traceback
        raise AssertionError(f"{args}: uncaught {error!r}") from error
    assert code in (0, 2, 3), (args, code, result.output)
    assert no_traceback(result.output), result.output
    OUTCOMES[f"{args[0]} exit {code}: {type(error).__name__ if code == 2 else 'ok'}"] += 1
    return Outcome(code, result.output, error)


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What would print "Exception ignored ..." at exit: fails the test at its end."""
    seen: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(repr(u.exc_value)))
    yield seen
    assert not seen, seen


@pytest.fixture(scope="module", autouse=True)
def outcomes() -> Iterator[None]:
    yield
    print("\n".join(f"{count:4} {what}" for what, count in sorted(OUTCOMES.items())))


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunMaker]:
    with run_maker(tmp_path_factory.mktemp("fuzz")) as maker:
        yield maker


@pytest.fixture(scope="module")
def dead_model() -> str:
    """A model URL nothing listens on: eval reads its dataset, then stops at the server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"openai:tiny@http://127.0.0.1:{port}/v1"


# --- generated values --------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
deep_json = st.integers(min_value=60, max_value=50_000).map(lambda n: "[" * n + "]" * n)
json_text = json_values.map(json.dumps) | deep_json | st.sampled_from(["{", "[1,", "nul", ""])
sql_values = (
    st.none()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.text(max_size=30)
    | st.binary(max_size=30)
    | json_text
    | json_values.map(lambda v: zlib.compress(json.dumps(v).encode()))
    | st.just(BOMB_ZLIB)
)


def mutate_bytes(data: bytes, cuts: list[tuple[int, bytes]]) -> bytes:
    """``data`` with each (position, bytes) replacing what was there."""
    out = bytearray(data)
    for position, replacement in cuts:
        at = position % (len(out) + 1)
        out[at : at + len(replacement)] = replacement
    return bytes(out)


byte_cuts = st.lists(st.tuples(st.integers(0, 10_000), st.binary(max_size=6)), max_size=4)


@st.composite
def hostile_lines(draw: st.DrawFn, base: list[dict[str, object]]) -> bytes:
    """A JSON-lines file of the base records with one kind of damage, or none: generated
    records or hostile lines among them, mutated bytes, another encoding or compression."""
    lines = [json.dumps(record) for record in base]
    damage = draw(st.sampled_from(["none", "records", "bytes", "encoding"]))
    if damage == "records":
        keys = st.sampled_from(sorted({key for record in base for key in record}))
        for _ in range(draw(st.integers(1, 3))):
            generated = draw(st.dictionaries(keys | st.text(max_size=6), json_values, max_size=5))
            line = draw(st.sampled_from([json.dumps(generated), draw(json_text)]))
            lines.insert(draw(st.integers(0, len(lines))), line)
    data = ("\n".join(lines) + "\n").encode()
    if damage == "bytes":
        data = mutate_bytes(data, draw(byte_cuts))
    if damage == "encoding":
        return draw(st.sampled_from(list(_encodings(data))))
    return data


def _encodings(data: bytes) -> Iterator[bytes]:
    yield b"\xef\xbb\xbf" + data
    yield data.decode("utf-8", "replace").encode("utf-16")
    yield gzip.compress(data)
    yield gzip.compress(data)[:-9]  # truncated
    yield BOMB_GZIP


# --- run files ---------------------------------------------------------------------------------

SCHEMA_CHANGES = [
    "CREATE VIEW v AS SELECT * FROM samples",
    "DROP TABLE votes",
    "CREATE TRIGGER t AFTER INSERT ON samples BEGIN SELECT 1; END",
    "CREATE INDEX i ON cells (status)",
    "CREATE TABLE extra (x)",
    "CREATE VIRTUAL TABLE words USING fts5(x)",
    "ALTER TABLE samples RENAME COLUMN state TO status",
    "ALTER TABLE turns DROP COLUMN latency_s",
    "ANALYZE",
    "DELETE FROM problems",
    "DELETE FROM meta WHERE key = 'config'",
    "UPDATE meta SET key = 'schema_version', value = '99' WHERE key = 'created_at'",
]


@st.composite
def run_mutations(draw: st.DrawFn, columns: dict[str, list[str]]) -> list[tuple[str, tuple]]:
    """One to three changes to a run file, as SQL statements with their parameters."""
    changes: list[tuple[str, tuple]] = []
    for _ in range(draw(st.integers(1, 3))):
        table = draw(st.sampled_from(sorted(columns)))
        column = draw(st.sampled_from(columns[table]))
        value = draw(sql_values)
        row = draw(st.integers(0, 8))
        changes.append(
            draw(
                st.sampled_from(
                    [
                        (
                            f"UPDATE {table} SET {column} = ? WHERE rowid IN "
                            f"(SELECT rowid FROM {table} LIMIT 1 OFFSET {row})",
                            (value,),
                        ),
                        (f"UPDATE {table} SET {column} = ?", (value,)),
                        (draw(st.sampled_from(SCHEMA_CHANGES)), ()),
                        (
                            f"INSERT INTO {table} ({column}) VALUES (?)",
                            (value,),
                        ),
                    ]
                )
            )
        )
    return changes


def table_columns(run: Path) -> dict[str, list[str]]:
    db = sqlite3.connect(run)
    try:
        tables = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: [r[1] for r in db.execute(f"PRAGMA table_info({t})")] for t in tables}
    finally:
        db.close()


def apply(run: Path, changes: list[tuple[str, tuple]]) -> None:
    db = sqlite3.connect(run)
    try:
        for statement, parameters in changes:
            # a change the schema refuses (a NOT NULL, a dropped table) is no change
            with contextlib.suppress(sqlite3.Error):
                db.execute(statement, parameters)
        db.commit()
    finally:
        db.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def finished(run: Path) -> set[tuple[object, object]]:
    db = sqlite3.connect(run)
    try:
        return set(db.execute("SELECT problem_id, sample_index FROM samples"))
    except sqlite3.Error:
        return set()
    finally:
        db.close()


def readers(run: Path) -> list[list[str]]:
    return [
        ["report", str(run), "--format", "json", "--no-plots"],
        ["view", str(run), "--out", str(run.with_suffix(".html"))],
        ["tune-weights", str(run), "--json", "--bootstrap", "100"],
    ]


@pytest.mark.slow
def test_tampered_run_files_through_the_readers(runs: RunMaker, unraisable: list[str]) -> None:
    columns = table_columns(runs.base)
    before = peak_rss_kib()

    @fuzz(40)
    @given(run_mutations(columns))
    def check(changes: list[tuple[str, tuple]]) -> None:
        run = runs.copy()
        apply(run, changes)
        kept = digest(run)
        for args in readers(run):
            invoke(*args)
        assert digest(run) == kept, "a reader changed the run file"

    check()
    assert peak_rss_kib() - before < RSS_GROWTH_KIB


@pytest.mark.slow
def test_tampered_run_files_through_a_resumed_eval(runs: RunMaker, unraisable: list[str]) -> None:
    columns = table_columns(runs.base)
    mutable = {t: c for t, c in columns.items() if t in ("samples", "responses", "meta", "votes")}

    @fuzz(2)
    @given(run_mutations(mutable))
    def check(changes: list[tuple[str, tuple]]) -> None:
        run = runs.copy()
        apply(run, [("DELETE FROM samples WHERE sample_index = 0", ()), *changes])
        kept = finished(run)
        invoke(*runs.eval_args(run))
        assert kept <= finished(run), "a resumed eval lost finished samples"

    check()


# --- transcripts, datasets, grade input ----------------------------------------------------------

SUFFIXES = [".jsonl", ".jsonl.gz", ".ndjson", ".csv", ".csv.gz", ".tsv"]


def dataset_records(count: int = 3) -> list[dict[str, object]]:
    return [{"id": f"p{i}", "question": f"Add {i} and 1.", "answer": i + 1} for i in range(count)]


def written(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def csv_of(records: list[dict[str, object]]) -> bytes:
    lines = ["id,question,answer"] + [f"{r['id']},{r['question']},{r['answer']}" for r in records]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.slow
def test_hostile_datasets_through_eval(
    tmp_path: Path, dead_model: str, unraisable: list[str]
) -> None:
    before = peak_rss_kib()
    counter = iter(range(10**6))

    @fuzz(40)
    @given(
        hostile_lines(dataset_records()),
        st.sampled_from(SUFFIXES),
        byte_cuts,
    )
    def check(data: bytes, suffix: str, cuts: list[tuple[int, bytes]]) -> None:
        n = next(counter)
        if ".csv" in suffix or ".tsv" in suffix:
            data = mutate_bytes(csv_of(dataset_records()), cuts)
            data = gzip.compress(data) if suffix.endswith(".gz") else data
        dataset = written(tmp_path, f"data{n}{suffix}", data)
        run = tmp_path / f"run{n}.sqlite"
        outcome = invoke("eval", str(dataset), "--model", dead_model, "--run", str(run))
        assert outcome.code == 2  # the data, else the server nobody runs, stops it

    check()
    assert peak_rss_kib() - before < RSS_GROWTH_KIB


def transcript_records(runs: RunMaker) -> list[dict[str, object]]:
    questions = [json.loads(line)["question"] for line in runs.data.read_text().splitlines()]
    verimath = [
        {"problem": q, "turns": [f"so \\boxed{{{i + 1}}}"]} for i, q in enumerate(questions)
    ]
    tora = {"idx": 9, "question": "Add 8 and 1.", "gt": "9", "code": ["\\boxed{9}"], "pred": ["9"]}
    mathcoder = {
        "id": "m",
        "ground_truth": {"answer": "1"},
        "completion": "1",
        "debug_result": [{"role": "user", "content": "Add 0 and 1."}],
    }
    return [*verimath, tora, mathcoder]


@pytest.mark.slow
def test_hostile_transcripts_through_replay(
    runs: RunMaker, tmp_path: Path, unraisable: list[str]
) -> None:
    base = transcript_records(runs)
    counter = iter(range(10**6))

    @fuzz(15)
    @given(hostile_lines(base))
    def check(data: bytes) -> None:
        n = next(counter)
        transcript = written(tmp_path, f"replay{n}.jsonl", data)
        run = tmp_path / f"replayed{n}.sqlite"
        outcome = invoke(
            "eval",
            str(runs.data),
            "--model",
            f"replay:{transcript}",
            "--run",
            str(run),
            "-k",
            "1",
            "--limit",
            "1",
        )
        if outcome.code == 0:
            assert finished(run), "a finished replay stored nothing"

    check()


def grade_records() -> list[dict[str, object]]:
    return [
        {"gold": "1", "pred": "so \\boxed{1}"},
        {"gold": 2, "pred": ["2", None, 3.0], "dataset": "gsm8k"},
        {"gold": "\\frac{1}{2}", "pred": "0.5", "dataset": "math"},
    ]


@pytest.mark.slow
def test_hostile_grade_input(tmp_path: Path, unraisable: list[str]) -> None:
    before = peak_rss_kib()
    counter = iter(range(10**6))

    @fuzz(40)
    @given(hostile_lines(grade_records()))
    def check(data: bytes) -> None:
        n = next(counter)
        source = written(tmp_path, f"in{n}.jsonl", data)
        target = tmp_path / f"out{n}.jsonl"
        outcome = invoke(
            "grade", str(source), "-o", str(target), "--workers", "1", "--timeout", "0.5"
        )
        if outcome.code == 0:  # every record graded, none lost
            graded = target.read_text(encoding="utf-8").splitlines()
            assert all("status" in json.loads(line) for line in graded)
            assert len(graded) >= 1

    check()
    assert peak_rss_kib() - before < RSS_GROWTH_KIB


# --- a few real processes ------------------------------------------------------------------------


@pytest.mark.slow
def test_real_processes_on_hostile_files(runs: RunMaker, tmp_path: Path, dead_model: str) -> None:
    columns = table_columns(runs.base)
    counter = iter(range(10**6))
    commands: list[Callable[[bytes, list[tuple[str, tuple]]], list[str]]] = [
        lambda data, _: ["grade", str(written(tmp_path, f"g{next(counter)}.jsonl", data))],
        lambda data, _: [
            "eval",
            str(written(tmp_path, f"d{next(counter)}.jsonl.gz", data)),
            "--model",
            dead_model,
        ],
        lambda _, changes: ["report", str(_tampered(runs, changes)), "--no-plots"],
    ]

    @fuzz(4)
    @given(
        hostile_lines(grade_records()),
        run_mutations(columns),
        st.sampled_from(range(len(commands))),
    )
    def check(data: bytes, changes: list[tuple[str, tuple]], which: int) -> None:
        result = run_measured(*commands[which](data, changes))
        assert result.returncode in (0, 2, 3), result.stderr
        assert no_traceback(result.stderr), result.stderr
        assert result.peak_rss_kib < CHILD_RSS_KIB, result.peak_rss_kib

    check()


def _tampered(runs: RunMaker, changes: list[tuple[str, tuple]]) -> Path:
    run = runs.copy()
    apply(run, changes)
    return run
