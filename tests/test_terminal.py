"""The one rule for what reaches a terminal: controls and format characters are shown escaped."""

from __future__ import annotations

import json
import re
import sys
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from verimath.interpreter.sandbox.capture import FORMAT_CHARACTERS
from verimath.terminal import for_terminal, json_for_terminal

UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{FORMAT_CHARACTERS}\ud800-\udfff]")


def test_the_table_holds_every_format_character_of_this_python() -> None:
    table = re.compile(f"[{FORMAT_CHARACTERS}]")
    missing = [
        f"U+{code:04X}"
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) == "Cf" and not table.match(chr(code))
    ]
    assert missing == []


def test_controls_bidi_and_invisible_characters_are_shown_escaped() -> None:
    text = "a\x1b]0;t\x07b\x9bc\u202ed\u2066e\u200bf\ufeffg\U000e0041h\ud800\ni\tj"
    assert for_terminal(text) == (
        "a\\x1b]0;t\\x07b\\x9bc\\u202ed\\u2066e\\u200bf\\ufeffg\\U000e0041h\\ud800\ni\tj"
    )
    assert for_terminal(42) == "42"
    assert for_terminal("plain · ünïcode ∑ 你好") == "plain · ünïcode ∑ 你好"


@given(st.recursive(st.text() | st.integers(), lambda kids: st.lists(kids, max_size=3)))
def test_json_output_means_the_same_and_holds_nothing_unsafe(value: object) -> None:
    for indent in (None, 2):
        text = json_for_terminal({"v": value}, indent=indent)
        assert not UNSAFE.search(text)
        assert json.loads(text) == {"v": value}


@given(st.text())
def test_terminal_text_holds_nothing_unsafe(text: str) -> None:
    shown = for_terminal(text)
    assert not UNSAFE.search(shown)
    shown.encode("utf-8")  # no lone surrogate left: this would raise
