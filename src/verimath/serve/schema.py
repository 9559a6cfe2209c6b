"""Requests as the server reads them: bounded, parsed, checked field by field.

Each reader raises a :class:`~verimath.serve.outcomes.Refusal` naming the field and what is
accepted; nothing of a request reaches the sandbox before it passed here.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from starlette.requests import Request

from verimath.bounded import BoundsExceeded, loads_json
from verimath.errors import ConfigError
from verimath.interpreter import Limits
from verimath.serve.config import ServeConfig
from verimath.serve.outcomes import Refusal

LIMIT_FIELDS = frozenset(f.name for f in dataclasses.fields(Limits))
INTEGER_LIMITS = frozenset(f.name for f in dataclasses.fields(Limits) if f.type in (int, "int"))


async def read_object(request: Request, config: ServeConfig) -> dict[str, Any]:
    """The request's body as a JSON object, within the server's size and depth bounds."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > config.max_request_bytes:
        raise Refusal(
            "too_large", f"the body is {declared} bytes; at most {config.max_request_bytes}"
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > config.max_request_bytes:
            raise Refusal("too_large", f"the body is over {config.max_request_bytes} bytes")
    if not body:
        return {}
    try:
        value = loads_json(bytes(body), max_depth=config.max_json_depth)
    except BoundsExceeded as exc:
        raise Refusal("bad_request", f"the body's JSON is too deep: {exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refusal("bad_request", f"the body is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise Refusal("bad_request", f"the body must be a JSON object, not {type(value).__name__}")
    return value


def only_fields(body: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise Refusal(
            "bad_request",
            f"unknown field(s) {', '.join(repr(name)[:40] for name in unknown[:5])} in {where}; "
            f"known: {', '.join(sorted(allowed))}",
        )


def number(value: object, name: str, *, integer: bool = False) -> float:
    """A positive finite number (an integer where ``integer``), else a Refusal naming ``name``."""
    kind = "a positive integer" if integer else "a positive number"
    refusal = Refusal("bad_request", f"{name} must be {kind}, got {value!r}"[:300])
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise refusal
    if not math.isfinite(value) or value <= 0 or (integer and value != int(value)):
        raise refusal
    return float(value)


def session_limits(asked: object, server: Limits) -> Limits:
    """The limits of a new session: the server's, lowered where ``asked`` says; a Refusal
    when a field is unknown, not a number, or above the server's."""
    if asked is None:
        return server
    if not isinstance(asked, dict):
        raise Refusal("bad_request", "limits must be an object of limit names to numbers")
    only_fields(asked, LIMIT_FIELDS, "limits")
    lowered: dict[str, Any] = {}
    for name, value in asked.items():
        integer = name in INTEGER_LIMITS
        given = number(value, f"limits.{name}", integer=integer)
        ceiling = getattr(server, name)
        if given > ceiling:
            raise Refusal("limits", f"limits.{name} is {value}, above the server's {ceiling}")
        lowered[name] = int(given) if integer else given
    try:
        return dataclasses.replace(server, **lowered)
    except ConfigError as exc:
        raise Refusal("limits", str(exc)) from exc


def cell_code(body: dict[str, Any], config: ServeConfig, field: str = "code") -> str:
    code = body.get(field)
    if not isinstance(code, str):
        raise Refusal("bad_request", f"{field} must be a string of Python")
    if len(code) > config.max_code_chars:
        raise Refusal(
            "too_large", f"{field} is {len(code)} characters; at most {config.max_code_chars}"
        )
    return code


def cell_timeout(body: dict[str, Any], ceiling: float) -> float | None:
    """The cell's own time limit, at most its session's (None: the session's)."""
    value = body.get("timeout_s")
    if value is None:
        return None
    given = number(value, "timeout_s")
    if given > ceiling:
        raise Refusal("limits", f"timeout_s is {value}, above the session's {ceiling:g}")
    return given
