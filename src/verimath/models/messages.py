"""The data a chat model takes and gives back: messages, sampling settings, completions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NotRequired, TypedDict

from verimath.errors import ConfigError

__all__ = [
    "Completion",
    "GenerateConfig",
    "Message",
    "Role",
    "ToolCall",
    "Usage",
    "WireFunction",
    "WireMessage",
    "WireToolCall",
    "to_wire",
]

Role = Literal["system", "user", "assistant", "tool"]
ROLES: frozenset[str] = frozenset({"system", "user", "assistant", "tool"})


@dataclass(frozen=True)
class ToolCall:
    """A function call requested by the model (native function-calling style)."""

    id: str
    """The call's id, echoed back in the answering ``tool`` message."""
    name: str
    """The function's name; verimath offers one tool, ``python``."""
    arguments: str
    """The arguments as the model wrote them (JSON text); ``python`` takes ``{"code": ...}``."""


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    """Calls the assistant asks for (function-calling style only)."""
    tool_call_id: str | None = None
    """For ``role == "tool"``: the id of the call this message answers."""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ConfigError(f"message role {self.role!r} is not one of {sorted(ROLES)}")
        if self.role == "tool" and not self.tool_call_id:
            raise ConfigError("a 'tool' message needs the tool_call_id of the call it answers")


@dataclass(frozen=True)
class GenerateConfig:
    """Sampling settings of one ``generate`` call."""

    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 2048
    """Most tokens to generate for each choice."""
    stop: tuple[str, ...] = ()
    """Stop strings; generation ends before them and they are not part of the content."""
    seed: int | None = None
    """Sampling seed, passed to backends that take one (replay uses it to pick a sample)."""
    n: int = 1
    """Number of independent choices to return."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise ConfigError(f"temperature must be a number >= 0, not {self.temperature!r}")
        if not (0 < self.top_p <= 1):
            raise ConfigError(f"top_p must be in (0, 1], not {self.top_p!r}")
        if self.max_tokens < 1:
            raise ConfigError(f"max_tokens must be >= 1, not {self.max_tokens!r}")
        if self.n < 1:
            raise ConfigError(f"n must be >= 1, not {self.n!r}")
        if isinstance(self.stop, str):
            raise ConfigError("stop must be a tuple of strings, not a single string")
        object.__setattr__(self, "stop", tuple(self.stop))


@dataclass(frozen=True)
class Usage:
    """Tokens (and money, when known) spent by a call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    """None when the price is unknown (self-hosted models, unlisted names)."""


@dataclass(frozen=True)
class Completion:
    """One choice of a ``generate`` call.

    ``usage`` is that of the whole call and is attributed to choice 0; the other choices
    carry zero usage, so summing over all completions counts every token exactly once.
    """

    message: Message
    """Role ``assistant``. Fenced style: the text up to (excluding) the stop string, ending
    right after the closing fence of the python block when the model stopped there."""
    finish_reason: str
    """``"stop"``, ``"length"``, ``"tool_calls"``, or whatever else the server said."""
    usage: Usage
    latency_s: float
    """Wall-clock time of the call that produced this choice, retries included."""
    request: Mapping[str, object] | None = None
    """The exact JSON-able request (body) sent; with the model's name, a cache key."""
    response: dict[str, Any] | None = None  # open-ended: whatever JSON the server answered
    """The raw JSON-able response this choice came from."""


class WireFunction(TypedDict):
    """The function part of a tool call, as the chat completions API writes it."""

    name: str
    arguments: str


class WireToolCall(TypedDict):
    """A tool call as the chat completions API writes it."""

    id: str
    type: Literal["function"]
    function: WireFunction


class WireMessage(TypedDict):
    """A chat message as the OpenAI chat completions API (and llama.cpp) take it."""

    role: Role
    content: str
    tool_calls: NotRequired[list[WireToolCall]]
    tool_call_id: NotRequired[str]


def to_wire(message: Message) -> WireMessage:
    """The message as the OpenAI chat completions API (and llama.cpp) take it."""
    wire: WireMessage = {"role": message.role, "content": message.content}
    if message.tool_calls:
        wire["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        wire["tool_call_id"] = message.tool_call_id
    return wire
