"""``verimath serve``: the sandbox as an HTTP service (or a router over several of them)."""

from __future__ import annotations

import contextlib
import resource
import socket

import click

from verimath.cli.options import limits_from, sandbox_options
from verimath.errors import ConfigError
from verimath.serve.config import TOKEN_ENV, ServeConfig, default_cell_slots

DEFAULTS = ServeConfig()
OPEN_FILES = 1 << 16
KEEP_ALIVE_S = 75  # longer than a model turn: agents reuse their connection between cells


@click.command("serve")
@click.option("--host", default=DEFAULTS.host, show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULTS.port,
    show_default=True,
    help="Port to listen on (0: any free port; the URL is printed).",
)
@click.option(
    "--token",
    envvar=TOKEN_ENV,
    default=None,
    help=f"Bearer token for every request but /health (or {TOKEN_ENV}); required off loopback.",
)
@click.option(
    "--max-sessions",
    type=click.IntRange(min=1),
    default=DEFAULTS.max_sessions,
    show_default=True,
    help="Live sessions at once (then 429).",
)
@click.option(
    "--cell-slots",
    type=click.IntRange(min=1),
    default=None,
    help="Cells running at once (default: two per core).",
)
@click.option(
    "--max-queued",
    type=click.IntRange(min=0),
    default=DEFAULTS.max_queued,
    show_default=True,
    help="Cells waiting for a slot (then 429).",
)
@click.option(
    "--ttl",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULTS.ttl_s,
    show_default=True,
    help="Seconds an idle session lives.",
)
@click.option(
    "--replica",
    "replicas",
    multiple=True,
    metavar="URL",
    help="Route to these verimath servers instead of running cells here (repeat).",
)
@click.option(
    "--replica-token",
    envvar="VERIMATH_REPLICA_TOKEN",
    default=None,
    help="With --replica: the replicas' token (default: --token).",
)
@sandbox_options
def command(
    host: str,
    port: int,
    token: str | None,
    max_sessions: int,
    cell_slots: int | None,
    max_queued: int,
    ttl: float,
    replicas: tuple[str, ...],
    replica_token: str | None,
    timeout: float,
    memory_mb: int,
    max_output: int,
) -> None:
    """Serve stateful sandbox sessions and SandboxFusion's run_code over HTTP (docs/serve.md)."""
    config = ServeConfig(
        host=host,
        port=port,
        token=token or None,
        limits=limits_from(timeout, memory_mb, max_output),
        max_sessions=max_sessions,
        cell_slots=cell_slots or default_cell_slots(),
        max_queued=max_queued,
        ttl_s=ttl,
    )
    config.check_exposure()
    serve(config, list(replicas), replica_token)


def serve(config: ServeConfig, replicas: list[str], replica_token: str | None = None) -> None:
    """Bind, print the URL, then run until interrupted."""
    import uvicorn

    from verimath.serve.app import create_app
    from verimath.serve.router import create_router_app

    _raise_open_files()
    listener = _bind(config.host, config.port)
    if replicas:
        app = create_router_app(config, replicas, replica_token)
        role = f"routing to {len(replicas)} replicas"
    else:
        app = create_app(config)
        app.state.service.pool.prepare()  # a sandbox that cannot run: one line, before listening
        role = "sandbox sessions"
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"verimath serve: {role} on http://{shown}:{port}", err=True)
    settings = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(settings).run(sockets=[listener])


def _raise_open_files() -> None:
    """Each live session holds six descriptors and each client one: lift the soft limit on
    open files to the hard one, as servers do."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):  # a lower limit still serves fewer
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port"
        ) from exc
    listener.listen(2048)
    return listener


__all__ = ["command", "serve"]
