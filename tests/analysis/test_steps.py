from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reflectlab.analysis import analyze
from reflectlab.analysis.steps import split_steps


def texts(text: str) -> list[str]:
    starts, ends = split_steps(text)
    return [text[s:e] for s, e in zip(starts, ends, strict=True)]


def test_blank_lines_split_steps_and_strip_surrounding_blank_lines():
    assert texts("\n\n  one\ntwo\n\n \n three  \n\n") == ["one\ntwo", " three"]


def test_blank_line_inside_display_dollars_does_not_split():
    assert texts("a\n\n$$x\n\ny$$\n\nb") == ["a", "$$x\n\ny$$", "b"]


def test_blank_line_inside_bracket_display_math_does_not_split():
    assert texts("a\n\n\\[x\n\ny\\]\n\nb") == ["a", "\\[x\n\ny\\]", "b"]


def test_blank_line_inside_code_fence_does_not_split():
    assert texts("a\n\n```py\nx = 1\n\ny = 2\n```\n\nb") == ["a", "```py\nx = 1\n\ny = 2\n```", "b"]


def test_unclosed_display_math_in_a_truncated_trace_protects_nothing():
    assert texts("a\n\n$$x\n\ny") == ["a", "$$x", "y"]


def test_empty_thinking_has_no_steps():
    assert split_steps("  \n\n ") == ([], [])


_pieces = st.sampled_from(
    ["a", "Wait", " ", "\n", "\n\n", "\t", "$$", "\\[", "\\]", "```", "x y", "é"]
)


@given(st.lists(_pieces, max_size=40).map("".join))
def test_step_offsets_slice_the_raw_text_back_to_each_step(text):
    analysis = analyze(text, finish_reason="stop")
    for step in analysis.steps:
        chunk = text[step.start : step.end]
        assert chunk and chunk == chunk.strip("\n") and not chunk.isspace()


@given(st.lists(_pieces, max_size=40).map("".join))
def test_steps_cover_the_thinking_in_order_without_overlap(text):
    starts, ends = split_steps(text)
    assert all(s < e for s, e in zip(starts, ends, strict=True))
    assert all(e <= s for e, s in zip(ends, starts[1:], strict=False))
    gaps = [text[e:s] for e, s in zip(ends, starts[1:], strict=False)]
    assert all(gap.strip() == "" and "\n" in gap for gap in gaps)
    assert text[: starts[0]].strip() == "" if starts else text.strip() == ""
    assert text[ends[-1] :].strip() == "" if ends else True
