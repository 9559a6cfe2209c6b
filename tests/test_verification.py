"""Tests for verimath.verification: hand-made cases, adapters, and the recorded transcripts."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.shared import TRANSCRIPTS
from verimath.errors import ConfigError, InputError
from verimath.models.transcripts import parse_record, read_records
from verimath.verification import (
    CodeStep,
    TextStep,
    Trace,
    VerificationState,
    _announces,
    _verdict_of_words,
    read_verification,
    recorded_trace,
)

CASES_DIR = Path(__file__).parent / "data" / "verification"

MATHCODER = TRANSCRIPTS / "mathcoder"


def _load_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.json")):
        cases.extend(
            (f"{path.stem}::{case['name']}", case) for case in json.loads(path.read_text())
        )
    return cases


CASES = _load_cases()


def _trace_of(case: dict[str, Any]) -> Trace:
    steps = [
        TextStep(s["text"]) if "text" in s else CodeStep(s["code"], s["output"], s["status"])
        for s in case["steps"]
    ]
    return Trace(tuple(steps), case["answer"])


def test_case_files_cover_every_state_and_are_many() -> None:
    expected = Counter(case["expected"] for _, case in CASES)
    assert len(CASES) >= 25
    assert set(expected) == {"True", "False", "Uncertain"}
    assert len({name for name, _ in CASES}) == len(CASES), "case names must be unique"


@pytest.mark.parametrize(("name", "case"), CASES, ids=[name for name, _ in CASES])
def test_hand_made_case(name: str, case: dict[str, Any]) -> None:
    result = read_verification(_trace_of(case), case.get("medium", "code"))
    assert result.state == case["expected"], f"{name}: {result.evidence}"
    assert result.evidence[-1] == f"state {case['expected']}"


def test_state_values_are_the_paper_names() -> None:
    assert [s.value for s in VerificationState] == ["True", "False", "Uncertain"]
    assert VerificationState.TRUE == "True"


def test_evidence_names_the_deciding_step() -> None:
    trace = Trace(
        (TextStep("The answer is \\boxed{4}. Let's verify."), CodeStep("2 * 4 + 1 == 9", "True")),
        "4",
    )
    result = read_verification(trace)
    assert result.state is VerificationState.TRUE
    assert result.evidence[0].startswith("step 1: code check")


def test_unknown_medium_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="medium"):
        read_verification(Trace((), None), "speech")  # type: ignore[arg-type]


def test_trace_rejects_foreign_steps_and_freezes_lists() -> None:
    with pytest.raises(InputError, match="step 0"):
        Trace(("not a step",), None)  # type: ignore[arg-type]
    trace = Trace([TextStep("x")], None)  # type: ignore[arg-type]
    assert isinstance(trace.steps, tuple)


# --- docs/verification.md and the code say the same thing ---------------------------------------

DOC = Path(__file__).resolve().parents[1] / "docs" / "verification.md"


def _documented_phrases() -> list[tuple[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- phrases: start -->")[1].split("<!-- phrases: end -->")[0]
    rows = []
    for line in table.strip().splitlines()[2:]:  # after the header and the |---| line
        words, reading = (cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:3])
        rows.append((re.sub(r"\\([*|])", r"\1", words), reading))
    return rows


def test_documented_phrases() -> None:
    """Every row of the phrase table in docs/verification.md is read as the table says."""
    rows = _documented_phrases()
    assert len(rows) >= 25
    readings = {"announces", "announces nothing", "True", "False", "no verdict"}
    for words, reading in rows:
        assert reading in readings, f"{words!r}: unknown reading {reading!r}"
        if reading.startswith("announces"):
            assert _announces(words) == (reading == "announces"), words
        else:
            verdict = _verdict_of_words(words)
            assert (verdict[0].value if verdict else "no verdict") == reading, (words, verdict)


# --- recorded solutions -----------------------------------------------------------------------

TORA_COMPLETION = (
    "Let's compute.\n```python\nprint(16 - 3 - 4)\n```\n```output\n9\n```\n"
    "She sells 9 eggs.\n```python\nprint(9 * two)\n```\n```output\n"
    "Traceback (most recent call last):\nNameError: name 'two' is not defined\n```\n"
    "Fix it.\n```python\nprint(9 * 2)\n```\n```output\n18\n```\nShe makes $\\boxed{18}$ dollars."
)


def _fenced_trace(completion: str, pred: str | None = None) -> Trace:
    record = {"question": "q", "code": [completion], "pred": [pred]}
    return recorded_trace(parse_record(record).samples[0])


def test_fenced_text_splits_cells_outputs_and_statuses() -> None:
    trace = _fenced_trace(TORA_COMPLETION)
    kinds = [type(s).__name__ for s in trace.steps]
    assert kinds == [
        "TextStep",
        "CodeStep",
        "TextStep",
        "CodeStep",
        "TextStep",
        "CodeStep",
        "TextStep",
    ]
    code_steps = [s for s in trace.steps if isinstance(s, CodeStep)]
    assert [s.status for s in code_steps] == ["ok", "error", "ok"]
    assert code_steps[0] == CodeStep("print(16 - 3 - 4)", "9", "ok")
    assert trace.answer == "18"


def test_fenced_text_cell_without_output_was_not_run() -> None:
    trace = _fenced_trace("```python\nx = 1\n```", pred="1")
    assert trace.steps == (CodeStep("x = 1", "", "not_run"),)
    assert trace.answer == "1"


def test_fenced_text_timeout_status() -> None:
    trace = _fenced_trace("```python\nwhile True: pass\n```\n```output\nTimeoutError\n```")
    assert trace.steps[0].status == "timeout"  # type: ignore[union-attr]


MATHCODER_RECORD = {
    "id": 1,
    "completion": "64",
    "debug_result": [
        {"role": "system", "content": "Below is a math problem."},
        {"role": "user", "content": "How much?"},
        {"role": "text", "content": "Thus the answer is \\boxed{64}. Now let's verify."},
        {"role": "code", "content": "total == 64"},
        {"role": "execution", "content": "True"},
        {"role": "code", "content": "1/0"},
        {"role": "execution", "content": "-----\nZeroDivisionError: division by zero"},
        {"role": "text", "content": "64"},
    ],
}


def test_mathcoder_trace_leaves_out_the_repeated_answer() -> None:
    trace = recorded_trace(parse_record(MATHCODER_RECORD).samples[0])
    assert trace.answer == "64"
    assert trace.steps == (
        TextStep("Thus the answer is \\boxed{64}. Now let's verify."),
        CodeStep("total == 64", "True", "ok"),
        CodeStep("1/0", "-----\nZeroDivisionError: division by zero", "error"),
    )
    assert read_verification(trace).state is VerificationState.TRUE


def test_mathcoder_trace_and_replay_share_one_parse() -> None:
    """The verification reader takes MathCoder's ``completion``, replay its ``model_answer``."""
    [sample] = parse_record({**MATHCODER_RECORD, "model_answer": "64.0"}).samples
    assert recorded_trace(sample).answer == "64" and sample.predicted == "64.0"
    assert sample.segments[-1].prose == "64", "replay still sends the closing text"


@pytest.mark.parametrize(
    "record",
    [
        {"debug_result": None},
        {"debug_result": [{"role": "text"}]},
        {"debug_result": [{"role": "user", "content": "q"}, {"role": "tool", "content": "x"}]},
        {"debug_result": [{"role": "text", "content": "no question"}]},
    ],
)
def test_mathcoder_malformed_records_are_refused(record: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="mathcoder format: field 'debug_result'"):
        parse_record(record)


def test_tora_outputs_and_corpus_examples() -> None:
    trace = _fenced_trace(TORA_COMPLETION, pred="18")
    assert trace.answer == "18" and len(trace.steps) == 7
    corpus = parse_record(
        {
            "gt": "18",
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": TORA_COMPLETION},
            ],
        }
    )
    assert recorded_trace(corpus.samples[0]) == Trace(trace.steps, "18")
    with pytest.raises(InputError, match="unknown transcript format"):
        parse_record({"idx": 0})


# --- recorded transcripts ----------------------------------------------------------------------


def _recorded(source: str, line: int) -> dict[str, Any]:
    """Record ``line`` (0-based) of a file under the shared transcripts folder."""
    with (TRANSCRIPTS / source).open(encoding="utf-8") as lines:
        for number, text in enumerate(lines):
            if number == line:
                return dict(json.loads(text))
    raise AssertionError(f"{source} has no line {line}")


def _recorded_trace(source: str, line: int) -> Trace:
    return recorded_trace(parse_record(_recorded(source, line)).samples[0])


CL34_GSM8K = "mathcoder/MathCoder-CL-34b/GSM8K/GSM8K_test_result-20230913-1304"


@pytest.mark.parametrize(
    ("source", "line", "expected", "deciding"),
    [
        # rule 7: 75,000 boxed, three checks print False, a tautology (1,750,000 == 1,750,000)
        # prints True, then 2,250,000 is boxed: no passing check confirmed it
        (f"{CL34_GSM8K}-wrong.jsonl", 220, "Uncertain", "is not the one the True check"),
        # rules 2 and 5: "the term we want to verify is \boxed{3}" announces nothing, so the
        # words after the check go on to "This confirms that our answer is correct."
        (
            "mathcoder/MathCoder-L-7b/MATH/MATH_test_result-20230917-2026-correct.jsonl",
            920,
            "True",
            "words 'confirms'",
        ),
        # rule 5: the check prints -1; "there was an error in the verification process. Let's
        # re-evaluate" blames the check; re-checked in words, "This matches the given base cost"
        (f"{CL34_GSM8K}-correct.jsonl", 885, "True", "words 'matches'"),
    ],
    ids=["revision_then_tautology", "verify_in_a_verdict_sentence", "blaming_the_check"],
)
def test_recorded_misreadings(source: str, line: int, expected: str, deciding: str) -> None:
    result = read_verification(_recorded_trace(source, line))
    assert result.state == expected, result.evidence
    assert any(deciding in note for note in result.evidence), result.evidence


def _states(path: Path) -> Counter[str]:
    return Counter(
        read_verification(recorded_trace(record.samples[0])).state.value
        for record in read_records(path)
    )


def test_mathcoder_state_counts_and_precision() -> None:
    """Counts states in every MathCoder file; precision of True against the correct/wrong split.

    Run with ``-s`` to see the table (also in docs/verification.md).
    """
    table: dict[tuple[str, str, str], Counter[str]] = {}
    for path in sorted(MATHCODER.glob("*/*/*.jsonl")):
        label = "correct" if path.stem.endswith("-correct") else "wrong"
        table[(path.parts[-3], path.parts[-2], label)] = _states(path)
    for (model, dataset, label), counts in table.items():
        print(
            f"{model:18} {dataset:6} {label:8} True {counts['True']:4}  False "
            f"{counts['False']:3}  Uncertain {counts['Uncertain']:4}"
        )
    total = sum(table.values(), Counter())
    assert 200 <= total["True"] + total["False"] <= 600, "several hundred contain verification"
    assert total["Uncertain"] > 4 * (total["True"] + total["False"])
    for model in ("MathCoder-CL-34b", "MathCoder-L-7b"):
        right, wrong = table[(model, "GSM8K", "correct")], table[(model, "GSM8K", "wrong")]
        precision = right["True"] / (right["True"] + wrong["True"])
        false_wrong = wrong["False"] / (right["False"] + wrong["False"])
        print(
            f"{model}: precision of True {precision:.3f} ({right['True']}/"
            f"{right['True'] + wrong['True']}); False on wrong answers {false_wrong:.3f}"
        )
        assert 0.4 <= precision <= 0.95
        assert false_wrong >= 0.5, "a failed check should mostly mark wrong answers"
    assert table[("MathCoder-CL-34b", "GSM8K", "correct")]["True"] >= 150


def test_tora_single_round_outputs_are_uncertain() -> None:
    path = TRANSCRIPTS / "tora" / "tora-code-34b-v1.0" / "gsm8k"
    counts = _states(next(path.glob("*.jsonl")))
    assert counts["Uncertain"] == sum(counts.values()) == 1319, "ToRA never verifies"


# --- the hand-judged table ---------------------------------------------------------------------

JUDGED_FILES = sorted(CASES_DIR.glob("judged_*.jsonl"))
AGREEMENT_BAR = 0.95
STATES = [state.value for state in VerificationState]


def _judged_rows() -> list[dict[str, Any]]:
    rows = []
    for path in JUDGED_FILES:
        with path.open(encoding="utf-8") as lines:
            rows.extend(json.loads(line) for line in lines if line.strip())
    return rows


def test_judged_rows_are_well_formed() -> None:
    rows = _judged_rows()
    assert len(rows) >= 150
    assert len({(row["source"], row["line"]) for row in rows}) == len(rows), "judged twice"
    for row in rows:
        where = f"{row['source']}:{row['line']}"
        assert row["state"] in STATES and row["reason"].strip(), where
        assert row["label"] == ("correct" if "-correct." in row["source"] else "wrong"), where
        if "judged_state" in row:  # corrected after review: the original judgment is kept
            assert row["judged_state"] in STATES and row["corrected_because"].strip(), where
            assert row["judged_state"] != row["state"], where


def test_agreement_with_the_hand_judged_table() -> None:
    """Trajectories with a check, each judged by a person reading it before the reader ran.

    Run with ``-s`` to see the confusion matrix (also in docs/verification.md).
    """
    rows = _judged_rows()
    matrix: Counter[tuple[str, str]] = Counter()
    disagreements = []
    for row in rows:
        result = read_verification(_recorded_trace(row["source"], row["line"]))
        matrix[(row["state"], result.state.value)] += 1
        if result.state != row["state"]:
            disagreements.append(
                f"  {row['source']}:{row['line']} judged {row['state']}, read "
                f"{result.state.value}: {result.evidence}"
            )
    agreed = sum(matrix[(state, state)] for state in STATES)
    corrected = sum("judged_state" in row for row in rows)
    print(
        f"\nhand-judged {len(rows)}, {corrected} corrected after review (rows judged, columns read)"
    )
    print(f"{'':>10}" + "".join(f"{state:>10}" for state in STATES))
    for judged in STATES:
        print(f"{judged:>10}" + "".join(f"{matrix[(judged, read)]:>10}" for read in STATES))
    print(f"agreement {agreed}/{len(rows)} = {agreed / len(rows):.1%}")
    print("\n".join(disagreements))
    assert agreed / len(rows) >= AGREEMENT_BAR, "\n".join(disagreements)
