"""Streaming parsers for prompt and trace files (JSONL and CSV).

A file is read line by line; each record is validated on its own and comes out
either as a clean ``dict`` or as an error with its line number. Nothing here
touches the database, so the same code validates uploads, API imports and
management-command imports.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

# Target field -> source names tried in order when the mapping does not say.
# ``question`` and ``response`` are the names of the shared trace files.
DEFAULT_SOURCES: dict[str, tuple[str, ...]] = {
    "external_id": ("id", "external_id"),
    "prompt_id": ("prompt_id",),
    "prompt": ("prompt", "question", "problem"),
    "messages": ("messages",),
    "reference_answer": ("reference_answer",),
    "metadata": ("metadata",),
    "response": ("response", "completion"),
    "reasoning": ("reasoning_content", "reasoning", "thinking"),
    "model": ("model", "generator"),
    "finish_reason": ("finish_reason",),
}
PROMPT_TARGETS = ("external_id", "prompt", "messages", "reference_answer", "metadata")
TRACE_TARGETS = (*PROMPT_TARGETS, "prompt_id", "response", "reasoning", "model", "finish_reason")
MAX_FIELD_CHARS = 4_000_000
# Column limits, checked here so a value the database would refuse is a line
# error in the report, never a failed write (prompts.Prompt, traces.Trace).
MAX_ID_CHARS = 255
MAX_MODEL_CHARS = 300
MAX_FINISH_REASON_CHARS = 32
# PositiveIntegerField: 0 … 2**31 - 1 on PostgreSQL.
MAX_TOKEN_COUNT = 2**31 - 1
MAX_JSON_DEPTH = 64
UTF8_BOM = b"\xef\xbb\xbf"


class RecordError(ValueError):
    """A line that cannot be imported; the message says why."""


@dataclass(slots=True)
class ParsedLine:
    line: int
    record: dict[str, Any] | None = None
    error: str | None = None
    # The file cannot be read past this line: nothing of it may be written.
    fatal: bool = False


@dataclass(slots=True)
class Mapping:
    """Which source field feeds which target field (empty: defaults)."""

    fields: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, *, targets: Iterable[str]) -> Mapping:
        data = data or {}
        allowed = set(targets)
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(
                f"Unknown mapping target(s): {', '.join(unknown)}. Allowed: {', '.join(sorted(allowed))}."
            )
        for key, value in data.items():
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"Mapping for {key!r} must be a field name.")
        return cls(fields={k: v.strip() for k, v in data.items()})

    def get(self, record: dict[str, Any], target: str) -> Any:
        if target in self.fields:
            return record.get(self.fields[target])
        for name in DEFAULT_SOURCES[target]:
            if name in record:
                return record[name]
        return None


def iter_raw_records(
    stream: Iterable[bytes], file_format: str, first_line: int = 1
) -> Iterator[ParsedLine]:
    """Yield each line of a JSONL or CSV byte stream as a raw dict.

    ``first_line``: the number of the stream's first line (a JSONL chunk of a
    larger file keeps the file's line numbers).
    """
    if file_format == "csv":
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        reader = csv.DictReader(text)
        try:
            for row in reader:
                if None in row:
                    yield ParsedLine(line=reader.line_num, error="More cells than header columns.")
                    continue
                yield ParsedLine(line=reader.line_num, record=dict(row))
        except (csv.Error, UnicodeDecodeError) as exc:
            yield ParsedLine(
                line=reader.line_num + 1,
                error=f"Unreadable CSV (the file must be UTF-8): {exc}. "
                "The rest of the file cannot be read, so nothing of it is imported.",
                fatal=True,
            )
        finally:
            text.detach()  # leave the byte stream open for the second pass
        return
    if file_format != "jsonl":
        raise ValueError(f"Unknown format {file_format!r}; use jsonl or csv.")
    for number, raw in enumerate(stream, start=first_line):
        if number == 1 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM) :]  # Windows editors start UTF-8 files with a BOM
        if not raw.strip():
            continue
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            yield ParsedLine(line=number, error=f"Invalid JSON: {exc}")
            continue
        if not isinstance(value, dict):
            yield ParsedLine(line=number, error="Each line must be a JSON object.")
            continue
        yield ParsedLine(line=number, record=value)


def _json_cell(value: Any) -> Any:
    """CSV cells hold JSON for structured fields; decode them when they look like it."""
    if isinstance(value, str) and value[:1] in {"{", "["}:
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise RecordError(f"Invalid JSON in a cell: {exc}") from None
    return value


def _text(
    value: Any,
    name: str,
    *,
    required: bool = False,
    max_chars: int = MAX_FIELD_CHARS,
    allow_nul: bool = False,
) -> str:
    if value is None or value == "":
        if required:
            raise RecordError(f"Missing {name}.")
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise RecordError(f"{name} must be a string, got {type(value).__name__}.")
    if len(value) > max_chars:
        raise RecordError(f"{name} is longer than {max_chars} characters ({len(value)}).")
    if not allow_nul:
        _refuse_nul(value, name)
    return value


def _refuse_nul(value: str, name: str) -> None:
    # PostgreSQL text and jsonb cannot hold U+0000; refusing it here keeps the
    # file all-or-nothing instead of failing the write half-way.
    if "\x00" in value:
        raise RecordError(
            f"{name} contains a NUL character (U+0000), which the database cannot store."
        )


def _json_value(value: Any, name: str, depth: int = 0) -> None:
    """Refuse what a JSON column cannot store: NUL in keys or strings, absurd nesting."""
    if depth > MAX_JSON_DEPTH:
        raise RecordError(f"{name} is nested deeper than {MAX_JSON_DEPTH} levels.")
    if isinstance(value, str):
        _refuse_nul(value, name)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key, f"{name} key {key[:40]!r}")
            _json_value(item, f"{name}.{key[:40]}", depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _json_value(item, f"{name}[{i}]", depth + 1)


def _token_count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{name} must be a whole number, got {str(value)[:40]!r}.")
    if not 0 <= value <= MAX_TOKEN_COUNT:
        raise RecordError(f"{name} must be between 0 and {MAX_TOKEN_COUNT}, got {value}.")
    return value


def _messages(value: Any, *, answer_keeps_nul: bool = False) -> list[dict[str, str]] | None:
    """Chat messages; ``answer_keeps_nul``: a last assistant turn (the trace's response) may hold NUL."""
    value = _json_cell(value)
    if value in (None, ""):
        return None
    if not isinstance(value, list) or not value:
        raise RecordError("messages must be a non-empty list of {role, content} objects.")
    clean = []
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise RecordError(f"messages[{i}] must be an object.")
        role = message.get("role")
        if role not in {"system", "user", "assistant"}:
            raise RecordError(f"messages[{i}].role must be system, user or assistant.")
        nul = answer_keeps_nul and i == len(value) - 1 and role == "assistant"
        content = _text(message.get("content"), f"messages[{i}].content", allow_nul=nul)
        item = {"role": role, "content": content}
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if reasoning:
            item["reasoning_content"] = _text(
                reasoning, f"messages[{i}].reasoning_content", allow_nul=nul
            )
        clean.append(item)
    return clean


def _metadata(value: Any) -> dict[str, Any]:
    value = _json_cell(value)
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise RecordError("metadata must be a JSON object.")
    _json_value(value, "metadata")
    return value


def _reference(value: Any) -> str:
    return _text(value, "reference_answer")


def stable_id(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:24]


def clean_prompt(record: dict[str, Any], mapping: Mapping) -> dict[str, Any]:
    """A prompt record: text or chat messages, reference, metadata, external id."""
    text = _text(mapping.get(record, "prompt"), "prompt")
    messages = _messages(mapping.get(record, "messages"))
    if not text and not messages:
        raise RecordError("Missing prompt: give a prompt text or chat messages.")
    external_id = _text(mapping.get(record, "external_id"), "id", max_chars=MAX_ID_CHARS)
    body = text or orjson.dumps(messages).decode()
    return {
        "external_id": external_id or stable_id(body),
        "text": text,
        "messages": messages,
        "reference_answer": _reference(mapping.get(record, "reference_answer")),
        "metadata": _metadata(mapping.get(record, "metadata")),
    }


def _prompt_body(prompt: dict[str, Any]) -> str:
    """What identifies a problem: its text, also when given as one user turn."""
    messages = prompt["messages"] or []
    if not prompt["text"] and len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    return prompt["text"] or orjson.dumps(messages).decode()


def _from_openai_object(obj: dict[str, Any], *, keep_nul: bool = False) -> dict[str, Any]:
    """An OpenAI chat-completion response: choices[0].message, usage, model."""
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise RecordError("The chat-completion object has no choices.")
    message = choices[0].get("message") or {}
    if not isinstance(message, dict):
        raise RecordError("choices[0].message must be an object.")
    usage = obj.get("usage") if isinstance(obj.get("usage"), dict) else {}
    return {
        "response": _text(message.get("content"), "choices[0].message.content", allow_nul=keep_nul),
        "reasoning": _text(
            message.get("reasoning_content") or message.get("reasoning"),
            "reasoning_content",
            allow_nul=keep_nul,
        ),
        "finish_reason": _text(
            choices[0].get("finish_reason"), "finish_reason", max_chars=MAX_FINISH_REASON_CHARS
        ),
        "model": _text(obj.get("model"), "model", max_chars=MAX_MODEL_CHARS),
        "prompt_tokens": _token_count(usage.get("prompt_tokens"), "usage.prompt_tokens"),
        "completion_tokens": _token_count(
            usage.get("completion_tokens"), "usage.completion_tokens"
        ),
    }


def clean_trace(
    record: dict[str, Any], mapping: Mapping, *, keep_nul: bool = False
) -> dict[str, Any]:
    """A trace record: its prompt plus the response, in one of three shapes.

    1. ``{prompt, response}`` (+ optional separate reasoning field);
    2. an OpenAI chat-completion object, as the record or in its response field;
    3. chat ``messages`` whose last turn is the assistant's answer.

    ``keep_nul``: the response and reasoning may hold NUL (model output is kept
    byte for byte where the trace columns can store it); everywhere else NUL is
    a line error.
    """
    response_value = mapping.get(record, "response")
    answer_in_messages = response_value is None and "choices" not in record
    messages = _messages(
        mapping.get(record, "messages"), answer_keeps_nul=keep_nul and answer_in_messages
    )
    out: dict[str, Any] = {"prompt_tokens": None, "completion_tokens": None}
    if isinstance(response_value, dict):
        out |= _from_openai_object(response_value, keep_nul=keep_nul)
    elif response_value is None and "choices" in record:
        out |= _from_openai_object(record, keep_nul=keep_nul)
    elif response_value is None and messages and messages[-1]["role"] == "assistant":
        last = messages.pop()
        out |= {"response": last["content"], "reasoning": last.get("reasoning_content", "")}
        if not messages:
            raise RecordError("messages hold only the assistant turn; the prompt is missing.")
    else:
        out["response"] = _text(response_value, "response", required=True, allow_nul=keep_nul)
        out["reasoning"] = _text(mapping.get(record, "reasoning"), "reasoning", allow_nul=keep_nul)
    if not out["response"] and not out.get("reasoning"):
        raise RecordError("The response is empty.")
    if messages is not None:
        record = {**record}
        prompt_mapping = Mapping({**mapping.fields, "messages": "__messages__"})
        record["__messages__"] = messages
    else:
        prompt_mapping = mapping
    prompt = clean_prompt(record, prompt_mapping)
    prompt_key = _text(mapping.get(record, "prompt_id"), "prompt_id", max_chars=MAX_ID_CHARS)
    # Without an explicit prompt id, identical problem text is one prompt, so
    # traces of several models for the same question group (and split) together.
    prompt["external_id"] = prompt_key or stable_id(_prompt_body(prompt))
    trace_id = _text(mapping.get(record, "external_id"), "id", max_chars=MAX_ID_CHARS)
    out.setdefault("model", "")
    model = out["model"] or _text(mapping.get(record, "model"), "model", max_chars=MAX_MODEL_CHARS)
    finish = out.get("finish_reason") or _text(
        mapping.get(record, "finish_reason"), "finish_reason", max_chars=MAX_FINISH_REASON_CHARS
    )
    return {
        "prompt": prompt,
        "external_id": trace_id or stable_id(prompt["external_id"], model, out["response"]),
        "response": out["response"],
        "reasoning": out.get("reasoning", ""),
        "model": model,
        "finish_reason": finish,
        "prompt_tokens": out["prompt_tokens"],
        "completion_tokens": out["completion_tokens"],
    }


def parse_file(
    stream: Iterable[bytes],
    *,
    file_format: str,
    kind: str,
    mapping: Mapping,
    keep_nul: bool = False,
    first_line: int = 1,
) -> Iterator[ParsedLine]:
    """Yield every line of the file, cleaned (``record``) or refused (``error``).

    ``keep_nul``: trace responses may hold NUL (see ``clean_trace``).
    """
    if kind == "traces":

        def clean(record, mapping):
            return clean_trace(record, mapping, keep_nul=keep_nul)
    else:
        clean = clean_prompt
    for parsed in iter_raw_records(stream, file_format, first_line):
        if parsed.record is None:
            yield parsed
            continue
        try:
            yield ParsedLine(line=parsed.line, record=clean(parsed.record, mapping))
        except RecordError as exc:
            yield ParsedLine(line=parsed.line, error=str(exc))
