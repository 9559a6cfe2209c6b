"""Hostile model servers against ``verimath solve``: memory under a gzip bomb, time under a trickle.

Measured in one run and printed side by side:

1. peak resident memory (VmHWM of the ``verimath`` process itself, read as it exits) of
   ``solve -k 1`` against a local server answering a normal reply, and against one answering
   a 512 MiB gzip bomb (about 500 KiB on the wire): the difference, against the 64 MiB target;
2. wall time of ``solve --request-timeout 3 --retries 0`` against a server that sends its
   reply one byte a second, from the moment the request reaches the server to the process's
   end, against the target of the timeout + 2 s.

Usage: python benchmarks/model_replies.py [--only rss|trickle ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import shared  # noqa: F401  (puts the checkout on sys.path, for the next imports)

# isort: split
from tests.cli.test_model_reply_limits import PEAK_RSS_WRAPPER
from tests.models.reply_server import JSON, Reply, ReplyServer, completion, gzip_bomb

ANSWER = json.dumps(completion()).encode()
RSS_TARGET_MIB = 64
TRICKLE_TIMEOUT_S = 3
GUARD_S = 600


def solve(base_url: str, peak_file: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-c", PEAK_RSS_WRAPPER, str(peak_file), "solve", "What is 6*7?",
        "--model", f"openai:tiny@{base_url}", "-k", "1", "--retries", "0", *options,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=GUARD_S, check=False)


def peak_rss() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with ReplyServer(lambda: Reply(ANSWER)) as server:
            normal = solve(server.base_url, Path(tmp) / "normal")
        bomb = Reply(gzip_bomb(512), headers=(*JSON, ("Content-Encoding", "gzip")))
        with ReplyServer(lambda: bomb) as server:
            bombed = solve(server.base_url, Path(tmp) / "bomb")
        normal_mib = int((Path(tmp) / "normal").read_text()) / 1024
        bomb_mib = int((Path(tmp) / "bomb").read_text()) / 1024
    error = bombed.stderr.strip().splitlines()[-1] if bombed.stderr.strip() else ""
    print(f"gzip bomb: {len(gzip_bomb(512)) / 1024:.0f} KiB on the wire, 512 MiB inflated")
    print(f"  normal solve  : exit {normal.returncode}, peak RSS {normal_mib:7.1f} MiB")
    print(f"  bombed solve  : exit {bombed.returncode}, peak RSS {bomb_mib:7.1f} MiB")
    print(f"  difference    : {bomb_mib - normal_mib:+.1f} MiB (target < {RSS_TARGET_MIB} MiB)")
    print(f"  error line    : {error}")


def trickle() -> None:
    first_request = threading.Event()

    def reply() -> Reply:
        first_request.set()
        return Reply(ANSWER, piece=1, pause_s=1.0)

    with tempfile.TemporaryDirectory() as tmp, ReplyServer(reply) as server:
        timeout = str(TRICKLE_TIMEOUT_S)
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-c", PEAK_RSS_WRAPPER, str(Path(tmp) / "peak"), "solve",
             "What is 6*7?", "--model", f"openai:tiny@{server.base_url}", "-k", "1",
             "--retries", "0", "--request-timeout", timeout],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        first_request.wait(GUARD_S)
        requested = time.monotonic()
        _, stderr = process.communicate(timeout=GUARD_S)
        ended = time.monotonic()
    print(f"trickling server, one byte a second, --request-timeout {timeout} --retries 0")
    print(f"  from the request to the end : {ended - requested:5.2f} s "
          f"(target < {TRICKLE_TIMEOUT_S + 2} s)")  # fmt: skip
    print(f"  whole command (start-up too): {ended - started:5.2f} s, exit {process.returncode}")
    print(f"  error line                  : {stderr.strip().splitlines()[-1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=["rss", "trickle"], default=None)
    chosen = parser.parse_args().only or ["rss", "trickle"]
    if "rss" in chosen:
        peak_rss()
    if "trickle" in chosen:
        trickle()


if __name__ == "__main__":
    main()
