"""What a user meets at the edges of a long run: the words of a failed model download, a
replay asked for more samples than it holds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.cli_helpers import error_line, run_cli, write_problems
from tests.models.chat_fault_server import FaultyChatServer
from tests.models.model_helpers import free_port
from tests.shared import SHARED_DATA


@pytest.mark.slow
def test_a_download_that_never_started_names_the_lock_file_not_a_partial_one(
    tmp_path: Path,
) -> None:
    hub = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {**os.environ, "HF_ENDPOINT": hub, "VERIMATH_CACHE_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "verimath", "solve", "1 + 1?"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    line = " ".join(error_line(result).split())
    [lock] = tmp_path.rglob("*.lock")
    assert not list(tmp_path.rglob("*.part"))
    assert "partial file" not in line
    assert f"only the lock file {lock} is left" in line


MATHCODER_GSM8K = SHARED_DATA / "transcripts" / "mathcoder" / "MathCoder-CL-34b" / "GSM8K"


@pytest.mark.parametrize(("k", "warned"), [(3, True), (1, False)])
def test_replay_with_more_samples_than_recorded_warns(tmp_path: Path, k: int, warned: bool) -> None:
    result = run_cli(
        "eval", "gsm8k", "--model", f"replay:{MATHCODER_GSM8K}", "--limit", "2", "-k", str(k),
        "--run", str(tmp_path / "run.sqlite"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    told = " ".join(result.stderr.split())
    assert ("asks more samples than the recording holds for 2 of 2 problems" in told) is warned
    assert ("replay repeats recorded samples" in told) is warned


def peak_rss_kb(args: list[str]) -> int:
    """The peak resident size of ``verimath ARGS`` and its children, as the kernel counts it
    (ru_maxrss of the waited-for children of a fresh Python that runs it)."""
    probe = (
        "import resource, subprocess, sys; "
        "done = subprocess.run(sys.argv[1:], capture_output=True); "
        "assert done.returncode == 0, done.stderr.decode()[-2000:]; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    command = [sys.executable, "-c", probe, sys.executable, "-m", "verimath", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.split()[-1])


@pytest.mark.slow
def test_memory_is_bounded_by_the_work_not_by_the_concurrency(tmp_path: Path) -> None:
    data = write_problems(tmp_path / "problems.jsonl", 4)
    url = ""

    def args(concurrency: int) -> list[str]:
        run = tmp_path / f"c{concurrency}.sqlite"
        model = f"openai:tiny@{url}"
        return ["eval", str(data), "--model", model, "-k", "4", "--run", str(run),
                "--concurrency", str(concurrency)]  # fmt: skip

    with FaultyChatServer() as server:
        url = server.base_url
        sizes = {c: peak_rss_kb(args(c)) for c in (4, 1_000_000)}
    # one task per unit of concurrency took 1.4 GB here; a bounded run stays near 4's size
    assert sizes[1_000_000] < 1.5 * sizes[4], sizes


def test_solve_reports_an_unreachable_server_in_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = run_cli("solve", "1 + 1?", "--model", f"openai:tiny@{url}")
    line = error_line(result)
    assert f"cannot reach the model server {url}" in line
    assert "sample" not in result.stderr.replace(line, "")  # no per-sample failure blocks


def test_a_ray_address_that_does_not_answer_is_named_in_one_line(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    data = write_problems(tmp_path / "problems.jsonl", 1)
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    result = run_cli(
        "eval", str(data), "--model", "openai:tiny@http://127.0.0.1:9/v1", "--ray", address,
        "--run", str(tmp_path / "run.sqlite"),
    )  # fmt: skip
    line = error_line(result)
    assert f"no Ray cluster answers at {address}" in line and "ray start --head" in line
