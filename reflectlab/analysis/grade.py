"""Grading answers with HF math-verify, made cheap, crash-proof and bounded.

- References are normalised first: a GSM8K reference is a full solution ending
  in ``#### N`` and the answer is ``N``; a plain reference is wrapped in
  ``\\boxed{…}`` so math-verify's LaTeX extractor reads all of it.
- Numbers that compare equal (or, for integers, unequal) as plain decimals never
  reach math-verify: most GSM8K answers are settled here, in this process.
- What is left goes to math-verify in a child process (``verifier``) under a
  hard timeout: an answer like ``9^{9^{9^{9}}}`` makes sympy compute for ever
  in C code holding the GIL, which no thread or signal can stop — the child is
  killed instead. Exponent towers, huge exponents or factorials and answers
  over ``MAX_ANSWER_CHARS`` are refused before that, at no cost.
- A timeout or a refusal grades as ``None`` (unknown, never wrong) and is
  counted: ``grade_outcome`` says which, ``grading_tally`` counts them per
  analysis, ``grading_stats`` per process.
- Every distinct comparison is computed once (LRU), a timed-out one included:
  a poison pill costs its timeout once, not on every trace that repeats it.
- Across processes, grades against a reference can come from a shared store
  (``shared_grades``): the caller hands in something that fetches the known
  grades of a chunk's references in bulk and stores the new ones in bulk
  (``traces.grading`` backs it with a table). This package only sees the
  ``SharedGradeStore`` protocol, so it stays free of Django.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import metadata
from typing import NamedTuple, Protocol

from reflectlab.analysis import verifier

_NUMBER_RE = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+")
_NUMBER_DECOR = " \t\n$\\!,.;:"
_TEXT_WRAP_RE = re.compile(r"^\\(?:text|mathrm|textbf)\{([^{}]*)\}$")

GRADED, UNKNOWN, TIMED_OUT, REFUSED = "graded", "unknown", verifier.TIMED_OUT, "refused"
MAX_ANSWER_CHARS = 300
# Values whose evaluation explodes: a power of a power (9^{9^9}, 9^9^9, 2^{3}^{4},
# 9**9**9), a power with a six-digit exponent, a factorial of a five-digit number.
_EXPLOSIVE_RE = re.compile(
    r"\^\s*\{[^{}]*\^|\^\s*\{[^{}]*\}\s*\^|\^\s*\(?[\w.]+\)?\s*\^"
    r"|\*\*\s*\(?[\w.]+\)?\s*\*\*|\^\s*\{?\s*\d{6,}|\*\*\s*\d{6,}|\d{5,}\s*!"
)


class Grade(NamedTuple):
    correct: bool | None
    status: str  # GRADED, UNKNOWN (unreadable), TIMED_OUT or REFUSED


_stats: Counter[str] = Counter()
_stats_lock = threading.Lock()
_tally: ContextVar[Counter[str] | None] = ContextVar("grading_tally", default=None)


def grading_stats() -> dict[str, int]:
    """Process-wide counts of math-verify comparisons by outcome (cached ones once)."""
    with _stats_lock:
        return dict(_stats)


@contextmanager
def grading_tally() -> Iterator[Counter[str]]:
    """Count the timed-out and refused comparisons made inside the block (this thread)."""
    tally: Counter[str] = Counter()
    token = _tally.set(tally)
    try:
        yield tally
    finally:
        _tally.reset(token)


def reference_answer(reference: str) -> str:
    """The answer inside a reference: after the last ``####`` (GSM8K), else all of it."""
    _, sep, tail = reference.rpartition("####")
    return (tail if sep else reference).strip()


def plain_number(value: str) -> Decimal | None:
    """``value`` as a decimal when it is only a number ("1,234", "$5$", "12.50")."""
    value = value.strip(_NUMBER_DECOR)
    if (m := _TEXT_WRAP_RE.match(value)) is not None:
        value = m[1].strip(_NUMBER_DECOR)
    if not _NUMBER_RE.fullmatch(value):
        return None
    try:
        return Decimal(value.replace(",", ""))
    except InvalidOperation:
        return None


def refused(value: str) -> bool:
    """Whether ``value`` is too long or too explosive to hand to math-verify at all."""
    return len(value) > MAX_ANSWER_CHARS or _EXPLOSIVE_RE.search(value) is not None


@lru_cache(maxsize=262144)
def _verify(gold: str, answer: str) -> Grade:
    if refused(gold) or refused(answer):
        grade = Grade(None, REFUSED)
    else:
        verdict = verifier.pool().verify(gold, answer)
        if verdict == verifier.TIMED_OUT:
            grade = Grade(None, TIMED_OUT)
        else:
            grade = Grade(verdict, UNKNOWN if verdict is None else GRADED)
    with _stats_lock:
        _stats[grade.status] += 1
    return grade


# Presentation that never changes a value: math delimiters, spacing commands,
# \left/\right, currency and percent signs, degree marks (\dfrac/\tfrac below).
_PRESENTATION_RE = re.compile(r"\\[!,;: ]|\\?\$|\\[()\[\]]|\\(?:left|right)\b|\\?%|\^\{?\\circ\}?")
_TEXT_RE = re.compile(r"\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}")
# A number followed by at most three unit words: "5600 pounds", "15 miles per hour".
_UNITS_RE = re.compile(
    r"([-+]?[\d,]*\.?\d+)\s*(?:[a-z][a-z'/-]*\s*(?:\^\{?\d\}?)?\.?\s*){1,3}", re.IGNORECASE
)
_SPACE_RE = re.compile(r"\s+")


@lru_cache(maxsize=65536)
def simplified(value: str) -> str:
    """``value`` without presentation (see above) and without trailing unit words."""
    value = _PRESENTATION_RE.sub(" ", _TEXT_RE.sub(r" \1 ", value)).strip().rstrip(".")
    if (m := _UNITS_RE.fullmatch(value)) is not None:
        value = m[1]
    value = _SPACE_RE.sub("", value)
    return value.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")


# Bump when a rule of this module changes a grade (the shared store keys on it).
GRADER_REVISION = 1


@lru_cache(maxsize=1)
def grader_version() -> str:
    """What produced a grade: this module's revision and the math-verify release."""
    try:
        release = metadata.version("math-verify")
    except metadata.PackageNotFoundError:
        release = "none"
    return f"{GRADER_REVISION}+mv{release}"


def text_key(value: str) -> str:
    """A fixed-size key for a reference or an answer in the shared store."""
    return hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class SharedGradeStore(Protocol):
    """Where grades outlive a process (a database table; see ``traces.grading``).

    A row is ``(scope, reference, answer, correct)`` (keys from ``text_key``):
    the scope is the normalised reference of the trace whose analysis made
    the comparison — the reference itself for a grade, the trace's reference
    for two of its candidates compared with each other (``reflections``) — so
    a chunk preloads everything its traces compared last time by their
    references alone.
    """

    def fetch(self, version: str, scope_keys: list[str]) -> Iterable[tuple[str, str, bool | None]]:
        """Every known ``(reference_key, answer_key, correct)`` in these scopes."""

    def store(self, version: str, rows: list[tuple[str, str, str, bool | None]]) -> None:
        """Add new ``(scope_key, reference_key, answer_key, correct)``; a known pair stays."""


@dataclass
class SharedGrades:
    """The grades of one chunk: preloaded, plus the ones computed while it ran."""

    known: dict[tuple[str, str], bool | None]
    new: dict[tuple[str, str], tuple[str, bool | None]] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0

    def grade(self, gold: str, answer: str, scope: str) -> Grade:
        key = (text_key(gold), text_key(answer))
        if key in self.known:
            self.hits += 1
            correct = self.known[key]
            return Grade(correct, UNKNOWN if correct is None else GRADED)
        self.misses += 1
        grade = _verify(gold, answer)
        # A timeout depends on the load of the moment and a refusal costs
        # nothing: neither is worth sharing.
        if grade.status in (GRADED, UNKNOWN):
            self.known[key] = grade.correct
            self.new[key] = (scope, grade.correct)
        return grade


_shared: ContextVar[SharedGrades | None] = ContextVar("shared_grades", default=None)
_scope: ContextVar[str | None] = ContextVar("grading_scope", default=None)


@contextmanager
def shared_grades(
    store: SharedGradeStore, references: Iterable[str | None]
) -> Iterator[SharedGrades]:
    """Grade against ``references`` through ``store`` inside the block (this thread).

    One ``fetch`` before (every known grade in the scopes of these references,
    this grader version), one ``store`` of the new grades after — when the
    block ends without an error. Grades of other versions are never read:
    bumping ``GRADER_REVISION`` or math-verify invalidates them.
    """
    keys = sorted({text_key(gold) for r in references if r and (gold := reference_answer(r))})
    version = grader_version()
    known = (
        {(ref, ans): correct for ref, ans, correct in store.fetch(version, keys)} if keys else {}
    )
    session = SharedGrades(known=known)
    token = _shared.set(session)
    try:
        yield session
    finally:
        _shared.reset(token)
    if session.new:
        store.store(version, sorted((s, r, a, c) for (r, a), (s, c) in session.new.items()))


@contextmanager
def grading_scope(reference: str | None) -> Iterator[None]:
    """Comparisons inside the block belong to the trace graded against ``reference``
    (``analyze`` sets it); without a reference they are not shared."""
    gold = reference_answer(reference) if reference else ""
    token = _scope.set(text_key(gold) if gold and _shared.get() is not None else None)
    try:
        yield
    finally:
        _scope.reset(token)


def equivalent(gold: str, answer: str) -> bool | None:
    """Whether ``answer`` equals ``gold`` mathematically; ``None`` when unknown."""
    scope = _scope.get()
    shared = _shared.get() if scope is not None else None
    return equivalence(gold, answer, shared=shared, scope=scope or "").correct


def equivalence(
    gold: str, answer: str, *, shared: SharedGrades | None = None, scope: str = ""
) -> Grade:
    """``equivalent`` with its status.

    Cheap exact checks first (equal after removing presentation, plain
    numbers, the one number of a short sentence); math-verify, on the original
    strings and in a child process, only for what they cannot settle.
    """
    if gold == answer:
        return Grade(True, GRADED)
    simple_gold, simple_answer = simplified(gold), simplified(answer)
    if simple_gold == simple_answer:
        return Grade(True, GRADED)
    a, b = plain_number(simple_gold), plain_number(simple_answer)
    if a is not None and b is None:
        b = sole_number(answer)
    if a is not None and b is not None:
        if a == b:
            return Grade(True, GRADED)
        if a == a.to_integral_value() and b == b.to_integral_value():
            return Grade(False, GRADED)  # distinct integers: nothing for math-verify to add
    grade = _verify(gold, answer) if shared is None else shared.grade(gold, answer, scope)
    if grade.status in (TIMED_OUT, REFUSED) and (tally := _tally.get()) is not None:
        tally[grade.status] += 1
    return grade


_WORD_RE = re.compile(r"[A-Za-z]{2,}")


def sole_number(text: str) -> Decimal | None:
    """The number in a prose answer with exactly one ("Erin has 14 lollipops left")."""
    if "\\" in text or _WORD_RE.search(text) is None:
        return None  # LaTeX, or no prose: math-verify's job
    numbers = _NUMBER_RE.findall(text)
    if len(numbers) != 1:
        return None
    return plain_number(numbers[0])


def grade(reference: str | None, answer: str | None) -> bool | None:
    """Correctness of ``answer`` against a raw reference (GSM8K or LaTeX)."""
    return grade_outcome(reference, answer).correct


def grade_outcome(reference: str | None, answer: str | None) -> Grade:
    """``grade`` with its status: a timeout or a refusal is unknown, not wrong."""
    if reference is None or answer is None:
        return Grade(None, UNKNOWN)
    gold = reference_answer(reference)
    if not gold:
        return Grade(None, UNKNOWN)
    return equivalence(gold, answer, shared=_shared.get(), scope=text_key(gold))
