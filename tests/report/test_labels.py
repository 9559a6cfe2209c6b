"""Run labels: strategy first, then just enough model, dataset or file name to be unique."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.shared import TRANSCRIPTS
from verimath.report.labels import label_runs, short_names
from verimath.report.runs import Run

DATA = str(TRANSCRIPTS)


@pytest.mark.parametrize(
    ("specs", "expected"),
    [
        (
            [f"replay:{DATA}/mathcoder/MathCoder-CL-34b/GSM8K",
             f"replay:{DATA}/mathcoder/MathCoder-L-7b/GSM8K"],
            ["MathCoder-CL-34b", "MathCoder-L-7b"],
        ),
        (
            [f"replay:{DATA}/tora/tora-code-34b-v1.0/gsm8k/test_tora_-1_seed0_t0.0_s0_e1319.jsonl",
             f"replay:{DATA}/mathcoder/MathCoder-CL-34b/GSM8K"],
            ["tora-code-34b-v1.0", "MathCoder-CL-34b"],
        ),
        (
            ["openai:gpt-4o", "openai:Qwen/Qwen2.5-Math-7B-Instruct@http://127.0.0.1:8000/v1"],
            ["gpt-4o", "Qwen2.5-Math-7B-Instruct"],
        ),
        (["replay:/x/a.jsonl", "replay:/x/b.jsonl"], ["a", "b"]),
        (["replay:/x/a/run.jsonl", "replay:/y/a/run.jsonl"], ["x", "y"]),
        (["local:/m/one/model.gguf", "local:/m/two/model.gguf"], ["one", "two"]),
    ],
)  # fmt: skip
def test_short_names(specs: list[str], expected: list[str]) -> None:
    assert short_names(specs) == expected


def run(strategy: str, model: str, dataset: str = "gsm8k", file: str = "r.sqlite") -> Run:
    config = {"strategy": strategy, "model": model, "dataset": dataset, "samples": 1}
    return Run(Path(file), config, {}, (), {}, {}, ())


def test_labels_add_only_what_differs() -> None:
    same_model = label_runs([run("csv", "openai:gpt-4o"), run("basic", "openai:gpt-4o")])
    assert [r.label for r in same_model] == ["csv", "basic"]
    models = label_runs([run("csv", "openai:gpt-4o"), run("csv", "openai:gpt-4o-mini")])
    assert [r.label for r in models] == ["csv · gpt-4o", "csv · gpt-4o-mini"]
    datasets = label_runs([run("csv", "local", "math"), run("csv", "local", "gsm8k")])
    assert [r.label for r in datasets] == ["csv · math", "csv · gsm8k"]


def test_labels_fall_back_to_file_names_then_numbers() -> None:
    files = label_runs([run("csv", "local", file="a.sqlite"), run("csv", "local", file="b.sqlite")])
    assert [r.label for r in files] == ["csv [a]", "csv [b]"]
    same = label_runs([run("csv", "local"), run("csv", "local"), run("basic", "local")])
    assert [r.label for r in same] == ["csv [r] #1", "csv [r] #2", "basic"]
