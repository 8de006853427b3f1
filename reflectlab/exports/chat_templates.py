# ruff: noqa: RUF001  (DeepSeek's special tokens use fullwidth bars by design)
"""Does the chat template a user trains with keep the reasoning of our rows?

DeepSeek-R1's chat template (and the R1-Distill models', which reuse it) keeps
only what follows ``</think>`` in every assistant turn, so SFT, DPO and KTO rows
rendered with it silently lose the thinking and the inline hint — the very text
the export exists for. We render a probe conversation with the template the
user names (a preset, or the chat template of a tokenizer folder under
``REFLECTLAB_TOKENIZERS_DIR``), in a Jinja sandbox as transformers does, and
look for the probe's thinking in the output. When it is gone, the export warns
and writes a reasoning-keeping training template into the bundle.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import orjson
from django.conf import settings
from jinja2 import nodes
from jinja2.exceptions import TemplateError
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

PROBE_THINKING = "probe-thinking-7f3a"
PROBE_ANSWER = "probe-answer-7f3a"
MAX_TEMPLATE_CHARS = 100_000

# DeepSeek-R1's template, its assistant-turn logic kept verbatim (tool calls left out).
DEEPSEEK_R1 = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{% set ns = namespace(system_prompt='') %}"
    "{% for message in messages %}{% if message['role'] == 'system' %}"
    "{% set ns.system_prompt = message['content'] %}{% endif %}{% endfor %}"
    "{{ bos_token }}{{ ns.system_prompt }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}{% endif %}"
    "{% if message['role'] == 'assistant' and message['content'] is not none %}"
    "{% set content = message['content'] %}"
    "{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}"
    "{{ '<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>' }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\\n' }}{% endif %}"
)

# The same format, reasoning kept (``<think>`` in the content, or a ``reasoning_content``
# key), and each assistant turn in ``{% generation %}`` for TRL's assistant_only_loss.
DEEPSEEK_R1_KEEP = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{% set ns = namespace(system_prompt='') %}"
    "{% for message in messages %}{% if message['role'] == 'system' %}"
    "{% set ns.system_prompt = message['content'] %}{% endif %}{% endfor %}"
    "{{ bos_token }}{{ ns.system_prompt }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}{% endif %}"
    "{% if message['role'] == 'assistant' %}{{ '<｜Assistant｜>' }}{% generation %}"
    "{% if message.get('reasoning_content') %}"
    "{{ '<think>\\n' + message['reasoning_content'] + '\\n</think>\\n\\n' }}{% endif %}"
    "{{ message['content'] or '' }}{{ '<｜end▁of▁sentence｜>' }}{% endgeneration %}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\\n' }}{% endif %}"
)

# ChatML (Qwen2.5, QwQ) with the reasoning kept, assistant turns in ``{% generation %}``.
CHATML_KEEP = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['role'] == 'assistant' %}{% generation %}"
    "{% if message.get('reasoning_content') %}"
    "{{ '<think>\\n' + message['reasoning_content'] + '\\n</think>\\n\\n' }}{% endif %}"
    "{{ (message['content'] or '') + '<|im_end|>\\n' }}{% endgeneration %}"
    "{% else %}{{ message['content'] + '<|im_end|>\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

PRESETS = {"deepseek_r1": DEEPSEEK_R1, "chatml": CHATML_KEEP}
KEEPING = {"deepseek_r1": DEEPSEEK_R1_KEEP, "chatml": CHATML_KEEP}


class _Generation(Extension):
    """``{% generation %}…{% endgeneration %}`` (HF's marker for assistant_only_loss) renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


def _raise(message: str):
    raise TemplateError(message)


@cache
def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_Generation, loopcontrols]
    )
    env.globals["raise_exception"] = _raise
    env.filters["tojson"] = lambda value, **_: orjson.dumps(value).decode()
    return env


def template_render(template: str, messages: list[dict], **context) -> str:
    """Render a chat template as transformers would (sandboxed); TemplateError when it breaks."""
    if len(template) > MAX_TEMPLATE_CHARS:
        raise TemplateError("the chat template is too long")
    compiled = _environment().from_string(template)
    return compiled.render(messages=messages, add_generation_prompt=False, **context)


@dataclass(frozen=True)
class TemplateCheck:
    name: str
    keeps_reasoning: bool
    rendered: str
    error: str = ""
    keeping_template: str = ""

    @property
    def warning(self) -> str:
        if self.error:
            return f"The training chat template {self.name} could not be rendered: {self.error}"
        if self.keeps_reasoning:
            return ""
        return (
            f"The training chat template {self.name} drops the reasoning of assistant turns "
            "(it keeps only the text after </think>, as DeepSeek-R1's does): SFT, DPO and KTO "
            "rows would train without their thinking and hint. Train with "
            "templates/chat_template_keep_reasoning.jinja from the bundle "
            "(tokenizer.chat_template = open(...).read())."
        )


def probe_messages(*, reasoning_key: bool) -> list[dict]:
    if reasoning_key:
        answer = {"role": "assistant", "content": PROBE_ANSWER, "reasoning_content": PROBE_THINKING}
    else:
        answer = {
            "role": "assistant",
            "content": f"<think>\n{PROBE_THINKING}\n</think>\n\n{PROBE_ANSWER}",
        }
    return [{"role": "user", "content": "probe question"}, answer]


def template_check(
    *, name: str, template: str, reasoning_key: bool, keeping: str = ""
) -> TemplateCheck:
    """Render the probe; the reasoning is kept when the probe's thinking survives."""
    try:
        rendered = template_render(
            template, probe_messages(reasoning_key=reasoning_key), bos_token="", eos_token=""
        )
    except (TemplateError, TypeError, ValueError) as exc:
        return TemplateCheck(name, False, "", error=str(exc)[:300])
    keeps = PROBE_THINKING in rendered and PROBE_ANSWER in rendered
    return TemplateCheck(name, keeps, rendered, keeping_template="" if keeps else keeping)


def tokenizers_root() -> Path:
    return Path(settings.REFLECTLAB_TOKENIZERS_DIR)


def tokenizer_names() -> list[str]:
    """Folders under ``REFLECTLAB_TOKENIZERS_DIR`` holding a ``tokenizer.json``."""
    root = tokenizers_root()
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob("*/tokenizer.json"))


def tokenizer_dir(name: str) -> Path:
    """A named tokenizer folder; never a path outside the configured root."""
    if name not in tokenizer_names():
        raise ValueError(f"Unknown tokenizer {name!r} (folders under REFLECTLAB_TOKENIZERS_DIR).")
    return tokenizers_root() / name


def tokenizer_template(name: str) -> str:
    """A tokenizer folder's chat template: ``chat_template.jinja``, else tokenizer_config.json's."""
    folder = tokenizer_dir(name)
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    config = folder / "tokenizer_config.json"
    if config.is_file():
        template = orjson.loads(config.read_bytes()).get("chat_template")
        if isinstance(template, list):  # named templates: the default one
            template = next((t["template"] for t in template if t.get("name") == "default"), "")
        if isinstance(template, str):
            return template
    return ""


def training_template_check(options: dict, *, reasoning_key: bool) -> TemplateCheck | None:
    """Check the template an export's options name (a preset, or the tokenizer's own)."""
    preset = options.get("training_template") or ""
    if preset:
        return template_check(
            name=f"preset {preset!r}",
            template=PRESETS[preset],
            reasoning_key=reasoning_key,
            keeping=KEEPING[preset],
        )
    tokenizer = options.get("tokenizer") or ""
    if tokenizer:
        template = tokenizer_template(tokenizer)
        if template:
            keeping = DEEPSEEK_R1_KEEP if "<｜Assistant｜>" in template else CHATML_KEEP
            return template_check(
                name=f"of tokenizer {tokenizer!r}",
                template=template,
                reasoning_key=reasoning_key,
                keeping=keeping,
            )
    return None
