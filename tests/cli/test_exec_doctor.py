"""``verimath exec`` and ``verimath doctor`` through click's runner and as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from verimath.cli import cli


def test_exec_runs_files_as_cells_of_one_session(tmp_path: Path) -> None:
    first = tmp_path / "one.py"
    second = tmp_path / "two.py"
    third = tmp_path / "three.py"
    first.write_text("x = 5\nprint('set')\n")
    second.write_text("while True:\n    pass\n")
    third.write_text("print(x)\n")
    result = CliRunner().invoke(
        cli, ["exec", "--timeout", "0.5", str(first), str(second), str(third)]
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["status"] for line in lines] == ["ok", "timeout", "ok"]
    assert lines[0]["output"] == "set\n"
    assert lines[2]["output"] == "5\n"
    assert all(line["duration_s"] >= 0 for line in lines)


def test_exec_reads_standard_input() -> None:
    result = CliRunner().invoke(cli, ["exec"], input="import math\nmath.factorial(10)\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        **json.loads(result.output),
        "status": "ok",
        "output": "3628800\n",
    }


def test_exec_memory_limit_option() -> None:
    result = CliRunner().invoke(
        cli, ["exec", "--memory-mb", "256"], input="blob = bytearray(512 * 1024 * 1024)\n"
    )
    assert json.loads(result.output)["status"] == "memory"


def test_exec_rejects_a_bad_limit() -> None:
    result = CliRunner().invoke(cli, ["exec", "--timeout", "-1"], input="1")
    assert result.exit_code == 2
    assert "--timeout" in result.output


def test_exec_as_a_real_process_with_env_option(tmp_path: Path) -> None:
    script = tmp_path / "cell.py"
    script.write_text("import time\ntime.sleep(5)\n")
    completed = subprocess.run(
        [sys.executable, "-m", "verimath", "exec", str(script)],
        capture_output=True,
        text=True,
        env={"VERIMATH_EXEC_TIMEOUT": "0.3", "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["status"] == "timeout"


def test_doctor_reports_every_layer_on() -> None:
    result = CliRunner().invoke(cli, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    layers = {check["name"]: check["ok"] for check in report["sandbox"]}
    assert layers and all(layers.values()), layers
    assert report["packages"]["sympy"] != "not installed"
