from tests.authz import Rule

RULES = {
    "traces:list": Rule("annotator", lambda w: {"project_id": w.project.pk}),
    "traces:detail": Rule("annotator", lambda w: {"trace_id": w.trace.pk}),
    "api-traces": Rule("annotator", lambda w: {"project_id": w.project.pk}, api=True),
    "api-trace": Rule("annotator", lambda w: {"trace_id": w.trace.pk}, api=True),
}
