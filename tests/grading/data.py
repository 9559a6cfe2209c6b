"""Readers for the shared benchmark data and recorded transcripts used by the slow tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.shared import SHARED_DATA
from verimath.datasets import LOCAL_DATASETS, SHIPPED_DATASETS

DATA = SHARED_DATA
"""The shared data (../shared/data relative to the repository)."""

DATASETS = SHIPPED_DATASETS + LOCAL_DATASETS
"""Every benchmark under DATA, as verimath names them."""
_ANSWER_FIELD = {
    "gsm-hard": "target",
    "svamp": "Answer",
    "mawps": "target",
    "amc23": "answer",
    "asdiv": "answer",
    "college_math": "answer",
}


@dataclass(frozen=True)
class Reference:
    """A dataset record's reference answer and, where the dataset has one, its solution."""

    answer: object
    solution: str | None


@dataclass(frozen=True)
class Labelled:
    """A recorded prediction with the correctness label its harness gave it."""

    source: str
    record: str
    gold: object
    pred: str | None
    dataset: str
    label: bool


def jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSON-lines file."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def references(dataset: str) -> list[Reference]:
    """The reference answers (and solutions) of one benchmark under DATA."""
    rows = jsonl(DATA / dataset / "test.jsonl")
    if dataset in ("math", "math500", "aime24"):
        return [Reference(r["answer"], r["solution"]) for r in rows]
    if dataset == "gsm8k":
        return [Reference(r["answer"].split("####")[-1].strip(), r["answer"]) for r in rows]
    if dataset == "mmlu_stem":
        return [Reference(r["answer"], None) for r in rows]  # a 0-based option index
    return [Reference(r[_ANSWER_FIELD[dataset]], None) for r in rows]


def labelled_predictions() -> list[Labelled]:
    """Every recorded prediction that carries a per-record correctness label."""
    return _mathcoder() + _openai() + _qwen()


def _mathcoder() -> list[Labelled]:
    base = DATA / "transcripts" / "mathcoder"
    items = []
    for model, stamp in (
        ("MathCoder-CL-34b", "20230913-1304"),
        ("MathCoder-L-7b", "20230916-1751"),
    ):
        for label in ("correct", "wrong"):
            path = base / model / "GSM8K" / f"GSM8K_test_result-{stamp}-{label}.jsonl"
            items += [
                Labelled(
                    f"mathcoder/{model}/gsm8k-{label}",
                    r["id"],
                    r["ground_truth"]["answer"],
                    r["completion"],
                    "gsm8k",
                    label == "correct",
                )
                for r in jsonl(path)
            ]
    path = base / "MathCoder-L-7b" / "MATH" / "MATH_test_result-20230917-2026-correct.jsonl"
    items += [
        Labelled(
            "mathcoder/MathCoder-L-7b/math-correct",
            r["id"],
            r["ground_truth"]["answer"],
            r["completion"],
            "math",
            True,
        )
        for r in jsonl(path)
    ]
    return items


def _openai() -> list[Labelled]:
    golds = [r["answer"].split("####")[-1].strip() for r in jsonl(DATA / "gsm8k" / "test.jsonl")]
    path = DATA / "transcripts" / "gsm8k-openai-example-solutions" / "example_model_solutions.jsonl"
    models = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
    return [
        Labelled(
            f"openai-gsm8k/{model}",
            str(i),
            golds[i],
            row[model]["solution"],
            "gsm8k",
            row[model]["is_correct"],
        )
        for i, row in enumerate(jsonl(path))
        for model in models
    ]


def _qwen() -> list[Labelled]:
    path = DATA / "transcripts" / "qwen25-math-cot-maj" / "math_cot_100.jsonl"
    return [
        Labelled("qwen25-math-cot-maj", f"{row['idx']}/{j}", row["gt"], text, "math", score)
        for row in jsonl(path)
        for j, (text, score) in enumerate(zip(row["code"], row["score"], strict=True))
    ]
