"""Grades shared across worker processes (``traces.grading`` over ``analysis.grade``)."""

from __future__ import annotations

import io

import orjson
import pytest

from reflectlab import analysis
from reflectlab.analysis import grade, verifier
from reflectlab.prompts.services import import_stream
from reflectlab.traces.grading import grade_cache_prune, shared_grading
from reflectlab.traces.models import GradeCacheEntry, Trace

# A pair the cheap checks cannot settle: it goes to math-verify.
REFERENCE, ANSWER = "\\frac{1}{2}", "0.5"


@pytest.fixture(autouse=True)
def cold_process():
    """Each test starts as a fresh worker would: nothing graded in this process yet."""
    grade._verify.cache_clear()
    grade.grader_version.cache_clear()
    yield
    grade._verify.cache_clear()
    grade.grader_version.cache_clear()


@pytest.fixture
def no_math_verify(monkeypatch):
    def refuse():
        raise AssertionError("math-verify was called")

    monkeypatch.setattr(verifier, "pool", refuse)


def graded(reference: str, answer: str, capture) -> tuple[bool | None, grade.SharedGrades]:
    with capture(execute=True), shared_grading([reference]) as shared:
        correct = grade.grade(reference, answer)
    return correct, shared


def test_a_miss_is_graded_and_stored_then_another_process_reads_it(
    db, django_capture_on_commit_callbacks, monkeypatch
):
    correct, shared = graded(REFERENCE, ANSWER, django_capture_on_commit_callbacks)
    assert correct is True
    assert (shared.hits, shared.misses) == (0, 1)
    entry = GradeCacheEntry.objects.get()
    assert (entry.version, entry.correct) == (grade.grader_version(), True)
    assert entry.reference_key == entry.scope_key == grade.text_key(REFERENCE)
    grade._verify.cache_clear()  # a fresh process
    monkeypatch.setattr(verifier, "pool", lambda: pytest.fail("math-verify was called"))
    correct, shared = graded(REFERENCE, ANSWER, django_capture_on_commit_callbacks)
    assert correct is True
    assert (shared.hits, shared.misses) == (1, 0)


def test_the_stored_grade_is_what_a_hit_returns(db, no_math_verify):
    # Proof that it is read: a stored grade that math-verify would not give.
    key = (grade.text_key(REFERENCE), grade.text_key(ANSWER))
    GradeCacheEntry.objects.create(
        version=grade.grader_version(),
        scope_key=key[0],
        reference_key=key[0],
        answer_key=key[1],
        correct=False,
    )
    with shared_grading([REFERENCE]):
        assert grade.grade(REFERENCE, ANSWER) is False


def test_the_gsm8k_reference_is_normalised_before_its_key(db, no_math_verify):
    key = (grade.text_key(REFERENCE), grade.text_key(ANSWER))
    GradeCacheEntry.objects.create(
        version=grade.grader_version(),
        scope_key=key[0],
        reference_key=key[0],
        answer_key=key[1],
        correct=True,
    )
    with shared_grading([f"Half of it.\n#### {REFERENCE}"]) as shared:
        assert grade.grade(f"Half of it.\n#### {REFERENCE}", ANSWER) is True
    assert shared.hits == 1


def test_grades_of_another_grader_version_are_not_read_and_are_pruned(
    db, django_capture_on_commit_callbacks, monkeypatch
):
    key = (grade.text_key(REFERENCE), grade.text_key(ANSWER))
    GradeCacheEntry.objects.create(
        version="0+old", scope_key=key[0], reference_key=key[0], answer_key=key[1], correct=False
    )
    correct, shared = graded(REFERENCE, ANSWER, django_capture_on_commit_callbacks)
    assert correct is True  # recomputed, not the old version's False
    assert shared.misses == 1
    monkeypatch.setattr(grade, "GRADER_REVISION", grade.GRADER_REVISION + 1)
    grade.grader_version.cache_clear()
    grade._verify.cache_clear()
    _, shared = graded(REFERENCE, ANSWER, django_capture_on_commit_callbacks)
    assert shared.misses == 1  # a new grader version grades again
    assert GradeCacheEntry.objects.count() == 3
    assert grade_cache_prune() == 2
    assert list(GradeCacheEntry.objects.values_list("version", flat=True)) == [
        grade.grader_version()
    ]


def test_candidates_compared_with_each_other_are_shared_in_the_traces_scope(
    db, django_capture_on_commit_callbacks, monkeypatch
):
    response = (
        "<think>So the answer is \\frac{1}{2}. Wait, let me double-check that: it is 0.5."
        "</think>The answer is \\boxed{0.5}"
    )
    with django_capture_on_commit_callbacks(execute=True), shared_grading(["7"]) as shared:
        first = analysis.analyze(response, reference="7")
    assert shared.misses >= 2
    scope = grade.text_key("7")
    rows = GradeCacheEntry.objects.filter(scope_key=scope)
    assert rows.count() == shared.misses
    # Not only grades against the reference: a comparison of two candidates too.
    assert rows.exclude(reference_key=scope).exists()
    grade._verify.cache_clear()
    monkeypatch.setattr(verifier, "pool", lambda: pytest.fail("math-verify was called"))
    with shared_grading(["7"]) as shared:
        again = analysis.analyze(response, reference="7")
    assert (shared.hits, shared.misses) == (rows.count(), 0)
    assert analysis.to_dict(again) == analysis.to_dict(first)


def test_without_a_reference_nothing_is_shared(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), shared_grading([None]) as shared:
        analysis.analyze("<think>It is \\frac{1}{2}. Wait: 0.5.</think>\\boxed{0.5}")
    assert (shared.hits, shared.misses) == (0, 0)
    assert not GradeCacheEntry.objects.exists()


def test_a_timeout_is_not_shared(db, django_capture_on_commit_callbacks, monkeypatch):
    class TimingOut:
        def verify(self, gold, answer):
            return verifier.TIMED_OUT

    monkeypatch.setattr(verifier, "pool", TimingOut)
    correct, shared = graded(REFERENCE, ANSWER, django_capture_on_commit_callbacks)
    assert correct is None
    assert not shared.new
    assert not GradeCacheEntry.objects.exists()


def test_an_error_in_the_block_stores_nothing(db, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        shared_grading([REFERENCE]),
    ):
        grade.grade(REFERENCE, ANSWER)
        raise RuntimeError("the chunk failed")
    assert not GradeCacheEntry.objects.exists()


def test_an_import_fills_the_cache_and_a_reimport_elsewhere_reads_it(
    project, django_capture_on_commit_callbacks, monkeypatch
):
    record = {
        "id": "t1",
        "question": "Half?",
        "reference_answer": REFERENCE,
        "response": f"<think>It is {ANSWER}.</think>\\boxed{{{ANSWER}}}",
    }
    data = orjson.dumps(record) + b"\n"
    with django_capture_on_commit_callbacks(execute=True):
        import_stream(project=project, stream=io.BytesIO(data), kind="traces", file_format="jsonl")
    assert Trace.objects.get().final_correct is True
    assert GradeCacheEntry.objects.filter(correct=True).exists()
    grade._verify.cache_clear()
    monkeypatch.setattr(verifier, "pool", lambda: pytest.fail("math-verify was called"))
    Trace.objects.all().delete()
    import_stream(project=project, stream=io.BytesIO(data), kind="traces", file_format="jsonl")
    assert Trace.objects.get().final_correct is True
