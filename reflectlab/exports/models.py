from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.db import models

from reflectlab.projects.models import Project


def exports_root() -> Path:
    """Private storage for export files: never under a public media URL.

    One folder per database, so a test database never touches the files of
    the development one (export ids restart in each).
    """
    from django.db import connection

    base = Path(settings.REFLECTLAB_EXPORTS_DIR)
    name = Path(str(connection.settings_dict["NAME"])).stem
    root = base / re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    root.mkdir(parents=True, exist_ok=True)
    return root


class Export(models.Model):
    """One trainer-ready dataset export (DESIGN §8): immutable once finished.

    The file lives under ``exports_root()/<id>/``; its bytes depend only on
    the data, the kind, the format, the filters and the options — never on
    the clock — so re-exporting the same snapshot gives the same sha256.
    """

    class Kind(models.TextChoices):
        SFT_CORRECTED = "sft_corrected", "SFT on hint-corrected trajectories"
        PREFERENCE = "preference", "Preference pairs (DPO)"
        UNPAIRED = "unpaired", "Unpaired labels (KTO)"
        STEPWISE = "stepwise", "Step labels (PRM / ProcessBench)"
        STEP_PREFERENCE = "step_preference", "Step-level preference pairs (Step-DPO)"
        CRITIQUE = "critique", "Critiques (SFT and RL)"
        CANONICAL = "canonical", "Canonical (lossless JSON)"
        ALL = "all", "Everything (bundle only)"

    class Format(models.TextChoices):
        JSONL = "jsonl", "JSONL"
        PARQUET = "parquet", "Parquet"
        OPENAI = "openai", "OpenAI fine-tuning JSONL (SFT / DPO)"
        BUNDLE = "bundle", "Bundle (zip: Parquet + JSONL + dataset card)"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    TERMINAL = (State.SUCCEEDED, State.FAILED, State.CANCELLED)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exports")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    format = models.CharField(max_length=10, choices=Format.choices, default=Format.JSONL)
    filters = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    rows_total = models.PositiveIntegerField(default=0, help_text="Source records to read.")
    rows_done = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True, help_text="Rows per config and split.")
    files = models.JSONField(default=list, blank=True, help_text="Files with bytes and sha256.")
    file_name = models.CharField(max_length=200, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["project", "state"])]

    def __str__(self) -> str:
        return f"{self.kind} export {self.pk} ({self.state})"

    @property
    def is_terminal(self) -> bool:
        return self.state in self.TERMINAL

    @property
    def is_downloadable(self) -> bool:
        return self.state == self.State.SUCCEEDED and bool(self.file_name)

    @property
    def percent(self) -> int:
        if self.is_terminal:
            return 100
        return min(99, int(100 * self.rows_done / self.rows_total)) if self.rows_total else 0

    @property
    def directory(self) -> Path:
        return exports_root() / str(self.pk)

    @property
    def path(self) -> Path | None:
        return self.directory / self.file_name if self.file_name else None

    @property
    def rows_written(self) -> int:
        return sum(sum(splits.values()) for splits in (self.counts or {}).values())
