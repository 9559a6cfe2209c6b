"""``verimath serve`` at the command line: the refusals users meet, in one line."""

from __future__ import annotations

from tests.cli.cli_helpers import error_line, run_cli


def test_it_refuses_to_listen_off_loopback_without_a_token() -> None:
    line = error_line(run_cli("serve", "--host", "0.0.0.0", "--port", "0"))
    assert "refusing to serve on 0.0.0.0 without a token" in line
    assert "VERIMATH_SERVE_TOKEN" in line


def test_a_short_token_is_refused() -> None:
    line = error_line(run_cli("serve", "--port", "0", "--token", "short"))
    assert "at least 16 characters" in line


def test_a_busy_port_is_one_line() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        line = error_line(run_cli("serve", "--port", port))
    assert f"cannot listen on 127.0.0.1:{port}" in line
