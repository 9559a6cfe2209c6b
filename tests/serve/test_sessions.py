"""Sessions over HTTP against a real server: lifecycle, state across cells, bounds on every
request, one status per outcome, auth, metrics."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from tests.serve.conftest import LIMITS, Server, start_server


def test_lifecycle_keeps_state_across_cells(server: Server) -> None:
    sid = server.create()
    assert server.cell(sid, "x = 41")["status"] == "ok"
    second = server.cell(sid, "x + 1")
    assert (second["status"], second["output"], second["cell_index"]) == ("ok", "42\n", 2)
    state = server.client.get(f"/v1/sessions/{sid}").json()
    assert state["cells"] == 2 and state["alive"] and not state["busy"]
    assert state["cpu_s"] > 0
    closed = server.client.delete(f"/v1/sessions/{sid}")
    assert closed.status_code == 200 and closed.json()["closed"] is True
    gone = server.client.post(f"/v1/sessions/{sid}/cells", json={"code": "x"})
    assert gone.status_code == 404 and gone.json()["error"] == "not_found"


def test_the_codes_own_errors_are_results_not_failures(server: Server) -> None:
    sid = server.create()
    result = server.cell(sid, "1/0")
    assert result["status"] == "error" and "ZeroDivisionError" in str(result["output"])
    assert server.cell(sid, "print('still here')")["output"] == "still here\n"


def test_sessions_are_isolated_from_one_another(server: Server) -> None:
    first, second = server.create(), server.create()
    server.cell(first, "secret = 1")
    result = server.cell(second, "secret")
    assert result["status"] == "error" and "NameError" in str(result["output"])


def test_a_session_asks_for_lower_limits_not_higher(server: Server) -> None:
    sid = server.create(limits={"timeout_s": 1, "max_output_chars": 200})
    state = server.client.get(f"/v1/sessions/{sid}").json()
    assert state["limits"]["timeout_s"] == 1 and state["limits"]["max_output_chars"] == 200
    assert len(str(server.cell(sid, "print('y' * 5000)")["output"])) < 400
    higher = server.client.post("/v1/sessions", json={"limits": {"memory_mb": 4096}})
    assert higher.status_code == 422 and "memory_mb" in higher.json()["message"]
    cell_higher = server.client.post(
        f"/v1/sessions/{sid}/cells", json={"code": "1", "timeout_s": 5}
    )
    assert cell_higher.status_code == 422


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        (b"not json", 400, "bad_request"),
        (b"[1, 2]", 400, "bad_request"),
        (json.dumps({"code": 5}).encode(), 400, "bad_request"),
        (json.dumps({"code": "1", "extra": 1}).encode(), 400, "bad_request"),
        (json.dumps({"code": "1", "timeout_s": -1}).encode(), 400, "bad_request"),
        (json.dumps({"code": "1", "timeout_s": True}).encode(), 400, "bad_request"),
        (b'{"code": "1", "timeout_s": ' + b"[" * 50 + b"]" * 50 + b"}", 400, "bad_request"),
        (json.dumps({"code": "x" * 300_000}).encode(), 413, "too_large"),
        (b'{"code": "' + b"x" * (2 << 20) + b'"}', 413, "too_large"),
        (b'{"code": "\xff\xfe"}', 400, "bad_request"),
    ],
)
def test_every_request_is_bounded_and_checked(
    server: Server, body: bytes, status: int, kind: str
) -> None:
    sid = server.create()
    reply = server.client.post(f"/v1/sessions/{sid}/cells", content=body)
    assert reply.status_code == status, reply.text
    assert reply.json()["error"] == kind and "\n" not in reply.json()["message"]
    assert server.cell(sid, "'after'")["output"] == "'after'\n"


@pytest.mark.parametrize(
    "body", [{"limits": {"bogus": 1}}, {"limits": {"timeout_s": "1"}}, {"x": 1}]
)
def test_bad_session_requests_name_the_field(server: Server, body: dict[str, object]) -> None:
    reply = server.client.post("/v1/sessions", json=body)
    assert reply.status_code == 400 and reply.json()["error"] == "bad_request"


def test_an_id_of_an_earlier_server_run_is_lost_not_unknown(server: Server) -> None:
    sid = server.create()
    instance, _, secret = sid.partition("-")
    earlier = "0" * 8 if instance != "0" * 8 else "1" * 8
    lost = server.client.get(f"/v1/sessions/{earlier}-{secret}")
    assert lost.status_code == 410 and lost.json()["error"] == "lost"
    for unknown in (f"{sid}x", f"{instance}-{'A' * 16}", "nonsense"):
        assert server.client.get(f"/v1/sessions/{unknown}").status_code == 404


def test_requests_without_the_token_are_401(server: Server) -> None:
    bare = httpx.Client(base_url=server.url, timeout=30)
    for method, path in [("POST", "/v1/sessions"), ("GET", "/metrics"), ("POST", "/run_code")]:
        reply = bare.request(method, path, json={"code": "1"})
        assert reply.status_code == 401 and reply.json()["error"] == "unauthorized"
    wrong = bare.post("/v1/sessions", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    assert bare.get("/health").status_code == 200  # liveness needs no token
    bare.close()


def test_a_second_cell_while_one_runs_is_409(server: Server) -> None:
    sid = server.create()
    slow = threading.Thread(target=server.cell, args=(sid, "import time; time.sleep(2)"))
    slow.start()
    _wait_until(lambda: server.client.get(f"/v1/sessions/{sid}").json()["busy"])
    second = server.client.post(f"/v1/sessions/{sid}/cells", json={"code": "1"})
    slow.join()
    assert second.status_code == 409 and second.json()["error"] == "busy"


def test_a_session_survives_its_clients_disconnect(server: Server) -> None:
    sid = server.create()
    impatient = httpx.Client(
        base_url=server.url, headers=server.client.headers, timeout=httpx.Timeout(5, read=0.3)
    )
    with pytest.raises(httpx.ReadTimeout):
        impatient.post(
            f"/v1/sessions/{sid}/cells", json={"code": "import time\ntime.sleep(1.5)\ny = 7"}
        )
    impatient.close()
    _wait_until(lambda: not server.client.get(f"/v1/sessions/{sid}").json()["busy"])
    assert server.cell(sid, "y")["output"] == "7\n"


def test_metrics_are_prometheus_text(server: Server) -> None:
    sid = server.create()
    server.cell(sid, "1")
    text = server.client.get("/metrics").text
    for name in (
        "verimath_sessions_live",
        "verimath_cells_total",
        "verimath_cell_seconds_bucket",
        "verimath_rejections_total",
        "verimath_failures_total",
    ):
        assert name in text, name


def test_openapi_in_the_docs_is_the_generated_one(server: Server) -> None:
    from tests.shared import CHECKOUT
    from verimath.serve.openapi import openapi_document

    served = server.client.get("/openapi.json").json()
    assert served == openapi_document()
    docs = (CHECKOUT / "docs" / "serve.md").read_text(encoding="utf-8")
    block = docs.split("<!-- openapi -->\n```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(block) == served, "regenerate: python -m verimath.serve.openapi"


@pytest.mark.slow
def test_idle_sessions_expire_after_the_ttl() -> None:
    short = start_server(*LIMITS, "--ttl", "1")
    try:
        sid = short.create()
        short.cell(sid, "z = 1")
        _wait_until(lambda: short.client.get(f"/v1/sessions/{sid}").status_code == 404)
        reply = short.client.post(f"/v1/sessions/{sid}/cells", json={"code": "z"})
        assert reply.status_code == 404 and "expired" in reply.json()["message"]
        assert short.client.get("/health").json()["sessions"] == 0
    finally:
        short.stop()


def _wait_until(condition: object, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("the condition never held")


def test_the_documented_statuses_are_the_servers() -> None:
    import re

    from tests.shared import CHECKOUT
    from verimath.serve.outcomes import OUTCOMES

    docs = (CHECKOUT / "docs" / "serve.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d{3}) \| `(\w+)` \| (.+) \|$", docs, flags=re.MULTILINE)
    assert {kind: (int(code), when) for code, kind, when in rows} == OUTCOMES
