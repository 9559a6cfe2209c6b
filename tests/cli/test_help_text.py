"""Help as a user reads it in an 80-column terminal: no word is split across lines."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest

from verimath.cli import SUBCOMMANDS, cli


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_word_of_the_options_help_is_whole_at_80_columns(name: str) -> None:
    env = {**os.environ, "COLUMNS": "80"}
    shown = subprocess.run(
        [sys.executable, "-m", "verimath", name, "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    words = set(shown.split())
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    for parameter in command.params:
        help_text = getattr(parameter, "help", None) or ""
        split = [w for w in help_text.split() if w not in words]
        assert not split, (parameter.name, split)
