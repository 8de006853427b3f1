from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.db import connection, models

from reflectlab.core.jobs import LeasedJob
from reflectlab.core.storage import exports_storage, storage_local_path
from reflectlab.projects.models import Project

# An export is built in REFLECTLAB_WORK_DIR/<WORK_PREFIX><id>-<random>/ on the
# worker, then put into storage; recovery removes the folders of dead workers.
WORK_PREFIX = "export-"


def _database_folder() -> str:
    """One folder per database, so a test database never touches the files of
    the development one (export ids restart in each)."""
    name = Path(str(connection.settings_dict["NAME"])).stem
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


class Export(LeasedJob):
    """One trainer-ready dataset export (DESIGN §8): immutable once finished.

    The file lives in the ``exports`` storage at ``key`` (a local folder or an
    S3 bucket, see ``reflectlab.core.storage``); its bytes depend only on
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
    notes = models.JSONField(
        default=list,
        blank=True,
        help_text="Warnings, and why a kind wrote no row (e.g. 0 branches graded right).",
    )
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
    def storage_prefix(self) -> str:
        return f"{_database_folder()}/{self.pk}"

    @property
    def key(self) -> str | None:
        """The file's name in the ``exports`` storage."""
        return f"{self.storage_prefix}/{self.file_name}" if self.file_name else None

    @property
    def directory(self) -> Path | None:
        """The export's local folder when the storage is a folder (tests, ``manage.py``)."""
        return storage_local_path(storage=exports_storage(), key=self.storage_prefix)

    @property
    def path(self) -> Path | None:
        key = self.key
        return storage_local_path(storage=exports_storage(), key=key) if key else None

    @property
    def is_empty(self) -> bool:
        return self.state == self.State.SUCCEEDED and self.rows_written == 0

    @property
    def rows_written(self) -> int:
        return sum(sum(splits.values()) for splits in (self.counts or {}).values())
