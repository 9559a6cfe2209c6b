"""The bounded readers: every bound holds while reading, and what fits reads as the stdlib would."""

from __future__ import annotations

import contextlib
import gzip
import json
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verimath.bounded import Bounds, BoundsExceeded, inflate, json_depth, loads_json, read_lines

SMALL = Bounds(max_bytes=1 << 16, max_line=1 << 12, max_depth=8)


def test_deep_json_is_a_depth_error_not_a_recursion_error() -> None:
    with pytest.raises(BoundsExceeded) as caught:
        loads_json("[" * 100_000 + "]" * 100_000)
    assert caught.value.kind == "depth"


def test_json_just_within_the_depth_bound_is_read_just_past_it_is_not() -> None:
    assert loads_json("[" * 8 + "]" * 8, max_depth=8) == json.loads("[" * 8 + "]" * 8)
    with pytest.raises(BoundsExceeded):
        loads_json('{"a":' * 9 + "1" + "}" * 9, max_depth=8)


def test_invalid_json_is_still_a_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        loads_json("{")


def test_a_zlib_bomb_stops_at_the_limit() -> None:
    bomb = zlib.compress(b"\0" * (64 << 20), 9)
    assert len(bomb) < 100_000
    with pytest.raises(BoundsExceeded) as caught:
        inflate(bomb, limit=1 << 20)
    assert caught.value.kind == "size"
    assert inflate(zlib.compress(b"abc"), limit=3) == b"abc"


def test_truncated_and_garbage_streams_are_compression_errors() -> None:
    blob = zlib.compress(b"hello world" * 100)
    for bad in (blob[:10], b"not zlib at all"):
        with pytest.raises(BoundsExceeded) as caught:
            inflate(bad, limit=1 << 20)
        assert caught.value.kind == "compression"


def test_a_gzip_file_holding_one_huge_line_stops_at_the_line_bound(tmp_path: Path) -> None:
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=9) as handle:
        handle.write(b"a" * (8 << 20))
    with pytest.raises(BoundsExceeded) as caught:
        list(read_lines(path, Bounds(max_bytes=1 << 30, max_line=1 << 20)))
    assert (caught.value.kind, caught.value.line) == ("line", 1)


def test_a_gzip_file_past_the_size_bound_stops_there(tmp_path: Path) -> None:
    path = tmp_path / "big.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"x\n" * (1 << 20))
    with pytest.raises(BoundsExceeded) as caught:
        list(read_lines(path, Bounds(max_bytes=1 << 16)))
    assert caught.value.kind == "size"


def test_gzip_is_told_by_its_bytes_and_members_are_all_read(tmp_path: Path) -> None:
    path = tmp_path / "named-plain.jsonl"
    path.write_bytes(gzip.compress(b"one\ntwo") + gzip.compress(b"\nthree\n"))
    assert [text for _, text in read_lines(path)] == ["one\n", "two\n", "three\n"]


def test_truncated_gzip_is_a_compression_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(b"line\n" * 10_000)[:200])
    with pytest.raises(BoundsExceeded) as caught:
        list(read_lines(path))
    assert caught.value.kind == "compression"


def test_bad_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b": "\xff"}\n')
    with pytest.raises(BoundsExceeded) as caught:
        list(read_lines(path))
    assert (caught.value.kind, caught.value.line) == ("encoding", 2)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.text(alphabet=st.characters(exclude_characters="\n\r")), max_size=20))
def test_lines_read_back_as_written_plain_or_gzip(tmp_path: Path, lines: list[str]) -> None:
    data = "".join(line + "\n" for line in lines).encode()
    for raw, name in ((data, "plain"), (gzip.compress(data), "gz")):
        path = tmp_path / name
        path.write_bytes(raw)
        got = [text for _, text in read_lines(path, Bounds(max_line=1 << 20))]
        expected = [line + "\n" for line in lines]
        if expected:
            expected[0] = expected[0].removeprefix("\ufeff")
        assert got == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_json_reads_as_the_stdlib_does_or_is_a_depth_error(value: object) -> None:
    text = json.dumps(value)
    depth = json_depth(value, limit=1_000)
    if depth > SMALL.max_depth:
        with pytest.raises(BoundsExceeded):
            loads_json(text, max_depth=SMALL.max_depth)
    else:
        assert loads_json(text, max_depth=SMALL.max_depth) == json.loads(text)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2_000))
def test_any_bytes_either_inflate_within_the_limit_or_raise_bounds_exceeded(blob: bytes) -> None:
    with contextlib.suppress(BoundsExceeded):
        assert len(inflate(blob, limit=4_096, wbits=47)) <= 4_096
