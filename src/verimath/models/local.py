"""llama.cpp in process (``llama-cpp-python``, extra ``local``), fenced tool style.

Spec ``local`` runs :data:`DEFAULT_LOCAL_MODEL`, downloaded once; ``local:/path/model.gguf``
runs a file; ``local:OWNER/REPO/FILE.gguf`` downloads that file from the Hub. The chat template
comes from the GGUF's ``tokenizer.chat_template``. llama.cpp calls block, so they run on one
worker thread per model, one at a time. For tests, ``script=[...]`` forces assistant turn i
to be exactly ``script[i]`` with a grammar, whatever the weights.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from verimath.errors import (
    ConfigError,
    ModelContextLengthError,
    ModelError,
    ModelNotFoundError,
    ModelResponseError,
)
from verimath.models.base import ChatModel
from verimath.models.grammar import literal_grammar
from verimath.models.hub import HubFile, download
from verimath.models.messages import (
    Completion,
    GenerateConfig,
    Message,
    Usage,
    WireMessage,
    to_wire,
)
from verimath.models.tools import FENCED, trim_fenced_completion

__all__ = ["DEFAULT_CONTEXT_TOKENS", "DEFAULT_LOCAL_MODEL", "LocalModel", "hub_file_from_spec"]

DEFAULT_LOCAL_MODEL = HubFile(
    repo_id="bartowski/Qwen2.5-Math-1.5B-Instruct-GGUF",
    filename="Qwen2.5-Math-1.5B-Instruct-Q4_K_M.gguf",
    size_bytes=986_000_000,
    description=(
        "By default verimath runs Qwen2.5-Math-1.5B-Instruct (Qwen team, Apache-2.0), a small "
        "open model trained for tool-integrated math reasoning in exactly the fenced "
        "```python / ```output format, in a Q4_K_M GGUF quantization: the file "
        "Qwen2.5-Math-1.5B-Instruct-Q4_K_M.gguf of the Hugging Face repository "
        "bartowski/Qwen2.5-Math-1.5B-Instruct-GGUF, about 986 MB, downloaded once on first "
        "use into ~/.cache/verimath (or $VERIMATH_CACHE_DIR)."
    ),
)
"""The model behind the spec ``local``; ``description`` is the README's sentence."""

DEFAULT_CONTEXT_TOKENS = 4096
DEFAULT_MODEL_ALTERNATIVES = (
    "Without the default model: --model local:/path/to/model.gguf runs a GGUF file you "
    "have, --model openai:NAME[@BASE_URL] a model served over HTTP (OpenAI, vLLM, Ollama...)"
)
_HUB_SPEC = re.compile(r"(?P<repo>[\w.-]+/[\w.-]+)/(?P<file>[^@\s]+\.gguf)(?:@(?P<rev>[\w./-]+))?")
_INSTALL_HINT = "pip install 'verimath[local]'"


class _Request(TypedDict):
    """The arguments of one llama.cpp chat completion (``grammar`` as GBNF text)."""

    model: str
    messages: list[WireMessage]
    temperature: float
    top_p: float
    max_tokens: int
    stop: list[str]
    seed: int | None
    grammar: NotRequired[str]


def hub_file_from_spec(rest: str) -> HubFile | None:
    """``OWNER/REPO/FILE.gguf[@REVISION]`` as a HubFile; None for anything else."""
    match = _HUB_SPEC.fullmatch(rest)
    if match is None:
        return None
    return HubFile(match["repo"], match["file"], revision=match["rev"] or "main")


class LocalModel(ChatModel):
    """A GGUF model run by llama.cpp inside this process."""

    tool_styles = frozenset({FENCED})

    def __init__(
        self,
        model_path: str | Path,
        *,
        n_ctx: int = DEFAULT_CONTEXT_TOKENS,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        script: Sequence[str] | None = None,
        grammar: str | None = None,
        name: str | None = None,
        verbose: bool = False,
    ) -> None:
        """``script``: assistant turn i is forced to be ``script[i]`` (stop strings still
        apply). ``grammar``: a GBNF grammar constraining every turn (ignored with a script)."""
        llama_cpp = _import_llama_cpp()
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(f"no GGUF model file at {path}")
        self.path = path
        self.name = name or f"local:{path}"
        self.script = tuple(script) if script is not None else None
        self.grammar = grammar
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_gpu_layers=n_gpu_layers,
                verbose=verbose,
            )
        except ValueError as exc:
            raise ModelError(f"llama.cpp could not load {path}: {exc}") from exc
        self._llama_cpp = llama_cpp
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verimath-llama")
        self._closed = False

    @classmethod
    def from_spec(
        cls,
        rest: str,
        *,
        n_ctx: int = DEFAULT_CONTEXT_TOKENS,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        script: Sequence[str] | None = None,
        grammar: str | None = None,
        verbose: bool = False,
        cache_dir: Path | None = None,
        progress: bool = True,
    ) -> LocalModel:
        """The model for the spec ``local[:REST]``, downloading it if needed."""
        _import_llama_cpp()  # before a long download that would be of no use without it
        path = _model_path(rest, cache_dir, progress)
        name = "local" if not rest else f"local:{rest}"
        return cls(
            path,
            n_ctx=n_ctx,
            n_threads=n_threads,
            n_gpu_layers=n_gpu_layers,
            script=script,
            grammar=grammar,
            name=name,
            verbose=verbose,
        )

    async def generate(
        self, messages: Sequence[Message], config: GenerateConfig, *, tools: bool = False
    ) -> list[Completion]:
        """``config.n`` choices, sampled one after another (seeds ``seed``, ``seed+1``, ...)."""
        self.check_tool_style(tools)
        _check_fenced(messages)
        if self._closed:
            raise ModelError(f"{self.name} is closed")
        grammar = self._grammar_for(sum(m.role == "assistant" for m in messages))
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        calls = []
        for i in range(config.n):
            request = self._request(messages, config, config.seed, i, grammar)
            calls.append((request, await loop.run_in_executor(self._executor, self._run, request)))
        latency = time.monotonic() - started
        prompt = sum(response["usage"]["prompt_tokens"] for _, response in calls)
        generated = sum(response["usage"]["completion_tokens"] for _, response in calls)
        total = Usage(prompt, generated, 0.0)
        return [
            _completion(request, response, config, total if i == 0 else Usage(0, 0, 0.0), latency)
            for i, (request, response) in enumerate(calls)
        ]

    def _grammar_for(self, turn: int) -> str | None:
        if self.script is None:
            return self.grammar
        if turn >= len(self.script):
            raise ConfigError(
                f"{self.name}: the script has {len(self.script)} turns, turn {turn + 1} was asked"
            )
        return literal_grammar(self.script[turn])

    def _request(
        self,
        messages: Sequence[Message],
        config: GenerateConfig,
        seed: int | None,
        index: int,
        grammar: str | None,
    ) -> _Request:
        request: _Request = {
            "model": self.name,
            "messages": [to_wire(m) for m in messages],
            "temperature": config.temperature,
            "top_p": config.top_p,
            "max_tokens": config.max_tokens,
            "stop": list(config.stop),
            "seed": None if seed is None else seed + index,
        }
        if grammar is not None:
            request["grammar"] = grammar
        return request

    def _run(self, request: _Request) -> dict[str, Any]:
        """One blocking llama.cpp chat completion (on the worker thread): its JSON answer."""
        grammar = request.get("grammar")
        with self._lock:
            self._check_fits(request["messages"])
            compiled = None
            if grammar is not None:
                compiled = self._llama_cpp.LlamaGrammar.from_string(grammar, verbose=False)
            arguments = {key: value for key, value in request.items() if key != "model"}
            try:
                response: dict[str, Any] = self._llm.create_chat_completion(
                    **arguments | {"grammar": compiled}
                )
            except ValueError as exc:
                error = ModelContextLengthError if "context" in str(exc) else ModelResponseError
                raise error(f"{self.name}: {exc} (raise n_ctx?)") from exc
        return response

    def _check_fits(self, messages: list[WireMessage]) -> None:
        """ModelResponseError if the messages alone fill the context (llama.cpp's own error
        for this is unreadable)."""
        text = "".join(message["content"] for message in messages)
        tokens = len(self._llm.tokenize(text.encode(), add_bos=False, special=True))
        if tokens >= self._llm.n_ctx():
            raise ModelContextLengthError(
                f"{self.name}: the conversation is {tokens} tokens or more, but the context "
                f"holds {self._llm.n_ctx()}; pass a larger n_ctx"
            )

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=False)

    def _close(self) -> None:
        with self._lock:
            self._llm.close()


def _completion(
    request: _Request,
    response: dict[str, Any],
    config: GenerateConfig,
    usage: Usage,
    latency: float,
) -> Completion:
    choice = response["choices"][0]
    content = choice["message"].get("content") or ""
    finish = choice.get("finish_reason") or "stop"
    if config.stop and finish == "stop":
        content = trim_fenced_completion(content)
    return Completion(Message("assistant", content), finish, usage, latency, request, response)


def _check_fenced(messages: Sequence[Message]) -> None:
    if any(m.role == "tool" or m.tool_calls for m in messages):
        raise ConfigError(
            "the local backend runs code in the fenced style only; send code outputs as "
            "user messages, not tool messages"
        )


def _model_path(rest: str, cache_dir: Path | None, progress: bool) -> Path:
    if not rest:
        try:
            return download(DEFAULT_LOCAL_MODEL, cache=cache_dir, progress=progress)
        except ModelError as exc:
            raise type(exc)(f"{exc}. {DEFAULT_MODEL_ALTERNATIVES}") from exc
    path = Path(rest).expanduser()
    if path.is_file():
        return path
    hub_file = hub_file_from_spec(rest)
    if hub_file is not None and not rest.startswith(("/", ".", "~")):
        return download(hub_file, cache=cache_dir, progress=progress)
    raise ModelNotFoundError(
        f"no GGUF model file at {path}; give local:/path/to/model.gguf, "
        "local:OWNER/REPO/FILE.gguf[@REVISION] for a Hub file, or plain local for the default"
    )


def _import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise ModelError(
            f"the local backend needs llama-cpp-python, which is not installed: {_INSTALL_HINT}"
        ) from exc
    return llama_cpp
