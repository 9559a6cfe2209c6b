"""Every answer the server gives besides a cell's result: one HTTP status per outcome.

A cell that ran answers 200 whatever its code did (the body's ``status`` says: ``ok``,
``error``, ``timeout``, ``memory``, ``killed``). Everything else is a :class:`Refusal`: the
request was wrong, the server is full, or the sandbox itself failed. Its body is
``{"error": KIND, "message": ONE LINE}``.
"""

from __future__ import annotations

from dataclasses import dataclass

OUTCOMES: dict[str, tuple[int, str]] = {
    "bad_request": (
        400,
        "the body is not the JSON object this endpoint takes, or a field is wrong",
    ),
    "unauthorized": (401, "no bearer token, or not the server's"),
    "not_found": (404, "no such session: never created, closed, or expired after its TTL"),
    "busy": (409, "a cell of this session is still running; cells of one session run in order"),
    "lost": (410, "the session's server ended (restart or lost replica); its variables are gone"),
    "too_large": (413, "the body or the cell is larger than the server accepts"),
    "limits": (422, "the limits asked for are larger than the server's, or not limits"),
    "overloaded": (429, "too many live sessions or queued cells; retry after Retry-After"),
    "internal": (500, "a bug in the server; the message says where"),
    "replica_unreachable": (502, "the router could not reach any replica for this request"),
    "sandbox_unavailable": (503, "the sandbox cannot run code (an infrastructure failure)"),
}
"""Kind -> (HTTP status, when). docs/serve.md lists this table."""


@dataclass
class Refusal(Exception):
    """A request the server answers with an error status instead of a result."""

    kind: str
    message: str
    retry_after_s: int | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def status(self) -> int:
        return OUTCOMES[self.kind][0]

    def body(self) -> dict[str, str]:
        return {"error": self.kind, "message": self.message}
