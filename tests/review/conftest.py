from __future__ import annotations

import pytest
from django.utils import timezone

from reflectlab.annotations.models import Annotation
from reflectlab.projects.models import Role
from tests.factories import MembershipFactory, TraceFactory, UserFactory


@pytest.fixture
def member(project):
    def make(role: str = Role.ANNOTATOR, **kwargs):
        user = UserFactory(**kwargs)
        MembershipFactory(project=project, user=user, role=role)
        return user

    return make


@pytest.fixture
def traces(project):
    def make(n: int, **kwargs):
        return [TraceFactory(project=project, **kwargs) for _ in range(n)]

    return make


def submit(trace, user, *, state=Annotation.State.SUBMITTED, **fields) -> Annotation:
    """An annotation as the workspace would leave it after "submit"."""
    fields.setdefault("first_error_step", 1)
    return Annotation.objects.create(
        project=trace.project,
        trace=trace,
        annotator=user,
        state=state,
        submitted_at=timezone.now(),
        **fields,
    )
