"""A project keeps at least one manager, also when two managers demote each other at once."""

from __future__ import annotations

import contextlib
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from reflectlab.projects import services
from reflectlab.projects.models import Membership, Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory


@pytest.mark.django_db
def test_the_last_manager_can_be_neither_demoted_nor_removed():
    project = ProjectFactory()
    only = MembershipFactory(project=project, user=UserFactory(), role=Role.MANAGER)
    with pytest.raises(ValidationError):
        services.membership_set(project=project, username=only.user.username, role=Role.REVIEWER)
    with pytest.raises(ValidationError):
        services.membership_remove(project=project, membership_id=only.pk)
    assert Membership.objects.get(pk=only.pk).role == Role.MANAGER


@pytest.mark.parametrize("change", ["demote", "remove"])
def test_two_managers_demoting_each_other_at_once_leave_one_manager(
    transactional_db, monkeypatch, change
):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite's IMMEDIATE transactions serialise the writers")
    project = ProjectFactory()
    a, b = (MembershipFactory(project=project, role=Role.MANAGER) for _ in range(2))
    # Hold each change between its check and its write until the other has
    # checked too: without a lock both count two managers and both go ahead.
    # With the lock the second waits for the first, so the rendezvous times out.
    barrier = threading.Barrier(2, timeout=3)
    check = services._refuse_last_manager

    def check_then_wait(*args, **kwargs):
        check(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()

    monkeypatch.setattr(services, "_refuse_last_manager", check_then_wait)
    outcomes: list[str] = []

    def work(membership):
        try:
            if change == "demote":
                services.membership_set(
                    project=project, username=membership.user.username, role=Role.ANNOTATOR
                )
            else:
                services.membership_remove(project=project, membership_id=membership.pk)
            outcomes.append("changed")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(m,)) for m in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["changed", "refused"]
    assert Membership.objects.filter(project=project, role=Role.MANAGER).count() == 1
