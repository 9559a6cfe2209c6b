"""GBNF grammars (llama.cpp's constrained sampling) that force exact text.

Used to script a model's turns, e.g. in tests with a random-weight model: whatever the
weights, the only text the grammar allows is the script.
"""

from __future__ import annotations

__all__ = ["literal_grammar"]

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def literal_grammar(text: str) -> str:
    """A GBNF grammar whose only sentence is ``text``."""
    return f'root ::= "{"".join(_escape(ch) for ch in text)}"'


def _escape(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if ord(ch) < 0x20 or ord(ch) == 0x7F:
        return f"\\x{ord(ch):02X}"
    return ch
