"""The server's settings: every bound ``verimath serve`` enforces, in one place."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field

from verimath.errors import ConfigError
from verimath.interpreter import Limits

TOKEN_ENV = "VERIMATH_SERVE_TOKEN"


def default_cell_slots() -> int:
    """Cells running at once: two per core, so a long cell does not hold up the short ones."""
    return 2 * (os.cpu_count() or 1)


@dataclass(frozen=True)
class ServeConfig:
    """How a sandbox server runs and what it accepts."""

    host: str = "127.0.0.1"
    """Address to listen on; any other than loopback requires a token."""
    port: int = 8421
    """Port to listen on (0: any free port, printed at start)."""
    token: str | None = None
    """Bearer token every request but ``/health`` must carry (``VERIMATH_SERVE_TOKEN``)."""
    limits: Limits = field(default_factory=Limits)
    """The largest limits a session may ask for, and those it gets when it asks for none."""
    max_sessions: int = 256
    """Live sessions at once; past it, creating one is answered 429."""
    cell_slots: int = field(default_factory=default_cell_slots)
    """Cells running at once; the others wait in the queue."""
    max_queued: int = 512
    """Cells waiting for a slot; past it, a cell is answered 429."""
    ttl_s: float = 600.0
    """Seconds a session may stay idle before it is closed."""
    max_request_bytes: int = 1 << 20
    """Largest request body."""
    max_code_chars: int = 256 * 1024
    """Largest cell."""
    max_json_depth: int = 8
    """Deepest nesting of a request's JSON."""
    max_profiles: int = 4
    """Distinct sets of session limits served at once (each has its own fork server)."""
    retry_after_s: int = 1
    """The ``Retry-After`` of a 429."""

    def __post_init__(self) -> None:
        for name in ("max_sessions", "cell_slots", "max_request_bytes", "max_code_chars"):
            if getattr(self, name) < 1:
                raise ConfigError(f"serve option {name} must be at least 1")
        if self.ttl_s <= 0 or self.max_queued < 0 or self.max_profiles < 1:
            raise ConfigError("serve options ttl, max-queued and max-profiles must be positive")
        if self.token is not None and len(self.token) < 16:
            raise ConfigError("the serve token must be at least 16 characters long")

    def check_exposure(self) -> None:
        """Refuse to listen beyond loopback without a token (ConfigError, one line)."""
        if self.token is None and not is_loopback(self.host):
            raise ConfigError(
                f"refusing to serve on {self.host} without a token: set --token or "
                f"{TOKEN_ENV} (or bind to 127.0.0.1)"
            )


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
