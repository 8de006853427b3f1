"""schemathesis against the project's own OpenAPI schema, on a live server.

Every GET operation (and the safe POSTs) gets generated requests from a
token-authenticated manager of a project with a few traces; path ids point at
real objects so the happy paths are exercised, not only 404s. Checks: no 5xx,
responses conform to the documented schema and content type.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from rest_framework.authtoken.models import Token

from reflectlab.providers.models import ModelConfig
from reflectlab.runs.models import Run
from tests.dashboards.conftest import make_trace
from tests.factories import MembershipFactory, ProjectFactory, TraceFactory

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
)

EXAMPLES = 12
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# Writes that only create rows in the test database (no model calls, no files).
SAFE_POSTS = {"/api/v1/auth/token", "/api/v1/projects/"}


@pytest.fixture
def world(transactional_db, user):
    project = ProjectFactory()
    MembershipFactory(project=project, user=user, role="manager")
    traces = [TraceFactory(project=project) for _ in range(3)]
    make_trace(project, model_name="m", parent=traces[0], hint="look again", final_correct=True)
    config = ModelConfig.objects.create(project=project, name="local", model="tiny")
    run = Run.objects.create(project=project, model_config=config)
    token = Token.objects.create(user=user)
    return {
        "project": project,
        "trace": traces[0],
        "token": token.key,
        "config": config,
        "run": run,
    }


def real_ids(world) -> dict[str, int]:
    return {
        "project_id": world["project"].pk,
        "trace_id": world["trace"].pk,
        "id": world["project"].pk,
        "config_id": world["config"].pk,
        "run_id": world["run"].pk,
    }


def _describe(exc: BaseException) -> str:
    """The failure's headline lines (the whole schema dump is too long to read)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for sub in getattr(exc, "exceptions", ()):
        lines += [line.strip() for line in str(sub).splitlines() if line.strip()][:3]
    return "\n".join(lines[:8])


def exercise(operation, label, base_url, headers, ids, failures) -> None:
    """Run generated cases of one operation; keep its first failure."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        if label in failures:
            return
        for name in case.path_parameters or {}:
            if name in ids:
                case.path_parameters[name] = ids[name]
        try:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis' failures
            failures[label] = _describe(exc)

    run()


@pytest.mark.slow
def test_the_api_conforms_to_its_openapi_schema(live_server, world):
    headers = {"Authorization": f"Token {world['token']}"}
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/v1/schema/?format=json", headers=headers
    )
    ids = real_ids(world)
    failures: dict[str, str] = {}
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() != "GET" and operation.path not in SAFE_POSTS:
            continue
        label = f"{operation.method.upper()} {operation.path}"
        tested.append(label)

        exercise(operation, label, live_server.url, headers, ids, failures)
    print(f"{len(tested)} operations:", *tested, sep="\n  ")
    assert "GET /api/v1/projects/{project_id}/stats" in tested
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in sorted(failures.items()))
