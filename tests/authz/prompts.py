from tests.authz import Rule

P = lambda w: {"project_id": w.project.pk}  # noqa: E731

RULES = {
    "prompts:list": Rule("annotator", P),
    "prompts:import": Rule(
        "manager", lambda w: {**P(w), "kind": "prompts"}, methods=("GET", "POST")
    ),
    "prompts:import-detail": Rule("manager", lambda w: {**P(w), "job_id": w.import_job.pk}),
    "api-prompts": Rule("annotator", P, api=True),
    "api-prompts-import": Rule("manager", P, api=True, methods=("POST",)),
    "api-traces-import": Rule("manager", P, api=True, methods=("POST",)),
    "api-import": Rule("manager", lambda w: {**P(w), "job_id": w.import_job.pk}, api=True),
}
