"""docs/grading.md is the docstring of verimath.grading; this keeps the two from drifting."""

from __future__ import annotations

from pathlib import Path

import verimath.grading

DOC = Path(__file__).resolve().parents[2] / "docs" / "grading.md"


def test_grading_doc_matches_the_package_docstring() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert verimath.grading.__doc__ is not None
    assert verimath.grading.__doc__.strip() in text, (
        "docs/grading.md is stale: regenerate it from verimath.grading.__doc__"
    )
