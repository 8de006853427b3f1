"""Step-level exports: Step-DPO pairs, reflection quality, edited steps, honest skips."""

from __future__ import annotations

import orjson
import pytest

from reflectlab.annotations.models import StepEdit
from tests.exports.factories import AnnotationFactory, reflective_annotation
from tests.exports.helpers import jsonl_rows
from tests.factories import TraceFactory

pytestmark = pytest.mark.django_db


def rows(run_export, kind, variant=None):
    export = run_export(kind, "jsonl", options={"variant": variant} if variant else None)
    assert export.state == "succeeded", export.error
    return jsonl_rows(export.path)


def test_step_preference_pairs_the_replacement_with_the_wrong_step_after_the_prefix(
    project, run_export
):
    reflective_annotation(project)
    pairs = rows(run_export, "step_preference")
    # ranking: replacement > alternative > wrong step → three ordered pairs
    assert [(r["chosen"], r["rejected"]) for r in pairs] == [
        ("2 + 3 = 5.", "Adding, 2 + 3 gives 5."),
        ("2 + 3 = 5.", "2 + 3 = 6."),
        ("Adding, 2 + 3 gives 5.", "2 + 3 = 6."),
    ]
    prompt = pairs[0]["prompt"]
    assert prompt.endswith("<think>\nWe need 2 + 3.\n\n")
    assert "2 + 3 = 6" not in prompt  # the wrong step is never in the prompt
    meta = orjson.loads(pairs[1]["meta_json"])
    assert meta["rank"] == [0, 2] and meta["rejected_is_original"] and meta["flawed_process"]
    assert set(pairs[0]) == {"prompt", "chosen", "rejected"} | {
        k for k in pairs[0] if k.startswith("meta_")
    }


def test_no_replacement_no_pair(project, run_export):
    reflective_annotation(project, replacement_step="", replacement_alternatives=[])
    export = run_export("step_preference", "jsonl")
    assert export.rows_written == 0


def test_an_exit_reason_is_skipped_by_training_kinds_and_kept_by_canonical(project, run_export):
    reflective_annotation(project, exit_reason="bad_problem")
    for kind in ("step_preference", "stepwise"):
        assert run_export(kind, "jsonl").rows_written == 0, kind
    (record,) = rows(run_export, "canonical")
    assert record["annotations"][0]["exit_reason"] == "bad_problem"


def test_reflection_quality_rows_name_the_episode_and_its_steps(project, run_export):
    reflective_annotation(project)
    (row,) = rows(run_export, "stepwise", "reflection_quality")
    assert (row["episode"], row["quality"], row["strategy_shift"]) == (0, "effective", False)
    assert row["steps"] == ["Wait, let me check that again: 2 + 3 = 5."]
    (stepwise,) = rows(run_export, "stepwise", "stepwise")
    meta = orjson.loads(stepwise["meta_json"])
    assert meta["reflection_quality"] == {"0": {"quality": "effective", "strategy_shift": False}}


def test_stepwise_and_processbench_use_the_edited_steps(project, run_export):
    text = (
        "We need 2 + 3.\n\n2 + 3 = 6. Wait a second, that is wrong. 2 + 3 = 5.\n\n"
        "So the total is 5.\n</think>\n\nThe answer is \\boxed{5}."
    )
    trace = TraceFactory(project=project, raw_response=text)
    StepEdit.objects.create(trace=trace, splits=[text.index("Wait")])
    AnnotationFactory(
        trace=trace, project=project, step_labels={"0": 1, "1": -1}, first_error_step=1
    )
    (stepwise,) = rows(run_export, "stepwise", "stepwise")
    assert stepwise["completions"] == ["We need 2 + 3.", "2 + 3 = 6."]
    assert stepwise["labels"] == [True, False]
    (bench,) = rows(run_export, "stepwise", "processbench")
    assert bench["steps"][1:3] == ["2 + 3 = 6.", "Wait a second, that is wrong. 2 + 3 = 5."]
    assert bench["label"] == 1
