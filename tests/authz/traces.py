from tests.authz import Rule

P = lambda w: {"project_id": w.project.pk}  # noqa: E731


def _ids(w) -> dict:
    return {"ids": [str(w.trace.pk)]}


RULES = {
    "traces:list": Rule("annotator", P),
    "traces:detail": Rule("annotator", lambda w: {"trace_id": w.trace.pk}),
    "traces:bulk-pin": Rule(
        "manager", P, methods=("POST",), data=lambda w: {**_ids(w), "pinned": "1"}
    ),
    "traces:bulk-queue": Rule("manager", P, methods=("POST",), data=_ids),
    "traces:bulk-export": Rule("reviewer", P, methods=("POST",), data=_ids),
    "api-traces": Rule("annotator", P, api=True),
    "api-trace": Rule("annotator", lambda w: {"trace_id": w.trace.pk}, api=True),
    "api-traces-bulk": Rule(
        "manager",
        P,
        api=True,
        methods=("POST",),
        data=lambda w: {"action": "pin", "ids": [w.trace.pk]},
    ),
}
