"""Pre-aggregated rollups of the reflection charts (issue 16).

One row per (project, UTC day, model, run, group) holds the sums the charts
need, so a dashboard over a million traces reads a few thousand rows. The
database keeps them exact (``rollup_sql``: triggers append signed deltas on
every write, ``rollups.compact`` folds them); project and run are plain
integers, not foreign keys, because the triggers write deltas while a cascade
is deleting those rows.
"""

from __future__ import annotations

from django.db import models


class Rollup(models.Model):
    project_id = models.BigIntegerField()
    day = models.DateField(help_text="UTC day of the traces' created_at.")
    model_name = models.CharField(max_length=300)
    run_id = models.BigIntegerField(null=True)
    # False for a delta appended by a trigger, True once ``rollups.compact`` folded it.
    compacted = models.BooleanField(default=False)
    traces = models.BigIntegerField(default=0)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.project_id}/{self.day}/{self.model_name}"


class ReflectionRollup(Rollup):
    """Sums per number of reflection steps: feeds ``selectors.by_reflection_count``."""

    n_reflection_steps = models.IntegerField()
    graded = models.BigIntegerField(default=0)
    correct = models.BigIntegerField(default=0)
    corrective = models.BigIntegerField(default=0)
    truncated = models.BigIntegerField(default=0)
    truncated_no_answer = models.BigIntegerField(default=0)
    truncated_reached = models.BigIntegerField(default=0)
    reflection_share = models.FloatField(default=0)
    thinking_chars = models.BigIntegerField(default=0)
    n_confirmatory_tt = models.BigIntegerField(default=0)
    n_confirmatory_ff = models.BigIntegerField(default=0)
    n_confirmatory_ft = models.BigIntegerField(default=0)
    n_confirmatory_tf = models.BigIntegerField(default=0)
    n_confirmatory_ungraded = models.BigIntegerField(default=0)
    n_corrective_tt = models.BigIntegerField(default=0)
    n_corrective_ff = models.BigIntegerField(default=0)
    n_corrective_ft = models.BigIntegerField(default=0)
    n_corrective_tf = models.BigIntegerField(default=0)
    n_corrective_ungraded = models.BigIntegerField(default=0)
    n_pre_answer = models.BigIntegerField(default=0)
    n_trailing = models.BigIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["project_id", "compacted", "day"], name="reflection_rollup_day"),
        ]


class ShareRollup(Rollup):
    """Traces per (reflection-share bin, first-answer bin): ``selectors.by_share_and_position``."""

    share_bin = models.IntegerField()
    position_bin = models.IntegerField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["project_id", "compacted", "day"], name="share_rollup_day"),
        ]


class ProjectRollup(models.Model):
    """Counts over *every* trace of a project (any state, branches too), for the
    project page and list (``rollups.project_totals``); one row per project once
    compacted, plus the deltas the triggers appended since."""

    project_id = models.BigIntegerField()
    compacted = models.BooleanField(default=False)
    traces = models.BigIntegerField(default=0)
    reflective = models.BigIntegerField(default=0)
    correct = models.BigIntegerField(default=0)
    wrong = models.BigIntegerField(default=0)
    truncated = models.BigIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["project_id", "compacted"], name="project_rollup_project"),
        ]

    def __str__(self) -> str:
        return f"ProjectRollup {self.project_id}: {self.traces}"
