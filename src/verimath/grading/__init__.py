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
1. **Extraction** (``extract_answer``). Chat-template debris a model wrote after its
   answer (``<|im_start|>user ...``, ``<|im_end|>``, ``</s>``) is cut off first. Then the
   last ``\boxed{}``/``\fbox{}``/``\framebox{}`` (``\boxed 5`` too), else the last
   ``#### N``, else "final answer is X" / "the answer is X" / "Answer: X" / "Answer $X$"
   (and "A: X" outside multiple choice), else an option letter (multiple choice), else
   the whole text if it is one short line and not a sentence, else the final sentence if
   it starts with "Therefore", "Thus", "Hence", "So" or "In conclusion", else a one-line
   sentence. A Minerva/lm-eval line "Final Answer: The final answer is $X$. I hope it is
   correct." written after the last box wins over that box (it is the model's last word).
   When the answer after a marker is a sentence, the answer is what follows its last
   "is"/"are"/"equals" ("Final Answer: The largest $n$ is 34." gives ``34``), else its
   last math span ("Therefore $x \geq 5$ is the solution." gives ``x \geq 5``), else the
   one number it holds ("Final Answer: Jane started 3 hours ago." gives ``3``). Inline
   math (``$..$``, ``\(..\)``) stays on one line; display math (``$$..$$``, ``\[..\]``)
   may span lines. Only datasets whose answers are numbers (GSM8K, GSM-Hard, SVAMP,
   ASDiv, MAWPS, AIME24, AMC23) then fall back to the last number of the text, and only
   when the reference is a number; such answers carry ``extraction.fallback = True`` (as
   does a parenthesised option letter found only in running text). Everywhere else a
   text without a box, an answer line or a concluding or one-line sentence has no answer:
   the last number of a long text is never taken. Words are counted in any script (a run
   of letters, or one Chinese, Japanese or Korean character), so a Chinese, Arabic or
   Hindi sentence is prose, not a whole-text answer. Boxes standing side by side
   (``\boxed{2}`` and ``\boxed{-3}``, also inside ``\( \)`` or after the name they
   assign: ``$x = \boxed{2}$ or $x = \boxed{3}$``, or after part labels ``(a)``, ``(b)``)
   are joined into one list answer when the reference is itself a list; a text with
   exactly as many boxes as a list reference has items gives them all (an answer given in
   parts); otherwise the last box counts (MATH's own solutions sometimes box a second
   valid answer next to the one the reference keeps).
2. **Reference answers** are taken as given, after unwrapping a box (several boxes side
   by side are one list: ``\boxed{1} and \boxed{-2}`` is ``1, -2``) or ``#### N``; a
   reference that is a whole worked solution without a box gives the answer of its
   final-answer line. For ``mmlu_stem`` a bare integer is a 0-based option index (as in
   the MMLU files).
3. **Normalisation** (both sides alike) removes notation only: ``$`` (also inside the
   answer: ``$28$ %``), ``\(``, ``**bold**``, ``\left``/``\right``, spacing commands,
   ``\dfrac``->``\frac``, ``\textbf``, doubled backslashes of an escaped string
   (``\\frac``), thousands separators (``1,000``, ``10{,}000``, ``14 {, }916``,
   ``50,\!625``, ``1\,000``, ``1 000``), a currency sign before or after the number
   (``$``, ``\$``, ``€``, ``£``), a trailing unit, degree and percent signs, a trailing
   period or comma; Python and Unicode spellings (``2**10``, ``sqrt(2)``, ``exp(16)``,
   ``ln(2)``, ``sin(x)``, ``pi``, ``π``, ``√3``, ``≤``, ``≠``) become LaTeX.
4. **Quick verdicts** in the calling process, without SymPy: identical normalised answers;
   two plain numbers; word answers; option letters. Everything else is compared by
   **math-verify** (``latex2sympy2_extended``, then ``verify``) in a worker process with a
   hard timeout; model text is never parsed into SymPy, let alone evaluated, in the calling
   process. Verdicts of workers (timeouts included) are cached by normalised pair.

The rules
=========
Where a rule deliberately differs from other graders (math-verify, the Qwen2.5-Math and
ToRA graders), it says so; each such rule is pinned by a case in tests/grading.

* **Numbers.** Exact values must be equal (``18 = 18.0 = 18.00``, ``0.5 = \frac12``,
  ``023 = 23``). When a side is a decimal, which may be rounded, it matches if it is within
  5e-7 (six decimal places) *and* within 1e-5 of the reference relatively (a reference of
  0: the absolute bound only). So ``\sqrt{65}`` matches ``8.062258`` but not ``8.0623``,
  ``10/11`` does not match ``0.9091``, and a reference ``0.03`` ("to the nearest
  hundredth") does not match ``0.0273``. No other tolerance: never 100x, never "close".
  *Differs:* the Qwen2.5-Math and ToRA graders accept a relative error of 1e-4, and
  math-verify's precision is a parameter (its tests use 2 to 6 places); verimath always
  asks for six places, inside intervals, tuples and matrices too (``(0.6, 2.6667]`` does
  not match ``(\frac35, \frac83]``): a rounded answer is right only when rounded finely.
* **Exact values.** Two exact numbers (no decimal in either) are equal only if they are
  equal: rationals are compared exactly (``\frac{1}{2^{99}}`` is not ``\frac{1}{2^{98}}``,
  ``\frac{1}{2004!}`` is not ``\frac{1}{2006!}``, ``10^{-30}`` is not ``10^{-31}``), other
  exact numbers (radicals, ``\pi``, ``e^{-50}``, ``\sin 60^\circ``) when they agree to 40
  significant digits (up to magnitude 1e30; math-verify decides beyond). *Differs:*
  math-verify evaluates the difference to 15 digits with ``chop=True``, which turns a
  difference below about 1e-15 into zero, so all tiny values compare equal.
* **The imaginary unit.** The letter ``i`` (also ``\mathrm{i}``) is the imaginary unit on
  both sides: ``i^2`` matches ``-1``, ``(1+i)^2`` matches ``2i``, ``i(2-i)`` matches
  ``1+2i``. A decimal with no fractional part outside a real number is that integer:
  ``14.0 + -1.0i`` matches ``14 - i``, ``1.0x`` matches ``x``. *Differs:* math-verify
  reads ``i`` as a variable unless the text looks like ``a+bi``.
* **Mixed numbers.** ``2\frac{1}{4}`` and ``2 1/4`` are 9/4 (MATH writes mixed numbers
  this way); only a proper fraction after a whole number makes a mixed number.
* **Decimal commas.** A comma is never a decimal point: ``1,22`` is the list of 1 and 22
  and does not match ``1.22``; ``1000,99`` is not ``1000.99``. *Differs:* math-verify
  reads European decimal commas; verimath does not, because ``1,5`` is as often the
  list of two answers, and a grader must not guess which.
* **Lists and thousands.** A comma followed by a space separates a list: ``32, 349`` is
  two numbers and does not match ``32349``. A comma between digit groups of three with no
  space (``10,455``), or a marked separator (``32,\! 349``, ``14{,}916``), is a thousands
  separator. Words join lists too: ``12 and 13``, ``19, 46, and 82``, ``x = 2 or x = -3``
  are lists of values. An ellipsis leaves a list open: ``1, 2, 3, ...`` is not ``1, 2, 3``.
* **Percent.** A percent sign is a unit, like "cm": it is dropped, never read as /100.
  ``50\%`` matches ``50``, ``50 percent``, ``50 pct``; it does **not** match ``0.5``; and
  ``0.5`` does not match ``50\%``. (GSM8K references are bare numbers also where the
  question asks for a percentage, so ``25%`` is right for reference ``25`` and ``0.25``
  is not.) *Differs:* the Qwen2.5-Math and ToRA graders count ``0.5``, ``50`` and ``5000``
  all equal to ``50\%``; verimath never accepts 100x the answer.
* **Units.** A unit after the value is dropped on both sides (``\text{...}``,
  ``\textnormal{...}``, ``\mbox{...}``, ``\mathrm{...}``, a squared unit ``\text{ cm}^2``
  or ``m²``, a squared or cubed length after a space (``10 cm^2``, ``10 m^2``, ``24 ft^3``:
  ``cm``, ``mm``, ``km``, ``dm``, ``m``, ``in``, ``ft``, ``yd``, ``mi``, ``units``), or words
  after a number, also in other scripts: ``18美元``, ``18 долларов``); the value is
  compared, the unit is not checked. ``2m^2`` (no space) keeps its ``m``, and Greek
  letters are never units (``2θ`` is not ``2``).
  An answer that is all text with a number in it (``\text{10 apples}``) is the number and
  its unit. The reference's unit is also removed from the prediction in any wrapping
  (``144{m}^3`` for ``144\mbox{m}^3``). One-letter words count as units only in the
  number datasets (``2600{g}``); in LaTeX answers ``2c`` and ``2 c`` keep their ``c``
  (latex2sympy2's own unit stripping, which would make ``2c`` equal ``2``, is off).
  ``\mathrm{i}`` and ``\mathrm{e}`` are constants, not units. A base subscript is a unit
  too: ``4210_{5}`` matches ``4210``.
* **Degrees.** ``^\circ`` is a unit: ``90^\circ`` matches ``90``, not ``\frac{\pi}{2}``;
  except inside a function's argument, where it is an angle: ``\sin 60^\circ`` matches
  ``\frac{\sqrt{3}}{2}`` and ``\sin(90^\circ-x)`` matches ``\cos x``.
* **Assignments and labels.** ``x = 3`` matches ``3`` (either side may carry the ``x =``,
  or ``x \in``); ``x = 3`` does not match ``y = 3``. A label is a name, not an
  expression: ``S_{MBCN}:S = 7:32``, ``AB = 5``, ``\angle ABC = 30``, ``f(2) = 3``,
  ``(a, b) = (1, 2)`` match the bare value; ``a + 3z = 0`` does not match ``0``. A chain
  ``x = 5+5+1 = 11`` is read as its last member. An approximation after an exact value is
  dropped (``x = \frac13 \approx 0.33`` is ``\frac13``); ``x \approx 11`` is ``x = 11``.
  Other equations are compared as equations, up to a constant factor: ``3x-y+13=0``
  matches ``y=3x+13`` and ``2x-2y+26=0``, not ``3x+4y+14=0``.
* **Function definitions.** ``f(x) = x^2+1`` matches ``f(t) = t^2+1``: the name of a
  function's argument is bound and does not matter. ``x^2+1`` does not match
  ``t^2+1``: free variables are the problem's own. *Differs:* math-verify compares the
  two definitions symbol by symbol and rejects the renamed one.
* **Relations.** ``>=``, ``\geq``, ``\ge``, ``\geqslant`` and ``≥`` are one relation (so
  are ``<=``/``\leq``/``\le``, ``!=``/``\neq``/``\ne``, ``\lt``/``<``, ``\gt``/``>``).
  Relations are compared as relations: ``x \le 5`` matches ``5 \ge x`` and ``x < 1``
  matches ``-x > -1``, not ``x > -1``. An inequality in one variable, or a chain of them,
  is the same answer as its solution set, on either side: ``1 \le x \le 4`` matches
  ``[1, 4]`` and ``x \in [1, 4]``; ``x > 3`` matches ``(3, \infty)``. *Differs:*
  math-verify accepts a chained inequality for an interval reference only when asked
  (``allow_set_relation_comp``); verimath always does, both ways.
* **Sets and tuples.** A comma list is a set (``1,-2`` = ``-2,1``; ``1,-2`` != ``1,-3``);
  parentheses make an ordered tuple (``(1,2)`` != ``(2,1)``). ``\pm`` makes a set:
  ``\pm 2021`` matches ``\{-2021, 2021\}``, not ``2021``. Intervals keep their
  open/closed ends.
* **Matrices.** ``pmatrix``, ``bmatrix``, ``matrix`` in brackets and
  ``\left[\begin{array}{cc}..\end{array}\right]`` are all one matrix, compared entry by
  entry; a column or row vector matches the tuple of its entries (``(1, 2, 3)``); a sum
  or product of matrices is compared by its value.
* **Form.** Values are compared, not forms: ``(a+5)(b+2)`` matches ``ab+2a+5b+10``.
  Factors written side by side are a product: ``2^6 3^5 5^4`` matches
  ``2^6\cdot 3^5\cdot 5^4`` (a digit exponent before a space and a digit is braced).
* **Words.** ``\text{Monday}``, ``Chicken finger``, ``3:30 p.m.``, ``\text{星期一}`` are
  compared as text, ignoring case and punctuation. A bare multi-letter word (``xy``) is
  read as a word, not a product of variables. In the number datasets a prediction without
  any digit, against a numeric reference, is ``unparseable``.
* **Multiple choice** (``mmlu_stem``): letters only; ``(B)``, ``\boxed{B}``, "the answer
  is B", ``**B**``, "I think the correct answer is B", "The answer: B, ...", "My answer:
  B", "Choice: B", "the right answer would be B", "I think it's B." all give ``B`` (the
  letter a capital; "it's A good idea" names no option); option text without its letter
  is ``unparseable``.
* **Asymmetry.** ``grade`` is not symmetric: the reference decides the shape of the answer
  (math-verify's ``verify(gold, pred)``); e.g. a reference ``y = 2x + 3`` accepts ``2x + 3``.
  ``Grader.equivalent`` is symmetric: it orders the pair canonically first.
* **Limits.** Answers over 2,000 characters are never parsed (``unparseable`` unless
  identical); a worker may use 2 GiB of memory and ``timeout`` seconds (default 5) of CPU
  time per comparison: it interrupts itself at 80% of that, and is killed and replaced at
  100%. CPU time, not wall-clock time, so a grade does not depend on how busy the machine is
  (only a worker starved for 10 times the timeout in wall-clock time is given up on).

Unparseable grades say which step failed (``GradeResult.unparseable_reason``): no answer
found, a box never closed, an empty prediction, the reference, or the answer a method
found (``boxed answer not readable as math``, ``final-answer line has no number``, ...).
``verimath grade`` prints these counts under its summary.

Agreement with another harness
==============================
``verimath grade FILE --against FIELD`` (and ``verimath report RUN --against FILE``) reads
another grader's verdicts for the same outputs and prints how often the two agree, and
every disagreement in exactly one group, with counts and examples: ``timeout``,
``extraction found nothing``, ``extraction found a different span`` (with
``--against-answer``: the other harness's own answer, graded by verimath, gets its
verdict), ``units``, ``numeric tolerance``, ``sets and order``, or ``rule: NAME``, the
verimath rule that decided (``verimath.grading.agreement``).
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
