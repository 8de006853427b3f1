"""Grading answers with HF math-verify, made cheap and crash-proof.

- References are normalised first: a GSM8K reference is a full solution ending
  in ``#### N`` and the answer is ``N``; a plain reference is wrapped in
  ``\\boxed{…}`` so math-verify's LaTeX extractor reads all of it.
- Numbers that compare equal (or, for integers, unequal) as plain decimals never
  reach math-verify: most GSM8K answers are settled here.
- Every distinct parse and every distinct comparison is computed once (LRU).
- math-verify enforces its timeouts with ``signal.alarm``, which only works in
  the main thread; elsewhere (Celery threads, web servers) we pass no timeout.
  Any exception, timeout included, grades as ``None`` (unknown), never a crash.
"""

from __future__ import annotations

import logging
import re
import threading
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

_NUMBER_RE = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+")
_NUMBER_DECOR = " \t\n$\\!,.;:"
_TEXT_WRAP_RE = re.compile(r"^\\(?:text|mathrm|textbf)\{([^{}]*)\}$")
_TIMEOUT_SECONDS = 5

logging.getLogger("math_verify").setLevel(logging.ERROR)  # it warns when timeouts are off


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


def _timeout() -> int | None:
    return _TIMEOUT_SECONDS if threading.current_thread() is threading.main_thread() else None


@lru_cache(maxsize=1)
def _math_verify() -> tuple[Any, Any, type[BaseException]]:
    # Imported on first use: sympy and the LaTeX parser take about a second to load.
    from math_verify import parse, verify
    from math_verify.errors import TimeoutException

    return parse, verify, TimeoutException


@lru_cache(maxsize=65536)
def parse_value(value: str) -> tuple[Any, ...]:
    """math-verify's parse of ``\\boxed{value}`` (else ``$value$``); ``()`` when unreadable."""
    parse, _, timeout_error = _math_verify()
    try:
        parsed = parse(f"\\boxed{{{value}}}", parsing_timeout=_timeout())
        if not parsed:
            parsed = parse(f"${value}$", parsing_timeout=_timeout())
        return tuple(parsed)
    except (Exception, timeout_error):  # math-verify may raise anything, timeouts included
        return ()


@lru_cache(maxsize=262144)
def _verify(gold: str, answer: str) -> bool | None:
    parsed_gold, parsed_answer = parse_value(gold), parse_value(answer)
    if not parsed_gold or not parsed_answer:
        return None
    _, verify, timeout_error = _math_verify()
    try:
        return bool(verify(list(parsed_gold), list(parsed_answer), timeout_seconds=_timeout()))
    except (Exception, timeout_error):
        return None


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


def equivalent(gold: str, answer: str) -> bool | None:
    """Whether ``answer`` equals ``gold`` mathematically; ``None`` when unknown.

    Cheap exact checks first (equal after removing presentation, plain
    numbers, the one number of a short sentence); math-verify, on the original
    strings, only for what they cannot settle.
    """
    if gold == answer:
        return True
    simple_gold, simple_answer = simplified(gold), simplified(answer)
    if simple_gold == simple_answer:
        return True
    a, b = plain_number(simple_gold), plain_number(simple_answer)
    if a is not None and b is None:
        b = sole_number(answer)
    if a is not None and b is not None:
        if a == b:
            return True
        if a == a.to_integral_value() and b == b.to_integral_value():
            return False  # distinct integers: nothing for math-verify to add
    return _verify(gold, answer)


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
    if reference is None or answer is None:
        return None
    gold = reference_answer(reference)
    if not gold:
        return None
    return equivalent(gold, answer)
