"""Every reference answer of every dataset under ../shared/data equals itself, and the boxed
answer of its own reference solution where there is one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.grading.data import DATASETS, references
from verimath.grading import Grader, reference_answer, rules_for

pytestmark = [pytest.mark.slow]


def _text(answer: object) -> str:
    return answer if isinstance(answer, str) else repr(answer)


@pytest.mark.parametrize("dataset", DATASETS)
def test_each_reference_equals_itself(grader: Grader, dataset: str) -> None:
    answers = [_text(ref.answer) for ref in references(dataset)]
    assert answers
    failures = [a for a in answers if not grader.equivalent(a, a, dataset)]
    assert failures == []


@pytest.mark.parametrize("dataset", DATASETS)
def test_each_reference_equals_itself_boxed_in_a_sentence(grader: Grader, dataset: str) -> None:
    rules = rules_for(dataset)
    golds = [ref.answer for ref in references(dataset)]
    boxed = [reference_answer(_text(g), rules) for g in golds]  # MMLU: the index's letter
    preds = [rf"Therefore the final answer is $\boxed{{{b}}}$." for b in boxed]
    results = grader.grade_many([(g, p, dataset) for g, p in zip(golds, preds, strict=True)])
    failures = [
        (g, r.answer, r.status.value, r.detail)
        for g, r in zip(golds, results, strict=True)
        if not r.correct
    ]
    assert failures == []


@pytest.mark.parametrize("dataset", ["math", "math500", "gsm8k", "aime24"])
def test_each_reference_equals_its_solutions_answer(grader: Grader, dataset: str) -> None:
    refs = [ref for ref in references(dataset) if ref.solution]
    results = grader.grade_many([(ref.answer, ref.solution, dataset) for ref in refs])
    failures = [
        (ref.answer, r.answer, r.status.value, r.detail)
        for ref, r in zip(refs, results, strict=True)
        if not r.correct
    ]
    assert len(refs) == len(references(dataset))
    assert failures == []


@pytest.fixture(scope="module")
def workers_only() -> Iterator[Grader]:
    with Grader(fast_paths=False) as grader:
        yield grader


@pytest.mark.parametrize("dataset", ["math500", "gsm8k", "svamp", "asdiv", "aime24", "amc23"])
def test_references_parse_and_match_in_the_workers(workers_only: Grader, dataset: str) -> None:
    """Without the identity shortcut every reference must survive the SymPy path."""
    answers = [_text(ref.answer) for ref in references(dataset)]
    results = workers_only.grade_many([(a, a, dataset) for a in answers])
    failures = [
        (a, r.status.value, r.detail)
        for a, r in zip(answers, results, strict=True)
        if not r.correct
    ]
    assert failures == []
