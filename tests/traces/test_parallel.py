"""Re-analysis in chunks over id ranges, across workers."""

from __future__ import annotations

import itertools
import time
from unittest import mock

import pytest
from django.core.management import call_command

from reflectlab.traces import parallel
from reflectlab.traces.models import Trace
from tests.factories import TraceFactory


@pytest.fixture
def stale(project):
    traces = [TraceFactory(project=project) for _ in range(23)]
    Trace.objects.filter(pk__in=[t.pk for t in traces[::2]]).update(analyzer_version="0", n_steps=0)
    return Trace.objects.filter(project=project, analyzer_version="0")


def test_plan_covers_every_stale_trace_once_in_equal_chunks(project, stale):
    ranges = parallel.reanalysis_plan(project=project, chunk=5)
    ids = sorted(stale.values_list("id", flat=True))
    assert len(ids) == 12
    assert [len([i for i in ids if lo <= i < hi]) for lo, hi in ranges] == [5, 5, 2]
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ranges))


def test_chunks_are_idempotent_and_progress_adds_up(project, stale):
    ranges = parallel.reanalysis_plan(project=project, chunk=5)
    done = [
        parallel.traces_reanalyze_range(project_id=project.pk, lo=lo, hi=hi) for lo, hi in ranges
    ]
    assert sum(done) == 12
    assert parallel.reanalysis_stale_count(project=project) == 0
    assert all(t.n_steps == 3 for t in Trace.objects.filter(project=project))
    # A redelivered chunk finds nothing left to do.
    assert (
        parallel.traces_reanalyze_range(project_id=project.pk, lo=ranges[0][0], hi=ranges[0][1])
        == 0
    )


def test_start_enqueues_one_task_per_chunk_after_commit(
    project, stale, django_capture_on_commit_callbacks
):
    with (
        mock.patch("reflectlab.core.chunks.group") as group,
        django_capture_on_commit_callbacks(execute=True),  # exits first: runs them
    ):
        assert parallel.reanalysis_start(project=project, chunk=5) == 3
        assert not group.return_value.delay.called  # nothing before commit
    group.return_value.delay.assert_called_once_with()
    signatures = list(group.call_args.args[0])
    ranges = parallel.reanalysis_plan(project=project, chunk=5)
    assert [tuple(s.args) for s in signatures] == [(project.pk, lo, hi) for lo, hi in ranges]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_reanalyses_the_chunks(celery_worker_process, project, stale):
    call_command("reanalyze", "--project", str(project.pk), "--parallel", "--chunk", "4",
                 "--no-wait", verbosity=0)  # fmt: skip
    deadline = time.monotonic() + 60
    while parallel.reanalysis_stale_count(project=project) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert parallel.reanalysis_stale_count(project=project) == 0
    assert all(t.n_steps == 3 for t in Trace.objects.filter(project=project))
