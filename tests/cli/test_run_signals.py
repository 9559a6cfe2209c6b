"""A run ended by SIGTERM or SIGHUP (a closed terminal, ``kill``, a batch scheduler) says
what it saved, as Ctrl-C does, and leaves no lock behind: the rerun resumes at once."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.cli_helpers import CLI_TIMEOUT_S, rows, write_problems
from tests.models.chat_fault_server import FaultyChatServer

POLL_S = 0.02
"""How often the test looks at the run file (a wait for a state, not a timing assumption)."""


def stored(run: Path) -> int:
    try:
        return int(str(rows(run, "SELECT COUNT(*) FROM samples")[0][0]))
    except Exception:  # the run file is not there yet
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_says_what_is_saved_and_releases_the_lock(
    tmp_path: Path, signum: signal.Signals
) -> None:
    with FaultyChatServer(delay_s=0.05) as server:
        process, run = start_run(tmp_path, server.base_url)
        process.send_signal(signum)
        _, err = process.communicate(timeout=CLI_TIMEOUT_S)
    told = " ".join(err.decode().split())
    assert process.returncode == 128 + signum, told
    assert "Traceback" not in told
    saved = re.search(r"interrupted: (\d+) samples are saved; rerun the same command", told)
    assert saved is not None, told
    assert int(saved[1]) == stored(run)
    assert not Path(f"{run}.lock").exists()


def start_run(tmp_path: Path, base_url: str) -> tuple[subprocess.Popen[bytes], Path]:
    data = write_problems(tmp_path / "problems.jsonl", 40)
    run = tmp_path / "run.sqlite"
    command = [
        sys.executable, "-m", "verimath", "eval", str(data), "--model",
        f"openai:tiny@{base_url}", "--run", str(run), "-k", "2", "--concurrency", "2",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while stored(run) < 3:
        assert process.poll() is None, process.communicate()
        time.sleep(POLL_S)
    return process, run


@pytest.mark.slow
@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_run_file_deleted_or_replaced_under_the_run_stops_it(tmp_path: Path, how: str) -> None:
    with FaultyChatServer(delay_s=0.05) as server:
        process, run = start_run(tmp_path, server.base_url)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{run}{suffix}").unlink(missing_ok=True)
        if how == "replaced":  # another file moved into its place
            other = tmp_path / "other.sqlite"
            other.write_bytes(b"")
            other.replace(run)
        out, err = process.communicate(timeout=CLI_TIMEOUT_S)
    told = [line for line in err.decode().splitlines() if line.startswith("Error:")]
    assert process.returncode == 2, err.decode()
    assert len(told) == 1 and "Traceback" not in err.decode()
    assert f"{run} was deleted or replaced while this run was writing it" in told[0]
    assert "samples" not in out.decode()  # no summary of a file that is gone
