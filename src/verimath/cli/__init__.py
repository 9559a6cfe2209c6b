"""The ``verimath`` command line: one module per subcommand, loaded only when it runs.

Every option can also be set from an environment variable ``VERIMATH_<COMMAND>_<OPTION>``
(for example ``VERIMATH_SOLVE_MODEL``), through click's ``auto_envvar_prefix``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from verimath.errors import VerimathError
from verimath.storage import os_reason
from verimath.terminal import for_terminal

__all__ = ["cli", "main"]

# name -> module holding a click command named ``command``; imported on first use so that
# ``verimath exec`` does not pay for the model SDKs and ``verimath grade`` not for the sandbox.
SUBCOMMANDS: dict[str, str] = {
    "solve": "verimath.cli.solve",
    "eval": "verimath.cli.eval_cmd",
    "grade": "verimath.cli.grade",
    "report": "verimath.cli.report",
    "view": "verimath.cli.view",
    "exec": "verimath.cli.exec_cmd",
    "doctor": "verimath.cli.doctor",
    "tune-weights": "verimath.cli.tune_weights",
    "serve": "verimath.cli.serve",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when listed or invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, module in SUBCOMMANDS.items() if _module_exists(module))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = SUBCOMMANDS.get(cmd_name)
        if module_name is None or not _module_exists(module_name):
            return None
        command: click.Command = importlib.import_module(module_name).command
        return command


def _module_exists(module_name: str) -> bool:
    return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="verimath")
def cli() -> None:
    """verimath: math word problems solved by a model that writes, runs and checks code."""


def main() -> None:
    """Entry point: turns a VerimathError into a one-paragraph message and exit code 2."""
    try:
        # without standalone mode, click returns the code of ``ctx.exit(code)``
        code = cli.main(auto_envvar_prefix="VERIMATH", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except VerimathError as exc:
        click.echo(f"Error: {for_terminal(exc)}", err=True)
        sys.exit(2)
    except OSError as exc:
        if exc.filename is None:
            raise
        # a file no command guards (the guarded ones say what to do): still one line
        click.echo(f"Error: {for_terminal(exc.filename)}: {os_reason(exc)}", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
