"""Recorded solutions read from JSONL files: ToRA, MathCoder and verimath's own format.

Every record becomes turns (:class:`~verimath.models.tools.Segment`): turn i is the text up to
and including the i-th python block, the last turn the text after the last block. Recorded
outputs are dropped, since replay runs the code again. Formats, told apart per line:

- ToRA outputs (``idx``, ``question``, ``gt``, ``code``: list of completions, ``pred``): each
  completion is one sample, in the fenced format.
- ToRA-Corpus (``id``, ``gt``, ``messages``: user question, assistant trajectory).
- MathCoder (``id``, ``ground_truth``, ``completion``, ``debug_result``: ``text``/``code``/
  ``execution`` blocks). Consecutive text blocks are joined by a blank line, CRLF becomes LF.
  Files named ``*-correct.jsonl`` / ``*-wrong.jsonl`` label their records correct / wrong.
- verimath: one object per sample, ``{"problem": str, "turns": [str, ...]}`` with optional
  ``id``, ``answer`` (gold), ``predicted`` and ``correct`` (bool). Each turn is an assistant
  message of the fenced style, as a ``Completion`` returned it: a turn that ends with a
  ```` ```python ```` block runs that block.

- a verimath run store (``*.sqlite``): every stored sample, its assistant turns as recorded
  (function-style turns are rendered as fenced text), in problem then sample order.

Records of the same question (same text up to whitespace) are samples of one problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verimath.errors import InputError, StoreError
from verimath.models.messages import Message
from verimath.models.tools import Segment, parse_fenced_transcript, split_turn

__all__ = [
    "RecordedProblem",
    "RecordedSample",
    "load_transcripts",
    "normalize_question",
    "split_turn",
]


@dataclass(frozen=True)
class RecordedSample:
    """One recorded solution."""

    segments: tuple[Segment, ...]
    predicted: str | None = None
    """The answer the recording extracted, if it kept one."""
    correct: bool | None = None
    """The recording's own correctness label, if any."""
    source: str = ""
    """``file:line`` of the record."""


@dataclass(frozen=True)
class RecordedProblem:
    """A problem with its recorded solutions."""

    id: str
    """The record's own id (ToRA ``idx``, MathCoder ``id``, ...), else ``file:line``."""
    question: str
    gold_answer: str | None
    samples: tuple[RecordedSample, ...]
    format: str
    """``"tora"``, ``"tora-corpus"``, ``"mathcoder"`` or ``"verimath"``."""

    @property
    def predicted(self) -> str | None:
        """The first sample's recorded answer."""
        return self.samples[0].predicted

    @property
    def correct(self) -> bool | None:
        """The first sample's recorded correctness label."""
        return self.samples[0].correct


def normalize_question(text: str) -> str:
    """Whitespace-insensitive form of a question, for matching."""
    return " ".join(text.split())


def load_transcripts(path: str | Path) -> list[RecordedProblem]:
    """Problems of a JSONL file, or of every ``*.jsonl`` under a directory, in file order."""
    root = Path(path).expanduser()
    if root.is_dir():
        files = sorted(root.rglob("*.jsonl"))
    elif root.is_file():
        files = [root]
    else:
        raise InputError("no such transcript file or directory", path=str(root))
    if not files:
        raise InputError("the directory holds no *.jsonl transcript files", path=str(root))
    return _group(record for file in files for record in _read(file))


def _group(records: Iterable[RecordedProblem]) -> list[RecordedProblem]:
    problems: dict[str, RecordedProblem] = {}
    for record in records:
        key = normalize_question(record.question)
        known = problems.get(key)
        if known is None:
            problems[key] = record
        else:
            problems[key] = RecordedProblem(
                known.id,
                known.question,
                known.gold_answer,
                known.samples + record.samples,
                known.format,
            )
    return list(problems.values())


def _read_run_store(file: Path) -> Iterator[RecordedProblem]:
    """The samples of a verimath run file, as verimath-format records."""
    from verimath.store import RunStore  # the store needs the models package: import late

    try:
        with RunStore.read(file) as store:
            problems = {p.problem_id: p for p in store.problems()}
            samples = [(s, store.messages(s.problem_id, s.sample_index)) for s in store.samples()]
    except StoreError as exc:
        raise InputError(f"not a verimath run file ({exc})", path=str(file)) from exc
    for sample, messages in samples:
        problem = problems[sample.problem_id]
        record = {
            "id": sample.problem_id,
            "problem": problem.question,
            "answer": problem.gold,
            "predicted": sample.answer,
            "correct": sample.correct,
            "turns": _assistant_turns(messages),
        }
        yield _verimath(record, f"{file}:{sample.problem_id}#{sample.sample_index}")


def _assistant_turns(messages: Iterable[Message]) -> list[str]:
    turns = []
    for message in messages:
        if message.role != "assistant":
            continue
        text = message.content or ""
        for call in message.tool_calls:
            code = json.loads(call.arguments).get("code", "")
            text = f"{text}\n```python\n{code}\n```" if text else f"```python\n{code}\n```"
        turns.append(text)
    return turns


def _read(file: Path) -> Iterator[RecordedProblem]:
    if file.suffix == ".sqlite":
        yield from _read_run_store(file)
        return
    label = {"-correct.jsonl": True, "-wrong.jsonl": False}
    correct = next((v for suffix, v in label.items() if file.name.endswith(suffix)), None)
    with open(file, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where: dict[str, Any] = {"path": str(file), "line": number}
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"not JSON: {exc}", **where) from exc
            if not isinstance(record, dict):
                raise InputError("a record must be a JSON object", **where)
            yield _parse(record, f"{file}:{number}", correct, where)


def _parse(
    record: dict[str, Any], source: str, correct: bool | None, where: dict[str, Any]
) -> RecordedProblem:
    try:
        if "debug_result" in record:
            return _mathcoder(record, source, correct)
        if "turns" in record and "problem" in record:
            return _verimath(record, source)
        if "question" in record and "code" in record:
            return _tora(record, source)
        if "messages" in record and "gt" in record:
            return _tora_corpus(record, source)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise InputError(f"record does not fit its format ({exc!r})", **where) from exc
    raise InputError(
        "unknown transcript format; expected ToRA (question, code), ToRA-Corpus (messages, "
        "gt), MathCoder (debug_result) or verimath (problem, turns) fields",
        **where,
    )


def _tora(record: dict[str, Any], source: str) -> RecordedProblem:
    predictions = record.get("pred") or []
    scores = record.get("score") or []
    samples = tuple(
        RecordedSample(
            tuple(parse_fenced_transcript(completion)),
            _text(predictions[i]) if i < len(predictions) else None,
            bool(scores[i]) if i < len(scores) else None,
            source,
        )
        for i, completion in enumerate(record["code"])
    )
    if not samples:
        raise TypeError("'code' holds no completion")
    identifier = record.get("idx", record.get("id", source))
    return RecordedProblem(
        str(identifier), record["question"], _text(record.get("gt")), samples, "tora"
    )


def _tora_corpus(record: dict[str, Any], source: str) -> RecordedProblem:
    messages = record["messages"]
    question = next(m["content"] for m in messages if m["role"] == "user")
    solution = "".join(m["content"] for m in messages if m["role"] == "assistant")
    sample = RecordedSample(tuple(parse_fenced_transcript(solution)), source=source)
    return RecordedProblem(
        str(record.get("id", source)), question, _text(record["gt"]), (sample,), "tora-corpus"
    )


def _mathcoder(record: dict[str, Any], source: str, correct: bool | None) -> RecordedProblem:
    blocks = record["debug_result"]
    question = next(b["content"] for b in blocks if b["role"] == "user")
    segments: list[Segment] = []
    prose: list[str] = []
    for block in blocks:
        content = block["content"].replace("\r\n", "\n")
        if block["role"] == "text":
            prose.append(content.strip("\n"))
        elif block["role"] == "code":
            segments.append(Segment("".join(p + "\n\n" for p in prose), content.rstrip()))
            prose = []
    segments.append(Segment("\n\n".join(prose)))
    predicted = record.get("model_answer", record.get("completion"))
    sample = RecordedSample(tuple(segments), _text(predicted), correct, source)
    gold = (record.get("ground_truth") or {}).get("answer")
    return RecordedProblem(
        str(record.get("id", source)), question, _text(gold), (sample,), "mathcoder"
    )


def _verimath(record: dict[str, Any], source: str) -> RecordedProblem:
    turns = record["turns"]
    if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
        raise TypeError("'turns' must be a list of strings")
    correct = record.get("correct")
    sample = RecordedSample(
        tuple(split_turn(turn) for turn in turns),
        _text(record.get("predicted")),
        correct if isinstance(correct, bool) else None,
        source,
    )
    return RecordedProblem(
        str(record.get("id", source)),
        record["problem"],
        _text(record.get("answer")),
        (sample,),
        "verimath",
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
