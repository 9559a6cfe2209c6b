"""The session pool and the prepared start-up of a session, on the real sandbox."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from verimath.errors import ConfigError
from verimath.interpreter import Interpreter
from verimath.interpreter.session import POOL_ENV, pool_size_from_environment

from .conftest import TEST_LIMITS

RANDOM_DRAWS = (
    "import random, numpy, sympy\n"
    "print(random.random(), numpy.random.rand(), sympy.core.random.random())"
)


@pytest.fixture(scope="module")
def pooled() -> Iterator[Interpreter]:
    with Interpreter(TEST_LIMITS, strict=True, pool_size=2) as interp:
        yield interp


def _take_ready(interp: Interpreter) -> Any:  # a session process
    """A process from the pool, waiting on the pool's own thread to start one if need be."""
    process = interp._pool.take()
    while process is None:
        assert interp._pool.failure is None, interp._pool.failure
        interp._pool._wanted.set()
        thread = interp._pool._thread
        assert thread is not None and thread.is_alive()
        thread.join(0.05)  # the refill thread's progress, not a deadline
        process = interp._pool.take()
    return process


def _exited(pidfd: int) -> bool:
    return bool(select.select([pidfd], [], [], 0)[0])


def test_a_pooled_session_draws_the_same_numbers_as_a_fresh_one(
    interpreter: Interpreter, pooled: Interpreter
) -> None:
    fresh = [interpreter.session(seed=seed).run(RANDOM_DRAWS).output for seed in (7, 8)]
    _take_ready(pooled).discard()  # the pool is running and full
    from_pool = []
    for seed in (7, 8):
        with pooled.session(seed=seed) as session:
            session._process = _take_ready(pooled)
            session._reseed = True
            from_pool.append(session.run(RANDOM_DRAWS).output)
    assert from_pool == fresh
    assert fresh[0] != fresh[1]


def test_each_pooled_process_is_handed_out_once_and_ends_with_its_session(
    pooled: Interpreter,
) -> None:
    pids, pidfds = set(), []
    for _ in range(4):
        with pooled.session() as session:
            session._process = _take_ready(pooled)
            session._reseed = True
            assert session.run("x = 1").status.value == "ok"
            pids.add(session._process.pid)
            pidfds.append(os.dup(session._process.pidfd))
    assert len(pids) == 4
    for pidfd in pidfds:
        select.select([pidfd], [], [])  # each ended when its session closed
        os.close(pidfd)


def test_a_pooled_process_that_died_is_not_handed_out(pooled: Interpreter) -> None:
    first = _take_ready(pooled)
    pooled._pool._ready.appendleft(first)  # back at the head, as if never taken
    watch = os.dup(first.pidfd)
    os.kill(first.pid, 9)
    select.select([watch], [], [])
    assert _exited(watch)
    os.close(watch)
    taken = _take_ready(pooled)
    assert taken.pid != first.pid and taken.alive()
    taken.discard()


def test_a_session_takes_its_process_from_the_pool(pooled: Interpreter) -> None:
    _take_ready(pooled).discard()
    while len(pooled._pool._ready) < 1:
        pooled._pool._thread.join(0.05)  # type: ignore[union-attr]
    waiting = {process.pid for process in pooled._pool._ready}
    with pooled.session(seed=3) as session:
        assert session.run("y = 2").status.value == "ok"
        assert session._process is not None and session._process.pid in waiting


def test_sessions_install_the_prepared_filter_with_no_new_privileges(
    interpreter: Interpreter,
) -> None:
    with interpreter.session() as session:
        status = session.run("print(open('/proc/self/status').read())").output
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    assert fields["Seccomp"].strip() == "2"
    assert fields["Seccomp_filters"].strip() == "1"
    assert fields["NoNewPrivs"].strip() == "1"


def test_the_pool_size_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POOL_ENV, raising=False)
    assert pool_size_from_environment(4) == 4
    monkeypatch.setenv(POOL_ENV, "0")
    assert pool_size_from_environment(4) == 0
    monkeypatch.setenv(POOL_ENV, "many")
    with pytest.raises(ConfigError, match=POOL_ENV):
        pool_size_from_environment(4)


def test_a_bad_pool_size_stops_the_command_line_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, POOL_ENV: "-3"}
    result = subprocess.run(
        [sys.executable, "-m", "verimath", "eval", "gsm8k", "--limit", "1", "--model", "x"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode != 0
    assert POOL_ENV in result.stderr
    assert "Traceback" not in result.stderr


def test_a_negative_pool_size_is_refused() -> None:
    with pytest.raises(ConfigError, match="pool_size must be 0"):
        Interpreter(TEST_LIMITS, pool_size=-1)
