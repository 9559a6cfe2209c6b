"""Running the real ``verimath`` command on a real pseudo-terminal, and reading back every byte
that reached the screen."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass

GUARD_TIMEOUT_S = 300.0
"""Only a guard against a hung child: no test asserts on how long a command takes."""

# What rich itself writes to a terminal: colours and styles (SGR), and the cursor moves and
# line erasing of a live display. Anything else that starts with ESC came from outside.
OWN_SEQUENCES = re.compile(r"\x1b\[[0-9;]*m|\x1b\[\?25[lh]|\x1b\[2K|\x1b\[\d*[AG]|\x1b\[\?7[lh]")
C1_OR_BIDI = re.compile("[\x80-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


@dataclass(frozen=True)
class Screen:
    """What a command wrote to its terminal, and how it ended."""

    returncode: int
    raw: bytes

    @property
    def text(self) -> str:
        """The screen's bytes as text (they must be UTF-8)."""
        return self.raw.decode("utf-8")

    def foreign_sequences(self) -> list[str]:
        """Every ESC, BEL, C1 or bidi character that is not rich's own styling, with context."""
        text = OWN_SEQUENCES.sub("", self.text)
        found = [m.start() for m in re.finditer("[\x1b\x07]", text)]
        found += [m.start() for m in C1_OR_BIDI.finditer(text)]
        return [repr(text[max(0, i - 20) : i + 20]) for i in sorted(found)]

    def plain(self) -> str:
        """The text without rich's styling, with newlines instead of the terminal's CR LF."""
        return OWN_SEQUENCES.sub("", self.text).replace("\r\n", "\n")


def run_on_terminal(*args: str, columns: int = 160, env: dict[str, str] | None = None) -> Screen:
    """``python -m verimath ARGS`` with its standard input, output and error on one pty."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    child_env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), **(env or {})}
    child_env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "verimath", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=child_env,
        start_new_session=True,
    )
    os.close(slave)
    try:
        raw = _read_until_closed(master, process)
        returncode = process.wait(timeout=GUARD_TIMEOUT_S)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
    return Screen(returncode, raw)


def _read_until_closed(master: int, process: subprocess.Popen[bytes]) -> bytes:
    chunks: list[bytes] = []
    guard = time.monotonic() + GUARD_TIMEOUT_S
    while time.monotonic() < guard:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            if process.poll() is not None and not _pending(master):
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError as exc:
            if exc.errno == errno.EIO:  # every descriptor of the child's side is closed
                break
            raise
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def _pending(master: int) -> bool:
    ready, _, _ = select.select([master], [], [], 0)
    return bool(ready)
