"""The analyser on the real shared traces (DESIGN §4 quality bar); skipped when absent."""

from __future__ import annotations

from pathlib import Path

from math_verify import parse, verify

from reflectlab.analysis import analyze
from reflectlab.analysis.answers import BOXED
from reflectlab.analysis.grade import reference_answer
from tests.analysis.conftest import load_jsonl


def test_every_real_trace_is_analysed_faithfully(shared_trace_file: Path):
    for record in load_jsonl(shared_trace_file):
        response = record["response"]
        analysis = analyze(response, reference=record["reference_answer"])
        assert analysis.truncated == ("</think>" not in response), record["id"]
        for step in analysis.steps:
            assert response[step.start : step.end].strip(), record["id"]


def test_every_closed_boxed_answer_is_recovered_as_a_candidate(shared_trace_file: Path):
    for record in load_jsonl(shared_trace_file):
        response = record["response"]
        starts = {c.start for c in analyze(response).candidates if c.kind == BOXED}
        for content_start in _closed_boxes(response):
            assert any(content_start <= s <= content_start + 3 for s in starts), (
                record["id"],
                content_start,
            )


def _closed_boxes(text: str) -> list[int]:
    """Where each closed box's content starts, by a plain character walk."""
    out, i = [], text.find("\\boxed")
    while i >= 0:
        j = i + len("\\boxed")
        while j < len(text) and text[j].isspace():
            j += 1
        depth, k = 1, j + 1
        while k < len(text) and depth:
            if text[k] == "\\":
                k += 2
                continue
            depth += {"{": 1, "}": -1}.get(text[k], 0)
            k += 1
        if j < len(text) and text[j] == "{" and depth == 0:
            out.append(j + 1)
        i = text.find("\\boxed", i + 1)
    return out


def test_final_correctness_agrees_with_math_verify_on_the_last_boxed_answer(
    shared_trace_file: Path,
):
    for record in load_jsonl(shared_trace_file)[:120]:
        analysis = analyze(record["response"], reference=record["reference_answer"])
        final = analysis.final_answer
        if final is None or final.kind != BOXED:
            continue
        gold = parse(f"\\boxed{{{reference_answer(record['reference_answer'])}}}")
        expected = bool(verify(gold, parse(f"\\boxed{{{final.value}}}")))
        assert analysis.final_correct == expected, (record["id"], final.value)
