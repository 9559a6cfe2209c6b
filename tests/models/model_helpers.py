"""Helpers of the model tests: a free local port, and a stateful Python process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


_NOTEBOOK_KERNEL = r"""
import contextlib, io, json, sys, traceback
namespace = {"__name__": "__main__"}
for line in sys.stdin:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            exec(compile(json.loads(line), "<cell>", "exec"), namespace)
        except BaseException:
            traceback.print_exc(limit=-1)
    print(json.dumps(out.getvalue()), flush=True)
"""


class Notebook:
    """A stateful Python process for tests: cells share variables, output comes back.

    Only a stand-in for verimath's sandboxed interpreter, which belongs to another package;
    it runs in a separate process with an empty environment.
    """

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-c", _NOTEBOOK_KERNEL],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={"PATH": os.environ.get("PATH", "")},
        )

    def run(self, code: str) -> str:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(code) + "\n")
        self._process.stdin.flush()
        return json.loads(self._process.stdout.readline())

    def close(self) -> None:
        self._process.kill()
        self._process.wait()
