"""Replay of the recorded ToRA and MathCoder transcripts, and of verimath's own format."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.models.model_helpers import Notebook
from verimath.errors import InputError, ModelNotFoundError, ModelResponseError
from verimath.models import (
    FENCED_STOP,
    GenerateConfig,
    Message,
    fence_output,
    resolve_model,
    tool_call_code,
)
from verimath.models.replay import ReplayModel
from verimath.models.transcripts import load_transcripts

TORA = "tora/tora-code-34b-v1.0/gsm8k/test_tora_-1_seed0_t0.0_s0_e1319.jsonl"
TORA_CORPUS = "tora/tora-corpus-examples/examples.jsonl"
MATHCODER_CORRECT = "mathcoder/MathCoder-L-7b/GSM8K/GSM8K_test_result-20230916-1751-correct.jsonl"
MATHCODER_WRONG = "mathcoder/MathCoder-L-7b/GSM8K/GSM8K_test_result-20230916-1751-wrong.jsonl"
MATHCODER_MATH = "mathcoder/MathCoder-L-7b/MATH/MATH_test_result-20230917-2026-correct.jsonl"
OUTPUT_BLOCK = re.compile(r"```output\n(.*?)```", re.S)


def prompt(question: str) -> Message:
    return Message(
        "user", f"Solve the problem and put your answer in \\boxed{{}}. The problem is: {question}."
    )


def raw_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_tora_file_segments_code_blocks_and_answers(transcripts: Path) -> None:
    problems = load_transcripts(transcripts / TORA)
    raw = raw_records(transcripts / TORA)

    assert len(problems) == len(raw) == 1319
    for problem, record in zip(problems, raw, strict=True):
        [sample] = problem.samples
        completion = record["code"][0]
        assert problem.id == str(record["idx"]) and problem.gold_answer == record["gt"]
        assert sample.predicted == record["pred"][0] and sample.correct is None
        assert len(sample.segments) == completion.count("```python") + 1
        assert all(s.code is not None for s in sample.segments[:-1])
        assert sample.segments[-1].code is None
        assert all(s.fenced() in completion for s in sample.segments)
    first = problems[0].samples[0].segments
    assert first[0].fenced().startswith("```python\ndef daily_income():")
    assert first[0].fenced().endswith("print(daily_income)\n```")
    assert first[1].prose == "Janet makes $\\boxed{18}$ dollars every day at the farmers' market."


def test_tora_record_whose_run_ended_after_the_code(transcripts: Path) -> None:
    [problem] = [p for p in load_transcripts(transcripts / TORA) if p.id == "146"]
    segments = problem.samples[0].segments
    assert len(segments) == 2
    assert segments[0].code is not None and "blocks_1/4_500" in segments[0].code
    assert segments[1].prose == ""


def test_tora_corpus_examples(transcripts: Path) -> None:
    problems = load_transcripts(transcripts / TORA_CORPUS)
    assert len(problems) == 30
    assert {p.format for p in problems} == {"tora-corpus"}
    with_code = [p for p in problems if p.samples[0].segments[0].code is not None]
    assert len(with_code) == 25
    assert all(len(p.samples[0].segments) == 2 for p in with_code)
    assert (
        problems[0].gold_answer == "2" and "\\boxed{2}" in problems[0].samples[0].segments[-1].prose
    )


def test_mathcoder_segments_follow_the_code_blocks(transcripts: Path) -> None:
    problems = load_transcripts(transcripts / MATHCODER_MATH)
    raw = raw_records(transcripts / MATHCODER_MATH)

    assert len(problems) == 1179
    for problem, record in zip(problems, raw, strict=True):
        blocks = record["debug_result"]
        codes = [b["content"].replace("\r\n", "\n").rstrip() for b in blocks if b["role"] == "code"]
        segments = problem.samples[0].segments
        assert [s.code for s in segments[:-1]] == codes
        assert (
            problem.id == record["id"] and problem.gold_answer == record["ground_truth"]["answer"]
        )
        assert problem.correct is True and problem.predicted == record["completion"]
    algebra = next(p for p in problems if p.id == "test/intermediate_algebra/155.json")
    assert [s.code is not None for s in algebra.samples[0].segments] == [True, False]
    assert algebra.samples[0].segments[1].prose.endswith("\\(\\boxed{9}\\).\n\n9")


def test_mathcoder_labels_come_from_the_file_names(transcripts: Path) -> None:
    wrong = load_transcripts(transcripts / MATHCODER_WRONG)
    right = load_transcripts(transcripts / MATHCODER_CORRECT)
    assert len(wrong) + len(right) == 1319
    assert {p.correct for p in wrong} == {False} and {p.correct for p in right} == {True}
    assert wrong[0].predicted == raw_records(transcripts / MATHCODER_WRONG)[0]["model_answer"]


def test_a_directory_merges_runs_of_the_same_question_into_samples(transcripts: Path) -> None:
    model = ReplayModel.from_path(str(transcripts / "mathcoder" / "MathCoder-L-7b" / "GSM8K"))
    cl = load_transcripts(transcripts / "mathcoder")
    assert len(model.problems) == 1319
    assert sum(len(p.samples) for p in cl) == 1319 * 2 + 1179
    assert {len(p.samples) for p in cl if p.format == "mathcoder" and "/" not in p.id} == {2}


async def test_replay_tora_runs_every_cell_for_real(transcripts: Path, notebook: Notebook) -> None:
    """The agent's view: fenced turns from the record, outputs from really running the code."""
    model = resolve_model(f"replay:{transcripts / TORA}")
    raw = raw_records(transcripts / TORA)[:12]
    for record in raw:
        messages = [prompt(record["question"])]
        [turn] = await model.generate(messages, GenerateConfig(stop=FENCED_STOP))
        code = turn.message.content.removeprefix("```python\n").removesuffix("\n```")
        output = notebook.run(code)
        recorded = OUTPUT_BLOCK.search(record["code"][0])
        assert recorded is not None and output.strip() == recorded.group(1).strip()
        messages += [turn.message, Message("user", fence_output(output.rstrip()))]
        [final] = await model.generate(messages, GenerateConfig(stop=FENCED_STOP))
        assert final.message.content == record["code"][0][recorded.end() :].lstrip("\n")
        assert "\\boxed{" in final.message.content
        assert final.finish_reason == "stop" and final.response["turn"] == 1


async def test_replay_mathcoder_multi_turn_in_both_styles(transcripts: Path) -> None:
    model = resolve_model(f"replay:{transcripts / MATHCODER_MATH}")
    problem = next(p for p in model.problems if len(p.samples[0].segments) == 4)
    segments = problem.samples[0].segments

    fenced = [prompt(problem.question)]
    function = [prompt(problem.question)]
    for segment in segments:
        [a] = await model.generate(fenced, GenerateConfig(stop=FENCED_STOP))
        [b] = await model.generate(function, GenerateConfig(), tools=True)
        assert a.message.content == segment.fenced()
        assert a.response is not None and a.response["turn"] == len(fenced) // 2
        if segment.code is None:
            assert b.finish_reason == "stop" and not b.message.tool_calls
            break
        assert a.message.content.endswith("```") and a.finish_reason == "stop"
        assert b.finish_reason == "tool_calls" and tool_call_code(b.message.tool_calls[0]) == (
            segment.code
        )
        fenced += [a.message, Message("user", fence_output("(ran)"))]
        call = b.message.tool_calls[0]
        function += [b.message, Message("tool", "(ran)", tool_call_id=call.id)]
    assert len(fenced) == 7


async def test_past_the_recording_the_model_says_nothing(transcripts: Path) -> None:
    model = resolve_model(f"replay:{transcripts / TORA}", problem_id="0")
    messages = [Message("user", "anything: the problem is pinned")]
    for _ in range(3):
        [c] = await model.generate(messages, GenerateConfig())
        messages += [c.message, Message("user", "go on")]
    assert c.message.content == "" and c.finish_reason == "stop"
    assert c.response == {**c.response, "turn": 2, "turns": 2}


async def test_altered_history_is_refused(transcripts: Path) -> None:
    model = resolve_model(f"replay:{transcripts / TORA}")
    question = model.problems[3].question
    messages = [
        prompt(question),
        Message("assistant", "I wrote something else"),
        Message("user", "```output\n1\n```"),
    ]
    with pytest.raises(ModelResponseError, match="follow no recorded sample of problem '3'"):
        await model.generate(messages, GenerateConfig())


async def test_unknown_question_and_unknown_id(transcripts: Path) -> None:
    model = resolve_model(f"replay:{transcripts / TORA}")
    with pytest.raises(ModelNotFoundError, match="none of its 1319 recorded questions"):
        await model.generate([Message("user", "What is 1 + 1?")], GenerateConfig())
    with pytest.raises(ModelNotFoundError, match="no problem with id 'x'"):
        model.for_problem("x")


def verimath_run(path: Path) -> Path:
    samples = [
        {
            "id": "p1",
            "problem": "What is 2+3?",
            "answer": "5",
            "predicted": "5",
            "correct": True,
            "turns": ["Compute.\n```python\nprint(2+3)\n```", "So $\\boxed{5}$."],
        },
        {
            "id": "p1",
            "problem": "What is  2+3?",
            "predicted": "6",
            "correct": False,
            "turns": ["```python\nprint(2*3)\n```", "So $\\boxed{6}$."],
        },
        {"problem": "What is 2+30?", "turns": ["$\\boxed{32}$"]},
    ]
    path.write_text("".join(json.dumps(s) + "\n" for s in samples))
    return path


async def test_verimath_runs_replay_sample_by_seed(tmp_path: Path) -> None:
    model = resolve_model(f"replay:{verimath_run(tmp_path / 'run.jsonl')}")
    assert [(p.id, len(p.samples), p.gold_answer) for p in model.problems] == [
        ("p1", 2, "5"),
        (f"{tmp_path / 'run.jsonl'}:3", 1, None),
    ]
    assert [(s.predicted, s.correct) for s in model.problems[0].samples] == [
        ("5", True),
        ("6", False),
    ]
    question = [Message("user", "The problem is: What is 2+3?")]
    first = await model.generate(question, GenerateConfig(n=3, seed=0))
    assert [c.message.content for c in first] == [
        "Compute.\n```python\nprint(2+3)\n```",
        "```python\nprint(2*3)\n```",
        "Compute.\n```python\nprint(2+3)\n```",
    ]
    history = [*question, first[1].message, Message("user", "```output\n6\n```")]
    [second] = await model.generate(history, GenerateConfig(seed=0))
    assert second.message.content == "So $\\boxed{6}$." and second.response["sample"] == 1
    [longest] = await model.generate([Message("user", "What is 2+30?")], GenerateConfig())
    assert longest.message.content == "$\\boxed{32}$"


def test_bad_transcript_lines_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"problem": "q", "turns": ["a"]}\n\n{"what": 1}\n')
    with pytest.raises(InputError, match=rf"{re.escape(str(path))}:3: unknown transcript format"):
        load_transcripts(path)
    path.write_text('{"problem": "q", "turns": [1]}\n')
    with pytest.raises(InputError, match=r":1: record does not fit"):
        load_transcripts(path)
    path.write_text("not json\n")
    with pytest.raises(InputError, match=r":1: not JSON"):
        load_transcripts(path)


@pytest.mark.parametrize(
    ("record", "complaint"),
    [
        ({"question": "q", "code": "not a list"}, "tora format: field 'code' must be a list"),
        ({"question": "q", "code": []}, "tora format: field 'code' holds no completion"),
        ({"question": ["q"], "code": ["a"]}, "tora format: field 'question' must be a string"),
        ({"question": "q", "code": ["a"], "pred": "7"}, "tora format: field 'pred' must be a list"),
        (
            {"gt": "1", "messages": [{"role": "assistant", "content": "a"}]},
            "tora-corpus format: field 'messages' holds no user message",
        ),
        (
            {"gt": "1", "messages": [{"role": "user"}]},
            "tora-corpus format: field 'messages' has message 0 without",
        ),
        (
            {"debug_result": [{"role": "user", "content": "q"}], "ground_truth": "7"},
            "mathcoder format: field 'ground_truth' must be an object",
        ),
        (
            {"debug_result": [{"role": "user", "content": "q"}, {"role": "tool", "content": ""}]},
            "mathcoder format: field 'debug_result' has message 1 of unknown role 'tool'",
        ),
        ({"problem": 1, "turns": ["a"]}, "verimath format: field 'problem' must be a string"),
    ],
)
def test_malformed_records_name_file_line_and_field(
    tmp_path: Path, record: dict, complaint: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"problem": "q", "turns": ["a"]}\n' + json.dumps(record) + "\n")
    with pytest.raises(InputError, match=rf"{re.escape(str(path))}:2: record does not fit the "):
        load_transcripts(path)
    with pytest.raises(InputError, match=re.escape(complaint)):
        load_transcripts(path)
