"""OpenAI-compatible HTTP provider: vLLM, SGLang, Ollama, llama.cpp, TGI,
``transformers serve``, OpenAI, DeepSeek, OpenRouter, Together…

Chat goes to ``/chat/completions``; raw prompts (continuation mode b) go to
``/completions``. The response ``content`` is returned byte-for-byte; a
separate reasoning field (``reasoning_content`` — vLLM/SGLang/DeepSeek/
transformers — or ``reasoning`` — OpenRouter/Ollama) is returned apart. When
there is none, the ``<think>`` tags stay in ``content`` and the analysis
extracts the thinking from there (DESIGN §4).

Errors are classified for the caller's retry loop: 408/409/425/429/5xx,
timeouts and connection resets are transient (``Retry-After`` is honoured);
everything else — other 4xx, malformed JSON, a response without choices — is
permanent. Redirects are refused, never followed (a redirect could lead past
the host allowlist, ``outbound``).

Error messages never echo a foreign body: they give the status and its
standard phrase, plus the OpenAI-style ``error.message`` only when it is short
plain text (one line, at most ``MAX_SERVER_MESSAGE_CHARS`` printable
characters, no markup) — ``HTTP 429 Too Many Requests: Rate limit reached``.
A longer or odd message, an HTML page, a non-JSON body: status and phrase only.
"""

from __future__ import annotations

import email.utils
import http
import json
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from reflectlab.providers import chat_templates
from reflectlab.providers.base import (
    Generation,
    GenerationRequest,
    PermanentProviderError,
    ProviderError,
    Sampling,
    TransientProviderError,
)
from reflectlab.providers.openai_parse import (
    StreamMerger,
    looks_like_sse,
    parse_chat,
    parse_completion,
)
from reflectlab.providers.outbound import GuardedTransport, OutboundRefused

TRANSIENT_STATUS = {408, 409, 425, 429}
MAX_SERVER_MESSAGE_CHARS = 200


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _status_text(status: int) -> str:
    try:
        return f"HTTP {status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _plain(message: object) -> str | None:
    """``message`` when it is short plain text fit to show a user, else ``None``."""
    if not isinstance(message, str):
        return None
    message = message.strip()
    if not message or len(message) > MAX_SERVER_MESSAGE_CHARS or not message.isprintable():
        return None
    if any(c in message for c in "<>`"):
        return None  # markup, not a sentence
    return message


def _server_message(response: httpx.Response) -> str:
    """Status, phrase and — only when short plain text — the OpenAI-style message."""
    status = _status_text(response.status_code)
    try:
        body = json.loads(response.content[:65536])
    except ValueError:
        return status
    message = None
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, dict):
            error = error.get("message")
        message = _plain(error)
    return f"{status}: {message}" if message else status


def _refuse_redirect(response: httpx.Response) -> None:
    if response.is_redirect:
        raise PermanentProviderError(
            f"{_status_text(response.status_code)}: the server redirects; redirects are "
            "not followed — set the base URL to the final address.",
            status=response.status_code,
        )


def render_chatml(messages: list[dict[str, Any]], assistant_prefix: str) -> str:
    """A ChatML prompt that ends inside an open assistant turn (the ``chatml`` preset)."""
    return chat_templates.render_preset(chat_templates.CHATML, messages, assistant_prefix)


# OpenAI reasoning models by name (o1, o1-mini, o3, o3-mini, o4-mini, …).
O_SERIES = re.compile(r"^(?:openai/)?o\d(?:$|[-_.])", re.IGNORECASE)


def uses_reasoning_api(sampling: Sampling) -> bool:
    return sampling.reasoning_api or bool(O_SERIES.match(sampling.model))


class OpenAIHttpProvider:
    """Thread-safe: one ``httpx.Client`` (a connection pool) shared by all threads."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None = None,
        timeout: float = 600.0,
        max_connections: int = 8,
        transport: httpx.BaseTransport | None = None,
    ):
        if not base_url:
            raise PermanentProviderError("The model config has no base URL.")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self.client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            follow_redirects=False,
            # Every request over the network passes the host allowlist; a transport
            # given explicitly (in-process tests, MockTransport) is used as is.
            transport=transport or GuardedTransport(httpx.HTTPTransport(limits=limits)),
        )

    def close(self) -> None:
        self.client.close()

    # -- the interface -------------------------------------------------------

    def generate(self, request: GenerationRequest) -> Generation:
        if request.prompt is not None:
            body = self._completion_body(request.sampling, request.prompt)
            data, latency_ms, warnings = self._send("/completions", body, request)
            return parse_completion(data, latency_ms, warnings)
        body = self._chat_body(request.sampling, request.messages or [])
        if request.continue_final_message:
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False
        data, latency_ms, warnings = self._send("/chat/completions", body, request)
        return parse_chat(data, latency_ms, warnings)

    def continue_from(
        self,
        *,
        messages: list[dict[str, Any]],
        assistant_prefix: str,
        mode: str,
        sampling: Sampling,
    ) -> Generation:
        if mode == "chat_prefill":
            messages = [*messages, {"role": "assistant", "content": assistant_prefix}]
            return self.generate(
                GenerationRequest(sampling=sampling, messages=messages, continue_final_message=True)
            )
        if mode == "raw_completion":
            # The family the model's name says (``runs.continuation`` honours the config's choice).
            family = chat_templates.family_of(sampling.model)
            prompt = chat_templates.render_preset(family, messages, assistant_prefix)
            prompt = chat_templates.for_raw_completion(prompt)
            return self.generate(GenerationRequest(sampling=sampling, prompt=prompt))
        if mode == "user_turn":
            # ``messages`` already ends with the hint as a user turn (built by the caller).
            return self.generate(GenerationRequest(sampling=sampling, messages=messages))
        raise PermanentProviderError(
            f"An OpenAI-compatible server cannot continue in mode {mode!r}; "
            "choose chat_prefill, raw_completion or user_turn."
        )

    def list_models(self, *, timeout: float) -> list[str]:
        """``GET /models`` — used by "test connection" with a short timeout."""
        try:
            response = self.client.get("/models", timeout=timeout)
        except OutboundRefused as exc:
            raise PermanentProviderError(str(exc)) from exc
        except httpx.TimeoutException as exc:
            raise TransientProviderError(f"No answer within {timeout:g} s.") from exc
        except httpx.TransportError as exc:
            raise TransientProviderError(f"Cannot connect: {exc}") from exc
        _refuse_redirect(response)
        if response.status_code >= 400:
            raise PermanentProviderError(_server_message(response), status=response.status_code)
        try:
            data = response.json()
        except ValueError as exc:
            raise PermanentProviderError("The server's /models answer is not JSON.") from exc
        return [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict)]

    # -- request bodies ------------------------------------------------------

    @staticmethod
    def _common(sampling: Sampling) -> dict[str, Any]:
        if uses_reasoning_api(sampling):
            # o-series reject temperature/top_p/max_tokens (HTTP 400) and count
            # their hidden reasoning inside max_completion_tokens.
            body: dict[str, Any] = {
                "model": sampling.model,
                "max_completion_tokens": sampling.max_tokens,
            }
        else:
            body = {
                "model": sampling.model,
                "temperature": sampling.temperature,
                "top_p": sampling.top_p,
                "max_tokens": sampling.max_tokens,
            }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if sampling.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def _chat_body(self, sampling: Sampling, messages: list[dict[str, Any]]) -> dict[str, Any]:
        body = {**self._common(sampling), "messages": messages}
        if sampling.logprobs and not uses_reasoning_api(sampling):
            body["logprobs"] = True
            if sampling.top_logprobs:
                body["top_logprobs"] = sampling.top_logprobs
        return {**body, **sampling.extra_body}

    def _completion_body(self, sampling: Sampling, prompt: str) -> dict[str, Any]:
        body = {**self._common(sampling), "prompt": prompt}
        if sampling.logprobs:
            # The completions API takes the number of alternatives here.
            body["logprobs"] = max(1, sampling.top_logprobs)
        return {**body, **sampling.extra_body}

    # -- transport and parsing -----------------------------------------------

    def _send(
        self, path: str, body: dict[str, Any], request: GenerationRequest
    ) -> tuple[dict[str, Any], int, list[str]]:
        if body.get("stream"):
            return self._post_stream(path, body, request.on_text)
        return self._post(path, body)

    def _post(self, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], int, list[str]]:
        started = time.perf_counter()
        try:
            response = self.client.post(path, json=body)
        except OutboundRefused as exc:
            raise PermanentProviderError(str(exc)) from exc
        except httpx.TimeoutException as exc:
            raise TransientProviderError(f"Timed out ({type(exc).__name__}).") from exc
        except httpx.TransportError as exc:
            raise TransientProviderError(f"Connection error: {type(exc).__name__}: {exc}") from exc
        latency_ms = int((time.perf_counter() - started) * 1000)
        self._raise_for_status(response)
        status = response.status_code
        warnings: list[str] = []
        try:
            data = json.loads(response.content)
        except ValueError as exc:
            if not looks_like_sse(response.headers.get("content-type", ""), response.text):
                raise PermanentProviderError(
                    f"Malformed JSON from the server ({len(response.content)} bytes).",
                    status=status,
                ) from exc
            # A streaming-only server answered with events although none were asked for.
            merger = StreamMerger(chat=path.startswith("/chat"))
            for line in response.text.splitlines():
                merger.feed(line)
            data, warnings = merger.result(), merger.warnings
            warnings.insert(0, "The server streamed (server-sent events) unasked; set 'stream'.")
        return self._checked(data, status), latency_ms, warnings

    def _post_stream(
        self, path: str, body: dict[str, Any], on_text: Callable[[str], None] | None
    ) -> tuple[dict[str, Any], int, list[str]]:
        started = time.perf_counter()
        merger = StreamMerger(chat=path.startswith("/chat"))
        try:
            with self.client.stream("POST", path, json=body) as response:
                if response.status_code >= 300:  # errors, and redirects (refused)
                    response.read()
                    self._raise_for_status(response)
                content_type = response.headers.get("content-type", "")
                if "text/event-stream" not in content_type:
                    text = response.read().decode("utf-8", "replace")
                    if not looks_like_sse(content_type, text):
                        try:  # a server that ignores "stream" and answers once
                            data = json.loads(text)
                        except ValueError as exc:
                            raise PermanentProviderError(
                                f"Malformed JSON from the server ({len(text)} characters).",
                                status=response.status_code,
                            ) from exc
                        latency_ms = int((time.perf_counter() - started) * 1000)
                        return self._checked(data, response.status_code), latency_ms, []
                    lines = text.splitlines()
                else:
                    lines = response.iter_lines()
                for line in lines:
                    if merger.feed(line) and on_text is not None:
                        on_text(merger.text)
        except OutboundRefused as exc:
            raise PermanentProviderError(str(exc)) from exc
        except httpx.TimeoutException as exc:
            raise TransientProviderError(f"Timed out ({type(exc).__name__}).") from exc
        except httpx.TransportError as exc:
            raise TransientProviderError(f"Connection error: {type(exc).__name__}: {exc}") from exc
        latency_ms = int((time.perf_counter() - started) * 1000)
        return self._checked(merger.result(), 200), latency_ms, merger.warnings

    @staticmethod
    def _raise_for_status(response: httpx.Response) -> None:
        status = response.status_code
        _refuse_redirect(response)
        if status >= 400:
            message = _server_message(response)
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            error: type[ProviderError] = (
                TransientProviderError
                if status in TRANSIENT_STATUS or status >= 500
                else PermanentProviderError
            )
            raise error(message, retry_after=retry_after, status=status)

    @staticmethod
    def _checked(data: Any, status: int) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise PermanentProviderError("The server's answer is not a JSON object.", status=status)
        if not data.get("choices"):
            raise PermanentProviderError(
                "The server answered without choices (empty 'choices').", status=status
            )
        return data
