"""Reflection detection against step labels we wrote on the real traces.

The labels (``data/reflection_labels.json``) name a trace id and a step index
only; the text is read from the shared traces, so the test skips without them.
DeltaBench (He et al. 2025) reports recall of keyword-based reflection finders
on its human labels; we hold ours to the same kind of figure: recall of the
labelled reflections and precision of what the analyser calls a reflection,
with planning sentences ("let me break this down", "to make sure I understand")
labelled as not reflecting.

Definition used for the labels (also in the JSON): a step is a *reflection*
when its own text re-examines, doubts, verifies or corrects the model's earlier
work, a *transition* when it switches approach; planning, restating the
problem, ordinary execution, conclusions and bare confidence are not.

Two batches. ``tune`` was read while the lexicon was tuned: lexicon 2's tuning
and held-out rows and lexicon 3's held-out rows (origin in each row; a held-out
batch joins tuning once its misses are studied). ``held_out`` (origin
``held_out_lex4``) was labelled by reading, after lexicon 4 was frozen and
committed and before the analyser ran on those traces; the rule that picked
its traces is in the JSON (``held_out_protocol``). The held-out floors below
are what lexicon 4 measured once, not targets it was tuned to: recall 54/58
(0.931) is just *below* issue 14's bar of 14/15 (0.933).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reflectlab.analysis import analyze
from reflectlab.analysis.classify import REFLECTION, TRANSITION, WEAK_REFLECTION
from reflectlab.analysis.lexicon import Lexicon
from tests.analysis.conftest import load_jsonl, trace_files

REFLECTIVE = frozenset((REFLECTION, TRANSITION))
BENCH = Path(__file__).resolve().parents[2] / "bench"
LABELS = json.loads((Path(__file__).parent / "data" / "reflection_labels.json").read_text())[
    "labels"
]


@pytest.fixture(scope="module")
def predicted() -> dict[tuple[str, int], str]:
    files = trace_files()
    if not files:
        pytest.skip("shared traces absent (set REFLECTLAB_SHARED_DATA)")
    wanted = {row["trace"] for row in LABELS}
    kinds: dict[tuple[str, int], str] = {}
    for path in files:
        for record in load_jsonl(path):
            if record["id"] in wanted:
                for step in analyze(record["response"]).steps:
                    kinds[record["id"], step.index] = step.kind
    return kinds


def scores(predicted: dict[tuple[str, int], str], rows: list[dict]) -> tuple[int, int, int]:
    """(labelled reflective steps found, labelled reflective steps, steps flagged).

    Reflective means reflection or transition, on both sides: what DeltaBench
    calls a reflection includes a switch of approach, and an episode is a run
    of either kind (DESIGN §4).
    """
    found = total = flagged = 0
    for row in rows:
        truth = row["label"] in REFLECTIVE
        hit = predicted[row["trace"], row["step"]] in REFLECTIVE
        found += truth and hit
        total += truth
        flagged += hit
    return found, total, flagged


def batch(name: str) -> list[dict]:
    rows = [row for row in LABELS if row["batch"] == name]
    if not rows:
        pytest.skip(f"no {name!r} labels yet")
    return rows


# Held-out floors: what the frozen lexicon measured once on the held-out batch.
# Lexicon 4 on its held-out batch: recall 54 of 58 (lexicon 3: 53, lexicon 2: 46),
# precision 54 of 61 (lexicon 3: 53/60, lexicon 2: 46/54), planning steps
# flagged 4 of 18 (lexicon 3: 4, lexicon 2: 5). Most false positives are
# openings where "Wait"/"Oh" read the problem or pick the first method.
HELD_OUT_RECALL = 54 / 58
HELD_OUT_PRECISION = 54 / 61
HELD_OUT_PLANNING = 4


def test_held_out_traces_were_never_read_for_tuning():
    tuned = {row["trace"] for row in batch("tune")}
    held_out = batch("held_out")
    assert held_out and not tuned & {row["trace"] for row in held_out}
    assert sum(row["label"] in REFLECTIVE for row in held_out) >= 40


def test_held_out_reflections_are_found(predicted):
    found, total, _ = scores(predicted, batch("held_out"))
    assert found / total >= HELD_OUT_RECALL, f"held-out recall {found}/{total}"


def test_what_is_flagged_in_the_held_out_set_is_reflective(predicted):
    found, _, flagged = scores(predicted, batch("held_out"))
    assert found / flagged >= HELD_OUT_PRECISION, f"held-out precision {found}/{flagged}"


def test_tuning_reflections_are_found(predicted):
    found, total, _ = scores(predicted, batch("tune"))
    # Lexicon 4 on the tuning set (lexicon 2's tuning and held-out rows and
    # lexicon 3's held-out rows): 115 of 117 (lexicon 3: 100, lexicon 2: 88).
    assert found / total >= 115 / 117, f"recall {found}/{total}"


def test_what_is_flagged_in_the_tuning_set_is_reflective(predicted):
    found, _, flagged = scores(predicted, batch("tune"))
    # Lexicon 4: 115 of 118 (two "is indeed" in a first derivation, and an
    # opening that reads the problem with "Wait, $60 less than May?").
    assert found / flagged >= 115 / 118, f"tuning precision {found}/{flagged}"


@pytest.mark.parametrize(
    ("lexicon_file", "expected"),
    [("lexicon_2.json", (32, 56, 34)), ("lexicon_3.json", (40, 56, 43))],
)
def test_older_lexicons_still_give_their_held_out_figures(lexicon_file, expected):
    """bench/lexicon_{2,3}.json are the lists of lexicons 2 and 3: on lexicon 3's
    held-out rows they give the figures recorded when those rows were held out."""
    files = trace_files()
    if not files:
        pytest.skip("shared traces absent (set REFLECTLAB_SHARED_DATA)")
    lexicon = Lexicon.from_dict(json.loads((BENCH / lexicon_file).read_text()))
    rows = [row for row in LABELS if row.get("origin") == "held_out_lex3"]
    wanted = {row["trace"] for row in rows}
    kinds = {
        (record["id"], step.index): step.kind
        for path in files
        for record in load_jsonl(path)
        if record["id"] in wanted
        for step in analyze(record["response"], lexicon=lexicon).steps
    }
    assert scores(kinds, rows) == expected


def planning_flagged(predicted, name: str) -> tuple[list[tuple[str, int]], int]:
    planning = [row for row in batch(name) if row.get("note", "").startswith("planning")]
    flagged = [
        (r["trace"], r["step"]) for r in planning if predicted[r["trace"], r["step"]] in REFLECTIVE
    ]
    return flagged, len(planning)


def test_planning_sentences_are_not_reflections(predicted):
    flagged, total = planning_flagged(predicted, "tune")
    assert total >= 30
    # Lexicon 2 flagged two of lexicon 2's rows ("Hmm, okay. So I need to find…",
    # "Hmm, 16 times 3"); lexicon 3 skips fillers after "Hmm" and reads "<number>
    # times" as a calculation; lexicon 4 reads "Hmm, I remember that…" as recalling
    # a fact. Left: an opening that reads the problem with "Wait, $60 less than May?".
    assert flagged == [("qwq-32b_gsm8k-0117", 0)], flagged


def test_held_out_planning_sentences_are_mostly_not_reflections(predicted):
    flagged, total = planning_flagged(predicted, "held_out")
    assert total >= 15
    assert len(flagged) <= HELD_OUT_PLANNING, flagged


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Okay, so I need to find the total. Let me break this down step by step.", "execution"),
        ("First, let me read the problem again to make sure I understand it.", "execution"),
        ("Hmm, let me think. First, the rate is 2 per hour.", "execution"),
        ("But let me make sure I didn't make a mistake here.", REFLECTION),
        ("So 0.25 * 16 = 4 students. Wait, that seems off.", REFLECTION),
        ("The angle is 60 degrees. But wait, the other angle is 128.", REFLECTION),
        ("Hmm, calculating that. 36 + 40 is 76.", "execution"),
        ("Hmm, okay. So, I need to find the minimum of f.", "execution"),
        ("Hmm, 16 times 3. Let me do that step by step.", "execution"),
        ("Hmm, 16 is more than the total.", REFLECTION),
        ("Hmm, so I need to double-check the total.", REFLECTION),
        ("Their sum is indeed 27, a perfect cube.", REFLECTION),
        ("Both primes, so they could not split into groups. That works.", REFLECTION),
        ("I don't see any miscalculations here.", REFLECTION),
        ("That might be a simpler approach. Let me try that.", TRANSITION),
        ("Then 36 + 48. Hmm, 36 + 40 is 76.", "execution"),
        ("120 +9 =129. Correct.", REFLECTION),
        ("First component: -2, correct.", REFLECTION),
        ("500 + 400 is 900, plus 40 is 940. Yep.", REFLECTION),
        ("So we need the correct answer. Correct.", "execution"),
        ("The ball rolls 3 feet to the right.", "execution"),
        ("An eraser costs $2. Hmm, right. So I need to add 2 and 3.", "execution"),
        ("But just to be absolutely thorough, let me recompute:", REFLECTION),
        ("But the sum is 0.21, so my conclusion is wrong.", REFLECTION),
        ("But the problem says 3 apples. The table lists 6 errors.", WEAK_REFLECTION),
        ("So, let me correct that:", REFLECTION),
        ("Another thing to check: units.", REFLECTION),
        ("Hmm, I remember that Vieta's formulas relate the roots.", "execution"),
    ],
)
def test_planning_and_mid_paragraph_cues(text, kind):
    assert analyze(text).steps[0].kind == kind


def test_a_project_can_turn_the_planning_rule_off():
    lexicon = Lexicon.from_dict({"version": "no-planning", "planning": []})
    text = "Let me read it again to make sure I understand the problem."
    assert analyze(text, lexicon=lexicon).steps[0].kind == REFLECTION


def test_mid_paragraph_cues_are_offered_as_split_points():
    text = "So 0.25 * 16 = 4 students. Wait, that seems off.\n\nHmm. Hold on. 5 + 5 = 10."
    analysis = analyze(text)
    assert [text[p : p + 4] for p in analysis.split_points] == ["Wait", "Hold"]
