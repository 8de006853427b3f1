from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from reflectlab.projects.models import Project
from reflectlab.providers import chat_templates, outbound

env_name_validator = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_]{0,99}$",
    "Enter the NAME of an environment variable (like OPENAI_API_KEY), never the key itself.",
)


# What a user may set on a model config (form and API share it).
EDITABLE_FIELDS = [
    "name",
    "provider",
    "base_url",
    "model",
    "api_key_env",
    "system_prompt",
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "logprobs",
    "top_logprobs",
    "continuation_mode",
    "chat_template",
    "tokenizer_dir",
    "stream",
    "reasoning_api",
    "max_concurrency",
    "timeout_seconds",
    "max_retries",
    "extra_body",
]


class ModelConfig(models.Model):
    """How to reach a model and sample from it. API keys are never stored here:
    ``api_key_env`` names the environment variable that holds the key."""

    class Provider(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible HTTP"
        HF_LOCAL = "hf_local", "Local Hugging Face model"

    class Continuation(models.TextChoices):
        CHAT_PREFILL = "chat_prefill", "(a) chat with continue_final_message"
        RAW_COMPLETION = "raw_completion", "(b) raw /v1/completions with the chat template"
        LOCAL_PREFIX = "local_prefix", "(c) local model from the raw prefix"
        USER_TURN = "user_turn", "(d) hint as a new user turn"

    class ChatTemplate(models.TextChoices):
        SERVER = "", "by the model's name (R1, QwQ, Qwen3, Llama-3; else ChatML)"
        CHATML = chat_templates.CHATML, "ChatML (QwQ, Qwen2.5)"
        DEEPSEEK_R1 = chat_templates.DEEPSEEK_R1, "DeepSeek-R1 / R1-Distill (Qwen, Llama)"
        QWEN3 = chat_templates.QWEN3, "Qwen3 (thinking)"
        LLAMA3 = chat_templates.LLAMA3, "Llama-3.1"
        TOKENIZER = chat_templates.TOKENIZER, "from a local tokenizer directory"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_configs")
    name = models.CharField(max_length=200)
    provider = models.CharField(max_length=16, choices=Provider.choices, default=Provider.OPENAI)
    base_url = models.CharField(max_length=500, blank=True)
    model = models.CharField(max_length=300, help_text="Model name or local directory.")
    api_key_env = models.CharField(
        max_length=100,
        blank=True,
        validators=[env_name_validator],
        help_text="Name of the environment variable (on the workers) that holds the API key.",
    )
    system_prompt = models.TextField(blank=True)
    temperature = models.FloatField(
        default=0.6, validators=[MinValueValidator(0), MaxValueValidator(5)]
    )
    top_p = models.FloatField(default=0.95, validators=[MinValueValidator(0), MaxValueValidator(1)])
    max_tokens = models.PositiveIntegerField(default=4096, validators=[MinValueValidator(1)])
    seed = models.IntegerField(null=True, blank=True)
    logprobs = models.BooleanField(default=False)
    top_logprobs = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(20)])
    extra_body = models.JSONField(default=dict, blank=True)
    continuation_mode = models.CharField(
        max_length=20, choices=Continuation.choices, default=Continuation.RAW_COMPLETION
    )
    chat_template = models.CharField(
        max_length=20,
        choices=ChatTemplate.choices,
        default=ChatTemplate.SERVER,
        blank=True,
        help_text="The layout of continuation prompts (mode b), and which continuations "
        "mode (a) can serve: the model family's chat template.",
    )
    tokenizer_dir = models.CharField(
        max_length=500,
        blank=True,
        help_text="With 'from a local tokenizer directory': an absolute path on the workers "
        "(needs transformers there).",
    )
    stream = models.BooleanField(
        default=False,
        help_text="Ask for server-sent events (streaming-only servers); regenerations "
        "show their text as it arrives.",
    )
    reasoning_api = models.BooleanField(
        default=False,
        help_text="OpenAI reasoning model (o1/o3/o4…, on by itself for those names): "
        "sends max_completion_tokens and no temperature/top_p; the reasoning stays hidden.",
    )
    max_concurrency = models.PositiveIntegerField(
        default=8,
        validators=[MinValueValidator(1), MaxValueValidator(1024)],
        help_text="Requests in flight to this endpoint at most, across all workers.",
    )
    timeout_seconds = models.FloatField(
        default=600, validators=[MinValueValidator(0.1), MaxValueValidator(24 * 3600)]
    )
    max_retries = models.PositiveSmallIntegerField(
        default=5,
        validators=[MaxValueValidator(20)],
        help_text="Retries of 429 / 5xx / timeouts / resets, with exponential backoff.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.provider == self.Provider.OPENAI and not self.base_url:
            errors["base_url"] = "An OpenAI-compatible config needs a base URL."
        elif self.base_url and (problem := outbound.base_url_error(self.base_url)):
            errors["base_url"] = problem
        if problem := outbound.key_env_error(self.api_key_env):
            errors["api_key_env"] = problem
        if errors:
            raise ValidationError(errors)
        if self.provider == self.Provider.OPENAI and self.continuation_mode == (
            self.Continuation.LOCAL_PREFIX
        ):
            raise ValidationError(
                {"continuation_mode": "Mode (c) needs a local model; pick (a), (b) or (d)."}
            )
        if self.chat_template == self.ChatTemplate.TOKENIZER and not (
            self.tokenizer_dir.startswith("/")
        ):
            raise ValidationError(
                {"tokenizer_dir": "Give the absolute path of the tokenizer directory."}
            )
        template = chat_templates.effective_template(self.chat_template, self.model)
        if (
            self.provider == self.Provider.OPENAI
            and self.continuation_mode == self.Continuation.CHAT_PREFILL
            and template in chat_templates.PREFILL_BREAKS
        ):
            raise ValidationError(
                {
                    "continuation_mode": chat_templates.PREFILL_BREAKS[template]
                    + " Use (b) raw /v1/completions with this template."
                }
            )

    @property
    def api_key_configured(self) -> bool:
        """Whether the named variable is allowed and set in *this* process (never
        its value): a name outside the allowlist says nothing about the environment."""
        try:
            return outbound.api_key_read(self.api_key_env) is not None
        except outbound.OutboundRefused:
            return False
