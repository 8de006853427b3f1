from tests.authz import LOGIN, Rule
from tests.factories import TraceFactory

T = lambda w: {"trace_id": w.trace.pk}  # noqa: E731


def _annotation(world):
    from reflectlab.annotations.models import Annotation

    annotation, _ = Annotation.objects.get_or_create(
        project=world.project, trace=world.trace, annotator=world.users["annotator"]
    )
    return {"annotation_id": annotation.pk}


def _own_annotation(world):
    """The caller's own annotation (an outsider or anonymous caller gets the annotator's)."""
    from reflectlab.annotations.models import Annotation

    owner = world.users.get(world.actor) if world.actor != "outsider" else None
    annotation, _ = Annotation.objects.get_or_create(
        project=world.project, trace=world.trace, annotator=owner or world.users["annotator"]
    )
    return {"annotation_id": annotation.pk}


def _branch(world):
    branch = TraceFactory(
        project=world.project, prompt=world.trace.prompt, parent=world.trace, origin="regeneration"
    )
    return {"trace_id": world.trace.pk, "branch_id": branch.pk}


RULES = {
    # Form posts with no fields: membership is checked first, then the form (400).
    "annotations:save": Rule("annotator", T, methods=("POST",)),
    "annotations:submit": Rule("annotator", T, methods=("POST",)),
    "annotations:regenerate": Rule("annotator", T, methods=("POST",)),
    "annotations:steps": Rule("annotator", T, methods=("POST",)),
    # A fold's steps on demand; no query is a 400 (membership is checked first).
    "annotations:step-range": Rule("annotator", T),
    "api-trace-steps-edit": Rule("annotator", T, api=True, methods=("POST",)),
    "traces:branch": Rule("annotator", _branch),
    # The list is scoped to the caller's projects (an outsider sees an empty list);
    # POST for another project's trace is 404, tested in tests/annotations.
    "api-annotations": Rule(LOGIN, api=True, methods=("GET",)),
    # Annotators read their own; reviewers and managers all of their project's.
    "api-annotation": Rule("annotator", _annotation, api=True),
    # Only the annotator submits: each role submits its own (400: no first error yet).
    "api-annotation-submit": Rule("annotator", _own_annotation, api=True, methods=("POST",)),
}
