"""Reports and the transcript viewer, built on the run store.

    from verimath.grading import Grader
    from verimath.report import ReportOptions, build_report, load_runs, write_report

    runs = load_runs(["csv.sqlite", "basic.sqlite"])
    with Grader() as grader:
        report = build_report(runs, grader.equivalent, ReportOptions(resamples=1000))
    write_report(report, "md", Path("report/"))          # report.md + plots/*.png

    from verimath.report import write_viewer
    write_viewer("csv.sqlite", Path("csv.html"))          # one self-contained HTML file

Matplotlib is needed for plots only (imported when they are drawn).
"""

from __future__ import annotations

from verimath.report.bootstrap import Bootstrap, Estimate
from verimath.report.build import ReportOptions, build_report, load_runs
from verimath.report.model import Plot, Report, RunInfo, Section, Table
from verimath.report.output import FORMATS, render_report, write_report
from verimath.report.runs import Run, load_run
from verimath.report.viewer_page import write_viewer

__all__ = [
    "FORMATS",
    "Bootstrap",
    "Estimate",
    "Plot",
    "Report",
    "ReportOptions",
    "Run",
    "RunInfo",
    "Section",
    "Table",
    "build_report",
    "load_run",
    "load_runs",
    "render_report",
    "write_report",
    "write_viewer",
]
