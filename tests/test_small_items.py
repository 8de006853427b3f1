"""Issue 14's smaller items, each as the user saw it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from reflectlab.core.templatetags.reflectlab import number, plain_text, setting, when
from reflectlab.exports.forms import ExportForm
from reflectlab.exports.models import Export
from reflectlab.review import claims
from reflectlab.review.models import Claim
from tests.factories import MembershipFactory, PromptFactory, TraceFactory


def test_list_cells_drop_gsm8k_calculator_markup_and_raw_latex():
    assert plain_text("She earns 48/2 = <<48/2=24>>24 dollars") == "She earns 48/2 = 24 dollars"
    assert plain_text(r"Find \(\frac{1}{2} \cdot x\) if $$x^2 = 4$$") == "Find 1/2 · x if x² = 4"
    assert plain_text(r"\boxed{\sqrt{3}}") == "√3"
    assert plain_text("Compute $x^2$ for x = 3") == "Compute x² for x = 3"
    assert plain_text(r"If $a^{10}=b$, find $\frac{a}{b}$.") == "If a¹⁰=b, find a/b."
    assert plain_text("She pays $12 and then $5 more") == "She pays $12 and then $5 more"
    assert plain_text("It costs $3 each, $12 total") == "It costs $3 each, $12 total"
    assert plain_text("<script>x</script>") == "<script>x</script>"  # escaped by the template


def test_numbers_and_settings_read_as_written():
    assert number(1 - 0.9) == "0.1"
    assert setting({"train": 0.9, "test": 1 - 0.9}) == "train: 0.9, test: 0.1"
    assert when(datetime(2026, 12, 3, 16, 32, 5, tzinfo=UTC)).startswith("2026-12-03 ")


def test_export_form_stores_a_clean_test_ratio():
    form = ExportForm(
        {
            "kind": "preference",
            "format": "jsonl",
            "hint_mode": ExportForm.base_fields["hint_mode"].choices[0][0],
            "reasoning": ExportForm.base_fields["reasoning"].choices[0][0],
            "branch_filter": ExportForm.base_fields["branch_filter"].choices[0][0],
            "train_ratio": "0.9",
        }
    )
    assert form.is_valid(), form.errors
    assert form.payload()["options"]["splits"] == {"train": 0.9, "test": 0.1}


@pytest.mark.django_db
def test_finished_export_lists_its_files_in_the_polled_region(logged_in, project):
    export = Export.objects.create(
        project=project,
        kind="preference",
        format="jsonl",
        state="succeeded",
        file_name="preference.jsonl",
        files=[{"path": "preference.jsonl", "rows": 3, "bytes": 10, "sha256": "ab" * 32}],
        options={"splits": {"train": 0.9, "test": 1 - 0.9}},
    )
    url = reverse("exports:detail", args=[project.pk, export.pk])
    # The page polled while running; the last poll (htmx) must carry the files.
    poll = logged_in.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "preference.jsonl</code>" in poll and "Listed when the export has finished" not in poll
    page = logged_in.get(url).content.decode()
    assert "0.09999999999999998" not in page and "test: 0.1" in page
    failed = Export.objects.create(
        project=project, kind="preference", format="jsonl", state="failed"
    )
    body = logged_in.get(reverse("exports:detail", args=[project.pk, failed.pk])).content.decode()
    assert "Listed when the export has finished" not in body


@pytest.mark.django_db
def test_release_and_stop_gives_the_trace_back_without_claiming_another(client, project):
    TraceFactory(project=project)
    TraceFactory(project=project)
    MembershipFactory(project=project, user=(annotator := _user()), role="annotator")
    claim = claims.queue_next(project=project, user=annotator, rng=lambda: 1.0)
    client.force_login(annotator)
    page = client.get(reverse("traces:detail", args=[claim.trace_id])).content.decode()
    assert "Release and stop" in page and "Undo" in page and 'data-action="undo"' in page
    response = client.post(reverse("review:claim-release", args=[claim.pk]))
    assert response.status_code == 302 and response["Location"].endswith("/queue/")
    assert not Claim.objects.filter(user=annotator, state="active").exists()


@pytest.mark.django_db
def test_workspace_says_no_error_in_words_and_labels_principles(logged_in, project):
    project.principles = ["Checks each step"]
    project.save()
    trace = TraceFactory(project=project, prompt=PromptFactory(project=project))
    page = logged_in.get(reverse("traces:detail", args=[trace.pk])).content.decode()
    assert "\u22121 means no error" not in page and "means no error" not in page
    assert "tick each one this trace breaks" in page


def _user():
    from tests.factories import UserFactory

    return UserFactory()
