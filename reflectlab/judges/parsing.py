"""Reading a judge's answer (pure Python, no Django).

A judge answers in free text, so every reader tries the forms models really
use, in order of how little they leave to interpretation:

1. ``\\boxed{k}`` — ProcessBench's convention; the *last* box counts, as in its
   evaluation script (Zheng et al., 2024, arXiv 2412.06559);
2. a JSON object (bare or in a code fence) with a known key;
3. prose: "the earliest error is in step 3", "paragraph 2 contains the first
   mistake", "no error", "all steps are correct".

Only the answer is read: the text after the last ``</think>`` when the model
thought aloud (its thinking may weigh several candidates). What cannot be read
is recorded as unparseable with the reason — never guessed — and an index
outside the trace's steps is unparseable too.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

MAX_HINT_CHARS = 4000
MAX_CRITIQUE_CHARS = 20_000

_MINUS = str.maketrans({"−": "-", "–": "-", "—": "-"})  # noqa: RUF001 (minus signs models write)
_STEP = r"(?:step|paragraph|para\.?)\s*(?:#|_|no\.?\s*)?"
_NUM = r"(-?\d+)"
_ERR = r"(?:error|mistake|flaw|wrong\s+step|incorrect\s+step|erroneous\s+step)s?"
_INDEX_PROSE = [
    # "the earliest error is in step 3", "first mistake occurs at paragraph 2"
    rf"(?:earliest|first)\s+{_ERR}\s+(?:is\s+|occurs\s+|appears\s+|happens\s+|lies\s+|was\s+)?"
    rf"(?:found\s+)?(?:in|at|on)?\s*(?:the\s+)?{_STEP}{_NUM}\b",
    # "the first incorrect paragraph is (paragraph) 2"
    rf"(?:earliest|first)\s+(?:incorrect|wrong|erroneous|flawed)\s+(?:step|paragraph)\s+is\s+"
    rf"(?:{_STEP})?{_NUM}\b",
    # "paragraph 3 contains the first error", "step 3 is the earliest mistake"
    rf"\b{_STEP}{_NUM}\s+(?:is|was|contains|has|holds)\s+(?:the\s+)?(?:earliest|first)\s+"
    r"(?:error|mistake|flaw|wrong|incorrect)",
    # "index of the earliest error: 3"
    rf"index\s+of\s+the\s+(?:earliest|first)\s+{_ERR}\s*(?:is|:|=)\s*{_NUM}\b",
]
_INDEX_PROSE_RE = [re.compile(p, re.IGNORECASE) for p in _INDEX_PROSE]
_ANSWER_RE = re.compile(
    rf"(?:final\s+)?answer\s*(?:is|:)\s*\**\s*(?:{_STEP})?{_NUM}\b(?!\s*\.\d)", re.IGNORECASE
)
_NO_ERROR_RE = re.compile(
    r"\b(?:(?:there\s+(?:is|are)\s+)?no\s+(?:errors?|mistakes?|flaws?)"
    r"|(?:does\s+not|doesn't)\s+contain\s+(?:any\s+)?(?:errors?|mistakes?)"
    r"|all\s+(?:the\s+)?(?:steps|paragraphs)\s+(?:are|look|seem)\s+(?:correct|fine|right)"
    r"|(?:the\s+)?(?:solution|reasoning)\s+is\s+(?:entirely\s+|fully\s+|completely\s+)?correct)"
    r"(?!\s+(?:in|at|until|before|up\s+to)\s+(?:step|paragraph))",
    re.IGNORECASE,
)
_VERDICT_RE = re.compile(
    r"verdict\s*(?:is)?\s*[:\-=]?\s*[*_`\"']*\s*(correct|incorrect|wrong|right)\b", re.IGNORECASE
)
_VERDICTS = {
    "correct": "correct",
    "right": "correct",
    "incorrect": "incorrect",
    "wrong": "incorrect",
}
_LABEL_WORDS = {"+1": 1, "1": 1, "0": 0, "-1": -1, "good": 1, "neutral": 0, "okay": 0, "bad": -1}
_LABEL_LINE_RE = re.compile(
    rf"{_STEP}(\d+)\s*[:=\-]\s*\**\s*([+-]?[01]|good|neutral|okay|bad)\b", re.IGNORECASE
)
_HINT_LINE_RE = re.compile(r"^\s*\**hint\**\s*[:\-]\s*(.+)", re.IGNORECASE | re.MULTILINE)
_INDEX_KEYS = (
    "first_error_step", "earliest_error", "earliest_error_step", "first_error",
    "error_step", "index", "step", "paragraph",
)  # fmt: skip


@dataclass(frozen=True)
class Parsed:
    ok: bool
    how: str = ""  # boxed | json | prose | lines
    error: str = ""
    first_error: int | None = None
    labels: tuple[int, ...] | None = None
    verdict: str = ""
    critique: str = ""
    hint: str = ""
    hint_step: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if v not in (None, "", ())}
        if self.labels is not None:
            data["labels"] = list(self.labels)
        data.pop("ok", None)
        return data


def _fail(reason: str) -> Parsed:
    return Parsed(ok=False, error=reason[:300])


def answer_region(text: str) -> str:
    """The text after the last ``</think>``; all of it when the model did not think
    aloud; nothing when it opened ``<think>`` and never closed it (cut off)."""
    _head, sep, tail = text.rpartition("</think>")
    if sep:
        return tail
    return "" if "<think>" in text else text


def boxed_contents(text: str) -> list[str]:
    """Every ``\\boxed{…}`` (and ``\\fbox{…}``), braces matched, in order."""
    out = []
    for match in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth, i = 1, match.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append(text[match.end() : i - 1])
    return out


def _clean_box(value: str) -> str:
    value = value.translate(_MINUS).strip().strip("$").strip()
    value = re.sub(r"\\(?:text|mathrm|textbf|mathbf)\s*\{([^{}]*)\}", r"\1", value)
    return value.replace(" ", "").strip()


def _as_index(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = re.fullmatch(
            rf"(?:{_STEP})?{_NUM}", value.translate(_MINUS).strip(), flags=re.IGNORECASE
        )
        return int(match.group(1)) if match else None
    return None


def json_object(text: str) -> dict[str, Any] | None:
    """The last JSON object in the text (fenced or bare) that parses.

    Only a ``{`` followed by a quoted key can open one, which skips the braces
    of LaTeX; each candidate is decoded once from its start (``raw_decode``).
    """
    decoder = json.JSONDecoder()
    found, covered = None, 0
    for match in re.finditer(r'\{\s*"', text):
        if match.start() < covered:
            continue  # inside an object already read: a nested one is not the answer
        try:
            value, covered = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):
            continue
        if isinstance(value, dict):
            found = value
    return found


def _check_range(index: int, n_steps: int | None, how: str) -> Parsed:
    if index == -1 or (index >= 0 and (n_steps is None or index < n_steps)):
        return Parsed(ok=True, how=how, first_error=index)
    top = f"0-{n_steps - 1}, or -1" if n_steps else "-1"
    return _fail(f"Step {index} is not a step of this trace ({top}).")


def parse_first_error(text: str, *, n_steps: int | None = None) -> Parsed:
    """The earliest wrong step's index, or -1 for "no error"."""
    answer = answer_region(text or "")
    if not answer.strip():
        return _fail("No answer after the thinking (was the output cut off?).")
    boxes = boxed_contents(answer)
    if boxes:
        index = _as_index(_clean_box(boxes[-1]))
        if index is None:
            return _fail(f"The last \\boxed{{}} holds {boxes[-1][:40]!r}, not a step index.")
        return _check_range(index, n_steps, "boxed")
    data = json_object(answer)
    if data is not None:
        for key in _INDEX_KEYS:
            if key in data:
                index = _as_index(data[key])
                if index is None:
                    return _fail(f"JSON {key} is {data[key]!r}, not a step index.")
                return _check_range(index, n_steps, "json")
    flat = answer.translate(_MINUS)
    hits = [(m.start(), int(m.group(1))) for r in _INDEX_PROSE_RE for m in r.finditer(flat)]
    if hits:
        return _check_range(max(hits)[1], n_steps, "prose")  # the last statement is the conclusion
    if _NO_ERROR_RE.search(flat):
        return Parsed(ok=True, how="prose", first_error=-1)
    answers = list(_ANSWER_RE.finditer(flat))
    if answers:
        return _check_range(int(answers[-1].group(1)), n_steps, "prose")
    return _fail("No step index, \\boxed{}, JSON or 'no error' statement found.")


def _label(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value in (1, 0, -1):
        return int(value)
    if isinstance(value, str):
        return _LABEL_WORDS.get(value.translate(_MINUS).strip().lower())
    return None


def _labels_result(values: list[Any], n_steps: int | None, how: str) -> Parsed:
    labels = [_label(v) for v in values]
    if any(label is None for label in labels):
        bad = next(v for v, label in zip(values, labels, strict=True) if label is None)
        return _fail(f"{bad!r} is not a step label (+1, 0 or -1).")
    if n_steps is not None and len(labels) != n_steps:
        return _fail(f"{len(labels)} labels for {n_steps} steps.")
    first = next((i for i, label in enumerate(labels) if label == -1), -1)
    return Parsed(ok=True, how=how, labels=tuple(labels), first_error=first)


def parse_step_labels(text: str, *, n_steps: int | None = None) -> Parsed:
    """+1 / 0 / -1 per step (PRM800K); the first -1 is the first error."""
    answer = answer_region(text or "")
    data = json_object(answer)
    if data is not None and isinstance(data.get("labels"), list):
        return _labels_result(data["labels"], n_steps, "json")
    bare = re.search(r"\[\s*[+-]?\d[\d\s,+\-]*\]", answer.translate(_MINUS))
    if bare:
        try:
            return _labels_result(json.loads(bare.group(0).replace("+", "")), n_steps, "json")
        except ValueError:
            pass
    lines = {int(m.group(1)): m.group(2) for m in _LABEL_LINE_RE.finditer(answer.translate(_MINUS))}
    if lines:
        if sorted(lines) != list(range(len(lines))):
            return _fail(f"Labels given for steps {sorted(lines)[:12]}, not 0, 1, 2, ...")
        return _labels_result([lines[i] for i in range(len(lines))], n_steps, "lines")
    return _fail("No list of step labels found.")


def parse_critique(text: str, *, n_steps: int | None = None) -> Parsed:
    """A critique with a verdict (correct / incorrect) and, if given, the first error."""
    answer = answer_region(text or "")
    verdict, how = "", ""
    data = json_object(answer)
    if data is not None and isinstance(data.get("verdict"), str):
        verdict, how = _VERDICTS.get(data["verdict"].strip().lower(), ""), "json"
    if not verdict:
        matches = _VERDICT_RE.findall(answer)
        if matches:
            verdict, how = _VERDICTS[matches[-1].lower()], "prose"
    if not verdict:
        boxes = [_clean_box(b).lower() for b in boxed_contents(answer)]
        boxes = [b for b in boxes if b in _VERDICTS]
        if boxes:
            verdict, how = _VERDICTS[boxes[-1]], "boxed"
    if not verdict:
        return _fail("No verdict (correct / incorrect) found.")
    critique = _VERDICT_RE.sub("", answer)
    critique = re.sub(r"\\boxed\s*\{[^{}]*\}", "", critique).strip(" \n*:.-")
    if data is not None and isinstance(data.get("critique"), str):
        critique = data["critique"].strip()
    index = parse_first_error(answer, n_steps=n_steps)
    return Parsed(
        ok=True,
        how=how,
        verdict=verdict,
        critique=critique[:MAX_CRITIQUE_CHARS],
        first_error=index.first_error if index.ok else None,
    )


def parse_hint(text: str, *, n_steps: int | None = None) -> Parsed:
    """A draft hint and the step it belongs at."""
    answer = answer_region(text or "")
    hint, step, how = "", None, ""
    data = json_object(answer)
    if data is not None and isinstance(data.get("hint"), str) and data["hint"].strip():
        hint, how = data["hint"].strip(), "json"
        for key in _INDEX_KEYS:
            if key in data and _as_index(data[key]) is not None:
                step = _as_index(data[key])
                break
    if not hint:
        match = _HINT_LINE_RE.search(answer)
        if match:
            hint, how = match.group(1).strip().strip("*").strip(), "lines"
    if not hint:
        return _fail('No hint found (expected JSON {"step": k, "hint": ...} or \'Hint: ...\').')
    if step is None:
        index = parse_first_error(_HINT_LINE_RE.sub("", answer), n_steps=n_steps)
        step = index.first_error if index.ok else None
    if step is not None and not (step == -1 or 0 <= step < (n_steps or step + 1)):
        return _fail(f"Step {step} is not a step of this trace.")
    return Parsed(ok=True, how=how, hint=hint[:MAX_HINT_CHARS], hint_step=step, first_error=step)


PARSERS = {
    "critic": parse_first_error,
    "step_labels": parse_step_labels,
    "critique": parse_critique,
    "hint": parse_hint,
}


def parse(kind: str, text: str, *, n_steps: int | None = None) -> Parsed:
    return PARSERS[kind](text, n_steps=n_steps)
