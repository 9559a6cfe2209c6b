"""Deleting a directory tree that session code built: any depth, no recursion, never raising."""

from __future__ import annotations

import contextlib
import os


def remove_tree(root: str) -> None:
    """Delete ``root`` and everything under it, as far as permissions allow.

    Iterative (a session can nest directories deeper than Python's recursion limit) and
    silent: whatever cannot be deleted stays, and the caller carries on.
    """
    stack = [root]
    scanned: set[str] = set()
    while stack:
        top = stack[-1]
        if top in scanned:  # its subdirectories have been dealt with, or cannot be
            stack.pop()
            with contextlib.suppress(OSError):
                os.rmdir(top)
            continue
        scanned.add(top)
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for entry in entries:
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    os.unlink(entry.path)
