"""Benchmark of verimath.grading: throughput, hostile input, agreement with recorded labels.

    python benchmarks/grading.py [--data DIR] [--skip-agreement]

Prints three sections, all measured in this one run:

1. Throughput on MATH-500: each reference answer against its reference solution (the
   answer is extracted from the solution's last box), through the default Grader (quick
   paths, cold cache), a second time (warm cache), and with every comparison forced
   through the worker processes. Also real model outputs (MathCoder, Qwen2.5-Math).
2. Hostile input: time to verdict per input (the limit is CPU time: on an idle machine no
   verdict takes much more than it; a busy one stretches it), and whether other comparisons
   keep flowing while workers are stuck.
3. Agreement of verimath's verdicts with the correctness labels recorded with real model
   outputs, and every disagreement with its review from tests/grading/transcript_cases.json.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from shared import SHARED_DATA  # also puts the checkout on sys.path, for the next import

# isort: split
from tests.grading.data import Labelled, jsonl, labelled_predictions

from verimath.grading import Grader, GradeResult

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_DATA = SHARED_DATA
REVIEWED = ROOT / "tests" / "grading" / "transcript_cases.json"
HOSTILE_TIMEOUT = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--skip-agreement", action="store_true")
    args = parser.parse_args()
    _header(args.data)
    throughput(args.data)
    hostile_input()
    if not args.skip_agreement:
        agreement(args.data)


def _header(data: Path) -> None:
    load = os.getloadavg()
    print(
        f"verimath grading benchmark: {os.cpu_count()} CPUs, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, data {data}"
    )
    print("(wall-clock figures depend on other load on the machine; worker CPU time does not)")


# -- 1. throughput ------------------------------------------------------------------------


def throughput(data: Path) -> None:
    """Comparisons per second on MATH-500 and on real model outputs."""
    print("\n== 1. Throughput ==")
    math500 = jsonl(data / "math500" / "test.jsonl")
    pairs = [(row["answer"], row["solution"], "math500") for row in math500]
    _default_grader_rate(pairs)
    _workers_only_rate(pairs)
    real = _model_output_pairs(data)
    with Grader() as grader:
        _boot(grader)
        elapsed = _timed(lambda: grader.grade_many(real))
        pooled = grader.stats().pooled - BOOT_PAIRS
    _rate(
        "real model outputs (MathCoder MATH + Qwen2.5-Math CoT), default Grader", elapsed, len(real)
    )
    print(f"    ({pooled} of {len(real)} went to a worker)")


def _default_grader_rate(pairs: list[tuple[str, str, str]]) -> None:
    with Grader() as grader:
        _boot(grader)
        cold = _timed(lambda: grader.grade_many(pairs))
        warm = _timed(lambda: grader.grade_many(pairs))
        pooled = grader.stats().pooled - BOOT_PAIRS
    _rate("MATH-500 gold vs solution, default Grader, cold cache", cold, len(pairs))
    _rate("MATH-500 gold vs solution, default Grader, warm cache", warm, len(pairs))
    print(
        f"    (cold run: {pooled} of {len(pairs)} went to a worker, the rest were decided "
        "without SymPy)"
    )


def _workers_only_rate(pairs: list[tuple[str, str, str]]) -> None:
    with Grader(fast_paths=False) as grader:
        _boot(grader)
        before = grader.stats().worker_cpu_seconds
        results: list[GradeResult] = []
        elapsed = _timed(lambda: results.extend(grader.grade_many(pairs)))
        cpu = grader.stats().worker_cpu_seconds - before
    _rate("MATH-500 gold vs solution, every comparison in a worker", elapsed, len(pairs))
    print(
        f"    {sum(r.correct for r in results)}/{len(pairs)} correct; worker CPU "
        f"{1000 * cpu / len(pairs):.2f} ms per comparison = {2 * len(pairs) / cpu:,.0f}/s "
        "for 2 workers on 2 otherwise idle cores"
    )


def _model_output_pairs(data: Path) -> list[tuple[object, str | None, str]]:
    items = [i for i in labelled_predictions() if i.dataset == "math"]
    return [(item.gold, item.pred, item.dataset) for item in items]


BOOT_PAIRS = 8


def _boot(grader: Grader) -> None:
    """Start every worker, so that start-up is not counted as comparison time."""
    started = time.perf_counter()
    grader.grade_many([(rf"\frac{{1}}{{{n}}}", rf"\sqrt{{{n}}}", None) for n in range(BOOT_PAIRS)])
    print(f"    (workers started in {time.perf_counter() - started:.2f} s)")


def _rate(label: str, elapsed: float, count: int) -> None:
    print(f"  {label}: {count} in {elapsed:.2f} s = {count / elapsed:,.0f} comparisons/s")


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


# -- 2. hostile input ---------------------------------------------------------------------

HOSTILE: tuple[tuple[str, str], ...] = (
    ("10**10**10", "10**10**10"),
    ("tower 10^{10^{10}}", "10^{10^{10}}"),
    ("tower 9^{9^{9^{9}}}", "9^{9^{9^{9}}}"),
    ("2^{10^{9}}", "2^{10^{9}}"),
    ("factorial 10^{6}!", "1000000!"),
    ("(10^{10^{6}})!", "(10^{10^{6}})!"),
    ("10,000-char sum", "+".join(["x"] * 5000)),
    ("10,000-digit number", "7" * 10_000),
    ("10,000 nested braces", "{" * 5000 + "1" + "}" * 5000),
    ("1,800 nested braces", "{" * 900 + "1" + "}" * 900),
    ("1,900-char sum", "+".join(["x"] * 950)),
    ("300 nested fractions", r"\frac{1}{" * 300 + "2" + "}" * 300),
    ("900 nested parentheses", "(" * 900 + "1" + ")" * 900),
)


def hostile_input() -> None:
    """Each hostile answer's time to verdict, and what else moves meanwhile."""
    print(f"\n== 2. Hostile input (timeout {HOSTILE_TIMEOUT:g} s of CPU time, 2 workers) ==")
    print(
        "  each answer is given boxed, so that it reaches comparison; answers over 2,000 "
        "characters are refused before any parsing"
    )
    with Grader(timeout=HOSTILE_TIMEOUT, workers=2) as grader:
        _boot(grader)
        worst = 0.0
        for label, answer in HOSTILE:
            started = time.perf_counter()
            result = grader.grade("5", rf"so the answer is $\boxed{{{answer}}}$.", "math")
            elapsed = time.perf_counter() - started
            worst = max(worst, elapsed)
            print(f"  {label:26} {elapsed:6.2f} s  {result.status.value:11} {result.detail}")
        stats = grader.stats()
    print(
        f"  slowest verdict {worst:.2f} s wall (timeout {HOSTILE_TIMEOUT:g} s CPU); workers killed "
        f"and replaced: {stats.worker_kills}"
    )
    _forced_kill()
    _others_keep_flowing()


def _forced_kill() -> None:
    """The hard limit alone: the worker's own alarm is set after the pool's deadline."""
    from verimath.grading.pool import WorkerPool

    pool = WorkerPool(1, HOSTILE_TIMEOUT, 2048, soft_timeout_share=10.0)
    try:
        pool.submit("1", "1").result()
        started = time.perf_counter()
        verdict = pool.submit("5", "10^{10^{10}}").result()
        killed = time.perf_counter() - started
        started = time.perf_counter()
        after = pool.submit(r"\frac{1}{2}", "0.5").result()
        replaced = time.perf_counter() - started
    finally:
        pool.close()
    print(
        f"  alarm disabled, pool kill only: {verdict.status.value} after {killed:.2f} s "
        f"({verdict.detail}); next comparison on the replacement worker: "
        f"{after.status.value} after {replaced:.2f} s"
    )


def _others_keep_flowing() -> None:
    """Normal comparisons with and without a hostile one holding a worker."""
    normal = [(f"\\frac{{{n}}}{{{n + 1}}}", f"{n}/({n}+1)", "math") for n in range(1, 201)]
    with Grader(timeout=HOSTILE_TIMEOUT, workers=2, cache_size=0) as grader:
        _boot(grader)
        grader.grade_many(normal)  # warm both workers up on this kind of input
        quiet = _timed(lambda: grader.grade_many(normal))
        stuck = threading.Thread(target=grader.grade, args=("5", "10^{10^{10}}", "math"))
        stuck.start()
        time.sleep(0.2)  # one worker is now busy with the hostile answer
        busy = _timed(lambda: grader.grade_many(normal))
        both = [
            threading.Thread(target=grader.grade, args=("5", f"10^{{10^{{{n}}}}}", "math"))
            for n in (10, 11)
        ]
        for thread in both:
            thread.start()
        time.sleep(0.2)  # now both workers are busy
        quick = _timed(lambda: [grader.grade("18", "18.0", "gsm8k") for _ in range(1000)])
        for thread in [stuck, *both]:
            thread.join()
    print(
        f"  200 normal comparisons: {quiet:.2f} s alone, {busy:.2f} s while a hostile answer "
        f"held one of the 2 workers"
    )
    print(
        f"  1,000 quick-path comparisons while both workers were held: {quick * 1000:.1f} ms "
        "(they never wait for a worker)"
    )


# -- 3. agreement with recorded labels ----------------------------------------------------


def agreement(data: Path) -> None:
    """verimath vs recorded correctness labels, with every disagreement and its review."""
    print("\n== 3. Agreement with recorded correctness labels ==")
    items = labelled_predictions()
    with Grader() as grader:
        results = grader.grade_many((i.gold, i.pred, i.dataset) for i in items)
        tora = _tora(data, grader)
    reviews = _reviews()
    disagreements: list[tuple[Labelled, GradeResult]] = []
    by_source: dict[str, Counter[str]] = {}
    for item, result in zip(items, results, strict=True):
        counts = by_source.setdefault(item.source, Counter())
        counts[f"{'T' if item.label else 'F'}/{result.status.value}"] += 1
        if result.correct != item.label:
            disagreements.append((item, result))
    for source, counts in by_source.items():
        _print_source(source, counts)
    reasons = Counter(r.unparseable_reason for r in results if r.unparseable_reason)
    print(
        "  unparseable, by the step that failed: "
        + (", ".join(f"{reason} {n}" for reason, n in reasons.most_common()) or "none")
    )
    _print_tora(tora, reviews)
    _print_disagreements(disagreements, reviews)


def _print_source(source: str, counts: Counter[str]) -> None:
    total = sum(counts.values())
    agree = sum(n for key, n in counts.items() if key.startswith("T/correct")) + sum(
        n for key, n in counts.items() if key.startswith("F/") and key != "F/correct"
    )
    detail = ", ".join(f"{key} {n}" for key, n in sorted(counts.items()))
    print(f"  {source:46} {agree:5}/{total:<5} = {100 * agree / total:6.2f}%   ({detail})")


def _print_tora(tora: dict[str, Any], reviews: dict[tuple[str, str], dict]) -> None:
    reported = tora["reported"]
    print(
        f"  {'tora-code-34b gsm8k (no per-record labels)':46} verimath {tora['correct']}/"
        f"{tora['total']} = {100 * tora['correct'] / tora['total']:.2f}%, ToRA reports "
        f"{reported}% (= {round(reported * tora['total'] / 100)} records)"
    )
    for idx, gold, pred in tora["lenient"]:
        review = reviews.get(("tora/tora-code-34b-v1.0/gsm8k", str(idx)))
        note = f"reviewed: {review['right']} right - {review['note']}" if review else "UNREVIEWED"
        print(f"    ToRA-only accepts idx {idx}: gold {gold!r}, pred {pred!r} -> {note}")


def _print_disagreements(
    disagreements: list[tuple[Labelled, GradeResult]], reviews: dict[tuple[str, str], dict]
) -> None:
    print(f"\n  Disagreements: {len(disagreements)} (label = the harness's verdict)")
    sides: Counter[str] = Counter()
    for item, result in disagreements:
        review = reviews.get((_review_source(item.source), item.record))
        side = review["right"] if review else "UNREVIEWED"
        sides[side] += 1
        note = review["note"] if review else ""
        print(
            f"   [{side:10}] {item.source} #{item.record}: gold {str(item.gold)[:40]!r}, "
            f"answer {str(result.answer)[:40]!r}, label {item.label}, verimath "
            f"{result.status.value} ({result.detail}) {note}"
        )
    print(
        f"  Reviewed: verimath right {sides['verimath']}, label right {sides['label']}, "
        f"unreviewed {sides['UNREVIEWED']}"
    )


def _reviews() -> dict[tuple[str, str], dict]:
    cases = json.loads(REVIEWED.read_text(encoding="utf-8")) if REVIEWED.exists() else []
    return {(_review_source(case["source"]), str(case["id"])): case for case in cases}


def _review_source(source: str) -> str:
    """Reviews name the file (…-correct/-wrong); the benchmark names the run."""
    return source.removesuffix("-correct").removesuffix("-wrong")


# -- loaders ------------------------------------------------------------------------------


def _tora(data: Path, grader: Grader) -> dict[str, Any]:
    """ToRA's file has no per-record labels: compare totals and find the records that
    ToRA's own (lenient) rules would count differently."""
    base = data / "transcripts" / "tora" / "tora-code-34b-v1.0" / "gsm8k"
    rows = jsonl(base / "test_tora_-1_seed0_t0.0_s0_e1319.jsonl")
    metrics = (base / "test_tora_-1_seed0_t0.0_s0_e1319.metrics").read_text()
    reported = float(metrics.split("Mean score: [")[1].split("]")[0])
    results = grader.grade_many((row["gt"], row["code"][0], "gsm8k") for row in rows)
    lenient = [
        (row["idx"], row["gt"], row["pred"][0])
        for row, result in zip(rows, results, strict=True)
        if not result.correct and _tora_would_accept(row["gt"], row["pred"][0])
    ]
    return {
        "total": len(rows),
        "correct": sum(r.correct for r in results),
        "reported": reported,
        "lenient": lenient,
    }


def _tora_would_accept(gold: str, pred: str) -> bool:
    """ToRA's math_equal: relative tolerance 1e-4, and gold/100 or gold*100 also count."""
    try:
        gold_value, pred_value = float(gold.replace(",", "")), float(pred.replace(",", ""))
    except ValueError:
        return False
    candidates: Iterable[float] = (gold_value, gold_value / 100, gold_value * 100)
    return any(abs(pred_value - c) <= 1e-4 * max(abs(c), 1e-12) for c in candidates)


if __name__ == "__main__":
    main()
