"""``verimath report``: paper-style tables and plots of one or more runs, side by side."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from verimath.errors import ConfigError
from verimath.report.bootstrap import DEFAULT_RESAMPLES
from verimath.report.build import ReportOptions, build_report, load_runs
from verimath.report.curves import DEFAULT_TRIALS
from verimath.report.output import FORMATS, render_report, write_report
from verimath.storage import write_error
from verimath.terminal import escape_json_text, for_terminal


@click.command("report")
@click.argument(
    "runs",
    nargs=-1,
    required=True,
    metavar="RUN [RUN ...]",
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="md",
    show_default=True,
    help="md (with PNG plots beside it), html (one page, plots embedded) or json.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for report.<format> (and plots/); default: standard output.",
)
@click.option(
    "--resamples",
    type=click.IntRange(min=0),
    default=DEFAULT_RESAMPLES,
    show_default=True,
    help="Bootstrap resamples per interval (0: no intervals).",
)
@click.option(
    "--confidence",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.95,
    show_default=True,
    help="Level of the bootstrap intervals.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of bootstrap and curves."
)
@click.option(
    "--curve-trials",
    type=click.IntRange(min=1),
    default=DEFAULT_TRIALS,
    show_default=True,
    help="Random k-subsets per problem and k when there are too many to enumerate.",
)
@click.option("--no-plots", is_flag=True, help="Tables only (no matplotlib needed).")
@click.option("--title", default=None, help="Report title (default: the run labels).")
@click.option(
    "--against",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    metavar="FILE",
    help="JSON lines of another harness's verdicts on this run's samples (problem_id, "
    "sample_index, correct, optional answer): adds the agreement and every disagreement "
    "grouped by cause.",
)
def command(
    runs: tuple[Path, ...],
    fmt: str,
    out: Path | None,
    resamples: int,
    confidence: float,
    seed: int,
    curve_trials: int,
    no_plots: bool,
    title: str | None,
    against: Path | None,
) -> None:
    """Report on RUN files side by side: accuracy, code usage, verification, voting, costs."""
    from verimath.grading import Grader
    from verimath.report.against import against_section, read_labels

    if against is not None and len(runs) != 1:
        raise ConfigError("--against compares one run with another harness's labels; give one RUN")
    options = ReportOptions(resamples, seed, confidence, curve_trials, title)
    loaded = load_runs(runs)
    labels = read_labels(against) if against is not None else None
    with Grader() as grader:
        report = build_report(loaded, grader.equivalent, options)
        if labels is not None and against is not None:
            section = against_section(loaded[0], labels, against.name, grader)
            report = dataclasses.replace(report, sections=(*report.sections, section))
    if out is None:
        text = render_report(report, fmt, plots=not no_plots)
        click.echo(escape_json_text(text) if fmt == "json" else for_terminal(text), nl=False)
        return
    try:
        written = write_report(report, fmt, out, plots=not no_plots)
    except OSError as exc:
        raise write_error(
            out, exc, "choose another directory with --out, or leave it out for standard output"
        ) from None
    plots = f" and {len(written) - 1} plots" if written[1:] else ""
    click.echo(f"wrote {for_terminal(written[0])}{plots}")
