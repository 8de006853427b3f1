"""Queues, claims, gold items and reviews.

Claiming is made atomic by the database, not by application locks (which do
nothing on SQLite, as Label Studio's experience shows): a claim *holds* one of
the trace's ``overlap`` slots, and partial unique indexes — supported by both
SQLite and PostgreSQL — refuse a second holder of a slot and a second claim of
the same trace by the same user. ``QueueItem`` is only an index for picking
candidates fast; correctness never depends on its counters.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from reflectlab.annotations.models import Annotation
from reflectlab.projects.models import Project
from reflectlab.traces.models import Trace

# Annotations whose author is done with them (they count for agreement and the queue).
DONE_STATES = (
    Annotation.State.SUBMITTED,
    Annotation.State.ACCEPTED,
    Annotation.State.REJECTED,
)


class QueueItem(models.Model):
    """A root trace's place in its project's annotation queue (one row per trace)."""

    # No index of its own: ``queueitem_pick`` starts with the project. A second,
    # project-only index lured the planner, misled by a new project's missing
    # statistics, into reading and sorting the whole queue on every claim.
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="queue_items", db_index=False
    )
    trace = models.OneToOneField(Trace, on_delete=models.CASCADE, related_name="queue_item")
    # 0 for pinned items so that an ascending sort puts them first.
    pin_order = models.PositiveSmallIntegerField(default=1)
    rank = models.BigIntegerField(default=0, help_text="Policy order; lower comes first.")
    in_queue = models.BooleanField(
        default=True, help_text="Served to annotators: passes the policy filters, or was added."
    )
    # A manager added it by hand (the trace list's bulk "add to queue"): it stays
    # in the queue whatever the policy's filters say, while it is a ready root.
    added = models.BooleanField(default=False)
    is_gold = models.BooleanField(default=False)
    # A hint for fast picking: the number of claims holding a slot. The claim
    # itself is guarded by the unique indexes on Claim.
    n_taken = models.PositiveIntegerField(default=0)
    is_open = models.BooleanField(default=True)
    pinned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pin_order", "rank", "trace_id"]
        indexes = [
            models.Index(
                fields=["project", "is_gold", "in_queue", "is_open", "pin_order", "rank", "trace"],
                name="queueitem_pick",
            ),
            # The queue page's pinned list (a handful of rows among a million).
            models.Index(
                fields=["project", "pinned_at", "trace"],
                condition=models.Q(pin_order=0),
                name="queueitem_pinned",
            ),
        ]

    def __str__(self) -> str:
        return f"Queue item for trace {self.trace_id}"

    @property
    def pinned(self) -> bool:
        return self.pin_order == 0


class Claim(models.Model):
    """A lease on a trace (to annotate) or on an annotation (to review)."""

    class Kind(models.TextChoices):
        ANNOTATE = "annotate", "Annotate"
        REVIEW = "review", "Review"

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        DONE = "done", "Done"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"

    HOLDING = (State.ACTIVE, State.DONE)

    # project, trace and user lead the composite indexes below, which serve
    # their lookups; single-column indexes would only tempt the planner into
    # scanning a whole project's or user's claims (see QueueItem.project).
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="claims", db_index=False
    )
    trace = models.ForeignKey(
        Trace, on_delete=models.CASCADE, related_name="claims", db_index=False
    )
    annotation = models.ForeignKey(
        Annotation, null=True, blank=True, on_delete=models.CASCADE, related_name="claims"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ANNOTATE)
    # 0..overlap-1 for queue work; NULL for gold items and for annotations made
    # outside the queue, which do not take a slot.
    slot = models.PositiveSmallIntegerField(null=True, blank=True)
    is_gold = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # No trace slot is held twice: at most `overlap` annotators per trace.
            models.UniqueConstraint(
                fields=["trace", "slot"],
                condition=Q(kind="annotate", state__in=["active", "done"], slot__isnull=False),
                name="claim_unique_annotate_slot",
            ),
            # Nobody holds the same trace twice.
            models.UniqueConstraint(
                fields=["trace", "user"],
                condition=Q(kind="annotate", state__in=["active", "done"]),
                name="claim_unique_annotate_user",
            ),
            # One reviewer at a time per annotation.
            models.UniqueConstraint(
                fields=["annotation"],
                condition=Q(kind="review", state="active"),
                name="claim_unique_active_review",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "state", "expires_at"], name="claim_expiry"),
            models.Index(fields=["user", "kind", "state"], name="claim_user_state"),
            # "has this user had this trace?" while picking candidates
            models.Index(fields=["trace", "user"], name="claim_trace_user"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} claim {self.pk} on trace {self.trace_id} by {self.user_id}"

    def is_live(self, now=None) -> bool:
        return self.state == self.State.ACTIVE and self.expires_at > (now or timezone.now())


class GoldItem(models.Model):
    """A quality-control trace with a known answer, mixed into the queue and scored."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="gold_items")
    trace = models.OneToOneField(Trace, on_delete=models.CASCADE, related_name="gold")
    expected_first_error_step = models.IntegerField(
        null=True, blank=True, help_text="0-based step index; -1 means no error; blank: not scored."
    )
    expected_verdict = models.CharField(
        max_length=16, choices=Annotation.Verdict.choices, blank=True
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Gold item {self.trace_id}"


class Review(models.Model):
    """A reviewer's decision on one submitted annotation.

    ``original`` is the annotation as submitted (kept whole, so an edit never
    loses the annotator's version); ``edits`` holds the fields the reviewer
    changed, with their new values.
    """

    class Decision(models.TextChoices):
        ACCEPT = "accept", "Accept"
        REJECT = "reject", "Reject"
        EDIT = "edit", "Edit and accept"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="reviews")
    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews"
    )
    decision = models.CharField(max_length=16, choices=Decision.choices)
    comment = models.TextField(blank=True)
    edits = models.JSONField(default=dict, blank=True)
    original = models.JSONField(default=dict)
    annotation_version = models.PositiveIntegerField()
    started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "created_at"])]

    def __str__(self) -> str:
        return f"{self.decision} of annotation {self.annotation_id}"
