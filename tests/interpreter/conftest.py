from __future__ import annotations

from collections.abc import Iterator

import pytest

from verimath.interpreter import Interpreter, Limits

# Short limits keep the attack tests quick; the grace period still lets a cell that ignores its
# soft time limit be told apart from one that honours it.
TEST_LIMITS = Limits(
    timeout_s=3.0, grace_s=2.0, memory_mb=1024, cpu_s=60, file_size_mb=16, max_output_chars=2000
)


@pytest.fixture(scope="session")
def interpreter() -> Iterator[Interpreter]:
    with Interpreter(TEST_LIMITS, strict=True) as interp:
        yield interp


@pytest.fixture
def session(interpreter: Interpreter):
    with interpreter.session() as s:
        yield s
