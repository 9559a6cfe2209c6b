"""Plain numbers: reading numerals without evaluating anything, and the one numeric rule.

The numeric rule (used for plain numbers here and for numeric values in the workers):

* two exact values (integers, fractions, radicals, ...) match only when they are equal;
* when either side is a decimal, which may be rounded, the two match when they differ by at
  most ``ABS_TOLERANCE`` (agreement to six decimal places, as in math-verify) **and** by at
  most ``REL_TOLERANCE`` of the reference value, so that ``0.0000003`` does not match
  ``1/3000000`` just because both round to zero (a reference of exactly 0 has only the
  absolute bound).

There is no other leniency: no ``x100`` for percentages, no "close enough" for integers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["ABS_TOLERANCE", "REL_TOLERANCE", "Number", "numbers_match", "parse_number"]

ABS_TOLERANCE = Fraction(5, 10**7)
REL_TOLERANCE = Fraction(1, 10**5)
MAX_DIGITS = 100
"""Numerals longer than this are left to the workers (whose time is bounded)."""

_DECIMAL = re.compile(r"^([+-]?)(\d+)(?:\.(\d*))?$|^([+-]?)\.(\d+)$")
_SCIENTIFIC = re.compile(
    r"^([+-]?\d+(?:\.\d+)?)(?:[eE]([+-]?\d{1,3})|\s*\\(?:times|cdot)\s*10\^\{?([+-]?\d{1,3})\}?)$"
)
_FRACTION = re.compile(
    r"^([+-]?)\\frac\{([+-]?\d+)\}\{(\d+)\}$|^([+-]?)\\frac(\d)(\d)$|^([+-]?\d+)/(\d+)$"
)


@dataclass(frozen=True)
class Number:
    """A plain number: its exact value, and whether it was written as a decimal."""

    value: Fraction
    decimal: bool


def parse_number(text: str) -> Number | None:
    """Read ``18``, ``-0.5``, ``.5``, ``1.5e-3``, ``\\frac{3}{4}``, ``\\frac34``, ``3/4``.

    Returns None for anything else (including numerals of more than ``MAX_DIGITS``
    digits and zero denominators); nothing is ever evaluated.
    """
    if len(text) > MAX_DIGITS + 20:
        return None
    return _decimal(text) or _scientific(text) or _fraction(text)


def numbers_match(gold: Number, pred: Number) -> bool:
    """Apply the numeric rule (see the module docstring) to a reference and a prediction."""
    if gold.value == pred.value:
        return True
    if not (gold.decimal or pred.decimal):
        return False
    return values_close(gold.value, pred.value)


def values_close(gold: Fraction, pred: Fraction) -> bool:
    """The tolerance half of the numeric rule, for values of which one is a decimal."""
    difference = abs(gold - pred)
    if gold == 0:  # nothing to be relative to: zero to six decimal places
        return difference <= ABS_TOLERANCE
    return difference <= ABS_TOLERANCE and difference <= REL_TOLERANCE * abs(gold)


def _decimal(text: str) -> Number | None:
    match = _DECIMAL.match(text)
    if match is None:
        return None
    if match.group(5) is not None:
        sign, whole, fraction = match.group(4), "0", match.group(5)
    else:
        sign, whole, fraction = match.group(1), match.group(2), match.group(3)
    if len(whole) + len(fraction or "") > MAX_DIGITS:
        return None
    value = Fraction(int(whole + (fraction or "")), 10 ** len(fraction or ""))
    return Number(-value if sign == "-" else value, decimal=fraction is not None)


def _scientific(text: str) -> Number | None:
    match = _SCIENTIFIC.match(text)
    if match is None:
        return None
    mantissa = _decimal(match.group(1))
    if mantissa is None:
        return None
    exponent = int(match.group(2) or match.group(3))
    return Number(mantissa.value * Fraction(10) ** exponent, decimal=True)


def _fraction(text: str) -> Number | None:
    match = _FRACTION.match(text)
    if match is None:
        return None
    groups = [g for g in match.groups()]
    if groups[1] is not None:
        sign, numerator, denominator = groups[0], groups[1], groups[2]
    elif groups[4] is not None:
        sign, numerator, denominator = groups[3], groups[4], groups[5]
    else:
        sign, numerator, denominator = "", groups[6], groups[7]
    if len(numerator) + len(denominator) > MAX_DIGITS or int(denominator) == 0:
        return None
    value = Fraction(int(numerator), int(denominator))
    return Number(-value if sign == "-" else value, decimal=False)
