"""Adaptive sampling benchmark: samples saved by stopping early, and what it costs in accuracy.

Replays recorded multi-sample data in recorded order through ``verimath.adaptive`` and
compares with voting over all k samples, side by side in one run:

1. qwen25-math-cot-maj: 100 MATH problems x 8 CoT samples (Qwen2.5-Math);
2. gsm8k-openai-example-solutions: 1319 GSM8K problems x 4 samples (four GPT-3 models);
3. a simulated model with verification states (seeded), k = 16, to exercise weighted voting;
   ``tune_weights`` is also run on it (the recorded data have no states to weigh).

The recorded samples are chain of thought without code, so every state is Uncertain: weighted
and plain voting give the same full-k answers there, but the weighted rule must still allow
for True votes in samples not drawn yet. Both are shown. For each: full-k accuracy; exact mode
(answers must be identical to full k on every problem); probabilistic mode at a few thresholds
(samples saved, accuracy change in points); and two bounds from hindsight: the oracle that
knows the full-k answer, and (k <= 4) the best rule that sees only the pattern of agreement.

Answers are extracted with ``verimath.grading.extract_answer``, graded against gold with the
Grader, and grouped once per problem with ``Grader.equivalent``; each answer is then replaced
by the first answer of its class, so later votes group by string exactly as they would with
the grader (grouping is online and a class is named by its first member).

Usage: python benchmarks/adaptive.py [--sim-problems N] [--thresholds 0.01,0.02,0.05] [--seed S]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from shared import TRANSCRIPTS
from verimath.adaptive import AdaptivePolicy, simulate_adaptive, summarize
from verimath.grading import Grader, extract_answer
from verimath.tuning import tune_weights
from verimath.verification import VerificationState
from verimath.voting import DEFAULT_WEIGHTS, PLAIN_WEIGHTS, Candidate, Weights, group_answers, vote

DATA = TRANSCRIPTS
MATH_FILE = DATA / "qwen25-math-cot-maj" / "math_cot_100.jsonl"
GSM8K_FILE = DATA / "gsm8k-openai-example-solutions" / "example_model_solutions.jsonl"
GSM8K_SAMPLES = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
MAX_LOSS_POINTS = 0.5  # the target: >= 40% saved at <= 0.5 points lost
MIN_SAVED = 0.40

# the simulated model: per problem a chance of being right ~ Beta(2, 1) (mean 0.67, like
# GPT-4 csv per sample on MATH), five wrong answers with Dirichlet(0.5) popularity, 2% of
# samples without an answer; states conditioned on correctness so that True is ~95% precise
SIM_K = 16
SIM_RIGHT = (2.0, 1.0)
SIM_WRONG_ANSWERS, SIM_WRONG_CONCENTRATION = 5, 0.5
SIM_NO_ANSWER = 0.02
SIM_STATES_RIGHT = (0.55, 0.35, 0.10)  # True, Uncertain, False
SIM_STATES_WRONG = (0.05, 0.45, 0.50)
STATES = (VerificationState.TRUE, VerificationState.UNCERTAIN, VerificationState.FALSE)


@dataclass(frozen=True)
class Dataset:
    """Samples per problem (answers already canonical per class) and each answer's verdict."""

    name: str
    samples: list[list[Candidate]]
    verdicts: list[dict[str, bool]]

    def correct(self, problem: int, answer: str | None) -> bool:
        return answer is not None and self.verdicts[problem].get(answer, False)


def canonical(answers: Sequence[str | None], grader: Grader, dataset: str) -> list[str | None]:
    """Each answer replaced by the first answer of its equivalence class."""
    candidates = [Candidate(a) for a in answers]
    ids = group_answers(candidates, lambda a, b: grader.equivalent(a, b, dataset))
    first = {i: candidates[j].answer for j, i in reversed(list(enumerate(ids)))}
    return [None if i == -1 else first[i] for i in ids]


def load_recorded(
    name: str, rows: list[tuple[str, list[str]]], grader: Grader, dataset: str
) -> Dataset:
    """``rows``: (gold, sample texts) per problem."""
    samples, verdicts = [], []
    for gold, texts in rows:
        answers = canonical([extract_answer(t, dataset).answer for t in texts], grader, dataset)
        samples.append([Candidate(a) for a in answers])
        verdicts.append(
            {a: grader.grade(gold, a, dataset).correct for a in set(answers) if a is not None}
        )
    return Dataset(name, samples, verdicts)


def load_math(grader: Grader) -> Dataset:
    records = [json.loads(line) for line in MATH_FILE.read_text().splitlines()]
    rows = [(r["gt"], r["code"]) for r in records]
    return load_recorded("MATH, qwen25-math-cot-maj (100 x 8)", rows, grader, "math")


def load_gsm8k(grader: Grader) -> Dataset:
    records = [json.loads(line) for line in GSM8K_FILE.read_text().splitlines()]
    rows = [
        (  # the reference solution ends "A: 18" like the samples
            extract_answer(r["ground_truth"], "gsm8k").answer,
            [r[key]["solution"] for key in GSM8K_SAMPLES],
        )
        for r in records
    ]
    return load_recorded("GSM8K, openai example solutions (1319 x 4)", rows, grader, "gsm8k")


def simulated(problems: int, seed: int) -> Dataset:
    """The simulated model above; the right answer is always "0"."""
    rng = random.Random(seed)
    samples = []
    for _ in range(problems):
        p_right = rng.betavariate(*SIM_RIGHT)
        popularity = [rng.gammavariate(SIM_WRONG_CONCENTRATION, 1) for _ in range(5)]
        samples.append([sim_sample(rng, p_right, popularity) for _ in range(SIM_K)])
    name = f"simulated model with states ({problems} x {SIM_K}, seed {seed})"
    return Dataset(name, samples, [{"0": True}] * problems)


def sim_sample(rng: random.Random, p_right: float, popularity: list[float]) -> Candidate:
    if rng.random() < SIM_NO_ANSWER:
        return Candidate(None)
    if rng.random() < p_right:
        return Candidate("0", rng.choices(STATES, SIM_STATES_RIGHT)[0])
    wrong = rng.choices(range(1, SIM_WRONG_ANSWERS + 1), popularity)[0]
    return Candidate(str(wrong), rng.choices(STATES, SIM_STATES_WRONG)[0])


# --- measuring ---------------------------------------------------------------------------------


def full_k(data: Dataset, weights: Weights) -> list[str | None]:
    return [vote(s, weights).winner for s in data.samples]


def run_policy(
    data: Dataset, weights: Weights, policy: AdaptivePolicy, full: list[str | None]
) -> dict:
    started = time.perf_counter()
    outcomes = simulate_adaptive(data.samples, policy, weights)
    verdicts = [data.correct(i, o.answer) for i, o in enumerate(outcomes)]
    summary = summarize(outcomes, verdicts)
    full_accuracy = sum(data.correct(i, a) for i, a in enumerate(full)) / len(full)
    return {
        "summary": summary,
        "identical": sum(o.answer == a for o, a in zip(outcomes, full, strict=True)),
        "loss": 100 * (full_accuracy - summary.accuracy),
        "seconds": time.perf_counter() - started,
    }


def oracle_saved(data: Dataset, weights: Weights, full: list[str | None]) -> float:
    """Savings of stopping at the first prefix whose vote already equals the full-k answer."""
    used = sum(
        next(n for n in range(1, len(s) + 1) if vote(s[:n], weights).winner == a)
        for s, a in zip(data.samples, full, strict=True)
    )
    return 1 - used / sum(len(s) for s in data.samples)


def pattern_bound(data: Dataset, weights: Weights, full: list[str | None]) -> tuple[float, float]:
    """Best savings (and its loss) at <= MAX_LOSS_POINTS of any rule that sees only which
    drawn samples agree (not their text), chosen with hindsight over all such rules."""
    k = len(data.samples[0])
    rows = []
    for i, s in enumerate(data.samples):
        patterns = [pattern(s[:n]) for n in range(1, k)]
        right = [data.correct(i, vote(s[:n], weights).winner) for n in range(1, k + 1)]
        rows.append((patterns, right))
    nodes = sorted({p for patterns, _ in rows for p in patterns})
    full_right = sum(right[-1] for _, right in rows)
    best = (0.0, 0.0)
    for chosen in itertools.product((False, True), repeat=len(nodes)):
        stop_at = {n for n, c in zip(nodes, chosen, strict=True) if c}
        used, right_count = 0, 0
        for patterns, right in rows:
            n = next((j + 1 for j, p in enumerate(patterns) if p in stop_at), k)
            used, right_count = used + n, right_count + right[n - 1]
        loss = 100 * (full_right - right_count) / len(rows)
        saved = 1 - used / (k * len(rows))
        if loss <= MAX_LOSS_POINTS and saved > best[0]:
            best = (saved, loss)
    return best


def pattern(samples: Sequence[Candidate]) -> tuple[int, ...]:
    """Which samples agree: answers renamed by first appearance, -1 for none."""
    names: dict[str, int] = {}
    return tuple(
        -1 if c.answer is None else names.setdefault(c.answer, len(names)) for c in samples
    )


# --- printing ----------------------------------------------------------------------------------


def report(data: Dataset, weights: Weights, thresholds: Sequence[float]) -> list[str]:
    """Print one dataset under one weighting; return the must-reach verdicts."""
    full = full_k(data, weights)
    problems = len(data.samples)
    full_accuracy = sum(data.correct(i, a) for i, a in enumerate(full)) / problems
    budget = sum(len(s) for s in data.samples)
    print(f"\n== {data.name}, weights {weights.spec()}")
    print(f"  full k        accuracy {100 * full_accuracy:6.2f}%   samples {budget}")
    exact = run_policy(data, weights, AdaptivePolicy("exact"), full)
    print_row("exact", exact, problems)
    verdicts = [
        f"{'PASS' if exact['identical'] == problems else 'MISS'} exact identical answers "
        f"{exact['identical']}/{problems}, saved {100 * exact['summary'].saved_fraction:.1f}% "
        f"[{data.name}, {weights.spec()}]"
    ]
    passing = []
    for threshold in thresholds:
        policy = AdaptivePolicy("probabilistic", threshold=threshold)
        result = run_policy(data, weights, policy, full)
        print_row(f"p < {threshold:g}", result, problems)
        saved = result["summary"].saved_fraction
        if saved >= MIN_SAVED and result["loss"] <= MAX_LOSS_POINTS:
            passing.append(f"p < {threshold:g}: {100 * saved:.1f}% at {result['loss']:+.2f}")
    oracle = oracle_saved(data, weights, full)
    print(f"  oracle that knows the full-k answer: saved {100 * oracle:.1f}%")
    if len(data.samples[0]) <= 4:
        saved, loss = pattern_bound(data, weights, full)
        print(
            f"  best agreement-pattern rule, chosen in hindsight, at <= {MAX_LOSS_POINTS} points: "
            f"saved {100 * saved:.1f}% (loss {loss:.2f} points)"
        )
    target = f">= {100 * MIN_SAVED:.0f}% saved at <= {MAX_LOSS_POINTS} points lost"
    verdicts.append(
        f"{'PASS' if passing else 'MISS'} probabilistic {target}: "
        f"{'; '.join(passing) or 'at no threshold tried'} [{data.name}, {weights.spec()}]"
    )
    return verdicts


def print_row(label: str, result: dict, problems: int) -> None:
    summary = result["summary"]
    spread = " ".join(f"{n}:{count}" for n, count, _ in summary.per_samples)
    print(
        f"  {label:<13} accuracy {100 * summary.accuracy:6.2f}%   loss {result['loss']:+5.2f} pts"
        f"   saved {100 * summary.saved_fraction:5.1f}%   mean {summary.mean_samples:5.2f}"
        f"   identical {result['identical']}/{problems}   ({result['seconds']:.1f} s)"
    )
    accuracy = " ".join(f"{n}:{100 * a:.0f}%" for n, _, a in summary.per_samples)
    print(f"  {'':<13} problems by samples used {spread};  accuracy by samples used {accuracy}")


def tuning_report(data: Dataset, seed: int) -> None:
    """Weights fitted on half of the problems, measured on the other half against plain."""
    started = time.perf_counter()
    problems = [
        (samples, [data.correct(i, c.answer) for c in samples])
        for i, samples in enumerate(data.samples)
    ]
    result = tune_weights(problems, seed=seed)
    low, high = result.gain_ci
    default_dev = dict(result.grid)[DEFAULT_WEIGHTS]
    print(f"\n== tune_weights on the {data.name}")
    print(
        f"  chosen {result.weights.spec()} on {result.dev_problems} dev problems "
        f"(dev accuracy {100 * result.dev_accuracy:.2f}%, default 1,0.5,0.2 "
        f"{100 * default_dev:.2f}%, plain {100 * result.dev_plain_accuracy:.2f}%)"
    )
    print(
        f"  held out ({result.heldout_problems}): tuned {100 * result.heldout_accuracy:.2f}% vs "
        f"plain {100 * result.heldout_plain_accuracy:.2f}%: gain {100 * result.gain:+.2f} points, "
        f"95% CI [{100 * low:+.2f}, {100 * high:+.2f}] (paired bootstrap, {result.bootstrap}); "
        f"flips {result.heldout_flips[0]} to right, {result.heldout_flips[1]} to wrong "
        f"({time.perf_counter() - started:.1f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sim-problems", type=int, default=2000)
    parser.add_argument("--thresholds", default="0.01,0.02,0.05")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    thresholds = [float(t) for t in args.thresholds.split(",")]
    started = time.perf_counter()
    with Grader() as grader:
        recorded = [load_math(grader), load_gsm8k(grader)]
    print(f"loaded and graded the recorded data in {time.perf_counter() - started:.1f} s")
    verdicts = []
    for data in recorded:
        for weights in (DEFAULT_WEIGHTS, PLAIN_WEIGHTS):
            verdicts += report(data, weights, thresholds)
    model = simulated(args.sim_problems, args.seed)
    verdicts += report(model, DEFAULT_WEIGHTS, thresholds)
    tuning_report(model, args.seed)
    print("\n== must-reach (issue 8)")
    for line in verdicts:
        print(f"  {line}")
    print(f"\ntotal {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
