"""Replay of recorded solutions: model turns come from the record, code runs for real.

Spec ``replay:/path/transcripts.jsonl`` (or a directory of them); formats in
:mod:`verimath.models.transcripts`. The problem is the one whose question appears in the first
user message (the longest such question wins), or the one pinned by ``problem_id``. Assistant
turn i is the recording's turn i, in the tool style asked for: fenced text, or with
``tools=True`` a ``python`` tool call. Past the recording's last turn the model says nothing
(empty content, finish reason ``stop``).

Which recorded sample a choice replays: at the first turn, sample ``(seed + j) mod count``
for choice j (seed None counts as 0); later turns continue the sample whose earlier turns the
conversation repeats, so pass the assistant messages back unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from verimath.errors import ConfigError, ModelNotFoundError, ModelResponseError
from verimath.models.base import ChatModel
from verimath.models.messages import Completion, GenerateConfig, Message, Usage, to_wire
from verimath.models.tools import FENCED, FUNCTION, Segment, tool_call_code
from verimath.models.transcripts import (
    RecordedProblem,
    RecordedSample,
    load_transcripts,
    normalize_question,
)

__all__ = ["ReplayModel"]

_END = Segment("")
_FREE = Usage(0, 0, 0.0)


class ReplayModel(ChatModel):
    """A "model" that answers with recorded solutions."""

    tool_styles = frozenset({FUNCTION, FENCED})

    def __init__(
        self, problems: Sequence[RecordedProblem], *, name: str, problem_id: str | None = None
    ) -> None:
        if not problems:
            raise ConfigError(f"{name}: no recorded problems to replay")
        self.name = name
        self.problems: tuple[RecordedProblem, ...] = tuple(problems)
        """Every recorded problem, in file order (for ``verimath eval --model replay:...``)."""
        self._by_id: dict[str, RecordedProblem] = {}
        for problem in self.problems:
            self._by_id.setdefault(problem.id, problem)
        self._by_question = [(normalize_question(p.question), p) for p in self.problems]
        self._index = QuestionIndex(q for q, _ in self._by_question)
        self._pinned = self.problem(problem_id) if problem_id is not None else None
        self._matches: dict[str, RecordedProblem] = {}

    @classmethod
    def from_path(cls, path: str, *, problem_id: str | None = None) -> ReplayModel:
        """The replay of a transcript file or directory."""
        if not path:
            raise ConfigError("replay needs a file: replay:/path/transcripts.jsonl")
        return cls(load_transcripts(Path(path)), name=f"replay:{path}", problem_id=problem_id)

    def problem(self, problem_id: str) -> RecordedProblem:
        """The problem with the recorded id ``problem_id``."""
        try:
            return self._by_id[str(problem_id)]
        except KeyError:
            raise ModelNotFoundError(
                f"{self.name} holds no problem with id {problem_id!r} "
                f"({len(self.problems)} problems, e.g. ids {list(self._by_id)[:3]})"
            ) from None

    def for_problem(self, problem_id: str) -> ReplayModel:
        """A replay pinned to one problem, whatever the messages say."""
        return ReplayModel(self.problems, name=self.name, problem_id=problem_id)

    def find(self, text: str) -> RecordedProblem:
        """The problem whose question occurs in ``text`` (the longest one, if several)."""
        if (known := self._matches.get(text)) is not None:
            return known
        haystack = normalize_question(text)
        found = self._index.occurring_in(haystack)
        if found is None:
            raise ModelNotFoundError(
                f"{self.name}: none of its {len(self.problems)} recorded questions occurs in "
                f"the first user message ({haystack[:120]!r}...)"
            )
        self._matches[text] = best = self._by_question[found][1]
        return best

    async def generate(
        self, messages: Sequence[Message], config: GenerateConfig, *, tools: bool = False
    ) -> list[Completion]:
        started = time.monotonic()
        problem = self._pinned or self.find(_first_user_text(messages))
        style = FUNCTION if tools else FENCED
        history = [m for m in messages if m.role == "assistant"]
        candidates = [i for i, s in enumerate(problem.samples) if _follows(s, history, style)]
        if not candidates:
            raise ModelResponseError(
                f"{self.name}: the assistant turns so far follow no recorded sample of problem "
                f"{problem.id!r}; replay needs its own turns passed back unchanged"
            )
        request = {
            "model": self.name,
            "messages": [to_wire(m) for m in messages],
            "tools": tools,
            "seed": config.seed,
            "n": config.n,
        }
        completions = []
        for j in range(config.n):
            index = candidates[((config.seed or 0) + j) % len(candidates)]
            completions.append(self._turn(problem, index, len(history), style, request, started))
        return completions

    def _turn(
        self,
        problem: RecordedProblem,
        sample_index: int,
        turn: int,
        style: str,
        request: dict[str, Any],
        started: float,
    ) -> Completion:
        segments = problem.samples[sample_index].segments
        segment = segments[turn] if turn < len(segments) else _END
        message = segment.message(style, _call_id(turn))
        finish = "tool_calls" if message.tool_calls else "stop"
        response = {
            "problem_id": problem.id,
            "sample": sample_index,
            "turn": turn,
            "turns": len(segments),
            "source": problem.samples[sample_index].source,
        }
        latency = time.monotonic() - started
        return Completion(message, finish, _FREE, latency, request, response)


def _call_id(turn: int) -> str:
    return f"call_replay_{turn}"


class QuestionIndex:
    """Questions by their first ``key_length`` characters (the shortest question's length, at
    most ``MAX_KEY``): finding those that occur in a text costs one dictionary lookup per
    position of the text, however many questions there are."""

    MAX_KEY = 32

    def __init__(self, questions: Iterable[str]) -> None:
        self._questions = list(questions)
        lengths = [len(q) for q in self._questions if q]
        self.key_length = min([self.MAX_KEY, *lengths])
        self._by_key: dict[str, list[int]] = {}
        for number, question in enumerate(self._questions):
            if question:
                self._by_key.setdefault(question[: self.key_length], []).append(number)

    def occurring_in(self, text: str) -> int | None:
        """The number of the longest question that occurs in ``text`` (the first such in
        order, among equally long ones), None if none does."""
        best, best_rank = None, (0, 0)
        seen: set[int] = set()
        width, by_key, questions = self.key_length, self._by_key, self._questions
        for start in range(len(text) - width + 1):
            for number in by_key.get(text[start : start + width], ()):
                if number in seen or not text.startswith(questions[number], start):
                    continue
                seen.add(number)
                rank = (len(questions[number]), -number)  # longest first, then earliest
                if best is None or rank > best_rank:
                    best, best_rank = number, rank
        return best


def _first_user_text(messages: Sequence[Message]) -> str:
    for message in messages:
        if message.role == "user":
            return message.content
    raise ConfigError("replay finds the problem in the first user message, and there is none")


def _follows(sample: RecordedSample, history: Sequence[Message], style: str) -> bool:
    """Whether the assistant messages so far are the sample's first turns."""
    for turn, said in enumerate(history):
        segment = sample.segments[turn] if turn < len(sample.segments) else _END
        if not _same(said, segment.message(style, _call_id(turn))):
            return False
    return True


def _same(said: Message, recorded: Message) -> bool:
    if said.content.strip() != recorded.content.strip():
        return False
    if len(said.tool_calls) != len(recorded.tool_calls):
        return False
    try:
        return all(
            tool_call_code(a) == tool_call_code(b)
            for a, b in zip(said.tool_calls, recorded.tool_calls, strict=True)
        )
    except ModelResponseError:
        return False
