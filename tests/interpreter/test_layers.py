"""Isolation layers are reported truthfully, and a missing layer is announced or refused."""

from __future__ import annotations

import pytest

from verimath.errors import SandboxUnavailableError
from verimath.interpreter import CellStatus, Interpreter, SandboxDegradedWarning

from .conftest import TEST_LIMITS

EXPECTED_LAYERS = {
    "bubblewrap",
    "privileges",
    "network",
    "filesystem",
    "processes",
    "environment",
    "rlimits",
    "uid",
    "seccomp",
    "ipc",
    "scratch",
    "preload",
}


def test_every_layer_is_on_by_default(interpreter: Interpreter) -> None:
    layers = {layer.name: layer for layer in interpreter.layers}
    assert set(layers) == EXPECTED_LAYERS
    assert [name for name, layer in layers.items() if not layer.active] == []


def test_without_bubblewrap_the_missing_layers_are_announced() -> None:
    with pytest.warns(SandboxDegradedWarning, match="filesystem") as caught:
        interp = Interpreter(TEST_LIMITS, use_bwrap=False).start()
    try:
        off = {layer.name for layer in interp.layers if not layer.active}
        assert off == {"bubblewrap", "filesystem", "processes"}
        assert "bubblewrap disabled" in str(caught[0].message)
        with interp.session() as s:
            assert s.run("x = 2\nx ** 10").output == "1024\n"
            blocked = s.run("import socket\nsocket.socket()")
            assert blocked.status is CellStatus.ERROR
            assert s.run("import os\nos.getuid()").output != "0\n"
    finally:
        interp.close()


def test_strict_mode_refuses_a_degraded_sandbox() -> None:
    with pytest.raises(SandboxUnavailableError, match="filesystem"):
        Interpreter(TEST_LIMITS, use_bwrap=False, strict=True).start()


def test_closed_interpreter_says_so() -> None:
    interp = Interpreter(TEST_LIMITS)
    interp.close()
    with pytest.raises(SandboxUnavailableError, match="closed"):
        interp.session()
