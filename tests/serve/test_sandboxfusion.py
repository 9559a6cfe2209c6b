"""SandboxFusion's ``run_code`` request shapes, as verl, SimpleTIR and ToRL send them, against
a real server: same response shape, the code's failures apart from the sandbox's."""

from __future__ import annotations

import base64

import pytest

from tests.serve.conftest import Server

# verl's call_sandbox_api payload (verl/utils/reward_score/sandbox_fusion/utils.py)
VERL = {
    "compile_timeout": 10,
    "run_timeout": 10,
    "code": "print(int(input()) * 2)",
    "stdin": "21",
    "language": "python",
    "files": {},
    "fetch_files": [],
}
# the request shown in SandboxFusion's own API reference, with its defaults spelled out
SANDBOXFUSION_DOCS = {
    "code": "print('hello')",
    "language": "python",
    "compile_timeout": 10,
    "run_timeout": 10,
    "memory_limit_MB": -1,
    "stdin": "",
    "files": {},
    "fetch_files": [],
}
RESPONSE_KEYS = {"status", "message", "compile_result", "run_result", "executor_pod_name", "files"}
RUN_KEYS = {"status", "execution_time", "return_code", "stdout", "stderr"}


def run_code(server: Server, body: dict[str, object], path: str = "/run_code") -> dict[str, object]:
    reply = server.client.post(path, json=body)
    assert reply.status_code == 200, reply.text
    answer: dict[str, object] = reply.json()
    assert set(answer) == RESPONSE_KEYS
    return answer


def run_result(answer: dict[str, object]) -> dict[str, object]:
    result = answer["run_result"]
    assert isinstance(result, dict) and set(result) == RUN_KEYS
    return result


@pytest.mark.parametrize("path", ["/run_code", "/v1/run_code"])
def test_verl_request_with_stdin(server: Server, path: str) -> None:
    answer = run_code(server, VERL, path)
    assert answer["status"] == "Success" and answer["compile_result"] is None
    result = run_result(answer)
    assert (result["status"], result["return_code"], result["stdout"]) == ("Finished", 0, "42\n")


def test_the_documented_request(server: Server) -> None:
    answer = run_code(server, SANDBOXFUSION_DOCS)
    assert answer["status"] == "Success" and run_result(answer)["stdout"] == "hello\n"


def test_a_script_does_not_echo_its_last_expression(server: Server) -> None:
    answer = run_code(server, {"code": "x = 2\nx * 21", "language": "python"})
    assert run_result(answer)["stdout"] == ""


def test_the_codes_error_is_failed_with_a_return_code(server: Server) -> None:
    result = run_result(answer := run_code(server, {**VERL, "code": "1/0"}))
    assert answer["status"] == "Failed"
    assert (result["status"], result["return_code"]) == ("Finished", 1)
    assert "ZeroDivisionError" in str(result["stdout"])


def test_a_loop_is_time_limit_exceeded(server: Server) -> None:
    answer = run_code(server, {**VERL, "code": "while True:\n    pass", "run_timeout": 1})
    assert answer["status"] == "Failed"
    assert run_result(answer)["status"] == "TimeLimitExceeded"


def test_a_crash_is_an_error_of_the_run(server: Server) -> None:
    answer = run_code(server, {**VERL, "code": "import os\nos._exit(3)"})
    result = run_result(answer)
    assert answer["status"] == "Failed" and result["status"] == "Error"
    assert "status 3" in str(result["stderr"])


def test_files_are_written_before_the_code_runs(server: Server) -> None:
    content = base64.b64encode(b"1 2 3\n").decode()
    body = {**VERL, "stdin": None, "files": {"data/in.txt": content}}
    body["code"] = "print(sum(map(int, open('data/in.txt').read().split())))"
    assert run_result(run_code(server, body))["stdout"] == "6\n"


def test_large_timeouts_and_memory_are_capped_not_refused(server: Server) -> None:
    body = {**SANDBOXFUSION_DOCS, "run_timeout": 3600, "memory_limit_MB": 10**6}
    assert run_code(server, body)["status"] == "Success"


@pytest.mark.parametrize(
    "body",
    [
        {**VERL, "language": "cpp"},
        {**VERL, "fetch_files": ["out.txt"]},
        {**VERL, "files": {"/etc/passwd": "eA=="}},
        {**VERL, "files": {"../up": "eA=="}},
        {**VERL, "files": {"a": "not base64!"}},
        {**VERL, "run_timeout": "ten"},
        {**VERL, "code": None},
    ],
)
def test_requests_it_cannot_serve_are_400(server: Server, body: dict[str, object]) -> None:
    reply = server.client.post("/run_code", json=body)
    assert reply.status_code == 400 and reply.json()["error"] == "bad_request"


def test_one_shot_runs_leave_no_session_behind(server: Server) -> None:
    before = server.client.get("/health").json()["sessions"]
    run_code(server, {**VERL, "code": "leftover = 1"})
    assert server.client.get("/health").json()["sessions"] == before
    assert "leftover" not in str(
        run_result(run_code(server, {**VERL, "code": "print(dir())"}))["stdout"]
    )
