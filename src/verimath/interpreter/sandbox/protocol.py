"""Length-prefixed JSON frames over pipes, shared by the host and the sandbox.

A frame is a 4-byte big-endian length followed by that many bytes of UTF-8 JSON. JSON is
written with ``ensure_ascii=True`` so that any Python string, lone surrogates included, survives.
Every reader states the largest frame it accepts; anything malformed is a ``ProtocolError``.

The TypedDicts below are the messages between host, server and session whose shape each side
knows. What a reader decodes stays a plain dict: it is untrusted JSON until the reader has
checked it.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict

HEADER = struct.Struct(">I")
MAX_FRAME_BYTES = 256 * 1024 * 1024


class SessionLimits(TypedDict):
    """The limits the server applies inside a session child (see ``Limits``)."""

    memory_mb: int
    cpu_s: int
    file_size_mb: int
    open_files: int
    processes: int
    max_output_chars: int
    scratch_mb: int
    scratch_inodes: int


class ServerConfig(TypedDict):
    """The fork server's start-up settings (JSON, its one argument)."""

    control_fd: int
    preload: list[str]
    warmup: str
    seccomp: bool
    scratch_root: str
    scratch_mb: int
    scratch_inodes: int
    unshare_net: bool
    host_can_kill: NotRequired[bool]
    """Whether the host holds CAP_KILL (else sessions keep the server's uid)."""
    lease_dir: NotRequired[str]
    """Where the uid lock files are, as the server sees them (it removes a session's)."""
    libseccomp: NotRequired[str]
    """Path of libseccomp, when not the one the loader finds."""


class LayerReport(TypedDict):
    """One isolation layer as the server found it."""

    active: bool
    detail: str


class Hello(TypedDict):
    """The server's first message on the control socket."""

    op: Literal["hello"]
    pid: int
    layers: dict[str, LayerReport]


class SpawnRequest(TypedDict):
    """Start a session (its pipes, and a uid lease, travel as descriptors)."""

    op: Literal["spawn"]
    sid: int
    uid: int
    seed: int
    """Seeds the session's random generators (stdlib, NumPy's global, SymPy's)."""
    limits: SessionLimits


class SessionRequest(TypedDict):
    """Kill a session, or ask how it ended."""

    op: Literal["kill", "status"]
    sid: int


ControlRequest = SpawnRequest | SessionRequest


class ControlReply(TypedDict, total=False):
    """The server's answer: a spawned session's ``pid``, a session's ``exit`` reason (None
    while it runs), or the ``error`` that stopped the request."""

    pid: int
    exit: str | None
    error: str


class CellRequest(TypedDict):
    """A cell for a session to run, with its soft time limits in seconds."""

    code: str
    timeout: float | None
    """CPU seconds."""
    wait: float | None
    """Wall-clock seconds (None: as ``timeout``)."""
    seed: NotRequired[int]
    """Reseeds the session's random generators before the cell: the first cell of a session
    taken from the pool, started before its seed was known."""


class CellStatusFrame(TypedDict):
    """How a cell ended (``status``) and the threads it left running, by name."""

    status: str
    threads: list[str]


class ChannelClosed(EOFError):
    """The other end of a pipe went away before a whole frame arrived."""


class ProtocolError(ValueError):
    """A frame that breaks the protocol: too large, not JSON, or not a JSON object."""


def encode_frame(message: Mapping[str, object]) -> bytes:
    """Serialize one message into a frame."""
    body = json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return HEADER.pack(len(body)) + body


def decode_body(body: bytes) -> dict[str, Any]:
    """The JSON object in a frame body; ProtocolError for anything else."""
    try:
        message = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ProtocolError(f"a frame is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"a frame holds a JSON {type(message).__name__}, not an object")
    return message


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


def read_frame(fd: int, max_bytes: int = MAX_FRAME_BYTES) -> dict[str, Any]:
    """Read one frame from a blocking descriptor."""
    (size,) = HEADER.unpack(read_exact(fd, HEADER.size))
    if size > max_bytes:
        raise ProtocolError(f"a frame of {size} bytes exceeds the {max_bytes}-byte limit")
    return decode_body(read_exact(fd, size))


class FrameSplitter:
    """Cuts a byte stream into whole frames (header included), without decoding them."""

    def __init__(self, max_bytes: int = MAX_FRAME_BYTES) -> None:
        self.max_bytes = max_bytes
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every frame now complete."""
        self._buffer += data
        frames: list[bytes] = []
        while len(self._buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self._buffer)
            if size > self.max_bytes:
                raise ProtocolError(
                    f"a frame of {size} bytes exceeds the {self.max_bytes}-byte limit"
                )
            end = HEADER.size + size
            if len(self._buffer) < end:
                break
            frames.append(bytes(self._buffer[:end]))
            del self._buffer[:end]
        return frames


class FrameDecoder(FrameSplitter):
    """Incremental decoder for frames arriving in arbitrary chunks (non-blocking readers)."""

    def feed_messages(self, data: bytes) -> list[dict[str, Any]]:
        """Add received bytes; return every message now complete."""
        return [decode_body(frame[HEADER.size :]) for frame in self.feed(data)]
