"""One sample: the turn loop between a model and its own notebook session.

Model turn -> the code it wrote runs in the sample's session -> the output goes back -> next
turn, until a turn runs no code (the final answer), or a limit is reached. Errors are fed back
like any output, so the model can debug itself.

Fenced style: a turn that ends with a closed python block has that block run (only the last
block of a turn runs, as ToRA-style models are trained); a turn that ends otherwise is final.
Function style: every ``python`` tool call of a turn runs, in order.

Code-use rules (``no_code``: none, ``code_once``: one) are always measured; with
``enforce_code_rule`` a cell past the rule is refused and the model told why. Past
``max_code_executions`` (all strategies) code is refused and the model asked to conclude.
``revise``: when a final answer's verification state is False, the model is asked to revise
and verify again, up to that many times.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from verimath.errors import ConfigError, ModelContextLengthError, ModelResponseError
from verimath.grading import extract_answer
from verimath.interpreter import CellResult
from verimath.models import (
    FENCED,
    FENCED_STOP,
    FUNCTION,
    ChatModel,
    Completion,
    GenerateConfig,
    Message,
    ToolCall,
    fence_output,
    tool_call_code,
)
from verimath.models.tools import split_turn, trim_fenced_completion
from verimath.prompts import Strategy, tool_use_hint
from verimath.trajectory import Cell, ModelTurn, Trajectory
from verimath.verification import (
    CodeStep,
    TextStep,
    Trace,
    Verification,
    VerificationState,
    read_verification,
)

DEFAULT_MAX_CODE_EXECUTIONS = 10
DEFAULT_MAX_TURNS = 24
DEFAULT_TOKEN_BUDGET = 16_384
CODE_LIMIT_MESSAGE = (
    "You have used all {limit} code executions allowed for this problem; the code was not run. "
    "Give your final answer in \\boxed{{}} without further code."
)


@dataclass(frozen=True)
class ToolError:
    """Why a tool call cannot run (unknown tool, arguments that are not JSON): the text the
    model gets back as the call's result."""

    message: str


def _call_code(call: ToolCall) -> str | ToolError:
    if call.name != "python":
        return ToolError(f"Error: there is no tool {call.name!r}; the one tool is 'python'.")
    try:
        return tool_call_code(call)
    except ModelResponseError as exc:
        return ToolError(
            f'Error: the call was not run: {exc}. Send the code as JSON: {{"code": "..."}}.'
        )


def split_fenced_turn(content: str) -> tuple[str, str | None]:
    """A fenced-style turn as (its text before the code, the code to run or None).

    Only a turn that *ends* with a closed python block runs code, and only that last block;
    earlier blocks stay part of the text.
    """
    turn = split_turn(content)
    return turn.prose, turn.code


@dataclass(frozen=True)
class AgentConfig:
    """How one sample runs."""

    strategy: Strategy
    tool_style: str = FENCED
    """``fenced`` (```python / ```output blocks) or ``function`` (a native ``python`` tool)."""
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    max_code_executions: int = DEFAULT_MAX_CODE_EXECUTIONS
    max_turns: int = DEFAULT_MAX_TURNS
    token_budget: int = DEFAULT_TOKEN_BUDGET
    """Completion tokens one sample may spend over all its turns."""
    enforce_code_rule: bool = False
    revise: int = 0
    cell_timeout_s: float | None = None
    dataset: str | None = None
    """Dataset whose answer rules extract the final answer (None: generic)."""

    def __post_init__(self) -> None:
        if self.tool_style not in (FENCED, FUNCTION):
            raise ConfigError(
                f"tool style must be {FENCED!r} or {FUNCTION!r}, got {self.tool_style!r}"
            )
        for name in ("max_code_executions", "max_turns", "token_budget"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.revise < 0:
            raise ConfigError(f"revise must be 0 or more, got {self.revise}")

    def first_messages(self, problem: str) -> list[Message]:
        hint = tool_use_hint(self.tool_style) if self.strategy.max_code_executions != 0 else None
        user = Message("user", self.strategy.render(problem))
        return [Message("system", hint), user] if hint else [user]

    def call_config(self, seed: int | None) -> GenerateConfig:
        base = self.generate
        stop = base.stop + FENCED_STOP if self.tool_style == FENCED else base.stop
        return GenerateConfig(
            temperature=base.temperature,
            top_p=base.top_p,
            max_tokens=base.max_tokens,
            stop=tuple(dict.fromkeys(stop)),
            seed=seed if seed is not None else base.seed,
            n=1,
        )


class CellRunner(Protocol):
    """Where a sample's cells run: a notebook session, or one that waits for a free slot."""

    async def arun(self, code: str, timeout: float | None = None) -> CellResult: ...


async def run_sample(
    model: ChatModel,
    session: CellRunner,
    problem: str,
    config: AgentConfig,
    *,
    seed: int | None = None,
) -> Trajectory:
    """Run one sample of ``problem`` to its end and return everything it did."""
    model.check_tool_style(config.tool_style == FUNCTION)
    return await _SampleRun(model, session, problem, config, seed).run()


class _SampleRun:
    """The mutable state of one sample while it runs."""

    def __init__(
        self,
        model: ChatModel,
        session: CellRunner,
        problem: str,
        config: AgentConfig,
        seed: int | None,
    ) -> None:
        self.model, self.session, self.problem, self.config = model, session, problem, config
        self.call_config = config.call_config(seed)
        self.messages = config.first_messages(problem)
        self.turns: list[ModelTurn] = []
        self.cells: list[Cell] = []
        self.steps: list[TextStep | CodeStep] = []
        self.executions = self.refusals = self.violations = self.revisions = 0
        self.refused_turns = 0
        self.started = time.monotonic()

    async def run(self) -> Trajectory:
        stop_reason = await self._loop()
        return self._trajectory(stop_reason)

    async def _loop(self) -> str:
        while True:
            if len(self.turns) >= self.config.max_turns:
                return "max_turns"
            try:
                completion = await self._call_model()
            except ModelContextLengthError:
                return "context"  # the turns so far are the sample: graded on them, flagged
            codes = self._record_turn(completion)
            if self._spent() >= self.config.token_budget:
                return "token_budget"
            if not codes:
                if completion.finish_reason == "length":
                    return "length"
                if self._should_revise():
                    continue
                return "answer"
            stop = await self._run_codes(codes, completion)
            if stop is not None:
                return stop

    async def _call_model(self) -> Completion:
        tools = self.config.tool_style == FUNCTION
        [completion] = await self.model.generate(self.messages, self.call_config, tools=tools)
        return completion

    def _record_turn(self, completion: Completion) -> list[tuple[str | None, str | ToolError]]:
        """Store the turn; return its code cells as (tool call id or None, code), or the
        error to answer a tool call that cannot run with."""
        message = completion.message
        content = message.content or ""
        if self.config.tool_style == FENCED:
            content = trim_fenced_completion(content)
            message = Message("assistant", content)
        usage = completion.usage
        self.turns.append(
            ModelTurn(
                content,
                message.tool_calls,
                completion.finish_reason,
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.cost_usd,
                completion.latency_s,
                completion.request,
                completion.response,
            )
        )
        self.messages.append(message)
        if self.config.tool_style == FUNCTION:
            if content.strip():
                self.steps.append(TextStep(content))
            return [(call.id, _call_code(call)) for call in message.tool_calls]
        prose, code = split_fenced_turn(content)
        if prose.strip():
            self.steps.append(TextStep(prose))
        return [] if code is None else [(None, code)]

    def _spent(self) -> int:
        return sum(turn.completion_tokens for turn in self.turns)

    async def _run_codes(
        self, codes: list[tuple[str | None, str | ToolError]], completion: Completion
    ) -> str | None:
        """Run (or refuse) a turn's cells; a second turn of refused code ends the sample."""
        refused = False
        for call_id, code in codes:
            if isinstance(code, ToolError):  # the model gets the error back, as for a bad cell
                self._reply(call_id, code.message)
                continue
            refusal = self._refusal()
            if refusal is None:
                output = await self._execute(code)
            else:
                refused = True
                output = refusal
                self._record_cell(code, refusal, "refused", 0.0)
            self._reply(call_id, output)
        self.refused_turns += refused
        if self.refused_turns < 2:
            return None
        if self.executions >= self.config.max_code_executions:
            return "max_code_executions"
        return "refused_code"

    def _refusal(self) -> str | None:
        """The message refusing the next cell, or None when it may run."""
        if self.executions >= self.config.max_code_executions:
            self.refusals += 1
            return CODE_LIMIT_MESSAGE.format(limit=self.config.max_code_executions)
        strategy = self.config.strategy
        if strategy.allows_execution(self.executions):
            return None
        if not self.config.enforce_code_rule:
            self.violations += 1
            return None
        self.refusals += 1
        return strategy.code_refusal or CODE_LIMIT_MESSAGE.format(
            limit=strategy.max_code_executions
        )

    async def _execute(self, code: str) -> str:
        result = await self.session.arun(code, timeout=self.config.cell_timeout_s)
        self.executions += 1
        self._record_cell(code, result.output, str(result.status), result.duration_s, result.cpu_s)
        return result.output

    def _record_cell(
        self, code: str, output: str, status: str, duration_s: float, cpu_s: float = 0.0
    ) -> None:
        self.cells.append(Cell(code, output, status, duration_s, len(self.turns) - 1, cpu_s))
        self.steps.append(CodeStep(code, output, status))

    def _reply(self, call_id: str | None, output: str) -> None:
        if call_id is None:
            self.messages.append(Message("user", fence_output(output)))
        else:
            self.messages.append(Message("tool", output, tool_call_id=call_id))

    def _should_revise(self) -> bool:
        message = self.config.strategy.revise_message
        if self.revisions >= self.config.revise or message is None:
            return False
        if self._verification().state is not VerificationState.FALSE:
            return False
        self.revisions += 1
        self.messages.append(Message("user", message))
        return True

    def _answer(self) -> tuple[str | None, str]:
        text = "\n".join(step.text for step in self.steps if isinstance(step, TextStep))
        extraction = extract_answer(text, self.config.dataset)
        return extraction.answer, extraction.method

    def _verification(self) -> Verification:
        answer, _ = self._answer()
        return read_verification(
            Trace(tuple(self.steps), answer), self.config.strategy.verification_medium
        )

    def _trajectory(self, stop_reason: str) -> Trajectory:
        answer, method = self._answer()
        return Trajectory(
            problem=self.problem,
            strategy=self.config.strategy.name,
            tool_style=self.config.tool_style,
            messages=tuple(self.messages),
            turns=tuple(self.turns),
            cells=tuple(self.cells),
            steps=tuple(self.steps),
            answer=answer,
            answer_method=method,
            verification=self._verification(),
            code_executions=self.executions,
            code_refusals=self.refusals,
            rule_violations=self.violations,
            revisions=self.revisions,
            stop_reason=stop_reason,
            duration_s=time.monotonic() - self.started,
        )
