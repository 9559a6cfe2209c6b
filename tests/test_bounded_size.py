"""``bounded.inflated_size``: the size a stream inflates to, counted without keeping it."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verimath.bounded import BoundsExceeded, inflate, inflated_size

MiB = 1 << 20


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=5_000), st.sampled_from([15, 31, 47, -15]), st.booleans())
def test_it_agrees_with_inflate(data: bytes, wbits: int, compress: bool) -> None:
    blob = data
    if compress:
        packer = zlib.compressobj(6, zlib.DEFLATED, 31 if wbits == 47 else wbits)
        blob = packer.compress(data) + packer.flush()
    try:
        expected: int | str = len(inflate(blob, limit=4_096, wbits=wbits))
    except BoundsExceeded as exc:
        expected = exc.kind
    try:
        counted: int | str = inflated_size(blob, limit=4_096, wbits=wbits)
    except BoundsExceeded as exc:
        counted = exc.kind
    assert counted == expected


def test_a_bomb_is_refused_at_the_limit() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = b"".join(packer.compress(bytes(MiB)) for _ in range(64)) + packer.flush()
    with pytest.raises(BoundsExceeded, match="inflates to more than 1 MiB") as caught:
        inflated_size(bomb, limit=MiB, wbits=31)
    assert caught.value.kind == "size"
    assert inflated_size(bomb, limit=64 * MiB, wbits=31) == 64 * MiB
