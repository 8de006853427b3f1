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
