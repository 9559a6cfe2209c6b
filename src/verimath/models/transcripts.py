"""Recorded solutions read from JSONL files: ToRA, MathCoder and verimath's own format.

The one reader of these formats: every record is parsed once, here, into a frozen
:class:`RecordedProblem` whose samples carry both views their readers need. Replay sends a
sample's ``segments`` as turns (:class:`~verimath.models.tools.Segment`: turn i is the text up
to and including the i-th python block, the last turn the text after the last block; recorded
outputs are dropped, since replay runs the code again). The verification reader
(:func:`verimath.verification.recorded_trace`) reads its ``blocks``: text, code and recorded
output in order. Formats, told apart per line:

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

Files are read through :mod:`verimath.bounded` within :data:`TRANSCRIPT_BOUNDS` (gzip told
by its first bytes): a file or line too large, JSON nested too deep or bytes that are not
UTF-8 are an InputError naming the file and line, as is a run file that does not hold what
verimath writes (tool-call arguments that are not JSON, messages that are not a list).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from verimath.bounded import Bounds, BoundsExceeded, input_lines, loads_json
from verimath.errors import InputError, StoreError
from verimath.models.messages import Message
from verimath.models.tools import Segment, fenced_cells, parse_fenced_transcript, split_turn

__all__ = [
    "TRANSCRIPT_BOUNDS",
    "Block",
    "RecordedProblem",
    "RecordedSample",
    "load_transcripts",
    "normalize_question",
    "parse_record",
    "read_records",
    "split_turn",
]

Format = Literal["tora", "tora-corpus", "mathcoder", "verimath"]
MiB = 1 << 20
TRANSCRIPT_BOUNDS = Bounds(max_bytes=512 * MiB, max_line=16 * MiB, max_depth=64)
"""A transcript file holds at most 512 MiB (after decompression), a record at most 16 MiB on
one line, its JSON nested at most 64 deep."""


@dataclass(frozen=True)
class Block:
    """One piece of a recorded solution: text, a python cell's code, or that cell's output."""

    role: Literal["text", "code", "output"]
    content: str


@dataclass(frozen=True)
class RecordedSample:
    """One recorded solution."""

    segments: tuple[Segment, ...]
    """The solution as assistant turns, for replay."""
    blocks: tuple[Block, ...] = ()
    """The solution as recorded, in order; an ``output`` block follows the ``code`` block that
    printed it, if the recording kept one. MathCoder's closing repeat of ``answer`` is left out."""
    answer: str | None = None
    """The answer the recording extracted: ToRA ``pred``, MathCoder ``completion``, verimath
    ``predicted``."""
    graded_answer: str | None = None
    """MathCoder's ``model_answer`` (``-wrong`` files): the extracted answer as graded."""
    correct: bool | None = None
    """The recording's own correctness label, if any."""
    source: str = ""
    """``file:line`` of the record."""

    @property
    def predicted(self) -> str | None:
        """The answer the recording graded: ``graded_answer`` where it has one, else ``answer``."""
        return self.answer if self.graded_answer is None else self.graded_answer


@dataclass(frozen=True)
class RecordedProblem:
    """A problem with its recorded solutions."""

    id: str
    """The record's own id (ToRA ``idx``, MathCoder ``id``, ...), else ``file:line``."""
    question: str
    gold_answer: str | None
    samples: tuple[RecordedSample, ...]
    format: Format

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
    return _group(record for file in files for record in read_records(file))


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
        raise InputError(f"cannot replay {file}: {exc}") from None
    for sample, messages in samples:
        problem = problems[sample.problem_id]
        source = f"{file}:{sample.problem_id}#{sample.sample_index}"
        record = {
            "id": sample.problem_id,
            "problem": problem.question,
            "answer": problem.gold,
            "predicted": sample.answer,
            "correct": sample.correct,
            "turns": _assistant_turns(messages, source),
        }
        yield _parse(record, source, None, {"path": source})


def _assistant_turns(messages: Iterable[Message], source: str) -> list[str]:
    turns = []
    for message in messages:
        if message.role != "assistant":
            continue
        text = message.content or ""
        for call in message.tool_calls:
            code = _call_code(call.arguments, source)
            text = f"{text}\n```python\n{code}\n```" if text else f"```python\n{code}\n```"
        turns.append(text)
    return turns


def _call_code(arguments: str, source: str) -> str:
    """The ``code`` of a recorded ``python`` tool call's JSON arguments."""
    try:
        decoded = loads_json(arguments, max_depth=TRANSCRIPT_BOUNDS.max_depth)
    except (json.JSONDecodeError, BoundsExceeded) as exc:
        raise InputError(f"a tool call's arguments are not JSON ({exc})", path=source) from None
    code = decoded.get("code", "") if isinstance(decoded, dict) else None
    if not isinstance(code, str):
        raise InputError("a tool call's arguments hold no 'code' text", path=source)
    return code


def read_records(file: str | Path) -> Iterator[RecordedProblem]:
    """Every record of one transcript file (JSONL or a run file) in file order, one problem
    each: unlike :func:`load_transcripts`, records of the same question stay apart."""
    file = Path(file)
    if file.suffix == ".sqlite":
        yield from _read_run_store(file)
        return
    label = {"-correct.jsonl": True, "-wrong.jsonl": False}
    correct = next((v for suffix, v in label.items() if file.name.endswith(suffix)), None)
    for number, line in input_lines(file, TRANSCRIPT_BOUNDS):
        if not line.strip():
            continue
        where: dict[str, Any] = {"path": str(file), "line": number}
        try:
            record = loads_json(line, max_depth=TRANSCRIPT_BOUNDS.max_depth)
        except json.JSONDecodeError as exc:
            raise InputError(f"not JSON: {exc}", **where) from exc
        except BoundsExceeded as exc:
            raise InputError(str(exc), **where) from None
        if not isinstance(record, dict):
            raise InputError("a record must be a JSON object", **where)
        yield _parse(record, f"{file}:{number}", correct, where)


def parse_record(
    record: Mapping[str, Any], source: str = "", correct: bool | None = None
) -> RecordedProblem:
    """One record of any of the formats; ``source`` is its id when it has none of its own,
    ``correct`` the label its file gives it. Raises :class:`InputError` naming the field."""
    return _parse(record, source, correct, {})


class _Misfit(Exception):
    """A field of a record that does not fit the record's format."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"field {field!r} {problem}")


def _parse(
    record: Mapping[str, Any], source: str, correct: bool | None, where: dict[str, Any]
) -> RecordedProblem:
    formats = {
        "mathcoder": ("debug_result",),
        "verimath": ("turns", "problem"),
        "tora": ("question", "code"),
        "tora-corpus": ("messages", "gt"),
    }
    form = next((f for f, fields in formats.items() if all(k in record for k in fields)), None)
    if form is None:
        raise InputError(
            "unknown transcript format; expected ToRA (question, code), ToRA-Corpus (messages, "
            "gt), MathCoder (debug_result) or verimath (problem, turns) fields",
            **where,
        )
    try:
        if form == "mathcoder":
            return _mathcoder(record, source, correct)
        if form == "verimath":
            return _verimath(record, source)
        return _tora(record, source) if form == "tora" else _tora_corpus(record, source)
    except _Misfit as exc:
        raise InputError(f"record does not fit the {form} format: {exc}", **where) from exc


def _tora(record: Mapping[str, Any], source: str) -> RecordedProblem:
    completions = _strings(record, "code")
    if not completions:
        raise _Misfit("code", "holds no completion")
    predictions = _optional_list(record, "pred")
    scores = _optional_list(record, "score")
    samples = tuple(
        _fenced_sample(
            completion,
            _text(predictions[i]) if i < len(predictions) else None,
            bool(scores[i]) if i < len(scores) else None,
            source,
        )
        for i, completion in enumerate(completions)
    )
    identifier = record.get("idx", record.get("id", source))
    return RecordedProblem(
        str(identifier), _string(record, "question"), _text(record.get("gt")), samples, "tora"
    )


def _tora_corpus(record: Mapping[str, Any], source: str) -> RecordedProblem:
    messages = _messages(record, "messages")
    question = _first(messages, "user", "messages")
    # one assistant message in the corpus; more would meet at a line break, as chat turns do
    solution = "\n".join(content for role, content in messages if role == "assistant")
    sample = _fenced_sample(solution, None, None, source)
    return RecordedProblem(
        str(record.get("id", source)), question, _text(record["gt"]), (sample,), "tora-corpus"
    )


def _fenced_sample(
    text: str, answer: str | None, correct: bool | None, source: str
) -> RecordedSample:
    blocks: list[Block] = []
    position = 0
    for cell in fenced_cells(text):
        if text[position : cell.start]:
            blocks.append(Block("text", text[position : cell.start]))
        blocks.append(Block("code", cell.code))
        if cell.output is not None:
            blocks.append(Block("output", cell.output))
        position = cell.output_end
    if text[position:]:
        blocks.append(Block("text", text[position:]))
    segments = tuple(parse_fenced_transcript(text))
    return RecordedSample(segments, tuple(blocks), answer, None, correct, source)


_MATHCODER_BLOCKS: dict[str, Literal["text", "code", "output"]] = {
    "text": "text",
    "code": "code",
    "execution": "output",
}


def _mathcoder(record: Mapping[str, Any], source: str, correct: bool | None) -> RecordedProblem:
    messages = _messages(record, "debug_result")
    blocks: list[Block] = []
    for j, (role, content) in enumerate(messages):
        if role in _MATHCODER_BLOCKS:
            blocks.append(Block(_MATHCODER_BLOCKS[role], content.replace("\r\n", "\n")))
        elif role not in ("system", "user"):
            raise _Misfit("debug_result", f"has message {j} of unknown role {role!r}")
    answer = _text(record.get("completion"))
    # MathCoder closes with a text block that only repeats the extracted answer
    last = blocks[-1] if blocks else Block("output", "")
    echoed = last.role == "text" and last.content.strip() == str(answer).strip()
    sample = RecordedSample(
        _mathcoder_segments(blocks),
        tuple(blocks[:-1] if echoed else blocks),
        answer,
        _text(record.get("model_answer")),
        correct,
        source,
    )
    gold = record.get("ground_truth") or {}
    if not isinstance(gold, Mapping):
        raise _Misfit("ground_truth", "must be an object with an 'answer'")
    question = _first(messages, "user", "debug_result")
    return RecordedProblem(
        str(record.get("id", source)), question, _text(gold.get("answer")), (sample,), "mathcoder"
    )


def _mathcoder_segments(blocks: Iterable[Block]) -> tuple[Segment, ...]:
    segments: list[Segment] = []
    prose: list[str] = []
    for block in blocks:
        if block.role == "text":
            prose.append(block.content.strip("\n"))
        elif block.role == "code":
            segments.append(Segment("".join(p + "\n\n" for p in prose), block.content.rstrip()))
            prose = []
    segments.append(Segment("\n\n".join(prose)))
    return tuple(segments)


def _verimath(record: Mapping[str, Any], source: str) -> RecordedProblem:
    segments = tuple(split_turn(turn) for turn in _strings(record, "turns"))
    correct = record.get("correct")
    sample = RecordedSample(
        segments,
        _turn_blocks(segments),
        _text(record.get("predicted")),
        None,
        correct if isinstance(correct, bool) else None,
        source,
    )
    return RecordedProblem(
        str(record.get("id", source)),
        _string(record, "problem"),
        _text(record.get("answer")),
        (sample,),
        "verimath",
    )


def _turn_blocks(segments: Iterable[Segment]) -> tuple[Block, ...]:
    """Blocks of turns recorded without their cells' outputs."""
    blocks: list[Block] = []
    for segment in segments:
        if segment.prose:
            blocks.append(Block("text", segment.prose))
        if segment.code is not None:
            blocks.append(Block("code", segment.code))
    return tuple(blocks)


def _string(record: Mapping[str, Any], field: str) -> str:
    value = record[field]
    if not isinstance(value, str):
        raise _Misfit(field, "must be a string")
    return value


def _strings(record: Mapping[str, Any], field: str) -> list[str]:
    value = record[field]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Misfit(field, "must be a list of strings")
    return value


def _optional_list(record: Mapping[str, Any], field: str) -> list[Any]:
    value = record.get(field) or []
    if not isinstance(value, list):
        raise _Misfit(field, "must be a list")
    return value


def _messages(record: Mapping[str, Any], field: str) -> list[tuple[str, str]]:
    """``[{"role": ..., "content": ...}, ...]`` as (role, content) pairs."""
    value = record[field]
    if not isinstance(value, list):
        raise _Misfit(field, "must be a list of messages")
    pairs = []
    for j, message in enumerate(value):
        role = message.get("role") if isinstance(message, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(role, str) or not isinstance(content, str):
            raise _Misfit(field, f"has message {j} without a string 'role' and 'content'")
        pairs.append((role, content))
    return pairs


def _first(messages: Iterable[tuple[str, str]], role: str, field: str) -> str:
    content = next((content for r, content in messages if r == role), None)
    if content is None:
        raise _Misfit(field, f"holds no {role} message (the question)")
    return content


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
