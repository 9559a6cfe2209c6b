"""Reading raw records from JSONL and CSV files, and typed access to their fields.

Every failure becomes an :class:`~verimath.errors.InputError` naming the file, the line and,
where one is to blame, the field. Files are read through :mod:`verimath.bounded` within
:data:`DATASET_BOUNDS` (gzip told by its first bytes), so a decompression bomb, a line of a
gigabyte, JSON nested past its depth or bytes that are not UTF-8 are each one error. Readers
yield records lazily, but callers collect the whole file before using any of it, so a bad
line never leaves a half-loaded dataset behind.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verimath.bounded import Bounds, BoundsExceeded, input_lines, loads_json
from verimath.errors import InputError

__all__ = [
    "CSV_SUFFIXES",
    "DATASET_BOUNDS",
    "JSONL_SUFFIXES",
    "Record",
    "number_text",
    "read_records",
]

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson")
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
MiB = 1 << 20
DATASET_BOUNDS = Bounds(max_bytes=256 * MiB, max_line=8 * MiB, max_depth=64)
"""A dataset file holds at most 256 MiB (after decompression), a record at most 8 MiB on one
line, its JSON nested at most 64 deep (MATH, the largest shipped set, is 4.3 MiB, with lines
under 7 KiB)."""

_LEVEL_TEXT = re.compile(r"(?:level\s*)?(\d+|\?)", re.IGNORECASE)
# Integral floats up to 2**53 are exact, so printing them as integers loses nothing.
_EXACT_INTEGER_LIMIT = 2**53


@dataclass(frozen=True, slots=True)
class Record:
    """One source record with its location, and typed accessors that fail with InputError."""

    data: Mapping[str, Any]
    path: str
    line: int
    """1-based line of the record (CSV: the line it ends on; Hugging Face: the 1-based row)."""
    index: int
    """0-based position of the record among the records of its source."""

    def error(self, message: str, field: str | None = None) -> InputError:
        """An InputError pointing at this record (and ``field``, if given)."""
        return InputError(message, path=self.path, line=self.line, field=field)

    def has(self, field: str) -> bool:
        """Whether ``field`` is present and not null (an empty CSV cell counts as absent)."""
        return self.data.get(field) not in (None, "")

    def raw(self, field: str) -> Any:
        """The value of a required field, which must be present and not null."""
        if field not in self.data:
            present = ", ".join(repr(key) for key in self.data) or "none"
            raise self.error(f"missing field (fields present: {present})", field)
        value = self.data[field]
        if value is None:
            raise self.error("is null; a value is required", field)
        return value

    def text(self, field: str) -> str:
        """A required, non-empty string field, returned unchanged."""
        value = self.raw(field)
        if not isinstance(value, str):
            raise self.error(f"expected a string, got {_type_name(value)}", field)
        if not value.strip():
            raise self.error("is empty", field)
        return value

    def optional_text(self, field: str | None) -> str | None:
        """A string field that may be absent or empty (then None)."""
        if field is None or not self.has(field):
            return None
        return self.text(field)

    def answer(self, field: str) -> str:
        """A gold answer: a non-empty string, or a JSON number rendered by :func:`number_text`."""
        value = self.raw(field)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(f"expected a string or a number, got {_type_name(value)}", field)
        if isinstance(value, str):
            return self.text(field)
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(f"is {value!r}, not a usable answer", field)
        return number_text(value)

    def integer(self, field: str) -> int:
        """A required integer field (JSON integer or a string of digits)."""
        value = self.raw(field)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        raise self.error(f"expected an integer, got {_type_name(value)} {value!r}", field)

    def level(self, field: str | None) -> int | None:
        """A difficulty level: an integer, ``"3"`` or ``"Level 3"``; ``"Level ?"`` gives None."""
        if field is None or not self.has(field):
            return None
        value = self.data[field]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        match = _LEVEL_TEXT.fullmatch(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise self.error(f"expected a level such as 3 or 'Level 3', got {value!r}", field)
        return None if match.group(1) == "?" else int(match.group(1))

    def identifier(self, field: str) -> str:
        """A required id: a non-empty string or an integer, as a string."""
        value = self.raw(field)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and value.strip():
            return value
        raise self.error(f"expected a non-empty string or an integer, got {value!r}", field)

    def string_list(self, field: str) -> tuple[str, ...]:
        """A required list of non-empty strings (numbers are accepted and printed)."""
        value = self.raw(field)
        if not isinstance(value, list | tuple) or not value:
            raise self.error(f"expected a non-empty list, got {_type_name(value)}", field)
        items = []
        for position, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                got = _type_name(item)
                raise self.error(f"item {position} should be a string, got {got}", field)
            text = item if isinstance(item, str) else number_text(item)
            if not text.strip():
                raise self.error(f"item {position} is empty", field)
            items.append(text)
        return tuple(items)

    def rest(self, used: Iterable[str]) -> dict[str, Any]:
        """The fields not in ``used``, for :attr:`Problem.meta`."""
        skip = set(used)
        return {key: value for key, value in self.data.items() if key not in skip}


def number_text(value: int | float) -> str:
    """A JSON number as answer text: ``145.0`` -> ``"145"``, ``0.5`` -> ``"0.5"``.

    Floats print as the shortest decimal that reads back as the same double (``repr``), so
    ``5186630.5999999996`` and ``5186630.6`` both give ``"5186630.6"``.
    """
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_INTEGER_LIMIT:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _type_name(value: Any) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a number"}
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return names.get(type(value), type(value).__name__)


def read_records(path: Path) -> list[Record]:
    """All records of a ``.jsonl``/``.csv``/``.tsv`` file (optionally ``.gz``), in order."""
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return list(_jsonl_records(path))
    if name.endswith(CSV_SUFFIXES):
        return list(_csv_records(path, delimiter="\t" if ".tsv" in name else ","))
    accepted = ", ".join(JSONL_SUFFIXES + CSV_SUFFIXES)
    raise InputError(f"unsupported file type; expected one of {accepted}", path=str(path))


def _jsonl_records(path: Path) -> Iterator[Record]:
    index = 0
    for line, text in input_lines(path, DATASET_BOUNDS):
        if not text.strip():
            continue  # blank lines (a trailing one especially) carry no record
        try:
            data = loads_json(text.rstrip("\r\n"), max_depth=DATASET_BOUNDS.max_depth)
        except json.JSONDecodeError as exc:
            message = f"invalid JSON: {exc.msg} (column {exc.colno})"
            raise InputError(message, path=str(path), line=line) from exc
        except BoundsExceeded as exc:
            raise InputError(str(exc), path=str(path), line=line) from None
        if not isinstance(data, dict):
            message = f"expected a JSON object per line, got {_type_name(data)}"
            raise InputError(message, path=str(path), line=line)
        yield Record(data=data, path=str(path), line=line, index=index)
        index += 1


def _csv_records(path: Path, delimiter: str) -> Iterator[Record]:
    chunks = [text for _, text in input_lines(path, DATASET_BOUNDS)]
    reader = csv.reader(io.StringIO("".join(chunks), newline=""), delimiter=delimiter)
    header = _csv_header(reader, path)
    index = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(f"malformed CSV: {exc}", path=str(path), line=reader.line_num) from exc
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            message = f"has {len(row)} columns, the header has {len(header)}"
            raise InputError(message, path=str(path), line=reader.line_num)
        yield Record(dict(zip(header, row, strict=True)), str(path), reader.line_num, index)
        index += 1


def _csv_header(reader: Iterator[list[str]], path: Path) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("empty file: no header row", path=str(path), line=1) from None
    except csv.Error as exc:
        raise InputError(f"malformed CSV header: {exc}", path=str(path), line=1) from exc
    seen: set[str] = set()
    for column in header:
        if not column.strip():
            raise InputError("the header has an empty column name", path=str(path), line=1)
        if column in seen:
            raise InputError(f"the header repeats column {column!r}", path=str(path), line=1)
        seen.add(column)
    return header
