"""Hugging Face datasets, named ``hf:owner/name[:config][:split]``, through the optional
``datasets`` library (imported only here, only when such a spec is loaded).

``name`` may also be a local path: a directory written by ``Dataset.save_to_disk``, a
directory of data files, or one ``.parquet``/``.json``/``.jsonl``/``.csv``/``.arrow`` file.
The split defaults to ``test``; ``hf:owner/name::train`` gives a split without a config.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from verimath.datasets.formats import known_name
from verimath.datasets.records import Record
from verimath.errors import ConfigError

__all__ = ["HF_PREFIX", "HUB_FORMATS", "HubSpec", "read_hub_records"]

HF_PREFIX = "hf:"
DEFAULT_SPLIT = "test"
# Hub copies of the known datasets, read with the known format (lower-case names).
HUB_FORMATS: dict[str, str] = {
    "openai/gsm8k": "gsm8k",
    "gsm8k": "gsm8k",
    "huggingfaceh4/math-500": "math500",
}
# A single local file is read with the ``datasets`` builder of its type.
_FILE_BUILDERS = {
    ".parquet": "parquet",
    ".json": "json",
    ".jsonl": "json",
    ".csv": "csv",
    ".arrow": "arrow",
}
_SAVED_MARKERS = ("dataset_dict.json", "state.json")


@dataclass(frozen=True, slots=True)
class HubSpec:
    """A parsed ``hf:`` spec."""

    name: str
    config: str | None = None
    split: str = DEFAULT_SPLIT

    @classmethod
    def parse(cls, spec: str) -> HubSpec:
        """``hf:owner/name[:config][:split]`` -> HubSpec; empty parts take their defaults."""
        parts = spec.removeprefix(HF_PREFIX).split(":")
        if not parts[0].strip() or len(parts) > 3:
            raise ConfigError(
                f"bad Hugging Face dataset spec {spec!r}: expected hf:owner/name[:config][:split]"
                ", e.g. hf:openai/gsm8k:main:test"
            )
        name, config, split = [*(part.strip() for part in parts), "", ""][:3]
        return cls(name=name, config=config or None, split=split or DEFAULT_SPLIT)

    def __str__(self) -> str:
        return f"{HF_PREFIX}{self.name}:{self.config or ''}:{self.split}"

    @property
    def local_path(self) -> Path | None:
        """The local file or directory ``name`` points to, if it is one."""
        path = Path(self.name).expanduser()
        return path if path.exists() else None

    @property
    def known_format(self) -> str | None:
        """The known dataset whose format this one has: a Hub copy listed in HUB_FORMATS, or
        a local path named after a known dataset (``gsm8k.parquet``, ``saved/svamp``)."""
        if self.local_path is not None:
            return known_name(_stem(self.local_path))
        return HUB_FORMATS.get(self.name.lower())

    @property
    def dataset_name(self) -> str:
        """The name problems carry: the known name, a local path's stem, or owner/name."""
        if self.known_format:
            return self.known_format
        return _stem(self.local_path) if self.local_path is not None else self.name


def _stem(path: Path) -> str:
    return path.stem if path.is_file() else path.name


def read_hub_records(spec: HubSpec) -> list[Record]:
    """Every row of the split as a Record (``line`` = 1-based row number)."""
    table = _load_split(_import_datasets(), spec)
    where = str(spec)
    return [
        Record(data=dict(row), path=where, line=index + 1, index=index)
        for index, row in enumerate(table)
    ]


def _import_datasets() -> ModuleType:
    try:
        return importlib.import_module("datasets")
    except ImportError as exc:
        raise ConfigError(
            "loading 'hf:' datasets needs the Hugging Face 'datasets' library, which is not "
            "installed: pip install datasets"
        ) from exc


def _load_split(datasets: ModuleType, spec: HubSpec) -> Any:
    path = Path(spec.name).expanduser()
    try:
        if path.is_dir() and any((path / marker).exists() for marker in _SAVED_MARKERS):
            return _pick_split(datasets.load_from_disk(str(path)), spec)
        if path.is_file():
            builder = _FILE_BUILDERS.get(path.suffix.lower())
            if builder is None:
                known = ", ".join(_FILE_BUILDERS)
                raise ConfigError(f"{spec}: cannot read {path.suffix!r} files; use one of {known}")
            files = {spec.split: str(path)}
            return datasets.load_dataset(builder, data_files=files, split=spec.split)
        return datasets.load_dataset(spec.name, spec.config, split=spec.split)
    except ConnectionError as exc:
        raise ConfigError(
            f"could not reach the Hugging Face Hub for dataset {spec.name!r} ({_where(spec)}): "
            f"{_sentence(exc)} Where the Hub is unreachable, save the dataset on a machine "
            "that can reach it (Dataset.save_to_disk, or a Parquet/JSONL/CSV file) and pass "
            "that path, or use an already cached copy with HF_HUB_OFFLINE=1."
        ) from exc
    except (OSError, ValueError) as exc:  # the Hub's and datasets' errors, e.g. unknown split
        raise ConfigError(
            f"could not load the Hugging Face dataset {spec.name!r} ({_where(spec)}): "
            f"{_sentence(exc)}"
        ) from exc


def _where(spec: HubSpec) -> str:
    config = f"config {spec.config!r}, " if spec.config else ""
    return f"{config}split {spec.split!r}"


def _sentence(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if text.endswith(".") else f"{text}."


def _pick_split(loaded: Any, spec: HubSpec) -> Any:
    """A saved DatasetDict holds several splits; a saved Dataset is one split already."""
    if not isinstance(loaded, dict):
        return loaded
    if spec.split not in loaded:
        available = ", ".join(sorted(loaded)) or "none"
        raise ConfigError(f"{spec}: no split {spec.split!r}; available splits: {available}")
    return loaded[spec.split]
