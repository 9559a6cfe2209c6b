"""Model backends by name: ``resolve_model("openai:gpt-4o")`` and ``register_backend``.

A spec is ``PREFIX[:REST]``; the backend registered under ``PREFIX`` builds the model from
``REST`` and keyword options. Built in:

- ``local`` (the default, also for ``None``) and ``local:/path/model.gguf`` or
  ``local:OWNER/REPO/FILE.gguf``: llama.cpp in process (extra ``local``);
- ``openai:MODEL[@BASE_URL]``: any OpenAI-compatible server; ``openai:MODEL@URL1,URL2,...``
  spreads the requests over several servers of the same model (:mod:`.endpoints`);
- ``replay:/path/transcripts.jsonl`` (or a directory of them): recorded solutions.

Backends import their SDKs only when resolved, so a missing optional SDK only matters to
those who use it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from verimath.errors import ConfigError
from verimath.models.base import ChatModel

__all__ = [
    "BackendFactory",
    "ModelSpec",
    "backends",
    "register_backend",
    "resolve_model",
    "served_model",
]

BackendFactory = Callable[..., ChatModel]
"""``factory(rest_of_spec: str, **options) -> ChatModel``."""

DEFAULT_SPEC = "local"
_PREFIX = re.compile(r"[a-z][a-z0-9_-]*")


@dataclass(frozen=True)
class ModelSpec:
    """A model spec read once: the backend's prefix and the rest, which the backend reads.

    ``ModelSpec.parse("openai:gpt-4o@http://h/v1")`` -> backend ``openai``, target
    ``gpt-4o@http://h/v1``; ``None`` and ``""`` are the default local model.
    """

    backend: str
    target: str = ""

    @classmethod
    def parse(cls, spec: str | None) -> ModelSpec:
        prefix, _, rest = (spec or DEFAULT_SPEC).strip().partition(":")
        return cls(prefix, rest.strip())

    @property
    def in_process(self) -> bool:
        """Whether the model runs inside the process that resolves it (llama.cpp)."""
        return self.backend == "local"

    @property
    def over_http(self) -> bool:
        """Whether the model is reached over HTTP (and so takes a retry policy)."""
        return self.backend == "openai"

    @property
    def is_replay(self) -> bool:
        """Whether the model replays recorded turns (and so needs no response cache)."""
        return self.backend == "replay"

    def __str__(self) -> str:
        return f"{self.backend}:{self.target}" if self.target else self.backend


def served_model(spec: str | None) -> tuple[str, list[str] | None]:
    """A model spec split into what shapes results (the spec without its base URLs) and
    where it is served (the base URLs of an HTTP model, else None):
    ``openai:m@http://h:1/v1`` -> (``openai:m``, [``http://h:1/v1``])."""
    parsed = ModelSpec.parse(spec)
    if not parsed.over_http:
        return str(parsed), None
    from verimath.models.openai_compat import parse_openai_spec  # loads the OpenAI SDK

    model, urls = parse_openai_spec(parsed.target)
    if urls is None:
        return str(parsed), None
    return f"{parsed.backend}:{model}", [u.strip().rstrip("/") for u in urls.split(",")]


def _openai(rest: str, **options: Any) -> ChatModel:
    from verimath.models.openai_compat import OpenAIModel, parse_openai_spec

    model, base_url = parse_openai_spec(rest)
    if base_url and options.get("base_url") not in (None, base_url):
        raise ConfigError(
            f"two base URLs for openai:{rest}: {base_url!r} in the spec and "
            f"{options['base_url']!r} as an option; give one"
        )
    options["base_url"] = base_url or options.get("base_url")
    _check_options(OpenAIModel, options)
    if options["base_url"] and "," in options["base_url"]:
        from verimath.models.endpoints import EndpointPoolModel, split_base_urls

        return EndpointPoolModel(model, split_base_urls(options.pop("base_url")), **options)
    return OpenAIModel(model, **options)


def _local(rest: str, **options: Any) -> ChatModel:
    from verimath.models.local import LocalModel

    _check_options(LocalModel.from_spec, options)
    return LocalModel.from_spec(rest, **options)


def _replay(rest: str, **options: Any) -> ChatModel:
    from verimath.models.replay import ReplayModel

    _check_options(ReplayModel.from_path, options)
    return ReplayModel.from_path(rest, **options)


_BACKENDS: dict[str, BackendFactory] = {"local": _local, "openai": _openai, "replay": _replay}


def register_backend(prefix: str, factory: BackendFactory, *, replace: bool = False) -> None:
    """Make ``resolve_model("PREFIX:...")`` call ``factory(rest, **options)``."""
    if not _PREFIX.fullmatch(prefix):
        raise ConfigError(
            f"backend prefix {prefix!r} must be lower-case letters, digits, '_' or '-', "
            "starting with a letter"
        )
    if _BACKENDS.get(prefix) not in (None, factory) and not replace:
        raise ConfigError(
            f"a backend is already registered as {prefix!r}; pass replace=True to override it"
        )
    _BACKENDS[prefix] = factory


def backends() -> list[str]:
    """The registered prefixes."""
    return sorted(_BACKENDS)


def resolve_model(spec: str | None = None, **options: Any) -> ChatModel:
    """Build the model a spec names; ``None`` or ``"local"`` is the default local model."""
    parsed = ModelSpec.parse(spec)
    factory = _BACKENDS.get(parsed.backend)
    if factory is None:
        raise ConfigError(
            f"unknown model backend {parsed.backend!r} in spec "
            f"{(spec or DEFAULT_SPEC).strip()!r}; known backends: "
            f"{', '.join(backends())} (e.g. openai:gpt-4o, local:/path/model.gguf, "
            "replay:/path/transcripts.jsonl)"
        )
    return factory(parsed.target, **options)


def _check_options(target: Callable[..., Any], options: dict[str, Any]) -> None:
    """ConfigError naming the options ``target`` does not take."""
    parameters = inspect.signature(target).parameters
    accepted = {name for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ConfigError(
            f"unknown model option(s) {', '.join(unknown)}; this backend takes: "
            f"{', '.join(sorted(accepted))}"
        )
