"""Exports slice the text the stored analysis indexes (``Trace.step_text``).

A reasoning field that is present but blank (a server whose reasoning parser
returned ``"\\n"``) is not where the analysis found the thinking: it read the
``<think>`` block of the raw response, and its step offsets index that. The
exports used to decide by the field's truthiness and sliced the blank field.
"""

from __future__ import annotations

from reflectlab.traces.models import Trace
from tests.exports.factories import HINT, WRONG, AnnotationFactory, corrected_annotation
from tests.exports.helpers import export_rows
from tests.factories import TraceFactory

BLANK_REASONING = "\n"


def test_stepwise_slices_the_raw_response_when_the_reasoning_field_is_blank(project, run_export):
    trace = TraceFactory(
        project=project, raw_response="<think>\n" + WRONG, reasoning=BLANK_REASONING
    )
    assert trace.reasoning and trace.analysis["extraction"]["source"] == "tagged"
    AnnotationFactory(trace=trace, project=project, first_error_step=1, step_labels={"0": 1})
    row = export_rows(run_export("stepwise"))[0]
    assert row["completions"] == ["We need 2 + 3.", "2 + 3 = 6."]
    assert row["labels"] == [True, False]
    pb = export_rows(run_export("stepwise", options={"variant": "processbench"}))[0]
    assert pb["steps"] == ["We need 2 + 3.", "2 + 3 = 6.", "So the total is 6."]


def test_sft_reads_the_branch_continuation_when_its_reasoning_field_is_blank(project, run_export):
    annotation = corrected_annotation(project)
    Trace.objects.filter(pk=annotation.branch_id).update(reasoning=BLANK_REASONING)
    branch = Trace.objects.get(pk=annotation.branch_id)
    assert branch.analysis["extraction"]["source"] != "reasoning_field"
    row = export_rows(run_export("sft_corrected"))[0]
    content = [m for m in row["messages"] if m["role"] == "assistant"][-1]["content"]
    assert content.startswith(f"<think>\nWe need 2 + 3.\n\n{HINT}\n\nSo 2 + 3 = 5.")
    assert content.endswith("</think>\n\nThe answer is \\boxed{5}.")
