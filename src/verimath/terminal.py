"""What reaches a terminal: the one rule for every string that came from outside verimath.

Model text, code, answers, a server's error messages, file contents, and error messages that
quote any of them may hold bytes a terminal obeys instead of showing: ESC and the C0 controls
(``ESC ] 52`` writes the clipboard, ``ESC ] 0`` the window title, ``ESC [ 2J`` clears the
screen), the C1 controls (U+009B is a one-character CSI), and the invisible format characters
(bidi overrides and isolates such as U+202E and U+2066, zero-width characters, tags) that make
code or an answer look like something it is not.

:func:`for_terminal` shows all of them escaped (``\\x1b``, ``\\x9b``, ``\\u202e``), newline and
tab excepted; :func:`json_for_terminal` does the same for JSON output, as ``\\u001b``-style
escapes, so that the document stays valid JSON and means the same. The character table is the
sandbox's (:mod:`verimath.interpreter.sandbox.capture`), which applies the C0/C1 half of it to
what a cell prints.
"""

from __future__ import annotations

import json
import re

from verimath.interpreter.sandbox.capture import (
    CONTROL_CHARACTERS,
    FORMAT_CHARACTERS,
    escape_controls,
)

__all__ = ["escape_json_text", "for_terminal", "json_for_terminal"]

_FORMAT = re.compile(f"[{FORMAT_CHARACTERS}]")
_UNSAFE_IN_JSON = re.compile(f"{CONTROL_CHARACTERS.pattern[:-1]}{FORMAT_CHARACTERS}\ud800-\udfff]")


def for_terminal(text: object) -> str:
    """``text`` (or ``str(text)``) with every control and format character shown escaped."""
    shown = escape_controls(str(text))
    return _FORMAT.sub(_escape_format, shown)


def json_for_terminal(value: object, *, indent: int | None = None) -> str:
    """``value`` as JSON text (UTF-8, not ASCII-escaped) in which no control, format or lone
    surrogate character appears raw: each is a ``\\uXXXX`` escape."""
    return escape_json_text(json.dumps(value, ensure_ascii=False, indent=indent))


def escape_json_text(text: str) -> str:
    """JSON text with the characters :func:`for_terminal` escapes written as ``\\uXXXX``.

    Valid for any JSON document: outside strings JSON holds only ASCII punctuation, digits,
    letters and whitespace, and newline and tab are left alone."""
    return _UNSAFE_IN_JSON.sub(_json_escape, text)


def _escape_format(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    high, low = divmod(code - 0x10000, 0x400)
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"
