"""``verimath doctor``: which isolation layers are in force, proven by probes run in the sandbox."""

from __future__ import annotations

import json
import platform
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata

import click
from rich.console import Console
from rich.table import Table

from verimath.interpreter import Interpreter

# Each probe is a cell whose last expression is True when the attack it tries was stopped.
PROBES: dict[str, str] = {
    "network": (
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
        "    stopped = False\nexcept ConnectionRefusedError:\n    stopped = False\n"
        "except OSError:\n    stopped = True\nstopped"
    ),
    "filesystem": (
        "import os\nhome_hidden = not os.path.exists(os.path.expanduser('~root/.bashrc'))\n"
        "try:\n    open('/usr/verimath-probe', 'w')\n    read_only = False\n"
        "except OSError:\n    read_only = True\nhome_hidden and read_only"
    ),
    "environment": "import os\nsorted(os.environ) == ['HOME', 'TMPDIR']",
    "uid": "import os\nos.getuid() != 0 and os.geteuid() != 0",
    "seccomp": (
        "import os\ntry:\n    os.fork()\n    stopped = False\nexcept PermissionError:\n"
        "    stopped = True\nstopped"
    ),
    "rlimits": (
        "import resource\nresource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY"
    ),
}
PACKAGES = ("verimath", "sympy", "numpy", "scipy", "math-verify", "openai", "llama_cpp_python")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def command(as_json: bool) -> None:
    """Check the sandbox layer by layer, and the installed engines."""
    checks = sandbox_checks()
    versions = {name: _version(name) for name in PACKAGES}
    if as_json:
        click.echo(json.dumps({"sandbox": [c.__dict__ for c in checks], "packages": versions}))
    else:
        _print(checks, versions)
    if not all(check.ok for check in checks):
        raise SystemExit(1)


def sandbox_checks() -> list[Check]:
    """Reported layers, confirmed by running each probe in a real session."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # doctor reports the missing layers itself
        with Interpreter() as interpreter, interpreter.session() as session:
            checks = []
            for layer in interpreter.layers:
                probe = PROBES.get(layer.name)
                proven = session.run(probe).output.strip() == "True" if probe else layer.active
                detail = (
                    layer.detail
                    if proven == layer.active
                    else (f"{layer.detail}; the probe {'held' if proven else 'got through'}")
                )
                checks.append(Check(layer.name, layer.active and proven, detail))
    return checks


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _print(checks: list[Check], versions: dict[str, str]) -> None:
    console = Console()
    table = Table(title="sandbox isolation layers")
    table.add_column("layer")
    table.add_column("state")
    table.add_column("detail")
    for check in checks:
        state = "[green]on[/green]" if check.ok else "[bold red]OFF[/bold red]"
        table.add_row(check.name, state, check.detail)
    console.print(table)
    console.print(
        f"python {sys.version.split()[0]} on {platform.platform()}; "
        f"bwrap: {shutil.which('bwrap') or 'not found'}"
    )
    console.print(", ".join(f"{name} {version}" for name, version in versions.items()))
    if not all(check.ok for check in checks):
        console.print(
            "[bold red]Some layers are off.[/bold red] Install the system packages with "
            "'bash setup.sh' (as root) and run 'verimath doctor' again."
        )
