"""A report as Markdown (GitHub flavour), plots referenced as PNG files beside it."""

from __future__ import annotations

import re
from collections.abc import Collection

from verimath.report.model import Report, Section, Table

__all__ = ["to_markdown"]

_SPECIAL = re.compile(r"([\\|*_<>`\[\]])")


def escape(text: str) -> str:
    """Text safe in a Markdown table cell or paragraph."""
    return _SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def to_markdown(
    report: Report, plot_dir: str | None = "plots", drawn: Collection[str] | None = None
) -> str:
    """The report; with ``plot_dir`` None the plots are left out (and that is said).

    ``drawn`` names the plots that were drawn (all, when None): a plot with nothing to show is
    not drawn, and not referenced.
    """
    parts = [f"# {escape(report.title)}", "", *_table(report.runs_table())]
    parts += ["", escape(report.settings_text())]
    if plot_dir is None:
        parts += ["", "_Plots are left out of this output; write to a directory to get them._"]
    for section in report.sections:
        parts += ["", *_section(section, plot_dir, drawn)]
    return "\n".join(parts) + "\n"


def _section(section: Section, plot_dir: str | None, drawn: Collection[str] | None) -> list[str]:
    lines = [f"## {escape(section.title)}", "", escape(section.text)]
    for table in section.tables:
        lines += ["", *_table(table)]
    if plot_dir is not None:
        for plot in section.plots:
            if drawn is not None and plot.name not in drawn:
                continue
            lines += ["", f"![{escape(plot.caption)}]({plot_dir}/{plot.name}.png)"]
    return lines


def _table(table: Table) -> list[str]:
    lines = [f"**{escape(table.title)}**", ""] if table.title else []
    lines.append("| " + " | ".join(escape(c) for c in table.columns) + " |")
    lines.append(
        "|"
        + "|".join("---:" if table.numeric(i) else "---" for i in range(len(table.columns)))
        + "|"
    )
    lines += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in table.rows]
    if table.note:
        lines += ["", escape(table.note)]
    return lines
