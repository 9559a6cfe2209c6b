"""``verimath grade FILE.jsonl``: add a ``status`` to every record of a JSON-lines file.

Works on verimath's own files and on other harnesses' outputs: the field names are options,
and a field holding a list of predictions (several samples) gets a list of statuses. The input
(a file, gzip-compressed or not, or standard input) is read within :data:`GRADE_BOUNDS`; a
line past a bound, not UTF-8 or not JSON is one error naming the file and line.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import click

from verimath.bounded import Bounds, BoundsExceeded, input_lines, loads_json
from verimath.errors import ConfigError, InputError
from verimath.grading import DEFAULT_TIMEOUT, Grader, GradeResult, Status, rules_for
from verimath.grading.agreement import (
    Agreement,
    Labelled,
    agreement_text,
    explain,
    read_label,
)
from verimath.terminal import escape_json_text

__all__ = ["GRADE_BOUNDS", "command"]

_UNPARSEABLE = "unparseable: "
"""Prefix of the counters that break ``unparseable`` down by the step that failed."""
CHUNK_RECORDS = 512
"""Records graded (in parallel) and written per step: finished work reaches the output."""
MiB = 1 << 20
GRADE_BOUNDS = Bounds(max_bytes=512 * MiB, max_line=16 * MiB, max_depth=64)
"""Grade input holds at most 512 MiB (after decompression), a record at most 16 MiB on one
line, its JSON nested at most 64 deep."""


@dataclass(frozen=True)
class _Fields:
    gold: str
    pred: str
    dataset: str
    status: str
    details: bool


@dataclass(frozen=True)
class _Record:
    line: int
    data: dict[str, Any]
    preds: list[object]
    many: bool
    dataset: str | None


@click.command("grade")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "-o",
    "--output",
    default="-",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Where to write the graded lines (default: standard output).",
)
@click.option(
    "-d",
    "--dataset",
    default=None,
    help="Dataset rules for records without a dataset field (default: generic).",
)
@click.option(
    "--gold-field", default="gold", show_default=True, help="Field holding the reference answer."
)
@click.option(
    "--pred-field",
    default="pred",
    show_default=True,
    help="Field holding the prediction: text, an answer, null, or a list of them.",
)
@click.option(
    "--dataset-field",
    default="dataset",
    show_default=True,
    help="Field naming the dataset of a record (optional in each record).",
)
@click.option(
    "--status-field",
    default="status",
    show_default=True,
    help="Field the status is written to (replaced if present).",
)
@click.option(
    "--details/--no-details",
    default=False,
    help="Also write a 'grading' field: extracted answer, method, fallback, rule.",
)
@click.option(
    "--timeout",
    default=DEFAULT_TIMEOUT,
    show_default=True,
    type=click.FloatRange(0.1),
    help="CPU seconds one comparison may take before its worker is killed.",
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1),
    help="Worker processes (default: one per usable CPU).",
)
@click.option(
    "--against",
    default=None,
    metavar="FIELD",
    help="Field holding another harness's verdict for the same prediction (true/false, 1/0, "
    "correct/incorrect; a list for a list of predictions): print the agreement and every "
    "disagreement grouped by cause.",
)
@click.option(
    "--against-answer",
    default=None,
    metavar="FIELD",
    help="With --against: field holding the answer the other harness extracted, to tell "
    "extraction differences from rule differences.",
)
@click.option(
    "--against-json",
    default=None,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="With --against: also write the agreement and its groups as JSON to this file.",
)
def command(
    file: str,
    output: str,
    dataset: str | None,
    gold_field: str,
    pred_field: str,
    dataset_field: str,
    status_field: str,
    details: bool,
    timeout: float,
    workers: int | None,
    against: str | None,
    against_answer: str | None,
    against_json: str | None,
) -> None:
    """Grade FILE (JSON lines with gold, pred and optional dataset); write them with a status.

    Statuses: correct, incorrect, unparseable, timeout. A summary goes to standard error.
    The whole file is checked before grading starts, so a malformed line costs nothing.
    """
    if dataset is not None:
        rules_for(dataset)  # an unknown name fails here, before any work
    fields = _Fields(gold_field, pred_field, dataset_field, status_field, details)
    if (against_answer or against_json) and not against:
        raise ConfigError("--against-answer and --against-json need --against FIELD")
    records = list(_read_records(file, fields, dataset))
    theirs = [_their_verdicts(r, against, against_answer, file) for r in records] if against else []
    labelled: list[Labelled] = []
    counts: Counter[str] = Counter()
    with (
        Grader(workers=workers, timeout=timeout) as grader,
        click.open_file(output, "w", encoding="utf-8") as sink,
    ):
        for start in range(0, len(records), CHUNK_RECORDS):
            chunk = records[start : start + CHUNK_RECORDS]
            _grade_chunk(grader, chunk, fields, sink, counts)
            if against:
                labelled += _labelled(chunk, theirs[start : start + CHUNK_RECORDS], fields)
        click.echo(_summary(counts), err=True)
        if against:
            _report_agreement(explain(grader, labelled), against, against_json)


def _read_records(path: str, fields: _Fields, default_dataset: str | None) -> Iterator[_Record]:
    with click.open_file(path, "rb") as source:
        for number, line in input_lines(source, GRADE_BOUNDS, name=path):
            if line.strip():
                yield _parse_record(line, number, path, fields, default_dataset)


def _parse_record(
    line: str, number: int, path: str, fields: _Fields, default_dataset: str | None
) -> _Record:
    try:
        data = loads_json(line, max_depth=GRADE_BOUNDS.max_depth)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON ({exc.msg}); each line must be one JSON object", path=path, line=number
        ) from None
    except BoundsExceeded as exc:
        raise InputError(str(exc), path=path, line=number) from None
    if not isinstance(data, dict):
        raise InputError("each line must be a JSON object", path=path, line=number)
    _check_gold(data, number, path, fields.gold)
    if fields.pred not in data:
        raise InputError(
            f"missing; name the prediction field with --pred-field "
            f"(fields here: {_field_names(data)})",
            path=path,
            line=number,
            field=fields.pred,
        )
    pred = data[fields.pred]
    preds = pred if isinstance(pred, list) else [pred]
    for item in preds:
        if item is not None and not isinstance(item, str | int | float):
            raise InputError(
                f"a prediction must be text, a number or null, not {item!r}",
                path=path,
                line=number,
                field=fields.pred,
            )
    dataset = data.get(fields.dataset, default_dataset)
    _check_dataset(dataset, number, path, fields.dataset)
    return _Record(number, data, preds, isinstance(pred, list), dataset)


def _field_names(data: dict[str, Any]) -> str:
    """The record's field names, quoted: a name may hold a line break or a comma."""
    return ", ".join(repr(name) for name in sorted(data))


def _check_gold(data: dict[str, Any], number: int, path: str, field: str) -> None:
    if field not in data:
        raise InputError(
            f"missing; name the reference field with --gold-field "
            f"(fields here: {_field_names(data)})",
            path=path,
            line=number,
            field=field,
        )
    gold = data[field]
    if isinstance(gold, bool) or not isinstance(gold, str | int | float):
        raise InputError(
            f"a reference answer must be text or a number, not {gold!r}",
            path=path,
            line=number,
            field=field,
        )


def _check_dataset(dataset: object, number: int, path: str, field: str) -> None:
    if dataset is None:
        return
    if not isinstance(dataset, str):
        raise InputError(
            f"a dataset name must be text, not {dataset!r}", path=path, line=number, field=field
        )
    try:
        rules_for(dataset)
    except ConfigError as exc:
        raise InputError(str(exc), path=path, line=number, field=field) from None


def _grade_chunk(
    grader: Grader, chunk: list[_Record], fields: _Fields, sink: IO[str], counts: Counter[str]
) -> None:
    requests = [(r.data[fields.gold], pred, r.dataset) for r in chunk for pred in r.preds]
    results = iter(grader.grade_many(requests))
    for record in chunk:
        graded = [next(results) for _ in record.preds]
        counts.update(result.status.value for result in graded)
        counts.update("fallback" for result in graded if result.extraction.fallback)
        counts.update(
            _UNPARSEABLE + reason
            for result in graded
            if (reason := result.unparseable_reason) is not None
        )
        statuses = [result.status.value for result in graded]
        record.data[fields.status] = statuses if record.many else statuses[0]
        if fields.details:
            notes = [_details(result) for result in graded]
            record.data["grading"] = notes if record.many else notes[0]
        sink.write(escape_json_text(json.dumps(record.data, ensure_ascii=False)) + "\n")
    sink.flush()


def _details(result: GradeResult) -> dict[str, Any]:
    return {
        "answer": result.answer,
        "method": result.extraction.method,
        "fallback": result.extraction.fallback,
        "rule": result.detail,
    }


def _summary(counts: Counter[str]) -> str:
    total = sum(counts[s] for s in ("correct", "incorrect", "unparseable", "timeout"))
    if total == 0:
        return "graded 0 predictions"
    parts = ", ".join(
        f"{s} {counts[s]}" for s in ("correct", "incorrect", "unparseable", "timeout")
    )
    accuracy = 100 * counts["correct"] / total
    fallback = (
        f"; {counts['fallback']} answers came from the last-number fallback"
        if counts["fallback"]
        else ""
    )
    summary = f"graded {total} predictions: {parts} (accuracy {accuracy:.2f}%){fallback}"
    reasons = sorted(
        (
            (key.removeprefix(_UNPARSEABLE), n)
            for key, n in counts.items()
            if key.startswith(_UNPARSEABLE)
        ),
        key=lambda item: (-item[1], item[0]),
    )
    if reasons:
        summary += "\nunparseable, by the step that failed: " + ", ".join(
            f"{reason} {n}" for reason, n in reasons
        )
    return summary


def _report_agreement(agreement: Agreement, against: str, json_path: str | None) -> None:
    click.echo(agreement_text(agreement, against), err=True)
    if json_path:
        with click.open_file(json_path, "w", encoding="utf-8") as target:
            json.dump(agreement.to_dict(), target, indent=2, ensure_ascii=False)
            target.write("\n")


def _their_verdicts(
    record: _Record, field: str, answer_field: str | None, path: str
) -> list[tuple[bool, str | None]]:
    """The other harness's verdict (and answer) for each prediction of ``record``."""
    if field not in record.data:
        raise InputError(
            f"missing; --against names the field holding the other harness's verdict "
            f"(fields here: {_field_names(record.data)})",
            path=path,
            line=record.line,
            field=field,
        )
    verdicts = _per_prediction(record, record.data[field], field, path)
    answers = (
        _per_prediction(record, record.data.get(answer_field), answer_field, path)
        if answer_field
        else [None] * len(record.preds)
    )
    labels = [read_label(value) for value in verdicts]
    if any(label is None for label in labels):
        bad = next(v for v, label in zip(verdicts, labels, strict=True) if label is None)
        raise InputError(
            f"{bad!r} is not a verdict; use true/false, 1/0 or correct/incorrect",
            path=path,
            line=record.line,
            field=field,
        )
    return [
        (bool(label), None if answer is None else str(answer))
        for label, answer in zip(labels, answers, strict=True)
    ]


def _per_prediction(record: _Record, value: object, field: str, path: str) -> list[object]:
    values = value if isinstance(value, list) else [value] * len(record.preds)
    if len(values) != len(record.preds):
        raise InputError(
            f"holds {len(values)} values for {len(record.preds)} predictions; give one each",
            path=path,
            line=record.line,
            field=field,
        )
    return values


def _labelled(
    chunk: list[_Record], theirs: list[list[tuple[bool, str | None]]], fields: _Fields
) -> list[Labelled]:
    """Each graded prediction of ``chunk`` (its status already written) with its label."""
    items = []
    for record, verdicts in zip(chunk, theirs, strict=True):
        statuses = record.data[fields.status]
        statuses = statuses if record.many else [statuses]
        for index, (pred, status, (label, answer)) in enumerate(
            zip(record.preds, statuses, verdicts, strict=True)
        ):
            where = f"line {record.line}" + (f" #{index}" if record.many else "")
            gold = record.data[fields.gold]
            items.append(Labelled(where, gold, pred, record.dataset, Status(status), label, answer))
    return items
