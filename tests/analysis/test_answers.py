from __future__ import annotations

from reflectlab.analysis import analyze
from reflectlab.analysis.answers import boxed_spans


def values(response: str) -> list[tuple[str, str]]:
    return [(c.kind, c.value) for c in analyze(response, finish_reason="stop").candidates]


def test_boxed_with_nested_braces_is_recovered_whole():
    text = r"so \boxed{\frac{1}{\sqrt{2}}} done"
    assert [text[s:e] for s, e in boxed_spans(text)] == [r"\frac{1}{\sqrt{2}}"]


def test_boxed_with_a_space_before_the_brace_is_recovered():
    assert values(r"thus \boxed {42}.") == [("boxed", "42")]


def test_escaped_braces_inside_boxed_do_not_close_it():
    assert values(r"\boxed{\{1,2\}}") == [("boxed", r"\{1,2\}")]


def test_unclosed_boxed_of_a_truncated_trace_is_not_a_candidate():
    assert values(r"the value is \boxed{\frac{1}{2") == []


def test_phrase_candidates_in_priority_order_and_text_order():
    text = "The answer is 7.\n\n**Final Answer:** 8\n\nAnswer: 9\n\n#### 10"
    assert values(text) == [
        ("answer_is", "7"),
        ("final_answer", "8"),
        ("answer_colon", "9"),
        ("gsm8k", "10"),
    ]


def test_a_phrase_around_a_boxed_answer_is_the_same_candidate():
    assert values(r"The final answer is $\boxed{5}$.") == [("boxed", "5")]


def test_candidates_know_their_step_and_offsets():
    text = "A.\n\nSo the answer is \\boxed{3}.\n</think>\n\\boxed{3}"
    first, final = analyze(text).candidates
    assert (first.step, text[first.start : first.end]) == (1, "3")
    assert final.step is None and text[final.start : final.end] == "3"


def test_final_answer_is_the_last_boxed_in_the_answer_section():
    text = "\\boxed{1}\n</think>\nThe answer is 2, i.e. \\boxed{3} or \\boxed{4}."
    assert analyze(text).final_answer.value == "4"


def test_without_answer_section_the_final_answer_is_the_last_thinking_candidate():
    assert analyze("\\boxed{1}\n\nWait.\n\nAnswer: 2").final_answer.value == "2"


def test_so_equals_form_is_only_a_tentative_candidate():
    analysis = analyze("Add them.\n\nSo 16 - 4 = 12 students. Thus x = 3/4.", finish_reason="stop")
    assert analysis.candidates == ()
    assert [c.value for c in analysis.tentative] == ["12", "3/4"]


def test_an_answer_phrase_followed_by_display_math_takes_the_display():
    from reflectlab.analysis import analyze

    result = analyze("x\n\nSo the final answer is:\n\\[\n1596\n\\]\n</think>\nok", reference="1596")
    assert [c.value for c in result.candidates] == ["1596"]
    assert result.final_correct is True
