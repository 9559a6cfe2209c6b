"""Configuration of a solve and of an evaluation run: the one place their defaults live.

``SolveOptions`` is how each problem is solved (strategy, k, weights, sampling, code rules,
adaptive stopping); ``RunConfig`` is an evaluation: a dataset and its selection, the model,
``SolveOptions``, the sandbox limits and how the run is executed. The solver, the engine, the
command line and ``verimath.evaluate`` all read their defaults from here; the layers above
(solver, engine, evaluation, CLI) import this module, never each other, for configuration.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verimath.adaptive import DEFAULT_THRESHOLD, DEFAULT_WAVE, AdaptivePolicy
from verimath.agent import AgentConfig
from verimath.errors import ConfigError
from verimath.interpreter import Limits
from verimath.models import (
    FENCED,
    FUNCTION,
    ChatModel,
    GenerateConfig,
    ModelSpec,
    RetryPolicy,
    served_model,
)
from verimath.prompts import get_strategy
from verimath.run_records import RecordedConfig
from verimath.voting import DEFAULT_WEIGHTS, Weights

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_RETRIES",
    "DEFAULT_SAMPLES",
    "RunConfig",
    "SolveOptions",
    "agent_config",
    "choose_tool_style",
    "http_model_options",
    "shapes_results",
]

DEFAULT_SAMPLES = 4
DEFAULT_CONCURRENCY = 16
DEFAULT_RETRIES = 5


@dataclass(frozen=True)
class SolveOptions:
    """Everything ``solve`` can be told, with the defaults of the command line."""

    strategy: str = "csv"
    samples: int = DEFAULT_SAMPLES
    weights: Weights = DEFAULT_WEIGHTS
    tool_style: str | None = None
    """None: the model's native style if it has only one, else fenced text."""
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    seed: int = 0
    """Sample i is drawn with seed + i (reproducible runs on servers that honour seeds; the
    replay backend picks recorded sample i the same way); its sandbox session's random
    generators are seeded from seed, problem and i (``sandbox_seed``)."""
    max_code_executions: int = 10
    revise: int = 0
    enforce_code_rule: bool = False
    dataset: str | None = None
    adaptive: AdaptivePolicy | None = None
    """Draw samples in waves and stop once the rest cannot (or very probably will not) change
    the weighted winner (see ``verimath.adaptive``); None draws all k."""

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ConfigError(f"samples must be at least 1, got {self.samples}")
        get_strategy(self.strategy)

    def sandbox_seed(self, problem_id: str, index: int) -> int:
        """The seed of sample ``index``'s sandbox session (stdlib, NumPy and SymPy random
        generators): sha256 of the run's seed, the problem and the index, so that a replay or
        a resumed run draws the same numbers and the k samples of a problem different ones."""
        digest = hashlib.sha256(f"{self.seed}\0{problem_id}\0{index}".encode()).digest()
        return int.from_bytes(digest[:8], "big") >> 1


def choose_tool_style(model: ChatModel, requested: str | None) -> str:
    """The tool style to use with ``model``; ConfigError if it cannot do the one requested."""
    if requested is not None:
        if requested not in model.tool_styles:
            raise ConfigError(
                f"model {model.name!r} does not support the {requested!r} tool "
                f"style; it supports: {', '.join(sorted(model.tool_styles))}"
            )
        return requested
    return FENCED if FENCED in model.tool_styles else FUNCTION


def agent_config(model: ChatModel, options: SolveOptions) -> AgentConfig:
    """How each sample of ``options`` runs with ``model``."""
    return AgentConfig(
        strategy=get_strategy(options.strategy),
        tool_style=choose_tool_style(model, options.tool_style),
        generate=options.generate,
        max_code_executions=options.max_code_executions,
        enforce_code_rule=options.enforce_code_rule,
        revise=options.revise,
        dataset=options.dataset,
    )


def http_model_options(
    model: str | None,
    retries: int = DEFAULT_RETRIES,
    request_timeout: float | None = None,
    max_response_mb: float | None = None,
) -> dict[str, Any]:
    """Backend options of ``model`` that only HTTP backends take: the retry policy, the total
    time one request may take and the size cap of one reply (None: the backend's default)."""
    if not ModelSpec.parse(model).over_http:
        return {}
    options: dict[str, Any] = {"retry": RetryPolicy(max_attempts=retries + 1)}
    if request_timeout is not None:
        options["timeout_s"] = request_timeout
    if max_response_mb is not None:
        options["max_response_mb"] = max_response_mb
    return options


SHAPES_RESULTS = "shapes_results"
"""Field metadata key: whether a field is part of a run's identity (checked on resume), or
where and how the run is served and executed (free to change between resumes)."""
SERVED = {SHAPES_RESULTS: False, "recorded": True}
"""Where the run is served: may change on resume; the run records each change."""
EXECUTION = {SHAPES_RESULTS: False}
"""How this invocation runs (files, flags): neither identity nor recorded."""


def shapes_results(name: str) -> bool:
    """Whether the RunConfig field ``name`` shapes the results (a resume must keep it)."""
    [found] = [f for f in dataclasses.fields(RunConfig) if f.name == name]
    return bool(found.metadata.get(SHAPES_RESULTS, True))


@dataclass(frozen=True)
class RunConfig:
    """One evaluation: what is run (recorded in the run file, checked on resume) and how."""

    dataset: str
    """A dataset name (``math``, ``gsm8k``, ...), a JSONL/CSV path or ``hf:owner/name``."""
    model: str | None = None
    """A model spec (``openai:gpt-4o``, ``local``, ``replay:PATH``); None: the local default.
    Its model name shapes the results; the base URLs of an HTTP model are where it is served
    (recorded, free to change on resume)."""
    method: SolveOptions = field(default_factory=SolveOptions)
    """How every problem is solved: strategy, k, weights, sampling, code rules, adaptive."""
    limits: Limits = field(default_factory=Limits)
    """The sandbox's limits per cell and session."""
    limit: int | None = None
    """Only the first N problems (after the other filters and the shuffle)."""
    subjects: tuple[str, ...] = ()
    """Only these subjects (empty: all)."""
    levels: tuple[int, ...] = ()
    """Only these levels (empty: all)."""
    ids: tuple[str, ...] = ()
    """Only these problem ids (empty: all)."""
    shuffle: bool = False
    """Shuffle the problems, deterministically by ``method.seed``."""
    question_field: str | None = None
    """The question's field in a JSONL/CSV (default: detected)."""
    answer_field: str | None = None
    """The gold answer's field in a JSONL/CSV (default: detected)."""
    id_field: str | None = None
    """The problem id's field in a JSONL/CSV (default: detected)."""
    data_dir: Path | None = field(default=None, metadata=EXECUTION)
    """Where the datasets that do not ship with verimath live (else ``$VERIMATH_DATA_DIR``)."""
    run_path: Path | None = field(default=None, metadata=EXECUTION)
    """The run file (default: ``runs/<dataset>-<model>-<strategy>-k<k>.sqlite``)."""
    new: bool = field(default=False, metadata=EXECUTION)
    """Start over: an existing run file is moved aside (kept under a timestamped name)."""
    regrade: bool = field(default=False, metadata=EXECUTION)
    """On resume, accept a dataset whose problems changed: stored samples are graded against
    the new gold answers, and a problem whose question changed is sampled again (without it,
    such a resume is refused with the list of changes)."""
    concurrency: int = field(default=DEFAULT_CONCURRENCY, metadata=SERVED)
    """Model calls in flight at once."""
    ray_address: str | None = field(default=None, metadata=SERVED)
    """Run the samples on Ray: ``local`` for a local runtime, else a cluster's address."""
    sandbox: str | None = field(default=None, metadata=SERVED)
    """Run the cells on the ``verimath serve`` host at this URL (None: in this process)."""
    sandbox_token: str | None = field(default=None, repr=False, metadata=EXECUTION)
    """The bearer token of ``sandbox`` (a secret: never recorded)."""
    retries: int = field(default=DEFAULT_RETRIES, metadata=SERVED)
    """Retries of a failed request to an HTTP model server."""
    request_timeout: float | None = field(default=None, metadata=SERVED)
    """Seconds one request to an HTTP model server may take in all, connecting and every read
    included: a deadline, then the request is retried (None: 600)."""
    max_response_mb: float | None = field(default=None, metadata=SERVED)
    """Cap on one reply of an HTTP model server in MiB, raw and decompressed; a larger reply
    is a ModelResponseError (None: 32)."""
    export: Path | None = field(default=None, metadata=EXECUTION)
    """Also write one JSON line per sample to this file."""

    def __post_init__(self) -> None:
        # paths and sequences as given from Python (str, list) in their one form
        for name in ("run_path", "export", "data_dir"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        for name in ("subjects", "levels", "ids"):
            value = getattr(self, name)
            if isinstance(value, str | int):
                value = (value,)
            object.__setattr__(self, name, tuple(value))
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.sandbox is not None and self.ray_address is not None:
            raise ConfigError("--sandbox and --ray cannot be combined: Ray workers run their own")

    @classmethod
    def of(cls, dataset: str, **options: Any) -> RunConfig:
        """A config from keyword options: fields of ``RunConfig``, ``SolveOptions``
        (``samples=8``) or ``GenerateConfig`` (``temperature=0``); ConfigError for others."""
        own = {f.name for f in dataclasses.fields(cls)}
        method = {f.name for f in dataclasses.fields(SolveOptions)}
        sampling = {f.name for f in dataclasses.fields(GenerateConfig)}
        unknown = sorted(set(options) - own - method - sampling)
        if unknown:
            raise ConfigError(f"unknown evaluation option(s): {', '.join(unknown)}")
        generate = {k: v for k, v in options.items() if k in sampling and k not in own | method}
        solve = {k: v for k, v in options.items() if k in method}
        base = options.get("method", SolveOptions())
        if generate:
            solve["generate"] = dataclasses.replace(base.generate, **generate)
        config = {k: v for k, v in options.items() if k in own}
        config["method"] = dataclasses.replace(base, **solve)
        return cls(dataset, **config)

    def served(self) -> dict[str, object]:
        """Where and how the run is served: the model's base URLs and the fields marked
        :data:`SERVED`; recorded in the run file, each change on resume too."""
        _, urls = served_model(self.model)
        recorded = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.metadata.get("recorded")
        }
        return {"endpoints": urls, **recorded}

    def record(self, problem_count: int) -> RecordedConfig:
        """Everything that shapes the results (not how fast they come, nor where the model
        is served), as the run file records it; a resumed run must match it exactly."""
        method, generate, policy = self.method, self.method.generate, self.method.adaptive
        return {
            "dataset": self.dataset,
            "model": served_model(self.model)[0],
            "strategy": method.strategy,
            "samples": method.samples,
            "weights": method.weights.spec(),
            "tool_style": method.tool_style,
            "temperature": generate.temperature,
            "top_p": generate.top_p,
            "max_tokens": generate.max_tokens,
            "seed": method.seed,
            "max_code": method.max_code_executions,
            "revise": method.revise,
            "enforce_code_rule": method.enforce_code_rule,
            "adaptive": policy.mode if policy else None,
            "wave": policy.wave if policy else DEFAULT_WAVE,
            "threshold": policy.threshold if policy else DEFAULT_THRESHOLD,
            "limit": self.limit,
            "subject": list(self.subjects),
            "level": list(self.levels),
            "ids": ",".join(self.ids) if self.ids else None,
            "shuffle": self.shuffle,
            "timeout": self.limits.timeout_s,
            "memory_mb": self.limits.memory_mb,
            "max_output": self.limits.max_output_chars,
            "problem_count": problem_count,
        }
