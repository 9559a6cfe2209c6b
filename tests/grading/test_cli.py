"""``verimath grade`` through click's CliRunner, with real workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from verimath.cli import cli
from verimath.errors import InputError

ROWS = [
    {"gold": "18", "pred": "She makes 9 * 2 = $18.\n#### 18", "dataset": "gsm8k", "id": 1},
    {"gold": r"\frac{1}{2}", "pred": r"so $\boxed{0.5}$", "id": 2},
    {"gold": 2, "pred": ["The answer is (C).", "B", None], "dataset": "mmlu_stem"},
    {"gold": "5", "pred": r"\boxed{10^{10^{10}}}", "dataset": "math"},
    {"gold": "7", "pred": "I could not solve this problem at all, sorry."},
]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _invoke(*args: str, env: dict[str, str] | None = None):
    runner = CliRunner()
    return runner.invoke(
        cli, ["grade", *args], auto_envvar_prefix="VERIMATH", env=env, catch_exceptions=True
    )


def test_grade_adds_a_status_to_every_line(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", ROWS)
    target = tmp_path / "out.jsonl"
    result = _invoke(str(source), "-o", str(target), "--timeout", "2")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["status"] for line in lines] == [
        "correct",
        "correct",
        ["correct", "incorrect", "unparseable"],
        "timeout",
        "unparseable",
    ]
    for before, after in zip(ROWS, lines, strict=True):
        assert {k: v for k, v in after.items() if k != "status"} == before
    assert "graded 7 predictions: correct 3, incorrect 1, unparseable 2, timeout 1" in (
        result.stderr
    )
    assert "unparseable, by the step that failed: empty prediction 1, no answer found 1" in (
        result.stderr
    )


def test_unparseable_predictions_are_broken_down_by_the_step_that_failed(tmp_path: Path) -> None:
    rows = [
        {"gold": "5", "pred": r"so it is \boxed{5"},
        {"gold": "5", "pred": r"so it is \boxed{5"},
        {"gold": "5", "pred": r"\boxed{\frac{}{}}"},
        {"gold": "5", "pred": "The final answer is $$."},
        {"gold": "5", "pred": "No idea what the value of the sum might be here, sorry."},
        {"gold": "5", "pred": "5"},
    ]
    result = _invoke(str(_write(tmp_path / "in.jsonl", rows)))
    assert result.exit_code == 0, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        "unparseable, by the step that failed: box never closed 2, "
        "boxed answer not readable as math 1, final-answer line empty after clean-up 1, "
        "no answer found 1"
    )


def test_details_and_other_harness_field_names(tmp_path: Path) -> None:
    tora_style = [{"idx": 0, "gt": "18", "pred": ["18"], "code": ["... $\\boxed{18}$"]}]
    source = _write(tmp_path / "tora.jsonl", tora_style)
    result = _invoke(
        str(source),
        "--gold-field",
        "gt",
        "--pred-field",
        "code",
        "--details",
        "--status-field",
        "verdict",
        "-d",
        "gsm8k",
    )
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.splitlines()[0])
    assert line["verdict"] == ["correct"]
    assert line["grading"] == [
        {"answer": "18", "method": "boxed", "fallback": False, "rule": "identical"}
    ]


def test_options_come_from_the_environment(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", [{"gold": "18", "pred": "so she makes 18 today"}])
    plain = _invoke(str(source))
    from_env = _invoke(str(source), env={"VERIMATH_GRADE_DATASET": "gsm8k"})
    assert json.loads(plain.stdout)["status"] == "unparseable"
    assert json.loads(from_env.stdout)["status"] == "correct"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"bad.jsonl:2: not valid JSON"),
        ("[1, 2]", r"bad.jsonl:2: each line must be a JSON object"),
        ('{"pred": "1"}', r"bad.jsonl:2 field 'gold': missing"),
        ('{"gold": null, "pred": "1"}', r"bad.jsonl:2 field 'gold': a reference answer"),
        ('{"gold": "1"}', r"bad.jsonl:2 field 'pred': missing"),
        ('{"gold": "1", "pred": {"a": 1}}', r"bad.jsonl:2 field 'pred': a prediction"),
        ('{"gold": "1", "pred": "1", "dataset": "nope"}', r"bad.jsonl:2 field 'dataset'"),
    ],
)
def test_bad_lines_are_reported_before_any_grading(tmp_path: Path, line: str, message: str) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"gold": "1", "pred": "1"}\n' + line + "\n", encoding="utf-8")
    target = tmp_path / "out.jsonl"
    result = _invoke(str(source), "-o", str(target))
    assert isinstance(result.exception, InputError)
    assert message in str(result.exception)
    assert not target.exists()


def test_unknown_dataset_option_fails_fast(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", ROWS[:1])
    result = _invoke(str(source), "--dataset", "gsm9k")
    assert "unknown dataset 'gsm9k'" in str(result.exception)


def test_the_command_is_registered() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert "grade" in result.output
