"""Shared fixture: one real Grader (real worker processes) for the whole grading suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from verimath.grading import Grader

TEST_TIMEOUT = 2.0
"""A shorter timeout than the default keeps the timeout cases quick."""


@pytest.fixture(scope="session")
def grader() -> Iterator[Grader]:
    with Grader(timeout=TEST_TIMEOUT) as shared:
        yield shared
