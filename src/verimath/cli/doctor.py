"""``verimath doctor``: which isolation layers are in force, proven by probes run in the sandbox."""

from __future__ import annotations

import os
import platform
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from verimath.interpreter import Interpreter, Layer, Limits, Session
from verimath.terminal import for_terminal, json_for_terminal

# Each probe is a cell that tries what its layer must stop and prints one last line: "held",
# or "breached: what got through". Anything else (an exception of the probe itself, a missing
# module) means the probe could not decide, which is reported as such, never as a breach.
PROBES: dict[str, str] = {
    "network": """
import socket
try:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
except PermissionError:
    verdict = "held"
else:
    probe.settimeout(1)
    try:
        probe.connect(("127.0.0.1", 9))
        verdict = "breached: connected to 127.0.0.1:9"
    except ConnectionRefusedError:
        verdict = "breached: 127.0.0.1 answered (connection refused)"
    except OSError:
        verdict = "held"
print(verdict)
""",
    "filesystem": """
import os
seen = [p for p in ({home!r}, {checkout!r}) if os.path.exists(p)]
text = open("/proc/1/cmdline", "rb").read() + open("/proc/self/mountinfo", "rb").read()
if {checkout!r}.encode() in text:
    seen.append("the checkout path in /proc")
try:
    open("/usr/verimath-probe", "w")
    seen.append("/usr is writable")
except OSError:
    pass
print("breached: " + ", ".join(seen) if seen else "held")
""",
    "processes": """
import os
pids = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
host = [name for name in ("key-users", "meminfo", "loadavg") if os.path.exists("/proc/" + name)]
seen = ([f"processes {{pids}}"] if pids != [os.getpid()] else []) + host
print("breached: /proc shows " + ", ".join(seen) if seen else "held")
""",
    "environment": """
import os
print("held" if sorted(os.environ) == ["HOME", "TMPDIR"] else "breached: " + " ".join(os.environ))
""",
    "uid": """
import os
print("held" if os.getuid() not in (0, {host_uid}) else f"breached: runs as uid {{os.getuid()}}")
""",
    "seccomp": """
import os
try:
    pid = os.fork()
except PermissionError:
    print("held")
else:
    if pid == 0:
        os._exit(0)
    print("breached: fork succeeded")
""",
    "rlimits": """
import resource
limit = resource.getrlimit(resource.RLIMIT_AS)[0]
print("held" if limit != resource.RLIM_INFINITY else "breached: no address-space limit")
""",
    "ipc": """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
segment = libc.shmget(0, 4096, 0o1000 | 0o600)
queue = libc.msgget(0, 0o1000 | 0o600)
print("held" if segment == -1 and queue == -1 else "breached: SysV IPC objects created")
""",
    "scratch": """
import os
stat = os.statvfs(".")
size_mb = stat.f_blocks * stat.f_frsize / 2**20
ok = size_mb <= {scratch_mb} * 1.01 and stat.f_files <= {scratch_inodes} + 1
print("held" if ok else f"breached: {{size_mb:.0f}} MiB, {{stat.f_files}} inodes")
""",
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
        report = {"sandbox": [c.__dict__ for c in checks], "packages": versions}
        click.echo(json_for_terminal(report))
    else:
        _print(checks, versions)
    if not all(check.ok for check in checks):
        raise SystemExit(1)


def sandbox_checks() -> list[Check]:
    """Reported layers, each confirmed by a probe run in a real session.

    The interpreter is started with ``unsafe_no_sandbox`` so that doctor can report on a
    sandbox with layers off (its probes are its own code, not a model's).
    """
    import warnings

    import verimath

    limits = Limits()
    values = {
        "home": os.path.expanduser("~"),
        "checkout": str(Path(verimath.__file__).resolve().parents[1]),
        "host_uid": os.getuid(),
        "scratch_mb": limits.scratch_mb,
        "scratch_inodes": limits.scratch_inodes,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # doctor reports the missing layers itself
        with (
            Interpreter(limits, unsafe_no_sandbox=True) as interpreter,
            interpreter.session() as session,
        ):
            return [_check(layer, session, values) for layer in interpreter.layers]


def _check(layer: Layer, session: Session, values: dict[str, object]) -> Check:
    probe = PROBES.get(layer.name)
    if probe is None:
        return Check(layer.name, layer.active, layer.detail)
    result = session.run(probe.format(**values))
    lines = result.output.strip().splitlines()
    verdict = lines[-1] if lines and result.ok else ""
    if verdict == "held":
        return Check(layer.name, layer.active, layer.detail)
    if verdict.startswith("breached"):
        return Check(layer.name, False, f"{layer.detail}; the probe got through ({verdict})")
    failure = lines[-1] if lines else str(result.status)
    return Check(layer.name, False, f"{layer.detail}; the probe could not run ({failure})")


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
        table.add_row(Text(for_terminal(check.name)), state, Text(for_terminal(check.detail)))
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
