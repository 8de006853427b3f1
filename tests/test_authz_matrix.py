"""Every URL, as anonymous, as a member of another project, and as each role.

A URL pattern that no ``tests/authz`` module declares fails the walk: new
features must say who may use them.
"""

from __future__ import annotations

from functools import cached_property

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from reflectlab.projects.models import Role
from reflectlab.prompts.models import ImportJob
from tests.authz import LOGIN, PUBLIC, Rule, all_rules
from tests.authz.runs import run_data
from tests.factories import MembershipFactory, ProjectFactory, TraceFactory, UserFactory

RULES = all_rules()
ACTORS = ["anonymous", "outsider", "annotator", "reviewer", "manager"]
SKIPPED_NAMESPACES = {"admin"}  # Django's admin checks is_staff itself


def url_names(patterns=None, prefix="") -> list[str]:
    names = []
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in SKIPPED_NAMESPACES:
                continue
            ns = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            names += url_names(entry.url_patterns, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            names.append(prefix + entry.name)
    # DRF's format-suffix duplicates share their name; keep each once.
    return sorted(set(names))


class World:
    """A project with one user per role, an outsider, and objects to point at."""

    def __init__(self):
        self.project = ProjectFactory()
        self.users = {}
        for role in Role.values:
            self.users[role] = UserFactory(username=f"the-{role}")
            MembershipFactory(project=self.project, user=self.users[role], role=role)
        other = ProjectFactory()
        self.users["outsider"] = UserFactory(username="outsider")
        MembershipFactory(project=other, user=self.users["outsider"], role=Role.MANAGER)

    @cached_property
    def trace(self):
        return TraceFactory(project=self.project)

    @cached_property
    def spare_membership(self):
        return MembershipFactory(project=self.project, role=Role.ANNOTATOR)

    @cached_property
    def import_job(self):
        return ImportJob.objects.create(
            project=self.project,
            kind="prompts",
            file=SimpleUploadedFile("x.jsonl", b'{"prompt": "hi"}\n'),
        )


def test_every_url_is_declared_in_the_matrix():
    undeclared = [name for name in url_names() if name not in RULES]
    assert not undeclared, f"Declare these URLs in tests/authz/: {undeclared}"
    stale = [name for name in RULES if name not in url_names()]
    assert not stale, f"Rules for URLs that no longer exist: {stale}"


def expected(rule: Rule, actor: str) -> str:
    if rule.role == PUBLIC:
        return "allowed"
    if actor == "anonymous":
        return "login"
    if rule.role == LOGIN:
        return "allowed"
    if actor == "outsider":
        return "hidden"
    return "allowed" if Role.rank(actor) >= Role.rank(rule.role) else "forbidden"


CASES = [
    (name, method, actor)
    for name, rule in sorted(RULES.items())
    for method in rule.methods
    for actor in ACTORS
]


@pytest.mark.parametrize(("name", "method", "actor"), CASES)
def test_authorisation_matrix(db, name, method, actor):
    rule = RULES[name]
    world = World()
    world.actor = actor  # for rules on the caller's own objects (e.g. their annotation)
    client = APIClient()
    if actor != "anonymous":
        client.force_login(world.users[actor])
    url = reverse(name, kwargs=rule.kwargs(world))
    data = rule.data(world) if rule.data else {}
    response = getattr(client, method.lower())(url, data)
    outcome = expected(rule, actor)
    status = response.status_code
    if outcome == "login":
        if rule.api:
            assert status in {401, 403}, f"{method} {url} as anonymous gave {status}"
        else:
            assert status == 302 and "/accounts/login/" in response["Location"], (
                f"{method} {url} as anonymous gave {status}"
            )
    elif outcome == "hidden":
        assert status == 404, f"{method} {url} as outsider gave {status}"
    elif outcome == "forbidden":
        assert status == 403, f"{method} {url} as {actor} gave {status}"
    else:
        assert status not in {401, 403, 404}, f"{method} {url} as {actor} gave {status}"
        assert status < 500
        if status == 302 and rule.role != PUBLIC:
            assert "/accounts/login/" not in response["Location"]


# Ids that travel in the body rather than the URL: another project's object is
# just as unknown to an outsider (404), whatever role they hold elsewhere.
BODY_CASES = {
    "api-annotations": lambda w: {"trace": w.trace.pk},
    "api-runs": run_data,
    "api-model-configs": lambda w: {
        "project": w.project.pk,
        "name": "m",
        "base_url": "http://127.0.0.1:9/v1",
        "model": "m",
    },
}


@pytest.mark.parametrize("name", sorted(BODY_CASES))
def test_outsider_naming_another_projects_object_in_the_body_gets_404(db, name):
    world = World()
    world.actor = "outsider"
    client = APIClient()
    client.force_login(world.users["outsider"])
    response = client.post(reverse(name), BODY_CASES[name](world), format="json")
    assert response.status_code == 404, f"POST {name} as outsider gave {response.status_code}"
