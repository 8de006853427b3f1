"""The project list counts each project's prompts and traces without multiplying joins."""

from __future__ import annotations

from django.urls import reverse

from reflectlab.projects.selectors import projects_for_user
from tests.factories import MembershipFactory, ProjectFactory, PromptFactory, TraceFactory


def test_the_list_counts_prompts_and_traces_per_project(user, project):
    prompts = [PromptFactory(project=project) for _ in range(3)]
    for prompt in prompts[:2]:
        TraceFactory.create_batch(2, project=project, prompt=prompt)
    empty = ProjectFactory()
    MembershipFactory(project=empty, user=user, role="annotator")
    other = ProjectFactory()  # not the user's: not listed, not counted
    TraceFactory(project=other)
    rows = {p.pk: (p.n_prompts, p.n_traces) for p in projects_for_user(user=user)}
    assert rows == {project.pk: (3, 4), empty.pk: (0, 0)}


def test_the_counts_are_subqueries_not_a_join_of_prompts_and_traces(user, project):
    sql = str(projects_for_user(user=user).query)
    # Before: one query joined memberships, prompts and traces and counted DISTINCT.
    assert "COUNT(DISTINCT" not in sql.upper()


def test_the_list_page_shows_them(client, user, project):
    TraceFactory(project=project)
    client.force_login(user)
    html = client.get(reverse("projects:list")).content.decode()
    assert '<td class="num">1</td><td class="num">1</td>' in html
