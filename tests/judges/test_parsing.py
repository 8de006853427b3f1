from __future__ import annotations

import pytest

from reflectlab.judges import consensus, parsing, templates


@pytest.mark.parametrize(
    ("text", "expected", "how"),
    [
        ("Paragraph 2 is wrong.\n\n\\boxed{2}", 2, "boxed"),
        ("No paragraph is wrong, so \\boxed{-1}", -1, "boxed"),
        ("\\boxed{−1}", -1, "boxed"),  # noqa: RUF001 (the minus sign models write)
        ("\\boxed{\\text{3}}", 3, "boxed"),
        ("first \\boxed{1} then on reflection \\boxed{4}", 4, "boxed"),
        ('```json\n{"first_error_step": 3}\n```', 3, "json"),
        ('Result: {"earliest_error": -1, "why": {"note": "x"}}', -1, "json"),
        ("The earliest error is in step 3.", 3, "prose"),
        ("The first mistake occurs at paragraph 1, where 2+2=5.", 1, "prose"),
        ("Paragraph 4 contains the first error.", 4, "prose"),
        ("The first incorrect step is step 0.", 0, "prose"),
        ("There is no error in this solution.", -1, "prose"),
        ("All the steps are correct.", -1, "prose"),
        ("No error in paragraph 0. The earliest error is in paragraph 2.", 2, "prose"),
        ("<think>maybe \\boxed{1}? or 3</think>\nThe earliest error is in step 3.", 3, "prose"),
    ],
)
def test_first_error_is_read_from_every_form(text, expected, how):
    parsed = parsing.parse_first_error(text, n_steps=5)
    assert parsed.ok, parsed.error
    assert (parsed.first_error, parsed.how) == (expected, how)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("I am not sure what to say about this.", "No step index"),
        ("\\boxed{the second one}", "not a step index"),
        ("\\boxed{7}", "not a step of this trace"),
        ("<think>The earliest error is in step 2 …", "No answer after the thinking"),
        ("", "No answer"),
    ],
)
def test_unreadable_answers_are_recorded_as_such_never_guessed(text, reason):
    parsed = parsing.parse_first_error(text, n_steps=5)
    assert not parsed.ok
    assert parsed.first_error is None
    assert reason in parsed.error


def test_step_labels_from_json_lines_and_bare_lists():
    assert parsing.parse_step_labels('{"labels": [1, 1, -1]}', n_steps=3).labels == (1, 1, -1)
    assert parsing.parse_step_labels("[+1, 0, -1]", n_steps=3).first_error == 2
    lines = "Step 0: +1\nStep 1: 0\nStep 2: good"
    parsed = parsing.parse_step_labels(lines, n_steps=3)
    assert (parsed.labels, parsed.first_error, parsed.how) == ((1, 0, 1), -1, "lines")


def test_step_labels_of_the_wrong_length_are_unparseable():
    parsed = parsing.parse_step_labels('{"labels": [1, 1]}', n_steps=3)
    assert not parsed.ok and "2 labels for 3 steps" in parsed.error
    assert not parsing.parse_step_labels('{"labels": [1, 2, 1]}', n_steps=3).ok


def test_critique_needs_a_verdict_and_keeps_the_text():
    parsed = parsing.parse_critique(
        "Step 1 adds wrongly: 2+2 is not 5.\nVerdict: incorrect\n\\boxed{1}", n_steps=3
    )
    assert (parsed.ok, parsed.verdict, parsed.first_error) == (True, "incorrect", 1)
    assert parsed.critique.startswith("Step 1 adds wrongly")
    assert not parsing.parse_critique("Looks fine to me.", n_steps=3).ok


def test_hint_from_json_or_lines():
    parsed = parsing.parse_hint('{"step": 1, "hint": "Recount the apples."}', n_steps=3)
    assert (parsed.hint, parsed.hint_step) == ("Recount the apples.", 1)
    parsed = parsing.parse_hint("The first error is in step 2.\nHint: Check the units.", n_steps=3)
    assert (parsed.hint, parsed.hint_step) == ("Check the units.", 2)
    assert not parsing.parse_hint("\\boxed{1}", n_steps=3).ok


def test_self_consistency_confidence_is_the_share_of_all_samples_agreeing_with_the_mode():
    samples = [
        {"ok": True, "first_error": 2},
        {"ok": True, "first_error": 2},
        {"ok": True, "first_error": 3},
        {"ok": False},
    ]
    folded = consensus.fold("critic", samples)
    assert (folded.first_error, folded.confidence, folded.samples_parsed) == (2, 0.5, 3)
    # Ties go to the earliest step; "no error" loses ties.
    tie = consensus.fold(
        "critic", [{"ok": True, "first_error": -1}, {"ok": True, "first_error": 4}]
    )
    assert tie.first_error == 4
    assert not consensus.fold("critic", [{"ok": False}]).parsed


def test_step_label_consensus_is_per_step():
    folded = consensus.fold(
        "step_labels",
        [
            {"ok": True, "labels": [1, -1]},
            {"ok": True, "labels": [1, 1]},
            {"ok": True, "labels": [1, -1]},
        ],
    )
    assert folded.labels == {"0": 1, "1": -1}
    assert folded.first_error == 1
    assert folded.confidence == pytest.approx((1 + 2 / 3) / 2)


def test_templates_render_tagged_steps_and_keep_latex_braces():
    text = templates.render(
        templates.DEFAULTS["critic"], problem="What is {{steps}}?", steps=["a", "b"]
    )
    assert "<paragraph_1>\nb\n</paragraph_1>" in text
    assert "What is {{steps}}?" in text  # a placeholder in the problem stays text
    assert "\\boxed{}" in text
    with pytest.raises(templates.TemplateError, match="Unknown placeholders"):
        templates.template_check("{{problem}} {{steps}} {{answer}}")
    with pytest.raises(templates.TemplateError, match="must use"):
        templates.template_check("{{problem}} only")
