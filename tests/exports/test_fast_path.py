"""The PostgreSQL read-ahead path writes the same bytes as Django's generic iterator."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from reflectlab.exports import selectors, services
from reflectlab.exports.build import export_build
from reflectlab.exports.models import Export
from tests.exports.factories import AnnotationFactory, corrected_annotation
from tests.factories import MembershipFactory, ProjectFactory, TraceFactory, UserFactory


def build(project, user, tmp_path, name, kind, fmt):
    export = services.export_create(
        project=project, user=user, kind=kind, format=fmt, enqueue=False
    )
    Export.objects.filter(pk=export.pk).update(state=Export.State.RUNNING)
    export = Export.objects.select_related("project").get(pk=export.pk)
    work = tmp_path / name
    work.mkdir()
    result = export_build(export=export, work=work)
    return result, (work / result["file_name"]).read_bytes()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("kind", "fmt"), [("preference", "jsonl"), ("all", "bundle")])
def test_streamed_rows_match_the_generic_iterator(tmp_path, settings, monkeypatch, kind, fmt):
    settings.REFLECTLAB_EXPORTS_DIR = tmp_path / "exports"
    user = UserFactory()
    project = ProjectFactory()
    MembershipFactory(project=project, user=user, role="manager")
    corrected_annotation(project)
    corrected_annotation(project, with_prefix=False)
    AnnotationFactory(
        trace=TraceFactory(project=project), project=project, first_error_step=-1, verdict="correct"
    )
    streamed = []
    real = selectors._pg_stream
    monkeypatch.setattr(
        selectors, "_pg_stream", lambda *a, **k: streamed.append(1) or real(*a, **k)
    )
    monkeypatch.setattr(selectors, "FETCH_ROWS", 1)  # several chunks through the queue

    fast, fast_bytes = build(project, user, tmp_path, "fast", kind, fmt)
    with transaction.atomic():  # a second connection could not see this: generic path
        generic, generic_bytes = build(project, user, tmp_path, "generic", kind, fmt)

    assert bool(streamed) == (connection.vendor == "postgresql")
    assert fast_bytes == generic_bytes
    assert fast["counts"] == generic["counts"] and fast["counts"]
    assert fast["sha256"] == generic["sha256"]
