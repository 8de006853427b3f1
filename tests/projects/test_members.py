"""The member list (page and API) is paginated, by username."""

from __future__ import annotations

from django.urls import reverse

from reflectlab.projects.models import Membership
from tests.factories import MembershipFactory, UserFactory


def add_members(project, n):
    for i in range(n):
        MembershipFactory(project=project, user=UserFactory(username=f"m{i:03d}"), role="annotator")


def test_member_page_is_paginated_by_username(client, project, user):
    add_members(project, 50)  # + the manager ("user…") = 51
    client.force_login(user)
    url = reverse("projects:members", args=[project.pk])
    first = client.get(url).content.decode()
    second = client.get(url, {"page": 2}).content.decode()
    row = f"<td>{user.username}</td>"  # the page header names the logged-in user too
    assert "<td>m000</td>" in first and "<td>m049</td>" in first and row not in first
    assert row in second and "<td>m000</td>" not in second
    assert "Page 1 of 2" in first and "page=2" in first


def test_api_member_list_is_paginated(api, project, user):
    add_members(project, 2)
    url = reverse("api-members", args=[project.pk])
    first = api.get(url, {"page_size": 2}).json()
    assert first["count"] == 3
    assert [m["username"] for m in first["results"]] == ["m000", "m001"]
    second = api.get(first["next"]).json()
    assert [m["username"] for m in second["results"]] == [user.username]
    assert second["next"] is None
    assert Membership.objects.filter(project=project).count() == 3
