"""PNG figures drawn from the sections' data with matplotlib (imported only here, when used).

Figures are built with ``matplotlib.figure.Figure`` and the Agg canvas, never ``pyplot``: no
global state, no display needed.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, cast

from verimath.errors import ConfigError
from verimath.report.groups import subject_header
from verimath.report.model import Report
from verimath.report.section_data import (
    AccuracyData,
    CodeUsageData,
    CostFigures,
    GroupFigures,
    SpendFigures,
    VerificationFigures,
    VotingCurves,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["INSTALL_HINT", "plottable", "render_plots"]

INSTALL_HINT = "pip install matplotlib (or 'verimath[report]')"
DPI = 110
WIDTH = 10.0
PANEL_HEIGHT = 3.6
MAX_LABEL = 42  # characters of a run label shown in a legend


def render_plots(report: Report) -> dict[str, bytes]:
    """PNG bytes by plot name, for every plot the report's sections ask for."""
    _require_matplotlib()
    figures: dict[str, bytes] = {}
    for section, plot in report.plots():
        shown, draw = _drawing(plot.kind, section.data)
        if shown:
            figures[plot.name] = _png(draw())
    return figures


def plottable(kind: str, data: Mapping[str, object]) -> bool:
    """Whether a plot of ``kind`` would show anything: no axes drawn around nothing (a run
    without samples, without code, with one sample per problem)."""
    return _drawing(kind, data)[0]


def _drawing(kind: str, data: Mapping[str, object]) -> tuple[bool, Callable[[], Figure]]:
    """Whether a plot of ``kind`` shows anything, and how to draw it. ``data`` is that of the
    section which asks for the plot, so ``kind`` tells its shape."""
    if kind == "accuracy":
        accuracy = cast(AccuracyData, data)
        shown = any(r["overall"]["value"] is not None for r in accuracy["rows"])
        return shown, lambda: _accuracy(accuracy)
    if kind == "code_usage":
        usage = cast(CodeUsageData, data)
        shown = any(
            count["samples"]
            for entry in usage["distribution"].values()
            for bucket, count in entry["buckets"].items()
            if bucket != "0"
        )
        return shown, lambda: _code_usage(usage)
    if kind == "code_usage_by_level":
        by_level = cast(CodeUsageData, data)["by_level"]
        return _any_code(by_level), lambda: _by_group(by_level, "level")
    if kind == "code_usage_by_subject":
        by_subject = cast(CodeUsageData, data)["by_subject"]
        return _any_code(by_subject), lambda: _by_group(by_subject, "subject")
    if kind == "verification":
        verification = cast(dict[str, VerificationFigures], data)
        shown = any(sum(map(sum_values, e["counts"].values())) for e in verification.values())
        return shown, lambda: _verification(verification)
    if kind == "voting":
        voting = cast(dict[str, VotingCurves], data)
        shown = any(len(entry["points"]) > 1 for entry in voting.values())
        return shown, lambda: _voting(voting)
    if kind == "latency":
        costs = cast(dict[str, CostFigures], data)
        shown = any(entry.get("samples") and entry.get("latency_mean") for entry in costs.values())
        return shown, lambda: _latency(costs)
    if kind == "samples_spent":
        spend = cast(dict[str, SpendFigures], data)
        return any(entry.get("problems") for entry in spend.values()), lambda: _samples_spent(spend)
    return True, lambda: _unknown(kind)


def _any_code(groups_by_run: dict[str, dict[str, GroupFigures]]) -> bool:
    return any(group["mean_code"] for entry in groups_by_run.values() for group in entry.values())


def _unknown(kind: str) -> Figure:
    raise KeyError(kind)


def sum_values(counts: dict[str, int]) -> int:
    return sum(counts.values())


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"plots need matplotlib, which is not installed: {INSTALL_HINT}; or pass "
            "--no-plots (tables only) or --format json"
        ) from None


def _figure(panels: int, columns: int | None = None) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    columns = columns or panels
    rows = -(-panels // columns)
    figure = Figure(figsize=(WIDTH, PANEL_HEIGHT * rows), dpi=DPI, layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel().tolist()
    for extra in axes[panels:]:
        extra.set_visible(False)
    return figure, axes[:panels]


def _png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def _percent(value: float | None) -> float:
    return float("nan") if value is None else 100 * value


def _accuracy(data: AccuracyData) -> Figure:
    rows = data["rows"]
    figure, (axes,) = _figure(1)
    figure.set_figheight(max(2.0, 0.45 * len(rows) + 1.0))
    values = [_percent(r["overall"]["value"]) for r in rows]
    lows = [_percent(r["overall"]["low"]) for r in rows]
    highs = [_percent(r["overall"]["high"]) for r in rows]
    errors = [
        [max(0.0, v - lo) if lo == lo else 0.0 for v, lo in zip(values, lows, strict=True)],
        [max(0.0, hi - v) if hi == hi else 0.0 for v, hi in zip(values, highs, strict=True)],
    ]
    positions = list(range(len(rows)))[::-1]
    colors = ["#4c72b0" if r["kind"].startswith("samples") else "#dd8452" for r in rows]
    axes.barh(positions, values, xerr=errors, color=colors, capsize=3)
    axes.set_yticks(positions, [_short(r["short"]) for r in rows], fontsize=8)
    for y, v in zip(positions, values, strict=True):
        if v == v:
            axes.text(1, y, f"{v:.1f}", va="center", fontsize=8, color="white")
    axes.set_xlim(0, 100)
    axes.set_xlabel("accuracy % (overall, 95% bootstrap interval)")
    return figure


def _code_usage(data: CodeUsageData) -> Figure:
    buckets: list[str] = data["buckets"]
    runs = list(data["distribution"])
    figure, (share, accuracy) = _figure(2)
    width = 0.8 / max(1, len(runs))
    for i, label in enumerate(runs):
        entry = data["distribution"][label]
        n = entry["samples"] or 1
        xs = [j + (i - (len(runs) - 1) / 2) * width for j in range(len(buckets))]
        share.bar(
            xs,
            [100 * entry["buckets"][b]["samples"] / n for b in buckets],
            width,
            label=_short(label),
        )
        points = [
            (j, 100 * entry["buckets"][b]["correct"] / entry["buckets"][b]["samples"])
            for j, b in enumerate(buckets)
            if entry["buckets"][b]["samples"]
        ]
        accuracy.plot([p[0] for p in points], [p[1] for p in points], marker="o")
    for axes, ylabel in ((share, "% of samples"), (accuracy, "single-sample accuracy %")):
        axes.set_xticks(range(len(buckets)), buckets)
        axes.set_xlabel("Code Usage Frequency (executions per sample)")
        axes.set_ylabel(ylabel)
    accuracy.set_ylim(0, 105)
    figure.legend(loc="outside lower center", ncols=min(3, len(runs)), fontsize=8)
    return figure


def _by_group(groups_by_run: dict[str, dict[str, GroupFigures]], name: str) -> Figure:
    groups = sorted({g for entry in groups_by_run.values() for g in entry}, key=_group_order)
    figure, (accuracy, usage) = _figure(2)
    runs = list(groups_by_run)
    width = 0.8 / max(1, len(runs))
    for i, label in enumerate(runs):
        entry = groups_by_run[label]
        xs = [j + (i - (len(runs) - 1) / 2) * width for j in range(len(groups))]
        acc = [100 * entry[g]["accuracy"] if g in entry else 0.0 for g in groups]
        code = [entry[g]["mean_code"] if g in entry else 0.0 for g in groups]
        accuracy.bar(xs, acc, width, label=_short(label))
        usage.bar(xs, code, width)
    ticks = [subject_header(g) if name == "subject" else g for g in groups]
    for axes, ylabel in ((accuracy, "single-sample accuracy %"), (usage, "mean code executions")):
        axes.set_xticks(
            range(len(groups)), ticks, fontsize=8, rotation=30 if len(groups) > 5 else 0
        )
        axes.set_xlabel(name)
        axes.set_ylabel(ylabel)
    accuracy.set_ylim(0, 100)
    highest = max((c["mean_code"] for e in groups_by_run.values() for c in e.values()), default=0)
    usage.set_ylim(0, 1.1 * max(1.0, highest))
    figure.legend(loc="outside lower center", ncols=min(3, len(runs)), fontsize=8)
    return figure


def _group_order(group: str) -> tuple[int, str]:
    from verimath.report.groups import PAPER_SUBJECTS

    order = list(PAPER_SUBJECTS)
    if group.isdigit():
        return (int(group), group)
    return (order.index(group) if group in order else len(order), group)


def _verification(data: dict[str, VerificationFigures]) -> Figure:
    runs = [label for label in data if sum(map(sum_values, data[label]["counts"].values()))]
    figure, panels = _figure(len(runs), min(3, len(runs)))
    states = ("True", "Uncertain", "False")
    for axes, label in zip(panels, runs, strict=True):
        counts = data[label]["counts"]
        correct = [counts[s]["correct"] for s in states]
        wrong = [sum(counts[s].values()) - counts[s]["correct"] for s in states]
        axes.bar(states, correct, color="#55a868", label="correct")
        axes.bar(states, wrong, bottom=correct, color="#c44e52", label="not correct")
        axes.set_title(_short(label), fontsize=9)
        axes.set_ylabel("samples")
    panels[0].legend(fontsize=8)
    return figure


def _voting(data: dict[str, VotingCurves]) -> Figure:
    runs = [label for label in data if len(data[label]["points"]) > 1]
    figure, panels = _figure(len(runs), min(3, len(runs)))
    for axes, label in zip(panels, runs, strict=True):
        points = data[label]["points"]
        ks = [p["k"] for p in points]
        weighted = f"weighted vote ({data[label]['weights']})"
        # drawn thick, then plain thin on top: both stay visible where they coincide
        axes.plot(
            ks,
            [100 * p["weighted"] for p in points],
            marker="o",
            markersize=8,
            linewidth=3,
            alpha=0.8,
            label=weighted,
        )
        axes.plot(
            ks,
            [100 * p["plain"] for p in points],
            marker="s",
            markersize=4,
            linewidth=1.2,
            label="plain vote",
        )
        axes.plot(ks, [100 * p["pass_at_k"] for p in points], linestyle="--", label="pass@k")
        axes.set_xticks(ks)
        axes.set_xlabel("k (samples voted over)")
        axes.set_ylabel("accuracy %")
        axes.set_title(_short(label), fontsize=9)
        axes.legend(fontsize=8)
    return figure


def _latency(data: dict[str, CostFigures]) -> Figure:
    runs = [label for label in data if data[label].get("samples") and data[label]["latency_mean"]]
    figure, (axes,) = _figure(1)
    figure.set_figheight(max(2.0, 0.5 * len(runs) + 1.2))
    positions = list(range(len(runs)))[::-1]
    model = [data[r]["model_time"] for r in runs]
    code = [data[r]["code_time"] for r in runs]
    rest = [
        max(0.0, data[r]["latency_mean"] - m - c) for r, m, c in zip(runs, model, code, strict=True)
    ]
    axes.barh(positions, model, color="#4c72b0", label="model calls")
    axes.barh(positions, code, left=model, color="#55a868", label="code cells")
    starts = [m + c for m, c in zip(model, code, strict=True)]
    axes.barh(positions, rest, left=starts, color="#bbbbbb", label="grading, scheduling")
    axes.set_yticks(positions, [_short(r) for r in runs], fontsize=8)
    axes.set_xlabel("mean seconds per sample")
    axes.legend(fontsize=8, loc="lower right")
    return figure


def _samples_spent(data: dict[str, SpendFigures]) -> Figure:
    runs = [label for label in data if data[label].get("problems")]
    figure, (axes,) = _figure(1)
    for label in runs:
        spent = data[label]["by_spent"]
        ks = sorted(spent)
        axes.plot(ks, [100 * spent[k][0] for k in ks], marker="o", label=_short(label))
        axes.axvline(data[label]["mean"], linestyle=":", linewidth=1)
    axes.set_xlabel("samples spent on a problem (dotted: mean)")
    axes.set_ylabel("voted accuracy %")
    if runs:
        axes.legend(fontsize=8)
    return figure
