"""The life shared by runs and judge runs (``runs.lifecycle``, the ``Executor``): a
config the worker cannot build a provider for fails every item at once, with the
reason, and no model is called; finished items are written in groups."""

from __future__ import annotations

import pytest

from reflectlab.judges.models import JudgeItem
from reflectlab.providers.models import ModelConfig
from reflectlab.runs import services
from reflectlab.runs.execution import Executor, Outcome
from reflectlab.runs.models import Run, RunItem


@pytest.mark.django_db(transaction=True)
def test_a_provider_that_cannot_be_built_fails_every_item_with_the_reason(
    project, user, make_config, make_prompts, fake_server
):
    make_prompts(["a", "b", "c"])
    config = make_config()
    run = services.run_create(
        project=project, model_config=config, user=user, samples_per_prompt=2, enqueue=False
    )
    ModelConfig.objects.filter(pk=config.pk).update(provider="carrier-pigeon")

    run = services.run_execute(run_id=run.pk)

    assert run.state == Run.State.FAILED and run.is_terminal and run.percent == 100
    assert (run.items_total, run.items_done, run.items_failed) == (6, 0, 6)
    assert "6x Unknown provider kind 'carrier-pigeon'." in run.error_summary
    assert set(RunItem.objects.filter(run=run).values_list("state", flat=True)) == {"failed"}
    assert fake_server.requests == []
    assert not services.run_cancel(run=run)  # finished: nothing to cancel


@pytest.mark.parametrize("items", [RunItem, JudgeItem])
def test_the_executor_groups_outcomes_and_strips_nuls_from_errors(items):
    # PostgreSQL text refuses NUL; a judge item's error used to keep it.
    done, failed, other = items(pk=1), items(pk=2), items(pk=3)
    cancelled = items(pk=4, error="Cancelled.")
    groups = Executor._groups(
        [
            Outcome(done, 1, trace=object()),
            Outcome(failed, 3, error="HTTP 400\x00 Bad Request"),
            Outcome(other, 3, error="HTTP 400 Bad Request"),
            Outcome(cancelled, 0, cancelled=True),
        ],
        items,
    )
    assert groups == {
        (items.State.DONE, 1, ""): [1],
        (items.State.FAILED, 3, "HTTP 400 Bad Request"): [2, 3],
        (items.State.CANCELLED, 0, "Cancelled."): [4],
    }
