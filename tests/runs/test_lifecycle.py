"""The life shared by runs and judge runs (``runs.lifecycle``): a config the
worker cannot build a provider for fails every item at once, with the reason,
and no model is called."""

from __future__ import annotations

import pytest

from reflectlab.providers.models import ModelConfig
from reflectlab.runs import services
from reflectlab.runs.models import Run, RunItem

pytestmark = pytest.mark.django_db(transaction=True)


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
