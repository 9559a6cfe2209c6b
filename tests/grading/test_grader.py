"""The Grader: API contract, cache, equivalence for voting, threads and asyncio at once."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time

import pytest

import verimath.grading as grading
from verimath.errors import ConfigError, GradingError
from verimath.grading import Grader, GradeResult, Status


def test_grade_returns_a_frozen_result_with_details(grader: Grader) -> None:
    result = grader.grade("18", "She makes $18 in total", "gsm8k")
    assert result.status is Status.CORRECT and result.correct
    assert (result.answer, result.extraction.method, result.extraction.fallback) == (
        "18",
        "last_number",
        True,
    )
    assert result.gold == "18"
    with pytest.raises(AttributeError):
        result.status = Status.INCORRECT  # type: ignore[misc]
    assert json.loads(json.dumps(result.to_dict()))["status"] == "correct"


def test_fallback_is_only_used_when_the_reference_is_a_number(grader: Grader) -> None:
    assert grader.grade("Mrs. Hilt", "I think she has 5", "asdiv").status is Status.UNPARSEABLE


def test_grade_many_keeps_order_and_per_request_datasets(grader: Grader) -> None:
    results = grader.grade_many(
        [
            ("1", "A", "mmlu_stem"),
            (r"\frac12", "0.5"),
            ("3", "#### 4", "gsm8k"),
            ("x+1", "1+x", None),
            ("5", None),
        ],
        dataset="math",
    )
    assert [r.status for r in results] == [
        Status.INCORRECT,
        Status.CORRECT,
        Status.INCORRECT,
        Status.CORRECT,
        Status.UNPARSEABLE,
    ]


def test_results_are_cached_by_normalised_pair(grader: Grader) -> None:
    first = grader.grade(r"2\sqrt{2}", r"$\boxed{\sqrt{8}}$", "math")
    before = grader.stats()
    again = grader.grade(r"2\sqrt{2}", r"the answer is $\sqrt{8}$", "math")
    after = grader.stats()
    assert first.status is again.status is Status.CORRECT
    assert not first.cached and again.cached
    assert after.cache_hits == before.cache_hits + 1
    assert after.pooled == before.pooled


def test_concurrent_requests_for_one_pair_share_one_comparison(grader: Grader) -> None:
    before = grader.stats().pooled
    pairs = [(r"\sqrt{50}", r"5\sqrt{2}", "math")] * 30
    results = grader.grade_many(pairs)
    assert all(r.correct for r in results)
    assert grader.stats().pooled == before + 1


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("x=3", "3", True),
        (r"\frac{1}{2}", "0.5", True),
        ("2,-3", "-3,2", True),
        ("(1,2)", "(2,1)", False),
        ("18", "18.0", True),
        ("17", "18", False),
        (r"50\%", "0.5", False),
    ],
)
def test_equivalent_is_symmetric(grader: Grader, a: str, b: str, same: bool) -> None:
    assert grader.equivalent(a, b, "math") is same
    assert grader.equivalent(b, a, "math") is same


def test_equivalent_identical_answers_never_reach_a_worker(grader: Grader) -> None:
    before = grader.stats().pooled
    assert grader.equivalent(r"\left( 3, \frac{\pi}{2} \right)", r"(3,\frac{\pi}{2})")
    assert grader.equivalent("1,600", "1600", "gsm8k")
    assert grader.stats().pooled == before


def test_threads_and_asyncio_at_the_same_time(grader: Grader) -> None:
    pairs = [(f"{n}/7", rf"\frac{{{n}}}{{7}}", "math") for n in range(1, 41)]
    thread_results: list[GradeResult] = []

    def in_thread() -> None:
        thread_results.extend(grader.grade(g, p, d) for g, p, d in pairs[:20])

    async def in_loop() -> list[GradeResult]:
        return await asyncio.gather(*(grader.agrade(g, p, d) for g, p, d in pairs[20:]))

    threads = [threading.Thread(target=in_thread) for _ in range(3)]
    for thread in threads:
        thread.start()
    loop_results = asyncio.run(in_loop())
    for thread in threads:
        thread.join()
    assert len(thread_results) == 60 and all(r.correct for r in thread_results)
    assert len(loop_results) == 20 and all(r.correct for r in loop_results)


async def test_agrade_does_not_block_the_event_loop(grader: Grader) -> None:
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    result = await grader.agrade("5", r"\boxed{10^{10^{13}}}", "math")  # used nowhere else
    task.cancel()
    assert result.status is Status.TIMEOUT and not result.cached
    # a blocked loop shows as one gap spanning the whole wait: compare gaps with the wait itself
    gaps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
    assert len(ticks) > 10 and max(gaps) < (ticks[-1] - ticks[0]) / 4


def test_unknown_dataset_is_a_config_error(grader: Grader) -> None:
    with pytest.raises(ConfigError, match="unknown dataset 'gsm9k'"):
        grader.grade("1", "1", "gsm9k")


@pytest.mark.parametrize("gold", [None, True, ["1"]])
def test_a_missing_reference_is_a_grading_error(grader: Grader, gold: object) -> None:
    with pytest.raises(GradingError, match="reference answer"):
        grader.grade(gold, "1")


def test_numbers_are_accepted_as_references_and_predictions(grader: Grader) -> None:
    assert grader.grade(145.0, 145, "svamp").correct
    assert grader.grade(2, "C", "mmlu_stem").correct


def test_fast_paths_off_sends_everything_to_the_workers() -> None:
    with Grader(workers=1, fast_paths=False) as slow:
        assert slow.grade("18", "18", "gsm8k").correct
        assert slow.stats().pooled == 1


def test_a_closed_grader_refuses_work() -> None:
    closed = Grader(workers=1)
    closed.close()
    with pytest.raises(GradingError, match="closed"):
        closed.grade("x+1", "1+x")


def test_module_level_grade_uses_one_shared_grader() -> None:
    assert grading.grade(r"\frac{1}{2}", r"\boxed{0.5}", "math").correct
    assert grading.default_grader() is grading.default_grader()
