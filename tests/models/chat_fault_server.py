"""An OpenAI-compatible chat server on 127.0.0.1 that fails on cue, for retry tests.

Each request takes the next fault from the queue (``default``, ``ok`` unless set, once it is
empty). A successful answer
echoes the last user message, so tests can check that every request got its own answer.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Fault:
    """What the server does with one request."""

    kind: str
    """ok | status | hang | malformed | drop | partial (half the body, then the connection
    drops)"""
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    content: str | None = None
    """For ``ok``: the assistant content to answer (default: an echo of the prompt); for
    ``status``: the error message (default: ``injected STATUS``)."""
    tool_arguments: str | None = None
    """For ``ok`` in function style: the python call's arguments (None: JSON code; ``""``:
    no tool call, the content alone)."""


OK = Fault("ok")
HANG = Fault("hang")
MALFORMED = Fault("malformed")
DROP = Fault("drop")
PARTIAL = Fault("partial")
CONTEXT_LENGTH = Fault("context")
CONTEXT_MESSAGE = (
    "This model's maximum context length is 4096 tokens. However, you requested 4597 tokens "
    "(2549 in the messages, 2048 in the completion). Please reduce the length of the messages "
    "or completion."
)
"""vLLM's words (its OpenAI server answers them as a 400 with the error object at the top)."""


def status(code: int, message: str | None = None, **headers: str) -> Fault:
    pairs = tuple((k.replace("_", "-"), v) for k, v in headers.items())
    return Fault("status", code, pairs, content=message)


@dataclass
class Seen:
    """One request as the server received it."""

    at: float
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FaultyChatServer:
    """Start with ``with FaultyChatServer([...]) as server: server.base_url``."""

    faults: list[Fault] = field(default_factory=list)
    max_choices: int | None = None
    """Answer at most this many choices whatever ``n`` asks (as llama.cpp's server does)."""
    delay_s: float = 0.0
    """Time each successful answer takes."""
    hang_s: float = 3.0
    default: Fault = field(default_factory=lambda: OK)
    """What every request gets once the queue is empty (set it to change the server's mood)."""
    seen: list[Seen] = field(default_factory=list)
    max_in_flight: int = 0
    scripted: dict[str, str] = field(default_factory=dict)
    """Content answered (instead of the fault's) to a conversation whose first user message
    holds the key: a script per problem, whatever the order the requests come in."""
    context_messages: int | None = None
    """Answer 400 "maximum context length", as vLLM does, to a conversation of more messages
    than this (None: any length)."""

    def __post_init__(self) -> None:
        self._queue = deque(self.faults)
        self._lock = threading.Lock()
        self._in_flight = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FaultyChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def take(self, body: dict[str, Any], headers: dict[str, str]) -> Fault:
        with self._lock:
            self.seen.append(Seen(time.monotonic(), body, headers))
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            return self._queue.popleft() if self._queue else self.default

    def done(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def answer(self, body: dict[str, Any], fault: Fault) -> dict[str, Any]:
        arguments = fault.tool_arguments
        n = body.get("n", 1)
        if self.max_choices is not None:
            n = min(n, self.max_choices)
        prompt = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
        first = next(m["content"] for m in body["messages"] if m["role"] == "user")
        script = [text for key, text in self.scripted.items() if key in first]
        content = script[0] if script else fault.content or f"echo: {prompt}"
        choices = [self._choice(i, body, content, arguments) for i in range(n)]
        usage = {"prompt_tokens": 11, "completion_tokens": 7 * n, "total_tokens": 11 + 7 * n}
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": choices,
            "usage": usage,
        }

    @staticmethod
    def _choice(
        index: int, body: dict[str, Any], content: str, arguments: str | None = None
    ) -> dict[str, Any]:
        if body.get("tools") and arguments != "":
            arguments = arguments or json.dumps({"code": "print(6*7)"})
            call = {
                "id": f"call_{index}",
                "type": "function",
                "function": {"name": "python", "arguments": arguments},
            }
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            return {"index": index, "message": message, "finish_reason": "tool_calls"}
        message = {"role": "assistant", "content": content}
        return {"index": index, "message": message, "finish_reason": "stop"}


def _handler(server: FaultyChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        _counted = False

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length))
            fault = server.take(body, {k.lower(): v for k, v in self.headers.items()})
            limit = server.context_messages
            if limit is not None and len(body["messages"]) > limit:
                fault = CONTEXT_LENGTH
            self._counted = True
            try:
                self._serve(body, fault)
            finally:
                self._answered()

        def _answered(self) -> None:
            """Count the request out of flight once, before the client can see its end: a
            client may send its next request the moment the last byte arrives."""
            if self._counted:
                self._counted = False
                server.done()

        def _serve(self, body: dict[str, Any], fault: Fault) -> None:
            if fault.kind == "drop":
                self._answered()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
            elif fault.kind == "hang":
                time.sleep(server.hang_s)
                self.close_connection = True
            elif fault.kind == "partial":
                data = json.dumps(server.answer(body, OK)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self._answered()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
            elif fault.kind == "malformed":
                self._send(200, b'{"id": "chatcmpl-test", "choices": [{"index": 0, "mess')
            elif fault.kind == "context":
                error = {"message": CONTEXT_MESSAGE, "type": "BadRequestError", "code": 400}
                self._send(400, json.dumps(error).encode())
            elif fault.kind == "status":
                message = fault.content or f"injected {fault.status}"
                error = {"error": {"message": message, "type": "test"}}
                self._send(fault.status, json.dumps(error).encode(), fault.headers)
            else:
                time.sleep(server.delay_s)
                self._send(200, json.dumps(server.answer(body, fault)).encode())

        def _send(self, code: int, data: bytes, headers: tuple[tuple[str, str], ...] = ()) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self._answered()
            self.wfile.write(data)

    return Handler
