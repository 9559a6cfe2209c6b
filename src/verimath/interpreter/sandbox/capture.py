"""Bounded capture of a cell's output: the first and last characters are kept, the middle counted.

Output longer than the limit is cut head + tail around a marker line
``[... N characters omitted ...]``. So that printed text can never pass for that marker, any
line of real output that looks like it is prefixed with ``(printed) `` (see ``neutralize``).
"""

from __future__ import annotations

import io
import re
from collections import deque

MARKER_TEMPLATE = "[... {n} characters omitted ...]"
MARKER_PATTERN = re.compile(r"^\[\.\.\. \d+ characters omitted \.\.\.\]$", re.MULTILINE)


def neutralize(text: str) -> str:
    """Prefix every line of real output that could be mistaken for the omission marker."""
    return MARKER_PATTERN.sub(lambda match: "(printed) " + match.group(0), text)


def cut_middle(text: str, limit: int) -> str:
    """Keep the head and tail of ``text`` within ``limit`` characters, marking the cut."""
    text = neutralize(text)
    if len(text) <= limit:
        return text
    head, tail = limit - limit // 2, limit // 2
    omitted = len(text) - head - tail
    return f"{text[:head]}\n{MARKER_TEMPLATE.format(n=omitted)}\n{text[len(text) - tail :]}"


class BoundedBuffer:
    """Keeps the first ``head`` and last ``tail`` characters written, and the total count."""

    def __init__(self, limit: int) -> None:
        self.head_limit = limit - limit // 2
        self.tail_limit = limit // 2
        self.total = 0
        self._head: list[str] = []
        self._head_size = 0
        self._tail: deque[str] = deque()
        self._tail_size = 0

    def write(self, text: str) -> None:
        self.total += len(text)
        room = self.head_limit - self._head_size
        if room > 0:
            self._head.append(text[:room])
            self._head_size += min(room, len(text))
            text = text[room:]
        if text:
            self._push_tail(text)

    def _push_tail(self, text: str) -> None:
        if len(text) >= self.tail_limit:
            self._tail.clear()
            self._tail_size = 0
            text = text[len(text) - self.tail_limit :] if self.tail_limit else ""
        self._tail.append(text)
        self._tail_size += len(text)
        while self._tail and self._tail_size - len(self._tail[0]) >= self.tail_limit:
            self._tail_size -= len(self._tail.popleft())

    def render(self) -> str:
        """The captured text with the omission marker where the middle was dropped."""
        head = "".join(self._head)
        tail = "".join(self._tail)
        tail = tail[max(0, len(tail) - self.tail_limit) :] if self.tail_limit else ""
        omitted = self.total - self._head_size - len(tail)
        if omitted <= 0:
            return neutralize(head + tail)
        return f"{neutralize(head)}\n{MARKER_TEMPLATE.format(n=omitted)}\n{neutralize(tail)}"


class CaptureStream(io.TextIOBase):
    """A text stream (``sys.stdout``/``sys.stderr`` in a cell) writing into a BoundedBuffer."""

    encoding = "utf-8"

    def __init__(self, buffer: BoundedBuffer, name: str) -> None:
        super().__init__()
        self._buffer = buffer
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._buffer.write(text)
        return len(text)
