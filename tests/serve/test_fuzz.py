"""Any JSON a client sends is either accepted within the server's bounds or refused with a
4xx naming the field; never a 5xx, never limits above the server's (Hypothesis)."""

from __future__ import annotations

import dataclasses
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.serve.conftest import Server
from verimath.interpreter import Limits
from verimath.serve.outcomes import Refusal
from verimath.serve.sandboxfusion import parse_run_code
from verimath.serve.schema import session_limits

SERVER = Limits(timeout_s=3, memory_mb=1024)
FIELDS = [f.name for f in dataclasses.fields(Limits)]
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
LIMITS = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), JSON, max_size=4)


def _within(limits: Limits) -> bool:
    return all(getattr(limits, name) <= getattr(SERVER, name) for name in FIELDS)


@given(LIMITS | JSON)
def test_session_limits_never_exceed_the_servers(asked: object) -> None:
    try:
        limits = session_limits(asked, SERVER)
    except Refusal as refusal:
        assert refusal.status in (400, 422) and "\n" not in refusal.message
        return
    assert _within(limits)


@given(
    st.fixed_dictionaries(
        {"code": st.text(max_size=50) | JSON},
        optional={
            "language": st.sampled_from(["python", "python3", "cpp"]) | JSON,
            "run_timeout": JSON,
            "memory_limit_MB": JSON,
            "stdin": JSON,
            "files": st.dictionaries(st.text(max_size=10), JSON, max_size=3) | JSON,
            "fetch_files": JSON,
        },
    )
)
def test_run_code_requests_are_run_within_bounds_or_refused(body: dict[str, object]) -> None:
    try:
        job = parse_run_code(body, SERVER)
    except Refusal as refusal:
        assert refusal.status == 400 and "\n" not in refusal.message
        return
    assert _within(job.limits) and isinstance(job.code, str)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.fixed_dictionaries({}, optional={"limits": LIMITS | JSON, "other": JSON}))
def test_the_server_answers_any_session_request_with_201_or_4xx(
    server: Server, body: dict[str, object]
) -> None:
    # json.dumps writes NaN and Infinity as Python's json reads them: the server sees them too
    reply = server.client.post("/v1/sessions", content=json.dumps(body))
    assert reply.status_code in (201, 400, 422), reply.text
    if reply.status_code == 201:
        created = reply.json()
        assert _within(Limits(**created["limits"]))
        server.client.delete(f"/v1/sessions/{created['session_id']}")
