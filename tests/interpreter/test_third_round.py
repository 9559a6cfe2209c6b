"""Third round of attacks: what sessions can learn about each other, what the host trusts on
its own disk, and where a missing privilege could fail open. Each attack reproduces an item of
the third round; each must be contained."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from verimath.cli import cli
from verimath.config import SolveOptions
from verimath.errors import SandboxUnavailableError
from verimath.interpreter import CellStatus, Interpreter, Session, launcher, uids
from verimath.store import RunStore

from .conftest import TEST_LIMITS

OTHER_UID = 54_321  # a local user who is not verimath
LIBC = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"


@pytest.fixture(scope="module")
def neighbour(interpreter: Interpreter) -> Iterator[Session]:
    """A session holding secrets in its memory size and CPU time."""
    with interpreter.session() as s:
        s.run("blob = bytearray(123 * 2**20)\nimport time\nt = time.process_time()")
        s.run("while time.process_time() - t < 0.7: pass")
        yield s


# -- 1. nothing the host imports comes from a place another user can write ---------------------


def plant(directory: Path, owner: int = OTHER_UID) -> None:
    directory.mkdir(parents=True)
    (directory / "planted.py").write_text("raise SystemExit('attacker code ran')\n")
    for path in (directory, directory / "planted.py"):
        os.chown(path, owner, owner)


@pytest.fixture
def mirrors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "mirrors"
    monkeypatch.setattr(launcher, "SITE_MIRROR_ROOT", str(root))
    return root


@pytest.fixture
def site_dir(tmp_path: Path) -> str:
    site = tmp_path / "venv-site"
    (site / "package").mkdir(parents=True)
    (site / "package" / "__init__.py").write_text("VALUE = 1\n")
    (site / "module.py").write_text("VALUE = 2\n")
    return str(site)


def test_a_mirror_planted_by_another_user_is_not_used(mirrors: Path, site_dir: str) -> None:
    planted = Path(launcher.mirror_path(site_dir))
    plant(planted)
    mirror = Path(launcher.mirror_of(site_dir))
    assert mirror != Path(site_dir)
    assert not (mirror / "planted.py").exists()
    assert (mirror / "module.py").read_text() == "VALUE = 2\n"
    assert mirror.stat().st_uid == os.geteuid()


def test_a_mirror_root_of_another_user_is_rebuilt(mirrors: Path, site_dir: str) -> None:
    plant(mirrors)
    os.chmod(mirrors, 0o777)
    mirror = Path(launcher.mirror_of(site_dir))
    assert not (mirrors / "planted.py").exists()
    info = mirrors.stat()
    assert info.st_uid == os.geteuid() and not info.st_mode & 0o022
    assert (mirror / "module.py").exists()


def test_a_symlinked_mirror_is_not_followed(mirrors: Path, site_dir: str, tmp_path: Path) -> None:
    elsewhere = tmp_path / "attacker"
    plant(elsewhere)
    mirrors.mkdir(mode=0o755)
    os.symlink(elsewhere, launcher.mirror_path(site_dir))
    mirror = Path(launcher.mirror_of(site_dir))
    assert not (mirror / "planted.py").exists()
    assert (elsewhere / "planted.py").exists(), (
        "the attacker's directory was deleted through a link"
    )


def test_a_writable_mirror_is_rebuilt(mirrors: Path, site_dir: str) -> None:
    first = Path(launcher.mirror_of(site_dir))
    os.chmod(first, 0o777)
    (first / "planted.py").write_text("raise SystemExit('attacker code ran')\n")
    launcher.release_mirrors()
    again = Path(launcher.mirror_of(site_dir))
    assert not (again / "planted.py").exists()
    assert not again.stat().st_mode & 0o022


def test_the_default_mirror_root_is_not_world_writable() -> None:
    assert not launcher.SITE_MIRROR_ROOT.startswith(("/tmp", "/var/tmp", "/dev/shm"))


def test_a_path_through_a_directory_of_another_user_is_refused(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, OTHER_UID, OTHER_UID)
    assert launcher.untrusted_component(str(theirs / "mirrors")) == str(theirs)
    assert launcher.untrusted_component(str(tmp_path / "mine")) is None


def test_bwrap_in_a_directory_of_another_user_is_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    shutil.copy("/usr/bin/bwrap", theirs / "bwrap")
    os.chown(theirs, OTHER_UID, OTHER_UID)
    monkeypatch.setattr(launcher.shutil, "which", lambda name: str(theirs / name))
    monkeypatch.delenv("VERIMATH_UNSAFE_NO_SANDBOX", raising=False)
    with pytest.raises(SandboxUnavailableError, match="another user can write"):
        Interpreter(TEST_LIMITS).start()


def test_idle_mirrors_are_swept(mirrors: Path, site_dir: str) -> None:
    old = Path(launcher.mirror_of(site_dir))
    launcher.release_mirrors()
    os.utime(old, (1, 1))
    stale = mirrors / ".building-leftover"
    stale.mkdir()
    os.utime(stale, (1, 1))
    launcher.sweep_mirrors()
    assert not old.exists() and not stale.exists()


def test_a_mirror_in_use_is_not_swept(mirrors: Path, site_dir: str) -> None:
    mirror = Path(launcher.mirror_of(site_dir))
    os.utime(mirror, (1, 1))
    launcher.sweep_mirrors()
    assert (mirror / "module.py").exists()
    launcher.release_mirrors()


# -- 6. lease files are removed when released; stale ones are swept ----------------------------


def lock_files() -> set[str]:
    return {name for name in os.listdir(uids.LOCK_DIR) if name.endswith(".lock")}


def test_lease_files_are_removed_when_their_sessions_end() -> None:
    with Interpreter(TEST_LIMITS) as interp:
        sessions = [interp.session() for _ in range(4)]
        leased = set()
        for s in sessions:
            uid = s.run("import os\nos.getuid()").output.strip()
            leased.add(f"{uid}.lock")
        assert leased <= lock_files()
        for s in sessions:
            s.close()
        assert wait_until(lambda: not leased & lock_files())


def test_stale_lease_files_are_swept() -> None:
    stale = [os.path.join(uids.LOCK_DIR, f"{uid}.lock") for uid in (299_990, 299_991)]
    for path in stale:
        Path(path).touch()
    held = uids.lease_uid()
    try:
        with Interpreter(TEST_LIMITS) as interp, interp.session() as s:
            s.run("1")
            assert not any(os.path.exists(path) for path in stale)
            assert os.path.exists(os.path.join(uids.LOCK_DIR, f"{held.uid}.lock"))
    finally:
        held.release()


def test_a_held_lease_is_not_swept_and_its_release_removes_it() -> None:
    lease = uids.lease_uid()
    try:
        path = os.path.join(uids.LOCK_DIR, f"{lease.uid}.lock")
        assert os.fstat(lease.fd).st_ino == os.stat(path).st_ino
        uids.sweep_leases()
        assert os.path.exists(path)
    finally:
        lease.release()
    assert not os.path.exists(path)


# -- 2. a session sees no other process --------------------------------------------------------

SNOOP = (
    LIBC
    + """
me = os.getpid()
pids = sorted(int(name) for name in os.listdir('/proc') if name.isdigit())
seen = {}
for pid in range(1, 4096):
    if pid == me:
        continue
    for entry in ('status', 'schedstat', 'stat', 'statm'):
        try:
            seen[f'{pid}/{entry}'] = open(f'/proc/{pid}/{entry}').read()[:40]
        except OSError:
            pass
alive = [pid for pid in range(1, 4096) if pid != me and libc.kill(pid, 0) != 0
         and ctypes.get_errno() == 1 or pid != me and libc.kill(pid, 0) == 0]
class timespec(ctypes.Structure):
    _fields_ = [('s', ctypes.c_long), ('ns', ctypes.c_long)]
clocks = []
for pid in range(1, 4096):
    if pid != me and libc.clock_gettime(ctypes.c_int((~pid << 3) | 2),
                                        ctypes.byref(timespec())) == 0:
        clocks.append(pid)
print(pids == [me], len(seen), alive[:5], clocks[:5])
"""
)


def test_a_session_sees_no_neighbour_in_proc(session: Session, neighbour: Session) -> None:
    assert session.run(SNOOP, timeout=20).output == "True 0 [] []\n"


def test_a_session_of_another_interpreter_is_invisible(neighbour: Session) -> None:
    with Interpreter(TEST_LIMITS) as other, other.session() as s:
        assert s.run(SNOOP, timeout=20).output == "True 0 [] []\n"


@pytest.mark.parametrize(
    "entry",
    ["key-users", "keys", "meminfo", "loadavg", "stat", "vmstat", "uptime"],
)
def test_proc_entries_describing_the_host_are_masked(session: Session, entry: str) -> None:
    result = session.run(f"open('/proc/{entry}').read()")
    assert result.status is CellStatus.ERROR and "Error" in result.output


def test_system_wide_memory_and_process_counts_are_denied(session: Session) -> None:
    code = LIBC + "buffer = ctypes.create_string_buffer(256)\nlibc.sysinfo(buffer)"
    assert session.run(code).output == "-1\n"


def test_own_process_is_still_readable(session: Session) -> None:
    code = (
        "import os\nopen('/proc/self/status').read().count('VmRSS'), os.listdir('/proc/self/task')"
    )
    assert session.run(code).output == "(1, ['1'])\n"


# -- 3. the page cache of shared files cannot be evicted -----------------------------------------

EVICT = (
    LIBC
    + """
import json
fd = os.open(json.__file__, os.O_RDONLY)
try:
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    fadvised = 'evicted'
except OSError as exc:
    fadvised = exc.errno
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t] + [ctypes.c_int] * 3 + [ctypes.c_long]
address = libc.mmap(None, 4096, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
advised = []
for advice in (20, 21, 9):  # MADV_COLD, MADV_PAGEOUT, MADV_REMOVE
    rc = libc.madvise(ctypes.c_void_p(address), ctypes.c_size_t(4096), advice)
    advised.append(ctypes.get_errno() if rc else 'evicted')
print(fadvised, advised)
"""
)


def test_page_cache_eviction_of_shared_files_is_denied(session: Session) -> None:
    assert session.run(EVICT).output.rstrip().splitlines()[-1] == "1 [1, 1, 1]"


def test_ordinary_memory_advice_still_works(session: Session) -> None:
    code = (
        LIBC
        + "import mmap\nm = mmap.mmap(-1, 1 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)\n"
        + "view = ctypes.c_void_p(ctypes.addressof(ctypes.c_char.from_buffer(m)))\n"
        + "[libc.madvise(view, ctypes.c_size_t(1 << 20), a) for a in (4, 8, 14)]"
    )  # MADV_DONTNEED, MADV_FREE, MADV_HUGEPAGE
    assert session.run(code).output == "[0, 0, 0]\n"


# -- 4. every session draws its own random numbers, reproducibly from its seed ------------------

DRAW = (
    "import random, numpy, sympy.core.random as sr\n"
    "(random.random(), float(numpy.random.random()), sr.random(), sr.randint(0, 10**9))"
)


def test_sessions_draw_different_numbers(interpreter: Interpreter) -> None:
    with Interpreter(TEST_LIMITS) as other:
        sessions = [interpreter.session(), interpreter.session(), other.session()]
        draws = [
            json.loads(s.run(DRAW).output.replace("(", "[").replace(")", "]")) for s in sessions
        ]
        for s in sessions:
            s.close()
    for generator in range(4):
        assert len({draw[generator] for draw in draws}) == 3, draws


def test_a_seed_gives_the_same_numbers_in_every_session(interpreter: Interpreter) -> None:
    with Interpreter(TEST_LIMITS) as other:
        runs = []
        for interp, seed in ((interpreter, 11), (other, 11), (interpreter, 12)):
            with interp.session(seed=seed) as s:
                runs.append(s.run(DRAW).output)
    assert runs[0] == runs[1] != runs[2]


def test_a_restarted_session_starts_from_its_seed_again(interpreter: Interpreter) -> None:
    with interpreter.session(seed=5) as s:
        first = s.run(DRAW).output
        s.run("import os\nos._exit(3)")
        assert s.run(DRAW).output.endswith(first)


REPLAY_TURNS = [
    "Let me estimate.\n```python\nimport random, numpy\n"
    "print(random.randint(0, 10**9), numpy.random.randint(0, 10**9))\n```",
    "The answer is \\boxed{1}.",
]


def run_random_eval(tmp_path: Path, name: str, seed: int) -> list[tuple]:
    replay, data = tmp_path / "replay.jsonl", tmp_path / "problems.jsonl"
    question = "Estimate something at random."
    replay.write_text(json.dumps({"problem": question, "turns": REPLAY_TURNS}) + "\n")
    data.write_text(json.dumps({"id": "R", "question": question, "answer": "1"}) + "\n")
    run = tmp_path / f"{name}.sqlite"
    args = ["eval", str(data), "--model", f"replay:{replay}", "-k", "3", "--run", str(run)]
    result = CliRunner().invoke(cli, [*args, "--seed", str(seed), "--json"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(run) as db:
        return db.execute(
            "SELECT c.sample_index, c.output, s.sandbox_seed FROM cells c JOIN samples s "
            "USING (problem_id, sample_index) ORDER BY c.sample_index"
        ).fetchall()


@pytest.mark.slow
def test_runs_with_one_seed_reproduce_random_cells(tmp_path: Path) -> None:
    first = run_random_eval(tmp_path, "first", 7)
    again = run_random_eval(tmp_path, "again", 7)
    other = run_random_eval(tmp_path, "other", 8)
    assert first == again
    outputs = [row[1] for row in first]
    assert len(set(outputs)) == 3, "the k samples of one problem drew the same numbers"
    assert [row[1] for row in other] != outputs
    assert len({row[2] for row in first}) == 3
    with RunStore.read(tmp_path / "first.sqlite") as store:
        expected = {("R", i): SolveOptions(seed=7).sandbox_seed("R", i) for i in range(3)}
        assert store.sandbox_seeds() == expected


# -- 5. fail closed on every privilege ---------------------------------------------------------

EXEC_CELL = "print('ran')"


def run_with_capabilities_dropped(
    capabilities: str, *argv: str
) -> subprocess.CompletedProcess[str]:
    command = " ".join([sys.executable, "-m", "verimath", *argv])
    return subprocess.run(
        ["capsh", f"--drop={capabilities}", "--", "-c", command],
        input=EXEC_CELL,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "VERIMATH_UNSAFE_NO_SANDBOX": ""},
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "dropped, named",
    [("cap_kill", "CAP_KILL"), ("cap_setuid", "CAP_SETUID"), ("cap_setgid", "CAP_SETGID")],
)
def test_a_missing_capability_is_refused_in_one_line(dropped: str, named: str) -> None:
    completed = run_with_capabilities_dropped(dropped, "exec")
    assert completed.returncode != 0
    assert "ran" not in completed.stdout
    last = completed.stderr.strip().splitlines()[-1]
    assert named in last and "--cap-add" in last, completed.stderr


@pytest.mark.slow
def test_doctor_reports_a_missing_capability() -> None:
    completed = run_with_capabilities_dropped("cap_kill", "doctor", "--json")
    assert completed.returncode == 1
    checks = {c["name"]: c for c in json.loads(completed.stdout)["sandbox"]}
    assert not checks["privileges"]["ok"]
    assert "CAP_KILL" in checks["privileges"]["detail"]


def test_every_capability_is_reported_by_doctor() -> None:
    from verimath.cli import doctor

    checks = {check.name: check for check in doctor.sandbox_checks()}
    assert checks["privileges"].ok
    for name in ("CAP_KILL", "CAP_SETUID", "CAP_SETGID", "CAP_SYS_ADMIN"):
        assert name in checks["privileges"].detail


def wait_until(predicate, seconds: float = 60.0) -> bool:
    """Whether ``predicate`` comes to hold (an event the server brings about after a session
    ends); ``seconds`` is only a guard against a hang, far above any busy machine's delay."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
