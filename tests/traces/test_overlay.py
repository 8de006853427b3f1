"""Step edits laid over the analysed steps: pure functions, no database."""

from __future__ import annotations

from reflectlab.traces.overlay import (
    edited_steps,
    episode_span,
    remap_annotation,
    sections,
    sentence_starts,
    step_map,
)

# "Wait a second." ends a paragraph's first half instead of starting its own step.
TEXT = (
    "We need 2 + 3.\n\n2 + 3 = 6. Wait a second. 2 + 3 = 5.\n\nSo the total is 5.\n"
    "</think>\n\nThe answer is \\boxed{5}."
)


def plain(text, bounds):
    return [
        {"index": i, "start": a, "end": b, "kind": "execution"} for i, (a, b) in enumerate(bounds)
    ]


def test_split_makes_two_steps_at_the_offset_and_both_halves_keep_their_text():
    steps = plain(TEXT, [(0, 14), (16, 52), (54, 72)])
    wait = TEXT.index("Wait")
    out = edited_steps(steps, TEXT, splits=[wait], strong=[wait])
    assert [TEXT[s["start"] : s["end"]] for s in out] == [
        "We need 2 + 3.",
        "2 + 3 = 6.",
        "Wait a second. 2 + 3 = 5.",
        "So the total is 5.",
    ]
    assert out[2]["kind"] == "reflection"  # a strong-cue split point starts a reflection
    assert [s["source"] for s in out] == [0, 1, 1, 2]
    assert [s["index"] for s in out] == [0, 1, 2, 3]


def test_merge_joins_a_step_to_the_one_before_and_keeps_the_stronger_kind():
    steps = plain(TEXT, [(0, 14), (16, 52), (54, 72)])
    steps[1]["kind"] = "reflection"
    out = edited_steps(steps, TEXT, merges=[16])
    assert [(s["start"], s["end"]) for s in out] == [(0, 52), (54, 72)]
    assert out[0]["kind"] == "reflection"


def test_a_split_outside_every_step_changes_nothing():
    steps = plain(TEXT, [(0, 14), (16, 52)])
    assert edited_steps(steps, TEXT, splits=[15]) == edited_steps(steps, TEXT)


def test_labels_follow_a_split_to_both_halves_and_a_merge_keeps_the_worst():
    before = plain(TEXT, [(0, 14), (16, 52), (54, 72)])
    wait = TEXT.index("Wait")
    after = edited_steps(before, TEXT, splits=[wait])
    mapping = step_map(before, after)
    assert mapping == [[0], [1, 2], [3]]
    fields = {
        "step_labels": {"0": 1, "1": -1, "2": 0},
        "step_reasons": {"1": "6 is wrong"},
        "first_error_step": 1,
        "hint_step": 2,
    }
    split = remap_annotation(fields, mapping)
    assert split == {
        "step_labels": {"0": 1, "1": -1, "2": -1, "3": 0},
        "step_reasons": {"1": "6 is wrong", "2": "6 is wrong"},
        "first_error_step": 1,
        "hint_step": 3,
    }
    merged = remap_annotation(split, step_map(after, before))
    assert merged["step_labels"] == {"0": 1, "1": -1, "2": 0}
    assert merged["first_error_step"] == 1
    # Merging a good step into a bad one gives the bad label (PRM800K: worst wins).
    worst = remap_annotation({"step_labels": {"0": 1, "1": -1}}, [[0], [0], [1]])
    assert worst["step_labels"] == {"0": -1}


def test_no_error_and_unset_first_error_survive_a_remap():
    assert remap_annotation({"first_error_step": -1}, [[0]])["first_error_step"] == -1
    assert remap_annotation({"first_error_step": None}, [[0]])["first_error_step"] is None


def test_sentence_starts_are_offered_after_sentence_ends_only():
    text = "2 + 3 = 6. Wait a second. It is 5!  Yes"
    assert [text[o : o + 4] for o in sentence_starts(text, 0, len(text))] == ["Wait", "It i", "Yes"]


def test_sections_group_episodes_and_the_runs_between_them():
    kinds = ["execution", "execution", "reflection", "transition", "execution", "reflection"]
    steps = [{"kind": k} for k in kinds]
    assert sections(steps) == [(0, 1), (2, 3), (4, 4), (5, 5)]


def test_an_episode_starts_at_the_half_holding_its_cue_after_a_split():
    steps = plain(TEXT, [(0, 14), (16, 52), (54, 72)])
    wait = TEXT.index("Wait")
    steps[1].update(kind="reflection", cue="wait", cue_start=wait, cue_end=wait + 4)
    shown = edited_steps(steps, TEXT, splits=[wait])
    assert [s["kind"] for s in shown] == ["execution", "execution", "reflection", "execution"]
    assert episode_span(steps, shown, 1, 1) == (2, 2)
    assert episode_span(steps, steps, 1, 1) == (1, 1)
