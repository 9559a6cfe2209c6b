"""Default run file names: the model name always in, short and file-system safe."""

from __future__ import annotations

import re

import pytest

from verimath.run_names import MAX_PART, default_run_name, model_label

SAFE = re.compile(r"[A-Za-z0-9._+-]+\.sqlite")


@pytest.mark.parametrize(
    ("dataset", "model", "expected"),
    [
        ("math500", "openai:gpt-4o", "math500-gpt-4o-csv-k4.sqlite"),
        (
            "gsm8k",
            "openai:Qwen/Qwen2.5-Math-7B-Instruct@http://127.0.0.1:8000/v1",
            "gsm8k-Qwen2.5-Math-7B-Instruct-csv-k4.sqlite",
        ),
        (
            "gsm8k",
            "openai:meta-llama/Llama-3-8B@http://10.0.0.2:8000/v1",
            "gsm8k-Llama-3-8B-csv-k4.sqlite",
        ),
        ("math", None, "math-local-csv-k4.sqlite"),
        ("math", "local", "math-local-csv-k4.sqlite"),
        (
            "my_problems.jsonl",
            "local:/models/qwen-1.5b.Q4_K_M.gguf",
            "my_problems-qwen-1.5b.Q4_K_M-csv-k4.sqlite",
        ),
        (
            "gsm8k",
            "local:bartowski/Qwen2.5-Math-1.5B-Instruct-GGUF/Qwen2.5-Math-1.5B-Instruct-Q4_K_M.gguf@main",
            "gsm8k-Qwen2.5-Math-1.5B-Instruct-Q4_K_M-csv-k4.sqlite",
        ),
        (
            "math",
            "replay:/data/mathcoder/MathCoder-L-7b/MATH/",
            "math-MathCoder-L-7b-MATH-csv-k4.sqlite",
        ),
    ],
)  # fmt: skip
def test_names(dataset: str, model: str | None, expected: str) -> None:
    assert default_run_name(dataset, model, "csv", 4) == expected


def test_readme_examples_are_distinct_and_safe() -> None:
    specs = [
        "openai:gpt-4o",
        "openai:Qwen/Qwen2.5-Math-7B-Instruct@http://127.0.0.1:8000/v1",
        "openai:meta-llama/Llama-3-8B@http://127.0.0.1:8000/v1",
        "openai:Qwen/Qwen2-Math-7B-Instruct@http://a:1/v1,http://b:1/v1",
        "local",
        "local:/m/model.gguf",
        "replay:/data/tora/gsm8k/test.jsonl",
        "replay:/data/mathcoder/MathCoder-CL-34b/GSM8K",
    ]
    names = [default_run_name("gsm8k", spec, "csv", 5) for spec in specs]
    assert len(set(names)) == len(names)
    assert all(SAFE.fullmatch(name) for name in names), names


def test_long_names_are_cut_with_a_hash_that_keeps_them_apart() -> None:
    stem = "x" * 100
    first = default_run_name("gsm8k", f"openai:org/{stem}-a@http://h/v1", "csv", 1)
    second = default_run_name("gsm8k", f"openai:org/{stem}-b@http://h/v1", "csv", 1)
    assert first != second
    label = first.removeprefix("gsm8k-").removesuffix("-csv-k1.sqlite")
    assert len(label) == MAX_PART and re.fullmatch(r"x+-[0-9a-f]{6}", label)


def test_unsafe_characters_are_replaced() -> None:
    name = default_run_name("hf:owner/name:main:test", "openai:we ird/na:me*?<>", "csv", 1)
    assert SAFE.fullmatch(name) and "/" not in name and ":" not in name


def test_label_of_a_replayed_file_names_its_folder_and_file() -> None:
    assert model_label("replay:/r/tora-code-34b/gsm8k.jsonl") == "tora-code-34b-gsm8k"
