from __future__ import annotations

from django.conf import settings
from django.db import models

from reflectlab.projects.models import Project
from reflectlab.prompts.models import Prompt
from reflectlab.providers.models import ModelConfig


class Run(models.Model):
    """Sampling ``samples_per_prompt`` traces for each of a set of prompts."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="runs")
    model_config = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="runs")
    prompts = models.ManyToManyField(Prompt, related_name="runs", blank=True)
    samples_per_prompt = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    items_total = models.PositiveIntegerField(default=0)
    items_done = models.PositiveIntegerField(default=0)
    items_failed = models.PositiveIntegerField(default=0)
    tokens_prompt = models.BigIntegerField(default=0)
    tokens_completion = models.BigIntegerField(default=0)
    latency_total_ms = models.BigIntegerField(default=0)
    error_summary = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.model_config}"

    @property
    def is_terminal(self) -> bool:
        return self.state in {self.State.SUCCEEDED, self.State.FAILED, self.State.CANCELLED}
