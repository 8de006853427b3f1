from reflectlab.providers.models import ModelConfig
from tests.authz import LOGIN, Rule


def config(world) -> ModelConfig:
    existing = world.project.model_configs.first()
    return existing or ModelConfig.objects.create(
        project=world.project, name="m", base_url="http://127.0.0.1:9/v1", model="m"
    )


P = lambda w: {"project_id": w.project.pk}  # noqa: E731
C = lambda w: {"config_id": config(w).pk}  # noqa: E731

# POST/PATCH of the API are checked per role in tests/providers/test_api.py
# (one rule per URL name here, and their GETs allow lower roles).
RULES = {
    "providers:list": Rule("annotator", P),
    "providers:create": Rule("manager", P, methods=("GET", "POST")),
    "providers:edit": Rule("manager", C, methods=("GET", "POST")),
    "providers:test": Rule("manager", C, methods=("POST",)),
    "api-model-configs": Rule(LOGIN, api=True),
    "api-model-config": Rule("annotator", C, api=True),
}
