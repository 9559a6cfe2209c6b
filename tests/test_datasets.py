"""Tests of verimath.datasets: shipped and local benchmarks, generic files, Hugging Face
sources, malformed input and selection."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import pickle
import sys
import time
from collections import Counter
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import pytest

from tests.shared import SHARED_DATA
from verimath.datasets import (
    DATA_DIR_ENV,
    LOCAL_DATASETS,
    SHIPPED_DATASETS,
    HubSpec,
    Problem,
    known_name,
    load_dataset,
    select,
)
from verimath.errors import ConfigError, InputError

SHARED_DATA = Path(os.environ.get("VERIMATH_SHARED_DATA", SHARED_DATA))
# The shared benchmark data is part of the test environment: a missing copy fails, loudly.
needs_shared = pytest.mark.usefixtures("shared_data_present")
PACKAGE_DATA = files("verimath").joinpath("data")

SHIPPED_COUNTS = {"math": 5000, "math500": 500, "gsm8k": 1319}
LOCAL_COUNTS = {
    "gsm-hard": 1319,
    "svamp": 1000,
    "asdiv": 2215,
    "mawps": 2065,
    "aime24": 30,
    "amc23": 40,
    "mmlu_stem": 3018,
    "college_math": 2818,
}
# Per-subject counts of the MATH test split as published (shared/data/README.md).
MATH_SUBJECTS = {
    "Algebra": 1187,
    "Counting & Probability": 474,
    "Geometry": 479,
    "Intermediate Algebra": 903,
    "Number Theory": 540,
    "Prealgebra": 871,
    "Precalculus": 546,
}
MATH500_SUBJECTS = {
    "Algebra": 124,
    "Counting & Probability": 38,
    "Geometry": 41,
    "Intermediate Algebra": 97,
    "Number Theory": 62,
    "Prealgebra": 82,
    "Precalculus": 56,
}


@pytest.fixture(scope="module")
def math() -> list[Problem]:
    return load_dataset("math")


@pytest.fixture(scope="module")
def gsm8k() -> list[Problem]:
    return load_dataset("gsm8k")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(path: Path, *records: dict) -> Path:
    return write(path, "".join(json.dumps(record) + "\n" for record in records))


# --- shipped datasets -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "count"), SHIPPED_COUNTS.items())
def test_shipped_dataset_loads_with_its_count(name: str, count: int) -> None:
    problems = load_dataset(name)
    assert len(problems) == count
    assert len({p.id for p in problems}) == count
    assert {p.dataset for p in problems} == {name}
    assert all(p.question.strip() and p.answer.strip() for p in problems)


def test_shipped_names_are_the_documented_ones() -> None:
    assert set(SHIPPED_DATASETS) == set(SHIPPED_COUNTS)
    assert set(LOCAL_DATASETS) == set(LOCAL_COUNTS)


def test_math_has_the_published_subject_and_level_counts(math: list[Problem]) -> None:
    assert Counter(p.subject for p in math) == MATH_SUBJECTS
    assert sorted({p.level for p in math}) == [1, 2, 3, 4, 5]
    assert all(p.solution and "\\boxed" in p.solution for p in math)


def test_math500_subject_counts_and_subset_of_math(math: list[Problem]) -> None:
    math500 = load_dataset("math500")
    assert Counter(p.subject for p in math500) == MATH500_SUBJECTS
    by_id = {p.id: p for p in math}
    for problem in math500:
        full = by_id[problem.id]
        assert (full.question, full.answer, full.solution, full.subject, full.level) == (
            problem.question,
            problem.answer,
            problem.solution,
            problem.subject,
            problem.level,
        )


def test_math_problem_fields(math: list[Problem]) -> None:
    first = math[0]
    assert first.id == "test/algebra/1.json"
    assert first.question.startswith("How many vertical asymptotes does the graph of")
    assert first.answer == "2"
    assert (first.subject, first.level) == ("Algebra", 3)
    assert dict(first.meta) == {"idx": 0}
    assert first.choices is None


def test_gsm8k_answer_is_the_raw_text_after_the_marker(gsm8k: list[Problem]) -> None:
    first = gsm8k[0]
    assert first.id == "gsm8k/test/0"
    assert first.answer == "18"
    assert first.solution is not None and first.solution.endswith(
        "<<9*2=18>>18 every day at the farmer’s market."
    )
    assert gsm8k[-1].id == "gsm8k/test/1318"
    with_commas = [p.answer for p in gsm8k if "," in p.answer]
    assert len(with_commas) == 14 and "1,450,000" in with_commas


@needs_shared
@pytest.mark.parametrize("name", SHIPPED_COUNTS)
def test_shipped_gold_answers_equal_the_reference(name: str) -> None:
    lines = (SHARED_DATA / name / "test.jsonl").read_text(encoding="utf-8").splitlines()
    raw = [json.loads(line) for line in lines]
    problems = load_dataset(name)
    if name == "gsm8k":
        expected = [record["answer"].split("####")[1].strip() for record in raw]
    else:
        expected = [record["answer"] for record in raw]
    assert [p.answer for p in problems] == expected


def test_shipped_files_are_small_gzip_matching_the_manifest() -> None:
    manifest = json.loads(PACKAGE_DATA.joinpath("manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["datasets"]) == set(SHIPPED_DATASETS)
    total = 0
    for name, entry in manifest["datasets"].items():
        packed = PACKAGE_DATA.joinpath(entry["file"]).read_bytes()
        assert packed[:2] == b"\x1f\x8b", f"{entry['file']} is not gzip"
        raw = gzip.decompress(packed)
        assert hashlib.sha256(raw).hexdigest() == entry["sha256"]
        assert raw.count(b"\n") == entry["records"] == SHIPPED_COUNTS[name]
        assert packed[8] == 2, f"{entry['file']} was not written with gzip -9"  # XFL byte
        assert len(packed) < len(raw) * 0.35
        total += len(packed)
    assert total < 1_600_000


def test_shipped_files_carry_licence_and_attribution() -> None:
    text = PACKAGE_DATA.joinpath("LICENSE").read_text(encoding="utf-8")
    assert text.count("MIT License") == 3
    assert text.count("Permission is hereby granted, free of charge") == 3
    for notice in (
        "Copyright (c) 2021 Dan Hendrycks",
        "Copyright (c) 2023 OpenAI",
        "Copyright (c) 2021 OpenAI",
        "openai/prm800k @ 7ecc794703b2877f63226f2477a49b34f9b25163",
        "openai/grade-school-math @ 3101c7d5072418e28b9008a6636bde82a006892c",
        "wulei20/AML_HW4_Infer @ 1460fcce590211503876311be7fdb1103117afd4",
        "https://github.com/hendrycks/math",
    ):
        assert notice in text


@needs_shared
@pytest.mark.parametrize("name", SHIPPED_COUNTS)
def test_shipped_files_are_byte_identical_to_the_shared_copies(name: str) -> None:
    packed = PACKAGE_DATA.joinpath(f"{name}.jsonl.gz").read_bytes()
    assert gzip.decompress(packed) == (SHARED_DATA / name / "test.jsonl").read_bytes()


def _fastest_s(action: Callable[[], object], repeats: int = 2) -> float:
    timings = []
    for _ in range(repeats):
        started = time.thread_time()  # CPU time: other work on a busy machine does not count
        action()
        timings.append(time.thread_time() - started)
    return min(timings)


def test_loading_math_from_the_package_costs_little_more_than_parsing_it() -> None:
    """Measured against decompressing and parsing the same file side by side (no absolute
    time: the machine may be busy); absolute figures belong to benchmarks."""
    raw = PACKAGE_DATA.joinpath("math.jsonl.gz").read_bytes()
    assert len(load_dataset("math")) == 5000  # also warms the file cache
    loading = _fastest_s(lambda: load_dataset("math"))
    parsing = _fastest_s(lambda: [json.loads(line) for line in gzip.decompress(raw).splitlines()])
    assert loading < 6 * parsing, f"loading took {loading / parsing:.1f}x the parse alone"


# --- datasets read from a data directory ----------------------------------------------------


@needs_shared
@pytest.mark.parametrize(("name", "count"), LOCAL_COUNTS.items())
def test_local_dataset_loads_with_its_count(name: str, count: int) -> None:
    problems = load_dataset(name, data_dir=SHARED_DATA)
    assert len(problems) == count
    assert len({p.id for p in problems}) == count
    assert {p.dataset for p in problems} == {name}
    for problem in problems:
        assert isinstance(problem.question, str) and problem.question.strip()
        assert isinstance(problem.answer, str) and problem.answer.strip()
        assert problem.answer == problem.answer.strip()


@needs_shared
def test_local_dataset_by_env_var_path_and_directory_are_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(SHARED_DATA))
    by_name = load_dataset("svamp")
    assert load_dataset(str(SHARED_DATA / "svamp" / "test.jsonl")) == by_name
    assert load_dataset(str(SHARED_DATA / "svamp")) == by_name
    assert load_dataset("SVAMP", data_dir=SHARED_DATA) == by_name
    assert load_dataset("GSM_Hard") == load_dataset("gsm-hard")


@needs_shared
def test_svamp_question_is_body_then_question() -> None:
    first = load_dataset("svamp", data_dir=SHARED_DATA)[0]
    assert first.id == "svamp/chal-777"
    assert first.question == (
        "There are 87 oranges and 290 bananas in Philip's collection. If the bananas are "
        "organized into 2 groups and oranges are organized into 93 groups. "
        "How big is each group of bananas?"
    )
    assert (first.answer, first.subject, first.solution) == (
        "145",
        "Common-Division",
        "( 290.0 / 2.0 )",
    )
    assert dict(first.meta) == {"idx": 0}


@needs_shared
def test_asdiv_drops_only_a_trailing_unit() -> None:
    problems = load_dataset("asdiv", data_dir=SHARED_DATA)
    first = problems[0]
    assert first.question == (
        "Seven red apples and two green apples are in the basket. "
        "How many apples are in the basket?"
    )
    assert (first.answer, first.meta["raw_answer"]) == ("9", "9 (apples)")
    by_raw = {p.meta.get("raw_answer", p.answer): p.answer for p in problems}
    assert by_raw["14  (seats)"] == "14"
    assert by_raw["-(1/3)"] == "-(1/3)"
    assert by_raw["Mrs. Hilt"] == "Mrs. Hilt"
    assert by_raw["3:30 p.m."] == "3:30 p.m."
    assert all("(" not in p.answer for p in problems if p.answer != "-(1/3)")


@needs_shared
def test_numeric_gold_answers_print_the_stored_number() -> None:
    raw = [json.loads(line) for line in (SHARED_DATA / "gsm-hard" / "test.jsonl").open()]
    problems = load_dataset("gsm-hard", data_dir=SHARED_DATA)
    assert problems[0].answer == "-9867630"
    assert all(float(p.answer) == record["target"] for p, record in zip(problems, raw, strict=True))
    assert {p.answer for p in problems} >= {"5186630.6", "2.0107e-06"}
    assert load_dataset("amc23", data_dir=SHARED_DATA)[0].answer == "27"
    aime = load_dataset("aime24", data_dir=SHARED_DATA)
    assert [p.answer for p in aime][7] == "025"
    assert aime[0].id == "aime24/60" and "url" in aime[0].meta and "question" not in aime[0].meta


@needs_shared
def test_mmlu_stem_appends_choices_and_gold_is_a_letter() -> None:
    problems = load_dataset("mmlu_stem", data_dir=SHARED_DATA)
    first = problems[0]
    assert first.question == (
        "Based on the characteristic population curves that result from plotting population "
        "growth of a species, the most effective means of controlling the mosquito population "
        "is to\nAnswer Choices: (A) maintain the population at a point corresponding to the "
        "midpoint of its logistic curve (B) opt for zero population control once the K value "
        "of the curve has been reached (C) reduce the carrying capacity cif the environment to "
        "lower the K value (D) increase the mortality rate"
    )
    assert first.answer == "C"
    assert first.choices is not None and len(first.choices) == 4
    assert first.subject == "college_biology"
    assert Counter(p.answer for p in problems) == {"A": 645, "B": 719, "C": 783, "D": 871}


@needs_shared
def test_mawps_and_college_math_mappings() -> None:
    mawps = load_dataset("mawps", data_dir=SHARED_DATA)
    assert Counter(p.subject for p in mawps) == {
        "addsub": 395,
        "multiarith": 600,
        "singleeq": 508,
        "singleop": 562,
    }
    college = load_dataset("college_math", data_dir=SHARED_DATA)[0]
    assert (college.answer, college.subject) == ("$10-4 n$", "college_math.algebra")
    assert college.meta["license"].startswith("Creative Commons Attribution 3.0")


def test_local_dataset_without_a_data_dir_says_how_to_give_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    with pytest.raises(ConfigError, match="--data-dir or the VERIMATH_DATA_DIR"):
        load_dataset("svamp")


def test_local_dataset_missing_from_the_data_dir(tmp_path: Path) -> None:
    expected = f"dataset 'svamp' not found: {tmp_path / 'svamp' / 'test.jsonl'} does not exist"
    with pytest.raises(ConfigError, match="^" + expected.replace("(", r"\(")):
        load_dataset("svamp", data_dir=tmp_path)


def test_known_name_ignores_case_and_separators() -> None:
    assert known_name("GSM_Hard") == "gsm-hard"
    assert known_name("MMLU-STEM") == "mmlu_stem"
    assert known_name("math-500") == "math500"
    assert known_name("mathematics") is None


# --- any JSONL / CSV --------------------------------------------------------------------------


def test_jsonl_with_custom_fields(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "mine.jsonl",
        {"uid": "a", "prompt": "What is 1+1?", "gold_answer": 2, "source": "x"},
        {"uid": "b", "prompt": "What is 1/2?", "gold_answer": 0.5, "source": "y"},
    )
    problems = load_dataset(
        str(path), question_field="prompt", answer_field="gold_answer", id_field="uid"
    )
    assert [(p.id, p.question, p.answer) for p in problems] == [
        ("a", "What is 1+1?", "2"),
        ("b", "What is 1/2?", "0.5"),
    ]
    assert problems[0].dataset == "mine"
    assert dict(problems[0].meta) == {"source": "x"}


def test_jsonl_fields_are_detected_from_common_names(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "test.jsonl",
        {"Problem": "p1", "target": 3.0, "subject": "Algebra", "level": "Level 2", "solution": "s"},
        {"Problem": "p2", "target": "x+1", "subject": "Geometry", "level": 4, "solution": "t"},
    )
    first, second = load_dataset(str(path))
    assert first == Problem(
        id=f"{tmp_path.name}/test/0",
        question="p1",
        answer="3",
        dataset=tmp_path.name,
        subject="Algebra",
        level=2,
        solution="s",
    )
    assert (second.answer, second.level) == ("x+1", 4)


def test_csv_with_custom_fields_multiline_cells_and_bom(tmp_path: Path) -> None:
    text = '\ufeffkey,text,result,extra\nk1,"Line one\nline two, with comma",42,e\nk2,Plain,7,\n'
    path = write(tmp_path / "set.csv", text)
    problems = load_dataset(str(path), question_field="text", answer_field="result", id_field="key")
    assert [(p.id, p.question, p.answer) for p in problems] == [
        ("k1", "Line one\nline two, with comma", "42"),
        ("k2", "Plain", "7"),
    ]
    assert dict(problems[0].meta) == {"extra": "e"}


def test_csv_tsv_and_gzip_autodetect(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "Question,Answer\nq,1\n")
    write(tmp_path / "b.tsv", "question\tgold\nq\t1\n")
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(b'{"input": "q", "answer": "1"}\n'))
    for name in ("a.csv", "b.tsv", "c.jsonl.gz"):
        (problem,) = load_dataset(str(tmp_path / name))
        assert (problem.question, problem.answer, problem.id) == ("q", "1", f"{name[0]}/0")


def test_generic_choices_become_letters(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "mc.jsonl",
        {"question": "Pick", "choices": ["one", "two", "three"], "answer": 1},
        {"question": "Again", "choices": ["x", "y"], "answer": "b"},
    )
    first, second = load_dataset(str(path))
    assert first.question == "Pick\nAnswer Choices: (A) one (B) two (C) three"
    assert (first.answer, first.choices) == ("B", ("one", "two", "three"))
    assert second.answer == "B"


def test_known_file_read_generically_when_fields_are_given() -> None:
    path = PACKAGE_DATA.joinpath("gsm8k.jsonl.gz")
    problems = load_dataset(str(path), question_field="question", answer_field="answer")
    assert problems[0].answer.endswith("#### 18")
    assert problems[0].id == "gsm8k/0"


def test_file_named_after_a_known_dataset_uses_its_mapping(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "gsm8k.jsonl", {"question": "Q?", "answer": "2 + 2 = 4\n#### 4"})
    (problem,) = load_dataset(str(path))
    assert (problem.id, problem.answer, problem.solution) == ("gsm8k/test/0", "4", "2 + 2 = 4")


# --- malformed input: exact messages ----------------------------------------------------------


def assert_input_error(path: Path, message: str, line: int | None, field: str | None, **kw) -> None:
    with pytest.raises(InputError) as caught:
        load_dataset(str(path), **kw)
    assert str(caught.value) == message
    assert (caught.value.path, caught.value.line, caught.value.field) == (str(path), line, field)


def test_bad_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.jsonl",
        '{"question": "q1", "answer": "1"}\n\n{"question": "q2", "answer": 2\n{"question": "q3"}\n',
    )
    message = f"{path}:3: invalid JSON: Expecting ',' delimiter (column 31)"
    assert_input_error(path, message, 3, None)


def test_missing_field_names_it_and_lists_the_present_ones(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "m.jsonl", {"question": "q", "answer": "1"}, {"problem": "q", "answer": "2"}
    )
    message = f"{path}:2 field 'question': missing field (fields present: 'problem', 'answer')"
    assert_input_error(path, message, 2, "question")


@pytest.mark.parametrize(
    ("record", "field", "message"),
    [
        ({"question": "   ", "answer": "1"}, "question", "is empty"),
        ({"question": ["q"], "answer": "1"}, "question", "expected a string, got a list"),
        ({"question": "q", "answer": None}, "answer", "is null; a value is required"),
        (
            {"question": "q", "answer": True},
            "answer",
            "expected a string or a number, got a boolean",
        ),
        (
            {"question": "q", "answer": {"v": 1}},
            "answer",
            "expected a string or a number, got an object",
        ),
        ({"question": "q", "answer": ""}, "answer", "is empty"),
        (
            {"question": "q", "answer": "1", "level": "hard"},
            "level",
            "expected a level such as 3 or 'Level 3', got 'hard'",
        ),
    ],
)
def test_bad_values_name_line_and_field(
    tmp_path: Path, record: dict, field: str, message: str
) -> None:
    path = jsonl(tmp_path / "v.jsonl", {"question": "fine", "answer": "0"}, record)
    assert_input_error(path, f"{path}:2 field {field!r}: {message}", 2, field)


def test_a_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '["question", "answer"]\n')
    assert_input_error(path, f"{path}:1: expected a JSON object per line, got a list", 1, None)


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "u.jsonl"
    path.write_bytes(b'{"question": "q", "answer": "1"}\n{"question": "caf\xe9", "answer": "1"}\n')
    message = f"{path}:2: not valid UTF-8 (byte 18 of the line); save the file as UTF-8"
    assert_input_error(path, message, 2, None)


def test_truncated_gzip_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl.gz"
    text = "".join(
        json.dumps({"question": f"q{i}", "answer": str(i * 7919)}) + "\n" for i in range(5000)
    )
    packed = gzip.compress(text.encode())
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(InputError, match=r"cannot read \(corrupt or truncated file\?\)") as caught:
        load_dataset(str(path))
    assert caught.value.path == str(path)


def test_error_on_the_last_line_loads_nothing(tmp_path: Path) -> None:
    records = [{"question": f"q{i}", "answer": str(i)} for i in range(500)]
    path = jsonl(tmp_path / "late.jsonl", *records, {"question": "q", "answer": []})
    assert_input_error(
        path, f"{path}:501 field 'answer': expected a string or a number, got a list", 501, "answer"
    )


def test_csv_row_with_wrong_column_count(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", 'question,answer\nq1,1\n"multi\nline",2\nonly one\n')
    assert_input_error(path, f"{path}:5: has 1 columns, the header has 2", 5, None)


def test_csv_header_problems(tmp_path: Path) -> None:
    path = write(tmp_path / "dup.csv", "question,answer,answer\nq,1,2\n")
    assert_input_error(path, f"{path}:1: the header repeats column 'answer'", 1, None)
    path = write(tmp_path / "h.csv", "q,a\nx,1\n")
    message = (
        f"{path}:2: no question field: none of question, problem, input is present "
        "(fields: 'q', 'a'); name it with --question-field"
    )
    assert_input_error(path, message, 2, None)
    path = write(tmp_path / "empty.csv", "")
    assert_input_error(path, f"{path}:1: empty file: no header row", 1, None)


def test_empty_file_and_empty_cell(tmp_path: Path) -> None:
    path = write(tmp_path / "none.jsonl", "\n\n")
    assert_input_error(path, f"{path}: contains no records", None, None)
    path = write(tmp_path / "cell.csv", "question,answer\nq,\n")
    assert_input_error(path, f"{path}:2 field 'answer': is empty", 2, "answer")


def test_given_field_that_does_not_exist(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "f.jsonl", {"question": "q", "answer": "1"})
    message = f"{path}:1 field 'gold': missing field (fields present: 'question', 'answer')"
    assert_input_error(path, message, 1, "gold", answer_field="gold")


def test_duplicate_ids_name_both_lines(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "d.jsonl",
        {"id": 7, "question": "q", "answer": "1"},
        {"id": 8, "question": "q", "answer": "1"},
        {"id": 7, "question": "q", "answer": "1"},
    )
    assert_input_error(path, f"{path}:3 field 'id': duplicate id '7' (first on line 1)", 3, "id")


def test_known_format_errors(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "gsm8k.jsonl", {"question": "Q?", "answer": "no marker"})
    assert_input_error(
        path, f"{path}:1 field 'answer': has no final answer after '####'", 1, "answer"
    )
    path = jsonl(
        tmp_path / "mmlu_stem.jsonl", {"question": "Q?", "choices": ["a", "b"], "answer": 2}
    )
    message = f"{path}:1 field 'answer': expected an index 0-1 or a letter A-B, got 2"
    assert_input_error(path, message, 1, "answer")


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    path = write(tmp_path / "data.txt", "question,answer\n")
    with pytest.raises(InputError, match=r"unsupported file type; expected one of \.jsonl"):
        load_dataset(str(path))
    with pytest.raises(ConfigError, match=r"^dataset file not found: "):
        load_dataset(str(tmp_path / "absent.jsonl"))
    with pytest.raises(
        ConfigError,
        match=r"^unknown dataset 'nope': not a shipped dataset \(math, math500, gsm8k\)",
    ):
        load_dataset("nope")


# --- Hugging Face -----------------------------------------------------------------------------


def test_hub_spec_parsing() -> None:
    assert HubSpec.parse("hf:openai/gsm8k:main:test") == HubSpec("openai/gsm8k", "main", "test")
    assert HubSpec.parse("hf:owner/name") == HubSpec("owner/name", None, "test")
    assert HubSpec.parse("hf:owner/name::train") == HubSpec("owner/name", None, "train")
    for bad in ("hf:", "hf::x", "hf:a:b:c:d"):
        with pytest.raises(ConfigError, match="expected hf:owner/name"):
            HubSpec.parse(bad)


def test_hub_without_the_datasets_library_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail
    with pytest.raises(
        ConfigError, match=r"needs the Hugging Face 'datasets' library.*pip install datasets"
    ):
        load_dataset("hf:openai/gsm8k:main:test")


@pytest.fixture
def shared_data_present() -> None:
    if not (SHARED_DATA / "README.md").is_file():
        pytest.fail(f"benchmark data not found at {SHARED_DATA} (set VERIMATH_SHARED_DIR)")


@pytest.fixture
def hf_datasets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    import datasets as hf  # in the dev extra: a missing library is a failure, not a skip

    hf.disable_progress_bars()
    monkeypatch.setattr(hf.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    return hf


def test_hub_unreachable_names_the_dataset(hf_datasets, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hf_datasets.config, "HF_HUB_OFFLINE", True)  # no network here anyway
    with pytest.raises(ConfigError) as caught:
        load_dataset("hf:openai/gsm8k:main:test")
    message = str(caught.value)
    assert message.startswith(
        "could not reach the Hugging Face Hub for dataset 'openai/gsm8k' "
        "(config 'main', split 'test'): "
    )
    assert "save_to_disk" in message


def test_hub_saved_dataset_with_field_mapping(hf_datasets, tmp_path: Path) -> None:
    rows = [
        {"prompt": "What is 2+2?", "solution_value": "4", "level": "Level 1"},
        {"prompt": "What is 3+3?", "solution_value": "6", "level": "Level 2"},
    ]
    hf_datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
    spec = f"hf:{tmp_path / 'saved'}"
    problems = load_dataset(spec, question_field="prompt", answer_field="solution_value")
    assert [(p.id, p.question, p.answer, p.level) for p in problems] == [
        ("saved/test/0", "What is 2+2?", "4", 1),
        ("saved/test/1", "What is 3+3?", "6", 2),
    ]
    with pytest.raises(InputError) as caught:
        load_dataset(spec, question_field="prompt", answer_field="missing")
    assert str(caught.value).startswith(f"{spec}::test:1 field 'missing': missing field")


def test_hub_saved_dataset_dict_splits(hf_datasets, tmp_path: Path) -> None:
    table = hf_datasets.Dataset.from_list([{"question": "q", "answer": "a"}])
    hf_datasets.DatasetDict({"validation": table}).save_to_disk(str(tmp_path / "dd"))
    (problem,) = load_dataset(f"hf:{tmp_path / 'dd'}::validation")
    assert (problem.question, problem.answer, problem.id) == ("q", "a", "dd/validation/0")
    with pytest.raises(ConfigError, match="no split 'test'; available splits: validation"):
        load_dataset(f"hf:{tmp_path / 'dd'}")


def test_hub_parquet_named_after_gsm8k_uses_the_gsm8k_mapping(hf_datasets, tmp_path: Path) -> None:
    rows = [{"question": "Q?", "answer": "1000 - 1 = 999\n#### 1,000"}]
    hf_datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "gsm8k.parquet"))
    (problem,) = load_dataset(f"hf:{tmp_path / 'gsm8k.parquet'}")
    assert (problem.id, problem.answer, problem.dataset) == ("gsm8k/test/0", "1,000", "gsm8k")


# --- selection --------------------------------------------------------------------------------


def test_select_filters_keep_source_order(math: list[Problem]) -> None:
    chosen = select(math, subjects=["Number Theory", "geometry"], levels=[5])
    assert chosen == [
        p for p in math if p.subject in {"Number Theory", "Geometry"} and p.level == 5
    ]
    assert len(chosen) > 100
    assert select(math, subjects="counting_and_probability") == [
        p for p in math if p.subject == "Counting & Probability"
    ]
    assert select(math, levels=1) == [p for p in math if p.level == 1]
    assert select(math, subjects=[], levels=None) == math


def test_select_ids_and_limit(math: list[Problem]) -> None:
    ids = ["test/precalculus/807.json", "test/algebra/1.json"]
    assert [p.id for p in select(math, ids=ids)] == [
        "test/algebra/1.json",
        "test/precalculus/807.json",
    ]
    assert select(math, limit=3) == math[:3]
    assert select(math, ids="test/algebra/1.json") == [math[0]]


def test_shuffle_is_deterministic_and_pinned(math: list[Problem]) -> None:
    first = select(math, shuffle=True, seed=0)
    assert first == select(list(reversed(math)), shuffle=True, seed=0)
    assert sorted(p.id for p in first) == sorted(p.id for p in math)
    assert first != math and first != select(math, shuffle=True, seed=1)
    # Pinned so that a change of the shuffle (which would change every reported subset) fails.
    assert [p.id for p in first[:3]] == [
        "test/number_theory/222.json",
        "test/number_theory/1061.json",
        "test/prealgebra/1786.json",
    ]


def test_shuffled_samples_are_nested_and_subset_independent(math: list[Problem]) -> None:
    small = select(math, shuffle=True, seed=3, limit=10)
    assert select(math, shuffle=True, seed=3, limit=20)[:10] == small
    algebra = select(math, subjects=["Algebra"], shuffle=True, seed=3)
    assert algebra == [p for p in select(math, shuffle=True, seed=3) if p.subject == "Algebra"]


def test_select_errors_list_valid_values(math: list[Problem], gsm8k: list[Problem]) -> None:
    with pytest.raises(ConfigError) as caught:
        select(math, subjects=["Algebr"])
    assert str(caught.value) == (
        "unknown subject 'Algebr'; valid: Algebra (1187); Counting & Probability (474); "
        "Geometry (479); Intermediate Algebra (903); Number Theory (540); Prealgebra (871); "
        "Precalculus (546)"
    )
    with pytest.raises(
        ConfigError, match=r"^unknown level \[6\]; valid levels: \[1, 2, 3, 4, 5\]$"
    ):
        select(math, levels=[5, 6])
    with pytest.raises(
        ConfigError, match=r"did you mean 'test/algebra/1.json'\?.*\(5000 in total\)"
    ):
        select(math, ids=["test/algebra/1.jsn"])
    with pytest.raises(ConfigError, match=r"^cannot filter by subject: gsm8k has no subjects$"):
        select(gsm8k, subjects=["Algebra"])
    with pytest.raises(ConfigError, match=r"^cannot filter by level: gsm8k has no levels$"):
        select(gsm8k, levels=[1])
    for limit in (0, -1, True):
        with pytest.raises(ConfigError, match="limit must be a positive integer"):
            select(math, limit=limit)


# --- the Problem type -------------------------------------------------------------------------


def test_problem_is_frozen_hashable_picklable(math: list[Problem]) -> None:
    problem = math[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.answer = "3"  # type: ignore[misc]
    with pytest.raises(TypeError):
        problem.meta["idx"] = 1  # type: ignore[index]
    assert pickle.loads(pickle.dumps(problem)) == problem
    assert len({problem, dataclasses.replace(problem)}) == 1
    restored = Problem(**json.loads(json.dumps(problem.to_dict())))
    assert restored == problem
