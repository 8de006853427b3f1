from __future__ import annotations

import re

import pytest

from reflectlab.judges import services
from reflectlab.judges.testing import ScriptedJudgeServer
from reflectlab.providers.models import ModelConfig
from reflectlab.review.claims import queue_next
from reflectlab.runs.models import EndpointSlot
from tests.factories import PromptFactory, TraceFactory

STEPS = ["We need 2 + 3.", "2 + 3 = 6.", "So the answer is 6.\n</think>\n\n\\boxed{6}"]


class Script:
    """What the fake judge answers, by the problem's tag ``[#name]``; default: "no error"."""

    def __init__(self):
        self.answers: dict[str, list[str]] = {}
        self.calls: dict[str, int] = {}

    def __call__(self, text: str) -> str:
        match = re.search(r"\[#(\w+)\]", text)
        name = match.group(1) if match else ""
        answers = self.answers.get(name) or ["\\boxed{-1}"]
        n = self.calls.get(name, 0)
        self.calls[name] = n + 1
        return answers[n % len(answers)]


@pytest.fixture
def script():
    return Script()


@pytest.fixture
def judge_server(script):
    with ScriptedJudgeServer(script, retry_after=0.05, hang_seconds=3) as server:
        yield server


@pytest.fixture
def judge_config(project, judge_server):
    config = ModelConfig.objects.create(
        project=project, name="judge", base_url=judge_server.base_url, model="fake-model",
        max_concurrency=4, timeout_seconds=2.0, max_retries=2,
    )  # fmt: skip
    yield config
    EndpointSlot.objects.all().delete()


@pytest.fixture
def make_judge(project, user, judge_config):
    def make(kind: str = "critic", **kwargs):
        return services.judge_create(
            project=project, name=kwargs.pop("name", f"{kind} judge"), kind=kind,
            model_config=judge_config, user=user, **kwargs,
        )  # fmt: skip

    return make


@pytest.fixture
def make_trace(project):
    def make(tag: str, steps: list[str] | None = None, **kwargs):
        prompt = PromptFactory(project=project, text=f"What is 2 + 3? [#{tag}]")
        return TraceFactory(
            project=project, prompt=prompt, raw_response="\n\n".join(steps or STEPS), **kwargs
        )

    return make


@pytest.fixture
def fast_retries(settings):
    settings.REFLECTLAB_RUN_BACKOFF_BASE = 0.02
    settings.REFLECTLAB_RUN_BACKOFF_CAP = 0.2


def claim(project, user, trace) -> None:
    """Annotators annotate what the queue gives them: take ``trace`` from it."""
    got = queue_next(project=project, user=user)
    assert got is not None and got.trace_id == trace.pk
