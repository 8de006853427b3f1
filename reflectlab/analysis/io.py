"""JSONL in, analysis JSONL out: the core of ``manage.py analyze``.

``analyze_jsonl`` reads one record per line, maps its fields, analyses it and
writes ``{"id": …, **to_dict(analysis)}``. A bad line is counted and reported,
never fatal: one broken record must not stop a 100k-line import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from reflectlab.analysis import analyze, to_dict
from reflectlab.analysis.lexicon import Lexicon

try:  # orjson is several times faster; plain json keeps the package dependency-free
    import orjson

    def _loads(line: str | bytes) -> Any:
        return orjson.loads(line)

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj) + b"\n"

except ImportError:  # pragma: no cover

    def _loads(line: str | bytes) -> Any:
        return json.loads(line)

    def _dumps(obj: Any) -> bytes:
        return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


# Our name → the record's field name(s); the first one present wins.
DEFAULT_MAPPING: dict[str, tuple[str, ...]] = {
    "id": ("id",),
    "reference": ("reference_answer",),
    "response": ("response",),
    "reasoning": ("reasoning_content", "reasoning", "thinking"),
    "finish_reason": ("finish_reason",),
    "logprobs": ("logprobs",),
}
MAX_REPORTED_ERRORS = 100


@dataclass(slots=True)
class Counts:
    read: int = 0
    written: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)  # "line N: why", the first 100


def resolve_mapping(
    mapping: Mapping[str, str | Iterable[str]] | None,
) -> dict[str, tuple[str, ...]]:
    resolved = dict(DEFAULT_MAPPING)
    for ours, theirs in (mapping or {}).items():
        if ours not in resolved:
            raise ValueError(f"unknown field {ours!r}; expected one of {sorted(resolved)}")
        resolved[ours] = (theirs,) if isinstance(theirs, str) else tuple(theirs)
    return resolved


def _field(record: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = record.get(name)
        if value is not None:
            return value
    return None


def analyze_record(
    record: Mapping[str, Any],
    mapping: Mapping[str, tuple[str, ...]] | None = None,
    *,
    lexicon: Lexicon | None = None,
) -> dict[str, Any]:
    """``{"id": …, **to_dict(analyze(…))}`` for one input record."""
    fields = mapping if mapping is not None else DEFAULT_MAPPING
    response = _field(record, fields["response"])
    if not isinstance(response, str):
        raise ValueError(f"no text in field {'/'.join(fields['response'])}")
    reference = _field(record, fields["reference"])
    analysis = analyze(
        response,
        reference=None if reference is None else str(reference),
        reasoning=_field(record, fields["reasoning"]),
        finish_reason=_field(record, fields["finish_reason"]),
        logprobs=_field(record, fields["logprobs"]),
        lexicon=lexicon,
    )
    return {"id": _field(record, fields["id"]), **to_dict(analysis)}


def analyze_jsonl(
    in_stream: IO[Any],
    out_stream: IO[Any],
    mapping: Mapping[str, str | Iterable[str]] | None = None,
    *,
    lexicon: Lexicon | None = None,
) -> Counts:
    """Analyse every JSONL record of ``in_stream`` into ``out_stream`` (text or binary)."""
    fields = resolve_mapping(mapping)
    text_out = hasattr(out_stream, "encoding")
    counts = Counts()
    for number, line in enumerate(in_stream, start=1):
        if not line.strip():
            continue
        counts.read += 1
        try:
            record = _loads(line)
            if not isinstance(record, Mapping):
                raise ValueError("not a JSON object")
            payload = _dumps(analyze_record(record, fields, lexicon=lexicon))
        except Exception as exc:  # a bad record is reported, the run goes on
            counts.failed += 1
            if len(counts.errors) < MAX_REPORTED_ERRORS:
                counts.errors.append(f"line {number}: {exc}")
            continue
        out_stream.write(payload.decode() if text_out else payload)
        counts.written += 1
    return counts
