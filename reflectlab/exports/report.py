"""What the manifest and the card say about the rows: lengths per config, and why a kind is empty.

TRL's trainers drop or truncate rows past ``max_length`` without a word, and
critique prompts are as long as the trace, so every config reports the
min/median/p95/max length of its training text in characters — and in tokens
when the export names a tokenizer (content only, without the chat template's
markup, so a few tokens short of what the trainer sees).
"""

from __future__ import annotations

from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
from tokenizers import Tokenizer

from reflectlab.exports.schemas import Config

MESSAGE_KEYS = ("content", "reasoning_content")


def text_columns(config: Config) -> list[str]:
    """The columns a trainer reads as text (everything but provenance and labels)."""
    out = []
    for f in config.schema:
        if f.name.startswith("meta_"):
            continue
        t = f.type
        if pa.types.is_string(t) or (
            pa.types.is_list(t)
            and (pa.types.is_string(t.value_type) or pa.types.is_struct(t.value_type))
        ):
            out.append(f.name)
    return out


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    out = []
    for item in value or ():
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            out += [item[k] for k in MESSAGE_KEYS if item.get(k)]
    return out


class Lengths:
    """Characters (and tokens) of each row's training text, for one config."""

    __slots__ = ("chars", "columns", "tokens")

    def __init__(self, columns: list[str]):
        self.columns = columns
        self.chars = array("q")
        self.tokens = array("q")

    def add(self, row: dict[str, Any], encode: Any = None) -> None:
        texts = [t for c in self.columns for t in _texts(row.get(c))]
        self.chars.append(sum(map(len, texts)))
        if encode is not None:
            self.tokens.append(sum(len(e.ids) for e in encode(texts)) if texts else 0)


def _summary(values: array) -> dict[str, int] | None:
    if not values:
        return None
    ordered = sorted(values)
    n = len(ordered)

    def at(q: float) -> int:
        return ordered[min(n - 1, int(q * (n - 1) + 0.5))]

    return {"min": ordered[0], "median": at(0.5), "p95": at(0.95), "max": ordered[-1]}


def length_stats(lengths: dict[str, Lengths]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, le in sorted(lengths.items()):
        entry: dict[str, Any] = {"rows": len(le.chars), "chars": _summary(le.chars)}
        if le.tokens:
            entry["tokens"] = _summary(le.tokens)
        out[name] = entry
    return out


def token_encoder(folder: Path | None):
    """``encode_batch`` of a tokenizer folder's ``tokenizer.json`` (None: chars only)."""
    if folder is None:
        return None
    return Tokenizer.from_file(str(folder / "tokenizer.json")).encode_batch


def empty_reasons(
    *,
    kinds: list[str],
    configs_of: dict[str, list[str]],
    counts: dict[str, dict[str, int]],
    skips: dict[str, Counter],
    sources: int,
    accepted_only: bool,
) -> dict[str, str]:
    """Why each kind wrote no row, in words ("0 branches graded right")."""
    states = "accepted" if accepted_only else "accepted or submitted"
    out = {}
    for kind in kinds:
        if any(sum(counts.get(c, {}).values()) for c in configs_of[kind]):
            continue
        if sources == 0:
            out[kind] = f"0 {states} annotations match the filters."
            continue
        why = skips.get(kind)
        if not why:
            out[kind] = f"None of the {sources} {states} annotations gave a {kind} row."
            continue
        parts = [f"{n} {reason}" for reason, n in why.most_common()]
        out[kind] = f"0 rows from {sources} {states} annotations: " + "; ".join(parts) + "."
    return out
