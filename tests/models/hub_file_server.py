"""A Hugging Face-like file server on 127.0.0.1: ``/OWNER/REPO/resolve/REV/FILE``.

Serves byte ranges, can cut the connection mid-file, redirect to a "CDN" path, and answer
401 for gated repositories, so the downloader's resume, redirect and error paths run for real.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_RESOLVE = re.compile(r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)")


@dataclass
class FileServer:
    files: dict[tuple[str, str, str], bytes]
    """(repo id, revision, file name) -> bytes."""
    cut_after: list[int] = field(default_factory=list)
    """For the first len(cut_after) file responses: bytes sent before dropping the connection."""
    redirect: bool = False
    """Answer resolve URLs with a 302 to /cdn/..., as the Hub does."""
    gated: frozenset[str] = frozenset()
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def record(self, path: str, headers: dict[str, str]) -> int | None:
        """Log a request; the byte budget of this response if it is to be cut."""
        with self._lock:
            self.requests.append({"path": path, "headers": headers})
            if path.startswith("/cdn/") or not self.redirect:
                return self.cut_after.pop(0) if self.cut_after else None
            return None


def _handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            budget = server.record(self.path, headers)
            is_cdn = self.path.startswith("/cdn/")
            match = _RESOLVE.fullmatch(self.path.removeprefix("/cdn"))
            if match is None:
                return self._status(404)
            if match["repo"] in server.gated and not is_cdn and "authorization" not in headers:
                return self._status(401)
            data = server.files.get((match["repo"], match["rev"], match["file"]))
            if data is None:
                return self._status(404)
            if server.redirect and not is_cdn:
                self.send_response(302)
                self.send_header("Location", "/cdn" + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            self._file(data, headers.get("range"), budget)
            return None

        def _file(self, data: bytes, range_header: str | None, budget: int | None) -> None:
            start = 0
            if range_header and (m := re.fullmatch(r"bytes=(\d+)-", range_header)):
                start = int(m.group(1))
                if start >= len(data):
                    return self._status(416)
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if budget is not None:
                self.wfile.write(body[:budget])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return None
            self.wfile.write(body)
            return None

        def _status(self, code: int) -> None:
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler
