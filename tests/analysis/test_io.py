from __future__ import annotations

import io
import json

import pytest

from reflectlab.analysis import analyze, to_dict
from reflectlab.analysis.io import analyze_jsonl, analyze_record

RECORD = {
    "id": "t1",
    "question": "2+2?",
    "reference_answer": "#### 4",
    "response": "2+2=4.\n</think>\n\\boxed{4}",
}


def test_to_dict_has_the_stored_schema_and_is_json_ready():
    data = to_dict(analyze(RECORD["response"], reference="4"))
    assert json.loads(json.dumps(data)) == data
    assert {
        "truncated",
        "final_answer",
        "final_correct",
        "steps",
        "candidates",
        "reflections",
        "episodes",
        "metrics",
        "version",
        "extraction",
    } <= set(data)
    assert set(data["steps"][0]) == {
        "index",
        "start",
        "end",
        "kind",
        "cue",
        "cue_start",
        "cue_end",
        "subtype",
    }
    assert set(data["candidates"][0]) >= {"step", "start", "end", "value", "correct", "kind"}
    assert set(data["extraction"]) == {"source", "think_start", "think_end", "answer_start"}


def test_a_record_maps_to_an_analysis_with_its_id():
    out = analyze_record(RECORD)
    assert (out["id"], out["final_answer"], out["final_correct"]) == ("t1", "4", True)


def test_reasoning_content_field_is_used_as_the_thinking():
    out = analyze_record(
        {
            "id": 1,
            "response": "4",
            "reasoning_content": "2+2=4. Wait, 2+2.",
            "finish_reason": "stop",
        }
    )
    assert out["extraction"]["source"] == "reasoning_field"
    assert out["steps"][0]["kind"] == "reflection"


def test_jsonl_stream_counts_and_reports_bad_lines():
    lines = [json.dumps(RECORD), "not json", json.dumps({"id": 2}), ""]
    out = io.StringIO()
    counts = analyze_jsonl(io.StringIO("\n".join(lines)), out)
    assert (counts.read, counts.written, counts.failed) == (3, 1, 2)
    assert counts.errors[0].startswith("line 2:")
    assert json.loads(out.getvalue())["id"] == "t1"


def test_field_mapping_renames_input_fields_and_binary_streams_work():
    record = {"uid": "x", "answer": "#### 4", "output": RECORD["response"]}
    out = io.BytesIO()
    mapping = {"id": "uid", "reference": "answer", "response": "output"}
    counts = analyze_jsonl(io.BytesIO(json.dumps(record).encode()), out, mapping)
    assert counts.written == 1
    assert json.loads(out.getvalue())["final_correct"] is True


def test_unknown_mapping_keys_are_rejected():
    with pytest.raises(ValueError, match="unknown field"):
        analyze_jsonl(io.StringIO(""), io.StringIO(), {"answer": "x"})
