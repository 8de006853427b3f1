"""Turning stored traces and branches into trainer text (no Django).

A branch made from a hint continues ``prefix + hint`` (DESIGN §5): its stored
response is either the whole trajectory with ``continuation_prefix_chars``
marking the copied part (modes a-c), or only the continuation (mode d, the
hint as a new user turn). ``branch_parts`` recovers (prefix, hint,
continuation) from either shape, so every hint mode of the SFT export can be
built from any branch.
"""

from __future__ import annotations

from typing import NamedTuple

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


class Parts(NamedTuple):
    """(prefix, hint, continuation); a tuple is the cheapest record to make once a row."""

    prefix: str
    hint: str
    continuation: str


def paragraphs(*pieces: str) -> str:
    """Join non-empty pieces as paragraphs (the step unit is the blank line)."""
    kept = []
    for piece in pieces:  # a loop, not a generator: this runs for every exported row
        if piece and (piece := piece.strip()):
            kept.append(piece)
    return "\n\n".join(kept)


def split_thinking(raw: str, reasoning: str = "") -> tuple[str, str]:
    """(thinking, answer) of a response, by the extraction rules of DESIGN §4."""
    if reasoning:
        answer = raw
        if THINK_CLOSE in answer:
            answer = answer.split(THINK_CLOSE, 1)[1]
        return reasoning.strip(), answer.strip()
    end = raw.find(THINK_CLOSE)
    if end < 0:
        # Untagged (or truncated): it is all thinking.
        return raw.removeprefix(THINK_OPEN).strip(), ""
    thinking = raw[:end].lstrip()
    thinking = thinking.removeprefix(THINK_OPEN)
    return thinking.strip(), raw[end + len(THINK_CLOSE) :].strip()


def assistant_content(thinking: str, answer: str) -> str:
    """Reasoning as ``<think>…</think>`` inside the content (DeepSeek-R1 / Qwen3 style)."""
    return f"{THINK_OPEN}\n{thinking.strip()}\n{THINK_CLOSE}\n\n{answer.strip()}".rstrip()


def assistant_message(thinking: str, answer: str, *, reasoning_key: bool) -> dict:
    if reasoning_key:
        return {"role": "assistant", "content": answer.strip(), "reasoning_content": thinking}
    return {"role": "assistant", "content": assistant_content(thinking, answer)}


def copies_prefix(branch_text: str, prefix_chars: int | None) -> bool:
    """Whether a branch's stored text holds the copied prefix (modes a-c), not only its tail."""
    return prefix_chars is not None and 0 <= prefix_chars <= len(branch_text)


def branch_parts(
    *,
    branch_text: str,
    prefix_chars: int | None,
    hint: str,
    parent_text: str,
    parent_steps: list[dict] | None,
    branch_step: int | None,
) -> Parts:
    """Split a branch's thinking stream into (prefix, hint, continuation)."""
    h = (hint or "").strip()
    if copies_prefix(branch_text, prefix_chars):
        head, tail = branch_text[:prefix_chars], branch_text[prefix_chars:]
        if h and head.rstrip().endswith(h):
            return Parts(head.rstrip()[: -len(h)], h, tail)
        if h and tail.lstrip().startswith(h):
            return Parts(head, h, tail.lstrip()[len(h) :])
        return Parts(head, h, tail)
    # Mode (d): the branch holds only the continuation; the prefix is the
    # parent's thinking up to the step the hint was written at.
    prefix = ""
    if parent_steps and branch_step is not None and 0 <= branch_step < len(parent_steps):
        prefix = parent_text[: parent_steps[branch_step]["start"]]
    prefix = prefix.lstrip().removeprefix(THINK_OPEN)
    return Parts(prefix, h, branch_text)
