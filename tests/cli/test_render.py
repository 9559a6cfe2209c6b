"""``solve``'s terminal rendering: long code lines wrap at the panel's edge, never cut."""

from __future__ import annotations

import io

from rich.console import Console

from verimath.cli.render import code_block

LONG = "total = " + " + ".join(f"value_{i} * weight_{i}" for i in range(12)) + "  # the end"


def rendered(code: str, width: int = 80) -> str:
    sink = io.StringIO()
    Console(file=sink, width=width, color_system=None).print(code_block(code, width - 4))
    return sink.getvalue()


def test_a_long_line_wraps_with_line_numbers_and_keeps_its_end() -> None:
    text = rendered(f"x = 1\n{LONG}\nprint(total)")
    assert "# the end" in text  # nothing cut at the edge
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines[0].lstrip().startswith("1") and "2" in lines[1]  # numbered: wraps show
    assert len(lines) > 3


def test_short_code_stays_plain() -> None:
    text = rendered("x = 1\nprint(x)")
    assert text.splitlines()[0].strip() == "x = 1"
