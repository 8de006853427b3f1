from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from reflectlab.annotations.models import Annotation
from reflectlab.projects.models import Membership, Role
from reflectlab.traces.models import Trace

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def trace_branches(*, trace: Trace) -> QuerySet[Trace]:
    """Regenerated branches of ``trace``, oldest first."""
    return Trace.objects.filter(parent=trace).order_by("id")


def annotations_visible_to(*, user: AbstractBaseUser) -> QuerySet[Annotation]:
    """Annotators see their own annotations; reviewers and managers all of their projects'."""
    member_of = Membership.objects.filter(user_id=user.pk).values("project_id")
    reviewing = Membership.objects.filter(
        user_id=user.pk, role__in=[Role.REVIEWER, Role.MANAGER]
    ).values("project_id")
    return Annotation.objects.filter(
        Q(project_id__in=reviewing) | Q(annotator_id=user.pk, project_id__in=member_of)
    ).order_by("id")


def returned_work(*, project_id: int, user: AbstractBaseUser) -> Annotation | None:
    """The user's oldest annotation in the project that a reviewer sent back.

    Revising comes before new work: the queue hands it back first.
    """
    return (
        Annotation.objects.filter(
            project_id=project_id, annotator_id=user.pk, state=Annotation.State.REJECTED
        )
        .order_by("updated_at", "id")
        .first()
    )


def annotation_rejection(*, annotation: Annotation | None) -> dict | None:
    """Who sent ``annotation`` back, when and why — while it is rejected or being revised."""
    if annotation is None or annotation.state not in Annotation.REOPENABLE:
        return None
    review = (
        annotation.reviews.filter(decision="reject")
        .select_related("reviewer")
        .order_by("-created_at", "-id")
        .first()
    )
    if review is None:
        return None
    return {
        "reviewer": review.reviewer.get_username(),
        "at": review.created_at,
        "comment": review.comment,
        "pending": annotation.state == Annotation.State.REJECTED,
    }
