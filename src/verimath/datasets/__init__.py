"""Benchmarks as lists of :class:`Problem`: shipped, local, any JSONL/CSV, or Hugging Face.

    >>> from verimath.datasets import load_dataset, select
    >>> problems = load_dataset("math")                       # shipped, 5,000 problems
    >>> subset = select(problems, subjects=["number_theory"], levels=[5], shuffle=True, limit=50)

Shipped inside the package (gzip-compressed JSONL with their MIT licences in
``verimath/data/LICENSE``): ``math`` (MATH test, 5,000), ``math500`` (PRM800K's 500-problem
split), ``gsm8k`` (GSM8K test, 1,319). Read from a data directory (``--data-dir`` or
``VERIMATH_DATA_DIR``, laid out as ``<name>/test.jsonl``): ``gsm-hard``, ``svamp``, ``asdiv``,
``mawps``, ``aime24``, ``amc23``, ``mmlu_stem``, ``college_math``. Per-dataset conventions for
question and gold answer are documented in :mod:`verimath.datasets.formats`.
"""

from __future__ import annotations

from verimath.datasets.formats import format_choices
from verimath.datasets.hub import HubSpec
from verimath.datasets.loader import (
    DATA_DIR_ENV,
    LOCAL_DATASETS,
    SHIPPED_DATASETS,
    known_name,
    load_dataset,
)
from verimath.datasets.problem import Problem
from verimath.datasets.selection import select, shuffle_key, subject_key

__all__ = [
    "DATA_DIR_ENV",
    "LOCAL_DATASETS",
    "SHIPPED_DATASETS",
    "HubSpec",
    "Problem",
    "format_choices",
    "known_name",
    "load_dataset",
    "select",
    "shuffle_key",
    "subject_key",
]
