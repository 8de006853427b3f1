"""Thinking extraction: where the reasoning is, where the answer section starts.

Rule (DESIGN §4), first match wins:

1. ``reasoning`` given (a provider's ``reasoning_content`` / ``reasoning`` /
   ``thinking`` field) → it is the thinking; offsets point into *that* string and
   the whole ``response`` is the answer section. ``source="reasoning_field"``.
2. ``<think>`` … ``</think>`` → the text between them. ``source="tagged"``.
3. only ``</think>`` (the chat template opened the tag, as in the shared traces)
   → everything before it. ``source="closing_tag"``.
4. ``<think>`` without a closing tag → everything after it. ``source="open_tag"``.
5. no tags → all of it is thinking. ``source="untagged"``.

The answer section (after ``</think>``) is kept apart and never counted as
reflection.

Truncation: a trace is *truncated* when the generation stopped inside the
thinking. With a reasoning field that is ``finish_reason == "length"``. With a
closing tag it is never truncated (the thinking finished). Without a closing
tag it is truncated when ``finish_reason == "length"`` *or the finish reason is
unknown* (``None``): imported rollouts rarely carry a finish reason, and for a
reasoning model whose template opened ``<think>`` a missing ``</think>`` means
the token limit was hit (the shared-data README states exactly this). A known
finish reason other than ``length`` (``"stop"``) marks an untagged answer from a
non-reasoning model as complete.
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


@dataclass(frozen=True, slots=True)
class Extraction:
    """Where the thinking and the answer section lie.

    ``think_start``/``think_end`` index ``thinking_source`` (the response, or the
    reasoning field); ``answer_start`` indexes the response, ``None`` when
    there is no answer section.
    """

    source: str
    think_start: int
    think_end: int
    answer_start: int | None
    truncated: bool

    @property
    def in_reasoning_field(self) -> bool:
        return self.source == "reasoning_field"


def extract(
    response: str, *, reasoning: str | None = None, finish_reason: str | None = None
) -> Extraction:
    if reasoning is not None and reasoning.strip():
        return Extraction("reasoning_field", 0, len(reasoning), 0, finish_reason == "length")
    close = response.find(CLOSE_TAG)
    open_ = response.find(OPEN_TAG, 0, close if close >= 0 else len(response))
    if close >= 0:
        answer_start = close + len(CLOSE_TAG)
        if open_ >= 0:
            return Extraction("tagged", open_ + len(OPEN_TAG), close, answer_start, False)
        return Extraction("closing_tag", 0, close, answer_start, False)
    truncated = finish_reason is None or finish_reason == "length"
    if open_ >= 0:
        return Extraction("open_tag", open_ + len(OPEN_TAG), len(response), None, truncated)
    return Extraction("untagged", 0, len(response), None, truncated)
