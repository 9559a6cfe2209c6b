"""SandboxFusion's ``run_code``, for Python: its request and response shapes over a one-shot
session, so RL recipes configured for SandboxFusion (verl's sandbox tool and reward,
SimpleTIR, ToRL) can point at verimath unchanged.

What differs, by design: ``run_timeout`` and ``memory_limit_MB`` are capped at the server's
limits (never refused, as those recipes send fixed values); the time limit is CPU time, with
wall-clock ten times that; stdout and stderr arrive interleaved in ``stdout``, as the model
would see them; ``fetch_files`` is not supported (the scratch is private and discarded).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import posixpath
from typing import Any

from verimath.interpreter import CellResult, CellStatus, Limits
from verimath.serve.outcomes import Refusal
from verimath.serve.schema import number

PYTHON_NAMES = frozenset({"python", "python3"})
RETURN_CODES = {CellStatus.OK: 0, CellStatus.ERROR: 1, CellStatus.MEMORY: 1}
SETUP = """def __verimath_setup(stdin, files):
    import io, os, sys
    for path, content in files.items():
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(content)
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
__verimath_setup({stdin!r}, {files!r})
del __verimath_setup
"""


@dataclasses.dataclass(frozen=True)
class RunCode:
    """A ``run_code`` request as the server runs it."""

    code: str
    limits: Limits
    setup: str | None


def parse_run_code(body: dict[str, Any], server: Limits) -> RunCode:
    """The request, checked; fields SandboxFusion knows but Python ignores are ignored."""
    language = body.get("language", "python")
    if not isinstance(language, str) or language not in PYTHON_NAMES:
        raise Refusal("bad_request", f"language {str(language)[:40]!r} is not served: only python")
    code = body.get("code")
    if not isinstance(code, str):
        raise Refusal("bad_request", "code must be a string of Python")
    if body.get("fetch_files"):
        raise Refusal("bad_request", "fetch_files is not supported: a session's files are private")
    limits = _limits(body, server)
    stdin = body.get("stdin")
    if stdin is not None and not isinstance(stdin, str):
        raise Refusal("bad_request", "stdin must be a string")
    files = _files(body.get("files") or {})
    setup = SETUP.format(stdin=stdin, files=files) if stdin or files else None
    # run as a script, as SandboxFusion does: a final bare expression is not displayed
    return RunCode(code + "\npass\n", limits, setup)


def _limits(body: dict[str, Any], server: Limits) -> Limits:
    timeout = body.get("run_timeout")
    memory = body.get("memory_limit_MB", -1)
    changes: dict[str, Any] = {}
    if timeout is not None:
        changes["timeout_s"] = min(number(timeout, "run_timeout"), server.timeout_s)
    if memory is not None and memory != -1:
        changes["memory_mb"] = min(
            int(number(memory, "memory_limit_MB", integer=True)), server.memory_mb
        )
    return dataclasses.replace(server, **changes)


def _files(files: object) -> dict[str, bytes]:
    """``files``: relative path -> base64 content, decoded; a Refusal for anything else."""
    if not isinstance(files, dict):
        raise Refusal("bad_request", "files must be an object of relative paths to base64 content")
    decoded: dict[str, bytes] = {}
    for path, content in files.items():
        normal = posixpath.normpath(path)
        if posixpath.isabs(normal) or normal.startswith("..") or normal == "." or "\x00" in normal:
            raise Refusal("bad_request", f"files: {path[:80]!r} must be a path inside the scratch")
        if content is None:
            continue
        if not isinstance(content, str):
            raise Refusal("bad_request", f"files: the content of {path[:80]!r} must be base64")
        try:
            decoded[normal] = base64.b64decode(content, validate=True)
        except binascii.Error as exc:
            raise Refusal("bad_request", f"files: {path[:80]!r} is not base64 ({exc})") from exc
    return decoded


def run_code_response(result: CellResult) -> dict[str, Any]:
    """SandboxFusion's response for a cell's result: ``Success`` when it ran to the end,
    ``Failed`` when the code failed (its run status says how)."""
    status = result.status
    timed_out = status is CellStatus.TIMEOUT or (
        status is CellStatus.KILLED and "time limit" in (result.detail or "")
    )
    run_status = "TimeLimitExceeded" if timed_out else "Finished"
    if status is CellStatus.KILLED and not timed_out:
        run_status = "Error"
    return {
        "status": "Success" if result.ok else "Failed",
        "message": result.detail or "",
        "compile_result": None,
        "run_result": {
            "status": run_status,
            "execution_time": round(result.duration_s, 6),
            "return_code": RETURN_CODES.get(status),
            "stdout": result.output,
            "stderr": result.detail or "",
        },
        "executor_pod_name": None,
        "files": {},
    }


def sandbox_error(message: str) -> dict[str, Any]:
    """SandboxFusion's answer when the sandbox itself failed (not the code)."""
    return {
        "status": "SandboxError",
        "message": message,
        "compile_result": None,
        "run_result": None,
        "executor_pod_name": None,
        "files": {},
    }
