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
