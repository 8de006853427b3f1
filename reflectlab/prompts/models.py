from __future__ import annotations

from django.conf import settings
from django.db import models

from reflectlab.core.jobs import LeasedJob
from reflectlab.core.storage import uploads_storage
from reflectlab.projects.models import Project


class Prompt(models.Model):
    """A problem put to models. ``external_id`` makes re-imports idempotent."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prompts")
    external_id = models.CharField(max_length=255)
    text = models.TextField(blank=True)
    messages = models.JSONField(null=True, blank=True, help_text="Chat messages, if any.")
    reference_answer = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # The import that created it: a failed all-or-nothing trace import deletes
    # the prompts it created and no trace uses.
    import_job = models.ForeignKey(
        "ImportJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "external_id"], name="prompt_unique_external_id"
            )
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return self.external_id

    def chat_messages(self) -> list[dict]:
        """The prompt as chat messages (a plain text prompt is one user turn)."""
        if self.messages:
            return list(self.messages)
        return [{"role": "user", "content": self.text}]

    @property
    def display_text(self) -> str:
        if self.text:
            return self.text
        users = [m.get("content", "") for m in self.messages or [] if m.get("role") == "user"]
        return users[-1] if users else ""


class ImportJob(LeasedJob):
    """One uploaded file of prompts or traces, validated and imported on a worker."""

    class Kind(models.TextChoices):
        PROMPTS = "prompts", "Prompts"
        TRACES = "traces", "Traces"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="import_jobs")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The ``uploads`` storage: a local folder, or S3 shared by web and workers.
    file = models.FileField(upload_to="imports/%Y/%m/", storage=uploads_storage)
    original_name = models.CharField(max_length=255, blank=True)
    file_format = models.CharField(max_length=8, default="jsonl")
    mapping = models.JSONField(default=dict, blank=True)
    allow_partial = models.BooleanField(
        default=False, help_text="Write the good lines even when some lines are bad."
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    bytes_total = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    rows_written = models.PositiveIntegerField(default=0)
    rows_skipped = models.PositiveIntegerField(default=0, help_text="Already imported.")
    rows_rejected = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} import {self.pk} ({self.state})"

    @property
    def is_terminal(self) -> bool:
        return self.state in {self.State.SUCCEEDED, self.State.FAILED}

    @property
    def percent(self) -> int:
        if self.is_terminal:
            return 100
        return int(100 * self.bytes_done / self.bytes_total) if self.bytes_total else 0


class ImportChunk(LeasedJob):
    """One range of lines of a trace import, written by one worker (``prompts.chunks``).

    ``byte_lo``/``byte_hi`` cut the stored upload at line starts; line numbers
    are the file's. ``skip_lines`` are lines of the range not to write
    (repeats of an earlier line, ids used with other content).
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        STOPPED = "stopped", "Stopped"  # another chunk failed

    TERMINAL = (State.DONE, State.FAILED, State.STOPPED)

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    line_lo = models.PositiveIntegerField()
    line_hi = models.PositiveIntegerField(help_text="First line after the range.")
    byte_lo = models.BigIntegerField()
    byte_hi = models.BigIntegerField()
    skip_lines = models.JSONField(default=list, blank=True)
    rows_valid = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0, help_text="Refused by the database.")
    errors = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True)
    bytes_done = models.BigIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="import_chunk_unique_index")
        ]

    def __str__(self) -> str:
        return f"chunk {self.index} of import {self.job_id} ({self.state})"
