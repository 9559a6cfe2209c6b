"""The worker pool with real worker processes: timeouts, kills, replacement, shutdown."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from tests.cpu_hogs import crowded_core
from verimath.errors import GradingError
from verimath.grading.pool import WorkerPool
from verimath.grading.status import Status

TOWER = "10^{10^{10}}"  # SymPy tries to evaluate it and never finishes
TIMEOUT = 1.0


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool(2, TIMEOUT, 2048, warm=False)
    yield workers
    workers.close()


def test_a_comparison_runs_in_a_worker(pool: WorkerPool) -> None:
    verdict = pool.submit(r"\frac{1}{2}", r"\frac{2}{4}").result(timeout=60)
    assert verdict.status is Status.CORRECT
    assert verdict.detail == "exact"  # two rationals: compared exactly


def test_the_worker_interrupts_itself_before_the_deadline() -> None:
    timeout = 2.5  # the alarm comes at 2.0 s, well before the kill even on a busy machine
    pool = WorkerPool(1, timeout, 2048, warm=False)  # one worker: no start-up in the timing
    try:
        pool.submit("1", "1").result(timeout=60)
        started = time.perf_counter()
        verdict = pool.submit("5", TOWER).result(timeout=60)
        elapsed = time.perf_counter() - started
        assert verdict.status is Status.TIMEOUT
        assert verdict.detail == "timed out (interrupted in the worker)"
        assert elapsed >= 1.5  # it ran until its alarm; the detail and no kill say the alarm won
        assert pool.kills == 0
    finally:
        pool.close()


def test_a_worker_past_its_deadline_is_killed_and_replaced() -> None:
    pool = WorkerPool(
        1, TIMEOUT, 2048, soft_timeout_share=10.0, warm=False
    )  # only the kill can stop it
    try:
        pool.submit("1", "1").result(timeout=60)
        started = time.perf_counter()
        verdict = pool.submit("5", TOWER).result(timeout=60)
        elapsed = time.perf_counter() - started
        assert verdict.status is Status.TIMEOUT
        assert verdict.detail == f"timed out after {TIMEOUT:g} s of CPU time"
        assert elapsed >= TIMEOUT * 0.9  # no upper bound: a busy machine schedules late
        assert pool.kills == 1
        assert pool.submit("2", "2.0").result(timeout=60).status is Status.CORRECT
    finally:
        pool.close()


def test_a_verdict_does_not_depend_on_how_busy_the_machine_is() -> None:
    """The limit is CPU time: a comparison that needs a fraction of it gets its verdict even
    when CPU hogs on the worker's core stretch its wall-clock time well past the limit."""
    slow = (r"\sin^2 x+\cos^2 x", "1")  # about half a CPU second of SymPy
    others = _worker_pids()
    pool = WorkerPool(1, 2.0, 2048, warm=False)
    try:
        pool.submit("1", "1").result(timeout=60)
        [worker] = _worker_pids() - others
        with crowded_core(worker):
            before, started = pool.worker_cpu, time.perf_counter()
            verdict = pool.submit(*slow).result(timeout=120)
            cpu, wall = pool.worker_cpu - before, time.perf_counter() - started
        assert verdict.status is Status.CORRECT, (verdict, cpu, wall)
        assert pool.kills == 0
        assert wall > cpu  # the hogs did take the core (a ratio, not a time)
    finally:
        pool.close()


def test_a_stuck_worker_does_not_stop_the_other(pool: WorkerPool) -> None:
    pool.submit("1", "1").result(timeout=60)
    pool.submit("2", "2").result(timeout=60)
    finished: list[str] = []
    stuck = pool.submit("5", TOWER)
    stuck.add_done_callback(lambda _: finished.append("stuck"))
    time.sleep(0.1)
    normal = [pool.submit(rf"\frac{{{n}}}{{2}}", f"{n}/2") for n in range(20)]
    for future in normal:
        future.add_done_callback(lambda _: finished.append("normal"))
    assert all(f.result(timeout=60).status is Status.CORRECT for f in normal)
    assert stuck.result(timeout=60).status is Status.TIMEOUT
    # order, not seconds: answers came while the stuck comparison still held its worker
    assert finished.index("normal") < finished.index("stuck")


def test_a_worker_that_dies_is_replaced(pool: WorkerPool) -> None:
    for n in range(4):
        pool.submit(str(n), str(n)).result(timeout=60)
    victims = _worker_pids()
    assert victims
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    results = [pool.submit("3", "3.0").result(timeout=60) for _ in range(4)]
    assert all(r.status is Status.CORRECT for r in results)
    assert not victims & _worker_pids()


def test_submitting_from_many_threads(pool: WorkerPool) -> None:
    verdicts: list[Status] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        status = pool.submit(f"{n}+1", f"1+{n}").result(timeout=60).status
        with lock:
            verdicts.append(status)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert verdicts == [Status.CORRECT] * 40


def test_a_closed_pool_refuses_work_and_fails_what_was_queued() -> None:
    pool = WorkerPool(1, TIMEOUT, 2048, warm=False)
    pool.submit("1", "1").result(timeout=60)
    blocked = pool.submit("5", TOWER)
    queued = pool.submit("2", "2")
    time.sleep(0.1)
    pool.close()
    assert blocked.result(timeout=60).status is Status.TIMEOUT
    with pytest.raises(GradingError):
        queued.result(timeout=60)
    with pytest.raises(GradingError, match="closed"):
        pool.submit("1", "1")


@pytest.mark.parametrize(("workers", "timeout"), [(0, 1.0), (1, 0.0)])
def test_bad_pool_settings_are_refused(workers: int, timeout: float) -> None:
    with pytest.raises(GradingError):
        WorkerPool(workers, timeout, 2048)


def _worker_pids() -> set[int]:
    """Live grading workers started by this test process."""
    mine = str(os.getpid())
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read()
        except OSError:
            continue
        if fields[1] == mine and b"verimath.grading.worker" in command and fields[0] != "Z":
            pids.add(int(entry))
    return pids
