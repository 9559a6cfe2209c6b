"""The command starts anywhere and its first errors say what to do: a Python that imports
nothing at start-up, a missing key, a slow server, a default model that cannot be fetched,
and a dependency list that names only extras that exist."""

from __future__ import annotations

import importlib.metadata
import os
import re
import site
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.cli.cli_helpers import error_line, write_problems
from tests.models.chat_fault_server import HANG, FaultyChatServer
from tests.models.hub_file_server import FileServer

SRC = Path(__file__).resolve().parents[2] / "src"
PYPROJECT = SRC.parent / "pyproject.toml"


def _bare_python(*code_args: str) -> subprocess.CompletedProcess[str]:
    """A Python that runs no site hooks (no .pth file, as in a fresh virtual environment)
    but can import the installed packages."""
    paths = [str(SRC), *site.getsitepackages()]
    boot = f"import sys; sys.path[:0] = {paths!r}; sys.argv = {['verimath', *code_args]!r}; "
    boot += "from verimath.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-S", "-I", "-c", boot], capture_output=True, text=True, check=False
    )


def test_the_command_starts_without_site_hooks() -> None:
    result = _bare_python("--help")
    assert result.returncode == 0, result.stderr
    assert "eval" in result.stdout and "report" in result.stdout


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "verimath", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )


def test_a_missing_key_is_one_line_before_any_file(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "problems.jsonl", 2)
    run = tmp_path / "runs" / "run.sqlite"
    env = {key: value for key, value in os.environ.items() if key != "OPENAI_API_KEY"}
    env.pop("OPENAI_BASE_URL", None)
    command = ["eval", str(data), "-m", "openai:gpt-4o", "--run", str(run)]
    result = subprocess.run(
        [sys.executable, "-m", "verimath", *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    line = error_line(result)
    assert "OPENAI_API_KEY" in line and "api_key_env" not in line
    assert not run.parent.exists()


def test_request_timeout_is_an_option(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "problems.jsonl", 2)
    with FaultyChatServer(default=HANG, hang_s=5) as server:
        result = _cli(
            "eval", str(data), "-m", f"openai:tiny@{server.base_url}", "--run",
            str(tmp_path / "run.sqlite"), "--retries", "0", "--request-timeout", "0.5",
        )  # fmt: skip
    assert "0.5 s deadline (--request-timeout)" in error_line(result)


def test_the_default_model_failing_to_download_names_the_alternatives(tmp_path: Path) -> None:
    with FileServer(files={}) as hub:
        result = _cli(
            "solve",
            "1 + 1?",
            env={"HF_ENDPOINT": hub.endpoint, "VERIMATH_CACHE_DIR": str(tmp_path)},
        )
    line = error_line(result)
    assert "--model local:/path/to/model.gguf" in line and "--model openai:" in line


def test_every_extra_named_in_the_dependencies_exists() -> None:
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    for requirement in declared:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\[([^\]]+)\].*", requirement)
        if match is None:
            continue
        name, extras = match[1], {e.strip() for e in match[2].split(",")}
        provided = set(importlib.metadata.metadata(name).get_all("Provides-Extra") or [])
        assert extras <= provided, f"{name} has no extra {extras - provided}"
