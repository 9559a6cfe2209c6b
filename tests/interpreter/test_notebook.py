"""Notebook semantics: shared state, displayed expressions, errors, output cutting."""

from __future__ import annotations

import asyncio

from tests.cpu_hogs import crowded_core
from verimath.interpreter import CellStatus, Interpreter


def test_state_persists_across_cells(session) -> None:
    assert session.run("x = 5").status is CellStatus.OK
    assert session.run("y = x * 2").output == ""
    assert session.run("print(x + y)").output == "15\n"


def test_last_bare_expression_is_displayed(session) -> None:
    assert session.run("1 + 1").output == "2\n"
    assert session.run("a = 3\na * 7").output == "21\n"
    assert session.run("None").output == ""
    assert (
        session.run("import sympy\nsympy.Rational(1, 3) + sympy.Rational(1, 6)").output == "1/2\n"
    )


def test_preloaded_libraries_import_instantly(session) -> None:
    result = session.run("import numpy, scipy.optimize, sympy\nnumpy.linalg.det(numpy.eye(3))")
    assert result.status is CellStatus.OK
    assert result.output in ("1.0\n", "np.float64(1.0)\n")
    assert result.duration_s < 1.0


def test_traceback_shows_cell_frames_only(session) -> None:
    session.run("def f(n):\n    return 1 / n\n")
    result = session.run("f(0)")
    assert result.status is CellStatus.ERROR
    assert 'File "<cell-2>", line 1' in result.output
    assert 'File "<cell-1>", line 2, in f' in result.output
    assert "return 1 / n" in result.output
    assert result.output.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "sandbox" not in result.output and "notebook.py" not in result.output


def test_library_frames_are_dropped(session) -> None:
    result = session.run("import sympy\nsympy.sympify('(((')")
    assert result.status is CellStatus.ERROR
    assert "site-packages" not in result.output
    assert "SympifyError" in result.output


def test_syntax_error_is_reported_and_session_survives(session) -> None:
    session.run("kept = 1")
    result = session.run("def broken(:\n  pass")
    assert result.status is CellStatus.ERROR
    assert "SyntaxError" in result.output
    assert session.run("kept").output == "1\n"


def test_stdout_and_stderr_are_interleaved(session) -> None:
    code = "import sys\nprint('a')\nprint('b', file=sys.stderr)\nprint('c')"
    assert session.run(code).output == "a\nb\nc\n"


def test_writes_to_raw_file_descriptors_are_captured(session) -> None:
    result = session.run("import os\nos.write(1, b'fd-one\\n')\nos.write(2, b'fd-two\\n')\n")
    assert "fd-one" in result.output and "fd-two" in result.output


def test_long_output_is_cut_head_and_tail(session) -> None:
    result = session.run("print('HEAD' + 'x' * 100000 + 'TAIL')")
    assert result.output.startswith("HEAD")
    assert result.output.rstrip().endswith("TAIL")
    assert "characters omitted ...]" in result.output
    assert len(result.output) < 2200


def test_printed_marker_cannot_pass_for_a_real_cut(session) -> None:
    result = session.run("print('[... 12 characters omitted ...]')")
    assert result.output == "(printed) [... 12 characters omitted ...]\n"


def test_system_exit_is_an_error_not_the_end(session) -> None:
    session.run("z = 9")
    result = session.run("import sys\nsys.exit(3)")
    assert result.status is CellStatus.ERROR
    assert "SystemExit: 3" in result.output
    assert session.run("z").output == "9\n"


def test_sessions_do_not_share_state(interpreter: Interpreter) -> None:
    with interpreter.session() as first, interpreter.session() as second:
        first.run("secret = 42")
        result = second.run("secret")
        assert result.status is CellStatus.ERROR
        assert "NameError" in result.output


def test_input_reads_end_of_file(session) -> None:
    result = session.run("input('?')")
    assert result.status is CellStatus.ERROR
    assert "EOFError" in result.output


async def test_async_sessions_run_concurrently(interpreter: Interpreter) -> None:
    sessions = [interpreter.session() for _ in range(8)]
    try:
        results = await asyncio.gather(
            *(s.arun(f"import time\ntime.sleep(0.5)\n{i} * 10") for i, s in enumerate(sessions))
        )
    finally:
        for s in sessions:
            s.close()
    assert [r.output for r in results] == [f"{i * 10}\n" for i in range(8)]
    # eight half-second sleeps in parallel, not one after another
    assert max(r.duration_s for r in results) < 3.0


async def test_async_timeout_keeps_state(session) -> None:
    await session.arun("counter = 7")
    result = await session.arun("while True: pass", timeout=0.5)
    assert result.status is CellStatus.TIMEOUT
    assert (await session.arun("counter")).output == "7\n"


def test_a_cells_time_limit_is_cpu_time_not_the_machines_load(session) -> None:
    """A cell that needs a third of its limit in CPU time finishes even when CPU hogs on its
    core stretch its wall-clock time past the limit."""
    work = "s = 0\nfor i in range(10_000_000):\n    s += i\ns"
    quiet = session.run(work, timeout=60)
    assert quiet.status is CellStatus.OK
    limit = 3 * quiet.cpu_s
    process = session._process
    assert process is not None
    with crowded_core(process.pid):
        loaded = session.run(work, timeout=limit)
    assert loaded.status is CellStatus.OK, loaded.output
    assert loaded.output == quiet.output
    assert loaded.duration_s > limit  # the hogs did stretch it (a ratio, not a time)
    waiting = session.run("import time\ntime.sleep(60)", timeout=0.2)
    assert waiting.status is CellStatus.TIMEOUT  # waiting is stopped by the wall-clock limit
    assert "wall-clock" in waiting.output
