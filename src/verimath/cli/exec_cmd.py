"""``verimath exec``: run files as the cells of one sandboxed session, one JSON line per cell."""

from __future__ import annotations

import json
import sys
from typing import TextIO

import click

from verimath.cli.options import limits_from, sandbox_options
from verimath.interpreter import Interpreter


@click.command("exec")
@sandbox_options
@click.argument("files", nargs=-1, type=click.File("r", encoding="utf-8"))
def command(files: tuple[TextIO, ...], timeout: float, memory_mb: int, max_output: int) -> None:
    """Run each FILE (or standard input) as one cell of a single sandboxed session.

    Variables persist from one file to the next, as in a notebook. Prints one JSON object per
    cell: status (ok, error, timeout, memory, killed), output and duration_s. The JSON is ASCII:
    no control character or lone surrogate of a cell's output reaches the terminal raw.
    """
    cells = [f.read() for f in files] if files else [sys.stdin.read()]
    limits = limits_from(timeout, memory_mb, max_output)
    with Interpreter(limits) as interpreter, interpreter.session() as session:
        for code in cells:
            result = session.run(code)
            line = {
                "status": str(result.status),
                "output": result.output,
                "duration_s": round(result.duration_s, 6),
            }
            if result.detail:
                line["detail"] = result.detail
            click.echo(json.dumps(line, ensure_ascii=True))
