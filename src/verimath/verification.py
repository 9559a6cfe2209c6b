"""Read the verification state (True / False / Uncertain) off a solution trajectory.

The paper names the states but not how to read them; the rules here are ours and are
documented, with measurements, in ``docs/verification.md``. In brief: a *check* is a code cell
(or, with ``medium="text"``, a passage of text) that comes after a candidate answer and is
announced as a verification or looks like one; its verdict is read from the cell's status and
output, else from the model's words right after it. The latest verdict wins, except that a
True verdict cannot lift a False one unless the model revised in between; a True verdict stops
counting once an answer other than the one it confirmed is boxed.

Everything here is a pure function of its input: no I/O, and model code is only *parsed*
(``ast.parse``), never run.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from verimath.errors import ConfigError, InputError
from verimath.grading.extraction import boxed_contents
from verimath.models.transcripts import RecordedSample

__all__ = [
    "CodeStep",
    "Medium",
    "Step",
    "TextStep",
    "Trace",
    "Verification",
    "VerificationState",
    "read_verification",
    "recorded_trace",
]

Medium = Literal["code", "text"]
MEDIUMS: tuple[Medium, ...] = ("code", "text")
VERDICT_WINDOW_CHARS = 1000  # words read after a check, at most; longer text is new reasoning


class VerificationState(StrEnum):
    """Outcome of self-verification; the values are the paper's names."""

    TRUE = "True"
    FALSE = "False"
    UNCERTAIN = "Uncertain"


@dataclass(frozen=True)
class TextStep:
    """Natural-language text written by the model."""

    text: str


@dataclass(frozen=True)
class CodeStep:
    """One code cell: its source, what it printed or displayed, and how the run ended.

    ``status`` is the interpreter's: ``ok``, ``error``, ``timeout``, ``memory``, ``killed``,
    or ``refused`` / ``not_run`` for cells that were never executed.
    """

    code: str
    output: str = ""
    status: str = "ok"


Step = TextStep | CodeStep


@dataclass(frozen=True)
class Trace:
    """The minimal view of a trajectory that verification needs."""

    steps: tuple[Step, ...]
    answer: str | None = None

    def __post_init__(self) -> None:
        steps = tuple(self.steps)
        for i, step in enumerate(steps):
            if not isinstance(step, TextStep | CodeStep):
                raise InputError(
                    f"step {i} is a {type(step).__name__}, expected TextStep or CodeStep",
                    field="steps",
                )
        object.__setattr__(self, "steps", steps)


@dataclass(frozen=True)
class Verification:
    """The state read off a trace and short notes saying which steps decided it and why."""

    state: VerificationState
    evidence: tuple[str, ...] = ()


# --- cues --------------------------------------------------------------------------------------

_ANNOUNCE = re.compile(
    r"\b(?:(?:let'?s|let us|let me)\b[^.!?\n]{0,100}?\b(?:re-?)?(?:verify|validate)\b"
    r"|(?:to|we(?:'ll| will| can| shall)|I(?:'ll| will)) (?:\w+ly |now |also |then |re-?)?"
    r"(?:verify|validate)\b(?!\s+(?:is|was|are|were)\b)"
    r"|double[- ]?check|cross[- ]?check|sanity[- ]check"
    r"|let'?s (?:now |also )?(?:check|confirm)\b|let us (?:check|confirm)\b"
    r"|to (?:check|confirm)\b|check (?:whether|if|that)\b"
    r"|substitut\w*\b[^.]{0,80}\bback\b|plug\w*\b[^.]{0,80}\bback\b)",
    re.I,
)
# A "Verification:" heading announces a check too, but right after a check it introduces the
# result, so it does not end the verdict window (rule 5).
_HEADING = re.compile(r"^[\s#*]*verification\b[\s*]*:", re.I | re.M)
# Phrases that deny a problem, or blame the check itself, are not verdicts on the answer.
_DENIAL = re.compile(
    r"\b(?:no|without(?: any)?)\s+(?:errors?|mistakes?|discrepanc\w*|contradictions?)", re.I
)
# After the model blames its check, the negative words that follow are about the check too.
_BLAMES_CHECK = re.compile(
    r"\b(?:errors?|mistakes?|oversights?|flaws?) in (?:the|my|our)"
    r"(?: (?:initial|first|previous|earlier|last))? verification\w*"
    r"|\bverification(?: step| process| code| approach)? (?:was|is) (?:incorrect|wrong|flawed)",
    re.I,
)
_NEGATIVE = re.compile(
    r"\b(?:incorrect|not (?:correct|right|valid|verified|confirmed|consistent|equal"
    r"|satisf\w*|match\w*|the same)|isn'?t (?:correct|right|equal)|wrong|mismatch\w*"
    r"|discrepanc\w*|inconsisten\w*|contradict\w*|fail(?:s|ed)?|cannot be (?:verified|confirmed)"
    r"|(?:does|do|did)(?: not|n'?t) (?:match|satisfy|hold|equal|agree|add up|check out|work"
    r"|align)|made (?:a|an) (?:mistake|error)(?! in (?:my|our|the) verification)"
    r"|(?:mistake|error) in (?:my|our|the) (?:calculation|solution|answer|reasoning|approach"
    r"|computation)s?|(?:different|differs) from|apologi[sz]e"
    r"|(?:let me|let's|let us|need to) (?:re-?evaluate|re-?examine|reconsider|revisit|revise"
    r"|correct|fix|try (?:a different|another)))\b",
    re.I,
)
_POSITIVE = re.compile(
    r"\b(?:verifie[sd]|confirm(?:s|ed|ing)|(?:is|are|was|were|be|seems?|looks?|appears?) (?:indeed "
    r"|also |thus |therefore )?(?:correct|right|valid|accurate|consistent)|correctly"
    r"|match(?:es|ed|ing)?|consistent|satisf(?:y|ies|ied)|holds? true|checks? out"
    r"|as expected|equals|is equal to|agrees?|pass(?:es|ed)?|indeed|no (?:errors?|mistakes?))\b",
    re.I,
)
_REVISION = re.compile(
    r"\b(?:revis\w*|re-?evaluat\w*|re-?calculat\w*|re-?examin\w*|reconsider\w*|revisit\w*"
    r"|correct (?:this|that|it|the|our|my)|(?:let me|let's|let us) (?:fix|correct|redo|try again)"
    r"|mistake|oversight|apologi[sz]e)\b",
    re.I,
)
_ANSWER_STATEMENT = re.compile(
    r"\\boxed\{|\b(?:final )?answer (?:is|:)|\b(?:result|solution) is:?[\s$\\(]*-?\d", re.I
)
# "... = 6", "... is 6": a value stated as a result, which may be the candidate answer (rule 1)
_STATED_RESULT = re.compile(
    r"(?:=|\b(?:is|are|be|equals)\b)\s*(?:\\[(\[]|\$)?\s*(-?\d+(?:,\d{3})*(?:\.\d+)?)(?![\d.,]\d)"
)
_CODE_CHECK_WORDS = re.compile(r"verif|check|validat|confirm|sanity", re.I)
_CODE_CHECK_CALLS = re.compile(r"\b(?:isclose|allclose|equals)\(|\.subs\(")
_BOOL = re.compile(r"\b(True|False)\b")
_ERROR_OUTPUT = re.compile(r"Traceback \(most recent call last\)|\b\w*(?:Error|Exception): ")
_TIMEOUT_OUTPUT = re.compile(r"TimeoutError|timed out", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+|\n\s*\n")
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def _verdict_of_words(text: str) -> tuple[VerificationState, str] | None:
    """Verdict carried by words; a negative cue anywhere beats positive ones (self-correction).

    Negative cues are read only up to the sentence that blames the check itself ("I apologize
    for the error in the verification"): from there on they are about the check, not the answer.
    """
    cut = len(text)
    if blame := _BLAMES_CHECK.search(text):
        cut = max((m.end() for m in _SENTENCE_END.finditer(text, 0, blame.start())), default=0)
    head, tail = text[:cut], text[cut:]
    if match := _NEGATIVE.search(_DENIAL.sub(" ", head)):
        return VerificationState.FALSE, match.group(0)
    # "does not match" after the blame is neither a negative nor a positive cue
    if match := _POSITIVE.search(head + _NEGATIVE.sub(" ", tail)):
        return VerificationState.TRUE, match.group(0)
    return None


def _announces(sentence: str) -> bool:
    return bool(_ANNOUNCE.search(sentence) or _HEADING.search(sentence))


def _leading_window(text: str) -> str:
    """Words right after a check: sentences up to the next announced check, capped."""
    sentences = _sentences(text)
    kept: list[str] = []
    for sentence in sentences:
        if _ANNOUNCE.search(sentence):
            break
        kept.append(sentence)
    return " ".join(kept or sentences[:1])[:VERDICT_WINDOW_CHARS]


def _normal_answer(answer: str) -> str | float:
    """Loose form used only to notice that a boxed answer *changed*; never for grading.

    A lone number (``\\$17,500``, ``\\text{James made \\$17,500.}``, ``67"``) becomes a float.
    """
    text = re.sub(r"\\(?:text|mbox|mathrm)\{([^{}]*)\}", r"\1", answer)
    text = re.sub(r"\\[$!,;]|[\s$]|\\[dt](?=frac)", "", text)
    numbers = _NUMBER.findall(text)
    if len(numbers) == 1 and not re.search(r"[\\^/{]", text):
        return float(numbers[0].replace(",", ""))
    return text


def _numbers_in(text: str) -> frozenset[float]:
    return frozenset(float(n.replace(",", "")) for n in _NUMBER.findall(text))


def _squeezed(text: str) -> str:
    return re.sub(r"[\s$]|\\[,;!]", "", text)


def _stated_answers(trace: Trace) -> tuple[frozenset[float], frozenset[str]]:
    """Answers the model states anywhere (the final answer and every boxed one): the numeric
    ones as numbers, the others (``\\frac{\\sqrt{2}}{2}``) as text without spaces."""
    stated = [trace.answer or ""]
    stated += [b for s in trace.steps if isinstance(s, TextStep) for b in boxed_contents(s.text)]
    normal = {answer: _normal_answer(answer) for answer in stated if answer.strip()}
    numbers = frozenset(n for n in normal.values() if isinstance(n, float))
    texts = {_squeezed(a) for a, n in normal.items() if not isinstance(n, float)}
    return numbers, frozenset(t for t in texts if len(t) > 1)


# --- code checks -------------------------------------------------------------------------------


def _has_compare(node: ast.AST) -> bool:
    if isinstance(node, ast.Compare | ast.BoolOp):
        return True
    if isinstance(node, ast.Tuple | ast.List):
        return any(_has_compare(e) for e in node.elts)
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
        return any(_has_compare(a) for a in node.args)
    return False


def _ast_check_marker(code: str) -> str | None:
    """Assertions, or comparisons shown/stored at top level (not inside solving loops)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    if any(isinstance(node, ast.Assert) for node in ast.walk(tree)):
        return "assert statement"
    for stmt in tree.body:
        value = getattr(stmt, "value", None)
        if isinstance(stmt, ast.Expr | ast.Assign) and value is not None and _has_compare(value):
            return "top-level comparison"
    return None


def _code_check_marker(code: str) -> str | None:
    """Why a cell after a candidate answer looks like a check, or None."""
    if marker := _ast_check_marker(code):
        return marker
    if match := _CODE_CHECK_WORDS.search(code):
        return f"'{match.group(0)}' in code"
    if match := _CODE_CHECK_CALLS.search(code):
        return f"'{match.group(0)}' call"
    return None


def _code_verdict(step: CodeStep) -> tuple[VerificationState | None, str]:
    """Verdict of a check cell from its own run: (state or None, why)."""
    if step.status != "ok":
        if "AssertionError" in step.output:
            return VerificationState.FALSE, "AssertionError"
        return None, f"status {step.status}"
    booleans = set(_BOOL.findall(step.output))
    if booleans:
        state = VerificationState.FALSE if "False" in booleans else VerificationState.TRUE
        return state, f"output {state.value}"
    if words := _verdict_of_words(step.output):
        return words[0], f"output says '{words[1]}'"
    if _ast_check_marker(step.code) == "assert statement":
        return VerificationState.TRUE, "assert passed"
    return None, ""


# --- the reader --------------------------------------------------------------------------------


@dataclass
class _Reader:
    """Scans one trace; mutable, but lives only inside one ``read_verification`` call."""

    trace: Trace
    medium: Medium
    state: VerificationState = VerificationState.UNCERTAIN
    evidence: list[str] = field(default_factory=list)
    candidate_seen: bool = False
    announced: bool = False
    pending: list[tuple[int, str]] = field(default_factory=list)
    false_step: int | None = None
    revised: bool = False
    boxed: str | float | None = None
    # What the model put forward last since the latest False verdict: a boxed answer, or the
    # numbers printed by the new computations after it. A True verdict that follows a revision
    # confirms these, not the refuted answer (rule 7).
    put_forward: frozenset[str | float] = frozenset()
    put_forward_boxed: bool = False
    confirmed: frozenset[str | float] = frozenset()
    candidates: frozenset[float] = frozenset()
    candidate_texts: frozenset[str] = frozenset()

    def run(self) -> Verification:
        self.candidates, self.candidate_texts = _stated_answers(self.trace)
        for i, step in enumerate(self.trace.steps):
            if isinstance(step, TextStep):
                self.text(i, step.text)
            else:
                self.code(i, step)
        for i, kind in self.pending:
            self.evidence.append(f"step {i}: {kind} without a verdict (trace ended)")
        if not self.evidence:
            self.evidence.append("no check after a candidate answer")
        self.evidence.append(f"state {self.state.value}")
        return Verification(self.state, tuple(self.evidence))

    def decide(
        self, i: int, verdict: VerificationState, why: str, shown: frozenset[float] = frozenset()
    ) -> None:
        """Apply a verdict; ``shown`` holds the numbers the deciding check cells printed."""
        if (
            verdict is VerificationState.TRUE
            and self.state is VerificationState.FALSE
            and not self.revised
        ):
            self.evidence.append(
                f"step {i}: {why} -> True ignored: no revision since the "
                f"False check at step {self.false_step}"
            )
            return
        self.evidence.append(f"step {i}: {why} -> {verdict.value}")
        lifts_false = self.state is VerificationState.FALSE
        self.state = verdict
        if verdict is VerificationState.FALSE:
            self.false_step, self.revised = i, False
            self.put_forward, self.put_forward_boxed = frozenset(), False
        else:
            confirmed = self.confirmed_answers(lifts_false)
            self.confirmed = confirmed | shown if confirmed else confirmed

    def confirmed_answers(self, lifts_false: bool) -> frozenset[str | float]:
        """Answers a True verdict covers (rule 7); empty means no answer to compare with.

        Before any failed check that is the boxed answer. After a revision it is what the model
        put forward last since the failure: a boxed answer, or the numbers printed by the new
        computations after it; with a revision in words only, the boxed answer from before.
        ``decide`` adds the numbers the passing check printed itself.
        """
        if lifts_false and self.put_forward:
            return self.put_forward
        return frozenset() if self.boxed is None else frozenset({self.boxed})

    def revise(self, i: int, why: str) -> None:
        if self.state is VerificationState.FALSE and not self.revised:
            self.revised = True
            self.evidence.append(f"step {i}: revision ({why})")

    def put_forward_new(self, answers: frozenset[str | float], boxed: bool) -> None:
        """Note an answer put forward after a False verdict; computations add up until boxed."""
        if boxed or self.put_forward_boxed:
            self.put_forward = frozenset(answers)
        else:
            self.put_forward |= answers
        self.put_forward_boxed = boxed

    def code(self, i: int, step: CodeStep) -> None:
        marker = None
        if self.candidate_seen:
            marker = "announced in text" if self.announced else _code_check_marker(step.code)
        if marker is None:
            if step.status == "ok":
                self.revise(i, "new computation")
                if self.state is VerificationState.FALSE:
                    self.put_forward_new(_numbers_in(step.output), boxed=False)
                self.note_candidate_in_output(step.output)
            return
        verdict, why = _code_verdict(step)
        if verdict is not None:
            self.decide(i, verdict, f"code check ({marker}), {why}", _numbers_in(step.output))
        elif why:
            self.evidence.append(f"step {i}: code check ({marker}) did not run cleanly ({why})")
        else:
            self.pending.append((i, f"code check ({marker})"))

    def states_candidate(self, text: str) -> bool:
        """Whether ``text`` gives, as a result ("= 6", "is 6"), an answer the model states
        somewhere (rule 1)."""
        stated = {float(n.replace(",", "")) for n in _STATED_RESULT.findall(text)}
        squeezed = _squeezed(text)
        return bool(self.candidates & stated) or any(
            f"={answer}" in squeezed or f"is{answer}" in squeezed for answer in self.candidate_texts
        )

    def note_candidate_in_output(self, output: str) -> None:
        if self.candidates & _numbers_in(output):
            self.candidate_seen = True

    def text(self, i: int, text: str) -> None:
        self.resolve_pending(i, text)
        if self.state is VerificationState.FALSE and (match := _REVISION.search(text)):
            self.revise(i, f"'{match.group(0)}'")
        self.track_boxed(i, text)
        sentences = _sentences(text)
        first = next((j for j, s in enumerate(sentences) if _announces(s)), None)
        before = " ".join(sentences if first is None else sentences[: first + 1])
        self.announced = first is not None and (
            self.candidate_seen
            or bool(_ANSWER_STATEMENT.search(before))
            or self.states_candidate(before)
        )
        self.candidate_seen = (
            self.candidate_seen or self.announced or bool(_ANSWER_STATEMENT.search(text))
        )
        if self.announced and first is not None:
            self.text_check(i, " ".join(sentences[first + 1 :])[:VERDICT_WINDOW_CHARS])

    def resolve_pending(self, i: int, text: str) -> None:
        if not self.pending:
            return
        steps = ", ".join(str(j) for j, _ in self.pending)
        outputs = [self.trace.steps[j] for j, _ in self.pending]
        shown = _numbers_in(" ".join(s.output for s in outputs if isinstance(s, CodeStep)))
        kinds = self.pending[0][1] if len(self.pending) == 1 else "checks"
        self.pending = []
        if verdict := _verdict_of_words(_leading_window(text)):
            self.decide(i, verdict[0], f"{kinds} at step {steps}, words '{verdict[1]}'", shown)
        else:
            self.evidence.append(f"step {i}: no verdict in the words after step {steps}")

    def text_check(self, i: int, window: str) -> None:
        next_is_code = i + 1 < len(self.trace.steps) and isinstance(
            self.trace.steps[i + 1], CodeStep
        )
        if next_is_code:
            return
        verdict = _verdict_of_words(window)
        if self.medium == "code":
            if verdict:
                self.evidence.append(f"step {i}: text-only verification not counted (medium code)")
        elif verdict:
            self.decide(i, verdict[0], f"text check, words '{verdict[1]}'")
        else:
            self.pending.append((i, "text check"))

    def track_boxed(self, i: int, text: str) -> None:
        for content in boxed_contents(text):
            if not content.strip():
                continue  # "let's put our answer in \\boxed{}"
            answer = _normal_answer(content)
            if self.boxed is not None and answer != self.boxed:
                self.revise(i, "new boxed answer")
            if (
                self.state is VerificationState.TRUE
                and self.confirmed
                and answer not in self.confirmed
            ):
                self.state = VerificationState.UNCERTAIN
                self.evidence.append(
                    f"step {i}: boxed answer {content!r} is not the one the True check "
                    "confirmed -> Uncertain"
                )
            self.boxed = answer
            if self.state is VerificationState.FALSE:
                self.put_forward_new(frozenset({answer}), boxed=True)


def read_verification(trace: Trace, medium: Medium = "code") -> Verification:
    """Read the verification state off ``trace``.

    ``medium="code"`` (csv) counts only code checks; ``medium="text"`` (nl_verify) also counts
    verification written in words. The rules are in docs/verification.md.
    """
    if medium not in MEDIUMS:
        raise ConfigError(f"unknown verification medium {medium!r}; use one of {MEDIUMS}")
    return _Reader(trace, medium).run()


# --- recorded solutions ------------------------------------------------------------------------


def _status_from_output(output: str) -> str:
    if _TIMEOUT_OUTPUT.search(output):
        return "timeout"
    return "error" if _ERROR_OUTPUT.search(output) else "ok"


def recorded_trace(sample: RecordedSample) -> Trace:
    """The trace of a recorded solution (ToRA, MathCoder, ...; read by
    :mod:`verimath.models.transcripts`).

    A cell's status comes from its recorded output (see ``docs/verification.md``); a cell with
    none was not run. The answer is the recorded one, else the last ``\\boxed{}`` content.
    """
    steps: list[Step] = []
    blocks = sample.blocks
    for j, block in enumerate(blocks):
        if block.role == "text" and block.content.strip():
            steps.append(TextStep(block.content.strip()))
        elif block.role == "code":
            ran = j + 1 < len(blocks) and blocks[j + 1].role == "output"
            output = blocks[j + 1].content if ran else ""
            status = _status_from_output(output) if ran else "not_run"
            steps.append(CodeStep(block.content, output.strip(), status))
    answer = sample.answer
    if answer is None:
        boxed = boxed_contents("\n".join(block.content for block in blocks))
        answer = boxed[-1] if boxed else None
    return Trace(tuple(steps), answer)
