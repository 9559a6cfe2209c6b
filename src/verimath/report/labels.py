"""Row labels for runs shown side by side: the strategy, plus just enough to tell runs apart."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from verimath.datasets import LOCAL_DATASETS, SHIPPED_DATASETS
from verimath.report.runs import Run

__all__ = ["label_runs", "short_names"]

MAX_PARTS = 2  # path components kept of a model spec or dataset that differs between runs


def label_runs(runs: Sequence[Run]) -> list[Run]:
    """The runs with unique labels: ``strategy``, then `` · model`` when models differ, then
    `` · dataset`` when datasets differ, then the file name, then ``#n``, as far as needed."""
    labels = [run.strategy for run in runs]
    for values in ([r.model for r in runs], [r.dataset for r in runs]):
        if len(set(values)) > 1:
            labels = [
                f"{label} · {name}" for label, name in zip(labels, short_names(values), strict=True)
            ]
    labels = _disambiguate(labels, [run.path.stem for run in runs], "{label} [{extra}]")
    labels = _disambiguate(labels, [f"#{i + 1}" for i in range(len(runs))], "{label} {extra}")
    return [dataclasses.replace(run, label=label) for run, label in zip(runs, labels, strict=True)]


def _disambiguate(labels: list[str], extras: list[str], form: str) -> list[str]:
    duplicated = {label for label in labels if labels.count(label) > 1}
    return [
        form.format(label=label, extra=extra) if label in duplicated else label
        for label, extra in zip(labels, extras, strict=True)
    ]


def short_names(specs: Sequence[str]) -> list[str]:
    """Short distinct names for model specs or dataset paths: what differs between them.

    Common leading and trailing path components are dropped, then components that name a
    dataset or a transcript file; the last one left is the name. So
    ``replay:/d/mathcoder/MathCoder-CL-34b/GSM8K`` and ``replay:/d/tora/tora-code-34b/gsm8k/
    test.jsonl`` become ``MathCoder-CL-34b`` and ``tora-code-34b``. Falls back to two
    components, then to the full specs, when names would collide.
    """
    parts = [_components(spec) for spec in specs]
    prefix = _common_prefix(parts)
    suffix = _common_prefix([p[prefix:][::-1] for p in parts])
    middles = [p[prefix : len(p) - suffix] or p[-1:] for p in parts]
    for keep in (1, MAX_PARTS):
        names = ["/".join(_meaningful(middle)[-keep:]) for middle in middles]
        if len(set(names)) == len(set(specs)):
            return names
    return list(specs)


def _components(spec: str) -> list[str]:
    """Path-like components of a spec, without an ``@URL`` or ``@REVISION`` suffix."""
    return [c for c in re.split(r"[/:]+", spec.split("@")[0]) if c]


def _meaningful(components: list[str]) -> list[str]:
    kept = [c for c in components if not _FILE.search(c) and c.lower() not in _DATASET_NAMES]
    return kept or [_FILE.sub("", components[-1])]


_FILE = re.compile(r"\.(jsonl|json|gguf|csv|sqlite)$")
_DATASET_NAMES = {n.lower() for n in (*SHIPPED_DATASETS, *LOCAL_DATASETS)}


def _common_prefix(parts: Sequence[Sequence[str]]) -> int:
    if len(parts) < 2:
        return 0
    shortest = min(len(p) for p in parts)
    length = 0
    while length < shortest - 1 and len({p[length] for p in parts}) == 1:
        length += 1
    return length
