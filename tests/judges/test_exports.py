"""Judge labels in exports: separate meta_judge_* columns; the human ones untouched."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from reflectlab.exports import services
from reflectlab.judges.models import Suggestion
from tests.exports.factories import AnnotationFactory
from tests.exports.helpers import export_rows
from tests.factories import TraceFactory

pytestmark = pytest.mark.django_db(transaction=True)  # PostgreSQL: the streaming read path


@pytest.fixture(autouse=True)
def _exports_dir(settings, tmp_path):
    settings.REFLECTLAB_EXPORTS_DIR = tmp_path / "exports"


def run(project, user, fmt, options=None):
    export = services.export_create(
        project=project, user=user, kind="stepwise", format=fmt, options=options, enqueue=False
    )
    services.export_execute(export_id=export.pk)
    export.refresh_from_db()
    assert export.state == "succeeded", export.error
    return export


@pytest.fixture
def judged(project):
    trace = TraceFactory(project=project)
    annotation = AnnotationFactory(
        trace=trace, project=project, first_error_step=-1, step_labels={"0": 1, "1": 1, "2": 1}
    )
    Suggestion.objects.create(
        project=project, trace=trace, source="judge", signal="first_error", parse_state="parsed",
        first_error_step=1, confidence=0.75, prompt_version=2, step_labels={"0": 1, "1": -1},
    )  # fmt: skip
    return annotation


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_judge_labels_are_separate_meta_columns(project, user, judged, fmt):
    (row,) = export_rows(run(project, user, fmt, {"judge_labels": True}))
    assert row["meta_judge_first_error_step"] == 1
    assert row["meta_judge_confidence"] == 0.75
    assert row["meta_judge_prompt_version"] == 2
    assert row["meta_judge_step_labels"] == '{"0":1,"1":-1}'
    assert row["labels"] == [True, True, True]  # the human's labels, not the judge's


def test_without_the_option_no_judge_column_appears(project, user, judged):
    export = run(project, user, "parquet")
    assert not [n for n in pq.read_schema(export.path).names if n.startswith("meta_judge")]
