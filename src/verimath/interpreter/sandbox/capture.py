"""Bounded capture of everything a cell writes, and the text rules that make it safe to show.

The server reads a session's output pipe (its descriptors 1 and 2, which ``print`` also ends in)
into one ``OutputCapture``: one cap over all of it, the first and last characters kept around a
marker line ``[... N characters omitted ...]``. Two rules hold for every text shown:

* C0 and C1 control characters other than newline and tab (ESC, CSI, BEL, DEL, NUL...) are shown
  escaped as ``\\x1b``: they never reach a terminal (``escape_controls``).
  ``FORMAT_CHARACTERS`` is the rest of the table of what must not reach a terminal raw: the
  invisible format characters (bidi controls, zero-width characters, tags, line separators).
  The model sees them as the cell wrote them; the host's ``verimath.terminal`` escapes them too
  before anything is shown (this module runs inside the sandbox and cannot import the host).
* verimath's own notes are lines starting with one of ``NOTE_PREFIXES``; a line of the cell's
  output that starts the same way is prefixed with ``(printed) `` so that it cannot pass for
  one (``neutralize``).
"""

from __future__ import annotations

import re

MARKER_TEMPLATE = "[... {n} characters omitted ...]"
NOTE_PREFIXES = ("[... ", "[session ended", "[new session", "[note:", "[verimath")
PRINTED_PREFIX = "(printed) "
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
FORMAT_CHARACTERS = (
    # Unicode category Cf (bidi embeddings, overrides and isolates, zero-width characters,
    # invisible operators, tags...) as of Unicode 15, plus the line and paragraph separators
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f"
)
"""Characters a terminal draws as nothing, or uses to reorder what it draws (a character class
body for ``re``)."""
NOTE_LINE = re.compile(
    "^(?=" + "|".join(re.escape(prefix) for prefix in NOTE_PREFIXES) + ")", re.MULTILINE
)
UTF8_CONTINUATION = bytes(range(0x80, 0xC0))
BYTES_PER_CHARACTER = 4  # a kept byte yields at least one character, at most four when escaped


def escape_controls(text: str) -> str:
    """``text`` with control characters (newline and tab excepted) shown as ``\\xNN``, and lone
    surrogates as ``\\udNNN``: safe for a terminal and for any UTF-8 encoder."""
    text = CONTROL_CHARACTERS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def neutralize(text: str) -> str:
    """Prefix every line of ``text`` that could be mistaken for a note of verimath's."""
    return NOTE_LINE.sub(PRINTED_PREFIX, text)


def count_characters(data: bytes | bytearray) -> int:
    """Characters in UTF-8 ``data``: every byte except continuation bytes."""
    return len(data) - len(data.translate(None, UTF8_CONTINUATION))


def safe_text(data: bytes) -> str:
    """Bytes of untrusted output as text that is safe to show (see the module docstring)."""
    return escape_controls(data.decode("utf-8", "replace"))


def cut_middle(text: str, limit: int) -> str:
    """Safe text of at most about ``limit`` characters: head and tail around the marker."""
    text = escape_controls(text)
    if len(text) <= limit:
        return neutralize(text)
    head, tail = limit - limit // 2, limit // 2
    return _join(text[:head], len(text) - head - tail, text[len(text) - tail :] if tail else "")


def _join(head: str, omitted: int, tail: str) -> str:
    # Each part is neutralized on its own: the tail starts mid-line, and whatever it starts with
    # must not pass for a note right under the marker.
    marker = MARKER_TEMPLATE.format(n=omitted)
    return f"{neutralize(head)}\n{marker}\n{neutralize(tail)}"


class OutputCapture:
    """Keeps the first and last bytes a cell writes and counts the characters dropped between.

    Memory stays bounded whatever the cell writes; ``render`` turns the kept bytes into safe
    text of at most ``limit`` characters (plus the marker line and a ``(printed)`` prefix).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.head_limit = limit - limit // 2
        self.tail_limit = limit // 2
        self._head = bytearray()
        self._tail = bytearray()
        self._dropped_characters = 0
        self.total_bytes = 0

    def feed(self, data: bytes) -> None:
        self.total_bytes += len(data)
        room = self.head_limit * BYTES_PER_CHARACTER - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if not data:
            return
        self._tail += data
        excess = len(self._tail) - self.tail_limit * BYTES_PER_CHARACTER
        if excess > 0:
            self._dropped_characters += count_characters(self._tail[:excess])
            del self._tail[:excess]

    def render(self) -> str:
        if not self.total_bytes:
            return ""
        if not self._dropped_characters:
            return cut_middle((self._head + self._tail).decode("utf-8", "replace"), self.limit)
        head = safe_text(bytes(self._head))
        tail = safe_text(bytes(self._tail).lstrip(UTF8_CONTINUATION))
        omitted = self._dropped_characters + max(0, len(head) - self.head_limit)
        omitted += max(0, len(tail) - self.tail_limit)
        tail = tail[len(tail) - self.tail_limit :] if self.tail_limit else ""
        return _join(head[: self.head_limit], omitted, tail)
