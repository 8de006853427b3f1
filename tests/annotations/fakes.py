"""Regeneration without a model server, deterministic, for view and browser tests.

Where the runs service exists (issue 4) it runs for real: ``trace_regenerate``
validates and creates the pending branch, and its worker side
``trace_continue`` builds the prefix, calls the provider, stores and analyses
the branch. Only the model call (``provider_for``) is faked, and the Celery
enqueue is replaced by running the worker side at once. Without the runs
service, a stand-in with the same signature creates the branch and a fake
worker fills it in the same shape (prefix + hint + continuation).
"""

from __future__ import annotations

import sys
import types
from contextlib import ExitStack, contextmanager
from unittest import mock

from reflectlab.traces.models import Trace
from reflectlab.traces.services import trace_analyze

CONTINUATION = "So 2 + 3 = 5, and that is the sum.\n</think>\n\nThe answer is \\boxed{5}."


def model_config_for(project):
    """A config the real service can pick; its endpoint is never called."""
    from reflectlab.providers.models import ModelConfig

    return ModelConfig.objects.create(
        project=project, name="fake", model="fake/model", base_url="http://127.0.0.1:9/v1"
    )


class FakeProvider:
    def close(self) -> None:
        pass

    def continue_from(self, *, messages, assistant_prefix, mode, sampling):
        from reflectlab.providers.base import Generation

        return Generation(content=CONTINUATION, finish_reason="stop", completion_tokens=20)


def fill_branch(branch: Trace) -> Trace:
    """Stand-in worker: prefix (before the step) + hint + continuation, analysed."""
    parent = branch.parent
    steps = (parent.analysis or {}).get("steps") or []
    source = parent.reasoning or parent.raw_response
    prefix = source[: steps[branch.branch_step]["start"]] if steps else ""
    branch.raw_response = prefix + branch.hint.strip() + "\n\n" + CONTINUATION
    branch.continuation_prefix_chars = len(prefix)
    branch.continuation_mode = branch.continuation_mode or "fake"
    branch.state = Trace.State.READY
    branch.save()
    return trace_analyze(trace=branch)


def _stand_in_trace_regenerate(*, trace, step_index, hint, user):
    return Trace.objects.create(
        project=trace.project,
        prompt=trace.prompt,
        origin=Trace.Origin.REGENERATION,
        state=Trace.State.PENDING,
        parent=trace,
        branch_step=step_index,
        hint=hint,
        model_name=trace.model_name,
    )


@contextmanager
def fake_regeneration():
    """Patch regeneration so branches come back READY without a model server."""
    with ExitStack() as stack:
        try:
            from reflectlab.runs import services as runs_services

            real = runs_services.trace_regenerate
        except (ImportError, AttributeError):
            runs_services = types.ModuleType("reflectlab.runs.services")
            runs_services.trace_regenerate = _stand_in_trace_regenerate
            stack.enter_context(
                mock.patch.dict(sys.modules, {"reflectlab.runs.services": runs_services})
            )
            real = _stand_in_trace_regenerate
        continue_ = getattr(runs_services, "trace_continue", None)
        if continue_ is not None:
            from reflectlab.runs import tasks

            stack.enter_context(
                mock.patch.object(runs_services, "provider_for", lambda config: FakeProvider())
            )
            # The enqueue runs the worker side right away instead of on Celery.
            stack.enter_context(
                mock.patch.object(
                    tasks.trace_continue_task,
                    "delay_on_commit",
                    lambda branch_id, config_id: continue_(
                        branch_id=branch_id, config_id=config_id
                    ),
                )
            )
            yield
            return

        def regenerate(*, trace, step_index, hint, user):
            branch = real(trace=trace, step_index=step_index, hint=hint, user=user)
            fill_branch(Trace.objects.select_related("parent").get(pk=branch.pk))
            return branch  # still PENDING in memory: the page polls until READY

        stack.enter_context(mock.patch.object(runs_services, "trace_regenerate", regenerate))
        yield
