r"""Answer grading: find the final answer in a model's text and decide if it equals the reference.

Usage::

    from verimath.grading import Grader, extract_answer

    with Grader() as grader:
        result = grader.grade(r"\frac{1}{2}", r"... so the answer is $\boxed{0.5}$.", "math")
        result.status                    # Status.CORRECT
        grader.equivalent("x=3", "3")    # True: for grouping votes

Statuses: ``correct``, ``incorrect``, ``unparseable`` (no answer found, or it cannot be read;
``detail`` says which side and why), ``timeout`` (the comparison exceeded its time or memory
budget, or its worker died). They are kept apart everywhere: unparseable and timed-out
answers are not "incorrect".

How a grade is reached
======================
1. **Extraction** (``extract_answer``): the last ``\boxed{}``/``\fbox{}``/``\framebox{}``,
   else the last ``#### N``, else "final answer is X" / "the answer is X" / "Answer: X"
   (and "A: X" outside multiple choice), else an option letter (multiple choice), else the
   whole text if it is one short line and not a sentence. Only datasets whose answers are
   numbers (GSM8K, GSM-Hard, SVAMP, ASDiv, MAWPS, AIME24, AMC23) then fall back to the last
   number of the text, and only when the reference is a number; such answers carry
   ``extraction.fallback = True`` (as does a parenthesised option letter found only in
   running text). MATH, MATH-500, college_math and the generic rules never guess.
   Boxes standing side by side (``\boxed{2}`` and ``\boxed{-3}``) are joined into one list
   answer when the reference is itself a list; otherwise the last box counts (MATH's own
   solutions sometimes box a second valid answer next to the one the reference keeps).
2. **Reference answers** are taken as given, after unwrapping a box or ``#### N``. For
   ``mmlu_stem`` a bare integer is a 0-based option index (as in the MMLU files).
3. **Normalisation** (both sides alike) removes notation only: ``$``, ``\(``, ``**bold**``,
   ``\left``/``\right``, spacing commands, ``\dfrac``->``\frac``, ``\textbf``, thousands
   separators (``1,000``, ``10{,}000``, ``50,\!625``), a leading currency sign, a trailing
   unit, degree and percent signs, a trailing period; Python and Unicode spellings
   (``2**10``, ``sqrt(2)``, ``pi``, ``π``, ``√3``) become LaTeX.
4. **Quick verdicts** in the calling process, without SymPy: identical normalised answers;
   two plain numbers; word answers; option letters. Everything else is compared by
   **math-verify** (``latex2sympy2_extended``, then ``verify``) in a worker process with a
   hard timeout; model text is never parsed into SymPy, let alone evaluated, in the calling
   process. Verdicts of workers (timeouts included) are cached by normalised pair.

The rules
=========
* **Numbers.** Exact values must be equal (``18 = 18.0 = 18.00``, ``0.5 = \frac12``,
  ``023 = 23``). When a side is a decimal, which may be rounded, it matches if it is within
  5e-7 (six decimal places) *and* within 1e-5 of the reference relatively (a reference of
  0: the absolute bound only). So ``\sqrt{65}`` matches ``8.062258`` but not ``8.0623``,
  ``10/11`` does not match ``0.9091``, and a reference ``0.03`` ("to the nearest
  hundredth") does not match ``0.0273``. No other tolerance: never 100x, never "close".
* **Percent.** A percent sign is a unit, like "cm": it is dropped, never read as /100.
  ``50\%`` matches ``50`` and ``50 percent``; it does **not** match ``0.5``; and ``0.5``
  does not match ``50\%``. (GSM8K references are bare numbers also where the question asks
  for a percentage, so ``25%`` is right for reference ``25`` and ``0.25`` is not.)
* **Units.** A unit after the value is dropped on both sides (``\text{...}``, ``\mbox{...}``,
  ``\mathrm{...}``, or words after a number); the value is compared, the unit is not
  checked. The reference's unit is also removed from the prediction in any wrapping
  (``144{m}^3`` for ``144\mbox{m}^3``). One-letter words count as units only in the
  number datasets (``2600{g}``); in LaTeX answers ``2c`` and ``2 c`` keep their ``c``
  (latex2sympy2's own unit stripping, which would make ``2c`` equal ``2``, is off).
  ``\mathrm{i}`` and ``\mathrm{e}`` are constants, not units. A base subscript is a unit
  too: ``4210_{5}`` matches ``4210``.
* **Degrees.** ``^\circ`` is a unit: ``90^\circ`` matches ``90``, not ``\frac{\pi}{2}``.
* **Assignments.** ``x = 3`` matches ``3`` (either side may carry the ``x =``, or
  ``x \in``); ``x = 3`` does not match ``y = 3``. Other equations are compared as
  equations: ``3x-y+13=0`` matches ``y=3x+13`` and ``2x-2y+26=0``, not ``3x+4y+14=0``.
* **Sets and tuples.** A comma list is a set (``1,-2`` = ``-2,1``; ``1,-2`` != ``1,-3``);
  parentheses make an ordered tuple (``(1,2)`` != ``(2,1)``). Intervals keep their
  open/closed ends. Matrices compare entry by entry.
* **Form.** Values are compared, not forms: ``(a+5)(b+2)`` matches ``ab+2a+5b+10``.
* **Words.** ``\text{Monday}``, ``Chicken finger``, ``3:30 p.m.`` are compared as text,
  ignoring case and punctuation. A bare multi-letter word (``xy``) is read as a word, not
  a product of variables. In the number datasets a prediction without any digit, against
  a numeric reference, is ``unparseable``.
* **Multiple choice** (``mmlu_stem``): letters only; ``(B)``, ``\boxed{B}``, "the answer
  is B", ``**B**`` all give ``B``; option text without its letter is ``unparseable``.
* **Asymmetry.** ``grade`` is not symmetric: the reference decides the shape of the answer
  (math-verify's ``verify(gold, pred)``); e.g. a reference ``y = 2x + 3`` accepts ``2x + 3``.
  ``Grader.equivalent`` is symmetric: it orders the pair canonically first.
* **Limits.** Answers over 2,000 characters are never parsed (``unparseable`` unless
  identical); a worker may use 2 GiB of memory and ``timeout`` seconds (default 5) per
  comparison: it interrupts itself at 80% of that, and is killed and replaced at 100%.
"""

from __future__ import annotations

import atexit
import threading

from verimath.grading.extraction import Extraction, extract_answer, find_boxed, reference_answer
from verimath.grading.grader import DEFAULT_TIMEOUT, Grader, GradeRequest, GraderStats
from verimath.grading.rules import DATASETS, AnswerKind, DatasetRules, known_rules, rules_for
from verimath.grading.status import GradeResult, Status

__all__ = [
    "DATASETS",
    "DEFAULT_TIMEOUT",
    "AnswerKind",
    "DatasetRules",
    "Extraction",
    "GradeRequest",
    "GradeResult",
    "Grader",
    "GraderStats",
    "Status",
    "default_grader",
    "extract_answer",
    "find_boxed",
    "grade",
    "known_rules",
    "reference_answer",
    "rules_for",
]

_default_grader: Grader | None = None
_default_lock = threading.Lock()


def default_grader() -> Grader:
    """The process-wide Grader behind ``grade``, created on first use, closed at exit."""
    global _default_grader
    with _default_lock:
        if _default_grader is None:
            _default_grader = Grader()
            atexit.register(_default_grader.close)
        return _default_grader


def grade(gold: object, pred: str | None, dataset: str | None = None) -> GradeResult:
    """Grade one prediction with the shared default Grader (see ``Grader.grade``)."""
    return default_grader().grade(gold, pred, dataset)
