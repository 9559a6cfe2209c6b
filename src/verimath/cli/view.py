"""``verimath view``: one self-contained HTML file to read a run's samples, optionally served."""

from __future__ import annotations

from pathlib import Path

import click

from verimath.errors import ConfigError
from verimath.storage import write_error
from verimath.terminal import for_terminal


@click.command("view")
@click.argument("run", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="HTML file to write (default: the run file with .html).",
)
@click.option("--title", default=None, help="Page title (default: strategy, model, dataset).")
@click.option("--serve", is_flag=True, help="Also serve the page on 127.0.0.1 until Ctrl-C.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port for --serve (0: any free port).",
)
def command(run: Path, out: Path | None, title: str | None, serve: bool, port: int) -> None:
    """Write RUN's samples as one HTML page: filterable list, transcripts, votes."""
    from verimath.report.viewer_page import write_viewer

    target = out or run.with_suffix(".html")
    try:
        page = write_viewer(run, target, title=title)
    except OSError as exc:
        raise write_error(target, exc, "choose another file with --out") from None
    click.echo(f"wrote {for_terminal(page)}")
    if serve:
        _serve(page, port)


def _serve(page: Path, port: int) -> None:
    from verimath.report.serve import HOST, make_server

    try:
        server = make_server(page, port)
    except OSError as exc:
        raise ConfigError(
            f"cannot serve on 127.0.0.1:{port} ({exc.strerror}); pick another --port, or 0"
        ) from exc
    bound = server.server_address[1]
    click.echo(f"serving http://{HOST}:{bound}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
