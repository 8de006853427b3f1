"""``manage.py import_processbench`` (the importer lives with the other imports)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from reflectlab.annotations.models import Annotation
from reflectlab.traces.models import Trace

ITEM = {
    "id": "cmd-0",
    "generator": "Qwen2-7B-Instruct",
    "problem": "What is 2 + 3?",
    "steps": ["We add 2 and 3.", "2 + 3 = 6.", "So the answer is \\boxed{6}."],
    "final_answer_correct": False,
    "label": 1,
}


def test_the_command_imports_items_with_their_labels_once(project, tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps([ITEM]))
    out = io.StringIO()
    call_command("import_processbench", str(project.pk), str(path), stdout=out)
    assert "tiny.json: 1 items, 1 traces and 1 annotations written" in out.getvalue()
    trace = Trace.objects.get(project=project, external_id="cmd-0")
    assert Annotation.objects.get(trace=trace).first_error_step == 1
    again = io.StringIO()
    call_command("import_processbench", str(project.pk), str(path), stdout=again)
    assert "0 traces and 0 annotations written" in again.getvalue()


def test_the_command_names_a_missing_project(db):
    with pytest.raises(CommandError, match="No project 424242"):
        call_command("import_processbench", "424242", "x.json")
