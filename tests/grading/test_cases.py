"""The hand-checked case table: every (gold, pred, dataset) has the verdict a person gave it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verimath.grading import Grader

CASE_FILES = ("cases.json", "transcript_cases.json", "model_output_cases.json")
"""cases.json: the rules one by one; transcript_cases.json: reviewed disagreements with
recorded labels; model_output_cases.json: answers in the forms real models and other
harnesses write them (Minerva/lm-eval lines, chat debris, units in text, relations,
matrices, lists, labelled references), many taken from the recorded transcripts."""


def _load_cases() -> list[dict]:
    cases = []
    for name in CASE_FILES:
        path = Path(__file__).with_name(name)
        if path.exists():
            cases += json.loads(path.read_text(encoding="utf-8"))
    return cases


CASES = _load_cases()


def _case_id(case: dict) -> str:
    pred = "None" if case["pred"] is None else case["pred"][:30]
    return f"{case['dataset']}|{case['gold'][:30]}|{pred}"


def test_the_table_is_large_and_balanced() -> None:
    statuses = {case["expected"] for case in CASES}
    assert len(CASES) >= 150
    assert statuses == {"correct", "incorrect", "unparseable", "timeout"}
    assert sum(case["expected"] == "incorrect" for case in CASES) >= 50


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_case(grader: Grader, case: dict) -> None:
    result = grader.grade(case["gold"], case["pred"], case["dataset"])
    assert result.status.value == case["expected"], (
        f"{case['note']}: got {result.status.value} ({result.detail}); "
        f"answer {result.answer!r} via {result.extraction.method}"
    )
