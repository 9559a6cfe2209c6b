"""Hostile files for the edge tests: a real run file to tamper with, decompression bombs, and the
peak memory of a real ``verimath`` child process."""

from __future__ import annotations

import gzip
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.cli.cli_helpers import CLI_TIMEOUT_S, run_cli, write_problems
from tests.models.chat_fault_server import FaultyChatServer

MiB = 1 << 20
BOMB_BYTES = 512 * MiB
"""What a bomb inflates to."""
RSS_SLACK_KIB = 64 * 1024
"""How much more a command may hold at its peak with a bomb than on the same input without."""


@dataclass(frozen=True)
class Measured:
    """A finished ``verimath`` child: exit code, output and its own peak RSS."""

    returncode: int
    stdout: str
    stderr: str
    peak_rss_kib: int

    def completed(self) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess([], self.returncode, self.stdout, self.stderr)


def run_measured(*args: str) -> Measured:
    """``python -m verimath ARGS`` with the child's own peak RSS, from the kernel (wait4)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "verimath", *args], stdout=out, stderr=err, text=True
        )
        try:
            _, status, usage = os.wait4(child.pid, 0)
        except BaseException:
            child.kill()
            child.wait()
            raise
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(child.returncode, out.read(), err.read(), usage.ru_maxrss)


def zlib_bomb(size: int = BOMB_BYTES, prefix: bytes = b'[{"content": "') -> bytes:
    """A zlib stream of ``size`` bytes of JSON-looking text, compressed about 1000:1."""
    return _bomb(zlib.compressobj(9), size, prefix)


def gzip_bomb(size: int = BOMB_BYTES, prefix: bytes = b'{"question": "') -> bytes:
    """A gzip member holding one line of ``size`` bytes, compressed about 1000:1."""
    return _bomb(zlib.compressobj(9, zlib.DEFLATED, 31), size, prefix)


def _bomb(packer: zlib._Compress, size: int, prefix: bytes) -> bytes:
    chunk = b"A" * MiB
    parts = [packer.compress(prefix)]
    parts += [packer.compress(chunk) for _ in range(size // MiB)]
    parts.append(packer.flush())
    return b"".join(parts)


def gzip_text(text: str) -> bytes:
    return gzip.compress(text.encode())


class RunMaker:
    """A real run (3 problems, k=2) made once by ``verimath eval`` against a local echo
    server; each ``copy`` is a fresh file to tamper with, resumable while the server lives."""

    def __init__(self, root: Path, server: FaultyChatServer) -> None:
        self.root, self.server = root, server
        self.data = write_problems(root / "problems.jsonl", 3)
        self.base = root / "base.sqlite"
        made = run_cli(*self.eval_args(self.base))
        assert made.returncode == 0, made.stderr
        self._copies = 0

    def eval_args(self, run: Path) -> list[str]:
        model = f"openai:tiny@{self.server.base_url}"
        return ["eval", str(self.data), "--model", model, "--run", str(run), "-k", "2"]

    def copy(self) -> Path:
        self._copies += 1
        target = self.root / f"run{self._copies}.sqlite"
        shutil.copyfile(self.base, target)
        return target


@contextmanager
def run_maker(root: Path) -> Iterator[RunMaker]:
    with FaultyChatServer() as server:
        yield RunMaker(root, server)


def tamper(run: Path, *statements: str, parameters: tuple[object, ...] = ()) -> None:
    """Change a run file as anyone with ``sqlite3`` could."""
    db = sqlite3.connect(run)
    try:
        for statement in statements:
            db.execute(statement, parameters if "?" in statement else ())
        db.commit()
    finally:
        db.close()


def unfinish_first_sample(run: Path) -> None:
    """Remove one finished sample, so that a resumed eval redoes it from the cache."""
    tamper(
        run,
        "DELETE FROM samples WHERE problem_id = 'p0' AND sample_index = 0",
        "DELETE FROM turns WHERE problem_id = 'p0' AND sample_index = 0",
        "DELETE FROM cells WHERE problem_id = 'p0' AND sample_index = 0",
        "DELETE FROM votes WHERE problem_id = 'p0'",
    )


def no_traceback(stderr: str) -> bool:
    return "Traceback" not in stderr and "Exception ignored" not in stderr


__all__ = [
    "BOMB_BYTES",
    "CLI_TIMEOUT_S",
    "RSS_SLACK_KIB",
    "Measured",
    "RunMaker",
    "gzip_bomb",
    "gzip_text",
    "no_traceback",
    "run_maker",
    "run_measured",
    "tamper",
    "unfinish_first_sample",
    "zlib_bomb",
]
