"""The worker side of regeneration from a hint (``services.trace_regenerate``).

``trace_continue`` builds the request in the config's continuation mode
(DESIGN §5), stores *exactly* what it sends on the branch
(``Trace.continuation_prompt``), calls the model (retrying transient errors
under the endpoint's concurrency limit), analyses and grades the result.

Every way this can go wrong ends in a FAILED branch with a reason — a
provider error, a server that refuses the mode (explained, with the mode that
works), a soft time limit, a bug in the analysis — so the workspace never
polls a pending branch forever.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from reflectlab.core.limits import MAX_ERROR_CHARS
from reflectlab.providers import chat_templates
from reflectlab.providers.base import (
    Generation,
    GenerationRequest,
    PermanentProviderError,
    Provider,
    ProviderError,
)
from reflectlab.providers.models import ModelConfig
from reflectlab.providers.registry import endpoint_key, provider_for, sampling_for
from reflectlab.runs import leases
from reflectlab.runs.execution import backoff_seconds, chat_messages
from reflectlab.traces.analysis import ANALYSIS_FIELDS
from reflectlab.traces.models import Trace
from reflectlab.traces.services import trace_analyze

logger = logging.getLogger(__name__)

THINK_OPEN = "<think>\n"
STREAM_SAVE_SECONDS = 0.5  # a streamed branch's partial text is written at most this often
# A server's words for "I do not know continue_final_message / add_generation_prompt".
PREFILL_WORDS = ("continue_final_message", "add_generation_prompt")
Mode = ModelConfig.Continuation


class ContinuationRefused(PermanentProviderError):
    """The server or the template cannot serve the config's continuation mode."""


def continuation_prefix(*, parent: Trace, step_index: int) -> tuple[str, bool]:
    """The parent's text before the marked step, and whether the thinking tag
    must be opened for the model (the prefix came from a separate reasoning field
    or from a response whose template opened ``<think>``).

    Offsets are those of the stored analysis, into ``Trace.step_text``.
    """
    analysis = parent.analysis or {}
    step = analysis["steps"][step_index]
    source = (analysis.get("extraction") or {}).get("source", "")
    return parent.step_text[: step["start"]], source in {"reasoning_field", "closing_tag"}


def _prefill_check(config: ModelConfig, chat: list[dict[str, Any]], given: str) -> None:
    """Refuse mode (a) when the model's template is known to mangle a continued message."""
    template = chat_templates.effective_template(config.chat_template, config.model)
    if template in chat_templates.PREFILL_BREAKS:
        raise ContinuationRefused(
            chat_templates.PREFILL_BREAKS[template]
            + " Use continuation mode (b), raw /v1/completions, with this template."
        )
    if template != chat_templates.TOKENIZER:
        return
    try:
        rendered = chat_templates.render_prefill(config.tokenizer_dir, chat[:-1], given)
    except chat_templates.TemplateError:
        return  # cannot predict the server's rendering here; the server decides
    problem = chat_templates.prefill_problem(rendered, given)
    if problem:
        raise ContinuationRefused(
            f"{problem} Use continuation mode (b), raw /v1/completions, with this template."
        )


def continuation_request(
    *, config: ModelConfig, branch: Trace, parent: Trace
) -> tuple[GenerationRequest | None, str, str, int]:
    """(request, what is sent as text, the text the branch keeps before the
    continuation, its length in the parent). ``request`` is None for mode (c),
    which the local provider renders itself."""
    sampling = sampling_for(config)
    messages = chat_messages(config, branch.prompt)
    mode = config.continuation_mode
    if mode == Mode.USER_TURN:
        # (d) No prefill: the original answer, then the hint as a new user turn.
        messages = [
            *messages,
            {"role": "assistant", "content": parent.raw_response},
            {"role": "user", "content": branch.hint},
        ]
        sent = json.dumps(messages, ensure_ascii=False, indent=1)
        return GenerationRequest(sampling=sampling, messages=messages), sent, "", 0
    prefix, open_tag = continuation_prefix(parent=parent, step_index=branch.branch_step)
    head = prefix + branch.hint.strip() + "\n\n"
    given = (THINK_OPEN if open_tag else "") + head
    if mode == Mode.CHAT_PREFILL:
        chat = [*messages, {"role": "assistant", "content": given}]
        _prefill_check(config, chat, given)
        request = GenerationRequest(sampling=sampling, messages=chat, continue_final_message=True)
        return request, json.dumps(chat, ensure_ascii=False, indent=1), head, len(prefix)
    if mode == Mode.RAW_COMPLETION:
        try:
            prompt = chat_templates.render_continuation(
                template=chat_templates.effective_template(config.chat_template, config.model),
                messages=messages,
                assistant_prefix=given,
                tokenizer_dir=config.tokenizer_dir,
            )
        except chat_templates.TemplateError as exc:
            raise PermanentProviderError(str(exc)) from exc
        prompt = chat_templates.for_raw_completion(prompt)
        return GenerationRequest(sampling=sampling, prompt=prompt), prompt, head, len(prefix)
    return None, given, head, len(prefix)  # (c) the local model renders its own template


def explain_refusal(exc: ProviderError, mode: str) -> ProviderError:
    """A server's refusal of the mode, said with the mode that works instead."""
    message = str(exc)
    if exc.status not in {400, 404, 405, 422, 501}:
        return exc
    if mode == Mode.CHAT_PREFILL and any(w in message for w in PREFILL_WORDS):
        return ContinuationRefused(
            f"The server refused continuation mode (a), chat with continue_final_message "
            f"({message}). Switch this model config to (b) raw /v1/completions with the "
            "model's chat template (`transformers serve`, llama.cpp, Ollama), or to (d) for "
            "APIs without raw completions.",
            status=exc.status,
        )
    if mode == Mode.RAW_COMPLETION and exc.status in {404, 405, 501}:
        return ContinuationRefused(
            f"The server has no raw /v1/completions for mode (b) ({message}). Switch this "
            "model config to (a) chat with continue_final_message (vLLM, SGLang) or to (d), "
            "the hint as a new user turn.",
            status=exc.status,
        )
    return exc


def _stream_writer(branch_id: int, head: str) -> Callable[[str], None]:
    """Writes a streamed continuation's text so far onto the pending branch (the
    workspace polls it), at most every STREAM_SAVE_SECONDS."""
    last = [0.0]

    def write(text: str) -> None:
        now = time.monotonic()
        if now - last[0] < STREAM_SAVE_SECONDS:
            return
        last[0] = now
        Trace.objects.filter(pk=branch_id, state=Trace.State.PENDING).update(
            raw_response=head + text
        )

    return write


def branch_fields(generation: Generation, head: str, prefix_chars: int) -> dict[str, Any]:
    """The branch's columns from the model's answer: ``head`` (prefix + hint)
    + the continuation, so its analysis compares with the parent's."""
    continuation = generation.content
    if generation.reasoning:  # a reasoning parser split the continued thinking off
        if generation.content or generation.finish_reason != "length":
            continuation = f"{generation.reasoning}\n</think>\n\n{generation.content}"
        else:
            # Cut off inside the thinking: no '</think>' is made up, so the
            # branch stays truncated (analysis, UI, exports).
            continuation = generation.reasoning
    return {
        "raw_response": head + continuation,
        "reasoning": "",
        "finish_reason": generation.finish_reason[:32],
        "prompt_tokens": generation.prompt_tokens,
        "completion_tokens": generation.completion_tokens,
        "reasoning_tokens": generation.reasoning_tokens,
        "logprobs": generation.logprobs,
        "latency_ms": generation.latency_ms,
        "continuation_prefix_chars": prefix_chars,
        "warnings": list(generation.warnings),
    }


def _user_turn_fields(generation: Generation) -> dict[str, Any]:
    return {
        **branch_fields(generation, "", 0),
        "raw_response": generation.content,
        "reasoning": generation.reasoning,
    }


def _generate(
    *, provider: Provider, config: ModelConfig, branch: Trace, parent: Trace
) -> dict[str, Any]:
    request, sent, head, prefix_chars = continuation_request(
        config=config, branch=branch, parent=parent
    )
    Trace.objects.filter(pk=branch.pk, state=Trace.State.PENDING).update(
        continuation_prompt=sent, continuation_prefix_chars=prefix_chars
    )
    if request is None:
        generation = provider.continue_from(
            messages=chat_messages(config, branch.prompt),
            assistant_prefix=sent,
            mode=config.continuation_mode,
            sampling=sampling_for(config),
        )
    else:
        if config.stream:
            request = GenerationRequest(
                sampling=request.sampling,
                messages=request.messages,
                prompt=request.prompt,
                continue_final_message=request.continue_final_message,
                on_text=_stream_writer(branch.pk, head),
            )
        try:
            generation = provider.generate(request)
        except ProviderError as exc:
            raise explain_refusal(exc, config.continuation_mode) from exc
    if config.continuation_mode == Mode.USER_TURN:
        return _user_turn_fields(generation)
    return branch_fields(generation, head, prefix_chars)


def _call_model(branch: Trace, config: ModelConfig) -> tuple[dict[str, Any], str]:
    """(fields, error): the model's answer with retries of transient errors."""
    semaphore = leases.EndpointSemaphore(endpoint_key(config), config.max_concurrency)
    holder = leases.new_holder()
    try:
        provider = provider_for(config)
    except PermanentProviderError as exc:
        return {}, str(exc)
    error = ""
    try:
        with leases.Heartbeat(holder):
            for attempt in range(1, 2 + config.max_retries):
                slot = semaphore.acquire(holder)
                try:
                    return _generate(
                        provider=provider, config=config, branch=branch, parent=branch.parent
                    ), ""
                except ProviderError as exc:
                    error = str(exc)
                    if not exc.transient or attempt > config.max_retries:
                        break
                    delay = backoff_seconds(attempt, exc.retry_after)
                finally:
                    semaphore.release(slot, holder)
                time.sleep(delay)
    finally:
        provider.close()
    return {}, error


def trace_continue_fail(*, branch_id: int, reason: str, fields: dict | None = None) -> bool:
    """Fail a pending branch with a reason (compare-and-set), keeping any text it got."""
    return bool(
        Trace.objects.filter(pk=branch_id, state=Trace.State.PENDING).update(
            **(fields or {}), state=Trace.State.FAILED, error=reason[:MAX_ERROR_CHARS]
        )
    )


def failure_reason(exc: BaseException, *, after_answer: bool) -> str:
    if isinstance(exc, SoftTimeLimitExceeded):
        return (
            "The continuation ran past the task's time limit and was stopped; "
            "lower max_tokens or raise the config's timeout."
        )
    where = "while storing the model's answer" if after_answer else "while continuing"
    return f"Internal error {where}: {type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]


def trace_continue(*, branch_id: int, config_id: int) -> Trace:
    """Generate, analyse, grade; the branch ends READY or FAILED, never stays PENDING."""
    branch = Trace.objects.select_related("prompt", "project", "parent").get(pk=branch_id)
    if branch.state != Trace.State.PENDING:
        return branch  # already done: the task is idempotent
    fields: dict[str, Any] = {}
    try:
        config = ModelConfig.objects.filter(pk=config_id).first()
        if config is None:
            trace_continue_fail(branch_id=branch_id, reason="Its model config was deleted.")
            return Trace.objects.get(pk=branch_id)
        fields, error = _call_model(branch, config)
        if error:
            trace_continue_fail(branch_id=branch_id, reason=error)
        else:
            for name, value in fields.items():
                setattr(branch, name, value)
            trace_analyze(trace=branch, save=False)
            columns = {name: getattr(branch, name) for name in ANALYSIS_FIELDS}
            Trace.objects.filter(pk=branch_id, state=Trace.State.PENDING).update(
                state=Trace.State.READY, error="", **fields, **columns
            )
    except Exception as exc:  # incl. SoftTimeLimitExceeded: never leave it PENDING
        logger.exception("continuation of branch %s failed", branch_id)
        reason = failure_reason(exc, after_answer=bool(fields))
        try:
            trace_continue_fail(branch_id=branch_id, reason=reason, fields=fields)
        except Exception:  # the answer itself cannot be written: fail without it
            logger.exception("branch %s: the answer cannot be stored", branch_id)
            trace_continue_fail(branch_id=branch_id, reason=reason)
    return Trace.objects.get(pk=branch_id)
