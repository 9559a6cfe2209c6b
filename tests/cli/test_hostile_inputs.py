"""Transcripts, datasets and grade input are read within bounds: JSON nested 100,000 deep,
bytes that are not UTF-8, a damaged replayed run file and decompression bombs each end the
command with one error line naming the file (and line), no traceback, bounded memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.cli_helpers import error_line, run_cli, write_problems
from tests.hostile_files import (
    RSS_SLACK_KIB,
    RunMaker,
    gzip_bomb,
    gzip_text,
    no_traceback,
    run_maker,
    run_measured,
    tamper,
)
from tests.models.chat_fault_server import FaultyChatServer

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunMaker]:
    with run_maker(tmp_path_factory.mktemp("inputs")) as maker:
        yield maker


def refused(*args: str) -> str:
    result = run_cli(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert no_traceback(result.stderr), result.stderr
    return error_line(result)


def replay_args(runs: RunMaker, replay: Path) -> list[str]:
    run = runs.root / f"replayed-{replay.name}.sqlite"
    return ["eval", str(runs.data), "--model", f"replay:{replay}", "--run", str(run)]


@pytest.mark.slow
def test_json_nested_100000_deep_is_one_error_everywhere(runs: RunMaker, tmp_path: Path) -> None:
    transcript = tmp_path / "deep.jsonl"
    transcript.write_text('{"problem": "q", "turns": ["a"]}\n' + DEEP + "\n")
    line = refused(*replay_args(runs, transcript))
    assert f"{transcript}:2" in line and "nested deeper than 64" in line

    dataset = tmp_path / "deep-data.jsonl"
    dataset.write_text('{"question": "q", "answer": 1}\n{"question": ' + DEEP + "}\n")
    model = f"openai:tiny@{runs.server.base_url}"
    line = refused("eval", str(dataset), "--model", model, "--run", str(tmp_path / "d.sqlite"))
    assert f"{dataset}:2" in line and "nested deeper than 64" in line

    graded = tmp_path / "deep-grade.jsonl"
    graded.write_text('{"gold": "1", "pred": "1"}\n{"gold": "1", "pred": ' + DEEP + "}\n")
    line = refused("grade", str(graded))
    assert f"{graded}:2" in line and "nested deeper than 64" in line


@pytest.mark.slow
def test_bytes_that_are_not_utf8_are_one_error(runs: RunMaker, tmp_path: Path) -> None:
    transcript = tmp_path / "latin1.jsonl"
    transcript.write_bytes(b'{"problem": "caf\xe9", "turns": ["a"]}\n')
    line = refused(*replay_args(runs, transcript))
    assert f"{transcript}:1" in line and "UTF-8" in line

    graded = tmp_path / "latin1-grade.jsonl"
    graded.write_bytes(b'{"gold": "1", "pred": "1"}\n{"gold": "caf\xe9", "pred": "1"}\n')
    line = refused("grade", str(graded))
    assert f"{graded}:2" in line and "UTF-8" in line


@pytest.mark.slow
@pytest.mark.parametrize(
    ("messages", "said"),
    [
        (
            [
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"id": "c", "name": "python", "arguments": "print(1"}],
                },
            ],
            "not JSON",
        ),
        (
            [
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"id": "c", "name": "python", "arguments": "[1]"}],
                },
            ],
            "no 'code'",
        ),
        ({"role": "user"}, "messages"),
        ("not even json", "messages"),
    ],
)
def test_a_replayed_run_file_that_is_damaged_is_one_error(
    runs: RunMaker, messages: object, said: str
) -> None:
    run = runs.copy()
    text = messages if isinstance(messages, str) else json.dumps(messages)
    tamper(run, "UPDATE samples SET messages = ? WHERE sample_index = 0", parameters=(text,))
    line = refused(*replay_args(runs, run))
    assert str(run) in line and said in line, line


@pytest.mark.slow
def test_a_gzip_dataset_bomb_costs_no_memory(tmp_path: Path) -> None:
    normal = tmp_path / "normal.jsonl.gz"
    normal.write_bytes(gzip_text(write_problems(tmp_path / "p.jsonl", 3).read_text()))
    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(gzip_bomb())
    with FaultyChatServer() as server:
        model = f"openai:tiny@{server.base_url}"
        baseline = run_measured(
            "eval", str(normal), "--model", model, "--run", str(tmp_path / "n.sqlite")
        )
        result = run_measured(
            "eval", str(bomb), "--model", model, "--run", str(tmp_path / "b.sqlite")
        )
    assert baseline.returncode == 0, baseline.stderr
    assert result.returncode == 2 and no_traceback(result.stderr), result.stderr
    line = error_line(result.completed())
    assert f"{bomb}:1" in line and "longer than 8 MiB" in line
    print(f"eval peak RSS normal {baseline.peak_rss_kib} KiB, bomb {result.peak_rss_kib} KiB")
    assert result.peak_rss_kib - baseline.peak_rss_kib < RSS_SLACK_KIB


@pytest.mark.slow
def test_a_gzip_grade_input_bomb_costs_no_memory(tmp_path: Path) -> None:
    normal = tmp_path / "normal.jsonl.gz"
    normal.write_bytes(gzip_text('{"gold": "1", "pred": "1"}\n'))
    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(gzip_bomb(prefix=b'{"gold": "1", "pred": "'))
    baseline = run_measured("grade", str(normal), "--workers", "1")
    result = run_measured("grade", str(bomb), "--workers", "1")
    assert baseline.returncode == 0, baseline.stderr
    assert '"status": "correct"' in baseline.stdout
    line = error_line(result.completed())
    assert f"{bomb}:1" in line and "longer than 16 MiB" in line
    print(f"grade peak RSS normal {baseline.peak_rss_kib} KiB, bomb {result.peak_rss_kib} KiB")
    assert result.peak_rss_kib - baseline.peak_rss_kib < RSS_SLACK_KIB


@pytest.mark.slow
def test_a_transcript_bomb_costs_no_memory(runs: RunMaker, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.jsonl"
    bomb.write_bytes(gzip_bomb(prefix=b'{"problem": "'))
    result = run_measured(*replay_args(runs, bomb))
    line = error_line(result.completed())
    assert f"{bomb}:1" in line and "longer than 16 MiB" in line
    assert result.peak_rss_kib < 400 * 1024, result.peak_rss_kib


def test_field_names_holding_a_line_break_stay_on_the_error_line(tmp_path: Path) -> None:
    # found by tests/fuzz/test_files.py: the list of fields present quoted names raw
    for line in ('{"gold": "1", "a\\nb": 1}', '{"g\\nx": "1", "pred": 1}'):
        graded = tmp_path / "fields.jsonl"
        graded.write_text(line + "\n")
        error = refused("grade", str(graded))
        assert "fields here: " in error and "\\n" in error
