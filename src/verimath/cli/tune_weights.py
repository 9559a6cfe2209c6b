"""``verimath tune-weights``: fit the vote weights on part of a run, judge them on the rest."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from verimath.errors import InputError
from verimath.grading import Grader, known_rules
from verimath.run_records import SampleRecord
from verimath.store import RunStore
from verimath.tally import candidates_of
from verimath.terminal import json_for_terminal
from verimath.tuning import TuningResult, tune_weights
from verimath.voting import Candidate, group_answers


@click.command("tune-weights")
@click.argument("run", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--dev-fraction",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.5,
    show_default=True,
    help="Share of problems the weights are fitted on.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split.")
@click.option(
    "--bootstrap",
    type=click.IntRange(min=100),
    default=10_000,
    show_default=True,
    help="Bootstrap resamples of the held-out confidence interval.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(run: Path, dev_fraction: float, seed: int, bootstrap: int, as_json: bool) -> None:
    """Fit (w_T, w_U, w_F) on a development split of RUN by grid search and report the gain
    over plain majority voting on the held-out split, with a confidence interval."""
    problems = run_problems(run)
    result = tune_weights(problems, dev_fraction=dev_fraction, seed=seed, bootstrap=bootstrap)
    if as_json:
        click.echo(json_for_terminal(result_dict(result)))
    else:
        print_result(Console(), run, result)


def run_problems(run: Path) -> list[tuple[list[Candidate], list[bool]]]:
    """Each voted problem's candidates (answers made canonical by equivalence) and verdicts."""
    with RunStore.read(run) as store:
        problems = {p.problem_id: p for p in store.problems()}
        voted = [v.problem_id for v in store.votes()]
        by_problem: dict[str, list[SampleRecord]] = {}
        for sample in store.samples():
            by_problem.setdefault(sample.problem_id, []).append(sample)
    usable = [pid for pid in voted if len(by_problem.get(pid, [])) > 1]
    if len(usable) < 2:
        raise InputError(
            "tuning needs at least two voted problems with two or more samples", path=str(run)
        )
    with Grader() as grader:
        return [_problem(by_problem[pid], problems[pid].dataset, grader) for pid in usable]


def _problem(
    samples: list[SampleRecord], dataset: str, grader: Grader
) -> tuple[list[Candidate], list[bool]]:
    rules = known_rules(dataset)
    raw = candidates_of(samples)
    classes = group_answers(raw, functools.partial(grader.equivalent, dataset=rules))
    representative = {c: raw[classes.index(c)].answer for c in set(classes) if c >= 0}
    candidates = [
        Candidate(representative.get(c), s.state) for c, s in zip(classes, samples, strict=True)
    ]
    return candidates, [s.correct for s in samples]


def result_dict(result: TuningResult) -> dict[str, Any]:
    return {
        "weights": result.weights.spec(),
        "dev_problems": result.dev_problems,
        "heldout_problems": result.heldout_problems,
        "dev_accuracy": result.dev_accuracy,
        "dev_plain_accuracy": result.dev_plain_accuracy,
        "heldout_accuracy": result.heldout_accuracy,
        "heldout_plain_accuracy": result.heldout_plain_accuracy,
        "gain": result.gain,
        "gain_ci": list(result.gain_ci),
        "heldout_flips": list(result.heldout_flips),
        "confidence": result.confidence,
    }


def print_result(console: Console, run: Path, result: TuningResult) -> None:
    table = Table(title=f"vote weights fitted on {run}")
    for column in ("split", "problems", f"tuned {result.weights.spec()}", "plain majority"):
        table.add_column(column)
    table.add_row(
        "development",
        str(result.dev_problems),
        f"{result.dev_accuracy:.2%}",
        f"{result.dev_plain_accuracy:.2%}",
    )
    table.add_row(
        "held-out",
        str(result.heldout_problems),
        f"{result.heldout_accuracy:.2%}",
        f"{result.heldout_plain_accuracy:.2%}",
    )
    console.print(table)
    low, high = result.gain_ci
    console.print(
        f"held-out gain over plain majority: {result.gain * 100:+.2f} points, "
        f"{result.confidence:.0%} CI [{low * 100:+.2f}, {high * 100:+.2f}] "
        f"(tuned right & plain wrong: {result.heldout_flips[0]}, "
        f"the reverse: {result.heldout_flips[1]})"
    )
    console.print(f"use them with: --weights {result.weights.spec()}")
