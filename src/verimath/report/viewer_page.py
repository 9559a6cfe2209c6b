"""The transcript viewer: one self-contained HTML file per run.

Layout of the file: a header (run facts, escaped here), the list pane and the detail pane
(filled by the script), then the data as ``<script type="application/json">`` elements, which
browsers never execute: ``vm-index`` (one light entry per problem, parsed at load) and one
``vm-p<position>`` per problem (parsed only when that problem is opened, so thousands of
problems load quickly), then the scripts: the vendored renderers of Markdown and LaTeX
(:mod:`.richtext`) and the viewer's own. A Content-Security-Policy allows those scripts, by
their hashes, and nothing else: no network, no other script, even if some text escaped escaping.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import IO

from verimath.report.richtext import content_security_policy as policy_for
from verimath.report.richtext import rich_scripts, rich_style
from verimath.report.runs import Run, load_run
from verimath.report.viewer_assets import SCRIPT, STYLE
from verimath.report.viewer_data import iter_problem_views, to_script_json
from verimath.store import RunStore

__all__ = ["content_security_policy", "write_viewer"]


def content_security_policy() -> str:
    """The viewer's policy: its scripts by hash, nothing from the network."""
    return policy_for(*rich_scripts(), SCRIPT)


def write_viewer(run_path: str | Path, out: str | Path, *, title: str | None = None) -> Path:
    """Write the viewer of the run at ``run_path`` to ``out``; returns ``out``."""
    run = load_run(run_path)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with RunStore.read(run.path) as store, partial.open("w", encoding="utf-8") as sink:
        _write(sink, store, run, title or _title(run))
    partial.replace(out)
    return out


def _title(run: Run) -> str:
    return f"verimath · {run.strategy} · {run.model} · {run.dataset} · k={run.k}"


def _write(sink: IO[str], store: RunStore, run: Run, title: str) -> None:
    sink.write(_head(title))
    sink.write(_header(run, title))
    sink.write(_panes())
    entries = []
    for view in iter_problem_views(store, run.k):
        entries.append(view.entry)
        position = view.entry["pos"]
        sink.write(
            f'<script type="application/json" id="vm-p{position}">'
            f"{to_script_json(view.detail)}</script>\n"
        )
    sink.write(
        f'<script type="application/json" id="vm-index">{to_script_json(entries)}</script>\n'
    )
    for script in (*rich_scripts(), SCRIPT):
        sink.write(f"<script>{script}</script>\n")
    sink.write("</body></html>\n")


def _head(title: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy()}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{escape(title)}</title>\n<style>{rich_style()}{STYLE}</style>\n</head>\n<body>\n"
    )


def _header(run: Run, title: str) -> str:
    votes = list(run.votes.values())
    samples = run.all_samples()
    voted = sum(v.correct for v in votes)
    plain = sum(v.plain_correct for v in votes)
    single = sum(s.correct for s in samples)
    facts = (
        f"{len(run.problems)} problems · {len(samples)} samples · weights {run.weights.spec()} · "
        f"weighted vote {_share(voted, len(votes))} · plain vote {_share(plain, len(votes))} · "
        f"single sample {_share(single, len(samples))} · {run.path.name}"
    )
    return f"<header><h1>{escape(title)}</h1><p>{escape(facts)}</p></header>\n"


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _panes() -> str:
    selects = [
        ("subject", "subject", []),
        ("level", "level", []),
        (
            "outcome",
            "vote",
            [
                ("", "all"),
                ("correct", "correct"),
                ("wrong", "not correct"),
                ("recoverable", "a sample correct, vote not"),
                ("none", "no sample correct"),
            ],
        ),
        (
            "state",
            "a sample verified",
            [("", "all"), ("True", "True"), ("Uncertain", "Uncertain"), ("False", "False")],
        ),
        (
            "votes",
            "votes",
            [
                ("", "all"),
                ("unanimous", "unanimous"),
                ("split", "split (2+ answers)"),
                ("differ", "weighted ≠ plain"),
            ],
        ),
    ]
    controls = "".join(
        f'<label>{escape(label)}<select id="f-{name}">'
        + "".join(f'<option value="{v}">{escape(t)}</option>' for v, t in options)
        + "</select></label>"
        for name, label, options in selects
    )
    controls += '<label>search<input id="f-q" type="search" placeholder="id or question"></label>'
    return (
        '<div id="app"><aside id="list-pane">'
        f'<div id="filters">{controls}</div><div id="count"></div>'
        '<div id="list-scroll"><table id="list"><tbody id="list-body"></tbody></table>'
        '<button id="more" hidden>show more</button></div></aside>'
        '<main id="detail"></main></div>\n'
        "<noscript>This viewer needs JavaScript (inline, no network).</noscript>\n"
    )
