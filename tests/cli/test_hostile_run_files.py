"""A run file is a database anyone can edit: report, view, tune-weights and a resumed eval
meet a tampered one with one error line naming the file (and table, row, column), never a
traceback, a hang or a blown-up memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.cli_helpers import error_line, rows, run_cli
from tests.hostile_files import (
    RSS_SLACK_KIB,
    RunMaker,
    no_traceback,
    run_maker,
    run_measured,
    tamper,
    unfinish_first_sample,
    zlib_bomb,
)

RECURSIVE_VOTES = (
    "CREATE VIEW votes AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
    "SELECT 'p' || i AS problem_id, NULL AS answer, 'correct' AS grade, NULL AS plain_answer, "
    "'correct' AS plain_grade, 1 AS samples_used, '[]' AS classes FROM n"
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunMaker]:
    with run_maker(tmp_path_factory.mktemp("runs")) as maker:
        yield maker


def readers(run: Path) -> dict[str, list[str]]:
    """The commands that read a run, by name."""
    return {
        "report": ["report", str(run), "--format", "json", "--no-plots"],
        "view": ["view", str(run), "--out", str(run.with_suffix(".html"))],
        "tune-weights": ["tune-weights", str(run), "--json", "--bootstrap", "100"],
    }


def assert_refused(args: list[str], *names: str) -> str:
    result = run_cli(*args)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    assert no_traceback(result.stderr), result.stderr
    line = error_line(result)
    for name in names:
        assert name in line, (name, line)
    return line


@pytest.mark.slow
def test_a_view_over_a_recursive_query_is_refused_before_any_read(runs: RunMaker) -> None:
    run = runs.copy()
    tamper(run, "DROP TABLE votes", RECURSIVE_VOTES)
    for args in readers(run).values():
        assert_refused(args, str(run), "view 'votes'")
    assert_refused(runs.eval_args(run), str(run), "view 'votes'")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("statement", "named"),
    [
        (
            "CREATE TRIGGER spy AFTER INSERT ON samples BEGIN DELETE FROM samples; END",
            "trigger 'spy'",
        ),
        ("CREATE TABLE extra (x)", "table 'extra'"),
        ("CREATE INDEX by_answer ON samples (answer)", "index 'by_answer'"),
    ],
)
def test_objects_verimath_did_not_make_are_refused(
    runs: RunMaker, statement: str, named: str
) -> None:
    run = runs.copy()
    unfinish_first_sample(run)
    tamper(run, statement)
    assert_refused(runs.eval_args(run), str(run), named)
    assert_refused(readers(run)["report"], str(run), named)
    assert rows(run, "SELECT COUNT(*) FROM samples") == [(5,)]  # nothing was written


MUTATIONS = [
    ("UPDATE samples SET state = 'Sure' WHERE sample_index = 1", "samples", "state"),
    ("UPDATE samples SET evidence = 'not json' WHERE sample_index = 1", "samples", "evidence"),
    ("UPDATE samples SET evidence = '{\"a\": 1}' WHERE sample_index = 1", "samples", "evidence"),
    ("UPDATE samples SET code_executions = 'many' WHERE sample_index = 1", "samples", None),
    ("UPDATE samples SET grade = 7 WHERE sample_index = 1", "samples", "grade"),
    ('UPDATE votes SET classes = \'[{"answer": "1"}]\'', "votes", "classes"),
    ("UPDATE votes SET classes = '{\"x\": []}'", "votes", "classes"),
    ("UPDATE votes SET samples_used = 'x'", "votes", "samples_used"),
    ("UPDATE problems SET level = 'hard'", "problems", "level"),
    ("UPDATE problems SET question = X'00ff'", "problems", "question"),
    ("UPDATE meta SET value = '[1, 2]' WHERE key = 'config'", "meta", "config"),
    ("UPDATE meta SET value = '{' WHERE key = 'config'", "meta", "config"),
    # the echo server's samples run no cell: one is added, with a duration that is text
    (
        "INSERT INTO cells VALUES ('p0', 0, 0, 0, 'print(1)', '1', 'ok', 'slow', 0.1)",
        "cells",
        "duration_s",
    ),
    ("UPDATE turns SET tool_calls = 'calls'", "turns", "tool_calls"),
    ("UPDATE turns SET tool_calls = '[{\"id\": 1}]'", "turns", "tool_calls"),
    ("UPDATE turns SET latency_s = 'x'", "turns", "latency_s"),
    ("UPDATE samples SET messages = '{\"role\": 1}'", "samples", "messages"),
    (
        "INSERT INTO failures VALUES ('p0', 'first', 'boom', 'yesterday', 'E')",
        "failures",
        "sample_index",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("statement", "table", "column"), MUTATIONS)
def test_a_value_that_does_not_fit_is_one_error_naming_table_row_and_column(
    runs: RunMaker, statement: str, table: str, column: str | None
) -> None:
    run = runs.copy()
    tamper(run, statement)
    refused = []
    for name, args in readers(run).items():
        result = run_cli(*args)
        assert no_traceback(result.stderr), (name, result.stderr)
        if result.returncode == 0:
            continue  # this reader does not read the damaged column
        line = error_line(result)
        assert result.returncode == 2, (name, result.stderr)
        assert str(run) in line and table in line, (name, line)
        if column is not None:
            assert column in line, (name, line)
        refused.append(name)
    assert refused, "some reader reads every column"


@pytest.mark.slow
def test_a_resumed_eval_meets_damaged_rows_with_one_error(runs: RunMaker) -> None:
    for statement, table, _ in MUTATIONS:
        run = runs.copy()
        unfinish_first_sample(run)
        tamper(run, statement)
        result = run_cli(*runs.eval_args(run))
        assert no_traceback(result.stderr), (statement, result.stderr)
        assert result.returncode in (0, 2, 3), (statement, result.stderr)
        if result.returncode == 2:
            assert str(run) in error_line(result) and table in error_line(result)


@pytest.mark.slow
def test_a_cached_response_that_is_a_bomb_costs_no_memory(runs: RunMaker) -> None:
    normal = runs.copy()
    unfinish_first_sample(normal)
    baseline = run_measured(*runs.eval_args(normal))
    assert baseline.returncode == 0, baseline.stderr
    assert "1 model calls answered from the run's cache" in baseline.stderr

    bombed = runs.copy()
    unfinish_first_sample(bombed)
    tamper(bombed, "UPDATE responses SET response = ?", parameters=(zlib_bomb(),))
    result = run_measured(*runs.eval_args(bombed))
    assert no_traceback(result.stderr), result.stderr
    line = error_line(result.completed())
    assert str(bombed) in line and "responses" in line and "MiB" in line
    grown = result.peak_rss_kib - baseline.peak_rss_kib
    print(f"peak RSS normal {baseline.peak_rss_kib} KiB, bomb {result.peak_rss_kib} KiB")
    assert grown < RSS_SLACK_KIB, (baseline.peak_rss_kib, result.peak_rss_kib)
    # nothing finished is lost
    assert rows(bombed, "SELECT COUNT(*) FROM samples") == [(5,)]


@pytest.mark.slow
def test_a_run_file_with_only_its_own_objects_still_reads(runs: RunMaker) -> None:
    run = runs.copy()
    result = run_cli(*readers(run)["report"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)
