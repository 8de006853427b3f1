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
permanent and reported with the server's own message.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import httpx

from reflectlab.core.limits import MAX_ERROR_CHARS
from reflectlab.providers.base import (
    Generation,
    GenerationRequest,
    PermanentProviderError,
    ProviderError,
    Sampling,
    TransientProviderError,
)

TRANSIENT_STATUS = {408, 409, 425, 429}


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


def _server_message(response: httpx.Response) -> str:
    """The provider's own error message, short, for the per-item error list."""
    text = response.text
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:MAX_ERROR_CHARS] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, dict):
            error = error.get("message") or json.dumps(error)
        if error:
            return str(error)[:MAX_ERROR_CHARS]
    return text.strip()[:MAX_ERROR_CHARS]


def _chat_logprobs(raw: Any) -> list[dict[str, Any]] | None:
    content = raw.get("content") if isinstance(raw, dict) else None
    if not isinstance(content, list):
        return None
    return [
        {
            "token": entry.get("token", ""),
            "logprob": entry.get("logprob"),
            "top_logprobs": [
                {"token": t.get("token", ""), "logprob": t.get("logprob")}
                for t in entry.get("top_logprobs") or []
            ],
        }
        for entry in content
        if isinstance(entry, dict)
    ]


def _completion_logprobs(raw: Any) -> list[dict[str, Any]] | None:
    """The legacy completions shape (parallel lists) in the chat shape."""
    if not isinstance(raw, dict) or not isinstance(raw.get("tokens"), list):
        return None
    tokens = raw["tokens"]
    values = raw.get("token_logprobs") or [None] * len(tokens)
    tops = raw.get("top_logprobs") or [None] * len(tokens)
    return [
        {
            "token": token,
            "logprob": value,
            "top_logprobs": [{"token": t, "logprob": lp} for t, lp in (top or {}).items()],
        }
        for token, value, top in zip(tokens, values, tops, strict=False)
    ]


def render_chatml(messages: list[dict[str, Any]], assistant_prefix: str) -> str:
    """A ChatML prompt (Qwen, DeepSeek-R1 distills, the tiny test model) that
    ends inside an open assistant turn, so the model continues ``assistant_prefix``."""
    parts = [f"<|im_start|>{m['role']}\n{m.get('content') or ''}<|im_end|>\n" for m in messages]
    parts.append(f"<|im_start|>assistant\n{assistant_prefix}")
    return "".join(parts)


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
        self.client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    # -- the interface -------------------------------------------------------

    def generate(self, request: GenerationRequest) -> Generation:
        if request.prompt is not None:
            body = self._completion_body(request.sampling, request.prompt)
            data, latency_ms = self._post("/completions", body)
            return self._parse_completion(data, latency_ms)
        body = self._chat_body(request.sampling, request.messages or [])
        if request.continue_final_message:
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False
        data, latency_ms = self._post("/chat/completions", body)
        return self._parse_chat(data, latency_ms)

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
            prompt = render_chatml(messages, assistant_prefix)
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
        except httpx.TimeoutException as exc:
            raise TransientProviderError(f"No answer within {timeout:g} s.") from exc
        except httpx.TransportError as exc:
            raise TransientProviderError(f"Cannot connect: {exc}") from exc
        if response.status_code >= 400:
            raise PermanentProviderError(
                f"HTTP {response.status_code}: {_server_message(response)}",
                status=response.status_code,
            )
        try:
            data = response.json()
        except ValueError as exc:
            raise PermanentProviderError("The server's /models answer is not JSON.") from exc
        return [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict)]

    # -- request bodies ------------------------------------------------------

    @staticmethod
    def _common(sampling: Sampling) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": sampling.model,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        return body

    def _chat_body(self, sampling: Sampling, messages: list[dict[str, Any]]) -> dict[str, Any]:
        body = {**self._common(sampling), "messages": messages}
        if sampling.logprobs:
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

    def _post(self, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        started = time.perf_counter()
        try:
            response = self.client.post(path, json=body)
        except httpx.TimeoutException as exc:
            raise TransientProviderError(f"Timed out ({type(exc).__name__}).") from exc
        except httpx.TransportError as exc:
            raise TransientProviderError(f"Connection error: {type(exc).__name__}: {exc}") from exc
        latency_ms = int((time.perf_counter() - started) * 1000)
        status = response.status_code
        if status >= 400:
            message = f"HTTP {status}: {_server_message(response)}"
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            error: type[ProviderError] = (
                TransientProviderError
                if status in TRANSIENT_STATUS or status >= 500
                else PermanentProviderError
            )
            raise error(message, retry_after=retry_after, status=status)
        try:
            data = json.loads(response.content)
        except ValueError as exc:
            raise PermanentProviderError(
                f"Malformed JSON from the server: {response.text[:200]!r}", status=status
            ) from exc
        if not isinstance(data, dict):
            raise PermanentProviderError("The server's answer is not a JSON object.", status=status)
        if not data.get("choices"):
            raise PermanentProviderError(
                "The server answered without choices (empty 'choices').", status=status
            )
        return data, latency_ms

    @staticmethod
    def _usage(data: dict[str, Any]) -> tuple[int | None, int | None]:
        usage = data.get("usage") or {}
        return usage.get("prompt_tokens"), usage.get("completion_tokens")

    def _parse_chat(self, data: dict[str, Any], latency_ms: int) -> Generation:
        choice = data["choices"][0]
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            raise PermanentProviderError("The server's choice has no message.")
        prompt_tokens, completion_tokens = self._usage(data)
        reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
        return Generation(
            content=message.get("content") or "",
            reasoning=reasoning if isinstance(reasoning, str) else "",
            finish_reason=choice.get("finish_reason") or "",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            logprobs=_chat_logprobs(choice.get("logprobs")),
            latency_ms=latency_ms,
            model=str(data.get("model") or ""),
        )

    def _parse_completion(self, data: dict[str, Any], latency_ms: int) -> Generation:
        choice = data["choices"][0]
        if not isinstance(choice, dict) or not isinstance(choice.get("text"), str):
            raise PermanentProviderError("The server's choice has no text.")
        prompt_tokens, completion_tokens = self._usage(data)
        return Generation(
            content=choice["text"],
            finish_reason=choice.get("finish_reason") or "",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            logprobs=_completion_logprobs(choice.get("logprobs")),
            latency_ms=latency_ms,
            model=str(data.get("model") or ""),
        )
