from __future__ import annotations

from reflectlab.analysis import analyze
from reflectlab.analysis.extract import extract


def test_reasoning_field_wins_and_offsets_index_it():
    ext = extract("The answer is 4.", reasoning="Let me think.\n\nOk.", finish_reason="stop")
    assert (ext.source, ext.think_start, ext.think_end, ext.answer_start) == (
        "reasoning_field",
        0,
        18,
        0,
    )
    assert not ext.truncated


def test_reasoning_field_cut_by_length_is_truncated():
    assert extract("", reasoning="Let me", finish_reason="length").truncated


def test_text_between_think_tags_is_the_thinking():
    response = "<think>plan</think>answer"
    ext = extract(response)
    assert ext.source == "tagged"
    assert response[ext.think_start : ext.think_end] == "plan"
    assert response[ext.answer_start :] == "answer"


def test_only_closing_tag_means_everything_before_it_is_thinking():
    response = "plan\n</think>\nanswer"
    ext = extract(response)
    assert (ext.source, ext.think_start, ext.think_end) == ("closing_tag", 0, 5)
    assert not ext.truncated


def test_no_closing_tag_with_unknown_finish_reason_is_truncated():
    ext = extract("Okay, let me think about")
    assert ext.source == "untagged"
    assert ext.truncated


def test_no_closing_tag_with_length_finish_reason_is_truncated():
    assert extract("<think>Okay", finish_reason="length").truncated


def test_untagged_answer_that_stopped_normally_is_complete_thinking():
    ext = extract("Just an answer.", finish_reason="stop")
    assert ext.source == "untagged"
    assert not ext.truncated
    assert (ext.think_start, ext.think_end) == (0, 15)


def test_answer_section_is_never_counted_as_reflection():
    analysis = analyze("Compute 2+2 = 4.\n</think>\n\nWait, hmm, let me double-check: 4.")
    assert analysis.metrics.reflection_steps == 0
    assert analysis.steps[-1].end <= analysis.extraction.think_end


def test_steps_of_a_reasoning_field_index_the_reasoning_string():
    reasoning = "First step.\n\nWait, check it."
    analysis = analyze("Answer: 3", reasoning=reasoning)
    assert [reasoning[s.start : s.end] for s in analysis.steps] == [
        "First step.",
        "Wait, check it.",
    ]
    assert analysis.final_answer is not None and analysis.final_answer.value == "3"
