"""Answer extraction: which answer is found in a text, how, and whether as a fallback."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from verimath.grading import extract_answer, find_boxed, reference_answer, rules_for

# (text, dataset, answer, method, fallback)
EXTRACTIONS = [
    (r"so $x = \boxed{5}$.", "math", "5", "boxed", False),
    (r"\boxed{\frac{\sqrt{3}}{2}}", "math", r"\frac{\sqrt{3}}{2}", "boxed", False),
    (r"\boxed{\{1,2\}}", "math", r"\{1,2\}", "boxed", False),
    (r"\boxed{\left\{ 1 \right.}", "math", r"\left\{ 1 \right.", "boxed", False),
    (r"\fbox{7}", None, "7", "boxed", False),
    (r"or $\framebox{204}$ minutes", "aime24", "204", "boxed", False),
    (r"\boxed {5}", None, "5", "boxed", False),
    (r"\boxed{1} then \boxed{2}", None, "2", "boxed", False),
    (r"$\boxed{2}$ and $\boxed{-3}$", "math", "2, -3", "boxed", False),
    (r"$\boxed{2}$, $\boxed{2}$", "math", "2", "boxed", False),
    (r"\boxed{\boxed{5}}", None, r"\boxed{5}", "boxed", False),
    (r"\boxed{3} \boxed{4", None, "3", "boxed", False),
    ("He sold 9.\n#### 18", "gsm8k", "18", "gsm8k_hash", False),
    ("#### 1,600\n", "gsm8k", "1,600", "gsm8k_hash", False),
    (
        "The final answer is $\\frac{1}{2}$. I hope it is correct.",
        "math",
        r"\frac{1}{2}",
        "final_answer",
        False,
    ),
    (
        "Final Answer: The final answer is 42. I hope it is correct.",
        None,
        "42",
        "final_answer",
        False,
    ),
    ("So the answer is 18 dollars. Done.", "gsm8k", "18 dollars", "final_answer", False),
    ("The answer is 5.5.", None, "5.5", "final_answer", False),
    ("Work...\nAnswer: x = 3", "math", "x = 3", "final_answer", False),
    ("work\nA: 18", "gsm8k", "18", "final_answer", False),
    ("The answer is (B) since", "mmlu_stem", "(B) since", "final_answer", False),
    ("B", "mmlu_stem", "B", "choice", False),
    ("(C) 42 meters", "mmlu_stem", "(C) 42 meters", "choice", False),
    ("Option (D) is right because (A) fails", "mmlu_stem", "A", "choice", True),
    ("no idea at all", "mmlu_stem", None, "none", False),
    ("18", "gsm8k", "18", "whole", False),
    ("$18.00", "gsm8k", "$18.00", "whole", False),
    ("9 (apples)", "asdiv", "9 (apples)", "whole", False),
    ("Mrs. Hilt", "asdiv", "Mrs. Hilt", "whole", False),
    (r"\frac{35}{2}", "gsm8k", r"\frac{35}{2}", "whole", False),
    ("ab+2a+5b+10", "math", "ab+2a+5b+10", "whole", False),
    ("sqrt(2)/2", "math", "sqrt(2)/2", "whole", False),
    ("She has 5 apples and buys 13 more, so 18", "gsm8k", "18", "last_number", True),
    ("It costs $1,250.50 in total", "gsm8k", "1,250.50", "last_number", True),
    ("She has 5 apples and buys 13 more, so 18", "math", None, "none", False),
    ("She has 5 apples and buys 13 more, so 18", None, None, "none", False),
    ("the total is 18", None, "18", "sentence", False),
    ("Therefore $x \\geq 5$ is the solution.", None, r"x \geq 5", "conclusion", False),
    ("We find that $x \\lt 3$.", None, r"x \lt 3", "sentence", False),
    ("Final Answer: The largest $n$ is 34.", None, "34", "final_answer", False),
    (r"Answer \( 9 \)", None, "9", "final_answer", False),
    ("Answer $$ \n 9 \n $$", None, "9", "final_answer", False),
    ("$$ 9 $$", None, "$$ 9 $$", "whole", False),
    ("So it is 4.\nTherefore, there are 12 ways to do it.", "math", "12", "conclusion", False),
    ("Thus $x = 5$. The end of the story is near", "math", None, "none", False),
    (
        "Final Answer: The final answer is $5$. I hope it is correct.<|im_start|>user\n"
        "Final Answer: The final answer is $7$.",
        "math",
        "5",
        "final_answer",
        False,
    ),
    (r"so \boxed{3}. Final Answer: The final answer is $4$.", "math", "4", "final_answer", False),
    (r"so \boxed{3}. Final Answer: see above.", "math", "3", "boxed", False),
    (r"The answer is $\boxed 5$.", "math", "5", "boxed", False),
    ("We could not determine the value of the sum here", "gsm8k", None, "none", False),
    ("", "math", None, "none", False),
    ("   ", "gsm8k", None, "none", False),
]


@pytest.mark.parametrize(("text", "dataset", "answer", "method", "fallback"), EXTRACTIONS)
def test_extraction(
    text: str, dataset: str | None, answer: str | None, method: str, fallback: bool
) -> None:
    found = extract_answer(text, dataset)
    assert (found.answer, found.method, found.fallback) == (answer, method, fallback)


def test_no_text_means_no_answer() -> None:
    assert extract_answer(None).answer is None


def test_fallback_can_be_refused() -> None:
    text = "She has 5 apples and buys 13 more, so 18"
    assert extract_answer(text, "gsm8k", allow_fallback=False).answer is None


def test_boxes_are_joined_only_when_asked() -> None:
    text = r"$\boxed{-2}$ and $\boxed{1}$"
    assert extract_answer(text, "math").answer == "-2, 1"
    assert extract_answer(text, "math", join_boxes=False).answer == "1"


@pytest.mark.parametrize(
    ("gold", "dataset", "expected"),
    [
        ("Janet sells 9 eggs.\n#### 18", "gsm8k", "18"),
        (r"so it is $\boxed{\frac{1}{2}}$.", "math", r"\frac{1}{2}"),
        ("2", "mmlu_stem", "C"),
        ("B", "mmlu_stem", "B"),
        (" 9 (apples) ", "asdiv", "9 (apples)"),
        ("2", "math", "2"),
        (r"\boxed{1} and \boxed{-2}", None, "1, -2"),
        ("Work.\nFinal Answer: The final answer is $28\\%$. I hope it is correct.", None, r"28\%"),
        ("The largest $n$ is 34", None, "The largest $n$ is 34"),
    ],
)
def test_reference_answer(gold: str, dataset: str, expected: str) -> None:
    assert reference_answer(gold, rules_for(dataset)) == expected


def test_find_boxed_without_box() -> None:
    assert find_boxed("no box here") is None


def test_no_answer_says_why() -> None:
    assert extract_answer("", None).reason == "empty text"
    assert extract_answer(r"so it is \boxed{5", "math").reason == "unclosed box"
    text = "I cannot tell what the value of the sum is here, sorry."
    assert extract_answer(text, "math").reason == "no answer marker"


HOSTILE_TEXTS = {
    "nested-boxes": lambda n: r"\boxed{" * n + "1" + "}" * n,
    "unclosed-boxes": lambda n: r"\boxed{" * n,
    "deep-braces": lambda n: "{" * (2 * n) + r"\boxed{1}",
    "long-text": lambda n: "x " * (2 * n) + "#### 5",
    "long-number": lambda n: "The answer is " + "9" * (2 * n),
}
SCALE_N = 5_000
SCALE_FACTOR = 4
"""Linear scanning takes about 4x as long at 4n; a quadratic one 16x."""


def _fastest_s(text: str, repeats: int = 7) -> float:
    """CPU time of this thread (the kernel's count, not the wall clock, which other work on a
    busy machine stretches), the least disturbed of ``repeats`` runs."""
    timings = []
    for _ in range(repeats):
        started = time.thread_time()
        extract_answer(text, "gsm8k")
        timings.append(time.thread_time() - started)
    return min(timings)


@pytest.mark.parametrize("make", HOSTILE_TEXTS.values(), ids=HOSTILE_TEXTS.keys())
def test_hostile_text_is_scanned_in_linear_time(make: Callable[[int], str]) -> None:
    small, large = make(SCALE_N), make(SCALE_FACTOR * SCALE_N)
    ratio = _fastest_s(large) / max(_fastest_s(small), 1e-6)
    # between linear (4) and quadratic (16), with room for noise and constant costs
    assert ratio < 2 * SCALE_FACTOR, f"{SCALE_FACTOR}x the text took {ratio:.1f}x the time"
