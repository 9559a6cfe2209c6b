"""Symbolic comparison of two normalised LaTeX answers with math-verify.

This module parses model text into SymPy objects, so it runs **only inside the grading
worker processes** (``verimath.grading.worker``), never in the process that owns a Grader.
It does not time itself out: the worker's alarm and the pool's kill do that.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from functools import lru_cache
from typing import Any

from latex2sympy2_extended.latex2sympy2 import NormalizationConfig, latex2sympy, normalize_latex
from math_verify import verify
from math_verify.grader import should_treat_as_complex
from sympy import (
    And,
    Basic,
    Eq,
    Expr,
    Float,
    I,
    Integer,
    Interval,
    MatrixBase,
    Or,
    Rel,
    Set,
    Symbol,
    Tuple,
    cancel,
)
from sympy.core.function import AppliedUndef

from verimath.grading.numeric import values_close
from verimath.grading.status import Status, Verdict

__all__ = ["compare", "parse_answer"]

# latex2sympy2's own clean-up, minus its unit stripping: that one deletes any trailing
# "c", "m", "s", "h", ... and would turn "2c" into "2". verimath strips units itself.
_LATEX_CLEANUP = NormalizationConfig(
    basic_latex=True,
    units=False,
    malformed_operators=True,
    nits=False,
    boxed="none",
    equations=False,
)
FLOAT_ROUNDING = 6
"""Decimal places math-verify rounds floats to inside sets, tuples and matrices."""
NUMERIC_PRECISION = 15
"""Significant digits math-verify evaluates expressions to."""
_EVALF_DIGITS = 30
EXACT_DIGITS = 40
"""Significant digits to which two exact irrational numbers must agree to be equal."""
EXACT_LIMIT = Float("1e30")
"""Largest magnitude at which two exact irrational numbers are compared by value."""

logging.getLogger("math_verify").setLevel(logging.ERROR)


class ParseFailure(Exception):
    """An answer could not be read as mathematics."""


def compare(gold: str, pred: str) -> Verdict:
    """Compare a normalised reference answer and a normalised predicted answer."""
    try:
        gold_expr = parse_answer(gold)
    except ParseFailure as exc:
        return Verdict(Status.UNPARSEABLE, f"reference answer not parseable: {exc}")
    try:
        pred_expr = parse_answer(pred)
    except ParseFailure as exc:
        return Verdict(Status.UNPARSEABLE, f"answer not parseable: {exc}")
    gold_expr, pred_expr = _with_imaginary_unit(gold_expr), _with_imaginary_unit(pred_expr)
    numeric = _numeric_verdict(gold_expr, pred_expr)
    if numeric is not None:
        return numeric
    gold_expr, pred_expr = _integral_floats(gold_expr), _integral_floats(pred_expr)
    exact = _exact_verdict(gold_expr, pred_expr)
    if exact is not None:
        return exact
    gold_expr, pred_expr = _same_shape(gold_expr, pred_expr)
    if (
        isinstance(gold_expr, Eq)
        and isinstance(pred_expr, Eq)
        and _same_equation(gold_expr, pred_expr)
    ):
        return Verdict(Status.CORRECT, "equation")
    same = verify(
        gold_expr,
        pred_expr,
        float_rounding=FLOAT_ROUNDING,
        numeric_precision=NUMERIC_PRECISION,
        strict=True,
        allow_set_relation_comp=False,
        timeout_seconds=None,
    )
    return Verdict(Status.CORRECT if same else Status.INCORRECT, "symbolic")


@lru_cache(maxsize=4096)
def parse_answer(text: str) -> Any:
    """Parse a normalised answer into a SymPy object (cached: references repeat)."""
    latex = normalize_latex(text, _LATEX_CLEANUP)
    if not latex:
        raise ParseFailure("empty after clean-up")
    try:
        return _latex_to_sympy(latex)
    except RecursionError:
        raise ParseFailure("nested too deeply") from None
    except Exception as exc:  # latex2sympy raises bare Exception for syntax errors
        last = _last_equation_part(latex)
        if last == latex:
            raise ParseFailure(_first_line(exc)) from None
    try:
        return _latex_to_sympy(last)
    except Exception as exc:  # as above
        raise ParseFailure(_first_line(exc)) from None


def _latex_to_sympy(latex: str) -> Any:
    # A degree sign left by normalisation is inside a function's argument (sin 60 degrees):
    # there it is an angle to convert, not a unit to drop.
    return latex2sympy(
        latex,
        is_real=not should_treat_as_complex(latex),
        convert_degrees="\\circ" in latex,
        normalization_config=None,
    )


def _with_imaginary_unit(expr: Any) -> Any:
    """The letter ``i`` (also ``\\mathrm{i}``) is the imaginary unit, wherever it stands.

    latex2sympy2 reads it as a variable unless the text looks like ``a+bi``, so ``i^2`` would
    not equal ``-1``.
    """
    if not isinstance(expr, Basic):
        return expr
    letters = {s: I for s in expr.free_symbols if isinstance(s, Symbol) and s.name == "i"}
    return expr.xreplace(letters) if letters else expr


def _integral_floats(expr: Any) -> Any:
    """``1.0x`` is ``x`` and ``14.0 + -1.0i`` is ``14 - i``: a decimal with no fractional
    part is that integer (outside real numbers, which the numeric rule decides first)."""
    if not isinstance(expr, Basic) or not expr.has(Float):
        return expr
    whole = {f: Integer(int(f)) for f in expr.atoms(Float) if _is_whole(f)}
    return expr.xreplace(whole) if whole else expr


def _last_equation_part(latex: str) -> str:
    """``a = b = 5`` -> ``5`` (a chain of equalities is read as its last member)."""
    if "," in latex or ";" in latex:
        return latex
    parts = latex.split("=")
    return parts[-1] if len(parts) > 2 else latex


def _same_shape(gold: Any, pred: Any) -> tuple[Any, Any]:
    """Bring two answers that say the same thing in different shapes to one shape.

    * an inequality in one variable, or a chain of them, against an interval: the
      inequality becomes its solution set (``1 \\le x \\le 4`` is ``[1, 4]``), either way;
    * a column or row vector against a tuple: the vector becomes a tuple;
    * two function definitions ``f(x) = ...`` and ``f(t) = ...``: the prediction's
      argument is renamed to the reference's (the name of a bound variable is free).
    """
    if isinstance(gold, Set) and _is_relation_in_one_variable(pred):
        return gold, _as_set(pred)
    if isinstance(pred, Set) and _is_relation_in_one_variable(gold):
        return _as_set(gold), pred
    if isinstance(gold, MatrixBase) and _is_sequence(pred):
        return _vector_tuple(gold), _as_tuple(pred)
    if isinstance(pred, MatrixBase) and _is_sequence(gold):
        return _as_tuple(gold), _vector_tuple(pred)
    if isinstance(gold, Eq) and isinstance(pred, Eq):
        return gold, _renamed_argument(gold, pred)
    return gold, pred


def _is_relation_in_one_variable(expr: Any) -> bool:
    if not isinstance(expr, Rel | And | Or) or isinstance(expr, Eq):
        return False
    return len(expr.free_symbols) == 1


def _as_set(relation: Any) -> Any:
    try:
        return relation.as_set()
    except Exception:  # sympy raises several kinds for relations it cannot solve
        return relation


def _is_sequence(expr: Any) -> bool:
    return isinstance(expr, Tuple) or (
        isinstance(expr, Interval) and expr.left_open and expr.right_open
    )


def _as_tuple(expr: Any) -> Any:
    return Tuple(expr.start, expr.end) if isinstance(expr, Interval) else expr


def _vector_tuple(matrix: Any) -> Any:
    if 1 in matrix.shape:
        return Tuple(*list(matrix))
    return matrix


def _renamed_argument(gold: Any, pred: Any) -> Any:
    gold_lhs, pred_lhs = gold.lhs, pred.lhs
    if not (isinstance(gold_lhs, AppliedUndef) and isinstance(pred_lhs, AppliedUndef)):
        return pred
    if gold_lhs.func != pred_lhs.func or len(gold_lhs.args) != 1 or len(pred_lhs.args) != 1:
        return pred
    old, new = pred_lhs.args[0], gold_lhs.args[0]
    if not (isinstance(old, Symbol) and isinstance(new, Symbol)) or old == new:
        return pred
    if new in pred.rhs.free_symbols:
        return pred
    return pred.xreplace({old: new})


def _same_equation(gold: Any, pred: Any) -> bool:
    """Two equations with the same solutions up to a constant factor: ``2x+4y-3=0`` and
    ``y = -x/2 + 3/4``. Only for polynomial-like sides (cancel, not simplify)."""
    try:
        first, second = gold.lhs - gold.rhs, pred.lhs - pred.rhs
        if second == 0 or first == 0:
            return bool(first == second)
        if not (first.is_rational_function() and second.is_rational_function()):
            return False
        ratio = cancel(first / second)
        return bool(ratio.is_number and ratio != 0 and ratio.is_finite)
    except Exception:  # cancel may fail on unusual objects; verify decides then
        return False


def _numeric_verdict(gold: Any, pred: Any) -> Verdict | None:
    """Apply the numeric rule when both sides are real numbers and one holds a decimal.

    math-verify alone would round both to six places, so ``0.0000003`` would equal
    ``1/3000000``; verimath also requires relative agreement (``verimath.grading.numeric``).
    """
    if not (_is_real_number(gold) and _is_real_number(pred)):
        return None
    if not (gold.has(Float) or pred.has(Float)):
        return None
    gold_value, pred_value = _to_fraction(gold), _to_fraction(pred)
    if gold_value is None or pred_value is None:
        return None
    same = gold_value == pred_value or values_close(gold_value, pred_value)
    return Verdict(Status.CORRECT if same else Status.INCORRECT, "numeric")


def _is_whole(value: Float) -> bool:
    number = float(value)
    return number.is_integer() and abs(number) < 2**53


def _exact_verdict(gold: Any, pred: Any) -> Verdict | None:
    """Two exact numbers (no decimal in either) are equal only if they are equal.

    Rationals are compared exactly: ``1/2^{99}`` is not ``1/2^{98}``, ``1/2004!`` is not
    ``1/2006!`` (math-verify evaluates the difference with ``chop=True``, which makes all
    tiny values equal). Other exact numbers (radicals, ``\\pi``,
    ``\\sin 60^\\circ``, complex numbers) are equal when their difference is 0 or
    vanishes to ``EXACT_DIGITS`` significant digits of the larger value (up to
    ``EXACT_LIMIT``; math-verify decides beyond it).
    """
    if not (_is_exact_number(gold) and _is_exact_number(pred)):
        return None
    same = bool(gold == pred) if gold.is_Rational and pred.is_Rational else _same_value(gold, pred)
    if same is None:
        return None
    return Verdict(Status.CORRECT if same else Status.INCORRECT, "exact")


def _is_exact_number(expr: Any) -> bool:
    if not isinstance(expr, Expr) or isinstance(expr, MatrixBase) or expr.has(Float):
        return False
    return bool(expr.is_number) and not expr.free_symbols and expr.is_finite is not False


def _same_value(gold: Expr, pred: Expr) -> bool | None:
    """Equal to ``EXACT_DIGITS`` significant digits; None (math-verify decides) when a side
    has no numeric value or the values are beyond ``EXACT_LIMIT``, where a relative test
    could not tell ``N`` from ``N + 1``."""
    if gold == pred:
        return True
    digits = EXACT_DIGITS + 10
    values = gold.evalf(digits), pred.evalf(digits)
    if not all(value.is_number and value.is_finite for value in values):
        return None
    scale = max(abs(values[0]), abs(values[1]))
    if scale == 0:
        return True
    if scale > EXACT_LIMIT:
        return None
    difference = abs((gold - pred).evalf(digits))
    return bool(difference <= scale * Float(10) ** -EXACT_DIGITS)


def _is_real_number(expr: Any) -> bool:
    if not isinstance(expr, Expr) or isinstance(expr, MatrixBase):
        return False
    return bool(expr.is_number) and expr.is_real is not False and not expr.free_symbols


def _to_fraction(expr: Basic) -> Fraction | None:
    value = expr.evalf(_EVALF_DIGITS)
    if not value.is_Float and not value.is_Rational:
        return None
    try:
        return Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__
