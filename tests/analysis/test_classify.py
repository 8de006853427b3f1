from __future__ import annotations

import pytest

from reflectlab.analysis import Lexicon, analyze


def kinds(thinking: str, lexicon: Lexicon | None = None) -> list[str]:
    return [s.kind for s in analyze(thinking + "\n</think>", lexicon=lexicon).steps]


@pytest.mark.parametrize(
    "step",
    [
        "Wait, that is off.",
        "Hmm, 12?",
        "Hold on.",
        "But wait, no.",
        "Actually it is 3.",
        "Oh! I see.",
        "Let me double-check the sum.",
        "Let me verify this.",
        "Is that right?",
        "**Wait**, no.",
    ],
)
def test_strong_cue_at_step_start_is_a_reflection(step):
    assert kinds(f"Start: 2 + 2 = 4.\n\n{step}") == ["execution", "reflection"]


@pytest.mark.parametrize(
    "step",
    [
        "So I should verify it.",
        "I need to make sure of 4.",
        "Let me think again.",
        "That seems right.",
    ],
)
def test_inline_reflection_cue_anywhere_is_a_reflection(step):
    assert kinds(step) == ["reflection"]


def test_button_is_not_but_and_ohio_is_not_oh():
    assert kinds("Button pressed.\n\nOhio is a state.\n\nNow x = 2.") == ["execution"] * 3


def test_mid_sentence_but_is_not_a_cue():
    assert kinds("It is 4 but could be 5.") == ["execution"]


def test_mid_sentence_wait_is_not_a_strong_cue():
    assert kinds("We wait for the bus.") == ["execution"]


def test_weak_cue_at_step_start_is_a_weak_reflection():
    assert kinds("First.\n\nBut 3 > 2.\n\nHowever, 4.\n\nMaybe 5.\n\nNo, 6.") == [
        "execution",
        "weak_reflection",
        "weak_reflection",
        "weak_reflection",
        "weak_reflection",
    ]


def test_transition_cues_mark_a_transition():
    assert kinds("So 2 + 2 = 4.\n\nAlternatively, use algebra.\n\nTry another approach here.") == [
        "execution",
        "transition",
        "transition",
    ]


def test_reflection_beats_transition_and_weak():
    assert kinds(
        "So 2 + 2 = 4.\n\nAlternatively, let me verify with another method.\n\n"
        "But let me double-check."
    ) == ["execution", "reflection", "reflection"]


def test_a_step_records_its_cue_and_where_it_is():
    text = "Start: 2 + 2 = 4.\n\n**Wait**, no.\n</think>"
    step = analyze(text).steps[1]
    assert (step.cue, text[step.cue_start : step.cue_end]) == ("Wait", "Wait")


def test_checking_reflection_has_the_verification_subtype():
    steps = analyze(
        "So x = 2. Wait, let me plug in x = 2 to check.\n\nWait, that's odd.\n</think>"
    ).steps
    assert [s.subtype for s in steps] == ["verification", None]


def test_consecutive_reflective_steps_form_one_episode():
    analysis = analyze("A = 1.\n\nWait, b.\n\nAlternatively, c.\n\nD.\n\nHmm, e.\n</think>")
    assert analysis.episodes == ((1, 2), (4, 4))


def test_a_project_can_override_the_lexicon_and_the_version_records_it():
    lexicon = Lexicon.from_dict(
        {"version": "acme-2", "strong_start_extra": ["oops"], "weak_start": []}
    )
    assert kinds("Oops, wrong.\n\nBut fine.", lexicon) == ["reflection", "execution"]
    assert analyze("x", lexicon=lexicon).version.endswith("+lexacme-2")
    assert "wait" in lexicon.strong_start


def test_unknown_lexicon_keys_are_rejected():
    with pytest.raises(ValueError, match="unknown lexicon keys"):
        Lexicon.from_dict({"strong": ["wait"]})


def test_lexicon_round_trips_through_a_dict():
    lexicon = Lexicon.default()
    assert Lexicon.from_dict(lexicon.to_dict()) == lexicon
