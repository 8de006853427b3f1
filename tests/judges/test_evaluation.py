"""judge_eval on imported ProcessBench-shaped data with a fake judge whose answers
the test controls; the expected numbers are computed by hand below."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from reflectlab.judges import metrics, services
from reflectlab.judges.evaluation import judge_evaluation
from reflectlab.prompts.processbench import processbench_import

FIXTURES = Path(__file__).parent / "fixtures"

# label -> the fake judge's answer, per item (see fixtures/*.json for the labels)
ANSWERS = {
    "g1": "\\boxed{-1}",  # label -1: right
    "g2": "The earliest error is in paragraph 2.",  # label -1: wrong
    "g3": '{"first_error_step": 1}',  # label 1: right
    "g4": "\\boxed{0}",  # label 2: wrong
    "g5": "\\boxed{0}",  # label 0: right
    "g6": "I cannot tell.",  # label -1: unparseable, so wrong
    "m1": "\\boxed{1}",  # label 1: right
    "m2": "There are no errors.",  # label -1: right
    "m3": "\\boxed{-1}",  # label 2: wrong
    "m4": "\\boxed{-1}",  # label -1: right
}
# By hand: gsm8k_mini erroneous g3 g4 g5 -> 2/3 right; correct g1 g2 g6 -> 1/3 right;
# F1 = 2 (2/3)(1/3) / (2/3 + 1/3) = 4/9. math_mini erroneous m1 m3 -> 1/2; correct
# m2 m4 -> 1; F1 = 2 (1/2)(1) / (3/2) = 2/3. Average over subsets: (4/9 + 2/3) / 2 = 5/9.
EXPECTED = {
    "gsm8k_mini": (6, 2 / 3, 1 / 3, 4 / 9),
    "math_mini": (4, 1 / 2, 1.0, 2 / 3),
    "average": (10, (2 / 3 + 1 / 2) / 2, (1 / 3 + 1) / 2, 5 / 9),
}


def test_processbench_f1_by_hand():
    score = metrics.processbench_score("x", [(-1, -1), (-1, 2), (1, 1), (2, 0), (0, 0), (-1, None)])
    assert (score.error_accuracy, score.correct_accuracy) == (2 / 3, 1 / 3)
    assert score.f1 == pytest.approx(4 / 9)
    assert metrics.processbench_score("x", [(2, 2)]).f1 is None  # no correct samples: undefined


def test_cohen_kappa_by_hand():
    # observed 4/6; both raters 4x(+1) 2x(-1): chance (16 + 4) / 36 = 5/9; kappa = (2/3 - 5/9) / (4/9)
    a = [1, 1, 1, -1, -1, 1]
    b = [1, 1, -1, -1, 1, 1]
    assert metrics.cohen_kappa(zip(a, b, strict=True)) == pytest.approx(0.25)
    assert metrics.cohen_kappa([]) is None


@pytest.mark.django_db(transaction=True)
def test_judge_eval_reproduces_the_hand_computed_processbench_f1(project, user, make_judge, script):
    processbench_import(
        project=project, paths=[FIXTURES / "gsm8k_mini.json", FIXTURES / "math_mini.json"]
    )
    script.answers.update({tag: [answer] for tag, answer in ANSWERS.items()})
    judge = make_judge("critic")
    run = services.judge_run_create(judge=judge, user=user, enqueue=False)
    services.judge_run_execute(run_id=run.pk)

    result = judge_evaluation(project=project, run=run)

    assert (result.suggestions, result.unparseable, result.pairs) == (10, 1, 10)
    scores = {row["subset"]: row for row in result.processbench}
    for subset, (n, err, cor, f1) in EXPECTED.items():
        row = scores[subset]
        assert row["n"] == n
        assert row["error_accuracy"] == pytest.approx(err)
        assert row["correct_accuracy"] == pytest.approx(cor)
        assert row["f1"] == pytest.approx(f1)
    assert result.step_kappa is not None and result.step_pairs > 0

    out = StringIO()
    call_command("judge_eval", str(project.pk), "--run", str(run.pk), "--json", stdout=out)
    printed = {row["subset"]: row for row in json.loads(out.getvalue())["processbench"]}
    assert printed["average"]["f1"] == pytest.approx(5 / 9)
    out = StringIO()
    call_command("judge_eval", project.name, "--judge", str(judge.pk), stdout=out)
    assert "average" in out.getvalue() and "55.6" in out.getvalue()  # 5/9 as a percentage
