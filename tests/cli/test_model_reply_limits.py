"""``verimath solve`` against hostile model servers: a gzip bomb costs no more memory than a
normal reply's cap, and a server trickling bytes meets the ``--request-timeout`` deadline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.cli_helpers import CLI_TIMEOUT_S, error_line
from tests.models.reply_server import JSON, Reply, ReplyServer, completion, gzip_bomb

# Runs ``python -m verimath`` and, as the process exits, writes its peak resident memory
# (VmHWM, KiB) to the file named by the first argument: the command's own peak, not its
# sandbox's or grading workers'.
PEAK_RSS_WRAPPER = """
import atexit, runpy, sys
out = sys.argv.pop(1)
def peak():
    status = open("/proc/self/status").read()
    open(out, "w").write(status.split("VmHWM:")[1].split()[0])
atexit.register(peak)
sys.argv[0] = "verimath"
runpy.run_module("verimath", run_name="__main__", alter_sys=True)
"""
ANSWER = json.dumps(completion()).encode()
MARGIN_KIB = 64 * 1024


def solve(server: ReplyServer, peak_file: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-c", PEAK_RSS_WRAPPER, str(peak_file), "solve", "What is 6*7?",
        "--model", f"openai:tiny@{server.base_url}", "-k", "1", "--retries", "0", *options,
    ]  # fmt: skip
    return subprocess.run(
        command, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False
    )


@pytest.mark.slow
def test_a_gzip_bomb_costs_no_more_than_a_normal_solve_plus_64_mib(tmp_path: Path) -> None:
    with ReplyServer(lambda: Reply(ANSWER)) as server:
        normal = solve(server, tmp_path / "normal")
    assert normal.returncode == 0, normal.stderr
    bomb = Reply(gzip_bomb(512), headers=(*JSON, ("Content-Encoding", "gzip")))
    with ReplyServer(lambda: bomb) as server:
        bombed = solve(server, tmp_path / "bomb")
        assert "inflates to more than 32 MiB" in error_line(bombed)
        assert server.base_url in error_line(bombed)
    assert bombed.returncode == 2
    normal_kib = int((tmp_path / "normal").read_text())
    bomb_kib = int((tmp_path / "bomb").read_text())
    assert bomb_kib <= normal_kib + MARGIN_KIB, (normal_kib, bomb_kib)


@pytest.mark.slow
def test_a_trickling_server_ends_solve_at_the_request_deadline(tmp_path: Path) -> None:
    # one byte a second: every read is quick, the whole reply would take minutes
    trickle = Reply(ANSWER, piece=1, pause_s=1.0)
    with ReplyServer(lambda: trickle) as server:
        result = solve(server, tmp_path / "peak", "--request-timeout", "3")
        assert server.requests == 1
    assert result.returncode == 2, result.stderr
    assert "no complete answer within the 3 s deadline (--request-timeout)" in error_line(result)
