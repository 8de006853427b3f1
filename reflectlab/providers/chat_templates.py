"""Continuation prompts rendered with the model's own chat template (DESIGN §5).

A continuation from a hint must put the model back *inside its own thinking*:
the prompt ends in the open assistant turn, right after ``<think>`` + the
thinking so far + the hint, exactly as the model's chat template would have
laid it out. Every family lays it out differently, so one ChatML renderer is
wrong for most of them:

* ``chatml`` — ChatML (QwQ-32B, Qwen2.5, the tiny test model):
  ``<|im_start|>user\\n{prompt}<|im_end|>\\n<|im_start|>assistant\\n{prefix}``;
* ``deepseek_r1`` — DeepSeek-R1 and its distills (R1-Distill-Qwen *and*
  R1-Distill-Llama share it): ``BOS {system} USER {prompt} ASSISTANT {prefix}``
  with the family's full-width-bar tokens (``DEEPSEEK_*`` below) — no ChatML at
  all, no end token after the user;
* ``qwen3`` — Qwen3 (thinking): ChatML, but its template re-renders the *last*
  assistant turn as ``<think>\\n{reasoning}\\n</think>\\n\\n{content}``, so a
  continued message (mode a) comes out as ``<think>\\n\\n</think>\\n\\n<think>\\n
  prefix…`` — the model continues after a closed thinking block. Mode (b)
  renders the open turn itself and is the mode that works;
* ``llama3`` — Llama-3.1: headers ``<|start_header_id|>role<|end_header_id|>\\n\\n``,
  a system block with the knowledge-cutoff lines, every content ``trim``-med
  (so the continued message loses its trailing blank line too).

The presets are small Jinja-free renderers written from the families'
``tokenizer_config.json`` templates; ``tests/providers/test_chat_templates.py``
renders the same conversations through transformers' real
``apply_chat_template(..., continue_final_message=True)`` on tiny models that
carry each family's template and asserts byte equality.

``tokenizer`` renders from a local tokenizer directory with transformers (an
optional dependency, imported only then). This module imports nothing from
Django (the model venv's Python 3.11 runs it in the tests).
"""

from __future__ import annotations

import re
from typing import Any

CHATML = "chatml"
DEEPSEEK_R1 = "deepseek_r1"
QWEN3 = "qwen3"
LLAMA3 = "llama3"
TOKENIZER = "tokenizer"
SERVER = "server"

PRESETS = (CHATML, DEEPSEEK_R1, QWEN3, LLAMA3)

# Templates whose rendering of a continued final message (mode a) closes the
# thinking block before the prefix, with the mode that works instead.
PREFILL_BREAKS = {
    QWEN3: "Qwen3's chat template re-renders the continued assistant message as "
    "'<think>\\n\\n</think>\\n\\n' + the prefix, so the model would continue after a "
    "closed thinking block."
}

DEEPSEEK_BOS = "<｜begin▁of▁sentence｜>"  # noqa: RUF001 (the family's real tokens)
DEEPSEEK_USER = "<｜User｜>"  # noqa: RUF001
DEEPSEEK_ASSISTANT = "<｜Assistant｜>"  # noqa: RUF001
DEEPSEEK_EOS = "<｜end▁of▁sentence｜>"  # noqa: RUF001
LLAMA3_DATE = "26 Jul 2024"  # Llama-3.1's template default when no date_string is given

TRANSFORMERS_MISSING = (
    "Rendering the chat template of a tokenizer directory needs transformers in the "
    "worker's environment (`pip install transformers`); or choose a preset template "
    "(chatml, deepseek_r1, qwen3, llama3)."
)


class TemplateError(ValueError):
    """The continuation prompt cannot be rendered (unknown preset, missing
    dependency, a template that loses the prefix)."""


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _after_think(text: str) -> str:
    """How reasoning templates replay an earlier assistant turn: the answer only."""
    return text.split("</think>")[-1]


def _chatml(messages: list[dict[str, Any]], prefix: str) -> str:
    parts = []
    for m in messages:
        content = _text(m)
        if m.get("role") == "assistant":
            content = _after_think(content).lstrip("\n")
        parts.append(f"<|im_start|>{m.get('role')}\n{content}<|im_end|>\n")
    return "".join(parts) + "<|im_start|>assistant\n" + prefix


def _deepseek_r1(messages: list[dict[str, Any]], prefix: str) -> str:
    system = next((_text(m) for m in messages if m.get("role") == "system"), "")
    parts = [DEEPSEEK_BOS, system]
    for m in messages:
        if m.get("role") == "user":
            parts.append(DEEPSEEK_USER + _text(m))
        elif m.get("role") == "assistant":
            parts.append(DEEPSEEK_ASSISTANT + _after_think(_text(m)) + DEEPSEEK_EOS)
    return "".join(parts) + DEEPSEEK_ASSISTANT + prefix


def _llama3(messages: list[dict[str, Any]], prefix: str) -> str:
    system = ""
    if messages and messages[0].get("role") == "system":
        system, messages = _text(messages[0]).strip(), messages[1:]
    parts = [
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n",
        f"Cutting Knowledge Date: December 2023\nToday Date: {LLAMA3_DATE}\n\n",
        system,
        "<|eot_id|>",
    ]
    for m in messages:
        parts.append(
            f"<|start_header_id|>{m.get('role')}<|end_header_id|>\n\n{_text(m).strip()}<|eot_id|>"
        )
    # The template trims the continued message, and transformers cuts right after it.
    return "".join(parts) + "<|start_header_id|>assistant<|end_header_id|>\n\n" + prefix.strip()


_RENDERERS = {CHATML: _chatml, QWEN3: _chatml, DEEPSEEK_R1: _deepseek_r1, LLAMA3: _llama3}


def render_preset(name: str, messages: list[dict[str, Any]], assistant_prefix: str) -> str:
    """The prompt (mode b) that continues ``assistant_prefix`` in family ``name``'s layout."""
    try:
        renderer = _RENDERERS[name]
    except KeyError:
        raise TemplateError(
            f"Unknown chat template {name!r}; choose one of {', '.join(PRESETS)}."
        ) from None
    return renderer(messages, assistant_prefix)


def _tokenizer(tokenizer_dir: str):
    try:
        import transformers  # optional dependency: imported only when a config asks for it
    except ImportError:
        raise TemplateError(TRANSFORMERS_MISSING) from None
    try:
        return transformers.AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    except Exception as exc:  # OSError, ValueError, …: a directory it cannot read
        raise TemplateError(f"Cannot load the tokenizer in {tokenizer_dir}: {exc}") from exc


def _apply(tokenizer, tokenizer_dir: str, chat: list[dict[str, Any]], **kwargs: Any) -> str:
    try:
        return tokenizer.apply_chat_template(chat, tokenize=False, **kwargs)
    except Exception as exc:  # a template error (jinja2.TemplateError, ValueError)
        raise TemplateError(f"The chat template in {tokenizer_dir} failed: {exc}") from exc


def render_prefill(
    tokenizer_dir: str, messages: list[dict[str, Any]], assistant_prefix: str
) -> str:
    """What a server does with mode (a): ``apply_chat_template(...,
    continue_final_message=True)`` of the messages + the partial assistant turn."""
    chat = [*messages, {"role": "assistant", "content": assistant_prefix}]
    return _apply(
        _tokenizer(tokenizer_dir),
        tokenizer_dir,
        chat,
        continue_final_message=True,
        add_generation_prompt=False,
    )


def open_turn(generation_prompt: str, assistant_prefix: str) -> str:
    """The generation prompt followed by the prefix, without opening ``<think>`` twice
    (QwQ and R1 templates end their generation prompt with it)."""
    head = generation_prompt.rstrip()
    if assistant_prefix.startswith("<think>") and head.endswith("<think>"):
        generation_prompt = head[: -len("<think>")]
    return generation_prompt + assistant_prefix


def render_tokenizer(
    tokenizer_dir: str, messages: list[dict[str, Any]], assistant_prefix: str
) -> str:
    """The mode (b) prompt from a tokenizer directory's own template.

    transformers' ``continue_final_message`` rendering, unless the template
    mangles a continued message (Qwen3 closes the thinking before it): then
    the template's generation prompt, continued by the prefix.
    """
    tokenizer = _tokenizer(tokenizer_dir)
    chat = [*messages, {"role": "assistant", "content": assistant_prefix}]
    rendered = _apply(
        tokenizer, tokenizer_dir, chat, continue_final_message=True, add_generation_prompt=False
    )
    if not prefill_problem(rendered, assistant_prefix):
        return rendered
    head = _apply(tokenizer, tokenizer_dir, messages, add_generation_prompt=True)
    return open_turn(head, assistant_prefix)


# Model names -> family, first match wins (R1 distills name their base model too).
_NAME_FAMILIES = (
    (re.compile(r"deepseek[-_]?r1|r1[-_]distill", re.IGNORECASE), DEEPSEEK_R1),
    (re.compile(r"qwq", re.IGNORECASE), CHATML),
    (re.compile(r"qwen[-_]?3", re.IGNORECASE), QWEN3),
    (re.compile(r"llama[-_]?3", re.IGNORECASE), LLAMA3),
)


def family_of(model_name: str) -> str:
    """The preset a model name implies (``chatml`` when it names no known family)."""
    for pattern, family in _NAME_FAMILIES:
        if pattern.search(model_name or ""):
            return family
    return CHATML


def effective_template(chat_template: str, model_name: str) -> str:
    """The config's template; the server default means "the family the model's name says"."""
    return chat_template or family_of(model_name)


def render_continuation(
    *,
    template: str,
    messages: list[dict[str, Any]],
    assistant_prefix: str,
    tokenizer_dir: str = "",
) -> str:
    """The raw /v1/completions prompt for continuation mode (b).

    ``template`` is a preset name or ``tokenizer`` (render from
    ``tokenizer_dir``); resolve the server default with ``effective_template``
    first (the server's own template is out of reach for a raw prompt).
    """
    if template == TOKENIZER:
        return render_tokenizer(tokenizer_dir, messages, assistant_prefix)
    return render_preset(template if template in PRESETS else CHATML, messages, assistant_prefix)


# Beginning-of-sequence tokens that the families' templates write themselves.
TEMPLATE_BOS = (DEEPSEEK_BOS, "<|begin_of_text|>")


def for_raw_completion(prompt: str) -> str:
    """The rendered prompt as sent to ``/v1/completions``: without a leading BOS.

    The server tokenizes a raw prompt with the tokenizer's special tokens, and
    the DeepSeek-R1 and Llama-3 tokenizers add their BOS themselves (vLLM's
    ``add_special_tokens`` defaults to true; llama.cpp adds it and warns about
    a duplicate) — sending the template's BOS as well would double it.
    """
    for bos in TEMPLATE_BOS:
        if prompt.startswith(bos):
            return prompt[len(bos) :]
    return prompt


def prefill_problem(rendered: str, assistant_prefix: str) -> str:
    """Why a mode (a) rendering cannot continue the prefix, or "".

    Catches templates that drop the prefix or put a closed thinking block in
    front of it (Qwen3): the text between the last turn header and the prefix
    must not close a ``<think>`` that the prefix itself did not.
    """
    core = assistant_prefix.strip()
    if not core:
        return ""
    at = rendered.rfind(core)
    if at < 0:
        return "The chat template does not keep the continued message."
    before = rendered[max(0, at - 64) : at]
    if "</think>" in before:
        return (
            "The chat template closes the thinking block ('</think>') before the continued "
            "message, so the model would continue after finished thinking."
        )
    return ""
