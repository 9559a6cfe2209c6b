"""The eval progress as people see it: in a real 80-column terminal (tmux) and in a log."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.test_eval import REPLAY

TMUX = shutil.which("tmux")
FIGURES = re.compile(
    r"(?P<done>[\d,]+)/(?P<total>[\d,]+) · \d+% · [\d.]+/s · (eta \d+m\d\ds|done) · "
    r"acc \d+\.\d% of [\d,]+ · \d+ failed"
)


def eval_command(run: Path, limit: int) -> list[str]:
    return [
        sys.executable, "-m", "verimath", "eval", "gsm8k", "--model", REPLAY, "--run", str(run),
        "--limit", str(limit), "-k", "2", "--concurrency", "4",
    ]  # fmt: skip


@pytest.mark.slow
def test_a_log_gets_progress_lines_while_the_run_goes(tmp_path: Path) -> None:
    env = {**os.environ, "VERIMATH_EVAL_PROGRESS_EVERY": "0.5"}
    with (tmp_path / "eval.log").open("w") as log:
        subprocess.run(
            eval_command(tmp_path / "r.sqlite", 60),
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
            check=True,
            timeout=600,
        )
    text = (tmp_path / "eval.log").read_text()
    lines = [line for line in text.splitlines() if FIGURES.search(line)]
    assert len(lines) >= 2, text  # at least one line while running, one at the end
    assert re.match(r"\d\d:\d\d:\d\d 120/120 · 100% · ", lines[-1]), lines[-1]
    assert lines[-1].endswith(REPLAY)  # the full model name: a log has no width
    assert "\x1b" not in text and "None" not in text


@pytest.mark.slow
@pytest.mark.skipif(TMUX is None, reason="needs tmux (bash setup.sh --dev installs it)")
def test_the_live_line_fits_80_columns_with_every_figure(tmp_path: Path) -> None:
    assert TMUX is not None
    socket = f"verimath-test-{os.getpid()}"
    tmux = [TMUX, "-L", socket]
    done = tmp_path / "done"
    env = f"PYTHONPATH={shlex.quote(os.environ.get('PYTHONPATH', ''))}"
    command = f"env {env} {shlex.join(eval_command(tmp_path / 'r.sqlite', 200))}; touch {done}"
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", "80", "-y", "30", f"{command}; sleep 600"], check=True
    )
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 600
        while not done.exists() and time.monotonic() < deadline:
            seen.append(capture(tmux))
            time.sleep(0.3)
        final = capture(tmux)
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
    lines = [line for screen in [*seen, final] for line in screen.splitlines()]
    live = [line for line in lines if FIGURES.search(line)]
    assert live, final
    assert all(len(line) <= 80 for line in lines)
    last = FIGURES.search([line for line in final.splitlines() if FIGURES.search(line)][-1])
    assert last is not None and last["done"] == last["total"] == "400"
    assert "GSM8K" in final  # the model's name, shortened from the left
    running = [m for line in live if (m := FIGURES.search(line)) and m["done"] != m["total"]]
    assert all("eta " in m.group(0) for m in running)


def capture(tmux: list[str]) -> str:
    return subprocess.run(
        [*tmux, "capture-pane", "-p"], capture_output=True, text=True, check=True
    ).stdout
