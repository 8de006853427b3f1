"""Runs executed in-process (the same code a worker runs), against a real HTTP
server that injects faults. Threads open their own connections, hence
``transactional_db``."""

from __future__ import annotations

import threading
import time

import pytest
from django.utils import timezone

from reflectlab.runs import services
from reflectlab.runs.models import Run, RunItem
from reflectlab.traces.models import Trace

pytestmark = pytest.mark.django_db(transaction=True)


def test_run_writes_one_analysed_trace_per_prompt_and_sample(
    project, user, make_config, make_prompts, fake_server
):
    make_prompts([f"What is 2 + 3? ({i})" for i in range(5)])
    run = services.run_create(
        project=project, model_config=make_config(), user=user, samples_per_prompt=3, enqueue=False
    )

    run = services.run_execute(run_id=run.pk)

    assert run.state == Run.State.SUCCEEDED
    assert (run.items_total, run.items_done, run.items_failed) == (15, 15, 0)
    assert run.tokens_prompt == 15 * 12 and run.tokens_completion == 15 * 34
    traces = Trace.objects.filter(run=run)
    assert traces.count() == 15
    assert sorted(set(traces.values_list("sample_index", flat=True))) == [0, 1, 2]
    trace = traces.first()
    assert trace.raw_response.startswith("<think>\nWe need 2 + 3.")  # byte-for-byte
    assert trace.state == Trace.State.READY and trace.origin == Trace.Origin.RUN
    assert trace.analysis["steps"] and trace.final_answer == "5" and trace.final_correct is True
    assert trace.has_reflection and trace.finish_reason == "stop" and trace.latency_ms is not None
    assert not RunItem.objects.filter(run=run).exclude(state=RunItem.State.DONE).exists()


def test_separate_reasoning_field_is_stored_apart(
    project, user, make_config, make_prompts, fake_server
):
    fake_server.reasoning_field = True
    make_prompts(["What is 2 + 3?"])
    run = services.run_create(
        project=project, model_config=make_config(logprobs=True, top_logprobs=2), user=user,
        enqueue=False,
    )  # fmt: skip
    services.run_execute(run_id=run.pk)
    trace = Trace.objects.get(run=run)
    assert trace.raw_response == "The answer is \\boxed{5}."
    assert trace.reasoning.startswith("We need 2 + 3.")
    assert trace.analysis["extraction"]["source"] == "reasoning_field"
    assert trace.logprobs[0]["top_logprobs"][1] == {"token": "I", "logprob": -3.1}
    assert fake_server.requests[-1]["logprobs"] is True
    assert fake_server.requests[-1]["top_logprobs"] == 2


def test_faults_are_retried_or_recorded_and_the_limit_holds(
    project, user, make_config, make_prompts, fake_server, fast_retries
):
    fake_server.latency = 0.05
    make_prompts(
        [f"plain {i}" for i in range(12)]
        + [
            "FAULT:429x2 a",  # recovers after two rate limits
            "FAULT:500x1 b",  # recovers after a server error
            "FAULT:hangx1 c",  # recovers after a timeout
            "FAULT:resetx2 d",  # recovers after two connection resets
            "FAULT:malformed e",  # permanent: not JSON
            "FAULT:empty f",  # permanent: no choices
            "FAULT:400 g",  # permanent: client error
            "FAULT:500 h",  # transient forever: gives up after the retries
        ]
    )
    config = make_config(max_concurrency=3, max_retries=3, timeout_seconds=0.5)
    run = services.run_create(project=project, model_config=config, user=user, enqueue=False)

    run = services.run_execute(run_id=run.pk)

    assert run.state == Run.State.SUCCEEDED
    assert (run.items_done, run.items_failed) == (16, 4)
    assert Trace.objects.filter(run=run).count() == 16
    errors = {
        item.prompt.text: (item.error, item.attempts)
        for item in RunItem.objects.filter(run=run, state=RunItem.State.FAILED).select_related(
            "prompt"
        )
    }
    assert errors["FAULT:malformed e"][0].startswith("Malformed JSON from the server")
    assert errors["FAULT:malformed e"][1] == 1  # permanent: not retried
    assert "empty 'choices'" in errors["FAULT:empty f"][0]
    assert (
        errors["FAULT:400 g"][0] == "HTTP 400 Bad Request: max_tokens is too large for this model"
    )
    assert errors["FAULT:500 h"] == (
        "HTTP 500 Internal Server Error: upstream model crashed (after 4 attempts)",
        4,
    )
    assert fake_server.attempts["FAULT:429x2 a"] == 3
    assert fake_server.attempts["FAULT:resetx2 d"] == 3
    assert fake_server.max_in_flight <= 3
    assert "1x HTTP 500 Internal Server Error: upstream model crashed" in run.error_summary


def test_retry_after_is_honoured(
    project, user, make_config, make_prompts, fake_server, fast_retries
):
    fake_server.retry_after = 0.6
    make_prompts(["FAULT:429x1 wait"])
    run = services.run_create(project=project, model_config=make_config(), user=user, enqueue=False)
    started = time.monotonic()
    run = services.run_execute(run_id=run.pk)
    assert run.items_done == 1
    assert time.monotonic() - started >= 0.6


def test_concurrency_limit_holds_across_two_executors(
    project, user, make_config, make_prompts, fake_server
):
    """Two task executions of one run (two workers) share the endpoint's slots."""
    fake_server.latency = 0.05
    make_prompts([f"p{i}" for i in range(40)])
    config = make_config(max_concurrency=5)
    run = services.run_create(project=project, model_config=config, user=user, enqueue=False)
    threads = [
        threading.Thread(target=services.run_execute, kwargs={"run_id": run.pk}) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    run.refresh_from_db()
    assert run.state == Run.State.SUCCEEDED and run.items_done == 40
    assert Trace.objects.filter(run=run).count() == 40
    assert len(fake_server.requests) == 40
    assert fake_server.max_in_flight <= 5


def test_cancel_stops_a_running_run(project, user, make_config, make_prompts, fake_server):
    fake_server.latency = 0.1
    make_prompts([f"p{i}" for i in range(60)])
    run = services.run_create(
        project=project, model_config=make_config(max_concurrency=2), user=user, enqueue=False
    )
    worker = threading.Thread(target=services.run_execute, kwargs={"run_id": run.pk})
    worker.start()
    while Run.objects.get(pk=run.pk).items_done < 4:
        time.sleep(0.05)
    assert services.run_cancel(run=run) is True
    assert services.run_cancel(run=run) is False  # compare-and-set: once
    worker.join(30)
    run.refresh_from_db()
    assert run.state == Run.State.CANCELLED
    done = run.items_done
    assert 4 <= done < 60
    assert Trace.objects.filter(run=run).count() == done
    assert RunItem.objects.filter(run=run, state=RunItem.State.CANCELLED).count() == 60 - done
    assert not RunItem.objects.filter(run=run, state=RunItem.State.PENDING).exists()


def test_a_dead_workers_claims_are_taken_again_without_duplicates(
    project, user, make_config, make_prompts, fake_server
):
    """Items claimed by a worker that died: expired lease, or a process seen dead."""
    make_prompts([f"p{i}" for i in range(6)])
    run = services.run_create(project=project, model_config=make_config(), user=user, enqueue=False)
    Run.objects.filter(pk=run.pk).update(state=Run.State.RUNNING, started_at=timezone.now())
    services.items_ensure(Run.objects.get(pk=run.pk))
    items = list(RunItem.objects.filter(run=run).order_by("id"))
    soon = timezone.now() + timezone.timedelta(seconds=300)
    past = timezone.now() - timezone.timedelta(seconds=1)
    # One item was already finished by the dead worker, with its trace.
    first = items[0]
    trace = Trace.objects.create(
        project=project, prompt=first.prompt, run=run, sample_index=0, origin="run"
    )
    RunItem.objects.filter(pk=first.pk).update(state="done", trace=trace)
    Run.objects.filter(pk=run.pk).update(items_done=1)
    RunItem.objects.filter(pk=items[1].pk).update(state="running", holder="x:1:a", lease_until=past)
    dead = f"{__import__('socket').gethostname()[:60]}:999999:b"
    RunItem.objects.filter(pk=items[2].pk).update(state="running", holder=dead, lease_until=soon)

    run = services.run_execute(run_id=run.pk)

    assert run.state == Run.State.SUCCEEDED
    assert run.items_done == 6
    assert Trace.objects.filter(run=run).count() == 6
    assert len(fake_server.requests) == 5


def test_executing_a_finished_run_again_changes_nothing(
    project, user, make_config, make_prompts, fake_server
):
    make_prompts(["a", "b"])
    run = services.run_create(project=project, model_config=make_config(), user=user, enqueue=False)
    services.run_execute(run_id=run.pk)
    services.run_execute(run_id=run.pk)
    assert Trace.objects.filter(run=run).count() == 2
    assert len(fake_server.requests) == 2


def test_an_unreachable_endpoint_fails_items_with_the_reason(
    project, user, make_prompts, fast_retries
):
    from reflectlab.providers.models import ModelConfig

    make_prompts(["a"])
    config = ModelConfig.objects.create(
        project=project, name="down", base_url="http://127.0.0.1:9/v1", model="m", max_retries=1
    )
    run = services.run_create(project=project, model_config=config, user=user, enqueue=False)
    run = services.run_execute(run_id=run.pk)
    assert run.state == Run.State.FAILED
    item = RunItem.objects.get(run=run)
    assert item.error.startswith("Connection error: ConnectError")
    assert item.attempts == 2


def test_a_completion_in_odd_shapes_is_kept_with_warnings_not_an_internal_error(
    project, user, make_config, make_prompts, fake_server
):
    """Before: 'Internal error: AttributeError', attempts 0, the completion lost."""
    make_prompts(["What is 2 + 3? FAULT:shapes"])
    run = services.run_create(project=project, model_config=make_config(), user=user, enqueue=False)
    run = services.run_execute(run_id=run.pk)
    assert (run.state, run.items_done, run.items_failed) == (Run.State.SUCCEEDED, 1, 0)
    item = RunItem.objects.get(run=run)
    assert item.attempts == 1 and item.error == ""
    trace = Trace.objects.get(run=run)
    assert trace.raw_response.startswith("<think>\nWe need 2 + 3.") and trace.final_correct is True
    assert trace.finish_reason == "0" and trace.prompt_tokens is None
    assert len(trace.warnings) == 4, trace.warnings
