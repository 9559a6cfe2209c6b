"""Defaults of the HTTP model backends, importable without loading their SDK (the command
line shows them in its help)."""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_RESPONSE_MB", "DEFAULT_TIMEOUT_S", "MAX_REPLY_DEPTH"]

DEFAULT_TIMEOUT_S = 600.0
"""Total deadline of one request (connecting, sending and every read together), in seconds."""
DEFAULT_MAX_RESPONSE_MB = 32
"""Cap on one reply, raw and after decompression, in MiB."""
MAX_REPLY_DEPTH = 64
"""Nesting allowed in a reply's JSON (a chat completion with logprobs needs about 8)."""
