"""What a report is made of: sections holding tables, plot names and their raw numbers.

Sections compute numbers once; the Markdown, HTML and JSON renderers only lay them out, and
the plots are drawn from ``Section.data`` (so a JSON report needs no matplotlib).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TypedDict

__all__ = ["Plot", "Report", "ReportSettings", "RunInfo", "Section", "Table"]

_NUMBER = re.compile(r"^[-+–]?[\d.,]+|^–$|^$")


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells; the first column holds row labels."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""

    def numeric(self, column: int) -> bool:
        """Whether every cell of ``column`` (not the label column) starts with a number."""
        cells = [row[column] for row in self.rows if column < len(row)]
        return column > 0 and bool(cells) and all(_NUMBER.match(cell) for cell in cells)

    def to_dict(self) -> TableDict:
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": [list(r) for r in self.rows],
            "note": self.note,
        }


@dataclass(frozen=True)
class Plot:
    """A figure a section asks for: ``kind`` names the drawing function in ``plots``."""

    name: str
    """File stem, e.g. ``accuracy``; the PNG is ``<name>.png``."""
    kind: str
    caption: str

    def to_dict(self) -> PlotDict:
        return {"name": self.name, "kind": self.kind, "caption": self.caption}


@dataclass(frozen=True)
class Section:
    """One part of the report."""

    key: str
    title: str
    text: str
    """How to read it and how it was computed (Markdown-light: plain sentences)."""
    tables: tuple[Table, ...] = ()
    plots: tuple[Plot, ...] = ()
    data: Mapping[str, object] = field(default_factory=dict)
    """JSON-able numbers behind the tables and plots: each section's own shape (see
    :mod:`verimath.report.section_data`), which its plots, by ``kind``, know."""

    def to_dict(self) -> SectionDict:
        return {
            "key": self.key,
            "title": self.title,
            "text": self.text,
            "tables": [t.to_dict() for t in self.tables],
            "plots": [p.to_dict() for p in self.plots],
            "data": self.data,
        }


@dataclass(frozen=True)
class RunInfo:
    """One compared run as the report names it."""

    label: str
    path: str
    strategy: str
    model: str
    dataset: str
    samples: int
    weights: str
    problems: int
    stored_samples: int
    git_revision: str | None


class ReportSettings(TypedDict):
    """How a report's statistics were computed, and by which verimath."""

    bootstrap_resamples: int
    confidence: float
    seed: int
    curve_trials: int
    verimath: str


@dataclass(frozen=True)
class Report:
    """A whole report."""

    title: str
    runs: tuple[RunInfo, ...]
    sections: tuple[Section, ...]
    settings: ReportSettings

    def to_dict(self) -> ReportDict:
        return {
            "title": self.title,
            "settings": self.settings,
            "runs": [asdict(r) for r in self.runs],
            "sections": {s.key: s.to_dict() for s in self.sections},
        }

    def plots(self) -> list[tuple[Section, Plot]]:
        return [(s, p) for s in self.sections for p in s.plots]

    def runs_table(self) -> Table:
        """The compared runs: label, method, model, data, size, file."""
        columns = (
            "run",
            "strategy",
            "model",
            "dataset",
            "k",
            "weights T,U,F",
            "problems",
            "samples",
            "file",
        )
        rows = tuple(
            (
                r.label,
                r.strategy,
                r.model,
                r.dataset,
                str(r.samples),
                r.weights,
                str(r.problems),
                str(r.stored_samples),
                r.path,
            )
            for r in self.runs
        )
        return Table("Runs", columns, rows)

    def settings_text(self) -> str:
        """One sentence on how intervals and curves were computed."""
        s = self.settings
        return (
            f"Intervals: {s['confidence']:.0%} percentile bootstrap over problems, "
            f"{s['bootstrap_resamples']} resamples, seed {s['seed']}. Voting curves: "
            f"{s['curve_trials']} random subsets per problem and k where there are too many "
            f"to enumerate. verimath {s['verimath']}."
        )


class TableDict(TypedDict):
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str


class PlotDict(TypedDict):
    name: str
    kind: str
    caption: str


class SectionDict(TypedDict):
    key: str
    title: str
    text: str
    tables: list[TableDict]
    plots: list[PlotDict]
    data: Mapping[str, object]


class ReportDict(TypedDict):
    """A report as ``report.json`` holds it."""

    title: str
    settings: ReportSettings
    runs: list[dict[str, object]]
    """Each :class:`RunInfo`'s fields by name."""
    sections: dict[str, SectionDict]
