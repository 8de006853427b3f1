"""The one small interface every model provider implements.

A provider turns a :class:`GenerationRequest` into a :class:`Generation`, or
raises a :class:`ProviderError` that says whether trying again may help
(``transient``: 429, 5xx, timeouts, connection resets) or not (``permanent``:
4xx, malformed JSON, empty ``choices``). Retrying, concurrency limits and
persistence are the caller's job (``reflectlab.runs``), so a provider stays a
plain, synchronous, thread-safe object that can be tested on its own.

This module is the interface only; ``registry`` maps a config's provider kind
to the class that serves it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters, copied from a ModelConfig (never the key itself)."""

    model: str
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 4096
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int = 0
    stream: bool = False
    reasoning_api: bool = False
    extra_body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GenerationRequest:
    """One request: chat ``messages``, or a raw ``prompt`` for /v1/completions.

    ``continue_final_message`` asks the server to continue the last (assistant)
    message instead of opening a new turn (vLLM/SGLang extension, DESIGN §5 a).
    """

    sampling: Sampling
    messages: list[dict[str, Any]] | None = None
    prompt: str | None = None
    continue_final_message: bool = False
    # Called with the text so far while a streamed answer arrives (Sampling.stream).
    on_text: Callable[[str], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("Give exactly one of messages or prompt.")


@dataclass
class Generation:
    """What came back. ``content`` is kept byte-for-byte as the server sent it."""

    content: str
    reasoning: str = ""
    finish_reason: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    logprobs: list[dict[str, Any]] | None = None
    latency_ms: int = 0
    model: str = ""
    reasoning_tokens: int | None = None
    # What was wrong with the answer although a completion could be kept.
    warnings: list[str] = field(default_factory=list)


class ProviderError(Exception):
    """A failed generation. ``transient`` errors may succeed when tried again."""

    transient: bool = False

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None
    ):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class TransientProviderError(ProviderError):
    transient = True


class PermanentProviderError(ProviderError):
    transient = False


@runtime_checkable
class Provider(Protocol):
    def generate(self, request: GenerationRequest) -> Generation:
        """Sample one response; raise ProviderError on failure."""
        ...

    def continue_from(
        self,
        *,
        messages: list[dict[str, Any]],
        assistant_prefix: str,
        mode: str,
        sampling: Sampling,
    ) -> Generation:
        """Continue ``assistant_prefix`` (thinking so far + hint) after ``messages``.

        ``mode`` is a ``ModelConfig.Continuation`` value; a provider raises
        PermanentProviderError for a mode it cannot serve.
        """
        ...

    def close(self) -> None: ...
