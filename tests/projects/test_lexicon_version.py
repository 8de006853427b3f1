"""A project lexicon's ``version`` must fit the stored analyser version.

Analyses store ``"1+lex5.<project version>"`` in ``Trace.analyzer_version``
(32 characters). A longer project version used to be accepted and then failed
every analysed trace's save on PostgreSQL (value too long for the column;
SQLite does not check the length); the API and the admin form refuse it now.
"""

from __future__ import annotations

import pytest

from reflectlab import analysis
from reflectlab.projects.admin import ProjectAdminForm
from reflectlab.projects.models import Project
from reflectlab.projects.validators import version_room
from reflectlab.traces.models import Trace
from reflectlab.traces.services import current_version, traces_reanalyze
from tests.factories import TraceFactory


def test_the_room_counts_the_default_lexicon_prefix():
    prefix = f"{analysis.ANALYZER_VERSION}+lex{analysis.Lexicon.default().version}."
    assert version_room() == analysis.VERSION_MAX_LENGTH - len(prefix)
    field = Trace._meta.get_field("analyzer_version")
    assert field.max_length == analysis.VERSION_MAX_LENGTH


def test_a_version_too_long_for_the_column_is_a_400(api, user):
    version = "v" * (version_room() + 1)
    response = api.post(
        "/api/v1/projects/", {"name": "P", "lexicon": {"version": version}}, format="json"
    )
    assert response.status_code == 400, response.content
    message = " ".join(response.json()["error"]["fields"]["lexicon"])
    assert f"at most {version_room()} characters" in message
    assert not Project.objects.filter(name="P").exists()


def test_patching_a_too_long_version_keeps_the_old_lexicon(api, project):
    Project.objects.filter(pk=project.pk).update(lexicon={"version": "acme-1"})
    response = api.patch(
        f"/api/v1/projects/{project.pk}/",
        {"lexicon": {"version": "x" * 40, "weak_start": ["but"]}},
        format="json",
    )
    assert response.status_code == 400, response.content
    project.refresh_from_db()
    assert project.lexicon == {"version": "acme-1"}


@pytest.mark.parametrize("version", [7, "", "  ", ["a"]])
def test_a_version_that_is_not_a_non_empty_string_is_a_400(api, project, version):
    response = api.patch(
        f"/api/v1/projects/{project.pk}/", {"lexicon": {"version": version}}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "version" in " ".join(response.json()["error"]["fields"]["lexicon"])


def test_the_longest_allowed_version_is_stored_by_every_analysed_trace(api, project):
    version = "v" * version_room()
    response = api.patch(
        f"/api/v1/projects/{project.pk}/", {"lexicon": {"version": version}}, format="json"
    )
    assert response.status_code == 200, response.content
    project.refresh_from_db()
    trace = TraceFactory(project=project)
    assert traces_reanalyze(project=project, force=True) == 1
    trace.refresh_from_db()
    assert trace.analyzer_version == current_version(project)
    assert len(trace.analyzer_version) == analysis.VERSION_MAX_LENGTH


def test_the_admin_form_refuses_a_too_long_version(project):
    data = {
        "name": project.name,
        "description": "",
        "guidelines": "",
        "principles": "[]",
        "error_categories": "[]",
        "overlap": 1,
        "queue_policy": "{}",
        "lexicon": '{"version": "%s"}' % ("v" * (version_room() + 1)),
    }
    form = ProjectAdminForm(data=data, instance=project)
    assert not form.is_valid()
    assert "at most" in " ".join(form.errors["lexicon"])
    data["lexicon"] = '{"version": "acme-2"}'
    assert ProjectAdminForm(data=data, instance=project).is_valid()
