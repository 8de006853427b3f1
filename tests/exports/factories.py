"""Annotations, wrong traces and hint branches for export tests."""

from __future__ import annotations

import factory

from reflectlab.annotations.models import Annotation
from tests.factories import PromptFactory, TraceFactory, UserFactory

WRONG = "We need 2 + 3.\n\n2 + 3 = 6.\n\nSo the total is 6.\n</think>\n\nThe answer is \\boxed{6}."
PREFIX = "We need 2 + 3.\n\n"
REFLECTIVE = (
    "We need 2 + 3.\n\n2 + 3 = 6.\n\nWait, let me check that again: 2 + 3 = 5.\n\n"
    "So the total is 5.\n</think>\n\nThe answer is \\boxed{5}."
)
HINT = "Careful: 2 + 3 is 5, not 6."
CONTINUATION = "\n\nSo 2 + 3 = 5.\n\nWait, let me double-check: 3 + 2 = 5.\n</think>\n\nThe answer is \\boxed{5}."


class AnnotationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Annotation

    trace = factory.SubFactory(TraceFactory)
    project = factory.LazyAttribute(lambda o: o.trace.project)
    annotator = factory.SubFactory(UserFactory)
    state = Annotation.State.ACCEPTED


def wrong_trace(project, *, prompt=None, **kwargs):
    prompt = prompt or PromptFactory(project=project)
    return TraceFactory(project=project, prompt=prompt, raw_response=WRONG, **kwargs)


def branch_of(trace, *, hint=HINT, continuation=CONTINUATION, with_prefix=True):
    """A regenerated branch: prefix + hint + continuation (modes a-c) or only the continuation (d)."""
    if with_prefix:
        text = PREFIX + hint + continuation
        prefix_chars = len(PREFIX + hint)
        mode = "raw_completion"
    else:
        text = continuation.lstrip()
        prefix_chars = None
        mode = "user_turn"
    return TraceFactory(
        project=trace.project,
        prompt=trace.prompt,
        parent=trace,
        origin="regeneration",
        external_id=None,
        raw_response=text,
        branch_step=1,
        hint=hint,
        continuation_mode=mode,
        continuation_prefix_chars=prefix_chars,
        model_name=trace.model_name,
    )


def corrected_annotation(project, *, annotator=None, with_prefix=True, **kwargs):
    """An accepted annotation of a wrong trace with labels, a hint branch and a critique."""
    trace = wrong_trace(project)
    branch = branch_of(trace, with_prefix=with_prefix)
    defaults = {
        "step_labels": {"0": 1, "1": -1},
        "first_error_step": 1,
        "hint": HINT,
        "hint_step": 1,
        "branch": branch,
        "critique": "Step 2 adds wrongly: 2 + 3 is 5.",
        "verdict": "incorrect",
        "violated_principles": ["Arithmetic is correct"],
        "replacement_step": "2 + 3 = 5.",
        "step_reasons": {"1": "2 + 3 is 5."},
    }
    return AnnotationFactory(
        trace=trace,
        project=project,
        **({"annotator": annotator} if annotator else {}),
        **{**defaults, **kwargs},
    )


def reflective_annotation(project, **kwargs):
    """An accepted annotation of a trace that catches its own slip, with DeltaBench labels."""
    trace = TraceFactory(project=project, raw_response=REFLECTIVE)
    defaults = {
        "step_labels": {"0": 1, "1": -1, "2": 1, "3": 1},
        "first_error_step": 1,
        "replacement_step": "2 + 3 = 5.",
        "replacement_alternatives": ["Adding, 2 + 3 gives 5."],
        "flawed_process": True,
        "reflection_quality": {"0": {"quality": "effective", "strategy_shift": False}},
    }
    return AnnotationFactory(trace=trace, project=project, **{**defaults, **kwargs})
