"""Terminal rendering of samples and votes with rich."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from verimath.solver import SampleFailure, Solution
from verimath.terminal import for_terminal
from verimath.trajectory import Trajectory
from verimath.verification import CodeStep, TextStep

STATE_STYLE = {"True": "bold green", "Uncertain": "bold yellow", "False": "bold red"}
CELL_STYLE = {
    "ok": "green",
    "error": "red",
    "timeout": "yellow",
    "memory": "yellow",
    "killed": "bold red",
    "refused": "magenta",
}
PROSE_LIMIT = 1500
PANEL_PADDING = 4  # the sample panel's border and padding, in columns


def code_block(code: str, width: int) -> Syntax:
    """Highlighted code; lines longer than ``width`` wrap, and then line numbers show where a
    line continues (a long line is never cut at the panel's edge)."""
    long_lines = any(len(line) > width for line in code.expandtabs().splitlines())
    return Syntax(code, "python", theme="ansi_dark", word_wrap=True, line_numbers=long_lines)


def render_sample(console: Console, index: int, trajectory: Trajectory) -> None:
    """Print one finished sample: prose, highlighted cells, outputs, answer and state."""
    parts: list[RenderableType] = []
    for step in trajectory.steps:
        if isinstance(step, TextStep):
            text = for_terminal(step.text.strip())
            if len(text) > PROSE_LIMIT:
                text = f"{text[: PROSE_LIMIT // 2]}\n[...]\n{text[-PROSE_LIMIT // 2 :]}"
            parts.append(Text(text))
        elif isinstance(step, CodeStep):
            parts.append(code_block(for_terminal(step.code), console.width - PANEL_PADDING))
            style = CELL_STYLE.get(step.status, "white")
            parts.append(
                Panel(
                    Text(for_terminal(step.output.rstrip()) or "(no output)"),
                    title=f"output · {step.status}",
                    title_align="left",
                    border_style=style,
                )
            )
    state = str(trajectory.verification.state)
    footer = Text.assemble(
        ("answer: ", "bold"),
        (for_terminal(trajectory.answer), "bold cyan"),
        "   verification: ",
        (state, STATE_STYLE.get(state, "")),
        f"   code runs: {trajectory.code_executions}   stop: {trajectory.stop_reason}",
    )
    parts.append(footer)
    console.print(Panel(Group(*parts), title=f"sample {index + 1}", title_align="left"))


def render_failure(console: Console, failure: SampleFailure) -> None:
    """Print one sample that failed (the others still vote)."""
    message = for_terminal(f"{failure.kind}: {failure.message}")
    console.print(Text.assemble((f"sample {failure.index + 1} failed: ", "bold red"), message))


def render_votes(console: Console, solution: Solution) -> None:
    """Print the vote table and the final answer."""
    table = Table(title=f"votes (weights T,U,F = {solution.vote.weights.spec()})")
    for column in ("answer", "score", "True", "Uncertain", "False", "samples"):
        table.add_column(column)
    for answer_class in solution.vote.classes:
        table.add_row(
            Text(for_terminal(answer_class.answer)),
            f"{answer_class.score:g}",
            str(answer_class.counts.true),
            str(answer_class.counts.uncertain),
            str(answer_class.counts.false),
            ", ".join(str(solution.sample_index(i) + 1) for i in answer_class.members),
        )
    console.print(table)
    answer = for_terminal(solution.answer)
    console.print(Text.assemble(("final answer: ", "bold"), (answer, "bold green")))
