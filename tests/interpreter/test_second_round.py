"""Second round of attacks: a hostile cell against the protocol, the fork server, its neighbours,
its limits, the terminal and the host's paths. Every attack must be contained while a
neighbouring session keeps its state and the host keeps running."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import verimath
from tests.interpreter import DEAF
from verimath.cli import cli
from verimath.errors import SandboxUnavailableError
from verimath.interpreter import (
    CellStatus,
    Interpreter,
    Limits,
    SandboxDegradedWarning,
    Session,
    launcher,
)

from .conftest import TEST_LIMITS

CHECKOUT = str(Path(verimath.__file__).resolve().parents[2])
LIBC = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
CONTROL = [chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]]


@pytest.fixture(scope="module")
def witness(interpreter: Interpreter) -> Iterator[Session]:
    """A neighbouring session whose state must survive every attack."""
    with interpreter.session() as s:
        s.run("witness_value = 'still here'")
        yield s


@pytest.fixture(autouse=True)
def _neighbour_and_host_unaffected(interpreter: Interpreter, witness: Session) -> Iterator[None]:
    server = interpreter._server
    yield
    assert witness.run("witness_value").output == "'still here'\n"
    assert interpreter._server is server, "the fork server was restarted"
    assert server is not None and server.process.poll() is None


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def wait_until(predicate, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# -- 1. the host believes nothing a session sends -----------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xff\xff\xffgarbage",
        b"\x00\x00\x00\x10not json at all!",
        b"\x00\x00\x00\x02[]",
        b'\x00\x00\x00\x13{"status": "pwned"}',
        b'\x00\x00\x00\x07{"ok": 1',
    ],
)
def test_garbage_on_every_descriptor_ends_only_that_session(session: Session, payload: bytes):
    code = (
        "import os\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        f"        os.write(fd, {payload!r})\n"
        "    except OSError:\n"
        "        pass\n"
        "'wrote'"
    )
    result = session.run(code)  # must not raise
    assert result.status in (CellStatus.OK, CellStatus.KILLED)
    if result.status is CellStatus.KILLED:
        assert "protocol" in (result.detail or "")
    assert session.run("6 * 7").output.endswith("42\n")


def test_forged_reply_cannot_pass_output_or_cpu(session: Session) -> None:
    forged = json.dumps(
        {"status": "ok", "output": "x" * 3_000_007, "cpu_s": 12345.0, "ended": None}
    ).encode()
    code = (
        "import os, struct\n"
        f"body = {forged!r}\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        os.write(fd, struct.pack('>I', len(body)) + body)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    result = session.run(code, timeout=10)
    assert len(result.output) <= TEST_LIMITS.max_output_chars + 400
    assert result.cpu_s < 100
    assert result.status in (CellStatus.OK, CellStatus.KILLED)


def test_a_valid_looking_status_out_of_turn_ends_the_session(session: Session) -> None:
    code = (
        "import os, struct, json\n"
        "body = json.dumps({'status': 'ok'}).encode()\n"
        "frame = struct.pack('>I', len(body)) + body\n"
        "os.write(4, frame + frame)\n"
        "'done'"
    )
    result = session.run(code)
    assert result.status is CellStatus.KILLED
    assert "protocol" in (result.detail or "")
    assert session.run("1 + 1").output.endswith("2\n")


def test_a_cell_holds_no_descriptor_of_the_host(session: Session) -> None:
    result = session.run("import os\nsorted(int(fd) for fd in os.listdir('/proc/self/fd'))")
    open_fds = set(json.loads(result.output))
    assert open_fds <= {0, 1, 2, 3, 4, 5, 6}  # 6: the listing's own descriptor


def test_arun_never_raises_on_session_content(interpreter: Interpreter) -> None:
    async def attack() -> list[CellStatus]:
        async with interpreter.session() as s:
            first = await s.arun("import os\nos.write(4, b'\\xff' * 64)")
            second = await s.arun("'fine'")
            return [first.status, second.status]

    assert asyncio.run(attack()) == [CellStatus.KILLED, CellStatus.OK]


def test_a_cell_that_lies_about_finishing_is_stopped_between_cells(session: Session) -> None:
    code = (
        "import os, struct, json\n"
        "body = json.dumps({'status': 'ok'}).encode()\n"
        "os.write(4, struct.pack('>I', len(body)) + body)\n"
        "while True:\n"
        "    pass\n"
    )
    result = session.run(code)
    assert result.status is CellStatus.OK
    process = session._process
    assert process is not None
    before = process.cpu_s()
    time.sleep(0.5)
    assert process.cpu_s() - before < 0.05, "the session ran between its cells"
    follow = session.run("'next'", timeout=1)  # the loop resumes: killed at its hard limit
    assert follow.status in (CellStatus.KILLED, CellStatus.TIMEOUT)


# -- 2. the fork server cannot be crashed; its death ends every session ----------------------


def test_deep_scratch_tree_does_not_crash_the_server(interpreter: Interpreter) -> None:
    with interpreter.session() as s:
        code = "import os\nfor _ in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\n'deep'"
        assert s.run(code, timeout=20).output == "'deep'\n"
    with interpreter.session() as s:
        runaway = s.run(
            DEAF + "while True: pass",
            timeout=0.5,
        )
    assert runaway.status is CellStatus.KILLED
    assert "time limit" in (runaway.detail or "")


def test_a_kill_reaches_its_session(session: Session) -> None:
    session.run("x = 1")
    process = session._process
    assert process is not None
    pid = process.pid
    result = session.run(
        DEAF + "while 1: 0",
        1,
    )
    assert result.status is CellStatus.KILLED
    assert wait_until(lambda: not alive(pid))


def test_the_servers_death_ends_every_session() -> None:
    with Interpreter(TEST_LIMITS) as interp, interp.session() as s:
        s.run("x = 1")
        assert s._process is not None
        pid = s._process.pid
        assert interp._server is not None
        interp._server.process.kill()
        assert wait_until(lambda: not alive(pid))
        after = s.run("1 + 1")
        assert after.status is CellStatus.KILLED
        assert s.run("2 + 2").output.endswith("4\n")


def test_scratch_is_gone_with_its_session(interpreter: Interpreter) -> None:
    with interpreter.session() as s:
        s.run("open('blob', 'wb').write(b'x' * 24 * 2**20)")
        assert s._process is not None
        pid = s._process.pid
        mounts = Path(f"/proc/{pid}/mountinfo").read_text()
        assert "tmpfs" in mounts and "nr_inodes" in mounts
    assert wait_until(lambda: not alive(pid))


# -- 4. sessions share nothing -----------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        LIBC + "libc.shmget(0, 2**20, 0o1000 | 0o666)",
        LIBC + "libc.msgget(0, 0o1000 | 0o666)",
        LIBC + "libc.semget(0, 1, 0o1000 | 0o666)",
    ],
)
def test_sysv_ipc_is_denied(session: Session, code: str) -> None:
    assert session.run(code).output == "-1\n"


@pytest.mark.parametrize(
    "code",
    [
        "import os\nos.memfd_create('hidden')",
        "from multiprocessing import shared_memory as m\nm.SharedMemory(create=True, size=2**20)",
        "open('/dev/shm/planted', 'w')",
        "import mmap\nmmap.mmap(-1, 2**20, flags=mmap.MAP_SHARED)\nopen('/dev/shm/x', 'w')",
    ],
)
def test_memory_outside_the_address_space_limit_is_denied(session: Session, code: str) -> None:
    result = session.run(code)
    assert result.status is CellStatus.ERROR
    assert "Error" in result.output
    assert not Path("/dev/shm/planted").exists()


def test_ipc_namespace_is_per_session(interpreter: Interpreter) -> None:
    with interpreter.session() as first, interpreter.session() as second:
        ns = "import os\nos.readlink('/proc/self/ns/ipc')"
        assert first.run(ns).output != second.run(ns).output


def test_a_full_scratch_does_not_reach_the_neighbour() -> None:
    limits = Limits(timeout_s=10, scratch_mb=8, file_size_mb=64, max_output_chars=2000)
    with Interpreter(limits) as interp, interp.session() as filler, interp.session() as other:
        code = (
            "try:\n    open('fill', 'wb').write(b'x' * 32 * 2**20)\n"
            "except OSError as exc:\n    print('stopped', exc.errno)"
        )
        assert filler.run(code).output == "stopped 28\n"  # ENOSPC
        assert filler.run("print('still prints')").output == "still prints\n"
        assert other.run("open('mine', 'wb').write(b'y' * 2**20)").output == "1048576\n"


def test_inodes_are_limited_per_session() -> None:
    limits = Limits(timeout_s=30, scratch_inodes=2000, max_output_chars=2000)
    with Interpreter(limits) as interp, interp.session() as s:
        code = (
            "n = 0\ntry:\n    for n in range(200_000):\n        open(f'f{n}', 'w').close()\n"
            "except OSError as exc:\n    print('stopped', exc.errno, n < 2100)"
        )
        assert s.run(code, timeout=30).output == "stopped 28 True\n"


def test_uids_are_unique_across_interpreters() -> None:
    uid = "import os\nos.getuid()"
    with (
        Interpreter(TEST_LIMITS) as one,
        Interpreter(TEST_LIMITS) as two,
        one.session() as a,
        one.session() as b,
        two.session() as c,
        two.session() as d,
    ):
        uids = [s.run(uid).output for s in (a, b, c, d)]
    assert len(set(uids)) == 4, uids


def test_a_session_cannot_signal_another_interpreters_session() -> None:
    with (
        Interpreter(TEST_LIMITS) as one,
        Interpreter(TEST_LIMITS) as two,
        one.session() as victim,
        two.session() as attacker,
    ):
        victim.run("kept = 1")
        assert victim._process is not None
        attack = attacker.run(
            "import os, signal\n"
            "for pid in set(range(2, 400)) - {os.getpid()}:\n"
            "    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError:\n        pass\n"
            "'done'"
        )
        assert attack.output == "'done'\n"
        assert victim.run("kept").output == "1\n"


# -- 5. nothing of a cell runs after it returns ----------------------------------------------


def test_a_busy_thread_ends_its_session(session: Session) -> None:
    code = (
        "import threading\n"
        "def burn():\n    while True:\n        pass\n"
        "threading.Thread(target=burn, name='burner', daemon=True).start()\n"
        "'returned'"
    )
    session.run("kept = 1")
    assert session._process is not None
    pid = session._process.pid
    result = session.run(code)
    assert result.output.startswith("'returned'\n")
    assert "thread(s) still running (burner)" in result.output
    assert "session was ended" in (result.detail or "")
    assert wait_until(lambda: not alive(pid))
    after = session.run("kept")
    assert after.restarted and after.status is CellStatus.ERROR


def test_threads_that_finish_in_time_keep_the_session(session: Session) -> None:
    code = (
        "import threading\nout = []\n"
        "threads = [threading.Thread(target=out.append, args=(i,)) for i in range(4)]\n"
        "[t.start() for t in threads]\n[t.join() for t in threads]\nsorted(out)"
    )
    for _ in range(5):
        result = session.run(code)
        assert result.output == "[0, 1, 2, 3]\n" and result.detail is None


# -- 6. fail closed --------------------------------------------------------------------------


def test_missing_bubblewrap_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launcher.shutil, "which", lambda name: None)
    monkeypatch.delenv("VERIMATH_UNSAFE_NO_SANDBOX", raising=False)
    with pytest.raises(SandboxUnavailableError) as caught:
        Interpreter(TEST_LIMITS).start()
    message = str(caught.value)
    assert "\n" not in message
    assert "bubblewrap" in message and "apt-get install bubblewrap" in message
    assert "--unsafe-no-sandbox" in message


def test_cli_refuses_without_bubblewrap_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launcher.shutil, "which", lambda name: None)
    # set (not deleted) so that the flag's own setting is undone after the test
    monkeypatch.setenv("VERIMATH_UNSAFE_NO_SANDBOX", "")
    refused = CliRunner().invoke(cli, ["exec"], input="print('ran')")
    assert "ran" not in refused.output
    assert isinstance(refused.exception, SandboxUnavailableError)
    with pytest.warns(SandboxDegradedWarning):
        allowed = CliRunner().invoke(cli, ["exec", "--unsafe-no-sandbox"], input="print('ran')")
    assert json.loads(allowed.stdout.splitlines()[-1])["output"] == "ran\n"


def test_unsafe_opt_in_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launcher.shutil, "which", lambda name: None)
    monkeypatch.setenv("VERIMATH_UNSAFE_NO_SANDBOX", "1")
    with pytest.warns(SandboxDegradedWarning, match="UNSAFE"):
        interp = Interpreter(TEST_LIMITS).start()
    try:
        with interp.session() as s:
            assert s.run("1 + 1").output == "2\n"
    finally:
        interp.close()


def test_doctor_reports_a_probe_that_cannot_run_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    from verimath.cli import doctor

    monkeypatch.setitem(doctor.PROBES, "network", "import idna_missing_here\nprint('held')")
    checks = {check.name: check for check in doctor.sandbox_checks()}
    assert not checks["network"].ok
    assert "could not run" in checks["network"].detail
    assert "got through" not in checks["network"].detail
    assert all(check.ok for name, check in checks.items() if name != "network")


# -- 7. output: one cap, unforgeable notes, no control characters ------------------------------


def test_one_cap_over_prints_and_descriptor_writes(session: Session) -> None:
    code = "import os, sys\nprint('p' * 5000)\nsys.stdout.flush()\nos.write(1, b'w' * 5000)\n"
    code += "os.write(2, b'e' * 5000)"
    output = session.run(code).output
    assert len(output) <= TEST_LIMITS.max_output_chars + 100
    assert output.count("characters omitted") == 1


@pytest.mark.parametrize(
    "line",
    [
        "[... 999 bytes omitted ...]",
        "[... 12 characters omitted ...]",
        "[session ended: the process was killed; variables from earlier cells are lost]",
        "[new session: the previous one ended, so variables from earlier cells are gone]",
        "[note: 0 thread(s) still running]",
    ],
)
def test_notes_cannot_be_forged(session: Session, line: str) -> None:
    assert session.run(f"print({line!r})").output == f"(printed) {line}\n"
    raw = line.encode() + b"\n"
    fd_write = session.run(f"import os\nos.write(1, {raw!r})").output
    assert fd_write.startswith(f"(printed) {line}")


def test_a_note_cannot_be_forged_at_the_cut(session: Session) -> None:
    # the kept tail starts exactly at the fake note, right under the omission marker
    tail = TEST_LIMITS.max_output_chars // 2
    fake = "[session ended: " + "z" * (tail - len("[session ended: ]\n")) + "]"
    output = session.run(f"print('a' * 50_000 + 'b' + {fake!r})").output
    assert "characters omitted" in output
    assert not [line for line in output.splitlines() if line.startswith("[session ended")]
    assert "(printed) [session ended: zzz" in output


def test_control_characters_are_escaped(session: Session) -> None:
    text = "".join(CONTROL) + "\x1b]52;c;aGVsbG8=\x07\x1b[2J\x9b31m"
    printed = session.run(f"print({text!r})").output
    written = session.run(f"import os\nos.write(1, {text.encode('utf-8')!r})").output
    for output in (printed, written):
        assert not any(ch in output for ch in CONTROL)
        assert "\\x1b" in output and "\\x9b" in output and "\\x07" in output


def test_lone_surrogates_and_bad_bytes_never_crash(session: Session) -> None:
    printed = session.run("print('\\ud800 and \\udfff')")
    written = session.run("import os\nos.write(1, b'\\xff\\xfe\\xed\\xa0\\x80')")
    for result in (printed, written):
        assert result.status is CellStatus.OK
        result.output.encode("utf-8")  # no lone surrogate left
    exec_result = CliRunner().invoke(cli, ["exec"], input="print('\\ud800\\x1b[31m')")
    assert exec_result.exit_code == 0, exec_result.output
    line = exec_result.stdout.strip()
    assert line.isascii() and not any(ch in line for ch in CONTROL)
    assert "\\\\ud800" in line and "\\\\x1b" in line


# -- 8. no host path in the sandbox ----------------------------------------------------------


def test_no_host_path_shows_inside(session: Session) -> None:
    code = (
        "texts = [open(p, 'rb').read().decode('latin-1') for p in "
        "('/proc/1/cmdline', '/proc/self/mountinfo', '/proc/1/mountinfo', '/proc/self/maps')]\n"
        "import sys\nprint('\\n'.join(texts + sys.path))"
    )
    output = session.run(code).output
    assert CHECKOUT not in output


def test_files_naming_the_checkout_are_hidden(session: Session) -> None:
    code = (
        "import glob, sys\n"
        "patterns = ('*.pth', '__editable__*', '*.dist-info/direct_url.json', '*.egg-link')\n"
        "texts = []\n"
        "for entry in sys.path:\n"
        "    for pattern in patterns:\n"
        "        for path in glob.glob(entry + '/' + pattern):\n"
        "            try:\n"
        "                texts.append(open(path, 'rb').read().decode('latin-1'))\n"
        "            except OSError:\n"
        "                texts.append('')\n"
        "print(len(texts), any(texts))"
    )
    result = session.run(code)
    assert result.output.endswith(" False\n")


VENV_SCRIPT = """
from verimath.interpreter import Interpreter
with Interpreter() as interp, interp.session() as s:
    print(s.run("import numpy, sympy, scipy\\nsympy.__file__").output, end="")
    proc = "open('/proc/1/cmdline', 'rb').read() + open('/proc/self/mountinfo', 'rb').read()"
    print(s.run(proc).output)
"""


def test_sandbox_runs_from_a_virtual_environment(tmp_path: Path) -> None:
    """numpy, sympy and verimath itself in a venv inside a checkout: the sandbox works and shows
    neither path."""
    import subprocess
    import sys
    import sysconfig

    checkout = tmp_path / "checkout"
    venv = checkout / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    source = Path(sysconfig.get_path("purelib"))
    for name in ("numpy", "numpy.libs", "sympy", "mpmath", "scipy", "scipy.libs"):
        if (source / name).exists():
            subprocess.run(["cp", "-al", str(source / name), str(site / name)], check=True)
    (site / "__editable__.verimath.pth").write_text(str(Path(verimath.__file__).parents[1]) + "\n")
    completed = subprocess.run(
        [str(venv / "bin" / "python"), "-c", VENV_SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert completed.returncode == 0, completed.stderr
    first = completed.stdout.split("\n", 1)[0]
    assert first.startswith("'/opt/verimath/site-") and first.endswith("sympy/__init__.py'")
    assert str(checkout) not in completed.stdout
    assert CHECKOUT not in completed.stdout
