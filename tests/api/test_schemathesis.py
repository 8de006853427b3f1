"""schemathesis against the project's own OpenAPI schema, on a live server.

Every operation (every method, every documented body type: JSON, form,
multipart) gets generated requests from a token-authenticated manager of a
project with a few traces; path ids point at real objects so the happy paths
are exercised, not only 404s. Deletions run last, so they do not turn the
other operations' cases into 404s. Stateful links are off; the example count
per operation is bounded so the whole walk takes a couple of minutes. Checks:
no 5xx, responses conform to the documented schema and content type.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable

from reflectlab.core.tokens import token_issue
from reflectlab.providers.models import ModelConfig
from reflectlab.runs.models import Run
from tests.dashboards.conftest import make_trace
from tests.factories import MembershipFactory, ProjectFactory, TraceFactory

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
)

EXAMPLES = 10
WRITE_EXAMPLES = 6  # per body type and mode: writes run 4 ways (form/JSON/multipart, ±)
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
def world(transactional_db, user):
    project = ProjectFactory()
    MembershipFactory(project=project, user=user, role="manager")
    traces = [TraceFactory(project=project) for _ in range(3)]
    make_trace(project, model_name="m", parent=traces[0], hint="look again", final_correct=True)
    config = ModelConfig.objects.create(project=project, name="local", model="tiny")
    run = Run.objects.create(project=project, model_config=config)
    token = token_issue(user=user)
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


def media_types(operation) -> list[str | None]:
    """Every documented request body type (JSON, form, multipart), or None without a body.

    schemathesis draws one of them per case; a form body parses differently
    from JSON (``lexicon=null`` is the JSON text "null"), so each gets its own cases.
    """
    return sorted({body.media_type for body in operation.body}) or [None]


def exercise(
    operation, label, base_url, headers, ids, failures, media_type=None, mode=None
) -> None:
    """Run generated cases of one operation (one body type, one generation mode);
    keep its first failure. Negative cases (values the schema forbids, such as
    a null where an object is documented) must be refused, never a 5xx."""
    mode = mode or GenerationMode.POSITIVE
    examples = EXAMPLES if operation.method.upper() == "GET" else WRITE_EXAMPLES
    checks = CHECKS if mode == GenerationMode.POSITIVE else [not_a_server_error]

    @given(case=operation.as_strategy(mode, media_type=media_type))
    @settings(
        max_examples=examples,
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
            case.call_and_validate(base_url=base_url, headers=headers, checks=checks)
        except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis' failures
            failures[label] = _describe(exc)

    try:
        run()
    except Unsatisfiable:
        # An operation with nothing the schema constrains (e.g. DELETE
        # auth/token: no parameters, no body) has no negative case to make.
        if mode != GenerationMode.NEGATIVE:
            raise


@pytest.mark.slow
def test_the_api_conforms_to_its_openapi_schema(live_server, world):
    headers = {"Authorization": f"Token {world['token']}"}
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/v1/schema/?format=json", headers=headers
    )
    ids = real_ids(world)
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: op.method.upper() == "DELETE")  # deletions last
    tested = []
    for operation in operations:
        for media_type in media_types(operation):
            # Negative cases for writes: a GET's bad query is the same 400 path.
            modes = [GenerationMode.POSITIVE]
            if operation.method.upper() != "GET":
                modes.append(GenerationMode.NEGATIVE)
            for mode in modes:
                label = f"{operation.method.upper()} {operation.path}"
                label += f" ({media_type})" if media_type else ""
                label += " negative" if mode == GenerationMode.NEGATIVE else ""
                tested.append(label)
                exercise(
                    operation, label, live_server.url, headers, ids, failures, media_type, mode
                )
    print(f"{len(tested)} operations:", *tested, sep="\n  ")
    assert "GET /api/v1/projects/{project_id}/stats" in tested
    assert "POST /api/v1/projects/ (application/x-www-form-urlencoded)" in tested
    assert "PATCH /api/v1/projects/{id}/ (multipart/form-data)" in tested
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in sorted(failures.items()))
