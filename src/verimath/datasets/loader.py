"""``load_dataset``: from a spec string to a list of problems, all or nothing."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import partial
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path

from verimath.datasets.formats import KNOWN_BUILDERS, Origin, infer_mapping, known_name
from verimath.datasets.hub import HF_PREFIX, HubSpec, read_hub_records
from verimath.datasets.problem import Problem
from verimath.datasets.records import CSV_SUFFIXES, JSONL_SUFFIXES, Record, read_records
from verimath.errors import ConfigError, InputError

__all__ = [
    "DATA_DIR_ENV",
    "LOCAL_DATASETS",
    "SHIPPED_DATASETS",
    "known_name",
    "load_dataset",
    "shipped_path",
]

SHIPPED_DATASETS = ("math", "math500", "gsm8k")
"""Datasets inside the package (``verimath/data/<name>.jsonl.gz``, licences alongside)."""
LOCAL_DATASETS = (
    "gsm-hard",
    "svamp",
    "asdiv",
    "mawps",
    "aime24",
    "amc23",
    "mmlu_stem",
    "college_math",
)
"""Datasets read from ``<data dir>/<name>/test.jsonl`` (not shipped: licences vary)."""
DATA_DIR_ENV = "VERIMATH_DATA_DIR"
DATA_FILE = "test.jsonl"
_SPLIT_NAMES = frozenset({"test", "train", "validation", "valid", "val", "dev"})


def load_dataset(
    spec: str,
    *,
    question_field: str | None = None,
    answer_field: str | None = None,
    id_field: str | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> list[Problem]:
    """Every problem of a dataset, in source order.

    ``spec`` is, in order of precedence:

    - ``hf:owner/name[:config][:split]``: a Hugging Face dataset (needs ``datasets``);
    - a shipped name: ``math`` (5,000), ``math500``, ``gsm8k`` (1,319);
    - a known name read from ``<data_dir>/<name>/test.jsonl``: ``gsm-hard``, ``svamp``,
      ``asdiv``, ``mawps``, ``aime24``, ``amc23``, ``mmlu_stem``, ``college_math``; the data
      dir comes from ``data_dir``, else the ``VERIMATH_DATA_DIR`` environment variable;
    - a path to a ``.jsonl``/``.csv``/``.tsv`` file (optionally ``.gz``), or to a directory
      holding ``test.jsonl``. A file named ``<known>.jsonl`` or ``<known>/test.jsonl`` is
      read with that dataset's mapping; any other with the generic one.

    Names ignore case, ``-`` and ``_`` (``GSM_Hard`` = ``gsm-hard``). Giving any of
    ``question_field``, ``answer_field``, ``id_field`` selects the generic mapping (see
    :func:`~verimath.datasets.formats.infer_mapping`) whatever the source.

    Raises :class:`~verimath.errors.InputError` (file, line, field) for malformed data and
    :class:`~verimath.errors.ConfigError` for a spec that names nothing loadable.
    """
    fields = {"question_field": question_field, "answer_field": answer_field, "id_field": id_field}
    custom = any(value is not None for value in fields.values())
    if spec.startswith(HF_PREFIX):
        hub = HubSpec.parse(spec)
        origin = Origin(hub.dataset_name, hub.split)
        known = None if custom else hub.known_format
        return _build(read_hub_records(hub), origin, known, fields, str(hub))
    name = known_name(spec)
    if name in SHIPPED_DATASETS:
        with as_file(shipped_path(name)) as path:
            return _build(
                read_records(path), Origin(name), None if custom else name, fields, str(path)
            )
    if name is not None:
        return _load_file(_local_dataset_file(name, data_dir), fields, custom)
    return _load_file(_existing_path(spec), fields, custom)


def shipped_path(name: str) -> Traversable:
    """The packaged file of a shipped dataset (use with ``importlib.resources.as_file``)."""
    return files("verimath").joinpath("data", f"{name}.jsonl.gz")


def _local_dataset_file(name: str, data_dir: str | os.PathLike[str] | None) -> Path:
    root = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    if not root:
        raise ConfigError(
            f"dataset {name!r} is not shipped with verimath; give the directory holding "
            f"{name}/{DATA_FILE} with --data-dir or the {DATA_DIR_ENV} environment variable, "
            "or pass the file's path"
        )
    path = Path(root).expanduser() / name / DATA_FILE
    if not path.is_file():
        source = "--data-dir" if data_dir is not None else DATA_DIR_ENV
        raise ConfigError(f"dataset {name!r} not found: {path} does not exist ({source}={root})")
    return path


def _existing_path(spec: str) -> Path:
    path = Path(spec).expanduser()
    if path.is_dir():
        path = path / DATA_FILE
    if path.is_file():
        return path
    if path.suffix or os.sep in spec or "/" in spec:
        raise ConfigError(f"dataset file not found: {path}")
    shipped = ", ".join(SHIPPED_DATASETS)
    local = ", ".join(LOCAL_DATASETS)
    raise ConfigError(
        f"unknown dataset {spec!r}: not a shipped dataset ({shipped}), a dataset read from the "
        f"data dir ({local}), an existing .jsonl/.csv file or directory with {DATA_FILE}, nor "
        "hf:owner/name[:config][:split]"
    )


def _load_file(path: Path, fields: dict[str, str | None], custom: bool) -> list[Problem]:
    origin = _file_origin(path)
    known = known_name(origin.dataset)
    if known is not None and not custom:
        origin = Origin(known, origin.split)
    return _build(read_records(path), origin, None if custom else known, fields, str(path))


def _file_origin(path: Path) -> Origin:
    """``data/svamp/test.jsonl`` -> svamp (split test); ``mine.csv.gz`` -> mine."""
    stem = path.name
    for suffix in sorted(JSONL_SUFFIXES + CSV_SUFFIXES, key=len, reverse=True):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    parent = path.resolve().parent.name
    if stem.lower() in _SPLIT_NAMES and parent:
        return Origin(parent, stem.lower())
    return Origin(stem)


def _build(
    records: Sequence[Record],
    origin: Origin,
    known: str | None,
    fields: dict[str, str | None],
    source: str,
) -> list[Problem]:
    if not records:
        raise InputError("contains no records", path=source)
    if known is not None:
        builder = KNOWN_BUILDERS[known]
        return _unique(records, lambda record: builder(record, origin), None, one_gold=False)
    mapping = infer_mapping(records, **fields)
    return _unique(records, partial(mapping.build, origin=origin), mapping.id, one_gold=True)


def _unique(
    records: Sequence[Record],
    build: Callable[[Record], Problem],
    id_field: str | None,
    *,
    one_gold: bool,
) -> list[Problem]:
    """The built problems; a repeated id is an error naming both lines, and so is, with
    ``one_gold``, a question repeated with another gold answer.

    ``one_gold`` is off for the published benchmarks verimath knows, which are read as they
    were released: college_math repeats a question that refers to its book's exercise
    ("Let the first angle of a triangle be $x$ degrees...") with two golds, as two problems.
    """
    first_line: dict[str, int] = {}
    first_gold: dict[str, tuple[int, str]] = {}
    problems = []
    for record in records:
        problem = build(record)
        if problem.id in first_line:
            message = f"duplicate id {problem.id!r} (first on line {first_line[problem.id]})"
            raise record.error(message, id_field)
        line, gold = first_gold.setdefault(problem.question, (record.line, problem.answer))
        if one_gold and gold != problem.answer:
            message = (
                f"the question of line {line} again, with gold {problem.answer!r} instead of "
                f"{gold!r}; keep one of the two lines"
            )
            raise record.error(message)
        first_line[problem.id] = record.line
        problems.append(problem)
    return problems
