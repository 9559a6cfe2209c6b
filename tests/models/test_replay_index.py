"""The replay's question index finds what the scan over every recorded question found."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verimath.errors import ModelNotFoundError
from verimath.models.replay import QuestionIndex, ReplayModel
from verimath.models.transcripts import RecordedProblem

WORDS = st.sampled_from(["x", "y", "What", "is", "2", "+", "3?", "Find", "the", "sum"])
QUESTION = st.lists(WORDS, min_size=0, max_size=6).map(" ".join)


def scan(questions: list[str], text: str) -> int | None:
    """The former lookup: every question tried in turn, the longest (first) wins."""
    found = [(len(q), -n, n) for n, q in enumerate(questions) if q and q in text]
    return max(found)[2] if found else None


@settings(max_examples=400, deadline=None)
@given(st.lists(QUESTION, min_size=1, max_size=12), st.lists(WORDS, max_size=30), st.data())
def test_the_index_agrees_with_a_scan_of_every_question(
    questions: list[str], filler: list[str], data: st.DataObject
) -> None:
    inserted = data.draw(st.sampled_from(questions))
    cut = data.draw(st.integers(0, len(filler)))
    text = " ".join([*filler[:cut], inserted, *filler[cut:]]).strip()
    assert QuestionIndex(questions).occurring_in(text) == scan(questions, text)


def test_the_longest_question_in_the_text_wins_and_ties_go_to_the_first() -> None:
    questions = ["What is 2 + 3?", "2 + 3?", "What is 2 + 3?", ""]
    index = QuestionIndex(questions)
    assert index.occurring_in("Solve: What is 2 + 3? Think.") == 0
    assert index.occurring_in("Only 2 + 3? here") == 1
    assert index.occurring_in("nothing recorded") is None


def test_a_replay_finds_its_problem_by_the_index() -> None:
    problems = [
        RecordedProblem(str(n), f"Question {n}: what is {n} * 3?", str(n * 3), (), "tora")
        for n in range(50)
    ]
    model = ReplayModel(problems, name="test")
    for n in (0, 7, 49):
        text = f"Please solve.\n\nQuestion {n}:  what is {n} * 3?\nAnswer:"
        assert model.find(text).id == str(n)
    with pytest.raises(ModelNotFoundError, match="none of its 50 recorded questions"):
        model.find("Question 50: what is 150?")
