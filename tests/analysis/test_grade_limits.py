"""The grader poison pill: an answer that makes math-verify compute for ever.

``9^{9^{9^{9}}}`` sent sympy into a power computation in C that holds the GIL:
in a thread it never returned and froze every other thread of the process.
"""

from __future__ import annotations

import threading

import pytest

from reflectlab.analysis import analyze, grade, to_dict, verifier
from reflectlab.analysis.grade import (
    REFUSED,
    TIMED_OUT,
    _verify,
    grade_outcome,
    grading_stats,
    grading_tally,
    refused,
)

POISON = "9^{9^{9^{9}}}"
LIVENESS = 120  # seconds a thread gets to come back; never a speed assertion


def in_thread(fn, *args):
    results: list = []
    worker = threading.Thread(target=lambda: results.append(fn(*args)), daemon=True)
    worker.start()
    worker.join(LIVENESS)
    assert not worker.is_alive(), "grading never returned"
    return results[0]


@pytest.fixture
def short_timeout(monkeypatch):
    """A fresh pool whose calls time out after 1 s of the child's work."""
    monkeypatch.setattr(verifier, "_pool", verifier.VerifierPool(1, 1.0))
    monkeypatch.setattr(verifier, "_pool_pid", verifier.os.getpid())
    _verify.cache_clear()
    yield verifier._pool
    verifier._pool.close()
    _verify.cache_clear()


def test_an_exponent_tower_in_a_thread_comes_back_unknown():
    outcome = in_thread(grade.grade_outcome, "2", POISON)
    assert outcome == (None, REFUSED)
    assert in_thread(grade.grade, "2", POISON) is None


@pytest.mark.parametrize(
    "value",
    [POISON, "9^9^9", "2^{3}^{4}", "(9^9)^(9^9)", "9**9**9", "10^{1000000}", "123456!", "1" * 301],
)
def test_explosive_or_over_long_answers_are_refused_before_math_verify(value):
    assert refused(value)


@pytest.mark.parametrize("value", ["x^2 + y^2", "2^{10}", "\\frac{3}{4}", "e^{i\\pi}", "5!"])
def test_ordinary_powers_are_not_refused(value):
    assert not refused(value)


def test_math_verify_that_overruns_is_killed_and_counted_as_timed_out(short_timeout, monkeypatch):
    """Past the refusals (patched away), the hard timeout still holds: the child is killed."""
    monkeypatch.setattr(grade, "refused", lambda value: False)
    before = grading_stats().get(TIMED_OUT, 0)

    def tallied():
        with grading_tally() as tally:
            return grade_outcome("2", POISON), tally

    outcome, tally = in_thread(tallied)
    assert outcome == (None, TIMED_OUT)  # unknown, not wrong
    assert tally[TIMED_OUT] == 1 and grading_stats()[TIMED_OUT] == before + 1
    assert short_timeout.timeouts == 1
    # A fresh child grades the next answer: the pool is not stuck on the dead one.
    assert in_thread(grade.grade, "\\frac{1}{2}", "\\frac{2}{4}") is True


def test_other_threads_keep_running_while_a_grade_overruns(short_timeout, monkeypatch):
    monkeypatch.setattr(grade, "refused", lambda value: False)
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.01)

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        in_thread(grade_outcome, "3", "9^{9^{9^{9}}}+1")
    finally:
        stop.set()
        ticker.join(5)
    assert len(ticks) > 5  # the GIL was free while the child computed


def test_a_trace_with_a_timed_out_grade_says_so_and_is_not_wrong(short_timeout, monkeypatch):
    monkeypatch.setattr(grade, "refused", lambda value: False)
    result = analyze(
        f"<think>\nHmm.\n</think>\n\nThe answer is \\boxed{{{POISON}}}.", reference="2"
    )
    assert result.final_correct is None and result.grading == {TIMED_OUT: 1}
    assert to_dict(result)["grading"] == {TIMED_OUT: 1}
    assert "grading" not in to_dict(analyze("\\boxed{2}", reference="2"))


def test_a_refused_final_answer_is_counted_on_the_trace():
    result = analyze(f"\\boxed{{{POISON}}}", reference="2")
    assert result.final_correct is None and result.grading == {REFUSED: 1}
