from __future__ import annotations

from django.db import models

from reflectlab.projects.models import Project


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

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_configs")
    name = models.CharField(max_length=200)
    provider = models.CharField(max_length=16, choices=Provider.choices, default=Provider.OPENAI)
    base_url = models.CharField(max_length=500, blank=True)
    model = models.CharField(max_length=300, help_text="Model name or local directory.")
    api_key_env = models.CharField(
        max_length=100, blank=True, help_text="Name of the environment variable with the key."
    )
    system_prompt = models.TextField(blank=True)
    temperature = models.FloatField(default=0.6)
    top_p = models.FloatField(default=0.95)
    max_tokens = models.PositiveIntegerField(default=4096)
    seed = models.IntegerField(null=True, blank=True)
    logprobs = models.BooleanField(default=False)
    top_logprobs = models.PositiveSmallIntegerField(default=0)
    extra_body = models.JSONField(default=dict, blank=True)
    continuation_mode = models.CharField(
        max_length=20, choices=Continuation.choices, default=Continuation.RAW_COMPLETION
    )
    max_concurrency = models.PositiveIntegerField(default=8)
    timeout_seconds = models.FloatField(default=600)
    max_retries = models.PositiveSmallIntegerField(default=5)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name
