"""The thread rule on a busy machine: a cell that joined its threads keeps its session however
late the kernel lets those threads exit; a cell that leaves a thread running ends it."""

from __future__ import annotations

import pytest

from tests.cpu_hogs import crowded_core
from verimath.interpreter import CellStatus, Session

JOIN_ALL = (
    "import threading\nout = []\n"
    "threads = [threading.Thread(target=out.append, args=(i,)) for i in range(4)]\n"
    "[t.start() for t in threads]\n[t.join() for t in threads]\nsorted(out)"
)
POOL = (
    "from concurrent.futures import ThreadPoolExecutor\n"
    "with ThreadPoolExecutor(4) as pool:\n"
    "    squares = sorted(pool.map(lambda i: i * i, range(8)))\n"
    "squares"
)
RUNNING_THREAD = (
    "import threading\n"
    "def burn():\n    while True:\n        pass\n"
    "threading.Thread(target=burn, name='burner', daemon=True).start()\n"
    "'returned'"
)


def session_pid(session: Session) -> int:
    session.run("started = True")
    assert session._process is not None
    return session._process.pid


@pytest.mark.slow
def test_joined_threads_keep_the_session_on_a_crowded_core(session: Session) -> None:
    pid = session_pid(session)
    with crowded_core(pid):
        results = [session.run(JOIN_ALL) for _ in range(60)]
        pooled = [session.run(POOL) for _ in range(20)]
    assert [r.detail for r in results + pooled] == [None] * 80
    assert {r.output for r in results} == {"[0, 1, 2, 3]\n"}
    assert {r.output for r in pooled} == {"[0, 1, 4, 9, 16, 25, 36, 49]\n"}
    assert session.run("started").output == "True\n"  # the same process all along


@pytest.mark.slow
def test_a_running_thread_still_ends_the_session_on_a_crowded_core(session: Session) -> None:
    pid = session_pid(session)
    with crowded_core(pid):
        result = session.run(RUNNING_THREAD)
    assert result.output.startswith("'returned'\n")
    assert "1 thread(s) still running (burner)" in result.output
    assert "session was ended" in (result.detail or "")
    after = session.run("started")
    assert after.restarted and after.status is CellStatus.ERROR


def test_a_sleeping_thread_ends_the_session(session: Session) -> None:
    session_pid(session)
    code = "import threading, time\nthreading.Thread(target=time.sleep, args=(60,)).start()"
    result = session.run(code)
    assert "1 thread(s) still running" in result.output
    assert "session was ended" in (result.detail or "")
    assert session.run("started").restarted


def test_a_thread_that_hides_from_threading_still_ends_the_session(session: Session) -> None:
    session_pid(session)
    code = (
        "import threading\n"
        "def hide():\n    del threading._active[threading.get_ident()]\n"
        "    while True:\n        pass\n"
        "threading.Thread(target=hide, daemon=True).start()\n"
        "'returned'"
    )
    result = session.run(code)
    assert result.output.startswith("'returned'\n")
    assert "1 thread(s) still running" in result.output
    assert "session was ended" in (result.detail or "")
    assert session.run("started").restarted
