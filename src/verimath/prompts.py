"""The five prompting strategies of arXiv:2308.07921, by name, and the agent's fixed messages.

Templates are verbatim from the paper (DESIGN.md section 1); ``nl_verify`` is ours, because the
paper does not quote it, and it is kept fixed so results stay comparable. ``{Question}`` is the
only placeholder; it is replaced textually (never with ``str.format``), so braces in LaTeX
questions and in ``\\boxed{}`` are safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from verimath.errors import ConfigError

__all__ = [
    "CODE_ONCE_REFUSAL",
    "FENCED_TEXT_HINT",
    "NO_CODE_REFUSAL",
    "PLACEHOLDER",
    "REVISE_MESSAGE_CODE",
    "REVISE_MESSAGE_TEXT",
    "STRATEGIES",
    "Strategy",
    "ToolStyle",
    "get_strategy",
    "strategy_names",
    "tool_use_hint",
]

PLACEHOLDER = "{Question}"

ToolStyle = Literal["fenced", "function"]
TOOL_STYLES: tuple[ToolStyle, ...] = ("fenced", "function")
"""The tool-use styles, named as in ``verimath.models.tools``."""

_CSV_INSTRUCTION = (
    "To solve the problem using code interpreter step by step, and please verify your answer "
    "using code interpreter."
)
_NL_VERIFY_INSTRUCTION = (
    "To solve the problem using code interpreter step by step, and please verify your answer "
    "in natural language, step by step, without using code."
)
_BOXED_REQUEST = "Please put your answer in \\boxed{}."

FENCED_TEXT_HINT = (
    "To run Python code, write it in a ```python code block and stop; the code runs in a "
    "stateful interpreter (variables persist between blocks) and its output comes back to you "
    "in a ```output block."
)
"""Appended to the system prompt in the fenced-text tool-use style (ToRA's block format)."""

NO_CODE_REFUSAL = (
    "Code is not allowed for this problem, so this code was not run. Continue solving the "
    "problem without using any code."
)
"""Returned instead of output when the model writes code under ``no_code``."""

CODE_ONCE_REFUSAL = (
    "You can use code only 1 time and you have already used it, so this code was not run. "
    "Continue solving the problem without running more code."
)
"""Returned instead of output for the second and later code executions under ``code_once``."""

REVISE_MESSAGE_CODE = (
    "Your verification shows that your answer is not correct. Please revise your answer, then "
    "verify it again using code interpreter, and put the revised answer in \\boxed{}."
)
"""The ``--revise`` follow-up after a False verification under ``csv``."""

REVISE_MESSAGE_TEXT = (
    "Your verification shows that your answer is not correct. Please revise your answer, then "
    "verify it again in natural language, without using code, and put the revised answer in "
    "\\boxed{}."
)
"""The ``--revise`` follow-up after a False verification under ``nl_verify``."""


@dataclass(frozen=True)
class Strategy:
    """A prompting strategy: its template and the rules the agent applies while it runs.

    ``max_code_executions`` is None for no limit, 0 for ``no_code``, 1 for ``code_once``.
    ``verification_medium`` says what counts as a check when reading the verification state:
    ``"text"`` only for ``nl_verify``. ``code_refusal`` is the message sent instead of output
    when the limit refuses a cell; ``revise_message`` is None when the strategy does not verify.
    """

    name: str
    template: str
    max_code_executions: int | None = None
    wants_verification: bool = False
    verification_medium: Literal["code", "text"] = "code"
    code_refusal: str | None = None
    revise_message: str | None = None

    def __post_init__(self) -> None:
        if self.template.count(PLACEHOLDER) != 1:
            raise ConfigError(
                f"strategy {self.name!r}: the template must contain {PLACEHOLDER} exactly once"
            )
        if self.max_code_executions is not None and self.max_code_executions < 0:
            raise ConfigError(f"strategy {self.name!r}: max_code_executions must be >= 0 or None")

    def render(self, question: str) -> str:
        """The user message for ``question`` (surrounding whitespace stripped, nothing else)."""
        return self.template.replace(PLACEHOLDER, question.strip())

    def allows_execution(self, executions_so_far: int) -> bool:
        """Whether one more code execution is allowed after ``executions_so_far`` of them."""
        return self.max_code_executions is None or executions_so_far < self.max_code_executions


_ALL = (
    Strategy(
        name="basic",
        template="Solve the problem and put your answer in \\boxed{}. The problem is: {Question}.",
    ),
    Strategy(
        name="no_code",
        template="You are not allowed to use any code. The problem is: {Question}.",
        max_code_executions=0,
        code_refusal=NO_CODE_REFUSAL,
    ),
    Strategy(
        name="code_once",
        template="You can use code only 1 time. The problem is: {Question}.",
        max_code_executions=1,
        code_refusal=CODE_ONCE_REFUSAL,
    ),
    Strategy(
        name="csv",
        template=f"{_CSV_INSTRUCTION} {_BOXED_REQUEST} The problem is: {PLACEHOLDER}.",
        wants_verification=True,
        revise_message=REVISE_MESSAGE_CODE,
    ),
    Strategy(
        name="nl_verify",
        template=f"{_NL_VERIFY_INSTRUCTION} {_BOXED_REQUEST} The problem is: {PLACEHOLDER}.",
        wants_verification=True,
        verification_medium="text",
        revise_message=REVISE_MESSAGE_TEXT,
    ),
)

STRATEGIES: Mapping[str, Strategy] = MappingProxyType({s.name: s for s in _ALL})
"""Every strategy by name, in the paper's order."""


def strategy_names() -> tuple[str, ...]:
    """Valid strategy names, in the paper's order."""
    return tuple(STRATEGIES)


def get_strategy(name: str) -> Strategy:
    """The strategy called ``name``; ConfigError naming the valid ones otherwise."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ConfigError(
            f"unknown strategy {name!r}; valid strategies: {', '.join(strategy_names())}"
        ) from None


def tool_use_hint(style: str) -> str | None:
    """System-prompt hint for a tool-use style: fenced text needs one, function calling none."""
    if style not in TOOL_STYLES:
        raise ConfigError(
            f"unknown tool-use style {style!r}; valid styles: {', '.join(TOOL_STYLES)}"
        )
    return FENCED_TEXT_HINT if style == "fenced" else None
