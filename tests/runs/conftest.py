from __future__ import annotations

import pytest

from reflectlab.providers.models import ModelConfig
from reflectlab.providers.testing import FakeOpenAIServer
from reflectlab.runs.models import EndpointSlot
from tests.factories import PromptFactory


@pytest.fixture
def fake_server():
    with FakeOpenAIServer(retry_after=0.05, hang_seconds=3) as server:
        yield server


@pytest.fixture
def fast_retries(settings):
    settings.REFLECTLAB_RUN_BACKOFF_BASE = 0.02
    settings.REFLECTLAB_RUN_BACKOFF_CAP = 0.2


@pytest.fixture
def make_config(project, fake_server):
    def make(**kwargs) -> ModelConfig:
        values = {
            "name": "fake",
            "base_url": fake_server.base_url,
            "model": "fake-model",
            "max_concurrency": 4,
            "timeout_seconds": 1.0,
            "max_retries": 3,
            **kwargs,
        }
        return ModelConfig.objects.create(project=project, **values)

    yield make
    EndpointSlot.objects.all().delete()


@pytest.fixture
def make_prompts(project):
    def make(texts: list[str]):
        return [PromptFactory(project=project, text=t) for t in texts]

    return make
