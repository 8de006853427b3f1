from reflectlab.runs.models import Run
from tests.authz import Rule
from tests.authz.providers import config


def run(world) -> Run:
    existing = world.project.runs.first()
    return existing or Run.objects.create(
        project=world.project, model_config=config(world), items_total=1
    )


def batch_run(world) -> Run:
    existing = world.project.runs.filter(mode=Run.Mode.BATCH).first()
    return existing or Run.objects.create(
        project=world.project, model_config=config(world), items_total=0, mode=Run.Mode.BATCH
    )


P = lambda w: {"project_id": w.project.pk}  # noqa: E731
B = lambda w: {"run_id": batch_run(w).pk}  # noqa: E731
R = lambda w: {"run_id": run(w).pk}  # noqa: E731


def run_data(world) -> dict:
    world.trace  # noqa: B018 — a prompt to run on
    return {"project": world.project.pk, "model_config": config(world).pk, "prompts": "all"}


def regenerate_data(world) -> dict:
    config(world)
    return {"step": 0, "hint": "Recheck the sum."}


RULES = {
    "runs:list": Rule("annotator", P),
    "runs:create": Rule("manager", P, methods=("GET", "POST")),
    "runs:detail": Rule("annotator", R),
    "runs:cancel": Rule("manager", R, methods=("POST",)),
    "api-runs": Rule("manager", api=True, methods=("POST",), data=run_data),
    "api-run": Rule("annotator", R, api=True),
    "api-run-cancel": Rule("manager", R, api=True, methods=("POST",)),
    "runs:batch-requests": Rule("manager", B),
    "runs:batch-results": Rule("manager", B, methods=("POST",)),
    "runs:batch-submit": Rule("manager", B, methods=("POST",)),
    "api-run-batch-requests": Rule("manager", B, api=True),
    "api-run-batch-results": Rule("manager", B, api=True, methods=("POST",)),
    "api-run-batch-submit": Rule("manager", B, api=True, methods=("POST",)),
    "api-trace-regenerate": Rule(
        "annotator",
        lambda w: {"trace_id": w.trace.pk},
        api=True,
        methods=("POST",),
        data=regenerate_data,
    ),
}
