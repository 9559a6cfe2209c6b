"""The one protocol every model backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType

from verimath.errors import ConfigError
from verimath.models.messages import Completion, GenerateConfig, Message
from verimath.models.tools import FUNCTION

__all__ = ["ChatModel"]


class ChatModel(ABC):
    """A chat model. Backends implement :meth:`generate`; everything else has defaults.

    ``tool_styles`` says how the model can run code: ``"function"`` (native function calling
    with :data:`~verimath.models.PYTHON_TOOL`) and/or ``"fenced"`` (```` ```python ```` blocks
    answered with ```` ```output ```` blocks). Use as ``async with`` to close it when done.
    """

    name: str
    tool_styles: frozenset[str]

    @abstractmethod
    async def generate(
        self, messages: Sequence[Message], config: GenerateConfig, *, tools: bool = False
    ) -> list[Completion]:
        """Return ``config.n`` completions of ``messages``.

        ``tools=True`` offers the ``python`` tool natively (function style); without it the
        model writes fenced code, stopped by ``config.stop``.
        """

    def check_reachable(self) -> None:
        """Raise ModelConnectionError if the model's server cannot be reached at all: a quick
        check before a run starts (default: nothing to check, the model is in process)."""
        return None

    async def aclose(self) -> None:
        """Release connections, threads or memory held by the backend (default: nothing)."""
        return None

    async def __aenter__(self) -> ChatModel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def check_tool_style(self, tools: bool) -> None:
        """Raise ConfigError if ``tools=True`` is asked of a model without function calling.

        ``tools=False`` (plain text, which is also how the fenced style runs) always works.
        """
        if tools and FUNCTION not in self.tool_styles:
            raise ConfigError(
                f"model {self.name!r} has no native function calling (its tool styles: "
                f"{', '.join(sorted(self.tool_styles))}); use the fenced style, tools=False"
            )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
