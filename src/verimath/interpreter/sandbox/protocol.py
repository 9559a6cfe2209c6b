"""Length-prefixed JSON frames over pipes and sockets, shared by the host and the sandbox.

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON. JSON is
written with ``ensure_ascii=True`` so that any Python string, lone surrogates included, survives.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME_BYTES = 256 * 1024 * 1024


class ChannelClosed(EOFError):
    """The other end of a pipe went away before a whole frame arrived."""


def encode_frame(message: dict[str, Any]) -> bytes:
    """Serialize one message into a frame."""
    body = json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return HEADER.pack(len(body)) + body


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to a blocking file descriptor."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, size: int) -> bytes:
    """Read exactly ``size`` bytes from a blocking descriptor, or raise ChannelClosed."""
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise ChannelClosed(f"pipe closed with {remaining} of {size} bytes unread")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> dict[str, Any]:
    """Read one frame from a blocking descriptor."""
    (size,) = HEADER.unpack(read_exact(fd, HEADER.size))
    if size > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {size} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")
    frame: dict[str, Any] = json.loads(read_exact(fd, size))
    return frame


class FrameDecoder:
    """Incremental decoder for frames arriving in arbitrary chunks (non-blocking readers)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Add received bytes; return every frame now complete."""
        self._buffer += data
        frames: list[dict[str, Any]] = []
        while len(self._buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self._buffer)
            if size > MAX_FRAME_BYTES:
                raise ValueError(f"frame of {size} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")
            end = HEADER.size + size
            if len(self._buffer) < end:
                break
            frames.append(json.loads(bytes(self._buffer[HEADER.size : end])))
            del self._buffer[:end]
        return frames
