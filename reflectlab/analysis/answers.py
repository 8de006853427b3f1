"""Candidate answers and the final answer (DESIGN §4).

Priority, strongest first: ``\\boxed{…}`` (braces matched, answers nest them),
"Final Answer: …", "the (final) answer is …", "Answer: …", GSM8K ``#### …``.
A weaker form overlapping a boxed answer ("the answer is $\\boxed{5}$") is the
same answer and is dropped. "So/thus/therefore … = X" is too common to trust
and is kept apart as *tentative* (never used for reflections or grading).

Offsets are those of the answer *value*, so the UI can highlight exactly it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import NamedTuple

BOXED = "boxed"
FINAL_ANSWER = "final_answer"
ANSWER_IS = "answer_is"
ANSWER_COLON = "answer_colon"
GSM8K = "gsm8k"
TENTATIVE = "tentative"
KIND_PRIORITY = (BOXED, FINAL_ANSWER, ANSWER_IS, ANSWER_COLON, GSM8K)

_BOXED_RE = re.compile(r"\\boxed\s*\{")
_BRACE_RE = re.compile(r"\\[{}]|[{}]")  # escaped \{ \} do not group
# Anchored on the literal "answer" so the scan is a fast substring search.
_ANSWER_RE = re.compile(
    r"answer\b(?P<sep>\**[ \t]*:|[ \t]+is\b|\*\*[ \t]*\n)[ \t*:]*\n?[ \t]*(?P<v>[^\n]*)"
)
_GSM8K_RE = re.compile(r"####[ \t]*(?P<v>[^\n]+)")
_VALUE = r"-?\$?\d[\d,]*(?:\.\d+)?(?:/\d+)?|\\d?frac\{[^{}\n]*\}\{[^{}\n]*\}"
_SO = r"(?:so|thus|therefore|hence)\b[^\n.]*(?:\.\d[^\n.]*)*=[ \t]*\$?[ \t]*(?P<v>" + _VALUE + ")"
# A sentence opening a line, or following ". ": literal openers keep both scans fast.
# The greedy middle reaches the last "=" of the sentence (a "." only inside numbers).
_TENTATIVE_HEAD_RE = re.compile(_SO)
_TENTATIVE_RES = (
    re.compile(r"\n[^\w\n]{0,4}" + _SO),
    re.compile(r"\. " + _SO),
)
_SENTENCE_END_RE = re.compile(r"\.(?:\s|$)")
_VALUE_EDGE = " \t\r\n$*.,:;"
_DISPLAY_CLOSE = {"\\[": "\\]", "$$": "$$", "\\(": "\\)"}
_MAX_VALUE = 200


class Candidate(NamedTuple):
    """A candidate answer; ``step`` is ``None`` in the answer section."""

    start: int
    end: int
    value: str
    kind: str
    step: int | None = None
    correct: bool | None = None


def boxed_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the contents of every closed ``\\boxed{…}`` in ``text[start:end]``."""
    end = len(text) if end is None else end
    spans = []
    for m in _BOXED_RE.finditer(text, start, end):
        depth = 1
        for b in _BRACE_RE.finditer(text, m.end(), end):
            mark = b[0]
            if len(mark) == 2:
                continue
            depth += 1 if mark == "{" else -1
            if depth == 0:
                spans.append((m.end(), b.start()))
                break
    return spans


def _trim(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s] in _VALUE_EDGE:
        s += 1
    while e > s and text[e - 1] in _VALUE_EDGE:
        e -= 1
    return s, e


def _answer_phrases(text: str, lower: str, start: int, end: int) -> list[tuple[int, int, str]]:
    found = []
    for m in _ANSWER_RE.finditer(lower, start, end):
        before = lower[max(start, m.start() - 10) : m.start()]
        sep = m["sep"]
        if sep.endswith("is"):
            if not before.endswith("the ") and not before.endswith("the final "):
                continue
            kind = ANSWER_IS
        elif before.rstrip(" *").endswith("final"):
            kind = FINAL_ANSWER
        elif sep.endswith(":"):
            kind = ANSWER_COLON
        else:
            continue
        s, e = m.span("v")
        opener = text[s:e].strip()
        if opener in _DISPLAY_CLOSE:
            # "The answer is:\n\\[ 42 \\]": the value is the display below.
            inner = text.index(opener, s) + len(opener)
            close = text.find(_DISPLAY_CLOSE[opener], inner, min(end, inner + _MAX_VALUE))
            if close == -1:
                continue
            found.append((inner, close, kind))
            continue
        if kind == ANSWER_IS and (cut := _SENTENCE_END_RE.search(text, s, e)):
            e = cut.start()
        found.append((s, min(e, s + _MAX_VALUE), kind))
    found.extend((*m.span("v"), GSM8K) for m in _GSM8K_RE.finditer(text, start, end))
    return found


def _strip(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def _overlaps(spans: list[tuple[int, int]], s: int, e: int) -> bool:
    return any(bs < e and s < be for bs, be in spans)


def find_candidates(text: str, lower: str, start: int, end: int) -> list[Candidate]:
    """Boxed and phrase candidates in ``text[start:end]``, in text order (step unset)."""
    boxed = boxed_spans(text, start, end)
    out = [Candidate(s, e, text[s:e], BOXED) for s, e in (_strip(text, *span) for span in boxed)]
    for s, e, kind in _answer_phrases(text, lower, start, end):
        s, e = _trim(text, s, e)
        if s < e and not _overlaps(boxed, s, e):
            out.append(Candidate(s, e, text[s:e], kind))
    out.sort()
    return out


def find_tentative(text: str, lower: str, start: int, end: int) -> list[Candidate]:
    """Low-confidence "so/thus/therefore … = X" answers: one per line, its last ``=``."""
    by_end: dict[int, Candidate] = {}
    head = _TENTATIVE_HEAD_RE.match(lower, start, end)
    matches = [head] if head else []
    for pattern in _TENTATIVE_RES:
        matches.extend(pattern.finditer(lower, start, end))
    for m in matches:
        s, e = _trim(text, *m.span("v"))
        by_end[e] = Candidate(s, e, text[s:e], TENTATIVE)
    return sorted(by_end.values())


def assign_steps(candidates: list[Candidate], starts: list[int]) -> list[Candidate]:
    """Set each candidate's step: the last step starting at or before it."""
    return [c._replace(step=max(bisect_right(starts, c.start) - 1, 0)) for c in candidates]


def pick_final(
    answer_candidates: list[Candidate], thinking_candidates: list[Candidate]
) -> Candidate | None:
    """The final answer: in the answer section the last candidate of the strongest
    kind present (last boxed first); else the last candidate in the thinking."""
    for kind in KIND_PRIORITY:
        of_kind = [c for c in answer_candidates if c.kind == kind]
        if of_kind:
            return of_kind[-1]
    return thinking_candidates[-1] if thinking_candidates else None
