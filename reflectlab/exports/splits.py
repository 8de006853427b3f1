"""Train/test splits by a hash of the prompt's id (DESIGN §8): a problem never straddles two."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any


def parse_splits(value: Any) -> list[tuple[str, float]]:
    """``{"train": 0.9, "test": 0.1}`` → ordered (name, ratio) pairs summing to 1."""
    if not value:
        return [("train", 0.9), ("test", 0.1)]
    pairs = list(value.items()) if isinstance(value, dict) else [tuple(p) for p in value]
    out = []
    for name, ratio in pairs:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"Bad split name {name!r}.")
        ratio = float(ratio)
        if ratio < 0:
            raise ValueError("Split ratios must be ≥ 0.")
        out.append((name, ratio))
    total = sum(r for _, r in out)
    if not out or total <= 0:
        raise ValueError("Give at least one split with a positive ratio.")
    return [(name, ratio / total) for name, ratio in out]


def split_of(prompt_key: str, splits: list[tuple[str, float]], seed: str = "") -> str:
    """A split chosen by a hash of the prompt's id: every row of a problem lands together."""
    return splitter(splits, seed)(prompt_key)


def splitter(splits: list[tuple[str, float]], seed: str = "") -> Callable[[str], str]:
    """``split_of`` for one export: the seed and the running ratio sums computed once."""
    head = f"{seed}\x00".encode()
    bounds = []
    acc = 0.0
    for name, ratio in splits:
        acc += ratio
        bounds.append((acc, name))
    last = splits[-1][0]
    sha256 = hashlib.sha256

    def split(prompt_key: str) -> str:
        digest = sha256(head + prompt_key.encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64
        for bound, name in bounds:
            if point < bound:
                return name
        return last

    return split
