"""API tokens are stored as digests: what a database read yields (a backup, a
read-only replica, an SQL injection elsewhere) is no working credential."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"


def stored_strings() -> list[str]:
    """Every text value of every row of every table with "token" in its name."""
    values = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if "token" not in table:
                continue
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            values += [v for row in cursor.fetchall() for v in row if isinstance(v, str)]
    return values


def authenticates(key: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/projects/").status_code == 200


def test_what_the_token_table_holds_does_not_authenticate(make_user):
    user = make_user(username="ada")
    user.set_password(PASSWORD)
    user.save()
    body = (
        APIClient()
        .post("/api/v1/auth/token", {"username": "ada", "password": PASSWORD}, format="json")
        .json()
    )
    assert authenticates(body["token"])  # the key handed out works

    stored = stored_strings()
    assert stored, "the token table holds the token somehow"
    assert body["token"] not in stored
    assert [value for value in stored if authenticates(value)] == []
