"""ProcessBench round trip: import items as traces + labels, export them back unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings

from reflectlab.annotations.models import Annotation
from reflectlab.prompts.processbench import processbench_import
from tests.exports.helpers import export_rows

ITEMS = [
    {
        "id": "tiny-0",
        "generator": "Qwen2-7B-Instruct",
        "problem": "What is 2 + 3?",
        "steps": ["We add 2 and 3. ", "2 + 3 = 6.", "So the answer is \\boxed{6}."],
        "final_answer_correct": False,
        "label": 1,
    },
    {
        "id": "tiny-1",
        "generator": "Llama-3.1-8B-Instruct",
        "problem": "What is 2 + 3?",
        "steps": ["2 + 3 = 5.", "So the answer is \\boxed{5}."],
        "final_answer_correct": True,
        "label": -1,
    },
    {  # a display-math block spans a step boundary: the analyser joins the steps
        "id": "tiny-2",
        "generator": "Qwen2-7B-Instruct",
        "problem": "Solve x + 1 = 3.",
        "steps": ["We have\n\\[", "x = 3 - 1 = 1\n\\]", "So x = 1."],
        "final_answer_correct": False,
        "label": 1,
    },
]


def roundtrip(project, run_export, paths):
    report = processbench_import(project=project, paths=paths)
    rows = export_rows(
        run_export(
            "stepwise", options={"variant": "processbench"}, filters={"annotator": "processbench"}
        )
    )
    return report, {r["id"]: r for r in rows}


def test_processbench_items_come_back_with_their_labels(project, run_export, tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(ITEMS))
    report, rows = roundtrip(project, run_export, [path])
    assert report["remapped"] == ["tiny-2"]
    for item in ITEMS[:2]:
        row = rows[item["id"]]
        assert row["label"] == item["label"]
        assert row["steps"] == item["steps"]
        assert row["generator"] == item["generator"]
        assert row["problem"] == item["problem"]
        assert row["final_answer_correct"] == item["final_answer_correct"]
        assert row["subset"] == "tiny"  # the file's stem, as ProcessBench names its subsets
    assert rows["tiny-2"]["label"] == 0  # moved to the joined analyser step
    a = Annotation.objects.get(trace__external_id="tiny-0")
    assert a.state == "accepted" and a.step_labels == {"0": 1, "1": -1}
    assert a.annotator.username == "processbench"
    again = processbench_import(project=project, paths=[path])
    assert again["files"]["tiny.json"]["annotations_written"] == 0
    assert Annotation.objects.count() == 3


def _real(name):
    path = Path(settings.REFLECTLAB_SHARED_DATA) / "processbench" / name
    if not path.exists():
        pytest.skip(f"{path} is absent (set REFLECTLAB_SHARED_DATA to the shared data folder)")
    return path


def _check_real(project, run_export, path):
    items = json.loads(path.read_text())
    report, rows = roundtrip(project, run_export, [path])
    assert len(rows) == len(items)
    remapped = set(report["remapped"])
    for item in items:
        row = rows[item["id"]]
        assert row["subset"] == path.stem
        if item["id"] in remapped:
            continue
        assert row["label"] == item["label"], item["id"]
        assert [s.strip() for s in row["steps"]] == [s.strip() for s in item["steps"]], item["id"]
        assert row["final_answer_correct"] == item["final_answer_correct"]
    return remapped


def test_real_gsm8k_processbench_labels_reproduce_exactly(project, run_export):
    remapped = _check_real(project, run_export, _real("gsm8k.json"))
    assert remapped == set()  # every gsm8k item lines up with the analyser's steps


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "known"),
    [
        ("math.json", {"math-85"}),
        ("olympiadbench.json", set()),
        ("omnimath.json", {"omnimath-119"}),
    ],
)
def test_real_processbench_labels_reproduce(project, run_export, name, known):
    assert _check_real(project, run_export, _real(name)) == known
