"""The ``python`` tool in its two styles: native function calling, and fenced text.

Function style: the model answers with a tool call ``python({"code": ...})`` and gets a
``tool`` message back, as hosted code interpreters work. Fenced style, as open math models
(ToRA, Qwen2.5-Math, MathCoder in our rendering) are trained::

    some reasoning
    ```python
    print(1 + 1)
    ```
    ```output
    2
    ```

Generation is stopped at ```` ```output ````; the agent runs the code and sends the output
back in a ``user`` message, fenced as above.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from verimath.errors import ModelResponseError
from verimath.models.messages import Message, ToolCall

__all__ = [
    "FENCED",
    "FENCED_STOP",
    "FUNCTION",
    "OUTPUT_FENCE",
    "PYTHON_FENCE",
    "PYTHON_TOOL",
    "TOOL_STYLES",
    "FencedCell",
    "Segment",
    "cut_at_stop",
    "fence_code",
    "fence_output",
    "fenced_cells",
    "parse_fenced_transcript",
    "split_turn",
    "tool_call_code",
    "trim_fenced_completion",
]

FUNCTION = "function"
FENCED = "fenced"
TOOL_STYLES: frozenset[str] = frozenset({FUNCTION, FENCED})

PYTHON_FENCE = "```python"
OUTPUT_FENCE = "```output"
FENCED_STOP: tuple[str, ...] = (OUTPUT_FENCE,)
"""The stop strings of the fenced style."""

PYTHON_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "python",
        "description": (
            "Run Python code in a stateful notebook; returns stdout/stderr and the last "
            "expression's value"
        ),
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "The Python code to run."}},
            "required": ["code"],
            "additionalProperties": False,
        },
    },
}
"""The OpenAI ``tools`` schema of the ``python`` tool."""

_CODE_OPEN = re.compile(r"```python[^\S\n]*\n")
_FENCE_CLOSE = re.compile(r"\n```[^\S\n]*(?=\n|\Z)")
_OUTPUT_BLOCK = re.compile(r"\s*```output[^\n]*\n(?:(.*?)\n)??```[^\n]*(?:\n|\Z)", re.S)


def fence_code(code: str) -> str:
    """``code`` as a fenced python block."""
    return f"{PYTHON_FENCE}\n{code}\n```"


def fence_output(output: str) -> str:
    """A cell's output as the fenced block the model expects after its code."""
    return f"{OUTPUT_FENCE}\n{output}\n```"


def trim_fenced_completion(text: str) -> str:
    """Drop what follows the closing fence of a python block at the end of ``text``.

    Servers stop *at* ```` ```output ```` and keep the newline before it; the contract is
    that the content ends right after the model's closing ```` ``` ````.
    """
    stripped = text.rstrip()
    return stripped if stripped.endswith("```") else text


def cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    """``text`` up to the first stop string, for servers that ignore or echo ``stop``."""
    cuts = [index for s in stop if s and (index := text.find(s)) >= 0]
    return text[: min(cuts)] if cuts else text


def tool_call_code(call: ToolCall) -> str:
    """The code of a ``python`` tool call; ModelResponseError if the arguments are unusable."""
    try:
        arguments = json.loads(call.arguments)
    except json.JSONDecodeError as exc:
        raise ModelResponseError(
            f"tool call {call.id!r} has arguments that are not JSON ({exc}): {call.arguments!r}"
        ) from exc
    if not isinstance(arguments, dict) or not isinstance(arguments.get("code"), str):
        raise ModelResponseError(
            f"tool call {call.id!r} to {call.name!r} lacks a string 'code' argument: "
            f"{call.arguments!r}"
        )
    code: str = arguments["code"]
    return code


@dataclass(frozen=True)
class Segment:
    """One assistant turn in a style-neutral form: prose, then at most one python cell."""

    prose: str
    code: str | None = None
    """None for a turn that runs no code (the final answer)."""

    def fenced(self) -> str:
        """The turn as fenced text, ending right after the code's closing fence."""
        if self.code is None:
            return self.prose
        return self.prose + fence_code(self.code)

    def message(self, style: str, call_id: str) -> Message:
        """The turn as an assistant message of the given tool style."""
        if style == FENCED or self.code is None:
            return Message("assistant", self.fenced() if style == FENCED else self.prose.strip())
        call = ToolCall(call_id, "python", json.dumps({"code": self.code}))
        return Message("assistant", self.prose.strip(), tool_calls=(call,))


@dataclass(frozen=True)
class FencedCell:
    """One closed python block of fenced text, with the output block recorded after it."""

    start: int
    """Where its opening fence starts."""
    end: int
    """Just after its closing fence."""
    code: str
    output: str | None
    """The content of the ```` ```output ```` block right after it; None if there is none."""
    output_end: int
    """Just after that output block (``end`` when there is none)."""


def fenced_cells(text: str) -> list[FencedCell]:
    """Every closed python block of fenced text, in order: the one parser of the format.

    A block opens with ```` ```python ```` on its own line and closes at the next line that is
    a bare ```` ``` ```` (a fence inside a line, ``s = '```'``, does not close it); an
    ```` ```output ```` block may follow after blank space. An unterminated block, and all
    after it, is text.
    """
    cells: list[FencedCell] = []
    pos = 0
    while (opening := _CODE_OPEN.search(text, pos)) is not None:
        closing = _FENCE_CLOSE.search(text, opening.end() - 1)
        if closing is None:
            break
        code = text[opening.end() : closing.start()]
        pos = closing.end()
        if (output := _OUTPUT_BLOCK.match(text, pos)) is not None:
            cells.append(FencedCell(opening.start(), pos, code, output[1] or "", output.end()))
            pos = output.end()
        else:
            cells.append(FencedCell(opening.start(), pos, code, None, pos))
    return cells


def parse_fenced_transcript(text: str) -> list[Segment]:
    """Split a fenced-style solution into turns, dropping the recorded outputs.

    Turn i is the text up to and including the i-th python block; the last turn is the text
    after the last block (possibly empty), so there is always one more turn than blocks.
    An unterminated python block is kept as text of the last turn.
    """
    segments: list[Segment] = []
    pos = 0
    for cell in fenced_cells(text):
        prose = text[pos : cell.start]
        segments.append(Segment(prose if not segments else prose.lstrip("\n"), cell.code))
        pos = cell.output_end
    rest = text[pos:]
    segments.append(Segment(rest if not segments else rest.lstrip("\n")))
    return segments


def split_turn(text: str) -> Segment:
    """A fenced-style assistant turn: its prose, and the python block it ends with, if it ends
    with one (only blanks after the closing fence). Earlier blocks stay part of the prose."""
    cells = fenced_cells(text)
    if cells and cells[-1].output is None and not text[cells[-1].end :].strip():
        return Segment(text[: cells[-1].start], cells[-1].code)
    return Segment(text)
