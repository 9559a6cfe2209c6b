"""Bounded readers: the one gate every byte from outside the process passes before it is trusted.

A model server's reply, a run file's blob, a transcript, a dataset or a grade input can be as
hostile as a cell's output: a 500 KiB gzip member that inflates to 512 MiB, a JSON line nested
100,000 deep, a single line of a gigabyte, bytes that are not UTF-8. Each reader here enforces a
:class:`Bounds` while it reads (never after: a bomb is stopped at the cap, not once in memory) and
raises :class:`BoundsExceeded` saying which bound and where. The edge that called it turns that
into its own one-line error (``InputError`` naming file and line, ``StoreError`` naming the run
file, ``ModelResponseError`` naming the server). Files a user hands in (datasets, transcripts,
grade input) share one such turn, :func:`input_lines`.

Time is bounded where the waiting happens (a request's deadline, SQLite's progress handler), not
here: these readers only ever read what is already on disk or in memory.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from verimath.errors import InputError

__all__ = [
    "DEFAULT_BOUNDS",
    "Bounds",
    "BoundsExceeded",
    "inflate",
    "inflated_size",
    "input_lines",
    "iter_lines",
    "json_depth",
    "loads_json",
    "read_lines",
    "read_text",
]

MiB = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
READ_CHUNK = 1 << 16


@dataclass(frozen=True)
class Bounds:
    """Caps on one input; ``None`` nowhere: every input has every bound."""

    max_bytes: int = 512 * MiB
    """Bytes of the whole input after decompression (a compressed file's raw size is smaller)."""
    max_line: int = 64 * MiB
    """Bytes of one line (a JSONL record, a CSV row)."""
    max_depth: int = 64
    """Nesting of one JSON value: objects and arrays inside each other."""


DEFAULT_BOUNDS = Bounds()


class BoundsExceeded(ValueError):
    """An input broke one of its bounds, or is not what a reader can decode.

    ``kind`` is ``size``, ``line``, ``depth``, ``encoding`` or ``compression``; ``line`` the
    1-based line it happened on, when the reader reads lines."""

    def __init__(self, kind: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.kind, self.line = kind, line


def loads_json(data: str | bytes, *, max_depth: int = DEFAULT_BOUNDS.max_depth) -> object:
    """``json.loads`` that never recurses out of the stack and never returns a value nested
    deeper than ``max_depth``. Invalid JSON still raises ``json.JSONDecodeError``."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise BoundsExceeded("depth", f"JSON nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError as exc:
        raise BoundsExceeded("encoding", f"not valid UTF-8 (byte {exc.start + 1})") from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # an integer past the interpreter's digit limit, and the like
        raise BoundsExceeded("size", f"JSON value out of bounds: {exc}") from None
    if json_depth(value, limit=max_depth) > max_depth:
        raise BoundsExceeded("depth", f"JSON nested deeper than {max_depth} levels")
    return value


def json_depth(value: object, *, limit: int) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0, ``[]`` is 1), counted without
    recursion; stops counting once past ``limit``."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: list[object] | None = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            children = None
        if children is None:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def inflate(blob: bytes, *, limit: int, wbits: int = zlib.MAX_WBITS) -> bytes:
    """Decompress a zlib stream (``wbits=31`` for gzip, ``47`` to detect either) to at most
    ``limit`` bytes; a stream that would inflate past it is refused before it is in memory."""
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(blob, limit + 1)
    except zlib.error as exc:
        raise BoundsExceeded("compression", f"not a valid compressed stream: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise BoundsExceeded("size", f"inflates to more than {_size(limit)}")
    if not inflater.eof:
        raise BoundsExceeded("compression", "compressed stream is truncated")
    return out


def inflated_size(blob: bytes, *, limit: int, wbits: int = zlib.MAX_WBITS) -> int:
    """Bytes a zlib stream inflates to, counted a chunk at a time without keeping them: a bomb
    costs one chunk of memory, not ``limit`` (``inflate`` then decodes a stream known to fit).
    Raises :class:`BoundsExceeded` as :func:`inflate` does."""
    inflater, total, pending = zlib.decompressobj(wbits), 0, blob
    try:
        while pending and not inflater.eof:
            total += len(inflater.decompress(pending, READ_CHUNK))
            pending = inflater.unconsumed_tail
            if total > limit:
                raise BoundsExceeded("size", f"inflates to more than {_size(limit)}")
        total += len(inflater.flush())
    except zlib.error as exc:
        raise BoundsExceeded("compression", f"not a valid compressed stream: {exc}") from None
    if total > limit:
        raise BoundsExceeded("size", f"inflates to more than {_size(limit)}")
    if not inflater.eof:
        raise BoundsExceeded("compression", "compressed stream is truncated")
    return total


def read_text(path: Path, bounds: Bounds = DEFAULT_BOUNDS) -> str:
    """A whole file (gzip-compressed or not) as UTF-8 text, within ``bounds.max_bytes``.
    A leading byte-order mark is dropped."""
    return "".join(text for _, text in read_lines(path, bounds))


def read_lines(path: Path, bounds: Bounds = DEFAULT_BOUNDS) -> Iterator[tuple[int, str]]:
    """(1-based number, text with its line ending) of every line of a file, gzip-compressed or
    not (told by its first bytes, not its name), decoded as strict UTF-8 within ``bounds``.

    Raises ``OSError`` when the file cannot be opened or read, :class:`BoundsExceeded` when it
    breaks a bound, is not UTF-8 or is a damaged gzip file."""
    with path.open("rb") as handle:
        yield from iter_lines(handle, bounds)


def iter_lines(handle: IO[bytes], bounds: Bounds = DEFAULT_BOUNDS) -> Iterator[tuple[int, str]]:
    """:func:`read_lines` of an open binary stream (standard input, say), read to its end."""
    yield from _lines(_chunks(handle, bounds), bounds)


def input_lines(
    source: Path | IO[bytes], bounds: Bounds, *, name: str | None = None
) -> Iterator[tuple[int, str]]:
    """The numbered lines of a file a user handed in (a path, or an open stream such as standard
    input, shown as ``name``), within ``bounds``; a file that cannot be read or breaks a bound
    is the one-line ``InputError`` naming it and the line."""
    shown = name or str(source)
    try:
        yield from (
            read_lines(source, bounds) if isinstance(source, Path) else iter_lines(source, bounds)
        )
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=shown) from None
    except BoundsExceeded as exc:
        raise InputError(
            INPUT_HINTS.get(exc.kind, "{}").format(exc), path=shown, line=exc.line
        ) from None


INPUT_HINTS = {
    "compression": "cannot read (corrupt or truncated file?): {}",
    "encoding": "{}; save the file as UTF-8",
}
"""What to add to a violation's own words, by its kind, for the person who made the file."""


def _chunks(handle: IO[bytes], bounds: Bounds) -> Iterator[bytes]:
    """The file's bytes, inflated when it is gzip, never more than ``bounds.max_bytes``."""
    first = handle.read(READ_CHUNK)
    if not first.startswith(GZIP_MAGIC):
        total = 0
        chunk = first
        while chunk:
            total += len(chunk)
            if total > bounds.max_bytes:
                raise BoundsExceeded("size", f"larger than {_size(bounds.max_bytes)}")
            yield chunk
            chunk = handle.read(READ_CHUNK)
        return
    yield from _gunzip(first, handle, bounds.max_bytes)


def _gunzip(first: bytes, handle: IO[bytes], limit: int) -> Iterator[bytes]:
    """Inflate every gzip member of a file, chunk by chunk, at most ``limit`` bytes in all."""
    inflater, total, pending = zlib.decompressobj(31), 0, first
    try:
        while pending or not inflater.eof:
            if not pending:
                pending = handle.read(READ_CHUNK)
                if not pending:
                    raise BoundsExceeded("compression", "gzip file is truncated")
            out = inflater.decompress(pending, READ_CHUNK)
            pending = inflater.unconsumed_tail
            total += len(out)
            if total > limit:
                raise BoundsExceeded("size", f"inflates to more than {_size(limit)}")
            if out:
                yield out
            if inflater.eof:
                pending = inflater.unused_data + (b"" if pending else handle.read(READ_CHUNK))
                if not pending.strip(b"\x00"):
                    return
                inflater = zlib.decompressobj(31)  # another member follows
    except zlib.error as exc:
        raise BoundsExceeded("compression", f"damaged gzip data: {exc}") from None


def _lines(chunks: Iterator[bytes], bounds: Bounds) -> Iterator[tuple[int, str]]:
    number, buffer, scanned = 0, bytearray(), 0
    for chunk in chunks:
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", max(start, scanned))) >= 0:
            number += 1
            yield number, _decode(bytes(buffer[start : end + 1]), number, bounds)
            start = end + 1
        if start:
            del buffer[:start]
        scanned = len(buffer)
        if len(buffer) > bounds.max_line:
            raise BoundsExceeded(
                "line", f"line longer than {_size(bounds.max_line)}", line=number + 1
            )
    if buffer:
        yield number + 1, _decode(bytes(buffer), number + 1, bounds)


def _decode(raw: bytes, number: int, bounds: Bounds) -> str:
    if len(raw) > bounds.max_line:
        raise BoundsExceeded("line", f"line longer than {_size(bounds.max_line)}", line=number)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"not valid UTF-8 (byte {exc.start + 1} of the line)"
        raise BoundsExceeded("encoding", message, line=number) from None
    return text.removeprefix("\ufeff") if number == 1 else text


def _size(n: int) -> str:
    return f"{n // MiB} MiB" if n >= MiB and n % MiB == 0 else f"{n:,} bytes"
