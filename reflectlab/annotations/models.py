from __future__ import annotations

from django.conf import settings
from django.db import models

from reflectlab.projects.models import Project
from reflectlab.traces.models import Trace


class Annotation(models.Model):
    """One annotator's judgement of one trace.

    ``step_labels`` maps a step index (as a string) to +1 / 0 / -1 with the
    PRM800K meanings: good / okay but no progress / bad. Saves carry
    ``version``; a save with a stale version is refused (optimistic concurrency).
    """

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    # The author may still change it: a draft, or work a reviewer sent back.
    REOPENABLE = (State.DRAFT, State.REJECTED)

    class ExitReason(models.TextChoices):
        """Why an annotator left a trace unlabelled: an honest skip, never exported as data."""

        NONE = "", "—"
        BAD_PROBLEM = "bad_problem", "Bad problem"
        AMBIGUOUS_REFERENCE = "ambiguous_reference", "Ambiguous reference answer"
        GIVE_UP = "give_up", "Give up"

    class Quality(models.TextChoices):
        """DeltaBench's judgement of one reflection episode."""

        EFFECTIVE = "effective", "Effective"
        INEFFECTIVE = "ineffective", "Ineffective (redundant)"
        HARMFUL = "harmful", "Harmful"

    class Verdict(models.TextChoices):
        NONE = "", "No verdict"
        CORRECT = "correct", "Correct"
        INCORRECT = "incorrect", "Incorrect"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotations"
    )
    step_labels = models.JSONField(default=dict, blank=True)
    first_error_step = models.IntegerField(
        null=True, blank=True, help_text="0-based step index; -1 means no error."
    )
    error_category = models.CharField(max_length=100, blank=True)
    hint = models.TextField(blank=True)
    hint_step = models.PositiveIntegerField(null=True, blank=True)
    branch = models.ForeignKey(
        Trace, null=True, blank=True, on_delete=models.SET_NULL, related_name="hint_annotations"
    )
    critique = models.TextField(blank=True)
    verdict = models.CharField(max_length=16, choices=Verdict.choices, blank=True)
    violated_principles = models.JSONField(default=list, blank=True)
    # PRM800K / Step-DPO: why each -1 step is bad, and a human rewrite of the first one.
    step_reasons = models.JSONField(default=dict, blank=True)
    replacement_step = models.TextField(blank=True)
    replacement_alternatives = models.JSONField(
        default=list, blank=True, help_text="More rewrites of the first wrong step, best first."
    )
    flawed_process = models.BooleanField(
        default=False, help_text="Right final answer reached through a flawed process."
    )
    exit_reason = models.CharField(max_length=32, choices=ExitReason.choices, blank=True)
    # DeltaBench: {episode index: {"quality": effective|ineffective|harmful, "strategy_shift": bool}}
    reflection_quality = models.JSONField(default=dict, blank=True)
    time_spent_seconds = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["trace", "annotator"], name="annotation_unique_annotator"
            )
        ]
        indexes = [models.Index(fields=["project", "state"])]

    def __str__(self) -> str:
        return f"Annotation {self.pk} of trace {self.trace_id} by {self.annotator_id}"

    @property
    def has_no_error(self) -> bool:
        return self.first_error_step == -1


class StepEdit(models.Model):
    """Splits and merges of one trace's analysed steps, shared by all its annotators.

    Per trace, not per annotation, so every annotator labels the same steps
    (agreement stays comparable); ``author`` is who edited last. The stored
    analysis is never rewritten (``reflectlab.traces.overlay`` lays this over
    it). Offsets index ``Trace.step_text``.
    """

    trace = models.OneToOneField(Trace, on_delete=models.CASCADE, related_name="step_edit")
    splits = models.JSONField(default=list, blank=True)
    merges = models.JSONField(default=list, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Step edits of trace {self.trace_id}"
