"""Sessions flooding their output share the event loop: other sessions go on meanwhile, and every
flooding cell's output arrives whole and capped exactly as when it runs alone.

How long the loop waits is measured by ``benchmarks/loop_lag.py``, not here."""

from __future__ import annotations

import asyncio

from verimath.interpreter import CellStatus, Interpreter
from verimath.interpreter.sandbox.capture import OutputCapture

from .conftest import TEST_LIMITS

FLOODERS = 4
BLOCKS = 256  # of 64 KiB: 16 MiB per cell
FLOOD = """import os
for j in range({blocks}):
    view = memoryview(block({index}, j))
    while view:
        view = view[os.write(1, view):]
"""
BLOCK = """def block(index, j):
    return (f"s{index}b{j:04d}|" * 7000).encode()[:65536]
"""


def block(index: int, j: int) -> bytes:
    return (f"s{index}b{j:04d}|" * 7000).encode()[:65536]


def expected_output(index: int) -> str:
    """What the host shows of session ``index``'s flood: its bytes through one capture."""
    capture = OutputCapture(TEST_LIMITS.max_output_chars)
    for j in range(BLOCKS):
        capture.feed(block(index, j))
    return capture.render()


async def flood_while_others_run(interp: Interpreter) -> tuple[list[str], list[str], int]:
    flooders = [interp.session() for _ in range(FLOODERS)]
    neighbour = interp.session()
    for session in [*flooders, neighbour]:
        await session.arun(BLOCK)
    floods = [
        asyncio.create_task(s.arun(FLOOD.format(blocks=BLOCKS, index=i)))
        for i, s in enumerate(flooders)
    ]
    answers: list[str] = []
    during = 0
    while not all(flood.done() for flood in floods):
        answers.append((await neighbour.arun("1 + 1")).output)
        during += not all(flood.done() for flood in floods)
    outputs = [(await flood).output for flood in floods]
    for session in [*flooders, neighbour]:
        session.close()
    return outputs, answers, during


def test_flooding_sessions_keep_their_output_and_let_a_neighbour_run(
    interpreter: Interpreter,
) -> None:
    outputs, answers, during = asyncio.run(flood_while_others_run(interpreter))
    assert during >= 1, "no cell of the neighbour completed while the others flooded"
    assert set(answers) == {"2\n"}
    for index, output in enumerate(outputs):
        assert output == expected_output(index)
        assert f"s{index}b0000|" in output and f"b{BLOCKS - 1:04d}|" in output
        assert len(output) <= TEST_LIMITS.max_output_chars + 100


def test_a_flood_reads_the_same_on_and_off_the_event_loop(interpreter: Interpreter) -> None:
    with interpreter.session() as session:
        session.run(BLOCK)
        blocking = session.run(FLOOD.format(blocks=BLOCKS, index=7))
        awaited = asyncio.run(session.arun(FLOOD.format(blocks=BLOCKS, index=7)))
    assert blocking.output == awaited.output == expected_output(7)


def test_a_thread_left_flooding_ends_its_session_with_capped_output(
    interpreter: Interpreter,
) -> None:
    code = (
        "import os, threading\n"
        "def flood():\n    while True:\n        os.write(1, b'z' * 65536)\n"
        "threading.Thread(target=flood, name='flooder', daemon=True).start()\n"
        "'returned'"
    )
    with interpreter.session() as session:
        result = asyncio.run(session.arun(code))
        assert result.status is CellStatus.OK
        assert "1 thread(s) still running (flooder)" in result.output
        assert "session was ended" in (result.detail or "")
        assert len(result.output) <= TEST_LIMITS.max_output_chars + 200
        assert session.run("1 + 1").restarted
