"""Notebook fidelity: re-execute recorded MathCoder cells and compare with the Jupyter outputs.

MathCoder-L-7b's MATH transcripts (2,493 code cells in 1,179 problems) hold the output each cell
gave in the Jupyter kernel the model was run with. Every problem's cells run again, in order, in
one verimath session, and each output is compared with the recorded one after removing what is
Jupyter's presentation rather than the value the model saw:

- whitespace runs count as one space (IPython's pretty printer breaks long lists into lines);
- an exception is compared by its last line, ``Type: message`` (IPython shows the whole
  coloured traceback; verimath shows the cells' frames only, by design);
- recording artefacts: ``<empty_execution>`` for no output, the notebook's own
  "history saving thread" warning; host paths inside messages;
- a cell that timed out in the recording and here agrees.

What is left is counted by cause; the top causes are printed.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from verimath.interpreter import Interpreter, Limits

RECORDING = "mathcoder/MathCoder-L-7b/MATH/MATH_test_result-20230917-2026-correct.jsonl"
CONCURRENT_SESSIONS = 2
# Outputs are compared, not speed: a generous limit, so that the machine's load does not decide
# which slow sympy cells finish (the recording's own harness limit shows as its own cause).
CELL_TIMEOUT_S = 60.0
NUMPY2_DISPLAY = "import numpy\nnumpy.set_printoptions(legacy=False)\ndel numpy"

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning))\b:?(.*)$")
_PATH = re.compile(r"\((?:/[^()\s]+)+\.py\)")
_NOISE = re.compile(r"^The history saving thread hit an unexpected error.*$", re.M)
_NUMPY_SCALAR = re.compile(r"\bnp\.(?:float|int|uint|bool|complex|str_)\w*\(")
_RECORDED_TIMEOUT = "Timeout waiting for reply"
_OUR_TIMEOUT = "TimeoutError: the cell exceeded"


@dataclass(frozen=True)
class Cell:
    problem: str
    code: str
    recorded: str


def recorded_cells(path: Path) -> dict[str, list[Cell]]:
    """Each problem's cells with the output recorded after each, in order."""
    problems: dict[str, list[Cell]] = {}
    with path.open(encoding="utf-8") as source:
        for line in source:
            record = json.loads(line)
            turns = record["debug_result"]
            problems[record["id"]] = [
                Cell(record["id"], turn["content"].replace("\r\n", "\n"), after["content"])
                for turn, after in itertools.pairwise(turns)
                if turn["role"] == "code" and after["role"] == "execution"
            ]
    return problems


def _clean(text: str) -> str:
    text = _ANSI.sub("", text.replace("\r\n", "\n"))
    text = _NOISE.sub("", text)
    text = "" if text.strip() == "<empty_execution>" else text
    return _PATH.sub("(PATH)", text)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _exception_line(text: str) -> str | None:
    for line in reversed([line.strip() for line in text.splitlines() if line.strip()]):
        if match := _EXCEPTION.match(line):
            return f"{match[1]}: {match[2].strip()}"
    return None


def mismatch_cause(recorded: str, ours: str) -> str | None:
    """``None`` when the outputs agree, else a short name of the likely cause."""
    recorded, ours = _clean(recorded), _clean(ours)
    if _squash(recorded) == _squash(ours):
        return None
    timed_out = _RECORDED_TIMEOUT in recorded, ours.startswith(_OUR_TIMEOUT)
    if all(timed_out):
        return None
    theirs, mine = _exception_line(recorded), _exception_line(ours)
    if theirs is not None and theirs == mine:
        return None
    if timed_out[0]:
        return "timed out in the recording only (its harness's limit)"
    if timed_out[1]:
        return "timed out here only"
    if _NUMPY_SCALAR.search(ours):
        return "NumPy 2 scalar repr (np.float64(...))"
    if mine and mine.startswith("NameError"):
        return "NameError after an earlier difference (state diverged)"
    if theirs and mine and theirs.split(":")[0] == mine.split(":")[0] == "SyntaxError":
        return "SyntaxError message of another Python version"
    if "Warning" in ours and "Warning" not in recorded:
        return "warning shown here only (newer library)"
    if theirs or mine:
        return "different exception (e.g. a library missing here)"
    return "different value or display (library version, set order, long-list cut)"


async def _run_problem(
    interp: Interpreter, cells: list[Cell], slots: asyncio.Semaphore, preamble: str
) -> list[str]:
    async with slots:
        session = interp.session()
        try:
            if preamble:
                await session.arun(preamble)
            return [(await session.arun(cell.code)).output for cell in cells]
        finally:
            session.close()


async def _run_all(problems: dict[str, list[Cell]], preamble: str) -> list[tuple[Cell, str]]:
    slots = asyncio.Semaphore(CONCURRENT_SESSIONS)
    with Interpreter(Limits(timeout_s=CELL_TIMEOUT_S)) as interp:
        outputs = await asyncio.gather(
            *(_run_problem(interp, cells, slots, preamble) for cells in problems.values())
        )
    return [
        (cell, output)
        for cells, got in zip(problems.values(), outputs, strict=True)
        for cell, output in zip(cells, got, strict=True)
    ]


def _examples(results: list[tuple[Cell, str]], cause: str) -> Iterator[str]:
    for cell, ours in results:
        if mismatch_cause(cell.recorded, ours) == cause:
            recorded, here = _squash(_clean(cell.recorded))[:60], _squash(ours)[:60]
            yield f"{cell.problem}: recorded {recorded!r} here {here!r}"


def report_fidelity(transcripts: Path, *, top: int = 6, compare_numpy2: bool = True) -> float:
    """Run the cells, print the fidelity and the top mismatch causes; returns the fidelity.

    With ``compare_numpy2`` the cells also run with NumPy 2's own print mode, for comparison.
    """
    problems = recorded_cells(transcripts / RECORDING)
    started = time.perf_counter()
    results = asyncio.run(_run_all(problems, ""))
    elapsed = time.perf_counter() - started
    causes = Counter(mismatch_cause(cell.recorded, ours) for cell, ours in results)
    agree = causes.pop(None, 0)
    fidelity = agree / len(results)
    print(
        f"notebook fidelity: {agree:,} of {len(results):,} recorded cells "
        f"({len(problems):,} problems) give the recorded Jupyter output: {fidelity:.2%} "
        f"({elapsed:.0f} s)"
    )
    for cause, count in causes.most_common(top):
        example = next(_examples(results, cause), "")
        print(f"  {count:4d}  {cause}\n        e.g. {example}")
    if compare_numpy2:
        plain = asyncio.run(_run_all(problems, NUMPY2_DISPLAY))
        same = sum(mismatch_cause(cell.recorded, ours) is None for cell, ours in plain)
        print(
            f"  for comparison, NumPy 2's own print mode (np.float64(...)): {same:,} of "
            f"{len(plain):,} ({same / len(plain):.2%}), {agree - same:+,} with the legacy mode"
        )
    return fidelity
