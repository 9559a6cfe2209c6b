"""Default run file names: ``runs/<dataset>-<model>-<strategy>-k<k>.sqlite``.

The model part is the model's own name, short and safe in any file system: ``openai:NAME@URL``
keeps the last part of ``NAME`` (``Qwen/Qwen2.5-Math-7B-Instruct`` gives
``Qwen2.5-Math-7B-Instruct``), a GGUF file its stem, a replayed recording the names of its
directory and file. A name longer than :data:`MAX_PART` is cut and ends with a short hash of
the whole spec, so two long names that share a beginning still differ.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath

from verimath.models.registry import ModelSpec

__all__ = ["MAX_PART", "default_run_name", "model_label", "safe_part"]

MAX_PART = 48
HASH_CHARS = 6
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
_MODEL_SUFFIXES = (".gguf", ".jsonl", ".json", ".sqlite")


def model_label(spec: str | None) -> str:
    """A short, readable name for the model of ``spec`` (not yet made file-system safe)."""
    parsed = ModelSpec.parse(spec)
    prefix, rest = parsed.backend, parsed.target
    if not rest:
        return prefix
    if prefix == "openai":
        return _last_parts(_openai_model(rest), 1)
    if prefix == "local":
        return _strip_suffix(_last_parts(rest.split("@", 1)[0], 1))
    if prefix == "replay":
        return _strip_suffix(_last_parts(rest.rstrip("/"), 2))
    return _last_parts(rest, 1)


def safe_part(text: str, spec: str | None = None) -> str:
    """``text`` with anything but letters, digits and ``._+-`` turned into ``_``; cut to
    :data:`MAX_PART` characters with a hash of ``spec`` (or ``text``) when longer."""
    safe = _UNSAFE.sub("_", text).strip("._") or "model"
    if len(safe) <= MAX_PART:
        return safe
    digest = hashlib.sha256((spec or text).encode("utf-8")).hexdigest()[:HASH_CHARS]
    return f"{safe[: MAX_PART - HASH_CHARS - 1]}-{digest}"


def default_run_name(dataset: str, model: str | None, strategy: str, samples: int) -> str:
    """The file name (without directory) of a run, ``<dataset>-<model>-<strategy>-k<k>.sqlite``."""
    data = safe_part(_strip_suffix(_last_parts(dataset, 1)), dataset)
    label = safe_part(model_label(model), model or "local")
    return f"{data}-{label}-{strategy}-k{samples}.sqlite"


def _openai_model(rest: str) -> str:
    try:
        from verimath.models.openai_compat import parse_openai_spec  # imports the openai SDK
    except ImportError:  # the run fails on the missing SDK with its own message anyway
        return rest.split("@", 1)[0]
    return parse_openai_spec(rest)[0]


def _last_parts(path: str, count: int) -> str:
    parts = [p for p in PurePosixPath(path).parts if p not in ("/", ".", "..")]
    return "-".join(parts[-count:]) if parts else path


def _strip_suffix(name: str) -> str:
    for suffix in _MODEL_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name
