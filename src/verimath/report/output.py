"""Writing a report: Markdown with PNG files, one HTML page, or JSON."""

from __future__ import annotations

import json
from pathlib import Path

from verimath.errors import ConfigError
from verimath.report.model import Report
from verimath.report.plots import render_plots
from verimath.report.render_html import to_html
from verimath.report.render_md import to_markdown

__all__ = ["FORMATS", "PLOT_DIR", "render_report", "write_report"]

FORMATS = ("md", "html", "json")
PLOT_DIR = "plots"
"""Subdirectory of the output directory holding a Markdown report's PNG files."""


def write_report(report: Report, fmt: str, out_dir: Path, *, plots: bool = True) -> list[Path]:
    """Write ``report.<fmt>`` (and, for Markdown, ``plots/*.png``) into ``out_dir``.

    Returns the files written, the report first.
    """
    _check(fmt)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"report.{fmt}"
    if fmt == "json":
        target.write_text(_json(report), encoding="utf-8")
        return [target]
    images = render_plots(report) if plots else {}
    if fmt == "html":
        target.write_text(to_html(report, images), encoding="utf-8")
        return [target]
    written = [target]
    if images:
        (out_dir / PLOT_DIR).mkdir(exist_ok=True)
    for name, png in images.items():
        path = out_dir / PLOT_DIR / f"{name}.png"
        path.write_bytes(png)
        written.append(path)
    target.write_text(
        to_markdown(report, PLOT_DIR if plots else None, drawn=images.keys()), encoding="utf-8"
    )
    return written


def render_report(report: Report, fmt: str, *, plots: bool = True) -> str:
    """The report as one text, for standard output (Markdown without its plots)."""
    _check(fmt)
    if fmt == "json":
        return _json(report)
    if fmt == "html":
        return to_html(report, render_plots(report) if plots else {})
    return to_markdown(report, None)


def _json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _check(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
