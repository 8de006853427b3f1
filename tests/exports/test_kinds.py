"""What each export kind writes: columns, types, rows, hint modes, splits and filters."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reflectlab.exports.kinds import KINDS, VARIANTS
from reflectlab.exports.schemas import FORBIDDEN_COLUMNS, Context
from reflectlab.exports.splits import parse_splits, split_of
from tests.exports.factories import (
    HINT,
    AnnotationFactory,
    branch_of,
    corrected_annotation,
    reflective_annotation,
    wrong_trace,
)
from tests.exports.helpers import export_rows, jsonl_rows
from tests.factories import PromptFactory, TraceFactory, UserFactory

CASES = [(kind, variant) for kind, variants in VARIANTS.items() for variant in variants]


def schema_of(variant, options=None):
    ctx = Context(options or {}, parse_splits(None))
    for kind in KINDS.values():
        for config in kind.configs(ctx):
            if config.name == variant:
                return config.schema
    raise KeyError(variant)


@pytest.fixture
def data(project):
    corrected_annotation(project)
    corrected_annotation(project, with_prefix=False, verdict="", critique="")
    AnnotationFactory(
        trace=TraceFactory(project=project),
        project=project,
        first_error_step=-1,
        verdict="correct",
        critique="All steps hold.",
    )
    reflective_annotation(project)


@pytest.mark.parametrize(("kind", "variant"), CASES)
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_every_kind_and_format_matches_its_declared_schema(data, run_export, kind, variant, fmt):
    export = run_export(kind, fmt, options={"variant": variant})
    assert export.state == "succeeded", export.error
    schema = schema_of(variant)
    if fmt == "parquet":
        table = pq.read_table(export.path)
        assert table.schema.remove_metadata().equals(schema), table.schema
        rows = table.to_pylist()
    else:
        rows = jsonl_rows(export.path)
        if variant == "canonical":  # nested, lossless records
            assert all({"prompt", "trace", "annotations", "branches"} <= set(r) for r in rows)
            rows = []
        for row in rows:
            assert list(row) == schema.names
        pa.Table.from_pylist(rows, schema=schema)  # types check
    assert export.rows_written == (len(rows) if rows else export.rows_written) > 0


def test_no_column_changes_trainer_behaviour():
    for _kind, variants in VARIANTS.items():
        for variant in variants:
            names = set(schema_of(variant).names)
            assert not names & FORBIDDEN_COLUMNS, variant
            assert "labels" not in names or variant == "stepwise"
            assert "label" not in names or variant in {"unpaired", "processbench"}
            assert "messages" not in names or variant == "sft_corrected"
            assert all(n.startswith("meta_") for n in names if "meta" in n)


def _assistant(row):
    return [m for m in row["messages"] if m["role"] == "assistant"]


@pytest.mark.parametrize("with_prefix", [True, False])
def test_sft_hint_modes(project, run_export, with_prefix):
    corrected_annotation(project, with_prefix=with_prefix)
    inline = export_rows(run_export("sft_corrected"))[0]
    content = _assistant(inline)[-1]["content"]
    assert content.startswith(
        "<think>\nWe need 2 + 3.\n\nCareful: 2 + 3 is 5, not 6.\n\nSo 2 + 3 = 5."
    )
    assert "</think>\n\nThe answer is \\boxed{5}." in content
    stripped = export_rows(run_export("sft_corrected", options={"hint_mode": "stripped"}))[0]
    assert HINT not in _assistant(stripped)[-1]["content"]
    assert "We need 2 + 3.\n\nSo 2 + 3 = 5." in _assistant(stripped)[-1]["content"]
    # user_turn: the original wrong answer and the hint are prompt, never completion.
    turn = export_rows(run_export("sft_corrected", options={"hint_mode": "user_turn"}))[0]
    assert [m["role"] for m in turn["prompt"]] == ["user", "assistant", "user"]
    assert [m["role"] for m in turn["completion"]] == ["assistant"]
    assert turn["prompt"][2]["content"] == HINT
    assert "\\boxed{6}" in turn["prompt"][1]["content"]
    assert "\\boxed{5}" in turn["completion"][0]["content"]


def test_reasoning_content_key_and_prompt_completion_variant(project, run_export):
    corrected_annotation(project)
    row = export_rows(
        run_export("sft_corrected", "parquet", options={"reasoning": "reasoning_content"})
    )[0]
    answer = _assistant(row)[-1]
    assert answer["content"] == "The answer is \\boxed{5}."
    assert answer["reasoning_content"].startswith("We need 2 + 3.")
    assert "<think>" not in answer["content"]
    pc = export_rows(
        run_export("sft_corrected", options={"variant": "sft_corrected_prompt_completion"})
    )[0]
    assert [m["role"] for m in pc["prompt"]] == ["user"]
    assert [m["role"] for m in pc["completion"]] == ["assistant"]


def test_preference_pairs_corrected_branch_over_original(project, run_export):
    corrected_annotation(project)
    # A trace judged right has no pair, nor does a branch still wrong.
    AnnotationFactory(trace=TraceFactory(project=project), project=project, first_error_step=-1)
    wrong = wrong_trace(project)
    AnnotationFactory(
        trace=wrong,
        project=project,
        first_error_step=1,
        branch=branch_of(wrong, continuation="\n\nStill 6.\n</think>\n\n\\boxed{6}"),
    )
    rows = export_rows(run_export("preference"))
    assert len(rows) == 1
    row = rows[0]
    assert row["prompt"] == [{"role": "user", "content": "What is 2 + 3?"}]
    assert "\\boxed{5}" in row["chosen"][0]["content"]
    assert "\\boxed{6}" in row["rejected"][0]["content"]
    assert row["meta_branch_trace_id"] and row["meta_json"]
    openai = export_rows(run_export("preference", "openai"))[0]
    assert set(openai) == {"input", "preferred_output", "non_preferred_output"}
    assert openai["input"]["messages"][0]["role"] == "user"


def test_openai_sft_weights_the_last_assistant_turn(project, run_export):
    corrected_annotation(project)
    row = export_rows(run_export("sft_corrected", "openai", options={"hint_mode": "user_turn"}))[0]
    weights = [m.get("weight") for m in row["messages"]]
    assert weights == [None, 0, None, 1]


def test_unpaired_labels_from_verdicts_and_branches(project, run_export):
    corrected_annotation(project)
    rows = export_rows(run_export("unpaired"))
    assert sorted(r["label"] for r in rows) == [False, True]


def test_stepwise_cuts_after_the_first_error(project, run_export):
    corrected_annotation(project)
    AnnotationFactory(
        trace=TraceFactory(project=project),
        project=project,
        first_error_step=-1,
        step_labels={"1": 0},
    )
    rows = export_rows(run_export("stepwise"))
    cut, whole = rows
    assert cut["completions"] == ["We need 2 + 3.", "2 + 3 = 6."]
    assert cut["labels"] == [True, False]
    assert whole["labels"] == [True] * len(whole["completions"])
    strict = export_rows(run_export("stepwise", options={"neutral_is_good": False}))[1]
    assert strict["labels"][1] is False
    pb = export_rows(run_export("stepwise", options={"variant": "processbench"}))
    assert [r["label"] for r in pb] == [1, -1]
    assert list(pb[0]) == [
        "id",
        "generator",
        "problem",
        "steps",
        "final_answer_correct",
        "label",
        "subset",
    ]
    assert pb[0]["steps"] == ["We need 2 + 3.", "2 + 3 = 6.", "So the total is 6."]


def test_critique_rows_end_with_a_conclusion(project, run_export):
    corrected_annotation(project)
    row = export_rows(run_export("critique"))[0]
    assert row["completion"][0]["content"].endswith("Conclusion: wrong")
    assert "Solution:\nWe need 2 + 3." in row["prompt"][0]["content"]
    rl = export_rows(run_export("critique", options={"variant": "critique_rl"}))[0]
    assert rl["ground_truth_judgment"] == "wrong"


def test_canonical_record_is_lossless(project, run_export):
    annotation = corrected_annotation(project)
    record = export_rows(run_export("canonical"))[0]
    assert record["trace"]["raw_response"] == annotation.trace.raw_response
    assert record["trace"]["analysis"] == annotation.trace.analysis
    assert record["branches"][0]["id"] == annotation.branch_id
    assert record["annotations"][0]["hint"] == HINT
    assert record["annotations"][0]["reviews"] == []


def test_splits_follow_the_prompt(project, run_export):
    for i in range(40):
        prompt = PromptFactory(project=project, external_id=f"problem-{i}")
        for _ in range(2):
            AnnotationFactory(
                trace=TraceFactory(project=project, prompt=prompt),
                project=project,
                first_error_step=-1,
            )
    rows = export_rows(run_export("unpaired", options={"splits": {"train": 0.5, "test": 0.5}}))
    by_prompt = {}
    for r in rows:
        by_prompt.setdefault(r["meta_prompt_external_id"], set()).add(r["meta_split"])
    assert all(len(s) == 1 for s in by_prompt.values())
    assert {next(iter(s)) for s in by_prompt.values()} == {"train", "test"}
    assert split_of("problem-1", parse_splits(None)) == split_of("problem-1", parse_splits(None))


def test_filters(project, run_export):
    other = UserFactory(username="alice")
    kept = corrected_annotation(project, annotator=other)
    corrected_annotation(project, state="submitted")
    corrected_annotation(project, state="draft")
    modelled = corrected_annotation(project)
    type(modelled.trace).objects.filter(pk=modelled.trace_id).update(model_name="other/model")
    gold = corrected_annotation(project)
    from reflectlab.review.models import GoldItem

    GoldItem.objects.create(project=project, trace=gold.trace)

    def ids(**filters):
        return {
            r["meta_annotation_id"] for r in export_rows(run_export("preference", filters=filters))
        }

    assert ids() == {kept.pk, modelled.pk}
    assert len(ids(accepted_only=False)) == 3
    assert ids(annotator="alice") == {kept.pk}
    assert ids(model="other/model") == {modelled.pk}
    assert gold.pk in ids(exclude_gold=False)
    assert ids(date_from="2999-01-01") == set()
