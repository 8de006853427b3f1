from reflectlab.judges import services
from reflectlab.judges.models import Judge, JudgeRun, Suggestion
from tests.authz import Rule
from tests.authz.providers import config


def judge(world) -> Judge:
    existing = world.project.judges.first()
    return existing or services.judge_create(
        project=world.project, name="critic", kind="critic", model_config=config(world), user=None
    )


def judge_run(world) -> JudgeRun:
    existing = world.project.judge_runs.first()
    if existing:
        return existing
    world.trace  # noqa: B018 — a trace to judge
    return services.judge_run_create(judge=judge(world), user=None, enqueue=False)


def suggestion(world) -> Suggestion:
    return Suggestion.objects.create(
        project=world.project, trace=world.trace, source="judge", signal="first_error",
        parse_state="parsed", first_error_step=0, judge=judge(world), confidence=1.0,
    )  # fmt: skip


P = lambda w: {"project_id": w.project.pk}  # noqa: E731
J = lambda w: {"judge_id": judge(w).pk}  # noqa: E731
R = lambda w: {"run_id": judge_run(w).pk}  # noqa: E731
S = lambda w: {"suggestion_id": suggestion(w).pk}  # noqa: E731


def run_data(world) -> dict:
    world.trace  # noqa: B018
    return {"judge": judge(world).pk, "traces": "all"}


def form_run_data(world) -> dict:
    world.trace  # noqa: B018
    return {"traces": "all"}


# Writes of the API (POST judges/prompts, PATCH judge/assist) are checked per role
# in tests/judges/test_api.py; one rule per URL name here, with its lowest-role verb.
RULES = {
    "judges:list": Rule("annotator", P),
    "judges:create": Rule("manager", P, methods=("GET", "POST")),
    "judges:assist": Rule("manager", P, methods=("POST",)),
    "judges:dashboard": Rule("reviewer", P),
    "judges:detail": Rule("annotator", J),
    "judges:prompt-add": Rule("manager", J, methods=("POST",)),
    "judges:run-create": Rule("manager", J, methods=("POST",), data=form_run_data),
    "judges:run": Rule("annotator", R),
    "judges:run-cancel": Rule("manager", R, methods=("POST",)),
    "judges:assist-panel": Rule("annotator", lambda w: {"trace_id": w.trace.pk}),
    "judges:hint-memory": Rule("annotator", lambda w: {"trace_id": w.trace.pk}),
    "judges:suggestion-take": Rule(
        "annotator", S, methods=("POST",), data=lambda w: {"version": 1}
    ),
    "judges:suggestion-dismiss": Rule("annotator", S, methods=("POST",)),
    "api-judges": Rule("annotator", P, api=True),
    "api-judge": Rule("annotator", J, api=True),
    "api-judge-prompts": Rule("annotator", J, api=True),
    "api-judge-runs": Rule("manager", api=True, methods=("POST",), data=run_data),
    "api-judge-run": Rule("annotator", R, api=True),
    "api-judge-run-cancel": Rule("manager", R, api=True, methods=("POST",)),
    "api-suggestions": Rule("annotator", P, api=True),
    "api-suggestion-accept": Rule(
        "annotator", S, api=True, methods=("POST",), data=lambda w: {"version": 1}
    ),
    "api-suggestion-ignore": Rule("annotator", S, api=True, methods=("POST",)),
    "api-judge-eval": Rule("reviewer", P, api=True),
    "api-hint-memory": Rule(
        "annotator", P, api=True, data=lambda w: {"trace": w.trace.pk, "step": 0}
    ),
    "api-assist": Rule("annotator", P, api=True),
}
