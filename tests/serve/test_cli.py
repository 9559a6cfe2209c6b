"""``verimath serve`` at the command line: the refusals users meet, in one line."""

from __future__ import annotations

from pathlib import Path

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


def test_sigterm_ends_the_server_and_every_session_process() -> None:
    import signal

    from tests.serve.conftest import LIMITS, start_server

    server = start_server(*LIMITS)
    sid = server.create()
    server.cell(sid, "x = 1")
    children = _descendants(server.process.pid)
    assert children, "the fork server and the session run as the server's descendants"
    server.stop(signal.SIGTERM)
    # uvicorn shuts down gracefully, then ends by the signal it caught, as servers do
    assert server.process.returncode in (0, -signal.SIGTERM)
    assert "Traceback" not in Path(server.log).read_text()
    assert not [pid for pid in children if _alive(pid)]


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found += [int(child), *_descendants(int(child))]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
