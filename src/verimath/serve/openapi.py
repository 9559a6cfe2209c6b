"""The service's OpenAPI document, generated from the schemas below and the outcome table.

``python -m verimath.serve.openapi`` prints it; docs/serve.md embeds that output and a test
keeps the two equal.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from verimath.interpreter import CellStatus, Limits
from verimath.serve.outcomes import OUTCOMES

NUMBER = {"type": "number", "exclusiveMinimum": 0}
LIMITS = {
    "type": "object",
    "description": "Session limits, each at most the server's (GET /v1/info); omitted: "
    "the server's.",
    "additionalProperties": False,
    "properties": {
        f.name: {"type": "integer" if f.type in (int, "int") else "number", "exclusiveMinimum": 0}
        for f in dataclasses.fields(Limits)
    },
}
SESSION_STATE = {
    "type": "object",
    "properties": {
        "session_id": {"type": "string"},
        "alive": {"type": "boolean", "description": "False when the last cell ended the process."},
        "busy": {"type": "boolean"},
        "cells": {"type": "integer"},
        "cpu_s": {"type": "number"},
        "idle_s": {"type": "number"},
        "expires_in_s": {"type": "number"},
        "ended_because": {"type": ["string", "null"]},
        "limits": {"$ref": "#/components/schemas/Limits"},
    },
}
CELL_RESULT = {
    "type": "object",
    "properties": {
        "session_id": {"type": "string"},
        "status": {"enum": [str(s) for s in CellStatus], "description": "The code's own outcome."},
        "output": {"type": "string", "description": "stdout + stderr, cut head and tail."},
        "duration_s": {"type": "number"},
        "cell_index": {"type": "integer"},
        "restarted": {"type": "boolean"},
        "detail": {"type": ["string", "null"]},
        "cpu_s": {"type": "number"},
    },
}
RUN_RESULT = {
    "type": "object",
    "properties": {
        "status": {"enum": ["Finished", "Error", "TimeLimitExceeded"]},
        "execution_time": {"type": "number"},
        "return_code": {"type": ["integer", "null"]},
        "stdout": {"type": "string"},
        "stderr": {"type": "string"},
    },
}
RUN_CODE_REQUEST = {
    "type": "object",
    "required": ["code"],
    "properties": {
        "code": {"type": "string"},
        "language": {"enum": ["python", "python3"]},
        "run_timeout": {**NUMBER, "description": "Capped at the server's timeout_s."},
        "compile_timeout": {"type": "number", "description": "Ignored (Python)."},
        "memory_limit_MB": {"type": "integer", "description": "-1: the server's; else capped."},
        "stdin": {"type": ["string", "null"]},
        "files": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
        "fetch_files": {"type": "array", "maxItems": 0},
    },
}
RUN_CODE_RESPONSE = {
    "type": "object",
    "properties": {
        "status": {"enum": ["Success", "Failed", "SandboxError"]},
        "message": {"type": "string"},
        "compile_result": {"type": "null"},
        "run_result": {"oneOf": [{"$ref": "#/components/schemas/RunResult"}, {"type": "null"}]},
        "executor_pod_name": {"type": "null"},
        "files": {"type": "object"},
    },
}
REFUSAL = {
    "type": "object",
    "properties": {"error": {"enum": sorted(OUTCOMES)}, "message": {"type": "string"}},
}

SCHEMAS = {
    "Limits": LIMITS,
    "SessionState": SESSION_STATE,
    "CellResult": CELL_RESULT,
    "RunResult": RUN_RESULT,
    "RunCodeRequest": RUN_CODE_REQUEST,
    "RunCodeResponse": RUN_CODE_RESPONSE,
    "Refusal": REFUSAL,
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


# path, method, summary, request schema, success status, success schema, refusal kinds
ENDPOINTS: list[tuple[str, str, str, dict[str, Any] | None, int, dict[str, Any], list[str]]] = [
    ("/health", "get", "Liveness; needs no token.", None, 200, {"type": "object"}, []),
    ("/metrics", "get", "Prometheus text format.", None, 200, {"type": "string"}, []),
    ("/v1/info", "get", "The server's limits and bounds.", None, 200, {"type": "object"}, []),
    (
        "/v1/sessions",
        "post",
        "Create a session (its process starts with its first cell).",
        {
            "type": "object",
            "properties": {"limits": _ref("Limits")},
            "additionalProperties": False,
        },
        201,
        _ref("SessionState"),
        ["bad_request", "limits", "too_large", "overloaded", "sandbox_unavailable"],
    ),
    (
        "/v1/sessions/{sid}",
        "get",
        "A session's state.",
        None,
        200,
        _ref("SessionState"),
        ["not_found", "lost"],
    ),
    (
        "/v1/sessions/{sid}",
        "delete",
        "Close a session.",
        None,
        200,
        _ref("SessionState"),
        ["not_found", "lost"],
    ),
    (
        "/v1/sessions/{sid}/cells",
        "post",
        "Run one cell; 200 whatever the code did (see status).",
        {
            "type": "object",
            "required": ["code"],
            "additionalProperties": False,
            "properties": {"code": {"type": "string"}, "timeout_s": NUMBER},
        },
        200,
        _ref("CellResult"),
        [
            "bad_request",
            "not_found",
            "lost",
            "busy",
            "too_large",
            "limits",
            "overloaded",
            "sandbox_unavailable",
        ],
    ),
    (
        "/run_code",
        "post",
        "SandboxFusion-compatible one-shot run (also at /v1/run_code).",
        _ref("RunCodeRequest"),
        200,
        _ref("RunCodeResponse"),
        ["bad_request", "too_large", "overloaded"],
    ),
]


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the service."""
    paths: dict[str, dict[str, Any]] = {}
    for path, method, summary, request, status, response, kinds in ENDPOINTS:
        operation: dict[str, Any] = {
            "summary": summary,
            "security": [] if path == "/health" else [{"bearer": []}],
            "responses": {str(status): _json(response)},
        }
        for kind in [*kinds, *([] if path == "/health" else ["unauthorized"])]:
            code, when = OUTCOMES[kind]
            operation["responses"][str(code)] = {"description": when, **_json(_ref("Refusal"))}
        if request is not None:
            operation["requestBody"] = {"required": True, **_json(request)}
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "verimath serve", "version": "1"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
        "paths": paths,
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": "", "content": {"application/json": {"schema": schema}}}


if __name__ == "__main__":
    print(json.dumps(openapi_document(), indent=2))
