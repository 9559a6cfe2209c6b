"""An HTTP server on 127.0.0.1 that answers every request with exactly the bytes a test gives:
any status, headers, content encoding, chunking and pace, for the reply-bounds tests and the
fuzz layer."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MiB = 1 << 20
JSON = (("Content-Type", "application/json"),)


@dataclass(frozen=True)
class Reply:
    """One HTTP reply, byte for byte."""

    body: bytes = b""
    status: int = 200
    headers: tuple[tuple[str, str], ...] = JSON
    chunked: bool = False
    """Send the body with ``Transfer-Encoding: chunked`` (else with ``Content-Length``)."""
    piece: int = 0
    """Write the body in pieces of this many bytes (0: at once)."""
    pause_s: float = 0.0
    """Sleep between two pieces."""
    declared_length: int | None = None
    """The Content-Length to declare, when it should lie (default: the body's length)."""
    close: bool = True
    """Close the connection after the reply."""
    repeat_body: int = 1
    """Send the body this many times (a large reply without holding it in memory)."""


@dataclass
class ReplyServer:
    """``with ReplyServer(lambda: Reply(...)) as server: server.base_url``."""

    reply: Callable[[], Reply]
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> ReplyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def next_reply(self) -> Reply:
        with self._lock:
            self.requests += 1
        return self.reply()


def _handler(server: ReplyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            reply = server.next_reply()
            try:
                self._send(reply)
            except OSError:  # the client gave up: what these tests are about
                self.close_connection = True

        def _send(self, reply: Reply) -> None:
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            total = len(reply.body) * reply.repeat_body
            if reply.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                length = total if reply.declared_length is None else reply.declared_length
                self.send_header("Content-Length", str(length))
            if reply.close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            for _ in range(reply.repeat_body):
                for piece in _pieces(reply.body, reply.piece):
                    framed = b"%x\r\n%s\r\n" % (len(piece), piece) if reply.chunked else piece
                    self.wfile.write(framed)
                    self.wfile.flush()
                    if reply.pause_s:
                        time.sleep(reply.pause_s)
            if reply.chunked:
                self.wfile.write(b"0\r\n\r\n")
            if reply.declared_length is not None and reply.declared_length != total:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True

    return Handler


def _pieces(body: bytes, size: int) -> list[bytes]:
    if not size or len(body) <= size:
        return [body] if body else []
    return [body[i : i + size] for i in range(0, len(body), size)]


def completion(content: str = "The answer is \\boxed{42}.") -> dict[str, Any]:
    """A well-formed chat completion answering ``content``."""
    message = {"role": "assistant", "content": content}
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "tiny",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
    }


@cache
def gzip_bomb(inflated_mib: int = 512) -> bytes:
    """A gzip member of zeros that inflates to ``inflated_mib`` MiB (about 1/1000 of that)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MiB)
    parts = [packer.compress(zeros) for _ in range(inflated_mib)]
    return b"".join(parts) + packer.flush()


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data)
