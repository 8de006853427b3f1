"""How a trace ended: truncation is its own outcome, and where the answer was first reached."""

from __future__ import annotations

from pathlib import Path

import pytest

from reflectlab.analysis import analyze
from reflectlab.analysis.metrics import (
    CORRECT,
    NO_ANSWER,
    TRUNCATED_NO_ANSWER,
    UNGRADED,
    WRONG,
)
from tests.analysis.conftest import load_jsonl

REACHED_THEN_CUT = (
    "Six boxes of seven. So the total = 42 apples.\n\n"
    "Wait, let me re-check by adding 7 six times: 7, 14, 21"
)


def test_a_truncated_trace_without_answer_is_not_a_wrong_answer():
    metrics = analyze(REACHED_THEN_CUT, reference="42", finish_reason="length").metrics
    assert metrics.outcome == TRUNCATED_NO_ANSWER
    assert metrics.answer_reached_step == 0
    assert metrics.final_correct is False  # the review queue still sees it as unsolved


@pytest.mark.parametrize(
    ("response", "reference", "outcome"),
    [
        ("6 * 7 = 42.\n</think>\n\nThe answer is \\boxed{42}.", "42", CORRECT),
        ("6 * 7 = 41.\n</think>\n\nThe answer is \\boxed{41}.", "42", WRONG),
        ("6 * 7 = 42.\n</think>\n\nThe answer is \\boxed{42}.", None, UNGRADED),
        ("I am not sure.\n</think>\n\nI cannot tell.", "42", NO_ANSWER),
    ],
)
def test_outcomes(response, reference, outcome):
    assert analyze(response, reference=reference).metrics.outcome == outcome


def test_a_wrong_answer_reached_nothing():
    metrics = analyze("6 * 7 = 41.\n</think>\n\n\\boxed{41}", reference="42").metrics
    assert metrics.answer_reached_step is None


def test_real_truncated_traces_keep_their_own_outcome(shared_trace_file: Path):
    for record in load_jsonl(shared_trace_file):
        response = record["response"]
        metrics = analyze(response, reference=record["reference_answer"]).metrics
        if "</think>" not in response:
            assert metrics.outcome in (TRUNCATED_NO_ANSWER, CORRECT, WRONG), record["id"]
        else:
            assert metrics.outcome != TRUNCATED_NO_ANSWER, record["id"]
