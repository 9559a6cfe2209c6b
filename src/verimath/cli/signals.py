"""SIGTERM and SIGHUP end a command as Ctrl-C does: the running work is cancelled, so it says
what it saved and releases what it holds (the run file's lock), then the process exits with
128 + the signal's number, as a shell expects of a process ended by that signal."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

import click

__all__ = ["STOP_SIGNALS", "until_stopped"]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_T = TypeVar("_T")


async def until_stopped(work: Coroutine[Any, Any, _T]) -> _T:
    """Await ``work``; a stop signal cancels it (it cleans up as on Ctrl-C), then exits."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[int] = []

    def stop(signum: int) -> None:
        if not received:
            received.append(signum)
            task.cancel()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop, signum)
    try:
        return await work
    except asyncio.CancelledError:
        if not received:
            raise
        task.uncancel()
        raise click.exceptions.Exit(128 + received[0]) from None
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
