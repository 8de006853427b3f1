"""Reading OpenAI-compatible answers the way real servers send them.

Model servers are untrusted input: a good completion must survive a field in
an odd shape (``usage`` as a list, ``content`` as an object, a numeric
``finish_reason``, ``choices`` as an object), so every field is read
defensively and what was wrong is said in ``Generation.warnings`` instead of
failing the item with an ``AttributeError``.

Shapes read here:

* reasoning in ``message.reasoning_content`` (DeepSeek, SGLang, older vLLM,
  ``transformers serve``) or ``message.reasoning`` (current vLLM, OpenRouter,
  Ollama) — the first non-empty wins;
* ``usage.completion_tokens_details.reasoning_tokens`` (OpenAI o-series, whose
  reasoning is hidden and only counted);
* logprobs: the chat shape (``logprobs.content`` entries with ``token``,
  ``logprob``, ``top_logprobs``), the legacy completions shape (parallel
  ``tokens`` / ``token_logprobs`` / ``top_logprobs`` lists) and llama.cpp's
  ``completion_probabilities`` (``token``/``logprob``/``top_logprobs``, or with
  ``post_sampling_probs`` ``prob``/``top_probs``, or the old ``content`` /
  ``probs: [{tok_str, prob}]``);
* server-sent events (``data: {…}`` lines, ``data: [DONE]``), merged into the
  shape of a non-streamed answer by :class:`StreamMerger`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from reflectlab.providers.base import Generation, PermanentProviderError

MAX_TOKEN_COUNT = 2**31 - 1


def as_text(value: Any, name: str, warnings: list[str]) -> str:
    """A text field as a string; other shapes are kept as well as they can be, with a warning."""
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, list):
        parts = [p.get("text") for p in value if isinstance(p, dict)]
        if parts and all(isinstance(p, str) for p in parts):
            warnings.append(f"'{name}' was a list of content parts; their text was joined.")
            return "".join(parts)
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        warnings.append(f"'{name}' was an object; its 'text' was kept.")
        return value["text"]
    warnings.append(f"'{name}' was {type(value).__name__}, not text; kept as JSON.")
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def token_count(value: Any, name: str, warnings: list[str]) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKEN_COUNT:
        return value
    warnings.append(f"'{name}' was {value!r:.40}, not a token count; ignored.")
    return None


def finish_reason_of(value: Any, warnings: list[str]) -> str:
    if value is None or isinstance(value, str):
        return (value or "")[:32]
    warnings.append(f"'finish_reason' was {value!r:.40}, not text; kept as text.")
    return str(value)[:32]


def usage_of(data: dict[str, Any], warnings: list[str]) -> tuple[int | None, ...]:
    """(prompt_tokens, completion_tokens, reasoning_tokens)."""
    usage = data.get("usage")
    if usage is None:
        return None, None, None
    if not isinstance(usage, dict):
        warnings.append(f"'usage' was {type(usage).__name__}, not an object; token counts unknown.")
        return None, None, None
    details = usage.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return (
        token_count(usage.get("prompt_tokens"), "usage.prompt_tokens", warnings),
        token_count(usage.get("completion_tokens"), "usage.completion_tokens", warnings),
        token_count(reasoning, "usage.completion_tokens_details.reasoning_tokens", warnings),
    )


def first_choice(data: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    choices = data.get("choices")
    choice: Any = None
    if isinstance(choices, list):
        choice = choices[0] if choices else None
    elif isinstance(choices, dict):
        warnings.append("'choices' was an object, not a list; read as the only choice.")
        if {"message", "text", "delta"} & choices.keys():
            choice = choices
        else:
            choice = next((v for v in choices.values() if isinstance(v, dict)), None)
    if not isinstance(choice, dict):
        raise PermanentProviderError(
            f"The server's 'choices' holds no choice object ({type(choices).__name__})."
        )
    return choice


# -- logprobs --------------------------------------------------------------------


def _log(prob: Any) -> float | None:
    if isinstance(prob, int | float) and not isinstance(prob, bool):
        return math.log(prob) if prob > 0 else float("-inf")
    return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _alternative(entry: Any) -> dict[str, Any] | None:
    if not isinstance(entry, dict):
        return None
    token = entry.get("token", entry.get("tok_str", ""))
    logprob = _number(entry.get("logprob"))
    if logprob is None:
        logprob = _log(entry.get("prob"))
    return {"token": str(token), "logprob": logprob}


def _token_entry(entry: Any) -> dict[str, Any] | None:
    """One generated token in any of the per-token shapes (chat, llama.cpp new and old)."""
    if not isinstance(entry, dict):
        return None
    token = entry.get("token", entry.get("content", ""))
    raw_tops = entry.get("top_logprobs")
    if raw_tops is None:
        raw_tops = entry.get("top_probs", entry.get("probs"))
    tops = [a for a in map(_alternative, raw_tops or []) if a is not None]
    logprob = _number(entry.get("logprob"))
    if logprob is None:
        logprob = _log(entry.get("prob"))
    if logprob is None:  # old llama.cpp: the chosen token's probability is among ``probs``
        logprob = next((a["logprob"] for a in tops if a["token"] == token), None)
    return {"token": str(token), "logprob": logprob, "top_logprobs": tops}


def _entries(raw: Any) -> list[dict[str, Any]]:
    return [e for e in map(_token_entry, raw) if e is not None]


def logprobs_of(choice: dict[str, Any], data: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Per-token logprobs in the chat shape, from whichever shape the server used."""
    raw = choice.get("logprobs")
    if isinstance(raw, dict):
        if isinstance(raw.get("content"), list):
            return _entries(raw["content"])
        if isinstance(raw.get("tokens"), list):  # legacy completions: parallel lists
            tokens = raw["tokens"]
            values = raw.get("token_logprobs") or [None] * len(tokens)
            tops = raw.get("top_logprobs") or [None] * len(tokens)
            return [
                {
                    "token": str(token),
                    "logprob": _number(value),
                    "top_logprobs": [
                        {"token": str(t), "logprob": _number(lp)}
                        for t, lp in (top.items() if isinstance(top, dict) else [])
                    ],
                }
                for token, value, top in zip(tokens, values, tops, strict=False)
            ]
    if isinstance(raw, list):
        return _entries(raw)
    for holder in (choice, data):  # llama.cpp
        probabilities = holder.get("completion_probabilities")
        if isinstance(probabilities, list):
            return _entries(probabilities)
    return None


# -- whole answers ----------------------------------------------------------------


def parse_chat(data: dict[str, Any], latency_ms: int, warnings: list[str]) -> Generation:
    choice = first_choice(data, warnings)
    message = choice.get("message")
    if message is None and isinstance(choice.get("delta"), dict):
        message = choice["delta"]
    if not isinstance(message, dict):
        raise PermanentProviderError("The server's choice has no message.")
    reasoning = ""
    for name in ("reasoning_content", "reasoning"):
        reasoning = as_text(message.get(name), f"message.{name}", warnings)
        if reasoning:
            break
    prompt_tokens, completion_tokens, reasoning_tokens = usage_of(data, warnings)
    return Generation(
        content=as_text(message.get("content"), "message.content", warnings),
        reasoning=reasoning,
        finish_reason=finish_reason_of(choice.get("finish_reason"), warnings),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        reasoning_tokens=reasoning_tokens,
        logprobs=logprobs_of(choice, data),
        latency_ms=latency_ms,
        model=as_text(data.get("model"), "model", warnings)[:300],
        warnings=warnings,
    )


def parse_completion(data: dict[str, Any], latency_ms: int, warnings: list[str]) -> Generation:
    choice = first_choice(data, warnings)
    if "text" not in choice and "content" not in choice:
        raise PermanentProviderError("The server's choice has no text.")
    text = choice.get("text", choice.get("content"))
    prompt_tokens, completion_tokens, reasoning_tokens = usage_of(data, warnings)
    return Generation(
        content=as_text(text, "choices[0].text", warnings),
        finish_reason=finish_reason_of(choice.get("finish_reason"), warnings),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        reasoning_tokens=reasoning_tokens,
        logprobs=logprobs_of(choice, data),
        latency_ms=latency_ms,
        model=as_text(data.get("model"), "model", warnings)[:300],
        warnings=warnings,
    )


# -- server-sent events -------------------------------------------------------------


def looks_like_sse(content_type: str, text: str) -> bool:
    return "text/event-stream" in content_type or text.lstrip().startswith("data:")


class StreamMerger:
    """Folds ``data:`` events into the shape of one non-streamed answer."""

    def __init__(self, *, chat: bool):
        self.chat = chat
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.finish_reason: Any = None
        self.usage: Any = None
        self.model: Any = None
        self.token_entries: list[Any] = []
        self.legacy: dict[str, list[Any]] = {"tokens": [], "token_logprobs": [], "top_logprobs": []}
        self.choices_seen = False
        self.warnings: list[str] = []
        self._bad_events = 0

    def feed(self, line: str) -> bool:
        """Read one line; True when the text grew."""
        line = line.strip()
        if not line.startswith("data:"):
            return False  # blank separators, ": comments", "event:", "id:"
        payload = line[5:].strip()
        if payload == "[DONE]":
            return False
        try:
            event = json.loads(payload)
        except ValueError:
            self._bad_events += 1
            return False
        if not isinstance(event, dict):
            self._bad_events += 1
            return False
        if "error" in event:
            error = event["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise PermanentProviderError(f"The stream reported an error: {str(message)[:300]}")
        self.model = event.get("model") or self.model
        if event.get("usage") is not None:
            self.usage = event["usage"]
        choices = event.get("choices")
        if isinstance(choices, dict):
            choices = [choices]
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return False
        self.choices_seen = True
        return self._choice(choices[0])

    def _choice(self, choice: dict[str, Any]) -> bool:
        grew = False
        delta = choice.get("delta") if self.chat else choice
        if isinstance(delta, dict):
            piece = delta.get("content") if self.chat else delta.get("text")
            if isinstance(piece, str) and piece:
                self.content.append(piece)
                grew = True
            for name in ("reasoning_content", "reasoning"):
                value = delta.get(name) if self.chat else None
                if isinstance(value, str) and value:
                    self.reasoning.append(value)
                    grew = True
                    break
        if choice.get("finish_reason") is not None:
            self.finish_reason = choice["finish_reason"]
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
            self.token_entries.extend(logprobs["content"])
        elif isinstance(logprobs, dict) and isinstance(logprobs.get("tokens"), list):
            for key in self.legacy:
                values = logprobs.get(key) or [None] * len(logprobs["tokens"])
                self.legacy[key].extend(values)
        elif isinstance(choice.get("completion_probabilities"), list):
            self.token_entries.extend(choice["completion_probabilities"])
        return grew

    @property
    def text(self) -> str:
        """The text so far, thinking first (what the workspace shows while it streams)."""
        reasoning = "".join(self.reasoning)
        content = "".join(self.content)
        return (
            f"{reasoning}\n</think>\n\n{content}" if reasoning and content else reasoning or content
        )

    def result(self) -> dict[str, Any]:
        if self._bad_events:
            self.warnings.append(f"{self._bad_events} stream event(s) were not JSON; skipped.")
        if not self.choices_seen:
            return {"choices": []}
        logprobs: dict[str, Any] | None = None
        if self.token_entries:
            logprobs = {"content": self.token_entries}
        elif self.legacy["tokens"]:
            logprobs = self.legacy
        choice: dict[str, Any] = {"finish_reason": self.finish_reason, "logprobs": logprobs}
        if self.chat:
            choice["message"] = {
                "role": "assistant",
                "content": "".join(self.content),
                "reasoning_content": "".join(self.reasoning),
            }
        else:
            choice["text"] = "".join(self.content)
        data: dict[str, Any] = {"choices": [choice], "model": self.model or ""}
        if self.usage is not None:
            data["usage"] = self.usage
        return data
