from __future__ import annotations

import threading

from reflectlab.analysis.grade import equivalent, grade, plain_number, reference_answer

GSM8K_REFERENCE = "He has 3 + 4 = <<3+4=7>>7 apples.\nSo 7 * 2 = 14.\n#### 1,400"


def test_gsm8k_reference_answer_is_the_number_after_hashes():
    assert reference_answer(GSM8K_REFERENCE) == "1,400"


def test_gsm8k_answers_grade_by_number():
    assert grade(GSM8K_REFERENCE, "1400") is True
    assert grade(GSM8K_REFERENCE, "$1,400.00") is True
    assert grade(GSM8K_REFERENCE, "1401") is False


def test_plain_numbers_are_read_without_math_verify():
    assert plain_number("\\$1,234.5") == plain_number("1234.50")
    assert plain_number("x + 1") is None


def test_latex_answers_are_graded_by_math_verify():
    assert grade("\\frac{13}{15}", "\\dfrac{13}{15}") is True
    assert grade("\\frac{1}{2}", "0.5") is True
    assert grade("\\sqrt{2}", "2") is False


def test_no_reference_grades_as_unknown():
    assert grade(None, "3") is None


def test_unreadable_answers_grade_as_unknown_not_crash():
    assert equivalent("\\frac{", "}{}") in (None, False)


def test_grading_works_outside_the_main_thread():
    results = []
    worker = threading.Thread(target=lambda: results.append(grade("\\frac{2}{3}", "\\frac{4}{6}")))
    worker.start()
    worker.join()
    assert results == [True]


import pytest as _pytest  # noqa: E402

from reflectlab.analysis.grade import _verify, simplified  # noqa: E402


@_pytest.mark.parametrize(
    ("gold", "answer"),
    [
        ("5600", "5600 pounds"),
        ("120000", "120,\\!000"),
        ("15", "15\\ \\text{ounces}"),
        ("9500", "\\$9,\\!500"),
        ("\\frac{1}{8}", "\\(\\frac{1}{8}\\)"),
        ("\\frac{3}{4}", "\\dfrac{3}{4}"),
        ("864 \\mbox{ inches}^2", "864"),
        ("90", "90^\\circ"),
    ],
)
def test_presentation_and_units_are_settled_without_math_verify(gold, answer):
    misses = _verify.cache_info().misses
    assert equivalent(gold, answer) is True
    assert _verify.cache_info().misses == misses


def test_a_leading_dot_is_part_of_the_number():
    assert simplified(".0000672") == ".0000672"
    assert equivalent(".0000672", "0.0000672") is True


def test_a_prose_answer_with_one_number_is_graded_by_that_number():
    assert equivalent("14", "Erin has 14 lollipops left") is True
    assert equivalent("10080", "indeed 5040") is False


def test_math_verify_sees_the_original_text_not_the_simplified_one():
    # "x \\in [-2, 7]" loses its meaning if spaces were stripped before parsing.
    assert equivalent("x \\in [-2,7]", "[-2,7]") is True
