"""The queue page's counters stay cheap at a million items (issue 16): exact up to a
cap, the planner's estimate above it on PostgreSQL, and said so on the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from reflectlab.review import selectors
from reflectlab.review.models import Claim, QueueItem
from reflectlab.review.queue import queue_sync


@pytest.fixture
def queued(project, traces):
    made = traces(6)
    queue_sync(project=project, full=True)
    QueueItem.objects.filter(trace=made[0]).update(in_queue=False)
    QueueItem.objects.filter(trace=made[1]).update(is_open=False)
    return made


def test_counts_are_exact_below_the_cap(project, queued):
    status = selectors.queue_status(project=project)
    assert (status["in_queue"], status["open"], status["excluded"]) == (5, 4, 1)
    assert status["approximate"] == []
    items = QueueItem.objects.filter(project=project)
    assert selectors.bounded_count(items, column="rank", cap=6) == (6, False)


def test_above_the_cap_the_count_is_an_estimate_never_below_the_cap(project, queued):
    items = QueueItem.objects.filter(project=project)
    n, approximate = selectors.bounded_count(items, column="rank", cap=2)
    if connection.vendor == "postgresql":
        assert approximate is True and n >= 3
    else:  # SQLite installs are small: they count exactly
        assert (n, approximate) == (6, False)


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL only")
def test_the_page_marks_estimated_counts(client, user, project, queued, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    status = selectors.queue_status(project=project)
    assert set(status["approximate"]) == {"in_queue", "open"}
    client.force_login(user)
    html = client.get(reverse("review:queue", args=[project.pk])).content.decode()
    assert "<b>≈ " in html


def test_complete_counts_traces_with_overlap_done_claims(project, queued, member):
    project.overlap = 2
    project.save(update_fields=["overlap"])
    later = timezone.now() + timedelta(minutes=5)
    alice, bob = member(), member()
    for trace, users in [
        (queued[2], [alice, bob]),
        (queued[3], [alice]),
        (queued[4], [alice, bob]),
    ]:
        for i, who in enumerate(users):
            Claim.objects.create(
                project=project, trace=trace, user=who, slot=i, expires_at=later,
                state=Claim.State.DONE,
            )  # fmt: skip
    assert selectors.queue_status(project=project)["complete"] == 2
