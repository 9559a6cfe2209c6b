"""A report as one self-contained HTML page: inline CSS, plots embedded as PNG data URIs.

The explanatory texts and table notes are Markdown with LaTeX, rendered in the page by the
vendored renderers of :mod:`.richtext` (offline, allowed by hash in the page's
Content-Security-Policy); a button shows them as written.
"""

from __future__ import annotations

import base64
from html import escape

from verimath.report.model import Report, Section, Table
from verimath.report.richtext import content_security_policy, rich_scripts, rich_style

__all__ = ["to_html"]

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 78rem; padding: 0 1rem; color: #1f2328; }
h1 { font-size: 1.5rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #d0d7de; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { border: 1px solid #d0d7de; padding: .25rem .55rem; text-align: left; }
th.num, td.num { text-align: right; }
th { background: #f6f8fa; } tr:nth-child(even) td { background: #fbfbfc; }
figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption, .note, .settings { color: #57606a; font-size: 12.5px; }
.raw-toggle { float: right; margin-top: .3rem; }
"""


def to_html(report: Report, plots: dict[str, bytes] | None = None) -> str:
    """The page; ``plots`` maps plot names to PNG bytes (missing ones are left out)."""
    plots = plots or {}
    body = [
        '<button class="raw-toggle" data-raw-toggle hidden>raw text</button>',
        f"<h1>{escape(report.title)}</h1>",
        _table(report.runs_table()),
        f'<p class="settings">{escape(report.settings_text())}</p>',
        *(_section(section, plots) for section in report.sections),
    ]
    scripts = (*rich_scripts(), SHOW_TOGGLE)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" '
        f'content="{content_security_policy(*scripts)}">'
        f"<title>{escape(report.title)}</title><style>{rich_style()}{STYLE}</style></head>\n"
        "<body>\n"
        + "\n".join(body)
        + "\n"
        + "".join(f"<script>{script}</script>\n" for script in scripts)
        + "</body></html>\n"
    )


# The button is hidden until the renderer has run: without scripts the texts are raw anyway.
SHOW_TOGGLE = (
    'for (const b of document.querySelectorAll("button[data-raw-toggle]")) b.hidden = false;'
)


def _section(section: Section, plots: dict[str, bytes]) -> str:
    parts = [
        f'<section id="{escape(section.key)}"><h2>{escape(section.title)}</h2>',
        f"<div data-rich>{escape(section.text)}</div>",
        *(_table(table) for table in section.tables),
    ]
    for plot in section.plots:
        if plot.name in plots:
            data = base64.b64encode(plots[plot.name]).decode("ascii")
            parts.append(
                f'<figure><img alt="{escape(plot.caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{escape(plot.caption)}</figcaption></figure>"
            )
    parts.append("</section>")
    return "\n".join(parts)


def _table(table: Table) -> str:
    numeric = [table.numeric(i) for i in range(len(table.columns))]
    head = "".join(
        f"<th{_NUM if n else ''}>{escape(c)}</th>"
        for c, n in zip(table.columns, numeric, strict=True)
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td{_NUM if n else ''}>{escape(cell)}</td>"
            for cell, n in zip(row, numeric, strict=False)
        )
        + "</tr>"
        for row in table.rows
    )
    note = f'<div class="note" data-rich>{escape(table.note)}</div>' if table.note else ""
    return (
        f"<table><caption>{escape(table.title)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table>{note}"
    )


_NUM = ' class="num"'
