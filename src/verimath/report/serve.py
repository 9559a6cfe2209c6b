"""Serving one viewer file on 127.0.0.1 (never another interface)."""

from __future__ import annotations

from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["HOST", "make_server"]

HOST = "127.0.0.1"


def make_server(page: Path, port: int = 0) -> ThreadingHTTPServer:
    """A server answering ``GET /`` with ``page`` (read on each request) and 404 otherwise.

    ``port`` 0 picks a free port: read it from ``server.server_address``.
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            if self.path.split("?")[0] not in ("/", "/index.html"):
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            body = page.read_bytes()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the command prints its URL once

    return ThreadingHTTPServer((HOST, port), Handler)
