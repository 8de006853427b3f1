"""Agreement maths against hand-computed textbook examples (no database)."""

from __future__ import annotations

import pytest

from reflectlab.review.agreement import (
    Rating,
    agreement_report,
    cohen_kappa,
    coincidences,
    disagree,
    first_error_match,
    gold_score,
    krippendorff_alpha,
)

N = None
# K. Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C:
# 4 observers, 12 units, values 1..5, with missing data.
OBSERVERS = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]
UNITS = list(zip(*OBSERVERS, strict=True))


@pytest.mark.parametrize(
    ("level", "expected"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_alpha_matches_the_2011_worked_example(level, expected):
    assert krippendorff_alpha(UNITS, level=level) == pytest.approx(expected, abs=5e-4)


def test_coincidence_matrix_of_the_worked_example():
    matrix = coincidences(UNITS)
    # the paper's table: o_11 = 7, o_12 = 4/3, o_22 = 10; n_1 = 9, n = 40
    assert matrix[(1, 1)] == pytest.approx(7)
    assert matrix[(2, 2)] == pytest.approx(10)
    assert matrix[(1, 2)] == pytest.approx(4 / 3)
    assert sum(v for (c, _), v in matrix.items() if c == 1) == pytest.approx(9)
    assert sum(matrix.values()) == pytest.approx(40)


def test_alpha_is_one_for_perfect_agreement_and_undefined_without_variation():
    assert krippendorff_alpha([[1, 1], [-1, -1], [0, 0]]) == pytest.approx(1.0)
    assert krippendorff_alpha([[1, 1], [1, 1]]) is None
    assert krippendorff_alpha([[1], [0]]) is None  # nothing pairable


def test_alpha_interval_punishes_good_vs_bad_more_than_good_vs_neutral():
    base = [[1, 1], [0, 0], [-1, -1], [1, 1], [0, 0], [-1, -1]]
    near = krippendorff_alpha([*base, [1, 0]])
    far = krippendorff_alpha([*base, [1, -1]])
    assert far < near < 1


def test_cohen_kappa_matches_the_wikipedia_example():
    # Wikipedia, "Cohen's kappa", simple example: 50 grant proposals,
    # yes/yes 20, yes/no 5, no/yes 10, no/no 15 → p_o 0.7, p_e 0.5, kappa 0.4.
    pairs = [("y", "y")] * 20 + [("y", "n")] * 5 + [("n", "y")] * 10 + [("n", "n")] * 15
    assert cohen_kappa(pairs) == pytest.approx(0.4)


def test_cohen_kappa_edge_cases():
    assert cohen_kappa([]) is None
    assert cohen_kappa([("a", "a")] * 3) is None
    assert cohen_kappa([("a", "a"), ("b", "b")]) == pytest.approx(1.0)
    assert cohen_kappa([("a", "b"), ("b", "a")]) == pytest.approx(-1.0)


def test_first_error_exact_and_within_one_step():
    assert first_error_match(3, 3)
    assert not first_error_match(3, 4)
    assert first_error_match(3, 4, tolerance=1)
    assert not first_error_match(-1, 0, tolerance=1)  # "no error" is not "step 0"
    assert first_error_match(-1, -1, tolerance=1)


def test_project_and_pair_report():
    ratings = [
        Rating("t1", "a", 2, {0: 1, 1: 1, 2: -1}, "incorrect"),
        Rating("t1", "b", 3, {0: 1, 1: 0, 2: -1}, "incorrect"),
        Rating("t2", "a", -1, {0: 1, 1: 1}, "correct"),
        Rating("t2", "b", -1, {0: 1, 1: 1}, "correct"),
        Rating("t3", "a", 0, {0: -1}, "incorrect"),  # only one rater: ignored
    ]
    project, pairs = agreement_report(ratings)
    assert project.items == 2
    assert project.first_error_exact == pytest.approx(0.5)
    assert project.first_error_within1 == pytest.approx(1.0)
    assert project.verdict_kappa == pytest.approx(1.0)
    assert project.step_units == 5
    # by hand (interval): o(1,1)=6, o(1,0)=o(0,1)=1, o(-1,-1)=2; n_1=7, n_0=1,
    # n_-1=2, n=10; D_o = 2*1/10 = 0.2;
    # D_e = 2*(7*1*1 + 7*2*4 + 1*2*1)/(10*9) = 130/90; alpha = 1 - 18/130
    assert project.step_alpha == pytest.approx(1 - 18 / 130)
    (pair,) = pairs
    assert pair.raters == ("a", "b") and pair.items == 2


def test_three_raters_make_three_pairs():
    ratings = [Rating("t", r, 1) for r in "abc"]
    _project, pairs = agreement_report(ratings)
    assert [p.raters for p in pairs] == [("a", "b"), ("a", "c"), ("b", "c")]


def test_disagreement_and_gold_scoring():
    assert disagree(Rating("t", "a", 1), Rating("t", "b", 4))
    assert not disagree(Rating("t", "a", 1), Rating("t", "b", 2))
    assert disagree(Rating("t", "a", verdict="correct"), Rating("t", "b", verdict="incorrect"))
    assert gold_score(
        expected_first_error=2, expected_verdict="incorrect", first_error=2, verdict="correct"
    ) == (1, 2)
