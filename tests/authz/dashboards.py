from tests.authz import Rule

P = lambda w: {"project_id": w.project.pk}  # noqa: E731

RULES = {
    "dashboards:reflection": Rule("annotator", P),
    "dashboards:reflection-csv": Rule("annotator", lambda w: {**P(w), "chart": "accuracy"}),
    # Per-annotator throughput is about people: reviewers and managers only.
    "dashboards:effort": Rule("reviewer", P),
    "dashboards:effort-csv": Rule("reviewer", lambda w: {**P(w), "chart": "annotation-progress"}),
    "api-stats": Rule("annotator", P, api=True),
}
