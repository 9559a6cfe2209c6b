"""A grading worker process: ``python -m verimath.grading.worker [MEMORY_MB] [--warm]``.

Protocol, one JSON object per line: the worker first writes ``{"ready": true}`` (or
``{"ready": false, "error": ...}``), then answers each request ``{"gold", "pred",
"soft_timeout"}`` with ``{"status", "detail", "cpu"}`` (CPU seconds spent) and, when it must
not be reused (after a memory error), ``"retire": true``. End of input ends the worker.

Three layers keep one comparison from hurting the others: an alarm here after
``soft_timeout`` seconds of this process's CPU time (not wall-clock time: a verdict must not
depend on how busy the machine is) that interrupts slow pure-Python work; an address-space
limit that turns a runaway integer into a MemoryError; and the pool, which kills this
process when even the alarm does not help (e.g. a single huge C-level big-integer operation).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, NotRequired, TypedDict

if TYPE_CHECKING:
    from verimath.grading.status import Verdict

    Compare = Callable[[str, str], Verdict]

__all__ = ["CompareReply", "CompareRequest", "ReadyMessage", "main"]


class ReadyMessage(TypedDict):
    """The worker's first line."""

    ready: bool
    error: NotRequired[str]
    """Why it could not start (a traceback)."""


class CompareRequest(TypedDict):
    """One comparison asked of the worker."""

    gold: str
    pred: str
    soft_timeout: float


class CompareReply(TypedDict):
    """The worker's answer to one comparison."""

    status: str
    """A :class:`~verimath.grading.status.Status` value."""
    detail: str
    cpu: NotRequired[float]
    """CPU seconds the comparison took (absent when the pool answers for a dead worker)."""
    retire: NotRequired[bool]
    """True when the worker must not be reused."""


_PR_SET_PDEATHSIG = 1
_WARM_UP = ("\\frac{1}{2}", "0.5")
# Typical answers: parsing them once builds most of the ANTLR parser's prediction cache,
# which makes later parses about 20% faster. Only first workers pay for it (about 0.5 s);
# replacements for killed workers start cold, to be back sooner.
_WARM_CORPUS = (
    "-\\frac{3}{4}",
    "2\\sqrt{3}",
    "\\frac{\\sqrt{3}}{2}",
    "\\frac{5\\pi}{6}",
    "(1,2)",
    "(-3,\\frac{1}{2},4)",
    "[0,1)",
    "(-\\infty,2]\\cup[3,\\infty)",
    "\\{1,2\\}",
    "1,-2,3",
    "y=2x+3",
    "x^2+3x-4",
    "(x+1)(x-2)",
    "\\begin{pmatrix}1\\\\2\\end{pmatrix}",
    "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
    "2^{10}",
    "10!",
    "\\binom{5}{2}",
    "3+4i",
    "\\sin x",
    "\\log_2 8",
    "e^{2}",
    "\\sqrt[3]{4}",
    "3x-y+13=0",
    "\\frac{x^2}{4}+\\frac{y^2}{9}=1",
    "1.25",
    "\\infty",
    "2ab",
    "|x-1|",
    "\\frac{a}{b+c}",
)


class _SoftTimeout(BaseException):
    """Raised by the alarm; a BaseException so that library ``except Exception`` misses it."""


def main() -> None:
    """Serve comparisons on stdin/stdout until stdin closes."""
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt replies
    _die_with_parent()
    try:
        from verimath.grading.compare import compare

        compare(*_WARM_UP)
        if "--warm" in sys.argv:
            for answer in _WARM_CORPUS:
                compare(answer, answer)
        _limit_memory()
    except Exception:  # reported to the pool, which raises GradingError with it
        _send(protocol, {"ready": False, "error": traceback.format_exc()})
        return
    _send(protocol, {"ready": True})
    signal.signal(signal.SIGPROF, _on_alarm)
    for line in sys.stdin:
        request: CompareRequest = json.loads(line)
        reply = _handle(compare, request)
        _send(protocol, reply)
        if reply.get("retire"):
            return


def _handle(compare: Compare, request: CompareRequest) -> CompareReply:
    started = time.process_time()
    reply = _compare_once(compare, request)
    reply["cpu"] = time.process_time() - started
    return reply


def _compare_once(compare: Compare, request: CompareRequest) -> CompareReply:
    signal.setitimer(signal.ITIMER_PROF, float(request["soft_timeout"]))
    try:
        verdict = compare(request["gold"], request["pred"])
        signal.setitimer(signal.ITIMER_PROF, 0)
        return {"status": verdict.status.value, "detail": verdict.detail}
    except _SoftTimeout:
        return {"status": "timeout", "detail": "timed out (interrupted in the worker)"}
    except MemoryError:
        signal.setitimer(signal.ITIMER_PROF, 0)
        return {"status": "timeout", "detail": "memory limit exceeded", "retire": True}
    except RecursionError:
        signal.setitimer(signal.ITIMER_PROF, 0)
        return {"status": "unparseable", "detail": "nested too deeply to compare"}
    except Exception as exc:  # a bug in a library must not take the worker down
        signal.setitimer(signal.ITIMER_PROF, 0)
        return {"status": "unparseable", "detail": f"comparison failed: {exc!r}"[:300]}


def _on_alarm(signum: int, frame: object) -> None:
    raise _SoftTimeout


def _send(stream: IO[str], message: ReadyMessage | CompareReply) -> None:
    stream.write(json.dumps(message) + "\n")
    stream.flush()


def _limit_memory() -> None:
    """Cap the address space at ``argv[1]`` MiB (0 or absent: no cap)."""
    limit_mb = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 0
    if limit_mb > 0:
        limit = limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the pool's process dies (best effort)."""
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


if __name__ == "__main__":
    main()
