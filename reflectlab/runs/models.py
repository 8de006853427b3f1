from __future__ import annotations

from django.conf import settings
from django.db import models

from reflectlab.projects.models import Project
from reflectlab.prompts.models import Prompt
from reflectlab.providers.models import ModelConfig


class RunBase(models.Model):
    """What a run and a judge run share: a job of model calls, counted item by item.

    The state machine (queued → running → succeeded / failed / cancelled), the
    counters the executor adds to in its batched writes (``execution``), the
    timestamps and the progress a page shows. Subclasses add what the work is
    over (prompts x samples, traces x samples) and the config it calls.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

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
        abstract = True
        ordering = ["-id"]

    @property
    def is_terminal(self) -> bool:
        return self.state in {self.State.SUCCEEDED, self.State.FAILED, self.State.CANCELLED}

    @property
    def items_finished(self) -> int:
        return self.items_done + self.items_failed

    @property
    def percent(self) -> int:
        if not self.items_total:
            return 100 if self.is_terminal else 0
        return min(100, int(100 * self.items_finished / self.items_total))


class Run(RunBase):
    """Sampling ``samples_per_prompt`` traces for each of a set of prompts."""

    class Mode(models.TextChoices):
        LIVE = "live", "Live (workers call the model)"
        BATCH = "batch", "Batch (OpenAI Batch JSONL out, results file in)"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="runs")
    model_config = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="runs")
    prompts = models.ManyToManyField(Prompt, related_name="runs", blank=True)
    samples_per_prompt = models.PositiveSmallIntegerField(default=1)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.LIVE)
    batch_id = models.CharField(max_length=200, blank=True, help_text="The server's batch id.")
    batch_status = models.CharField(max_length=32, blank=True)

    class Meta(RunBase.Meta):
        pass

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.model_config}"


class RunItemBase(models.Model):
    """One unit of a ``RunBase`` job that a worker claims, retries and records.

    ``holder``/``lease_until`` is the claim of the worker thread working on it;
    a worker that dies leaves a claim that expires (or whose process is seen
    dead), and the item is taken again. Subclasses add ``run`` (their job) and
    what the unit is over.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    sample_index = models.PositiveIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    holder = models.CharField(max_length=120, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["id"]


class RunItem(RunItemBase):
    """One (prompt, sample) of a run. The Trace's unique (run, prompt,
    sample_index) makes a retake after a dead worker unable to write a second
    trace."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="items")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="+")
    trace = models.ForeignKey(
        "traces.Trace", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(RunItemBase.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["run", "prompt", "sample_index"], name="runitem_unique_sample"
            )
        ]
        indexes = [models.Index(fields=["run", "state"])]

    def __str__(self) -> str:
        return f"Run {self.run_id} prompt {self.prompt_id} sample {self.sample_index}"


class EndpointSlot(models.Model):
    """A counting semaphore per model endpoint, shared by every worker through the
    database (so it works on SQLite with the filesystem broker as on PostgreSQL).

    A slot is held by one worker thread until released or until its lease
    expires; holders renew their leases while alive, so a SIGKILLed worker's
    slots free themselves.
    """

    endpoint = models.CharField(max_length=300)
    index = models.PositiveIntegerField()
    holder = models.CharField(max_length=120, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "index"], name="endpointslot_unique")
        ]

    def __str__(self) -> str:
        return f"{self.endpoint}#{self.index}"
