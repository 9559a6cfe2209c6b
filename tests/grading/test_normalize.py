"""Normalisation and the numeric rule: pure functions, no worker involved."""

from __future__ import annotations

from fractions import Fraction

import pytest

from verimath.grading.normalize import (
    Answer,
    align_assignments,
    is_list,
    normalize_answer,
    strip_unit,
    text_key,
)
from verimath.grading.numeric import Number, numbers_match, parse_number
from verimath.grading.rules import rules_for

MATH = rules_for("math")
GSM8K = rules_for("gsm8k")

# (raw, rules, text, percent, is_text)
NORMALIZED = [
    ("**73**", MATH, "73", False, False),
    (r"$\left( 3, \frac{\pi}{2} \right)$", MATH, r"(3, \frac{\pi}{2})", False, False),
    (r"\dfrac{1}{2}", MATH, r"\frac{1}{2}", False, False),
    (r"\frac12", MATH, r"\frac{1}{2}", False, False),
    (r"50\%", MATH, "50", True, False),
    ("50 percent", MATH, "50", True, False),
    (r"90^\circ", MATH, "90", False, False),
    (r"90^{\circ}", MATH, "90", False, False),
    (r"18\text{ inches}", MATH, "18", False, False),
    (r"864 \mbox{ inches}^2", MATH, "864", False, False),
    (r"\$16,\!386.16", MATH, "16386.16", False, False),
    (r"10{,}000", MATH, "10000", False, False),
    ("1,600", GSM8K, "1600", False, False),
    ("9 (apples)", GSM8K, "9", False, False),
    ("2600{g}", GSM8K, "2600", False, False),
    ("2c", MATH, "2c", False, False),
    ("5 c", MATH, "5c", False, False),
    (r"\text{(C)}", MATH, "C", False, False),
    (r"\text{Monday}", MATH, "Monday", False, True),
    ("{odd}", MATH, "odd", False, True),
    ("Chicken finger", GSM8K, "Chicken finger", False, True),
    ("104.", MATH, "104", False, False),
    ("(113)", MATH, "113", False, False),
    ("4210_{5}", MATH, "4210", False, False),
    (".5", MATH, "0.5", False, False),
    ("2**10", MATH, "2^{10}", False, False),
    ("2π", MATH, r"2\pi", False, False),
    (r"\frac \pi4", MATH, r"\frac{\pi}{4}", False, False),
    (
        r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}",
        MATH,
        r"\begin{pmatrix}1\\2\end{pmatrix}",
        False,
        False,
    ),
    (r"e^{\mathrm{i}\pi}", MATH, r"e^{\mathrm{i}\pi}", False, False),
    ("5!", MATH, "5!", False, False),
    # spellings of relations all become \le, \ge, \ne, <, >
    ("x >= 5", MATH, r"x\ge5", False, False),
    (r"x \geq 5", MATH, r"x\ge5", False, False),
    (r"x \geqslant 5", MATH, r"x\ge5", False, False),
    ("x != 3", MATH, r"x\ne3", False, False),
    (r"x \neq 3", MATH, r"x\ne3", False, False),
    (r"x \lt 3", MATH, "x<3", False, False),
    (r"x \gt 3", MATH, "x>3", False, False),
    ("5!=120", MATH, "5!=120", False, False),
    # units and words in text
    (r"125\textnormal{ miles}", MATH, "125", False, False),
    (r"\text{10 apples}", MATH, "10", False, False),
    (r"15\text{ cm}^2", MATH, "15", False, False),
    (r"\mbox{12 cm}", MATH, "12", False, False),
    (r"5 \text{ cm}.", MATH, "5", False, False),
    # separators: marked thousands are one number, a comma and a space a list
    (r"32,\! 349", MATH, "32349", False, False),
    (r"14 {, }916", MATH, "14916", False, False),
    ("32, 349", MATH, "32, 349", False, False),
    ("32,349", MATH, "32349", False, False),
    ("1 000", MATH, "1000", False, False),
    ("1,22", MATH, "1, 22", False, False),
    # matrices in any brackets are pmatrix
    (
        r"\begin{bmatrix}1&2\\3&4\end{bmatrix}",
        MATH,
        r"\begin{pmatrix}1&2\\3&4\end{pmatrix}",
        False,
        False,
    ),
    (
        r"\left[\begin{array}{cc}1 & 2 \\3 & 4\end{array}\right]",
        MATH,
        r"\begin{pmatrix}1&2\\3&4\end{pmatrix}",
        False,
        False,
    ),
    # lists written with words, mixed numbers, approximations, doubled backslashes
    (r"12\text{ and }13", MATH, "12, 13", False, False),
    ("19, 46, and 82", MATH, "19, 46, 82", False, False),
    (r"x=2 \text{ or } x=-3", MATH, "2, -3", False, False),
    (r"6 \frac{3}{4}", MATH, r"\frac{27}{4}", False, False),
    (r"6\frac15", MATH, r"\frac{31}{5}", False, False),
    ("-2 1/4", MATH, r"-\frac{9}{4}", False, False),
    (r"2\frac{5}{4}", MATH, r"2\frac{5}{4}", False, False),
    (r"x = \frac13 \approx 0.33", MATH, r"x=\frac{1}{3}", False, False),
    (r"x \approx 11", MATH, "x=11", False, False),
    (r"\\frac{1}{5}", MATH, r"\frac{1}{5}", False, False),
    ("$28$ %", MATH, "28", True, False),
    ("28 pct", MATH, "28", True, False),
    ("1,000.99€", MATH, "1000.99", False, False),
    ("1,000.99m²", MATH, "1000.99", False, False),
]


@pytest.mark.parametrize(("raw", "rules", "text", "percent", "is_text"), NORMALIZED)
def test_normalize(raw: str, rules, text: str, percent: bool, is_text: bool) -> None:
    answer = normalize_answer(raw, rules)
    assert (answer.text, answer.percent, answer.is_text) == (text, percent, is_text)


def test_choice_normalisation_gives_a_letter() -> None:
    rules = rules_for("mmlu_stem")
    assert normalize_answer(r"\text{(B)} 42", rules).text == "B"
    assert normalize_answer("Both", rules).text == "Both"


def test_overlong_answers_are_left_as_text() -> None:
    answer = normalize_answer("x+" * 4000 + "1", MATH)
    assert answer.is_text


@pytest.mark.parametrize(
    ("gold", "pred", "gold_after", "pred_after"),
    [
        ("x=5", "5", "5", "5"),
        ("5", "x=5", "5", "5"),
        ("x=5", "x=5", "5", "5"),
        ("x=5", "y=5", "x=5", "y=5"),
        ("3x-y+13=0", "y=3x+13", "3x-y+13=0", "y=3x+13"),
        (r"x\in[1,2]", "[1,2]", "[1,2]", "[1,2]"),
        ("x=1,y=2", "1", "x=1,y=2", "1"),
    ],
)
def test_align_assignments(gold: str, pred: str, gold_after: str, pred_after: str) -> None:
    aligned = align_assignments(Answer(gold), Answer(pred))
    assert (aligned[0].text, aligned[1].text) == (gold_after, pred_after)


def test_reference_unit_is_removed_from_the_prediction() -> None:
    gold = normalize_answer(r"144\mbox{m}^3", MATH)
    assert gold.unit == "m"
    assert strip_unit(normalize_answer("144{m}^3", MATH), gold.unit).text == "144"
    assert strip_unit(normalize_answer("144m", MATH), "").text == "144m"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2,-3", True), (r"\{1,2\}", True), ("(1,2)", False), ("[0,1)", False), ("5", False)],
)
def test_is_list(text: str, expected: bool) -> None:
    assert is_list(Answer(text)) is expected


def test_text_key_ignores_case_and_punctuation() -> None:
    assert text_key(Answer("Mrs. Hilt")) == text_key(Answer("mrs hilt"))
    assert text_key(Answer("3:30 p.m.")) == text_key(Answer("3:30 PM"))


@pytest.mark.parametrize(
    ("text", "value", "decimal"),
    [
        ("18", Fraction(18), False),
        ("-0.5", Fraction(-1, 2), True),
        (".5", Fraction(1, 2), True),
        ("023", Fraction(23), False),
        ("1.5e-3", Fraction(3, 2000), True),
        (r"1 \times 10^6", Fraction(10**6), True),
        (r"\frac{3}{4}", Fraction(3, 4), False),
        (r"-\frac{3}{4}", Fraction(-3, 4), False),
        (r"\frac34", Fraction(3, 4), False),
        ("3/4", Fraction(3, 4), False),
    ],
)
def test_parse_number(text: str, value: Fraction, decimal: bool) -> None:
    assert parse_number(text) == Number(value, decimal)


@pytest.mark.parametrize("text", ["1/0", "x", "1,000", "9" * 500, "1e99999", "", "--1"])
def test_parse_number_refuses(text: str) -> None:
    assert parse_number(text) is None


@pytest.mark.parametrize(
    ("gold", "pred", "same"),
    [
        ("18", "18.0", True),
        ("1/3", "0.333333", True),
        ("1/3", "0.33", False),
        ("4", "3.999999", False),
        ("4", "3.9999999", True),
        ("1/3000000", "0.0000003", False),
        ("100", "1", False),
        ("1000000", "1000001", False),
        ("0", "0.0000001", True),
        ("0.03", "0.0273", False),
    ],
)
def test_numeric_rule(gold: str, pred: str, same: bool) -> None:
    gold_number, pred_number = parse_number(gold), parse_number(pred)
    assert gold_number is not None and pred_number is not None
    assert numbers_match(gold_number, pred_number) is same
