"""Model-written code is hostile until proven otherwise: each attack must be stopped with a
clear status while the host, the sandbox server and a neighbouring session carry on."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interpreter import DEAF
from verimath.interpreter import CellStatus, Interpreter, SandboxDegradedWarning, Session

from .conftest import TEST_LIMITS


@pytest.fixture(scope="module")
def witness(interpreter: Interpreter) -> Iterator[Session]:
    """A neighbouring session whose state must survive every attack."""
    with interpreter.session() as s:
        s.run("witness_value = 'still here'")
        yield s


@pytest.fixture(autouse=True)
def _neighbour_unaffected(witness: Session) -> Iterator[None]:
    yield
    assert witness.run("witness_value").output == "'still here'\n"


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bytes]]]:
    """A real TCP listener on 127.0.0.1 recording anything that reaches it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    received: list[bytes] = []
    stop = threading.Event()

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            received.append(conn.recv(100) or b"<connected>")
            conn.close()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join()
    server.close()


def test_connect_to_loopback_listener_is_refused(session: Session, listener) -> None:
    port, received = listener
    code = f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
    code += "s.sendall(b'leak')"
    result = session.run(code)
    assert result.status is CellStatus.ERROR
    assert "PermissionError" in result.output or "OSError" in result.output
    time.sleep(0.3)
    assert received == []


def test_network_namespace_holds_without_seccomp(listener) -> None:
    port, received = listener
    with (
        pytest.warns(SandboxDegradedWarning, match="seccomp"),
        Interpreter(TEST_LIMITS, seccomp=False) as interp,
        interp.session() as s,
    ):
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"
        result = s.run(code)
    assert result.status is CellStatus.ERROR
    assert "Network is unreachable" in result.output or "Connection refused" in result.output
    time.sleep(0.3)
    assert received == []


def test_writes_outside_scratch_fail(session: Session, tmp_path: Path) -> None:
    target = tmp_path / "planted.txt"
    for path in (target, Path("/usr/lib/planted"), Path("/tmp/planted"), Path("/planted")):
        result = session.run(f"open({str(path)!r}, 'w').write('x')")
        assert result.status is CellStatus.ERROR, path
        assert "Error" in result.output
    assert not target.exists()
    assert not Path("/usr/lib/planted").exists()


def test_scratch_directory_is_writable_and_private(interpreter: Interpreter) -> None:
    with interpreter.session() as first, interpreter.session() as second:
        first.run("import os\nopen('notes.txt', 'w').write('mine')")
        where = first.run("os.getcwd()").output.strip().strip("'")
        assert first.run("open('notes.txt').read()").output == "'mine'\n"
        result = second.run(f"open({where + '/notes.txt'!r}).read()")
        assert result.status is CellStatus.ERROR
        assert "PermissionError" in result.output


def test_caller_environment_is_invisible(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("VERIMATH_CANARY", secret)
    code = (
        "import os, glob\n"
        "seen = [repr(dict(os.environ))]\n"
        "for path in glob.glob('/proc/*/environ') + glob.glob('/proc/*/cmdline'):\n"
        "    try:\n"
        "        seen.append(open(path, 'rb').read().decode('latin-1'))\n"
        "    except OSError as exc:\n"
        "        seen.append(type(exc).__name__)\n"
        "print('\\n'.join(seen))"
    )
    with Interpreter(TEST_LIMITS, strict=True) as interp, interp.session() as s:
        result = s.run(code)
    assert result.status is CellStatus.OK
    assert secret not in result.output
    assert "OPENAI_API_KEY" not in result.output


def test_files_in_callers_home_are_invisible(session: Session) -> None:
    planted = Path.home() / ".verimath-test-secret"
    planted.write_text("home secret")
    try:
        result = session.run(f"print(open({str(planted)!r}).read())")
        listing = session.run(f"import os\nos.path.exists({str(Path.home())!r} + '/.bashrc')")
    finally:
        planted.unlink()
    assert result.status is CellStatus.ERROR
    assert "home secret" not in result.output
    assert listing.output == "False\n"


def test_project_checkout_is_invisible(session: Session) -> None:
    here = Path(__file__).resolve()
    result = session.run(f"import os\nos.path.exists({str(here)!r})")
    assert result.output == "False\n"


@pytest.mark.parametrize(
    "code",
    [
        "import subprocess\nsubprocess.run(['id'])",
        "import os\nos.execv('/usr/bin/id', ['id'])",
        "import os\nos.fork()",
        "import os\nos.posix_spawn('/usr/bin/id', ['id'], {})",
        "import multiprocessing\nmultiprocessing.Process(target=print).start()",
    ],
)
def test_process_creation_is_denied(session: Session, code: str) -> None:
    result = session.run(code)
    assert result.status is CellStatus.ERROR
    assert "Operation not permitted" in result.output or "PermissionError" in result.output


def test_os_system_cannot_run_a_shell(session: Session) -> None:
    result = session.run("import os\nos.system('touch /tmp/sessions/pwned; echo pwned')")
    assert result.status is CellStatus.OK
    assert "pwned" not in result.output
    assert result.output.strip() != "0"


FORK_BOMB = """
import os, time
started = 0
for i in range(300):
    try:
        pid = os.fork()
    except OSError as exc:
        print('stopped after', started, type(exc).__name__)
        break
    if pid == 0:
        time.sleep(5)
        os._exit(0)
    started += 1
else:
    print('not stopped')
"""


def test_bounded_fork_bomb_is_stopped(session: Session) -> None:
    result = session.run(FORK_BOMB)
    assert result.output.startswith("stopped after 0 PermissionError")


def test_fork_bomb_is_bounded_by_rlimit_without_seccomp() -> None:
    with (
        pytest.warns(SandboxDegradedWarning, match="seccomp"),
        Interpreter(TEST_LIMITS, seccomp=False) as interp,
        interp.session() as s,
    ):
        result = s.run(FORK_BOMB)
    assert result.output.startswith("stopped after")
    started = int(result.output.split()[2])
    assert started < TEST_LIMITS.processes


@pytest.mark.parametrize(
    "code",
    ["blob = bytearray(8 * 1024**3)", "import numpy\nblob = numpy.ones(2**30)"],
)
def test_allocating_8_gib_reports_memory(session: Session, code: str) -> None:
    session.run("kept = 1")
    result = session.run(code)
    assert result.status is CellStatus.MEMORY
    assert "MemoryError" in result.output
    assert session.run("kept").output == "1\n"


def test_infinite_loop_times_out_and_keeps_state(session: Session) -> None:
    session.run("x = 5")
    result = session.run("while True:\n    pass", timeout=1)
    assert result.status is CellStatus.TIMEOUT
    assert "time limit" in result.output
    assert session.run("print(x)").output == "5\n"


def test_state_assigned_before_timeout_is_kept(session: Session) -> None:
    result = session.run("progress = 0\nwhile True:\n    progress += 1", timeout=0.5)
    assert result.status is CellStatus.TIMEOUT
    assert int(session.run("progress").output) > 1000


@pytest.mark.parametrize(
    "code",
    [
        "import sys\nsys.stdout.write('y' * 100_000_000)",
        "for i in range(3_000_000):\n    print('line', i)",
    ],
)
def test_100_mb_of_output_is_cut(session: Session, code: str) -> None:
    result = session.run(code, timeout=20)
    assert result.status in (CellStatus.OK, CellStatus.TIMEOUT)
    assert "characters omitted ...]" in result.output
    assert len(result.output) <= TEST_LIMITS.max_output_chars + 200


def test_catastrophic_regex_is_stopped(session: Session) -> None:
    session.run("kept = 'regex'")
    result = session.run("import re\nre.match(r'(a+)+$', 'a' * 40 + 'b')", timeout=1)
    assert result.status in (CellStatus.TIMEOUT, CellStatus.KILLED)
    assert session.run("1 + 1").output.endswith("2\n")


def test_huge_power_is_killed_after_grace(session: Session) -> None:
    result = session.run("7 ** 10 ** 8", timeout=1)
    assert result.status in (CellStatus.TIMEOUT, CellStatus.KILLED)
    follow_up = session.run("40 + 2")
    assert follow_up.output.endswith("42\n")


def test_deep_recursion_is_an_error(session: Session) -> None:
    result = session.run("def down(n):\n    return down(n + 1)\ndown(0)")
    assert result.status is CellStatus.ERROR
    assert "RecursionError" in result.output
    assert "Previous line repeated" in result.output
    assert len(result.output) < 2000


def test_deep_recursion_past_the_c_stack_kills_only_the_session(session: Session) -> None:
    # repr() of a deeply nested list recurses in C: with the limit lifted, the C stack overflows
    code = (
        "import sys\nsys.setrecursionlimit(10**8)\nl = []\n"
        "for _ in range(10**7):\n    l = [l]\nrepr(l)"
    )
    result = session.run(code, timeout=120)  # building the list is slow on a busy machine
    assert result.status is CellStatus.KILLED
    assert "segmentation fault" in (result.detail or "")
    assert session.run("'alive'").output.endswith("'alive'\n")


def test_killing_the_parent_is_refused(session: Session) -> None:
    # the server is outside the session's PID namespace: it has no pid the session could name
    assert session.run("import os\nos.getppid()").output == "0\n"
    result = session.run("import os, signal\nos.kill(1, signal.SIGKILL)\n'alive'")
    assert result.output == "'alive'\n"  # PID 1 is the session itself, which SIGKILL spares


def test_killing_every_visible_process_spares_the_neighbours(session: Session) -> None:
    code = (
        "import os, signal\n"
        "for name in os.listdir('/proc'):\n"
        "    if name.isdigit() and int(name) != os.getpid():\n"
        "        try:\n"
        "            os.kill(int(name), signal.SIGKILL)\n"
        "        except OSError:\n"
        "            pass\n"
        "'done'"
    )
    assert session.run(code).output == "'done'\n"


def test_ignoring_the_timeout_signals_then_looping_is_killed(session: Session) -> None:
    session.run("x = 5")
    code = DEAF + "while True:\n    pass"
    result = session.run(code, timeout=1)
    assert result.status is CellStatus.KILLED
    assert "time limit" in (result.detail or "")
    after = session.run("print('fresh')")
    assert after.status is CellStatus.OK
    assert after.restarted
    assert "variables from earlier cells are gone" in after.output
    assert session.run("x").status is CellStatus.ERROR


def test_catching_the_timeout_is_not_an_escape(session: Session) -> None:
    code = (
        "while True:\n    try:\n        while True:\n            pass\n"
        "    except BaseException:\n        pass"
    )
    result = session.run(code, timeout=1)
    assert result.status is CellStatus.KILLED


def test_ctypes_segfault_kills_only_the_session(session: Session) -> None:
    result = session.run("import ctypes\nctypes.string_at(0)")
    assert result.status is CellStatus.KILLED
    assert "segmentation fault" in (result.detail or "")
    assert session.run("'next'").output.endswith("'next'\n")


def test_os_exit_is_reported(session: Session) -> None:
    result = session.run("import os\nos._exit(0)")
    assert result.status is CellStatus.KILLED
    assert "exited with status 0" in (result.detail or "")
    assert session.run("1").status is CellStatus.OK


@pytest.mark.parametrize(
    "code",
    [
        "import sys\nsys.stdout.close()\nprint('gone')",
        "import os\nos.close(1)\nos.close(2)\nprint('x')",
    ],
)
def test_closing_stdout_does_not_break_the_session(session: Session, code: str) -> None:
    session.run(code)
    assert session.run("print('back')").output == "back\n"


def test_thread_outliving_its_cell_is_reported(session: Session) -> None:
    code = (
        "import threading, time\n"
        "def chatter():\n"
        "    for _ in range(3):\n"
        "        time.sleep(0.2)\n"
        "        print('late')\n"
        "threading.Thread(target=chatter, name='chatter').start()"
    )
    result = session.run(code)
    assert result.status is CellStatus.OK
    assert "still running (chatter)" in result.output
    time.sleep(0.8)
    assert session.run("'ok'").status is CellStatus.OK
    assert session.run("2 + 2").output.endswith("4\n")


def test_host_process_is_untouched(interpreter: Interpreter) -> None:
    """After the attacks above, the host is alive and its files are intact."""
    assert os.getpid() > 0
    with interpreter.session() as s:
        assert s.run("sum(range(10))").output == "45\n"
