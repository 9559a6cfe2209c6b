"""``verimath serve``: the sandboxed interpreter as an HTTP service (docs/serve.md).

``create_app`` builds the service for a ``ServeConfig``; ``create_router_app`` a router over
several of them, sticky by session id. The client is ``verimath.interpreter.RemoteInterpreter``.
"""

from verimath.serve.app import create_app
from verimath.serve.config import ServeConfig
from verimath.serve.outcomes import OUTCOMES, Refusal
from verimath.serve.router import create_router_app

__all__ = ["OUTCOMES", "Refusal", "ServeConfig", "create_app", "create_router_app"]
