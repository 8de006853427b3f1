from django.contrib.staticfiles import finders


def test_healthz_reports_database_and_broker(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] == "ok"


def test_healthz_refuses_post(client, db):
    assert client.post("/healthz").status_code == 405


def test_settings_refuse_to_start_without_secret_key_in_production(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    env["DEBUG"] = "0"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='reflectlab.settings'; django.setup()",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_pages_send_a_content_security_policy_without_inline_script(logged_in, project):
    response = logged_in.get(f"/projects/{project.pk}/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


def test_absurd_ids_are_not_found_or_refused_never_a_server_error(logged_in, api, project):
    huge = 2**70
    assert logged_in.get(f"/traces/{huge}/").status_code == 404
    assert logged_in.get(f"/projects/{huge}/").status_code == 404
    assert api.get(f"/api/v1/model-configs/?project={huge}").status_code == 400
    assert api.get(f"/api/v1/projects/{project.pk}/traces/?prompt={huge}").status_code == 400


def test_healthz_answers_503_when_the_broker_is_down(client, db, monkeypatch):
    from celery.app.base import Celery

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError

    monkeypatch.setattr(Celery, "connection_for_write", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "error: ConnectionRefusedError"
    assert response.json()["database"] == "ok"


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"].endswith("img/favicon.svg")
    assert finders.find("img/favicon.svg")
