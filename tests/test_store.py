"""The run store on real SQLite: typed records in, the same typed records out."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from verimath import store as store_module
from verimath.datasets import Problem
from verimath.errors import RunConfigMismatchError, StoreError
from verimath.grading import Status
from verimath.models import Message, ToolCall
from verimath.run_records import (
    CellRecord,
    ProblemRecord,
    SampleRecord,
    VoteClassRecord,
    VoteRecord,
)
from verimath.store import SCHEMA_VERSION, RunStore
from verimath.trajectory import Cell, ModelTurn, Trajectory
from verimath.verification import Verification, VerificationState

PROBLEMS = [
    Problem("p1", "What is 1 + 1?", "2", "gsm8k"),
    Problem("p0", "What is x if 2x = 6?", "3", "math", subject="Algebra", level=2),
]


def trajectory(answer: str | None, state: VerificationState, *, calls: bool = False) -> Trajectory:
    code = "print(1 + 1)"
    call = ToolCall("c1", "python", json.dumps({"code": code}))
    turns = (
        ModelTurn("Let me compute.", (call,) if calls else (), "stop", 10, 5, 0.001, 0.5),
        ModelTurn(f"\\boxed{{{answer}}}", (), "stop", 12, 3, 0.002, 0.25),
    )
    messages = (
        Message("user", "What is 1 + 1?"),
        Message("assistant", "Let me compute.", (call,) if calls else ()),
        Message("tool", "2", tool_call_id="c1") if calls else Message("user", "2"),
        Message("assistant", f"\\boxed{{{answer}}}"),
    )
    return Trajectory(
        problem="What is 1 + 1?",
        strategy="csv",
        tool_style="function" if calls else "fenced",
        messages=messages,
        turns=turns,
        cells=(Cell(code, "2\n", "ok", 0.01, 0, cpu_s=0.005),),
        steps=(),
        answer=answer,
        answer_method="boxed",
        verification=Verification(state, ("printed True",)),
        code_executions=1,
        code_refusals=0,
        rule_violations=0,
        revisions=0,
        stop_reason="answer",
        duration_s=1.5,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    with RunStore(tmp_path / "run.sqlite") as opened:
        opened.bind_config({"samples": 2}, {"verimath": "test"})
        opened.add_problems(PROBLEMS)
        opened.add_sample("p0", 1, trajectory("3", VerificationState.UNCERTAIN), Status.CORRECT)
        opened.add_sample("p0", 0, trajectory("4", VerificationState.FALSE), Status.INCORRECT)
        opened.add_sample(
            "p1", 0, trajectory("2", VerificationState.TRUE, calls=True), Status.CORRECT
        )
        yield opened


def test_problems_come_back_as_records_in_run_order(store: RunStore) -> None:
    assert store.problems() == [
        ProblemRecord("p1", 0, "What is 1 + 1?", "2", "gsm8k", None, None),
        ProblemRecord("p0", 1, "What is x if 2x = 6?", "3", "math", "Algebra", 2),
    ]


def test_samples_are_typed_and_in_problem_then_sample_order(store: RunStore) -> None:
    samples = store.samples()
    assert [(s.problem_id, s.sample_index) for s in samples] == [("p1", 0), ("p0", 0), ("p0", 1)]
    first = samples[0]
    assert isinstance(first, SampleRecord)
    assert first.grade is Status.CORRECT and first.correct
    assert first.state is VerificationState.TRUE
    assert first.evidence == ("printed True",)
    assert (first.prompt_tokens, first.completion_tokens) == (22, 8)
    assert first.cost_usd == pytest.approx(0.003)
    assert [s.sample_index for s in store.samples("p0", below=1)] == [0]


def test_to_dict_keeps_the_stored_text_and_column_order(store: RunStore) -> None:
    data = store.samples("p0")[0].to_dict()
    assert list(data)[:7] == [
        "problem_id",
        "sample_index",
        "answer",
        "answer_method",
        "state",
        "evidence",
        "grade",
    ]
    assert json.loads(json.dumps(data))["grade"] == "incorrect"
    assert type(data["state"]) is str and data["state"] == "False"


def test_messages_turns_and_cells_read_back_as_records(store: RunStore) -> None:
    messages = store.messages("p1", 0)
    assert messages[1].tool_calls == (ToolCall("c1", "python", '{"code": "print(1 + 1)"}'),)
    assert messages[2] == Message("tool", "2", tool_call_id="c1")
    assert store.messages("p1", 5) == ()
    assert store.cells("p0", 0) == [
        CellRecord("p0", 0, 0, 0, "print(1 + 1)", "2\n", "ok", 0.01, 0.005)
    ]
    turns = list(store.iter_turns())
    assert [(t.problem_id, t.sample_index, t.turn_index) for t in turns][:3] == [
        ("p1", 0, 0),
        ("p1", 0, 1),
        ("p0", 0, 0),
    ]
    assert turns[0].tool_calls[0].name == "python"
    assert [c.problem_id for c in store.iter_cells()] == ["p1", "p0", "p0"]


def test_sample_stats_add_up_turns_cells_and_times(store: RunStore) -> None:
    stats = store.sample_stats()[("p0", 1)]
    assert stats.turns == 2
    assert stats.model_time_s == pytest.approx(0.75)
    assert stats.code_time_s == pytest.approx(0.01)
    assert dict(stats.cell_statuses) == {"ok": 1}


def test_votes_round_trip_with_their_classes(store: RunStore) -> None:
    classes = (
        VoteClassRecord("3", 0.5, 0, 1, 0, (1,)),
        VoteClassRecord("4", 0.2, 0, 0, 1, (0,)),
    )
    vote = VoteRecord("p0", "3", Status.CORRECT, "4", Status.INCORRECT, 2, classes)
    store.set_vote(vote)
    assert store.votes() == [vote]
    assert store.votes()[0].correct and not store.votes()[0].plain_correct


def test_failures_are_recorded_in_order(store: RunStore) -> None:
    store.add_failure("p0", 1, "ModelConnectionError", "the server said 500")
    store.add_failure("p1", 1, "TimeoutError", "timed out")
    assert [(f.problem_id, f.sample_index, f.kind, f.error) for f in store.failures()] == [
        ("p0", 1, "ModelConnectionError", "the server said 500"),
        ("p1", 1, "TimeoutError", "timed out"),
    ]
    assert store.counts()["failures"] == 2


def test_a_changed_config_is_refused_with_what_changed(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    with RunStore(path) as store:
        assert store.bind_config({"samples": 2, "model": "a"}, {}) is False
    with RunStore(path) as store:
        assert store.bind_config({"samples": 2, "model": "a"}, {}) is True
        with pytest.raises(RunConfigMismatchError, match=r"model: 'a' -> 'b'"):
            store.bind_config({"samples": 2, "model": "b"}, {})
        assert store.config() == {"samples": 2, "model": "a"}


def test_wave_and_threshold_count_only_for_an_adaptive_run(tmp_path: Path) -> None:
    plain, adaptive = tmp_path / "plain.sqlite", tmp_path / "adaptive.sqlite"
    with RunStore(plain) as store:
        store.bind_config({"samples": 4, "adaptive": None, "wave": 2, "threshold": 0.02}, {})
    with RunStore(plain) as store:  # a version with other defaults resumes it
        assert store.bind_config({"samples": 4, "adaptive": None, "wave": 1, "threshold": 0.05}, {})
    with RunStore(adaptive) as store:
        store.bind_config({"samples": 4, "adaptive": "exact", "wave": 2, "threshold": 0.02}, {})
    with RunStore(adaptive) as store, pytest.raises(RunConfigMismatchError, match="wave: 2 -> 1"):
        store.bind_config({"samples": 4, "adaptive": "exact", "wave": 1, "threshold": 0.02}, {})


def test_a_damaged_meta_table_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    with RunStore(path) as store:
        store.bind_config({"samples": 1}, {})
        store.set_meta("schema_version", "two")
    for opening in (RunStore, RunStore.read):
        with pytest.raises(StoreError, match="not a version number"):
            opening(path)
    with RunStore(tmp_path / "other.sqlite") as store:
        store.set_meta("config", [1, 2])
        with pytest.raises(StoreError, match="not a JSON object"):
            store.config()
        with pytest.raises(StoreError, match="not a JSON object"):
            store.bind_config({"samples": 1}, {})


@pytest.mark.parametrize(
    ("recorded", "said"),
    [
        ({"samples": "abc"}, "samples = 'abc', not a int"),
        ({"samples": True}, "samples = True, not a int"),
        ({"level": [1, "x"]}, "level = [1, 'x'], not a list[int]"),
        ({"adaptive": 3}, "adaptive = 3, not a str | None"),
        ({"weights": "x,y"}, "unusable weights"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_a_recorded_config_that_does_not_fit_is_a_store_error(
    tmp_path: Path, recorded: object, said: str
) -> None:
    path = tmp_path / "run.sqlite"
    with RunStore(path) as store:
        store.set_meta("config", recorded)
    with RunStore.read(path) as reader, pytest.raises(StoreError, match=re.escape(said)):
        reader.config()
    with RunStore(path) as store, pytest.raises(StoreError, match=re.escape(said)):
        store.bind_config({"samples": 1}, {})


def test_reading_leaves_the_file_as_it_was(store: RunStore, tmp_path: Path) -> None:
    store.close()
    path = tmp_path / "run.sqlite"
    before = path.read_bytes()
    with RunStore.read(path) as reader:
        assert len(reader.samples()) == 3
        with pytest.raises(StoreError, match="readonly"):
            reader.set_meta("x", 1)
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_run_is_refused_on_read(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such run file"):
        RunStore.read(tmp_path / "missing.sqlite")
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="is not a verimath run"):
        RunStore.read(other)
    text = tmp_path / "notes.sqlite"
    text.write_text("hello")
    with pytest.raises(StoreError):
        RunStore.read(text)
    assert text.read_text() == "hello"


def test_a_run_of_another_schema_version_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    with RunStore(path) as store:
        store.bind_config({"samples": 1}, {})
        store.set_meta("schema_version", SCHEMA_VERSION + 1)
    for opening in (RunStore, RunStore.read):
        with pytest.raises(StoreError, match=rf"schema version {SCHEMA_VERSION + 1}, written"):
            opening(path)


def test_a_run_of_an_older_schema_is_migrated_when_opened_for_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "run.sqlite"
    with RunStore(path) as store:
        store.bind_config({"samples": 1}, {})
        store.set_meta("schema_version", SCHEMA_VERSION - 1)

    def migration(db: Any) -> None:
        db.execute("CREATE TABLE migrated (x)")

    monkeypatch.setitem(store_module.MIGRATIONS, SCHEMA_VERSION - 1, migration)
    with RunStore.read(path) as reader:  # readers take an older file as it is
        assert reader.meta("schema_version") == SCHEMA_VERSION - 1
    with RunStore(path) as store:
        assert store.meta("schema_version") == SCHEMA_VERSION
        assert store._db.execute("SELECT COUNT(*) FROM migrated").fetchone() == (0,)


def test_an_unknown_grade_in_the_file_is_a_store_error(store: RunStore) -> None:
    store._db.execute("UPDATE samples SET grade = 'almost' WHERE problem_id = 'p1'")
    with pytest.raises(StoreError, match="column grade"):
        store.samples()
