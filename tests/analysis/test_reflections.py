from __future__ import annotations

import math

import pytest

from reflectlab.analysis import analyze
from reflectlab.analysis.uncertainty import srgen_flags, token_entropy, uncertainty

TRACE = (
    "Let me think: 2 + 2 = 4.\n\nWait, what is asked?\n\n"  # pre-answer reflection (step 1)
    "So the answer is \\boxed{5}.\n\n"  # candidate 0, step 2
    "Wait, let me double-check.\n\nThe answer is \\boxed{5}.\n\n"  # confirmatory (step 3)
    "Hmm, I missed a term.\n\nSo it is \\boxed{6}.\n\n"  # corrective (step 5)
    "Hmm, anything else?\n"  # followed by the answer-section candidate
    "</think>\n\n\\boxed{6}"
)


def labels(reference: str | None = None) -> list[tuple]:
    analysis = analyze(TRACE, reference=reference)
    return [
        (r.kind, r.transition, r.from_candidate, r.to_candidate, r.steps)
        for r in analysis.reflections
    ]


def test_reflections_are_pre_answer_confirmatory_or_corrective():
    assert labels() == [
        ("pre_answer", None, None, 0, (1,)),
        ("confirmatory", None, 0, 1, (3,)),
        ("corrective", None, 1, 2, (5,)),
        ("confirmatory", None, 2, 3, (7,)),
    ]


def test_a_reference_adds_the_correctness_transition():
    assert [t for _, t, *_ in labels("#### 6")] == [None, "F→F", "F→T", "T→T"]
    assert [t for _, t, *_ in labels("5")][2] == "T→F"


def test_reflection_after_the_last_candidate_is_trailing():
    analysis = analyze("\\boxed{1}\n\nWait, sure?\n\nHmm.")
    assert [(r.kind, r.steps) for r in analysis.reflections] == [("trailing", (1, 2))]


def test_restating_an_answer_without_reflection_is_not_labelled():
    assert analyze("\\boxed{1}\n\nSo \\boxed{1}.\n</think>\\boxed{1}").reflections == ()


def test_metrics_of_a_trace():
    m = analyze(TRACE, reference="#### 6").metrics
    assert (m.steps, m.reflection_steps, m.episodes, m.answer_changes) == (8, 4, 4, 1)
    assert (m.confirmatory, m.corrective, m.first_correct, m.final_correct) == (2, 1, False, True)
    assert 0 < m.first_candidate_position < 1
    assert 0 < m.overthinking_tail < 0.2
    assert 0 < m.reflection_share < 1


def test_without_reference_correctness_metrics_are_none():
    m = analyze(TRACE).metrics
    assert (m.first_correct, m.final_correct, m.overthinking_tail) == (None, None, None)


def test_with_a_reference_no_answer_at_all_is_wrong():
    assert analyze("Let me think", reference="#### 3").final_correct is False


def test_entropy_of_a_uniform_top_two_is_log_two():
    assert token_entropy([math.log(0.5), math.log(0.5)]) == pytest.approx(math.log(2))


def test_entropy_counts_the_mass_outside_the_top_k():
    assert token_entropy([math.log(0.5)]) == pytest.approx(math.log(2))


def test_srgen_flags_a_spike_above_the_adaptive_threshold():
    calm = [0.1] * 20
    assert srgen_flags([*calm, 2.5]) == [20]
    assert srgen_flags([*calm, 1.5]) == []  # below tau_min = 1.8
    assert srgen_flags([0.1] * 5 + [3.0]) == []  # not enough history


def test_openai_logprobs_give_an_uncertainty_layer():
    token = {
        "token": "x",
        "logprob": -0.1,
        "top_logprobs": [{"token": "x", "logprob": math.log(0.5)}] * 2,
    }
    layer = uncertainty([token] * 3)
    assert layer.entropies == pytest.approx((math.log(2),) * 3)
    assert analyze("a", logprobs=[token]).uncertainty is not None
